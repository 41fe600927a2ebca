// Package cas is the domain of casstore: a content-addressed, append-only
// blob store.
//
// A blob is named by the SHA-256 of its bytes (a [Digest]). It is stored once,
// never modified and never deleted: no API here can do either. A [Store] hashes
// what it is given, hands the bytes to a [Backend] (a local directory, an S3
// bucket) and verifies every byte it reads back, so corruption surfaces as
// [ErrCorrupt] instead of wrong data.
//
// Backends live in sub-packages named after what they talk to (cas/disk,
// cas/s3) and map their own errors onto this package's sentinel errors at
// their boundary, so callers test failures with errors.Is. The transaction
// index is seen through the small [Index] interface; its SQL lives in the
// index package, which imports this one, never the other way round.
package cas
