package indextest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/index"
)

// runImportsAndSwitch covers import bookkeeping and store switches.
func runImportsAndSwitch(t *testing.T, h Harness) {
	t.Run("ImportedFiles", func(t *testing.T) { testImportedFiles(t, h) })
	t.Run("ImportedFilesAtomic", func(t *testing.T) { testImportedFilesAtomic(t, h) })
	t.Run("SwitchStore", func(t *testing.T) { testSwitchStore(t, h) })
	t.Run("WritersBoundToOldStore", func(t *testing.T) { testWritersBoundToOldStore(t, h) })
}

func imported(path string, size int64, mtime time.Time, a cas.Attachment) index.ImportedFile {
	return index.ImportedFile{Path: path, Size: size, ModTime: mtime, Attachment: a}
}

func testImportedFiles(t *testing.T, h Harness) {
	ctx := context.Background()
	ix := MustOpen(t, h.NewLocation(t))
	if _, ok, err := ix.ImportedFile(ctx, "/in/a"); ok || err != nil {
		t.Fatalf("unknown path: ok %v, %v", ok, err)
	}
	if any, err := ix.AnyImportedFile(ctx); any || err != nil {
		t.Fatalf("a new index has imported files: %v, %v", any, err)
	}
	t1 := time.Unix(1700000000, 123456789)
	odd := "/in/T2/line\nbreak \xff é.txt"
	files := []index.ImportedFile{
		imported("/in/T1/a", 5, t1, Att("T1", "a", "alpha")),
		imported("/in/T1/dup", 5, t1, Att("T1", "dup", "alpha")),
		imported(odd, 3, t1, Att("T2", "line\nbreak \xff é.txt", "odd")),
	}
	out, err := ix.RecordImports(ctx, files)
	if err != nil || len(out) != len(files) {
		t.Fatalf("record imports: %d rows, %v", len(out), err)
	}
	for i, f := range out {
		if f.Attachment.ID == 0 || f.Created.IsZero() || f.Path != files[i].Path {
			t.Fatalf("recorded %+v", f)
		}
	}
	if any, err := ix.AnyImportedFile(ctx); !any || err != nil {
		t.Fatalf("no imported files after an import: %v, %v", any, err)
	}
	got, ok, err := ix.ImportedFile(ctx, odd)
	if err != nil || !ok {
		t.Fatalf("lookup %q: ok %v, %v", odd, ok, err)
	}
	if got.Path != odd || got.Size != 3 || !got.ModTime.Equal(t1) || got.Attachment.Name != "line\nbreak \xff é.txt" ||
		got.Attachment.Digest != cas.Sum([]byte("odd")) || got.Attachment.ID != out[2].Attachment.ID {
		t.Fatalf("lookup %q = %+v", odd, got)
	}

	// A rerun adds nothing.
	again, err := ix.RecordImports(ctx, files)
	if err != nil || again[0].Attachment.ID != out[0].Attachment.ID {
		t.Fatalf("rerun: %+v, %v", again, err)
	}
	count := func() int {
		n := 0
		if err := ix.ImportedFiles(ctx, func(index.ImportedFile) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 3 {
		t.Fatalf("%d imported paths after a rerun, want 3", n)
	}

	// A changed file gets a new row; the newest wins.
	t2 := t1.Add(time.Second)
	if _, err := ix.RecordImports(ctx, []index.ImportedFile{imported("/in/T1/a", 6, t2, Att("T1", "a", "alpha2"))}); err != nil {
		t.Fatal(err)
	}
	got, _, err = ix.ImportedFile(ctx, "/in/T1/a")
	if err != nil || got.Size != 6 || !got.ModTime.Equal(t2) || got.Attachment.Digest != cas.Sum([]byte("alpha2")) {
		t.Fatalf("newest = %+v, %v", got, err)
	}
	if n := count(); n != 3 {
		t.Fatalf("%d imported paths, want 3 (one per path)", n)
	}
	if h.Exec != nil {
		wantIs(t, h.Exec(t, ix, `UPDATE imported_files SET size = 0`), cas.ErrImmutable)
		wantIs(t, h.Exec(t, ix, `DELETE FROM imported_files`), cas.ErrImmutable)
	}
}

func testImportedFilesAtomic(t *testing.T, h Harness) {
	ctx := context.Background()
	ix := MustOpen(t, h.NewLocation(t))
	now := time.Now()
	// The second file's attachment conflicts with the first's blob size:
	// nothing of the batch is recorded.
	bad := Att("T", "b", "alpha")
	bad.Size++
	_, err := ix.RecordImports(ctx, []index.ImportedFile{
		imported("/in/a", 5, now, Att("T", "a", "alpha")),
		imported("/in/b", 6, now, bad),
	})
	wantIs(t, err, cas.ErrConflict)
	if _, ok, err := ix.ImportedFile(ctx, "/in/a"); ok || err != nil {
		t.Fatalf("a failed batch left a row: ok %v, %v", ok, err)
	}
	if _, err := ix.Attachments(ctx, "T"); err == nil {
		t.Fatal("a failed batch left an attachment")
	}
	_, err = ix.RecordImports(ctx, []index.ImportedFile{imported("", 5, now, Att("T", "a", "alpha"))})
	wantIs(t, err, index.ErrInvalid)
}

func testSwitchStore(t *testing.T, h Harness) {
	ctx := context.Background()
	loc := h.NewLocation(t)
	ix := MustOpen(t, loc)
	MustRecord(t, ix, Att("T", "a", "alpha"), Att("T", "b", "beta"))
	const next = "s3://127.0.0.1:9000/next/"

	wantIs(t, ix.SwitchStore(ctx, "file:///elsewhere", next, 2), cas.ErrStoreMismatch)
	wantIs(t, ix.SwitchStore(ctx, Store, Store, 2), index.ErrInvalid)
	wantIs(t, ix.SwitchStore(ctx, Store, next, 1), cas.ErrConflict) // a blob was not checked
	if s, _ := ix.Store(ctx); s != Store {
		t.Fatalf("a refused switch changed the store to %q", s)
	}
	if err := ix.SwitchStore(ctx, Store, next, 2); err != nil {
		t.Fatal(err)
	}
	if s, _ := ix.Store(ctx); s != next {
		t.Fatalf("store after the switch = %q", s)
	}
	hist, err := ix.StoreHistory(ctx)
	if err != nil || len(hist) != 2 || hist[0].Location != Store || hist[1].Location != next || hist[1].Created.Before(hist[0].Created) {
		t.Fatalf("history = %+v, %v", hist, err)
	}
	wantIs(t, ix.SwitchStore(ctx, Store, next, 2), cas.ErrStoreMismatch)
	ix.Close()

	// The index now belongs to the new store only.
	_, err = index.Open(ctx, loc, Store)
	wantIs(t, err, cas.ErrStoreMismatch)
	ix2, err := index.Open(ctx, loc, next)
	if err != nil {
		t.Fatal(err)
	}
	defer ix2.Close()
	if atts, err := ix2.Attachments(ctx, "T"); err != nil || len(atts) != 2 {
		t.Fatalf("attachments after the switch: %+v, %v", atts, err)
	}
	// And back again: a third row.
	if err := ix2.SwitchStore(ctx, next, Store, 2); err != nil {
		t.Fatal(err)
	}
	if hist, _ := ix2.StoreHistory(ctx); len(hist) != 3 || hist[2].Location != Store {
		t.Fatalf("history = %+v", hist)
	}
}

// testWritersBoundToOldStore: a handle opened before a switch may not
// record anything afterwards; the handle that switched follows its switch.
func testWritersBoundToOldStore(t *testing.T, h Harness) {
	ctx := context.Background()
	loc := h.NewLocation(t)
	old := MustOpen(t, loc)
	defer old.Close()
	MustRecord(t, old, Att("T", "a", "alpha"))
	switcher := MustOpen(t, loc)
	defer switcher.Close()
	n, err := switcher.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := switcher.SwitchStore(ctx, Store, "file:///elsewhere", n.Blobs); err != nil {
		t.Fatal(err)
	}
	if _, err := old.Record(ctx, []cas.Attachment{Att("T", "b", "beta")}); !errors.Is(err, cas.ErrStoreMismatch) {
		t.Fatalf("record through a handle of the old store = %v, want ErrStoreMismatch", err)
	}
	if err := old.RecordVerifications(ctx, []cas.Verification{{Digest: Att("T", "a", "alpha").Digest, Time: time.Now(), Method: cas.MethodContent, Outcome: cas.OutcomeOK}}); !errors.Is(err, cas.ErrStoreMismatch) {
		t.Fatalf("verification through a handle of the old store = %v, want ErrStoreMismatch", err)
	}
	MustRecord(t, switcher, Att("T", "c", "gamma"))
}
