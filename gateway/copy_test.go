package gateway

import (
	"bytes"
	"errors"
	"testing"

	"github.com/casstore/casstore/cas"
)

// The pipelined copy never writes a complete wrong body, at any size
// (buffer multiples included), and tells short and long content apart.
func TestCopyPipelined(t *testing.T) {
	const buf = 256 << 10
	for _, size := range []int{pipelineMin + 1, 8 * buf, 8*buf + 1, 3*buf - 1} {
		data := randBytes(size)
		d := cas.Sum(data)
		var out bytes.Buffer
		if err := copyPipelined(&out, bytes.NewReader(data), d, int64(size)); err != nil || !bytes.Equal(out.Bytes(), data) {
			t.Fatalf("size %d: %v, %d bytes", size, err, out.Len())
		}
		bad := bytes.Clone(data)
		bad[size-1] ^= 1
		for what, c := range map[string]struct {
			src  []byte
			size int64
		}{
			"last byte changed":  {bad, int64(size)},
			"first byte changed": {append([]byte{data[0] ^ 1}, data[1:]...), int64(size)},
			"shorter":            {data[:size-1], int64(size)},
		} {
			out.Reset()
			err := copyPipelined(&out, bytes.NewReader(c.src), d, c.size)
			if !errors.Is(err, cas.ErrCorrupt) || int64(out.Len()) >= c.size {
				t.Errorf("size %d, %s: %v, wrote %d of %d", size, what, err, out.Len(), c.size)
			}
		}
		// Bytes past the size are not read: what is sent verified.
		out.Reset()
		if err := copyPipelined(&out, bytes.NewReader(append(bytes.Clone(data), 'x')), d, int64(size)); err != nil || !bytes.Equal(out.Bytes(), data) {
			t.Errorf("size %d, longer: %v", size, err)
		}
	}
}
