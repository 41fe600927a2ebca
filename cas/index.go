package cas

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// Attachment is one file of one transaction: the application's transaction
// id, the blob holding the bytes, and what the application called it.
type Attachment struct {
	ID          int64     `json:"id"`
	Txn         string    `json:"txn"`
	Digest      Digest    `json:"digest"`
	Name        string    `json:"name"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	Created     time.Time `json:"created"`
}

// ErrEmptyTxn: an attachment needs a transaction id.
var ErrEmptyTxn = errors.New("transaction id is empty")

// ErrInvalidLabel: a transaction id or content type that is not valid UTF-8
// or holds a NUL byte (names may hold any bytes).
var ErrInvalidLabel = errors.New("transaction id and content type must be UTF-8 without NUL")

// CheckLabels checks what the application labels an attachment with (its
// transaction id and content type): ErrEmptyTxn or ErrInvalidLabel. Call
// it before anything is stored.
func (a Attachment) CheckLabels() error {
	if a.Txn == "" {
		return ErrEmptyTxn
	}
	for _, v := range []string{a.Txn, a.ContentType} {
		if !utf8.ValidString(v) || strings.IndexByte(v, 0) >= 0 {
			return fmt.Errorf("%q: %w", v, ErrInvalidLabel)
		}
	}
	return nil
}

// Validate checks what an index needs of an attachment before recording it.
func (a Attachment) Validate() error {
	if err := a.CheckLabels(); err != nil {
		return err
	}
	if a.Digest.IsZero() {
		return fmt.Errorf("attachment %q: %w: zero digest", a.Name, ErrInvalidDigest)
	}
	if a.Size < 0 {
		return fmt.Errorf("attachment %q: negative size %d", a.Name, a.Size)
	}
	return nil
}

// Index is the transaction index as the store needs it. The index package
// implements it (SQLite, PostgreSQL) along with much more; cas sees only
// this, and no SQL.
type Index interface {
	// LookupBlob reports whether a blob with digest d is recorded, and its
	// size.
	LookupBlob(ctx context.Context, d Digest) (size int64, ok bool, err error)
	// Record appends attachments in one transaction, with their blobs: the
	// whole batch is recorded or nothing is. An attachment equal to one
	// already recorded (same transaction, digest and name) is not added
	// again: retries are harmless. A blob whose size differs from the one
	// recorded is ErrConflict. It returns every attachment as recorded (ID
	// and Created filled in), in order.
	Record(ctx context.Context, atts []Attachment) ([]Attachment, error)
}

// Attach stores r as a blob and then records it as an attachment of a.Txn
// (a.Digest and a.Size are filled in from the content). The blob is stored
// first: a failure between the two leaves an orphan blob, never a row that
// points at nothing.
// opts.ContentType defaults to a.ContentType.
func (s *Store) Attach(ctx context.Context, r io.Reader, a Attachment, opts PutOptions) (Attachment, PutResult, error) {
	if s.index == nil {
		return Attachment{}, PutResult{}, errors.New("attach: no index configured")
	}
	if err := a.CheckLabels(); err != nil {
		return Attachment{}, PutResult{}, fmt.Errorf("attach: %w", err)
	}
	if opts.ContentType == "" {
		opts.ContentType = a.ContentType
	}
	res, err := s.Put(ctx, r, opts)
	if err != nil {
		return Attachment{}, PutResult{}, err
	}
	a.Digest, a.Size = res.Digest, res.Size
	rec, err := s.index.Record(ctx, []Attachment{a})
	if err != nil {
		return Attachment{}, res, fmt.Errorf("attach %s to %q: %w", res.Digest.Short(), a.Txn, err)
	}
	return rec[0], res, nil
}

// SafeName renders an untrusted name (a file name, a transaction id) for a
// terminal: invalid UTF-8 and control characters, newlines included, are
// shown as Go escapes, so a name can never forge output lines.
func SafeName(s string) string {
	clean := utf8.ValidString(s)
	if clean {
		for _, r := range s {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				clean = false
				break
			}
		}
	}
	if clean {
		return s
	}
	q := fmt.Sprintf("%q", s)
	return strings.TrimSuffix(strings.TrimPrefix(q, `"`), `"`)
}

// attachmentJSON is Attachment's wire form. JSON strings cannot carry
// invalid UTF-8, so a name that is not valid UTF-8 also travels exactly as
// name_base64, which wins when decoding.
type attachmentJSON struct {
	ID          int64     `json:"id"`
	Txn         string    `json:"txn"`
	Digest      Digest    `json:"digest"`
	Name        string    `json:"name"`
	NameBase64  []byte    `json:"name_base64,omitempty"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	Created     time.Time `json:"created"`
}

// MarshalJSON writes the attachment with its exact name (see attachmentJSON).
func (a Attachment) MarshalJSON() ([]byte, error) {
	j := attachmentJSON{ID: a.ID, Txn: a.Txn, Digest: a.Digest, Name: a.Name,
		ContentType: a.ContentType, Size: a.Size, Created: a.Created}
	if !utf8.ValidString(a.Name) {
		j.NameBase64 = []byte(a.Name)
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (a *Attachment) UnmarshalJSON(b []byte) error {
	var j attachmentJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*a = Attachment{ID: j.ID, Txn: j.Txn, Digest: j.Digest, Name: j.Name, ContentType: j.ContentType, Size: j.Size, Created: j.Created}
	if j.NameBase64 != nil {
		a.Name = string(j.NameBase64)
	}
	return nil
}
