package s3

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/casstore/casstore/cas"
)

// This file gathers facts about the bucket for casctl doctor. Each method
// makes one kind of request and maps its errors like every other request
// (cas.ErrAccessDenied naming the permission, cas.ErrBadCredentials,
// cas.ErrNoBucket, cas.ErrUnavailable); judging the facts is the doctor's
// job.

// Endpoint is what an unsigned request to the endpoint found.
type Endpoint struct {
	URL        string    // the endpoint, e.g. https://s3.eu-west-1.amazonaws.com
	TLS        bool      // the connection used TLS
	TLSVersion string    // "TLS 1.3", when TLS
	Status     int       // HTTP status of the answer (S3 answers 403 to anonymous requests)
	ServerTime time.Time // the answer's Date header; zero when absent
}

// ProbeEndpoint sends one unsigned GET to the endpoint's root: whether the
// server answers at all, over TLS or not, and its clock.
func (b *Backend) ProbeEndpoint(ctx context.Context) (Endpoint, error) {
	u := b.client.EndpointURL().String()
	ep := Endpoint{URL: u}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u+"/", nil)
	if err != nil {
		return ep, fmt.Errorf("s3: probe endpoint: %w", err)
	}
	resp, err := b.plainHTTP().Do(req)
	if err != nil {
		return ep, b.mapErr("probe endpoint", "/", "", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	ep.Status = resp.StatusCode
	if resp.TLS != nil {
		ep.TLS = true
		ep.TLSVersion = tls.VersionName(resp.TLS.Version)
	}
	if t, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		ep.ServerTime = t
	}
	return ep, nil
}

// plainHTTP is an HTTP client without S3 signing, over the configured
// transport.
func (b *Backend) plainHTTP() *http.Client {
	return &http.Client{Transport: b.transport(), Timeout: 30 * time.Second}
}

// transport is the configured HTTP transport, or minio-go's default.
func (b *Backend) transport() http.RoundTripper {
	if b.cfg.Transport != nil {
		return b.cfg.Transport
	}
	tr, _ := minio.DefaultTransport(b.ep.secure)
	return tr
}

// Anonymous reports that the default credential chain found no credential,
// so that requests go out unsigned.
func (b *Backend) Anonymous() bool { return b.anonymousHint() != "" }

// statusRecorder remembers the status of the last response it carried.
type statusRecorder struct {
	next   http.RoundTripper
	mu     sync.Mutex
	status int
}

func (r *statusRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.next.RoundTrip(req)
	if err == nil {
		r.mu.Lock()
		r.status = resp.StatusCode
		r.mu.Unlock()
	}
	return resp, err
}

// BucketRegion asks the server for the bucket's region (GetBucketLocation),
// whatever Config.Region says. A bucket in the default region answers
// "us-east-1".
func (b *Backend) BucketRegion(ctx context.Context) (string, error) {
	const op = "get bucket location"
	// The backend's client answers from Config.Region without asking, and
	// minio-go reads an AccessDenied as "us-east-1": ask with a client that
	// has no region, and look at the status itself.
	rec := &statusRecorder{next: b.transport()}
	creds, _ := b.cfg.credentials()
	c, err := minio.New(b.ep.host, &minio.Options{Creds: creds, Secure: b.ep.secure, Transport: rec, BucketLookup: b.cfg.bucketLookup(), MaxRetries: 1})
	if err != nil {
		return "", fmt.Errorf("s3: %s: %w", op, err)
	}
	region, err := c.GetBucketLocation(ctx, b.cfg.Bucket)
	if err != nil {
		return "", b.mapErr(op, "", "s3:GetBucketLocation", err)
	}
	if rec.status == http.StatusForbidden {
		return "", fmt.Errorf("s3: %s: arn:aws:s3:::%s: the credential needs s3:GetBucketLocation%s: %w", op, b.cfg.Bucket, b.anonymousHint(), cas.ErrAccessDenied)
	}
	return region, nil
}

// Region returns the configured region.
func (b *Backend) Region() string { return b.cfg.Region }

// Prefix returns the key prefix ("" or ending in "/").
func (b *Backend) Prefix() string { return b.prefix }

// ObjectURL is the plain (unsigned) URL of blob d.
func (b *Backend) ObjectURL(d cas.Digest) string {
	u := *b.client.EndpointURL()
	key := (&url.URL{Path: b.Key(d)}).EscapedPath()
	if b.cfg.PathStyle || !s3utils.IsAmazonEndpoint(u) || strings.Contains(b.cfg.Bucket, ".") {
		return u.String() + "/" + b.cfg.Bucket + "/" + key
	}
	u.Host = b.cfg.Bucket + "." + u.Host
	return u.String() + "/" + key
}

// AnonymousGet fetches blob d without any credential, as anyone on the
// network could, and returns the HTTP status: 200 means the object is
// public.
func (b *Backend) AnonymousGet(ctx context.Context, d cas.Digest) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.ObjectURL(d), nil)
	if err != nil {
		return 0, fmt.Errorf("s3: anonymous get: %w", err)
	}
	resp, err := b.plainHTTP().Do(req)
	if err != nil {
		return 0, b.mapErr("anonymous get", b.Key(d), "", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}

// Versioning returns the bucket's versioning status: "Enabled",
// "Suspended" or "" (never enabled).
func (b *Backend) Versioning(ctx context.Context) (string, error) {
	v, err := b.client.GetBucketVersioning(ctx, b.cfg.Bucket)
	if err != nil {
		return "", b.mapErr("get bucket versioning", "", "s3:GetBucketVersioning", err)
	}
	return v.Status, nil
}

// LockConfig is a bucket's Object Lock configuration.
type LockConfig struct {
	Enabled bool
	Mode    string // default retention mode (GOVERNANCE, COMPLIANCE), "" for none
	Period  string // default retention period, "30 DAYS"
}

// ObjectLock returns the bucket's Object Lock configuration.
func (b *Backend) ObjectLock(ctx context.Context) (LockConfig, error) {
	enabled, mode, validity, unit, err := b.client.GetObjectLockConfig(ctx, b.cfg.Bucket)
	if err != nil {
		if code(err) == "ObjectLockConfigurationNotFoundError" {
			return LockConfig{}, nil
		}
		return LockConfig{}, b.mapErr("get object lock configuration", "", "s3:GetBucketObjectLockConfiguration", err)
	}
	lc := LockConfig{Enabled: enabled == "Enabled"}
	if mode != nil {
		lc.Mode = mode.String()
	}
	if validity != nil && unit != nil {
		lc.Period = fmt.Sprintf("%d %s", *validity, unit.String())
	}
	return lc, nil
}

// LockMode returns the configured retention mode of new objects
// ("GOVERNANCE", "COMPLIANCE" or "") and its period.
func (b *Backend) LockMode() (string, time.Duration) {
	return b.lock.String(), b.cfg.LockRetention
}

// ExpiringRule is a lifecycle rule that would delete blobs.
type ExpiringRule struct {
	ID     string
	Prefix string // the rule's key prefix, "" for the whole bucket
	Action string // what it does: "expires current objects after 30 days", ...
}

// ExpiringRules returns the enabled lifecycle rules that would expire or
// delete objects under the store's prefix (a rule with tag or size filters
// is reported too: blobs might match it).
func (b *Backend) ExpiringRules(ctx context.Context) ([]ExpiringRule, error) {
	lc, err := b.client.GetBucketLifecycle(ctx, b.cfg.Bucket)
	if err != nil {
		if code(err) == "NoSuchLifecycleConfiguration" {
			return nil, nil
		}
		return nil, b.mapErr("get bucket lifecycle", "", "s3:GetLifecycleConfiguration", err)
	}
	var out []ExpiringRule
	for _, r := range lc.Rules {
		if !strings.EqualFold(r.Status, "Enabled") {
			continue
		}
		p := r.Prefix
		if p == "" {
			p = r.RuleFilter.Prefix
		}
		if p == "" {
			p = r.RuleFilter.And.Prefix
		}
		if !strings.HasPrefix(b.prefix, p) && !strings.HasPrefix(p, b.prefix) {
			continue
		}
		var acts []string
		e := r.Expiration
		switch {
		case !e.IsDaysNull():
			acts = append(acts, fmt.Sprintf("expires objects %d days after they are stored", e.Days))
		case !e.IsDateNull():
			acts = append(acts, "expires objects on "+e.Date.Format("2006-01-02"))
		}
		if e.DeleteAll.IsEnabled() {
			acts = append(acts, "deletes all versions of expired objects")
		}
		if !r.NoncurrentVersionExpiration.IsDaysNull() || r.NoncurrentVersionExpiration.NewerNoncurrentVersions > 0 {
			acts = append(acts, fmt.Sprintf("deletes noncurrent versions after %d days", r.NoncurrentVersionExpiration.NoncurrentDays))
		}
		if !r.AllVersionsExpiration.IsNull() {
			acts = append(acts, fmt.Sprintf("deletes all versions after %d days", r.AllVersionsExpiration.Days))
		}
		if len(acts) > 0 {
			out = append(out, ExpiringRule{ID: r.ID, Prefix: p, Action: strings.Join(acts, "; ")})
		}
	}
	return out, nil
}

// DefaultEncryption returns the bucket's default encryption.
func (b *Backend) DefaultEncryption(ctx context.Context) (Encryption, error) {
	c, err := b.client.GetBucketEncryption(ctx, b.cfg.Bucket)
	if err != nil {
		if code(err) == "ServerSideEncryptionConfigurationNotFoundError" {
			return Encryption{}, nil
		}
		return Encryption{}, b.mapErr("get bucket encryption", "", "s3:GetEncryptionConfiguration", err)
	}
	for _, r := range c.Rules {
		a := r.Apply
		return Encryption{Algorithm: a.SSEAlgorithm, KMSKeyID: a.KmsMasterKeyID}, nil
	}
	return Encryption{}, nil
}

// code returns an S3 error's code, "" for other errors.
func code(err error) string {
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		return er.Code
	}
	return ""
}

// ProbeWrite stores the empty blob with a conditional PUT and no HEAD
// first, so that it tests the write permission even where the blob is
// already stored: stored is false when it was (412).
func (b *Backend) ProbeWrite(ctx context.Context) (stored bool, err error) {
	src := cas.Source{R: strings.NewReader(""), Digest: cas.EmptyDigest}
	err = b.putSingle(ctx, "write probe", b.Key(cas.EmptyDigest), src, "application/octet-stream")
	if isPrecondition(err) {
		return false, nil
	}
	return err == nil, err
}
