package s3

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/cas/storetest"
	"github.com/casstore/casstore/internal/testenv"
)

// benchSize is above the single-PUT limit, so puts go up in parts.
const benchSize = 128 << 20

var benchName = fmt.Sprintf("%dMiB", benchSize>>20)

// benchFile writes the benchmark's blob to a temporary file.
func benchFile(b *testing.B) (string, cas.Digest) {
	b.Helper()
	path := filepath.Join(b.TempDir(), "bench.bin")
	return path, storetest.WriteRandomFile(b, path, benchSize)
}

// freshBackend returns a backend on bucket under a prefix of its own, so
// every put is a first put.
func freshBackend(b *testing.B, env *testenv.MinIOEnv, bucket string) *Backend {
	b.Helper()
	be, err := New(context.Background(), Config{Endpoint: env.Endpoint, Region: env.Region, Bucket: bucket,
		Prefix: testenv.RandomName("bench-"), PathStyle: true, AccessKey: env.AccessKey, SecretKey: env.SecretKey})
	require.NoError(b, err)
	return be
}

// BenchmarkPut: hash and upload a file (what `casctl put` does), a fresh
// blob each time; the upload alone from an already hashed source; and a
// repeated put of a stored blob (hash, then one HEAD).
func BenchmarkPut(b *testing.B) {
	ctx := context.Background()
	env := testenv.MinIO(b)
	bucket := env.NewBucket(b)
	path, want := benchFile(b)

	b.Run("fresh_"+benchName, func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			res, err := cas.New(freshBackend(b, env, bucket)).PutFile(ctx, path, cas.PutOptions{})
			if err != nil || !res.New || res.Digest != want {
				b.Fatalf("put: %+v, %v", res, err)
			}
		}
	})

	b.Run("upload_only_"+benchName, func(b *testing.B) {
		f, err := os.Open(path)
		require.NoError(b, err)
		defer f.Close()
		src, cleanup, err := cas.New(freshBackend(b, env, bucket)).Hash(ctx, f)
		require.NoError(b, err)
		defer cleanup()
		b.SetBytes(benchSize)
		for b.Loop() {
			stored, err := freshBackend(b, env, bucket).Put(ctx, src, cas.PutOptions{})
			if err != nil || !stored {
				b.Fatalf("put: %v, %v", stored, err)
			}
		}
	})

	b.Run("repeat_"+benchName, func(b *testing.B) {
		s := cas.New(freshBackend(b, env, bucket))
		_, err := s.PutFile(ctx, path, cas.PutOptions{})
		require.NoError(b, err)
		b.SetBytes(benchSize)
		for b.Loop() {
			res, err := s.PutFile(ctx, path, cas.PutOptions{})
			if err != nil || res.New {
				b.Fatalf("put: %+v, %v", res, err)
			}
		}
	})
}

// BenchmarkGet: read a stored blob back, verified by Store and raw from the
// backend.
func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	env := testenv.MinIO(b)
	be := freshBackend(b, env, env.NewBucket(b))
	s := cas.New(be)
	path, want := benchFile(b)
	_, err := s.PutFile(ctx, path, cas.PutOptions{})
	require.NoError(b, err)
	buf := make([]byte, 1<<20)

	b.Run("verified_"+benchName, func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			if n, err := s.WriteTo(ctx, want, io.Discard); err != nil || n != benchSize {
				b.Fatalf("get: %d, %v", n, err)
			}
		}
	})

	b.Run("raw_"+benchName, func(b *testing.B) {
		b.SetBytes(benchSize)
		for b.Loop() {
			rc, _, err := be.Open(ctx, want, 0, -1)
			require.NoError(b, err)
			n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{rc}, buf)
			rc.Close()
			if err != nil || n != benchSize {
				b.Fatalf("get: %d, %v", n, err)
			}
		}
	})
}
