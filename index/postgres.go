package index

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/casstore/casstore/cas"
)

// The PostgreSQL index goes through database/sql (pgx's stdlib adapter)
// rather than pgx's native API: the queries, migrations and record logic
// are the SQLite index's, unchanged, and database/sql's pool already
// replaces connections the driver reports broken (driver.ErrBadConn, and
// pgx pings a connection idle for over a second before reuse), which is
// how a long-running process survives a server restart.

// migrationLockKey is the pg_advisory_xact_lock key under which migrations
// and store switches run, and which records take shared: "casstore" in
// ASCII. Advisory locks are per database.
const migrationLockKey int64 = 0x636173_73746f7265

// maxAttempts bounds how often a write is tried when PostgreSQL reports a
// failure it documents as retryable (serialization failure, deadlock) or
// the connection broke: Record is idempotent, so trying again is safe.
const maxAttempts = 6

// isPostgres reports whether loc names a PostgreSQL database.
func isPostgres(loc string) bool {
	scheme, _, ok := strings.Cut(loc, "://")
	return ok && (strings.EqualFold(scheme, "postgres") || strings.EqualFold(scheme, "postgresql"))
}

// parsePostgres reads a postgres:// or postgresql:// URL. What it leaves
// out comes from libpq's environment variables (PGHOST, PGPORT, PGUSER,
// PGPASSWORD, PGDATABASE, PGSSLMODE, ...) and the password file (~/.pgpass
// or PGPASSFILE), as for every PostgreSQL tool.
func parsePostgres(loc string, readOnly bool) (target, error) {
	cfg, err := pgx.ParseConfig(loc)
	if err != nil {
		// pgx masks passwords in its messages on a best-effort basis only.
		return target{}, fmt.Errorf("%s: invalid PostgreSQL URL: %s", redact(loc), scrub(err.Error(), loc))
	}
	if readOnly {
		cfg.RuntimeParams["default_transaction_read_only"] = "on"
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = "casstore"
	}
	server := pgServer(cfg)
	return target{
		dialect: postgresDialect(server),
		path:    redact(loc),
		connect: func() (*sql.DB, error) {
			db := stdlib.OpenDB(*cfg)
			db.SetConnMaxIdleTime(5 * time.Minute)
			return db, nil
		},
	}, nil
}

// pgServer names the server for messages: host:port/database, and the
// user, never the password.
func pgServer(cfg *pgx.ConnConfig) string {
	host := cfg.Host
	if !strings.HasPrefix(host, "/") {
		host = net.JoinHostPort(host, strconv.Itoa(int(cfg.Port)))
	} else {
		host = filepath.Join(host, ".s.PGSQL."+strconv.Itoa(int(cfg.Port)))
	}
	return fmt.Sprintf("%s/%s (user %s)", host, cfg.Database, cfg.User)
}

// scrub removes the password of loc from msg.
func scrub(msg, loc string) string {
	var pw string
	if u, err := url.Parse(loc); err == nil && u.User != nil {
		pw, _ = u.User.Password()
	} else if i, j, ok := rawPassword(loc); err != nil && ok {
		msg = strings.ReplaceAll(msg, loc[i:j], "xxxxx") // as written
		pw, _ = url.PathUnescape(loc[i:j])
	}
	if pw != "" {
		msg = strings.ReplaceAll(msg, pw, "xxxxx")
		if esc := url.QueryEscape(pw); esc != pw {
			msg = strings.ReplaceAll(msg, esc, "xxxxx")
		}
	}
	if pw := os.Getenv("PGPASSWORD"); pw != "" {
		msg = strings.ReplaceAll(msg, pw, "xxxxx")
	}
	return msg
}

// postgresDialect is the PostgreSQL dialect; server names the database in
// errors that say it cannot be reached.
func postgresDialect(server string) *dialect {
	return &dialect{
		name:   "postgres",
		driver: "pgx",
		rebind: pgRebind,
		// A scan of the catalog, not to_regclass: the name lookup cache of
		// a transaction that waited on the migration lock may still
		// miss a table another process created meanwhile.
		tableExists: func(ctx context.Context, q querier, table string) (bool, error) {
			var ok bool
			err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables
				WHERE schemaname = current_schema() AND tablename = $1)`, table).Scan(&ok)
			return ok, err
		},
		// Tables without schema_migrations: a schema_migrations seen now
		// was created by a process that migrated since the version was
		// read, and the migration reads it again under the lock.
		hasTables: func(ctx context.Context, q querier) (bool, error) {
			var other bool
			err := q.QueryRowContext(ctx, `SELECT
				EXISTS (SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = current_schema())
				AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = 'schema_migrations')`).Scan(&other)
			return other, err
		},
		// Each migration takes pg_advisory_xact_lock in its own
		// transaction (txLock): nothing is held between them.
		txLock: func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockKey)
			return err
		},
		txLockShared: func(ctx context.Context, tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock_shared($1)`, migrationLockKey)
			return err
		},
		check: func(ctx context.Context, db *sql.DB, _ bool) error {
			var v int
			if err := db.QueryRowContext(ctx, `SELECT current_setting('server_version_num')::int`).Scan(&v); err != nil {
				return err
			}
			if v < 110000 {
				return fmt.Errorf("postgres %s: server version %d: casstore needs PostgreSQL 11 or newer", server, v)
			}
			return nil
		},
		classify:  func(err error) error { return pgClassify(server, err) },
		retryable: pgRetryable,
		// 1000 rows of 5 parameters: a batch of 1000 is four round trips
		// (BEGIN, blobs, attachments, COMMIT), well under 65535
		// parameters.
		chunkRows: 1000,
	}
}

// pgConflictKeys maps the conflict targets the shared SQL names to the
// unique indexes of migrations/postgres, which hash byte strings of any
// length (file names, paths) that a B-tree entry could not hold.
var pgConflictKeys = strings.NewReplacer(
	"ON CONFLICT (txn, name, blob)", "ON CONFLICT (txn, sha256(name), blob)",
	"ON CONFLICT (path, size, mtime_ns, attachment)", "ON CONFLICT (sha256(path), size, mtime_ns, attachment)",
)

// pgRebind turns ? placeholders into $1, $2, ... outside quoted text, and
// rewrites conflict targets (pgConflictKeys).
func pgRebind(q string) string {
	if strings.Contains(q, "ON CONFLICT (") {
		q = pgConflictKeys.Replace(q)
	}
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 64)
	n := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// pgClassify maps PostgreSQL's errors onto the sentinels. Errors that
// mean the server cannot be reached name it.
func pgClassify(server string, err error) error {
	if err == nil {
		return nil
	}
	if _, done := errors.AsType[*classified](err); done {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch {
		case strings.Contains(pe.Message, appendOnlyMarker):
			return &classified{err, cas.ErrImmutable}
		case pe.Code == "25006": // read_only_sql_transaction
			return &classified{err, ErrReadOnly}
		case pe.Code == "42501": // insufficient_privilege
			return &classified{err, cas.ErrAccessDenied}
		case pe.Code == "28P01" || pe.Code == "28000": // invalid_password, invalid_authorization_specification
			return &classified{fmt.Errorf("postgres %s: %w", server, err), cas.ErrBadCredentials}
		case pe.Code == "40001" || pe.Code == "40P01": // serialization_failure, deadlock_detected: retried first
			return &classified{err, cas.ErrUnavailable}
		case strings.HasPrefix(pe.Code, "08"), // connection_exception
			pe.Code == "57P01", pe.Code == "57P02", pe.Code == "57P03", // shutdown, crash, cannot connect now
			pe.Code == "53300": // too_many_connections
			return &classified{fmt.Errorf("postgres %s: %w", server, err), cas.ErrUnavailable}
		}
		return classifyCommon(err)
	}
	if pgConnLost(err) {
		return &classified{fmt.Errorf("postgres %s: cannot reach the server: %w", server, err), cas.ErrUnavailable}
	}
	return classifyCommon(err)
}

// pgConnLost reports errors that mean the connection to the server failed
// or broke.
func pgConnLost(err error) bool {
	if _, ok := errors.AsType[*pgconn.ConnectError](err); ok {
		return true
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return true
	}
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// pgRetryable: serialization failures and deadlocks, which PostgreSQL
// documents as "retry the transaction", and lost connections (the pool
// replaces them; a restarted server answers the next attempt).
func pgRetryable(err error) bool {
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok {
		switch pe.Code {
		case "40001", "40P01", "57P01", "57P02", "57P03":
			return true
		}
		return strings.HasPrefix(pe.Code, "08")
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	return pgConnLost(err)
}

// retry runs fn until it succeeds, fails in a way the dialect does not call
// retryable, or maxAttempts are spent; between attempts it waits a short,
// growing, jittered time. fn must be safe to run again (one transaction
// that commits or rolls back as a whole, idempotent).
func retry(ctx context.Context, d *dialect, fn func() error) error {
	wait := 5 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || d.retryable == nil || attempt == maxAttempts || !d.retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait/2 + rand.N(wait)):
		}
		wait *= 2
	}
}

// ConnSetting is one PostgreSQL connection setting and where it came from.
type ConnSetting struct {
	Name   string `json:"name"`            // host, port, user, database, sslmode, password
	Value  string `json:"value,omitempty"` // never the password: "set" or ""
	Source string `json:"source"`          // "URL", "env PGHOST", "file ~/.pgpass", "default"
}

// PostgresSettings explains how a PostgreSQL location resolves: each
// setting's value and whether it came from the URL, a libpq environment
// variable (looked up with lookup, normally os.LookupEnv: pgx reads the
// process environment), the password file, or a default. The password is
// reported as set or not, never shown.
func PostgresSettings(loc string, lookup func(string) (string, bool)) ([]ConnSetting, error) {
	if !isPostgres(loc) {
		return nil, fmt.Errorf("index: %s is not a PostgreSQL URL", redact(loc))
	}
	cfg, err := pgx.ParseConfig(loc)
	if err != nil {
		return nil, fmt.Errorf("index: %s: invalid PostgreSQL URL: %s", redact(loc), scrub(err.Error(), loc))
	}
	u, err := url.Parse(loc)
	if err != nil {
		return nil, fmt.Errorf("index: %s: invalid PostgreSQL URL", redact(loc))
	}
	q := u.Query()
	inURL := map[string]bool{
		"host":     u.Hostname() != "" || q.Has("host"),
		"port":     u.Port() != "" || q.Has("port"),
		"user":     (u.User != nil && u.User.Username() != "") || q.Has("user"),
		"database": strings.TrimPrefix(u.Path, "/") != "" || q.Has("dbname"),
		"sslmode":  q.Has("sslmode"),
		"password": q.Has("password"),
	}
	if u.User != nil {
		_, inURL["password"] = u.User.Password()
		inURL["password"] = inURL["password"] || q.Has("password")
	}
	envOf := map[string]string{"host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "database": "PGDATABASE", "sslmode": "PGSSLMODE", "password": "PGPASSWORD"}
	sslmode := q.Get("sslmode")
	if sslmode == "" {
		sslmode, _ = lookup("PGSSLMODE")
	}
	if sslmode == "" {
		sslmode = "prefer"
	}
	values := map[string]string{
		"host": cfg.Host, "port": strconv.Itoa(int(cfg.Port)), "user": cfg.User, "database": cfg.Database, "sslmode": sslmode,
	}
	if cfg.Password != "" {
		values["password"] = "set"
	}
	var out []ConnSetting
	for _, name := range []string{"host", "port", "user", "database", "sslmode", "password"} {
		s := ConnSetting{Name: name, Value: values[name], Source: "default"}
		if v, ok := lookup(envOf[name]); ok && v != "" {
			s.Source = "env " + envOf[name]
		}
		if inURL[name] {
			s.Source = "URL"
		}
		if name == "password" && s.Source == "default" {
			s.Source = "none"
			if cfg.Password != "" {
				s.Source = "file " + passFile(lookup)
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// passFile is where libpq looks for passwords.
func passFile(lookup func(string) (string, bool)) string {
	if p, ok := lookup("PGPASSFILE"); ok && p != "" {
		return p
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".pgpass")
	}
	return "~/.pgpass"
}

// IsPostgres reports whether an index location names a PostgreSQL
// database.
func IsPostgres(loc string) bool { return isPostgres(loc) }

// Redact returns an index location fit to print: without its password.
func Redact(loc string) string { return redact(loc) }
