package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/casstore/casstore/cas"
)

var _ cas.VerifyIndex = (*Index)(nil)

// eachBlobPage is how many blobs EachBlob reads per query: short read
// transactions, so a scrub of hours holds no snapshot open.
const eachBlobPage = 1000

// maxDetail bounds the detail text of a verification entry.
const maxDetail = 1000

// EachBlob calls fn for every recorded blob with its size, in digest order.
// It reads a page at a time, keyed on the last digest seen, so no read
// transaction stays open while fn works: blobs recorded meanwhile are seen
// when their digest comes later. fn may call other methods of the index; an
// error from fn is returned as it is.
func (ix *Index) EachBlob(ctx context.Context, fn func(d cas.Digest, size int64) error) error {
	type row struct {
		d    cas.Digest
		size int64
	}
	after := ""
	for {
		page, err := collect(ctx, ix, `SELECT digest, size FROM blobs WHERE digest > ? ORDER BY digest LIMIT ?`,
			func(rows *sql.Rows) (r row, err error) {
				var hex string
				if err := rows.Scan(&hex, &r.size); err != nil {
					return r, err
				}
				r.d, err = parseDigest(hex)
				return r, err
			}, after, eachBlobPage)
		if err != nil {
			return fmt.Errorf("index: blobs: %w", err)
		}
		for _, r := range page {
			if err := fn(r.d, r.size); err != nil {
				return err
			}
		}
		if len(page) < eachBlobPage {
			return nil
		}
		after = page[len(page)-1].d.String()
	}
}

// RecordVerifications appends vs to the verification log in one
// transaction, against the index's current store. Entries are checked
// first (cas.Verification.Valid); a detail that is not UTF-8 is made so,
// and a long one is shortened.
func (ix *Index) RecordVerifications(ctx context.Context, vs []cas.Verification) error {
	if len(vs) == 0 {
		return nil
	}
	for _, v := range vs {
		if err := v.Valid(); err != nil {
			return fmt.Errorf("index: record verifications: %w", err)
		}
	}
	if err := ix.recordVerifications(ctx, vs); err != nil {
		return fmt.Errorf("index: record verifications: %w", ix.d.classify(err))
	}
	return nil
}

func (ix *Index) recordVerifications(ctx context.Context, vs []cas.Verification) error {
	return ix.write(ctx, func(tx *sql.Tx) error { return ix.recordVerificationsTx(ctx, tx, vs) })
}

func (ix *Index) recordVerificationsTx(ctx context.Context, tx *sql.Tx, vs []cas.Verification) error {
	if err := ix.stillBound(ctx, tx); err != nil {
		return err
	}
	var store int64
	if err := tx.QueryRowContext(ctx, `SELECT id FROM stores ORDER BY id DESC LIMIT 1`).Scan(&store); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return errors.New("the index records no store yet")
		}
		return err
	}
	for len(vs) > 0 {
		chunk := vs[:min(len(vs), chunkRows)]
		vs = vs[len(chunk):]
		args := make([]any, 0, 6*len(chunk))
		for _, v := range chunk {
			args = append(args, store, v.Digest.String(), string(v.Method), string(v.Outcome), cleanDetail(v.Detail), v.Time.UnixNano())
		}
		st, err := ix.st.inTx(ctx, tx, `INSERT INTO verifications (store, digest, method, outcome, detail, verified_ns) VALUES `+rowsOf(len(chunk), 6))
		if err != nil {
			return err
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

// cleanDetail makes a detail text storable on every engine.
func cleanDetail(s string) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
	if len(s) > maxDetail {
		s = strings.ToValidUTF8(s[:maxDetail], "")
	}
	return s
}

// lastQuery reads, for one blob in the current store, the newest OK check
// (of the method asked for) and the newest check that found a problem.
func lastQuery(deep bool) string {
	method := ""
	if deep {
		method = ` AND method = 'content'`
	}
	const cur = `digest = ? AND store = (SELECT MAX(id) FROM stores)`
	return `SELECT (SELECT MAX(verified_ns) FROM verifications WHERE ` + cur + ` AND outcome = 'ok'` + method + `),
		(SELECT MAX(verified_ns) FROM verifications WHERE ` + cur + ` AND outcome <> 'ok')`
}

// LastVerifiedOK returns when the blob was last found OK in the index's
// current store (with deep, by reading its content), or the zero time when
// never, or when a later check of any kind found a problem: a blob is
// vouched for only until something goes wrong with it.
func (ix *Index) LastVerifiedOK(ctx context.Context, d cas.Digest, deep bool) (time.Time, error) {
	var ok, bad sql.NullInt64
	st, err := ix.st.get(ctx, lastQuery(deep))
	if err == nil {
		err = st.QueryRowContext(ctx, d.String(), d.String()).Scan(&ok, &bad)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("index: last verification of %s: %w", d.Short(), ix.d.classify(err))
	}
	if !ok.Valid || bad.Valid && bad.Int64 >= ok.Int64 {
		return time.Time{}, nil
	}
	return fromNanos(ok.Int64), nil
}

// Verifications returns the blob's verification log, oldest first, for
// every store the index has belonged to.
func (ix *Index) Verifications(ctx context.Context, d cas.Digest) ([]cas.Verification, error) {
	out, err := collect(ctx, ix, `SELECT method, outcome, detail, verified_ns FROM verifications
		WHERE digest = ? ORDER BY verified_ns, id`, func(rows *sql.Rows) (v cas.Verification, err error) {
		var ns int64
		var method, outcome string
		err = rows.Scan(&method, &outcome, &v.Detail, &ns)
		v.Digest, v.Method, v.Outcome, v.Time = d, cas.Method(method), cas.Outcome(outcome), fromNanos(ns)
		return v, err
	}, d.String())
	if err != nil {
		return nil, fmt.Errorf("index: verifications of %s: %w", d.Short(), err)
	}
	return out, nil
}
