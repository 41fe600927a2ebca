package progress_test

import (
	"bytes"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/casstore/casstore/internal/progress"
)

// syncBuffer is a bytes.Buffer safe for the bar's drawing goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSilentWhenNotATerminal(t *testing.T) {
	var buf bytes.Buffer
	bar := progress.New(&buf, "put", 1, 100)
	assert.Nil(t, bar)
	bar.AddBytes(10) // a nil bar is safe to use
	bar.AddItem()
	bar.Finish()
	assert.Empty(t, buf.String())
}

func TestBarShowsItemsBytesAndEnds(t *testing.T) {
	var buf syncBuffer
	bar := progress.NewAlways(&buf, "verify", 4, 4<<20)
	bar.AddBytes(2 << 20)
	bar.AddItem()
	bar.AddItem()
	bar.Finish()
	bar.Finish() // idempotent
	out := buf.String()
	last := out[strings.LastIndex(out, "\r")+1:]
	assert.Contains(t, last, "verify")
	assert.Contains(t, last, " 50%")
	assert.Contains(t, last, "2/4")
	assert.Contains(t, last, "2.0 MiB/4.0 MiB")
	assert.True(t, strings.HasSuffix(out, "\n"), "the final draw ends the line")
}

func TestBytes(t *testing.T) {
	assert.Equal(t, "512 B", progress.Bytes(512))
	assert.Equal(t, "1.5 KiB", progress.Bytes(1536))
	assert.Equal(t, "1.0 GiB", progress.Bytes(1<<30))
}
