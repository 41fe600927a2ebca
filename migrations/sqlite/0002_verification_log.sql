-- 0002_verification_log: what casctl verify found, blob by blob.
--
-- One row per check of one blob: when, how thoroughly (method), and the
-- outcome. Rows are only ever appended, like everything else in the index:
-- the log is a history, and "verified OK since" is read from it. The store
-- is the one the index belonged to when the check was made (the newest row
-- of stores then), so a check of an earlier store never vouches for the
-- current one.
--
-- digest is text rather than a reference to blobs: verify --scan also
-- checks blobs the index does not know (orphans), and their outcomes are
-- worth keeping too.
--
-- Portable to PostgreSQL as it is, but for STRICT, the GLOB check
-- (digest ~ '^[0-9a-f]{64}$' there) and trigger syntax.

CREATE TABLE verifications (
    id          INTEGER PRIMARY KEY,
    store       INTEGER NOT NULL REFERENCES stores (id),
    digest      TEXT    NOT NULL
                CHECK (length(digest) = 64 AND digest NOT GLOB '*[^0-9a-f]*'),
    method      TEXT    NOT NULL CHECK (method IN ('content', 'checksum', 'size', 'exists')),
    outcome     TEXT    NOT NULL
                CHECK (outcome IN ('ok', 'missing', 'hidden', 'corrupt', 'size_mismatch')),
    detail      TEXT    NOT NULL,
    verified_ns INTEGER NOT NULL
) STRICT;

-- Serves "last OK check of this blob" and a blob's history.
CREATE INDEX verifications_digest ON verifications (digest, verified_ns);

CREATE TRIGGER verifications_no_update BEFORE UPDATE ON verifications
BEGIN SELECT RAISE(ABORT, 'casstore index is append-only: UPDATE on verifications refused'); END;
CREATE TRIGGER verifications_no_delete BEFORE DELETE ON verifications
BEGIN SELECT RAISE(ABORT, 'casstore index is append-only: DELETE on verifications refused'); END;
CREATE TRIGGER verifications_no_replace BEFORE INSERT ON verifications
WHEN EXISTS (SELECT 1 FROM verifications WHERE id = NEW.id)
BEGIN SELECT RAISE(IGNORE); END;
