package cas_test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/casstore/casstore/cas"
	"github.com/casstore/casstore/cas/disk"
)

func readAll(data []byte, d cas.Digest, size int64) ([]byte, error) {
	r := cas.NewReader(io.NopCloser(iotest.HalfReader(bytes.NewReader(data))), d, size)
	return io.ReadAll(r)
}

func TestReaderVerifies(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 1000)
	d := cas.Sum(data)

	got, err := readAll(data, d, int64(len(data)))
	assert.NoError(t, err)
	assert.Equal(t, data, got)

	bad := bytes.Clone(data)
	bad[len(bad)-1] ^= 1
	got, err = readAll(bad, d, int64(len(data)))
	assert.ErrorIs(t, err, cas.ErrCorrupt)
	assert.Less(t, len(got), len(data), "the last bytes of a corrupt blob are withheld")

	got, err = readAll(data[:500], d, int64(len(data)))
	assert.ErrorIs(t, err, cas.ErrCorrupt, "truncated")
	assert.Len(t, got, 500-0, "what arrived is handed out, the error follows")

	_, err = readAll(append(bytes.Clone(data), 'x'), d, int64(len(data)))
	assert.ErrorIs(t, err, cas.ErrCorrupt, "longer than expected")

	got, err = readAll(nil, cas.EmptyDigest, 0)
	assert.NoError(t, err)
	assert.Empty(t, got)
	_, err = readAll(nil, d, 0)
	assert.ErrorIs(t, err, cas.ErrCorrupt, "empty content under a non-empty digest")
}

func TestStoreReaderStopsWhenCancelled(t *testing.T) {
	b, err := disk.New(t.TempDir())
	require.NoError(t, err)
	s := cas.New(b)
	data := bytes.Repeat([]byte("x"), 3<<20)
	res, err := s.Put(context.Background(), bytes.NewReader(data), cas.PutOptions{})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	r, err := s.Open(ctx, res.Digest)
	require.NoError(t, err)
	defer r.Close()
	_, err = r.Read(make([]byte, 1<<20))
	require.NoError(t, err)
	cancel()
	_, err = r.Read(make([]byte, 1<<20))
	assert.ErrorIs(t, err, context.Canceled)
}
