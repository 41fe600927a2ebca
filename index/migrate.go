package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// migration is one numbered SQL file of an engine.
type migration struct {
	version int
	name    string // the file name without version and extension: "init"
	sql     string
}

// MigrationRecord is one applied migration, as schema_migrations keeps it.
type MigrationRecord struct {
	Version int
	Name    string
	Applied time.Time
}

// loadMigrations reads dir/NNNN_name.sql from fsys, in version order.
func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	var ms []migration
	seen := map[int]string{}
	for _, e := range entries {
		file := e.Name()
		if e.IsDir() || !strings.HasSuffix(file, ".sql") {
			continue
		}
		num, name, ok := strings.Cut(strings.TrimSuffix(file, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || name == "" {
			return nil, fmt.Errorf("migrations: %s/%s: want NNNN_name.sql", dir, file)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations: %s/%s and %s share version %d", dir, file, prev, v)
		}
		seen[v] = file
		b, err := fs.ReadFile(fsys, path.Join(dir, file))
		if err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
		ms = append(ms, migration{version: v, name: name, sql: string(b)})
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("migrations: none for %s", dir)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// schemaVersion returns the highest applied migration, 0 for an empty
// database.
func schemaVersion(ctx context.Context, d *dialect, q querier) (int, error) {
	ok, err := d.tableExists(ctx, q, "schema_migrations")
	if err != nil || !ok {
		return 0, err
	}
	var v int
	err = q.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

// appliedVersions returns the set of applied migrations.
func appliedVersions(ctx context.Context, d *dialect, q querier) (map[int]bool, error) {
	done := map[int]bool{}
	ok, err := d.tableExists(ctx, q, "schema_migrations")
	if err != nil || !ok {
		return done, err
	}
	rows, err := q.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		done[v] = true
	}
	return done, rows.Err()
}

// checkVersion refuses a schema newer than the newest migration known.
func checkVersion(cur int, ms []migration) error {
	if latest := ms[len(ms)-1].version; cur > latest {
		return fmt.Errorf("schema version %d, this casstore knows up to %d: %w", cur, latest, ErrSchemaTooNew)
	}
	return nil
}

// migrate applies the pending migrations in order, each in its own
// transaction together with its schema_migrations row. Processes that open
// one index at once apply each migration once: the dialect's txLock (or, on
// SQLite, the write lock BEGIN IMMEDIATE takes) serialises them and the
// applied versions are read again under it (applyMigration).
func migrate(ctx context.Context, d *dialect, db *sql.DB, ms []migration) error {
	done, err := appliedVersions(ctx, d, db)
	if err != nil {
		return fmt.Errorf("schema version: %w", err)
	}
	cur := 0
	for v := range done {
		cur = max(cur, v)
	}
	if err := checkVersion(cur, ms); err != nil {
		return err
	}
	// Every known migration not yet applied is applied, in order, a gap
	// below the newest included (one added on a branch that landed late).
	for _, m := range ms {
		if done[m.version] {
			continue
		}
		if err := applyMigration(ctx, d, db, m); errors.Is(err, ErrNotIndex) {
			return err
		} else if err != nil {
			return fmt.Errorf("migration %04d_%s: %w", m.version, m.name, err)
		}
	}
	return nil
}

// applyMigration runs m unless it is already applied. It refuses to build
// an index inside another application's database: a database with tables
// but no migration applied. Both questions are asked under the write lock,
// so a process that created the index meanwhile is seen as such.
func applyMigration(ctx context.Context, d *dialect, db *sql.DB, m migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return d.classify(err)
	}
	defer tx.Rollback()
	if err := d.lockTx(ctx, tx); err != nil {
		return fmt.Errorf("migration lock: %w", d.classify(err))
	}
	done, err := appliedVersions(ctx, d, tx)
	if err != nil {
		return err
	}
	if done[m.version] {
		return nil // another process got here first
	}
	if len(done) == 0 {
		if other, err := d.hasTables(ctx, tx); err != nil {
			return err
		} else if other {
			return ErrNotIndex
		}
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return d.classify(err)
	}
	if _, err := tx.ExecContext(ctx, d.rebind(`INSERT INTO schema_migrations (version, name, applied_ns) VALUES (?, ?, ?)`),
		m.version, m.name, time.Now().UnixNano()); err != nil {
		return d.classify(err)
	}
	return d.classify(tx.Commit())
}

// checkComplete refuses, for a read-only open, an index that lacks a known
// migration below its newest: it needs a writable open to catch up.
func checkComplete(ctx context.Context, d *dialect, q querier, ms []migration) error {
	done, err := appliedVersions(ctx, d, q)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if !done[m.version] {
			return fmt.Errorf("migration %04d_%s is not applied: open the index once for writing (casctl index migrate): %w", m.version, m.name, ErrReadOnly)
		}
	}
	return nil
}

// SchemaVersion returns the version of the newest applied migration.
func (ix *Index) SchemaVersion(ctx context.Context) (int, error) {
	v, err := schemaVersion(ctx, ix.d, ix.db)
	if err != nil {
		return 0, fmt.Errorf("index: schema version: %w", ix.d.classify(err))
	}
	return v, nil
}

// Migrations returns the applied migrations, oldest first.
func (ix *Index) Migrations(ctx context.Context) ([]MigrationRecord, error) {
	out, err := collect(ctx, ix, `SELECT version, name, applied_ns FROM schema_migrations ORDER BY version`,
		func(rows *sql.Rows) (r MigrationRecord, err error) {
			var ns int64
			err = rows.Scan(&r.Version, &r.Name, &ns)
			r.Applied = fromNanos(ns)
			return r, err
		})
	if err != nil {
		return nil, fmt.Errorf("index: migrations: %w", err)
	}
	return out, nil
}
