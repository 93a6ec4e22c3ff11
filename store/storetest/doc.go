// Package storetest is the conformance suite for the SDK's Store
// implementations. Every adapter passes it: store/memory always,
// store/postgres whenever CEDRINA_TEST_DATABASE_URL names a server, and
// any third-party store that wants to be a drop-in replacement.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) storetest.Stores {
//			db := mystore.New(...) // fresh and empty for every call
//			t.Cleanup(func() { db.Close() })
//			return storetest.Stores{Tx: db, Users: db.Users()}
//		})
//	}
//
// The suites check what the Store interfaces' doc comments promise: the
// sentinel errors, unique constraints that hold under concurrency (50
// parallel creations of one username give exactly one success), atomic
// counters (100 parallel failed logins count 100), times kept in UTC at
// microsecond precision, JSON documents that round-trip, and transactions
// that commit, roll back on error and on panic, and nest.
//
// Subtests run in parallel, each on the stores the factory returns for
// it, so a factory must hand out isolated stores (a fresh schema or
// database for SQL adapters).
package storetest
