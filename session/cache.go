package session

import "sync"

// tokenCache remembers the claims of access tokens already verified,
// keyed by the SHA-256 of the whole token, so a token used again skips the
// signature check. It holds at most max entries; when full, an arbitrary
// entry makes room (Go's map iteration order is random), which bounds
// memory without bookkeeping on the hot path. A nil *tokenCache caches
// nothing.
//
// The cache owns its entries: put stores a deep copy of the claims it is
// given and get returns a fresh deep copy, so a caller that changes the
// claims it holds (a handler editing Principal.Claims, say) changes
// neither what the cache accepts later nor what concurrent callers see.
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

// get returns a copy of the claims cached under k, which the caller may
// change freely.
func (c *tokenCache) get(k [32]byte) (*Claims, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.RLock()
	v, ok := c.entries[k]
	c.mu.RUnlock()
	if !ok {
		return nil, false
	}
	// Entries are never changed once stored, so copying outside the lock
	// is safe.
	return v.clone(), true
}

// put caches a copy of v under k; v stays the caller's.
func (c *tokenCache) put(k [32]byte, v *Claims) {
	if c == nil {
		return
	}
	v = v.clone()
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
