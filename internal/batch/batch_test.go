package batch_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cedrina/cedrina/internal/batch"
)

// batchTime is how long each fake batch takes, on synctest's clock.
const batchTime = 5 * time.Millisecond

// deleter returns a del callback that deletes counts[i] rows on its i-th
// call (and fails when called more often), taking batchTime each, and
// records the sizes it was called with and when each call started.
type deleter struct {
	counts []int
	err    error // returned with counts[len(counts)-1], if not nil
	sizes  []int
	starts []time.Time
}

func (d *deleter) del(t *testing.T) func(size int) (int, error) {
	return func(size int) (int, error) {
		i := len(d.sizes)
		d.sizes = append(d.sizes, size)
		d.starts = append(d.starts, time.Now())
		if i >= len(d.counts) {
			t.Fatalf("del called %d times, want %d", i+1, len(d.counts))
		}
		time.Sleep(batchTime)
		if i == len(d.counts)-1 && d.err != nil {
			return d.counts[i], d.err
		}
		return d.counts[i], nil
	}
}

// TestDelete: Delete calls del until a batch deletes fewer rows than the
// size or fails, and returns the sum of the counts and the error.
func TestDelete(t *testing.T) {
	t.Parallel()
	errDB := errors.New("database gone")
	for _, tc := range []struct {
		name   string
		counts []int
		err    error
		want   int64
	}{
		{"one short batch", []int{2}, nil, 2},
		{"nothing to delete", []int{0}, nil, 0},
		{"until a short batch", []int{3, 3, 1}, nil, 7},
		{"a multiple of the size ends on an empty batch", []int{3, 3, 0}, nil, 6},
		{"an error in the first batch", []int{0}, errDB, 0},
		{"an error after full batches keeps their count", []int{3, 3, 2}, errDB, 8},
		{"an error with a full batch stops", []int{3, 3}, errDB, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				d := &deleter{counts: tc.counts, err: tc.err}
				n, err := batch.Delete(t.Context(), 3, -1, d.del(t))
				if n != tc.want || err != tc.err {
					t.Errorf("Delete = %d, %v; want %d, %v", n, err, tc.want, tc.err)
				}
				if len(d.sizes) != len(tc.counts) {
					t.Errorf("del called %d times, want %d", len(d.sizes), len(tc.counts))
				}
				for _, s := range d.sizes {
					if s != 3 {
						t.Errorf("del called with size %d, want 3", s)
					}
				}
			})
		})
	}
}

// TestDeletePause: between two batches Delete waits the pause; a zero
// pause waits twice as long as the batch took, a negative one not at
// all. After the last batch it does not wait. synctest's clock makes the
// waits exact and instant.
func TestDeletePause(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		pause time.Duration
		gap   time.Duration // from the start of a batch to the start of the next
	}{
		{"positive", time.Minute, batchTime + time.Minute},
		{"zero waits twice the batch time", 0, 3 * batchTime},
		{"negative does not wait", -1, batchTime},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				d := &deleter{counts: []int{3, 3, 1}}
				start := time.Now()
				n, err := batch.Delete(t.Context(), 3, tc.pause, d.del(t))
				if n != 7 || err != nil {
					t.Fatalf("Delete = %d, %v; want 7, nil", n, err)
				}
				var gaps []time.Duration
				for i := 1; i < len(d.starts); i++ {
					gaps = append(gaps, d.starts[i].Sub(d.starts[i-1]))
				}
				if want := []time.Duration{tc.gap, tc.gap}; !slices.Equal(gaps, want) {
					t.Errorf("gaps between batches %v, want %v", gaps, want)
				}
				if got, want := time.Since(start), d.starts[2].Sub(start)+batchTime; got != want {
					t.Errorf("Delete took %v, want %v (no wait after the last batch)", got, want)
				}
			})
		})
	}
}

// TestDeleteContext: a context that ends during a batch ends Delete
// before the next batch, with the count so far and the context's error:
// a pending pause of an hour ends at once, and a negative pause checks
// the context too. A short last batch still ends with no error.
func TestDeleteContext(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		pause   time.Duration
		counts  []int // the batches; the context ends during the last
		want    int64
		wantErr error
	}{
		{"during the pause", time.Hour, []int{3, 3}, 6, context.Canceled},
		{"during a zero pause", 0, []int{3}, 3, context.Canceled},
		{"without a pause", -1, []int{3, 3}, 6, context.Canceled},
		{"in the last batch", time.Hour, []int{3, 1}, 4, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				d := &deleter{counts: tc.counts}
				del := d.del(t)
				start := time.Now()
				n, err := batch.Delete(ctx, 3, tc.pause, func(size int) (int, error) {
					if len(d.sizes) == len(tc.counts)-1 {
						cancel()
					}
					return del(size)
				})
				if n != tc.want || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
					t.Errorf("Delete = %d, %v; want %d, %v", n, err, tc.want, tc.wantErr)
				}
				if len(d.sizes) != len(tc.counts) {
					t.Errorf("del called %d times, want %d", len(d.sizes), len(tc.counts))
				}
				// Every batch but the last was followed by its pause; the
				// last by none.
				wait := tc.pause
				if wait == 0 {
					wait = 2 * batchTime
				}
				wait = max(wait, 0)
				if got, want := time.Since(start), time.Duration(len(tc.counts))*batchTime+time.Duration(len(tc.counts)-1)*wait; got != want {
					t.Errorf("Delete took %v, want %v", got, want)
				}
			})
		})
	}
}

// Expired reads the clock once, in the stores' form, and defaults the
// batch size.
func TestExpired(t *testing.T) {
	now := time.Date(2026, 11, 29, 13, 0, 0, 123456789, time.FixedZone("CET", 3600))
	var ats []time.Time
	var sizes []int
	n, err := batch.Expired(context.Background(), 0, -1, func() time.Time { return now }, func(at time.Time, size int) (int, error) {
		ats, sizes = append(ats, at), append(sizes, size)
		if len(ats) == 1 {
			return size, nil
		}
		return 7, nil
	})
	if err != nil || n != batch.DefaultSize+7 {
		t.Fatalf("Expired = %d, %v", n, err)
	}
	want := time.Date(2026, 11, 29, 12, 0, 0, 123456000, time.UTC)
	for i := range ats {
		if !ats[i].Equal(want) || ats[i].Location() != time.UTC || sizes[i] != batch.DefaultSize {
			t.Errorf("call %d: at %v size %d; want %v, %d", i, ats[i], sizes[i], want, batch.DefaultSize)
		}
	}
}
