package cas

import (
	"bytes"
	"context"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHashStreamParts(t *testing.T) {
	data := make([]byte, 5*chunkSize+12345)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for _, part := range []int64{0, 1000, chunkSize, 3*chunkSize + 1, int64(len(data)), int64(len(data)) + 1} {
		var tee bytes.Buffer
		res, err := hashStream(context.Background(), iotest.OneByteReader(bytes.NewReader(data[:3000])), part, &tee)
		require.NoError(t, err)
		assert.Equal(t, Sum(data[:3000]), res.digest)
		assert.Equal(t, data[:3000], tee.Bytes())

		res, err = hashStream(context.Background(), bytes.NewReader(data), part, nil)
		require.NoError(t, err)
		assert.Equal(t, Sum(data), res.digest)
		assert.Equal(t, int64(len(data)), res.size)
		if part == 0 {
			assert.Nil(t, res.parts)
			continue
		}
		var want []Digest
		for off := int64(0); off < int64(len(data)); off += part {
			want = append(want, Sum(data[off:min(off+part, int64(len(data)))]))
		}
		assert.Equal(t, want, res.parts, "part size %d", part)
	}
}
