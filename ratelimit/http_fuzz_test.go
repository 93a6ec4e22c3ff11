package ratelimit_test

import (
	"math"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/ratelimit"
)

// ceilSeconds is d in seconds rounded up, 0 for d <= 0.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	s := int64(d / time.Second)
	if d%time.Second != 0 {
		s++
	}
	return s
}

// fuzzPolicy makes a valid policy from fuzz input, or reports false.
func fuzzPolicy(name string, alg uint8, limit uint32, windowUS uint64, burst uint32) (ratelimit.Policy, bool) {
	const nameChars = "abcdefghijklmnopqrstuvwxyz0123456789_-."
	var b strings.Builder
	for i := 0; i < len(name) && i < 64; i++ {
		c := name[i]
		if strings.IndexByte(nameChars, c) < 0 {
			c = nameChars[int(c)%len(nameChars)]
		}
		b.WriteByte(c)
	}
	if b.Len() == 0 {
		b.WriteByte('p')
	}
	p := ratelimit.Policy{Name: b.String(), Algorithm: []ratelimit.Algorithm{ratelimit.FixedWindow, ratelimit.SlidingWindow, ratelimit.TokenBucket}[alg%3]}
	max := ratelimit.MaxLimit
	if p.Algorithm == ratelimit.SlidingWindow {
		max = ratelimit.MaxSlidingLimit
	}
	p.Limit = 1 + int(limit)%max
	minUS, maxUS := uint64(1000), uint64(ratelimit.MaxWindow/time.Microsecond)
	p.Window = time.Duration(minUS+windowUS%(maxUS-minUS+1)) * time.Microsecond
	if p.Algorithm == ratelimit.TokenBucket {
		p.Burst = int(burst) % (ratelimit.MaxLimit + 1)
	}
	return p, p.Validate() == nil
}

// SetHeaders always writes one member of each List, which parses, with
// exactly the policy's and the result's numbers.
func FuzzSetHeaders(f *testing.F) {
	f.Add("login", uint8(0), uint32(29), uint64(60_000_000), uint32(0), false, 0, int64(41200*time.Millisecond), int64(41200*time.Millisecond))
	f.Add("premium", uint8(2), uint32(299), uint64(60_000_000), uint32(10), true, 9, int64(200*time.Millisecond), int64(0))
	f.Add("api", uint8(1), uint32(999), uint64(1000), uint32(0), false, 0, int64(-1), int64(math.MaxInt64))
	f.Add("x", uint8(1), uint32(0), uint64(1500), uint32(0), true, -5, int64(math.MinInt64), int64(0))
	f.Fuzz(func(t *testing.T, name string, alg uint8, limit uint32, windowUS uint64, burst uint32, allowed bool, remaining int, reset, retry int64) {
		p, ok := fuzzPolicy(name, alg, limit, windowUS, burst)
		if !ok {
			t.Skip()
		}
		res := ratelimit.Result{Allowed: allowed, Limit: p.Quota(), Remaining: remaining % (p.Quota() + 1),
			Reset: time.Duration(reset), RetryAfter: time.Duration(retry)}
		h := http.Header{}
		ratelimit.SetHeaders(h, p, res)
		pol, err := parseSFList(h.Values(ratelimit.PolicyHeader))
		if err != nil {
			t.Fatal(err)
		}
		rl, err := parseSFList(h.Values(ratelimit.RateLimitHeader))
		if err != nil {
			t.Fatal(err)
		}
		wantT := ceilSeconds(res.Reset)
		if !allowed {
			wantT = ceilSeconds(res.RetryAfter)
		}
		wantPol := sfItem{p.Name, []sfParam{{"q", int64(p.Quota())}, {"w", ceilSeconds(p.Window)}}}
		wantRL := sfItem{p.Name, []sfParam{{"r", int64(max(0, res.Remaining))}, {"t", wantT}}}
		if len(pol) != 1 || pol[0].String() != wantPol.String() {
			t.Fatalf("RateLimit-Policy %v, want %v", pol, wantPol)
		}
		if len(rl) != 1 || rl[0].String() != wantRL.String() {
			t.Fatalf("RateLimit %v for %+v, want %v", rl, res, wantRL)
		}
		if len(h) != 2 {
			t.Fatalf("headers %v", h)
		}
	})
}

// decodeTuple makes a tuple of 1 to 4 parts from fuzz input: the first
// byte is the arity, each part but the last is preceded by its length.
func decodeTuple(b []byte) []string {
	if len(b) == 0 {
		return []string{""}
	}
	n, rest := 1+int(b[0])%4, b[1:]
	parts := make([]string, 0, n)
	for range n - 1 {
		l := 0
		if len(rest) > 0 {
			l, rest = int(rest[0]), rest[1:]
		}
		l = min(l, len(rest))
		parts, rest = append(parts, string(rest[:l])), rest[l:]
	}
	return append(parts, string(rest))
}

// joinOf returns Join of a KeyFunc per part of tuple.
func joinOf(tuple []string) ratelimit.KeyFunc {
	fs := make([]ratelimit.KeyFunc, len(tuple))
	for i, s := range tuple {
		fs[i] = func(*http.Request) (string, bool) { return s, true }
	}
	return ratelimit.Join(fs...)
}

// Two tuples of parts (of one to four parts each) make the same key if
// and only if they are the same tuple.
func FuzzJoin(f *testing.F) {
	f.Add([]byte("\x01\x01a|b"), []byte("\x00a|b"))
	f.Add([]byte("\x01\x02a\\|b"), []byte("\x01\x01a\\|b"))
	f.Add([]byte("\x02\x01|\x01\\|"), []byte("\x01\x02|\\|"))
	f.Add([]byte("\x01\x00"), []byte("\x00"))
	f.Add([]byte("\x01\x01\\\\"), []byte("\x01\x00\\\\"))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		ta, tb := decodeTuple(a), decodeTuple(b)
		r := request("192.0.2.1:1")
		ka, oka := joinOf(ta)(r)
		kb, okb := joinOf(tb)(r)
		if !oka || !okb {
			t.Fatal("Join of parts that all apply did not apply")
		}
		if (ka == kb) != slices.Equal(ta, tb) {
			t.Fatalf("Join%q = %q, Join%q = %q", ta, ka, tb, kb)
		}
		// A part that does not apply, anywhere, makes the whole not apply.
		for i := range ta {
			fs := make([]ratelimit.KeyFunc, len(ta))
			for j, s := range ta {
				fs[j] = func(*http.Request) (string, bool) { return s, j != i }
			}
			if k, ok := ratelimit.Join(fs...)(r); ok || k != "" {
				t.Fatalf("Join with part %d not applying = %q, %v", i, k, ok)
			}
		}
	})
}

// IPKey takes any address without panicking: IPv4 (and IPv4-mapped IPv6)
// by address, IPv6 by its /64, whatever its zone.
func FuzzIPKey(f *testing.F) {
	f.Add([]byte{203, 0, 113, 7}, "")
	f.Add(netip.MustParseAddr("2001:db8:1:2::3").AsSlice(), "eth0")
	f.Add(netip.MustParseAddr("::ffff:1.2.3.4").AsSlice(), "eth0")
	f.Add([]byte{1, 2, 3}, "")
	f.Fuzz(func(t *testing.T, b []byte, zone string) {
		a, ok := netip.AddrFromSlice(b)
		if !ok {
			ratelimit.IPKey(a) // the zero Addr: no panic is all that is asked
			return
		}
		if a.Is6() {
			a = a.WithZone(zone)
		}
		k := ratelimit.IPKey(a)
		rest, found := strings.CutPrefix(k, "ip:")
		if !found {
			t.Fatalf("IPKey(%v) = %q", a, k)
		}
		u := a.Unmap().WithZone("")
		if u.Is4() {
			if got, err := netip.ParseAddr(rest); err != nil || got != u {
				t.Fatalf("IPKey(%v) = %q, want ip:%v", a, k, u)
			}
			return
		}
		pfx, err := netip.ParsePrefix(rest)
		if err != nil || !strings.HasSuffix(k, "/64") || pfx.Bits() != 64 || pfx != pfx.Masked() || !pfx.Contains(u) {
			t.Fatalf("IPKey(%v) = %q, want its /64", a, k)
		}
		// Every address of the /64 has the key; the next /64 does not.
		last := pfx.Addr().As16()
		for i := 8; i < 16; i++ {
			last[i] = 0xff
		}
		if k2 := ratelimit.IPKey(netip.AddrFrom16(last)); k2 != k {
			t.Fatalf("IPKey(%v) = %q, IPKey(%v) = %q", a, k, netip.AddrFrom16(last), k2)
		}
		if next := netip.AddrFrom16(last).Next(); next.IsValid() && !next.Is4In6() && ratelimit.IPKey(next) == k {
			t.Fatalf("IPKey(%v) = IPKey(%v) = %q", a, next, k)
		}
	})
}

// Whatever the peer and X-Forwarded-For say, ByIP never panics, agrees
// with audit.Proxies.ClientIP, and its key is an address or a /64: never
// text a client wrote.
func FuzzByIP(f *testing.F) {
	f.Add("10.0.0.4:1", "198.51.100.1", true)
	f.Add("10.0.0.4:1", "١٩٨.٥١.١٠٠.١, 198.51.100.1", true)
	f.Add("203.0.113.7:1", "198.51.100.1\x00", false)
	f.Add("[::ffff:10.0.0.4]:1", "[2001:db8::1]:80, 10.0.0.9", true)
	f.Add("@", "198.51.100.1", true)
	f.Add("10.0.0.4:1", "\xff\xfe, unknown,, 1.2.3.4:99999", true)
	proxies, err := audit.ParseProxies("10.0.0.0/24", "2001:db8:ffff::/48")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, remote, xff string, trust bool) {
		p := proxies
		if !trust {
			p = nil
		}
		r := request(remote)
		for _, v := range strings.Split(xff, "\n") {
			r.Header.Add("X-Forwarded-For", v)
		}
		want := p.ClientIP(r)
		k, ok := ratelimit.ByIP(p)(r)
		if ok != want.IsValid() {
			t.Fatalf("ByIP = %q, %v; audit found %v", k, ok, want)
		}
		if !ok {
			return
		}
		if k != ratelimit.IPKey(want) {
			t.Fatalf("ByIP = %q, want IPKey(%v)", k, want)
		}
		rest, _ := strings.CutPrefix(k, "ip:")
		if _, err := netip.ParseAddr(rest); err != nil {
			if pfx, err := netip.ParsePrefix(rest); err != nil || pfx.Bits() != 64 {
				t.Fatalf("ByIP = %q: not an address or a /64", k)
			}
		}
	})
}
