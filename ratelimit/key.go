package ratelimit

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/cedrina/cedrina/audit"
)

// KeyFunc returns what a request is counted by, or ok false when the
// rule does not apply to the request (ByUser on a request without a
// signed-in user).
type KeyFunc func(r *http.Request) (key string, ok bool)

// ByIP counts requests by client IP address, the one audit events
// record: the audit.RequestInfo in the request's context when there is
// one (audit.Middleware or authhttp put it there), otherwise
// p.ClientIP(r), which believes X-Forwarded-For only from the trusted
// proxies p (see audit.Proxies: trusting the wrong ones lets clients
// choose their IP, and so their counter).
//
// An IPv6 client is counted by its /64 prefix: a subscriber is usually
// given a whole /64 and could otherwise rotate through 2^64 addresses,
// each with a fresh budget. Keys read "ip:203.0.113.7" and
// "ip:2001:db8:1:2::/64". A request whose peer is not an IP address (a
// Unix socket) has no key and is not counted by this rule.
func ByIP(p audit.Proxies) KeyFunc {
	return func(r *http.Request) (string, bool) {
		a := ClientIP(r, p)
		if !a.IsValid() {
			return "", false
		}
		return IPKey(a), true
	}
}

// ClientIP returns the request's client IP address as [ByIP] finds it.
func ClientIP(r *http.Request, p audit.Proxies) netip.Addr {
	if info, ok := audit.RequestInfoFromContext(r.Context()); ok {
		return info.ClientIP
	}
	return p.ClientIP(r)
}

// IPKey returns the key [ByIP] counts a by: "ip:" and the address, or
// for IPv6 its /64 prefix.
func IPKey(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		pfx, _ := a.WithZone("").Prefix(64) // cannot fail for an IPv6 address and 64
		return "ip:" + pfx.String()
	}
	return "ip:" + a.String()
}

// ByUser counts requests by the signed-in user that id finds in the
// request (from its session; authhttp provides one), as "user:<id>". A
// request without one is not counted by this rule: put a ByIP rule in
// front of anonymous routes.
func ByUser(id func(r *http.Request) (string, bool)) KeyFunc {
	return func(r *http.Request) (string, bool) {
		s, ok := id(r)
		if !ok {
			return "", false
		}
		return "user:" + s, true
	}
}

// ByRoute counts requests by the ServeMux pattern that matched them
// ("route:POST /auth/login"), so that one policy gives each route its own
// budget. It needs the middleware inside the mux (wrapping the handler
// given to Handle); a request no pattern matched is not counted. The
// path itself is never used: clients choose it, and could make each
// request a fresh key.
func ByRoute(r *http.Request) (string, bool) {
	if r.Pattern == "" {
		return "", false
	}
	return "route:" + r.Pattern, true
}

// Join counts requests by every part at once: client and route, user and
// route. The parts are joined by '|' with '|' and '\' inside a part
// escaped, so two different combinations never make the same key. The
// rule does not apply when any part does not.
func Join(parts ...KeyFunc) KeyFunc {
	return func(r *http.Request) (string, bool) {
		var b strings.Builder
		for i, f := range parts {
			s, ok := f(r)
			if !ok {
				return "", false
			}
			if i > 0 {
				b.WriteByte('|')
			}
			for j := 0; j < len(s); j++ {
				if c := s[j]; c == '|' || c == '\\' {
					b.WriteByte('\\')
				}
				b.WriteByte(s[j])
			}
		}
		return b.String(), true
	}
}
