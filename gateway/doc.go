// Package gateway is the HTTP face of a casstore store: an http.Handler that
// serves verified blobs, checks signed links and accepts authenticated
// uploads, so that applications in any language, and browsers, use the store
// without importing Go code. `casctl serve` only wires it; a Go application
// can mount it in its own server.
//
// Routes:
//
//	GET|HEAD /blobs/{digest}          a blob by digest (immutable caching)
//	GET|HEAD /txn/{T}/{name}          a transaction's newest attachment called name
//	POST     /blobs                   upload a blob (bearer token)
//	POST     /txn/{T}?name=NAME       upload an attachment of T (bearer token)
//	GET      /healthz                 store and index reachable
//	GET      /metrics                 Prometheus metrics
//
// T and name are path-escaped (url.PathEscape); %2F inside them is part of
// the value, and the name is matched byte for byte. PUT, PATCH and DELETE
// answer 405: the store is append-only.
//
// Reads need a signed link (see Signer) unless the gateway is public: an
// HMAC-SHA256 over the method, the canonical path and every query parameter
// (expiry, key id, name, type, inline). Any failure gives the same 403.
//
// What a response promises: a full-body 200 is hashed as it streams and the
// last bytes are held back until the digest matched, so on a mismatch the
// connection is cut short of Content-Length and no client receives a
// complete wrong body. A 206 range is served only from a blob that hashed
// whole to its digest since the backend last reported a change of its size
// or modification time (the first range of a blob hashes it whole before
// answering); the range bytes themselves are not hashed again. A corrupt
// blob is answered 500 for ranges and cut for full bodies, logged and
// counted (casstore_gateway_verification_failures_total). In redirect mode
// (S3) the bytes come from the bucket, which checked the SHA-256 on upload.
//
// On a disk store, recently served blob files stay open (at most 4096, and
// no more than a quarter of the process's file limit) and their paths are
// looked at again after a second: every byte served is still read from the
// file and hashed, only the open and close are saved.
package gateway
