//go:build linux

package gateway

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/casstore/casstore/cas"
)

// Kept-open files are looked at again: a file replaced behind the store's
// back (a new inode) is served from the new file, so its corruption is
// caught; a removed one is gone.
func TestFDCacheNoticesReplacedFiles(t *testing.T) {
	old := fdRecheck
	fdRecheck = 50 * time.Millisecond
	defer func() { fdRecheck = old }()
	g := newGW(t, nil)
	data := randBytes(200_000)
	d := g.attach(t, "T", "a.bin", "", data)
	u := g.link(t, d, cas.LinkOptions{})
	if r := get(t, u, nil); !bytes.Equal(r.body, data) {
		t.Fatal("first read")
	}
	p := g.disk.Path(d)
	bad := bytes.Clone(data)
	bad[0] ^= 1
	tmp := p + ".new"
	if err := os.WriteFile(tmp, bad, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, p); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * fdRecheck)
	// Cut before or during the body: never a complete one.
	if res, err := http.Get(u); err == nil {
		b, rerr := io.ReadAll(res.Body)
		res.Body.Close()
		if rerr == nil || len(b) >= len(data) {
			t.Errorf("replaced file: got %d of %d bytes", len(b), len(data))
		}
	}
	os.Remove(p)
	time.Sleep(2 * fdRecheck)
	if r := get(t, u, nil); r.status != 404 {
		t.Errorf("removed file: %d", r.status)
	}
}
