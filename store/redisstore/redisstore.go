package redisstore

import (
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cedrina/cedrina/internal/errs"
	"github.com/cedrina/cedrina/ratelimit"
)

// The defaults of a zero Config.
const (
	DefaultPrefix = "cedrina:ratelimit:"
	DefaultLinger = time.Second
)

// The tags that follow the prefix in a key, one per algorithm: each
// algorithm keeps a different Redis type.
const (
	fixedTag   = "fw:"
	slidingTag = "sw:"
	bucketTag  = "tb:"
)

// maxMicros bounds the check times Take accepts, in microseconds since
// the Unix epoch (about the year 2253): below 2^53, with room for a
// window, so every time and every difference of times the scripts
// compute is an integer a Lua number (a double) holds exactly.
const maxMicros = 1<<53 - 1<<46

// rebaseAt is where a sliding window's unit numbers are renumbered
// from 0 (see slidingLua).
const rebaseAt = 1 << 50

// Config configures a [Store]. The zero value is the default.
type Config struct {
	// Prefix starts every key the store writes. Default
	// "cedrina:ratelimit:". Give each application sharing a Redis
	// database its own prefix. It should not contain '{': in Redis
	// Cluster a key's slot is then hashed from the braces' content
	// alone, so every rate limit key would land in one slot.
	Prefix string
	// Linger keeps each key this much longer than its state needs: a
	// key expires Linger after its state is initial again (its window
	// over, its bucket full) by the clock of the check that wrote it.
	// The grace is for a check whose clock reading is older than one
	// already counted: from an instance whose clock runs behind, or
	// delayed between reading the clock and reaching Redis. Within the
	// grace it is counted exactly; after it, it finds the state gone and
	// starts afresh. Default 1 second; a negative Linger keeps no grace.
	// At most ratelimit.MaxWindow. The cost is memory for idle keys.
	Linger time.Duration
}

// Store is the Redis [ratelimit.Store]. It is safe for concurrent use,
// and any number of app instances may share one Redis through their own
// Stores: each check is one Lua script, which Redis runs atomically.
type Store struct {
	client redis.UniversalClient
	prefix string
	linger int64 // µs
	// rebaseAt is rebaseAt, but for tests of the renumbering.
	rebaseAt int64
}

var _ ratelimit.Store = (*Store)(nil)

// New returns a Store on client, which the host opened and closes
// (redis.NewClient, redis.NewClusterClient, redis.NewFailoverClient or
// redis.NewUniversalClient), or an error naming the bad field of cfg.
// New does not contact the server.
func New(client redis.UniversalClient, cfg Config) (*Store, error) {
	switch {
	case client == nil:
		return nil, errs.Configf("redisstore", "New", "nil client")
	case cfg.Linger > ratelimit.MaxWindow:
		return nil, errs.Configf("redisstore", "Config.Linger", "%v is over %v", cfg.Linger, ratelimit.MaxWindow)
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	switch {
	case cfg.Linger == 0:
		cfg.Linger = DefaultLinger
	case cfg.Linger < 0:
		cfg.Linger = 0
	}
	return &Store{client: client, prefix: cfg.Prefix, linger: cfg.Linger.Microseconds(), rebaseAt: rebaseAt}, nil
}

// Take implements [ratelimit.Store]. It keeps [ratelimit.HashKey] of p
// and key, never key. now must fall between the Unix epoch and the year
// 2253: the scripts count microseconds in Lua numbers, which are exact
// below 2^53. An error matching store.ErrUnavailable is a failure of
// Redis or of the connection to it; the check may or may not have been
// counted.
func (s *Store) Take(ctx context.Context, p ratelimit.Policy, key string, n int, now time.Time) (ratelimit.Result, error) {
	if err := ctx.Err(); err != nil {
		return ratelimit.Result{}, err
	}
	if err := p.Validate(); err != nil {
		return ratelimit.Result{}, err
	}
	if q := p.Quota(); n < 1 || n > q {
		return ratelimit.Result{}, fmt.Errorf("redisstore: n=%d is outside 1..%d", n, q)
	}
	t := now.UnixMicro()
	if t < 0 || t >= maxMicros {
		return ratelimit.Result{}, fmt.Errorf("redisstore: time %v is outside 1970..2253", now)
	}
	h := ratelimit.HashKey(p, key)
	w := p.Window.Microseconds()
	var (
		res ratelimit.Result
		err error
	)
	switch p.Algorithm {
	case ratelimit.FixedWindow:
		res, err = s.fixed(ctx, h, t, w, p.Limit, n)
	case ratelimit.SlidingWindow:
		res, err = s.run(ctx, slidingScript, s.key(slidingTag, h, -1), t, w, p.Limit, n, s.linger, s.rebaseAt)
	default: // TokenBucket: Validate knows no other
		res, err = s.run(ctx, bucketScript, s.key(bucketTag, h, -1), t, w, p.Limit, p.Quota(), n, s.linger)
	}
	if err != nil {
		return ratelimit.Result{}, err
	}
	res.Limit = p.Quota()
	return res, nil
}

// fixed counts in the window of t's own key: the window starts at
// t - t mod w, and its key expires when it ends.
func (s *Store) fixed(ctx context.Context, h ratelimit.KeyHash, t, w int64, limit, n int) (ratelimit.Result, error) {
	start := t - t%w
	reset := start + w - t
	v, err := fixedScript.Run(ctx, s.client, []string{s.key(fixedTag, h, start)}, n, limit, ceilDiv(reset+s.linger, 1000)).Int64Slice()
	if err != nil {
		return ratelimit.Result{}, translate(ctx, err)
	}
	if len(v) != 2 {
		return ratelimit.Result{}, fmt.Errorf("redisstore: the fixed window script returned %d values, want 2", len(v))
	}
	res := ratelimit.Result{Allowed: v[0] == 1, Remaining: int(v[1]), Reset: usec(reset)}
	if !res.Allowed {
		res.RetryAfter = res.Reset
	}
	return res, nil
}

// run runs the sliding window or token bucket script, which return
// allowed, remaining, Reset and RetryAfter in µs.
func (s *Store) run(ctx context.Context, script *redis.Script, key string, args ...any) (ratelimit.Result, error) {
	v, err := script.Run(ctx, s.client, []string{key}, args...).Int64Slice()
	if err != nil {
		return ratelimit.Result{}, translate(ctx, err)
	}
	if len(v) != 4 {
		return ratelimit.Result{}, fmt.Errorf("redisstore: the script returned %d values, want 4", len(v))
	}
	return ratelimit.Result{Allowed: v[0] == 1, Remaining: int(v[1]), Reset: usec(v[2]), RetryAfter: usec(v[3])}, nil
}

// key returns the Redis key of h under tag: the prefix, the tag, h in
// hex and, for a fixed window, ":" and the window's start in µs. It
// holds nothing of the key h hashes.
func (s *Store) key(tag string, h ratelimit.KeyHash, start int64) string {
	var b strings.Builder
	b.Grow(len(s.prefix) + len(tag) + 2*len(h) + 21)
	b.WriteString(s.prefix)
	b.WriteString(tag)
	var x [2 * len(h)]byte
	hex.Encode(x[:], h[:])
	b.Write(x[:])
	if start >= 0 {
		var d [20]byte
		b.WriteByte(':')
		b.Write(strconv.AppendInt(d[:0], start, 10))
	}
	return b.String()
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

func usec(n int64) time.Duration { return time.Duration(n) * time.Microsecond }
