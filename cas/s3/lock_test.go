package s3

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/internal/testenv"
)

// lockedBackend returns a backend on a fresh Object Lock bucket whose
// puts carry a retention of mode for an hour.
func lockedBackend(t *testing.T, mode string, edit ...func(*Config)) (*Backend, *testenv.MinIOEnv) {
	t.Helper()
	env := testenv.MinIO(t)
	bucket := env.NewBucketWith(t, minio.MakeBucketOptions{ObjectLocking: true})
	return newBackend(t, append([]func(*Config){func(c *Config) {
		c.Bucket = bucket
		c.LockMode = mode
		c.LockRetention = time.Hour
	}}, edit...)...)
}

func TestParseRetention(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 0, "30d": 30 * 24 * time.Hour, "720h": 720 * time.Hour, "90m": 90 * time.Minute} {
		got, err := ParseRetention(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"0d", "-1h", "d", "30 days", "1y"} {
		_, err := ParseRetention(bad)
		assert.Error(t, err, bad)
	}
	_, err := Config{LockMode: "governance"}.lockMode()
	assert.Error(t, err, "a mode without a period")
	_, err = Config{LockMode: "forever", LockRetention: time.Hour}.lockMode()
	assert.Error(t, err)
}

func TestRetentionBlocksDeletingTheVersion(t *testing.T) {
	ctx := context.Background()
	for _, mode := range []string{"governance", "compliance"} {
		t.Run(mode, func(t *testing.T) {
			b, env := lockedBackend(t, mode)
			data := []byte("kept for an hour, " + mode)
			res, err := cas.New(b).Put(ctx, bytes.NewReader(data), cas.PutOptions{})
			require.NoError(t, err)
			key := b.Key(res.Digest)

			info, err := env.Admin.StatObject(ctx, b.Bucket(), key, minio.StatObjectOptions{})
			require.NoError(t, err)
			require.NotEmpty(t, info.VersionID)
			assert.Equal(t, mode, stringsToLower(info.Metadata.Get("X-Amz-Object-Lock-Mode")))
			until, err := time.Parse(time.RFC3339, info.Metadata.Get("X-Amz-Object-Lock-Retain-Until-Date"))
			require.NoError(t, err)
			assert.WithinDuration(t, time.Now().Add(time.Hour), until, 5*time.Minute)

			// Deleting the stored version, the only real delete, is refused
			// even to the administrator.
			err = env.Admin.RemoveObject(ctx, b.Bucket(), key, minio.RemoveObjectOptions{VersionID: info.VersionID})
			require.Error(t, err, "the retained version must not be deletable")
			t.Log(err)
			if mode == "compliance" {
				err = env.Admin.RemoveObject(ctx, b.Bucket(), key, minio.RemoveObjectOptions{VersionID: info.VersionID, GovernanceBypass: true})
				require.Error(t, err, "compliance mode cannot be bypassed")
			}
			assert.Equal(t, data, getObject(t, env, b.Bucket(), key))

			// A plain DELETE only adds a delete marker: the blob is hidden,
			// its data retained, and the error names the marker.
			require.NoError(t, env.Admin.RemoveObject(ctx, b.Bucket(), key, minio.RemoveObjectOptions{}))
			_, err = b.Stat(ctx, res.Digest)
			require.ErrorIs(t, err, cas.ErrHidden)
			var he *HiddenError
			require.True(t, errors.As(err, &he))
			assert.NotEmpty(t, he.MarkerID)
			assert.Equal(t, key, he.Key)
			_, _, err = b.Open(ctx, res.Digest, 0, -1)
			require.ErrorAs(t, err, &he)
			assert.NotEmpty(t, he.MarkerID)
			assert.Contains(t, err.Error(), he.MarkerID)

			// Removing the marker restores it.
			require.NoError(t, env.Admin.RemoveObject(ctx, b.Bucket(), key, minio.RemoveObjectOptions{VersionID: he.MarkerID}))
			_, err = cas.New(b).WriteTo(ctx, res.Digest, &bytes.Buffer{})
			require.NoError(t, err)
		})
	}
}

// TestMultipartCarriesEncryptionAndRetention: the multipart path asks for
// encryption and retention when the upload begins, and stays conditional.
func TestMultipartCarriesEncryptionAndRetention(t *testing.T) {
	ctx := context.Background()
	b, env := lockedBackend(t, "governance", func(c *Config) { c.SSE, c.SSEKMSKeyID = SSEKMS, testKMSKey })
	data := pseudoRandom(7, minPartSize+1<<20)
	s := cas.New(b)
	res, err := s.Put(ctx, bytes.NewReader(data), cas.PutOptions{})
	require.NoError(t, err)
	require.True(t, res.New)
	info, err := env.Admin.StatObject(ctx, b.Bucket(), b.Key(res.Digest), minio.StatObjectOptions{})
	require.NoError(t, err)
	assert.Equal(t, "aws:kms", info.Metadata.Get("X-Amz-Server-Side-Encryption"))
	assert.Equal(t, "GOVERNANCE", info.Metadata.Get("X-Amz-Object-Lock-Mode"))
	err = env.Admin.RemoveObject(ctx, b.Bucket(), b.Key(res.Digest), minio.RemoveObjectOptions{VersionID: info.VersionID})
	require.Error(t, err)

	again, err := s.Put(ctx, bytes.NewReader(data), cas.PutOptions{})
	require.NoError(t, err)
	assert.False(t, again.New)
	versions := 0
	for o := range env.Admin.ListObjects(ctx, b.Bucket(), minio.ListObjectsOptions{WithVersions: true}) {
		require.NoError(t, o.Err)
		versions++
	}
	assert.Equal(t, 1, versions, "no second version under the key")
}

func TestRetentionOnBucketWithoutLockIsRefused(t *testing.T) {
	ctx := context.Background()
	b, _ := newBackend(t, func(c *Config) { c.LockMode, c.LockRetention = "governance", time.Hour })
	_, err := cas.New(b).Put(ctx, bytes.NewReader([]byte("x")), cas.PutOptions{})
	require.Error(t, err)
	t.Log(err)
}

func stringsToLower(s string) string { return string(bytes.ToLower([]byte(s))) }
