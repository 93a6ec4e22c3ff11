package authhttp_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/authhttp"
	"github.com/cedrina/cedrina/notify"
	"github.com/cedrina/cedrina/rbac"
	"github.com/cedrina/cedrina/reset"
	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/user"
)

// check stops an example at its first error.
func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

// The whole flow without HTTP, on the memory store: the services the
// handler is built from, in the order they must be built, each recording
// into one audit trail.
func Example_services() {
	ctx := context.Background()
	db := memory.New() // or postgres.Open(...) after schema.Migrate

	// The audit trail: events go through a batched writer into a
	// hash chain, HMAC'd under a key the application keeps.
	chainKey := make([]byte, 32)
	rand.Read(chainKey)
	trail, err := audit.NewService(db.Audit(), audit.Config{Key: chainKey})
	check(err)
	events, err := trail.NewWriter(audit.WriterConfig{})
	check(err)

	// Sessions first. A generated key dies with the process, and every
	// session with it: production loads one (session.ParsePrivateKeyPEM).
	key, err := session.GenerateKey(session.EdDSA, "")
	check(err)
	keys, err := session.NewKeySet(key)
	check(err)
	sessions, err := session.NewService(db.Sessions(), session.Config{
		Keys: keys, Issuer: "https://auth.example.com", Audience: []string{"api"}, Recorder: events,
	})
	check(err)
	// Then users, which end a user's sessions when the password changes.
	users, err := user.NewService(db.Users(), user.Config{Sessions: sessions, Recorder: events})
	check(err)

	// Register, log in with the password, start a session.
	_, err = users.Register(ctx, user.Registration{
		Username: "alice", Email: "alice@example.com", Password: "correct horse battery staple",
	})
	check(err)
	res, err := users.Login(ctx, "alice", "correct horse battery staple")
	check(err)
	tok, err := sessions.Start(ctx, res.User, session.Client{})
	check(err)

	// Every request: check the access token.
	p, err := sessions.Authenticate(ctx, tok.AccessToken)
	check(err)
	fmt.Println("authenticated:", p.Role, p.SessionID == tok.SessionID)

	// The access token expires in minutes; the refresh token gets a new
	// pair, once.
	next, err := sessions.Refresh(ctx, tok.RefreshToken)
	check(err)
	_, err = sessions.Refresh(ctx, tok.RefreshToken)
	fmt.Println("reused refresh token:", errors.Is(err, session.ErrTokenReuse))
	_, err = sessions.Authenticate(ctx, next.AccessToken)
	fmt.Println("after reuse:", err)

	// A new login, then logout: its tokens stop working at once.
	res, err = users.Login(ctx, "alice@example.com", "correct horse battery staple")
	check(err)
	tok, err = sessions.Start(ctx, res.User, session.Client{})
	check(err)
	p, err = sessions.Authenticate(ctx, tok.AccessToken)
	check(err)
	check(sessions.Logout(ctx, p))
	_, err = sessions.Authenticate(ctx, tok.AccessToken)
	fmt.Println("after logout:", err)

	// A forgotten password: the reset service sends a link to the
	// address through the host's Notifier (its mailer), from its own
	// goroutines; here the messages go to a channel.
	mail := make(chan notify.Message, 10)
	resets, err := reset.NewService(db.Resets(), db, reset.Config{
		Users: users, Sessions: sessions, Recorder: events, URL: "https://app.example.com/reset-password",
		Notifier: notify.Func(func(_ context.Context, m notify.Message) error { mail <- m; return nil }),
	})
	check(err)
	check(resets.Request(ctx, "alice@example.com", reset.Meta{})) // the same for any address
	link, err := url.Parse((<-mail).Link)
	check(err)
	// The page at the link posts its token with the new password.
	check(resets.Confirm(ctx, link.Query().Get("token"), "a new and long passphrase", reset.Meta{}))
	fmt.Println("then:", (<-mail).Kind)
	_, err = users.Login(ctx, "alice", "a new and long passphrase")
	fmt.Println("new password:", err == nil)

	// At shutdown, send the messages still queued and store every
	// accepted event; then verify the chain.
	check(resets.Close(ctx))
	check(events.Close(ctx))
	n, err := trail.Verify(ctx, 0, 0)
	check(err)
	fmt.Println("audit events verified:", n)
	page, err := trail.Query(ctx, audit.Query{})
	check(err)
	for i := len(page.Events) - 1; i >= 0; i-- { // oldest first
		fmt.Print(page.Events[i].Type, " ")
	}
	fmt.Println()
	// Output:
	// authenticated: USER true
	// reused refresh token: true
	// after reuse: session: revoked
	// after logout: session: revoked
	// then: password_changed
	// new password: true
	// audit events verified: 12
	// user_registered login_success session_created session_refreshed session_revoked token_reuse login_success session_created logout password_reset_requested password_reset_completed login_success
}

// A host mounts the handler beside its own routes and protects them with
// the same bearer-token check.
func Example() {
	db := memory.New()
	key, err := session.GenerateKey(session.EdDSA, "")
	check(err)
	keys, err := session.NewKeySet(key)
	check(err)
	sessions, err := session.NewService(db.Sessions(), session.Config{Keys: keys, Issuer: "https://auth.example.com", Audience: []string{"api"}})
	check(err)
	users, err := user.NewService(db.Users(), user.Config{Sessions: sessions})
	check(err)
	api, err := authhttp.New(authhttp.Config{Users: users, Sessions: sessions})
	check(err)

	mux := http.NewServeMux()
	mux.Handle("/", api)
	mux.Handle("GET /hello", api.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := session.PrincipalFromContext(r.Context())
		fmt.Fprintf(w, "hello, user %d", p.UserID)
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	post := func(path, body string) string {
		res, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
		check(err)
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.Status + " " + strings.TrimSpace(string(b))
	}
	fmt.Println(post("/auth/register", `{"username":"alice","email":"alice@example.com","password":"correct horse battery staple"}`)[:11])
	fmt.Println(post("/auth/login", `{"login":"alice","password":"wrong password"}`))

	res, err := http.Post(srv.URL+"/auth/login", "application/json",
		strings.NewReader(`{"login":"alice","password":"correct horse battery staple"}`))
	check(err)
	var tok authhttp.TokenResponse
	check(decode(res, &tok))
	fmt.Println(tok.TokenType, tok.ExpiresIn)

	req, _ := http.NewRequest("GET", srv.URL+"/hello", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	res, err = http.DefaultClient.Do(req)
	check(err)
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(string(b))
	// Output:
	// 201 Created
	// 401 Unauthorized {"type":"https://pkg.go.dev/github.com/cedrina/cedrina/authhttp#TypeInvalidCredentials","title":"Invalid credentials","status":401,"detail":"invalid credentials"}
	// Bearer 900
	// hello, user 1
}

// A host serves the administration routes with an Authorizer and
// bootstraps its first administrator in code: the default admin policy,
// then the ADMIN role for one account.
func Example_admin() {
	ctx := context.Background()
	db := memory.New()
	trail, err := audit.NewService(db.Audit(), audit.Config{})
	check(err)
	key, err := session.GenerateKey(session.EdDSA, "")
	check(err)
	keys, err := session.NewKeySet(key)
	check(err)
	sessions, err := session.NewService(db.Sessions(), session.Config{Keys: keys, Issuer: "https://auth.example.com", Audience: []string{"api"}})
	check(err)
	users, err := user.NewService(db.Users(), user.Config{Sessions: sessions, Recorder: trail})
	check(err)
	// The rules: rbac.NewMemoryStore in one process; on PostgreSQL, the
	// casbin_rules table through store/postgres, with its PolicyWatcher.
	az, err := rbac.New(ctx, rbac.Config{Store: rbac.NewMemoryStore(), Recorder: trail})
	check(err)
	defer az.Close(ctx)
	api, err := authhttp.New(authhttp.Config{Users: users, Sessions: sessions, Authorizer: az, Audit: trail})
	check(err)

	// Bootstrap, once: the admin policy (adding it again changes
	// nothing), then make an existing account ADMIN. The actor names who
	// did it in the audit trail.
	boot := audit.ContextWithActor(ctx, audit.Actor{Name: "bootstrap"})
	_, err = az.AddRules(boot, authhttp.AdminRules()...)
	check(err)
	alice, err := users.Register(ctx, user.Registration{Username: "alice", Email: "alice@example.com", Password: "correct horse battery staple"})
	check(err)
	_, err = users.SetRole(boot, alice.ID, user.RoleAdmin)
	check(err)

	srv := httptest.NewServer(api)
	defer srv.Close()
	res, err := http.Post(srv.URL+"/auth/login", "application/json",
		strings.NewReader(`{"login":"alice","password":"correct horse battery staple"}`))
	check(err)
	var tok authhttp.TokenResponse
	check(decode(res, &tok))
	req, _ := http.NewRequest("GET", srv.URL+"/admin/policies", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	res, err = http.DefaultClient.Do(req)
	check(err)
	var list authhttp.RuleList
	check(decode(res, &list))
	for _, r := range list.Rules {
		fmt.Println(res.StatusCode, r.Type, r.Values, r.CreatedBy)
	}
	// Output:
	// 200 p [admin /admin/* *] bootstrap
}

// On PostgreSQL, every instance follows the policy in casbin_rules: a
// PolicyWatcher tells each instance's Authorizer of the changes made
// through the others. (It needs a server, so it is compiled, not run.)
func Example_policyWatcher() {
	ctx := context.Background()
	databaseURL := os.Getenv("DATABASE_URL")
	db, err := postgres.Open(ctx, databaseURL, postgres.Config{}) // then schema.Migrate
	check(err)
	defer db.Close()
	// Listen first, on a connection of its own: no change committed after
	// this returns is missed; after a lost connection it reloads.
	watcher, err := postgres.NewPolicyWatcher(databaseURL, postgres.WatcherConfig{DB: db.SQLX().DB})
	check(err)
	defer watcher.Close() // after the Authorizer's Close: defers run last in, first out
	trail, err := audit.NewService(db.Audit(), audit.Config{})
	check(err)
	az, err := rbac.New(ctx, rbac.Config{Store: db.Rules(), Watcher: watcher, Recorder: trail})
	check(err)
	defer az.Close(ctx)
	users, sessions := newServices(db)
	api, err := authhttp.New(authhttp.Config{Users: users, Sessions: sessions, Authorizer: az, Audit: trail})
	check(err)
	listen(api) // until shutdown
}

// newServices builds the session and user services on db.
func newServices(db *postgres.DB) (*user.Service, *session.Service) {
	key, err := session.GenerateKey(session.EdDSA, "") // production loads one: session.ParsePrivateKeyPEM
	check(err)
	keys, err := session.NewKeySet(key)
	check(err)
	sessions, err := session.NewService(db.Sessions(), session.Config{Keys: keys, Issuer: "https://auth.example.com", Audience: []string{"api"}})
	check(err)
	users, err := user.NewService(db.Users(), user.Config{Sessions: sessions})
	check(err)
	return users, sessions
}

// listen serves h on :8080 until the server fails.
func listen(h http.Handler) { log.Print(http.ListenAndServe(":8080", h)) }

// decode reads a JSON response body into v.
func decode(res *http.Response, v any) error {
	defer res.Body.Close()
	return json.NewDecoder(res.Body).Decode(v)
}
