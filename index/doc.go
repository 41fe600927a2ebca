// Package index is casstore's transaction index: which transactions of an
// application have which blobs as attachments, under which names, and which
// store holds those blobs. It implements cas.Index, through which cas.Store
// records an attachment after its blob is stored.
//
// The index is append-only like the store: rows are only ever inserted, and
// triggers in the schema refuse UPDATE and DELETE from any client, the
// sqlite3 shell included (errors.Is(err, cas.ErrImmutable) from Go).
//
// An index belongs to one store: [Open] records the store's location in a
// new index and refuses another store afterwards (cas.ErrStoreMismatch).
//
// There is one implementation over database/sql; what differs between
// engines is a small dialect (driver, placeholders, migration lock, settings
// checks, error classification), and each engine has its own migrations in
// package migrations, applied in order when the index is opened. SQLite is
// the embedded default: one file in WAL mode, shared safely by the
// processes of one machine. PostgreSQL (a postgres:// location; see
// postgres.go) serves many application servers sharing one index; both
// engines pass the suite in index/indextest.
//
// Errors wrap the cas sentinels (cas.ErrNotFound, cas.ErrEmptyTxn,
// cas.ErrImmutable, cas.ErrConflict, cas.ErrStoreMismatch) or this
// package's (ErrUnknownTxn, ErrNoAttachment, ErrSchemaTooNew, ErrInvalid,
// ErrReadOnly); test them with errors.Is.
package index
