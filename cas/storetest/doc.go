// Package storetest is the conformance suite every cas.Backend passes: put,
// dedup, get, stat, ranges, not found, wrong hash, overwrite refused, the
// empty blob, a large blob, concurrency and walking. Backend packages call
// Run from their tests with a constructor that returns a fresh, empty store.
package storetest
