package s3

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/casstore/casstore/cas"
)

// mapErr is the one place where minio-go and network errors become cas
// sentinels. op names the operation ("put 0123abcd4567"), key the object and
// perm the S3 permission the request needs, for AccessDenied. The result
// reads "s3: op: detail: sentinel" and never contains a secret. Errors that
// map to no sentinel (PreconditionFailed among them) keep the minio-go error
// in their chain.
func (b *Backend) mapErr(op, key, perm string, err error) error {
	if err == nil {
		return nil
	}
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		msg := b.scrub(er.Message)
		switch er.Code {
		case minio.NoSuchKey, "NotFound":
			return fmt.Errorf("s3: %s: %s: %w", op, key, cas.ErrNotFound)
		case minio.NoSuchBucket:
			return fmt.Errorf("s3: %s: bucket %q at %s: %w", op, b.cfg.Bucket, b.ep.host, cas.ErrNoBucket)
		case minio.AccessDenied, "AllAccessDisabled", "AccountProblem":
			resource := b.cfg.Bucket
			if key != "" {
				resource += "/" + key
			}
			return fmt.Errorf("s3: %s: arn:aws:s3:::%s: the credential needs %s (server: %q)%s: %w",
				op, resource, perm, msg, b.anonymousHint(), cas.ErrAccessDenied)
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "InvalidTokenId", "ExpiredToken",
			"TokenRefreshRequired", "InvalidSecurity", "AuthorizationHeaderMalformed":
			return fmt.Errorf("s3: %s: %s (%s) at %s: %w", op, er.Code, msg, b.ep.host, cas.ErrBadCredentials)
		case "XAmzContentSHA256Mismatch", "BadDigest", "InvalidDigest", "XAmzContentChecksumMismatch",
			"InvalidChecksum", "XAmzChecksumMismatch", "IncompleteBody":
			return fmt.Errorf("s3: %s: the server refused the body: %s (%s): %w", op, er.Code, msg, cas.ErrCorrupt)
		}
		if er.StatusCode == http.StatusServiceUnavailable || er.Code == "SlowDown" || er.Code == "XMinioServerNotInitialized" {
			return fmt.Errorf("s3: %s: %s at %s: %s: %w", op, er.Code, b.ep.host, msg, cas.ErrUnavailable)
		}
		return fmt.Errorf("s3: %s: %s: %w", op, key, scrubbed{err, b})
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("s3: %s: %w", op, err)
	}
	var dns *net.DNSError
	var ne net.Error
	if errors.As(err, &dns) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) ||
		(errors.As(err, &ne) && ne.Timeout()) || isNetOp(err) {
		detail := err.Error()
		var oe *net.OpError
		if errors.As(err, &oe) {
			detail = oe.Error()
		}
		return fmt.Errorf("s3: %s: cannot reach %s: %s: %w", op, b.cfg.endpointOrDefault(), b.scrub(detail), cas.ErrUnavailable)
	}
	return fmt.Errorf("s3: %s: %w", op, scrubbed{err, b})
}

// isNetOp reports a failed dial or connection.
func isNetOp(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe)
}

// anonymousHint explains an AccessDenied when the default credential chain
// found nothing and requests went out unsigned.
func (b *Backend) anonymousHint() string {
	if !b.chain {
		return ""
	}
	v, err := b.client.GetCreds()
	if err == nil && v.SignerType != credentials.SignatureAnonymous && v.AccessKeyID != "" {
		return ""
	}
	return " (no credentials found in AWS_*/MINIO_* variables, ~/.aws/credentials or instance metadata: requests were anonymous)"
}

// scrub removes the secret key and session token from s, should a server
// or library ever echo them.
func (b *Backend) scrub(s string) string {
	for _, secret := range []string{b.cfg.SecretKey, b.cfg.SessionToken} {
		if len(secret) >= 4 {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}

// scrubbed wraps an error whose text is scrubbed of secrets while errors.As
// and errors.Is still see the original.
type scrubbed struct {
	err error
	b   *Backend
}

func (e scrubbed) Error() string { return e.b.scrub(e.err.Error()) }
func (e scrubbed) Unwrap() error { return e.err }

// isPrecondition reports a 412 Precondition Failed: with If-None-Match: *,
// the key exists.
func isPrecondition(err error) bool {
	var er minio.ErrorResponse
	return errors.As(err, &er) && (er.Code == minio.PreconditionFailed || er.StatusCode == http.StatusPreconditionFailed)
}

// isInvalidRange reports a 416 Range Not Satisfiable.
func isInvalidRange(err error) bool {
	var er minio.ErrorResponse
	return errors.As(err, &er) && (er.Code == "InvalidRange" || er.StatusCode == http.StatusRequestedRangeNotSatisfiable)
}
