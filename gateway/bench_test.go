package gateway

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/casstore/casstore/cas"
)

// BenchmarkSmallBlobs: 4 KiB blobs by signed link, verified, over loopback
// from parallel clients.
func BenchmarkSmallBlobs(b *testing.B) {
	g := newGW(b, func(o *Options) { o.Logger, o.AccessLog = nil, io.Discard })
	var links []string
	for i := 0; i < 256; i++ {
		d := g.attach(b, "T", fmt.Sprintf("f%d", i), "application/octet-stream", randBytes(4096))
		links = append(links, g.link(b, d, cas.LinkOptions{}))
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: tr}
	var next atomic.Int64
	b.SetBytes(4096)
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := client.Get(links[next.Add(1)%int64(len(links))])
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Fatal(res.Status)
			}
		}
	})
}

// BenchmarkLargeBlob: one 256 MiB blob, hashed as it streams.
func BenchmarkLargeBlob(b *testing.B) {
	g := newGW(b, func(o *Options) { o.Logger, o.AccessLog = nil, io.Discard })
	const size = 256 << 20
	res, err := g.store.Put(context.Background(), io.LimitReader(zeroReader{}, size), cas.PutOptions{})
	if err != nil {
		b.Fatal(err)
	}
	u := g.link(b, res.Digest, cas.LinkOptions{})
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := http.Get(u)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, r.Body)
		r.Body.Close()
		if n != size {
			b.Fatalf("%d bytes", n)
		}
	}
}

// BenchmarkSHA256 is the ceiling for verified reads: this machine's
// SHA-256 rate on 256 KiB chunks.
func BenchmarkSHA256(b *testing.B) {
	buf := make([]byte, 256<<10)
	h := sha256.New()
	b.SetBytes(int64(len(buf)))
	for i := 0; i < b.N; i++ {
		h.Write(buf)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
