package ratelimit

import (
	"context"
	"time"

	"github.com/cedrina/cedrina/internal/batch"
	"github.com/cedrina/cedrina/internal/errs"
)

// Expirer is a [Store] that keeps state it does not drop by itself: the
// PostgreSQL store, whose rows stay until a cleanup deletes them. The
// [MemoryStore] drops idle keys on its own and needs no cleanup; Redis
// expires them.
type Expirer interface {
	// DeleteExpired deletes at most limit keys' states that are initial
	// again at before (a fixed window that ended, a sliding window whose
	// newest admitted request is a window old, a token bucket full again)
	// and returns how many it deleted. Deleting one changes no check at
	// or after before.
	DeleteExpired(ctx context.Context, before time.Time, limit int) (int, error)
}

// CleanupConfig configures [Cleanup]. Zero values are the defaults.
type CleanupConfig struct {
	// Batch is how many keys' states one batch deletes. Default 1,000.
	Batch int
	// Pause between batches: 0 waits twice as long as the previous batch
	// took; negative does not wait.
	Pause time.Duration
	// Now is the clock. Default time.Now. Use the limiters' clock: a
	// cleanup whose clock runs ahead of theirs deletes states they still
	// count in (the limits then restart early by the difference).
	Now func() time.Time
}

// Cleanup deletes the rate limit states that are initial again from st,
// a batch at a time, until none is left or ctx ends, and returns how many
// it deleted. Run it from a background job or `cedrina cleanup`, not on
// a request path.
func Cleanup(ctx context.Context, st Expirer, cfg CleanupConfig) (int64, error) {
	n, err := batch.Expired(ctx, cfg.Batch, cfg.Pause, cfg.Now, func(at time.Time, size int) (int, error) {
		return st.DeleteExpired(ctx, at, size)
	})
	if err != nil {
		return n, errs.Wrap("ratelimit", "cleanup", err)
	}
	return n, nil
}
