package authhttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/authhttp"
	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/oauth"
	"github.com/cedrina/cedrina/reset"
	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/user"
)

// backend is one database the API runs on: its transactor and its
// stores.
type backend struct {
	tx       store.Transactor
	users    user.Store
	sessions session.Store
	resets   reset.Store
	audit    audit.Store
	oauth    oauth.Store
}

// backends runs fn on the memory store and on PostgreSQL through each
// driver a host may use (lib/pq, and pgx through database/sql), in
// parallel.
func backends(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Helper()
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		fn(t, memBackend())
	})
	t.Run("postgres-libpq", func(t *testing.T) {
		t.Parallel()
		db, err := postgres.New(pgtest.DB(t), postgres.Config{})
		if err != nil {
			t.Fatal(err)
		}
		fn(t, backend{db, db.Users(), db.Sessions(), db.Resets(), db.Audit(), db.OAuth()})
	})
	t.Run("postgres-pgx", func(t *testing.T) {
		t.Parallel()
		db, err := postgres.NewFromSQL(pgtest.PgxDB(t), postgres.Config{})
		if err != nil {
			t.Fatal(err)
		}
		fn(t, backend{db, db.Users(), db.Sessions(), db.Resets(), db.Audit(), db.OAuth()})
	})
}

func memBackend() backend {
	db := memory.New()
	return backend{db, db.Users(), db.Sessions(), db.Resets(), db.Audit(), db.OAuth()}
}

// api is the handler on a backend, served by httptest.
type api struct {
	t   *testing.T
	srv *httptest.Server
	h   *authhttp.Handler
}

const (
	goodPassword  = "correct horse battery staple"
	otherPassword = "another long passphrase"
)

func newAPI(t *testing.T, b backend, mutate func(*authhttp.Config)) *api {
	t.Helper()
	h := newHandler(t, b, mutate)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &api{t: t, srv: srv, h: h}
}

// newHandler builds the services on b, with cheap password hashing, and
// the handler on them.
func newHandler(t testing.TB, b backend, mutate func(*authhttp.Config)) *authhttp.Handler {
	t.Helper()
	return newStack(t, b, stackConfig{handler: mutate}).h
}

// stackConfig adjusts the services newStack builds; a nil field keeps the
// defaults.
type stackConfig struct {
	session func(*session.Config)
	user    func(*user.Config)
	// reset, when set, builds a reset service on b's reset store, with the
	// user and session services filled in and then the config adjusted
	// by it, and hands it to the handler (Config.Reset).
	reset   func(*reset.Config)
	handler func(*authhttp.Config)
}

// stack is the services a handler is built from, and the handler.
type stack struct {
	sessions *session.Service
	users    *user.Service
	reset    *reset.Service // nil without stackConfig.reset
	h        *authhttp.Handler
}

// newStack builds the services on b in the order a host does (sessions,
// users with Sessions set, reset), with cheap password hashing, and the
// handler on them. The services that send messages are closed when the
// test ends.
func newStack(t testing.TB, b backend, c stackConfig) *stack {
	t.Helper()
	key, err := session.GenerateKey(session.EdDSA, "")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := session.NewKeySet(key)
	if err != nil {
		t.Fatal(err)
	}
	sc := session.Config{Keys: keys, Issuer: "https://auth.test", Audience: []string{"api"}}
	if c.session != nil {
		c.session(&sc)
	}
	s := &stack{}
	if s.sessions, err = session.NewService(b.sessions, sc); err != nil {
		t.Fatal(err)
	}
	hasher, err := user.NewHasher(user.HashConfig{Argon2id: user.Argon2idParams{Memory: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	uc := user.Config{Hasher: hasher, Sessions: s.sessions}
	if c.user != nil {
		c.user(&uc)
	}
	if s.users, err = user.NewService(b.users, uc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.users.Close(context.Background()) })
	cfg := authhttp.Config{Users: s.users, Sessions: s.sessions}
	if c.reset != nil {
		rc := reset.Config{Users: s.users, Sessions: s.sessions}
		c.reset(&rc)
		if s.reset, err = reset.NewService(b.resets, b.tx, rc); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.reset.Close(context.Background()) })
		cfg.Reset = s.reset
	}
	if c.handler != nil {
		c.handler(&cfg)
	}
	if s.h, err = authhttp.New(cfg); err != nil {
		t.Fatal(err)
	}
	return s
}

// response is what a request got.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

// do sends a request; body is JSON-encoded unless it is a string (sent
// as is) or nil (no body, no Content-Type).
func (a *api) do(method, path, token string, body any) response {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, a.srv.URL+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := a.srv.Client().Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return response{res.StatusCode, res.Header, b}
}

// want checks a response's status and, for errors, that it is a
// problem+json body of that status; it returns the decoded body.
func (a *api) want(r response, status int) map[string]any {
	a.t.Helper()
	if r.status != status {
		a.t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if status == http.StatusNoContent {
		if len(r.body) != 0 {
			a.t.Fatalf("204 with a body: %s", r.body)
		}
		return nil
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" && r.header.Get("Content-Type") != "application/jwk-set+json" {
		a.t.Errorf("Cache-Control %q, want no-store", got)
	}
	if status >= 400 {
		if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
			a.t.Fatalf("Content-Type %q, want application/problem+json", ct)
		}
		m := r.json(a.t)
		if m["status"] != float64(status) || m["type"] == "" || m["title"] == "" {
			a.t.Fatalf("problem %v", m)
		}
		return m
	}
	if strings.HasPrefix(string(r.body), "[") {
		return nil
	}
	return r.json(a.t)
}

// tokens logs in and returns the access and refresh tokens.
func (a *api) login(login, password string) (access, refresh string) {
	a.t.Helper()
	m := a.want(a.do("POST", "/auth/login", "", map[string]string{"login": login, "password": password}), http.StatusOK)
	return m["access_token"].(string), m["refresh_token"].(string)
}

func (a *api) register(name string) map[string]any {
	a.t.Helper()
	return a.want(a.do("POST", "/auth/register", "", map[string]string{
		"username": name, "email": name + "@example.com", "password": goodPassword}), http.StatusCreated)
}

func TestRegister(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		a := newAPI(t, b, nil)
		m := a.register("alice")
		if m["username"] != "alice" || m["email"] != "alice@example.com" || m["role"] != "USER" || m["is_active"] != true {
			t.Errorf("view %v", m)
		}
		wantKeys := []string{"created_at", "email", "email_verified_at", "id", "is_active", "is_verified",
			"last_login_at", "password_changed_at", "role", "tier", "username"}
		if got := slices.Sorted(maps.Keys(m)); !slices.Equal(got, wantKeys) {
			t.Errorf("view members %v, want %v", got, wantKeys)
		}

		cases := []struct {
			name   string
			body   any
			status int
			field  string
		}{
			{"taken username", map[string]string{"username": "ALICE", "email": "x@example.com", "password": goodPassword}, 409, "username"},
			{"taken email", map[string]string{"username": "alicia", "email": "Alice@Example.com", "password": goodPassword}, 409, "email"},
			{"invalid username", map[string]string{"username": "a", "email": "y@example.com", "password": goodPassword}, 422, "username"},
			{"mixed-script username", map[string]string{"username": "pаypal", "email": "y@example.com", "password": goodPassword}, 422, "username"},
			{"invalid email", map[string]string{"username": "bob", "email": "not an address", "password": goodPassword}, 422, "email"},
			{"missing email", map[string]string{"username": "bob", "password": goodPassword}, 422, "email"},
			{"short password", map[string]string{"username": "bob", "email": "bob@example.com", "password": "short"}, 422, "password"},
			{"common password", map[string]string{"username": "bob", "email": "bob@example.com", "password": "password123"}, 422, "password"},
			{"NUL in username", map[string]string{"username": "bo\x00b", "email": "bob@example.com", "password": goodPassword}, 422, "username"},
			{"SQL in username", map[string]string{"username": "bob'; DROP TABLE users;--", "email": "bob@example.com", "password": goodPassword}, 422, "username"},
			{"unknown member", `{"username":"bob","email":"bob@example.com","password":"x","role":"ADMIN"}`, 400, ""},
			{"not JSON", `username=bob`, 400, ""},
			{"two objects", `{"username":"bob"}{"username":"eve"}`, 400, ""},
			{"array", `[]`, 400, ""},
			{"wrong type", `{"username":42}`, 400, ""},
			{"empty", ``, 400, ""},
			{"invalid UTF-8", "{\"username\":\"\xff\xfe\"}", 422, "username"},
			{"huge", `{"username":"` + strings.Repeat("a", authhttp.DefaultMaxBodyBytes) + `"}`, 413, ""},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				a := *a
				a.t = t
				r := a.do("POST", "/auth/register", "", c.body)
				m := a.want(r, c.status)
				if m["field"] != nil && m["field"] != c.field || c.field != "" && m["field"] != c.field {
					t.Errorf("field %v, want %q (%v)", m["field"], c.field, m)
				}
				if strings.Contains(string(r.body), goodPassword) || strings.Contains(string(r.body), "DROP") {
					t.Errorf("request value echoed: %s", r.body)
				}
			})
		}
		// Role cannot be chosen, and nothing was created by the refusals.
		a.want(a.do("POST", "/auth/login", "", map[string]string{"login": "bob", "password": goodPassword}), 401)

		// 415: not JSON by its media type.
		req, _ := http.NewRequest("POST", a.srv.URL+"/auth/register", strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "text/plain")
		res, err := a.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("text/plain: %d", res.StatusCode)
		}
	})
}

func TestLoginRefreshLogout(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		a := newAPI(t, b, nil)
		a.register("carol")

		m := a.want(a.do("POST", "/auth/login", "", map[string]string{"login": "carol", "password": goodPassword}), 200)
		if m["token_type"] != "Bearer" || m["expires_in"] != float64(900) || m["access_token"] == "" || m["refresh_token"] == "" {
			t.Fatalf("token response %v", m)
		}
		if _, ok := m["password_change_required"]; ok {
			t.Errorf("password_change_required sent for a current password: %v", m)
		}
		if got := slices.Sorted(maps.Keys(m)); !slices.Equal(got, []string{"access_token", "expires_in", "refresh_token", "token_type"}) {
			t.Errorf("token response members %v", got)
		}
		access, refresh := m["access_token"].(string), m["refresh_token"].(string)

		me := a.want(a.do("GET", "/me", access, nil), 200)
		if me["username"] != "carol" || me["last_login_at"] == nil {
			t.Errorf("/me %v", me)
		}
		// By email, any case.
		a.login("CAROL@example.com", goodPassword)

		// No token, a malformed one, another scheme: the same 401.
		for _, auth := range []string{"", "Bearer", "Bearer not.a.token", "Basic Y2Fyb2w6eA==", "Bearer " + access + "x"} {
			req, _ := http.NewRequest("GET", a.srv.URL+"/me", nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			res, err := a.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 401 || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%q: %d %q", auth, res.StatusCode, res.Header.Get("WWW-Authenticate"))
			}
		}

		// Refresh: a new pair; the old refresh token is spent.
		n := a.want(a.do("POST", "/auth/refresh", "", map[string]string{"refresh_token": refresh}), 200)
		access2, refresh2 := n["access_token"].(string), n["refresh_token"].(string)
		if refresh2 == refresh || access2 == access {
			t.Fatal("refresh returned the same tokens")
		}
		a.want(a.do("GET", "/me", access2, nil), 200)

		// Reuse of the spent token: 401, and the session is over for
		// everyone holding it.
		p := a.want(a.do("POST", "/auth/refresh", "", map[string]string{"refresh_token": refresh}), 401)
		if p["type"] != authhttp.TypeInvalidToken {
			t.Errorf("reuse problem %v", p)
		}
		a.want(a.do("GET", "/me", access2, nil), 401)
		a.want(a.do("POST", "/auth/refresh", "", map[string]string{"refresh_token": refresh2}), 401)
		for _, bad := range []string{"", "garbage", strings.Repeat("A", 5000), "x\x00y"} {
			a.want(a.do("POST", "/auth/refresh", "", map[string]string{"refresh_token": bad}), 401)
		}

		// Logout by bearer token.
		acc, _ := a.login("carol", goodPassword)
		a.want(a.do("POST", "/auth/logout", acc, nil), 204)
		a.want(a.do("GET", "/me", acc, nil), 401)
		a.want(a.do("POST", "/auth/logout", "", nil), 401)

		// Logout by refresh token, for a client whose access token expired.
		acc, ref := a.login("carol", goodPassword)
		a.want(a.do("POST", "/auth/logout", "", map[string]string{"refresh_token": ref}), 204)
		a.want(a.do("GET", "/me", acc, nil), 401)
		a.want(a.do("POST", "/auth/refresh", "", map[string]string{"refresh_token": ref}), 401)
		// Nothing left to end: still 204 (RFC 7009); an empty token is a
		// malformed request.
		a.want(a.do("POST", "/auth/logout", "", map[string]string{"refresh_token": ref}), 204)
		a.want(a.do("POST", "/auth/logout", "", map[string]string{"refresh_token": "garbage"}), 204)
		if p := a.want(a.do("POST", "/auth/logout", "", map[string]string{}), 422); p["field"] != "refresh_token" {
			t.Errorf("empty logout body: %v", p)
		}

		// Logout everywhere.
		acc1, _ := a.login("carol", goodPassword)
		acc2, ref2 := a.login("carol", goodPassword)
		a.want(a.do("POST", "/auth/logout-all", acc1, nil), 204)
		a.want(a.do("GET", "/me", acc1, nil), 401)
		a.want(a.do("GET", "/me", acc2, nil), 401)
		a.want(a.do("POST", "/auth/refresh", "", map[string]string{"refresh_token": ref2}), 401)
	})
}

// TestLockedAccountAnswersLikeWrongPassword: once locked, even the right
// password gets exactly the response of a wrong password and of an
// unknown account: status, headers and body.
func TestLockedAccountAnswersLikeWrongPassword(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		a := newAPI(t, b, nil)
		a.register("dave")
		a.register("erin")
		login := func(name, pw string) response {
			return a.do("POST", "/auth/login", "", map[string]string{"login": name, "password": pw})
		}
		wrong := login("erin", "wrong password")
		unknown := login("nobody", goodPassword)
		for i := 0; i < 5; i++ {
			a.want(login("dave", "wrong password"), 401)
		}
		locked := login("dave", goodPassword)
		for name, r := range map[string]response{"unknown": unknown, "locked": locked} {
			if r.status != wrong.status || !bytes.Equal(r.body, wrong.body) {
				t.Errorf("%s: %d %s, wrong password: %d %s", name, r.status, r.body, wrong.status, wrong.body)
			}
			if got, want := headerSet(r.header), headerSet(wrong.header); !slices.Equal(got, want) {
				t.Errorf("%s headers %v, wrong password %v", name, got, want)
			}
		}
		if p := wrong.json(t); p["type"] != authhttp.TypeInvalidCredentials || p["status"] != float64(401) {
			t.Errorf("problem %v", p)
		}
	})
}

// headerSet is the headers of a response that do not vary per request:
// all but Date, X-Correlation-ID and RateLimit (the client's remaining
// quota, counted down by every request whatever its account).
func headerSet(h http.Header) []string {
	var out []string
	for k, v := range h {
		switch k {
		case "Date", "X-Correlation-Id", "Ratelimit":
			continue
		}
		out = append(out, k+": "+strings.Join(v, ", "))
	}
	slices.Sort(out)
	return out
}

func TestSessionsRoutes(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		a := newAPI(t, b, nil)
		a.register("fay")
		a.register("gus")
		accA, _ := a.login("fay", goodPassword)
		accB, _ := a.login("fay", goodPassword)
		accC, _ := a.login("fay", goodPassword)
		accG, _ := a.login("gus", goodPassword)

		r := a.do("GET", "/me/sessions", accA, nil)
		a.want(r, 200)
		var list []map[string]any
		if err := json.Unmarshal(r.body, &list); err != nil {
			t.Fatal(err)
		}
		if len(list) != 3 {
			t.Fatalf("%d sessions, want 3: %s", len(list), r.body)
		}
		wantKeys := []string{"client_ip", "created_at", "current", "expires_at", "id", "last_activity_at", "user_agent"}
		current := 0
		var other int64
		for _, s := range list {
			if got := slices.Sorted(maps.Keys(s)); !slices.Equal(got, wantKeys) {
				t.Errorf("session members %v", got)
			}
			if s["client_ip"] != "127.0.0.1" || !strings.HasPrefix(s["user_agent"].(string), "Go-http-client") {
				t.Errorf("session %v", s)
			}
			if s["current"] == true {
				current++
			} else if other == 0 {
				other = int64(s["id"].(float64))
			}
		}
		if current != 1 {
			t.Errorf("%d current sessions", current)
		}

		// Another user's session, an unknown id, a malformed id: 404 alike.
		gusSessions := a.do("GET", "/me/sessions", accG, nil)
		var gl []map[string]any
		json.Unmarshal(gusSessions.body, &gl)
		gusID := strconv.FormatInt(int64(gl[0]["id"].(float64)), 10)
		for _, id := range []string{gusID, "999999999", "99999999999", "9223372036854775807", "abc", "-1", "0", "1e3"} {
			a.want(a.do("DELETE", "/me/sessions/"+id, accA, nil), 404)
		}
		a.want(a.do("GET", "/me", accG, nil), 200)

		a.want(a.do("DELETE", "/me/sessions/"+strconv.FormatInt(other, 10), accA, nil), 204)
		alive := 0
		for _, acc := range []string{accB, accC} {
			if a.do("GET", "/me", acc, nil).status == 200 {
				alive++
			}
		}
		if alive != 1 {
			t.Errorf("%d of the other two sessions alive after revoking one", alive)
		}

		a.want(a.do("POST", "/me/sessions/revoke-others", accA, nil), 204)
		a.want(a.do("GET", "/me", accB, nil), 401)
		a.want(a.do("GET", "/me", accC, nil), 401)
		a.want(a.do("GET", "/me", accA, nil), 200)
		a.want(a.do("GET", "/me", accG, nil), 200)
		r = a.do("GET", "/me/sessions", accA, nil)
		json.Unmarshal(r.body, &list)
		if len(list) != 1 || list[0]["current"] != true {
			t.Errorf("after revoke-others: %s", r.body)
		}
	})
}

func TestPasswordChange(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		a := newAPI(t, b, nil)
		a.register("hal")
		acc, _ := a.login("hal", goodPassword)
		other, otherRefresh := a.login("hal", goodPassword)
		change := func(token, current, next string) response {
			return a.do("POST", "/auth/password/change", token, map[string]string{"current_password": current, "new_password": next})
		}
		if p := a.want(change(acc, "wrong password", otherPassword), 403); p["type"] != authhttp.TypeWrongPassword {
			t.Errorf("wrong current: %v", p)
		}
		if p := a.want(change(acc, goodPassword, "short"), 422); p["field"] != "new_password" {
			t.Errorf("weak new: %v", p)
		}
		a.want(a.do("POST", "/auth/password/change", acc, `{"current_password":"x"`), 400)
		a.want(a.do("POST", "/auth/password/change", "", map[string]string{"current_password": goodPassword, "new_password": otherPassword}), 401)

		m := a.want(change(acc, goodPassword, otherPassword), 200)
		fresh := m["access_token"].(string)
		if m["token_type"] != "Bearer" || m["refresh_token"] == "" {
			t.Errorf("token response %v", m)
		}
		a.want(a.do("GET", "/me", fresh, nil), 200)
		// Every session that existed before the change ended.
		a.want(a.do("GET", "/me", acc, nil), 401)
		a.want(a.do("GET", "/me", other, nil), 401)
		a.want(a.do("POST", "/auth/refresh", "", map[string]string{"refresh_token": otherRefresh}), 401)
		a.want(a.do("POST", "/auth/login", "", map[string]string{"login": "hal", "password": goodPassword}), 401)
		a.login("hal", otherPassword)
	})
}

func TestJWKSAndFallbacks(t *testing.T) {
	a := newAPI(t, memBackend(), nil)
	r := a.do("GET", "/.well-known/jwks.json", "", nil)
	if r.status != 200 {
		t.Fatalf("jwks: %d", r.status)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(r.body, &set); err != nil || len(set.Keys) != 1 || set.Keys[0]["kty"] != "OKP" || set.Keys[0]["d"] != nil {
		t.Errorf("jwks %s (%v)", r.body, err)
	}
	for _, c := range []struct{ method, path, allow string }{
		{"GET", "/auth/login", "POST"}, {"PUT", "/auth/register", "POST"}, {"POST", "/me", "GET, HEAD"},
		{"GET", "/me/sessions/revoke-others", "POST"}, {"POST", "/me/sessions/5", "DELETE"},
		{"DELETE", "/.well-known/jwks.json", "GET, HEAD"},
	} {
		r := a.do(c.method, c.path, "", nil)
		a.want(r, 405)
		if r.header.Get("Allow") != c.allow {
			t.Errorf("%s %s: Allow %q", c.method, c.path, r.header.Get("Allow"))
		}
	}
	a.want(a.do("GET", "/nowhere", "", nil), 404)
	// The bearer check's 401 is session.RequireAuth's own body, so that a
	// host route behind it and the API answer alike.
	r = a.do("GET", "/me", "", nil)
	if want := `{"type":"about:blank","title":"Unauthorized","status":401,"detail":"valid credentials are required"}` + "\n"; string(r.body) != want {
		t.Errorf("401 body %s, want %s", r.body, want)
	}
	r = a.do("GET", "/nowhere", "", nil)
	for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
		"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'"} {
		if r.header.Get(k) != v {
			t.Errorf("%s: %q", k, r.header.Get(k))
		}
	}
	if r.header.Get("X-Correlation-ID") == "" {
		t.Error("no correlation id")
	}
}

// TestHostRoute: a host's own route behind RequireAuth, beside the API.
func TestHostRoute(t *testing.T) {
	a := newAPI(t, memBackend(), nil)
	mux := http.NewServeMux()
	mux.Handle("/", a.h)
	mux.Handle("GET /hello", a.h.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := session.PrincipalFromContext(r.Context())
		io.WriteString(w, "hello "+strconv.FormatInt(p.UserID, 10))
	})))
	a.srv.Config.Handler = mux
	a.register("ida")
	acc, _ := a.login("ida", goodPassword)
	r := a.do("GET", "/hello", acc, nil)
	if r.status != 200 || !strings.HasPrefix(string(r.body), "hello ") {
		t.Errorf("host route: %d %s", r.status, r.body)
	}
	a.want(a.do("GET", "/hello", "", nil), 401)
}

func TestErrorFunc(t *testing.T) {
	var seen []int
	a := newAPI(t, memBackend(), func(c *authhttp.Config) {
		c.ErrorFunc = func(w http.ResponseWriter, r *http.Request, p authhttp.Problem, err error) {
			seen = append(seen, p.Status)
			w.Header().Set("Content-Type", "application/vnd.host+json")
			w.WriteHeader(p.Status)
			json.NewEncoder(w).Encode(map[string]any{"code": p.Status, "message": p.Detail})
		}
	})
	r := a.do("POST", "/auth/login", "", map[string]string{"login": "x", "password": "y"})
	if r.status != 401 || r.header.Get("Content-Type") != "application/vnd.host+json" || !strings.Contains(string(r.body), `"code":401`) {
		t.Errorf("%d %s %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	a.do("GET", "/nowhere", "", nil)
	r = a.do("GET", "/me", "", nil) // the bearer check's refusal too
	if r.status != 401 || !strings.Contains(string(r.body), `"code":401`) || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("/me without a token: %d %v %s", r.status, r.header, r.body)
	}
	if !slices.Equal(seen, []int{401, 404, 401}) {
		t.Errorf("ErrorFunc saw %v", seen)
	}
}

func TestNewRefusesIncompleteConfig(t *testing.T) {
	if _, err := authhttp.New(authhttp.Config{}); err == nil || err.Error() != "authhttp: Config.Users: required" {
		t.Errorf("err = %v", err)
	}
}

// TestMount: a host whose mux has its own catch-all mounts the API on
// its paths only.
func TestMount(t *testing.T) {
	a := newAPI(t, memBackend(), nil)
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "host page") })
	a.h.Mount(mux)
	a.srv.Config.Handler = mux
	a.register("joan")
	acc, _ := a.login("joan", goodPassword)
	a.want(a.do("GET", "/me", acc, nil), 200)
	a.want(a.do("GET", "/me/sessions", acc, nil), 200)
	if r := a.do("GET", "/.well-known/jwks.json", "", nil); r.status != 200 {
		t.Errorf("jwks: %d", r.status)
	}
	a.want(a.do("GET", "/auth/nothing", "", nil), 404) // the API's own 404 under its prefix
	if r := a.do("GET", "/about", "", nil); r.status != 200 || string(r.body) != "host page" {
		t.Errorf("host catch-all: %d %s", r.status, r.body)
	}
}
