package importer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/index"
	"github.com/casstore/casstore/internal/progress"
)

// Options tune Run.
type Options struct {
	// Jobs is how many files are read and stored at once; 0 means
	// DefaultJobs().
	Jobs int
	// BatchSize is how many files one index transaction records; 0 means
	// 500. A batch is also written when it is 250 ms old.
	BatchSize int
	// DryRun reads nothing and writes nothing: it stats each file and
	// looks it up in the index, and reports what an import would do.
	DryRun bool
	// Bar, when set, counts files and bytes.
	Bar *progress.Bar
	// OnFile, when set, is called once for every file, from the workers
	// (one at a time), with what was done.
	OnFile func(Outcome)
}

// DefaultJobs is the number of workers Run uses by default: enough to
// keep the disk, the CPUs hashing and the round trips to a store busy.
func DefaultJobs() int { return max(16, 8*runtime.NumCPU()) }

// Action says what Run did with a file.
type Action string

const (
	Imported        Action = "imported"         // stored as a new blob and recorded
	Duplicate       Action = "duplicate"        // its content was stored already: nothing uploaded, recorded
	AlreadyImported Action = "already imported" // recorded before with this size and time: not read
	WouldImport     Action = "would import"     // dry run: not recorded yet
	Failed          Action = "failed"           // see Outcome.Err
)

// Outcome is what happened to one file.
type Outcome struct {
	Item   Item
	Action Action
	Digest cas.Digest // zero when unknown (failed, dry run)
	Size   int64
	Err    error

	counted bool // its bytes were counted on the bar as they were read
}

// Problem is a file that was not imported, and why (Error does not repeat
// the path).
type Problem struct {
	Path  string `json:"path"`
	Txn   string `json:"txn,omitempty"`
	Where string `json:"where,omitempty"`
	Error string `json:"error"`
}

// Summary counts what a run did.
type Summary struct {
	Files           int64         `json:"files"`            // files seen
	Bytes           int64         `json:"bytes"`            // their total size
	BytesRead       int64         `json:"bytes_read"`       // bytes read to hash them
	NewBlobs        int64         `json:"new_blobs"`        // blobs stored by this run
	Duplicates      int64         `json:"duplicates"`       // files whose content was stored already: not uploaded
	AlreadyImported int64         `json:"already_imported"` // files recorded before, unchanged: not read
	WouldImport     int64         `json:"would_import,omitempty"`
	Failed          int64         `json:"failed"`
	Elapsed         time.Duration `json:"-"`
	Seconds         float64       `json:"seconds"`
	BytesPerSecond  float64       `json:"bytes_per_second"` // BytesRead over the run's time
	Problems        []Problem     `json:"problems,omitempty"`
	DryRun          bool          `json:"dry_run,omitempty"`
}

// Run imports the items of src into store and records them in ix, which
// must be the index the store belongs to (attach it to store too, with
// cas.WithIndex, so that known blobs are not looked up in the backend).
//
// Files that cannot be imported are counted and listed in the summary and
// the others go on; the error is for what stops the whole run (the store or
// the index failing, the context cancelled, src failing), and comes with
// the summary of what was done until then.
func Run(ctx context.Context, store *cas.Store, ix *index.Index, src Source, opts Options) (Summary, error) {
	if opts.Jobs <= 0 {
		opts.Jobs = DefaultJobs()
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r := &runner{store: store, ix: ix, opts: opts, cancel: cancel, start: time.Now()}
	var err error
	if r.lookup, err = ix.AnyImportedFile(ctx); err != nil {
		return r.sum, err
	}
	r.sum.DryRun = opts.DryRun

	items := make(chan Item, 4*opts.Jobs)
	done := make(chan index.ImportedFile, 2*opts.BatchSize)
	var workers, collector sync.WaitGroup
	collector.Add(1)
	go func() { defer collector.Done(); r.collect(ctx, done) }()
	for range opts.Jobs {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for it := range items {
				if ctx.Err() != nil {
					continue // drain
				}
				r.one(ctx, it, done)
			}
		}()
	}
	var total, totalBytes int64
	err = src(ctx, func(it Item) error {
		total++
		// The stat only feeds the bar's total: none without a bar.
		if it.Err == nil && opts.Bar != nil {
			if fi, err := os.Stat(it.Path); err == nil && fi.Mode().IsRegular() {
				totalBytes += fi.Size()
			}
		}
		opts.Bar.SetTotal(total, totalBytes)
		select {
		case items <- it:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
	close(items)
	workers.Wait()
	close(done)
	collector.Wait()
	if err != nil {
		r.fail(err)
	}
	r.sum.Elapsed = time.Since(r.start)
	r.sum.Seconds = r.sum.Elapsed.Seconds()
	if r.sum.Seconds > 0 {
		r.sum.BytesPerSecond = float64(r.sum.BytesRead) / r.sum.Seconds
	}
	if ctx.Err() != nil {
		return r.sum, r.fatal()
	}
	return r.sum, nil
}

type runner struct {
	store  *cas.Store
	ix     *index.Index
	opts   Options
	cancel context.CancelCauseFunc
	start  time.Time
	stored sync.Map // cas.Digest -> struct{}: blobs this run stored or found stored
	// lookup is false when no import has recorded a file in the index
	// yet: then no file of this run can be known from an earlier one.
	lookup bool

	mu       sync.Mutex // guards sum, firstErr and OnFile calls
	sum      Summary
	firstErr error
}

// fail stops the run with err (the first error wins).
func (r *runner) fail(err error) {
	r.mu.Lock()
	if r.firstErr == nil {
		r.firstErr = err
	}
	r.mu.Unlock()
	r.cancel(err)
}

func (r *runner) fatal() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.firstErr != nil {
		return r.firstErr
	}
	return context.Canceled
}

// report counts an outcome and passes it on.
func (r *runner) report(o Outcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sum.Files++
	r.sum.Bytes += o.Size
	switch o.Action {
	case Imported:
		r.sum.NewBlobs++
	case Duplicate:
		r.sum.Duplicates++
	case AlreadyImported:
		r.sum.AlreadyImported++
	case WouldImport:
		r.sum.WouldImport++
	case Failed:
		r.sum.Failed++
		r.sum.Problems = append(r.sum.Problems, Problem{Path: o.Item.Path, Txn: o.Item.Txn, Where: o.Item.Where, Error: o.Err.Error()})
	}
	if r.opts.OnFile != nil {
		r.opts.OnFile(o)
	}
	r.opts.Bar.AddItem()
	if !o.counted {
		r.opts.Bar.AddBytes(o.Size)
	}
}

// one imports one file and sends its record to done, or reports why not.
func (r *runner) one(ctx context.Context, it Item, done chan<- index.ImportedFile) {
	o := Outcome{Item: it}
	rec, err := r.importFile(ctx, it, &o)
	if err != nil {
		if ctx.Err() != nil || isFatal(err) {
			r.fail(err)
			return
		}
		o.Action, o.Err = Failed, withoutPath(err, it.Path)
		r.report(o)
		return
	}
	if rec != nil {
		select {
		case done <- *rec:
		case <-ctx.Done():
			return
		}
	}
	r.report(o)
}

// withoutPath drops the file's path from err's message: the problem names
// the file already.
func withoutPath(err error, path string) error {
	var pe *os.PathError
	if errors.As(err, &pe) && pe.Path == path && err == error(pe) {
		return fmt.Errorf("%s: %w", pe.Op, pe.Err)
	}
	return err
}

// isFatal tells errors that stop the run from those of one file.
func isFatal(err error) bool {
	var s stopError
	return errors.As(err, &s) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// stopError marks an error that would fail every file: the index failing,
// the store unreachable or refusing the credential.
type stopError struct{ error }

func (e stopError) Unwrap() error { return e.error }

// storeStops reports whether a store error would fail every file.
func storeStops(err error) bool {
	return errors.Is(err, cas.ErrUnavailable) || errors.Is(err, cas.ErrAccessDenied) ||
		errors.Is(err, cas.ErrBadCredentials) || errors.Is(err, cas.ErrNoBucket)
}

// importFile does the work of one file and returns the row to record (nil
// when nothing is to be recorded).
func (r *runner) importFile(ctx context.Context, it Item, o *Outcome) (*index.ImportedFile, error) {
	if it.Err != nil {
		return nil, it.Err
	}
	// What the index cannot record is refused before the file is read.
	if err := (cas.Attachment{Txn: it.Txn, ContentType: it.ContentType}).CheckLabels(); err != nil {
		return nil, err
	}
	fi, err := os.Stat(it.Path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	}
	o.Size = fi.Size()
	var prev index.ImportedFile
	var known bool
	if r.lookup {
		if prev, known, err = r.ix.ImportedFile(ctx, it.Path); err != nil {
			return nil, stopError{err}
		}
	}
	if known && prev.Size == fi.Size() && prev.ModTime.Equal(fi.ModTime()) {
		// Unchanged since an import read it: its digest is known.
		o.Digest = prev.Attachment.Digest
		a := prev.Attachment
		if a.Txn == it.Txn && a.Name == it.Name && (it.ContentType == "" || it.ContentType == a.ContentType) {
			o.Action = AlreadyImported
			return nil, nil
		}
		if r.opts.DryRun {
			o.Action = WouldImport
			return nil, nil
		}
		o.Action = Duplicate
		ct := it.ContentType
		if ct == "" {
			ct = a.ContentType
		}
		return &index.ImportedFile{Path: it.Path, Size: fi.Size(), ModTime: fi.ModTime(),
			Attachment: cas.Attachment{Txn: it.Txn, Name: it.Name, Digest: a.Digest, Size: a.Size, ContentType: ct}}, nil
	}
	if r.opts.DryRun {
		o.Action = WouldImport
		return nil, nil
	}

	// O_NONBLOCK: a FIFO put there meanwhile must not hang the worker.
	f, err := os.OpenFile(it.Path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !before.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s)", before.Mode().Type())
	}
	o.Size = before.Size()
	ct := it.ContentType
	if ct == "" {
		head := make([]byte, 512)
		n, err := f.ReadAt(head, 0)
		if err != nil && err != io.EOF {
			return nil, err
		}
		ct = http.DetectContentType(head[:n])
	}
	src, cleanup, err := r.store.Hash(ctx, f)
	if err != nil {
		if errors.Is(err, cas.ErrCorrupt) {
			return nil, fmt.Errorf("changed while it was read: %w", err)
		}
		return nil, err
	}
	defer cleanup()
	r.mu.Lock()
	r.sum.BytesRead += src.Size
	r.mu.Unlock()
	r.opts.Bar.AddBytes(src.Size)
	o.Digest, o.counted = src.Digest, true

	o.Action = Duplicate
	if _, seen := r.stored.Load(src.Digest); !seen {
		res, err := r.store.PutSource(ctx, src, cas.PutOptions{ContentType: ct})
		if err != nil {
			if storeStops(err) {
				return nil, stopError{err}
			}
			return nil, err
		}
		if res.New {
			o.Action = Imported
		}
		r.stored.Store(src.Digest, struct{}{})
	}
	after, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if after.Size() != before.Size() || !after.ModTime().Equal(before.ModTime()) || src.Size != before.Size() {
		return nil, fmt.Errorf("changed while it was read (%d bytes, modified %s; then %d bytes, modified %s)",
			before.Size(), before.ModTime().Format(time.RFC3339Nano), after.Size(), after.ModTime().Format(time.RFC3339Nano))
	}
	return &index.ImportedFile{Path: it.Path, Size: before.Size(), ModTime: before.ModTime(),
		Attachment: cas.Attachment{Txn: it.Txn, Name: it.Name, Digest: src.Digest, Size: src.Size, ContentType: ct}}, nil
}

// collect records finished files in batches.
func (r *runner) collect(ctx context.Context, done <-chan index.ImportedFile) {
	batch := make([]index.ImportedFile, 0, r.opts.BatchSize)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	flush := func() {
		if len(batch) == 0 {
			return
		}
		if err := r.record(batch); err != nil {
			r.fail(err)
		}
		batch = batch[:0]
	}
	for {
		select {
		case f, ok := <-done:
			if !ok {
				flush()
				return
			}
			batch = append(batch, f)
			if len(batch) >= r.opts.BatchSize {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
}

// record writes a batch. It runs even after the run was cancelled: the
// blobs of the batch are stored, and recording them now saves the next
// run from hashing them again. A batch the index refuses as a whole for
// one file's sake is recorded file by file.
//
// A file refused there was reported as done already; it is counted as
// failed as well. The file checks before a batch make this unlikely.
func (r *runner) record(batch []index.ImportedFile) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := r.ix.RecordImports(ctx, batch)
	if err == nil || !(errors.Is(err, cas.ErrConflict) || errors.Is(err, index.ErrInvalid) ||
		errors.Is(err, cas.ErrCorrupt) || errors.Is(err, cas.ErrEmptyTxn) || errors.Is(err, cas.ErrInvalidDigest)) {
		return err
	}
	for _, f := range batch {
		if _, err := r.ix.RecordImports(ctx, []index.ImportedFile{f}); err != nil {
			r.mu.Lock()
			r.sum.Failed++
			r.sum.Problems = append(r.sum.Problems, Problem{Path: f.Path, Txn: f.Attachment.Txn, Error: err.Error()})
			r.mu.Unlock()
		}
	}
	return nil
}
