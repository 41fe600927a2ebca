package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/casstore/casstore/cas"
)

// BlobRecord is a blob as the index records it.
type BlobRecord struct {
	Digest  cas.Digest
	Size    int64
	Created time.Time // when the index first recorded it
}

// Stats counts what the index holds.
type Stats struct {
	Blobs        int64
	Bytes        int64 // total size of the blobs, each counted once
	Attachments  int64
	Transactions int64
}

const selectAttachments = `SELECT a.id, a.txn, b.digest, a.name, a.content_type, b.size, a.created_ns
	FROM attachments a JOIN blobs b ON b.id = a.blob `

// Attachments returns the transaction's attachments in the order they were
// recorded. A transaction exists only through its attachments: when there
// are none the error wraps ErrUnknownTxn (and so cas.ErrNotFound).
func (ix *Index) Attachments(ctx context.Context, txn string) ([]cas.Attachment, error) {
	if txn == "" {
		return nil, fmt.Errorf("index: attachments: %w", cas.ErrEmptyTxn)
	}
	out, err := ix.queryAttachments(ctx, selectAttachments+`WHERE a.txn = ? ORDER BY a.id`, txn)
	if err != nil {
		return nil, fmt.Errorf("index: attachments of %q: %w", cas.SafeName(txn), err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("index: attachments of %q: %w", cas.SafeName(txn), ErrUnknownTxn)
	}
	return out, nil
}

// Find returns the transaction's attachment called name (compared byte for
// byte). When several blobs were attached under one name, the newest wins.
// A transaction without attachments is ErrUnknownTxn, a name it lacks
// ErrNoAttachment; both wrap cas.ErrNotFound.
func (ix *Index) Find(ctx context.Context, txn, name string) (cas.Attachment, error) {
	if txn == "" {
		return cas.Attachment{}, fmt.Errorf("index: find: %w", cas.ErrEmptyTxn)
	}
	out, err := ix.queryAttachments(ctx, selectAttachments+`WHERE a.txn = ? AND a.name = ? ORDER BY a.id DESC LIMIT 1`, txn, nameBytes(name))
	if err == nil && len(out) == 0 {
		err = ErrNoAttachment
		var one int
		if qerr := ix.db.QueryRowContext(ctx, ix.d.rebind(`SELECT 1 FROM attachments WHERE txn = ? LIMIT 1`), txn).Scan(&one); errors.Is(qerr, sql.ErrNoRows) {
			err = ErrUnknownTxn
		} else if qerr != nil {
			err = ix.d.classify(qerr)
		}
	}
	if err != nil {
		return cas.Attachment{}, fmt.Errorf("index: find %q in %q: %w", cas.SafeName(name), cas.SafeName(txn), err)
	}
	return out[0], nil
}

// AttachmentsOf returns every attachment that uses the blob, oldest first:
// the transactions that need it. A blob the index does not know is
// cas.ErrNotFound; a known blob no attachment uses gives an empty list.
func (ix *Index) AttachmentsOf(ctx context.Context, d cas.Digest) ([]cas.Attachment, error) {
	out, err := ix.queryAttachments(ctx, selectAttachments+`WHERE b.digest = ? ORDER BY a.id`, d.String())
	if err == nil && len(out) == 0 {
		_, err = ix.Blob(ctx, d)
		if err != nil {
			return nil, err
		}
		return []cas.Attachment{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("index: attachments of blob %s: %w", d.Short(), err)
	}
	return out, nil
}

func (ix *Index) queryAttachments(ctx context.Context, query string, args ...any) ([]cas.Attachment, error) {
	return collect(ctx, ix, query, func(rows *sql.Rows) (a cas.Attachment, err error) {
		var digest string
		var name []byte
		var ns int64
		if err := rows.Scan(&a.ID, &a.Txn, &digest, &name, &a.ContentType, &a.Size, &ns); err != nil {
			return a, err
		}
		a.Digest, err = parseDigest(digest)
		a.Name, a.Created = string(name), fromNanos(ns)
		return a, err
	}, args...)
}

// Blob returns the index's record of a blob; cas.ErrNotFound when absent.
func (ix *Index) Blob(ctx context.Context, d cas.Digest) (BlobRecord, error) {
	var ns int64
	r := BlobRecord{Digest: d}
	err := ix.db.QueryRowContext(ctx, ix.d.rebind(`SELECT size, created_ns FROM blobs WHERE digest = ?`), d.String()).Scan(&r.Size, &ns)
	if errors.Is(err, sql.ErrNoRows) {
		err = cas.ErrNotFound
	}
	if err != nil {
		return BlobRecord{}, fmt.Errorf("index: blob %s: %w", d.Short(), ix.d.classify(err))
	}
	r.Created = fromNanos(ns)
	return r, nil
}

// Blobs calls fn for every recorded blob in digest order, streaming rows
// rather than loading them. An error from fn stops the walk and is returned
// as it is. fn may call other methods of the index. The walk reads one
// snapshot: blobs recorded meanwhile are not seen.
func (ix *Index) Blobs(ctx context.Context, fn func(BlobRecord) error) error {
	rows, err := ix.db.QueryContext(ctx, `SELECT digest, size, created_ns FROM blobs ORDER BY digest`)
	if err != nil {
		return fmt.Errorf("index: blobs: %w", ix.d.classify(err))
	}
	defer rows.Close()
	for rows.Next() {
		var digest string
		var r BlobRecord
		var ns int64
		if err := rows.Scan(&digest, &r.Size, &ns); err != nil {
			return fmt.Errorf("index: blobs: %w", err)
		}
		if r.Digest, err = parseDigest(digest); err != nil {
			return fmt.Errorf("index: blobs: %w", err)
		}
		r.Created = fromNanos(ns)
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("index: blobs: %w", ix.d.classify(err))
	}
	return nil
}

// Stats counts blobs, their bytes, attachments and transactions. It reads
// every row: meant for status commands, not hot paths.
func (ix *Index) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	err := ix.db.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM blobs), (SELECT COALESCE(SUM(size), 0) FROM blobs),
		(SELECT count(*) FROM attachments), (SELECT count(DISTINCT txn) FROM attachments)`).
		Scan(&s.Blobs, &s.Bytes, &s.Attachments, &s.Transactions)
	if err != nil {
		return Stats{}, fmt.Errorf("index: stats: %w", ix.d.classify(err))
	}
	return s, nil
}

// parseDigest reads a stored digest; the schema admits only valid ones, so
// a failure means the file was tampered with.
func parseDigest(s string) (cas.Digest, error) {
	d, err := cas.Parse(s)
	if err != nil {
		return cas.Digest{}, fmt.Errorf("stored digest: %w: %w", err, cas.ErrCorrupt)
	}
	return d, nil
}
