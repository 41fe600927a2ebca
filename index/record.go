package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/casstore/casstore/cas"
)

// ErrInvalid: an attachment cannot be recorded as given (a transaction id or
// content type that is not valid UTF-8 or holds NUL).
var ErrInvalid = errors.New("invalid attachment")

// chunkRows is how many attachments one multi-row statement carries: few
// statements per batch (round trips, on a server engine), well under every
// engine's limit on parameters.
const chunkRows = 200

// statements caches prepared statements by query text. Multi-row
// statements exist for every row count up to chunkRows; a long-running
// process prepares each once.
type statements struct {
	db     *sql.DB
	d      *dialect
	mu     sync.RWMutex
	byText map[string]*sql.Stmt
}

func (s *statements) init(db *sql.DB, d *dialect) {
	s.db, s.d, s.byText = db, d, map[string]*sql.Stmt{}
}

// get returns the prepared form of query (written with ? placeholders).
func (s *statements) get(ctx context.Context, query string) (*sql.Stmt, error) {
	s.mu.RLock()
	st, ok := s.byText[query]
	s.mu.RUnlock()
	if ok {
		return st, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if st, ok := s.byText[query]; ok {
		return st, nil
	}
	if s.byText == nil {
		return nil, errors.New("index closed")
	}
	st, err := s.db.PrepareContext(ctx, s.d.rebind(query))
	if err != nil {
		return nil, err
	}
	s.byText[query] = st
	return st, nil
}

func (s *statements) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.byText {
		st.Close()
	}
	s.byText = nil
}

// inTx returns query prepared for tx.
func (s *statements) inTx(ctx context.Context, tx *sql.Tx, query string) (*sql.Stmt, error) {
	st, err := s.get(ctx, query)
	if err != nil {
		return nil, err
	}
	return tx.StmtContext(ctx, st), nil
}

// rowsOf returns n groups of cols placeholders: "(?, ?), (?, ?)".
func rowsOf(n, cols int) string {
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
	return strings.TrimSuffix(strings.Repeat(one+", ", n), ", ")
}

const lookupBlobQuery = `SELECT size FROM blobs WHERE digest = ?`

// LookupBlob reports whether a blob with digest d is recorded, and its size.
func (ix *Index) LookupBlob(ctx context.Context, d cas.Digest) (size int64, ok bool, err error) {
	st, err := ix.st.get(ctx, lookupBlobQuery)
	if err == nil {
		err = st.QueryRowContext(ctx, d.String()).Scan(&size)
	}
	switch {
	case err == nil:
		return size, true, nil
	case errors.Is(err, sql.ErrNoRows):
		return 0, false, nil
	default:
		return 0, false, fmt.Errorf("index: lookup %s: %w", d.Short(), ix.d.classify(err))
	}
}

// Record appends atts and their blobs in one transaction: all are recorded
// or none. An attachment already recorded (same transaction, digest and
// name) is not added again and is returned as first recorded, with its ID,
// Created and ContentType. New rows get the time of the call. The result
// has one attachment per input, in order; Size is the blob's.
//
// Refused before anything is written: an empty transaction id
// (cas.ErrEmptyTxn), a transaction id or content type that is not UTF-8 or
// holds NUL (ErrInvalid), a zero digest (cas.ErrInvalidDigest), the empty
// blob's digest with a size or a size without it (cas.ErrCorrupt). A blob
// recorded, or given twice in atts, with two sizes fails the whole call
// with cas.ErrConflict. Names may be any bytes.
func (ix *Index) Record(ctx context.Context, atts []cas.Attachment) ([]cas.Attachment, error) {
	if len(atts) == 0 {
		return nil, nil
	}
	for i, a := range atts {
		if err := checkAttachment(a); err != nil {
			return nil, fmt.Errorf("index: record: attachment %d of %d: %w", i+1, len(atts), err)
		}
	}
	out, err := ix.record(ctx, atts, nil)
	if err != nil {
		return nil, fmt.Errorf("index: record: %w", ix.d.classify(err))
	}
	return out, nil
}

// record records atts in one transaction; then, when set, runs in the same
// transaction with the recorded attachments before the commit.
func (ix *Index) record(ctx context.Context, atts []cas.Attachment, then func(ctx context.Context, tx *sql.Tx, recorded []cas.Attachment, ns int64) error) ([]cas.Attachment, error) {
	var out []cas.Attachment
	err := ix.write(ctx, func(tx *sql.Tx) (err error) {
		if err := ix.stillBound(ctx, tx); err != nil {
			return err
		}
		out, err = ix.recordTx(ctx, tx, atts, then)
		return err
	})
	return out, err
}

// recordTx is one attempt of record, in tx.
func (ix *Index) recordTx(ctx context.Context, tx *sql.Tx, atts []cas.Attachment, then func(ctx context.Context, tx *sql.Tx, recorded []cas.Attachment, ns int64) error) ([]cas.Attachment, error) {
	ns := time.Now().UnixNano()
	out := make([]cas.Attachment, 0, len(atts))
	for len(atts) > 0 {
		chunk := atts[:min(len(atts), ix.d.rowsPerStatement())]
		atts = atts[len(chunk):]
		blobs, err := ix.recordBlobs(ctx, tx, chunk, ns)
		if err != nil {
			return nil, err
		}
		rec, err := ix.recordAttachments(ctx, tx, chunk, blobs, ns)
		if err != nil {
			return nil, err
		}
		out = append(out, rec...)
	}
	if then != nil {
		if err := then(ctx, tx, out, ns); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// recordBlobs inserts the blobs of atts that are new, checks the sizes of
// those recorded before, and returns the blobs' ids.
func (ix *Index) recordBlobs(ctx context.Context, tx *sql.Tx, atts []cas.Attachment, ns int64) (map[cas.Digest]int64, error) {
	sizes := make(map[cas.Digest]int64, len(atts))
	var args, digests []any
	for _, a := range atts {
		if size, dup := sizes[a.Digest]; dup {
			if size != a.Size {
				return nil, sizeConflict(a, size)
			}
			continue
		}
		sizes[a.Digest] = a.Size
		hex := a.Digest.String()
		args = append(args, hex, a.Size, ns)
		digests = append(digests, hex)
	}
	ids := make(map[cas.Digest]int64, len(digests))
	scan := func(rows *sql.Rows, withSize bool) error {
		defer rows.Close()
		for rows.Next() {
			var id, size int64
			var hex string
			dest := []any{&id, &hex}
			if withSize {
				dest = append(dest, &size)
			}
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			d, err := parseDigest(hex)
			if err != nil {
				return err
			}
			if withSize && size != sizes[d] {
				for _, a := range atts {
					if a.Digest == d {
						return sizeConflict(a, size)
					}
				}
			}
			ids[d] = id
		}
		return rows.Err()
	}

	ins, err := ix.st.inTx(ctx, tx, `INSERT INTO blobs (digest, size, created_ns) VALUES `+rowsOf(len(digests), 3)+
		` ON CONFLICT (digest) DO NOTHING RETURNING id, digest`)
	if err != nil {
		return nil, err
	}
	rows, err := ins.QueryContext(ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("blobs: %w", err)
	}
	if err := scan(rows, false); err != nil {
		return nil, fmt.Errorf("blobs: %w", err)
	}
	if len(ids) == len(digests) {
		return ids, nil // all new, with the sizes given
	}
	// Some were recorded before: read their ids and check their sizes.
	sel, err := ix.st.inTx(ctx, tx, `SELECT id, digest, size FROM blobs WHERE digest IN `+rowsOf(1, len(digests)))
	if err != nil {
		return nil, err
	}
	if rows, err = sel.QueryContext(ctx, digests...); err != nil {
		return nil, fmt.Errorf("blobs: %w", err)
	}
	if err := scan(rows, true); err != nil {
		return nil, fmt.Errorf("blobs: %w", err)
	}
	return ids, nil
}

func sizeConflict(a cas.Attachment, recorded int64) error {
	return fmt.Errorf("blob %s is recorded with size %d, attachment %q of %q says %d: %w",
		a.Digest.Short(), recorded, cas.SafeName(a.Name), cas.SafeName(a.Txn), a.Size, cas.ErrConflict)
}

// attKey identifies an attachment: the transaction id holds no NUL, so the
// name after the blob id may be anything.
func attKey(txn string, blob int64, name []byte) string {
	return txn + "\x00" + strconv.FormatInt(blob, 10) + "\x00" + string(name)
}

// recordAttachments inserts the attachments of atts that are new and reads
// back the others.
func (ix *Index) recordAttachments(ctx context.Context, tx *sql.Tx, atts []cas.Attachment, blobs map[cas.Digest]int64, ns int64) ([]cas.Attachment, error) {
	args := make([]any, 0, 5*len(atts))
	for _, a := range atts {
		args = append(args, a.Txn, blobs[a.Digest], nameBytes(a.Name), a.ContentType, ns)
	}
	ins, err := ix.st.inTx(ctx, tx, `INSERT INTO attachments (txn, blob, name, content_type, created_ns) VALUES `+
		rowsOf(len(atts), 5)+` ON CONFLICT (txn, name, blob) DO NOTHING RETURNING id, txn, blob, name`)
	if err != nil {
		return nil, err
	}
	rows, err := ins.QueryContext(ctx, args...)
	if err != nil {
		return nil, fmt.Errorf("attachments: %w", err)
	}
	ids := make(map[string]int64, len(atts))
	for rows.Next() {
		var id, blob int64
		var txn string
		var name []byte
		if err := rows.Scan(&id, &txn, &blob, &name); err != nil {
			rows.Close()
			return nil, err
		}
		ids[attKey(txn, blob, name)] = id
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("attachments: %w", err)
	}

	out := make([]cas.Attachment, len(atts))
	var find *sql.Stmt
	for i, a := range atts {
		blob, name := blobs[a.Digest], nameBytes(a.Name)
		if id, ok := ids[attKey(a.Txn, blob, name)]; ok {
			a.ID, a.Created = id, fromNanos(ns)
			out[i] = a
			continue
		}
		// Recorded before this call: return it as it was recorded.
		if find == nil {
			if find, err = ix.st.inTx(ctx, tx, `SELECT id, content_type, created_ns FROM attachments
				WHERE txn = ? AND name = ? AND blob = ?`); err != nil {
				return nil, err
			}
		}
		var created int64
		if err := find.QueryRowContext(ctx, a.Txn, name, blob).Scan(&a.ID, &a.ContentType, &created); err != nil {
			return nil, fmt.Errorf("attachment %q of %q: %w", cas.SafeName(a.Name), cas.SafeName(a.Txn), err)
		}
		a.Created = fromNanos(created)
		out[i] = a
	}
	return out, nil
}

// checkAttachment refuses what Record documents as refused.
func checkAttachment(a cas.Attachment) error {
	// Validate refuses an empty transaction id, labels that are not UTF-8
	// without NUL, a zero digest and a negative size.
	if err := a.Validate(); errors.Is(err, cas.ErrInvalidLabel) {
		return fmt.Errorf("%w: %w", err, ErrInvalid) // as documented: ErrInvalid
	} else if err != nil {
		return err
	}
	if (a.Digest == cas.EmptyDigest) != (a.Size == 0) {
		return fmt.Errorf("attachment %q: digest %s with size %d: %w", cas.SafeName(a.Name), a.Digest.Short(), a.Size, cas.ErrCorrupt)
	}
	return nil
}

// nameBytes is a name as a non-nil byte slice: nil would bind as NULL.
func nameBytes(name string) []byte {
	if name == "" {
		return []byte{}
	}
	return []byte(name)
}
