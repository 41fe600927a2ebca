// Command casctl puts, gets, verifies and links blobs in a casstore store:
// a local directory (the default) or an S3 bucket, with a transaction index
// beside it.
//
// Every command is one file with a small function that the tests call
// through run. Errors map to exit codes in one place (exit.go); see
// README.md for the table.
package main
