package redisstore_test

import (
	"testing"
	"time"

	"github.com/cedrina/cedrina/store/redisstore"
	"github.com/cedrina/cedrina/store/storetest"
)

// TestConformance runs the rate limit conformance suite, each subtest on
// a Store of its own prefix. The suite's times are made up (2026, 2100)
// and Redis expires keys by its own clock, so Linger keeps every key for
// the whole run: the suite requires that no key be forgotten before its
// state is initial as of the times it passes.
func TestConformance(t *testing.T) {
	c := newClient(t)
	storetest.RunRateLimitStore(t, func(t *testing.T) storetest.Stores {
		return storetest.Stores{RateLimits: newStore(t, c, redisstore.Config{Linger: time.Hour})}
	})
}
