package postgres

import "time"

// CleanupPass is one statement of [SessionStore.DeleteExpired] with the
// arguments it sends, for the plan tests.
type CleanupPass struct {
	Index string // the index the pass's inner scan must walk
	Query string
	Args  []any
}

// CleanupPasses returns the statements DeleteExpired runs, in order, with
// the arguments it sends for at, idle and limit.
func CleanupPasses(at time.Time, idle time.Duration, limit int) []CleanupPass {
	out := make([]CleanupPass, len(cleanupPasses))
	for i, p := range cleanupPasses {
		out[i] = CleanupPass{Index: p.index, Query: p.query, Args: p.args(at, idle, limit)}
	}
	return out
}
