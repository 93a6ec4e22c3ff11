package ratelimit_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cedrina/cedrina/ratelimit"
)

// A Limiter on the in-memory store, with an injected clock: two login
// attempts a minute per client address, in windows aligned to the
// minute.
func ExampleLimiter() {
	st, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	if err != nil {
		panic(err)
	}
	now := time.Date(2026, 3, 14, 15, 9, 15, 0, time.UTC)
	lim, err := ratelimit.New(st, ratelimit.PerMinute("login", 2), ratelimit.Config{
		Now: func() time.Time { return now },
	})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	for range 3 {
		res, err := lim.Allow(ctx, "ip:203.0.113.7")
		if err != nil {
			panic(err) // the store failed: deny
		}
		fmt.Println(res.Allowed, res.Remaining, res.RetryAfter)
	}
	now = now.Add(45 * time.Second) // the next minute
	res, _ := lim.Allow(ctx, "ip:203.0.113.7")
	fmt.Println(res.Allowed, res.Remaining, res.RetryAfter)
	// Output:
	// true 1 0s
	// true 0 0s
	// false 0 45s
	// true 1 0s
}
