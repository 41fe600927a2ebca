package index_test

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"flag"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/index"
	"github.com/casstore/casstore/index/indextest"
)

var update = flag.Bool("update", false, "rewrite testdata/index fixtures")

func newLocation(tb testing.TB) string {
	tb.Helper()
	return filepath.Join(tb.TempDir(), "index.db")
}

func TestSQLite(t *testing.T) {
	indextest.Run(t, indextest.Harness{
		NewLocation: newLocation,
		Exec: func(tb testing.TB, ix *index.Index, query string, args ...any) error {
			return index.Exec(ix, query, args...)
		},
	})
}

func TestLocations(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, c := range []struct{ loc, path string }{
		{filepath.Join(dir, "plain", "index.db"), filepath.Join(dir, "plain", "index.db")},
		{"sqlite://" + filepath.Join(dir, "url", "a b?#%.db"), ""}, // url.Parse stops at '?'
		{"sqlite://" + filepath.Join(dir, "url", "index.db"), filepath.Join(dir, "url", "index.db")},
		{"sqlite:" + filepath.Join(dir, "opaque", "index.db"), filepath.Join(dir, "opaque", "index.db")},
		{"file://" + filepath.Join(dir, "file", "index.db"), filepath.Join(dir, "file", "index.db")},
		{"file:" + filepath.Join(dir, "file2", "index.db"), filepath.Join(dir, "file2", "index.db")},
		{"sqlite://localhost" + filepath.Join(dir, "lh", "index.db"), filepath.Join(dir, "lh", "index.db")},
		{"sqlite://" + filepath.Join(dir, "esc", "a%20b%3F%23.db"), filepath.Join(dir, "esc", "a b?#.db")},
		{filepath.Join(dir, "odd name ?#%&=", "index.db"), filepath.Join(dir, "odd name ?#%&=", "index.db")},
	} {
		ix, err := index.Open(ctx, c.loc, indextest.Store)
		if c.path == "" {
			if err == nil {
				ix.Close()
				t.Errorf("%s: opened, want an error", c.loc)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.loc, err)
			continue
		}
		if ix.Path() != c.path {
			t.Errorf("%s: path %q, want %q", c.loc, ix.Path(), c.path)
		}
		ix.Close()
		if _, err := os.Stat(c.path); err != nil {
			t.Errorf("%s: %v", c.loc, err)
		}
	}

	t.Chdir(dir)
	ix, err := index.Open(ctx, "rel/index.db", indextest.Store)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "rel", "index.db"); ix.Path() != want {
		t.Errorf("relative path became %q, want %q", ix.Path(), want)
	}
	ix.Close()

	for _, loc := range []string{"", "postgres:/no/host", "sqlite://otherhost/x.db", "sqlite:///x.db?mode=memory", "sqlite://"} {
		ix, err := index.Open(ctx, loc, indextest.Store)
		if err == nil {
			ix.Close()
			t.Errorf("%q: opened, want an error", loc)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("%q: error shows the password: %v", loc, err)
		}
		if strings.HasPrefix(loc, "postgres:/") && !errors.Is(err, cas.ErrNotSupported) {
			t.Errorf("%q: %v, want ErrNotSupported", loc, err)
		}
	}

	_, err = index.Open(ctx, filepath.Join(dir, "absent.db"), "", index.ReadOnly())
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read-only open of a missing file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "absent.db")); err == nil {
		t.Error("read-only open created the file")
	}

	// An empty file, as another process leaves it for an instant while
	// it creates the index: no index yet, not a broken one.
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = index.Open(ctx, empty, "", index.ReadOnly())
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("read-only open of an empty file: %v", err)
	}
}

// TestForeignDatabase: a SQLite file of another application is refused,
// not given our tables.
func TestForeignDatabase(t *testing.T) {
	ctx := context.Background()
	path := newLocation(t)
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE Attachments (id INTEGER PRIMARY KEY, Content BLOB)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, opts := range [][]index.Option{nil, {index.ReadOnly()}} {
		_, err := index.Open(ctx, path, indextest.Store, opts...)
		if !errors.Is(err, index.ErrNotIndex) {
			t.Fatalf("open of a foreign database: %v", err)
		}
	}
	if out, err := shell(t, path, ".tables"); err != nil || out != "Attachments" {
		t.Fatalf("foreign database changed: %q, %v", out, err)
	}
}

// sqlite3Shell returns the sqlite3 command-line tool, skipping the test
// where it is missing (failing in CI).
func sqlite3Shell(tb testing.TB) string {
	tb.Helper()
	p, err := exec.LookPath("sqlite3")
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatal("sqlite3 shell missing in CI: apt-get install sqlite3")
		}
		tb.Skip("sqlite3 shell not installed")
	}
	return p
}

func shell(tb testing.TB, path, sql string) (string, error) {
	tb.Helper()
	out, err := exec.Command(sqlite3Shell(tb), path, sql).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func TestSQLiteShell(t *testing.T) {
	ix := indextest.MustOpen(t, newLocation(t))
	indextest.MustRecord(t, ix, indextest.Att("T", "a", "alpha"))
	path := ix.Path()

	if out, err := shell(t, path, "PRAGMA journal_mode"); err != nil || out != "wal" {
		t.Fatalf("journal mode %q, %v", out, err)
	}
	for _, c := range []struct{ sql, msg string }{
		{"DELETE FROM attachments", "DELETE on attachments"},
		{"UPDATE attachments SET txn = 'U'", "UPDATE on attachments"},
		{"DELETE FROM blobs", "DELETE on blobs"},
		{"UPDATE blobs SET size = 0", "UPDATE on blobs"},
		{"DELETE FROM stores", "DELETE on stores"},
		{"DELETE FROM schema_migrations", "DELETE on schema_migrations"},
	} {
		out, err := shell(t, path, c.sql)
		if err == nil || !strings.Contains(out, "casstore index is append-only: "+c.msg+" refused") {
			t.Errorf("%s: %v, output %q", c.sql, err, out)
		}
	}
	// REPLACE deletes the old row without DELETE triggers; the insert
	// triggers make it a no-op instead.
	d := cas.Sum([]byte("alpha")).String()
	for _, sql := range []string{
		"INSERT OR REPLACE INTO blobs (digest, size, created_ns) VALUES ('" + d + "', 99, 1)",
		"REPLACE INTO blobs (id, digest, size, created_ns) SELECT id, digest, 99, 1 FROM blobs",
		"REPLACE INTO attachments (id, txn, blob, name, content_type, created_ns) SELECT id, 'U', blob, name, 'x', 1 FROM attachments",
		"INSERT OR REPLACE INTO attachments (txn, blob, name, content_type, created_ns) SELECT txn, blob, name, 'x', 1 FROM attachments",
		"INSERT OR REPLACE INTO stores (id, location, created_ns) SELECT id, 'file:///elsewhere', 1 FROM stores",
		"INSERT OR REPLACE INTO schema_migrations (version, name, applied_ns) VALUES (1, 'evil', 1)",
	} {
		if out, err := shell(t, path, sql); err != nil {
			t.Errorf("%s: %v %s", sql, err, out)
		}
	}
	ctx := context.Background()
	got, err := ix.Attachments(ctx, "T")
	if err != nil || len(got) != 1 || got[0].ContentType != "text/plain" || got[0].Size != 5 {
		t.Fatalf("after REPLACE: %+v, %v", got, err)
	}
	if s, _ := ix.Store(ctx); s != indextest.Store {
		t.Fatalf("store after REPLACE: %q", s)
	}
	if ms, _ := ix.Migrations(ctx); ms[0].Name != "init" {
		t.Fatalf("migrations after REPLACE: %+v", ms)
	}
}

func TestImmutableSQLiteOnly(t *testing.T) {
	ix := indextest.MustOpen(t, newLocation(t))
	indextest.MustRecord(t, ix, indextest.Att("T", "a", "alpha"))
	// A plain duplicate insert is dropped rather than replacing or failing.
	if err := index.Exec(ix, "INSERT OR REPLACE INTO blobs (digest, size, created_ns) VALUES (?, 1, 1)", cas.Sum([]byte("alpha")).String()); err != nil {
		t.Fatal(err)
	}
	if size, _, _ := ix.LookupBlob(context.Background(), cas.Sum([]byte("alpha"))); size != 5 {
		t.Fatalf("size %d after REPLACE", size)
	}
}

// TestConcurrentCreate opens one new index from several connections at
// once, again and again: each sees either no index (and creates it, under
// the write lock) or the one another has just created, never a database of
// "tables but no schema_migrations".
func TestConcurrentCreate(t *testing.T) {
	ctx := context.Background()
	for i := range 40 {
		loc := newLocation(t)
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				ix, err := index.Open(ctx, loc, indextest.Store)
				if err == nil {
					err = ix.Close()
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", i, err)
			}
		}
	}
}

// TestTwoProcesses has two OS processes record into one index at once,
// while this one does too.
func TestTwoProcesses(t *testing.T) {
	const batches, per = 30, 200
	if loc := os.Getenv("CASSTORE_INDEX_CHILD"); loc != "" {
		child(t, loc, os.Getenv("CASSTORE_INDEX_CHILD_ID"), batches, per)
		return
	}
	loc := newLocation(t)
	dir := filepath.Dir(loc)
	var cmds []*exec.Cmd
	var outs []*strings.Builder
	for _, id := range []string{"p1", "p2"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestTwoProcesses$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "CASSTORE_INDEX_CHILD="+loc, "CASSTORE_INDEX_CHILD_ID="+id)
		out := new(strings.Builder)
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds, outs = append(cmds, cmd), append(outs, out)
	}
	// Each child's exit is watched from the start, so one that fails
	// while getting ready ends the test at once.
	exited := make([]chan error, len(cmds))
	for i, cmd := range cmds {
		exited[i] = make(chan error, 1)
		go func() { exited[i] <- cmd.Wait() }()
	}
	stop := func() {
		for i, c := range cmds {
			c.Process.Kill()
			<-exited[i]
		}
	}
	// Let both children get ready, then start everyone at once.
	deadline := time.Now().Add(60 * time.Second)
	for i, id := range []string{"p1", "p2"} {
		for {
			if _, err := os.Stat(filepath.Join(dir, "ready-"+id)); err == nil {
				break
			}
			select {
			case err := <-exited[i]:
				exited[i] <- err
				stop()
				t.Fatalf("child %s exited before it was ready (%v):\n%s", id, err, outs[i])
			default:
			}
			if time.Now().After(deadline) {
				stop()
				t.Fatalf("child %s not ready:\n%s\n%s", id, outs[0], outs[1])
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		child(t, loc, "p0", batches, per)
	}()
	for i := range cmds {
		if err := <-exited[i]; err != nil {
			t.Errorf("child %d: %v\n%s", i+1, err, outs[i])
		}
	}
	wg.Wait()

	ctx := context.Background()
	ix := indextest.MustOpen(t, loc)
	st, err := ix.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(3 * batches * per); st.Attachments != want || st.Blobs != per {
		t.Fatalf("stats %+v, want %d attachments of %d blobs", st, want, per)
	}
	for _, id := range []string{"p0", "p1", "p2"} {
		got, err := ix.Attachments(ctx, id+"-7")
		if err != nil || len(got) != per {
			t.Fatalf("%s: %d rows, %v", id, len(got), err)
		}
	}
}

// child records batches of per attachments in transactions id-0, id-1, ...
// once the go file appears beside the index.
func child(tb testing.TB, loc, id string, batches, per int) {
	ctx := context.Background()
	dir := filepath.Dir(loc)
	ix, err := index.Open(ctx, loc, indextest.Store)
	if err != nil {
		tb.Fatalf("%s: %v", id, err)
	}
	defer ix.Close()
	if err := os.WriteFile(filepath.Join(dir, "ready-"+id), nil, 0o644); err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go")); err == nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	for b := range batches {
		atts := make([]cas.Attachment, per)
		for i := range atts {
			atts[i] = indextest.Att(id+"-"+strconv.Itoa(b), "f"+strconv.Itoa(i), "blob "+strconv.Itoa(i))
		}
		if _, err := ix.Record(ctx, atts); err != nil {
			tb.Errorf("%s batch %d: %v", id, b, err)
			return
		}
	}
}

// TestFixtureV0001 opens an index written with only migration 0001 by the
// first casstore that had one: it must upgrade and keep its rows.
func TestFixtureV0001(t *testing.T) {
	ctx := context.Background()
	fixture := filepath.Join("..", "testdata", "index", "v0001.db")
	if *update {
		writeFixture(t, fixture)
	}
	loc := newLocation(t)
	copyFile(t, fixture, loc)
	ix := indextest.MustOpen(t, loc)
	got, err := ix.Attachments(ctx, "RT-1234")
	if err != nil || len(got) != 3 {
		t.Fatalf("fixture rows: %+v, %v", got, err)
	}
	if got[1].Name != "line\nbreak \xff.txt" || got[2].Digest != cas.EmptyDigest {
		t.Fatalf("fixture rows: %+v", got)
	}
	if ms, err := ix.Migrations(ctx); err != nil || ms[0].Version != 1 {
		t.Fatalf("migrations %+v, %v", ms, err)
	}
	indextest.MustRecord(t, ix, indextest.Att("RT-1234", "new", "new"))
	if err := index.Exec(ix, "DELETE FROM attachments"); !errors.Is(err, cas.ErrImmutable) {
		t.Fatalf("delete on the fixture: %v", err)
	}
}

func writeFixture(t *testing.T, path string) {
	ctx := context.Background()
	tmp := newLocation(t)
	ix, err := index.Open(ctx, tmp, indextest.Store)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := ix.SchemaVersion(ctx); v != 1 {
		t.Fatalf("the fixture is for schema 1; this casstore writes %d", v)
	}
	indextest.MustRecord(t, ix,
		indextest.Att("RT-1234", "report.pdf", "%PDF-1.4 fake"),
		indextest.Att("RT-1234", "line\nbreak \xff.txt", "odd name"),
		indextest.Att("RT-1234", "empty", ""),
	)
	ix.Close() // checkpoints the WAL into the file
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, tmp, path)
}

func copyFile(tb testing.TB, from, to string) {
	tb.Helper()
	in, err := os.Open(from)
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		tb.Fatal(err)
	}
	if err := out.Close(); err != nil {
		tb.Fatal(err)
	}
}

// TestWaitsForOtherWriter holds the write lock from the sqlite3 shell for
// 2 s: Record waits for it instead of failing (and has waited at least
// 500 ms of it, unless this process stalled for 1.5 s).
func TestWaitsForOtherWriter(t *testing.T) {
	ix := indextest.MustOpen(t, newLocation(t))
	cmd := exec.Command(sqlite3Shell(t), ix.Path())
	cmd.Stdin = strings.NewReader("BEGIN IMMEDIATE;\nSELECT 'locked';\n.shell sleep 2\nCOMMIT;\n")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("shell said %q, %v", line, err)
	}
	start := time.Now()
	indextest.MustRecord(t, ix, indextest.Att("T", "a", "alpha"))
	if waited := time.Since(start); waited < 500*time.Millisecond {
		t.Errorf("record waited only %v for the shell's lock", waited)
	}
	io.Copy(io.Discard, stdout)
}
