package cas

import "errors"

// Sentinel errors. Backends wrap them with %w at their boundary; callers test
// them with errors.Is. Messages follow "op: detail: cause".
var (
	// ErrNotFound: no blob is stored under the digest.
	ErrNotFound = errors.New("blob not found")
	// ErrHidden: the blob's data is retained (S3 versioning, Object Lock) but
	// a delete marker hides it from plain reads.
	ErrHidden = errors.New("blob hidden by a delete marker")
	// ErrCorrupt: bytes read back (or offered for storage) do not hash to
	// their digest, or their size is not the recorded one.
	ErrCorrupt = errors.New("blob content does not match its digest")
	// ErrConflict: an object already occupies the digest's key but is
	// detectably not the blob (other size or checksum). It is left untouched.
	ErrConflict = errors.New("another object occupies the blob's key")
	// ErrImmutable: the operation would modify or delete stored data, which
	// casstore never does.
	ErrImmutable = errors.New("the store is append-only: blobs are never modified or deleted")
	// ErrInvalidDigest: a string is not 64 lowercase hex characters.
	ErrInvalidDigest = errors.New("invalid digest")
	// ErrAccessDenied: the credential may not make this request.
	ErrAccessDenied = errors.New("access denied")
	// ErrUnavailable: the backend could not be reached.
	ErrUnavailable = errors.New("store unavailable")
	// ErrNoBucket: the configured bucket (or directory) does not exist.
	ErrNoBucket = errors.New("bucket does not exist")
	// ErrBadCredentials: the server does not accept the credential.
	ErrBadCredentials = errors.New("credentials rejected")
	// ErrNotSupported: the backend cannot do this (direct links on disk, say).
	ErrNotSupported = errors.New("not supported by this store")
	// ErrStoreMismatch: an index is opened against a store it does not
	// belong to.
	ErrStoreMismatch = errors.New("index belongs to another store")
)
