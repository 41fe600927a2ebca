package disk_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/cas/disk"
	"github.com/casstore/casstore/cas/storetest"
)

func newBackend(t *testing.T) *disk.Backend {
	b, err := disk.New(filepath.Join(t.TempDir(), "blobs"))
	require.NoError(t, err)
	return b
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) cas.Backend { return newBackend(t) }, storetest.Options{LargeSize: 70 << 20})
}

func TestLayoutIsRequestTrackers(t *testing.T) {
	b := newBackend(t)
	d := cas.EmptyDigest
	assert.Equal(t, filepath.Join(b.Root(), "e3b", "0c4", "4298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), b.Path(d))
}

func TestBlobFilesAreReadOnly(t *testing.T) {
	b := newBackend(t)
	res, err := cas.New(b).Put(context.Background(), bytes.NewReader([]byte("x")), cas.PutOptions{})
	require.NoError(t, err)
	fi, err := os.Stat(b.Path(res.Digest))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o444), fi.Mode().Perm())
}

func TestTempFileFromCrashIsNotABlob(t *testing.T) {
	ctx := context.Background()
	b := newBackend(t)
	data := []byte("complete content")
	d := cas.Sum(data)
	// A crash mid-write leaves a truncated temporary file beside the blob's
	// final name.
	dir := filepath.Dir(b.Path(d))
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, disk.TempPrefix+"123"), data[:5], 0o644))

	_, err := b.Stat(ctx, d)
	require.ErrorIs(t, err, cas.ErrNotFound)
	var strays []string
	require.NoError(t, b.Walk(ctx, func(e cas.Entry) error {
		assert.False(t, e.Valid)
		strays = append(strays, e.Name)
		return nil
	}))
	assert.Len(t, strays, 1)
	// The next put stores the whole blob; the stray is left for doctor.
	res, err := cas.New(b).Put(ctx, bytes.NewReader(data), cas.PutOptions{})
	require.NoError(t, err)
	assert.True(t, res.New)
}

func TestTamperedBlobIsCorrupt(t *testing.T) {
	ctx := context.Background()
	b := newBackend(t)
	s := cas.New(b)
	res, err := s.Put(ctx, bytes.NewReader([]byte("original bytes")), cas.PutOptions{})
	require.NoError(t, err)
	path := b.Path(res.Digest)
	require.NoError(t, os.Chmod(path, 0o644))
	require.NoError(t, os.WriteFile(path, []byte("tampered bytes"), 0o644))
	var out bytes.Buffer
	_, err = s.WriteTo(ctx, res.Digest, &out)
	assert.ErrorIs(t, err, cas.ErrCorrupt)
	assert.NotEqual(t, "tampered bytes", out.String(), "a complete wrong body must never be delivered")
}

func TestExistingFileOfOtherSizeIsConflict(t *testing.T) {
	ctx := context.Background()
	b := newBackend(t)
	data := []byte("the real blob")
	d := cas.Sum(data)
	require.NoError(t, os.MkdirAll(filepath.Dir(b.Path(d)), 0o755))
	require.NoError(t, os.WriteFile(b.Path(d), []byte("squatter"), 0o644))
	_, err := cas.New(b).Put(ctx, bytes.NewReader(data), cas.PutOptions{})
	assert.ErrorIs(t, err, cas.ErrConflict)
	got, err := os.ReadFile(b.Path(d))
	require.NoError(t, err)
	assert.Equal(t, "squatter", string(got), "left untouched")
}

func TestForeignFileOfRightSizeButWrongBytesIsConflict(t *testing.T) {
	ctx := context.Background()
	b := newBackend(t)
	data := []byte("the real blob")
	d := cas.Sum(data)
	require.NoError(t, os.MkdirAll(filepath.Dir(b.Path(d)), 0o755))
	// What a crash can leave of a file written in place: its length, in zeros.
	require.NoError(t, os.WriteFile(b.Path(d), make([]byte, len(data)), 0o644))
	_, err := cas.New(b).Put(ctx, bytes.NewReader(data), cas.PutOptions{})
	assert.ErrorIs(t, err, cas.ErrConflict)

	// A foreign file with the right bytes (Request Tracker's) is the blob.
	require.NoError(t, os.WriteFile(b.Path(d), data, 0o644))
	res, err := cas.New(b).Put(ctx, bytes.NewReader(data), cas.PutOptions{})
	require.NoError(t, err)
	assert.False(t, res.New)
}

func TestSymlinkIsNotABlob(t *testing.T) {
	ctx := context.Background()
	b := newBackend(t)
	secret := filepath.Join(t.TempDir(), "elsewhere")
	require.NoError(t, os.WriteFile(secret, []byte("not a blob"), 0o644))
	d := cas.Sum([]byte("not a blob"))
	require.NoError(t, os.MkdirAll(filepath.Dir(b.Path(d)), 0o755))
	require.NoError(t, os.Symlink(secret, b.Path(d)))
	_, _, err := b.Open(ctx, d, 0, -1)
	assert.Error(t, err)
	assert.ErrorIs(t, err, cas.ErrCorrupt)
	// Stat agrees with Open, so a quick verify does not pass it.
	_, err = b.Stat(ctx, d)
	assert.ErrorIs(t, err, cas.ErrCorrupt)
}
