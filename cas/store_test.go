package cas_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/cas/disk"
)

// A file whose stated size is not its content's (size 0 under /proc) is
// stored with the bytes it holds, not as the empty blob.
func TestPutFileWithLyingSize(t *testing.T) {
	want, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc here")
	}
	fi, err := os.Stat("/proc/self/status")
	require.NoError(t, err)
	require.Zero(t, fi.Size(), "the case needs a file that reports size 0")
	b, err := disk.New(filepath.Join(t.TempDir(), "blobs"))
	require.NoError(t, err)
	res, err := cas.New(b, cas.WithTempDir(t.TempDir())).PutFile(context.Background(), "/proc/self/status", cas.PutOptions{})
	require.NoError(t, err)
	assert.NotEqual(t, cas.EmptyDigest, res.Digest)
	assert.Greater(t, res.Size, int64(len(want))/2, "the content was read, not the stated size")
}
