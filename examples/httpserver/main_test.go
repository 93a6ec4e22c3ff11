package main

// These tests cover what the program adds to package authhttp: flags, the
// stores, the audit writer, /healthz, the middleware (correlation ids,
// request log, panic recovery, deadline), the signing key, shutdown. The
// API's own behaviour is tested in authhttp; here one end-to-end smoke
// test per store proves that the program serves it.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/authhttp"
	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/notify"
	"github.com/cedrina/cedrina/ratelimit"
	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/user"
)

const testPassword = "violet-kettle-orbit-42"

// logBuffer collects log output from concurrent writers and signals when
// a line containing a given string appears.
type logBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	waiters map[string]chan struct{}
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	for s, ch := range b.waiters {
		if bytes.Contains(b.buf.Bytes(), []byte(s)) {
			close(ch)
			delete(b.waiters, s)
		}
	}
	return len(p), nil
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// seen returns a channel closed once the output contains s.
func (b *logBuffer) seen(s string) <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	ch := make(chan struct{})
	if bytes.Contains(b.buf.Bytes(), []byte(s)) {
		close(ch)
		return ch
	}
	if b.waiters == nil {
		b.waiters = make(map[string]chan struct{})
	}
	b.waiters[s] = ch
	return ch
}

// records returns the JSON log lines whose msg is msg.
func (b *logBuffer) records(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(b.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, line)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// noSecrets fails the test if the log output contains any of secrets.
func (b *logBuffer) noSecrets(t *testing.T, secrets ...string) {
	t.Helper()
	out := b.String()
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("log output contains the secret %q:\n%s", s, out)
		}
	}
}

// newTestApp returns an app on st with a cheap hasher, with cfg's
// proxies and timeout, and its log output (through newLogger, as the
// program's).
func newTestApp(t *testing.T, st stores, cfg appConfig) (*app, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	log := newLogger(logs)
	h, err := user.NewHasher(user.HashConfig{Argon2id: user.Argon2idParams{Memory: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	cfg.users = user.Config{Hasher: h, Logger: log}
	if cfg.audit.Logger == nil {
		cfg.audit.Logger = log // as the program's: the writer's fallback is the log
	}
	if cfg.publicURL == "" {
		cfg.publicURL = "https://app.example.com"
	}
	a, err := newApp(context.Background(), log, st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return a, logs
}

func memStores() stores {
	db := memory.New()
	return stores{tx: db, users: db.Users(), sessions: db.Sessions(), resets: db.Resets(), audit: db.Audit(), oauth: db.OAuth()}
}

// request sends a request to h; body, when not empty, is JSON. header holds
// name, value pairs. httptest requests come from 192.0.2.1.
func request(h http.Handler, method, path, body string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func jsonBody(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func registerBody(t *testing.T, name string) string {
	return jsonBody(t, map[string]string{"username": name, "email": name + "@example.com", "password": testPassword})
}

// wantProblem checks that w is a problem+json response with the status,
// and returns it decoded.
func wantProblem(t *testing.T, w *httptest.ResponseRecorder, status int) authhttp.Problem {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d; body %s", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	var p authhttp.Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, w.Body)
	}
	if p.Status != status || p.Type == "" || p.Title == "" || p.Detail == "" {
		t.Errorf("incomplete problem: %+v", p)
	}
	return p
}

func TestHealthz(t *testing.T) {
	a, _ := newTestApp(t, memStores(), appConfig{})
	h := a.routes()
	for _, method := range []string{"GET", "HEAD"} {
		w := request(h, method, "/healthz", "")
		if w.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", method, w.Code, w.Body)
		}
		for k, v := range map[string]string{
			"Content-Type":            "application/json",
			"Cache-Control":           "no-store",
			"X-Content-Type-Options":  "nosniff",
			"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
			"Referrer-Policy":         "no-referrer",
		} {
			if got := w.Header().Get(k); got != v {
				t.Errorf("%s: %s: %q, want %q", method, k, got, v)
			}
		}
		if w.Header().Get(audit.CorrelationHeader) == "" {
			t.Errorf("%s: no %s", method, audit.CorrelationHeader)
		}
	}
	if w := request(h, "GET", "/healthz", ""); w.Body.String() != `{"status":"ok"}`+"\n" {
		t.Errorf("body %q", w.Body)
	}
	w := request(h, "POST", "/healthz", "{}")
	wantProblem(t, w, http.StatusMethodNotAllowed)
	if got := w.Header().Get("Allow"); got != "GET, HEAD" {
		t.Errorf("Allow %q", got)
	}
	// Beside it, the API, and its 404 for other paths.
	wantProblem(t, request(h, "GET", "/nowhere", ""), http.StatusNotFound)
	if w := request(h, "GET", "/.well-known/jwks.json", ""); w.Code != http.StatusOK {
		t.Errorf("jwks: %d %s", w.Code, w.Body)
	}
}

func TestHealthzDatabaseDown(t *testing.T) {
	st := memStores()
	st.ping = func(context.Context) error { return errors.New("dial tcp 10.0.0.1:5432: connection refused") }
	a, logs := newTestApp(t, st, appConfig{})
	w := request(a.routes(), "GET", "/healthz", "")
	wantProblem(t, w, http.StatusServiceUnavailable)
	if got := w.Header().Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After %q", got)
	}
	if strings.Contains(w.Body.String(), "10.0.0.1") {
		t.Errorf("503 body reveals the error: %s", w.Body)
	}
	if !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("ping error not logged:\n%s", logs)
	}
}

// panickingUsers is a user store whose lookups panic.
type panickingUsers struct{ user.Store }

func (panickingUsers) ByUsername(context.Context, user.Username) (*user.User, error) {
	panic("store exploded")
}

// TestPanicIs500: a panic in the program's handler or in the API behind
// it is a logged 500 problem, not a dropped connection.
func TestPanicIs500(t *testing.T) {
	for _, tt := range []struct{ name, method, path, body string }{
		{"healthz", "GET", "/healthz", ""},
		{"API", "POST", "/auth/login", `{"login":"alice","password":"x"}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := memStores()
			st.users = panickingUsers{st.users}
			st.ping = func(context.Context) error { panic("ping exploded") }
			a, logs := newTestApp(t, st, appConfig{})
			w := request(a.routes(), tt.method, tt.path, tt.body, "X-Request-ID", "req-panic")
			if p := wantProblem(t, w, http.StatusInternalServerError); p.Detail != "internal server error" {
				t.Errorf("500 detail %q", p.Detail)
			}
			if strings.Contains(w.Body.String(), "exploded") {
				t.Errorf("500 body reveals the panic: %s", w.Body)
			}
			panics := logs.records(t, "panic")
			if len(panics) != 1 || !strings.Contains(fmt.Sprint(panics[0]["panic"]), "exploded") ||
				panics[0]["correlation_id"] != "req-panic" {
				t.Errorf("panic log %v", panics)
			}
			if req := logs.records(t, "request"); len(req) != 1 || req[0]["status"] != float64(500) {
				t.Errorf("request log %v", req)
			}
		})
	}
}

// blockingUsers is a user store whose Create waits for the request's
// deadline.
type blockingUsers struct{ user.Store }

func (blockingUsers) Create(ctx context.Context, _ *user.User) error {
	if _, ok := ctx.Deadline(); !ok {
		return errors.New("the request has no deadline")
	}
	<-ctx.Done()
	return ctx.Err()
}

// TestRequestDeadline: each request's context ends after the app's
// timeout, and a request that runs out answers 503 with Retry-After.
func TestRequestDeadline(t *testing.T) {
	st := memStores()
	st.users = blockingUsers{st.users}
	// The deadline passes while Create waits for it.
	a, _ := newTestApp(t, st, appConfig{timeout: 1})
	w := request(a.routes(), "POST", "/auth/register", registerBody(t, "alice"))
	wantProblem(t, w, http.StatusServiceUnavailable)
	if got := w.Header().Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After %q", got)
	}
	if a0, _ := newTestApp(t, memStores(), appConfig{}); a0.timeout != handlerTimeout {
		t.Errorf("default timeout %v, want %v", a0.timeout, handlerTimeout)
	}
}

// TestAuditEvents: through the whole stack, the account and session
// events, the session's record and the log lines carry one client IP (from
// X-Forwarded-For only when the peer is a trusted proxy), user agent and
// correlation id, the one echoed to the client.
func TestAuditEvents(t *testing.T) {
	for _, tt := range []struct {
		name    string
		proxies audit.Proxies
		wantIP  string
	}{
		// httptest's peer, 192.0.2.1, is a trusted proxy: the rightmost
		// address it forwarded is the client.
		{"trusted proxy", audit.Proxies{netip.MustParsePrefix("192.0.2.0/24")}, "203.0.113.9"},
		{"no trusted proxy", nil, "192.0.2.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st := memStores()
			// Without the seeded policy's policy_changed event, which no
			// request made.
			a, logs := newTestApp(t, st, appConfig{proxies: tt.proxies, noSeedPolicy: true})
			h := a.routes()
			send := func(method, path, token, body, id string) *httptest.ResponseRecorder {
				hd := []string{"X-Forwarded-For", "198.51.100.7, 203.0.113.9", "User-Agent", "audit-test/1.0", "X-Request-ID", id}
				if token != "" {
					hd = append(hd, "Authorization", "Bearer "+token)
				}
				w := request(h, method, path, body, hd...)
				if got := w.Header().Get(audit.CorrelationHeader); got != id {
					t.Errorf("%s %s: %s %q, want %q", method, path, audit.CorrelationHeader, got, id)
				}
				return w
			}
			if w := send("POST", "/auth/register", "", registerBody(t, "rita"), "req-1"); w.Code != http.StatusCreated {
				t.Fatalf("register: %d %s", w.Code, w.Body)
			}
			wantProblem(t, send("POST", "/auth/login", "", `{"login":"rita","password":"wrong password"}`, "req-2"), http.StatusUnauthorized)
			w := send("POST", "/auth/login", "", jsonBody(t, map[string]string{"login": "rita", "password": testPassword}), "req-3")
			var tok authhttp.TokenResponse
			if err := json.Unmarshal(w.Body.Bytes(), &tok); w.Code != http.StatusOK || err != nil {
				t.Fatalf("login: %d %s", w.Code, w.Body)
			}
			w = send("GET", "/me/sessions", tok.AccessToken, "", "req-4")
			var list []authhttp.SessionView
			if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil || len(list) != 1 ||
				list[0].ClientIP != tt.wantIP || list[0].UserAgent != "audit-test/1.0" {
				t.Errorf("sessions: %d %s", w.Code, w.Body)
			}

			// A password change ends the user's sessions through the session
			// service (user.Config.Sessions): a session_revoked event.
			w = send("POST", "/auth/password/change", tok.AccessToken,
				jsonBody(t, map[string]string{"current_password": testPassword, "new_password": "quiet-harbor-lantern-77"}), "req-5")
			if w.Code != http.StatusOK {
				t.Fatalf("password change: %d %s", w.Code, w.Body)
			}

			if err := a.events.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			svc, err := audit.NewService(st.audit, audit.Config{})
			if err != nil {
				t.Fatal(err)
			}
			p, err := svc.Query(context.Background(), audit.Query{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range p.Events {
				got = append(got, string(e.Type)+" "+e.CorrelationID)
				if e.ClientIP.String() != tt.wantIP || e.UserAgent != "audit-test/1.0" {
					t.Errorf("%s: client %v, agent %q", e.Type, e.ClientIP, e.UserAgent)
				}
			}
			slices.Sort(got)
			want := []string{"login_failure req-2", "login_success req-3", "password_changed req-5",
				"session_created req-3", "session_created req-5", "session_revoked req-5", "user_registered req-1"}
			if !slices.Equal(got, want) {
				t.Errorf("events\n%q, want\n%q", got, want)
			}

			// The log lines of a request carry its correlation id and client IP.
			reqs := logs.records(t, "request")
			if len(reqs) != 5 {
				t.Fatalf("%d request lines:\n%s", len(reqs), logs)
			}
			for i, r := range reqs {
				if r["correlation_id"] != fmt.Sprintf("req-%d", i+1) || r["client_ip"] != tt.wantIP {
					t.Errorf("request line %v", r)
				}
			}
			if r := logs.records(t, "authhttp: login refused"); len(r) != 1 || r[0]["correlation_id"] != "req-2" ||
				r[0]["reason"] != "wrong_password" {
				t.Errorf("refusal lines %v", r)
			}
			logs.noSecrets(t, testPassword, tok.AccessToken, tok.RefreshToken)
		})
	}
}

func TestParseOptions(t *testing.T) {
	const envURL = "postgres://app:env-secret@db:5432/app"
	env := func(k string) string {
		if k == "DATABASE_URL" {
			return envURL
		}
		return ""
	}
	noEnv := func(string) string { return "" }
	tests := []struct {
		name   string
		args   []string
		getenv func(string) string
		want   options
	}{
		{"defaults", nil, noEnv, options{addr: "127.0.0.1:8080"}},
		{"environment", nil, env, options{addr: "127.0.0.1:8080", databaseURL: envURL}},
		{"flags", []string{"--addr", ":9000", "--database-url", "postgres://x@y/z"}, env,
			options{addr: ":9000", databaseURL: "postgres://x@y/z"}},
		{"empty flag overrides environment", []string{"--database-url="}, env, options{addr: "127.0.0.1:8080"}},
		{"trusted proxies", []string{"--trusted-proxies", "10.0.0.0/8, 127.0.0.1"}, noEnv, options{addr: "127.0.0.1:8080",
			proxies: audit.Proxies{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("127.0.0.1/32")}}},
		{"JWT key file", []string{"--jwt-key-file", "/etc/app/jwt.pem"}, noEnv, options{addr: "127.0.0.1:8080", jwtKeyFile: "/etc/app/jwt.pem"}},
		{"public URL", []string{"--public-url", "https://app.example.com/account/"}, noEnv,
			options{addr: "127.0.0.1:8080", publicURL: "https://app.example.com/account/"}},
		{"rate limits", []string{"-login-limit", "5", "-register-limit", "7"}, noEnv,
			options{addr: "127.0.0.1:8080", rateLimit: true, loginLimit: 5, registerLimit: 7}},
		{"no rate limits", []string{"-rate-limit=false"}, noEnv,
			options{addr: "127.0.0.1:8080", rateLimit: false, loginLimit: 30, registerLimit: 20}},
		{"no policy seeding", []string{"-seed-policy=false"}, noEnv, options{addr: "127.0.0.1:8080"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want.loginLimit == 0 { // the rate limits' defaults
				tt.want.rateLimit, tt.want.loginLimit, tt.want.registerLimit = true, 30, 20
			}
			tt.want.seedPolicy = !slices.Contains(tt.args, "-seed-policy=false")
			got, err := parseOptions(tt.args, tt.getenv, io.Discard)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}

	var bad bytes.Buffer
	if _, err := parseOptions([]string{"--trusted-proxies", "0.0.0.0/0"}, noEnv, &bad); !errors.Is(err, errUsage) || !strings.Contains(bad.String(), "--trusted-proxies") {
		t.Errorf("--trusted-proxies 0.0.0.0/0: %v, %q", err, bad.String())
	}
	for _, u := range []string{"app.example.com", "/reset", "ftp://app.example.com", "https://", "https://user:pw@app.example.com",
		"https://app.example.com/?lang=en", "https://app.example.com/?", "https://app.example.com/#top", "http://[::1"} {
		bad.Reset()
		if _, err := parseOptions([]string{"--public-url", u}, noEnv, &bad); !errors.Is(err, errUsage) || !strings.Contains(bad.String(), "--public-url") {
			t.Errorf("--public-url %s: %v, %q", u, err, bad.String())
		}
		if strings.Contains(bad.String(), "pw@") {
			t.Errorf("--public-url %s: the message quotes the URL: %q", u, bad.String())
		}
	}

	for _, args := range [][]string{{"-login-limit", "0"}, {"-register-limit", "-1"}, {"-login-limit", "1000000001"}} {
		bad.Reset()
		if _, err := parseOptions(args, noEnv, &bad); !errors.Is(err, errUsage) || !strings.Contains(bad.String(), "is outside 1..1000000000") {
			t.Errorf("%q: %v, %q", args, err, bad.String())
		}
	}

	var out bytes.Buffer
	if _, err := parseOptions([]string{"-h"}, env, &out); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
	if !strings.Contains(out.String(), "-database-url") || !strings.Contains(out.String(), "-login-limit") ||
		!strings.Contains(out.String(), "-register-limit") || !strings.Contains(out.String(), "-rate-limit") ||
		!strings.Contains(out.String(), "-seed-policy") ||
		strings.Contains(out.String(), "env-secret") {
		t.Errorf("usage shows the environment's URL, or no flags:\n%s", &out)
	}
	for _, args := range [][]string{{"--nope"}, {"extra"}} {
		if _, err := parseOptions(args, env, io.Discard); !errors.Is(err, errUsage) {
			t.Errorf("%q: %v, want errUsage", args, err)
		}
	}
}

func TestRunRefusesBadDatabaseURLWithoutLeakingIt(t *testing.T) {
	for _, u := range []string{
		"postgres://app:s3cret-pw@127.0.0.1:5432/app%zz",
		"POSTGRES://app:s3cret-pw@127.0.0.1:5432/app",
	} {
		var logs logBuffer
		err := run(context.Background(), []string{"--addr", "127.0.0.1:0", "--database-url", u},
			func(string) string { return "" }, &logs, nil)
		if err == nil {
			t.Fatalf("%s: no error", u)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error contains the password: %v", err)
		}
		logs.noSecrets(t, "s3cret")
	}
}

// startRun runs the program on 127.0.0.1:0 with getenv and returns its
// address, its log output, a function that stops it (as SIGTERM does)
// and one that waits for run's result. Extra arguments follow --addr.
func startRun(t *testing.T, getenv func(string) string, args ...string) (addr string, logs *logBuffer, stop context.CancelFunc, wait func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs = &logBuffer{}
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, append([]string{"--addr", "127.0.0.1:0"}, args...), getenv, logs, func(a string) { ready <- a })
	}()
	wait = sync.OnceValue(func() error { return <-errc })
	t.Cleanup(func() {
		cancel()
		wait()
	})
	select {
	case addr = <-ready:
	case err := <-errc:
		errc <- err // for wait
		t.Fatalf("run ended before listening: %v\n%s", err, logs)
	}
	return addr, logs, cancel, wait
}

func noEnv(string) string { return "" }

// client talks to the running program.
type client struct {
	t      *testing.T
	base   string
	header []string // name, value pairs sent with every request
}

// want sends a request (body, when not nil, as JSON; a bearer token when
// not empty), checks the status, that errors are problem+json and that
// 202 and 204 have no body, and returns a JSON object body decoded.
func (c client) want(method, path, token string, body any, status int) map[string]any {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = strings.NewReader(jsonBody(c.t, body))
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(c.header); i += 2 {
		req.Header.Set(c.header[i], c.header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	if resp.StatusCode != status {
		c.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, resp.StatusCode, status, b)
	}
	switch ct := resp.Header.Get("Content-Type"); {
	case status == http.StatusNoContent, status == http.StatusAccepted:
		if len(b) != 0 {
			c.t.Errorf("%s %s: %d with a body %s", method, path, status, b)
		}
		return nil
	case status >= 400 && ct != "application/problem+json":
		c.t.Errorf("%s %s: Content-Type %q", method, path, ct)
	case bytes.HasPrefix(b, []byte("[")):
		return map[string]any{"list": json.RawMessage(b)}
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("%s %s: body %s: %v", method, path, b, err)
	}
	return m
}

// smoke walks the documented flow through the running program at base:
// register, login (the OAuth token response, access_token at the top
// level), /me, refresh, logout. The access token checks out against the
// program's JWKS, issuer and audience. It returns the secrets it used.
func smoke(t *testing.T, base string) []string {
	t.Helper()
	c := client{t: t, base: base}
	reg := map[string]string{"username": "alice", "email": "alice@example.com", "password": testPassword}
	if u := c.want("POST", "/auth/register", "", reg, http.StatusCreated); u["username"] != "alice" || u["email"] != "alice@example.com" {
		t.Errorf("registered %v", u)
	}
	c.want("POST", "/auth/register", "", reg, http.StatusConflict)
	c.want("POST", "/auth/login", "", map[string]string{"login": "alice", "password": "not-the-password"}, http.StatusUnauthorized)

	tok := c.want("POST", "/auth/login", "", map[string]string{"login": "alice@example.com", "password": testPassword}, http.StatusOK)
	access, _ := tok["access_token"].(string)
	refresh, _ := tok["refresh_token"].(string)
	if access == "" || refresh == "" || tok["token_type"] != "Bearer" || tok["expires_in"] != float64(900) {
		t.Fatalf("login response %v", tok)
	}
	if me := c.want("GET", "/me", access, nil, http.StatusOK); me["username"] != "alice" || me["last_login_at"] == nil {
		t.Errorf("/me %v", me)
	}

	next := c.want("POST", "/auth/refresh", "", map[string]string{"refresh_token": refresh}, http.StatusOK)
	access2, _ := next["access_token"].(string)
	refresh2, _ := next["refresh_token"].(string)
	if access2 == "" || refresh2 == "" || refresh2 == refresh {
		t.Fatalf("refresh response %v", next)
	}
	c.want("GET", "/me", access2, nil, http.StatusOK)
	c.want("POST", "/auth/logout", access2, nil, http.StatusNoContent)
	c.want("GET", "/me", access2, nil, http.StatusUnauthorized)
	c.want("POST", "/auth/refresh", "", map[string]string{"refresh_token": refresh2}, http.StatusUnauthorized)

	// Another service verifies the tokens from the published keys alone.
	resp, err := http.Get(base + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	jwks, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("jwks: %d %s %v", resp.StatusCode, jwks, err)
	}
	v, err := session.NewVerifier(jwks, session.VerifierConfig{Issuer: tokenIssuer, Audience: []string{tokenAudience}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(access); err != nil {
		t.Errorf("verify the access token: %v", err)
	}
	return []string{testPassword, access, refresh, access2, refresh2}
}

// TestRunMemory runs the real program on the in-memory store through the
// documented flow.
func TestRunMemory(t *testing.T) {
	addr, logs, stop, wait := startRun(t, noEnv)
	secrets := smoke(t, "http://"+addr)
	stop()
	if err := wait(); err != nil {
		t.Fatalf("run: %v", err)
	}
	out := logs.String()
	for _, s := range []string{"in-memory store", "ephemeral key: tokens die with the process", `"msg":"stopped"`} {
		if !strings.Contains(out, s) {
			t.Errorf("log lacks %q:\n%s", s, out)
		}
	}
	logs.noSecrets(t, secrets...)
}

// TestRunPostgres runs the real program on a fresh, empty PostgreSQL
// schema given in DATABASE_URL: it migrates on start, serves the flow on
// the database, and stores the audit events before it exits.
func TestRunPostgres(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.URL(t)
	addr, logs, stop, wait := startRun(t, func(k string) string {
		if k == "DATABASE_URL" {
			return dbURL
		}
		return ""
	})
	base := "http://" + addr
	client{t: t, base: base}.want("GET", "/healthz", "", nil, http.StatusOK)
	secrets := smoke(t, base)
	stop()
	if err := wait(); err != nil {
		t.Fatalf("run: %v", err)
	}
	if out := logs.String(); !strings.Contains(out, "using PostgreSQL") {
		t.Errorf("PostgreSQL not used:\n%s", out)
	}
	logs.noSecrets(t, append(secrets, dbURL)...)

	// The writer was closed at shutdown: every event is in the database.
	ctx := context.Background()
	db, err := postgres.Open(ctx, dbURL, postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc, err := audit.NewService(db.Audit(), audit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Query(ctx, audit.Query{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var got []audit.EventType
	for _, e := range p.Events {
		got = append(got, e.Type)
	}
	for _, want := range []audit.EventType{audit.UserRegistered, audit.LoginFailed, audit.LoginSucceeded,
		audit.SessionCreated, audit.SessionRefreshed, audit.Logout} {
		if !slices.Contains(got, want) {
			t.Errorf("no %s event in %v", want, got)
		}
	}
}

// TestRunTrustedProxies: --trusted-proxies decides whether the program
// believes X-Forwarded-For for the client IP of sessions.
func TestRunTrustedProxies(t *testing.T) {
	for _, tt := range []struct {
		name   string
		args   []string
		wantIP string
	}{
		{"trusted", []string{"--trusted-proxies", "127.0.0.1/32"}, "198.51.100.7"},
		{"untrusted", nil, "127.0.0.1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			addr, _, _, _ := startRun(t, noEnv, tt.args...)
			c := client{t: t, base: "http://" + addr, header: []string{"X-Forwarded-For", "198.51.100.7"}}
			c.want("POST", "/auth/register", "", map[string]string{"username": "alice", "email": "alice@example.com", "password": testPassword}, http.StatusCreated)
			tok := c.want("POST", "/auth/login", "", map[string]string{"login": "alice", "password": testPassword}, http.StatusOK)
			list := c.want("GET", "/me/sessions", tok["access_token"].(string), nil, http.StatusOK)
			var sessions []authhttp.SessionView
			if err := json.Unmarshal(list["list"].(json.RawMessage), &sessions); err != nil || len(sessions) != 1 || sessions[0].ClientIP != tt.wantIP {
				t.Errorf("sessions %s (%v), want client IP %s", list["list"], err, tt.wantIP)
			}
		})
	}
}

// TestRunGracefulShutdown runs the real program, starts a request, stops
// the program while the request is in flight, and checks that the request
// still completes and run returns nil.
func TestRunGracefulShutdown(t *testing.T) {
	addr, logs, stop, wait := startRun(t, noEnv)
	client{t: t, base: "http://" + addr}.want("GET", "/healthz", "", nil, http.StatusOK)

	// A registration whose body is held back: the server answers
	// "100 Continue" when the handler starts reading it, so the request
	// is in flight when the program is stopped.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := registerBody(t, "alice")
	fmt.Fprintf(conn, "POST /auth/register HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n", addr, len(body))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusContinue {
		t.Fatalf("want 100 Continue, got %v, %v", resp, err)
	}

	shuttingDown := logs.seen(`"msg":"shutting down"`)
	stop()
	<-shuttingDown
	if _, err := io.WriteString(conn, body); err != nil {
		t.Fatal(err)
	}
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("in-flight request: status %d, want 201", resp.StatusCode)
	}

	if err := wait(); err != nil {
		t.Fatalf("run: %v", err)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("the listener is still open after run returned")
	}
	if out := logs.String(); !strings.Contains(out, `"msg":"stopped"`) {
		t.Errorf("unexpected log:\n%s", out)
	}
	logs.noSecrets(t, testPassword)
}

// TestRunJWTKeyFile runs the program with --jwt-key-file: tokens are
// signed with that key, whose kid is its thumbprint, the same on every
// run.
func TestRunJWTKeyFile(t *testing.T) {
	k, err := session.GenerateKey(session.EdDSA, "")
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := k.MarshalPrivateKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "jwt.pem")
	if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	want, err := session.ParsePrivateKeyPEM("", pemBytes)
	if err != nil {
		t.Fatal(err)
	}

	var kids []string
	for range 2 {
		addr, logs, stop, wait := startRun(t, noEnv, "--jwt-key-file", path)
		resp, err := http.Get("http://" + addr + "/.well-known/jwks.json")
		if err != nil {
			t.Fatal(err)
		}
		var doc struct{ Keys []struct{ Kid, X string } }
		err = json.NewDecoder(resp.Body).Decode(&doc)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || len(doc.Keys) != 1 {
			t.Fatalf("jwks: %d %+v %v", resp.StatusCode, doc, err)
		}
		kids = append(kids, doc.Keys[0].Kid)
		stop()
		if err := wait(); err != nil {
			t.Fatal(err)
		}
		out := logs.String()
		if !strings.Contains(out, "signing access tokens") || strings.Contains(out, "ephemeral key") {
			t.Errorf("log:\n%s", out)
		}
		logs.noSecrets(t, string(pemBytes[40:80]))
	}
	if kids[0] != want.ID() || kids[1] != want.ID() {
		t.Errorf("kids %q, want %q", kids, want.ID())
	}

	// A file that is not a key: an error naming the file, not its content.
	bad := filepath.Join(t.TempDir(), "bad.pem")
	if err := os.WriteFile(bad, []byte("s3cret-not-a-key"), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs logBuffer
	err = run(context.Background(), []string{"--addr", "127.0.0.1:0", "--jwt-key-file", bad}, noEnv, &logs, nil)
	if err == nil || !strings.Contains(err.Error(), "--jwt-key-file") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("bad key file: %v", err)
	}
	err = run(context.Background(), []string{"--addr", "127.0.0.1:0", "--jwt-key-file", bad + ".missing"}, noEnv, &logs, nil)
	if err == nil || !strings.Contains(err.Error(), "--jwt-key-file") {
		t.Errorf("missing key file: %v", err)
	}
	logs.noSecrets(t, "s3cret")
}

func TestDefaultPublicURL(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8080": "http://127.0.0.1:8080",
		"0.0.0.0:80":     "http://localhost:80",
		"[::]:8080":      "http://localhost:8080",
		"[::1]:9000":     "http://[::1]:9000",
	} {
		ap := netip.MustParseAddrPort(addr)
		if got := defaultPublicURL(net.TCPAddrFromAddrPort(ap)); got != want {
			t.Errorf("%s: %s, want %s", addr, got, want)
		}
	}
}

// devLink waits until the development notifier has logged a message of
// kind to the address to, and returns its link. The bound guards against
// a hang; it is not a timing assumption.
func (b *logBuffer) devLink(t *testing.T, kind notify.Kind, to string) string {
	t.Helper()
	select {
	case <-b.seen(`"kind":"` + string(kind) + `"`):
	case <-time.After(30 * time.Second):
		t.Fatalf("no %s message logged:\n%s", kind, b)
	}
	for _, r := range b.records(t, "notify: development notifier (not sent)") {
		if r["kind"] == string(kind) && r["to"] == to {
			return r["link"].(string)
		}
	}
	t.Fatalf("no %s message to %s logged:\n%s", kind, to, b)
	return ""
}

// tokenOf returns the token of link, which must be base followed by the
// token parameter alone.
func tokenOf(t *testing.T, link, base string) string {
	t.Helper()
	tok, ok := strings.CutPrefix(link, base+"?token=")
	if !ok || len(tok) != 43 {
		t.Fatalf("link %q is not %s?token=<token>", link, base)
	}
	return tok
}

// TestRunRecovery runs the real program through password reset and
// email verification, taking the links from its log as a developer does:
// the development notifier prints them, pointing at --public-url or, by
// default, at the address the server listens on. Nothing but the
// notifier's lines holds a token.
func TestRunRecovery(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		base string // "": http:// and the address listened on
	}{
		{"default public URL", nil, ""},
		{"public URL", []string{"--public-url", "https://app.example.com/account/"}, "https://app.example.com/account"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			addr, logs, stop, wait := startRun(t, noEnv, tt.args...)
			base := tt.base
			if base == "" {
				base = "http://" + addr
			}
			c := client{t: t, base: "http://" + addr}
			c.want("POST", "/auth/register", "", map[string]string{"username": "alice", "email": "alice@example.com", "password": testPassword}, http.StatusCreated)
			access := c.want("POST", "/auth/login", "", map[string]string{"login": "alice", "password": testPassword}, http.StatusOK)["access_token"].(string)

			c.want("POST", "/auth/password/forgot", "", map[string]string{"email": "nobody@example.com"}, http.StatusAccepted)
			c.want("POST", "/auth/password/forgot", "", map[string]string{"email": "alice@example.com"}, http.StatusAccepted)
			resetToken := tokenOf(t, logs.devLink(t, notify.PasswordReset, "alice@example.com"), base+"/reset-password")
			c.want("POST", "/auth/password/reset", "", map[string]string{"token": resetToken, "password": "short"}, http.StatusUnprocessableEntity)
			const newPassword = "quiet-harbor-lantern-77"
			c.want("POST", "/auth/password/reset", "", map[string]string{"token": resetToken, "password": newPassword}, http.StatusNoContent)
			if p := c.want("POST", "/auth/password/reset", "", map[string]string{"token": resetToken, "password": newPassword}, http.StatusBadRequest); p["type"] != authhttp.TypeInvalidResetToken {
				t.Errorf("reused token: %v", p)
			}
			c.want("GET", "/me", access, nil, http.StatusUnauthorized) // the reset ended the session
			c.want("POST", "/auth/login", "", map[string]string{"login": "alice", "password": testPassword}, http.StatusUnauthorized)
			access = c.want("POST", "/auth/login", "", map[string]string{"login": "alice", "password": newPassword}, http.StatusOK)["access_token"].(string)

			c.want("POST", "/auth/email/verify/request", access, nil, http.StatusAccepted)
			verifyToken := tokenOf(t, logs.devLink(t, notify.VerifyEmail, "alice@example.com"), base+"/verify-email")
			c.want("POST", "/auth/email/verify", "", map[string]string{"token": verifyToken}, http.StatusNoContent)
			if me := c.want("GET", "/me", access, nil, http.StatusOK); me["is_verified"] != true || me["email_verified_at"] == nil {
				t.Errorf("/me after verification: %v", me)
			}
			c.want("POST", "/auth/email/verify/request", access, nil, http.StatusConflict)

			stop()
			if err := wait(); err != nil {
				t.Fatalf("run: %v", err)
			}
			// The password_changed notice was sent (logged) by shutdown.
			if len(logs.records(t, "notify: development notifier (not sent)")) != 3 {
				t.Errorf("want 3 messages (reset link, password changed, verification link):\n%s", logs)
			}
			if !strings.Contains(logs.String(), "development notifier: password reset and verification links are written to this log") {
				t.Errorf("the log does not say where links go:\n%s", logs)
			}
			for line := range strings.Lines(logs.String()) {
				if (strings.Contains(line, resetToken) || strings.Contains(line, verifyToken)) &&
					!strings.Contains(line, `"msg":"notify: development notifier (not sent)"`) {
					t.Errorf("a log line other than the notifier's holds a token: %s", line)
				}
			}
			logs.noSecrets(t, testPassword, newPassword, access)
		})
	}
}

// TestCloseHandsOverMessages: a message the notifier has not sent when
// the shutdown deadline passes is handed over as notify documents (logged
// without its link), and close reports it.
func TestCloseHandsOverMessages(t *testing.T) {
	sending := make(chan notify.Message, 1)
	stuck := notify.Func(func(ctx context.Context, m notify.Message) error {
		sending <- m
		<-ctx.Done() // a mail server that does not answer
		return ctx.Err()
	})
	a, logs := newTestApp(t, memStores(), appConfig{notifier: stuck})
	h := a.routes()
	if w := request(h, "POST", "/auth/register", registerBody(t, "alice")); w.Code != http.StatusCreated {
		t.Fatalf("register: %d %s", w.Code, w.Body)
	}
	if w := request(h, "POST", "/auth/password/forgot", `{"email":"alice@example.com"}`); w.Code != http.StatusAccepted {
		t.Fatalf("forgot: %d %s", w.Code, w.Body)
	}
	var m notify.Message
	select {
	case m = <-sending:
	case <-time.After(30 * time.Second):
		t.Fatal("the reset link was not sent")
	}
	handedOver := logs.seen(`"msg":"notify: message not sent"`)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the shutdown deadline has passed
	if err := a.close(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("close: %v, want context.Canceled", err)
	}
	select {
	case <-handedOver:
	case <-time.After(30 * time.Second):
		t.Fatalf("the message was not handed over:\n%s", logs)
	}
	r := logs.records(t, "notify: message not sent")
	if len(r) != 1 || fmt.Sprint(r[0]["message"]) != fmt.Sprint(map[string]any{"kind": "password_reset", "to": "alice@example.com",
		"user_id": float64(m.UserID), "has_link": true}) {
		t.Errorf("hand-over lines %v", r)
	}
	logs.noSecrets(t, m.Link, tokenOf(t, m.Link, "https://app.example.com/reset-password"))
}

// TestRunRateLimit runs the real program: 31 login requests from one
// client in a minute, and the 31st is refused, 429 with Retry-After and
// the RateLimit headers; -login-limit sets the limit and -rate-limit=false
// lifts it.
//
// The program counts in fixed minutes of its clock, and a burst that
// straddles the turn of a minute is counted in two windows: it is then
// sent again, from another client (the program trusts the loopback
// proxy's X-Forwarded-For), and the second cannot straddle too.
func TestRunRateLimit(t *testing.T) {
	limited := func(t *testing.T, n int, args ...string) *http.Response {
		t.Helper()
		addr, _, _, _ := startRun(t, noEnv, append([]string{"--trusted-proxies", "127.0.0.1/32"}, args...)...)
		for attempt := 1; ; attempt++ {
			minute := time.Now().Truncate(time.Minute)
			resp := burst(t, "http://"+addr, n, "198.51.100."+strconv.Itoa(attempt))
			if attempt == 1 && !time.Now().Truncate(time.Minute).Equal(minute) {
				continue
			}
			return resp
		}
	}
	t.Run("default", func(t *testing.T) {
		resp := limited(t, 31)
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("31st login: %d, want 429", resp.StatusCode)
		}
		retry, err := strconv.Atoi(resp.Header.Get("Retry-After"))
		if err != nil || retry < 1 || retry > 60 {
			t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
		}
		for name, want := range map[string]string{
			"RateLimit-Policy": `"login";q=30;w=60`,
			"RateLimit":        `"login";r=0;t=` + strconv.Itoa(retry),
			"Cache-Control":    "no-store",
			"Content-Type":     "application/problem+json",
		} {
			if got := resp.Header.Get(name); got != want {
				t.Errorf("%s: %q, want %q", name, got, want)
			}
		}
	})
	t.Run("-login-limit", func(t *testing.T) {
		resp := limited(t, 3, "-login-limit", "2")
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("RateLimit-Policy") != `"login";q=2;w=60` {
			t.Fatalf("3rd login: %d %v, want 429", resp.StatusCode, resp.Header)
		}
	})
	t.Run("-rate-limit=false", func(t *testing.T) {
		addr, _, _, _ := startRun(t, noEnv, "-login-limit", "2", "-rate-limit=false")
		if resp := burst(t, "http://"+addr, 5, "198.51.100.1"); resp.StatusCode != http.StatusBadRequest || resp.Header.Get("RateLimit") != "" {
			t.Fatalf("5th login: %d %v, want 400 without a RateLimit header", resp.StatusCode, resp.Header)
		}
	})
}

// burst sends n login requests to the program at base, one after the
// other, forwarded for client, checks that all but the last were
// answered by the login route (400: every request counts, and these have
// a member the route does not take, so that the test does not wait n
// times for the password hasher) with the RateLimit headers when limits
// are on, and returns the last response (its body read).
func burst(t *testing.T, base string, n int, client string) *http.Response {
	t.Helper()
	var last *http.Response
	for i := 1; i <= n; i++ {
		req, err := http.NewRequest("POST", base+"/auth/login",
			strings.NewReader(`{"login":"mallory","password":"a guess","otp":"000000"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", client)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if i < n && (resp.StatusCode != http.StatusBadRequest || (resp.Header.Get("RateLimit") == "") != (resp.Header.Get("RateLimit-Policy") == "")) {
			t.Fatalf("login %d: %d %v", i, resp.StatusCode, resp.Header)
		}
		last = resp
	}
	return last
}

// countingStore is a ratelimit.Store that records the policies it
// counts for.
type countingStore struct {
	ratelimit.Store
	mu       sync.Mutex
	policies map[string]int
}

func (s *countingStore) Take(ctx context.Context, p ratelimit.Policy, key string, n int, now time.Time) (ratelimit.Result, error) {
	s.mu.Lock()
	s.policies[p.Name]++
	s.mu.Unlock()
	return s.Store.Take(ctx, p, key, n, now)
}

// TestAppRateLimits: the API's limits and the reset service's count in
// the one store of the app's stores, and a refusal is recorded in the
// app's audit trail as rate_limit_exceeded, once per client and window.
func TestAppRateLimits(t *testing.T) {
	mem, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	if err != nil {
		t.Fatal(err)
	}
	limits := &countingStore{Store: mem, policies: map[string]int{}}
	st := memStores()
	st.rateLimits = limits
	now := time.Date(2026, 11, 29, 12, 0, 18, 0, time.UTC)
	a, _ := newTestApp(t, st, appConfig{rateLimit: authhttp.RateLimitConfig{
		Login: ratelimit.PerMinute("login", 3), Now: func() time.Time { return now }}})
	h := a.routes()
	for i := 1; i <= 10; i++ {
		w := request(h, "POST", "/auth/login", `{"login":"mallory","password":"a guess"}`)
		switch {
		case i <= 3 && w.Code != http.StatusUnauthorized, i > 3 && w.Code != http.StatusTooManyRequests:
			t.Fatalf("login %d: %d %s", i, w.Code, w.Body)
		case i > 3:
			if got := w.Header().Get("Retry-After") + " " + w.Header().Get("RateLimit"); got != `42 "login";r=0;t=42` {
				t.Fatalf("login %d: %s", i, got)
			}
			wantProblem(t, w, http.StatusTooManyRequests)
		}
	}
	if w := request(h, "POST", "/auth/password/forgot", `{"email":"nobody@example.com"}`); w.Code != http.StatusAccepted {
		t.Fatalf("forgot: %d %s", w.Code, w.Body)
	}
	limits.mu.Lock()
	got := fmt.Sprint(limits.policies)
	limits.mu.Unlock()
	if want := "map[login:10 password_forgot_address:1 password_forgot_client:1]"; got != want {
		t.Errorf("the store counted %s, want %s", got, want)
	}

	if err := a.events.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	svc, err := audit.NewService(st.audit, audit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Query(context.Background(), audit.Query{Types: []audit.EventType{audit.RateLimitExceeded}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Events) != 1 || p.Events[0].Data["policy"] != "login" || p.Events[0].ClientIP.String() != "192.0.2.1" {
		t.Fatalf("rate_limit_exceeded events: %+v", p.Events)
	}
}
