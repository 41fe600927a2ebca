// Command sha256rate hashes N MiB from memory with Go's crypto/sha256, the
// code the gateway verifies with: the reference for "this machine's SHA-256
// rate" in bench/gateway/run.sh (no I/O, so it is the ceiling of a verified
// read; coreutils sha256sum may lack the SHA instructions).
package main

import (
	"crypto/sha256"
	"fmt"
	"os"
	"strconv"
)

func main() {
	mib, err := strconv.Atoi(os.Args[1])
	if err != nil || mib <= 0 {
		fmt.Fprintln(os.Stderr, "usage: sha256rate MIB")
		os.Exit(2)
	}
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i * 31)
	}
	h := sha256.New()
	for range mib {
		h.Write(buf)
	}
	fmt.Printf("%x\n", h.Sum(nil))
}
