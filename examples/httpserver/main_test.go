package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/user"
)

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

// cheapHasher makes tests fast; production uses the defaults.
func cheapHasher(t *testing.T) user.Hasher {
	t.Helper()
	h, err := user.NewHasher(user.HashConfig{Argon2id: user.Argon2idParams{Memory: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// newTestApp returns an app on a fresh memory store with a cheap hasher,
// and its log output.
func newTestApp(t *testing.T) (*app, *logBuffer) {
	t.Helper()
	db := memory.New()
	return newTestAppWith(t, stores{users: db.Users(), sessions: db.Sessions(), audit: db.Audit()})
}

func newTestAppWith(t *testing.T, st stores) (*app, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	a, err := newApp(log, st, appConfig{users: user.Config{Hasher: cheapHasher(t), Logger: log}, proxies: testProxies})
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

// testProxies trusts httptest.NewRequest's peer, 192.0.2.1.
var testProxies = audit.Proxies{netip.MustParsePrefix("192.0.2.0/24")}

// TestAuditEvents: account events reach the audit trail with the client
// IP from X-Forwarded-For (the peer is a trusted proxy), the user agent
// and the correlation id echoed to the client.
func TestAuditEvents(t *testing.T) {
	db := memory.New()
	a, _ := newTestAppWith(t, stores{users: db.Users(), sessions: db.Sessions(), audit: db.Audit()})
	h := a.routes()
	send := func(path, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("X-Forwarded-For", "198.51.100.7, 203.0.113.9")
		r.Header.Set("User-Agent", "audit-test/1.0")
		r.Header.Set("X-Request-ID", "req-42")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	send("/register", registerBody(t, "rita", "rita@example.com", "violet-kettle-orbit-42"))
	w := send("/login", `{"login":"rita","password":"wrong password"}`)
	if got := w.Header().Get("X-Correlation-ID"); got != "req-42" {
		t.Errorf("X-Correlation-ID = %q", got)
	}
	if err := a.events.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	svc, err := audit.NewService(db.Audit(), audit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Query(context.Background(), audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Events) != 2 || p.Events[0].Type != audit.LoginFailed || p.Events[1].Type != audit.UserRegistered {
		t.Fatalf("events %+v", p.Events)
	}
	for _, e := range p.Events {
		if e.ClientIP != netip.MustParseAddr("203.0.113.9") || e.UserAgent != "audit-test/1.0" || e.CorrelationID != "req-42" {
			t.Errorf("%s: client %v, agent %q, correlation %q", e.Type, e.ClientIP, e.UserAgent, e.CorrelationID)
		}
	}
}

// do sends a request with a JSON body to h.
func do(t *testing.T, h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	return doType(t, h, method, path, "application/json", body)
}

func doType(t *testing.T, h http.Handler, method, path, contentType, body string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
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

func registerBody(t *testing.T, username, email, password string) string {
	return jsonBody(t, map[string]string{"username": username, "email": email, "password": password})
}

func loginBody(t *testing.T, login, password string) string {
	return jsonBody(t, map[string]string{"login": login, "password": password})
}

// wantProblem checks that w is a problem+json response with the status,
// and returns it decoded.
func wantProblem(t *testing.T, w *httptest.ResponseRecorder, status int) problem {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d; body %s", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	var p problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, w.Body)
	}
	if p.Status != status || p.Type == "" || p.Title == "" || p.Detail == "" {
		t.Errorf("incomplete problem: %+v", p)
	}
	return p
}

// wantUser checks that w is a JSON user response with the status and
// without the password hash, and returns it decoded.
func wantUser(t *testing.T, w *httptest.ResponseRecorder, status int) account {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d; body %s", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	for _, private := range []string{"argon2", "hashed_password", "metadata", "failed_login_attempts", "locked_until", "preferences"} {
		if strings.Contains(w.Body.String(), private) {
			t.Errorf("response shows %s: %s", private, w.Body)
		}
	}
	var u account
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&u); err != nil {
		t.Fatalf("body is not a user: %v: %s", err, w.Body)
	}
	return u
}

func TestHealthz(t *testing.T) {
	a, _ := newTestApp(t)
	w := do(t, a.routes(), "GET", "/healthz", "")
	if w.Code != http.StatusOK || w.Body.String() != `{"status":"ok"}`+"\n" {
		t.Fatalf("got %d %q", w.Code, w.Body)
	}
	for k, v := range map[string]string{
		"Content-Type":           "application/json",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
	} {
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
}

func TestHealthzDatabaseDown(t *testing.T) {
	ping := func(context.Context) error { return errors.New("dial tcp 10.0.0.1:5432: connection refused") }
	db := memory.New()
	a, logs := newTestAppWith(t, stores{users: db.Users(), sessions: db.Sessions(), ping: ping})
	w := do(t, a.routes(), "GET", "/healthz", "")
	wantProblem(t, w, http.StatusServiceUnavailable)
	if strings.Contains(w.Body.String(), "10.0.0.1") {
		t.Errorf("503 body reveals the error: %s", w.Body)
	}
	if !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("ping error not logged:\n%s", logs)
	}
}

func TestRegister(t *testing.T) {
	a, logs := newTestApp(t)
	h := a.routes()
	const password = "violet-kettle-orbit-42"

	w := do(t, h, "POST", "/register", registerBody(t, "Alice", "Alice@Example.com", password))
	u := wantUser(t, w, http.StatusCreated)
	if u.ID == 0 || u.Username != "alice" || u.Email != "alice@example.com" || u.EmailVerified || u.Role != user.RoleUser {
		t.Errorf("registered %+v", u)
	}
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q", got)
	}
	if strings.Contains(w.Body.String(), password) {
		t.Errorf("response contains the password: %s", w.Body)
	}

	// The same name in another form, and the same address in another case.
	w = do(t, h, "POST", "/register", registerBody(t, "ALICE", "other@example.com", password))
	if p := wantProblem(t, w, http.StatusConflict); p.Field != "username" || p.Type != typeTaken {
		t.Errorf("duplicate username: %+v", p)
	}
	w = do(t, h, "POST", "/register", registerBody(t, "alice2", "ALICE@example.com", password))
	if p := wantProblem(t, w, http.StatusConflict); p.Field != "email" || p.Type != typeTaken {
		t.Errorf("duplicate email: %+v", p)
	}
	logs.noSecrets(t, password)
}

func TestRegisterInvalid(t *testing.T) {
	tests := []struct {
		name, username, email, password, field string
	}{
		{"short username", "al", "al@example.com", "violet-kettle-orbit-42", "username"},
		{"mixed-script username", "аdmin", "admin@example.com", "violet-kettle-orbit-42", "username"},
		{"bad email", "bob", "bob.example.com", "violet-kettle-orbit-42", "email"},
		{"short password", "carol", "carol@example.com", "Xq7#pz", "password"},
		{"common password", "dave", "dave@example.com", "password123", "password"},
		{"password equal to username", "evelyn-smith", "eve@example.com", "evelyn-smith", "password"},
		{"password with NUL", "frank", "frank@example.com", "violet\x00kettle-orbit", "password"},
		{"long password", "grace", "grace@example.com", strings.Repeat("Wq9x", 40), "password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, logs := newTestApp(t)
			w := do(t, a.routes(), "POST", "/register", registerBody(t, tt.username, tt.email, tt.password))
			p := wantProblem(t, w, http.StatusBadRequest)
			if p.Field != tt.field || p.Type != typeInvalidField {
				t.Errorf("field %q type %q, want %q %q; %+v", p.Field, p.Type, tt.field, typeInvalidField, p)
			}
			if strings.Contains(w.Body.String(), tt.password) {
				t.Errorf("body contains the password: %s", w.Body)
			}
			logs.noSecrets(t, tt.password)
		})
	}
}

func TestLogin(t *testing.T) {
	a, logs := newTestApp(t)
	h := a.routes()
	const password = "violet-kettle-orbit-42"
	reg := wantUser(t, do(t, h, "POST", "/register", registerBody(t, "alice", "alice@example.com", password)), http.StatusCreated)

	var secrets []string
	for _, login := range []string{"alice", "Alice", "alice@example.com", "ALICE@example.com"} {
		w := do(t, h, "POST", "/login", loginBody(t, login, password))
		u, tok := wantLogin(t, w)
		if u.ID != reg.ID || u.LastLoginAt == nil {
			t.Errorf("login %q: %+v", login, u)
		}
		if got := w.Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("Cache-Control %q", got)
		}
		secrets = append(secrets, tok.AccessToken, tok.RefreshToken)
	}
	logs.noSecrets(t, append(secrets, password)...)
}

// TestLoginRefusalsIdentical proves that a client cannot tell why a login
// was refused, while the log can.
func TestLoginRefusalsIdentical(t *testing.T) {
	a, logs := newTestApp(t)
	h := a.routes()
	ctx := context.Background()
	const (
		password = "violet-kettle-orbit-42"
		wrong    = "wrong-password-guess-1"
	)
	for _, name := range []string{"alice", "locked", "inactive"} {
		wantUser(t, do(t, h, "POST", "/register", registerBody(t, name, name+"@example.com", password)), http.StatusCreated)
	}
	inactive, err := a.users.GetByUsername(ctx, "inactive")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.users.Deactivate(ctx, inactive.ID); err != nil {
		t.Fatal(err)
	}
	// Default lockout: the 5th failure locks; the 6th is refused as locked.
	for range 6 {
		w := do(t, h, "POST", "/login", loginBody(t, "locked", wrong))
		wantProblem(t, w, http.StatusUnauthorized)
	}

	cases := []struct{ name, login, password, reason string }{
		{"wrong password", "alice", wrong, "wrong_password"},
		{"unknown user", "nobody", password, "unknown_user"},
		{"unknown email", "nobody@example.com", password, "unknown_user"},
		{"invalid login name", "not a name!", password, "unknown_user"},
		{"empty", "", "", "unknown_user"},
		{"locked, right password", "locked", password, "locked"},
		{"deactivated, right password", "inactive", password, "inactive"},
	}
	var first *httptest.ResponseRecorder
	for _, c := range cases {
		w := do(t, h, "POST", "/login", loginBody(t, c.login, c.password))
		p := wantProblem(t, w, http.StatusUnauthorized)
		if p.Type != typeInvalidCredentials || p.Detail != "invalid credentials" {
			t.Errorf("%s: %+v", c.name, p)
		}
		if first == nil {
			first = w
			continue
		}
		if !bytes.Equal(w.Body.Bytes(), first.Body.Bytes()) {
			t.Errorf("%s: body %q differs from %q", c.name, w.Body, first.Body)
		}
		// Every header but the per-request correlation id is the same.
		if fmt.Sprint(withoutCorrelation(w.Header())) != fmt.Sprint(withoutCorrelation(first.Header())) {
			t.Errorf("%s: headers %v differ from %v", c.name, w.Header(), first.Header())
		}
	}

	out := logs.String()
	for _, reason := range []string{"wrong_password", "unknown_user", "locked", "inactive"} {
		if !strings.Contains(out, `"reason":"`+reason+`"`) {
			t.Errorf("no log line with reason %s:\n%s", reason, out)
		}
	}
	if !strings.Contains(out, `"locked_until"`) || !strings.Contains(out, `"attempts":5`) {
		t.Errorf("lockout not logged:\n%s", out)
	}
	logs.noSecrets(t, password, wrong)
}

func TestRequestErrors(t *testing.T) {
	valid := registerBody(t, "alice", "alice@example.com", "violet-kettle-orbit-42")
	tests := []struct {
		name, method, path, contentType, body string
		status                                int
		allow                                 string
	}{
		{"malformed JSON", "POST", "/login", "application/json", `{"login":"alice",`, http.StatusBadRequest, ""},
		{"syntax error", "POST", "/login", "application/json", `{"login" "alice"}`, http.StatusBadRequest, ""},
		{"unknown field", "POST", "/register", "application/json",
			`{"username":"alice","email":"alice@example.com","password":"violet-kettle-orbit-42","role":"admin"}`,
			http.StatusBadRequest, ""},
		{"wrong field type", "POST", "/login", "application/json", `{"login":1,"password":"x"}`, http.StatusBadRequest, ""},
		{"array body", "POST", "/login", "application/json", `[]`, http.StatusBadRequest, ""},
		{"empty body", "POST", "/login", "application/json", ``, http.StatusBadRequest, ""},
		{"two objects", "POST", "/register", "application/json", valid + valid, http.StatusBadRequest, ""},
		{"text/plain", "POST", "/register", "text/plain", valid, http.StatusUnsupportedMediaType, ""},
		{"form", "POST", "/login", "application/x-www-form-urlencoded", "login=alice&password=x", http.StatusUnsupportedMediaType, ""},
		{"no content type", "POST", "/login", "", valid, http.StatusUnsupportedMediaType, ""},
		{"latin1", "POST", "/login", "application/json; charset=iso-8859-1", valid, http.StatusUnsupportedMediaType, ""},
		{"oversize", "POST", "/register", "application/json",
			`{"username":"alice","email":"alice@example.com","password":"` + strings.Repeat("x", maxBodyBytes) + `"}`,
			http.StatusRequestEntityTooLarge, ""},
		{"oversize after the object", "POST", "/login", "application/json",
			`{"login":"a","password":"b"}` + strings.Repeat(" ", maxBodyBytes), http.StatusRequestEntityTooLarge, ""},
		{"GET /login", "GET", "/login", "", "", http.StatusMethodNotAllowed, "POST"},
		{"PUT /register", "PUT", "/register", "application/json", valid, http.StatusMethodNotAllowed, "POST"},
		{"POST /healthz", "POST", "/healthz", "application/json", "{}", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"unknown path", "GET", "/admin", "", "", http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := newTestApp(t)
			w := doType(t, a.routes(), tt.method, tt.path, tt.contentType, tt.body)
			p := wantProblem(t, w, tt.status)
			if p.Type != "about:blank" || p.Title != http.StatusText(tt.status) {
				t.Errorf("type %q title %q", p.Type, p.Title)
			}
			if got := w.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
			if got := w.Header().Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q", got)
			}
			if strings.Contains(w.Body.String(), "violet-kettle") {
				t.Errorf("body echoes the password: %s", w.Body)
			}
		})
	}
}

func TestPanicIs500(t *testing.T) {
	a, logs := newTestApp(t)
	a.users = nil // every handler that uses the service panics
	w := do(t, a.routes(), "POST", "/login", loginBody(t, "alice", "violet-kettle-orbit-42"))
	p := wantProblem(t, w, http.StatusInternalServerError)
	if p.Detail != "internal server error" {
		t.Errorf("500 detail %q", p.Detail)
	}
	if !strings.Contains(logs.String(), `"msg":"panic"`) {
		t.Errorf("panic not logged:\n%s", logs)
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
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

	var out bytes.Buffer
	if _, err := parseOptions([]string{"-h"}, env, &out); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
	if !strings.Contains(out.String(), "-database-url") || strings.Contains(out.String(), "env-secret") {
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
// and one that waits for run's result.
// Extra arguments follow --addr.
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

// post sends a JSON request to the running program.
func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestRunGracefulShutdown runs the real program, starts a request, stops
// the program while the request is in flight, and checks that the request
// still completes and run returns nil.
func TestRunGracefulShutdown(t *testing.T) {
	addr, logs, stop, wait := startRun(t, func(string) string { return "" })
	base := "http://" + addr

	if code, body := get(t, base+"/healthz"); code != http.StatusOK || body != `{"status":"ok"}`+"\n" {
		t.Fatalf("healthz: %d %s", code, body)
	}

	// A registration whose body is held back: the server answers
	// "100 Continue" when the handler starts reading it, so the request
	// is in flight when the program is stopped.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const password = "violet-kettle-orbit-42"
	body := registerBody(t, "alice", "alice@example.com", password)
	fmt.Fprintf(conn, "POST /register HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"+
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
	out := logs.String()
	if !strings.Contains(out, "in-memory store") || !strings.Contains(out, `"msg":"stopped"`) {
		t.Errorf("unexpected log:\n%s", out)
	}
	logs.noSecrets(t, password)
}

// TestRunPostgres runs the real program on a fresh, empty PostgreSQL
// schema given in DATABASE_URL: it must migrate on start, then register
// and log in.
func TestRunPostgres(t *testing.T) {
	dbURL := pgtest.URL(t)
	addr, logs, stop, wait := startRun(t, func(k string) string {
		if k == "DATABASE_URL" {
			return dbURL
		}
		return ""
	})
	base := "http://" + addr
	const password = "violet-kettle-orbit-42"

	if code, body := get(t, base+"/healthz"); code != http.StatusOK {
		t.Fatalf("healthz: %d %s", code, body)
	}
	code, body := post(t, base+"/register", registerBody(t, "alice", "alice@example.com", password))
	if code != http.StatusCreated || !strings.Contains(body, `"username":"alice"`) {
		t.Fatalf("register: %d %s", code, body)
	}
	if code, body := post(t, base+"/register", registerBody(t, "alice", "alice2@example.com", password)); code != http.StatusConflict {
		t.Fatalf("duplicate register: %d %s", code, body)
	}
	code, body = post(t, base+"/login", loginBody(t, "alice@example.com", password))
	if code != http.StatusOK {
		t.Fatalf("login: %d %s", code, body)
	}
	var login loginResponse
	if err := json.Unmarshal([]byte(body), &login); err != nil || login.Tokens.AccessToken == "" {
		t.Fatalf("login response %s: %v", body, err)
	}
	if code, body := post(t, base+"/login", loginBody(t, "alice", "not-the-password")); code != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d %s", code, body)
	}

	// The session lives in PostgreSQL: /me, /refresh and /logout.
	if code, body := send(t, "GET", base+"/me", login.Tokens.AccessToken, ""); code != http.StatusOK || !strings.Contains(body, `"username":"alice"`) {
		t.Fatalf("me: %d %s", code, body)
	}
	code, body = post(t, base+"/refresh", jsonBody(t, map[string]string{"refresh_token": login.Tokens.RefreshToken}))
	var next tokenResponse
	if err := json.Unmarshal([]byte(body), &next); code != http.StatusOK || err != nil || next.AccessToken == "" {
		t.Fatalf("refresh: %d %s", code, body)
	}
	if code, body := send(t, "GET", base+"/me", next.AccessToken, ""); code != http.StatusOK {
		t.Fatalf("me after refresh: %d %s", code, body)
	}
	if code, body := send(t, "POST", base+"/logout", next.AccessToken, ""); code != http.StatusNoContent {
		t.Fatalf("logout: %d %s", code, body)
	}
	if code, body := send(t, "GET", base+"/me", next.AccessToken, ""); code != http.StatusUnauthorized {
		t.Fatalf("me after logout: %d %s", code, body)
	}

	stop()
	if err := wait(); err != nil {
		t.Fatalf("run: %v", err)
	}
	if out := logs.String(); !strings.Contains(out, "using PostgreSQL") {
		t.Errorf("PostgreSQL not used:\n%s", out)
	}
	logs.noSecrets(t, password, login.Tokens.AccessToken, login.Tokens.RefreshToken, next.AccessToken, next.RefreshToken)
}

// send makes a request to the running program with a bearer token.
func send(t *testing.T, method, url, token, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func withoutCorrelation(h http.Header) http.Header {
	c := h.Clone()
	if len(c.Values(audit.CorrelationHeader)) != 1 {
		c.Set("Missing-Correlation-ID", "yes")
	}
	c.Del(audit.CorrelationHeader)
	return c
}

// wantLogin checks a 200 login response: the account (as wantUser does)
// and a bearer token pair.
func wantLogin(t *testing.T, w *httptest.ResponseRecorder) (account, tokenResponse) {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s", w.Code, w.Body)
	}
	var resp loginResponse
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&resp); err != nil {
		t.Fatalf("body is not a login response: %v: %s", err, w.Body)
	}
	for _, private := range []string{"argon2", "hashed_password", "session_token", "metadata"} {
		if strings.Contains(w.Body.String(), private) {
			t.Errorf("response shows %s: %s", private, w.Body)
		}
	}
	checkTokens(t, resp.Tokens)
	return resp.User, resp.Tokens
}

func checkTokens(t *testing.T, tok tokenResponse) {
	t.Helper()
	if tok.TokenType != "Bearer" || tok.AccessToken == "" || tok.RefreshToken == "" || tok.SessionID <= 0 ||
		tok.ExpiresIn < 895 || tok.ExpiresIn > 900 {
		t.Errorf("tokens %+v", tok)
	}
}

// wantTokens checks a 200 token response and returns it.
func wantTokens(t *testing.T, w *httptest.ResponseRecorder) tokenResponse {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("status %d, want 200; body %s", w.Code, w.Body)
	}
	var tok tokenResponse
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&tok); err != nil {
		t.Fatalf("body is not a token response: %v: %s", err, w.Body)
	}
	checkTokens(t, tok)
	return tok
}

// authed sends a request with a bearer token (none when token is empty)
// and, if any, a JSON body.
func authed(t *testing.T, h http.Handler, method, path, token, body string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// want401Token checks the middleware's refusal of an access token.
func want401Token(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	p := wantProblem(t, w, http.StatusUnauthorized)
	if p.Type != "about:blank" {
		t.Errorf("type %q", p.Type)
	}
	if got := w.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, `Bearer realm="cedrina"`) {
		t.Errorf("WWW-Authenticate %q", got)
	}
}

func refreshBody(t *testing.T, token string) string {
	return jsonBody(t, map[string]string{"refresh_token": token})
}

const testPassword = "violet-kettle-orbit-42"

// registerAndLogin registers name and logs in once, with extra request
// headers.
func registerAndLogin(t *testing.T, h http.Handler, name string, header ...string) (account, tokenResponse) {
	t.Helper()
	wantUser(t, do(t, h, "POST", "/register", registerBody(t, name, name+"@example.com", testPassword)), http.StatusCreated)
	return wantLogin(t, authed(t, h, "POST", "/login", "", loginBody(t, name, testPassword), header...))
}

// sessionFlow is login, /me, refresh rotation and reuse, on any store.
func sessionFlow(t *testing.T, a *app, logs *logBuffer) {
	h := a.routes()
	u, tok := registerAndLogin(t, h, "alice")

	me := authed(t, h, "GET", "/me", tok.AccessToken, "")
	if got := wantUser(t, me, http.StatusOK); got.ID != u.ID || got.Username != "alice" {
		t.Errorf("me: %+v", got)
	}
	want401Token(t, authed(t, h, "GET", "/me", "", ""))

	// Rotation: a new pair; the old access token stays valid until it
	// expires (it is a JWT), the old refresh token does not.
	next := wantTokens(t, do(t, h, "POST", "/refresh", refreshBody(t, tok.RefreshToken)))
	if next.RefreshToken == tok.RefreshToken || next.AccessToken == tok.AccessToken || next.SessionID != tok.SessionID {
		t.Errorf("refresh did not rotate: %+v", next)
	}
	wantUser(t, authed(t, h, "GET", "/me", next.AccessToken, ""), http.StatusOK)

	// Reuse of the rotated token: 401, and the whole session is dead,
	// newest tokens included.
	reuse := do(t, h, "POST", "/refresh", refreshBody(t, tok.RefreshToken))
	p := wantProblem(t, reuse, http.StatusUnauthorized)
	if p.Type != typeInvalidToken {
		t.Errorf("reuse: %+v", p)
	}
	want401Token(t, authed(t, h, "GET", "/me", next.AccessToken, ""))
	dead := do(t, h, "POST", "/refresh", refreshBody(t, next.RefreshToken))
	wantProblem(t, dead, http.StatusUnauthorized)

	// Every refusal is the same body.
	for _, bad := range []string{"", "junk", strings.Repeat("A", 43), next.AccessToken} {
		w := do(t, h, "POST", "/refresh", refreshBody(t, bad))
		wantProblem(t, w, http.StatusUnauthorized)
		if w.Body.String() != reuse.Body.String() || dead.Body.String() != reuse.Body.String() {
			t.Errorf("refusal %q: %s, want %s", bad, w.Body, reuse.Body)
		}
	}
	for _, w := range []*httptest.ResponseRecorder{me, reuse, dead} {
		for _, secret := range []string{tok.AccessToken, tok.RefreshToken, next.RefreshToken} {
			if strings.Contains(w.Body.String(), secret) {
				t.Errorf("response shows a token: %s", w.Body)
			}
		}
	}

	// The reuse is in the audit trail.
	if err := a.events.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	logs.noSecrets(t, testPassword, tok.AccessToken, tok.RefreshToken, next.AccessToken, next.RefreshToken)
}

func TestHTTPSessionFlow(t *testing.T) {
	a, logs := newTestApp(t)
	sessionFlow(t, a, logs)
	if !strings.Contains(logs.String(), "ephemeral key: tokens die with the process") {
		t.Errorf("the ephemeral key is not logged:\n%s", logs)
	}
}

func TestHTTPSessionFlowPostgres(t *testing.T) {
	t.Parallel()
	db, err := postgres.New(pgtest.DB(t), postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	a, logs := newTestAppWith(t, stores{users: db.Users(), sessions: db.Sessions(), audit: db.Audit()})
	sessionFlow(t, a, logs)
	svc, err := audit.NewService(db.Audit(), audit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Query(context.Background(), audit.Query{Types: []audit.EventType{audit.TokenReuse}})
	if err != nil || len(p.Events) != 1 {
		t.Errorf("token_reuse events %+v, %v", p, err)
	}
}

func TestHTTPLogout(t *testing.T) {
	a, _ := newTestApp(t)
	h := a.routes()
	_, tok := registerAndLogin(t, h, "alice")
	_, other := wantLogin(t, do(t, h, "POST", "/login", loginBody(t, "alice", testPassword)))

	want401Token(t, authed(t, h, "POST", "/logout", "", ""))
	w := authed(t, h, "POST", "/logout", tok.AccessToken, "")
	if w.Code != http.StatusNoContent || w.Body.Len() != 0 {
		t.Fatalf("logout: %d %s", w.Code, w.Body)
	}
	want401Token(t, authed(t, h, "GET", "/me", tok.AccessToken, ""))
	want401Token(t, authed(t, h, "POST", "/logout", tok.AccessToken, ""))
	wantProblem(t, do(t, h, "POST", "/refresh", refreshBody(t, tok.RefreshToken)), http.StatusUnauthorized)
	// Only that session ended.
	wantUser(t, authed(t, h, "GET", "/me", other.AccessToken, ""), http.StatusOK)
}

func TestHTTPPasswordChange(t *testing.T) {
	a, logs := newTestApp(t)
	h := a.routes()
	_, tok := registerAndLogin(t, h, "alice")
	_, other := wantLogin(t, do(t, h, "POST", "/login", loginBody(t, "alice", testPassword)))
	const newPassword = "quiet-harbor-lantern-77"
	body := func(current, next string) string {
		return jsonBody(t, map[string]string{"current_password": current, "new_password": next})
	}

	want401Token(t, authed(t, h, "POST", "/password", "", body(testPassword, newPassword)))
	w := authed(t, h, "POST", "/password", tok.AccessToken, body("not-the-password", newPassword))
	if p := wantProblem(t, w, http.StatusForbidden); p.Type != typeWrongPassword {
		t.Errorf("wrong current password: %+v", p)
	}
	w = authed(t, h, "POST", "/password", tok.AccessToken, body(testPassword, "short"))
	if p := wantProblem(t, w, http.StatusBadRequest); p.Field != "new_password" || p.Type != typeInvalidField {
		t.Errorf("weak new password: %+v", p)
	}
	// Nothing has changed yet.
	wantUser(t, authed(t, h, "GET", "/me", tok.AccessToken, ""), http.StatusOK)

	fresh := wantTokens(t, authed(t, h, "POST", "/password", tok.AccessToken, body(testPassword, newPassword)))
	if fresh.SessionID == tok.SessionID || fresh.SessionID == other.SessionID {
		t.Errorf("no fresh session: %+v", fresh)
	}
	// Every session from before the change is over, this one included.
	want401Token(t, authed(t, h, "GET", "/me", tok.AccessToken, ""))
	want401Token(t, authed(t, h, "GET", "/me", other.AccessToken, ""))
	wantProblem(t, do(t, h, "POST", "/refresh", refreshBody(t, other.RefreshToken)), http.StatusUnauthorized)
	// The new tokens work, and so does the new password.
	wantUser(t, authed(t, h, "GET", "/me", fresh.AccessToken, ""), http.StatusOK)
	wantTokens(t, do(t, h, "POST", "/refresh", refreshBody(t, fresh.RefreshToken)))
	wantProblem(t, do(t, h, "POST", "/login", loginBody(t, "alice", testPassword)), http.StatusUnauthorized)
	wantLogin(t, do(t, h, "POST", "/login", loginBody(t, "alice", newPassword)))
	logs.noSecrets(t, testPassword, newPassword, fresh.AccessToken, fresh.RefreshToken)
}

func TestHTTPSessionsListAndRevoke(t *testing.T) {
	a, _ := newTestApp(t)
	h := a.routes()
	// The peer 192.0.2.1 is a trusted proxy: X-Forwarded-For names the client.
	_, tokA := registerAndLogin(t, h, "alice", "User-Agent", "phone/1", "X-Forwarded-For", "198.51.100.1")
	_, tokB := wantLogin(t, authed(t, h, "POST", "/login", "", loginBody(t, "alice", testPassword),
		"User-Agent", "laptop/2", "X-Forwarded-For", "198.51.100.2"))
	_, tokC := wantLogin(t, authed(t, h, "POST", "/login", "", loginBody(t, "alice", testPassword),
		"User-Agent", "tablet/3", "X-Forwarded-For", "2001:db8::3"))
	_, bob := registerAndLogin(t, h, "bob")

	list := func(token string) []sessionView {
		t.Helper()
		w := authed(t, h, "GET", "/sessions", token, "")
		if w.Code != http.StatusOK {
			t.Fatalf("list: %d %s", w.Code, w.Body)
		}
		var resp struct{ Sessions []sessionView }
		dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&resp); err != nil {
			t.Fatalf("list: %v: %s", err, w.Body)
		}
		return resp.Sessions
	}
	got := list(tokB.AccessToken)
	want := map[int64]struct {
		ip, agent string
		current   bool
	}{
		tokA.SessionID: {"198.51.100.1", "phone/1", false},
		tokB.SessionID: {"198.51.100.2", "laptop/2", true},
		tokC.SessionID: {"2001:db8::3", "tablet/3", false},
	}
	if len(got) != len(want) {
		t.Fatalf("sessions %+v", got)
	}
	for _, s := range got {
		w, ok := want[s.ID]
		if !ok || s.ClientIP != w.ip || s.UserAgent != w.agent || s.Current != w.current || s.CreatedAt.IsZero() || s.LastActivityAt.IsZero() {
			t.Errorf("session %+v, want %+v", s, w)
		}
	}
	want401Token(t, authed(t, h, "GET", "/sessions", "", ""))

	// Another user's session, an unknown one, a malformed id: 404 alike,
	// and bob's session survives.
	var notFound string
	for _, id := range []string{strconv.FormatInt(bob.SessionID, 10), "999999", "0", "-1", "abc", "1e3"} {
		w := authed(t, h, "DELETE", "/sessions/"+id, tokB.AccessToken, "")
		wantProblem(t, w, http.StatusNotFound)
		if notFound == "" {
			notFound = w.Body.String()
		} else if w.Body.String() != notFound {
			t.Errorf("DELETE %s: %s, want %s", id, w.Body, notFound)
		}
	}
	wantUser(t, authed(t, h, "GET", "/me", bob.AccessToken, ""), http.StatusOK)

	w := authed(t, h, "DELETE", "/sessions/"+strconv.FormatInt(tokA.SessionID, 10), tokB.AccessToken, "")
	if w.Code != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", w.Code, w.Body)
	}
	want401Token(t, authed(t, h, "GET", "/me", tokA.AccessToken, ""))
	if got := list(tokB.AccessToken); len(got) != 2 {
		t.Errorf("after revoking one: %+v", got)
	}

	w = authed(t, h, "POST", "/sessions/revoke-others", tokB.AccessToken, "")
	if w.Code != http.StatusOK || strings.TrimSpace(w.Body.String()) != `{"revoked":1}` {
		t.Fatalf("revoke-others: %d %s", w.Code, w.Body)
	}
	want401Token(t, authed(t, h, "GET", "/me", tokC.AccessToken, ""))
	wantUser(t, authed(t, h, "GET", "/me", tokB.AccessToken, ""), http.StatusOK)
	wantUser(t, authed(t, h, "GET", "/me", bob.AccessToken, ""), http.StatusOK)
	if got := list(tokB.AccessToken); len(got) != 1 || !got[0].Current {
		t.Errorf("after revoke-others: %+v", got)
	}
	w = authed(t, h, "POST", "/sessions/revoke-others", tokB.AccessToken, "")
	if strings.TrimSpace(w.Body.String()) != `{"revoked":0}` {
		t.Errorf("revoke-others again: %s", w.Body)
	}

	// Revoking the current session is a logout.
	w = authed(t, h, "DELETE", "/sessions/"+strconv.FormatInt(tokB.SessionID, 10), tokB.AccessToken, "")
	if w.Code != http.StatusNoContent {
		t.Fatalf("DELETE current: %d %s", w.Code, w.Body)
	}
	want401Token(t, authed(t, h, "GET", "/sessions", tokB.AccessToken, ""))
}

func TestHTTPSessionRouteMethods(t *testing.T) {
	a, _ := newTestApp(t)
	h := a.routes()
	for _, tt := range []struct{ method, path, allow string }{
		{"GET", "/refresh", "POST"},
		{"GET", "/logout", "POST"},
		{"POST", "/me", "GET, HEAD"},
		{"GET", "/password", "POST"},
		{"DELETE", "/sessions", "GET, HEAD"},
		{"GET", "/sessions/1", "DELETE"},
		{"GET", "/sessions/revoke-others", "POST"},
		{"POST", "/.well-known/jwks.json", "GET, HEAD"},
	} {
		w := authed(t, h, tt.method, tt.path, "", "")
		wantProblem(t, w, http.StatusMethodNotAllowed)
		if got := w.Header().Get("Allow"); got != tt.allow {
			t.Errorf("%s %s: Allow %q, want %q", tt.method, tt.path, got, tt.allow)
		}
	}
}

// TestHTTPJWKS: the public key is served, and a stateless verifier built from
// it accepts the app's access tokens.
func TestHTTPJWKS(t *testing.T) {
	a, _ := newTestApp(t)
	h := a.routes()
	w := do(t, h, "GET", "/.well-known/jwks.json", "")
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/jwk-set+json" ||
		w.Header().Get("Cache-Control") != "public, max-age=300" {
		t.Fatalf("jwks: %d %v %s", w.Code, w.Header(), w.Body)
	}
	var doc struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Keys) != 1 {
		t.Fatalf("keys %+v", doc.Keys)
	}
	k := doc.Keys[0]
	if k["kid"] != a.keys.Signing().ID() || k["kty"] != "OKP" || k["crv"] != "Ed25519" || k["x"] == "" {
		t.Errorf("key %+v", k)
	}
	if _, ok := k["d"]; ok {
		t.Errorf("the JWKS holds the private key: %s", w.Body)
	}

	_, tok := registerAndLogin(t, h, "alice")
	v, err := session.NewVerifier(w.Body.Bytes(), session.VerifierConfig{Issuer: tokenIssuer, Audience: []string{tokenAudience}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := v.Verify(tok.AccessToken)
	if err != nil || c.SessionID != strconv.FormatInt(tok.SessionID, 10) {
		t.Errorf("verify: %+v, %v", c, err)
	}
}

// TestHTTPRunJWTKeyFile runs the program with --jwt-key-file: tokens are
// signed with that key, whose kid is its thumbprint, the same on every
// run.
func TestHTTPRunJWTKeyFile(t *testing.T) {
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
		addr, logs, stop, wait := startRun(t, func(string) string { return "" }, "--jwt-key-file", path)
		code, body := get(t, "http://"+addr+"/.well-known/jwks.json")
		if code != http.StatusOK {
			t.Fatalf("jwks: %d %s", code, body)
		}
		var doc struct{ Keys []struct{ Kid, X string } }
		if err := json.Unmarshal([]byte(body), &doc); err != nil || len(doc.Keys) != 1 {
			t.Fatalf("jwks %s: %v", body, err)
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
	os.WriteFile(bad, []byte("s3cret-not-a-key"), 0o600)
	var logs logBuffer
	err = run(context.Background(), []string{"--addr", "127.0.0.1:0", "--jwt-key-file", bad}, func(string) string { return "" }, &logs, nil)
	if err == nil || !strings.Contains(err.Error(), "--jwt-key-file") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("bad key file: %v", err)
	}
	err = run(context.Background(), []string{"--addr", "127.0.0.1:0", "--jwt-key-file", bad + ".missing"}, func(string) string { return "" }, &logs, nil)
	if err == nil || !strings.Contains(err.Error(), "--jwt-key-file") {
		t.Errorf("missing key file: %v", err)
	}
	logs.noSecrets(t, "s3cret")
}
