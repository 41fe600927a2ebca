package cas

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Outcome is what checking one blob found.
type Outcome string

// Outcomes of a check. Everything but OutcomeOK is a problem.
const (
	OutcomeOK           Outcome = "ok"
	OutcomeMissing      Outcome = "missing"       // no object under the key
	OutcomeHidden       Outcome = "hidden"        // a delete marker hides it; the data is still retained
	OutcomeCorrupt      Outcome = "corrupt"       // the content (or stored checksum) is not the digest's
	OutcomeSizeMismatch Outcome = "size_mismatch" // the stored size is not the indexed one
)

// Method is how thoroughly a blob was checked.
type Method string

// Methods, most thorough first.
const (
	// MethodContent: every byte read back and hashed (deep).
	MethodContent Method = "content"
	// MethodChecksum: the store's own SHA-256 checksum compared, and the
	// size (quick, on S3 objects stored with a full-object checksum).
	MethodChecksum Method = "checksum"
	// MethodSize: only the size could be compared (quick, where the store
	// keeps no whole-object checksum: disk, S3 multipart objects).
	MethodSize Method = "size"
	// MethodExists: only existence was checked (quick, a blob of unknown
	// size with no stored checksum: --scan without an index).
	MethodExists Method = "exists"
)

// Verification is one entry of the verification log: a blob checked at a
// time, how, and what was found.
type Verification struct {
	Digest  Digest    `json:"digest"`
	Time    time.Time `json:"time"`
	Method  Method    `json:"method"`
	Outcome Outcome   `json:"outcome"`
	Detail  string    `json:"detail,omitempty"`
}

// Valid reports whether v can be recorded.
func (v Verification) Valid() error {
	if v.Digest.IsZero() {
		return fmt.Errorf("verification: zero digest: %w", ErrInvalidDigest)
	}
	switch v.Method {
	case MethodContent, MethodChecksum, MethodSize, MethodExists:
	default:
		return fmt.Errorf("verification of %s: unknown method %q", v.Digest.Short(), v.Method)
	}
	switch v.Outcome {
	case OutcomeOK, OutcomeMissing, OutcomeHidden, OutcomeCorrupt, OutcomeSizeMismatch:
	default:
		return fmt.Errorf("verification of %s: unknown outcome %q", v.Digest.Short(), v.Outcome)
	}
	if v.Time.IsZero() {
		return fmt.Errorf("verification of %s: no time", v.Digest.Short())
	}
	return nil
}

// VerifyIndex is what the verifier needs of a transaction index; the index
// package implements it. Methods are safe for concurrent use and may be
// called from within EachBlob's fn.
type VerifyIndex interface {
	// EachBlob calls fn for every recorded blob with its size, in digest
	// order. It need not read one snapshot: blobs recorded meanwhile may or
	// may not be seen. An error from fn stops it and is returned.
	EachBlob(ctx context.Context, fn func(d Digest, size int64) error) error
	// LookupBlob reports whether the blob is recorded, and its size.
	LookupBlob(ctx context.Context, d Digest) (size int64, ok bool, err error)
	// AttachmentsOf returns the attachments that use the blob (an unknown
	// blob is ErrNotFound).
	AttachmentsOf(ctx context.Context, d Digest) ([]Attachment, error)
	// RecordVerifications appends entries to the verification log, all or
	// none.
	RecordVerifications(ctx context.Context, vs []Verification) error
	// LastVerifiedOK returns when the blob was last found OK in the
	// index's current store (by MethodContent only, when deep), or the zero
	// time.
	LastVerifiedOK(ctx context.Context, d Digest, deep bool) (time.Time, error)
}

// VerifyProgress receives the verifier's progress; *progress.Bar fits.
// Calls come from several goroutines.
type VerifyProgress interface {
	SetTotal(items, bytes int64) // may be called again as the plan changes
	AddBytes(n int64)
	AddItem()
}

// VerifyOptions select what Verify checks and how.
type VerifyOptions struct {
	// Quick checks metadata only (Backend.Stat): existence, size, and the
	// stored SHA-256 checksum where the backend keeps one. Otherwise every
	// blob is read back and hashed.
	Quick bool
	// Scan walks the store (Backend.Walk) rather than the index: every
	// blob the store holds is checked, indexed or not; names that are not
	// blobs are reported as strays (or, for our temporary files,
	// leftovers) and never touched. Works with a nil index.
	Scan bool
	// Orphans also lists blobs the store holds that the index does not
	// know (a walk of the store). Needs an index.
	Orphans bool
	// Digests, when set, restricts the check to these blobs.
	Digests []Digest
	// Since skips blobs the log says were verified OK (deeply, for a deep
	// run) less than Since ago. Needs an index.
	Since time.Duration
	// Jobs is how many blobs are checked at once (default 4).
	Jobs int
	// Record appends every outcome to the index's verification log, in
	// small batches as the run goes, so an interrupted run keeps what it
	// found.
	Record bool
	// Progress, when set, is told of totals, bytes read and blobs done.
	Progress VerifyProgress
	// Now returns the current time (default time.Now).
	Now func() time.Time
}

// VerifyResult is the check of one blob.
type VerifyResult struct {
	Digest  Digest  `json:"digest"`
	Outcome Outcome `json:"outcome"`
	Method  Method  `json:"method"`
	// Size is the indexed size, -1 when the index does not know the blob.
	Size int64 `json:"size"`
	// StoredSize is the size the store reports, -1 when it has none.
	StoredSize int64 `json:"stored_size"`
	// BytesRead is how much content was read back.
	BytesRead int64  `json:"bytes_read"`
	Detail    string `json:"detail,omitempty"`
	// Txns are the transactions that reference the blob (problems only).
	Txns []string `json:"txns,omitempty"`

	err error // operational failure: no outcome
}

// VerifyError is a blob that could not be checked (an operational error,
// not a finding).
type VerifyError struct {
	Digest Digest `json:"digest"`
	Error  string `json:"error"`
}

// Orphan is a blob the store holds that no index row references.
type Orphan struct {
	Digest Digest `json:"digest"`
	Name   string `json:"name"` // as the store names it
	Size   int64  `json:"size"`
}

// VerifyReport sums up a run. Lists hold problems only.
type VerifyReport struct {
	Mode     string    `json:"mode"` // "deep" or "quick"
	Scan     bool      `json:"scan"`
	Store    string    `json:"store"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`

	Checked      int64 `json:"checked"`
	OK           int64 `json:"ok"`
	Missing      int64 `json:"missing"`
	Corrupt      int64 `json:"corrupt"`
	SizeMismatch int64 `json:"size_mismatch"`
	Hidden       int64 `json:"hidden"`
	// SizeOnly counts quick checks that could compare only the size (or
	// existence): the store keeps no whole-object checksum for them.
	SizeOnly  int64 `json:"size_only"`
	Skipped   int64 `json:"skipped"` // verified OK within --since
	Errors    int64 `json:"errors"`
	Recorded  int64 `json:"recorded"` // entries appended to the log
	BytesRead int64 `json:"bytes_read"`
	// Throughput is BytesRead per second of the run.
	Throughput float64 `json:"throughput_bytes_per_s"`

	Problems     []VerifyResult `json:"problems"`
	ErrorList    []VerifyError  `json:"error_list"`
	OrphanList   []Orphan       `json:"orphans"`
	StrayList    []string       `json:"strays"`
	LeftoverList []string       `json:"leftovers"`
	Interrupted  bool           `json:"interrupted"`
}

// Orphans, Strays and Leftovers count the lists.
func (r *VerifyReport) Orphans() int   { return len(r.OrphanList) }
func (r *VerifyReport) Strays() int    { return len(r.StrayList) }
func (r *VerifyReport) Leftovers() int { return len(r.LeftoverList) }

// ProblemCount is the number of blobs found missing, hidden, corrupt or of
// the wrong size.
func (r *VerifyReport) ProblemCount() int64 {
	return r.Missing + r.Hidden + r.Corrupt + r.SizeMismatch
}

// recordBatch is how many outcomes are appended to the log at once, and
// recordEvery how long an outcome may wait: small, so an interrupted run
// loses little.
const (
	recordBatch = 256
	recordEvery = 2 * time.Second
)

// verifyItem is one blob to check.
type verifyItem struct {
	d    Digest
	size int64 // indexed size; -1 when unknown
	plan int64 // bytes it adds to the progress total
}

// Verify checks the store's blobs as opts say and returns what it found.
// ix may be nil with Scan. Problems are findings, not errors: the error is
// for what stopped the run (the context, an unreachable store, a failing
// index); the report is returned with it, complete up to that point.
func (s *Store) Verify(ctx context.Context, ix VerifyIndex, opts VerifyOptions) (*VerifyReport, error) {
	if ix == nil && (!opts.Scan || opts.Orphans || opts.Since > 0 || opts.Record) {
		return nil, errors.New("verify: needs an index (only --scan works without one)")
	}
	if opts.Scan && len(opts.Digests) > 0 {
		return nil, errors.New("verify: --scan checks the whole store, not chosen blobs")
	}
	if opts.Jobs <= 0 {
		opts.Jobs = 4
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	v := &verifier{s: s, ix: ix, o: opts, rep: &VerifyReport{
		Mode: "deep", Scan: opts.Scan, Store: s.backend.Location(), Started: opts.Now(),
		Problems: []VerifyResult{}, ErrorList: []VerifyError{}, OrphanList: []Orphan{}, StrayList: []string{}, LeftoverList: []string{},
	}}
	if opts.Quick {
		v.rep.Mode = "quick"
	}
	err := v.run(ctx)
	v.finish(ctx)
	return v.rep, err
}

type verifier struct {
	s   *Store
	ix  VerifyIndex
	o   VerifyOptions
	rep *VerifyReport

	// plan, owned by the feeder
	items, bytes int64
	// found by the feeder, merged into rep when it is done
	orphans   []Orphan
	strays    []string
	leftovers []string
	skipped   int64
	firstErr  error // owned by the collector
}

func (v *verifier) total(items, bytes int64) {
	v.items += items
	v.bytes += bytes
	if v.o.Progress != nil {
		if v.o.Quick {
			v.o.Progress.SetTotal(v.items, 0)
		} else {
			v.o.Progress.SetTotal(v.items, v.bytes)
		}
	}
}

func (v *verifier) run(parent context.Context) error {
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	items := make(chan verifyItem, 4*v.o.Jobs)
	results := make(chan VerifyResult, 4*v.o.Jobs)

	var feedErr error
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		defer close(items)
		feedErr = v.feed(ctx, items)
		if feedErr != nil {
			cancel(feedErr)
		}
	}()
	var wg sync.WaitGroup
	for range v.o.Jobs {
		wg.Go(func() {
			buf := make([]byte, 1<<20)
			for it := range items {
				if ctx.Err() != nil {
					continue // drain
				}
				res := v.check(ctx, it, buf)
				if res.err != nil && fatal(res.err) {
					cancel(res.err)
				}
				results <- res
			}
		})
	}
	go func() { wg.Wait(); close(results) }()

	recErr := v.collect(ctx, parent, results, cancel)
	<-fed
	v.rep.OrphanList = append(v.rep.OrphanList, v.orphans...)
	v.rep.StrayList = append(v.rep.StrayList, v.strays...)
	v.rep.LeftoverList = append(v.rep.LeftoverList, v.leftovers...)
	v.rep.Skipped = v.skipped

	if err := parent.Err(); err != nil {
		v.rep.Interrupted = true
		return fmt.Errorf("verify: %w", err)
	}
	if recErr != nil {
		return recErr
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		v.rep.Interrupted = true
		return fmt.Errorf("verify: %w", cause)
	}
	if feedErr != nil {
		return fmt.Errorf("verify: %w", feedErr)
	}
	if v.rep.Errors > 0 {
		return fmt.Errorf("verify: %d blobs could not be checked, the first: %w", v.rep.Errors, v.firstErr)
	}
	return nil
}

// fatal reports errors that will fail every other check too: stop early.
func fatal(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, ErrBadCredentials) || errors.Is(err, ErrNoBucket)
}

// collect tallies results and appends outcomes to the log as it goes. The
// log is written with a context that outlives an interruption, so every
// outcome counted is also recorded.
func (v *verifier) collect(ctx, parent context.Context, results <-chan VerifyResult, cancel context.CancelCauseFunc) error {
	var batch []Verification
	var recErr error
	last := time.Now()
	flush := func() {
		if len(batch) == 0 || recErr != nil {
			return
		}
		fctx, done := context.WithTimeout(context.WithoutCancel(parent), 30*time.Second)
		defer done()
		if err := v.ix.RecordVerifications(fctx, batch); err != nil {
			recErr = fmt.Errorf("verify: record results: %w", err)
			cancel(recErr)
			return
		}
		v.rep.Recorded += int64(len(batch))
		batch, last = batch[:0], time.Now()
	}
	for res := range results {
		if res.err != nil {
			if ctx.Err() != nil {
				continue // stopped mid-check: no finding
			}
			v.rep.Errors++
			if v.firstErr == nil {
				v.firstErr = res.err
			}
			v.rep.ErrorList = append(v.rep.ErrorList, VerifyError{Digest: res.Digest, Error: res.err.Error()})
			if v.o.Progress != nil {
				v.o.Progress.AddItem()
			}
			continue
		}
		v.tally(res)
		if v.o.Progress != nil {
			v.o.Progress.AddItem()
		}
		if v.o.Record {
			batch = append(batch, Verification{Digest: res.Digest, Time: v.o.Now(), Method: res.Method, Outcome: res.Outcome, Detail: res.Detail})
			if len(batch) >= recordBatch || time.Since(last) >= recordEvery {
				flush()
			}
		}
	}
	flush()
	return recErr
}

func (v *verifier) tally(res VerifyResult) {
	r := v.rep
	r.Checked++
	r.BytesRead += res.BytesRead
	if res.Method == MethodSize || res.Method == MethodExists {
		r.SizeOnly++
	}
	switch res.Outcome {
	case OutcomeOK:
		r.OK++
		return
	case OutcomeMissing:
		r.Missing++
	case OutcomeHidden:
		r.Hidden++
	case OutcomeCorrupt:
		r.Corrupt++
	case OutcomeSizeMismatch:
		r.SizeMismatch++
	}
	r.Problems = append(r.Problems, res)
}

// finish names the transactions behind each problem and times the run.
func (v *verifier) finish(ctx context.Context) {
	r := v.rep
	r.Finished = v.o.Now()
	if secs := r.Finished.Sub(r.Started).Seconds(); secs > 0 {
		r.Throughput = float64(r.BytesRead) / secs
	}
	if v.ix == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	for i := range r.Problems {
		atts, err := v.ix.AttachmentsOf(ctx, r.Problems[i].Digest)
		if err != nil {
			continue
		}
		seen := map[string]bool{}
		for _, a := range atts {
			if !seen[a.Txn] {
				seen[a.Txn] = true
				r.Problems[i].Txns = append(r.Problems[i].Txns, a.Txn)
			}
		}
	}
}

// feed sends the blobs to check.
func (v *verifier) feed(ctx context.Context, items chan<- verifyItem) error {
	send := func(it verifyItem) error {
		if v.o.Since > 0 && v.ix != nil {
			t, err := v.ix.LastVerifiedOK(ctx, it.d, !v.o.Quick)
			if err != nil {
				return err
			}
			if !t.IsZero() && v.o.Now().Sub(t) < v.o.Since {
				v.skipped++
				v.total(-1, -it.plan)
				return nil
			}
		}
		select {
		case items <- it:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	switch {
	case v.o.Scan:
		return v.feedScan(ctx, send)
	case len(v.o.Digests) > 0:
		plan := make([]verifyItem, 0, len(v.o.Digests))
		for _, d := range v.o.Digests {
			size, ok, err := v.ix.LookupBlob(ctx, d)
			if err != nil {
				return err
			}
			if !ok {
				size = -1
			}
			plan = append(plan, verifyItem{d, size, max(size, 0)})
			v.total(1, max(size, 0))
		}
		for _, it := range plan {
			if err := send(it); err != nil {
				return err
			}
		}
		return nil
	}
	// The whole index: count first, for the progress bar's totals.
	if v.o.Progress != nil {
		var n, b int64
		if err := v.ix.EachBlob(ctx, func(_ Digest, size int64) error { n++; b += size; return nil }); err != nil {
			return err
		}
		v.total(n, b)
	}
	err := v.ix.EachBlob(ctx, func(d Digest, size int64) error {
		return send(verifyItem{d, size, size})
	})
	if err != nil || !v.o.Orphans {
		return err
	}
	return v.walk(ctx, func(e Entry, indexed bool, _ int64) error {
		if !indexed {
			v.orphans = append(v.orphans, Orphan{Digest: e.Digest, Name: e.Name, Size: e.Size})
		}
		return nil
	})
}

// feedScan checks what a walk of the store finds, then (with an index) the
// indexed blobs the walk did not see: they are missing, unless stored
// meanwhile.
func (v *verifier) feedScan(ctx context.Context, send func(verifyItem) error) error {
	var seen map[Digest]struct{}
	if v.ix != nil {
		seen = map[Digest]struct{}{}
	}
	err := v.walk(ctx, func(e Entry, indexed bool, size int64) error {
		if seen != nil {
			seen[e.Digest] = struct{}{}
		}
		if v.ix != nil && !indexed && v.o.Orphans {
			v.orphans = append(v.orphans, Orphan{Digest: e.Digest, Name: e.Name, Size: e.Size})
		}
		v.total(1, e.Size)
		return send(verifyItem{e.Digest, size, e.Size})
	})
	if err != nil || v.ix == nil {
		return err
	}
	return v.ix.EachBlob(ctx, func(d Digest, size int64) error {
		if _, ok := seen[d]; ok {
			return nil
		}
		v.total(1, size)
		return send(verifyItem{d, size, size})
	})
}

// walk walks the store, sorting out strays and leftovers, and calls fn for
// each blob with its indexed size (-1 when not indexed or no index).
func (v *verifier) walk(ctx context.Context, fn func(e Entry, indexed bool, size int64) error) error {
	return v.s.backend.Walk(ctx, func(e Entry) error {
		if !e.Valid {
			if e.Leftover {
				v.leftovers = append(v.leftovers, e.Name)
			} else {
				v.strays = append(v.strays, e.Name)
			}
			return nil
		}
		size, indexed := int64(-1), false
		if v.ix != nil {
			var err error
			if size, indexed, err = v.ix.LookupBlob(ctx, e.Digest); err != nil {
				return err
			}
			if !indexed {
				size = -1
			}
		}
		return fn(e, indexed, size)
	})
}

// check checks one blob; res.err is set when it could not be checked.
func (v *verifier) check(ctx context.Context, it verifyItem, buf []byte) VerifyResult {
	res := VerifyResult{Digest: it.d, Size: it.size, StoredSize: -1}
	if v.o.Quick {
		res.Method = MethodSize
		info, err := v.s.backend.Stat(ctx, it.d)
		if v.absent(&res, err) {
			return res
		}
		res.StoredSize = info.Size
		switch {
		case it.size >= 0 && info.Size != it.size:
			res.Outcome = OutcomeSizeMismatch
			res.Detail = fmt.Sprintf("stored %d bytes, indexed %d", info.Size, it.size)
		case !info.Checksum.IsZero():
			res.Method = MethodChecksum
			res.Outcome = OutcomeOK
			if info.Checksum != it.d {
				res.Outcome = OutcomeCorrupt
				res.Detail = "stored SHA-256 checksum is " + info.Checksum.String()
			}
		case it.d == EmptyDigest && info.Size != 0:
			res.Outcome = OutcomeCorrupt
			res.Detail = fmt.Sprintf("the empty blob holds %d bytes", info.Size)
		default:
			if it.size < 0 {
				res.Method = MethodExists
			}
			res.Outcome = OutcomeOK
		}
		return res
	}

	res.Method = MethodContent
	rc, info, err := v.s.backend.Open(ctx, it.d, 0, -1)
	if v.absent(&res, err) {
		return res
	}
	defer rc.Close()
	res.StoredSize = info.Size
	if it.size >= 0 && info.Size != it.size {
		res.Outcome = OutcomeSizeMismatch
		res.Detail = fmt.Sprintf("stored %d bytes, indexed %d", info.Size, it.size)
		return res
	}
	// Count what comes from the store, not what the verifying reader hands
	// on: it withholds the last bytes of a corrupt blob.
	var counted io.Reader = rc
	if v.o.Progress != nil {
		counted = countingReader{rc, v.o.Progress.AddBytes}
	}
	n := &countingReader{counted, func(k int64) { res.BytesRead += k }}
	r := NewReader(io.NopCloser(n), it.d, info.Size)
	for {
		_, err := r.Read(buf)
		switch {
		case err == io.EOF:
			res.Outcome = OutcomeOK
			return res
		case errors.Is(err, ErrCorrupt):
			res.Outcome = OutcomeCorrupt
			res.Detail = strings.TrimPrefix(err.Error(), "read "+it.d.Short()+": ")
			return res
		case err != nil:
			res.err = fmt.Errorf("read %s: %w", it.d.Short(), err)
			return res
		}
	}
}

// absent turns a failed Open or Stat into an outcome (missing, hidden) or
// an operational error, and reports whether there is nothing more to do.
func (v *verifier) absent(res *VerifyResult, err error) bool {
	switch {
	case err == nil:
		return false
	case errors.Is(err, ErrHidden):
		res.Outcome = OutcomeHidden
		res.Detail = "hidden by a delete marker, still retained"
	case errors.Is(err, ErrNotFound):
		res.Outcome = OutcomeMissing
	case errors.Is(err, ErrCorrupt):
		// The backend refused to take what is there for the blob (a
		// symbolic link in a disk store).
		res.Outcome = OutcomeCorrupt
		res.Detail = err.Error()
	default:
		res.err = err
	}
	return true
}
