// Package batch runs a cleanup pass as a loop of short batches, pausing
// between them so that a large backlog never holds locks for long nor
// starves the database.
package batch

import (
	"context"
	"time"
)

// Delete calls del with size until it deletes fewer than size rows, an
// error occurs, or ctx ends, and returns the total deleted. Between
// batches it waits pause; a zero pause waits twice as long as the previous
// batch took, a negative one does not wait.
func Delete(ctx context.Context, size int, pause time.Duration, del func(size int) (int, error)) (int64, error) {
	var total int64
	for {
		start := time.Now()
		n, err := del(size)
		total += int64(n)
		if err != nil {
			return total, err
		}
		if n < size {
			return total, nil
		}
		wait := pause
		if wait == 0 {
			wait = 2 * time.Since(start)
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return total, ctx.Err()
			case <-t.C:
			}
		} else if err := ctx.Err(); err != nil {
			return total, err
		}
	}
}

// DefaultSize is the batch size a zero or negative size means.
const DefaultSize = 1000

// Expired is the cleanup pass of a table: it reads the clock once (nil:
// time.Now), as the stores keep times (UTC, microseconds), and calls del
// with that time through [Delete]; a size of 0 or less means DefaultSize.
func Expired(ctx context.Context, size int, pause time.Duration, now func() time.Time,
	del func(at time.Time, size int) (int, error)) (int64, error) {
	if size <= 0 {
		size = DefaultSize
	}
	if now == nil {
		now = time.Now
	}
	at := now().UTC().Truncate(time.Microsecond)
	return Delete(ctx, size, pause, func(size int) (int, error) { return del(at, size) })
}
