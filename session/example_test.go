package session_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/user"
)

// exampleUsers returns a user service on db with one registered account,
// alice, whose password is pw. Its hasher is deliberately cheap (argon2id
// with 64 KiB and one pass) so that the examples run fast; a real service
// keeps the default, user.Config{}.
func exampleUsers(db *memory.DB, sessions *session.Service) (users *user.Service, pw string) {
	hasher, err := user.NewHasher(user.HashConfig{Argon2id: user.Argon2idParams{Memory: 64, Time: 1}})
	if err != nil {
		panic(err)
	}
	cfg := user.Config{Hasher: hasher}
	if sessions != nil {
		cfg.Sessions = sessions // a password change or deactivation ends the user's sessions
	}
	users, err = user.NewService(db.Users(), cfg)
	if err != nil {
		panic(err)
	}
	pw = "correct horse battery staple"
	_, err = users.Register(context.Background(), user.Registration{Username: "alice", Email: "alice@example.com", Password: pw})
	if err != nil {
		panic(err)
	}
	return users, pw
}

// The life of a session: a login starts it, the access token authenticates
// requests, the refresh token is exchanged for new tokens, a replayed
// refresh token ends the session, and a logout ends another one.
//
// GenerateKey makes a fresh random key at every call. That suits an
// example or a test, but a service that generates its key at start-up
// logs everyone out whenever it restarts: tokens signed by the previous
// process's key no longer verify. A production service loads a persisted
// key with [session.ParsePrivateKeyPEM] (see its example).
func Example() {
	ctx := context.Background()
	db := memory.New()

	key, err := session.GenerateKey(session.EdDSA, "key-1")
	if err != nil {
		panic(err)
	}
	keys, err := session.NewKeySet(key)
	if err != nil {
		panic(err)
	}
	trail, err := audit.NewService(db.Audit(), audit.Config{})
	if err != nil {
		panic(err)
	}
	sessions, err := session.NewService(db.Sessions(), session.Config{
		Keys:     keys,
		Issuer:   "https://auth.example.com",
		Audience: []string{"api"},
		Recorder: trail,
	})
	if err != nil {
		panic(err)
	}
	users, pw := exampleUsers(db, sessions)

	// Log in, then start a session for the user as the login read it.
	res, err := users.Login(ctx, "alice", pw)
	if err != nil {
		panic(err)
	}
	tok, err := sessions.Start(ctx, res.User, session.Client{UserAgent: "example/1"})
	if err != nil {
		panic(err)
	}

	// Every request: check the access token and the session behind it.
	p, err := sessions.Authenticate(ctx, tok.AccessToken)
	if err != nil {
		panic(err)
	}
	fmt.Println("authenticated:", p.UserID == res.User.ID, p.SessionID == tok.SessionID, p.Role)

	// When the access token expires: a new pair, the old refresh token spent.
	next, err := sessions.Refresh(ctx, tok.RefreshToken)
	if err != nil {
		panic(err)
	}
	fmt.Println("refreshed:", next.SessionID == tok.SessionID, next.RefreshToken != tok.RefreshToken)

	// The spent refresh token again: a stolen or replayed token. The whole
	// session ends, for the thief and the legitimate client alike.
	_, err = sessions.Refresh(ctx, tok.RefreshToken)
	fmt.Println(err, errors.Is(err, session.ErrTokenReuse), errors.Is(err, session.ErrUnauthenticated))
	_, err = sessions.Authenticate(ctx, next.AccessToken)
	fmt.Println(err)
	page, err := trail.Query(ctx, audit.Query{Types: []audit.EventType{audit.TokenReuse}})
	if err != nil {
		panic(err)
	}
	fmt.Println("token_reuse events:", len(page.Events))

	// A second login, ended by a logout: it takes effect at once.
	tok, err = sessions.Start(ctx, res.User, session.Client{})
	if err != nil {
		panic(err)
	}
	p, err = sessions.Authenticate(ctx, tok.AccessToken)
	if err != nil {
		panic(err)
	}
	if err := sessions.Logout(ctx, p); err != nil {
		panic(err)
	}
	_, err = sessions.Authenticate(ctx, tok.AccessToken)
	fmt.Println("after logout:", err)
	// Output:
	// authenticated: true true USER
	// refreshed: true true
	// session: refresh token reused, session revoked true true
	// session: revoked
	// token_reuse events: 1
	// after logout: session: revoked
}

// RequireAuth lets through only requests with a valid access token, and
// hands the handler the request's [session.Principal]. Other requests get
// a 401 with a problem+json body and a Bearer challenge.
func ExampleService_RequireAuth() {
	ctx := context.Background()
	db := memory.New()
	key, err := session.GenerateKey(session.EdDSA, "key-1") // see Example: persist keys in production
	if err != nil {
		panic(err)
	}
	keys, err := session.NewKeySet(key)
	if err != nil {
		panic(err)
	}
	sessions, err := session.NewService(db.Sessions(), session.Config{Keys: keys, Issuer: "https://auth.example.com", Audience: []string{"api"}})
	if err != nil {
		panic(err)
	}
	users, pw := exampleUsers(db, sessions)
	res, err := users.Login(ctx, "alice", pw)
	if err != nil {
		panic(err)
	}
	tok, err := sessions.Start(ctx, res.User, session.Client{})
	if err != nil {
		panic(err)
	}

	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := session.PrincipalFromContext(r.Context())
		fmt.Fprintf(w, "hello, user %d (%s)\n", p.UserID, p.Role)
	})
	h := sessions.RequireAuth(session.MiddlewareConfig{})(api)

	// No credentials: refused.
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/me", nil))
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	fmt.Print(rec.Body.String())

	// A bad token: the same body, whatever was wrong with it.
	req := httptest.NewRequest(http.MethodGet, "/api/me", nil)
	req.Header.Set("Authorization", "Bearer not-a-token")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))

	// The access token from Start: let through.
	req = httptest.NewRequest(http.MethodGet, "/api/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code)
	fmt.Print(rec.Body.String())
	// Output:
	// 401 Bearer realm="cedrina"
	// {"type":"about:blank","title":"Unauthorized","status":401,"detail":"valid credentials are required"}
	// 401 Bearer realm="cedrina", error="invalid_token"
	// 200
	// hello, user 1 (USER)
}

// The JWKS handler publishes the public half of every key of the set, for
// other services to verify tokens with (see [session.NewVerifier]).
func ExampleKeySet_JWKSHandler() {
	key, err := session.GenerateKey(session.EdDSA, "key-2026-06") // see Example: persist keys in production
	if err != nil {
		panic(err)
	}
	keys, err := session.NewKeySet(key)
	if err != nil {
		panic(err)
	}

	mux := http.NewServeMux()
	mux.Handle("/.well-known/jwks.json", keys.JWKSHandler())
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil))
	fmt.Println(rec.Code, rec.Header().Get("Content-Type"), rec.Header().Get("Cache-Control"))

	var doc struct {
		Keys []map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		panic(err)
	}
	for _, k := range doc.Keys {
		_, private := k["d"]
		fmt.Println(k["kid"], k["kty"], k["crv"], k["alg"], k["use"], "private part:", private)
	}

	// Another service builds a Verifier from the document alone.
	v, err := session.NewVerifier(rec.Body.Bytes(), session.VerifierConfig{Issuer: "https://auth.example.com", Audience: []string{"api"}})
	fmt.Println(v != nil, err)
	// Output:
	// 200 application/jwk-set+json public, max-age=300
	// key-2026-06 OKP Ed25519 EdDSA sig private part: false
	// true <nil>
}

// A production service keeps its signing key as a secret and loads the
// same key at every start, so tokens issued before a restart stay valid
// after it. Here the key is generated and written once (an operator's
// step; in production, to a secret manager or a file of mode 0600), then
// loaded by two successive processes, each with its own Service; the
// store stands in for the PostgreSQL database they share.
//
// Contrast a key generated at start-up: the "restarted" service built on
// a fresh GenerateKey refuses the token.
func ExampleParsePrivateKeyPEM() {
	ctx := context.Background()
	db := memory.New()

	// Once, by the operator.
	generated, err := session.GenerateKey(session.EdDSA, "")
	if err != nil {
		panic(err)
	}
	pemBytes, err := generated.MarshalPrivateKeyPEM()
	if err != nil {
		panic(err)
	}
	dir, err := os.MkdirTemp("", "cedrina-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	keyFile := filepath.Join(dir, "signing-key.pem")
	if err := os.WriteFile(keyFile, pemBytes, 0o600); err != nil {
		panic(err)
	}

	// At every start of the service.
	start := func() *session.Service {
		pemBytes, err := os.ReadFile(keyFile)
		if err != nil {
			panic(err)
		}
		key, err := session.ParsePrivateKeyPEM("", pemBytes) // "": the kid is the key's RFC 7638 thumbprint
		if err != nil {
			panic(err)
		}
		keys, err := session.NewKeySet(key)
		if err != nil {
			panic(err)
		}
		sessions, err := session.NewService(db.Sessions(), session.Config{Keys: keys, Issuer: "https://auth.example.com", Audience: []string{"api"}})
		if err != nil {
			panic(err)
		}
		return sessions
	}

	first := start()
	users, pw := exampleUsers(db, nil)
	res, err := users.Login(ctx, "alice", pw)
	if err != nil {
		panic(err)
	}
	tok, err := first.Start(ctx, res.User, session.Client{})
	if err != nil {
		panic(err)
	}

	restarted := start()
	_, err = restarted.Authenticate(ctx, tok.AccessToken)
	fmt.Println("same key after a restart:", err)

	fresh, err := session.GenerateKey(session.EdDSA, "")
	if err != nil {
		panic(err)
	}
	keys, err := session.NewKeySet(fresh)
	if err != nil {
		panic(err)
	}
	regenerated, err := session.NewService(db.Sessions(), session.Config{Keys: keys, Issuer: "https://auth.example.com", Audience: []string{"api"}})
	if err != nil {
		panic(err)
	}
	_, err = regenerated.Authenticate(ctx, tok.AccessToken)
	fmt.Println("a key generated at start-up:", err)
	// Output:
	// same key after a restart: <nil>
	// a key generated at start-up: session: invalid token: kid unknown
}
