// Package doctor checks a configured store and says precisely what is wrong
// with it: each check is ok, a warning, a failure, or "not permitted" (the
// credential may not make that request, which under a least-privilege
// policy is expected, not a failure), with one line of advice.
//
// For S3 it checks: the endpoint answers (TLS or not), the credential is
// accepted, the bucket exists and is in the configured region, a write
// probe (the empty blob: content-addressed, harmless, permanent) and its
// read back, whether anonymous users can read objects, versioning and
// Object Lock, lifecycle rules that would expire blobs, default and upload
// encryption, and the clock against the server's. For a disk store: the
// directory, whether it is writable, free space, half-written temporary
// files left by a crash and stray files.
//
// Run gathers the facts through the backends (cas/s3, cas/disk) and judges
// them; Report prints them as text or JSON. Where each setting came from is
// shown too, never a secret's value.
package doctor
