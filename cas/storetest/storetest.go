package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casstore/casstore/cas"
)

// Options tune the suite for a backend.
type Options struct {
	// LargeSize is the size of the large-blob case; it should exceed the
	// backend's single-request limit so the multipart path runs. Default
	// 8 MiB; 0 keeps the default, negative skips the case.
	LargeSize int64
}

// Run runs the suite. newBackend must return a fresh, empty backend each
// call.
func Run(t *testing.T, newBackend func(t *testing.T) cas.Backend, opts Options) {
	if opts.LargeSize == 0 {
		opts.LargeSize = 8 << 20
	}
	ctx := context.Background()

	t.Run("Roundtrip", func(t *testing.T) {
		s := cas.New(newBackend(t))
		data := []byte("hello, casstore\n")
		res, err := s.Put(ctx, bytes.NewReader(data), cas.PutOptions{ContentType: "text/plain"})
		require.NoError(t, err)
		assert.Equal(t, cas.Sum(data), res.Digest)
		assert.Equal(t, int64(len(data)), res.Size)
		assert.True(t, res.New)
		assert.Equal(t, data, mustRead(t, s, res.Digest))
		info, err := s.Stat(ctx, res.Digest)
		require.NoError(t, err)
		assert.Equal(t, int64(len(data)), info.Size)
	})

	t.Run("Dedup", func(t *testing.T) {
		s := cas.New(newBackend(t))
		data := randomBytes(1, 100_000)
		first, err := s.Put(ctx, bytes.NewReader(data), cas.PutOptions{})
		require.NoError(t, err)
		second, err := s.Put(ctx, bytes.NewReader(data), cas.PutOptions{})
		require.NoError(t, err)
		assert.True(t, first.New)
		assert.False(t, second.New, "the second put of the same bytes must store nothing")
		assert.Equal(t, first.Digest, second.Digest)
		assert.Equal(t, data, mustRead(t, s, first.Digest))
	})

	t.Run("PutFile", func(t *testing.T) {
		s := cas.New(newBackend(t))
		data := randomBytes(2, 300_000)
		path := filepath.Join(t.TempDir(), "file.bin")
		require.NoError(t, os.WriteFile(path, data, 0o644))
		res, err := s.PutFile(ctx, path, cas.PutOptions{})
		require.NoError(t, err)
		assert.Equal(t, cas.Sum(data), res.Digest)
		assert.Equal(t, data, mustRead(t, s, res.Digest))
	})

	t.Run("Empty", func(t *testing.T) {
		s := cas.New(newBackend(t))
		res, err := s.Put(ctx, bytes.NewReader(nil), cas.PutOptions{})
		require.NoError(t, err)
		assert.Equal(t, cas.EmptyDigest, res.Digest)
		assert.Equal(t, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", res.Digest.String())
		assert.Empty(t, mustRead(t, s, res.Digest))
		info, err := s.Stat(ctx, res.Digest)
		require.NoError(t, err)
		assert.Zero(t, info.Size)
	})

	t.Run("NotFound", func(t *testing.T) {
		s := cas.New(newBackend(t))
		d := cas.Sum([]byte("never stored"))
		_, err := s.Stat(ctx, d)
		assert.ErrorIs(t, err, cas.ErrNotFound)
		_, err = s.Open(ctx, d)
		assert.ErrorIs(t, err, cas.ErrNotFound)
	})

	t.Run("WrongHashRefused", func(t *testing.T) {
		b := newBackend(t)
		claimed := cas.Sum([]byte("what the digest says"))
		other := []byte("other bytes, same length")
		src := Source(b, other, claimed)
		_, err := b.Put(ctx, src, cas.PutOptions{})
		require.Error(t, err)
		assert.ErrorIs(t, err, cas.ErrCorrupt)
		_, err = b.Stat(ctx, claimed)
		assert.ErrorIs(t, err, cas.ErrNotFound, "nothing may be stored under a digest its bytes do not match")
	})

	t.Run("OverwriteRefused", func(t *testing.T) {
		b := newBackend(t)
		s := cas.New(b)
		data := []byte("the original blob")
		res, err := s.Put(ctx, bytes.NewReader(data), cas.PutOptions{})
		require.NoError(t, err)
		// A second put under the same digest with other bytes (of another
		// size) must not replace the first.
		stored, err := b.Put(ctx, Source(b, []byte("an impostor, longer than the original"), res.Digest), cas.PutOptions{})
		assert.False(t, stored)
		if err != nil {
			assert.True(t, errors.Is(err, cas.ErrConflict) || errors.Is(err, cas.ErrCorrupt), "unexpected error %v", err)
		}
		assert.Equal(t, data, mustRead(t, s, res.Digest))
	})

	t.Run("Range", func(t *testing.T) {
		b := newBackend(t)
		s := cas.New(b)
		data := randomBytes(3, 10_000)
		res, err := s.Put(ctx, bytes.NewReader(data), cas.PutOptions{})
		require.NoError(t, err)
		for _, c := range []struct{ off, n int64 }{{0, 1}, {100, 1000}, {9_999, 1}, {5_000, -1}} {
			rc, info, err := b.Open(ctx, res.Digest, c.off, c.n)
			require.NoError(t, err)
			got, err := io.ReadAll(rc)
			rc.Close()
			require.NoError(t, err)
			end := int64(len(data))
			if c.n >= 0 {
				end = c.off + c.n
			}
			assert.Equal(t, data[c.off:end], got, "range %d+%d", c.off, c.n)
			assert.Equal(t, int64(len(data)), info.Size)
		}
	})

	t.Run("Large", func(t *testing.T) {
		if opts.LargeSize < 0 {
			t.Skip("large blob case disabled for this backend")
		}
		s := cas.New(newBackend(t))
		path := filepath.Join(t.TempDir(), "large.bin")
		want := writeRandomFile(t, path, opts.LargeSize)
		res, err := s.PutFile(ctx, path, cas.PutOptions{})
		require.NoError(t, err)
		assert.Equal(t, want, res.Digest)
		assert.True(t, res.New)
		r, err := s.Open(ctx, res.Digest)
		require.NoError(t, err)
		n, err := io.Copy(io.Discard, r)
		r.Close()
		require.NoError(t, err)
		assert.Equal(t, opts.LargeSize, n)
		again, err := s.PutFile(ctx, path, cas.PutOptions{})
		require.NoError(t, err)
		assert.False(t, again.New)
	})

	t.Run("Concurrent", func(t *testing.T) {
		s := cas.New(newBackend(t))
		same := randomBytes(4, 50_000)
		const workers = 8
		var wg sync.WaitGroup
		results := make([]cas.PutResult, workers)
		errs := make([]error, workers)
		for i := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = s.Put(ctx, bytes.NewReader(same), cas.PutOptions{})
				if errs[i] == nil {
					_, errs[i] = s.Put(ctx, bytes.NewReader(randomBytes(uint64(100+i), 20_000)), cas.PutOptions{})
				}
			}()
		}
		wg.Wait()
		news := 0
		for i := range workers {
			require.NoError(t, errs[i])
			if results[i].New {
				news++
			}
		}
		assert.Equal(t, 1, news, "exactly one of the concurrent puts of one blob stores it")
		assert.Equal(t, same, mustRead(t, s, cas.Sum(same)))
		for i := range workers {
			data := randomBytes(uint64(100+i), 20_000)
			assert.Equal(t, data, mustRead(t, s, cas.Sum(data)))
		}
	})

	t.Run("Walk", func(t *testing.T) {
		b := newBackend(t)
		s := cas.New(b)
		want := map[cas.Digest]int64{}
		for i := range 5 {
			data := randomBytes(uint64(200+i), 1000*(i+1))
			res, err := s.Put(ctx, bytes.NewReader(data), cas.PutOptions{})
			require.NoError(t, err)
			want[res.Digest] = res.Size
		}
		got := map[cas.Digest]int64{}
		require.NoError(t, b.Walk(ctx, func(e cas.Entry) error {
			if e.Valid {
				got[e.Digest] = e.Size
			}
			return nil
		}))
		assert.Equal(t, want, got)
	})

	t.Run("CancelledContext", func(t *testing.T) {
		s := cas.New(newBackend(t))
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := s.Put(cctx, bytes.NewReader(randomBytes(5, 10)), cas.PutOptions{})
		assert.ErrorIs(t, err, context.Canceled)
	})
}

// Source builds a cas.Source over data that claims digest d, with part
// digests computed from data the way the Store would: what a backend test
// hands Put directly to exercise a mismatch.
func Source(b cas.Backend, data []byte, d cas.Digest) cas.Source {
	src := cas.Source{R: bytes.NewReader(data), Size: int64(len(data)), Digest: d}
	if p, ok := b.(cas.Parter); ok {
		if part := p.PartSize(src.Size); part > 0 {
			src.PartSize = part
			for off := int64(0); off < src.Size; off += part {
				src.Parts = append(src.Parts, cas.Sum(data[off:min(off+part, src.Size)]))
			}
		}
	}
	return src
}

func mustRead(t *testing.T, s *cas.Store, d cas.Digest) []byte {
	t.Helper()
	r, err := s.Open(context.Background(), d)
	require.NoError(t, err)
	defer r.Close()
	data, err := io.ReadAll(r)
	require.NoError(t, err)
	return data
}

func randomBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	fillRandom(seed, b)
	return b
}

func fillRandom(seed uint64, b []byte) {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for i := 0; i+8 <= len(b); i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := len(b) &^ 7; i < len(b); i++ {
		b[i] = byte(r.Uint64())
	}
}

// WriteRandomFile writes size deterministic pseudo-random bytes to path,
// streaming, and returns their digest.
func WriteRandomFile(tb testing.TB, path string, size int64) cas.Digest {
	tb.Helper()
	return writeRandomFile(tb, path, size)
}

func writeRandomFile(tb testing.TB, path string, size int64) cas.Digest {
	tb.Helper()
	f, err := os.Create(path)
	require.NoError(tb, err)
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for seed, left := uint64(size), size; left > 0; seed++ {
		chunk := buf[:min(left, int64(len(buf)))]
		fillRandom(seed, chunk)
		h.Write(chunk)
		_, err := f.Write(chunk)
		require.NoError(tb, err)
		left -= int64(len(chunk))
	}
	require.NoError(tb, f.Close())
	return cas.Digest(h.Sum(nil))
}
