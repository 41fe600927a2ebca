// Package indextest is the conformance suite every engine of the index
// runs: the same cases, whatever the database behind database/sql.
//
// An engine's test calls Run with a Harness:
//
//	func TestSQLite(t *testing.T) {
//		indextest.Run(t, indextest.Harness{NewLocation: func(tb testing.TB) string {
//			return filepath.Join(tb.TempDir(), "index.db")
//		}})
//	}
package indextest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/index"
	"github.com/casstore/casstore/migrations"
)

// Harness is what the suite needs of an engine.
type Harness struct {
	// NewLocation returns the location of a new, empty index (a file path,
	// a database URL) that index.Open will create or migrate.
	NewLocation func(tb testing.TB) string
	// Exec runs a raw SQL statement on the index and returns its error
	// classified as the index classifies errors. The append-only cases are
	// skipped without it.
	Exec func(tb testing.TB, ix *index.Index, query string, args ...any) error
}

// Store is the store location the suite opens indexes with.
const Store = "file:///srv/casstore/blobs"

// Run runs every case as a subtest of t.
func Run(t *testing.T, h Harness) {
	t.Run("Fresh", func(t *testing.T) { testFresh(t, h) })
	t.Run("RecordAndRead", func(t *testing.T) { testRecordAndRead(t, h) })
	t.Run("Idempotent", func(t *testing.T) { testIdempotent(t, h) })
	t.Run("NewestNameWins", func(t *testing.T) { testNewestNameWins(t, h) })
	t.Run("LargeBatch", func(t *testing.T) { testLargeBatch(t, h) })
	t.Run("Atomic", func(t *testing.T) { testAtomic(t, h) })
	t.Run("BadInput", func(t *testing.T) { testBadInput(t, h) })
	t.Run("NotFound", func(t *testing.T) { testNotFound(t, h) })
	t.Run("Names", func(t *testing.T) { testNames(t, h) })
	t.Run("Times", func(t *testing.T) { testTimes(t, h) })
	t.Run("StoreIdentity", func(t *testing.T) { testStoreIdentity(t, h) })
	t.Run("ReadOnly", func(t *testing.T) { testReadOnly(t, h) })
	t.Run("Upgrade", func(t *testing.T) { testUpgrade(t, h) })
	t.Run("MigrationGap", func(t *testing.T) { testMigrationGap(t, h) })
	t.Run("FailedMigration", func(t *testing.T) { testFailedMigration(t, h) })
	t.Run("ConcurrentWriters", func(t *testing.T) { testConcurrentWriters(t, h) })
	t.Run("ConcurrentOpen", func(t *testing.T) { testConcurrentOpen(t, h) })
	t.Run("AppendOnly", func(t *testing.T) { testAppendOnly(t, h) })
	runImportsAndSwitch(t, h)
	runVerifyLog(t, h)
}

// MustOpen opens the index at loc for Store and closes it when tb ends.
func MustOpen(tb testing.TB, loc string, opts ...index.Option) *index.Index {
	tb.Helper()
	ix, err := index.Open(context.Background(), loc, Store, opts...)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { ix.Close() })
	return ix
}

// Att returns an attachment of txn named name whose blob is content.
func Att(txn, name, content string) cas.Attachment {
	return cas.Attachment{Txn: txn, Name: name, Digest: cas.Sum([]byte(content)), Size: int64(len(content)), ContentType: "text/plain"}
}

// MustRecord records atts or fails tb.
func MustRecord(tb testing.TB, ix *index.Index, atts ...cas.Attachment) []cas.Attachment {
	tb.Helper()
	out, err := ix.Record(context.Background(), atts)
	if err != nil {
		tb.Fatalf("record: %v", err)
	}
	if len(out) != len(atts) {
		tb.Fatalf("record: %d rows back for %d", len(out), len(atts))
	}
	return out
}

func wantIs(tb testing.TB, err error, targets ...error) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("got no error, want %v", targets)
	}
	for _, target := range targets {
		if !errors.Is(err, target) {
			tb.Fatalf("error %q is not %q", err, target)
		}
	}
}

// same compares what a caller gave with what was recorded.
func same(tb testing.TB, got, want cas.Attachment) {
	tb.Helper()
	if got.Txn != want.Txn || got.Name != want.Name || got.Digest != want.Digest ||
		got.Size != want.Size || got.ContentType != want.ContentType {
		tb.Fatalf("got %+v, want %+v", got, want)
	}
	if want.ID != 0 && (got.ID != want.ID || !got.Created.Equal(want.Created)) {
		tb.Fatalf("got id %d created %v, want id %d created %v", got.ID, got.Created, want.ID, want.Created)
	}
}

func testFresh(t *testing.T, h Harness) {
	ctx := context.Background()
	ix := MustOpen(t, h.NewLocation(t))
	ms, err := ix.Migrations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].Version != 1 || ms[0].Name != "init" {
		t.Fatalf("migrations = %+v, want 0001_init first", ms)
	}
	v, err := ix.SchemaVersion(ctx)
	if err != nil || v != ms[len(ms)-1].Version {
		t.Fatalf("schema version = %d, %v; migrations %+v", v, err, ms)
	}
	if loc, err := ix.Store(ctx); err != nil || loc != Store {
		t.Fatalf("store = %q, %v", loc, err)
	}
	st, err := ix.Stats(ctx)
	if err != nil || st != (index.Stats{}) {
		t.Fatalf("stats = %+v, %v", st, err)
	}
	if ix.Path() == "" {
		t.Fatal("empty Path")
	}
	if rec, err := ix.Record(ctx, nil); err != nil || len(rec) != 0 {
		t.Fatalf("record nothing = %v, %v", rec, err)
	}
}

func testRecordAndRead(t *testing.T, h Harness) {
	ctx := context.Background()
	ix := MustOpen(t, h.NewLocation(t))
	in := []cas.Attachment{
		Att("T1", "a.txt", "alpha"),
		Att("T1", "b.txt", "beta"),
		Att("T2", "a-again.txt", "alpha"),
		Att("T2", "empty", ""),
	}
	rec := MustRecord(t, ix, in...)
	for i := range in {
		same(t, rec[i], in[i])
		if rec[i].ID == 0 || rec[i].Created.IsZero() {
			t.Fatalf("row %d not filled in: %+v", i, rec[i])
		}
		if i > 0 && rec[i].ID <= rec[i-1].ID {
			t.Fatalf("ids not increasing: %d then %d", rec[i-1].ID, rec[i].ID)
		}
	}
	got, err := ix.Attachments(ctx, "T1")
	if err != nil || len(got) != 2 {
		t.Fatalf("attachments T1 = %v, %v", got, err)
	}
	same(t, got[0], rec[0])
	same(t, got[1], rec[1])

	f, err := ix.Find(ctx, "T2", "empty")
	if err != nil {
		t.Fatal(err)
	}
	same(t, f, rec[3])
	if f.Digest != cas.EmptyDigest {
		t.Fatalf("empty blob digest %s", f.Digest)
	}

	of, err := ix.AttachmentsOf(ctx, cas.Sum([]byte("alpha")))
	if err != nil || len(of) != 2 || of[0].Txn != "T1" || of[1].Txn != "T2" {
		t.Fatalf("attachments of alpha = %v, %v", of, err)
	}

	size, ok, err := ix.LookupBlob(ctx, cas.Sum([]byte("beta")))
	if err != nil || !ok || size != 4 {
		t.Fatalf("lookup beta = %d, %v, %v", size, ok, err)
	}
	b, err := ix.Blob(ctx, cas.Sum([]byte("beta")))
	if err != nil || b.Size != 4 || b.Digest != cas.Sum([]byte("beta")) || b.Created.IsZero() {
		t.Fatalf("blob beta = %+v, %v", b, err)
	}

	var walked []index.BlobRecord
	if err := ix.Blobs(ctx, func(r index.BlobRecord) error { walked = append(walked, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(walked) != 3 {
		t.Fatalf("walked %d blobs, want 3", len(walked))
	}
	for i := 1; i < len(walked); i++ {
		if walked[i-1].Digest.String() >= walked[i].Digest.String() {
			t.Fatal("blobs not in digest order")
		}
	}
	stop := errors.New("stop")
	n := 0
	if err := ix.Blobs(ctx, func(index.BlobRecord) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("stopping walk: %v after %d", err, n)
	}

	st, err := ix.Stats(ctx)
	want := index.Stats{Blobs: 3, Bytes: 9, Attachments: 4, Transactions: 2}
	if err != nil || st != want {
		t.Fatalf("stats = %+v, %v; want %+v", st, err, want)
	}
}

func testIdempotent(t *testing.T, h Harness) {
	ctx := context.Background()
	ix := MustOpen(t, h.NewLocation(t))
	a := Att("T", "x", "content")
	first := MustRecord(t, ix, a)[0]
	time.Sleep(2 * time.Millisecond)
	again := a
	again.ContentType = "application/pdf" // a retry with another type keeps the first
	rec := MustRecord(t, ix, again, a)
	same(t, rec[0], first)
	same(t, rec[1], first)
	got, err := ix.Attachments(ctx, "T")
	if err != nil || len(got) != 1 {
		t.Fatalf("attachments = %v, %v; want one row", got, err)
	}
	// The same blob under another name, or in another transaction, is a new row.
	other := MustRecord(t, ix, Att("T", "y", "content"), Att("U", "x", "content"))
	if other[0].ID == first.ID || other[1].ID == first.ID {
		t.Fatal("distinct attachments share an id")
	}
	if st, _ := ix.Stats(ctx); st.Blobs != 1 || st.Attachments != 3 {
		t.Fatalf("stats = %+v", st)
	}
}

func testNewestNameWins(t *testing.T, h Harness) {
	ctx := context.Background()
	ix := MustOpen(t, h.NewLocation(t))
	MustRecord(t, ix, Att("T", "report.pdf", "v1"))
	newer := MustRecord(t, ix, Att("T", "report.pdf", "v2"))[0]
	f, err := ix.Find(ctx, "T", "report.pdf")
	if err != nil {
		t.Fatal(err)
	}
	same(t, f, newer)
	// Recording v1 again changes nothing: its row exists and is older.
	MustRecord(t, ix, Att("T", "report.pdf", "v1"))
	if f, _ := ix.Find(ctx, "T", "report.pdf"); f.ID != newer.ID {
		t.Fatalf("find after retry of v1 = %+v, want %+v", f, newer)
	}
}

func testLargeBatch(t *testing.T, h Harness) {
	ctx := context.Background()
	ix := MustOpen(t, h.NewLocation(t))
	const n = 2500
	atts := make([]cas.Attachment, n)
	for i := range atts {
		atts[i] = Att("batch", fmt.Sprintf("file-%05d", i), fmt.Sprintf("content %d", i%2000))
	}
	rec := MustRecord(t, ix, atts...)
	got, err := ix.Attachments(ctx, "batch")
	if err != nil || len(got) != n {
		t.Fatalf("got %d rows, %v; want %d", len(got), err, n)
	}
	for i := range got {
		same(t, got[i], rec[i])
	}
	if st, _ := ix.Stats(ctx); st.Blobs != 2000 || st.Attachments != n {
		t.Fatalf("stats = %+v", st)
	}
}

func testAtomic(t *testing.T, h Harness) {
	ctx := context.Background()
	ix := MustOpen(t, h.NewLocation(t))
	MustRecord(t, ix, Att("old", "a", "alpha"))

	// The last row claims another size for a recorded blob: the whole
	// batch fails, the rows before it included.
	lying := Att("new", "z", "alpha")
	lying.Size = 99
	batch := []cas.Attachment{Att("new", "x", "fresh blob"), Att("new", "y", "alpha"), lying}
	_, err := ix.Record(ctx, batch)
	wantIs(t, err, cas.ErrConflict)
	if !strings.Contains(err.Error(), "size 5") {
		t.Fatalf("error %q does not give the recorded size", err)
	}
	assertNothing := func() {
		t.Helper()
		if _, err := ix.Attachments(ctx, "new"); !errors.Is(err, index.ErrUnknownTxn) {
			t.Fatalf("rows of the failed batch were kept: %v", err)
		}
		if _, ok, _ := ix.LookupBlob(ctx, cas.Sum([]byte("fresh blob"))); ok {
			t.Fatal("blob of the failed batch was kept")
		}
	}
	assertNothing()

	// One invalid row refuses the batch before anything is written.
	_, err = ix.Record(ctx, []cas.Attachment{Att("new", "x", "fresh blob"), Att("", "y", "y")})
	wantIs(t, err, cas.ErrEmptyTxn)
	assertNothing()

	// A cancelled context records nothing.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = ix.Record(cctx, []cas.Attachment{Att("new", "x", "fresh blob")})
	wantIs(t, err, context.Canceled)
	assertNothing()

	// The index still works.
	MustRecord(t, ix, batch[:2]...)
}

func testBadInput(t *testing.T, h Harness) {
	ctx := context.Background()
	ix := MustOpen(t, h.NewLocation(t))
	bad := func(mod func(*cas.Attachment), targets ...error) {
		t.Helper()
		a := Att("T", "n", "content")
		mod(&a)
		_, err := ix.Record(ctx, []cas.Attachment{a})
		wantIs(t, err, targets...)
	}
	bad(func(a *cas.Attachment) { a.Txn = "" }, cas.ErrEmptyTxn)
	bad(func(a *cas.Attachment) { a.Txn = "bad\xffutf8" }, index.ErrInvalid)
	bad(func(a *cas.Attachment) { a.Txn = "nul\x00" }, index.ErrInvalid)
	bad(func(a *cas.Attachment) { a.ContentType = "text/\x00" }, index.ErrInvalid)
	bad(func(a *cas.Attachment) { a.Digest = cas.Digest{} }, cas.ErrInvalidDigest)
	bad(func(a *cas.Attachment) { a.Digest, a.Size = cas.Digest{}, 0 }, cas.ErrInvalidDigest)
	bad(func(a *cas.Attachment) { a.Size = -1 })
	bad(func(a *cas.Attachment) { a.Digest = cas.EmptyDigest }, cas.ErrCorrupt)
	bad(func(a *cas.Attachment) { a.Size = 0 }, cas.ErrCorrupt)

	_, err := ix.Attachments(ctx, "")
	wantIs(t, err, cas.ErrEmptyTxn)
	_, err = ix.Find(ctx, "", "n")
	wantIs(t, err, cas.ErrEmptyTxn)
	if st, _ := ix.Stats(ctx); st != (index.Stats{}) {
		t.Fatalf("bad input left rows: %+v", st)
	}
}

func testNotFound(t *testing.T, h Harness) {
	ctx := context.Background()
	ix := MustOpen(t, h.NewLocation(t))
	MustRecord(t, ix, Att("T", "a", "alpha"))
	unknown := cas.Sum([]byte("never stored"))

	size, ok, err := ix.LookupBlob(ctx, unknown)
	if err != nil || ok || size != 0 {
		t.Fatalf("lookup unknown = %d, %v, %v", size, ok, err)
	}
	_, err = ix.Blob(ctx, unknown)
	wantIs(t, err, cas.ErrNotFound)
	_, err = ix.AttachmentsOf(ctx, unknown)
	wantIs(t, err, cas.ErrNotFound)

	_, err = ix.Attachments(ctx, "U")
	wantIs(t, err, index.ErrUnknownTxn, cas.ErrNotFound)
	_, err = ix.Find(ctx, "U", "a")
	wantIs(t, err, index.ErrUnknownTxn, cas.ErrNotFound)
	_, err = ix.Find(ctx, "T", "b")
	wantIs(t, err, index.ErrNoAttachment, cas.ErrNotFound)
	if errors.Is(err, index.ErrUnknownTxn) {
		t.Fatalf("a missing name in a known transaction is %q", err)
	}
}

func testNames(t *testing.T, h Harness) {
	ctx := context.Background()
	ix := MustOpen(t, h.NewLocation(t))
	names := []string{
		"", "plain.txt", "Grüße – 日本語 🎉.pdf", "line\nbreak", "cr\rlf\r\n", "tab\t",
		"../../etc/passwd", `C:\Windows\evil.exe`, "a/b/c", "invalid \xff\xfe utf-8",
		"nul\x00inside", "\x00", " leading and trailing ", strings.Repeat("long", 1000),
		"NFC \u00e9", "NFD e\u0301", "plain.TXT",
	}
	atts := make([]cas.Attachment, len(names))
	for i, n := range names {
		atts[i] = Att("names", n, "same bytes")
	}
	atts = append(atts, Att("txn with spaces/ü\n", "x", "y"))
	rec := MustRecord(t, ix, atts...)
	got, err := ix.Attachments(ctx, "names")
	if err != nil || len(got) != len(names) {
		t.Fatalf("got %d, %v; want %d distinct names", len(got), err, len(names))
	}
	for i, n := range names {
		if got[i].Name != n {
			t.Fatalf("name %q came back as %q", n, got[i].Name)
		}
		f, err := ix.Find(ctx, "names", n)
		if err != nil || f.ID != rec[i].ID || f.Name != n {
			t.Fatalf("find %q = %+v, %v", n, f, err)
		}
	}
	f, err := ix.Find(ctx, "txn with spaces/ü\n", "x")
	if err != nil || f.Txn != "txn with spaces/ü\n" {
		t.Fatalf("odd txn = %+v, %v", f, err)
	}
}

func testTimes(t *testing.T, h Harness) {
	ctx := context.Background()
	loc := h.NewLocation(t)
	ix := MustOpen(t, loc)
	before := time.Now()
	rec := MustRecord(t, ix, Att("T", "a", "alpha"))[0]
	after := time.Now()
	if rec.Created.Location() != time.UTC || rec.Created.Before(before.Add(-time.Microsecond)) || rec.Created.After(after.Add(time.Microsecond)) {
		t.Fatalf("created %v not UTC between %v and %v", rec.Created, before, after)
	}
	ix.Close()
	ix = MustOpen(t, loc)
	got, err := ix.Find(ctx, "T", "a")
	if err != nil || !got.Created.Equal(rec.Created) || got.Created.Location() != time.UTC {
		t.Fatalf("created after reopen = %v, %v; want %v", got.Created, err, rec.Created)
	}
}

func testStoreIdentity(t *testing.T, h Harness) {
	ctx := context.Background()
	loc := h.NewLocation(t)
	ix := MustOpen(t, loc)
	MustRecord(t, ix, Att("T", "a", "alpha"))
	ix.Close()

	const other = "s3://minio.example:9000/bucket/prefix"
	_, err := index.Open(ctx, loc, other)
	wantIs(t, err, cas.ErrStoreMismatch)
	if msg := err.Error(); !strings.Contains(msg, Store) || !strings.Contains(msg, other) {
		t.Fatalf("mismatch message %q names not both stores", msg)
	}

	// No store: no check, nothing recorded.
	ix, err = index.Open(ctx, loc, "")
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if s, err := ix.Store(ctx); err != nil || s != Store {
		t.Fatalf("store = %q, %v", s, err)
	}
	hist, err := ix.StoreHistory(ctx)
	if err != nil || len(hist) != 1 || hist[0].Location != Store || hist[0].ID == 0 || hist[0].Created.IsZero() {
		t.Fatalf("history = %+v, %v", hist, err)
	}

	// An index opened first without a store takes the first store given.
	loc2 := h.NewLocation(t)
	ix2, err := index.Open(ctx, loc2, "")
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := ix2.Store(ctx); s != "" {
		t.Fatalf("store of an unbound index = %q", s)
	}
	ix2.Close()
	ix2 = MustOpen(t, loc2)
	if s, _ := ix2.Store(ctx); s != Store {
		t.Fatalf("store = %q, want %q", s, Store)
	}
}

func testReadOnly(t *testing.T, h Harness) {
	ctx := context.Background()
	loc := h.NewLocation(t)
	ix := MustOpen(t, loc)
	MustRecord(t, ix, Att("T", "a", "alpha"))

	ro := MustOpen(t, loc, index.ReadOnly())
	if got, err := ro.Attachments(ctx, "T"); err != nil || len(got) != 1 {
		t.Fatalf("read-only attachments = %v, %v", got, err)
	}
	_, err := ro.Record(ctx, []cas.Attachment{Att("T", "b", "beta")})
	wantIs(t, err, index.ErrReadOnly)
	_, err = index.Open(ctx, loc, "s3://elsewhere/b", index.ReadOnly())
	wantIs(t, err, cas.ErrStoreMismatch)
	// The writer goes on while a reader is open.
	MustRecord(t, ix, Att("T", "b", "beta"))
	if got, err := ro.Attachments(ctx, "T"); err != nil || len(got) != 2 {
		t.Fatalf("read-only sees %d rows, %v; want 2", len(got), err)
	}
}

// migrationsFS copies the embedded migrations whose version keep accepts
// and adds extra files to every engine's directory.
func migrationsFS(tb testing.TB, keep func(version int) bool, extra map[string]string) fs.FS {
	tb.Helper()
	out := fstest.MapFS{}
	dirs, err := fs.ReadDir(migrations.FS, ".")
	if err != nil {
		tb.Fatal(err)
	}
	for _, dir := range dirs {
		files, err := fs.ReadDir(migrations.FS, dir.Name())
		if err != nil {
			tb.Fatal(err)
		}
		for _, f := range files {
			num, _, _ := strings.Cut(f.Name(), "_")
			v, err := strconv.Atoi(num)
			if err != nil || !keep(v) {
				continue
			}
			b, err := fs.ReadFile(migrations.FS, dir.Name()+"/"+f.Name())
			if err != nil {
				tb.Fatal(err)
			}
			out[dir.Name()+"/"+f.Name()] = &fstest.MapFile{Data: b}
		}
		for name, sql := range extra {
			out[dir.Name()+"/"+name] = &fstest.MapFile{Data: []byte(sql)}
		}
	}
	return out
}

// testMigrationGap: an index that got a later migration before an earlier
// one existed (a branch that landed late) receives the missing one.
func testMigrationGap(t *testing.T, h Harness) {
	ctx := context.Background()
	loc := h.NewLocation(t)
	ix := MustOpen(t, loc, index.WithMigrations(migrationsFS(t, func(v int) bool { return v != 2 }, nil)))
	ix.Close()
	ro, err := index.Open(ctx, loc, "", index.ReadOnly())
	if err == nil {
		ro.Close()
		t.Fatal("a read-only open of an index with a missing migration must be refused")
	}
	ix = MustOpen(t, loc)
	defer ix.Close()
	ms, err := ix.Migrations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, m := range ms {
		seen[m.Version] = true
	}
	if !seen[2] {
		t.Fatalf("migration 2 not applied over the gap: %+v", ms)
	}
	if _, err := ix.LastVerifiedOK(ctx, cas.Sum([]byte("x")), false); err != nil {
		t.Fatalf("the gap's table is usable: %v", err)
	}
}

func testUpgrade(t *testing.T, h Harness) {
	ctx := context.Background()
	loc := h.NewLocation(t)
	all := func(int) bool { return true }

	// An index made when only 0001 existed...
	ix := MustOpen(t, loc, index.WithMigrations(migrationsFS(t, func(v int) bool { return v == 1 }, nil)))
	rec := MustRecord(t, ix, Att("T", "a", "alpha"))[0]
	if v, _ := ix.SchemaVersion(ctx); v != 1 {
		t.Fatalf("version %d, want 1", v)
	}
	ix.Close()

	// ...upgrades to today's schema...
	ix = MustOpen(t, loc)
	ms, err := ix.Migrations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	latest := ms[len(ms)-1].Version
	if v, _ := ix.SchemaVersion(ctx); v != latest {
		t.Fatalf("version %d, want %d", v, latest)
	}
	if f, err := ix.Find(ctx, "T", "a"); err != nil {
		t.Fatal(err)
	} else {
		same(t, f, rec)
	}
	ix.Close()

	// ...and to a later one, keeping its rows.
	const synthetic = "CREATE TABLE synthetic_extra (x INTEGER NOT NULL);\n"
	ix = MustOpen(t, loc, index.WithMigrations(migrationsFS(t, all, map[string]string{"9000_synthetic.sql": synthetic})))
	ms, err = ix.Migrations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if last := ms[len(ms)-1]; last.Version != 9000 || last.Name != "synthetic" || last.Applied.IsZero() {
		t.Fatalf("last migration = %+v", last)
	}
	if ms[len(ms)-2].Version != latest {
		t.Fatalf("migrations = %+v", ms)
	}
	if f, err := ix.Find(ctx, "T", "a"); err != nil || f.ID != rec.ID {
		t.Fatalf("row after upgrade = %+v, %v", f, err)
	}
	MustRecord(t, ix, Att("T", "b", "beta"))
	ix.Close()

	// This casstore does not know 9000: it refuses the index, read-only too.
	_, err = index.Open(ctx, loc, Store)
	wantIs(t, err, index.ErrSchemaTooNew)
	if !strings.Contains(err.Error(), "9000") {
		t.Fatalf("error %q does not name the version", err)
	}
	_, err = index.Open(ctx, loc, "", index.ReadOnly())
	wantIs(t, err, index.ErrSchemaTooNew)
}

func testFailedMigration(t *testing.T, h Harness) {
	ctx := context.Background()
	loc := h.NewLocation(t)
	ix := MustOpen(t, loc)
	MustRecord(t, ix, Att("T", "a", "alpha"))
	want, _ := ix.SchemaVersion(ctx)
	ix.Close()

	broken := "CREATE TABLE half_done (x INTEGER);\nTHIS IS NOT SQL;\n"
	_, err := index.Open(ctx, loc, Store, index.WithMigrations(migrationsFS(t, func(int) bool { return true },
		map[string]string{"9000_broken.sql": broken})))
	if err == nil || !strings.Contains(err.Error(), "9000_broken") {
		t.Fatalf("broken migration: %v", err)
	}
	ix = MustOpen(t, loc)
	if v, _ := ix.SchemaVersion(ctx); v != want {
		t.Fatalf("version %d after a failed migration, want %d", v, want)
	}
	ix.Close()
	// The failed migration left nothing behind: it applies once fixed.
	fixed := "CREATE TABLE half_done (x INTEGER);\n"
	MustOpen(t, loc, index.WithMigrations(migrationsFS(t, func(int) bool { return true },
		map[string]string{"9000_broken.sql": fixed})))
}

// parallel runs fn(0) ... fn(n-1) at once and returns their errors joined.
func parallel(n int, fn func(i int) error) error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = fn(i) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func testConcurrentWriters(t *testing.T, h Harness) {
	ctx := context.Background()
	loc := h.NewLocation(t)
	const writers, batches, per = 8, 10, 50
	shared := MustOpen(t, loc)
	// Half share one *Index, half have their own.
	if err := parallel(writers, func(w int) error {
		ix := shared
		if w%2 == 1 {
			var err error
			if ix, err = index.Open(ctx, loc, Store); err != nil {
				return err
			}
			defer ix.Close()
		}
		for b := range batches {
			atts := make([]cas.Attachment, per)
			for i := range atts {
				// Shared blobs across writers, distinct rows.
				atts[i] = Att(fmt.Sprintf("w%d", w), fmt.Sprintf("b%d-%d", b, i), fmt.Sprintf("blob %d", i))
			}
			if _, err := ix.Record(ctx, atts); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ix := MustOpen(t, loc)
	st, err := ix.Stats(ctx)
	want := index.Stats{Blobs: per, Attachments: writers * batches * per, Transactions: writers}
	st.Bytes = 0
	if err != nil || st != want {
		t.Fatalf("stats = %+v, %v; want %+v", st, err, want)
	}
}

func testConcurrentOpen(t *testing.T, h Harness) {
	ctx := context.Background()
	loc := h.NewLocation(t)
	const n = 6
	if err := parallel(n, func(i int) error {
		ix, err := index.Open(ctx, loc, Store)
		if err != nil {
			return err
		}
		defer ix.Close()
		_, err = ix.Record(ctx, []cas.Attachment{Att("T", strconv.Itoa(i), "x")})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	ix := MustOpen(t, loc)
	ms, err := ix.Migrations(ctx)
	if err != nil || ms[0].Version != 1 {
		t.Fatalf("migrations = %+v, %v", ms, err)
	}
	hist, _ := ix.StoreHistory(ctx)
	got, _ := ix.Attachments(ctx, "T")
	if len(hist) != 1 || len(got) != n {
		t.Fatalf("%d store rows, %d attachments; want 1, %d", len(hist), len(got), n)
	}
}

func testAppendOnly(t *testing.T, h Harness) {
	if h.Exec == nil {
		t.Skip("the harness has no Exec")
	}
	ctx := context.Background()
	ix := MustOpen(t, h.NewLocation(t))
	MustRecord(t, ix, Att("T", "a", "alpha"))
	d := cas.Sum([]byte("alpha")).String()
	for _, c := range []struct{ table, verb, query string }{
		{"attachments", "UPDATE", "UPDATE attachments SET content_type = 'x'"},
		{"attachments", "DELETE", "DELETE FROM attachments"},
		{"blobs", "UPDATE", "UPDATE blobs SET size = 1"},
		{"blobs", "DELETE", "DELETE FROM blobs WHERE digest = '" + d + "'"},
		{"stores", "UPDATE", "UPDATE stores SET location = 'file:///elsewhere'"},
		{"stores", "DELETE", "DELETE FROM stores"},
		{"schema_migrations", "UPDATE", "UPDATE schema_migrations SET version = version + 100"},
		{"schema_migrations", "DELETE", "DELETE FROM schema_migrations"},
	} {
		err := h.Exec(t, ix, c.query)
		wantIs(t, err, cas.ErrImmutable)
		if msg := "casstore index is append-only: " + c.verb + " on " + c.table + " refused"; !strings.Contains(err.Error(), msg) {
			t.Fatalf("%s: error %q lacks %q", c.query, err, msg)
		}
	}
	// An upsert is refused (by the UPDATE trigger) or does nothing (SQLite
	// drops an insert whose key exists before the conflict is seen).
	upsert := "INSERT INTO blobs (digest, size, created_ns) VALUES ('" + d + "', 1, 1) ON CONFLICT (digest) DO UPDATE SET size = 1"
	if err := h.Exec(t, ix, upsert); err != nil && !errors.Is(err, cas.ErrImmutable) {
		t.Fatalf("upsert: %v", err)
	}
	got, err := ix.Attachments(ctx, "T")
	if err != nil || len(got) != 1 || got[0].Name != "a" || got[0].ContentType != "text/plain" {
		t.Fatalf("after refused changes: %v, %v", got, err)
	}
	if size, ok, _ := ix.LookupBlob(ctx, cas.Sum([]byte("alpha"))); !ok || size != 5 {
		t.Fatalf("blob changed: %d, %v", size, ok)
	}
	if s, _ := ix.Store(ctx); s != Store {
		t.Fatalf("store changed: %q", s)
	}
}
