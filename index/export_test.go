package index

import (
	"context"
	"database/sql"

	"github.com/casstore/casstore/cas"
)

// Exec runs a raw statement on ix, its error classified as the index
// classifies errors: for tests that try what the API never does.
func Exec(ix *Index, query string, args ...any) error {
	_, err := ix.db.ExecContext(context.Background(), ix.d.rebind(query), args...)
	return ix.d.classify(err)
}

// RecordPaused records atts as Record does, calling paused inside the
// write transaction after its inserts, before the commit.
func RecordPaused(ctx context.Context, ix *Index, atts []cas.Attachment, paused func()) error {
	_, err := ix.record(ctx, atts, func(context.Context, *sql.Tx, []cas.Attachment, int64) error {
		paused()
		return nil
	})
	return err
}

// QueryRow runs a raw query on ix and scans its one row into dest.
func QueryRow(ix *Index, query string, dest ...any) error {
	return ix.db.QueryRowContext(context.Background(), query).Scan(dest...)
}
