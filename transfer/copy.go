package transfer

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/index"
	"github.com/casstore/casstore/internal/progress"
)

// Blob is a blob to copy; Size is -1 when unknown.
type Blob struct {
	Digest cas.Digest
	Size   int64
}

// Source yields the blobs to copy.
type Source func(ctx context.Context, yield func(Blob) error) error

// All yields every blob stored in b (Backend.Walk); names that are not
// blobs (temporary files, foreign objects) are skipped.
func All(b cas.Backend) Source {
	return func(ctx context.Context, yield func(Blob) error) error {
		return b.Walk(ctx, func(e cas.Entry) error {
			if !e.Valid {
				return nil
			}
			return yield(Blob{e.Digest, e.Size})
		})
	}
}

// Digests yields the given digests.
func Digests(ds ...cas.Digest) Source {
	return func(ctx context.Context, yield func(Blob) error) error {
		for _, d := range ds {
			if err := yield(Blob{d, -1}); err != nil {
				return err
			}
		}
		return nil
	}
}

// Txn yields the blobs of a transaction's attachments, each once. An
// unknown transaction is index.ErrUnknownTxn.
func Txn(ix *index.Index, txn string) Source {
	return func(ctx context.Context, yield func(Blob) error) error {
		atts, err := ix.Attachments(ctx, txn)
		if err != nil {
			return err
		}
		seen := map[cas.Digest]bool{}
		for _, a := range atts {
			if seen[a.Digest] {
				continue
			}
			seen[a.Digest] = true
			if err := yield(Blob{a.Digest, a.Size}); err != nil {
				return err
			}
		}
		return nil
	}
}

// Options tune Copy and Check.
type Options struct {
	Jobs int           // blobs in flight; 0 means DefaultJobs()
	Bar  *progress.Bar // counts blobs and bytes, when set
}

// DefaultJobs is the default number of blobs in flight.
func DefaultJobs() int { return max(8, 4*runtime.NumCPU()) }

// Problem is a blob that was not copied, or is missing, and why.
type Problem struct {
	Digest cas.Digest `json:"digest"`
	Error  string     `json:"error"`
	err    error
}

// Err returns the problem's error, for errors.Is.
func (p Problem) Err() error { return p.err }

// Summary counts what Copy did.
type Summary struct {
	Blobs          int64     `json:"blobs"`   // blobs considered
	Bytes          int64     `json:"bytes"`   // bytes read from the source and verified
	Copied         int64     `json:"copied"`  // blobs stored at the destination by this run
	Present        int64     `json:"present"` // blobs the destination held already
	Failed         int64     `json:"failed"`  // see Problems
	Seconds        float64   `json:"seconds"` // the run's time
	BytesPerSecond float64   `json:"bytes_per_second"`
	Problems       []Problem `json:"problems,omitempty"`
}

// Copy copies the blobs src yields from one store to another, as the
// package documentation describes. Blobs that cannot be copied (tampered,
// missing at the source, refused by the destination as another object)
// are counted and listed; the error is for what stops the whole copy (a
// store unreachable, credentials refused, the context cancelled, src
// failing) and comes with the summary so far.
func Copy(ctx context.Context, from, to *cas.Store, src Source, opts Options) (Summary, error) {
	start := time.Now()
	var mu sync.Mutex
	var sum Summary
	err := parallel(ctx, opts.Jobs, src, func(ctx context.Context, b Blob) error {
		copied, n, err := copyOne(ctx, from, to, b)
		mu.Lock()
		defer mu.Unlock()
		if err != nil && stops(ctx, err) {
			return err
		}
		sum.Blobs++
		sum.Bytes += n
		switch {
		case err != nil:
			sum.Failed++
			sum.Problems = append(sum.Problems, Problem{b.Digest, err.Error(), err})
		case copied:
			sum.Copied++
		default:
			sum.Present++
		}
		opts.Bar.AddItem()
		opts.Bar.AddBytes(max(n, b.Size))
		return nil
	}, opts.Bar, func(b Blob) int64 { return b.Size })
	sum.Seconds = time.Since(start).Seconds()
	if sum.Seconds > 0 {
		sum.BytesPerSecond = float64(sum.Bytes) / sum.Seconds
	}
	return sum, err
}

// stops reports whether err would fail every blob, not only this one.
func stops(ctx context.Context, err error) bool {
	return ctx.Err() != nil || errors.Is(err, cas.ErrUnavailable) || errors.Is(err, cas.ErrBadCredentials) ||
		errors.Is(err, cas.ErrNoBucket) || errors.Is(err, cas.ErrAccessDenied)
}

// copyOne copies one blob unless the destination has it, and returns
// whether it stored it and the bytes it read from the source.
func copyOne(ctx context.Context, from, to *cas.Store, b Blob) (copied bool, read int64, err error) {
	info, err := to.Stat(ctx, b.Digest)
	switch {
	case err == nil && (b.Size < 0 || info.Size == b.Size):
		return false, 0, nil
	case err == nil:
		return false, 0, fmt.Errorf("copy %s: the destination holds %d bytes under its key, the source %d: %w", b.Digest.Short(), info.Size, b.Size, cas.ErrConflict)
	case !errors.Is(err, cas.ErrNotFound) && !errors.Is(err, cas.ErrAccessDenied):
		return false, 0, err // a write-only destination may not stat: Put decides
	}
	rc, sinfo, err := from.Backend().Open(ctx, b.Digest, 0, -1)
	if err != nil {
		return false, 0, fmt.Errorf("copy %s: source: %w", b.Digest.Short(), err)
	}
	r := cas.NewReader(rc, b.Digest, sinfo.Size)
	defer r.Close()
	spooled, cleanup, err := to.Hash(ctx, r)
	if err != nil {
		if errors.Is(err, cas.ErrCorrupt) {
			return false, 0, fmt.Errorf("copy %s: the source blob does not match its digest (tampered or damaged): not copied: %w", b.Digest.Short(), err)
		}
		return false, 0, fmt.Errorf("copy %s: source: %w", b.Digest.Short(), err)
	}
	defer cleanup()
	if spooled.Digest != b.Digest { // the verifying reader makes this impossible; be sure
		return false, spooled.Size, fmt.Errorf("copy %s: read bytes hash to %s: not copied: %w", b.Digest.Short(), spooled.Digest.Short(), cas.ErrCorrupt)
	}
	res, err := to.PutSource(ctx, spooled, cas.PutOptions{ContentType: sinfo.ContentType})
	if err != nil {
		return false, spooled.Size, fmt.Errorf("copy %s: destination: %w", b.Digest.Short(), err)
	}
	return res.New, spooled.Size, nil
}

// parallel runs work on what src yields with jobs workers, counting the
// items and their sizes as totals on bar. The first error
// work returns stops everything and is returned; so is src's.
func parallel[T any](ctx context.Context, jobs int, src func(context.Context, func(T) error) error, work func(context.Context, T) error, bar *progress.Bar, size func(T) int64) error {
	if jobs <= 0 {
		jobs = DefaultJobs()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	in := make(chan T, 4*jobs)
	var wg sync.WaitGroup
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for v := range in {
				if ctx.Err() != nil {
					continue
				}
				if err := work(ctx, v); err != nil {
					cancel(err)
				}
			}
		}()
	}
	var n, bytes int64
	err := src(ctx, func(v T) error {
		n++
		bytes += max(size(v), 0)
		bar.SetTotal(n, bytes)
		select {
		case in <- v:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
	close(in)
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil {
		return cause
	}
	return err
}
