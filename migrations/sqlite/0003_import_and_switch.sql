-- 0003_import_and_switch: bookkeeping for casctl import, and store switches.
--
-- imported_files remembers, per file an import recorded, the file's path,
-- size and modification time and the attachment it became. A rerun of an
-- import looks up the newest row for a path: the same size and time mean
-- the file is unchanged and is not read again. Rows are never updated: a
-- file that changed gets a new row, and the newest row wins. A file's row
-- is written in the same transaction as its attachment, after its blob is
-- stored, so a row always means "done".
--
-- Store switches need no table of their own: the stores table of 0001 is
-- the history, and a switch appends its row (the newest row is the current
-- store).
--
-- Portable on purpose (PostgreSQL follows with the same version): path is
-- the file name's exact bytes (BLOB here, BYTEA there), times are integer
-- nanoseconds since 1970 UTC, and writers use INSERT ... ON CONFLICT DO
-- NOTHING.

CREATE TABLE imported_files (
    id         INTEGER PRIMARY KEY,
    path       BLOB    NOT NULL CHECK (length(path) > 0),
    size       INTEGER NOT NULL CHECK (size >= 0),
    mtime_ns   INTEGER NOT NULL,
    attachment INTEGER NOT NULL REFERENCES attachments (id),
    created_ns INTEGER NOT NULL,
    -- A rerun that finds the same file again adds nothing; also serves the
    -- lookup of a path's newest row.
    UNIQUE (path, size, mtime_ns, attachment)
) STRICT;

CREATE TRIGGER imported_files_no_update BEFORE UPDATE ON imported_files
BEGIN SELECT RAISE(ABORT, 'casstore index is append-only: UPDATE on imported_files refused'); END;
CREATE TRIGGER imported_files_no_delete BEFORE DELETE ON imported_files
BEGIN SELECT RAISE(ABORT, 'casstore index is append-only: DELETE on imported_files refused'); END;
CREATE TRIGGER imported_files_no_replace BEFORE INSERT ON imported_files
WHEN EXISTS (SELECT 1 FROM imported_files
             WHERE id = NEW.id
                OR (path = NEW.path AND size = NEW.size AND mtime_ns = NEW.mtime_ns
                    AND attachment = NEW.attachment))
BEGIN SELECT RAISE(IGNORE); END;
