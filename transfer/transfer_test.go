package transfer_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/cas/disk"
	"github.com/casstore/casstore/cas/s3"
	"github.com/casstore/casstore/index"
	"github.com/casstore/casstore/internal/testenv"
	"github.com/casstore/casstore/transfer"
)

// TestCopyAndCheck: a disk store with an index, one blob tampered with, is
// copied to MinIO; Check then finds exactly that blob missing.
func TestCopyAndCheck(t *testing.T) {
	ctx := context.Background()
	src, err := disk.New(filepath.Join(t.TempDir(), "blobs"))
	require.NoError(t, err)
	ix, err := index.Open(ctx, filepath.Join(t.TempDir(), "index.db"), src.Location())
	require.NoError(t, err)
	defer ix.Close()
	from := cas.New(src, cas.WithIndex(ix))
	var ds []cas.Digest
	for i := range 6 {
		a, _, err := from.Attach(ctx, bytes.NewReader(bytes.Repeat([]byte(fmt.Sprint(i)), 1000*i)), cas.Attachment{Txn: fmt.Sprint("T", i%2), Name: fmt.Sprint(i)}, cas.PutOptions{})
		require.NoError(t, err)
		ds = append(ds, a.Digest)
	}
	bad := ds[3]
	require.NoError(t, os.Chmod(src.Path(bad), 0o644))
	require.NoError(t, os.WriteFile(src.Path(bad), bytes.Repeat([]byte("x"), 3000), 0o444))

	m := testenv.MinIO(t)
	dst, err := s3.New(ctx, s3.Config{Endpoint: m.Endpoint, Region: m.Region, Bucket: m.NewBucket(t),
		PathStyle: true, AccessKey: m.AccessKey, SecretKey: m.SecretKey})
	require.NoError(t, err)
	to := cas.New(dst, cas.WithTempDir(t.TempDir()))

	sum, err := transfer.Copy(ctx, from, to, transfer.Txn(ix, "T0"), transfer.Options{Jobs: 2})
	require.NoError(t, err)
	assert.EqualValues(t, 3, sum.Copied)
	res, err := transfer.Check(ctx, ix, dst, transfer.Options{})
	require.NoError(t, err)
	assert.EqualValues(t, 6, res.Checked)
	assert.Len(t, res.Missing, 3, "T1's blobs")

	sum, err = transfer.Copy(ctx, from, to, transfer.All(src), transfer.Options{})
	require.NoError(t, err)
	assert.EqualValues(t, 2, sum.Copied)
	assert.EqualValues(t, 3, sum.Present)
	require.Len(t, sum.Problems, 1)
	assert.Equal(t, bad, sum.Problems[0].Digest)
	assert.ErrorIs(t, sum.Problems[0].Err(), cas.ErrCorrupt)

	res, err = transfer.Check(ctx, ix, dst, transfer.Options{})
	require.NoError(t, err)
	require.Len(t, res.Missing, 1)
	assert.Equal(t, bad, res.Missing[0].Digest)
	assert.ErrorIs(t, res.Missing[0].Err(), cas.ErrNotFound)
}
