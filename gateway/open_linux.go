package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"

	"github.com/casstore/casstore/cas"
)

// pather is implemented by backends that keep each blob in a local file
// (the disk backend).
type pather interface{ Path(cas.Digest) string }

// openFull opens the whole blob. Local files come from fdCache: open,
// fstat and close cost as much as the rest of a small request.
func (h *Handler) openFull(ctx context.Context, d cas.Digest) (io.ReadCloser, cas.Info, error) {
	p, ok := h.store.Backend().(pather)
	if !ok {
		return h.store.Backend().Open(ctx, d, 0, -1)
	}
	f, err := h.fds.acquire(d, p.Path(d))
	if err != nil {
		return nil, cas.Info{}, fmt.Errorf("open %s: %w", d.Short(), err)
	}
	return &fdReader{f: f, cache: h.fds}, f.info, nil
}

// fdCache keeps recently served blob files open. An entry is used as it is
// for fdRecheck after its path was last looked at; then the path is
// stat'ed again and a file replaced or changed (device, inode, size or
// modification time) is opened anew. Contents are always read from the
// file and hashed, so a file rewritten in place is caught at once; the
// cache only saves the open, fstat and close.
type fdCache struct {
	mu    sync.Mutex
	max   int
	files map[cas.Digest]*cachedFD
}

type cachedFD struct {
	d        cas.Digest
	fd       int
	info     cas.Info
	dev, ino uint64
	checked  time.Time
	refs     int
	evicted  bool
}

var fdRecheck = time.Second // a variable for tests

// newFDCache keeps up to n files open, and at most a quarter of the
// process's file limit (Go raises the soft limit to the hard one).
func newFDCache(n int) *fdCache {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil {
		n = int(min(uint64(n), max(lim.Cur/4, 16)))
	}
	return &fdCache{max: n, files: map[cas.Digest]*cachedFD{}}
}

func (c *fdCache) acquire(d cas.Digest, path string) (*cachedFD, error) {
	now := time.Now()
	c.mu.Lock()
	e := c.files[d]
	if e != nil && now.Sub(e.checked) < fdRecheck {
		e.refs++
		c.mu.Unlock()
		return e, nil
	}
	c.mu.Unlock()

	var st syscall.Stat_t
	if e == nil {
		// Nothing to compare with: open and fstat without a stat first.
		return c.open(d, path, now, &st)
	}
	if err := stat(path, &st); err != nil {
		c.mu.Lock()
		c.evict(e)
		c.mu.Unlock()
		return nil, mapErrno(err)
	}
	if e.dev == st.Dev && e.ino == st.Ino && e.info == infoOf(&st) {
		c.mu.Lock()
		if !e.evicted {
			e.checked = now
			e.refs++
			c.mu.Unlock()
			return e, nil
		}
		c.mu.Unlock()
	}
	return c.open(d, path, now, &st)
}

// open opens path anew and caches it as d's file, in place of any other.
func (c *fdCache) open(d cas.Digest, path string, now time.Time, st *syscall.Stat_t) (*cachedFD, error) {
	fd, err := openRead(path)
	if err != nil {
		return nil, mapErrno(err)
	}
	if err := syscall.Fstat(fd, st); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		syscall.Close(fd)
		return nil, fmt.Errorf("not a regular file: %w", cas.ErrCorrupt)
	}
	n := &cachedFD{d: d, fd: fd, info: infoOf(st), dev: st.Dev, ino: st.Ino, checked: now, refs: 1}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.files[d]; old != nil {
		c.evict(old)
	}
	for _, v := range c.files { // make room: any entries will do
		if len(c.files) < c.max {
			break
		}
		c.evict(v)
	}
	c.files[d] = n
	return n, nil
}

func (c *fdCache) release(e *cachedFD) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.refs--
	if e.evicted && e.refs == 0 {
		syscall.Close(e.fd)
	}
}

// evict drops e; its file is closed once no reader uses it. c.mu is held.
func (c *fdCache) evict(e *cachedFD) {
	if c.files[e.d] == e {
		delete(c.files, e.d)
	}
	if !e.evicted {
		e.evicted = true
		if e.refs == 0 {
			syscall.Close(e.fd)
		}
	}
}

func infoOf(st *syscall.Stat_t) cas.Info {
	return cas.Info{Size: st.Size, ModTime: time.Unix(st.Mtim.Sec, st.Mtim.Nsec)}
}

func stat(path string, st *syscall.Stat_t) error {
	for {
		err := syscall.Stat(path, st)
		if err != syscall.EINTR {
			return err
		}
	}
}

func openRead(path string) (int, error) {
	for {
		// A blob is a regular file: a planted symlink is refused, and a
		// FIFO at a blob's path cannot block the request.
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

func mapErrno(err error) error {
	switch {
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ENOTDIR):
		return fmt.Errorf("%w: %w", cas.ErrNotFound, err)
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return fmt.Errorf("%w: %w", cas.ErrAccessDenied, err)
	}
	return err
}

// fdReader reads a cached file from its start with pread (blocking, as
// os.File does for regular files); Close hands the file back.
type fdReader struct {
	f     *cachedFD
	cache *fdCache
	off   int64
	done  bool
}

func (r *fdReader) Read(p []byte) (int, error) {
	for {
		n, err := syscall.Pread(r.f.fd, p, r.off)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		if n == 0 && len(p) > 0 {
			return 0, io.EOF
		}
		r.off += int64(n)
		return n, nil
	}
}

func (r *fdReader) Close() error {
	if !r.done {
		r.done = true
		r.cache.release(r.f)
	}
	return nil
}
