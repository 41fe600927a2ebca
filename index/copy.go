package index

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"slices"
	"strings"

	"github.com/casstore/casstore/cas"
)

// ErrCopyDestination: the destination of Copy holds rows that are not an
// earlier copy of the source, or belongs to another store.
var ErrCopyDestination = errors.New("the destination index is not empty and not an earlier copy of the source")

// copyBatch is how many rows one destination transaction carries.
const copyBatch = 2000

// CopiedTable is what Copy did to one table.
type CopiedTable struct {
	Table    string `json:"table"`
	Rows     int64  `json:"rows"`     // in the source, and so in the destination
	Copied   int64  `json:"copied"`   // by this run; the rest were there already
	Checksum string `json:"checksum"` // SHA-256 over the rows in id order, equal on both sides
}

// Copy copies every row of src into dst, table by table, with the ids and
// times they have in src: the attachments, the blobs, the store history,
// the verification log and the import bookkeeping. It is how a SQLite index
// moves to PostgreSQL (either way works).
//
// src is read in one snapshot and never written (open it ReadOnly). dst
// must have a schema at least as new as src's and hold either nothing or
// what an earlier, interrupted Copy of src wrote: each of its tables a
// prefix of src's, row for row. Anything else (another store, other rows)
// is refused with ErrCopyDestination before a row is written. A rerun
// after an interruption, or after src grew, copies the rest.
//
// Rows go in batches, each one destination transaction, in id order;
// progress (if not nil) is told after each. When done, Copy reads both
// sides again and compares row counts and a SHA-256 over the rows of every
// table; a difference is an error wrapping cas.ErrCorrupt. On PostgreSQL
// the id sequences are then moved past the copied ids, which needs
// UPDATE on them (the tables' owner has it): that is checked first.
func Copy(ctx context.Context, src, dst *Index, progress func(table string, copied int64)) ([]CopiedTable, error) {
	out, err := copyIndex(ctx, src, dst, progress)
	if err != nil {
		return out, fmt.Errorf("index: copy %s to %s: %w", src.where, dst.where, err)
	}
	return out, nil
}

func copyIndex(ctx context.Context, src, dst *Index, progress func(string, int64)) ([]CopiedTable, error) {
	sv, err := src.SchemaVersion(ctx)
	if err != nil {
		return nil, err
	}
	dv, err := dst.SchemaVersion(ctx)
	if err != nil {
		return nil, err
	}
	if dv < sv {
		return nil, fmt.Errorf("the destination's schema (version %d) is older than the source's (%d): open it once with this casstore", dv, sv)
	}
	// One snapshot of the source for the whole copy: rows recorded meanwhile
	// wait for the next run, and no attachment arrives without its blob.
	stx, err := src.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: src.d.name != "sqlite", Isolation: snapshotLevel(src.d)})
	if err != nil {
		return nil, src.d.classify(err)
	}
	defer stx.Rollback()
	tables, err := copyTables(ctx, src.d, stx)
	if err != nil {
		return nil, src.d.classify(err)
	}
	if err := checkSequences(ctx, dst, tables); err != nil {
		return nil, err
	}
	var out []CopiedTable
	// Check every table before writing anything.
	have := make([]int64, len(tables))
	for i, t := range tables {
		if have[i], err = checkPrefix(ctx, stx, src, dst, t); err != nil {
			return nil, err
		}
	}
	for i, t := range tables {
		n, err := copyRows(ctx, stx, src, dst, t, have[i], progress)
		if err != nil {
			return out, fmt.Errorf("table %s: %w", t, err)
		}
		out = append(out, CopiedTable{Table: t, Copied: n})
	}
	if dst.d.name == "postgres" {
		if err := syncSequences(ctx, dst, tables); err != nil {
			return out, err
		}
	}
	// The proof: counts and checksums, read back from both sides.
	for i, t := range tables {
		sn, ssum, err := tableSum(ctx, src.d, stx, t)
		if err != nil {
			return out, fmt.Errorf("table %s: checksum: %w", t, src.d.classify(err))
		}
		dn, dsum, err := tableSum(ctx, dst.d, dst.db, t)
		if err != nil {
			return out, fmt.Errorf("table %s: checksum: %w", t, dst.d.classify(err))
		}
		if sn != dn || ssum != dsum {
			return out, fmt.Errorf("table %s: the copy differs: %d rows (sha256 %s) in the source, %d (sha256 %s) in the destination: %w",
				t, sn, ssum, dn, dsum, cas.ErrCorrupt)
		}
		out[i].Rows, out[i].Checksum = sn, ssum
	}
	return out, nil
}

// snapshotLevel is the isolation that gives one snapshot for a whole
// transaction: SQLite's read transactions do that by themselves.
func snapshotLevel(d *dialect) sql.IsolationLevel {
	if d.name == "sqlite" {
		return sql.LevelDefault
	}
	return sql.LevelRepeatableRead
}

// copyTables lists the tables to copy in creation order, so that a table
// comes after those it refers to; schema_migrations is each side's own.
func copyTables(ctx context.Context, d *dialect, q querier) ([]string, error) {
	query := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid`
	if d.name == "postgres" {
		query = `SELECT c.relname FROM pg_catalog.pg_class c
			WHERE c.relkind = 'r' AND c.relnamespace = current_schema()::regnamespace ORDER BY c.oid`
	}
	rows, err := q.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		if t != "schema_migrations" {
			out = append(out, t)
		}
	}
	return out, rows.Err()
}

// columns returns the columns of table in q, id first.
func columns(ctx context.Context, q querier, table string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT * FROM `+table+` WHERE 1 = 0`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if !slices.Contains(cols, "id") {
		return nil, fmt.Errorf("table %s has no id column", table)
	}
	cols = slices.DeleteFunc(cols, func(c string) bool { return c == "id" })
	slices.Sort(cols)
	return append([]string{"id"}, cols...), nil
}

// checkPrefix checks that dst's rows of table are the first rows of src's,
// value for value, and returns how many there are.
func checkPrefix(ctx context.Context, stx *sql.Tx, src, dst *Index, table string) (int64, error) {
	cols, err := columns(ctx, stx, table)
	if err != nil {
		return 0, src.d.classify(err)
	}
	dcols, err := columns(ctx, dst.db, table)
	if err != nil {
		return 0, fmt.Errorf("destination: %w", dst.d.classify(err))
	}
	for _, c := range cols {
		if !slices.Contains(dcols, c) {
			return 0, fmt.Errorf("destination table %s lacks column %s", table, c)
		}
	}
	list := strings.Join(cols, ", ")
	drows, err := dst.db.QueryContext(ctx, `SELECT `+list+` FROM `+table+` ORDER BY id`)
	if err != nil {
		return 0, dst.d.classify(err)
	}
	defer drows.Close()
	srows, err := stx.QueryContext(ctx, `SELECT `+list+` FROM `+table+` ORDER BY id`)
	if err != nil {
		return 0, src.d.classify(err)
	}
	defer srows.Close()
	dv, sv := scanTargets(len(cols)), scanTargets(len(cols))
	var n int64
	for drows.Next() {
		if err := drows.Scan(dv...); err != nil {
			return 0, err
		}
		if !srows.Next() {
			return 0, fmt.Errorf("table %s: the destination has more rows than the source (%d): %w", table, n, ErrCopyDestination)
		}
		if err := srows.Scan(sv...); err != nil {
			return 0, err
		}
		if !sameRow(dv, sv) {
			if loc := slices.Index(cols, "location"); table == "stores" && !sameRow(dv[loc:loc+1], sv[loc:loc+1]) {
				return 0, fmt.Errorf("the destination belongs to store %v, the source to %v: %w: %w",
					showValue(dv[loc]), showValue(sv[loc]), ErrCopyDestination, cas.ErrStoreMismatch)
			}
			return 0, fmt.Errorf("table %s: row %d of the destination (id %v) is not the source's: %w", table, n+1, showValue(dv[0]), ErrCopyDestination)
		}
		n++
	}
	if err := drows.Err(); err != nil {
		return 0, dst.d.classify(err)
	}
	return n, srows.Close()
}

// copyRows copies the rows of table after the first skip, in batches.
func copyRows(ctx context.Context, stx *sql.Tx, src, dst *Index, table string, skip int64, progress func(string, int64)) (int64, error) {
	cols, err := columns(ctx, stx, table)
	if err != nil {
		return 0, src.d.classify(err)
	}
	list := strings.Join(cols, ", ")
	query := `SELECT ` + list + ` FROM ` + table + ` ORDER BY id LIMIT -1 OFFSET ?` // SQLite: no OFFSET without LIMIT
	if src.d.name == "postgres" {
		query = `SELECT ` + list + ` FROM ` + table + ` ORDER BY id OFFSET ?`
	}
	rows, err := stx.QueryContext(ctx, src.d.rebind(query), skip)
	if err != nil {
		return 0, src.d.classify(err)
	}
	defer rows.Close()
	perStmt := min(copyBatch, 30000/len(cols)) // under every engine's limit on parameters
	var copied int64
	var batch [][]any
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := dst.write(ctx, func(tx *sql.Tx) error {
			return insertRows(ctx, dst.d, tx, table, list, len(cols), batch, perStmt)
		})
		if err != nil {
			return dst.d.classify(err)
		}
		copied += int64(len(batch))
		batch = batch[:0]
		if progress != nil {
			progress(table, copied)
		}
		return nil
	}
	for rows.Next() {
		v := scanTargets(len(cols))
		if err := rows.Scan(v...); err != nil {
			return copied, err
		}
		batch = append(batch, v)
		if len(batch) == copyBatch {
			if err := flush(); err != nil {
				return copied, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return copied, src.d.classify(err)
	}
	return copied, flush()
}

// insertRows writes rows in tx, perStmt rows a statement.
func insertRows(ctx context.Context, d *dialect, tx *sql.Tx, table, list string, ncols int, rows [][]any, perStmt int) error {
	for rest := rows; len(rest) > 0; {
		chunk := rest[:min(len(rest), perStmt)]
		rest = rest[len(chunk):]
		args := make([]any, 0, ncols*len(chunk))
		for _, r := range chunk {
			for _, v := range r {
				args = append(args, *(v.(*any)))
			}
		}
		if _, err := tx.ExecContext(ctx, d.rebind(`INSERT INTO `+table+` (`+list+`) VALUES `+rowsOf(len(chunk), ncols)), args...); err != nil {
			return err
		}
	}
	return nil
}

// checkSequences makes sure the copy can end: on PostgreSQL, moving the id
// sequences needs UPDATE on them.
func checkSequences(ctx context.Context, dst *Index, tables []string) error {
	if dst.d.name != "postgres" {
		return nil
	}
	for _, t := range tables {
		var ok bool
		err := dst.db.QueryRowContext(ctx, `SELECT has_sequence_privilege(pg_get_serial_sequence($1, 'id'), 'UPDATE')`, t).Scan(&ok)
		if err != nil {
			return fmt.Errorf("destination table %s: %w", t, dst.d.classify(err))
		}
		if !ok {
			return fmt.Errorf("the destination's role may not set the id sequence of %s: run the copy as the tables' owner (the role that migrates): %w", t, cas.ErrAccessDenied)
		}
	}
	return nil
}

// syncSequences moves each table's id sequence past its highest id, so
// that new rows do not collide with the copied ones. It never moves one
// back.
func syncSequences(ctx context.Context, dst *Index, tables []string) error {
	for _, t := range tables {
		_, err := dst.db.ExecContext(ctx, `SELECT setval(s, m) FROM (
			SELECT pg_get_serial_sequence($1, 'id') AS s, (SELECT max(id) FROM `+t+`) AS m) x
			WHERE m IS NOT NULL AND m > COALESCE(pg_sequence_last_value(s::regclass), 0)`, t)
		if err != nil {
			return fmt.Errorf("table %s: id sequence: %w", t, dst.d.classify(err))
		}
	}
	return nil
}

// tableSum counts table's rows and hashes them in id order, each value
// tagged and length-prefixed so that no two row sequences hash alike. Text
// and bytes hash alike (one engine's TEXT may be the other's BLOB).
func tableSum(ctx context.Context, d *dialect, q querier, table string) (int64, string, error) {
	cols, err := columns(ctx, q, table)
	if err != nil {
		return 0, "", err
	}
	rows, err := q.QueryContext(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM `+table+` ORDER BY id`)
	if err != nil {
		return 0, "", err
	}
	defer rows.Close()
	h := sha256.New()
	h.Write([]byte(strings.Join(cols, ",") + "\n"))
	v := scanTargets(len(cols))
	var n int64
	for rows.Next() {
		if err := rows.Scan(v...); err != nil {
			return 0, "", err
		}
		for _, x := range v {
			hashValue(h, *(x.(*any)))
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return 0, "", err
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

func hashValue(h hash.Hash, v any) {
	var b [9]byte
	switch x := v.(type) {
	case nil:
		h.Write([]byte{'n'})
	case int64:
		b[0] = 'i'
		binary.BigEndian.PutUint64(b[1:], uint64(x))
		h.Write(b[:])
	case string:
		b[0] = 'b'
		binary.BigEndian.PutUint64(b[1:], uint64(len(x)))
		h.Write(b[:])
		h.Write([]byte(x))
	case []byte:
		b[0] = 'b'
		binary.BigEndian.PutUint64(b[1:], uint64(len(x)))
		h.Write(b[:])
		h.Write(x)
	default:
		fmt.Fprintf(h, "?%T:%v", x, x)
	}
}

func scanTargets(n int) []any {
	v := make([]any, n)
	for i := range v {
		v[i] = new(any)
	}
	return v
}

// sameRow compares scanned rows value for value, text and bytes alike.
func sameRow(a, b []any) bool {
	for i := range a {
		x, y := *(a[i].(*any)), *(b[i].(*any))
		if xb, ok := asBytes(x); ok {
			yb, ok := asBytes(y)
			if !ok || string(xb) != string(yb) {
				return false
			}
			continue
		}
		if x != y {
			return false
		}
	}
	return true
}

func asBytes(v any) ([]byte, bool) {
	switch x := v.(type) {
	case string:
		return []byte(x), true
	case []byte:
		return x, true
	}
	return nil, false
}

func showValue(v any) string {
	if b, ok := asBytes(*(v.(*any))); ok {
		return fmt.Sprintf("%q", cas.SafeName(string(b)))
	}
	return fmt.Sprint(*(v.(*any)))
}
