package ratelimit

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/errs"
)

// The response headers of draft-ietf-httpapi-ratelimit-headers-10, and
// Retry-After (RFC 9110 section 10.2.3).
const (
	PolicyHeader     = "RateLimit-Policy"
	RateLimitHeader  = "RateLimit"
	RetryAfterHeader = "Retry-After"
)

// SetHeaders adds p's item to the RateLimit-Policy header of h and res's
// to the RateLimit header, as structured-field lists (RFC 9651), one
// item per policy applied to the request:
//
//	RateLimit-Policy: "login";q=30;w=60
//	RateLimit: "login";r=0;t=42
//
// q is the policy's quota (Policy.Quota), w its window in seconds
// (rounded up), r the remaining quota and t the seconds (rounded up)
// until the quota is back: Result.RetryAfter for a refused request,
// Result.Reset otherwise. The policy's name is the item; no partition
// key (pk) is sent, so neither a client's address nor its IP ever
// appears in a header.
func SetHeaders(h http.Header, p Policy, res Result) {
	name := strconv.Quote(p.Name) // names are [a-z0-9_.-]: a valid sf-string as quoted
	h.Add(PolicyHeader, name+";q="+strconv.Itoa(p.Quota())+";w="+strconv.FormatInt(seconds(p.Window), 10))
	t := res.Reset
	if !res.Allowed {
		t = res.RetryAfter
	}
	h.Add(RateLimitHeader, name+";r="+strconv.Itoa(max(0, res.Remaining))+";t="+strconv.FormatInt(seconds(t), 10))
}

// seconds is d in whole seconds, rounded up; 0 for d <= 0. It does not
// overflow, even for the longest Duration.
func seconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return s
}

// Problem is the problem details object (RFC 9457) of [WriteError]'s
// responses.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// WriteError answers a request that a rule refused or could not check:
// for an error matching [ErrLimited] (a *LimitedError, or a service's
// error wrapping ErrLimited), 429 Too Many Requests with Retry-After in
// whole seconds, at least 1 (the *LimitedError's RetryAfter rounded up,
// 1 without one); for any other error, 503 Service Unavailable with
// Retry-After: 1. Both are
// application/problem+json with Cache-Control: no-store, and never name
// the key or the error's cause.
func WriteError(w http.ResponseWriter, _ *http.Request, err error) {
	p := Problem{Type: "about:blank", Title: http.StatusText(http.StatusServiceUnavailable),
		Status: http.StatusServiceUnavailable, Detail: "the request could not be checked against its rate limit; try again later"}
	retry := time.Second
	if errors.Is(err, ErrLimited) {
		p.Title, p.Status = http.StatusText(http.StatusTooManyRequests), http.StatusTooManyRequests
		p.Detail = "too many requests; try again later"
		if le := (*LimitedError)(nil); errors.As(err, &le) {
			retry = le.Result.RetryAfter
		}
	}
	body, _ := json.Marshal(p) // strings and an int: cannot fail
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Set(RetryAfterHeader, strconv.FormatInt(max(1, seconds(retry)), 10))
	w.WriteHeader(p.Status)
	w.Write(append(body, '\n'))
}

// Rule is one limit the middleware applies to a request.
type Rule struct {
	// Limiter applies the rule's policy. Required unless Tiers covers
	// every tier.
	Limiter *Limiter
	// Tier and Tiers choose the limiter by the request's tier (the
	// signed-in user's tier, say): Tiers[Tier(r)] when present, Limiter
	// otherwise. Tiers needs Tier, and holds no nil Limiter.
	Tier  func(r *http.Request) string
	Tiers map[string]*Limiter
	// Key is what requests are counted by. Required.
	Key KeyFunc
	// Sensitive marks a rule whose store failure must refuse the request
	// (503): authentication routes, where letting requests through
	// unchecked would lift the limit on password guessing. A rule that is
	// not sensitive follows MiddlewareConfig.FailOpen.
	Sensitive bool
}

// limiter returns the rule's limiter for r, or nil.
func (ru *Rule) limiter(r *http.Request) *Limiter {
	if ru.Tier != nil && ru.Tiers != nil {
		if l := ru.Tiers[ru.Tier(r)]; l != nil {
			return l
		}
	}
	return ru.Limiter
}

// MiddlewareConfig configures a [Middleware]. The zero value is the
// default.
type MiddlewareConfig struct {
	// FailOpen lets requests through when a rule that is not Sensitive
	// cannot be checked (its store failed). Default false: every rule
	// fails closed, 503.
	FailOpen bool
	// ErrorFunc writes the response to a refused or uncheckable request:
	// err is a *LimitedError or the store's failure, and the RateLimit
	// headers are already set. It must write a response. Default
	// [WriteError].
	ErrorFunc func(w http.ResponseWriter, r *http.Request, err error)
	// Recorder receives a rate_limit_exceeded event per refused request,
	// sampled: at most one per policy and key in each of the policy's
	// windows (aligned as a fixed window's), and at most AuditRate events
	// in any interval of one second in all, so that an attack cannot
	// flood the audit trail. The per-key sampler remembers up to 65,536
	// keys; while it is full, refusals of keys it does not hold are
	// bounded by AuditRate alone. Default: none.
	Recorder audit.Recorder
	// AuditRate bounds the events recorded in any one second, 1 to
	// 100,000 (MaxSlidingLimit). Default 10.
	AuditRate int
	// Logger receives store failures and the events that could not be
	// recorded. Default: discard.
	Logger *slog.Logger
	// Now is the audit sampler's clock. Default time.Now.
	Now func() time.Time
}

// Middleware applies rate limit rules to HTTP requests. It is safe for
// concurrent use.
type Middleware struct {
	failOpen bool
	onError  func(http.ResponseWriter, *http.Request, error)
	rec      audit.Recorder
	log      *slog.Logger
	now      func() time.Time
	perKey   *MemoryStore // audit sampling: one event per policy, key and window
	overall  *Limiter     // audit sampling: AuditRate per second
}

// NewMiddleware returns a Middleware for cfg, or an error naming the bad
// field.
func NewMiddleware(cfg MiddlewareConfig) (*Middleware, error) {
	if cfg.AuditRate < 0 || cfg.AuditRate > MaxSlidingLimit {
		return nil, errs.Configf("ratelimit", "MiddlewareConfig.AuditRate", "%d is outside 1..%d", cfg.AuditRate, MaxSlidingLimit)
	}
	m := &Middleware{failOpen: cfg.FailOpen, onError: cfg.ErrorFunc, rec: cfg.Recorder, log: cfg.Logger, now: cfg.Now}
	if m.onError == nil {
		m.onError = WriteError
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.rec != nil {
		rate := cfg.AuditRate
		if rate == 0 {
			rate = 10
		}
		var err error
		if m.perKey, err = NewMemoryStore(MemoryConfig{MaxKeys: 1 << 16, Shards: 16}); err != nil {
			return nil, err
		}
		one, err := NewMemoryStore(MemoryConfig{MaxKeys: 1, Shards: 1})
		if err != nil {
			return nil, err
		}
		// A sliding window, so that no interval of a second holds more
		// than rate events (a token bucket would allow twice that: a full
		// bucket, then its refill).
		if m.overall, err = New(one, Policy{Name: "audit", Algorithm: SlidingWindow, Limit: rate, Window: time.Second},
			Config{Now: m.now}); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Limit returns middleware that applies rules, in order, to every
// request: each rule's limiter counts the request under the rule's key,
// and the RateLimit-Policy and RateLimit headers report every rule that
// applied. The first rule that refuses stops the request (later rules do
// not count it): ErrorFunc answers it, by default 429 with Retry-After.
// A rule whose store fails answers 503 when it is Sensitive or the
// middleware does not FailOpen, and is skipped otherwise. A rule without
// a key for the request (KeyFunc ok false), or without a limiter for its
// tier, does not apply. Limit panics on a rule without a Key, without
// a Limiter or Tiers, or with Tiers but no Tier or a nil Limiter in
// Tiers. It copies rules and their Tiers: changing them afterwards
// changes nothing.
//
// Put it inside the mux (wrapping the handler given to Handle) for
// ByRoute, and after the authentication middleware for ByUser.
func (m *Middleware) Limit(rules ...Rule) func(http.Handler) http.Handler {
	rules = append([]Rule(nil), rules...)
	for i := range rules {
		ru := &rules[i]
		rule := "ratelimit: Limit: rule " + strconv.Itoa(i)
		if ru.Key == nil {
			panic(rule + " has no Key")
		}
		if ru.Limiter == nil && len(ru.Tiers) == 0 {
			panic(rule + " has no Limiter")
		}
		if len(ru.Tiers) > 0 && ru.Tier == nil {
			// Tiers would never be consulted: with no Limiter either, the
			// rule would limit nothing.
			panic(rule + " has Tiers but no Tier")
		}
		for t, l := range ru.Tiers {
			if l == nil {
				// A limiter not yet built when the rule was: the tier would
				// silently get the fallback, or no limit at all.
				panic(rule + " has a nil Tiers[" + strconv.Quote(t) + "]")
			}
		}
		ru.Tiers = maps.Clone(ru.Tiers)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for i := range rules {
				ru := &rules[i]
				l := ru.limiter(r)
				if l == nil {
					continue
				}
				key, ok := ru.Key(r)
				if !ok {
					continue
				}
				if !m.Check(w, r, l, key, ru.Sensitive) {
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Check counts one request under key with l, as a rule of [Middleware.Limit] does,
// for handlers that find their key in the request's body (an address):
// it adds l's RateLimit headers to w and reports whether the request may
// go on. When it may not, the response is written: ErrorFunc's 429, or
// 503 when the store failed and the check is sensitive or the middleware
// does not fail open. A store failure with fail-open reports true.
func (m *Middleware) Check(w http.ResponseWriter, r *http.Request, l *Limiter, key string, sensitive bool) bool {
	ctx := r.Context()
	res, err := l.Allow(ctx, key)
	if err != nil {
		if ctx.Err() != nil {
			// The client went away (or the server gave up on it): not
			// counted, not the store's failure, so neither logged nor let
			// through; the answer goes nowhere.
			m.onError(w, r, err)
			return false
		}
		m.log.ErrorContext(ctx, "ratelimit: check failed", "policy", l.Policy().Name, "error", err)
		if m.failOpen && !sensitive {
			return true
		}
		m.onError(w, r, err)
		return false
	}
	SetHeaders(w.Header(), l.Policy(), res)
	if res.Allowed {
		return true
	}
	p := l.Policy()
	m.audit(ctx, p, key, res)
	m.onError(w, r, &LimitedError{Policy: p, Result: res})
	return false
}

// audit records a rate_limit_exceeded event, sampled.
func (m *Middleware) audit(ctx context.Context, p Policy, key string, res Result) {
	if m.rec == nil {
		return
	}
	// One event per policy, key and window: the sampler's own fixed
	// window of 1, of the policy's length.
	once := Policy{Name: "audit." + p.Name, Algorithm: FixedWindow, Limit: 1, Window: p.Window}
	now := m.now().Truncate(time.Microsecond).UTC()
	// A sampler that cannot tell (full: it holds 65,536 keys) lets the
	// event through to the overall bound, so that filling it with
	// refusals of many keys does not silence the audit of every other
	// key for the rest of the window.
	if r, err := m.perKey.Take(ctx, once, key, 1, now); err == nil && !r.Allowed {
		return
	}
	if r, err := m.overall.Allow(ctx, ""); err != nil || !r.Allowed {
		return
	}
	e := audit.Event{Type: audit.RateLimitExceeded, Severity: audit.Warning, Source: "ratelimit",
		Data: map[string]any{"policy": p.Name, "algorithm": string(p.Algorithm), "limit": p.Quota(),
			"window_seconds": seconds(p.Window), "key_hash": HashKey(p, key).String(),
			"retry_after_seconds": max(1, seconds(res.RetryAfter))}}
	if err := m.rec.Record(ctx, e); err != nil {
		m.log.ErrorContext(ctx, "ratelimit: rate_limit_exceeded not recorded", "policy", p.Name, "error", err)
	}
}
