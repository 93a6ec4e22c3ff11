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

// RateLimitReruns returns how many times s ran a check's statement again
// because the key's row was inserted after the statement's snapshot.
func RateLimitReruns(s *RateLimitStore) int64 { return s.reruns.Load() }

// RateLimitStatements returns the statements of [RateLimitStore.Take],
// by algorithm, durable and asynchronous.
func RateLimitStatements() map[string][2]string {
	return map[string][2]string{
		"fixed_window":   rateLimitStatements[rlFixed],
		"sliding_window": rateLimitStatements[rlSliding],
		"token_bucket":   rateLimitStatements[rlBucket],
	}
}

// RateLimitCleanup is the statement of [RateLimitStore.DeleteExpired].
const RateLimitCleanup = rateLimitCleanup

// RuleRow is a casbin_rules row as the rule store scans it, every
// nullable column nullable, for the tests that read rows as stored.
type RuleRow = ruleRow
