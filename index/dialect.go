package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/casstore/casstore/cas"
)

// busyTimeout is how long a writer waits for another process's write
// transaction before giving up.
const busyTimeout = 30 * time.Second

// dialect is everything that differs between database engines. Queries are
// written once, with ? placeholders, in the SQL both engines share.
type dialect struct {
	name   string // also the directory of its migrations in migrations.FS
	driver string // database/sql driver name

	// serialWrites: the engine admits one writer at a time, so writers of
	// this process queue on a mutex rather than on the engine's lock.
	serialWrites bool

	// rebind turns ? placeholders into the engine's own.
	rebind func(query string) string
	// tableExists reports whether a table exists; usable inside a
	// transaction without aborting it.
	tableExists func(ctx context.Context, q querier, table string) (bool, error)
	// hasTables reports whether the database holds any table at all.
	hasTables func(ctx context.Context, q querier) (bool, error)
	// txLock, if set, is taken first in each transaction that migrates
	// or appends to the store history after reading it, and held until
	// the transaction ends (PostgreSQL: pg_advisory_xact_lock). SQLite's
	// BEGIN IMMEDIATE serialises those already.
	txLock func(ctx context.Context, tx *sql.Tx) error
	// txLockShared, if set, is the shared form of txLock, taken first in
	// each transaction that records under the current store (stillBound):
	// a store switch then waits for the records in flight, and records
	// begun after it see the new store (PostgreSQL:
	// pg_advisory_xact_lock_shared; at READ COMMITTED each statement after
	// it reads what committed before). SQLite's BEGIN IMMEDIATE does both.
	txLockShared func(ctx context.Context, tx *sql.Tx) error
	// check puts the database in the mode the index needs and verifies
	// the settings the DSN asked for (SQLite: WAL, foreign keys).
	check func(ctx context.Context, db *sql.DB, readOnly bool) error
	// classify maps an engine error onto the cas sentinels (nil stays nil).
	classify func(err error) error
	// retryable, if set, reports failures after which a write
	// transaction is tried again (see retry).
	retryable func(err error) bool
	// chunkRows, if set, replaces the package's chunkRows for Record: a
	// server engine gains from fewer round trips.
	chunkRows int
}

// rowsPerStatement is how many attachments one multi-row statement of
// Record carries.
func (d *dialect) rowsPerStatement() int {
	if d.chunkRows > 0 {
		return d.chunkRows
	}
	return chunkRows
}

// lockTx takes the dialect's txLock in tx, if it has one.
func (d *dialect) lockTx(ctx context.Context, tx *sql.Tx) error {
	if d.txLock == nil {
		return nil
	}
	return d.txLock(ctx, tx)
}

// lockTxShared takes the dialect's txLockShared in tx, if it has one.
func (d *dialect) lockTxShared(ctx context.Context, tx *sql.Tx) error {
	if d.txLockShared == nil {
		return nil
	}
	return d.txLockShared(ctx, tx)
}

// querier is what *sql.DB, *sql.Conn and *sql.Tx share.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// target is a parsed index location.
type target struct {
	dialect *dialect
	path    string // for Path() and messages: the absolute file (SQLite)
	dsn     string // what sql.Open is given
	// connect, if set, opens the database instead of sql.Open (a server
	// engine: nothing on the local file system).
	connect func() (*sql.DB, error)
}

// parseTarget is the one place that understands index locations:
//
//	/abs/path/index.db, rel/path.db   a SQLite file
//	sqlite:///abs/path, sqlite:rel    the same as a URL
//	file:///abs/path, file:rel        the same
//	postgres://..., postgresql://...  a PostgreSQL database (postgres.go)
func parseTarget(loc string, readOnly bool) (target, error) {
	if loc == "" {
		return target{}, errors.New("no index location given")
	}
	if isPostgres(loc) {
		return parsePostgres(loc, readOnly)
	}
	if looksLikeKeywords(loc) {
		return target{}, errors.New("a libpq keyword string (host=... dbname=...) is not an index location: write it as a URL, postgres://[user@]host[:port]/database, and give the password in PGPASSWORD or ~/.pgpass")
	}
	p := loc
	switch scheme, _, _ := strings.Cut(loc, ":"); strings.ToLower(scheme) {
	case "postgres", "postgresql":
		return target{}, fmt.Errorf("%s: a PostgreSQL index is a URL: postgres://[user@]host[:port]/database: %w", redact(loc), cas.ErrNotSupported)
	case "sqlite", "file":
		u, err := url.Parse(loc)
		if err != nil {
			if ue, ok := errors.AsType[*url.Error](err); ok {
				err = ue.Err // without the URL, which may hold a password
			}
			return target{}, fmt.Errorf("%q: %w", redact(loc), err)
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return target{}, fmt.Errorf("%q: the index URL takes no query or fragment", redact(loc))
		}
		if u.Host != "" && u.Host != "localhost" {
			return target{}, fmt.Errorf("%q: a SQLite index must be a local file (sqlite:///abs/path)", redact(loc))
		}
		p = u.Path
		if u.Opaque != "" {
			p, err = url.PathUnescape(u.Opaque)
			if err != nil {
				return target{}, fmt.Errorf("%q: %w", redact(loc), err)
			}
		}
		if p == "" {
			return target{}, fmt.Errorf("%q: no file path", redact(loc))
		}
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return target{}, fmt.Errorf("%q: %w", loc, err)
	}
	return target{dialect: sqliteDialect, path: abs, dsn: sqliteDSN(abs, readOnly)}, nil
}

// looksLikeKeywords reports a libpq "key=value key=value" connection
// string, which must never be taken for a file name (it may hold a
// password).
func looksLikeKeywords(loc string) bool {
	if strings.Contains(loc, "://") {
		return false
	}
	for _, kw := range []string{"host=", "hostaddr=", "dbname=", "user=", "password=", "port=", "sslmode=", "service="} {
		if strings.HasPrefix(loc, kw) || strings.Contains(loc, " "+kw) {
			return true
		}
	}
	return false
}

// redact hides a password in a URL-shaped location: the user-info part and
// the password and sslpassword query parameters.
func redact(loc string) string {
	u, err := url.Parse(loc)
	if err != nil {
		// pgx accepts some URLs url.Parse refuses (postgres://u:pw@h[/db).
		if i, j, ok := rawPassword(loc); ok {
			loc = loc[:i] + "xxxxx" + loc[j:]
		}
		if strings.Contains(strings.ToLower(loc), "password") {
			return "(an unparsable location that mentions a password)"
		}
		return loc
	}
	q := u.Query()
	changed := false
	for k := range q {
		if lk := strings.ToLower(k); lk == "password" || lk == "sslpassword" {
			q.Set(k, "xxxxx")
			changed = true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	if u.User != nil || changed {
		return u.Redacted()
	}
	return loc
}

// rawPassword finds the password in the user-info of a URL-shaped loc
// without parsing it, for locations url.Parse refuses: loc[i:j], between
// the first ':' and the last '@' of the part after "://".
func rawPassword(loc string) (i, j int, ok bool) {
	_, rest, found := strings.Cut(loc, "://")
	if !found {
		return 0, 0, false
	}
	start := len(loc) - len(rest)
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		rest = rest[:end]
	}
	at := strings.LastIndexByte(rest, '@')
	colon := strings.IndexByte(rest, ':')
	if at < 0 || colon < 0 || colon+1 >= at {
		return 0, 0, false
	}
	return start + colon + 1, start + at, true
}

// sqliteDSN builds the go-sqlite3 DSN for the file at abs: a long busy
// timeout, foreign keys, synchronous=NORMAL (durable against a process
// crash; a power cut may lose the newest transactions, which at worst
// leaves stored blobs unrecorded, never a row without its blob), and BEGIN
// IMMEDIATE for transactions, which all write: a writer takes the write lock
// up front, so two processes never deadlock upgrading a read lock.
func sqliteDSN(abs string, readOnly bool) string {
	u := url.URL{Scheme: "file", Path: abs}
	q := url.Values{}
	q.Set("_busy_timeout", fmt.Sprint(busyTimeout.Milliseconds()))
	q.Set("_foreign_keys", "on")
	q.Set("_cache_size", "-32768") // KiB per connection, allocated as used
	if readOnly {
		q.Set("mode", "ro")
	} else {
		q.Set("_synchronous", "NORMAL")
		q.Set("_txlock", "immediate")
	}
	// url.URL renders file:///abs; SQLite reads it as a URI filename.
	return u.String() + "?" + q.Encode()
}

var sqliteDialect = &dialect{
	name:         "sqlite",
	driver:       "sqlite3",
	serialWrites: true,
	rebind:       func(q string) string { return q },
	tableExists: func(ctx context.Context, q querier, table string) (bool, error) {
		var n int
		err := q.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, table).Scan(&n)
		return n > 0, err
	},
	hasTables: func(ctx context.Context, q querier) (bool, error) {
		var n int
		err := q.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table'`).Scan(&n)
		return n > 0, err
	},
	check: func(ctx context.Context, db *sql.DB, readOnly bool) error {
		mode, err := sqliteWAL(ctx, db, readOnly)
		if err != nil {
			return fmt.Errorf("journal mode: %w", err)
		}
		if !strings.EqualFold(mode, "wal") {
			if readOnly {
				// An empty file: one being created this instant by
				// another process (WAL comes first, then the tables).
				var n int
				if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master`).Scan(&n); err == nil && n == 0 {
					return fmt.Errorf("no casstore index in this file yet (another process may be creating it; otherwise put or import something first): %w", fs.ErrNotExist)
				}
				return fmt.Errorf("journal mode is %q, not WAL: open it once read-write to convert it", mode)
			}
			return fmt.Errorf("journal mode is %q, not WAL (a file system without shared memory?)", mode)
		}
		var fk int
		if err := db.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk); err != nil {
			return err
		}
		if fk != 1 {
			return errors.New("foreign keys are off")
		}
		return nil
	},
	classify: func(err error) error {
		if err == nil {
			return nil
		}
		if e, ok := errors.AsType[sqlite3.Error](err); ok {
			switch e.Code {
			case sqlite3.ErrBusy, sqlite3.ErrLocked:
				return &classified{err, cas.ErrUnavailable}
			case sqlite3.ErrReadonly:
				return &classified{err, ErrReadOnly}
			}
		}
		return classifyCommon(err)
	},
}

// sqliteWAL switches the database to WAL, which then sticks to the file,
// and returns the journal mode. It is done once per open rather than in the
// DSN: converting a new file needs an exclusive lock, and SQLite reports
// SQLITE_BUSY at once, without waiting, to connections that race for it.
func sqliteWAL(ctx context.Context, db *sql.DB, readOnly bool) (string, error) {
	query := `PRAGMA journal_mode = WAL`
	if readOnly {
		query = `PRAGMA journal_mode`
	}
	deadline := time.Now().Add(busyTimeout)
	for {
		var mode string
		err := db.QueryRowContext(ctx, query).Scan(&mode)
		if e, ok := errors.AsType[sqlite3.Error](err); !ok || e.Code != sqlite3.ErrBusy || time.Now().After(deadline) {
			return mode, err
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// ensureDir creates the directory that will hold the index file.
func ensureDir(path string) error {
	return os.MkdirAll(filepath.Dir(path), 0o755)
}
