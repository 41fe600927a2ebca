package doctor

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sort"
	"time"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/cas/disk"
	"github.com/casstore/casstore/cas/s3"
	"github.com/casstore/casstore/config"
)

// Check names, in the order a report lists them.
const (
	CheckConfig      = "configuration"
	CheckEndpoint    = "endpoint"
	CheckCredentials = "credentials"
	CheckBucket      = "bucket"
	CheckRegion      = "region"
	CheckDirectory   = "directory"
	CheckPermissions = "permissions"
	CheckFreeSpace   = "free space"
	CheckWrite       = "write probe"
	CheckRead        = "read back"
	CheckAnonymous   = "anonymous read"
	CheckVersioning  = "versioning"
	CheckObjectLock  = "object lock"
	CheckLifecycle   = "lifecycle"
	CheckEncryption  = "encryption"
	CheckClock       = "clock"
	CheckTempFiles   = "temp files"
	CheckStrayFiles  = "stray files"
)

var order = []string{CheckConfig, CheckEndpoint, CheckCredentials, CheckBucket, CheckRegion, CheckDirectory,
	CheckPermissions, CheckFreeSpace, CheckWrite, CheckRead, CheckAnonymous, CheckVersioning, CheckObjectLock,
	CheckLifecycle, CheckEncryption, CheckClock, CheckTempFiles, CheckStrayFiles}

// Limits behind the judgements.
const (
	// MaxSkew is the clock difference S3 refuses requests beyond
	// (RequestTimeTooSkewed).
	MaxSkew = 15 * time.Minute
	// WarnSkew is the difference worth a warning.
	WarnSkew = time.Minute
	// StaleTemp is the age after which a temporary file is a crash's
	// leftover rather than a put in progress.
	StaleTemp = 10 * time.Minute
)

// Options tune Run.
type Options struct {
	// Now is the local clock; time.Now when nil.
	Now func() time.Time
}

// Run checks the store. cfg is the resolved configuration; b the backend
// built from it, or nil with openErr saying why it could not be built.
// Run never returns an error: every problem is a check in the report.
func Run(ctx context.Context, cfg *config.Config, b cas.Backend, openErr error, opts Options) *Report {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Report{Store: cfg.Get(config.Store), Settings: settings(cfg)}
	d := &doc{r: r, cfg: cfg, opts: opts}
	switch b := b.(type) {
	case nil:
		r.add(CheckConfig, Failed, errText(openErr), "fix the setting named above (casctl doctor lists where each came from)")
	case *s3.Backend:
		r.Store = b.Location()
		d.s3(ctx, b)
	case *disk.Backend:
		r.Store = b.Location()
		d.disk(ctx, b)
	default:
		r.Store = b.Location()
		d.probe(ctx, b)
	}
	rank := map[string]int{}
	for i, n := range order {
		rank[n] = i
	}
	sort.SliceStable(r.Checks, func(i, j int) bool { return rank[r.Checks[i].Name] < rank[r.Checks[j].Name] })
	return r
}

type doc struct {
	r    *Report
	cfg  *config.Config
	opts Options

	written bool // the probe blob was stored or found stored
	read    bool
}

func errText(err error) string {
	if err == nil {
		return "unknown error"
	}
	return err.Error()
}

// writeProber is a backend that can test the write permission even where
// the probe blob is already stored (a plain Put may find it and not write).
type writeProber interface {
	ProbeWrite(ctx context.Context) (stored bool, err error)
}

// probe writes the empty blob and reads it back, verified. It reports the
// first error of each for the caller to interpret, after adding the
// checks it can judge by itself.
func (d *doc) probe(ctx context.Context, b cas.Backend) (writeErr, readErr error) {
	var stored bool
	var err error
	if w, ok := b.(writeProber); ok {
		stored, err = w.ProbeWrite(ctx)
	} else {
		stored, err = b.Put(ctx, cas.Source{R: bytes.NewReader(nil), Digest: cas.EmptyDigest}, cas.PutOptions{})
	}
	writeErr = err
	switch {
	case err == nil && stored:
		d.written = true
		d.r.add(CheckWrite, OK, "stored the empty blob "+cas.EmptyDigest.Short()+" (content-addressed, harmless, kept)", "")
	case err == nil:
		d.written = true
		d.r.add(CheckWrite, OK, "the empty blob "+cas.EmptyDigest.Short()+" is already stored: writes are permitted", "")
	case errors.Is(err, cas.ErrAccessDenied):
		d.r.add(CheckWrite, NotPermitted, errText(err), "fine for a reader or auditor; a writer needs s3:PutObject on the prefix (docs/policies/writer.json)")
	case errors.Is(err, cas.ErrBadCredentials), errors.Is(err, cas.ErrNoBucket):
		// judged by the caller
	default:
		d.r.add(CheckWrite, Failed, errText(err), "")
	}

	_, err = cas.New(b).WriteTo(ctx, cas.EmptyDigest, io.Discard)
	readErr = err
	var he *s3.HiddenError
	switch {
	case err == nil:
		d.read = true
		d.r.add(CheckRead, OK, "read the probe blob back and verified its SHA-256", "")
	case errors.Is(err, cas.ErrAccessDenied):
		d.r.add(CheckRead, NotPermitted, errText(err), "fine for a writer; readers need s3:GetObject (docs/policies/reader.json)")
	case errors.As(err, &he):
		d.r.add(CheckRead, Warning, errText(err), "someone deleted objects in the bucket; the data is retained: remove the delete marker (mc rm --version-id "+he.MarkerID+" ALIAS/"+he.Bucket+"/"+he.Key+")")
	case errors.Is(err, cas.ErrNotFound) && d.written:
		d.r.add(CheckRead, Failed, "written but not found when read back: "+errText(err), "check that nothing (a lifecycle rule, a proxy) removes or rewrites objects")
	case errors.Is(err, cas.ErrNotFound):
		d.r.add(CheckRead, OK, "reads are permitted; the probe blob is not stored (nothing was written)", "")
	case errors.Is(err, cas.ErrBadCredentials), errors.Is(err, cas.ErrNoBucket):
	default:
		d.r.add(CheckRead, Failed, errText(err), "")
	}
	return writeErr, readErr
}
