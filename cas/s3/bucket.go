package s3

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/sse"
)

// ErrBucketExists: CreateBucket found the bucket already there.
var ErrBucketExists = errors.New("bucket already exists")

// BucketOptions say how CreateBucket sets up a bucket.
type BucketOptions struct {
	// ObjectLock creates the bucket with Object Lock (and so versioning).
	// It can only be chosen at creation.
	ObjectLock bool
}

// Created says what CreateBucket set up.
type Created struct {
	Bucket       string
	Region       string
	ObjectLock   bool
	Versioning   bool
	Encryption   Encryption // the bucket's default encryption
	LockDefault  string     // default retention, "GOVERNANCE 30 DAYS"; "" for none
	PublicPolicy bool       // a bucket policy exists (never set by CreateBucket)
}

// CreateBucket creates cfg.Bucket in cfg.Region, set up for a store:
// default encryption (cfg.SSE's, SSE-S3 when unset), Object Lock when
// asked for, with cfg's retention as the bucket's default retention when
// cfg.LockMode is set, and no bucket policy, so nothing is public. An
// existing bucket is ErrBucketExists and left as it is.
func CreateBucket(ctx context.Context, cfg Config, opts BucketOptions) (*Backend, Created, error) {
	b, err := New(ctx, cfg)
	if err != nil {
		return nil, Created{}, err
	}
	mode := b.lock
	if mode != "" && !opts.ObjectLock {
		return nil, Created{}, fmt.Errorf("s3: create bucket %s: object_lock_mode %s needs a bucket with Object Lock", cfg.Bucket, cfg.LockMode)
	}
	op := "create bucket " + cfg.Bucket
	err = b.client.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region, ObjectLocking: opts.ObjectLock})
	if err != nil {
		if c := code(err); c == "BucketAlreadyOwnedByYou" || c == "BucketAlreadyExists" {
			return nil, Created{}, fmt.Errorf("s3: %s at %s: %w (casctl doctor checks its settings)", op, b.ep.host, ErrBucketExists)
		}
		return nil, Created{}, b.mapErr(op, "", "s3:CreateBucket", err)
	}
	out := Created{Bucket: cfg.Bucket, Region: cfg.Region, ObjectLock: opts.ObjectLock, Versioning: opts.ObjectLock}

	enc := b.UploadEncryption()
	conf := sse.NewConfigurationSSES3()
	if enc.Algorithm == "aws:kms" {
		conf = sse.NewConfigurationSSEKMS(enc.KMSKeyID)
	} else {
		enc = Encryption{Algorithm: "AES256"}
	}
	if err := b.client.SetBucketEncryption(ctx, cfg.Bucket, conf); err != nil {
		return nil, out, b.mapErr(op+": default encryption", "", "s3:PutEncryptionConfiguration", err)
	}
	out.Encryption = enc

	if mode != "" {
		days := uint((cfg.LockRetention + 24*time.Hour - 1) / (24 * time.Hour))
		unit := minio.Days
		if err := b.client.SetObjectLockConfig(ctx, cfg.Bucket, &mode, &days, &unit); err != nil {
			return nil, out, b.mapErr(op+": default retention", "", "s3:PutBucketObjectLockConfiguration", err)
		}
		out.LockDefault = fmt.Sprintf("%s %d DAYS", mode, days)
	}

	// A new bucket has no policy; say so only after checking.
	pol, err := b.client.GetBucketPolicy(ctx, cfg.Bucket)
	if err != nil && code(err) != "NoSuchBucketPolicy" {
		return nil, out, b.mapErr(op+": bucket policy", "", "s3:GetBucketPolicy", err)
	}
	out.PublicPolicy = pol != ""
	return b, out, nil
}
