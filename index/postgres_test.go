package index_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/casstore/casstore/cas"

	"github.com/casstore/casstore/index"
	"github.com/casstore/casstore/index/indextest"
	"github.com/casstore/casstore/internal/testenv"
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
