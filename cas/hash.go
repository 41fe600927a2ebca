package cas

import (
	"context"
	"crypto/sha256"
	"hash"
	"io"
	"sync"
)

const chunkSize = 1 << 20

var chunkPool = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

// hashResult is what one hashing pass over a blob yields.
type hashResult struct {
	digest Digest
	parts  []Digest
	size   int64
}

// hashStream reads r to EOF, copying every byte to tee when it is not nil,
// and returns the SHA-256 of the whole and, when partSize > 0, of each
// partSize-long part. With parts the two hashes run on separate goroutines,
// so the pass costs one read and the time of one hash on two cores. Memory
// is a few fixed chunks whatever the size of r.
func hashStream(ctx context.Context, r io.Reader, partSize int64, tee io.Writer) (hashResult, error) {
	whole := sha256.New()
	if partSize <= 0 {
		n, err := copyChunks(ctx, r, func(b []byte) error {
			whole.Write(b)
			if tee != nil {
				_, err := tee.Write(b)
				return err
			}
			return nil
		})
		if err != nil {
			return hashResult{}, err
		}
		return hashResult{digest: Digest(whole.Sum(nil)), size: n}, nil
	}

	type chunk struct {
		buf *[]byte
		n   int
		wg  *sync.WaitGroup
	}
	wholeCh := make(chan chunk, 4)
	partCh := make(chan chunk, 4)
	var parts []Digest
	var workers sync.WaitGroup
	workers.Add(2)
	go func() {
		defer workers.Done()
		for c := range wholeCh {
			whole.Write((*c.buf)[:c.n])
			c.wg.Done()
		}
	}()
	go func() {
		defer workers.Done()
		var ph hash.Hash = sha256.New()
		var inPart int64
		for c := range partCh {
			b := (*c.buf)[:c.n]
			for len(b) > 0 {
				take := min(int64(len(b)), partSize-inPart)
				ph.Write(b[:take])
				inPart += take
				b = b[take:]
				if inPart == partSize {
					parts = append(parts, Digest(ph.Sum(nil)))
					ph.Reset()
					inPart = 0
				}
			}
			c.wg.Done()
		}
		if inPart > 0 {
			parts = append(parts, Digest(ph.Sum(nil)))
		}
	}()

	var pending []chunk
	var size int64
	var err error
	for {
		if err = ctx.Err(); err != nil {
			break
		}
		buf := chunkPool.Get().(*[]byte)
		n, rerr := io.ReadFull(r, *buf)
		if n > 0 {
			size += int64(n)
			if tee != nil {
				if _, werr := tee.Write((*buf)[:n]); werr != nil {
					err = werr
					chunkPool.Put(buf)
					break
				}
			}
			wg := new(sync.WaitGroup)
			wg.Add(2)
			c := chunk{buf, n, wg}
			wholeCh <- c
			partCh <- c
			pending = append(pending, c)
			// Recycle buffers both hashers are done with, oldest first.
			for len(pending) > 8 {
				pending[0].wg.Wait()
				chunkPool.Put(pending[0].buf)
				pending = pending[1:]
			}
		} else {
			chunkPool.Put(buf)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			err = rerr
			break
		}
	}
	close(wholeCh)
	close(partCh)
	workers.Wait()
	for _, c := range pending {
		chunkPool.Put(c.buf)
	}
	if err != nil {
		return hashResult{}, err
	}
	if size == 0 {
		parts = nil
	}
	return hashResult{digest: Digest(whole.Sum(nil)), parts: parts, size: size}, nil
}

// copyChunks feeds r to fn in chunks from the pool until EOF, checking ctx
// between chunks, and returns the number of bytes read.
func copyChunks(ctx context.Context, r io.Reader, fn func([]byte) error) (int64, error) {
	buf := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(buf)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		m, err := r.Read(*buf)
		if m > 0 {
			n += int64(m)
			if ferr := fn((*buf)[:m]); ferr != nil {
				return n, ferr
			}
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
