package session_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/store/storetest"
	"github.com/cedrina/cedrina/user"
)

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// httpEnv is a session service on the memory store with one user, logging
// at debug level into logs.
type httpEnv struct {
	svc  *session.Service
	user *user.User
	logs *syncBuffer
}

func newHTTPEnv(t *testing.T, wrap func(session.Store) session.Store) *httpEnv {
	t.Helper()
	db := memory.New()
	var st session.Store = db.Sessions()
	if wrap != nil {
		st = wrap(st)
	}
	k, err := session.GenerateKey(session.EdDSA, "")
	if err != nil {
		t.Fatal(err)
	}
	ks, err := session.NewKeySet(k)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	svc, err := session.NewService(st, session.Config{
		Keys: ks, Issuer: "https://auth.example", Audience: []string{"api"},
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	u := storetest.NewUser("hana")
	if err := db.Users().Create(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return &httpEnv{svc: svc, user: u, logs: logs}
}

func newHTTPEnvMemory(t *testing.T) *httpEnv {
	t.Helper()
	return newHTTPEnv(t, nil)
}

func (e *httpEnv) start(t *testing.T) *session.Tokens {
	t.Helper()
	tok, err := e.svc.Start(context.Background(), e.user, session.Client{})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// noSecrets fails if the response or the log shows any of the tokens.
func (e *httpEnv) noSecrets(t *testing.T, w *httptest.ResponseRecorder, toks ...*session.Tokens) {
	t.Helper()
	var resp strings.Builder
	w.Result().Header.Write(&resp)
	resp.WriteString(w.Body.String())
	for _, tok := range toks {
		for _, s := range []string{tok.AccessToken, tok.RefreshToken, tok.SessionToken} {
			if s == "" {
				continue
			}
			if strings.Contains(resp.String(), s) {
				t.Errorf("the response shows a token:\n%s", resp.String())
			}
			if strings.Contains(e.logs.String(), s) {
				t.Errorf("the log shows a token:\n%s", e.logs)
			}
		}
	}
}

// whoami is the protected handler: 200 and "user/session" from the
// context, or 599 when the context has no principal.
func whoami() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := session.PrincipalFromContext(r.Context())
		if !ok {
			w.WriteHeader(599)
			return
		}
		json.NewEncoder(w).Encode(map[string]int64{"user": p.UserID, "session": p.SessionID})
	})
}

func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func bearerRequest(method, token string) *http.Request {
	r := httptest.NewRequest(method, "/me", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

func cookieRequest(method, value string) *http.Request {
	r := httptest.NewRequest(method, "/me", nil)
	r.AddCookie(&http.Cookie{Name: session.CookieName, Value: value})
	return r
}

const (
	challenge        = `Bearer realm="cedrina"`
	challengeInvalid = `Bearer realm="cedrina", error="invalid_token"`
)

// want401 checks the refusal: status, challenge, headers and the one
// generic body. It returns the body.
func want401(t *testing.T, w *httptest.ResponseRecorder, wantChallenge string) string {
	t.Helper()
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401; body %s", w.Code, w.Body)
	}
	h := w.Header()
	if got := h.Values("WWW-Authenticate"); len(got) != 1 || got[0] != wantChallenge {
		t.Errorf("WWW-Authenticate %q, want %q", got, wantChallenge)
	}
	if got := h.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q", got)
	}
	if got := h.Get("Content-Type"); got != "application/problem+json" {
		t.Errorf("Content-Type %q", got)
	}
	var p struct {
		Type, Title, Detail string
		Status              int
	}
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("body: %v: %s", err, w.Body)
	}
	if p.Type != "about:blank" || p.Title != "Unauthorized" || p.Status != 401 || p.Detail != "valid credentials are required" {
		t.Errorf("problem %+v", p)
	}
	return w.Body.String()
}

func wantPrincipal(t *testing.T, w *httptest.ResponseRecorder, tok *session.Tokens, e *httpEnv) {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d, want 200; headers %v body %s", w.Code, w.Header(), w.Body)
	}
	var got map[string]int64
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got["user"] != e.user.ID || got["session"] != tok.SessionID {
		t.Errorf("principal %v, want user %d session %d", got, e.user.ID, tok.SessionID)
	}
}

func TestContext(t *testing.T) {
	if p, ok := session.PrincipalFromContext(context.Background()); ok || p != nil {
		t.Errorf("empty context: %v, %v", p, ok)
	}
	if _, ok := session.PrincipalFromContext(session.ContextWithPrincipal(context.Background(), nil)); ok {
		t.Error("a nil principal is reported")
	}
	want := &session.Principal{UserID: 7, SessionID: 9}
	if p, ok := session.PrincipalFromContext(session.ContextWithPrincipal(context.Background(), want)); !ok || p != want {
		t.Errorf("got %v, %v", p, ok)
	}
}

func TestRequireAuthBearer(t *testing.T) {
	e := newHTTPEnvMemory(t)
	tok := e.start(t)
	h := e.svc.RequireAuth(session.MiddlewareConfig{})(whoami())

	w := serve(h, bearerRequest("GET", tok.AccessToken))
	wantPrincipal(t, w, tok, e)
	if got := w.Header().Get("Vary"); got != "Authorization" {
		t.Errorf("Vary %q", got)
	}
	// The scheme is case-insensitive (RFC 9110 11.1), and RFC 6750 allows
	// several spaces before the token.
	for _, scheme := range []string{"bearer ", "BEARER ", "bEaReR   "} {
		r := httptest.NewRequest("POST", "/me", nil)
		r.Header.Set("Authorization", scheme+tok.AccessToken)
		wantPrincipal(t, serve(h, r), tok, e)
	}
	// A valid token in the header is not spoiled by a query parameter,
	// which is never read.
	r := httptest.NewRequest("GET", "/me?access_token=junk", nil)
	r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	wantPrincipal(t, serve(h, r), tok, e)
	e.noSecrets(t, w, tok)
}

func TestRequireAuthNoCredentials(t *testing.T) {
	e := newHTTPEnvMemory(t)
	h := e.svc.RequireAuth(session.MiddlewareConfig{})(whoami())
	w := serve(h, httptest.NewRequest("GET", "/me", nil))
	want401(t, w, challenge)
}

// TestRequireAuthRefusalsHTTP: every malformed or invalid credential gets
// 401 with one body, and no token is echoed or logged.
func TestRequireAuthRefusalsHTTP(t *testing.T) {
	e := newHTTPEnvMemory(t)
	tok := e.start(t)
	other := e.start(t)
	if err := e.svc.Logout(context.Background(), &session.Principal{UserID: e.user.ID, SessionID: other.SessionID}); err != nil {
		t.Fatal(err)
	}
	h := e.svc.RequireAuth(session.MiddlewareConfig{AllowCookie: true})(whoami())
	valid := tok.AccessToken
	tampered := valid[:len(valid)-4] + "AAAA"
	if tampered == valid {
		tampered = valid[:len(valid)-4] + "BBBB"
	}

	withHeader := func(values ...string) func() *http.Request {
		return func() *http.Request {
			r := httptest.NewRequest("GET", "/me", nil)
			for _, v := range values {
				r.Header.Add("Authorization", v)
			}
			return r
		}
	}
	tests := []struct {
		name      string
		req       func() *http.Request
		challenge string
	}{
		{"no credentials", withHeader(), challenge},
		{"query string only", func() *http.Request {
			return httptest.NewRequest("GET", "/me?access_token="+valid, nil)
		}, challenge},
		{"form body only", func() *http.Request {
			r := httptest.NewRequest("POST", "/me", strings.NewReader("access_token="+valid))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, challenge},
		{"Basic", withHeader("Basic eHl6"), challenge},
		{"token without scheme", withHeader(valid), challenge},
		{"other scheme with the token", withHeader("Token " + valid), challenge},
		{"empty header", withHeader(""), challenge},
		{"scheme only", withHeader("Bearer"), challengeInvalid},
		{"scheme and space", withHeader("Bearer "), challengeInvalid},
		{"two tokens", withHeader("Bearer a b"), challengeInvalid},
		{"token then junk", withHeader("Bearer " + valid + " x"), challengeInvalid},
		{"trailing space", withHeader("Bearer " + valid + " "), challengeInvalid},
		{"tab separator", withHeader("Bearer\t" + valid), challengeInvalid},
		{"two headers", withHeader("Bearer "+valid, "Bearer "+valid), challengeInvalid},
		{"two headers, one Basic", withHeader("Basic eHl6", "Bearer "+valid), challengeInvalid},
		{"NUL", withHeader("Bearer " + valid[:10] + "\x00" + valid[10:]), challengeInvalid},
		{"non-ASCII", withHeader("Bearer " + valid + "é"), challengeInvalid},
		{"huge", withHeader("Bearer " + strings.Repeat("A", 64<<10)), challengeInvalid},
		{"padding in the middle", withHeader("Bearer ab=cd"), challengeInvalid},
		{"garbage", withHeader("Bearer not-a-jwt"), challengeInvalid},
		{"tampered", withHeader("Bearer " + tampered), challengeInvalid},
		{"refresh token as bearer", withHeader("Bearer " + tok.RefreshToken), challengeInvalid},
		{"session token as bearer", withHeader("Bearer " + tok.SessionToken), challengeInvalid},
		{"logged-out session", withHeader("Bearer " + other.AccessToken), challengeInvalid},
		{"bad header wins over a valid cookie", func() *http.Request {
			r := withHeader("Bearer not-a-jwt")()
			r.AddCookie(&http.Cookie{Name: session.CookieName, Value: tok.SessionToken})
			return r
		}, challengeInvalid},
		{"access token as cookie", func() *http.Request { return cookieRequest("GET", valid) }, challengeInvalid},
		{"refresh token as cookie", func() *http.Request { return cookieRequest("GET", tok.RefreshToken) }, challengeInvalid},
		{"logged-out session cookie", func() *http.Request { return cookieRequest("GET", other.SessionToken) }, challengeInvalid},
		{"two session cookies", func() *http.Request {
			r := cookieRequest("GET", tok.SessionToken)
			r.AddCookie(&http.Cookie{Name: session.CookieName, Value: tok.SessionToken})
			return r
		}, challengeInvalid},
		{"cookie without the prefix", func() *http.Request {
			r := httptest.NewRequest("GET", "/me", nil)
			r.AddCookie(&http.Cookie{Name: "session", Value: tok.SessionToken})
			return r
		}, challenge},
	}
	var first string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := serve(h, tt.req())
			body := want401(t, w, tt.challenge)
			if first == "" {
				first = body
			} else if body != first {
				t.Errorf("body %q differs from %q", body, first)
			}
			e.noSecrets(t, w, tok, other)
		})
	}
	// A refusal is logged with its reason, at debug level.
	if !strings.Contains(e.logs.String(), "session: revoked") {
		t.Errorf("reasons not logged:\n%s", e.logs)
	}
}

func TestRequireAuthRevokedNextRequest(t *testing.T) {
	e := newHTTPEnvMemory(t)
	tok := e.start(t)
	h := e.svc.RequireAuth(session.MiddlewareConfig{AllowCookie: true})(whoami())
	wantPrincipal(t, serve(h, bearerRequest("GET", tok.AccessToken)), tok, e)
	wantPrincipal(t, serve(h, cookieRequest("GET", tok.SessionToken)), tok, e)
	if err := e.svc.Revoke(context.Background(), e.user.ID, tok.SessionID); err != nil {
		t.Fatal(err)
	}
	want401(t, serve(h, bearerRequest("GET", tok.AccessToken)), challengeInvalid)
	want401(t, serve(h, cookieRequest("GET", tok.SessionToken)), challengeInvalid)
}

func TestRequireAuthCookie(t *testing.T) {
	e := newHTTPEnvMemory(t)
	tok := e.start(t)

	// Off by default: the cookie is not even looked at.
	off := e.svc.RequireAuth(session.MiddlewareConfig{})(whoami())
	want401(t, serve(off, cookieRequest("GET", tok.SessionToken)), challenge)

	on := e.svc.RequireAuth(session.MiddlewareConfig{AllowCookie: true})(whoami())
	w := serve(on, cookieRequest("GET", tok.SessionToken))
	wantPrincipal(t, w, tok, e)
	if got := w.Header().Get("Vary"); got != "Authorization, Cookie" {
		t.Errorf("Vary %q", got)
	}
	// A bearer header wins over the cookie.
	r := cookieRequest("GET", "junk")
	r.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	wantPrincipal(t, serve(on, r), tok, e)
	e.noSecrets(t, w, tok)
}

// TestRequireAuthCookieCSRF: cookie-authenticated unsafe requests need a
// proof of origin; refused ones get 403 before the cookie is checked.
func TestRequireAuthCookieCSRF(t *testing.T) {
	e := newHTTPEnvMemory(t)
	tok := e.start(t)
	h := e.svc.RequireAuth(session.MiddlewareConfig{
		AllowCookie:    true,
		AllowedOrigins: []string{"https://app.example.com", "https://admin.example.com:8443"},
	})(whoami())

	tests := []struct {
		name    string
		method  string
		headers map[string][]string
		ok      bool
	}{
		{"GET without proof", "GET", nil, true},
		{"HEAD without proof", "HEAD", nil, true},
		{"OPTIONS without proof", "OPTIONS", nil, true},
		{"POST without proof", "POST", nil, false},
		{"PUT without proof", "PUT", nil, false},
		{"PATCH without proof", "PATCH", nil, false},
		{"DELETE without proof", "DELETE", nil, false},
		{"unknown method without proof", "PURGE", nil, false},
		{"POST X-Requested-With", "POST", map[string][]string{"X-Requested-With": {"XMLHttpRequest"}}, true},
		{"POST empty X-Requested-With", "POST", map[string][]string{"X-Requested-With": {""}}, false},
		{"POST allowed origin", "POST", map[string][]string{"Origin": {"https://app.example.com"}}, true},
		{"POST allowed origin, other case", "POST", map[string][]string{"Origin": {"HTTPS://APP.example.com"}}, true},
		{"DELETE allowed origin with port", "DELETE", map[string][]string{"Origin": {"https://admin.example.com:8443"}}, true},
		{"POST origin with other port", "POST", map[string][]string{"Origin": {"https://app.example.com:8443"}}, false},
		{"POST http origin", "POST", map[string][]string{"Origin": {"http://app.example.com"}}, false},
		{"POST origin suffix", "POST", map[string][]string{"Origin": {"https://app.example.com.evil.test"}}, false},
		{"POST foreign origin", "POST", map[string][]string{"Origin": {"https://evil.test"}}, false},
		{"POST null origin", "POST", map[string][]string{"Origin": {"null"}}, false},
		{"POST foreign origin with X-Requested-With", "POST",
			map[string][]string{"Origin": {"https://evil.test"}, "X-Requested-With": {"XMLHttpRequest"}}, false},
		{"POST two origins", "POST", map[string][]string{"Origin": {"https://evil.test", "https://app.example.com"}}, false},
		{"POST two origins with X-Requested-With", "POST",
			map[string][]string{"Origin": {"https://app.example.com", "https://app.example.com"}, "X-Requested-With": {"XMLHttpRequest"}}, false},
		{"POST Sec-Fetch-Site same-origin", "POST", map[string][]string{"Sec-Fetch-Site": {"same-origin"}}, true},
		{"POST Sec-Fetch-Site same-site", "POST",
			map[string][]string{"Sec-Fetch-Site": {"same-site"}, "X-Requested-With": {"XMLHttpRequest"}}, false},
		{"POST Sec-Fetch-Site cross-site", "POST",
			map[string][]string{"Sec-Fetch-Site": {"cross-site"}, "X-Requested-With": {"XMLHttpRequest"}}, false},
		{"POST cross-site from an allowed origin", "POST",
			map[string][]string{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://app.example.com"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, value := range []string{tok.SessionToken, "not-a-session-token"} {
				r := cookieRequest(tt.method, value)
				for k, vs := range tt.headers {
					r.Header[k] = vs
				}
				w := serve(h, r)
				switch {
				case tt.ok && value == tok.SessionToken:
					if tt.method == "HEAD" {
						if w.Code != http.StatusOK {
							t.Errorf("status %d", w.Code)
						}
						continue
					}
					wantPrincipal(t, w, tok, e)
				case tt.ok:
					want401(t, w, challengeInvalid)
				default:
					// The CSRF check comes first: the same 403 whether
					// or not the cookie is valid.
					if w.Code != http.StatusForbidden || w.Header().Get("Content-Type") != "application/problem+json" ||
						w.Header().Get("Cache-Control") != "no-store" || !strings.Contains(w.Body.String(), `"status":403`) {
						t.Errorf("got %d %v %s, want 403 problem", w.Code, w.Header(), w.Body)
					}
				}
				e.noSecrets(t, w, tok)
			}
		})
	}

	// A bearer request needs no proof: browsers do not attach it.
	r := bearerRequest("POST", tok.AccessToken)
	r.Header.Set("Origin", "https://evil.test")
	wantPrincipal(t, serve(h, r), tok, e)
}

func TestSetCookie(t *testing.T) {
	e := newHTTPEnvMemory(t)
	tok := e.start(t)
	w := httptest.NewRecorder()
	session.SetCookie(w, tok)
	raw := w.Header().Values("Set-Cookie")
	if len(raw) != 1 {
		t.Fatalf("Set-Cookie %q", raw)
	}
	c, err := http.ParseSetCookie(raw[0])
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "__Host-session" || c.Value != tok.SessionToken {
		t.Errorf("cookie %s=%s, want the session token", c.Name, c.Value)
	}
	if c.Value == tok.AccessToken || c.Value == tok.RefreshToken {
		t.Error("the cookie carries the access or refresh token")
	}
	if c.Path != "/" || c.Domain != "" || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
		t.Errorf("attributes: %q", raw[0])
	}
	if !c.Expires.Equal(tok.ExpiresAt.Truncate(time.Second)) {
		t.Errorf("Expires %v, want %v", c.Expires, tok.ExpiresAt)
	}
	if want := time.Until(tok.ExpiresAt).Seconds(); float64(c.MaxAge) > want || float64(c.MaxAge) < want-5 {
		t.Errorf("Max-Age %d, want about %.0f", c.MaxAge, want)
	}
	// Exactly these attributes, nothing else.
	var attrs []string
	for _, a := range strings.Split(raw[0], "; ")[1:] {
		name, _, _ := strings.Cut(a, "=")
		attrs = append(attrs, name)
	}
	if got := strings.Join(attrs, ","); got != "Path,Expires,Max-Age,HttpOnly,Secure,SameSite" {
		t.Errorf("attributes %s in %q", got, raw[0])
	}

	// After a refresh there is no session token: nothing is written, and
	// the cookie from Start stays.
	next, err := e.svc.Refresh(context.Background(), tok.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	w = httptest.NewRecorder()
	session.SetCookie(w, next)
	session.SetCookie(w, nil)
	if got := w.Header().Values("Set-Cookie"); len(got) != 0 {
		t.Errorf("Set-Cookie %q after refresh", got)
	}

	// A cookie set by SetCookie authenticates.
	h := e.svc.RequireAuth(session.MiddlewareConfig{AllowCookie: true})(whoami())
	r := httptest.NewRequest("GET", "/me", nil)
	r.Header.Set("Cookie", c.Name+"="+c.Value)
	wantPrincipal(t, serve(h, r), tok, e)
}

func TestClearCookie(t *testing.T) {
	w := httptest.NewRecorder()
	session.ClearCookie(w)
	raw := w.Header().Values("Set-Cookie")
	if len(raw) != 1 {
		t.Fatalf("Set-Cookie %q", raw)
	}
	c, err := http.ParseSetCookie(raw[0])
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != session.CookieName || c.Value != "" || c.MaxAge >= 0 || !c.Expires.Before(time.Now()) ||
		c.Path != "/" || c.Domain != "" || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
		t.Errorf("clearing cookie %q", raw[0])
	}
	if !strings.Contains(raw[0], "Max-Age=0") {
		t.Errorf("no Max-Age=0 in %q", raw[0])
	}
}

func TestRequireAuthRealm(t *testing.T) {
	e := newHTTPEnvMemory(t)
	h := e.svc.RequireAuth(session.MiddlewareConfig{Realm: `my "api" \ v2`})(whoami())
	w := serve(h, bearerRequest("GET", "x.y.z"))
	want401(t, w, `Bearer realm="my \"api\" \\ v2", error="invalid_token"`)

	for _, realm := range []string{"a\r\nSet-Cookie: x=y", "tab\there", "naïve"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("realm %q accepted", realm)
				}
			}()
			e.svc.RequireAuth(session.MiddlewareConfig{Realm: realm})
		}()
	}
}

// failingStore fails the lookups RequireAuth makes once failing is set.
type failingStore struct {
	session.Store
	failing *atomic.Bool
}

var errStoreDown = errors.New("connection reset by peer")

func (s failingStore) ByID(ctx context.Context, id int64) (*session.Session, session.UserState, error) {
	if s.failing.Load() {
		return nil, session.UserState{}, errStoreDown
	}
	return s.Store.ByID(ctx, id)
}

func (s failingStore) ByTokenHash(ctx context.Context, hash string) (*session.Session, session.UserState, error) {
	if s.failing.Load() {
		return nil, session.UserState{}, errStoreDown
	}
	return s.Store.ByTokenHash(ctx, hash)
}

// TestRequireAuthStoreErrorHTTP: a store failure is a logged 500, not a
// 401 that would send the client back to log in.
func TestRequireAuthStoreErrorHTTP(t *testing.T) {
	var failing atomic.Bool
	e := newHTTPEnv(t, func(st session.Store) session.Store { return failingStore{Store: st, failing: &failing} })
	tok := e.start(t)
	h := e.svc.RequireAuth(session.MiddlewareConfig{AllowCookie: true})(whoami())
	wantPrincipal(t, serve(h, bearerRequest("GET", tok.AccessToken)), tok, e)

	failing.Store(true)
	for _, r := range []*http.Request{bearerRequest("GET", tok.AccessToken), cookieRequest("GET", tok.SessionToken)} {
		w := serve(h, r)
		if w.Code != http.StatusInternalServerError || w.Header().Get("Content-Type") != "application/problem+json" ||
			w.Header().Get("WWW-Authenticate") != "" || w.Header().Get("Cache-Control") != "no-store" ||
			!strings.Contains(w.Body.String(), `"status":500`) {
			t.Errorf("got %d %v %s", w.Code, w.Header(), w.Body)
		}
		if strings.Contains(w.Body.String(), "connection reset") {
			t.Errorf("the body shows the error: %s", w.Body)
		}
		e.noSecrets(t, w, tok)
	}
	if !strings.Contains(e.logs.String(), "connection reset by peer") {
		t.Errorf("store error not logged:\n%s", e.logs)
	}
}

// TestRequireAuthErrorFunc: with an ErrorFunc every refusal and failure
// goes through it, with the status, an error saying why, and the headers
// already set; the default bodies are not written.
func TestRequireAuthErrorFunc(t *testing.T) {
	var failing atomic.Bool
	e := newHTTPEnv(t, func(st session.Store) session.Store { return failingStore{Store: st, failing: &failing} })
	tok := e.start(t)
	type call struct {
		status int
		err    error
	}
	var calls []call
	h := e.svc.RequireAuth(session.MiddlewareConfig{AllowCookie: true,
		ErrorFunc: func(w http.ResponseWriter, r *http.Request, status int, err error) {
			calls = append(calls, call{status, err})
			w.WriteHeader(status)
			io.WriteString(w, "host body")
		}})(whoami())

	cross := cookieRequest("POST", tok.SessionToken)
	cross.Header.Set("Origin", "https://evil.example")
	for _, r := range []*http.Request{
		httptest.NewRequest("GET", "/me", nil), // no credentials
		bearerRequest("GET", "not-a-token"),
		bearerRequest("GET", tok.AccessToken+"x"),
		cross,
	} {
		w := serve(h, r)
		if w.Body.String() != "host body" || w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s %v: %d %v %q", r.Method, r.Header, w.Code, w.Header(), w.Body)
		}
	}
	failing.Store(true)
	serve(h, bearerRequest("GET", tok.AccessToken))

	want := []int{401, 401, 401, 403, 500}
	if len(calls) != len(want) {
		t.Fatalf("ErrorFunc called %d times, want %d: %v", len(calls), len(want), calls)
	}
	for i, c := range calls {
		if c.status != want[i] {
			t.Errorf("call %d: status %d, want %d", i, c.status, want[i])
		}
	}
	for _, c := range calls[:3] {
		if !errors.Is(c.err, session.ErrUnauthenticated) {
			t.Errorf("401 with err %v, want ErrUnauthenticated", c.err)
		}
	}
	if !errors.Is(calls[3].err, session.ErrCrossOrigin) || calls[4].err == nil || errors.Is(calls[4].err, session.ErrUnauthenticated) {
		t.Errorf("403 err %v, 500 err %v", calls[3].err, calls[4].err)
	}
}
