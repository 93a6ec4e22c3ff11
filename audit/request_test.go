package audit_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cedrina/cedrina/audit"
)

// clientIPProxies are the trusted proxies of the ClientIP tests.
var clientIPProxies = []string{"10.0.0.0/8", "2001:db8:ffff::/48", "127.0.0.1"}

func parseProxiesT(tb testing.TB, cidrs ...string) audit.Proxies {
	tb.Helper()
	p, err := audit.ParseProxies(cidrs...)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// newRequest returns a request from remote, with one X-Forwarded-For
// header line per element of xff.
func forwardedRequest(remote string, xff ...string) *http.Request {
	r := &http.Request{Method: http.MethodGet, RemoteAddr: remote, Header: http.Header{}}
	if xff != nil {
		r.Header["X-Forwarded-For"] = xff
	}
	return r
}

func TestClientIP(t *testing.T) {
	p := parseProxiesT(t, clientIPProxies...)
	const (
		trusted   = "10.0.0.4:40000"
		untrusted = "203.0.113.7:5555"
	)
	huge := strings.Repeat("1", 1<<20)
	many := strings.Repeat("6.6.6.6, ", 100000) + "198.51.100.1"
	trustedChain := strings.Repeat("10.1.2.3, ", 10000) + "10.0.0.9"
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string // "" for the zero Addr
	}{
		// The peer is not trusted: X-Forwarded-For is never read.
		{"untrusted peer, no header", untrusted, nil, "203.0.113.7"},
		{"untrusted peer, spoofed header", untrusted, []string{"1.1.1.1"}, "203.0.113.7"},
		{"untrusted peer, header names a proxy", untrusted, []string{"10.0.0.1"}, "203.0.113.7"},
		{"untrusted peer, many spoofed headers", untrusted, []string{"1.1.1.1", "2.2.2.2, 3.3.3.3"}, "203.0.113.7"},
		{"untrusted IPv6 peer", "[2001:db8::7]:443", []string{"1.1.1.1"}, "2001:db8::7"},
		{"untrusted IPv4-mapped peer", "[::ffff:203.0.113.7]:1", []string{"1.1.1.1"}, "203.0.113.7"},
		{"untrusted peer with zone", "[fe80::1%eth0]:80", []string{"1.1.1.1"}, "fe80::1"},
		{"untrusted peer just outside a prefix", "11.0.0.0:1", []string{"1.1.1.1"}, "11.0.0.0"},

		// The peer is trusted: the rightmost untrusted entry is the client.
		{"trusted peer, no header", trusted, nil, "10.0.0.4"},
		{"trusted peer, empty header list", trusted, []string{}, "10.0.0.4"},
		{"trusted peer, one entry", trusted, []string{"198.51.100.1"}, "198.51.100.1"},
		{"client spoofs the left", trusted, []string{"6.6.6.6, 198.51.100.1"}, "198.51.100.1"},
		{"client spoofs a proxy on the left", trusted, []string{"10.0.0.1, 198.51.100.1"}, "198.51.100.1"},
		{"chain of trusted proxies", trusted, []string{"6.6.6.6, 198.51.100.1, 10.0.0.2, 10.0.0.3"}, "198.51.100.1"},
		{"trusted IPv6 proxy in the chain", trusted, []string{"198.51.100.1, 2001:db8:ffff::9"}, "198.51.100.1"},
		{"trusted IPv6 peer", "[2001:db8:ffff::1]:443", []string{"198.51.100.1"}, "198.51.100.1"},
		{"trusted IPv4-mapped peer", "[::ffff:10.0.0.4]:80", []string{"198.51.100.1"}, "198.51.100.1"},
		{"all entries trusted: leftmost", trusted, []string{"10.0.0.1, 10.0.0.2, 127.0.0.1"}, "10.0.0.1"},
		{"long chain of trusted entries", trusted, []string{trustedChain}, "10.1.2.3"},
		{"many spoofed entries on the left", trusted, []string{many}, "198.51.100.1"},
		{"spaces and tabs", trusted, []string{" \t198.51.100.1\t,\t 10.0.0.2 "}, "198.51.100.1"},
		{"no spaces", trusted, []string{"6.6.6.6,198.51.100.1,10.0.0.2"}, "198.51.100.1"},

		// Several header lines are one list, in order.
		{"two headers, client in the last", trusted, []string{"6.6.6.6", "198.51.100.1, 10.0.0.2"}, "198.51.100.1"},
		{"two headers, client in the first", trusted, []string{"6.6.6.6, 198.51.100.1", "10.0.0.2"}, "198.51.100.1"},
		{"two headers, all trusted", trusted, []string{"10.0.0.1", "10.0.0.2"}, "10.0.0.1"},
		{"two headers, last one empty", trusted, []string{"198.51.100.1", ""}, "10.0.0.4"},
		{"two headers, first one malformed", trusted, []string{"garbage", "10.0.0.2"}, "10.0.0.2"},

		// Malformed entries stop the walk: the hop before them is used.
		{"garbage", trusted, []string{"garbage"}, "10.0.0.4"},
		{"garbage left of the client", trusted, []string{"garbage, 198.51.100.1"}, "198.51.100.1"},
		{"garbage right of the client", trusted, []string{"198.51.100.1, garbage"}, "10.0.0.4"},
		{"garbage between proxies", trusted, []string{"6.6.6.6, garbage, 10.0.0.2"}, "10.0.0.2"},
		{"empty header", trusted, []string{""}, "10.0.0.4"},
		{"blank header", trusted, []string{"  \t "}, "10.0.0.4"},
		{"empty entry", trusted, []string{"198.51.100.1, , 10.0.0.2"}, "10.0.0.2"},
		{"trailing comma", trusted, []string{"198.51.100.1,"}, "10.0.0.4"},
		{"leading comma", trusted, []string{",198.51.100.1"}, "198.51.100.1"},
		{"unknown", trusted, []string{"unknown"}, "10.0.0.4"},
		{"unknown between proxies", trusted, []string{"198.51.100.1, unknown, 10.0.0.2"}, "10.0.0.2"},
		{"obfuscated identifier", trusted, []string{"_hidden"}, "10.0.0.4"},
		{"huge entry", trusted, []string{huge}, "10.0.0.4"},
		{"huge entry left of the client", trusted, []string{huge + ", 198.51.100.1"}, "198.51.100.1"},
		{"NUL byte", trusted, []string{"198.51.100.1\x00"}, "10.0.0.4"},
		{"NUL byte in a proxy", trusted, []string{"198.51.100.1, 10.0.0.2\x00"}, "10.0.0.4"},
		{"NUL byte alone", trusted, []string{"\x00"}, "10.0.0.4"},
		{"invalid UTF-8", trusted, []string{"\xff\xfe"}, "10.0.0.4"},
		{"invalid UTF-8 after an address", trusted, []string{"198.51.100.1\xff"}, "10.0.0.4"},
		{"newline", trusted, []string{"198.51.100.1\n10.0.0.2"}, "10.0.0.4"},
		{"quoted", trusted, []string{`"198.51.100.1"`}, "10.0.0.4"},
		{"Forwarded syntax", trusted, []string{"for=198.51.100.1"}, "10.0.0.4"},
		{"hostname", trusted, []string{"client.example.com"}, "10.0.0.4"},
		{"hex that is not an address", trusted, []string{"deadbeef"}, "10.0.0.4"},
		{"IPv4 with leading zeros", trusted, []string{"198.051.100.1"}, "10.0.0.4"},
		{"IPv4 with three parts", trusted, []string{"198.51.100"}, "10.0.0.4"},
		{"IPv4 out of range", trusted, []string{"198.51.100.256"}, "10.0.0.4"},
		{"IPv4 as a number", trusted, []string{"3325256705"}, "10.0.0.4"},
		{"IPv6 with too many groups", trusted, []string{"1:2:3:4:5:6:7:8:9"}, "10.0.0.4"},
		{"IPv6 group too long", trusted, []string{"2001:db8::12345"}, "10.0.0.4"},
		{"IPv6 with CIDR", trusted, []string{"2001:db8::/32"}, "10.0.0.4"},

		// Ports, brackets, IPv6, IPv4-mapped, zones.
		{"IPv4 with port", trusted, []string{"198.51.100.1:4711"}, "198.51.100.1"},
		{"IPv4 with port 0", trusted, []string{"198.51.100.1:0"}, "198.51.100.1"},
		{"IPv4 with port 65535", trusted, []string{"198.51.100.1:65535"}, "198.51.100.1"},
		{"IPv4 with port 65536", trusted, []string{"198.51.100.1:65536"}, "10.0.0.4"},
		{"IPv4 with huge port", trusted, []string{"198.51.100.1:99999999999999999999"}, "10.0.0.4"},
		{"IPv4 with negative port", trusted, []string{"198.51.100.1:-1"}, "10.0.0.4"},
		{"IPv4 with port +1", trusted, []string{"198.51.100.1:+1"}, "10.0.0.4"},
		{"IPv4 with empty port", trusted, []string{"198.51.100.1:"}, "10.0.0.4"},
		{"IPv4 with named port", trusted, []string{"198.51.100.1:http"}, "10.0.0.4"},
		{"IPv4 with two ports", trusted, []string{"198.51.100.1:80:80"}, "10.0.0.4"},
		{"IPv4 in brackets", trusted, []string{"[198.51.100.1]"}, "10.0.0.4"},
		{"IPv4 in brackets with port", trusted, []string{"[198.51.100.1]:80"}, "10.0.0.4"},
		{"IPv4 with zone", trusted, []string{"198.51.100.1%eth0"}, "10.0.0.4"},
		{"IPv6", trusted, []string{"2001:db8::1"}, "2001:db8::1"},
		{"IPv6 upper case", trusted, []string{"2001:DB8::A"}, "2001:db8::a"},
		{"IPv6 in full", trusted, []string{"2001:0db8:0000:0000:0000:0000:0000:0001"}, "2001:db8::1"},
		{"IPv6 with embedded IPv4", trusted, []string{"64:ff9b::198.51.100.1"}, "64:ff9b::c633:6401"},
		{"IPv6 in brackets", trusted, []string{"[2001:db8::1]"}, "2001:db8::1"},
		{"IPv6 in brackets with port", trusted, []string{"[2001:db8::1]:443"}, "2001:db8::1"},
		{"IPv6 in brackets with empty port", trusted, []string{"[2001:db8::1]:"}, "10.0.0.4"},
		{"IPv6 in brackets with bad port", trusted, []string{"[2001:db8::1]:65536"}, "10.0.0.4"},
		{"IPv6 with text after the bracket", trusted, []string{"[2001:db8::1]x"}, "10.0.0.4"},
		{"IPv6 with an open bracket", trusted, []string{"[2001:db8::1"}, "10.0.0.4"},
		{"IPv6 with a close bracket", trusted, []string{"2001:db8::1]"}, "10.0.0.4"},
		{"IPv6 with a close bracket and port", trusted, []string{"2001:db8::1]:80"}, "10.0.0.4"},
		{"empty brackets", trusted, []string{"[]"}, "10.0.0.4"},
		{"empty brackets with port", trusted, []string{"[]:80"}, "10.0.0.4"},
		{"open bracket alone", trusted, []string{"["}, "10.0.0.4"},
		{"IPv6 with a zone", trusted, []string{"fe80::1%eth0"}, "fe80::1"},
		{"IPv6 with a zone in brackets", trusted, []string{"[fe80::1%eth0]:80"}, "fe80::1"},
		{"IPv6 with an empty zone", trusted, []string{"fe80::1%"}, "10.0.0.4"},
		{"IPv4-mapped", trusted, []string{"::ffff:198.51.100.1"}, "198.51.100.1"},
		{"IPv4-mapped in hex", trusted, []string{"::ffff:c633:6401"}, "198.51.100.1"},
		{"IPv4-mapped in brackets with port", trusted, []string{"[::ffff:198.51.100.1]:80"}, "198.51.100.1"},
		{"IPv4-mapped proxy is trusted", trusted, []string{"198.51.100.1, ::ffff:10.0.0.9"}, "198.51.100.1"},
		{"IPv4-mapped with zone", trusted, []string{"::ffff:198.51.100.1%1"}, "198.51.100.1"},
		{"unspecified IPv6", trusted, []string{"::"}, "::"},

		// RemoteAddr without a port, or not an address at all.
		{"peer without port, trusted", "10.0.0.4", []string{"198.51.100.1"}, "198.51.100.1"},
		{"peer without port, untrusted", "203.0.113.7", []string{"198.51.100.1"}, "203.0.113.7"},
		{"IPv6 peer without port", "2001:db8::7", nil, "2001:db8::7"},
		{"IPv6 peer in brackets without port", "[2001:db8::7]", nil, "2001:db8::7"},
		{"IPv6 trusted peer without port", "2001:db8:ffff::1", []string{"198.51.100.1"}, "198.51.100.1"},
		{"empty RemoteAddr", "", []string{"198.51.100.1"}, ""},
		{"Unix socket RemoteAddr", "@", []string{"198.51.100.1"}, ""},
		{"hostname RemoteAddr", "localhost:80", []string{"198.51.100.1"}, ""},
		{"garbage RemoteAddr", "not an address", nil, ""},
		{"RemoteAddr with a bad port", "10.0.0.4:http", []string{"198.51.100.1"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := p.ClientIP(forwardedRequest(tt.remote, tt.xff...))
			if want := clientIPOrZero(t, tt.want); got != want {
				t.Errorf("ClientIP(RemoteAddr %.40q, X-Forwarded-For %.80q) = %v, want %v", tt.remote, tt.xff, got, want)
			}
		})
	}
}

func clientIPOrZero(tb testing.TB, s string) netip.Addr {
	tb.Helper()
	if s == "" {
		return netip.Addr{}
	}
	return netip.MustParseAddr(s)
}

func TestClientIPWithoutProxies(t *testing.T) {
	for _, p := range []audit.Proxies{nil, {}, parseProxiesT(t)} {
		r := forwardedRequest("10.0.0.4:1", "198.51.100.1")
		if got, want := p.ClientIP(r), netip.MustParseAddr("10.0.0.4"); got != want {
			t.Errorf("%#v.ClientIP = %v, want the peer %v", p, got, want)
		}
	}
}

func TestClientIPNormalizedProxies(t *testing.T) {
	// A proxy listed in IPv4-mapped form matches the unmapped peer.
	p := parseProxiesT(t, "::ffff:10.0.0.0/104", "::ffff:192.0.2.1")
	for _, remote := range []string{"10.9.9.9:1", "[::ffff:10.9.9.9]:1", "192.0.2.1:1", "[::ffff:192.0.2.1]:1"} {
		if got, want := p.ClientIP(forwardedRequest(remote, "198.51.100.1")), netip.MustParseAddr("198.51.100.1"); got != want {
			t.Errorf("peer %s: ClientIP = %v, want %v", remote, got, want)
		}
	}
}

func TestClientIPAllocs(t *testing.T) {
	p := parseProxiesT(t, clientIPProxies...)
	for _, r := range []*http.Request{
		forwardedRequest("203.0.113.7:5555", "1.1.1.1"),
		forwardedRequest("10.0.0.4:40000", "6.6.6.6, 198.51.100.1, 10.0.0.2, 10.0.0.3"),
		forwardedRequest("[2001:db8:ffff::1]:443", "2001:db8::1", "[2001:db8:ffff::2]:80"),
		forwardedRequest("[fe80::1%eth0]:80"),
		forwardedRequest("10.0.0.4:40000", "::ffff:198.51.100.1", "10.0.0.1"),
		forwardedRequest("10.0.0.4:40000", "198.51.100.1, unknown"),
	} {
		if n := testing.AllocsPerRun(100, func() { p.ClientIP(r) }); n != 0 {
			t.Errorf("ClientIP(%s, %q) allocates %v times, want 0", r.RemoteAddr, r.Header["X-Forwarded-For"], n)
		}
	}
}

// TestClientIPServer checks the RemoteAddr net/http really sets.
func TestClientIPServer(t *testing.T) {
	var got netip.Addr
	for _, tt := range []struct {
		proxies audit.Proxies
		want    string
	}{
		{nil, "loopback"},
		{parseProxiesT(t, "127.0.0.1", "::1"), "198.51.100.1"},
	} {
		srv := httptest.NewServer(audit.Middleware(tt.proxies)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			info, _ := audit.RequestInfoFromContext(r.Context())
			got = info.ClientIP
		})))
		req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Forwarded-For", "6.6.6.6, 198.51.100.1")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		srv.Close()
		if tt.want == "loopback" {
			if !got.IsLoopback() {
				t.Errorf("untrusted loopback peer: ClientIP = %v, want the loopback peer", got)
			}
		} else if got != netip.MustParseAddr(tt.want) {
			t.Errorf("trusted loopback peer: ClientIP = %v, want %v", got, tt.want)
		}
	}
}

func TestParseProxies(t *testing.T) {
	tests := []struct {
		in   []string
		want []string
	}{
		{nil, nil},
		{[]string{"10.0.0.0/8"}, []string{"10.0.0.0/8"}},
		{[]string{"127.0.0.1", "::1"}, []string{"127.0.0.1/32", "::1/128"}},
		{[]string{" 192.168.1.0/24\t", "2001:db8::/32"}, []string{"192.168.1.0/24", "2001:db8::/32"}},
		{[]string{"10.0.0.1/32", "128.0.0.0/1"}, []string{"10.0.0.1/32", "128.0.0.0/1"}},
		{[]string{"::ffff:10.0.0.0/104", "::ffff:10.0.0.1"}, []string{"10.0.0.0/8", "10.0.0.1/32"}},
		{[]string{"2001:DB8::/32"}, []string{"2001:db8::/32"}},
	}
	for _, tt := range tests {
		p, err := audit.ParseProxies(tt.in...)
		if err != nil {
			t.Errorf("ParseProxies(%q): %v", tt.in, err)
			continue
		}
		if len(p) != len(tt.want) {
			t.Errorf("ParseProxies(%q) = %v, want %v", tt.in, p, tt.want)
			continue
		}
		for i := range p {
			if p[i] != netip.MustParsePrefix(tt.want[i]) {
				t.Errorf("ParseProxies(%q) = %v, want %v", tt.in, p, tt.want)
				break
			}
		}
	}
}

func TestParseProxiesErrors(t *testing.T) {
	for _, bad := range []string{
		"", " ", "garbage", "unknown", "10.0.0", "10.0.0.256", "10.0.0.0/33", "::/129",
		"10.0.0.0/-1", "10.0.0.0/", "/8", "10.0.0.0/8/8", "1.2.3.4:80", "[::1]", "[::1]:80",
		"10.0.0.1/8", "10.0.0.0/1", "2001:db8::1/32", // bits past the prefix length
		"0.0.0.0/0", "::/0", "::ffff:0.0.0.0/96", // trust everyone
		"fe80::1%eth0", "fe80::/10%eth0",
		"10.0.0.0/8\x00", "10.0.0.0/8\nX-Injected: 1", "\xff",
		"localhost",
	} {
		_, err := audit.ParseProxies("127.0.0.1", bad, "::1")
		if err == nil {
			t.Errorf("ParseProxies(%q): no error", bad)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, "entry 1 "+strconv.Quote(bad)) {
			t.Errorf("ParseProxies(%q): error %q does not name the entry", bad, msg)
		}
		if strings.ContainsAny(msg, "\x00\n") || !strings.HasPrefix(msg, "audit: ") {
			t.Errorf("ParseProxies(%q): error %q", bad, msg)
		}
	}
}

// requestCorrelationPattern is the documented pattern, as a regular expression
// rather than FromRequest's byte loop.
var requestCorrelationPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,100}$`)

var requestGeneratedIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestFromRequestCorrelationID(t *testing.T) {
	max := strings.Repeat("a", 100)
	tests := []struct {
		name      string
		corr, rid []string // header values; nil for no header
		want      string   // "" for a generated id
	}{
		{"none", nil, nil, ""},
		{"correlation id", []string{"abc-123"}, nil, "abc-123"},
		{"request id", nil, []string{"req.42"}, "req.42"},
		{"correlation id first", []string{"c-1"}, []string{"r-1"}, "c-1"},
		{"every allowed byte", []string{"AZaz09._:-"}, nil, "AZaz09._:-"},
		{"uuid", []string{"0b5c1a6e-7f0e-4c1b-9e1a-2f3d4c5b6a79"}, nil, "0b5c1a6e-7f0e-4c1b-9e1a-2f3d4c5b6a79"},
		{"100 bytes", []string{max}, nil, max},
		{"101 bytes", []string{max + "a"}, nil, ""},
		{"101 bytes, request id valid", []string{max + "a"}, []string{"r-1"}, "r-1"},
		{"huge", []string{strings.Repeat("a", 1<<20)}, nil, ""},
		{"empty", []string{""}, nil, ""},
		{"empty, request id valid", []string{""}, []string{"r-1"}, "r-1"},
		{"both invalid", []string{"a b"}, []string{"c d"}, ""},
		{"space", []string{"a b"}, nil, ""},
		{"newline", []string{"abc\nX-Injected: 1"}, nil, ""},
		{"carriage return", []string{"abc\r"}, nil, ""},
		{"NUL", []string{"abc\x00"}, nil, ""},
		{"tab", []string{"\tabc"}, nil, ""},
		{"DEL", []string{"abc\x7f"}, nil, ""},
		{"escape sequence", []string{"\x1b[31mred"}, nil, ""},
		{"unicode", []string{"idé"}, nil, ""},
		{"unicode line separator", []string{"a\u2028b"}, nil, ""},
		{"invalid UTF-8", []string{"a\xffb"}, nil, ""},
		{"slash", []string{"a/b"}, nil, ""},
		{"quote", []string{`a"b`}, nil, ""},
		{"comma", []string{"a,b"}, nil, ""},
		{"lookup syntax", []string{"${jndi:ldap://x}"}, nil, ""},
		{"only the first value of a header", []string{"bad value", "good"}, nil, ""},
		{"first value valid", []string{"good", "bad value"}, nil, "good"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := forwardedRequest("203.0.113.7:1")
			if tt.corr != nil {
				r.Header["X-Correlation-Id"] = tt.corr
			}
			if tt.rid != nil {
				r.Header["X-Request-Id"] = tt.rid
			}
			got := audit.FromRequest(r, nil).CorrelationID
			switch {
			case tt.want == "" && !requestGeneratedIDPattern.MatchString(got):
				t.Errorf("correlation id %.120q, want a generated one", got)
			case tt.want != "" && got != tt.want:
				t.Errorf("correlation id %.120q, want %.120q", got, tt.want)
			}
		})
	}
}

func TestFromRequestCorrelationIDGenerated(t *testing.T) {
	const n = 10000
	seen := make(map[string]bool, n)
	r := forwardedRequest("203.0.113.7:1")
	for range n {
		id := audit.FromRequest(r, nil).CorrelationID
		if !requestGeneratedIDPattern.MatchString(id) {
			t.Fatalf("generated correlation id %q, want 32 lower-case hex digits", id)
		}
		if seen[id] {
			t.Fatalf("correlation id %q generated twice", id)
		}
		seen[id] = true
	}
}

func TestFromRequest(t *testing.T) {
	p := parseProxiesT(t, clientIPProxies...)
	r := forwardedRequest("10.0.0.4:1", "6.6.6.6, 198.51.100.1")
	r.Header.Set("User-Agent", "Mozilla/5.0 (test)")
	r.Header.Set("X-Correlation-ID", "trace-1")
	want := audit.RequestInfo{
		ClientIP:      netip.MustParseAddr("198.51.100.1"),
		UserAgent:     "Mozilla/5.0 (test)",
		CorrelationID: "trace-1",
	}
	if got := audit.FromRequest(r, p); got != want {
		t.Errorf("FromRequest = %+v, want %+v", got, want)
	}
	// Without proxies, the peer.
	want.ClientIP = netip.MustParseAddr("10.0.0.4")
	if got := audit.FromRequest(r, nil); got != want {
		t.Errorf("FromRequest without proxies = %+v, want %+v", got, want)
	}
	// No User-Agent.
	if got := audit.FromRequest(forwardedRequest("10.0.0.4:1"), p); got.UserAgent != "" {
		t.Errorf("FromRequest without User-Agent: UserAgent %q", got.UserAgent)
	}
}

func TestMiddleware(t *testing.T) {
	p := parseProxiesT(t, clientIPProxies...)
	tests := []struct {
		name     string
		remote   string
		xff      string
		corrID   string
		wantIP   string
		wantCorr string // "" for a generated id
	}{
		{"trusted proxy, client id", "10.0.0.4:1", "6.6.6.6, 198.51.100.1", "trace-1", "198.51.100.1", "trace-1"},
		{"untrusted peer, spoofed", "203.0.113.7:1", "198.51.100.1", "", "203.0.113.7", ""},
		{"injected id", "203.0.113.7:1", "", "x\r\nSet-Cookie: a=b", "203.0.113.7", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				got       audit.RequestInfo
				ok        bool
				preHeader string
			)
			h := audit.Middleware(p)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, ok = audit.RequestInfoFromContext(r.Context())
				preHeader = w.Header().Get("X-Correlation-ID")
				w.WriteHeader(http.StatusTeapot)
			}))
			r := httptest.NewRequest(http.MethodGet, "/x", nil)
			r.RemoteAddr = tt.remote
			r.Header.Set("User-Agent", "ua/1")
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			if tt.corrID != "" {
				r.Header["X-Correlation-Id"] = []string{tt.corrID}
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)

			if !ok {
				t.Fatal("no RequestInfo in the handler's context")
			}
			if rec.Code != http.StatusTeapot {
				t.Errorf("status %d: the next handler did not run", rec.Code)
			}
			if want := netip.MustParseAddr(tt.wantIP); got.ClientIP != want {
				t.Errorf("ClientIP %v, want %v", got.ClientIP, want)
			}
			if got.UserAgent != "ua/1" {
				t.Errorf("UserAgent %q, want %q", got.UserAgent, "ua/1")
			}
			switch {
			case tt.wantCorr == "" && !requestGeneratedIDPattern.MatchString(got.CorrelationID):
				t.Errorf("CorrelationID %q, want a generated one", got.CorrelationID)
			case tt.wantCorr != "" && got.CorrelationID != tt.wantCorr:
				t.Errorf("CorrelationID %q, want %q", got.CorrelationID, tt.wantCorr)
			}
			if h := rec.Header().Values("X-Correlation-ID"); len(h) != 1 || h[0] != got.CorrelationID {
				t.Errorf("X-Correlation-ID response header %q, want [%q]", h, got.CorrelationID)
			}
			if preHeader != got.CorrelationID {
				t.Errorf("X-Correlation-ID seen by the handler %q, want %q", preHeader, got.CorrelationID)
			}
		})
	}
}

func TestMiddlewareCopiesProxies(t *testing.T) {
	p := parseProxiesT(t, "10.0.0.0/8")
	var got netip.Addr
	h := audit.Middleware(p)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, _ := audit.RequestInfoFromContext(r.Context())
		got = info.ClientIP
	}))
	p[0] = netip.MustParsePrefix("203.0.113.0/24") // must not take effect
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "203.0.113.7:1"
	r.Header.Set("X-Forwarded-For", "6.6.6.6")
	h.ServeHTTP(httptest.NewRecorder(), r)
	if want := netip.MustParseAddr("203.0.113.7"); got != want {
		t.Errorf("ClientIP %v, want %v: the middleware used the changed Proxies", got, want)
	}
}

// refParse is the obvious, allocating way to read an address: what
// netip.ParseAddrPort or netip.ParseAddr accept, or an IPv6 address in
// brackets; unmapped, without zone.
func refParse(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	if len(s) >= 2 && s[0] == '[' && s[len(s)-1] == ']' {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil && !a.Is4() {
			return a.Unmap().WithZone(""), true
		}
	}
	return netip.Addr{}, false
}

func refTrusts(p audit.Proxies, a netip.Addr) bool {
	for _, pfx := range p {
		if pfx.Contains(a) {
			return true
		}
	}
	return false
}

// refClientIP is the documented rule, written plainly.
func refClientIP(p audit.Proxies, remote string, xff []string) netip.Addr {
	peer, ok := refParse(remote)
	if !ok {
		return netip.Addr{}
	}
	if !refTrusts(p, peer) || len(xff) == 0 {
		return peer
	}
	entries := strings.Split(strings.Join(xff, ","), ",")
	last := peer
	for i := len(entries) - 1; i >= 0; i-- {
		a, ok := refParse(strings.Trim(entries[i], " \t"))
		if !ok {
			return last
		}
		if !refTrusts(p, a) {
			return a
		}
		last = a
	}
	return last
}

func FuzzClientIP(f *testing.F) {
	seeds := []struct {
		remote     string
		xff1, xff2 string
		headers    uint8
	}{
		{"10.0.0.4:1", "6.6.6.6, 198.51.100.1, 10.0.0.2", "", 1},
		{"203.0.113.7:5555", "1.1.1.1", "", 1},
		{"10.0.0.4", "10.0.0.1, 10.0.0.2", "127.0.0.1", 2},
		{"[2001:db8:ffff::1]:443", "[2001:db8::1]:80, ::ffff:10.0.0.1", "", 1},
		{"[fe80::1%eth0]:80", "fe80::1%eth0", "", 1},
		{"10.0.0.4:1", "garbage, 198.51.100.1", "unknown", 2},
		{"10.0.0.4:1", "198.51.100.1:65536", "", 1},
		{"10.0.0.4:1", "[198.51.100.1]:80", "", 1},
		{"10.0.0.4:1", "198.51.100.1\x00", "\xff", 2},
		{"10.0.0.4:1", ",,, ,", "", 1},
		{"10.0.0.4:1", "[fe80::1%a]b]:80", "::ffff:1.2.3.4%z", 2},
		{"", "198.51.100.1", "", 1},
		{"@", "", "", 0},
	}
	for _, s := range seeds {
		f.Add(s.remote, s.xff1, s.xff2, s.headers)
	}
	p := parseProxiesT(f, "10.0.0.0/8", "2001:db8:ffff::/48", "127.0.0.1", "fe80::/10")
	f.Fuzz(func(t *testing.T, remote, xff1, xff2 string, headers uint8) {
		var xff []string
		switch headers % 3 {
		case 1:
			xff = []string{xff1}
		case 2:
			xff = []string{xff1, xff2}
		}
		got := p.ClientIP(forwardedRequest(remote, xff...))

		if got.Zone() != "" || got.Is4In6() {
			t.Fatalf("ClientIP = %v: not normalized", got)
		}
		peer, peerOK := refParse(remote)
		switch {
		case !got.IsValid():
		case peerOK && got == peer:
		default:
			// Otherwise the address must be one of the header's entries,
			// and the peer a trusted proxy.
			if !peerOK || !refTrusts(p, peer) {
				t.Fatalf("ClientIP = %v from header %q, but peer %q is not trusted", got, xff, remote)
			}
			found := false
			for _, e := range strings.Split(strings.Join(xff, ","), ",") {
				if a, ok := refParse(strings.Trim(e, " \t")); ok && a == got {
					found = true
					break
				}
			}
			if !found {
				t.Fatalf("ClientIP = %v: neither zero, the peer %q, nor in the header %q", got, remote, xff)
			}
		}
		if want := refClientIP(p, remote, xff); got != want {
			t.Fatalf("ClientIP(RemoteAddr %q, X-Forwarded-For %q) = %v, the documented rule gives %v", remote, xff, got, want)
		}
	})
}

func FuzzFromRequest(f *testing.F) {
	f.Add("abc-123", "", "10.0.0.4:1")
	f.Add("", "req.42", "203.0.113.7:1")
	f.Add("a b", "c\nd", "")
	f.Add(strings.Repeat("a", 101), strings.Repeat("b", 100), "[::1]:1")
	f.Add("idé", "\x00", "@")
	p := parseProxiesT(f, clientIPProxies...)
	f.Fuzz(func(t *testing.T, corr, rid, remote string) {
		r := forwardedRequest(remote, "198.51.100.1")
		r.Header["X-Correlation-Id"] = []string{corr}
		r.Header["X-Request-Id"] = []string{rid}
		info := audit.FromRequest(r, p)
		id := info.CorrelationID
		if !requestCorrelationPattern.MatchString(id) {
			t.Fatalf("correlation id %q does not match %v", id, requestCorrelationPattern)
		}
		switch {
		case requestCorrelationPattern.MatchString(corr):
			if id != corr {
				t.Fatalf("correlation id %q, want X-Correlation-ID %q", id, corr)
			}
		case requestCorrelationPattern.MatchString(rid):
			if id != rid {
				t.Fatalf("correlation id %q, want X-Request-ID %q", id, rid)
			}
		default:
			if !requestGeneratedIDPattern.MatchString(id) {
				t.Fatalf("correlation id %q, want a generated one", id)
			}
		}
		if info.ClientIP != p.ClientIP(r) {
			t.Fatalf("ClientIP %v, want %v", info.ClientIP, p.ClientIP(r))
		}
	})
}

func BenchmarkClientIP(b *testing.B) {
	p := parseProxiesT(b, clientIPProxies...)
	for _, bb := range []struct {
		name string
		r    *http.Request
	}{
		{"untrusted-peer", forwardedRequest("203.0.113.7:5555", "1.1.1.1")},
		{"trusted-peer-no-header", forwardedRequest("10.0.0.4:40000")},
		{"one-proxy", forwardedRequest("10.0.0.4:40000", "198.51.100.1")},
		{"three-proxies", forwardedRequest("10.0.0.4:40000", "6.6.6.6, 198.51.100.1, 10.0.0.2, 10.0.0.3")},
		{"ipv6", forwardedRequest("[2001:db8:ffff::1]:443", "2001:db8::1, [2001:db8:ffff::2]:80")},
		{"malformed", forwardedRequest("10.0.0.4:40000", "198.51.100.1, 10.0.0.2.")},
		{"long-spoofed-header", forwardedRequest("10.0.0.4:40000", strings.Repeat("6.6.6.6, ", 1000)+"198.51.100.1")},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.ClientIP(bb.r)
			}
		})
	}
}

func BenchmarkFromRequest(b *testing.B) {
	p := parseProxiesT(b, clientIPProxies...)
	for _, bb := range []struct {
		name string
		id   string
	}{{"client-id", "trace-1"}, {"generated-id", ""}} {
		r := forwardedRequest("10.0.0.4:40000", "198.51.100.1")
		r.Header.Set("User-Agent", "Mozilla/5.0")
		if bb.id != "" {
			r.Header.Set("X-Correlation-ID", bb.id)
		}
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				audit.FromRequest(r, p)
			}
		})
	}
}
