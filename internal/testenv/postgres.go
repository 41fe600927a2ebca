package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// Variables exported by scripts/test.
const (
	EnvPGURL = "CASSTORE_TEST_PG_URL" // postgres://casstore@127.0.0.1:PORT/postgres?sslmode=disable, a superuser
	EnvPGBin = "CASSTORE_TEST_PG_BIN" // directory of psql, pg_ctl, initdb
)

// PostgresEnv is the test run's PostgreSQL server, reached as a superuser.
type PostgresEnv struct {
	URL   string  // the superuser's URL, database postgres
	Bin   string  // directory of psql, pg_ctl, initdb; "" if unknown
	Admin *sql.DB // the superuser on database postgres
}

// Postgres returns the server scripts/test started, or skips the test (fails
// it when CI=true) if there is none.
func Postgres(t testing.TB) *PostgresEnv {
	t.Helper()
	e := &PostgresEnv{URL: os.Getenv(EnvPGURL), Bin: os.Getenv(EnvPGBin)}
	if e.URL == "" {
		Unavailable(t, "PostgreSQL (%s unset)", EnvPGURL)
	}
	db, err := sql.Open("pgx", e.URL)
	if err != nil {
		t.Fatalf("testenv: %s: %v", EnvPGURL, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		Unavailable(t, "PostgreSQL at %s (%v)", e.URL, err)
	}
	t.Cleanup(func() { db.Close() })
	e.Admin = db
	return e
}

// NewDatabase creates an empty database for this test, owned by owner (the
// superuser when ""), and returns its URL for the superuser. The database is
// dropped when the test ends.
func (e *PostgresEnv) NewDatabase(t testing.TB, owner string) string {
	t.Helper()
	name := "casstore_test_" + randomHex(6)
	q := "CREATE DATABASE " + name
	if owner != "" {
		q += " OWNER " + QuoteIdent(owner)
	}
	if _, err := e.Admin.Exec(q); err != nil {
		t.Fatalf("testenv: %s: %v", q, err)
	}
	t.Cleanup(func() {
		// FORCE: a test that failed may leave connections behind.
		if _, err := e.Admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Logf("testenv: drop database %s: %v", name, err)
		}
	})
	return e.WithDatabase(name)
}

// WithDatabase returns the superuser URL with another database.
func (e *PostgresEnv) WithDatabase(db string) string {
	u, _ := url.Parse(e.URL)
	u.Path = "/" + db
	return u.String()
}

// NewRole creates a login role with a random password for this test and
// returns its name and password; it is dropped when the test ends (after the
// databases created later, which cleanups drop first).
func (e *PostgresEnv) NewRole(t testing.TB, prefix string) (name, password string) {
	t.Helper()
	name, password = prefix+"_"+randomHex(4), randomHex(12)
	if _, err := e.Admin.Exec(fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", QuoteIdent(name), password)); err != nil {
		t.Fatalf("testenv: create role: %v", err)
	}
	t.Cleanup(func() {
		e.Admin.Exec("DROP OWNED BY " + QuoteIdent(name))
		if _, err := e.Admin.Exec("DROP ROLE IF EXISTS " + QuoteIdent(name)); err != nil {
			t.Logf("testenv: drop role %s: %v", name, err)
		}
	})
	return name, password
}

// As returns dbURL with another user and password.
func As(dbURL, user, password string) string {
	u, _ := url.Parse(dbURL)
	u.User = url.UserPassword(user, password)
	return u.String()
}

// Psql runs psql on dbURL with the statements on stdin and returns its
// combined output. The test is skipped (failed in CI) without psql.
func (e *PostgresEnv) Psql(t testing.TB, dbURL, statements string) (string, error) {
	t.Helper()
	psql := "psql"
	if e.Bin != "" {
		psql = filepath.Join(e.Bin, "psql")
	}
	if _, err := exec.LookPath(psql); err != nil {
		Unavailable(t, "psql (%v)", err)
	}
	cmd := exec.Command(psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dbURL)
	cmd.Stdin = strings.NewReader(statements)
	cmd.Env = append(os.Environ(), "PGCONNECT_TIMEOUT=10")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// QuoteIdent quotes a PostgreSQL identifier.
func QuoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
