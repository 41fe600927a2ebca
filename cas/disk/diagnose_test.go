package disk

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casstore/casstore/cas"
)

func TestDiagnose(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "store")
	b, err := New(dir)
	require.NoError(t, err)

	st, err := b.Diagnose(ctx)
	require.NoError(t, err)
	assert.False(t, st.Exists)

	_, err = cas.New(b).Put(ctx, bytes.NewReader([]byte("a blob")), cas.PutOptions{})
	require.NoError(t, err)
	// What a crash leaves: a half-written temporary file; and a stray file.
	d := cas.Sum([]byte("a blob")).String()
	require.NoError(t, os.WriteFile(filepath.Join(dir, d[:3], d[3:6], TempPrefix+"123"), []byte("half"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hello"), 0o644))

	st, err = b.Diagnose(ctx)
	require.NoError(t, err)
	assert.True(t, st.Exists)
	assert.True(t, st.Writable, st.WriteError)
	assert.NotZero(t, st.FreeBytes)
	assert.LessOrEqual(t, st.FreeBytes, st.TotalBytes)
	assert.EqualValues(t, 1, st.Blobs)
	assert.EqualValues(t, 6, st.BlobBytes)
	require.Len(t, st.Temp, 1)
	assert.Equal(t, d[:3]+"/"+d[3:6]+"/"+TempPrefix+"123", st.Temp[0].Name)
	require.Len(t, st.Stray, 1)
	assert.Equal(t, "notes.txt", st.Stray[0].Name)

	leftovers, _ := filepath.Glob(filepath.Join(dir, TempPrefix+"doctor-*"))
	assert.Empty(t, leftovers, "the write check cleans up")
}
