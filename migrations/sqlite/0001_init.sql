-- 0001_init: the core schema of the transaction index.
--
-- Every table is append-only. Triggers refuse UPDATE and DELETE with a
-- message the index maps to cas.ErrImmutable. SQLite's REPLACE conflict
-- resolution deletes the colliding row without firing DELETE triggers, so
-- each table also has a BEFORE INSERT trigger that silently drops an insert
-- whose key already exists: INSERT OR REPLACE and plain INSERT of an existing
-- key do nothing, INSERT ... ON CONFLICT DO NOTHING behaves as usual. These
-- triggers stop mistakes, not a writer who drops them: whoever can write the
-- file can change it.
--
-- Times are nanoseconds since 1970 UTC.

CREATE TABLE schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_ns INTEGER NOT NULL
) STRICT;

-- The stores this index has belonged to; the newest row is the current one.
CREATE TABLE stores (
    id         INTEGER PRIMARY KEY,
    location   TEXT    NOT NULL CHECK (location <> ''),
    created_ns INTEGER NOT NULL
) STRICT;

-- Attachments refer to blobs by id, not digest: new rows then append to
-- attachments' indexes instead of landing at random places in them, and the
-- only index keyed by a (random) digest is this table's.
CREATE TABLE blobs (
    id         INTEGER PRIMARY KEY,
    digest     TEXT    NOT NULL UNIQUE
               CHECK (length(digest) = 64 AND digest NOT GLOB '*[^0-9a-f]*'),
    size       INTEGER NOT NULL CHECK (size >= 0),
    created_ns INTEGER NOT NULL
) STRICT;

-- name holds the exact bytes the application gave: any bytes at all.
CREATE TABLE attachments (
    id           INTEGER PRIMARY KEY,
    txn          TEXT    NOT NULL CHECK (txn <> ''),
    blob         INTEGER NOT NULL REFERENCES blobs (id),
    name         BLOB    NOT NULL,
    content_type TEXT    NOT NULL,
    created_ns   INTEGER NOT NULL,
    UNIQUE (txn, name, blob) -- also serves lookups by txn and by txn and name
) STRICT;

CREATE INDEX attachments_blob ON attachments (blob);

CREATE TRIGGER schema_migrations_no_update BEFORE UPDATE ON schema_migrations
BEGIN SELECT RAISE(ABORT, 'casstore index is append-only: UPDATE on schema_migrations refused'); END;
CREATE TRIGGER schema_migrations_no_delete BEFORE DELETE ON schema_migrations
BEGIN SELECT RAISE(ABORT, 'casstore index is append-only: DELETE on schema_migrations refused'); END;
CREATE TRIGGER schema_migrations_no_replace BEFORE INSERT ON schema_migrations
WHEN EXISTS (SELECT 1 FROM schema_migrations WHERE version = NEW.version)
BEGIN SELECT RAISE(IGNORE); END;

CREATE TRIGGER stores_no_update BEFORE UPDATE ON stores
BEGIN SELECT RAISE(ABORT, 'casstore index is append-only: UPDATE on stores refused'); END;
CREATE TRIGGER stores_no_delete BEFORE DELETE ON stores
BEGIN SELECT RAISE(ABORT, 'casstore index is append-only: DELETE on stores refused'); END;
CREATE TRIGGER stores_no_replace BEFORE INSERT ON stores
WHEN EXISTS (SELECT 1 FROM stores WHERE id = NEW.id)
BEGIN SELECT RAISE(IGNORE); END;

CREATE TRIGGER blobs_no_update BEFORE UPDATE ON blobs
BEGIN SELECT RAISE(ABORT, 'casstore index is append-only: UPDATE on blobs refused'); END;
CREATE TRIGGER blobs_no_delete BEFORE DELETE ON blobs
BEGIN SELECT RAISE(ABORT, 'casstore index is append-only: DELETE on blobs refused'); END;
CREATE TRIGGER blobs_no_replace BEFORE INSERT ON blobs
WHEN EXISTS (SELECT 1 FROM blobs WHERE digest = NEW.digest OR id = NEW.id)
BEGIN SELECT RAISE(IGNORE); END;

CREATE TRIGGER attachments_no_update BEFORE UPDATE ON attachments
BEGIN SELECT RAISE(ABORT, 'casstore index is append-only: UPDATE on attachments refused'); END;
CREATE TRIGGER attachments_no_delete BEFORE DELETE ON attachments
BEGIN SELECT RAISE(ABORT, 'casstore index is append-only: DELETE on attachments refused'); END;
CREATE TRIGGER attachments_no_replace BEFORE INSERT ON attachments
WHEN EXISTS (SELECT 1 FROM attachments
             WHERE id = NEW.id
                OR (txn = NEW.txn AND name = NEW.name AND blob = NEW.blob))
BEGIN SELECT RAISE(IGNORE); END;
