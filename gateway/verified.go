package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/casstore/casstore/cas"
)

// verifiedCache remembers which blobs hashed whole to their digest, and the
// size and modification time the backend reported then. A blob whose size
// or time differ now counts as unverified. Bounded: when full, an arbitrary
// entry goes (it is verified again when next needed).
type verifiedCache struct {
	mu      sync.Mutex
	max     int
	entries map[cas.Digest]stamp
	running map[cas.Digest]*verifyCall
}

type stamp struct {
	size int64
	mod  time.Time
}

type verifyCall struct {
	done chan struct{}
	err  error
}

func newVerifiedCache(max int) *verifiedCache {
	return &verifiedCache{max: max, entries: map[cas.Digest]stamp{}, running: map[cas.Digest]*verifyCall{}}
}

func stampOf(info cas.Info) stamp { return stamp{info.Size, info.ModTime} }

func (c *verifiedCache) mark(d cas.Digest, info cas.Info) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[d]; !ok && len(c.entries) >= c.max {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[d] = stampOf(info)
}

func (c *verifiedCache) forget(d cas.Digest) {
	c.mu.Lock()
	delete(c.entries, d)
	c.mu.Unlock()
}

// current reports whether d verified with exactly this size and time.
func (c *verifiedCache) current(d cas.Digest, info cas.Info) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.entries[d]
	return ok && s.size == info.Size && s.mod.Equal(info.ModTime)
}

// sharedVerifyTimeout bounds a whole-blob check that range requests wait
// on; generous, since a large blob on a slow store takes a while.
const sharedVerifyTimeout = 30 * time.Minute

// ensure makes sure d verified since it last changed (info is how the
// backend reports it now), calling verify when it did not; concurrent
// callers for one blob share one verification.
func (c *verifiedCache) ensure(ctx context.Context, d cas.Digest, info cas.Info, verify func(context.Context, cas.Digest) (cas.Info, error)) error {
	waited := false
	for {
		if c.current(d, info) {
			return nil
		}
		c.mu.Lock()
		if call, ok := c.running[d]; ok {
			c.mu.Unlock()
			select {
			case <-call.done:
			case <-ctx.Done():
				return ctx.Err()
			}
			// The first check we wait for answers for us when it fails;
			// when it passed, it may have verified another size or time
			// than info: check again, then our turn.
			if call.err != nil && !waited {
				return call.err
			}
			waited = true
			continue
		}
		call := &verifyCall{done: make(chan struct{})}
		c.running[d] = call
		c.mu.Unlock()

		// The check is shared, so it must not die with the request that
		// happened to start it (a player abandons range requests as it
		// seeks): it runs on a context of its own, bounded in time.
		vctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sharedVerifyTimeout)
		got, err := verify(vctx, d)
		cancel()
		if err == nil {
			c.mark(d, got)
		} else {
			c.forget(d)
		}
		c.mu.Lock()
		delete(c.running, d)
		c.mu.Unlock()
		call.err = err
		close(call.done)
		return err // the caller compares what it opens with the new stamp
	}
}
