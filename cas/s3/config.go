package s3

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"
)

// Config says where the blobs live and how to reach them. Its String method
// shows no secret, so a Config may be logged.
type Config struct {
	// Endpoint is the server's URL, scheme and host[:port] only:
	// "http://127.0.0.1:9000", "https://s3.eu-west-1.amazonaws.com". http
	// means plain TCP, https TLS. Empty means AWS S3 in Region.
	Endpoint string
	// Region is the bucket's region. Set it: without it every client
	// discovers the region with a request, and presigning needs one too.
	Region string
	// Bucket holds the blobs; it must exist.
	Bucket string
	// Prefix is put before every key; "uploads" and "uploads/" both mean
	// "uploads/". Empty: keys are bare digests (Request Tracker's layout).
	Prefix string
	// PathStyle forces path-style URLs (http://host/bucket/key), which
	// MinIO and most non-AWS servers want; otherwise the style is chosen
	// from the endpoint (virtual-hosted for AWS).
	PathStyle bool
	// PublicLinks declares the bucket deliberately public (anyone may read
	// its objects): only then does Link give plain, unsigned URLs.
	PublicLinks bool

	// AccessKey, SecretKey and SessionToken are a static credential. When
	// AccessKey is empty and Creds is nil, the standard chain is used:
	// AWS_* and MINIO_* environment variables, ~/.aws/credentials
	// (AWS_PROFILE), then the EC2/ECS/EKS metadata service.
	AccessKey    string
	SecretKey    string
	SessionToken string
	// Creds, when set, takes precedence over the fields above.
	Creds *credentials.Credentials

	// Transport replaces the HTTP transport (tests count requests with it).
	Transport http.RoundTripper
	// MaxRetries is how often a failed request is tried; 0 means
	// minio-go's default (10), 1 means no retry.
	MaxRetries int

	// SSE asks the server to encrypt every upload: "" (the bucket's
	// default), "s3" (SSE-S3) or "kms" (SSE-KMS with SSEKMSKeyID).
	SSE         string
	SSEKMSKeyID string
	// LockMode, when set ("governance" or "compliance"), gives every new
	// object an Object Lock retention of LockRetention. The bucket must have
	// been created with Object Lock.
	LockMode      string
	LockRetention time.Duration
}

// String describes the configuration without secrets.
func (c Config) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "s3 endpoint=%s region=%s bucket=%s prefix=%q path-style=%t", redactURL(c.endpointOrDefault()), orNone(c.Region), c.Bucket, normPrefix(c.Prefix), c.PathStyle)
	switch {
	case c.Creds != nil:
		b.WriteString(" credentials=custom")
	case c.AccessKey != "":
		fmt.Fprintf(&b, " access-key=%s", c.AccessKey)
	default:
		b.WriteString(" credentials=chain(env,aws-file,iam)")
	}
	if c.SSE != "" {
		fmt.Fprintf(&b, " sse=%s", c.SSE)
		if c.SSEKMSKeyID != "" {
			fmt.Fprintf(&b, " sse-kms-key-id=%s", c.SSEKMSKeyID)
		}
	}
	if c.LockMode != "" {
		fmt.Fprintf(&b, " object-lock=%s/%s", c.LockMode, c.LockRetention)
	}
	return b.String()
}

// GoString is String, so %#v shows no secret either.
func (c Config) GoString() string { return c.String() }

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func (c Config) endpointOrDefault() string {
	if c.Endpoint == "" && c.Region != "" {
		return "https://s3." + c.Region + ".amazonaws.com"
	}
	return c.Endpoint
}

// redactURL hides the password of a URL's user information, and anything
// before an '@' when the URL does not parse as having one, so that an
// endpoint written with credentials is never echoed.
func redactURL(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		return u.Redacted()
	}
	if i := strings.LastIndexByte(raw, '@'); i >= 0 {
		return "[redacted]@" + raw[i+1:]
	}
	return raw
}

// normPrefix makes "uploads", "/uploads/" and "uploads/" all "uploads/"; an
// empty prefix stays empty.
func normPrefix(p string) string {
	p = strings.Trim(p, "/")
	if p == "" {
		return ""
	}
	return p + "/"
}

// endpoint is a parsed Config.Endpoint.
type endpoint struct {
	host   string // host[:port], lowercase, without the scheme's default port
	secure bool
}

func parseEndpoint(c Config) (endpoint, error) {
	raw := c.endpointOrDefault()
	if raw == "" {
		return endpoint{}, errors.New("endpoint: neither an endpoint nor a region is set")
	}
	u, err := url.Parse(raw)
	if err == nil && u.User != nil {
		return endpoint{}, errors.New("endpoint: credentials in the URL are not allowed: use the access and secret key settings")
	}
	if err != nil || u.Host == "" {
		return endpoint{}, fmt.Errorf("endpoint %q: want a URL like https://host[:port]", redactURL(raw))
	}
	var secure bool
	switch u.Scheme {
	case "https":
		secure = true
	case "http":
	default:
		return endpoint{}, fmt.Errorf("endpoint %q: scheme must be http or https", raw)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return endpoint{}, fmt.Errorf("endpoint %q: want scheme and host[:port] only, no path", raw)
	}
	host := strings.ToLower(u.Host)
	if h, port, err := net.SplitHostPort(host); err == nil && (secure && port == "443" || !secure && port == "80") {
		host = h
		if strings.Contains(h, ":") {
			host = "[" + h + "]"
		}
	}
	return endpoint{host: host, secure: secure}, nil
}

func (c Config) validate() error {
	if c.Bucket == "" {
		return errors.New("bucket is not set")
	}
	if err := s3utils.CheckValidBucketNameStrict(c.Bucket); err != nil {
		return fmt.Errorf("bucket %q: %v", c.Bucket, err)
	}
	for _, seg := range strings.Split(strings.Trim(c.Prefix, "/"), "/") {
		if seg == "." || seg == ".." || (seg == "" && strings.Trim(c.Prefix, "/") != "") {
			return fmt.Errorf("prefix %q: empty, . or .. segment", c.Prefix)
		}
	}
	if _, err := c.encryption(); err != nil {
		return err
	}
	if _, err := c.lockMode(); err != nil {
		return err
	}
	return nil
}

// bucketLookup is the URL style of requests: path-style when asked for,
// otherwise chosen from the endpoint.
func (c Config) bucketLookup() minio.BucketLookupType {
	if c.PathStyle {
		return minio.BucketLookupPath
	}
	return minio.BucketLookupAuto
}

func (c Config) credentials() (creds *credentials.Credentials, chain bool) {
	switch {
	case c.Creds != nil:
		return c.Creds, false
	case c.AccessKey != "":
		return credentials.NewStaticV4(c.AccessKey, c.SecretKey, c.SessionToken), false
	default:
		return credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{},
			&credentials.EnvMinio{},
			&credentials.FileAWSCredentials{},
			&credentials.IAM{},
		}), true
	}
}
