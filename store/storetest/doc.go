// Package storetest is the conformance suite for the SDK's Store
// implementations. Every adapter passes it: store/memory always,
// store/postgres whenever CEDRINA_TEST_DATABASE_URL names a server, and
// any third-party store that wants to be a drop-in replacement.
//
// The suites need a *testing.T, so they run from a test of the adapter's
// own package, not from an example. A third-party adapter runs them so:
//
//	package mystore_test
//
//	import (
//		"testing"
//
//		"example.com/mystore"
//		"github.com/cedrina/cedrina/store/storetest"
//	)
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Stores {
//			db := mystore.New(...) // fresh and empty for every call
//			t.Cleanup(func() { db.Close() })
//			return storetest.Stores{Tx: db, Users: db.Users(), Sessions: db.Sessions(), Audit: db.Audit()}
//		})
//	}
//
// and checks it with go test ./... like any other test. A nil field of
// [Stores] skips that suite, so an adapter may start with the user store
// alone. The memory adapter's TestConformance (store/memory/memory_test.go)
// is the shortest complete instance; store/postgres runs the same suites
// on a fresh PostgreSQL schema per subtest. To run one suite, call
// [RunUserStore], [RunSessionStore], [RunAuditStore], [RunResetStore],
// [RunRateLimitStore], [RunRuleStore], [RunOAuthStore] or [RunTransactor]
// instead of [Run].
//
// A rate limit store ([ratelimit.Store]) goes in Stores.RateLimits;
// [RunRateLimitStore] needs nothing else, and passes every time it
// checks explicitly, so it never sleeps. ratelimit's own MemoryStore
// runs it from ratelimit/memory_test.go.
//
// A policy rule store ([rbac.Store]) goes in Stores.Rules, or straight
// to [RunRuleStore], which takes a function returning a fresh store
// rather than a Factory: rbac's own MemoryStore runs it from
// rbac/memory_test.go. When the store is also an [rbac.Watcher], the
// suite checks its notifications too.
//
// An OAuth store ([oauth.Store]) goes in Stores.OAuth, beside the user
// store its identities belong to. Besides what [oauth.Store] promises,
// [RunOAuthStore] holds it to PostgreSQL's columns, so that every store
// refuses the same values (see RunOAuthStore).
//
// The suites check what the Store interfaces' doc comments promise: the
// sentinel errors, unique constraints that hold under concurrency (50
// parallel creations of one username give exactly one success), atomic
// counters (100 parallel failed logins count 100), rate limits exact
// under 1,000 concurrent checks and equal to a reference model of each
// algorithm, a policy rule that 50 concurrent Adds store once, an OAuth
// identity that 20 concurrent Links give to one user, a passwordless
// user's last identity kept under 8 concurrent Unlinks, times kept in
// UTC at microsecond precision, JSON documents that round-trip, and
// transactions that commit, roll back on error and on panic, and nest.
//
// Subtests run in parallel, each on the stores the factory returns for
// it, so a factory must hand out isolated stores (a fresh schema or
// database for SQL adapters).
package storetest
