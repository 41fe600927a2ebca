package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casstore/casstore/cas"
)

func TestS3PutGetTamper(t *testing.T) {
	c, m, bucket := s3CLI(t)
	data := []byte("a call recording, say")
	d := cas.Sum(data)
	f := c.file("call.wav", data)
	assert.Contains(t, c.ok("put", "--type", "audio/wav", f), d.String()+"  new")
	assert.Contains(t, c.ok("put", f), d.String()+"  stored")
	assert.Equal(t, string(data), c.ok("get", d.String()))

	// Stored as Request Tracker stores it: key = digest, Content-Type set.
	info, err := m.Admin.StatObject(context.Background(), bucket, d.String(), minio.StatObjectOptions{})
	require.NoError(t, err)
	assert.Equal(t, "audio/wav", info.ContentType)

	// Tampered behind the store's back: get -o leaves no file.
	other := []byte("A call recording, say")
	_, err = m.Admin.PutObject(context.Background(), bucket, d.String(), bytes.NewReader(other), int64(len(other)), minio.PutObjectOptions{})
	require.NoError(t, err)
	dst := filepath.Join(c.dir, "out.wav")
	r := c.run(nil, "get", d.String(), "-o", dst)
	assert.Equal(t, exitCorrupt, r.code, r.stderr)
	_, err = os.Stat(dst)
	assert.ErrorIs(t, err, os.ErrNotExist)
}

func TestS3ClearErrors(t *testing.T) {
	c, m, _ := s3CLI(t)
	f := c.file("x", []byte("x"))

	down := c.with("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:1")
	r := down.run(nil, "put", f)
	assert.Equal(t, exitUnavailable, r.code, r.stderr)
	assert.Contains(t, r.stderr, "127.0.0.1:1")

	wrong := c.with("AWS_SECRET_ACCESS_KEY", "wrong-secret-do-not-print")
	r = wrong.run(nil, "put", f)
	assert.Equal(t, exitDenied, r.code, r.stderr)
	assert.NotContains(t, r.stderr+r.stdout, "wrong-secret-do-not-print")
	assert.NotContains(t, r.stderr+r.stdout, m.SecretKey)

	missing := c.with("CASCTL_STORE", "s3://casstore-no-such-bucket")
	r = missing.run(nil, "put", f)
	assert.Equal(t, exitUsage, r.code, r.stderr)
	assert.Contains(t, r.stderr, "casstore-no-such-bucket")
	assert.NotContains(t, r.stderr, m.SecretKey)
}
