package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// KeyHash identifies one key's counters of one policy where a [Store]
// keeps them outside the process: the SHA-256 of the policy's
// algorithm, its name and the key, each but the last followed by a NUL
// byte. The PostgreSQL and Redis stores keep this hash, never the key (a
// client IP, an email address); the PostgreSQL store writes it to
// rate_limit_records.key_hash in lower-case hex, so an operator can find
// a key's row with
//
//	printf 'fixed_window\0login\0ip:203.0.113.7' | sha256sum
type KeyHash [32]byte

// HashKey returns the KeyHash of key under p. It does not allocate when
// the policy's name and the key together take at most 140 bytes.
func HashKey(p Policy, key string) KeyHash {
	var buf [160]byte
	b := append(buf[:0], p.Algorithm...)
	b = append(b, 0)
	b = append(b, p.Name...)
	b = append(b, 0)
	b = append(b, key...)
	return sha256.Sum256(b)
}

// String returns h in lower-case hex, as key_hash holds it.
func (h KeyHash) String() string { return hex.EncodeToString(h[:]) }

// Result is a policy's state for one key after a check.
type Result struct {
	// Allowed reports whether the request goes ahead. The zero Result
	// denies.
	Allowed bool
	// Limit is the policy's quota (Policy.Quota): the most it admits at
	// once.
	Limit int
	// Remaining is how many more requests would be admitted now.
	Remaining int
	// Reset is how long from the check until Remaining is back to Limit
	// if nothing more is admitted; 0 when it is already.
	Reset time.Duration
	// RetryAfter, for a denied request, is how long from the check until
	// the same request would be admitted if nothing else is admitted
	// meanwhile; 0 for an admitted one.
	RetryAfter time.Duration
}

// Store keeps the state of rate limits and applies a policy to it
// atomically: however many goroutines, processes and app instances call
// Take for one key at once, each call sees the state every earlier call
// left, as if the calls ran one at a time. [NewMemoryStore] is the
// in-memory Store; store/postgres and store/redisstore provide the
// shared ones, and store/storetest's RunRateLimitStore is the conformance
// suite every Store passes.
//
// Take counts n requests (1 <= n <= p.Quota()) under key and policy p
// (valid, Burst filled in) at time now (UTC, a whole number of
// microseconds; a Store never reads a clock of its own), if p admits
// them, and returns the key's state after the check. Counters belong to
// the policy's algorithm and name and the key: policies that differ in
// either never share one. key is the caller's, unhashed: a Store that
// keeps state outside the process keeps [HashKey](p, key) instead, never
// the key itself. Times are
// counted in whole microseconds since the Unix epoch; below, W is
// p.Window in microseconds, L is p.Limit, B is p.Burst, t is now. A key
// a Store does not hold is in its initial state; a Store may forget a
// key once its state is initial again (and must, eventually, so that
// idle keys cost nothing), preferably with some grace, since a caller's
// clock reading may be a little older than one the Store already saw.
//
// FixedWindow: the window is [s, s+W) with s = t - t mod W (t >= 0).
// With c requests admitted in the window so far (0 in a new window), n
// is admitted iff c+n <= L, and then c becomes c+n. Remaining is L-c,
// Reset and RetryAfter (when denied) are s+W-t. A store that keeps only
// a key's newest window may count a request whose t falls in an older
// window (a caller that read the clock just before another caller's
// request opened the next window) in the newer one instead; the limit
// holds either way.
//
// SlidingWindow: the key holds the times of the requests admitted, in
// order (a request of n counts n times). Let r = max(t, u), u being the
// newest time held (r = t with none): a request whose clock reading is
// older than the newest admitted one counts as at that time, so the
// times stay in order and no interval (x-W, x] ever holds more than L of
// them. The times after r-W are live: with c of them, n is admitted iff
// c+n <= L, and then n times r are added (and the times that are not
// live may be dropped). A denied request changes nothing. Remaining is
// L-c (c after the check); Reset is u+W-t for the newest time u after
// the check. A denied request's RetryAfter is v+W-t, where v is the k-th
// oldest live time, k = c+n-L: the wait until enough of them leave the
// window.
//
// TokenBucket: the key holds a level x, in units of 1/W of a token
// (full: B×W), and the time a of its last change; initially full, with
// a = t. Take first refills: x becomes min(B×W, x + max(0, t-a)×L) and a
// becomes max(a, t). Then n is admitted iff x >= n×W, and x becomes
// x-n×W. Remaining is floor(x/W); Reset is a+ceil((B×W-x)/L)-t; a
// denied request's RetryAfter is a+ceil((n×W-x)/L)-t (both counted from
// a, which is t unless the caller's reading is older than the bucket's
// last change).
//
// In every case Allowed is whether n was admitted, Limit is p.Quota(),
// and RetryAfter is 0 when Allowed. A Store's own failure is returned as
// an error (matching store.ErrUnavailable where a retry may succeed);
// the Result is then the zero Result, which denies. Take honours ctx.
type Store interface {
	Take(ctx context.Context, p Policy, key string, n int, now time.Time) (Result, error)
}
