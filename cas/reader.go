package cas

import (
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
)

// Reader streams a blob's content and verifies it: it hashes every byte it
// hands out and, instead of io.EOF, returns an error wrapping ErrCorrupt
// when the content does not hash to the digest or has another size than
// expected. Corruption is therefore reported at the latest at EOF; a caller
// that writes what it reads somewhere must treat that destination as
// invalid until Read has returned io.EOF.
type Reader struct {
	ctx    context.Context // nil: never cancelled
	rc     io.ReadCloser
	digest Digest
	size   int64
	h      hash.Hash
	n      int64
	err    error // sticky terminal result
}

// NewReader wraps rc, which should yield size bytes hashing to d.
func NewReader(rc io.ReadCloser, d Digest, size int64) *Reader {
	return &Reader{rc: rc, digest: d, size: size, h: sha256.New()}
}

// Digest returns the digest the content is checked against.
func (r *Reader) Digest() Digest { return r.digest }

// Size returns the expected length of the content.
func (r *Reader) Size() int64 { return r.size }

// Read implements io.Reader with verification as described on Reader. The
// digest is checked as soon as the expected size is reached, before the last
// bytes are handed out, so no caller ever receives a complete wrong body.
func (r *Reader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if r.ctx != nil {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			return 0, err
		}
	}
	if r.n == r.size && r.size > 0 {
		// Everything expected was delivered and verified: only EOF may follow.
		n, err := r.rc.Read(p[:min(len(p), 1)])
		if n > 0 {
			r.err = fmt.Errorf("read %s: more than the expected %d bytes: %w", r.digest.Short(), r.size, ErrCorrupt)
			return 0, r.err
		}
		if err == nil {
			return 0, nil
		}
		r.err = err
		return 0, err
	}
	n, err := r.rc.Read(p)
	if r.n+int64(n) > r.size {
		r.err = fmt.Errorf("read %s: more than the expected %d bytes: %w", r.digest.Short(), r.size, ErrCorrupt)
		return 0, r.err
	}
	r.h.Write(p[:n])
	r.n += int64(n)
	if r.n == r.size {
		if got := Digest(r.h.Sum(nil)); got != r.digest {
			r.err = fmt.Errorf("read %s: content hashes to %s: %w", r.digest.Short(), got.Short(), ErrCorrupt)
			return 0, r.err
		}
		if r.size == 0 {
			r.err = io.EOF
			return 0, io.EOF
		}
		if err == io.EOF {
			r.err = io.EOF
		}
		return n, err
	}
	if err == io.EOF {
		r.err = fmt.Errorf("read %s: got %d bytes, want %d: %w", r.digest.Short(), r.n, r.size, ErrCorrupt)
		return 0, r.err
	}
	if err != nil {
		r.err = err
	}
	return n, err
}

// Close closes the underlying stream.
func (r *Reader) Close() error { return r.rc.Close() }
