package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/cas/s3"
	"github.com/casstore/casstore/doctor"
	"github.com/casstore/casstore/internal/testenv"
)

// rolePolicy returns the documented policy for role (docs/policies),
// filled in for bucket and prefix ("" or ending in "/").
func rolePolicy(t *testing.T, role, bucket, prefix string) string {
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "policies", role+".json"))
	require.NoError(t, err)
	var v any
	require.NoError(t, json.Unmarshal(raw, &v), "docs/policies/%s.json is JSON", role)
	s := strings.ReplaceAll(string(raw), "YOUR-PREFIX/", prefix)
	return strings.ReplaceAll(s, "YOUR-BUCKET", bucket)
}

// roleCLI is a casctl harness on bucket/prefix with a new MinIO user that
// has only the documented policy of role.
func roleCLI(t *testing.T, m *testenv.MinIOEnv, role, bucket, prefix string) (*harness, *minio.Client) {
	access, secret := m.NewUser(t, rolePolicy(t, role, bucket, prefix))
	c := newCLI(t)
	c.vars["CASCTL_STORE"] = "s3://" + bucket + "/" + prefix
	c.vars["AWS_ENDPOINT_URL_S3"] = m.Endpoint
	c.vars["AWS_REGION"] = m.Region
	c.vars["AWS_ACCESS_KEY_ID"] = access
	c.vars["AWS_SECRET_ACCESS_KEY"] = secret
	c.vars["CASCTL_PATH_STYLE"] = "true"
	raw, err := minio.New(m.Host, &minio.Options{Creds: credentials.NewStaticV4(access, secret, ""), Region: m.Region})
	require.NoError(t, err)
	return c, raw
}

func TestLeastPrivilegeRoles(t *testing.T) {
	ctx := context.Background()
	m := testenv.MinIO(t)
	bucket := m.NewBucket(t)
	const prefix = "attachments/"
	writer, writerRaw := roleCLI(t, m, "writer", bucket, prefix)
	reader, _ := roleCLI(t, m, "reader", bucket, prefix)

	// The writer puts and dedups (the conditional PUT's 412).
	data := []byte("a recording the writer may only add")
	d := cas.Sum(data)
	f := writer.file("rec.wav", data)
	assert.Contains(t, writer.ok("put", f), d.String()+"  new")
	assert.Contains(t, writer.ok("put", f), d.String()+"  stored")

	// It may not read, and is told which permission is missing.
	r := writer.run(nil, "get", d.String())
	assert.Equal(t, exitDenied, r.code, r.stderr)
	assert.Contains(t, r.stderr, "s3:GetObject")
	assert.Contains(t, r.stderr, "arn:aws:s3:::"+bucket+"/"+prefix+d.String())

	// Nor delete, even with a raw S3 request.
	key := prefix + d.String()
	err := writerRaw.RemoveObject(ctx, bucket, key, minio.RemoveObjectOptions{})
	require.Error(t, err)
	assert.Equal(t, "AccessDenied", minio.ToErrorResponse(err).Code)
	_, err = m.Admin.StatObject(ctx, bucket, key, minio.StatObjectOptions{})
	require.NoError(t, err, "still there")

	// Outside its prefix it may not even write.
	_, err = writerRaw.PutObject(ctx, bucket, "elsewhere", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{})
	assert.Equal(t, "AccessDenied", minio.ToErrorResponse(err).Code)

	// The reader gets (verified, every byte) and stats, but may not put.
	assert.Equal(t, string(data), reader.ok("get", d.String()))
	out := filepath.Join(reader.dir, "out.wav")
	reader.ok("get", d.String(), "-o", out)
	got, err := os.ReadFile(out)
	require.NoError(t, err)
	assert.Equal(t, data, got)
	assert.Contains(t, reader.ok("stat", d.String()), d.String())
	r = reader.run(nil, "put", reader.file("new.txt", []byte("the reader may not add this")))
	assert.NotEqual(t, exitOK, r.code)
	assert.Contains(t, r.stderr, "s3:PutObject")

	// The auditor lists and reads; it may not put.
	access, secret := m.NewUser(t, rolePolicy(t, "auditor", bucket, prefix))
	b, err := s3.New(ctx, s3.Config{Endpoint: m.Endpoint, Region: m.Region, Bucket: bucket, Prefix: prefix, PathStyle: true, AccessKey: access, SecretKey: secret})
	require.NoError(t, err)
	var names []string
	require.NoError(t, b.Walk(ctx, func(e cas.Entry) error { names = append(names, e.Name); return nil }))
	assert.Equal(t, []string{d.String()}, names)
	_, err = cas.New(b).WriteTo(ctx, d, &bytes.Buffer{})
	require.NoError(t, err)
	_, err = cas.New(b).Put(ctx, bytes.NewReader([]byte("no")), cas.PutOptions{})
	require.ErrorIs(t, err, cas.ErrAccessDenied)
	assert.Contains(t, err.Error(), "s3:PutObject")

	// Each role's doctor reports what its policy leaves out as "not
	// permitted", and fails nothing.
	for name, h := range map[string]*harness{"writer": writer, "reader": reader} {
		r := h.run(nil, "doctor", "--json")
		require.Equal(t, exitOK, r.code, "%s: %s%s", name, r.stdout, r.stderr)
		var rep doctor.Report
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
		assert.NotZero(t, rep.Count(doctor.NotPermitted), name)
	}
}

// TestGetTellsHiddenFromMissing: on a versioned bucket a plain DELETE adds a
// delete marker; get says the blob is hidden, retained, and how to restore
// it, and says "not found" only for a blob that was never stored.
func TestGetTellsHiddenFromMissing(t *testing.T) {
	ctx := context.Background()
	c, m, bucket := s3CLI(t)
	require.NoError(t, m.Admin.EnableVersioning(ctx, bucket))
	data := []byte("deleted by someone, still retained")
	d := cas.Sum(data)
	c.ok("put", c.file("f", data))
	require.NoError(t, m.Admin.RemoveObject(ctx, bucket, d.String(), minio.RemoveObjectOptions{}))
	var marker string
	for o := range m.Admin.ListObjects(ctx, bucket, minio.ListObjectsOptions{WithVersions: true}) {
		require.NoError(t, o.Err)
		if o.IsDeleteMarker {
			marker = o.VersionID
		}
	}
	require.NotEmpty(t, marker)

	for _, args := range [][]string{{"get", d.String()}, {"get", d.String(), "-o", filepath.Join(c.dir, "out")}} {
		r := c.run(nil, args...)
		assert.Equal(t, exitNotFound, r.code, r.stderr)
		assert.Contains(t, r.stderr, "hidden by a delete marker, data still retained")
		assert.Contains(t, r.stderr, "mc rm --version-id "+marker+" ALIAS/"+bucket+"/"+d.String())
	}
	missing := c.run(nil, "get", cas.Sum([]byte("never stored")).String())
	assert.Equal(t, exitNotFound, missing.code)
	assert.Contains(t, missing.stderr, "not found")
	assert.NotContains(t, missing.stderr, "delete marker")

	// Following the advice restores it.
	require.NoError(t, m.Admin.RemoveObject(ctx, bucket, d.String(), minio.RemoveObjectOptions{VersionID: marker}))
	assert.Equal(t, string(data), c.ok("get", d.String()))
}

// TestInitObjectLockAndRetention: casctl init creates a locked, encrypted,
// private bucket; puts carry the configured retention, so a raw delete of
// the stored version fails.
func TestInitObjectLockAndRetention(t *testing.T) {
	ctx := context.Background()
	c, m, _ := s3CLI(t)
	bucket := testenv.RandomName("init-")
	c.vars["CASCTL_STORE"] = "s3://" + bucket
	c.vars["CASCTL_SSE"] = "kms"
	c.vars["CASCTL_SSE_KMS_KEY_ID"] = "casstore-test"
	out := c.ok("init", "--object-lock-mode", "governance", "--object-lock-retention", "1d")
	t.Log(out)
	assert.Contains(t, out, "object lock         on")
	assert.Contains(t, out, "GOVERNANCE 1 DAYS")
	assert.Contains(t, out, "SSE-KMS")
	assert.Contains(t, out, "none (no bucket policy)")

	r := c.run(nil, "init")
	assert.NotEqual(t, exitOK, r.code)
	assert.Contains(t, r.stderr, "already exists")

	c.vars["CASCTL_OBJECT_LOCK_MODE"] = "governance"
	c.vars["CASCTL_OBJECT_LOCK_RETENTION"] = "2h"
	data := []byte("under lock")
	d := cas.Sum(data)
	c.ok("put", c.file("f", data))
	info, err := m.Admin.StatObject(ctx, bucket, d.String(), minio.StatObjectOptions{})
	require.NoError(t, err)
	assert.Equal(t, "GOVERNANCE", info.Metadata.Get("X-Amz-Object-Lock-Mode"))
	until, err := time.Parse(time.RFC3339, info.Metadata.Get("X-Amz-Object-Lock-Retain-Until-Date"))
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(2*time.Hour), until, 5*time.Minute, "the configured retention, not the bucket's default")
	assert.Equal(t, "aws:kms", info.Metadata.Get("X-Amz-Server-Side-Encryption"))
	err = m.Admin.RemoveObject(ctx, bucket, d.String(), minio.RemoveObjectOptions{VersionID: info.VersionID})
	require.Error(t, err, "a raw delete of the stored version fails")

	rep := c.run(nil, "doctor")
	assert.Equal(t, exitOK, rep.code, rep.stdout+rep.stderr)
	assert.Contains(t, rep.stdout, "every put carries a GOVERNANCE retention of 2h0m0s")

	// A disk store: init creates the directory.
	disk := newCLI(t)
	dir := filepath.Join(disk.dir, "store")
	assert.Contains(t, disk.ok("init", "--store", dir), "created")
	fi, err := os.Stat(dir)
	require.NoError(t, err)
	assert.True(t, fi.IsDir())
	assert.Contains(t, disk.ok("init", "--store", dir), "exists")
}

func TestDoctorCommand(t *testing.T) {
	c, m, _ := s3CLI(t)
	r := c.run(nil, "doctor", "--json")
	require.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	var rep doctor.Report
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
	assert.False(t, rep.Failed())
	assert.NotContains(t, r.stdout, m.SecretKey)
	text := c.ok("doctor")
	assert.Contains(t, text, "secret_access_key")
	assert.Contains(t, text, "from env AWS_SECRET_ACCESS_KEY")
	assert.NotContains(t, text, m.SecretKey)

	missing := c.with("CASCTL_STORE", "s3://"+testenv.RandomName("missing-"))
	r = missing.run(nil, "doctor")
	assert.Equal(t, exitProblems, r.code)
	assert.Contains(t, r.stdout, "[failed]")
	assert.Contains(t, r.stdout, "casctl init")

	wrong := c.with("AWS_SECRET_ACCESS_KEY", "wrong-secret-do-not-print")
	r = wrong.run(nil, "doctor", "--json")
	assert.Equal(t, exitProblems, r.code)
	assert.NotContains(t, r.stdout+r.stderr, "wrong-secret-do-not-print")
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &rep))
	ck, ok := rep.Check(doctor.CheckCredentials)
	require.True(t, ok)
	assert.Equal(t, doctor.Failed, ck.Status)

	bad := c.with("CASCTL_SSE", "kms") // without a key id
	r = bad.run(nil, "doctor")
	assert.Equal(t, exitProblems, r.code)
	assert.Contains(t, r.stdout, "sse_kms_key_id")

	d := newCLI(t)
	require.NoError(t, os.MkdirAll(d.storeDir(), 0o755))
	r = d.run(nil, "doctor")
	assert.Equal(t, exitOK, r.code, r.stdout+r.stderr)
	assert.Contains(t, r.stdout, "free space")
}
