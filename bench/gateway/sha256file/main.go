// Command sha256file hashes files with Go's crypto/sha256, the code the
// gateway verifies with, and prints each digest: the reference for "this
// machine's SHA-256 rate" in bench/gateway/run.sh (coreutils sha256sum may
// lack the SHA instructions).
package main

import (
	"crypto/sha256"
	"fmt"
	"io"
	"os"
)

func main() {
	for _, name := range os.Args[1:] {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		h := sha256.New()
		buf := make([]byte, 1<<20)
		if _, err := io.CopyBuffer(h, f, buf); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		f.Close()
		fmt.Printf("%x  %s\n", h.Sum(nil), name)
	}
}
