package authhttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/authhttp"
	"github.com/cedrina/cedrina/internal/testkit"
	"github.com/cedrina/cedrina/notify"
	"github.com/cedrina/cedrina/ratelimit"
	"github.com/cedrina/cedrina/store"
)

// t0 is 18 seconds into a minute (and into an hour): a one-minute window
// ends 42 seconds later, a one-hour window 3582 seconds later.
var t0 = time.Date(2026, 11, 29, 12, 0, 18, 0, time.UTC)

// limited is a handler on the memory store whose rate limits run on
// clock; mutate adjusts its config further.
func limited(t *testing.T, clock *testkit.Clock, mutate func(*authhttp.Config)) *authhttp.Handler {
	t.Helper()
	return newHandler(t, memBackend(), func(c *authhttp.Config) {
		c.RateLimit.Now = clock.Now
		if mutate != nil {
			mutate(c)
		}
	})
}

// from sends a request to h from the peer ip (IPv4 or IPv6) with a JSON
// body, without a network; header holds more name, value pairs.
func from(h http.Handler, ip, method, path, token, body string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.RemoteAddr = netip.AddrPortFrom(netip.MustParseAddr(ip), 40000).String()
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

const guess = `{"login":"nobody","password":"a wrong guess"}`

// wantHeaders fails unless rec has each header with exactly the value
// given (name, value pairs), once.
func wantHeaders(t *testing.T, rec *httptest.ResponseRecorder, pairs ...string) {
	t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		if got := rec.Header().Values(pairs[i]); len(got) != 1 || got[0] != pairs[i+1] {
			t.Errorf("%s: %q, want %q", pairs[i], got, pairs[i+1])
		}
	}
}

// want429 checks a refusal by policy: its status, its exact body and
// every header a 429 must carry, t being the seconds until it lifts.
func want429(t *testing.T, rec *httptest.ResponseRecorder, policy string, quota, window, secs int) {
	t.Helper()
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429; body %s", rec.Code, rec.Body)
	}
	wantHeaders(t, rec,
		"Content-Type", "application/problem+json",
		"Cache-Control", "no-store",
		"Retry-After", strconv.Itoa(secs),
		"RateLimit-Policy", `"`+policy+`";q=`+strconv.Itoa(quota)+";w="+strconv.Itoa(window),
		"RateLimit", `"`+policy+`";r=0;t=`+strconv.Itoa(secs))
	want := `{"type":"` + authhttp.TypeRateLimited + `","title":"Too many requests","status":429,"detail":"too many requests; try again later"}` + "\n"
	if got := rec.Body.String(); got != want {
		t.Errorf("body %s, want %s", got, want)
	}
}

// TestRateLimitLogin: 30 logins a minute per client IP, whatever their
// outcome; the 31st gets 429 with Retry-After, no-store, problem+json and
// the draft-10 headers, exact; admitted responses carry the headers too;
// another IP, and the next window, are not affected.
func TestRateLimitLogin(t *testing.T) {
	clock := testkit.NewClock(t0)
	h := limited(t, clock, nil)
	if rec := from(h, "192.0.2.10", "POST", "/auth/register", "", registerBody("alice")); rec.Code != http.StatusCreated {
		t.Fatalf("register: %d %s", rec.Code, rec.Body)
	}
	rec := from(h, "192.0.2.10", "POST", "/auth/login", "", `{"login":"alice","password":"`+goodPassword+`"}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	wantHeaders(t, rec, "RateLimit-Policy", `"login";q=30;w=60`, "RateLimit", `"login";r=29;t=42`)
	for i := 2; i <= 30; i++ {
		rec := from(h, "192.0.2.10", "POST", "/auth/login", "", guess)
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("login %d: %d %s", i, rec.Code, rec.Body)
		}
		wantHeaders(t, rec, "RateLimit", `"login";r=`+strconv.Itoa(30-i)+";t=42")
	}
	clock.Advance(2 * time.Second)
	// The 31st, even with the right password.
	want429(t, from(h, "192.0.2.10", "POST", "/auth/login", "", `{"login":"alice","password":"`+goodPassword+`"}`), "login", 30, 60, 40)
	want429(t, from(h, "192.0.2.10", "POST", "/auth/login", "", `not even JSON`), "login", 30, 60, 40)

	rec = from(h, "192.0.2.11", "POST", "/auth/login", "", guess)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("another IP: %d %s", rec.Code, rec.Body)
	}
	wantHeaders(t, rec, "RateLimit", `"login";r=29;t=40`)
	// Registration has its own budget.
	if rec := from(h, "192.0.2.10", "POST", "/auth/register", "", registerBody("bob")); rec.Code != http.StatusCreated {
		t.Fatalf("register after the login limit: %d %s", rec.Code, rec.Body)
	}

	clock.Advance(40 * time.Second) // 12:01:00, the next window
	rec = from(h, "192.0.2.10", "POST", "/auth/login", "", `{"login":"alice","password":"`+goodPassword+`"}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("login in the next minute: %d %s", rec.Code, rec.Body)
	}
	wantHeaders(t, rec, "RateLimit", `"login";r=29;t=60`)
}

// registerBody is the registration of name with goodPassword.
func registerBody(name string) string {
	return `{"username":"` + name + `","email":"` + name + `@example.com","password":"` + goodPassword + `"}`
}

// TestRateLimitClientIP: the client IP is the peer's unless the peer is
// a trusted proxy, whose X-Forwarded-For is then believed; an IPv6 client
// is counted by its /64.
func TestRateLimitClientIP(t *testing.T) {
	spend := func(t *testing.T, h http.Handler, peer string, header ...string) {
		t.Helper()
		for i := 1; i <= 30; i++ {
			if rec := from(h, peer, "POST", "/auth/login", "", guess, header...); rec.Code != http.StatusUnauthorized {
				t.Fatalf("login %d: %d %s", i, rec.Code, rec.Body)
			}
		}
	}
	t.Run("untrusted peer", func(t *testing.T) {
		h := limited(t, testkit.NewClock(t0), nil)
		// A client that rotates X-Forwarded-For is still one client.
		for i := 1; i <= 30; i++ {
			xff := "198.51.100." + strconv.Itoa(i)
			if rec := from(h, "192.0.2.10", "POST", "/auth/login", "", guess, "X-Forwarded-For", xff); rec.Code != http.StatusUnauthorized {
				t.Fatalf("login %d: %d %s", i, rec.Code, rec.Body)
			}
		}
		want429(t, from(h, "192.0.2.10", "POST", "/auth/login", "", guess, "X-Forwarded-For", "198.51.100.99"), "login", 30, 60, 42)
	})
	t.Run("trusted proxy", func(t *testing.T) {
		h := limited(t, testkit.NewClock(t0), func(c *authhttp.Config) {
			c.TrustedProxies = audit.Proxies{netip.MustParsePrefix("10.0.0.0/8")}
		})
		spend(t, h, "10.0.0.1", "X-Forwarded-For", "198.51.100.7")
		// The same client through another proxy of the pool.
		want429(t, from(h, "10.0.0.2", "POST", "/auth/login", "", guess, "X-Forwarded-For", "198.51.100.7"), "login", 30, 60, 42)
		// Another client through the same proxy.
		if rec := from(h, "10.0.0.1", "POST", "/auth/login", "", guess, "X-Forwarded-For", "198.51.100.8"); rec.Code != http.StatusUnauthorized {
			t.Fatalf("another client behind the proxy: %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("IPv6 /64", func(t *testing.T) {
		h := limited(t, testkit.NewClock(t0), nil)
		spend(t, h, "2001:db8:1:2::1")
		want429(t, from(h, "2001:db8:1:2:ffff:ffff:ffff:ffff", "POST", "/auth/login", "", guess), "login", 30, 60, 42)
		if rec := from(h, "2001:db8:1:3::1", "POST", "/auth/login", "", guess); rec.Code != http.StatusUnauthorized {
			t.Fatalf("the next /64: %d %s", rec.Code, rec.Body)
		}
	})
}

// TestRateLimitRegister: 20 registrations a minute per client IP,
// refused or not; the 21st gets 429.
func TestRateLimitRegister(t *testing.T) {
	h := limited(t, testkit.NewClock(t0), nil)
	for i := 1; i <= 20; i++ {
		rec := from(h, "192.0.2.20", "POST", "/auth/register", "", registerBody("user"+strconv.Itoa(i)))
		if rec.Code != http.StatusCreated {
			t.Fatalf("registration %d: %d %s", i, rec.Code, rec.Body)
		}
		wantHeaders(t, rec, "RateLimit-Policy", `"register";q=20;w=60`, "RateLimit", `"register";r=`+strconv.Itoa(20-i)+";t=42")
	}
	want429(t, from(h, "192.0.2.20", "POST", "/auth/register", "", registerBody("user21")), "register", 20, 60, 42)
	// Nothing was created: the name is free for another client.
	if rec := from(h, "192.0.2.21", "POST", "/auth/register", "", registerBody("user21")); rec.Code != http.StatusCreated {
		t.Fatalf("another IP: %d %s", rec.Code, rec.Body)
	}
}

// TestRateLimitForgotPassword: the reset service's limits answer 429 with
// the headers of the policy that refused: 3 an hour per address, 20 an
// hour per client IP across addresses.
func TestRateLimitForgotPassword(t *testing.T) {
	r := newRecovery(t, memBackend(), nil) // its clock reads 12:00:00
	r.clock.Advance(10 * time.Minute)
	forgot := func(email string) *httptest.ResponseRecorder {
		return from(r.h, "192.0.2.30", "POST", "/auth/password/forgot", "", `{"email":"`+email+`"}`)
	}
	for i := 1; i <= 3; i++ {
		if rec := forgot("limit@example.com"); rec.Code != http.StatusAccepted {
			t.Fatalf("request %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	want429(t, forgot("Limit@Example.com"), "password_forgot_address", 3, 3600, 3000)
	// The 4th above counted per client; 16 more addresses make 20.
	for i := 1; i <= 16; i++ {
		if rec := forgot("user" + strconv.Itoa(i) + "@example.com"); rec.Code != http.StatusAccepted {
			t.Fatalf("address %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	want429(t, forgot("fresh@example.com"), "password_forgot_client", 20, 3600, 3000)
	if rec := from(r.h, "192.0.2.31", "POST", "/auth/password/forgot", "", `{"email":"fresh@example.com"}`); rec.Code != http.StatusAccepted {
		t.Fatalf("another client: %d %s", rec.Code, rec.Body)
	}
	r.mail.None(t) // no account has these addresses
}

// TestRateLimitVerificationRequest: 3 verification links an hour per
// signed-in user; the 4th gets 429; another user is not affected.
func TestRateLimitVerificationRequest(t *testing.T) {
	r := newRecovery(t, memBackend(), func(r *recovery, c *stackConfig) {
		c.handler = func(hc *authhttp.Config) { hc.RateLimit.Now = r.clock.Now }
	})
	r.register("alice")
	r.register("bob")
	alice, _ := r.login("alice", goodPassword)
	bob, _ := r.login("bob", goodPassword)
	r.clock.Advance(5 * time.Minute)
	request := func(token string) *httptest.ResponseRecorder {
		return from(r.h, "192.0.2.40", "POST", "/auth/email/verify/request", token, "")
	}
	for i := 1; i <= 3; i++ {
		rec := request(alice)
		if rec.Code != http.StatusAccepted {
			t.Fatalf("request %d: %d %s", i, rec.Code, rec.Body)
		}
		wantHeaders(t, rec, "RateLimit-Policy", `"email_verification";q=3;w=3600`,
			"RateLimit", `"email_verification";r=`+strconv.Itoa(3-i)+";t=3300")
		nextOf(t, r.mail, notify.VerifyEmail, "alice@example.com")
	}
	want429(t, request(alice), "email_verification", 3, 3600, 3300)
	r.mail.None(t)
	if rec := request(bob); rec.Code != http.StatusAccepted {
		t.Fatalf("bob: %d %s", rec.Code, rec.Body)
	}
	nextOf(t, r.mail, notify.VerifyEmail, "bob@example.com")
	// Without a session the bearer check answers first: not counted.
	if rec := request(""); rec.Code != http.StatusUnauthorized || rec.Header().Get("RateLimit") != "" {
		t.Fatalf("without a token: %d %v", rec.Code, rec.Header())
	}
}

// fakeRateStore is a ratelimit.Store whose Take is take.
type fakeRateStore struct {
	take func(ctx context.Context, p ratelimit.Policy, key string, n int, now time.Time) (ratelimit.Result, error)
}

func (f fakeRateStore) Take(ctx context.Context, p ratelimit.Policy, key string, n int, now time.Time) (ratelimit.Result, error) {
	return f.take(ctx, p, key, n, now)
}

// TestRateLimitStoreFailure: when the limits' store fails, the limited
// routes refuse (503 with Retry-After: 1, never 500 and never let
// through), whatever the store's error, and the handler logs it.
func TestRateLimitStoreFailure(t *testing.T) {
	for _, storeErr := range []error{
		store.ErrUnavailable,
		errors.New("ratestore: unexpected reply"),
	} {
		var mu sync.Mutex
		var policies []string
		logs := &testkit.Buffer{}
		s := newStack(t, memBackend(), stackConfig{handler: func(c *authhttp.Config) {
			c.Logger = slog.New(slog.NewTextHandler(logs, nil))
			c.RateLimit.Store = fakeRateStore{take: func(_ context.Context, p ratelimit.Policy, _ string, _ int, _ time.Time) (ratelimit.Result, error) {
				mu.Lock()
				defer mu.Unlock()
				policies = append(policies, p.Name)
				return ratelimit.Result{}, storeErr
			}}
		}})
		for _, c := range []struct{ path, body string }{
			{"/auth/login", guess},
			{"/auth/register", registerBody("alice")},
		} {
			rec := from(s.h, "192.0.2.50", "POST", c.path, "", c.body)
			if rec.Code != http.StatusServiceUnavailable {
				t.Fatalf("%v: %s: %d %s", storeErr, c.path, rec.Code, rec.Body)
			}
			wantHeaders(t, rec, "Retry-After", "1", "Content-Type", "application/problem+json", "Cache-Control", "no-store")
			if rec.Header().Get("RateLimit") != "" {
				t.Errorf("%s: a RateLimit header without a count: %v", c.path, rec.Header())
			}
		}
		mu.Lock()
		if strings.Join(policies, ",") != "login,register" {
			t.Errorf("store asked for %v", policies)
		}
		mu.Unlock()
		// The registration did not happen: alice is free.
		if _, err := s.users.GetByUsername(context.Background(), "alice"); err == nil {
			t.Errorf("%v: a registration went through unchecked", storeErr)
		}
		if !strings.Contains(logs.String(), "ratelimit: check failed") {
			t.Errorf("the failure is not logged:\n%s", logs)
		}
	}
}

// recorderFunc is an audit.Recorder.
type recorderFunc func(ctx context.Context, e audit.Event) error

func (f recorderFunc) Record(ctx context.Context, e audit.Event) error { return f(ctx, e) }

// TestRateLimitAuditSampled: a rate_limit_exceeded event per policy and
// client in each window, however many requests are refused; it names the
// policy and the key's hash, never the client's IP.
func TestRateLimitAuditSampled(t *testing.T) {
	clock := testkit.NewClock(t0)
	var mu sync.Mutex
	var events []audit.Event
	h := limited(t, clock, func(c *authhttp.Config) {
		c.RateLimit.Recorder = recorderFunc(func(_ context.Context, e audit.Event) error {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, e)
			return nil
		})
	})
	flood := func(ip string, n int) (refused int) {
		for range n {
			if from(h, ip, "POST", "/auth/login", "", guess).Code == http.StatusTooManyRequests {
				refused++
			}
		}
		return refused
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(events)
	}
	if refused := flood("192.0.2.60", 100); refused != 70 || count() != 1 {
		t.Fatalf("%d refused, %d events; want 70 and 1", refused, count())
	}
	clock.Advance(30 * time.Second)
	if flood("192.0.2.60", 10); count() != 1 {
		t.Fatalf("%d events after more refusals in the same window, want 1", count())
	}
	if flood("192.0.2.61", 31); count() != 2 {
		t.Fatalf("%d events after another client's refusal, want 2", count())
	}
	clock.Advance(time.Minute) // the next window: 12:01:48
	if refused := flood("192.0.2.60", 40); refused != 10 || count() != 3 {
		t.Fatalf("next window: %d refused, %d events; want 10 and 3", refused, count())
	}

	e := events[0]
	login := ratelimit.PerMinute("login", 30)
	want := map[string]any{"policy": "login", "algorithm": "fixed_window", "limit": 30, "window_seconds": int64(60),
		"key_hash": ratelimit.HashKey(login, "ip:192.0.2.60").String(), "retry_after_seconds": int64(42)}
	if e.Type != audit.RateLimitExceeded || e.Severity != audit.Warning || e.Source != "ratelimit" || len(e.Data) != len(want) {
		t.Errorf("event %+v", e)
	}
	for k, v := range want {
		if e.Data[k] != v {
			t.Errorf("event data %s = %#v, want %#v", k, e.Data[k], v)
		}
	}
	if e := events[2]; e.Data["retry_after_seconds"] != int64(12) {
		t.Errorf("the next window's event: %v", e.Data)
	}
	b, _ := json.Marshal(events)
	if bytes.Contains(b, []byte("192.0.2.6")) {
		t.Errorf("an event carries the client IP in its data: %s", b)
	}
}

// TestRateLimitErrorFunc: a host's ErrorFunc shapes the 429 too, with the
// RateLimit headers already set and the problem's RetryAfter filled in.
func TestRateLimitErrorFunc(t *testing.T) {
	var got []authhttp.Problem
	var gotErr error
	h := limited(t, testkit.NewClock(t0), func(c *authhttp.Config) {
		c.RateLimit.Login = ratelimit.PerMinute("strict_login", 2)
		c.ErrorFunc = func(w http.ResponseWriter, r *http.Request, p authhttp.Problem, err error) {
			got, gotErr = append(got, p), err
			w.Header().Set("Content-Type", "application/vnd.host+json")
			w.WriteHeader(p.Status)
			json.NewEncoder(w).Encode(map[string]any{"code": p.Status})
		}
	})
	for range 2 {
		from(h, "192.0.2.70", "POST", "/auth/login", "", guess)
	}
	rec := from(h, "192.0.2.70", "POST", "/auth/login", "", guess)
	if rec.Code != http.StatusTooManyRequests || rec.Body.String() != `{"code":429}`+"\n" {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	wantHeaders(t, rec, "Content-Type", "application/vnd.host+json",
		"RateLimit-Policy", `"strict_login";q=2;w=60`, "RateLimit", `"strict_login";r=0;t=42`)
	p := got[len(got)-1]
	var le *ratelimit.LimitedError
	if p.Type != authhttp.TypeRateLimited || p.RetryAfter != 42*time.Second || !errors.As(gotErr, &le) || le.Policy.Name != "strict_login" {
		t.Errorf("problem %+v, err %v", p, gotErr)
	}
}

// TestRateLimitDisabled: RateLimitConfig.Disabled turns the limits off:
// no 429, no RateLimit headers.
func TestRateLimitDisabled(t *testing.T) {
	h := limited(t, testkit.NewClock(t0), func(c *authhttp.Config) { c.RateLimit.Disabled = true })
	for i := 1; i <= 40; i++ {
		rec := from(h, "192.0.2.80", "POST", "/auth/login", "", guess)
		if rec.Code != http.StatusUnauthorized || rec.Header().Get("RateLimit") != "" || rec.Header().Get("RateLimit-Policy") != "" {
			t.Fatalf("login %d: %d %v", i, rec.Code, rec.Header())
		}
	}
}

// TestRateLimitConfig: a bad policy is refused naming its field.
func TestRateLimitConfig(t *testing.T) {
	b := memBackend()
	s := newStack(t, b, stackConfig{})
	for _, c := range []struct {
		cfg  authhttp.RateLimitConfig
		want string
	}{
		{authhttp.RateLimitConfig{Login: ratelimit.PerMinute("login", 0)}, "authhttp: Config.RateLimit.Login.Limit: 0 is outside 1..1000000000"},
		{authhttp.RateLimitConfig{Register: ratelimit.PerMinute("Register!", 5)}, `authhttp: Config.RateLimit.Register.Name: "Register!" has a character other than a-z, 0-9, '_', '-' and '.'`},
		{authhttp.RateLimitConfig{VerificationRequest: ratelimit.Policy{Name: "v", Algorithm: ratelimit.FixedWindow, Limit: 3}},
			"authhttp: Config.RateLimit.VerificationRequest.Window: 0s is outside 1ms..8784h0m0s"},
	} {
		_, err := authhttp.New(authhttp.Config{Users: s.users, Sessions: s.sessions, RateLimit: c.cfg})
		if err == nil || err.Error() != c.want {
			t.Errorf("err = %v, want %q", err, c.want)
		}
	}
	// Disabled, nothing is checked.
	if _, err := authhttp.New(authhttp.Config{Users: s.users, Sessions: s.sessions,
		RateLimit: authhttp.RateLimitConfig{Disabled: true, Login: ratelimit.PerMinute("login", 0)}}); err != nil {
		t.Errorf("disabled: %v", err)
	}
}
