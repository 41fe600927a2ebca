package s3

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/casstore/casstore/cas"
)

var _ cas.Linker = (*Backend)(nil)

// Link implements cas.Linker.
//
// By default it returns a presigned GET URL valid for opts.Expires (1 s to 7
// days), whose signed query asks the server to answer with
// Content-Disposition (cas.ContentDisposition of opts.Name: attachment, or
// inline on request) and, when opts.ContentType is set, that Content-Type.
// Changing any part of it (name, type, expiry, key) breaks the signature.
//
// With opts.Public it returns the object's plain URL, and only when the
// configuration declares the bucket public (Config.PublicLinks); otherwise
// the error wraps cas.ErrNotSupported. S3 refuses response-header overrides
// on anonymous requests, so a public link carries neither name nor type: the
// browser sees the Content-Type stored with the object.
//
// The URL is path-style or virtual-hosted as the client is configured. With
// Config.Region set, Link is pure computation: no request is made (without a
// region, minio-go looks it up once per bucket and caches it).
func (b *Backend) Link(ctx context.Context, d cas.Digest, opts cas.LinkOptions) (string, error) {
	op := "link " + d.Short()
	if opts.Public {
		return b.publicLink(ctx, op, d)
	}
	if err := opts.Validate(); err != nil {
		return "", fmt.Errorf("s3: %s: %w", op, err)
	}
	if strings.ContainsFunc(opts.ContentType, isCtl) {
		return "", fmt.Errorf("s3: %s: content type %q has control characters", op, opts.ContentType)
	}
	params := make(url.Values, 2)
	params.Set("response-content-disposition", cas.ContentDisposition(opts.Name, opts.Inline))
	if opts.ContentType != "" {
		params.Set("response-content-type", opts.ContentType)
	}
	key := b.Key(d)
	u, err := b.client.PresignedGetObject(ctx, b.cfg.Bucket, key, opts.Expires, params)
	if err != nil {
		return "", b.mapErr(op, key, "s3:GetObject", err)
	}
	return u.String(), nil
}

// publicLink is the object's URL without a query. It is built by the same
// code as presigned URLs (host, style and key encoding included) and the
// signature then dropped, so the two kinds always point at the same place.
func (b *Backend) publicLink(ctx context.Context, op string, d cas.Digest) (string, error) {
	if !b.cfg.PublicLinks {
		return "", fmt.Errorf("s3: %s: public links are off for bucket %q: set public_links=true (CASCTL_PUBLIC_LINKS) only for a bucket that is deliberately public, or leave out --public for a presigned link: %w",
			op, b.cfg.Bucket, cas.ErrNotSupported)
	}
	key := b.Key(d)
	u, err := b.client.PresignedGetObject(ctx, b.cfg.Bucket, key, time.Minute, nil)
	if err != nil {
		return "", b.mapErr(op, key, "s3:GetObject", err)
	}
	u.RawQuery, u.ForceQuery = "", false
	return u.String(), nil
}

func isCtl(r rune) bool { return r < 0x20 || r == 0x7f }
