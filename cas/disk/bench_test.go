package disk_test

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/cas/disk"
	"github.com/casstore/casstore/cas/storetest"
)

const benchSize = 128 << 20

func benchFile(b *testing.B) string {
	path := filepath.Join(b.TempDir(), "bench.bin")
	storetest.WriteRandomFile(b, path, benchSize)
	return path
}

// BenchmarkPutFresh128MiB: hash and store a new blob (a fresh store each
// iteration).
func BenchmarkPutFresh128MiB(b *testing.B) {
	path := benchFile(b)
	b.SetBytes(benchSize)
	for b.Loop() {
		b.StopTimer()
		be, err := disk.New(filepath.Join(b.TempDir(), "blobs"))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := cas.New(be).PutFile(context.Background(), path, cas.PutOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPutRepeat128MiB: put a blob that is already stored (hash only).
func BenchmarkPutRepeat128MiB(b *testing.B) {
	path := benchFile(b)
	be, _ := disk.New(filepath.Join(b.TempDir(), "blobs"))
	s := cas.New(be)
	if _, err := s.PutFile(context.Background(), path, cas.PutOptions{}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchSize)
	for b.Loop() {
		if res, err := s.PutFile(context.Background(), path, cas.PutOptions{}); err != nil || res.New {
			b.Fatal(err, res.New)
		}
	}
}

// BenchmarkGetVerified128MiB: read a blob back, verifying every byte.
func BenchmarkGetVerified128MiB(b *testing.B) {
	path := benchFile(b)
	be, _ := disk.New(filepath.Join(b.TempDir(), "blobs"))
	s := cas.New(be)
	res, err := s.PutFile(context.Background(), path, cas.PutOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(benchSize)
	for b.Loop() {
		if _, err := s.WriteTo(context.Background(), res.Digest, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
