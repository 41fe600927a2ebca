package s3

import (
	"bytes"
	"context"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casstore/casstore/cas"
)

// testKMSKey is the static KMS key scripts/test gives MinIO.
const testKMSKey = "casstore-test"

func TestSSEConfig(t *testing.T) {
	for _, c := range []struct {
		sse, key string
		ok       bool
	}{
		{"", "", true}, {"s3", "", true}, {"kms", "k", true},
		{"kms", "", false}, {"s3", "k", false}, {"", "k", false}, {"rot13", "", false},
	} {
		_, err := Config{SSE: c.sse, SSEKMSKeyID: c.key}.encryption()
		assert.Equal(t, c.ok, err == nil, "sse=%q key=%q: %v", c.sse, c.key, err)
	}
	_, err := New(context.Background(), Config{Endpoint: "http://127.0.0.1:1", Bucket: "abc", SSE: "kms"})
	assert.ErrorContains(t, err, "sse_kms_key_id")
}

func TestUploadsEncrypted(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name, sse, key, wantAlg string
	}{
		{"SSE-S3", SSES3, "", "AES256"},
		{"SSE-KMS", SSEKMS, testKMSKey, "aws:kms"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, env := newBackend(t, func(cfg *Config) { cfg.SSE, cfg.SSEKMSKeyID = c.sse, c.key })
			data := []byte("encrypted at rest: " + c.name)
			res, err := cas.New(b).Put(ctx, bytes.NewReader(data), cas.PutOptions{})
			require.NoError(t, err)
			require.True(t, res.New)
			info, err := env.Admin.StatObject(ctx, b.Bucket(), b.Key(res.Digest), minio.StatObjectOptions{})
			require.NoError(t, err)
			assert.Equal(t, c.wantAlg, info.Metadata.Get("X-Amz-Server-Side-Encryption"), "%v", info.Metadata)
			if c.key != "" {
				assert.Contains(t, info.Metadata.Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"), c.key)
			}
			// Still readable, verified, and still deduplicated.
			assert.Equal(t, data, getObject(t, env, b.Bucket(), b.Key(res.Digest)))
			again, err := cas.New(b).Put(ctx, bytes.NewReader(data), cas.PutOptions{})
			require.NoError(t, err)
			assert.False(t, again.New)
			assert.Equal(t, c.wantAlg, b.UploadEncryption().Algorithm)
		})
	}
}

func TestUnencryptedUploadHasNoSSEHeader(t *testing.T) {
	ctx := context.Background()
	b, env := newBackend(t)
	res, err := cas.New(b).Put(ctx, bytes.NewReader([]byte("plain")), cas.PutOptions{})
	require.NoError(t, err)
	info, err := env.Admin.StatObject(ctx, b.Bucket(), b.Key(res.Digest), minio.StatObjectOptions{})
	require.NoError(t, err)
	assert.Empty(t, info.Metadata.Get("X-Amz-Server-Side-Encryption"))
	assert.Equal(t, "none", b.UploadEncryption().String())
}
