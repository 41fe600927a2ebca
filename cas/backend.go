package cas

import (
	"context"
	"io"
	"time"
)

// Backend keeps blobs under their digests. It has no delete and no
// overwrite: Put never replaces an existing object.
//
// Errors are wrapped sentinels of this package: a missing blob is
// ErrNotFound, a refused request ErrAccessDenied, an unreachable server
// ErrUnavailable, and so on.
type Backend interface {
	// Put stores src under src.Digest unless an object already exists there.
	// It returns stored=false when the key was already taken by the same
	// blob (nothing written), and ErrConflict when an object under the key
	// is detectably different (left untouched). Put is idempotent and safe
	// to retry. The backend makes the server check src.Digest (or the part
	// digests) where the protocol allows, and never leaves a partly written
	// object visible under the key.
	Put(ctx context.Context, src Source, opts PutOptions) (stored bool, err error)

	// Open returns length bytes of the blob's stored content from offset
	// (length < 0: to the end), unverified, and the blob's Info, whose Size
	// is the whole blob's, known even for a range. Callers
	// that want verification use Store.Open. A missing blob is ErrNotFound.
	Open(ctx context.Context, d Digest, offset, length int64) (io.ReadCloser, Info, error)

	// Stat returns the blob's metadata without its content; ErrNotFound if
	// absent.
	Stat(ctx context.Context, d Digest) (Info, error)

	// Walk calls fn once for every object under the store's root, in no
	// particular order, including names that are not blobs (Entry.Valid
	// false), which it reports and never touches. An error from fn stops
	// the walk and is returned.
	Walk(ctx context.Context, fn func(Entry) error) error

	// Location identifies where the blobs live, stable across runs:
	// "file:///abs/dir" or "s3://endpoint/bucket/prefix". An index records
	// it to refuse being used with another store.
	Location() string
}

// Parter is implemented by backends that upload large blobs in parts and
// have the server check each part's SHA-256. Store computes those digests in
// the same pass that computes the blob's digest, so that the bytes uploaded
// are proven to be the bytes hashed.
type Parter interface {
	// PartSize returns the part size for a blob of size bytes, or 0 when
	// the blob goes up in one request.
	PartSize(size int64) int64
}

// Source is a blob about to be stored: random access to its bytes, already
// hashed by the Store.
type Source struct {
	R        io.ReaderAt
	Size     int64
	Digest   Digest
	PartSize int64    // as returned by Parter.PartSize; 0 when unparted
	Parts    []Digest // SHA-256 of each PartSize-long part (the last may be shorter)
}

// PutOptions carry what is stored with a new blob.
type PutOptions struct {
	// ContentType is stored as the object's Content-Type on first store,
	// as Request Tracker does. Empty means application/octet-stream.
	ContentType string
	// Progress, when set, is called with the number of bytes each step
	// has read: the hashing pass and, when something is uploaded, the
	// upload. It must be cheap and safe for concurrent use.
	Progress func(n int64)
	// CheckStore asks the backend even when the attached index knows the
	// blob: the way to restore a blob that was lost from the store (verify
	// reports it missing) by putting its bytes again.
	CheckStore bool
}

// Info describes a stored blob.
type Info struct {
	Size        int64
	ContentType string    // empty where the backend keeps none
	Checksum    Digest    // stored SHA-256 checksum; zero where none is kept
	ModTime     time.Time // when it was stored, where known
}

// Entry is one object found by Backend.Walk.
type Entry struct {
	Name   string // the name under the store root, as the backend sees it
	Digest Digest // valid only when Valid
	Valid  bool   // Name is a well-formed blob name
	// Leftover marks the backend's own temporary file of a put that was
	// interrupted (a crash): not a blob, not a stranger's file either.
	Leftover bool
	Size     int64
}
