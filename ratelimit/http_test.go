package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cedrina/cedrina/internal/testkit"
	"github.com/cedrina/cedrina/ratelimit"
	"github.com/cedrina/cedrina/store"
)

func TestSetHeaders(t *testing.T) {
	login := ratelimit.PerMinute("login", 30)
	tests := []struct {
		name       string
		p          ratelimit.Policy
		res        ratelimit.Result
		policy, rl string
	}{
		{"fixed window refused: t is RetryAfter, rounded up", login,
			ratelimit.Result{Limit: 30, Reset: 41200 * time.Millisecond, RetryAfter: 41200 * time.Millisecond},
			`"login";q=30;w=60`, `"login";r=0;t=42`},
		{"fixed window admitted: t is Reset", login,
			ratelimit.Result{Allowed: true, Limit: 30, Remaining: 29, Reset: 59*time.Second + time.Microsecond},
			`"login";q=30;w=60`, `"login";r=29;t=60`},
		{"whole seconds are not rounded", login,
			ratelimit.Result{Allowed: true, Limit: 30, Remaining: 3, Reset: 42 * time.Second},
			`"login";q=30;w=60`, `"login";r=3;t=42`},
		{"full quota: t=0", login,
			ratelimit.Result{Allowed: true, Limit: 30, Remaining: 30},
			`"login";q=30;w=60`, `"login";r=30;t=0`},
		{"sliding window refused: RetryAfter, not Reset", ratelimit.API,
			ratelimit.Result{Limit: 1000, Reset: 60 * time.Second, RetryAfter: 500 * time.Millisecond},
			`"api";q=1000;w=60`, `"api";r=0;t=1`},
		{"sliding window admitted", ratelimit.API,
			ratelimit.Result{Allowed: true, Limit: 1000, Remaining: 999, Reset: 60 * time.Second},
			`"api";q=1000;w=60`, `"api";r=999;t=60`},
		{"token bucket: q is the burst", ratelimit.Policy{Name: "premium.burst", Algorithm: ratelimit.TokenBucket, Limit: 300, Window: time.Minute, Burst: 10},
			ratelimit.Result{Allowed: true, Limit: 10, Remaining: 9, Reset: 200 * time.Millisecond},
			`"premium.burst";q=10;w=60`, `"premium.burst";r=9;t=1`},
		{"token bucket, burst defaulted", ratelimit.Premium,
			ratelimit.Result{Limit: 300, Reset: time.Minute, RetryAfter: 200 * time.Millisecond},
			`"premium";q=300;w=60`, `"premium";r=0;t=1`},
		{"window rounded up", ratelimit.Policy{Name: "w_1-5", Algorithm: ratelimit.FixedWindow, Limit: 7, Window: 1500 * time.Millisecond},
			ratelimit.Result{Allowed: true, Limit: 7, Remaining: 6, Reset: time.Millisecond},
			`"w_1-5";q=7;w=2`, `"w_1-5";r=6;t=1`},
		{"shortest window", ratelimit.Policy{Name: "ms", Algorithm: ratelimit.SlidingWindow, Limit: 1, Window: time.Millisecond},
			ratelimit.Result{Limit: 1, Reset: time.Millisecond, RetryAfter: time.Microsecond},
			`"ms";q=1;w=1`, `"ms";r=0;t=1`},
		{"longest window", ratelimit.Policy{Name: "year", Algorithm: ratelimit.FixedWindow, Limit: ratelimit.MaxLimit, Window: ratelimit.MaxWindow},
			ratelimit.Result{Allowed: true, Limit: ratelimit.MaxLimit, Remaining: ratelimit.MaxLimit - 1, Reset: ratelimit.MaxWindow},
			`"year";q=1000000000;w=31622400`, `"year";r=999999999;t=31622400`},
		{"longest Duration does not overflow", login,
			ratelimit.Result{Limit: 30, Reset: math.MaxInt64, RetryAfter: math.MaxInt64},
			`"login";q=30;w=60`, `"login";r=0;t=9223372037`},
		{"negative durations and remaining are 0", login,
			ratelimit.Result{Allowed: true, Limit: 30, Remaining: -3, Reset: -time.Second},
			`"login";q=30;w=60`, `"login";r=0;t=0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.p.Validate(); err != nil {
				t.Fatal(err)
			}
			h := http.Header{}
			ratelimit.SetHeaders(h, tt.p, tt.res)
			if got := h.Values("RateLimit-Policy"); len(got) != 1 || got[0] != tt.policy {
				t.Errorf("RateLimit-Policy: %q, want [%q]", got, tt.policy)
			}
			if got := h.Values("RateLimit"); len(got) != 1 || got[0] != tt.rl {
				t.Errorf("RateLimit: %q, want [%q]", got, tt.rl)
			}
			if len(h) != 2 {
				t.Errorf("headers %v, want only the two RateLimit fields", h)
			}
			headerItems(t, h, ratelimit.PolicyHeader, tt.policy)
			headerItems(t, h, ratelimit.RateLimitHeader, tt.rl)
		})
	}
}

// Two rules on one request give two members of each List.
func TestSetHeadersTwoPolicies(t *testing.T) {
	h := http.Header{}
	ratelimit.SetHeaders(h, ratelimit.PerMinute("login", 30), ratelimit.Result{Allowed: true, Limit: 30, Remaining: 12, Reset: 41 * time.Second})
	ratelimit.SetHeaders(h, ratelimit.PerHour("login.hourly", 100), ratelimit.Result{Limit: 100, Reset: time.Hour, RetryAfter: 1801500 * time.Millisecond})
	headerItems(t, h, "RateLimit-Policy", `"login";q=30;w=60`, `"login.hourly";q=100;w=3600`)
	headerItems(t, h, "RateLimit", `"login";r=12;t=41`, `"login.hourly";r=0;t=1802`)
	// As one comma-separated line, the form a proxy may fold them into.
	folded := http.Header{"Ratelimit": {strings.Join(h.Values("RateLimit"), ", ")}}
	headerItems(t, folded, "RateLimit", `"login";r=12;t=41`, `"login.hourly";r=0;t=1802`)
}

// The strict parser the header tests rely on refuses what it should.
func TestParseSFList(t *testing.T) {
	good := map[string]int{
		``:                                       0,
		`"a";q=1;w=2`:                            1,
		` "a";q=1 ,	"b";r=-0;t=999999999999999 `: 2,
		`"a\"b\\";q=1`:                           1,
		`"a"; q=1`:                               1,
	}
	for s, n := range good {
		items, err := parseSFList([]string{s})
		if err != nil || len(items) != n {
			t.Errorf("parse %q = %v, %v; want %d items", s, items, err, n)
		}
	}
	for _, s := range []string{
		`a;q=1`, `"a";q`, `"a";q=1.5`, `"a";q=1;q=2`, `"a";Q=1`, `"a";q=1,`, `"a" "b"`,
		`"a";q=1234567890123456`, `"a\u00e9";q=1`, `"a\x";q=1`, "\"a\x01\";q=1", `"a`, `"a";q=x`,
		`"a";q=1;;w=2`, `"a",,"b"`,
	} {
		if items, err := parseSFList([]string{s}); err == nil {
			t.Errorf("parse %q = %v, want an error", s, items)
		}
	}
}

// A refused request: 429 problem+json, Retry-After, no-store and both
// headers; the admitted ones before it carry the headers and reach the
// handler, the refused ones do not.
func TestLimitRefusesOverLimit(t *testing.T) {
	clock := testkit.NewClock(clockStart)
	l := memLimiter(t, ratelimit.PerMinute("login", 3), clock.Now)
	m := newMiddleware(t, ratelimit.MiddlewareConfig{Now: clock.Now})
	var next counter
	h := m.Limit(ratelimit.Rule{Limiter: l, Key: ratelimit.ByIP(nil)})(&next)

	for i := range 3 {
		w := serve(h, request("203.0.113.7:4711"))
		if w.Code != http.StatusOK {
			t.Fatalf("request %d: %d, want 200", i+1, w.Code)
		}
		headerItems(t, w.Header(), "RateLimit-Policy", `"login";q=3;w=60`)
		headerItems(t, w.Header(), "RateLimit", fmt.Sprintf(`"login";r=%d;t=50`, 2-i))
		if w.Header().Get("Retry-After") != "" || w.Header().Get("Cache-Control") != "" {
			t.Errorf("admitted request %d: %v", i+1, w.Header())
		}
	}
	if next.Count() != 3 {
		t.Fatalf("handler ran %d times, want 3", next.Count())
	}
	clock.Advance(9500 * time.Millisecond) // 40.5 s left in the window
	w := serve(h, request("203.0.113.7:4712"))
	checkProblem(t, w, http.StatusTooManyRequests, "41")
	headerItems(t, w.Header(), "RateLimit-Policy", `"login";q=3;w=60`)
	headerItems(t, w.Header(), "RateLimit", `"login";r=0;t=41`)
	if next.Count() != 3 {
		t.Fatalf("handler ran %d times, want 3: a refused request reached it", next.Count())
	}
	for k, v := range w.Header() {
		if strings.Contains(strings.Join(v, ","), "203.0.113") {
			t.Errorf("%s: %q names the client", k, v)
		}
	}
	if strings.Contains(w.Body.String(), "203.0.113") {
		t.Errorf("body %q names the client", w.Body)
	}
	// Another client has its own budget.
	if w := serve(h, request("203.0.113.8:4711")); w.Code != http.StatusOK {
		t.Fatalf("another client: %d", w.Code)
	}
	// The next window admits again.
	clock.Advance(41 * time.Second)
	w = serve(h, request("203.0.113.7:4711"))
	if w.Code != http.StatusOK {
		t.Fatalf("next window: %d", w.Code)
	}
	headerItems(t, w.Header(), "RateLimit", `"login";r=2;t=60`)
}

// With L=5, 1,000 concurrent requests from one client: exactly 5 reach
// the handler and 995 get 429.
func TestLimitConcurrent(t *testing.T) {
	clock := testkit.NewClock(clockStart)
	for _, p := range []ratelimit.Policy{
		ratelimit.PerMinute("fixed", 5),
		{Name: "sliding", Algorithm: ratelimit.SlidingWindow, Limit: 5, Window: time.Minute},
		{Name: "bucket", Algorithm: ratelimit.TokenBucket, Limit: 5, Window: time.Minute},
	} {
		t.Run(string(p.Algorithm), func(t *testing.T) {
			rec := &captureRecorder{}
			m := newMiddleware(t, ratelimit.MiddlewareConfig{Now: clock.Now, Recorder: rec})
			var next counter
			h := m.Limit(ratelimit.Rule{Limiter: memLimiter(t, p, clock.Now), Key: ratelimit.ByIP(nil), Sensitive: true})(&next)
			codes := make([]int, 1000)
			together(1000, func(i int) {
				codes[i] = serve(h, request(fmt.Sprintf("198.51.100.23:%d", 1024+i))).Code
			})
			n := map[int]int{}
			for _, c := range codes {
				n[c]++
			}
			if n[http.StatusOK] != 5 || n[http.StatusTooManyRequests] != 995 || next.Count() != 5 {
				t.Fatalf("statuses %v, handler %d; want 5 200s, 995 429s, handler 5", n, next.Count())
			}
			if ev := rec.Events(); len(ev) != 1 {
				t.Fatalf("%d events, want 1", len(ev))
			}
		})
	}
}

// The first rule that refuses stops the request: later rules do not count
// it, and only the rules that were checked appear in the headers.
func TestLimitFirstRefusalStopsLaterRules(t *testing.T) {
	clock := testkit.NewClock(clockStart)
	perIP := memLimiter(t, ratelimit.PerMinute("per-ip", 1), clock.Now)
	global := memLimiter(t, ratelimit.PerMinute("global", 5), clock.Now)
	m := newMiddleware(t, ratelimit.MiddlewareConfig{})
	everyone := func(*http.Request) (string, bool) { return "all", true }
	var next counter
	h := m.Limit(
		ratelimit.Rule{Limiter: perIP, Key: ratelimit.ByIP(nil)},
		ratelimit.Rule{Limiter: global, Key: everyone},
	)(&next)

	w := serve(h, request("192.0.2.1:1"))
	if w.Code != http.StatusOK {
		t.Fatalf("first: %d", w.Code)
	}
	headerItems(t, w.Header(), "RateLimit-Policy", `"per-ip";q=1;w=60`, `"global";q=5;w=60`)
	headerItems(t, w.Header(), "RateLimit", `"per-ip";r=0;t=50`, `"global";r=4;t=50`)
	for range 3 {
		w = serve(h, request("192.0.2.1:2"))
		checkProblem(t, w, http.StatusTooManyRequests, "50")
		headerItems(t, w.Header(), "RateLimit-Policy", `"per-ip";q=1;w=60`)
		headerItems(t, w.Header(), "RateLimit", `"per-ip";r=0;t=50`)
	}
	// The global rule counted the first request only (and now this check).
	res, err := global.Allow(context.Background(), "all")
	if err != nil || !res.Allowed || res.Remaining != 3 {
		t.Fatalf("global after three refusals: %+v, %v; want 3 remaining", res, err)
	}
	if next.Count() != 1 {
		t.Fatalf("handler ran %d times, want 1", next.Count())
	}

	// When the later rule refuses, the earlier one has counted.
	for i := range 3 {
		if w := serve(h, request(fmt.Sprintf("192.0.2.%d:1", 10+i))); w.Code != http.StatusOK {
			t.Fatalf("client %d: %d", i, w.Code)
		}
	}
	w = serve(h, request("192.0.2.20:1"))
	checkProblem(t, w, http.StatusTooManyRequests, "50")
	headerItems(t, w.Header(), "RateLimit", `"per-ip";r=0;t=50`, `"global";r=0;t=50`)
	if next.Count() != 4 {
		t.Fatalf("handler ran %d times, want 4", next.Count())
	}
}

// A rule whose key function says !ok does not apply: it neither counts
// nor refuses, and sends no header.
func TestLimitSkipsRuleWithoutKey(t *testing.T) {
	clock := testkit.NewClock(clockStart)
	users := memLimiter(t, ratelimit.PerMinute("per-user", 1), clock.Now)
	ips := memLimiter(t, ratelimit.PerMinute("per-ip", 100), clock.Now)
	m := newMiddleware(t, ratelimit.MiddlewareConfig{})
	noUser := ratelimit.ByUser(func(*http.Request) (string, bool) { return "", false })
	var next counter
	h := m.Limit(
		ratelimit.Rule{Limiter: users, Key: noUser, Sensitive: true},
		ratelimit.Rule{Limiter: ips, Key: ratelimit.ByIP(nil)},
	)(&next)
	for i := range 10 {
		w := serve(h, request("192.0.2.1:1"))
		if w.Code != http.StatusOK {
			t.Fatalf("request %d: %d", i, w.Code)
		}
		headerItems(t, w.Header(), "RateLimit-Policy", `"per-ip";q=100;w=60`)
		headerItems(t, w.Header(), "RateLimit", fmt.Sprintf(`"per-ip";r=%d;t=50`, 99-i))
	}
	// No rule applies at all (a Unix-socket peer): straight through, no headers.
	w := serve(h, request("@"))
	if w.Code != http.StatusOK || len(w.Header()) != 0 {
		t.Fatalf("no rule applies: %d %v", w.Code, w.Header())
	}
	if next.Count() != 11 {
		t.Fatalf("handler ran %d times, want 11", next.Count())
	}
}

// Tier and Tiers choose the limiter: the original system's free, premium
// and api tiers, and the rule's Limiter for any other tier.
func TestLimitTiers(t *testing.T) {
	clock := testkit.NewClock(clockStart)
	fallback := memLimiter(t, ratelimit.PerMinute("anonymous", 2), clock.Now)
	tiers := map[string]*ratelimit.Limiter{
		"free":    memLimiter(t, ratelimit.Free, clock.Now),
		"premium": memLimiter(t, ratelimit.Premium, clock.Now),
		"api":     memLimiter(t, ratelimit.API, clock.Now),
	}
	tier := func(r *http.Request) string { return r.Header.Get("Tier") }
	m := newMiddleware(t, ratelimit.MiddlewareConfig{})
	var next counter
	h := m.Limit(ratelimit.Rule{Limiter: fallback, Tier: tier, Tiers: tiers, Key: ratelimit.ByIP(nil)})(&next)
	send := func(tier string) *httptest.ResponseRecorder {
		r := request("192.0.2.1:1")
		r.Header.Set("Tier", tier)
		return serve(h, r)
	}
	tests := []struct {
		tier, policy, rl string
	}{
		// 60 per minute, fixed windows: 50 s left in this one.
		{"free", `"free";q=60;w=60`, `"free";r=59;t=50`},
		// A token bucket of 300 per minute: one token back in 0.2 s.
		{"premium", `"premium";q=300;w=60`, `"premium";r=299;t=1`},
		// A sliding window of 1000 per minute: full again a minute after.
		{"api", `"api";q=1000;w=60`, `"api";r=999;t=60`},
		{"", `"anonymous";q=2;w=60`, `"anonymous";r=1;t=50`},
		{"gold", `"anonymous";q=2;w=60`, `"anonymous";r=0;t=50`},
	}
	for _, tt := range tests {
		w := send(tt.tier)
		if w.Code != http.StatusOK {
			t.Fatalf("tier %q: %d", tt.tier, w.Code)
		}
		headerItems(t, w.Header(), "RateLimit-Policy", tt.policy)
		headerItems(t, w.Header(), "RateLimit", tt.rl)
	}
	// The fallback is spent; the free tier has 59 more this window.
	checkProblem(t, send("unknown"), http.StatusTooManyRequests, "50")
	for i := range 59 {
		if w := send("free"); w.Code != http.StatusOK {
			t.Fatalf("free request %d: %d", i+2, w.Code)
		}
	}
	w := send("free")
	checkProblem(t, w, http.StatusTooManyRequests, "50")
	headerItems(t, w.Header(), "RateLimit", `"free";r=0;t=50`)
	// Premium and api are still counting on their own.
	headerItems(t, send("premium").Header(), "RateLimit", `"premium";r=298;t=1`)
	headerItems(t, send("api").Header(), "RateLimit", `"api";r=998;t=60`)
	if next.Count() != 66 {
		t.Fatalf("handler ran %d times, want 66", next.Count())
	}

	// Tiers alone: a tier it does not list is not limited by the rule.
	h = m.Limit(ratelimit.Rule{Tier: tier, Tiers: tiers, Key: ratelimit.ByIP(nil)})(&next)
	if w := send("gold"); w.Code != http.StatusOK || len(w.Header()) != 0 {
		t.Fatalf("unlisted tier without a Limiter: %d %v", w.Code, w.Header())
	}
}

func TestLimitPanics(t *testing.T) {
	l := memLimiter(t, ratelimit.Free, nil)
	tier := func(*http.Request) string { return "free" }
	tests := map[string]ratelimit.Rule{
		"no Key":                   {Limiter: l},
		"no Limiter":               {Key: ratelimit.ByRoute},
		"empty Tiers":              {Key: ratelimit.ByRoute, Tier: tier, Tiers: map[string]*ratelimit.Limiter{}},
		"Tiers without Tier":       {Key: ratelimit.ByRoute, Tiers: map[string]*ratelimit.Limiter{"free": l}},
		"Tiers of nil, no Limiter": {Key: ratelimit.ByRoute, Tier: tier, Tiers: map[string]*ratelimit.Limiter{"free": nil}},
	}
	m := newMiddleware(t, ratelimit.MiddlewareConfig{})
	for name, ru := range tests {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if v := recover(); v == nil {
					t.Fatal("Limit did not panic")
				} else if s, ok := v.(string); !ok || !strings.HasPrefix(s, "ratelimit: Limit: rule 1 ") {
					t.Fatalf("panic %v, want one naming rule 1", v)
				}
			}()
			m.Limit(ratelimit.Rule{Limiter: l, Key: ratelimit.ByRoute}, ru)
		})
	}
}

// Limit copies its rules and their Tiers: changing them afterwards
// changes nothing.
func TestLimitCopiesRules(t *testing.T) {
	clock := testkit.NewClock(clockStart)
	l := memLimiter(t, ratelimit.PerMinute("one", 1), clock.Now)
	tiers := map[string]*ratelimit.Limiter{"free": l}
	rules := []ratelimit.Rule{{Tier: func(*http.Request) string { return "free" }, Tiers: tiers, Key: ratelimit.ByIP(nil)}}
	m := newMiddleware(t, ratelimit.MiddlewareConfig{})
	h := m.Limit(rules...)(&counter{})
	rules[0].Key = func(*http.Request) (string, bool) { return "", false }
	delete(tiers, "free")
	serve(h, request("192.0.2.1:1"))
	if w := serve(h, request("192.0.2.1:1")); w.Code != http.StatusTooManyRequests {
		t.Fatalf("second request: %d, want 429", w.Code)
	}
}

// errUnavailable is a store failure as a Store reports one.
var errUnavailable = fmt.Errorf("fake: connection refused: %w", store.ErrUnavailable)

// failing returns a limiter of p whose store fails every check.
func failing(t *testing.T, p ratelimit.Policy) *ratelimit.Limiter {
	t.Helper()
	st := stubStore{take: func(context.Context, ratelimit.Policy, string, int, time.Time) (ratelimit.Result, error) {
		return ratelimit.Result{}, errUnavailable
	}}
	l, err := ratelimit.New(st, p, ratelimit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// A store failure: sensitive rules fail closed whatever FailOpen says,
// others follow FailOpen.
func TestLimitStoreFailure(t *testing.T) {
	tests := []struct {
		sensitive, failOpen bool
		through             bool
	}{
		{sensitive: true, failOpen: false, through: false},
		{sensitive: true, failOpen: true, through: false},
		{sensitive: false, failOpen: false, through: false},
		{sensitive: false, failOpen: true, through: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("sensitive=%v,FailOpen=%v", tt.sensitive, tt.failOpen), func(t *testing.T) {
			var log testkit.Buffer
			m := newMiddleware(t, ratelimit.MiddlewareConfig{FailOpen: tt.failOpen, Logger: slog.New(slog.NewTextHandler(&log, nil)), Recorder: &captureRecorder{}})
			var next counter
			h := m.Limit(ratelimit.Rule{Limiter: failing(t, ratelimit.PerMinute("login", 30)), Key: ratelimit.ByIP(nil), Sensitive: tt.sensitive})(&next)
			w := serve(h, request("192.0.2.1:1"))
			if tt.through {
				if w.Code != http.StatusOK || next.Count() != 1 {
					t.Fatalf("%d, handler %d; want 200 from the handler", w.Code, next.Count())
				}
			} else {
				checkProblem(t, w, http.StatusServiceUnavailable, "1")
				if next.Count() != 0 {
					t.Fatal("the handler ran")
				}
				if strings.Contains(w.Body.String(), "connection refused") {
					t.Errorf("body %q tells the cause", w.Body)
				}
			}
			if w.Header().Get("RateLimit") != "" || w.Header().Get("RateLimit-Policy") != "" {
				t.Errorf("headers %v for a check that did not happen", w.Header())
			}
			if !strings.Contains(log.String(), "ratelimit: check failed") || !strings.Contains(log.String(), "policy=login") {
				t.Errorf("log %q does not report the failure", log.String())
			}
			if strings.Contains(log.String(), "192.0.2.1") {
				t.Errorf("log %q names the client", log.String())
			}
		})
	}
}

// A custom ErrorFunc gets the *LimitedError or the store's failure, with
// the headers of the rules checked already set, and writes the response.
func TestLimitErrorFunc(t *testing.T) {
	clock := testkit.NewClock(clockStart)
	type call struct {
		err    error
		header http.Header
	}
	var calls []call
	m := newMiddleware(t, ratelimit.MiddlewareConfig{ErrorFunc: func(w http.ResponseWriter, r *http.Request, err error) {
		calls = append(calls, call{err, w.Header().Clone()})
		w.WriteHeader(http.StatusTeapot)
		fmt.Fprint(w, "custom")
	}})
	limited := memLimiter(t, ratelimit.PerMinute("login", 1), clock.Now)
	var next counter
	h := m.Limit(ratelimit.Rule{Limiter: limited, Key: ratelimit.ByIP(nil)})(&next)
	serve(h, request("192.0.2.1:1"))
	w := serve(h, request("192.0.2.1:1"))
	if w.Code != http.StatusTeapot || w.Body.String() != "custom" || w.Header().Get("Retry-After") != "" {
		t.Fatalf("response %d %q %v, want the ErrorFunc's", w.Code, w.Body, w.Header())
	}
	var le *ratelimit.LimitedError
	if len(calls) != 1 || !errors.As(calls[0].err, &le) || !errors.Is(calls[0].err, ratelimit.ErrLimited) {
		t.Fatalf("ErrorFunc calls %+v, want one *LimitedError", calls)
	}
	want := ratelimit.Result{Limit: 1, Reset: 50 * time.Second, RetryAfter: 50 * time.Second}
	if le.Policy != limited.Policy() || le.Result != want {
		t.Errorf("LimitedError %+v, want policy %v and %+v", le, limited.Policy(), want)
	}
	headerItems(t, calls[0].header, "RateLimit", `"login";r=0;t=50`)

	calls = nil
	h = m.Limit(
		ratelimit.Rule{Limiter: memLimiter(t, ratelimit.PerMinute("first", 10), clock.Now), Key: ratelimit.ByIP(nil)},
		ratelimit.Rule{Limiter: failing(t, ratelimit.PerMinute("broken", 1)), Key: ratelimit.ByIP(nil)},
	)(&next)
	w = serve(h, request("192.0.2.1:1"))
	if w.Code != http.StatusTeapot || w.Body.String() != "custom" {
		t.Fatalf("response %d %q, want the ErrorFunc's", w.Code, w.Body)
	}
	if len(calls) != 1 || !errors.Is(calls[0].err, store.ErrUnavailable) || errors.Is(calls[0].err, ratelimit.ErrLimited) {
		t.Fatalf("ErrorFunc calls %+v, want one store failure", calls)
	}
	headerItems(t, calls[0].header, "RateLimit", `"first";r=9;t=50`)
	if next.Count() != 1 {
		t.Fatalf("handler ran %d times, want 1", next.Count())
	}
}

func TestWriteError(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		retry  string
	}{
		{"limited", &ratelimit.LimitedError{Policy: ratelimit.Free, Result: ratelimit.Result{Limit: 60, RetryAfter: 41200 * time.Millisecond}}, 429, "42"},
		{"limited, wrapped", fmt.Errorf("reset: %w", &ratelimit.LimitedError{Policy: ratelimit.Free, Result: ratelimit.Result{Limit: 60, RetryAfter: 3 * time.Second}}), 429, "3"},
		{"limited, under a second", &ratelimit.LimitedError{Policy: ratelimit.Free, Result: ratelimit.Result{Limit: 60, RetryAfter: time.Microsecond}}, 429, "1"},
		{"limited, no retry time", &ratelimit.LimitedError{Policy: ratelimit.Free}, 429, "1"},
		{"ErrLimited without a *LimitedError", fmt.Errorf("reset: too many requests: %w", ratelimit.ErrLimited), 429, "1"},
		{"store failure", errUnavailable, 503, "1"},
		{"context canceled", context.Canceled, 503, "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			ratelimit.WriteError(w, request("192.0.2.1:1"), tt.err)
			checkProblem(t, w, tt.status, tt.retry)
			if strings.Contains(w.Body.String(), tt.err.Error()) || strings.Contains(w.Body.String(), "free") {
				t.Errorf("body %q tells the error", w.Body)
			}
		})
	}
}

// Check, for a key a handler finds in the body.
func TestCheck(t *testing.T) {
	clock := testkit.NewClock(clockStart)
	l := memLimiter(t, ratelimit.PerHour("forgot.address", 2), clock.Now)
	m := newMiddleware(t, ratelimit.MiddlewareConfig{})
	for i, want := range []bool{true, true, false} {
		w := httptest.NewRecorder()
		if got := m.Check(w, request("192.0.2.1:1"), l, "email:alice@example.com", true); got != want {
			t.Fatalf("check %d = %v, want %v", i+1, got, want)
		}
		if want {
			if w.Code != 200 || w.Body.Len() != 0 {
				t.Fatalf("check %d wrote %d %q", i+1, w.Code, w.Body)
			}
			headerItems(t, w.Header(), "RateLimit", fmt.Sprintf(`"forgot.address";r=%d;t=3590`, 1-i))
		} else {
			checkProblem(t, w, 429, "3590")
			headerItems(t, w.Header(), "RateLimit", `"forgot.address";r=0;t=3590`)
			if strings.Contains(w.Body.String()+fmt.Sprint(w.Header()), "alice") {
				t.Fatalf("the response names the address: %v %q", w.Header(), w.Body)
			}
		}
	}
	// A check whose request is gone: not counted, not admitted.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if m.Check(httptest.NewRecorder(), request("192.0.2.1:1").WithContext(ctx), l, "email:bob@example.com", false) {
		t.Fatal("check of a canceled request admitted it")
	}
	if res, _ := l.Allow(context.Background(), "email:bob@example.com"); res.Remaining != 1 {
		t.Fatalf("the canceled check counted: %+v", res)
	}
}

func TestNewMiddlewareErrors(t *testing.T) {
	for _, rate := range []int{-1, ratelimit.MaxSlidingLimit + 1} {
		_, err := ratelimit.NewMiddleware(ratelimit.MiddlewareConfig{AuditRate: rate, Recorder: &captureRecorder{}})
		want := fmt.Sprintf("ratelimit: MiddlewareConfig.AuditRate: %d is outside 1..100000", rate)
		if err == nil || err.Error() != want {
			t.Errorf("AuditRate %d: %v, want %q", rate, err, want)
		}
	}
	if _, err := ratelimit.NewMiddleware(ratelimit.MiddlewareConfig{AuditRate: ratelimit.MaxSlidingLimit, Recorder: &captureRecorder{}}); err != nil {
		t.Errorf("AuditRate %d: %v", ratelimit.MaxSlidingLimit, err)
	}
}
