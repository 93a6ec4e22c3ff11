package ratelimit_test

// The README's rate limiting snippets are the bodies of these examples
// (examples/host/readme_test.go checks that they match).

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/ratelimit"
)

// A limiter of 3 requests a minute per key, on the memory store.
func Example_limiter() {
	st, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{}) // this process only
	if err != nil {
		log.Fatal(err)
	}
	// A fixed clock, 18 seconds into a minute, for the output below: leave
	// Now unset.
	now := func() time.Time { return time.Date(2026, 1, 1, 12, 0, 18, 0, time.UTC) }
	login, err := ratelimit.New(st, ratelimit.PerMinute("login", 3), ratelimit.Config{Now: now})
	if err != nil {
		log.Fatal(err)
	}
	for range 4 {
		res, err := login.Allow(context.Background(), "ip:203.0.113.7") // a store failure denies
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(res.Allowed, res.Remaining, res.RetryAfter)
	}
	// Output:
	// true 2 0s
	// true 1 0s
	// true 0 0s
	// false 0 42s
}

// The HTTP middleware: 30 requests a minute per client IP on a route,
// the RateLimit headers on every answer, 429 beyond.
func Example_middleware() {
	st, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	if err != nil {
		log.Fatal(err)
	}
	now := func() time.Time { return time.Date(2026, 1, 1, 12, 0, 18, 0, time.UTC) } // for the output below
	login, err := ratelimit.New(st, ratelimit.PerMinute("login", 30), ratelimit.Config{Now: now})
	if err != nil {
		log.Fatal(err)
	}
	mw, err := ratelimit.NewMiddleware(ratelimit.MiddlewareConfig{}) // Recorder: rate_limit_exceeded events
	if err != nil {
		log.Fatal(err)
	}
	proxies, err := audit.ParseProxies("10.0.0.0/8") // only they may set X-Forwarded-For
	if err != nil {
		log.Fatal(err)
	}
	limit := mw.Limit(ratelimit.Rule{Limiter: login, Key: ratelimit.ByIP(proxies), Sensitive: true})
	mux := http.NewServeMux()
	mux.Handle("POST /login", limit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "checking the password")
	})))

	for i := 1; i <= 31; i++ {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("POST", "/login", nil)) // from 192.0.2.1
		if i == 1 || i == 31 {
			h := rec.Header()
			fmt.Printf("%d %s %s Retry-After=%q\n", rec.Code, h.Get("RateLimit-Policy"), h.Get("RateLimit"), h.Get("Retry-After"))
		}
	}
	// Output:
	// 200 "login";q=30;w=60 "login";r=29;t=42 Retry-After=""
	// 429 "login";q=30;w=60 "login";r=0;t=42 Retry-After="42"
}
