// Package importer brings an existing collection of files into a store and
// its transaction index: a directory tree whose path gives each file's
// transaction ([Tree]), or a manifest an application exported, CSV or JSON
// Lines ([ParseManifest]).
//
// [Run] hashes and stores the files with a pool of workers and records them
// in the index in batches, one database transaction per batch, each file's
// attachment together with a row that remembers the file's path, size and
// modification time. Every blob is stored before its rows are written, so an
// import killed at any point leaves at worst stored blobs without rows: run
// again, it finds them stored (nothing is uploaded twice) and records them
// once. A file whose path, size and modification time are recorded already
// is not read again, so a rerun of a finished import only lists and stats.
//
// A file that cannot be read, is not a regular file, vanishes, or changes
// while it is read is reported with its path ([Problem]) and the others go
// on. What stops a run is what would fail every file: the store or the index
// unreachable, refused credentials, a cancelled context.
package importer
