package main

import (
	"context"
	"errors"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/index"
)

// Exit codes. README.md documents the same table; keep them in step.
const (
	exitOK          = 0   // success
	exitFailure     = 1   // any other error
	exitUsage       = 2   // bad arguments or configuration: invalid digest, unknown flag, missing bucket, index bound to another store, not supported by the store (direct links on disk)
	exitNotFound    = 3   // no such blob, transaction or attachment
	exitCorrupt     = 4   // content does not match its digest, or another object occupies its key
	exitProblems    = 5   // the command finished but found problems (verify, doctor: a check failed) or some items failed (put, import, copy)
	exitUnavailable = 6   // the store or the index cannot be reached
	exitDenied      = 7   // the credential is rejected or lacks a permission
	exitRefused     = 8   // the request would modify or delete stored data: the store is append-only
	exitInterrupted = 130 // interrupted by a signal
)

// usageError marks errors in what the user typed.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// problemsError marks a command that finished but found problems.
type problemsError struct{ error }

func (e problemsError) Unwrap() error { return e.error }

// exitCode is the one place that maps errors to exit codes.
func exitCode(err error) int {
	var ue usageError
	var pe problemsError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.As(err, &pe):
		return exitProblems
	case errors.As(err, &ue), errors.Is(err, cas.ErrInvalidDigest), errors.Is(err, cas.ErrNoBucket),
		errors.Is(err, cas.ErrStoreMismatch), errors.Is(err, cas.ErrEmptyTxn), errors.Is(err, cas.ErrInvalidLabel), errors.Is(err, index.ErrInvalid), errors.Is(err, cas.ErrNotSupported):
		return exitUsage
	case errors.Is(err, cas.ErrImmutable):
		return exitRefused
	case errors.Is(err, cas.ErrCorrupt), errors.Is(err, cas.ErrConflict):
		return exitCorrupt
	case errors.Is(err, cas.ErrNotFound), errors.Is(err, cas.ErrHidden):
		return exitNotFound
	case errors.Is(err, cas.ErrUnavailable):
		return exitUnavailable
	case errors.Is(err, cas.ErrAccessDenied), errors.Is(err, cas.ErrBadCredentials):
		return exitDenied
	}
	return exitFailure
}
