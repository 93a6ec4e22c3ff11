package ratelimit_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/ratelimit"
)

// Two logins per minute per client IP, behind one reverse proxy: the
// third request is refused with 429 and the draft-10 headers.
func ExampleMiddleware_Limit() {
	// A fixed clock, 18 seconds into a minute, so that the output is the
	// same on every run; a host leaves Config.Now unset.
	now := func() time.Time { return time.Date(2025, 1, 1, 12, 0, 18, 0, time.UTC) }
	st, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	if err != nil {
		panic(err)
	}
	login, err := ratelimit.New(st, ratelimit.PerMinute("login", 2), ratelimit.Config{Now: now})
	if err != nil {
		panic(err)
	}
	m, err := ratelimit.NewMiddleware(ratelimit.MiddlewareConfig{})
	if err != nil {
		panic(err)
	}
	// Only the proxy's X-Forwarded-For is believed.
	proxies, err := audit.ParseProxies("10.0.0.1")
	if err != nil {
		panic(err)
	}
	welcome := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "welcome") })
	limit := m.Limit(ratelimit.Rule{Limiter: login, Key: ratelimit.ByIP(proxies), Sensitive: true})
	h := audit.Middleware(proxies)(limit(welcome))

	var w *httptest.ResponseRecorder
	for range 3 {
		r := httptest.NewRequest(http.MethodPost, "/login", nil)
		r.RemoteAddr = "10.0.0.1:51234" // the proxy
		r.Header.Set("X-Forwarded-For", "203.0.113.7")
		w = httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(w.Code, w.Header().Get("RateLimit"))
	}
	for _, k := range []string{"RateLimit-Policy", "RateLimit", "Retry-After", "Cache-Control", "Content-Type"} {
		fmt.Printf("%s: %s\n", k, w.Header().Get(k))
	}
	fmt.Print(w.Body)
	// Output:
	// 200 "login";r=1;t=42
	// 200 "login";r=0;t=42
	// 429 "login";r=0;t=42
	// RateLimit-Policy: "login";q=2;w=60
	// RateLimit: "login";r=0;t=42
	// Retry-After: 42
	// Cache-Control: no-store
	// Content-Type: application/problem+json
	// {"type":"about:blank","title":"Too Many Requests","status":429,"detail":"too many requests; try again later"}
}
