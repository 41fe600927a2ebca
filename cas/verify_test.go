package cas_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/cas/disk"
	"github.com/casstore/casstore/index"
)

// countProgress counts blobs done and calls onItem after each.
type countProgress struct {
	items, bytes atomic.Int64
	total        atomic.Int64
	onItem       func(n int64)
}

func (p *countProgress) SetTotal(items, _ int64) { p.total.Store(items) }
func (p *countProgress) AddBytes(n int64)        { p.bytes.Add(n) }
func (p *countProgress) AddItem() {
	if n := p.items.Add(1); p.onItem != nil {
		p.onItem(n)
	}
}

func newVerifyStore(t *testing.T, blobs int) (*cas.Store, *disk.Backend, *index.Index, []cas.Digest) {
	t.Helper()
	ctx := context.Background()
	b, err := disk.New(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	ix, err := index.Open(ctx, filepath.Join(t.TempDir(), "index.db"), b.Location())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	s := cas.New(b, cas.WithIndex(ix))
	var ds []cas.Digest
	for i := range blobs {
		a, _, err := s.Attach(ctx, bytes.NewReader(fmt.Appendf(nil, "blob %d", i)), cas.Attachment{Txn: "T", Name: fmt.Sprint(i)}, cas.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, a.Digest)
	}
	return s, b, ix, ds
}

// Interrupting a run stops it cleanly, and every outcome it counted is in
// the log.
func TestVerifyCancelKeepsRecords(t *testing.T) {
	s, _, ix, ds := newVerifyStore(t, 40)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := &countProgress{onItem: func(n int64) {
		if n == 5 {
			cancel()
		}
	}}
	rep, err := s.Verify(ctx, ix, cas.VerifyOptions{Jobs: 1, Record: true, Progress: p})
	if !errors.Is(err, context.Canceled) || rep == nil || !rep.Interrupted {
		t.Fatalf("verify: %v, %+v", err, rep)
	}
	if rep.Checked < 5 || rep.Checked >= int64(len(ds)) || rep.Recorded != rep.Checked {
		t.Fatalf("checked %d, recorded %d of %d", rep.Checked, rep.Recorded, len(ds))
	}
	logged := int64(0)
	for _, d := range ds {
		h, err := ix.Verifications(context.Background(), d)
		if err != nil {
			t.Fatal(err)
		}
		logged += int64(len(h))
	}
	if logged != rep.Checked {
		t.Fatalf("log holds %d entries, the run checked %d", logged, rep.Checked)
	}
	if p.total.Load() != int64(len(ds)) {
		t.Fatalf("progress total %d, want %d", p.total.Load(), len(ds))
	}

	// The next run with --since picks up where this one stopped.
	rep, err = s.Verify(context.Background(), ix, cas.VerifyOptions{Record: true, Since: 1 << 62})
	if err != nil || rep.Skipped != logged || rep.Checked != int64(len(ds))-logged || rep.OK != rep.Checked {
		t.Fatalf("resumed run: %v, skipped %d, checked %d", err, rep.Skipped, rep.Checked)
	}
}

func TestVerifyLeftoversAndStrays(t *testing.T) {
	s, b, ix, ds := newVerifyStore(t, 3)
	leftover := filepath.Join(filepath.Dir(b.Path(ds[0])), disk.TempPrefix+"42")
	if err := os.WriteFile(leftover, []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.Root(), "Thumbs.db"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Verify(context.Background(), ix, cas.VerifyOptions{Orphans: true, Quick: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Leftovers() != 1 || rep.Strays() != 1 || rep.StrayList[0] != "Thumbs.db" || rep.Orphans() != 0 || rep.OK != 3 {
		t.Fatalf("report %+v", rep)
	}
	if rep.SizeOnly != 3 || rep.Recorded != 0 {
		t.Fatalf("disk keeps no checksum: size only %d; recorded %d without Record", rep.SizeOnly, rep.Recorded)
	}
	if _, err := os.Stat(leftover); err != nil {
		t.Fatalf("leftover touched: %v", err)
	}
	if _, err := s.Verify(context.Background(), nil, cas.VerifyOptions{}); err == nil {
		t.Fatal("verify by the index without one")
	}
}

// A symbolic link planted where a disk blob's file should be is reported
// corrupt, by quick and by deep verify, not as an error of the run.
func TestVerifySymlinkIsCorrupt(t *testing.T) {
	ctx := context.Background()
	s, b, ix, ds := newVerifyStore(t, 3)
	elsewhere := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.WriteFile(elsewhere, []byte("blob 0"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := b.Path(ds[0])
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, path); err != nil {
		t.Fatal(err)
	}
	for _, quick := range []bool{false, true} {
		rep, err := s.Verify(ctx, ix, cas.VerifyOptions{Quick: quick})
		if err != nil {
			t.Fatalf("quick %v: %v", quick, err)
		}
		if rep.Corrupt != 1 || rep.OK != 2 {
			t.Errorf("quick %v: %d corrupt, %d ok; want 1 and 2", quick, rep.Corrupt, rep.OK)
		}
	}
}
