package audit

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// Proxies are the trusted reverse proxies in front of the application:
// the peers whose X-Forwarded-For header is believed. Build it with
// [ParseProxies], which normalizes every prefix (masked, IPv4-mapped
// prefixes turned into IPv4 ones); a Proxies literal is used as given.
//
// The zero value (nil) trusts no one, which is the safe default: the
// client IP is then always the TCP peer's address. Behind a reverse proxy
// that makes every client look like the proxy, so per-IP rate limits are
// shared by all of them; list the proxy to fix that, and nothing more.
//
// Listing an address is dangerous when anyone other than a proxy you run
// can send requests from it: every host in a trusted prefix can write
// any X-Forwarded-For it likes and so choose the client IP that audit
// events record and that rate limits are counted against. Never list
// client networks, whole private ranges shared with other workloads
// (10.0.0.0/8 in a shared VPC), or a CDN's or cloud load balancer's
// published ranges unless the application is reachable only through
// that CDN. Each listed proxy must append the address of its own peer to
// X-Forwarded-For (nginx's $proxy_add_x_forwarded_for, HAProxy's
// "option forwardfor", most cloud load balancers); a proxy that passes a
// client's header on unchanged makes that header entirely
// client-controlled.
type Proxies []netip.Prefix

// ParseProxies parses trusted proxies given as CIDR prefixes
// ("10.0.0.0/8", "2001:db8::/32") or bare addresses ("127.0.0.1", "::1",
// taken as /32 or /128). Surrounding spaces are ignored. IPv4-mapped IPv6
// forms ("::ffff:10.0.0.1", "::ffff:10.0.0.0/104") are stored as IPv4,
// the form [Proxies.ClientIP] compares.
//
// It refuses, naming the entry: anything that does not parse; a prefix
// with bits set past its length ("10.0.0.1/8": write 10.0.0.0/8 or
// 10.0.0.1/32, whichever was meant); an address with a zone ("fe80::1%eth0":
// zones are dropped from the addresses compared); and a prefix of length
// 0 ("0.0.0.0/0", "::/0"), which would trust every peer and let any
// client choose its own IP. No argument gives an empty Proxies, which
// trusts no one.
func ParseProxies(cidrs ...string) (Proxies, error) {
	p := make(Proxies, 0, len(cidrs))
	for i, s := range cidrs {
		pfx, err := parseProxy(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("audit: ParseProxies: entry %d %q: %w", i, s, err)
		}
		p = append(p, pfx)
	}
	return p, nil
}

func parseProxy(s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, fmt.Errorf("empty")
	}
	var pfx netip.Prefix
	if strings.IndexByte(s, '/') >= 0 {
		var err error
		if pfx, err = netip.ParsePrefix(s); err != nil {
			return netip.Prefix{}, err
		}
		if pfx != pfx.Masked() {
			return netip.Prefix{}, fmt.Errorf("bits set past the prefix length (did you mean %s or %s?)",
				pfx.Masked(), netip.PrefixFrom(pfx.Addr(), pfx.Addr().BitLen()))
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		if a.Zone() != "" {
			return netip.Prefix{}, fmt.Errorf("zones are not supported")
		}
		pfx = netip.PrefixFrom(a, a.BitLen())
	}
	if a := pfx.Addr(); a.Is4In6() && pfx.Bits() >= 96 {
		pfx = netip.PrefixFrom(a.Unmap(), pfx.Bits()-96)
	}
	if pfx.Bits() == 0 {
		return netip.Prefix{}, fmt.Errorf("a /0 prefix trusts every peer, so any client could choose its own IP")
	}
	return pfx, nil
}

// trusts reports whether a is the address of a trusted proxy.
func (p Proxies) trusts(a netip.Addr) bool {
	for _, pfx := range p {
		if pfx.Contains(a) {
			return true
		}
	}
	return false
}

// xffHeader is X-Forwarded-For in canonical form, so that ClientIP can
// index the header map without canonicalizing.
const xffHeader = "X-Forwarded-For"

// ClientIP returns the address of the client that sent r, as far as it can
// be known:
//
//   - If r.RemoteAddr, the TCP peer, is not in p, the peer is the client
//     and X-Forwarded-For is ignored: a client cannot choose its IP by
//     sending the header itself.
//   - If the peer is a trusted proxy, X-Forwarded-For is walked from the
//     right, the end the proxies appended to, and the first address that
//     is not in p is the client. The entries to its left were written by
//     the client or by proxies that are not trusted, and are never read.
//   - An entry that is not an address stops the walk, and the address
//     before it in the walk (the last trusted hop: an entry of the header
//     or the peer) is the client. Nothing to the left of a malformed entry
//     is believed, since no trusted proxy would have written it.
//   - If every entry is a trusted proxy, the leftmost one is the client.
//
// Several X-Forwarded-For header lines are one list, in the order they
// came. Entries are separated by commas, with optional spaces and tabs
// around them; an empty entry ("a,,b", an empty header line) is
// malformed. An entry is an IPv4 or IPv6 address, optionally with a port
// ("1.2.3.4:5678", "[::1]:80") or in brackets ("[::1]"); "unknown",
// obfuscated identifiers ("_hidden") and anything else are malformed.
// IPv4-mapped IPv6 addresses are returned as IPv4 and zones are dropped,
// for the peer as for the entries; the comparison with p uses that form.
//
// X-Real-IP and Forwarded (RFC 7239) are never consulted: a proxy that
// sets only those is treated as if it set nothing.
//
// ClientIP returns the zero netip.Addr when r.RemoteAddr is not an IP
// address (a Unix socket, for instance). It is safe for concurrent use
// and does not allocate for well-formed input.
func (p Proxies) ClientIP(r *http.Request) netip.Addr {
	peer, ok := parseHost(r.RemoteAddr)
	if !ok {
		return netip.Addr{}
	}
	if !p.trusts(peer) {
		return peer
	}
	last := peer
	values := r.Header[xffHeader]
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for {
			entry := v
			j := strings.LastIndexByte(v, ',')
			if j >= 0 {
				entry = v[j+1:]
			}
			a, ok := parseHost(trimOWS(entry))
			if !ok {
				return last
			}
			if !p.trusts(a) {
				return a
			}
			last = a
			if j < 0 {
				break
			}
			v = v[:j]
		}
	}
	return last
}

// trimOWS removes the spaces and tabs HTTP allows around list elements.
func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// parseHost parses an address as it appears in RemoteAddr and
// X-Forwarded-For: "1.2.3.4", "1.2.3.4:80", "::1", "[::1]", "[::1]:80",
// "[fe80::1%eth0]:80". It accepts what netip.ParseAddrPort or
// netip.ParseAddr accept, and an IPv6 address in brackets without a port;
// the result is unmapped and has no zone. It does not allocate unless
// netip reports an error, and rejects most garbage before netip sees it.
func parseHost(s string) (netip.Addr, bool) {
	if s == "" {
		return netip.Addr{}, false
	}
	host, bracketed, withPort := s, false, false
	if s[0] == '[' {
		if s[len(s)-1] == ']' {
			host = s[1 : len(s)-1]
		} else {
			i := strings.LastIndexByte(s, ':')
			if i < 2 || s[i-1] != ']' || !validPort(s[i+1:]) {
				return netip.Addr{}, false
			}
			host = s[1 : i-1]
		}
		bracketed = true
	} else if i := strings.IndexByte(s, ':'); i >= 0 && strings.IndexByte(s[i+1:], ':') < 0 {
		// One colon: an IPv4 address and a port (IPv6 needs two).
		if !validPort(s[i+1:]) {
			return netip.Addr{}, false
		}
		host, withPort = s[:i], true
	}
	zoned := false
	if i := strings.IndexByte(host, '%'); i >= 0 {
		if i == len(host)-1 {
			return netip.Addr{}, false
		}
		host, zoned = host[:i], true
	}
	if host == "" || len(host) > len("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255") {
		return netip.Addr{}, false
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' || c == '.' || c == ':') {
			return netip.Addr{}, false
		}
	}
	a, err := netip.ParseAddr(host)
	if err != nil || (a.Is4() && (bracketed || zoned)) || (withPort && !a.Is4()) {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// validPort reports whether s is a decimal port number, 0 to 65535.
func validPort(s string) bool {
	if s == "" {
		return false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
		if n > 65535 {
			return false
		}
	}
	return true
}

// CorrelationHeader is the header [FromRequest] reads a correlation id
// from first and [Middleware] echoes it in.
const CorrelationHeader = "X-Correlation-ID"

// RequestIDHeader is read for a correlation id when [CorrelationHeader]
// holds none.
const RequestIDHeader = "X-Request-ID"

// correlationHeaders are the headers FromRequest reads, in order, in
// canonical form so that looking them up does not allocate. They are not
// an exported variable, which hosts could change while requests are
// served.
var correlationHeaders = [...]string{
	http.CanonicalHeaderKey(CorrelationHeader),
	http.CanonicalHeaderKey(RequestIDHeader),
}

// maxClientCorrelationID is the longest correlation id taken from a
// request; it is also the audit_logs column's size.
const maxClientCorrelationID = maxCorrelationID

// FromRequest returns the request's [RequestInfo]:
//
//   - ClientIP from p.ClientIP(r) (see [Proxies.ClientIP] about trusting
//     proxies);
//   - UserAgent, the first User-Agent header as sent: client-chosen text,
//     cleaned of control characters and cut to size when an event is
//     recorded, not here;
//   - CorrelationID, the first value of the first of the headers
//     [CorrelationHeader] ("X-Correlation-ID") and [RequestIDHeader]
//     ("X-Request-ID"), in that order, that matches
//     ^[A-Za-z0-9._:-]{1,100}$, else a fresh random id (16 bytes from
//     crypto/rand, 32 lower-case hex digits). Values that do not match
//     are ignored, so a client cannot put control characters, spaces or
//     huge strings in the id or in the response header [Middleware]
//     echoes it in.
//
// An accepted correlation id is chosen by whoever sent the request: it
// ties events together for tracing but proves nothing, and two requests
// may carry the same one.
func FromRequest(r *http.Request, p Proxies) RequestInfo {
	info := RequestInfo{ClientIP: p.ClientIP(r), UserAgent: r.Header.Get("User-Agent")}
	for _, h := range correlationHeaders {
		if v := r.Header.Get(h); validCorrelationID(v) {
			info.CorrelationID = v
			return info
		}
	}
	info.CorrelationID = newCorrelationID()
	return info
}

// validCorrelationID reports whether s matches ^[A-Za-z0-9._:-]{1,100}$.
func validCorrelationID(s string) bool {
	if len(s) == 0 || len(s) > maxClientCorrelationID {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '.' || c == '_' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// newCorrelationID returns 16 random bytes in hex.
func newCorrelationID() string {
	var b [16]byte
	rand.Read(b[:]) // never returns an error; crashes the program if it cannot read
	return hex.EncodeToString(b[:])
}

// Middleware returns HTTP middleware that puts [FromRequest]'s
// [RequestInfo] into every request's context ([ContextWithRequestInfo]), so that
// events recorded while serving the request carry its client IP, user
// agent and correlation id, and sets the [CorrelationHeader] response
// header to the correlation id, before calling the next handler (which
// may overwrite it).
//
// p is copied: changing its elements afterwards does not affect the
// middleware. Trusting the wrong proxies lets clients choose the IP that
// is recorded; see [Proxies].
func Middleware(p Proxies) func(http.Handler) http.Handler {
	p = slices.Clone(p)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			info := FromRequest(r, p)
			w.Header()[correlationHeaders[0]] = []string{info.CorrelationID}
			next.ServeHTTP(w, r.WithContext(ContextWithRequestInfo(r.Context(), info)))
		})
	}
}
