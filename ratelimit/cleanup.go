package ratelimit

import (
	"context"
	"time"

	"github.com/cedrina/cedrina/internal/batch"
	"github.com/cedrina/cedrina/internal/errs"
)

// Expirer is a [Store] whose idle keys stay until something deletes
// them: the PostgreSQL store keeps a row per key (per window, for a
// fixed window). [Cleanup] deletes them. The [MemoryStore] drops idle
// keys on its own and needs no cleanup; Redis expires them.
type Expirer interface {
	// DeleteExpired deletes the states of at most limit keys that are
	// initial again at before (a fixed window that ended, a sliding
	// window whose newest admitted request is a window old, a token
	// bucket full again) and returns how many it deleted. Deleting one
	// changes the answer of no check at or after before.
	DeleteExpired(ctx context.Context, before time.Time, limit int) (int, error)
}

// DefaultCleanupGrace is the [CleanupConfig] Grace a zero value means.
const DefaultCleanupGrace = time.Minute

// CleanupConfig configures [Cleanup]. Zero values are the defaults.
type CleanupConfig struct {
	// Batch is how many keys' states one batch deletes. Default 1,000.
	Batch int
	// Pause between batches: 0 waits twice as long as the previous batch
	// took; negative does not wait.
	Pause time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Grace is how long a state stays after it is initial again: Cleanup
	// deletes those that were initial at Now minus Grace. A check whose
	// clock reading is older than that (an instance whose clock is behind
	// the cleanup's, a caller that read its clock before a slow step)
	// still finds the state it counts with. Default
	// [DefaultCleanupGrace]; negative means none.
	Grace time.Duration
}

// Cleanup deletes the rate limit states that are initial again (see
// CleanupConfig.Grace) from st, a batch at a time, until none is left or
// ctx ends, and returns how many it deleted. Run it from a background job
// or `cedrina cleanup`, not on a request path.
func Cleanup(ctx context.Context, st Expirer, cfg CleanupConfig) (int64, error) {
	now, grace := cfg.Now, cfg.Grace
	if now == nil {
		now = time.Now
	}
	switch {
	case grace == 0:
		grace = DefaultCleanupGrace
	case grace < 0:
		grace = 0
	}
	n, err := batch.Expired(ctx, cfg.Batch, cfg.Pause, func() time.Time { return now().Add(-grace) },
		func(at time.Time, size int) (int, error) { return st.DeleteExpired(ctx, at, size) })
	if err != nil {
		return n, errs.Wrap("ratelimit", "cleanup", err)
	}
	return n, nil
}
