package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/testkit"
	"github.com/cedrina/cedrina/ratelimit"
)

// 1,000 concurrent refusals of one key in one window make exactly one
// rate_limit_exceeded event, which names the policy and the key's hash,
// never the key; the next window makes one more.
func TestAuditOneEventPerKeyAndWindow(t *testing.T) {
	clock := testkit.NewClock(clockStart)
	rec := &captureRecorder{}
	m := newMiddleware(t, ratelimit.MiddlewareConfig{Recorder: rec, Now: clock.Now})
	p := ratelimit.PerMinute("login", 5)
	var next counter
	h := m.Limit(ratelimit.Rule{Limiter: memLimiter(t, p, clock.Now), Key: ratelimit.ByIP(nil), Sensitive: true})(&next)

	flood := func() (refused int) {
		codes := make([]int, 1000)
		together(1000, func(i int) {
			codes[i] = serve(h, request(fmt.Sprintf("203.0.113.77:%d", 2000+i))).Code
		})
		for _, c := range codes {
			if c == http.StatusTooManyRequests {
				refused++
			}
		}
		return refused
	}
	if n := flood(); n != 995 || next.Count() != 5 {
		t.Fatalf("%d refused, %d served; want 995 and 5", n, next.Count())
	}
	events := rec.Events()
	if len(events) != 1 {
		t.Fatalf("%d events, want 1", len(events))
	}
	want := audit.Event{Type: audit.RateLimitExceeded, Severity: audit.Warning, Source: "ratelimit",
		Data: map[string]any{"policy": "login", "algorithm": "fixed_window", "limit": 5, "window_seconds": int64(60),
			"key_hash": ratelimit.HashKey(p, "ip:203.0.113.77").String(), "retry_after_seconds": int64(50)}}
	if !reflect.DeepEqual(events[0], want) {
		t.Fatalf("event\n%#v\nwant\n%#v", events[0], want)
	}
	if s := fmt.Sprintf("%#v", events[0]); strings.Contains(s, "203.0.113") {
		t.Fatalf("event %s names the client", s)
	}

	// Later in the same window: still one event.
	clock.Advance(49 * time.Second)
	if n := flood(); n != 1000 {
		t.Fatalf("%d refused, want 1000", n)
	}
	if n := len(rec.Events()); n != 1 {
		t.Fatalf("%d events, want still 1", n)
	}

	// The next window: five more served, one more event.
	clock.Advance(time.Second)
	if n := flood(); n != 995 || next.Count() != 10 {
		t.Fatalf("next window: %d refused, %d served; want 995 and 10", n, next.Count())
	}
	events = rec.Events()
	if len(events) != 2 || events[1].Data["retry_after_seconds"] != int64(60) || events[1].Data["key_hash"] != want.Data["key_hash"] {
		t.Fatalf("events %v, want a second one with retry_after_seconds 60", events)
	}
}

// Refusals of 1,000 different keys within one second make AuditRate
// events, AuditRate at once (the sampler's burst is its rate); a second
// later, AuditRate more.
func TestAuditRate(t *testing.T) {
	for _, rate := range []int{0, 3, 10, 25} {
		want := rate
		if rate == 0 {
			want = 10 // the default
		}
		t.Run(fmt.Sprint("AuditRate=", rate), func(t *testing.T) {
			clock := testkit.NewClock(clockStart)
			rec := &captureRecorder{}
			m := newMiddleware(t, ratelimit.MiddlewareConfig{Recorder: rec, AuditRate: rate, Now: clock.Now})
			l := memLimiter(t, ratelimit.PerMinute("login", 1), clock.Now)
			h := m.Limit(ratelimit.Rule{Limiter: l, Key: ratelimit.ByIP(nil)})(&counter{})
			addr := func(i int) string { return fmt.Sprintf("10.1.%d.%d:443", i/256, i%256) }
			for i := range 1000 {
				serve(h, request(addr(i)))
			}
			refuse := func(base int) {
				codes := make([]int, 1000)
				together(1000, func(i int) { codes[i] = serve(h, request(addr(base+i))).Code })
				for i, c := range codes {
					if c != http.StatusTooManyRequests {
						t.Fatalf("request %d: %d, want 429", i, c)
					}
				}
			}
			refuse(0)
			if n := len(rec.Events()); n != want {
				t.Fatalf("%d events, want %d", n, want)
			}
			// Within the same second, nothing more.
			clock.Advance(999 * time.Millisecond)
			for i := range 1000 {
				serve(h, request(addr(2000+i)))
			}
			refuse(2000)
			if n := len(rec.Events()); n != want {
				t.Fatalf("%d events after another 1,000 keys in the same second, want %d", n, want)
			}
			// A second after the first refusals the budget is back.
			clock.Advance(time.Millisecond)
			for i := range 1000 {
				serve(h, request(addr(4000+i)))
			}
			refuse(4000)
			if n := len(rec.Events()); n != 2*want {
				t.Fatalf("%d events a second later, want %d", n, 2*want)
			}
			// Every event is about a different key.
			seen := map[any]bool{}
			for _, e := range rec.Events() {
				if seen[e.Data["key_hash"]] {
					t.Fatalf("two events for %v", e.Data["key_hash"])
				}
				seen[e.Data["key_hash"]] = true
			}
		})
	}
}

// A recorder that fails: the failure is logged and the 429 still sent.
func TestAuditRecorderFails(t *testing.T) {
	clock := testkit.NewClock(clockStart)
	var log testkit.Buffer
	rec := &captureRecorder{err: errors.New("audit: store: unavailable")}
	m := newMiddleware(t, ratelimit.MiddlewareConfig{Recorder: rec, Now: clock.Now, Logger: slog.New(slog.NewTextHandler(&log, nil))})
	h := m.Limit(ratelimit.Rule{Limiter: memLimiter(t, ratelimit.PerMinute("login", 1), clock.Now), Key: ratelimit.ByIP(nil)})(&counter{})
	serve(h, request("192.0.2.9:1"))
	w := serve(h, request("192.0.2.9:1"))
	checkProblem(t, w, http.StatusTooManyRequests, "50")
	if len(rec.Events()) != 1 {
		t.Fatalf("%d events, want 1 attempted", len(rec.Events()))
	}
	got := log.String()
	if !strings.Contains(got, "rate_limit_exceeded not recorded") || !strings.Contains(got, "policy=login") || !strings.Contains(got, "audit: store: unavailable") {
		t.Fatalf("log %q does not report the lost event", got)
	}
	if strings.Contains(got, "192.0.2.9") {
		t.Fatalf("log %q names the client", got)
	}
}

// The event of each algorithm, from the policies of the original tiers.
func TestAuditEventPerAlgorithm(t *testing.T) {
	for _, tt := range []struct {
		p     ratelimit.Policy
		n     int   // requests admitted first
		retry int64 // retry_after_seconds
	}{
		{ratelimit.Free, 60, 50},
		{ratelimit.Premium, 300, 1},
		{ratelimit.API, 1000, 60},
		{ratelimit.Policy{Name: "short", Algorithm: ratelimit.FixedWindow, Limit: 1, Window: 1500 * time.Millisecond}, 1, 1},
	} {
		t.Run(tt.p.Name, func(t *testing.T) {
			clock := testkit.NewClock(clockStart)
			rec := &captureRecorder{}
			m := newMiddleware(t, ratelimit.MiddlewareConfig{Recorder: rec, Now: clock.Now})
			l := memLimiter(t, tt.p, clock.Now)
			for range tt.n {
				if !m.Check(httptest.NewRecorder(), request("192.0.2.1:1"), l, "user:42", false) {
					t.Fatal("refused too early")
				}
			}
			if m.Check(httptest.NewRecorder(), request("192.0.2.1:1"), l, "user:42", false) {
				t.Fatal("admitted over the limit")
			}
			want := audit.Event{Type: audit.RateLimitExceeded, Severity: audit.Warning, Source: "ratelimit",
				Data: map[string]any{"policy": tt.p.Name, "algorithm": string(tt.p.Algorithm), "limit": tt.p.Quota(),
					"window_seconds": int64((tt.p.Window + time.Second - 1) / time.Second),
					"key_hash":       ratelimit.HashKey(tt.p, "user:42").String(), "retry_after_seconds": tt.retry}}
			if ev := rec.Events(); len(ev) != 1 || !reflect.DeepEqual(ev[0], want) {
				t.Fatalf("events %#v, want %#v", ev, want)
			}
		})
	}
}

// The per-key sampler holds a bounded number of keys. Filling it (an
// attacker refused from many keys: the /64s of one /48, say) must not
// silence the audit of every other key for the rest of the window: the
// overall AuditRate still bounds the events.
func TestAuditSamplerFull(t *testing.T) {
	clock := testkit.NewClock(clockStart)
	rec := &captureRecorder{}
	m := newMiddleware(t, ratelimit.MiddlewareConfig{Recorder: rec, Now: clock.Now})
	// A store that refuses everything, for an hour.
	refuse := stubStore{take: func(_ context.Context, p ratelimit.Policy, _ string, _ int, _ time.Time) (ratelimit.Result, error) {
		return ratelimit.Result{Limit: p.Limit, Reset: 30 * time.Minute, RetryAfter: 30 * time.Minute}, nil
	}}
	l, err := ratelimit.New(refuse, ratelimit.PerHour("forgot.ip", 20), ratelimit.Config{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	r := request("192.0.2.1:1")
	// 67,000 keys fill every shard of the sampler (65,536 keys in 16
	// shards); each check of a new key then scans a full shard.
	for i := range 67_000 {
		m.Check(httptest.NewRecorder(), r, l, fmt.Sprintf("ip:2001:db8:77:%x::/64", i), true)
	}
	if n := len(rec.Events()); n != 10 {
		t.Fatalf("%d events from 67,000 keys in one second, want 10", n)
	}
	for i := range 20 {
		clock.Advance(time.Second)
		m.Check(httptest.NewRecorder(), r, l, fmt.Sprintf("ip:198.51.100.%d", i), true)
		if n := len(rec.Events()); n != 11+i {
			t.Fatalf("a new key %d s after the flood: %d events, want %d", i+1, n, 11+i)
		}
	}
}
