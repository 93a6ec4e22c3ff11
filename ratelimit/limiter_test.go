package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/cedrina/cedrina/ratelimit"
	"github.com/cedrina/cedrina/store"
)

// fakeStore is a Store whose Take is take; it counts its calls.
type fakeStore struct {
	take  func(ctx context.Context, p ratelimit.Policy, key string, n int, now time.Time) (ratelimit.Result, error)
	calls int
}

func (f *fakeStore) Take(ctx context.Context, p ratelimit.Policy, key string, n int, now time.Time) (ratelimit.Result, error) {
	f.calls++
	return f.take(ctx, p, key, n, now)
}

func fixedClock(t time.Time) ratelimit.Config {
	return ratelimit.Config{Now: func() time.Time { return t }}
}

func newLimiter(t *testing.T, st ratelimit.Store, p ratelimit.Policy, cfg ratelimit.Config) *ratelimit.Limiter {
	t.Helper()
	lim, err := ratelimit.New(st, p, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return lim
}

func TestNewRefuses(t *testing.T) {
	if lim, err := ratelimit.New(nil, ratelimit.Free, ratelimit.Config{}); err == nil || err.Error() != "ratelimit: New: nil Store" || lim != nil {
		t.Errorf("New(nil store) = %v, %v", lim, err)
	}
	st := newMemory(t, ratelimit.MemoryConfig{})
	if lim, err := ratelimit.New(st, ratelimit.Policy{Name: "x", Algorithm: ratelimit.FixedWindow, Window: time.Minute}, ratelimit.Config{}); err == nil ||
		err.Error() != "ratelimit: Policy.Limit: 0 is outside 1..1000000000" || lim != nil {
		t.Errorf("New(policy without a limit) = %v, %v", lim, err)
	}
}

// TestLimiterPolicy: the limiter's policy has its defaults filled in,
// and that is the policy the store receives.
func TestLimiterPolicy(t *testing.T) {
	var got ratelimit.Policy
	f := &fakeStore{take: func(_ context.Context, p ratelimit.Policy, _ string, _ int, _ time.Time) (ratelimit.Result, error) {
		got = p
		return ratelimit.Result{Allowed: true}, nil
	}}
	lim := newLimiter(t, f, ratelimit.Premium, ratelimit.Config{})
	want := ratelimit.Premium
	want.Burst = 300
	if lim.Policy() != want {
		t.Errorf("Policy() = %+v, want %+v", lim.Policy(), want)
	}
	if _, err := lim.Allow(context.Background(), "k"); err != nil || got != want {
		t.Errorf("the store received %+v, %v; want %+v", got, err, want)
	}
}

// TestLimiterNOutOfRange: n outside 1..Quota is an error with the zero
// Result, and the store is not asked.
func TestLimiterNOutOfRange(t *testing.T) {
	f := &fakeStore{take: func(context.Context, ratelimit.Policy, string, int, time.Time) (ratelimit.Result, error) {
		return ratelimit.Result{Allowed: true}, nil
	}}
	fixed := newLimiter(t, f, ratelimit.PerMinute("login", 3), ratelimit.Config{})
	bucket := newLimiter(t, f, ratelimit.Policy{Name: "b", Algorithm: ratelimit.TokenBucket, Limit: 5, Window: time.Second, Burst: 10}, ratelimit.Config{})
	tests := []struct {
		lim  *ratelimit.Limiter
		n    int
		want string
	}{
		{fixed, 0, "ratelimit: login: n=0 is outside 1..3"},
		{fixed, -1, "ratelimit: login: n=-1 is outside 1..3"},
		{fixed, 4, "ratelimit: login: n=4 is outside 1..3"},
		{fixed, math.MaxInt, fmt.Sprintf("ratelimit: login: n=%d is outside 1..3", math.MaxInt)},
		{bucket, 11, "ratelimit: b: n=11 is outside 1..10"},
		{bucket, 0, "ratelimit: b: n=0 is outside 1..10"},
	}
	for _, tt := range tests {
		res, err := tt.lim.AllowN(context.Background(), "k", tt.n)
		if err == nil || err.Error() != tt.want || res != (ratelimit.Result{}) {
			t.Errorf("AllowN(%d) = %+v, %v; want the zero Result, %q", tt.n, res, err, tt.want)
		}
	}
	if f.calls != 0 {
		t.Errorf("the store was called %d times", f.calls)
	}
	for _, c := range []struct {
		lim *ratelimit.Limiter
		n   int
	}{{fixed, 1}, {fixed, 3}, {bucket, 10}} {
		if res, err := c.lim.AllowN(context.Background(), "k", c.n); err != nil || !res.Allowed {
			t.Errorf("AllowN(%d) = %+v, %v", c.n, res, err)
		}
	}
}

// TestLimiterClock: the store receives the clock truncated to the
// microsecond, in UTC, without a monotonic reading, and the key's hash
// under the policy.
func TestLimiterClock(t *testing.T) {
	var gotNow time.Time
	var gotKey string
	var gotN int
	f := &fakeStore{take: func(_ context.Context, _ ratelimit.Policy, key string, n int, now time.Time) (ratelimit.Result, error) {
		gotNow, gotKey, gotN = now, key, n
		return ratelimit.Result{Allowed: true}, nil
	}}
	p := ratelimit.Policy{Name: "api", Algorithm: ratelimit.SlidingWindow, Limit: 10, Window: time.Minute}
	zone := time.FixedZone("UTC+9", 9*3600)
	clock := time.Date(2026, 3, 15, 0, 9, 26, 535897999, zone)
	lim := newLimiter(t, f, p, fixedClock(clock))
	if _, err := lim.AllowN(context.Background(), "ip:203.0.113.7", 7); err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)
	if !gotNow.Equal(want) || gotNow.Location() != time.UTC || gotNow.Nanosecond() != 535897000 {
		t.Errorf("the store received now = %v, want %v", gotNow, want)
	}
	if gotKey != "ip:203.0.113.7" || gotN != 7 {
		t.Errorf("the store received key %s, n %d", gotKey, gotN)
	}
	// The default clock: time.Now, without its monotonic reading.
	lim = newLimiter(t, f, p, ratelimit.Config{})
	before := time.Now().Truncate(time.Microsecond)
	if _, err := lim.Allow(context.Background(), "k"); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	if gotNow.Before(before) || gotNow.After(after) || gotNow.Location() != time.UTC || gotNow != gotNow.Round(0) || gotNow.Nanosecond()%1000 != 0 {
		t.Errorf("default clock: the store received %v, between %v and %v", gotNow, before, after)
	}
}

// TestLimiterDenied: a refusal is a Result, not an error.
func TestLimiterDenied(t *testing.T) {
	lim := newLimiter(t, newMemory(t, ratelimit.MemoryConfig{}), ratelimit.PerMinute("login", 2), fixedClock(base))
	ctx := context.Background()
	want := []ratelimit.Result{
		{Allowed: true, Limit: 2, Remaining: 1, Reset: 33464103 * time.Microsecond},
		{Allowed: true, Limit: 2, Remaining: 0, Reset: 33464103 * time.Microsecond},
		{Limit: 2, Remaining: 0, Reset: 33464103 * time.Microsecond, RetryAfter: 33464103 * time.Microsecond},
	}
	for i, w := range want {
		res, err := lim.Allow(ctx, "ip:203.0.113.7")
		if err != nil || res != w {
			t.Errorf("Allow %d = %+v, %v; want %+v", i, res, err, w)
		}
	}
	// Another key is not limited.
	if res, err := lim.Allow(ctx, "ip:203.0.113.8"); err != nil || !res.Allowed {
		t.Errorf("another key: %+v, %v", res, err)
	}
}

// TestLimiterStoreFails: the store's failure is the Limiter's error,
// wrapped, with the zero Result, whatever Result the store returned
// with it: a caller that looks only at Allowed fails closed.
func TestLimiterStoreFails(t *testing.T) {
	boom := fmt.Errorf("redis: connection refused: %w", store.ErrUnavailable)
	f := &fakeStore{take: func(context.Context, ratelimit.Policy, string, int, time.Time) (ratelimit.Result, error) {
		return ratelimit.Result{Allowed: true, Limit: 5, Remaining: 4}, boom
	}}
	lim := newLimiter(t, f, ratelimit.PerMinute("login", 5), ratelimit.Config{})
	res, err := lim.Allow(context.Background(), "k")
	if !errors.Is(err, boom) || !errors.Is(err, store.ErrUnavailable) || errors.Is(err, ratelimit.ErrLimited) || res != (ratelimit.Result{}) {
		t.Errorf("Allow on a failing store = %+v, %v; want the zero Result and the store's error", res, err)
	}
	if err != nil && err.Error() != "ratelimit: login: redis: connection refused: store: unavailable" {
		t.Errorf("error reads %q", err)
	}
}

// TestLimiterCanceled: a done context is an error with the zero Result,
// and the store is not asked.
func TestLimiterCanceled(t *testing.T) {
	f := &fakeStore{take: func(context.Context, ratelimit.Policy, string, int, time.Time) (ratelimit.Result, error) {
		return ratelimit.Result{Allowed: true}, nil
	}}
	lim := newLimiter(t, f, ratelimit.PerMinute("login", 5), ratelimit.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if res, err := lim.Allow(ctx, "k"); !errors.Is(err, context.Canceled) || res != (ratelimit.Result{}) || f.calls != 0 {
		t.Errorf("Allow with a canceled context = %+v, %v (%d store calls)", res, err, f.calls)
	}
	ctx, cancel = context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	if res, err := lim.Allow(ctx, "k"); !errors.Is(err, context.DeadlineExceeded) || res != (ratelimit.Result{}) || f.calls != 0 {
		t.Errorf("Allow past the deadline = %+v, %v (%d store calls)", res, err, f.calls)
	}
}

func TestLimitedError(t *testing.T) {
	err := error(&ratelimit.LimitedError{Policy: ratelimit.PerMinute("login", 5), Result: ratelimit.Result{Limit: 5, RetryAfter: 45 * time.Second}})
	if err.Error() != "ratelimit: login: limit exceeded; retry after 45s" {
		t.Errorf("Error() = %q", err)
	}
	wrapped := fmt.Errorf("reset: %w", err)
	var le *ratelimit.LimitedError
	if !errors.Is(wrapped, ratelimit.ErrLimited) || !errors.As(wrapped, &le) || le.Result.RetryAfter != 45*time.Second {
		t.Errorf("a wrapped LimitedError does not match ErrLimited or As")
	}
	if errors.Is(errors.New("ratelimit: limit exceeded"), ratelimit.ErrLimited) {
		t.Error("ErrLimited matches another error with its text")
	}
}
