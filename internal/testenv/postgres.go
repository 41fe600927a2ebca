package testenv

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
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

// Cluster is a PostgreSQL server of a test's own, for tests that stop and
// start it. It runs as the postgres system user when the test runs as root
// (PostgreSQL refuses root).
type Cluster struct {
	Dir  string // owned by the server's user; removed at the end
	Bin  string
	Port int
	URL  string // the superuser casstore on database postgres
	as   []string
}

// NewCluster initialises and starts a throwaway cluster (initdb, trust
// authentication on loopback, socket in its directory). It is stopped by
// its process id and removed when the test ends.
func (e *PostgresEnv) NewCluster(t testing.TB) *Cluster {
	t.Helper()
	if e.Bin == "" {
		Unavailable(t, "PostgreSQL binaries (%s unset)", EnvPGBin)
	}
	dir, err := os.MkdirTemp("", "casstore-pg-")
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{Dir: dir, Bin: e.Bin, Port: freePort(t)}
	t.Cleanup(func() {
		c.kill()
		os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 {
		c.as = []string{"runuser", "-u", "postgres", "--"}
		if err := exec.Command("chown", "postgres", dir).Run(); err != nil {
			t.Fatalf("testenv: chown postgres %s: %v", dir, err)
		}
		os.Chmod(dir, 0o755)
	}
	if out, err := c.command("initdb", "-D", filepath.Join(dir, "data"), "-A", "trust", "-U", "casstore").CombinedOutput(); err != nil {
		t.Fatalf("testenv: initdb: %v\n%s", err, out)
	}
	c.URL = fmt.Sprintf("postgres://casstore@127.0.0.1:%d/postgres?sslmode=disable", c.Port)
	c.Start(t)
	return c
}

func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	argv := append(append(append([]string{}, c.as...), filepath.Join(c.Bin, name)), args...)
	return exec.Command(argv[0], argv[1:]...)
}

// Start starts the server and waits until it accepts connections.
func (c *Cluster) Start(t testing.TB) {
	t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100", c.Port, c.Dir)
	out, err := c.command("pg_ctl", "-D", filepath.Join(c.Dir, "data"), "-l", filepath.Join(c.Dir, "log"), "-w", "-o", opts, "start").CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(c.Dir, "log"))
		t.Fatalf("testenv: pg_ctl start: %v\n%s\n%s", err, out, log)
	}
}

// Stop stops the server (fast shutdown: clients are disconnected).
func (c *Cluster) Stop(t testing.TB) {
	t.Helper()
	if out, err := c.command("pg_ctl", "-D", filepath.Join(c.Dir, "data"), "-m", "fast", "-w", "stop").CombinedOutput(); err != nil {
		t.Fatalf("testenv: pg_ctl stop: %v\n%s", err, out)
	}
}

// kill stops a running server by the process id in postmaster.pid.
func (c *Cluster) kill() {
	b, err := os.ReadFile(filepath.Join(c.Dir, "data", "postmaster.pid"))
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil || pid <= 0 {
		return
	}
	if p, err := os.FindProcess(pid); err == nil {
		p.Signal(os.Interrupt) // fast shutdown
		for range 100 {
			if p.Signal(syscall.Signal(0)) != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// freePort returns a port on 127.0.0.1 that nothing listens on now, taken
// from below the kernel's ephemeral range (32768 and up, as scripts/test
// does): between this check and the server's start, which can be seconds
// away, no outgoing connection of a test running beside can take it, and
// a stopped cluster can restart on it.
func freePort(t testing.TB) int {
	t.Helper()
	for range 1000 {
		port := 10000 + mrand.IntN(22000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("testenv: no free port below 32000")
	return 0
}
