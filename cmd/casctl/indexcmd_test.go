package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/internal/testenv"
)

// pgGrants is the README's least-privilege setup, run by the owner once
// its migrations have created the tables.
func pgGrants(db, owner, app string) string {
	return fmt.Sprintf(`
GRANT CONNECT ON DATABASE %[1]s TO %[3]s;
GRANT USAGE ON SCHEMA public TO %[3]s;
GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA public TO %[3]s;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO %[3]s;
ALTER DEFAULT PRIVILEGES FOR ROLE %[2]s IN SCHEMA public GRANT SELECT, INSERT ON TABLES TO %[3]s;
ALTER DEFAULT PRIVILEGES FOR ROLE %[2]s IN SCHEMA public GRANT USAGE ON SEQUENCES TO %[3]s;
`, testenv.QuoteIdent(db), testenv.QuoteIdent(owner), testenv.QuoteIdent(app))
}

// dbName is the database of a URL.
func dbName(u string) string {
	s := u[strings.LastIndex(u, "/")+1:]
	s, _, _ = strings.Cut(s, "?")
	return s
}

// TestIndexCopyToPostgres moves a SQLite index to PostgreSQL with casctl
// index copy, then uses the PostgreSQL one.
func TestIndexCopyToPostgres(t *testing.T) {
	pg := testenv.Postgres(t)
	owner, ownerPW := pg.NewRole(t, "casstore_owner")
	dbURL := pg.NewDatabase(t, owner)
	ownerURL := testenv.As(dbURL, owner, ownerPW)

	c := newCLI(t)
	for i := range 30 {
		c.ok("put", "--txn", fmt.Sprintf("ticket-%d", i%7), "--name", fmt.Sprintf("f%d.txt", i), c.file(fmt.Sprintf("f%d", i), []byte(fmt.Sprint("content ", i%11))))
	}
	sqliteLS := c.ok("ls", "--json", "ticket-3")
	c.ok("verify")

	out := c.ok("index", "copy", "--to", ownerURL)
	assert.Contains(t, out, "counts and checksums match")
	assert.Regexp(t, `attachments\t30 rows \(30 copied now\)\tsha256 [0-9a-f]{64}`, out)
	assert.NotContains(t, out, ownerPW)
	// A rerun has nothing left to copy and proves the copy again.
	assert.Contains(t, c.ok("index", "copy", "--to", ownerURL), "attachments\t30 rows (0 copied now)")

	// The application servers now use PostgreSQL.
	c.vars["CASCTL_INDEX"] = ownerURL
	assert.JSONEq(t, sqliteLS, c.ok("ls", "--json", "ticket-3"), "the same rows, ids and times")
	c.ok("put", "--txn", "ticket-new", c.file("new", []byte("new on postgres")))
	assert.Contains(t, c.ok("ls", "ticket-new"), "new")

	info := c.ok("index", "info")
	assert.Contains(t, info, "engine\tpostgres")
	assert.Contains(t, info, "(from env CASCTL_INDEX)")
	assert.Contains(t, info, "password\tset\t(from URL)")
	assert.Contains(t, info, "31 attachments")
	assert.NotContains(t, info, ownerPW)
	var ji indexInfo
	require.NoError(t, json.Unmarshal([]byte(c.ok("index", "info", "--json")), &ji))
	assert.Equal(t, int64(31), ji.Stats.Attachments)
	assert.NotContains(t, ji.Index, ownerPW)

	// Copying another index onto it is refused: it holds other rows.
	other := newCLI(t)
	other.ok("put", "--txn", "x", other.file("x", []byte("x")))
	r := other.run(nil, "index", "copy", "--to", ownerURL)
	assert.Equal(t, exitUsage, r.code, r.stderr)
	assert.Contains(t, r.stderr, "belongs to store")
	assert.NotContains(t, r.stderr, ownerPW)
	// So is one whose rows are not a copy of this index's.
	fresh := pg.NewDatabase(t, owner)
	third := newCLI(t)
	third.vars["CASCTL_INDEX"] = testenv.As(fresh, owner, ownerPW)
	third.ok("put", "--txn", "y", third.file("y", []byte("y")))
	delete(third.vars, "CASCTL_INDEX")
	third.ok("put", "--txn", "z", third.file("z", []byte("z")))
	r = third.run(nil, "index", "copy", "--to", testenv.As(fresh, owner, ownerPW))
	assert.Equal(t, exitUsage, r.code, r.stderr)
	assert.Contains(t, r.stderr, "not an earlier copy")
	assert.NotContains(t, r.stderr, "belongs to store", "the same store, recorded at another time")
}

// TestIndexUnreachable: a PostgreSQL index that cannot be reached exits 6
// naming the server, never the password.
func TestIndexUnreachable(t *testing.T) {
	c := newCLI(t)
	loc := "postgres://someone:pw-do-not-print@127.0.0.1:1/casstore?sslmode=disable&connect_timeout=5"
	for _, args := range [][]string{{"ls", "T"}, {"put", "--txn", "T", c.file("a", []byte("a"))}, {"index", "info"}, {"index", "migrate"}} {
		r := c.run(nil, append(args, "--index", loc)...)
		assert.Equal(t, exitUnavailable, r.code, "%v: %s", args, r.stderr)
		assert.Contains(t, r.stderr, "127.0.0.1:1", args)
		assert.NotContains(t, r.stderr+r.stdout, "pw-do-not-print", args)
	}
}

// TestPostgresLeastPrivilege: the owner migrates; the application role,
// granted SELECT and INSERT only, runs every day-to-day command; neither
// can change a row.
func TestPostgresLeastPrivilege(t *testing.T) {
	pg := testenv.Postgres(t)
	owner, ownerPW := pg.NewRole(t, "casstore_owner")
	app, appPW := pg.NewRole(t, "casstore_app")
	dbURL := pg.NewDatabase(t, owner)
	ownerURL, appURL := testenv.As(dbURL, owner, ownerPW), testenv.As(dbURL, app, appPW)

	c := newCLI(t)
	c.vars["CASCTL_INDEX"] = ownerURL
	assert.Contains(t, c.ok("index", "migrate"), "schema version")
	out, err := pg.Psql(t, ownerURL, pgGrants(dbName(dbURL), owner, app))
	require.NoError(t, err, out)

	// Before the grants' effect is relied on: the app role cannot migrate.
	c.vars["CASCTL_INDEX"] = appURL
	f := c.file("a.txt", []byte("attachment a"))
	c.ok("put", "--txn", "T1", f)
	c.ok("put", "--txn", "T1", "--name", "b.txt", c.file("b.txt", []byte("attachment b")))
	c.ok("put", "--txn", "T1", f) // a retry: no new row
	assert.Equal(t, 2, strings.Count(c.ok("ls", "T1"), "\n"))
	d := cas.Sum([]byte("attachment a"))
	assert.Contains(t, c.ok("show", d.String()), "T1")
	assert.Equal(t, "attachment b", c.ok("get", "--txn", "T1", "--name", "b.txt"))
	c.ok("stat", d.String())
	c.ok("verify")
	c.ok("verify", "--txn", "T1")
	tree := filepath.Join(c.dir, "tree")
	importTree(t, tree, 20, 4, 100)
	c.ok("import", tree)
	c.ok("import", tree)
	assert.Contains(t, c.ok("index", "info"), "22 attachments")
	c.ok("index", "migrate") // up to date: nothing to create, no DDL needed

	// Neither role changes a row: the app role lacks the right, the owner
	// meets the triggers (from Go: index.TestPostgresRoles).
	for _, stmt := range []string{"UPDATE attachments SET content_type = 'x'", "DELETE FROM blobs", "TRUNCATE verifications CASCADE", "UPDATE stores SET location = 'x'", "DELETE FROM imported_files"} {
		out, err := pg.Psql(t, appURL, stmt+";")
		assert.Error(t, err, stmt)
		assert.Contains(t, out, "permission denied", stmt)
		out, err = pg.Psql(t, ownerURL, stmt+";")
		assert.Error(t, err, stmt)
		assert.Contains(t, out, "casstore index is append-only", stmt)
	}
	// The app role cannot create anything either.
	out, err = pg.Psql(t, appURL, "CREATE TABLE sneaky (x int);")
	assert.Error(t, err)
	assert.Contains(t, out, "permission denied")
	assert.Equal(t, 2, strings.Count(c.ok("ls", "T1"), "\n"))
}

// TestImportPostgresStopped: PostgreSQL stops in the middle of an import:
// exit 6 with the server named; after a restart the rerun completes with
// every file recorded once and no row without its blob.
func TestImportPostgresStopped(t *testing.T) {
	pgc := testenv.Postgres(t).NewCluster(t)
	loc := fmt.Sprintf("postgres://casstore:secret-pw-9@127.0.0.1:%d/postgres?sslmode=disable", pgc.Port)
	c := newCLI(t)
	c.vars["CASCTL_INDEX"] = loc
	tree := filepath.Join(c.dir, "tree")
	const files = 3000
	importTree(t, tree, files, 50, 64)
	c.ok("index", "migrate")

	db, err := sql.Open("pgx", pgc.URL)
	require.NoError(t, err)
	defer db.Close()
	count := func(table string) (n int) {
		db.QueryRow("SELECT count(*) FROM " + table).Scan(&n)
		return n
	}
	var r result
	var wg sync.WaitGroup
	wg.Go(func() { r = c.run(nil, "import", "--jobs", "2", tree) })
	deadline := time.Now().Add(30 * time.Second)
	for count("imported_files") < 200 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	db.Close()
	pgc.Stop(t)
	wg.Wait()
	t.Logf("import with the server stopped: exit %d, stderr:\n%s", r.code, r.stderr)
	assert.Equal(t, exitUnavailable, r.code, r.stderr)
	assert.Contains(t, r.stderr, fmt.Sprintf("127.0.0.1:%d", pgc.Port))
	assert.NotContains(t, r.stderr+r.stdout, "secret-pw-9")

	pgc.Start(t)
	c.ok("import", tree)
	db, err = sql.Open("pgx", pgc.URL)
	require.NoError(t, err)
	assert.Equal(t, files, count("attachments"))
	assert.Equal(t, files, count("imported_files"))
	c.ok("verify") // every indexed blob is in the store, intact
}

// TestIndexInfoSources: libpq's variables and password file complete the
// URL, and index info says where each setting came from, never the
// password.
func TestIndexInfoSources(t *testing.T) {
	pg := testenv.Postgres(t)
	owner, pw := pg.NewRole(t, "casstore_owner")
	dbURL := pg.NewDatabase(t, owner)
	u, err := url.Parse(dbURL)
	require.NoError(t, err)

	c := newCLI(t)
	sqliteInfo := c.ok("index", "info")
	assert.Contains(t, sqliteInfo, "engine\tsqlite")
	assert.Contains(t, sqliteInfo, "(from default, from the store")
	assert.Contains(t, sqliteInfo, "no index there yet")
	c.ok("put", "--txn", "T", c.file("a", []byte("a")))
	assert.Contains(t, c.ok("index", "info"), "1 attachments in 1 transactions")

	passfile := filepath.Join(c.dir, "pgpass")
	require.NoError(t, os.WriteFile(passfile, []byte("*:*:*:"+owner+":"+pw+"\n"), 0o600))
	t.Setenv("PGUSER", owner)
	t.Setenv("PGPASSFILE", passfile)
	t.Setenv("PGPASSWORD", "")
	c.vars["CASCTL_INDEX"] = fmt.Sprintf("postgres://%s%s?sslmode=disable", u.Host, u.Path)
	c.ok("index", "migrate")
	info := c.ok("index", "info")
	assert.Contains(t, info, "user\t"+owner+"\t(from env PGUSER)")
	assert.Contains(t, info, "password\tset\t(from file "+passfile+")")
	assert.Contains(t, info, "database\t"+strings.TrimPrefix(u.Path, "/")+"\t(from URL)")
	assert.NotContains(t, info, pw)

	t.Setenv("PGPASSWORD", pw)
	info = c.ok("index", "info")
	assert.Contains(t, info, "password\tset\t(from env PGPASSWORD)")
	assert.NotContains(t, info, pw)
	var ji indexInfo
	require.NoError(t, json.Unmarshal([]byte(c.ok("index", "info", "--json")), &ji))
	assert.NotContains(t, c.ok("index", "info", "--json"), pw)
	assert.Equal(t, "postgres", ji.Engine)
}
