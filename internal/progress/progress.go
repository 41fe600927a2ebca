package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// Bar counts work done against a total and redraws itself on a terminal a
// few times a second. Its methods are safe for concurrent use; a nil *Bar
// does nothing, so callers need not check.
type Bar struct {
	w          io.Writer
	label      string
	totalItems atomic.Int64
	totalBytes atomic.Int64
	items      atomic.Int64
	bytes      atomic.Int64
	start      time.Time
	stop       chan struct{}
	done       sync.WaitGroup
	once       sync.Once
}

// New starts a bar on w if w is a terminal; otherwise it returns nil (a
// silent bar). Totals may be 0 when unknown, and set later.
func New(w io.Writer, label string, totalItems, totalBytes int64) *Bar {
	if !IsTerminal(w) {
		return nil
	}
	return start(w, label, totalItems, totalBytes)
}

// NewAlways starts a bar whatever w is (tests use it).
func NewAlways(w io.Writer, label string, totalItems, totalBytes int64) *Bar {
	return start(w, label, totalItems, totalBytes)
}

func start(w io.Writer, label string, totalItems, totalBytes int64) *Bar {
	b := &Bar{w: w, label: label, start: time.Now(), stop: make(chan struct{})}
	b.totalItems.Store(totalItems)
	b.totalBytes.Store(totalBytes)
	b.done.Add(1)
	go func() {
		defer b.done.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				b.draw(false)
			case <-b.stop:
				b.draw(true)
				return
			}
		}
	}()
	return b
}

// SetTotal sets the totals once they are known.
func (b *Bar) SetTotal(items, bytes int64) {
	if b == nil {
		return
	}
	b.totalItems.Store(items)
	b.totalBytes.Store(bytes)
}

// AddBytes counts bytes done.
func (b *Bar) AddBytes(n int64) {
	if b != nil {
		b.bytes.Add(n)
	}
}

// AddItem counts one item done.
func (b *Bar) AddItem() {
	if b != nil {
		b.items.Add(1)
	}
}

// Writer returns an io.Writer that counts what passes through it as bytes
// done (for io.TeeReader).
func (b *Bar) Writer() io.Writer { return counter{b} }

type counter struct{ b *Bar }

func (c counter) Write(p []byte) (int, error) { c.b.AddBytes(int64(len(p))); return len(p), nil }

// Finish draws the final state and ends the line.
func (b *Bar) Finish() {
	if b == nil {
		return
	}
	b.once.Do(func() {
		close(b.stop)
		b.done.Wait()
	})
}

func (b *Bar) draw(final bool) {
	elapsed := time.Since(b.start).Seconds()
	bytes, items := b.bytes.Load(), b.items.Load()
	tb, ti := b.totalBytes.Load(), b.totalItems.Load()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(bytes) / elapsed
	}
	var s strings.Builder
	fmt.Fprintf(&s, "\r%s ", b.label)
	if tb > 0 {
		frac := min(float64(bytes)/float64(tb), 1)
		const width = 24
		filled := int(frac * width)
		fmt.Fprintf(&s, "[%s%s] %3.0f%% ", strings.Repeat("=", filled), strings.Repeat(" ", width-filled), frac*100)
	}
	if ti > 0 {
		fmt.Fprintf(&s, "%d/%d ", items, ti)
	} else if items > 0 {
		fmt.Fprintf(&s, "%d ", items)
	}
	fmt.Fprintf(&s, "%s", Bytes(bytes))
	if tb > 0 {
		fmt.Fprintf(&s, "/%s", Bytes(tb))
	}
	fmt.Fprintf(&s, " %s/s", Bytes(int64(rate)))
	if tb > 0 && rate > 0 && bytes < tb && !final {
		eta := time.Duration(float64(tb-bytes) / rate * float64(time.Second)).Round(time.Second)
		fmt.Fprintf(&s, " ETA %s", eta)
	}
	s.WriteString("\x1b[K")
	if final {
		s.WriteString("\n")
	}
	io.WriteString(b.w, s.String())
}

// Bytes formats a byte count with binary units.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
