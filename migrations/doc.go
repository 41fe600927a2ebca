// Package migrations holds the schema of the transaction index as numbered
// SQL files, one directory per database engine (sqlite/, later postgres/),
// embedded in [FS] for the index package, which applies them.
//
// Rules for these files:
//
//   - A file is named NNNN_name.sql; NNNN is the schema version it brings
//     the index to. Versions are shared across engines: version 2 means the
//     same schema on SQLite and on PostgreSQL. 0001 is the core schema, 0002
//     is reserved for the verification log, 0003 for import bookkeeping and
//     store switches.
//   - A released file is never edited: indexes in the field have run it.
//     Change the schema with a new file.
//   - Each file runs in one transaction and must not contain BEGIN or
//     COMMIT. The index records it in schema_migrations in the same
//     transaction.
//   - Every table is append-only: give each new table triggers that refuse
//     UPDATE and DELETE with the message "casstore index is append-only:
//     UPDATE on <table> refused" (the index maps that text to
//     cas.ErrImmutable), and on SQLite a trigger that ignores an INSERT
//     colliding with an existing key, so INSERT OR REPLACE cannot delete a
//     row behind the DELETE trigger's back.
//   - Times are integers: nanoseconds since 1970 UTC (INTEGER on SQLite,
//     BIGINT on PostgreSQL), named *_ns.
package migrations
