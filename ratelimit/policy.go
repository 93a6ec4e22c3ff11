package ratelimit

import (
	"fmt"
	"math"
	"time"

	"github.com/cedrina/cedrina/internal/errs"
)

// Algorithm names how a [Policy] counts. Its value is what the
// PostgreSQL store writes in rate_limit_records.algorithm.
type Algorithm string

// The algorithms. Each is exact: see [Store] for the rule each applies.
const (
	// FixedWindow admits at most Limit requests in each window of length
	// Window, windows aligned to the Unix epoch (a one-minute window runs
	// from hh:mm:00 to hh:mm+1:00). It is the cheapest (one counter per
	// key and window), and the least smooth: a client may send Limit
	// requests at the end of one window and Limit more at the start of the
	// next, so any interval of length Window may see up to 2×Limit.
	FixedWindow Algorithm = "fixed_window"
	// SlidingWindow admits at most Limit requests in any interval of
	// length Window: a request at time t goes ahead only if fewer than
	// Limit were admitted in (t-Window, t]. It remembers the time of every
	// admitted request still inside the window, so a key costs up to
	// Limit timestamps ([MaxSlidingLimit] bounds Limit).
	SlidingWindow Algorithm = "sliding_window"
	// TokenBucket admits Burst requests at once, then Limit per Window
	// (a steady rate): a bucket of Burst tokens, full at first, refilled
	// continuously at Limit tokens per Window, one token per request.
	TokenBucket Algorithm = "token_bucket"
)

// Bounds of a Policy's numbers. They keep every store's arithmetic exact
// in 64-bit integers.
const (
	// MaxLimit bounds Limit and Burst.
	MaxLimit = 1_000_000_000
	// MaxSlidingLimit bounds the Limit of a SlidingWindow policy: each key
	// may hold that many timestamps (8 bytes each in memory and in
	// PostgreSQL). A higher rate over a long window is a TokenBucket's
	// job.
	MaxSlidingLimit = 100_000
	// MaxWindow bounds Window.
	MaxWindow = 366 * 24 * time.Hour
)

// Policy is one rate limit: how many requests, over what time, counted
// how. Policies are plain values; the zero value is invalid (Validate).
//
// Name identifies the policy's counters: two limiters with the same
// policy name and algorithm share the counters of each key (a policy
// applied to several routes is one budget across them); different
// names never share. It is sent in the RateLimit-Policy and RateLimit
// response headers and recorded in audit events, so it names the rule,
// never the client: 1 to 64 characters of a-z, 0-9, '_', '-' and '.'.
type Policy struct {
	// Name identifies the policy ("login", "api").
	Name string
	// Algorithm is how requests are counted.
	Algorithm Algorithm
	// Limit is the number of requests per Window: the most a fixed or
	// sliding window admits, the refill of a token bucket.
	Limit int
	// Window is the length of a window, or the time a token bucket takes
	// to refill Limit tokens. A whole number of microseconds, at least one
	// millisecond, at most MaxWindow.
	Window time.Duration
	// Burst is the capacity of a token bucket: the requests admitted at
	// once after a quiet period. Default Limit. Only for TokenBucket.
	Burst int
}

// The original system's user tiers, as ready policies: free 60 per
// minute in fixed windows, premium 300 per minute from a token bucket,
// api 1000 per minute in a sliding window.
var (
	Free    = Policy{Name: "free", Algorithm: FixedWindow, Limit: 60, Window: time.Minute}
	Premium = Policy{Name: "premium", Algorithm: TokenBucket, Limit: 300, Window: time.Minute}
	API     = Policy{Name: "api", Algorithm: SlidingWindow, Limit: 1000, Window: time.Minute}
)

// PerMinute returns a FixedWindow policy named name of n requests per
// minute.
func PerMinute(name string, n int) Policy {
	return Policy{Name: name, Algorithm: FixedWindow, Limit: n, Window: time.Minute}
}

// PerHour returns a FixedWindow policy of n requests per hour.
func PerHour(name string, n int) Policy {
	return Policy{Name: name, Algorithm: FixedWindow, Limit: n, Window: time.Hour}
}

// Quota is the most the policy admits at once: Burst for a token
// bucket (Limit when unset), Limit otherwise. It is the largest n AllowN
// accepts and the q of the RateLimit-Policy header.
func (p Policy) Quota() int {
	if p.Algorithm == TokenBucket && p.Burst > 0 {
		return p.Burst
	}
	return p.Limit
}

// WithDefaults returns p with Burst filled in for a token bucket.
func (p Policy) withDefaults() Policy {
	if p.Algorithm == TokenBucket && p.Burst == 0 {
		p.Burst = p.Limit
	}
	return p
}

// Validate reports what is wrong with p, naming the field, or nil.
func (p Policy) Validate() error {
	if err := validName(p.Name); err != nil {
		return errs.Configf("ratelimit", "Policy.Name", "%v", err)
	}
	switch p.Algorithm {
	case FixedWindow, SlidingWindow, TokenBucket:
	default:
		return errs.Configf("ratelimit", "Policy.Algorithm", "unknown algorithm %q", string(p.Algorithm))
	}
	max := MaxLimit
	if p.Algorithm == SlidingWindow {
		max = MaxSlidingLimit
	}
	if p.Limit < 1 || p.Limit > max {
		return errs.Configf("ratelimit", "Policy.Limit", "%d is outside 1..%d", p.Limit, max)
	}
	switch {
	case p.Window < time.Millisecond || p.Window > MaxWindow:
		return errs.Configf("ratelimit", "Policy.Window", "%v is outside 1ms..%v", p.Window, MaxWindow)
	case p.Window%time.Microsecond != 0:
		return errs.Configf("ratelimit", "Policy.Window", "%v is not a whole number of microseconds", p.Window)
	}
	if p.Algorithm != TokenBucket {
		if p.Burst != 0 {
			return errs.Configf("ratelimit", "Policy.Burst", "only a token bucket has a burst")
		}
		return nil
	}
	if p.Burst < 0 || p.Burst > MaxLimit {
		return errs.Configf("ratelimit", "Policy.Burst", "%d is outside 1..%d", p.Burst, MaxLimit)
	}
	// The stores keep a bucket's level in units of 1/Window-in-µs of a
	// token: Burst×Window must fit in 62 bits. And an empty bucket must
	// refill within MaxWindow, so that Reset fits a time.Duration.
	b, w := int64(p.withDefaults().Burst), p.Window.Microseconds()
	if b > (math.MaxInt64/4)/w {
		return errs.Configf("ratelimit", "Policy.Burst", "%d over %v is too large", b, p.Window)
	}
	if (b*w+int64(p.Limit)-1)/int64(p.Limit) > MaxWindow.Microseconds() {
		return errs.Configf("ratelimit", "Policy.Burst", "%d takes longer than %v to refill at %d per %v",
			b, MaxWindow, p.Limit, p.Window)
	}
	return nil
}

// validName checks a policy name: 1 to 64 of a-z 0-9 _ - .
func validName(s string) error {
	if s == "" || len(s) > 64 {
		return fmt.Errorf("%d characters; want 1 to 64", len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return fmt.Errorf("%q has a character other than a-z, 0-9, '_', '-' and '.'", s)
		}
	}
	return nil
}

// String returns the policy in a short form, "login: fixed_window 30/1m0s".
func (p Policy) String() string {
	s := fmt.Sprintf("%s: %s %d/%v", p.Name, p.Algorithm, p.Limit, p.Window)
	if p.Algorithm == TokenBucket {
		s += fmt.Sprintf(" burst %d", p.Quota())
	}
	return s
}
