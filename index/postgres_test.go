package index_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/casstore/casstore/cas"

	"github.com/casstore/casstore/index"
	"github.com/casstore/casstore/index/indextest"
	"github.com/casstore/casstore/internal/testenv"
	"github.com/casstore/casstore/migrations"
)

// pgLocation returns a fresh database on the test server.
func pgLocation(tb testing.TB) string {
	tb.Helper()
	return testenv.Postgres(tb).NewDatabase(tb, "")
}

func TestPostgres(t *testing.T) {
	testenv.Postgres(t)
	indextest.Run(t, indextest.Harness{
		NewLocation: pgLocation,
		Exec: func(tb testing.TB, ix *index.Index, query string, args ...any) error {
			return index.Exec(ix, query, args...)
		},
	})
}

// fillSQLite builds a SQLite index with every kind of row: attachments,
// blobs, verifications, imported files and a store switch.
func fillSQLite(t *testing.T, path string, n int) {
	t.Helper()
	ctx := context.Background()
	ix := indextest.MustOpen(t, path)
	var atts []cas.Attachment
	for i := range n {
		atts = append(atts, attN("txn-"+strconv.Itoa(i/7), i%(n-n/5)))
		atts[i].Name = fmt.Sprintf("file %d \xff\n.pdf", i)
	}
	indextest.MustRecord(t, ix, atts...)
	var vs []cas.Verification
	for i := range 50 {
		vs = append(vs, cas.Verification{Digest: digestN(i), Time: time.Unix(1700000000+int64(i), 0), Method: cas.MethodContent, Outcome: cas.OutcomeOK})
	}
	if err := ix.RecordVerifications(ctx, vs); err != nil {
		t.Fatal(err)
	}
	files := []index.ImportedFile{{Path: "/srv/rt/a b.pdf", Size: 1000, ModTime: time.Unix(1600000000, 5), Attachment: attN("import", 0)}}
	files[0].Attachment.Name = "a b.pdf"
	if _, err := ix.RecordImports(ctx, files); err != nil {
		t.Fatal(err)
	}
	if err := ix.SwitchStore(ctx, indextest.Store, "s3://new-bucket/p/", int64(n-n/5)); err != nil {
		t.Fatal(err)
	}
	ix.Close()
}

// dump returns every row of every table but schema_migrations, read with
// plain SQL, values as text: the copy's own code plays no part.
func dump(t *testing.T, driver, dsn string) map[string][]string {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string][]string{}
	for _, table := range []string{"stores", "blobs", "attachments", "verifications", "imported_files"} {
		cols := map[string][]string{
			"stores":         {"id", "location", "created_ns"},
			"blobs":          {"id", "digest", "size", "created_ns"},
			"attachments":    {"id", "txn", "blob", "name", "content_type", "created_ns"},
			"verifications":  {"id", "store", "digest", "method", "outcome", "detail", "verified_ns"},
			"imported_files": {"id", "path", "size", "mtime_ns", "attachment", "created_ns"},
		}[table]
		rows, err := db.Query(`SELECT ` + strings.Join(cols, ", ") + ` FROM ` + table + ` ORDER BY id`)
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		for rows.Next() {
			v := make([]any, len(cols))
			p := make([]any, len(cols))
			for i := range v {
				p[i] = &v[i]
			}
			if err := rows.Scan(p...); err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, x := range v {
				if bs, ok := x.([]byte); ok {
					x = string(bs)
				}
				fmt.Fprintf(&b, "%q|", fmt.Sprint(x))
			}
			out[table] = append(out[table], b.String())
		}
		rows.Close()
	}
	return out
}

func TestCopySQLiteToPostgres(t *testing.T) {
	ctx := context.Background()
	pg := testenv.Postgres(t)
	path := newLocation(t)
	fillSQLite(t, path, 5000)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := dump(t, "sqlite3", "file:"+path+"?mode=ro")
	dst := pg.NewDatabase(t, "")

	src, err := index.Open(ctx, path, "", index.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	d, err := index.Open(ctx, dst, "")
	if err != nil {
		t.Fatal(err)
	}
	// Interrupted in the middle of the attachments.
	cctx, cancel := context.WithCancel(ctx)
	_, err = index.Copy(cctx, src, d, func(table string, n int64) {
		if table == "attachments" && n >= 2000 {
			cancel()
		}
	})
	cancel()
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted copy: %v", err)
	}
	d.Close()
	partial := dump(t, "pgx", dst)
	if len(partial["attachments"]) != 2000 || len(partial["verifications"]) != 0 {
		t.Fatalf("after the interruption: %d attachments, %d verifications", len(partial["attachments"]), len(partial["verifications"]))
	}

	// The rerun finishes the job.
	if d, err = index.Open(ctx, dst, ""); err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	res, err := index.Copy(ctx, src, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := dump(t, "pgx", dst)
	for table, rows := range want {
		if len(rows) == 0 {
			t.Fatalf("the source has no %s: the test covers nothing", table)
		}
		if !slices.Equal(rows, got[table]) {
			t.Fatalf("%s differs: %d rows in the source, %d copied", table, len(rows), len(got[table]))
		}
	}
	for _, r := range res {
		if r.Table == "attachments" && (r.Rows != 5001 || r.Copied != 3001 || len(r.Checksum) != 64) {
			t.Fatalf("attachments: %+v", r)
		}
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("the copy changed the source file")
	}

	// The copy is a working index: same answers, new rows after the copied ids.
	if s, _ := d.Store(ctx); s != "s3://new-bucket/p/" {
		t.Fatalf("store = %q", s)
	}
	a, err := d.Find(ctx, "txn-3", "file 21 \xff\n.pdf")
	if err != nil || a.Created.IsZero() {
		t.Fatalf("find = %+v, %v", a, err)
	}
	if rec := indextest.MustRecord(t, d, indextest.Att("after", "x", "new")); rec[0].ID <= 5001 {
		t.Fatalf("new row got id %d, under the copied ones", rec[0].ID)
	}
	// Run again: nothing to copy but the new row is "other rows".
	_, err = index.Copy(ctx, src, d, nil)
	if !errors.Is(err, index.ErrCopyDestination) {
		t.Fatalf("copy onto a destination with other rows: %v", err)
	}

	// And back: PostgreSQL to a new SQLite file, row for row.
	back := newLocation(t)
	b, err := index.Open(ctx, back, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := index.Copy(ctx, d, b, nil); err != nil {
		t.Fatalf("copy back to SQLite: %v", err)
	}
	b.Close()
	pgRows, sqliteRows := dump(t, "pgx", dst), dump(t, "sqlite3", "file:"+back+"?mode=ro")
	for table, rows := range pgRows {
		if !slices.Equal(rows, sqliteRows[table]) {
			t.Fatalf("%s differs after the copy back: %d rows, %d copied", table, len(rows), len(sqliteRows[table]))
		}
	}

	// A destination bound to another store is refused, untouched.
	other := pg.NewDatabase(t, "")
	o, err := index.Open(ctx, other, "s3://another/")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	_, err = index.Copy(ctx, src, o, nil)
	if !errors.Is(err, index.ErrCopyDestination) || !errors.Is(err, cas.ErrStoreMismatch) || !strings.Contains(err.Error(), "s3://another/") {
		t.Fatalf("copy onto another store's index: %v", err)
	}
	if st, _ := o.Stats(ctx); st.Attachments != 0 {
		t.Fatalf("refused copy wrote %+v", st)
	}
}

// TestPGChild is a writer process of the multi-process tests: it does what
// CASSTORE_PG_CHILD says on the index at CASSTORE_PG_LOC, starting at the
// instant CASSTORE_PG_AT (unix ns), and prints "ok".
func TestPGChild(t *testing.T) {
	what := os.Getenv("CASSTORE_PG_CHILD")
	if what == "" {
		t.Skip("a child process of the multi-process tests")
	}
	ctx := context.Background()
	loc, id := os.Getenv("CASSTORE_PG_LOC"), os.Getenv("CASSTORE_PG_ID")
	at, _ := strconv.ParseInt(os.Getenv("CASSTORE_PG_AT"), 10, 64)
	time.Sleep(time.Until(time.Unix(0, at)))
	ix, err := index.Open(ctx, loc, indextest.Store)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	switch what {
	case "open":
	case "write":
		// Each round: one attachment every process sends at once, and one
		// of its own, as single-row calls; then a batch mixing both.
		for i := range 40 {
			if _, err := ix.Record(ctx, []cas.Attachment{indextest.Att("shared", strconv.Itoa(i), "same "+strconv.Itoa(i))}); err != nil {
				t.Fatal(err)
			}
			if _, err := ix.Record(ctx, []cas.Attachment{indextest.Att("own-"+id, strconv.Itoa(i), "blob "+strconv.Itoa(i%10))}); err != nil {
				t.Fatal(err)
			}
		}
		var batch []cas.Attachment
		for i := range 300 {
			batch = append(batch, indextest.Att("batch", strconv.Itoa(i), "b"+strconv.Itoa(i)), indextest.Att("batch-"+id, strconv.Itoa(i), "b"+strconv.Itoa(299-i)))
		}
		if _, err := ix.Record(ctx, batch); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Println("ok")
}

// runChildren runs n child processes doing what at the same instant and
// fails t unless all succeed.
func runChildren(t *testing.T, n int, what, loc string) {
	t.Helper()
	at := time.Now().Add(700 * time.Millisecond).UnixNano() // after every process has started
	cmds := make([]*exec.Cmd, n)
	outs := make([]*bytes.Buffer, n)
	for i := range cmds {
		cmds[i] = exec.Command(os.Args[0], "-test.run=^TestPGChild$", "-test.count=1")
		outs[i] = new(bytes.Buffer)
		cmds[i].Stdout, cmds[i].Stderr = outs[i], outs[i]
		cmds[i].Env = append(os.Environ(), "CASSTORE_PG_CHILD="+what, "CASSTORE_PG_LOC="+loc,
			"CASSTORE_PG_ID="+strconv.Itoa(i), "CASSTORE_PG_AT="+strconv.FormatInt(at, 10))
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, cmd := range cmds {
		if err := cmd.Wait(); err != nil || !strings.Contains(outs[i].String(), "ok") {
			t.Errorf("child %d: %v\n%s", i, err, outs[i])
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// TestPostgresMigrateProcesses: eight processes open one fresh database
// at the same instant; each migration is applied once and all succeed.
func TestPostgresMigrateProcesses(t *testing.T) {
	loc := pgLocation(t)
	runChildren(t, 8, "open", loc)
	ix := indextest.MustOpen(t, loc)
	ms, err := ix.Migrations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		if i > 0 && m.Version <= ms[i-1].Version {
			t.Fatalf("migrations %+v", ms)
		}
	}
	if hist, _ := ix.StoreHistory(context.Background()); len(hist) != 1 {
		t.Fatalf("store history %+v: want one row", hist)
	}
}

// TestPostgresWriterProcesses: writer processes sending the same
// attachments at the same instant, and their own: exactly one row each,
// nothing lost.
func TestPostgresWriterProcesses(t *testing.T) {
	ctx := context.Background()
	loc := pgLocation(t)
	indextest.MustOpen(t, loc).Close() // migrate first: this test is about writes
	const n = 6
	runChildren(t, n, "write", loc)
	ix := indextest.MustOpen(t, loc)
	for txn, want := range map[string]int{"shared": 40, "own-0": 40, "own-5": 40, "batch": 300, "batch-3": 300} {
		got, err := ix.Attachments(ctx, txn)
		if err != nil || len(got) != want {
			t.Fatalf("%s: %d rows, %v; want %d", txn, len(got), err, want)
		}
	}
	st, err := ix.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// shared 40 + own 40 each + batch 300 + batch-i 300 each.
	if want := int64(40 + n*40 + 300 + n*300); st.Attachments != want {
		t.Fatalf("%d attachments, want %d", st.Attachments, want)
	}
	if want := int64(40 + 10 + 300); st.Blobs != want {
		t.Fatalf("%d blobs, want %d", st.Blobs, want)
	}
}

// TestPostgresServerRestart: a long-lived *Index reports a stopped server
// as cas.ErrUnavailable, naming the server but not the password, and works
// again once the server is back, without being reopened.
func TestPostgresServerRestart(t *testing.T) {
	ctx := context.Background()
	c := testenv.Postgres(t).NewCluster(t)
	loc := fmt.Sprintf("postgres://casstore:pw-not-shown-42@127.0.0.1:%d/postgres?sslmode=disable", c.Port)
	ix := indextest.MustOpen(t, loc)
	indextest.MustRecord(t, ix, indextest.Att("T", "before", "1"))

	c.Stop(t)
	_, err := ix.Record(ctx, []cas.Attachment{indextest.Att("T", "during", "2")})
	if !errors.Is(err, cas.ErrUnavailable) {
		t.Fatalf("record with the server stopped: %v", err)
	}
	server := fmt.Sprintf("127.0.0.1:%d", c.Port)
	if msg := err.Error(); !strings.Contains(msg, server) || strings.Contains(msg, "pw-not-shown-42") {
		t.Fatalf("error %q: want the server named, no password", msg)
	}
	if _, err := ix.Attachments(ctx, "T"); !errors.Is(err, cas.ErrUnavailable) {
		t.Fatalf("read with the server stopped: %v", err)
	}
	if _, err := index.Open(ctx, loc, indextest.Store); !errors.Is(err, cas.ErrUnavailable) || strings.Contains(err.Error(), "pw-not-shown-42") {
		t.Fatalf("open with the server stopped: %v", err)
	}

	c.Start(t)
	indextest.MustRecord(t, ix, indextest.Att("T", "after", "3"))
	got, err := ix.Attachments(ctx, "T")
	if err != nil || len(got) != 2 {
		t.Fatalf("after the restart: %v, %v", got, err)
	}
}

// TestPostgresRoles: an owner role migrates; an application role with
// SELECT and INSERT only opens the migrated index without DDL, records,
// and meets "permission denied" where the owner meets the triggers. A later
// migration by the owner reaches the application role through default
// privileges.
func TestPostgresRoles(t *testing.T) {
	ctx := context.Background()
	pg := testenv.Postgres(t)
	owner, ownerPW := pg.NewRole(t, "casstore_owner")
	app, appPW := pg.NewRole(t, "casstore_app")
	dbURL := pg.NewDatabase(t, owner)
	ownerURL, appURL := testenv.As(dbURL, owner, ownerPW), testenv.As(dbURL, app, appPW)

	// Before anything is granted the app role may not even create the schema.
	if _, err := index.Open(ctx, appURL, indextest.Store); !errors.Is(err, cas.ErrAccessDenied) {
		t.Fatalf("app role migrating: %v", err)
	}
	o := indextest.MustOpen(t, ownerURL)
	db := dbURL[strings.LastIndex(dbURL, "/")+1:]
	db, _, _ = strings.Cut(db, "?")
	grants := fmt.Sprintf(`GRANT CONNECT ON DATABASE %[1]s TO %[3]s;
GRANT USAGE ON SCHEMA public TO %[3]s;
GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO %[3]s;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO %[3]s;
ALTER DEFAULT PRIVILEGES FOR ROLE %[2]s IN SCHEMA public GRANT SELECT, INSERT ON TABLES TO %[3]s;
ALTER DEFAULT PRIVILEGES FOR ROLE %[2]s IN SCHEMA public GRANT USAGE ON SEQUENCES TO %[3]s;`,
		testenv.QuoteIdent(db), testenv.QuoteIdent(owner), testenv.QuoteIdent(app))
	if out, err := pg.Psql(t, ownerURL, grants); err != nil {
		t.Fatalf("grants: %v\n%s", err, out)
	}
	a := indextest.MustOpen(t, appURL)
	indextest.MustRecord(t, a, indextest.Att("T", "a", "alpha"))
	for _, q := range []string{"DELETE FROM attachments", "UPDATE blobs SET size = 0", "TRUNCATE stores CASCADE"} {
		if err := index.Exec(a, q); !errors.Is(err, cas.ErrAccessDenied) {
			t.Fatalf("app role: %s: %v", q, err)
		}
		if err := index.Exec(o, q); !errors.Is(err, cas.ErrImmutable) {
			t.Fatalf("owner: %s: %v", q, err)
		}
	}
	// A newer casstore's migration, run by the owner: the app role can use
	// the new table without another GRANT, and opens the index as it is.
	extra := `CREATE TABLE later_table (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, x TEXT);`
	o2 := indextest.MustOpen(t, ownerURL, index.WithMigrations(migrationsPlus(t, "9000_later.sql", extra)))
	a2 := indextest.MustOpen(t, appURL, index.WithMigrations(migrationsPlus(t, "9000_later.sql", extra)))
	if err := index.Exec(a2, "INSERT INTO later_table (x) VALUES ('y')"); err != nil {
		t.Fatalf("app role on a table created later: %v", err)
	}
	o2.Close()
}

// migrationsPlus is the embedded migrations and one more PostgreSQL file.
func migrationsPlus(t *testing.T, name, sql string) fs.FS {
	t.Helper()
	out := fstest.MapFS{}
	err := fs.WalkDir(migrations.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, p)
		out[p] = &fstest.MapFile{Data: b}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	out["postgres/"+name] = &fstest.MapFile{Data: []byte(sql)}
	return out
}

// TestPostgresEmptyReadOnly: read-only, an empty database is "no index"
// (fs.ErrNotExist, as a missing SQLite file), and nothing is created.
func TestPostgresEmptyReadOnly(t *testing.T) {
	loc := pgLocation(t)
	_, err := index.Open(context.Background(), loc, "", index.ReadOnly())
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("read-only open of an empty database: %v", err)
	}
	ix := indextest.MustOpen(t, loc)
	if v, _ := ix.SchemaVersion(context.Background()); v == 0 {
		t.Fatal("not migrated after a read-write open")
	}
}

// TestPostgresDeadlockRetried: two writers record the same two new blobs
// in opposite orders at once, round after round; PostgreSQL breaks the
// deadlocks this makes by failing one transaction (40P01), which the index
// retries: every call succeeds and every row is there once.
func TestPostgresDeadlockRetried(t *testing.T) {
	ctx := context.Background()
	pg := testenv.Postgres(t)
	loc := pg.NewDatabase(t, "")
	db := loc[strings.LastIndex(loc, "/")+1:]
	db, _, _ = strings.Cut(db, "?")
	if _, err := pg.Admin.Exec(`ALTER DATABASE ` + db + ` SET deadlock_timeout = '10ms'`); err != nil {
		t.Fatal(err)
	}
	a, b := indextest.MustOpen(t, loc), indextest.MustOpen(t, loc)
	const rounds, per = 30, 400
	for r := range rounds {
		// The same new blobs, one writer from the first, the other from
		// the last: they meet in the middle, each waiting for the other.
		fwd, rev := make([]cas.Attachment, per), make([]cas.Attachment, per)
		for i := range per {
			c := fmt.Sprintf("r%d-%d", r, i)
			fwd[i], rev[per-1-i] = indextest.Att("a", c, c), indextest.Att("b", c, c)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make([]error, 2)
		for i, w := range []struct {
			ix   *index.Index
			atts []cas.Attachment
		}{{a, fwd}, {b, rev}} {
			wg.Go(func() {
				<-start
				_, errs[i] = w.ix.Record(ctx, w.atts)
			})
		}
		close(start)
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("round %d: %v", r, err)
		}
	}
	for _, txn := range []string{"a", "b"} {
		if got, err := a.Attachments(ctx, txn); err != nil || len(got) != rounds*per {
			t.Fatalf("%s: %d rows, %v", txn, len(got), err)
		}
	}
	if st, _ := a.Stats(ctx); st.Blobs != rounds*per {
		t.Fatalf("%d blobs, want %d", st.Blobs, rounds*per)
	}
	// A backend flushes its statistics when it exits.
	a.Close()
	b.Close()
	var deadlocks int
	for deadline := time.Now().Add(5 * time.Second); deadlocks == 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err := pg.Admin.QueryRow(`SELECT deadlocks FROM pg_stat_database WHERE datname = $1`, db).Scan(&deadlocks); err != nil {
			t.Fatal(err)
		}
	}
	if deadlocks == 0 {
		t.Fatal("no deadlock happened: the retry went untested")
	}
	t.Logf("%d deadlocks broken by the server and retried", deadlocks)
}
