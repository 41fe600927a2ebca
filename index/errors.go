package index

import (
	"errors"
	"strings"

	"github.com/casstore/casstore/cas"
)

var (
	// ErrUnknownTxn: no attachment has this transaction id. It wraps
	// cas.ErrNotFound. A transaction exists only through its attachments,
	// so a known transaction never has an empty list.
	ErrUnknownTxn error = &notFound{"unknown transaction"}
	// ErrNoAttachment: the transaction has no attachment of that name. It
	// wraps cas.ErrNotFound.
	ErrNoAttachment error = &notFound{"no such attachment"}
	// ErrSchemaTooNew: the index was written by a newer casstore; this one
	// refuses to touch it.
	ErrSchemaTooNew = errors.New("index schema is newer than this casstore knows")
	// ErrNotIndex: the database holds tables but no casstore schema: it
	// belongs to something else and is left alone.
	ErrNotIndex = errors.New("not a casstore index: the database has tables but no schema_migrations")
	// ErrReadOnly: a write was attempted on an index opened read-only.
	ErrReadOnly = errors.New("index opened read-only")
)

// notFound is a sentinel that is also cas.ErrNotFound.
type notFound struct{ msg string }

func (e *notFound) Error() string { return e.msg }
func (e *notFound) Unwrap() error { return cas.ErrNotFound }

// appendOnlyMarker starts the message of every trigger that refuses an
// UPDATE or DELETE, on every engine.
const appendOnlyMarker = "casstore index is append-only"

// classified is an engine error that is also a cas or index sentinel. Its
// message is the engine's.
type classified struct {
	err      error
	sentinel error
}

func (e *classified) Error() string   { return e.err.Error() }
func (e *classified) Unwrap() []error { return []error{e.sentinel, e.err} }

// classifyCommon maps what every engine reports alike.
func classifyCommon(err error) error {
	if strings.Contains(err.Error(), appendOnlyMarker) {
		return &classified{err, cas.ErrImmutable}
	}
	return err
}
