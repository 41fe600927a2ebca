package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/casstore/casstore/cas"
)

// ImportedFile is a file an import recorded: where it was, its size and
// modification time when it was read, and the attachment it became.
type ImportedFile struct {
	Path       string // the file's absolute path, any bytes
	Size       int64
	ModTime    time.Time
	Attachment cas.Attachment
	Created    time.Time // when the row was recorded
}

const selectImportedFiles = `SELECT f.path, f.size, f.mtime_ns, f.created_ns,
	a.id, a.txn, b.digest, a.name, a.content_type, b.size, a.created_ns
	FROM imported_files f JOIN attachments a ON a.id = f.attachment JOIN blobs b ON b.id = a.blob `

// scanImportedFile reads one row of selectImportedFiles.
func scanImportedFile(row interface{ Scan(...any) error }) (ImportedFile, error) {
	var f ImportedFile
	var path, name []byte
	var digest string
	var mtime, created, attCreated int64
	a := &f.Attachment
	err := row.Scan(&path, &f.Size, &mtime, &created, &a.ID, &a.Txn, &digest, &name, &a.ContentType, &a.Size, &attCreated)
	if err != nil {
		return ImportedFile{}, err
	}
	if a.Digest, err = parseDigest(digest); err != nil {
		return ImportedFile{}, err
	}
	f.Path, f.ModTime, f.Created = string(path), fromNanos(mtime), fromNanos(created)
	a.Name, a.Created = string(name), fromNanos(attCreated)
	return f, nil
}

// AnyImportedFile reports whether any import has recorded a file: an
// import into an index that has none need not look its files up.
func (ix *Index) AnyImportedFile(ctx context.Context) (bool, error) {
	var any bool
	if err := ix.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM imported_files)`).Scan(&any); err != nil {
		return false, fmt.Errorf("index: imported files: %w", ix.d.classify(err))
	}
	return any, nil
}

// ImportedFile returns the newest record of the file at path, ok false when
// no import recorded it.
func (ix *Index) ImportedFile(ctx context.Context, path string) (ImportedFile, bool, error) {
	st, err := ix.st.get(ctx, selectImportedFiles+`WHERE f.path = ? ORDER BY f.id DESC LIMIT 1`)
	if err != nil {
		return ImportedFile{}, false, fmt.Errorf("index: imported file: %w", ix.d.classify(err))
	}
	f, err := scanImportedFile(st.QueryRowContext(ctx, nameBytes(path)))
	switch {
	case err == nil:
		return f, true, nil
	case errors.Is(err, sql.ErrNoRows):
		return ImportedFile{}, false, nil
	default:
		return ImportedFile{}, false, fmt.Errorf("index: imported file %q: %w", cas.SafeName(path), ix.d.classify(err))
	}
}

// RecordImports records the files' attachments (as Record does) and the
// files themselves, all in one transaction: after a crash either a file and
// its attachment are both recorded or neither is. A file recorded before
// with the same size, time and attachment adds no row. The blobs must be
// stored already. It returns the files as recorded, in order.
func (ix *Index) RecordImports(ctx context.Context, files []ImportedFile) ([]ImportedFile, error) {
	if len(files) == 0 {
		return nil, nil
	}
	atts := make([]cas.Attachment, len(files))
	for i, f := range files {
		if f.Path == "" {
			return nil, fmt.Errorf("index: record imports: file %d of %d: empty path: %w", i+1, len(files), ErrInvalid)
		}
		if err := checkAttachment(f.Attachment); err != nil {
			return nil, fmt.Errorf("index: record imports: %q: %w", cas.SafeName(f.Path), err)
		}
		atts[i] = f.Attachment
	}
	out := make([]ImportedFile, len(files))
	_, err := ix.record(ctx, atts, func(ctx context.Context, tx *sql.Tx, recorded []cas.Attachment, ns int64) error {
		for i := range files {
			out[i] = files[i]
			out[i].Attachment, out[i].Created = recorded[i], fromNanos(ns)
		}
		for rest := out; len(rest) > 0; {
			chunk := rest[:min(len(rest), chunkRows)]
			rest = rest[len(chunk):]
			args := make([]any, 0, 5*len(chunk))
			for _, f := range chunk {
				args = append(args, nameBytes(f.Path), f.Size, f.ModTime.UnixNano(), f.Attachment.ID, ns)
			}
			st, err := ix.st.inTx(ctx, tx, `INSERT INTO imported_files (path, size, mtime_ns, attachment, created_ns) VALUES `+
				rowsOf(len(chunk), 5)+` ON CONFLICT (path, size, mtime_ns, attachment) DO NOTHING`)
			if err != nil {
				return err
			}
			if _, err := st.ExecContext(ctx, args...); err != nil {
				return fmt.Errorf("imported files: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("index: record imports: %w", ix.d.classify(err))
	}
	return out, nil
}

// ImportedFiles calls fn for the newest record of every imported path, in
// path order. An error from fn stops the walk and is returned as it is.
func (ix *Index) ImportedFiles(ctx context.Context, fn func(ImportedFile) error) error {
	rows, err := ix.db.QueryContext(ctx, ix.d.rebind(selectImportedFiles+
		`WHERE f.id = (SELECT max(g.id) FROM imported_files g WHERE g.path = f.path) ORDER BY f.path`))
	if err != nil {
		return fmt.Errorf("index: imported files: %w", ix.d.classify(err))
	}
	defer rows.Close()
	for rows.Next() {
		f, err := scanImportedFile(rows)
		if err != nil {
			return fmt.Errorf("index: imported files: %w", err)
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("index: imported files: %w", ix.d.classify(err))
	}
	return nil
}
