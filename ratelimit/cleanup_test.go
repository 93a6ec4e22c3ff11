package ratelimit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cedrina/cedrina/ratelimit"
	"github.com/cedrina/cedrina/store"
)

// fakeExpirer holds left expired states and records each call.
type fakeExpirer struct {
	left   int
	calls  []expireCall
	failAt int // the call (1-based) that fails, 0 for none
	err    error
}

type expireCall struct {
	before time.Time
	limit  int
}

func (f *fakeExpirer) DeleteExpired(ctx context.Context, before time.Time, limit int) (int, error) {
	f.calls = append(f.calls, expireCall{before, limit})
	if len(f.calls) == f.failAt {
		return 1, f.err
	}
	n := min(limit, f.left)
	f.left -= n
	return n, nil
}

// TestCleanup: Cleanup deletes in batches of Batch until a batch comes
// back short, with one time for every batch: the clock, in whole
// microseconds, less Grace (a minute by default, none when negative).
func TestCleanup(t *testing.T) {
	now := time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.FixedZone("x", 3600))
	clock := func() time.Time { return now }
	at := time.Date(2026, 3, 14, 14, 9, 26, 535897000, time.UTC) // UTC, µs
	for _, c := range []struct {
		name  string
		grace time.Duration
		want  time.Time
	}{
		{"default grace", 0, at.Add(-time.Minute)},
		{"grace", 5 * time.Second, at.Add(-5 * time.Second)},
		{"no grace", -1, at},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeExpirer{left: 7}
			n, err := ratelimit.Cleanup(context.Background(), f, ratelimit.CleanupConfig{Batch: 3, Pause: -1, Now: clock, Grace: c.grace})
			if n != 7 || err != nil {
				t.Fatalf("Cleanup = %d, %v; want 7, nil", n, err)
			}
			want := []expireCall{{c.want, 3}, {c.want, 3}, {c.want, 3}}
			if len(f.calls) != len(want) {
				t.Fatalf("calls %v, want %v", f.calls, want)
			}
			for i, call := range f.calls {
				if !call.before.Equal(want[i].before) || call.before.Location() != time.UTC || call.limit != want[i].limit {
					t.Errorf("call %d: %v, %d; want %v, %d", i+1, call.before, call.limit, want[i].before, want[i].limit)
				}
			}
		})
	}

	t.Run("default batch", func(t *testing.T) {
		f := &fakeExpirer{left: 5}
		if n, err := ratelimit.Cleanup(context.Background(), f, ratelimit.CleanupConfig{Now: clock}); n != 5 || err != nil {
			t.Fatalf("Cleanup = %d, %v; want 5, nil", n, err)
		}
		if len(f.calls) != 1 || f.calls[0].limit != 1000 {
			t.Errorf("calls %v, want one of 1,000", f.calls)
		}
	})

	t.Run("failure", func(t *testing.T) {
		f := &fakeExpirer{left: 10, failAt: 2, err: store.ErrUnavailable}
		n, err := ratelimit.Cleanup(context.Background(), f, ratelimit.CleanupConfig{Batch: 3, Pause: -1, Now: clock})
		if n != 4 || !errors.Is(err, store.ErrUnavailable) || err.Error() != "ratelimit: cleanup: "+store.ErrUnavailable.Error() {
			t.Errorf("Cleanup = %d, %v; want 4 and the store's error, prefixed once", n, err)
		}
	})

	t.Run("context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		f := &fakeExpirer{left: 10}
		n, err := ratelimit.Cleanup(ctx, f, ratelimit.CleanupConfig{Batch: 3, Pause: -1, Now: clock})
		if n != 3 || !errors.Is(err, context.Canceled) {
			t.Errorf("Cleanup with a canceled context = %d, %v; want one batch (3), context.Canceled", n, err)
		}
	})
}
