package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/cas/disk"
	"github.com/casstore/casstore/transfer"
)

// putFiles puts n small files into store and returns their contents.
func putFiles(t *testing.T, c *harness, store string, n int) [][]byte {
	var contents [][]byte
	args := []string{"put", "--store", store}
	for i := range n {
		b := bytes.Repeat([]byte(fmt.Sprintf("blob %d ", i)), 100+i)
		contents = append(contents, b)
		args = append(args, c.file(fmt.Sprintf("f%d", i), b))
	}
	c.ok(args...)
	return contents
}

func copySummary(t *testing.T, r result) transfer.Summary {
	t.Helper()
	var s transfer.Summary
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &s), r.stdout+r.stderr)
	return s
}

func TestCopyDiskToMinIOWithTamperedBlob(t *testing.T) {
	c, m, bucket := s3CLI(t)
	src := filepath.Join(c.dir, "blobs")
	contents := putFiles(t, c, src, 5)
	b, err := disk.New(src)
	require.NoError(t, err)
	bad := cas.Sum(contents[2])
	require.NoError(t, os.Chmod(b.Path(bad), 0o644))
	tampered := bytes.ToUpper(contents[2])
	require.NoError(t, os.WriteFile(b.Path(bad), tampered, 0o444))

	r := c.run(nil, "copy", "--json", "--store", src, "--to", "s3://"+bucket)
	assert.Equal(t, exitProblems, r.code, r.stderr)
	assert.Contains(t, r.stderr, bad.String()+": copy "+bad.Short()+": the source blob does not match its digest")
	s := copySummary(t, r)
	assert.Equal(t, transfer.Summary{Blobs: 5, Copied: 4, Failed: 1}, transfer.Summary{Blobs: s.Blobs, Copied: s.Copied, Failed: s.Failed})

	ctx := context.Background()
	_, err = m.Admin.StatObject(ctx, bucket, bad.String(), minio.StatObjectOptions{})
	assert.Error(t, err, "the tampered blob is not copied")
	for i, data := range contents {
		if i == 2 {
			continue
		}
		obj, err := m.Admin.GetObject(ctx, bucket, cas.Sum(data).String(), minio.GetObjectOptions{})
		require.NoError(t, err)
		var got bytes.Buffer
		_, err = got.ReadFrom(obj)
		require.NoError(t, err)
		assert.Equal(t, data, got.Bytes())
	}
	onDisk, err := os.ReadFile(b.Path(bad))
	require.NoError(t, err)
	assert.Equal(t, tampered, onDisk, "the source is never changed")

	// Resumed: nothing copied again.
	r = c.run(nil, "copy", "--json", "--store", src, "--to", "s3://"+bucket)
	assert.Equal(t, exitProblems, r.code)
	s = copySummary(t, r)
	assert.Equal(t, transfer.Summary{Blobs: 5, Present: 4, Failed: 1}, transfer.Summary{Blobs: s.Blobs, Present: s.Present, Failed: s.Failed})

	// One digest: its own exit code.
	r = c.run(nil, "copy", "--store", src, "--to", "s3://"+bucket, bad.String())
	assert.Equal(t, exitCorrupt, r.code, r.stderr)
	r = c.run(nil, "copy", "--store", src, "--to", src)
	assert.Equal(t, exitUsage, r.code, "copy onto itself")
}

func TestCopyMinIOToDiskWithTamperedBlob(t *testing.T) {
	c, m, bucket := s3CLI(t)
	contents := putFiles(t, c, "s3://"+bucket, 4)
	bad := cas.Sum(contents[1])
	// Overwrite the object behind casstore's back (root may).
	tampered := bytes.ToUpper(contents[1])
	_, err := m.Admin.PutObject(context.Background(), bucket, bad.String(), bytes.NewReader(tampered), int64(len(tampered)), minio.PutObjectOptions{})
	require.NoError(t, err)

	dst := filepath.Join(c.dir, "copy")
	r := c.run(nil, "copy", "--json", "--to", dst)
	assert.Equal(t, exitProblems, r.code, r.stderr)
	assert.Contains(t, r.stderr, bad.String())
	assert.Contains(t, r.stderr, "does not match its digest")
	s := copySummary(t, r)
	assert.EqualValues(t, 3, s.Copied)
	assert.EqualValues(t, 1, s.Failed)
	b, err := disk.New(dst)
	require.NoError(t, err)
	_, err = os.Stat(b.Path(bad))
	assert.ErrorIs(t, err, os.ErrNotExist, "the tampered blob is not copied")
	for i, data := range contents {
		if i == 1 {
			continue
		}
		got, err := os.ReadFile(b.Path(cas.Sum(data)))
		require.NoError(t, err)
		assert.Equal(t, data, got)
	}
}

// TestSwitch: refused while a blob the index records is missing at the
// destination, accepted once the copy is complete; the history shows both
// stores, and the index then serves the new store only.
func TestSwitch(t *testing.T) {
	c, _, bucket := s3CLI(t)
	src, to := filepath.Join(c.dir, "blobs"), "s3://"+bucket
	idx := filepath.Join(c.dir, "index.db")
	tree := filepath.Join(c.dir, "tree")
	for p, content := range map[string]string{"T1/a": "alpha", "T1/b": "beta", "T2/c": "gamma"} {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(tree, p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(tree, p), []byte(content), 0o644))
	}
	c.ok("import", "--store", src, "--index", idx, tree)
	c.ok("copy", "--store", src, "--index", idx, "--txn", "T1", "--to", to)

	r := c.run(nil, "switch", "--store", src, "--index", idx, "--to", to)
	assert.Equal(t, exitNotFound, r.code, r.stderr)
	assert.Contains(t, r.stderr, "refused: 1 of 3 blobs")
	assert.Contains(t, r.stderr, cas.Sum([]byte("gamma")).String(), "the message names the missing blob")
	assert.NotContains(t, r.stderr, cas.Sum([]byte("alpha")).String())
	c.ok("ls", "--store", src, "--index", idx, "T2") // still the old store's

	c.ok("copy", "--store", src, "--to", to)
	out := c.ok("switch", "--store", src, "--index", idx, "--to", to)
	assert.Contains(t, out, "all 3 blobs checked")

	r = c.run(nil, "ls", "--store", src, "--index", idx, "T2")
	assert.Equal(t, exitUsage, r.code, "the index no longer belongs to the old store")
	assert.Equal(t, "gamma", c.ok("get", "--store", to, "--index", idx, "--txn", "T2", "--name", "c"))

	hist := c.ok("switch", "--history", "--index", idx)
	assert.Regexp(t, `^1\t\S+\tfile://`+filepath.ToSlash(src)+`\n2\t\S+\ts3://`, hist)
	assert.Contains(t, hist, "(current)")
	r = c.run(nil, "switch", "--store", src, "--index", idx, "--to", to)
	assert.Equal(t, exitUsage, r.code, "switching again from the old store")
}
