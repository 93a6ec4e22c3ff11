// Package ratelimit limits how often a key (a client IP, a user, an
// address, a route, or a combination) may do something, with three
// exact algorithms on a [Store] in memory ([NewMemoryStore]), on
// PostgreSQL (store/postgres) or on Redis (store/redisstore).
//
// A [Policy] says how much: its [Algorithm], a Limit per Window, and for
// a token bucket a Burst. A [Limiter] applies one policy to any number of
// keys:
//
//	st, _ := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
//	login, _ := ratelimit.New(st, ratelimit.PerMinute("login", 30), ratelimit.Config{})
//	res, err := login.Allow(ctx, ratelimit.IPKey(clientIP))
//	if err != nil || !res.Allowed { ... refuse; res.RetryAfter says when to come back }
//
// # Algorithms
//
//   - [FixedWindow]: at most Limit per window aligned to the clock (one
//     counter per key). Cheapest; a client may spend one window's quota
//     at its end and the next window's at its start, so any interval of
//     one Window may see 2×Limit. The original system's "free" tier
//     ([Free], 60 per minute).
//   - [SlidingWindow]: at most Limit in any interval of one Window,
//     exactly: the key remembers the time of every admitted request still
//     inside the window (up to Limit timestamps). For limits that must
//     never be exceeded in any window, at the cost of memory per key. The
//     "api" tier ([API], 1000 per minute).
//   - [TokenBucket]: Burst at once, then a steady Limit per Window. Smooth
//     and cheap (a level and a time per key); the "premium" tier
//     ([Premium], 300 per minute).
//
// Each is exact under any concurrency: [Store] gives the rule each
// applies, to the microsecond, and every store passes the same
// conformance suite (store/storetest.RunRateLimitStore), which proves it
// with 1,000 goroutines on one key.
//
// # Stores
//
// The [MemoryStore] counts in one process: sharded, no allocation on a
// check of a known key, idle keys dropped, bounded by MaxKeys (over it,
// checks fail with [ErrFull] and callers fail closed). Several app
// instances share counters through PostgreSQL (one atomic statement per
// check on rate_limit_records) or Redis (one Lua script per check). Those
// keep only [HashKey] of a key, never the key.
//
// # HTTP
//
// [Middleware] applies [Rule]s per route: each a limiter (or one per user
// tier) and a [KeyFunc] ([ByIP], [ByUser], [ByRoute], [Join]). It sends
// the RateLimit-Policy and RateLimit headers of
// draft-ietf-httpapi-ratelimit-headers-10 on every response of a limited
// route, answers a refused request 429 Too Many Requests with
// Retry-After, Cache-Control: no-store and a problem+json body, and
// records rate_limit_exceeded audit events, sampled so that an attack
// cannot flood the audit trail. When a store fails, a Sensitive rule
// (authentication routes) refuses with 503; others follow
// MiddlewareConfig.FailOpen, closed by default.
//
// # Security
//
// Count by what an attacker cannot cheaply change. [ByIP] takes the
// client IP the audit trail records, believing X-Forwarded-For only from
// configured trusted proxies, and counts IPv6 clients by their /64. Keys
// built from request input ([ByRoute] uses the matched pattern, never the
// path) keep an attacker from minting a fresh budget per request.
// Policy names appear in response headers and audit events; keys never
// do (events carry the key's hash).
//
// # Time
//
// A Limiter reads its clock ([Config].Now) once per check, in whole
// microseconds, and hands the time to the store: stores never read a
// clock of their own, so tests inject one and instances sharing a store
// agree as far as their clocks do (skew between instances shifts their
// windows by the skew).
package ratelimit
