package session

import "sync"

// tokenCache remembers the claims of access tokens already verified,
// keyed by the SHA-256 of the whole token, so a token used again skips the
// signature check. It holds at most max entries; when full, an arbitrary
// entry makes room (Go's map iteration order is random), which bounds
// memory without bookkeeping on the hot path. A nil *tokenCache caches
// nothing.
type tokenCache struct {
	mu      sync.RWMutex
	max     int
	entries map[[32]byte]*Claims
}

func newTokenCache(max int) *tokenCache {
	if max <= 0 {
		return nil
	}
	return &tokenCache{max: max, entries: make(map[[32]byte]*Claims, min(max, 1024))}
}

func (c *tokenCache) get(k [32]byte) (*Claims, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.RLock()
	v, ok := c.entries[k]
	c.mu.RUnlock()
	return v, ok
}

func (c *tokenCache) put(k [32]byte, v *Claims) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if len(c.entries) >= c.max {
		for old := range c.entries {
			delete(c.entries, old)
			break
		}
	}
	c.entries[k] = v
	c.mu.Unlock()
}

func (c *tokenCache) remove(k [32]byte) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.entries, k)
	c.mu.Unlock()
}
