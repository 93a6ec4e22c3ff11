package ratelimit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/testkit"
	"github.com/cedrina/cedrina/ratelimit"
)

// keyOf returns f(r), failing the test unless ok is wantOK.
func keyOf(tb testing.TB, f ratelimit.KeyFunc, r *http.Request, wantOK bool) string {
	tb.Helper()
	k, ok := f(r)
	if ok != wantOK {
		tb.Fatalf("key %q, %v; want ok %v", k, ok, wantOK)
	}
	if !ok && k != "" {
		tb.Fatalf("key %q with ok false", k)
	}
	return k
}

func mustProxies(tb testing.TB, cidrs ...string) audit.Proxies {
	tb.Helper()
	p, err := audit.ParseProxies(cidrs...)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// ByIP finds the client as audit.Proxies.ClientIP does: one
// implementation.
func TestByIPMatchesAuditClientIP(t *testing.T) {
	proxies := mustProxies(t, "10.0.0.0/24", "2001:db8:ffff::/48")
	tests := []struct {
		name    string
		proxies audit.Proxies
		remote  string
		xff     []string
		key     string // "" for none
	}{
		{"no proxies: the peer", nil, "203.0.113.7:5555", nil, "ip:203.0.113.7"},
		{"no proxies: X-Forwarded-For ignored", nil, "203.0.113.7:5555", []string{"198.51.100.1"}, "ip:203.0.113.7"},
		{"no proxies: even from a private peer", nil, "10.0.0.4:1", []string{"198.51.100.1"}, "ip:10.0.0.4"},
		{"untrusted peer: X-Forwarded-For ignored", proxies, "203.0.113.7:5555", []string{"198.51.100.1"}, "ip:203.0.113.7"},
		{"trusted peer: X-Forwarded-For believed", proxies, "10.0.0.4:40000", []string{"198.51.100.1"}, "ip:198.51.100.1"},
		{"trusted peer: rightmost untrusted entry", proxies, "10.0.0.4:40000", []string{"6.6.6.6, 198.51.100.1, 10.0.0.9"}, "ip:198.51.100.1"},
		{"trusted peer: several lines", proxies, "10.0.0.4:40000", []string{"6.6.6.6", "198.51.100.1, 10.0.0.9"}, "ip:198.51.100.1"},
		{"trusted peer: malformed entry stops the walk", proxies, "10.0.0.4:40000", []string{"198.51.100.1, unknown, 10.0.0.9"}, "ip:10.0.0.9"},
		{"trusted peer: no header", proxies, "10.0.0.4:40000", nil, "ip:10.0.0.4"},
		{"trusted peer: IPv6 client", proxies, "10.0.0.4:40000", []string{"[2001:db8:1:2::99]:443"}, "ip:2001:db8:1:2::/64"},
		{"trusted IPv6 peer", proxies, "[2001:db8:ffff::1]:443", []string{"198.51.100.1"}, "ip:198.51.100.1"},
		{"trusted peer: IPv4-mapped entry", proxies, "10.0.0.4:40000", []string{"::ffff:198.51.100.1"}, "ip:198.51.100.1"},
		{"IPv4-mapped peer", nil, "[::ffff:203.0.113.7]:1", nil, "ip:203.0.113.7"},
		{"IPv4-mapped trusted peer", proxies, "[::ffff:10.0.0.4]:1", []string{"198.51.100.1"}, "ip:198.51.100.1"},
		{"IPv6 peer with zone", nil, "[fe80::1:2:3:4%eth0]:80", nil, "ip:fe80::/64"},
		{"Unix socket peer", nil, "@", nil, ""},
		{"Unix socket peer, header sent", proxies, "@", []string{"198.51.100.1"}, ""},
		{"empty RemoteAddr", proxies, "", []string{"198.51.100.1"}, ""},
		{"host name RemoteAddr", nil, "localhost:80", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request(tt.remote)
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			want := tt.proxies.ClientIP(r)
			if got := ratelimit.ClientIP(r, tt.proxies); got != want {
				t.Fatalf("ClientIP = %v, audit's = %v", got, want)
			}
			if tt.key == "" {
				keyOf(t, ratelimit.ByIP(tt.proxies), r, false)
				if want.IsValid() {
					t.Fatalf("audit found %v", want)
				}
				return
			}
			if k := keyOf(t, ratelimit.ByIP(tt.proxies), r, true); k != tt.key || k != ratelimit.IPKey(want) {
				t.Fatalf("key %q, want %q = IPKey(%v)", k, tt.key, want)
			}
		})
	}
}

// With audit.Middleware in front, ByIP uses the RequestInfo it put in the
// context, whatever proxies ByIP itself was given.
func TestByIPUsesRequestInfo(t *testing.T) {
	var got []string
	var oks []bool
	h := audit.Middleware(mustProxies(t, "10.0.0.0/8"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, ok := ratelimit.ByIP(nil)(r)
		got, oks = append(got, k), append(oks, ok)
	}))
	r := request("10.1.2.3:9999")
	r.Header.Set("X-Forwarded-For", "198.51.100.4")
	serve(h, r)
	serve(h, request("@"))
	if len(got) != 2 || got[0] != "ip:198.51.100.4" || !oks[0] || got[1] != "" || oks[1] {
		t.Fatalf("keys %q %v, want ip:198.51.100.4 from the RequestInfo, then none", got, oks)
	}

	// A RequestInfo put there by other means wins too, even over the peer.
	r = request("203.0.113.7:1")
	r = r.WithContext(audit.ContextWithRequestInfo(r.Context(), audit.RequestInfo{ClientIP: netip.MustParseAddr("::ffff:192.0.2.200")}))
	if k := keyOf(t, ratelimit.ByIP(nil), r, true); k != "ip:192.0.2.200" {
		t.Fatalf("key %q, want ip:192.0.2.200", k)
	}
	r = r.WithContext(audit.ContextWithRequestInfo(context.Background(), audit.RequestInfo{}))
	keyOf(t, ratelimit.ByIP(nil), r, false)
}

// IPv6 clients are counted by /64: one /64 shares a budget, another has
// its own.
func TestByIPv6Prefix(t *testing.T) {
	clock := testkit.NewClock(clockStart)
	m := newMiddleware(t, ratelimit.MiddlewareConfig{})
	h := m.Limit(ratelimit.Rule{Limiter: memLimiter(t, ratelimit.PerMinute("login", 2), clock.Now), Key: ratelimit.ByIP(nil)})(&counter{})
	for i, c := range []struct {
		remote string
		code   int
	}{
		{"[2001:db8:1:2::1]:1", 200},
		{"[2001:db8:1:2:ffff:ffff:ffff:ffff]:2", 200},
		{"[2001:db8:1:2:dead:beef::]:3", 429}, // the same /64
		{"[2001:db8:1:3::1]:1", 200},          // the next /64
		{"[2001:db8:1:2::1%eth0]:1", 429},     // a zone changes nothing
		{"[::ffff:192.0.2.1]:1", 200},         // IPv4-mapped is IPv4...
		{"192.0.2.1:2", 200},                  // ...and shares its budget
		{"[::ffff:192.0.2.1]:3", 429},
		{"192.0.2.2:1", 200}, // IPv4 is counted by address
	} {
		if w := serve(h, request(c.remote)); w.Code != c.code {
			t.Fatalf("request %d from %s: %d, want %d", i, c.remote, w.Code, c.code)
		}
	}
}

func TestIPKey(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7":                    "ip:203.0.113.7",
		"0.0.0.0":                        "ip:0.0.0.0",
		"255.255.255.255":                "ip:255.255.255.255",
		"::ffff:203.0.113.7":             "ip:203.0.113.7",
		"2001:db8:1:2:3:4:5:6":           "ip:2001:db8:1:2::/64",
		"2001:db8::":                     "ip:2001:db8::/64",
		"2001:0db8:0001:0002::ABCD":      "ip:2001:db8:1:2::/64",
		"fe80::1%eth0":                   "ip:fe80::/64",
		"::1":                            "ip:::/64",
		"::":                             "ip:::/64",
		"::192.0.2.1":                    "ip:::/64", // IPv4-compatible, deprecated: plain IPv6
		"64:ff9b::192.0.2.1":             "ip:64:ff9b::/64",
		"ffff:ffff:ffff:ffff:ffff::":     "ip:ffff:ffff:ffff:ffff::/64",
		"2002:c000:0201::1":              "ip:2002:c000:201::/64",
		"::ffff:0.0.0.0":                 "ip:0.0.0.0",
		"1:2:3:4:5:6:7:8":                "ip:1:2:3:4::/64",
		"2001:db8:0:0:1::1":              "ip:2001:db8::/64",
		"2001:db8:aaaa:bbbb:cccc:dddd::": "ip:2001:db8:aaaa:bbbb::/64",
	} {
		if got := ratelimit.IPKey(netip.MustParseAddr(in)); got != want {
			t.Errorf("IPKey(%s) = %q, want %q", in, got, want)
		}
	}
}

func TestByUser(t *testing.T) {
	id := func(r *http.Request) (string, bool) {
		v := r.Header.Get("User")
		return v, v != ""
	}
	f := ratelimit.ByUser(id)
	r := request("192.0.2.1:1")
	keyOf(t, f, r, false)
	r.Header.Set("User", "42")
	if k := keyOf(t, f, r, true); k != "user:42" {
		t.Fatalf("key %q, want user:42", k)
	}
}

// ByRoute counts by the pattern the mux matched, never by the path.
func TestByRoute(t *testing.T) {
	clock := testkit.NewClock(clockStart)
	var keys []string
	capture := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k, ok := ratelimit.ByRoute(r)
		if !ok {
			k = "!ok"
		}
		keys = append(keys, k)
	})
	m := newMiddleware(t, ratelimit.MiddlewareConfig{})
	perRoute := m.Limit(ratelimit.Rule{Limiter: memLimiter(t, ratelimit.PerMinute("route", 2), clock.Now), Key: ratelimit.ByRoute})
	mux := http.NewServeMux()
	mux.Handle("POST /auth/login", perRoute(capture))
	mux.Handle("GET /users/{id}", perRoute(capture))
	mux.Handle("/static/", perRoute(capture))

	codes := []int{}
	for _, c := range []struct{ method, path string }{
		{"POST", "/auth/login"},
		{"GET", "/users/1"},
		{"GET", "/users/2"},
		{"GET", "/users/3"}, // a third request of the same route
		{"POST", "/auth/login"},
		{"GET", "/static/a.css"},
		{"POST", "/auth/login?x=1"},
	} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(c.method, c.path, nil))
		codes = append(codes, w.Code)
	}
	wantCodes := []int{200, 200, 200, 429, 200, 200, 429}
	wantKeys := []string{"route:POST /auth/login", "route:GET /users/{id}", "route:GET /users/{id}", "route:POST /auth/login", "route:/static/"}
	if strings.Join(keys, ",") != strings.Join(wantKeys, ",") || len(codes) != len(wantCodes) {
		t.Fatalf("keys %q, want %q", keys, wantKeys)
	}
	for i := range codes {
		if codes[i] != wantCodes[i] {
			t.Fatalf("codes %v, want %v", codes, wantCodes)
		}
	}

	// Outside a mux there is no pattern, and so no key.
	keyOf(t, ratelimit.ByRoute, request("192.0.2.1:1"), false)
}

// Join's escaping keeps different tuples apart; a part without a key
// leaves the whole without one.
func TestJoin(t *testing.T) {
	part := func(i int) ratelimit.KeyFunc {
		return func(r *http.Request) (string, bool) {
			v, ok := r.Header[http.CanonicalHeaderKey("Part")]
			if !ok || i >= len(v) || v[i] == "!" {
				return "", false
			}
			return v[i], true
		}
	}
	tests := []struct {
		parts []string
		key   string
	}{
		{[]string{"a", "b"}, "a|b"},
		{[]string{"a|b", ""}, `a\|b|`},
		{[]string{"a", "|b"}, `a|\|b`},
		{[]string{`a\`, "b"}, `a\\|b`},
		{[]string{"a", `\|b`}, `a|\\\|b`},
		{[]string{`a\|`, "b"}, `a\\\||b`},
		{[]string{"", ""}, "|"},
		{[]string{"|", ""}, `\||`},
		{[]string{"", "|"}, `|\|`},
		{[]string{`\`, `\`}, `\\|\\`},
		{[]string{"ip:192.0.2.1", "route:POST /auth/login"}, "ip:192.0.2.1|route:POST /auth/login"},
		{[]string{"email:a|b@example.com", "ip:2001:db8::/64"}, `email:a\|b@example.com|ip:2001:db8::/64`},
		{[]string{"\x00", "\xff"}, "\x00|\xff"},
	}
	f := ratelimit.Join(part(0), part(1))
	seen := map[string][]string{}
	for _, tt := range tests {
		r := request("192.0.2.1:1")
		r.Header["Part"] = tt.parts
		k := keyOf(t, f, r, true)
		if k != tt.key {
			t.Errorf("Join%q = %q, want %q", tt.parts, k, tt.key)
		}
		if prev, dup := seen[k]; dup {
			t.Errorf("Join%q = Join%q = %q", tt.parts, prev, k)
		}
		seen[k] = tt.parts
	}
	for _, parts := range [][]string{{"!", "b"}, {"a", "!"}, {"a"}, nil} {
		r := request("192.0.2.1:1")
		r.Header["Part"] = parts
		keyOf(t, f, r, false)
	}
	// One part: the part itself, escaped.
	r := request("192.0.2.1:1")
	r.Header["Part"] = []string{`a|b\c`}
	if k := keyOf(t, ratelimit.Join(part(0)), r, true); k != `a\|b\\c` {
		t.Errorf("Join of one part = %q", k)
	}
	// A real combination: client and route.
	r = request("[2001:db8:1:2::5]:1")
	r.Pattern = "POST /auth/login"
	if k := keyOf(t, ratelimit.Join(ratelimit.ByIP(nil), ratelimit.ByRoute), r, true); k != "ip:2001:db8:1:2::/64|route:POST /auth/login" {
		t.Errorf("Join(ByIP, ByRoute) = %q", k)
	}
	r.Pattern = ""
	keyOf(t, ratelimit.Join(ratelimit.ByIP(nil), ratelimit.ByRoute), r, false)
}

// Hostile headers and paths never panic and never become keys: a client
// cannot choose its counter.
func TestKeysBadInputs(t *testing.T) {
	proxies := mustProxies(t, "10.0.0.0/24")
	big := strings.Repeat("a", 1<<20)
	tests := []struct {
		name   string
		remote string
		xff    []string
		key    string
	}{
		{"huge header from a client", "203.0.113.7:1", []string{strings.Repeat("198.51.100.1, ", 100_000)}, "ip:203.0.113.7"},
		{"huge garbage through the proxy", "10.0.0.4:1", []string{big}, "ip:10.0.0.4"},
		{"many entries through the proxy", "10.0.0.4:1", []string{strings.Repeat("6.6.6.6, ", 100_000) + "198.51.100.1"}, "ip:198.51.100.1"},
		{"many trusted entries", "10.0.0.4:1", []string{strings.Repeat("10.0.0.5, ", 100_000) + "10.0.0.9"}, "ip:10.0.0.5"},
		{"many header lines", "10.0.0.4:1", append(make([]string, 10_000), "198.51.100.1"), "ip:198.51.100.1"},
		{"NUL byte", "10.0.0.4:1", []string{"198.51.100.1\x00"}, "ip:10.0.0.4"},
		{"NUL inside", "10.0.0.4:1", []string{"198.51\x00.100.1"}, "ip:10.0.0.4"},
		{"invalid UTF-8", "10.0.0.4:1", []string{"\xff\xfe198.51.100.1"}, "ip:10.0.0.4"},
		{"Arabic-Indic digits", "10.0.0.4:1", []string{"١٩٨.٥١.١٠٠.١"}, "ip:10.0.0.4"},
		{"fullwidth digits", "10.0.0.4:1", []string{"１９８.５１.１００.１"}, "ip:10.0.0.4"},
		{"mathematical digits", "10.0.0.4:1", []string{"𝟏𝟗𝟖.51.100.1"}, "ip:10.0.0.4"},
		{"fullwidth dots", "10.0.0.4:1", []string{"198。51。100。1"}, "ip:10.0.0.4"},
		{"look-alike colon in IPv6", "10.0.0.4:1", []string{"2001꞉db8::1"}, "ip:10.0.0.4"},
		{"CR LF", "10.0.0.4:1", []string{"198.51.100.1\r\nX-Evil: 1"}, "ip:10.0.0.4"},
		{"a malformed entry behind a good one", "10.0.0.4:1", []string{"١.١.١.١, 198.51.100.1"}, "ip:198.51.100.1"},
		{"hex look-alike", "10.0.0.4:1", []string{"0xc6.0x33.0x64.0x1"}, "ip:10.0.0.4"},
		{"octal look-alike", "10.0.0.4:1", []string{"0198.051.0100.01"}, "ip:10.0.0.4"},
		{"NUL in RemoteAddr", "203.0.113.7\x00:1", nil, ""},
		{"huge RemoteAddr", big, nil, ""},
		{"Unicode RemoteAddr", "２０３.０.１１３.７:1", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request(tt.remote)
			r.URL.Path = "/login\x00/\xff/../%00"
			r.Pattern = ""
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if tt.key == "" {
				keyOf(t, ratelimit.ByIP(proxies), r, false)
			} else if k := keyOf(t, ratelimit.ByIP(proxies), r, true); k != tt.key {
				t.Fatalf("key %q, want %q", k, tt.key)
			}
			keyOf(t, ratelimit.ByRoute, r, false)
		})
	}
}
