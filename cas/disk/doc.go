// Package disk is the local-directory blob backend, casstore's embedded
// default.
//
// Blobs are files laid out as Request Tracker's Disk storage lays them out:
// DIR/abc/def/<the remaining 58 hex characters of the digest>, so an RT
// attachments directory can be read and verified as it is. Unlike RT, a blob
// is written to a temporary file in its final directory, synced, made
// read-only and hard-linked into place: a crash leaves at worst a temporary
// file (named ".casstore-tmp-*", never a valid blob name), and an existing
// file is never replaced.
package disk
