package transfer

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/index"
)

// CheckResult is what Check found.
type CheckResult struct {
	Checked int64     `json:"checked"` // blobs the index records, all checked
	Missing []Problem `json:"missing,omitempty"`
}

// Check stats at dst every blob ix records and lists those that are absent
// or have another size there, in digest order. An error is for what stops
// the check (dst unreachable, a credential that may not stat, the context
// cancelled): then nothing is known and a switch must not happen.
func Check(ctx context.Context, ix *index.Index, dst cas.Backend, opts Options) (CheckResult, error) {
	var mu sync.Mutex
	var res CheckResult
	src := func(ctx context.Context, yield func(index.BlobRecord) error) error { return ix.Blobs(ctx, yield) }
	err := parallel(ctx, opts.Jobs, src, func(ctx context.Context, b index.BlobRecord) error {
		info, err := dst.Stat(ctx, b.Digest)
		var missing error
		switch {
		case errors.Is(err, cas.ErrNotFound) || errors.Is(err, cas.ErrHidden):
			missing = err
		case err != nil:
			return fmt.Errorf("check %s at %s: %w", b.Digest.Short(), dst.Location(), err)
		case info.Size != b.Size:
			missing = fmt.Errorf("%d bytes at the destination, the index records %d: %w", info.Size, b.Size, cas.ErrConflict)
		}
		mu.Lock()
		defer mu.Unlock()
		res.Checked++
		if missing != nil {
			res.Missing = append(res.Missing, Problem{b.Digest, missing.Error(), missing})
		}
		opts.Bar.AddItem()
		opts.Bar.AddBytes(b.Size)
		return nil
	}, opts.Bar, func(b index.BlobRecord) int64 { return b.Size })
	sort.Slice(res.Missing, func(i, j int) bool { return res.Missing[i].Digest.String() < res.Missing[j].Digest.String() })
	return res, err
}
