package s3

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/encrypt"

	"github.com/casstore/casstore/cas"
)

// Backend stores blobs in one bucket under one prefix. It is safe for
// concurrent use.
type Backend struct {
	cfg    Config // secrets included: never printed
	ep     endpoint
	prefix string
	client *minio.Client
	core   *minio.Core
	chain  bool // credentials come from the default chain
	// What every upload asks for, from cfg.SSE and cfg.LockMode.
	sse  encrypt.ServerSide // nil: the bucket's default
	lock minio.RetentionMode

	// beforeComplete, when set (tests only), runs between the last part
	// and CompleteMultipartUpload.
	beforeComplete func(ctx context.Context, key string)
}

var (
	_ cas.Backend = (*Backend)(nil)
	_ cas.Parter  = (*Backend)(nil)
)

const (
	// minPartSize is both the single-PUT limit and the usual part size.
	minPartSize = 64 << 20
	maxParts    = 10000
	// partsInFlight is how many parts upload at once.
	partsInFlight = 4
	// metaSHA256 is the user metadata key (x-amz-meta-sha256) holding the
	// hex digest, written on every put.
	metaSHA256 = "Sha256"
)

// New returns a Backend for cfg. It makes no request when cfg.Region is set
// (and none with a region either; minio-go then finds the region at the first
// request).
func New(ctx context.Context, cfg Config) (*Backend, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	sse, _ := cfg.encryption() // validated
	lock, _ := cfg.lockMode()
	ep, err := parseEndpoint(cfg)
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	creds, chain := cfg.credentials()
	client, err := minio.New(ep.host, &minio.Options{
		Creds:        creds,
		Secure:       ep.secure,
		Transport:    cfg.Transport,
		Region:       cfg.Region,
		BucketLookup: cfg.bucketLookup(),
		MaxRetries:   cfg.MaxRetries,
	})
	if err != nil {
		return nil, fmt.Errorf("s3: %s: %w", cfg.endpointOrDefault(), err)
	}
	return &Backend{
		cfg:    cfg,
		ep:     ep,
		prefix: normPrefix(cfg.Prefix),
		client: client,
		core:   &minio.Core{Client: client},
		chain:  chain,
		sse:    sse,
		lock:   lock,
	}, nil
}

// String describes the backend without secrets.
func (b *Backend) String() string { return b.cfg.String() }

// Client returns the underlying minio-go client (for presigning, bucket
// settings and the like).
func (b *Backend) Client() *minio.Client { return b.client }

// Bucket returns the bucket name.
func (b *Backend) Bucket() string { return b.cfg.Bucket }

// Key returns the object key of blob d: the prefix and the lowercase hex
// digest. It is the only place that knows the layout.
func (b *Backend) Key(d cas.Digest) string { return b.prefix + d.String() }

// Location is "s3://host[:port]/bucket/prefix", prefix ending in "/" when
// set. The scheme's default port is omitted and the host lowercased, so the
// same store always has the same location.
func (b *Backend) Location() string {
	return "s3://" + b.ep.host + "/" + b.cfg.Bucket + "/" + b.prefix
}

// PartSize implements cas.Parter: 0 (one PUT) up to 64 MiB, 64 MiB parts
// above, doubled as often as needed to stay within 10,000 parts.
func (b *Backend) PartSize(size int64) int64 {
	if size <= minPartSize {
		return 0
	}
	p := int64(minPartSize)
	for (size+p-1)/p > maxParts {
		p *= 2
	}
	return p
}

// checkSource refuses a source whose parts were not computed for this
// backend's part size: a programming error, not a storage one.
func (b *Backend) checkSource(src cas.Source) error {
	if src.Size < 0 {
		return fmt.Errorf("negative size %d", src.Size)
	}
	if src.R == nil && src.Size > 0 {
		return errors.New("source has no reader")
	}
	want := b.PartSize(src.Size)
	if want == 0 {
		if len(src.Parts) != 0 {
			return fmt.Errorf("source has %d part digests, but a blob of %d bytes goes up in one request", len(src.Parts), src.Size)
		}
		return nil
	}
	if src.PartSize != want {
		return fmt.Errorf("source hashed in parts of %d bytes, the backend uploads %d-byte parts for %d bytes", src.PartSize, want, src.Size)
	}
	if n := (src.Size + want - 1) / want; int64(len(src.Parts)) != n {
		return fmt.Errorf("source has %d part digests, want %d", len(src.Parts), n)
	}
	return nil
}

// Put implements cas.Backend. See the package documentation for what the
// server checks.
func (b *Backend) Put(ctx context.Context, src cas.Source, opts cas.PutOptions) (bool, error) {
	op := "put " + src.Digest.Short()
	if err := b.checkSource(src); err != nil {
		return false, fmt.Errorf("s3: %s: %w", op, err)
	}
	key := b.Key(src.Digest)

	// A HEAD first: where the credential may read, an existing object costs
	// no upload. Under a write-only policy it is refused, which is fine.
	canRead := true
	info, err := b.client.StatObject(ctx, b.cfg.Bucket, key, minio.StatObjectOptions{Checksum: true})
	if err == nil {
		return false, b.compare(op, key, info, src)
	}
	if err = b.mapErr(op, key, "s3:GetObject", err); !errors.Is(err, cas.ErrNotFound) && !errors.Is(err, cas.ErrHidden) {
		if !errors.Is(err, cas.ErrAccessDenied) {
			return false, err
		}
		canRead = false
	}

	ct := opts.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	if part := b.PartSize(src.Size); part > 0 {
		err = b.putMultipart(ctx, op, key, src, ct)
	} else {
		err = b.putSingle(ctx, op, key, src, ct)
	}
	if !isPrecondition(err) {
		return err == nil, err
	}
	// 412: the key was taken meanwhile (or a retried request's first try
	// succeeded). Check what holds it, where we may look.
	if !canRead {
		return false, nil
	}
	info, err = b.client.StatObject(ctx, b.cfg.Bucket, key, minio.StatObjectOptions{Checksum: true})
	if err != nil {
		if err = b.mapErr(op, key, "s3:GetObject", err); errors.Is(err, cas.ErrAccessDenied) {
			return false, nil
		}
		return false, err
	}
	return false, b.compare(op, key, info, src)
}

// compare reports cas.ErrConflict when the object under key detectably
// holds something other than src: another size, another full-object
// SHA-256 checksum, or another digest in its x-amz-meta-sha256.
func (b *Backend) compare(op, key string, info minio.ObjectInfo, src cas.Source) error {
	if info.Size != src.Size {
		return fmt.Errorf("s3: %s: object %s has %d bytes, the blob %d: %w", op, key, info.Size, src.Size, cas.ErrConflict)
	}
	if sum, ok := fullChecksum(info); ok && sum != src.Digest {
		return fmt.Errorf("s3: %s: object %s has SHA-256 checksum %s, the blob %s: %w", op, key, sum.Short(), src.Digest.Short(), cas.ErrConflict)
	}
	if m := info.UserMetadata[metaSHA256]; m != "" && m != src.Digest.String() {
		return fmt.Errorf("s3: %s: object %s is labelled sha256 %.12s, the blob %s: %w", op, key, m, src.Digest.Short(), cas.ErrConflict)
	}
	return nil
}

// fullChecksum returns the object's stored full-object SHA-256, when it has
// one (composite multipart checksums, "...-N", are not).
func fullChecksum(info minio.ObjectInfo) (cas.Digest, bool) {
	s := info.ChecksumSHA256
	if s == "" || strings.Contains(s, "-") || strings.EqualFold(info.ChecksumMode, "COMPOSITE") {
		return cas.Digest{}, false
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(raw) != len(cas.Digest{}) {
		return cas.Digest{}, false
	}
	return cas.Digest(raw), true
}

// putOptions are the options of a new object: conditional, typed, labelled
// with its digest.
func putOptions(src cas.Source, contentType string) minio.PutObjectOptions {
	o := minio.PutObjectOptions{
		ContentType:          contentType,
		DisableContentSha256: true,
		UserMetadata:         map[string]string{metaSHA256: src.Digest.String()},
	}
	o.SetMatchETagExcept("*")
	return o
}

// putSingle uploads src in one conditional PUT signed with its SHA-256 and
// carrying it as x-amz-checksum-sha256: the server refuses other bytes.
func (b *Backend) putSingle(ctx context.Context, op, key string, src cas.Source, contentType string) error {
	o := putOptions(src, contentType)
	b.applyUploadSettings(&o)
	o.UserMetadata["x-amz-checksum-sha256"] = src.Digest.Base64()
	var body io.Reader = http.NoBody
	if src.Size > 0 {
		body = io.NewSectionReader(src.R, 0, src.Size)
	}
	_, err := b.core.PutObject(ctx, b.cfg.Bucket, key, body, src.Size, "", src.Digest.String(), o)
	return b.mapErr(op, key, "s3:PutObject", err)
}

// putMultipart uploads src in parts of src.PartSize, partsInFlight at a
// time, each read straight from src.R and signed with its own SHA-256. The
// upload is initiated and completed with If-None-Match: *, and aborted on
// any failure.
func (b *Backend) putMultipart(ctx context.Context, op, key string, src cas.Source, contentType string) (err error) {
	o := putOptions(src, contentType)
	// Encryption and retention are asked for when the upload begins; the
	// complete carries the condition again.
	initiate := o
	b.applyUploadSettings(&initiate)
	id, err := b.core.NewMultipartUpload(ctx, b.cfg.Bucket, key, initiate)
	if err != nil {
		return b.mapErr(op, key, "s3:PutObject", err)
	}
	defer func() {
		if err != nil {
			// Best effort, and not under ctx, which may be what failed.
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_ = b.core.AbortMultipartUpload(actx, b.cfg.Bucket, key, id)
		}
	}()

	parts := make([]minio.CompletePart, len(src.Parts))
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	errc := make(chan error, partsInFlight)
	for range partsInFlight {
		go func() {
			var first error
			for i := range next {
				if first != nil {
					continue
				}
				off := int64(i) * src.PartSize
				n := min(src.PartSize, src.Size-off)
				p, err := b.core.PutObjectPart(pctx, b.cfg.Bucket, key, id, i+1,
					io.NewSectionReader(src.R, off, n), n,
					minio.PutObjectPartOptions{Sha256Hex: src.Parts[i].String(), DisableContentSha256: true})
				if err != nil {
					first = b.mapErr(fmt.Sprintf("%s: part %d of %d", op, i+1, len(src.Parts)), key, "s3:PutObject", err)
					cancel()
					continue
				}
				parts[i] = minio.CompletePart{PartNumber: i + 1, ETag: p.ETag}
			}
			errc <- first
		}()
	}
feed:
	for i := range src.Parts {
		select {
		case next <- i:
		case <-pctx.Done():
			break feed
		}
	}
	close(next)
	for range partsInFlight {
		if e := <-errc; e != nil && err == nil {
			err = e
		}
	}
	if err != nil {
		return err
	}
	if err = ctx.Err(); err != nil {
		return fmt.Errorf("s3: %s: %w", op, err)
	}
	if b.beforeComplete != nil {
		b.beforeComplete(ctx, key)
	}
	// A 412 here (the key was created since the upload began) leaves the
	// upload dead; the deferred abort frees its parts.
	_, err = b.core.CompleteMultipartUpload(ctx, b.cfg.Bucket, key, id, parts, o)
	return b.mapErr(op, key, "s3:PutObject", err)
}

// Open implements cas.Backend. The request is made here, so a missing blob
// is reported by Open, not by the first Read.
func (b *Backend) Open(ctx context.Context, d cas.Digest, offset, length int64) (io.ReadCloser, cas.Info, error) {
	op := "get " + d.Short()
	key := b.Key(d)
	if offset < 0 {
		return nil, cas.Info{}, fmt.Errorf("s3: %s: negative offset %d", op, offset)
	}
	if length == 0 {
		info, err := b.Stat(ctx, d)
		if err != nil {
			return nil, cas.Info{}, err
		}
		return io.NopCloser(strings.NewReader("")), info, nil
	}
	var o minio.GetObjectOptions
	o.Set("x-amz-checksum-mode", "ENABLED")
	switch {
	case length > 0:
		o.SetRange(offset, offset+length-1)
	case offset > 0:
		o.SetRange(offset, 0)
	}
	rc, oi, h, err := b.core.GetObject(ctx, b.cfg.Bucket, key, o)
	if err != nil {
		err = b.mapErr(op, key, "s3:GetObject", err)
		switch {
		case errors.Is(err, cas.ErrNotFound):
			return nil, cas.Info{}, b.hidden(ctx, op, key, err)
		case isInvalidRange(err):
			// Reading from the end (or beyond) of a blob yields nothing.
			info, serr := b.Stat(ctx, d)
			if serr != nil {
				return nil, cas.Info{}, serr
			}
			if offset >= info.Size {
				return io.NopCloser(strings.NewReader("")), info, nil
			}
		}
		return nil, cas.Info{}, err
	}
	info := toInfo(oi)
	if total, ok := rangeTotal(h.Get("Content-Range")); ok {
		info.Size = total
	}
	if info.Size < 0 {
		// The response carried no length (some gateways send a whole
		// object chunked): ask for it, as the contract promises it.
		st, err := b.Stat(ctx, d)
		if err != nil {
			rc.Close()
			return nil, cas.Info{}, err
		}
		info.Size = st.Size
	}
	return rc, info, nil
}

// rangeTotal reads the complete length from "bytes 0-9/1234".
func rangeTotal(cr string) (int64, bool) {
	i := strings.LastIndexByte(cr, '/')
	if cr == "" || i < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(cr[i+1:], 10, 64)
	return n, err == nil
}

// Stat implements cas.Backend.
func (b *Backend) Stat(ctx context.Context, d cas.Digest) (cas.Info, error) {
	op := "stat " + d.Short()
	key := b.Key(d)
	oi, err := b.client.StatObject(ctx, b.cfg.Bucket, key, minio.StatObjectOptions{Checksum: true})
	if err != nil {
		if oi.IsDeleteMarker {
			return cas.Info{}, &HiddenError{Op: op, Bucket: b.cfg.Bucket, Key: key, MarkerID: oi.VersionID}
		}
		return cas.Info{}, b.mapErr(op, key, "s3:GetObject", err)
	}
	return toInfo(oi), nil
}

// hidden turns a not-found into cas.ErrHidden when a delete marker hides
// the key (versioned bucket), and returns notFound otherwise.
func (b *Backend) hidden(ctx context.Context, op, key string, notFound error) error {
	oi, err := b.client.StatObject(ctx, b.cfg.Bucket, key, minio.StatObjectOptions{})
	if err != nil && oi.IsDeleteMarker {
		return &HiddenError{Op: op, Bucket: b.cfg.Bucket, Key: key, MarkerID: oi.VersionID}
	}
	return notFound
}

func toInfo(oi minio.ObjectInfo) cas.Info {
	info := cas.Info{Size: oi.Size, ContentType: oi.ContentType, ModTime: oi.LastModified}
	if sum, ok := fullChecksum(oi); ok {
		info.Checksum = sum
	}
	return info
}

// Walk implements cas.Backend: every object under the prefix, named
// relative to it.
func (b *Backend) Walk(ctx context.Context, fn func(cas.Entry) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for oi := range b.client.ListObjects(ctx, b.cfg.Bucket, minio.ListObjectsOptions{Prefix: b.prefix, Recursive: true}) {
		if oi.Err != nil {
			return b.mapErr("walk", b.prefix, "s3:ListBucket", oi.Err)
		}
		name := strings.TrimPrefix(oi.Key, b.prefix)
		e := cas.Entry{Name: name, Size: oi.Size}
		if d, err := cas.Parse(name); err == nil {
			e.Digest, e.Valid = d, true
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return ctx.Err()
}
