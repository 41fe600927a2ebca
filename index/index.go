package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync/atomic"
	"time"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/migrations"
)

// Index is a transaction index: which transactions have which blobs as
// attachments, and which store holds them. It is safe for concurrent use,
// also by several processes sharing one index.
type Index struct {
	d        *dialect
	db       *sql.DB
	where    string // Path()
	readOnly bool
	wsem     chan struct{} // one writer at a time when d.serialWrites
	// store is the store the index was opened for, "" when unchecked;
	// SwitchStore moves it while other goroutines record (stillBound).
	store atomic.Pointer[string]
	st    statements
}

var _ cas.Index = (*Index)(nil)

// Option configures Open.
type Option func(*options)

type options struct {
	migrations fs.FS
	readOnly   bool
}

// ReadOnly opens an existing index for reading only: nothing is created,
// migrated or recorded, and writes fail with ErrReadOnly. An index older
// than this casstore is read as it is; a newer one is refused.
func ReadOnly() Option { return func(o *options) { o.readOnly = true } }

// WithMigrations replaces the embedded migrations (migrations.FS) with
// fsys, laid out the same way (sqlite/0001_init.sql, ...). For tests.
func WithMigrations(fsys fs.FS) Option { return func(o *options) { o.migrations = fsys } }

// Open opens the index at location, creating it (and its parent
// directories) and applying pending migrations as needed. location is a
// file path, sqlite:///abs/path or file:///abs/path, or a PostgreSQL URL
// (postgres://user@host:port/database, completed from PGHOST, PGUSER, ...
// and ~/.pgpass as by libpq).
//
// store is the Location() of the blob store the index serves. A new index
// records it; an index that belongs to another store is refused with an
// error wrapping cas.ErrStoreMismatch. An empty store checks and records
// nothing: for commands that only read the index, or do not know the store.
//
// An index whose schema is newer than this casstore is refused with an error
// wrapping ErrSchemaTooNew.
func Open(ctx context.Context, location, store string, opts ...Option) (*Index, error) {
	o := options{migrations: migrations.FS}
	for _, opt := range opts {
		opt(&o)
	}
	t, err := parseTarget(location, o.readOnly)
	if err != nil {
		return nil, fmt.Errorf("index: open: %w", err)
	}
	ix, err := open(ctx, t, store, o)
	if err != nil {
		return nil, fmt.Errorf("index: open %s: %w", t.path, err)
	}
	return ix, nil
}

func open(ctx context.Context, t target, store string, o options) (*Index, error) {
	d := t.dialect
	ms, err := loadMigrations(o.migrations, d.name)
	if err != nil {
		return nil, err
	}
	var db *sql.DB
	if t.connect != nil {
		db, err = t.connect()
	} else {
		if o.readOnly {
			if _, err := os.Stat(t.path); err != nil {
				return nil, err
			}
		} else if err := ensureDir(t.path); err != nil {
			return nil, err
		}
		db, err = sql.Open(d.driver, t.dsn)
	}
	if err != nil {
		return nil, err
	}
	db.SetMaxIdleConns(8)
	ix := &Index{d: d, db: db, where: t.path, readOnly: o.readOnly, wsem: make(chan struct{}, 1)}
	ix.st.init(db, d)
	if err := ix.init(ctx, store, ms); err != nil {
		ix.Close()
		return nil, err
	}
	return ix, nil
}

func (ix *Index) init(ctx context.Context, store string, ms []migration) error {
	d := ix.d
	if err := d.check(ctx, ix.db, ix.readOnly); err != nil {
		return d.classify(err)
	}
	if ix.readOnly {
		cur, err := schemaVersion(ctx, d, ix.db)
		if err != nil {
			return d.classify(err)
		}
		if cur == 0 {
			// An empty database is to a server engine what a missing
			// file is to SQLite: no index yet.
			if other, err := d.hasTables(ctx, ix.db); err == nil && !other {
				return fmt.Errorf("no casstore index in this database yet (put or import something first, with a role that may create tables): %w", fs.ErrNotExist)
			}
			// Tables but no migration: another application's database,
			// unless a process created the index between the two reads
			// (its first migration commits tables and version at once).
			if cur, err = schemaVersion(ctx, d, ix.db); err != nil {
				return d.classify(err)
			}
			if cur == 0 {
				return ErrNotIndex
			}
		}
		if err := checkVersion(cur, ms); err != nil {
			return err
		}
		if err := checkComplete(ctx, d, ix.db, ms); err != nil {
			return d.classify(err)
		}
	} else if err := migrate(ctx, d, ix.db, ms); err != nil {
		return d.classify(err)
	}
	return ix.bindStore(ctx, store)
}

// Path returns where the index lives: the absolute file path of a SQLite
// index, the URL of a PostgreSQL one without its password.
func (ix *Index) Path() string { return ix.where }

// Close releases the index. It does not wait for other users' calls.
func (ix *Index) Close() error {
	ix.st.close()
	return ix.db.Close()
}

// writer admits one writing transaction of this process at a time where
// the engine has a single writer anyway, so that goroutines queue here
// instead of polling the engine's lock. Release is safe to defer always.
func (ix *Index) writer(ctx context.Context) (release func(), err error) {
	if ix.readOnly {
		return func() {}, ErrReadOnly
	}
	if !ix.d.serialWrites {
		return func() {}, nil
	}
	select {
	case ix.wsem <- struct{}{}:
		return func() { <-ix.wsem }, nil
	case <-ctx.Done():
		return func() {}, ctx.Err()
	}
}

// StoreRecord is one row of the index's store history.
type StoreRecord struct {
	ID       int64
	Location string
	Created  time.Time
}

// Store returns the location of the store the index belongs to (the newest
// in its history), or "" when none is recorded yet.
func (ix *Index) Store(ctx context.Context) (string, error) {
	loc, err := currentStore(ctx, ix.db)
	if err != nil {
		return "", fmt.Errorf("index: store: %w", ix.d.classify(err))
	}
	return loc, nil
}

func currentStore(ctx context.Context, q querier) (string, error) {
	var loc string
	err := q.QueryRowContext(ctx, `SELECT location FROM stores ORDER BY id DESC LIMIT 1`).Scan(&loc)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return loc, err
}

// StoreHistory returns every store the index has belonged to, oldest first.
func (ix *Index) StoreHistory(ctx context.Context) ([]StoreRecord, error) {
	out, err := collect(ctx, ix, `SELECT id, location, created_ns FROM stores ORDER BY id`,
		func(rows *sql.Rows) (r StoreRecord, err error) {
			var ns int64
			err = rows.Scan(&r.ID, &r.Location, &ns)
			r.Created = fromNanos(ns)
			return r, err
		})
	if err != nil {
		return nil, fmt.Errorf("index: store history: %w", err)
	}
	return out, nil
}

// collect runs query and returns what scan makes of each row; errors are
// classified.
func collect[T any](ctx context.Context, ix *Index, query string, scan func(*sql.Rows) (T, error), args ...any) ([]T, error) {
	rows, err := ix.db.QueryContext(ctx, ix.d.rebind(query), args...)
	if err != nil {
		return nil, ix.d.classify(err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, ix.d.classify(err)
	}
	return out, nil
}

// bindStore checks that the index belongs to store, recording it in a new
// index. An empty store checks nothing.
func (ix *Index) bindStore(ctx context.Context, store string) error {
	if store == "" {
		return nil
	}
	cur, err := currentStore(ctx, ix.db)
	if err != nil {
		return fmt.Errorf("store: %w", ix.d.classify(err))
	}
	if cur == "" && !ix.readOnly {
		cur, err = ix.recordFirstStore(ctx, store)
		if err != nil {
			return fmt.Errorf("record store: %w", ix.d.classify(err))
		}
	}
	if cur != "" && cur != store {
		return fmt.Errorf("the index belongs to store %s, not to %s: %w", cur, store, cas.ErrStoreMismatch)
	}
	ix.store.Store(&store)
	return nil
}

// boundStore returns the store the index was opened for (or switched to by
// this handle), "" when unchecked.
func (ix *Index) boundStore() string {
	if p := ix.store.Load(); p != nil {
		return *p
	}
	return ""
}

// stillBound checks, inside a write transaction, that the index still
// belongs to the store it was opened with: a process that opened it before
// a switch (a gateway, a running import) stores its blobs in the old
// store, and must not record them as if they were in the new one. It takes
// the dialect's shared lock first, so that a switch cannot commit between
// this check and the transaction's commit.
func (ix *Index) stillBound(ctx context.Context, tx *sql.Tx) error {
	store := ix.boundStore()
	if store == "" {
		return nil
	}
	if err := ix.d.lockTxShared(ctx, tx); err != nil {
		return err
	}
	cur, err := currentStore(ctx, tx)
	if err != nil {
		return err
	}
	if cur != store {
		return fmt.Errorf("the index was switched to store %s after it was opened for %s; open it again: %w", cur, store, cas.ErrStoreMismatch)
	}
	return nil
}

// recordFirstStore records store unless another process recorded a store
// first, and returns the current store.
func (ix *Index) recordFirstStore(ctx context.Context, store string) (cur string, err error) {
	err = ix.write(ctx, func(tx *sql.Tx) error {
		if err := ix.d.lockTx(ctx, tx); err != nil {
			return err
		}
		if cur, err = currentStore(ctx, tx); err != nil || cur != "" {
			return err
		}
		if err := ix.appendStore(ctx, tx, store); err != nil {
			return err
		}
		cur = store
		return nil
	})
	return cur, err
}

// appendStore appends loc to the store history in tx, which holds the
// dialect's txLock and has read the current store under it.
func (ix *Index) appendStore(ctx context.Context, tx *sql.Tx, loc string) error {
	_, err := tx.ExecContext(ctx, ix.d.rebind(`INSERT INTO stores (location, created_ns) VALUES (?, ?)`),
		loc, time.Now().UnixNano())
	return err
}

// write runs fn in one write transaction, committed when fn returns nil:
// this process's writers queue first (writer), and an attempt the engine
// reports as retryable (a serialization failure, a deadlock) is run again
// from the start, so fn must do all its work through tx.
func (ix *Index) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	release, err := ix.writer(ctx)
	defer release()
	if err != nil {
		return err
	}
	return retry(ctx, ix.d, func() error {
		tx, err := ix.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if err := fn(tx); err != nil {
			return err
		}
		return tx.Commit()
	})
}

// fromNanos turns a stored time back into a UTC time.Time.
func fromNanos(ns int64) time.Time { return time.Unix(0, ns).UTC() }
