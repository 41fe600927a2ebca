package s3

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casstore/casstore/internal/testenv"
)

func TestCreateBucket(t *testing.T) {
	ctx := context.Background()
	env := testenv.MinIO(t)
	cfg := Config{Endpoint: env.Endpoint, Region: env.Region, PathStyle: true, AccessKey: env.AccessKey, SecretKey: env.SecretKey}

	cfg.Bucket = testenv.RandomName("init-")
	b, got, err := CreateBucket(ctx, cfg, BucketOptions{})
	require.NoError(t, err)
	assert.Equal(t, "SSE-S3", got.Encryption.String())
	assert.False(t, got.ObjectLock)
	assert.False(t, got.PublicPolicy)
	enc, err := b.DefaultEncryption(ctx)
	require.NoError(t, err)
	assert.Equal(t, "AES256", enc.Algorithm)

	_, _, err = CreateBucket(ctx, cfg, BucketOptions{})
	require.ErrorIs(t, err, ErrBucketExists)

	locked := cfg
	locked.Bucket = testenv.RandomName("init-")
	locked.SSE, locked.SSEKMSKeyID = SSEKMS, testKMSKey
	locked.LockMode, locked.LockRetention = "compliance", 36*time.Hour
	b, got, err = CreateBucket(ctx, locked, BucketOptions{ObjectLock: true})
	require.NoError(t, err)
	assert.Equal(t, "COMPLIANCE 2 DAYS", got.LockDefault)
	lc, err := b.ObjectLock(ctx)
	require.NoError(t, err)
	assert.True(t, lc.Enabled)
	assert.Equal(t, "COMPLIANCE", lc.Mode)
	v, err := b.Versioning(ctx)
	require.NoError(t, err)
	assert.Equal(t, "Enabled", v)
	enc, err = b.DefaultEncryption(ctx)
	require.NoError(t, err)
	assert.Equal(t, "aws:kms", enc.Algorithm)
	assert.Contains(t, enc.KMSKeyID, testKMSKey)

	nolock := cfg
	nolock.Bucket = testenv.RandomName("init-")
	nolock.LockMode, nolock.LockRetention = "governance", time.Hour
	_, _, err = CreateBucket(ctx, nolock, BucketOptions{})
	require.ErrorContains(t, err, "Object Lock")
}
