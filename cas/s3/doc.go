// Package s3 is the cas.Backend for Amazon S3 and S3-compatible servers
// (MinIO, and others), built on minio-go.
//
// A blob lives under the key Prefix + lowercase hex digest, the layout Request
// Tracker's AmazonS3 storage uses when the prefix is empty. Writes are
// conditional (If-None-Match: *), so an existing object is never replaced:
// "412 Precondition Failed" means the key is taken, which for a
// content-addressed key means the blob is already stored. Where the credential
// may read, the existing object's size and stored SHA-256 checksum are
// compared with the blob, and an object squatting the key with other bytes is
// reported as cas.ErrConflict.
//
// The server checks every byte it is sent against the digests the Store
// computed while hashing: a single PUT is signed with the blob's SHA-256 and
// carries it as x-amz-checksum-sha256 (which the server also keeps, for quick
// verification); a multipart upload signs each part with that part's SHA-256.
// The body is therefore not hashed a second time on its way out, and a body
// damaged in transit is refused (cas.ErrCorrupt).
//
// Errors from minio-go are mapped onto the cas sentinels at this package's
// boundary, in one function. No error message or String method ever contains
// the secret key or session token.
package s3
