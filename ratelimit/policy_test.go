package ratelimit_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/cedrina/cedrina/internal/errs"
	"github.com/cedrina/cedrina/ratelimit"
)

// maxBurst is the largest Burst Validate accepts over w.
func maxBurst(w time.Duration) int { return int(math.MaxInt64 / 4 / w.Microseconds()) }

func TestPolicyValidateRefuses(t *testing.T) {
	ok := ratelimit.Policy{Name: "login", Algorithm: ratelimit.FixedWindow, Limit: 10, Window: time.Minute}
	bucket := ratelimit.Policy{Name: "login", Algorithm: ratelimit.TokenBucket, Limit: 10, Window: time.Minute}
	sliding := ratelimit.Policy{Name: "login", Algorithm: ratelimit.SlidingWindow, Limit: 10, Window: time.Minute}
	with := func(p ratelimit.Policy, edit func(*ratelimit.Policy)) ratelimit.Policy { edit(&p); return p }
	name := func(s string) ratelimit.Policy { return with(ok, func(p *ratelimit.Policy) { p.Name = s }) }
	tests := []struct {
		what  string
		p     ratelimit.Policy
		field string
		msg   string // the whole message, when given
	}{
		{"zero value", ratelimit.Policy{}, "Policy.Name", "ratelimit: Policy.Name: 0 characters; want 1 to 64"},
		{"empty name", name(""), "Policy.Name", ""},
		{"65 characters", name(strings.Repeat("a", 65)), "Policy.Name", "ratelimit: Policy.Name: 65 characters; want 1 to 64"},
		{"upper case", name("Login"), "Policy.Name", `ratelimit: Policy.Name: "Login" has a character other than a-z, 0-9, '_', '-' and '.'`},
		{"NUL byte", name("lo\x00gin"), "Policy.Name", `ratelimit: Policy.Name: "lo\x00gin" has a character other than a-z, 0-9, '_', '-' and '.'`},
		{"trailing NUL", name("login\x00"), "Policy.Name", ""},
		{"invalid UTF-8", name("log\xffin"), "Policy.Name", ""},
		{"lone continuation byte", name("\x80"), "Policy.Name", ""},
		{"Cyrillic o", name("l\u043egin"), "Policy.Name", ""},
		{"Cyrillic a", name("\u0430pi"), "Policy.Name", ""},
		{"full width", name("ｌｏｇｉｎ"), "Policy.Name", ""},
		{"roman numeral fifty", name("\u217cogin"), "Policy.Name", ""},
		{"dotless i", name("log\u0131n"), "Policy.Name", ""},
		{"combining accent", name("login\u0301"), "Policy.Name", ""},
		{"zero width space", name("log\u200bin"), "Policy.Name", ""},
		{"SQL", name("x'; DROP TABLE rate_limit_records;--"), "Policy.Name", ""},
		{"quote", name(`log"in`), "Policy.Name", ""},
		{"space", name("log in"), "Policy.Name", ""},
		{"newline", name("login\n"), "Policy.Name", ""},
		{"structured field delimiter", name("login;q=1"), "Policy.Name", ""},
		{"slash", name("a/b"), "Policy.Name", ""},
		{"percent", name("100%"), "Policy.Name", ""},
		{"65 characters otherwise valid", name(strings.Repeat("a.", 32) + "b"), "Policy.Name", ""},
		{"no algorithm", with(ok, func(p *ratelimit.Policy) { p.Algorithm = "" }), "Policy.Algorithm",
			`ratelimit: Policy.Algorithm: unknown algorithm ""`},
		{"upper case algorithm", with(ok, func(p *ratelimit.Policy) { p.Algorithm = "FIXED_WINDOW" }), "Policy.Algorithm", ""},
		{"unknown algorithm", with(ok, func(p *ratelimit.Policy) { p.Algorithm = "leaky_bucket" }), "Policy.Algorithm", ""},
		{"zero limit", with(ok, func(p *ratelimit.Policy) { p.Limit = 0 }), "Policy.Limit", "ratelimit: Policy.Limit: 0 is outside 1..1000000000"},
		{"negative limit", with(ok, func(p *ratelimit.Policy) { p.Limit = -1 }), "Policy.Limit", ""},
		{"limit over MaxLimit", with(ok, func(p *ratelimit.Policy) { p.Limit = ratelimit.MaxLimit + 1 }), "Policy.Limit", ""},
		{"huge limit", with(ok, func(p *ratelimit.Policy) { p.Limit = math.MaxInt }), "Policy.Limit", ""},
		{"most negative limit", with(ok, func(p *ratelimit.Policy) { p.Limit = math.MinInt }), "Policy.Limit", ""},
		{"bucket limit over MaxLimit", with(bucket, func(p *ratelimit.Policy) { p.Limit = ratelimit.MaxLimit + 1 }), "Policy.Limit", ""},
		{"sliding over MaxSlidingLimit", with(sliding, func(p *ratelimit.Policy) { p.Limit = ratelimit.MaxSlidingLimit + 1 }), "Policy.Limit",
			"ratelimit: Policy.Limit: 100001 is outside 1..100000"},
		{"zero window", with(ok, func(p *ratelimit.Policy) { p.Window = 0 }), "Policy.Window", "ratelimit: Policy.Window: 0s is outside 1ms..8784h0m0s"},
		{"negative window", with(ok, func(p *ratelimit.Policy) { p.Window = -time.Minute }), "Policy.Window", ""},
		{"window under 1ms", with(ok, func(p *ratelimit.Policy) { p.Window = 999 * time.Microsecond }), "Policy.Window", ""},
		{"sub-microsecond window", with(ok, func(p *ratelimit.Policy) { p.Window = time.Second + time.Nanosecond }), "Policy.Window",
			"ratelimit: Policy.Window: 1.000000001s is not a whole number of microseconds"},
		{"sub-microsecond just over 1ms", with(ok, func(p *ratelimit.Policy) { p.Window = time.Millisecond + 999 }), "Policy.Window", ""},
		{"window over MaxWindow", with(ok, func(p *ratelimit.Policy) { p.Window = ratelimit.MaxWindow + time.Microsecond }), "Policy.Window", ""},
		{"largest Duration", with(ok, func(p *ratelimit.Policy) { p.Window = math.MaxInt64 }), "Policy.Window", ""},
		{"burst on a fixed window", with(ok, func(p *ratelimit.Policy) { p.Burst = 5 }), "Policy.Burst",
			"ratelimit: Policy.Burst: only a token bucket has a burst"},
		{"burst on a sliding window", with(sliding, func(p *ratelimit.Policy) { p.Burst = 5 }), "Policy.Burst", ""},
		{"negative burst on a fixed window", with(ok, func(p *ratelimit.Policy) { p.Burst = -1 }), "Policy.Burst", ""},
		{"negative burst", with(bucket, func(p *ratelimit.Policy) { p.Burst = -1 }), "Policy.Burst", ""},
		{"burst over MaxLimit", with(bucket, func(p *ratelimit.Policy) { p.Burst = ratelimit.MaxLimit + 1 }), "Policy.Burst", ""},
		{"burst over MaxWindow too large", with(bucket, func(p *ratelimit.Policy) {
			p.Window, p.Burst = ratelimit.MaxWindow, maxBurst(ratelimit.MaxWindow)+1
		}), "Policy.Burst", "ratelimit: Policy.Burst: 72919 over 8784h0m0s is too large"},
		{"refills slower than MaxWindow", with(bucket, func(p *ratelimit.Policy) { p.Limit, p.Window, p.Burst = 1, time.Hour, 8785 }),
			"Policy.Burst", "ratelimit: Policy.Burst: 8785 takes longer than 8784h0m0s to refill at 1 per 1h0m0s"},
		{"default burst too large", with(bucket, func(p *ratelimit.Policy) { p.Limit, p.Window = ratelimit.MaxLimit, ratelimit.MaxWindow }), "Policy.Burst", ""},
		{"burst too large for a day", with(bucket, func(p *ratelimit.Policy) { p.Window, p.Burst = 24*time.Hour, maxBurst(24*time.Hour)+1 }), "Policy.Burst", ""},
	}
	for _, tt := range tests {
		t.Run(tt.what, func(t *testing.T) {
			err := tt.p.Validate()
			var ce *errs.Config
			if !errors.As(err, &ce) || ce.Pkg != "ratelimit" || ce.Field != tt.field {
				t.Fatalf("Validate(%+v) = %v; want a ratelimit config error naming %s", tt.p, err, tt.field)
			}
			if tt.msg != "" && err.Error() != tt.msg {
				t.Errorf("Validate(%+v) = %q, want %q", tt.p, err, tt.msg)
			}
			if _, err := ratelimit.New(newMemory(t, ratelimit.MemoryConfig{}), tt.p, ratelimit.Config{}); !errors.As(err, &ce) || ce.Field != tt.field {
				t.Errorf("New with the policy: %v; want Validate's error", err)
			}
		})
	}
}

func TestPolicyValidateAccepts(t *testing.T) {
	p := func(name string, alg ratelimit.Algorithm, limit int, window time.Duration, burst int) ratelimit.Policy {
		return ratelimit.Policy{Name: name, Algorithm: alg, Limit: limit, Window: window, Burst: burst}
	}
	for _, pol := range []ratelimit.Policy{
		ratelimit.Free, ratelimit.Premium, ratelimit.API,
		ratelimit.PerMinute("login", 5), ratelimit.PerHour("reset.address", 3),
		p("a", ratelimit.FixedWindow, 1, time.Millisecond, 0),
		p(strings.Repeat("z", 64), ratelimit.FixedWindow, 1, time.Millisecond, 0),
		p("login.v2_ip-addr", ratelimit.SlidingWindow, 1, time.Second, 0),
		p("0", ratelimit.FixedWindow, ratelimit.MaxLimit, ratelimit.MaxWindow, 0),
		p("._-", ratelimit.SlidingWindow, ratelimit.MaxSlidingLimit, ratelimit.MaxWindow, 0),
		p("odd", ratelimit.FixedWindow, ratelimit.MaxSlidingLimit+1, 1234567*time.Microsecond, 0),
		p("burst", ratelimit.TokenBucket, ratelimit.MaxLimit, time.Millisecond, ratelimit.MaxLimit),
		p("burst", ratelimit.TokenBucket, 1, ratelimit.MaxWindow, 1),
		p("burst", ratelimit.TokenBucket, 1, time.Hour, 8784), // refills in exactly MaxWindow
		p("burst", ratelimit.TokenBucket, ratelimit.MaxLimit, ratelimit.MaxWindow, maxBurst(ratelimit.MaxWindow)),
		p("burst", ratelimit.TokenBucket, maxBurst(ratelimit.MaxWindow), ratelimit.MaxWindow, 0),
	} {
		if err := pol.Validate(); err != nil {
			t.Errorf("Validate(%+v): %v", pol, err)
		}
	}
}

func TestPolicyQuotaString(t *testing.T) {
	tests := []struct {
		p     ratelimit.Policy
		quota int
		str   string
	}{
		{ratelimit.Free, 60, "free: fixed_window 60/1m0s"},
		{ratelimit.Premium, 300, "premium: token_bucket 300/1m0s burst 300"},
		{ratelimit.API, 1000, "api: sliding_window 1000/1m0s"},
		{ratelimit.PerHour("reset", 3), 3, "reset: fixed_window 3/1h0m0s"},
		{ratelimit.Policy{Name: "b", Algorithm: ratelimit.TokenBucket, Limit: 5, Window: time.Second, Burst: 10}, 10, "b: token_bucket 5/1s burst 10"},
		{ratelimit.Policy{Name: "b", Algorithm: ratelimit.TokenBucket, Limit: 5, Window: time.Second, Burst: 2}, 2, "b: token_bucket 5/1s burst 2"},
	}
	for _, tt := range tests {
		if q := tt.p.Quota(); q != tt.quota {
			t.Errorf("%+v: Quota() = %d, want %d", tt.p, q, tt.quota)
		}
		if s := tt.p.String(); s != tt.str {
			t.Errorf("String() = %q, want %q", s, tt.str)
		}
	}
}

// TestHashKey: the hash is the documented SHA-256, printed as the
// documented sha256sum command prints it, and costs no allocation up to
// 140 bytes of name and key.
func TestHashKey(t *testing.T) {
	p := ratelimit.PerMinute("login", 5)
	h := ratelimit.HashKey(p, "ip:203.0.113.7")
	// printf 'fixed_window\0login\0ip:203.0.113.7' | sha256sum
	if want := "03262d37ebaaf35e6a32fc83a37693eeab3a2b0702ca61822427f9e0974e53fe"; h.String() != want {
		t.Errorf("HashKey = %s, want %s", h, want)
	}
	if want := sha256.Sum256([]byte("fixed_window\x00login\x00ip:203.0.113.7")); h != ratelimit.KeyHash(want) {
		t.Errorf("HashKey = %s, want %x", h, want)
	}
	long := ratelimit.Policy{Name: strings.Repeat("n", 64), Algorithm: ratelimit.SlidingWindow, Limit: 1, Window: time.Second}
	key := strings.Repeat("k", 76)
	if a := testing.AllocsPerRun(100, func() { h = ratelimit.HashKey(long, key) }); a != 0 {
		t.Errorf("HashKey of 140 bytes: %v allocations", a)
	}
	if want := sha256.Sum256([]byte("sliding_window\x00" + long.Name + "\x00" + key)); h != ratelimit.KeyHash(want) {
		t.Errorf("HashKey of 140 bytes = %s, want %x", h, want)
	}
	// Beyond the buffer: still the documented hash.
	huge := strings.Repeat("x", 10000)
	if got, want := ratelimit.HashKey(p, huge), sha256.Sum256([]byte("fixed_window\x00login\x00"+huge)); got != ratelimit.KeyHash(want) {
		t.Errorf("HashKey of a 10,000-byte key = %s, want %x", got, want)
	}
}

var algorithms = []ratelimit.Algorithm{ratelimit.FixedWindow, ratelimit.SlidingWindow, ratelimit.TokenBucket, "leaky_bucket"}

// FuzzPolicyValidate: Validate never panics, refuses with a config error
// naming a Policy field, and a policy it accepts works on a
// MemoryStore: the first check of a key admits any n up to the quota
// with Result values exactly as the Store rule computes them, whatever
// the window, limit and burst, with no overflow; a second check of the
// whole quota is denied with an exact RetryAfter.
func FuzzPolicyValidate(f *testing.F) {
	f.Add("login", uint8(0), 10, int64(time.Minute), 0, 1, int64(0))
	f.Add("api", uint8(1), ratelimit.MaxSlidingLimit, int64(ratelimit.MaxWindow), 0, ratelimit.MaxSlidingLimit, int64(4102444800000000))
	f.Add("b", uint8(2), 5, int64(time.Second), 10, 3, int64(1))
	f.Add("b", uint8(2), ratelimit.MaxLimit, int64(ratelimit.MaxWindow), maxBurst(ratelimit.MaxWindow), 72918, int64(-1))
	f.Add("b", uint8(2), 7, int64(1234567*time.Microsecond), 3, 2, int64(99))
	f.Add("b", uint8(0x82), 1000, int64(86_400_000_000), 2000, 2000, int64(5))
	f.Add("Lo\x00", uint8(3), -1, int64(-1), -1, 0, int64(0))
	f.Add("x", uint8(0), 1, int64(time.Millisecond+1), 0, 1, int64(0))
	f.Fuzz(func(t *testing.T, name string, alg uint8, limit int, window int64, burst int, n int, at int64) {
		w := time.Duration(window)
		if alg&0x80 != 0 { // whole microseconds up to MaxWindow: more policies Validate accepts
			w = time.Duration(window%(ratelimit.MaxWindow.Microseconds()+1)) * time.Microsecond
		}
		p := ratelimit.Policy{Name: name, Algorithm: algorithms[int(alg&0x7f)%len(algorithms)], Limit: limit, Window: w, Burst: burst}
		if err := p.Validate(); err != nil {
			var ce *errs.Config
			if !errors.As(err, &ce) || ce.Pkg != "ratelimit" || !strings.HasPrefix(ce.Field, "Policy.") {
				t.Fatalf("Validate(%+v) = %v; want a config error naming a Policy field", p, err)
			}
			return
		}
		if strings.ContainsRune(name, 0) || len(name) == 0 || len(name) > 64 || strings.ToLower(name) != name ||
			p.Window%time.Microsecond != 0 || p.Window < time.Millisecond || p.Window > ratelimit.MaxWindow ||
			(p.Algorithm != ratelimit.TokenBucket && burst != 0) {
			t.Fatalf("Validate accepted %+v", p)
		}
		// A time from 1970 to 2270, in whole microseconds.
		const span = 300 * 365 * 24 * 3600 * 1_000_000
		now := time.UnixMicro((at%span + span) % span).UTC()
		lim, err := ratelimit.New(newMemory(t, ratelimit.MemoryConfig{Shards: 1}), p, ratelimit.Config{Now: func() time.Time { return now }})
		if err != nil {
			t.Fatalf("New(%+v): %v", p, err)
		}
		q := lim.Policy().Quota()
		n = 1 + int(uint(n)%uint(q))
		res, err := lim.AllowN(context.Background(), "k", n)
		if err != nil {
			t.Fatalf("%v: AllowN(%d): %v", p, n, err)
		}
		// The first check's Reset, and the wait for the whole quota
		// after it, in µs, computed without overflow.
		W, L, t0 := big.NewInt(p.Window.Microseconds()), big.NewInt(int64(p.Limit)), now.UnixMicro()
		var reset, retry *big.Int
		switch p.Algorithm {
		case ratelimit.FixedWindow:
			reset = new(big.Int).Sub(W, new(big.Int).Mod(big.NewInt(t0), W))
			retry = reset
		case ratelimit.SlidingWindow:
			reset, retry = W, W
		case ratelimit.TokenBucket: // n×W missing, refilled at L a µs
			reset = ceilDiv(new(big.Int).Mul(big.NewInt(int64(n)), W), L)
			retry = reset
		}
		want := ratelimit.Result{Allowed: true, Limit: q, Remaining: q - n, Reset: duration(t, reset)}
		if res != want {
			t.Fatalf("%v at %v: AllowN(%d) = %+v, want %+v", p, now, n, res, want)
		}
		res, err = lim.AllowN(context.Background(), "k", q)
		want = ratelimit.Result{Limit: q, Remaining: q - n, Reset: duration(t, reset), RetryAfter: duration(t, retry)}
		if err != nil || res != want {
			t.Fatalf("%v at %v: AllowN(%d) then AllowN(%d) = %+v, %v; want %+v", p, now, n, q, res, err, want)
		}
	})
}

func ceilDiv(a, b *big.Int) *big.Int {
	q, r := new(big.Int).QuoRem(a, b, new(big.Int))
	if r.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	return q
}

// duration returns us microseconds, failing when a time.Duration cannot
// hold them.
func duration(t *testing.T, us *big.Int) time.Duration {
	t.Helper()
	if !us.IsInt64() || us.Int64() > math.MaxInt64/int64(time.Microsecond) {
		t.Fatalf("a Result must carry %v µs, more than a time.Duration holds", us)
	}
	return time.Duration(us.Int64()) * time.Microsecond
}

// FuzzHashKey: HashKey is the SHA-256 of algorithm, NUL, name, NUL, key.
// Two different (name, key) pairs of one algorithm hash alike only when
// those bytes are alike, which takes a NUL in a name ("a" and "\x00b"
// against "a\x00" and "b"): Validate must refuse every such name, so
// that the keys of valid policies never share counters.
func FuzzHashKey(f *testing.F) {
	f.Add("a", "\x00b", "a\x00", "b", uint8(0))
	f.Add("login", "ip:1", "login", "ip:1", uint8(1))
	f.Add("login", "", "logi", "n", uint8(2))
	f.Add("", "", "", "", uint8(0))
	f.Fuzz(func(t *testing.T, name1, key1, name2, key2 string, alg uint8) {
		a := algorithms[int(alg)%3]
		p1 := ratelimit.Policy{Name: name1, Algorithm: a, Limit: 1, Window: time.Second}
		p2 := ratelimit.Policy{Name: name2, Algorithm: a, Limit: 1, Window: time.Second}
		b1 := string(a) + "\x00" + name1 + "\x00" + key1
		b2 := string(a) + "\x00" + name2 + "\x00" + key2
		h1, h2 := ratelimit.HashKey(p1, key1), ratelimit.HashKey(p2, key2)
		if h1 != sha256.Sum256([]byte(b1)) || h2 != sha256.Sum256([]byte(b2)) {
			t.Fatalf("HashKey is not the SHA-256 of algorithm, NUL, name, NUL, key")
		}
		if b1 == b2 && (name1 != name2 || key1 != key2) {
			// Different pairs, one preimage: a name holds a NUL.
			if p1.Validate() == nil && p2.Validate() == nil {
				t.Fatalf("Validate accepts names %q and %q, whose keys %q and %q share a hash", name1, name2, key1, key2)
			}
		}
		// Other algorithms never share the hash.
		for _, b := range algorithms[:3] {
			if b != a && ratelimit.HashKey(ratelimit.Policy{Name: name1, Algorithm: b}, key1) == h1 {
				t.Fatalf("%s and %s share a hash", a, b)
			}
		}
	})
}
