// Package progress draws a one-line progress bar (items, bytes, rate, ETA)
// on a terminal, and nothing at all when the output is not one, so scripts
// and logs stay clean.
package progress
