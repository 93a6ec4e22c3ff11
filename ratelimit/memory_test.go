package ratelimit_test

import (
	"testing"

	"github.com/cedrina/cedrina/ratelimit"
	"github.com/cedrina/cedrina/store/storetest"
)

func TestMemoryConformance(t *testing.T) {
	storetest.RunRateLimitStore(t, func(t *testing.T) storetest.Stores {
		st, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
		if err != nil {
			t.Fatal(err)
		}
		return storetest.Stores{RateLimits: st}
	})
}
