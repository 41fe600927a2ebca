package gateway

import (
	"context"
	"sync"
	"time"

	"github.com/casstore/casstore/cas"
)

// metaCache remembers what the index says a blob is called, for digest
// URLs whose link carries no name or type. Attachments are append-only and
// the oldest one names the blob, so a found name never changes and is kept
// (up to max entries); "no attachment yet" is kept for negativeTTL only.
type metaCache struct {
	mu      sync.Mutex
	max     int
	entries map[cas.Digest]meta
}

type meta struct {
	ctype, name string
	found       bool
	until       time.Time // for negative entries
}

const negativeTTL = 5 * time.Second

func newMetaCache(max int) *metaCache {
	return &metaCache{max: max, entries: map[cas.Digest]meta{}}
}

// lookup returns the blob's Content-Type and file name from the index ("" and
// "" when it knows none).
func (c *metaCache) lookup(ctx context.Context, ix Index, d cas.Digest) (ctype, name string) {
	c.mu.Lock()
	m, ok := c.entries[d]
	c.mu.Unlock()
	if ok && m.found {
		return m.ctype, m.name
	}
	now := time.Now() // only negative entries expire
	if ok && now.Before(m.until) {
		return m.ctype, m.name
	}
	atts, err := ix.AttachmentsOf(ctx, d)
	if err != nil && ctx.Err() != nil {
		return "", "" // not cached
	}
	m = meta{until: now.Add(negativeTTL)}
	if err == nil && len(atts) > 0 {
		m = meta{ctype: atts[0].ContentType, name: atts[0].Name, found: true}
	}
	c.mu.Lock()
	if len(c.entries) >= c.max {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[d] = m
	c.mu.Unlock()
	return m.ctype, m.name
}

// forget drops d, after an upload that may have named it.
func (c *metaCache) forget(d cas.Digest) {
	c.mu.Lock()
	delete(c.entries, d)
	c.mu.Unlock()
}
