package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/authhttp"
	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/oauth"
	"github.com/cedrina/cedrina/oauth/oauthtest"
	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/store/postgres"
)

// The keys of these tests, and a client secret: none may appear in the
// logs or in an error.
var (
	testTokenKeys = "k2:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, 32)) +
		",k1:" + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0x3c}, 32))
	testStateKey     = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x7e}, 32))
	testClientSecret = "s3cret-client-value"
)

// writeFile writes content to a file of mode 0600 in a temporary
// directory and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseOAuthFile(t *testing.T) {
	provider := func(name string, extra string) string {
		return `{"name":"` + name + `","client_id":"id","client_secret":"` + testClientSecret +
			`","redirect_url":"https://auth.example.com/auth/oauth/` + name + `/callback"` + extra + `}`
	}
	good := `{"providers":[` + strings.Join([]string{
		provider("google", ""), provider("microsoft", `,"tenant":"organizations"`), provider("facebook", `,"api_url":"https://graph.example.com"`),
		provider("github", `,"auth_url":"https://gh.example.com/a","token_url":"https://gh.example.com/t","api_url":"https://api.gh.example.com","scopes":["read:user"]`),
		provider("acme", `,"issuer":"https://sso.acme.example"`),
	}, ",") + `],"return_to":["https://app.example.com/","/account"],"default_return_to":"/account","callback":"redirect"}`
	s, err := parseOAuthFile([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	var names, stored []string
	for _, p := range s.providers {
		names, stored = append(names, p.Name()), append(stored, p.StoredName())
	}
	if !slices.Equal(names, []string{"google", "microsoft", "facebook", "github", "acme"}) ||
		!slices.Equal(stored, []string{"GOOGLE", "MICROSOFT", "FACEBOOK", "GITHUB", "ACME"}) {
		t.Errorf("providers %v %v", names, stored)
	}
	if s.providers[0].Issuer() != "https://accounts.google.com" || s.providers[4].Issuer() != "https://sso.acme.example" {
		t.Errorf("issuers %q %q", s.providers[0].Issuer(), s.providers[4].Issuer())
	}
	if s.callback != authhttp.OAuthRedirect || s.defaultReturnTo != "/account" || len(s.returnTo) != 2 {
		t.Errorf("settings %+v", s)
	}
	if s, err := parseOAuthFile([]byte(`{"providers":[` + provider("google", `,"issuer":"https://idp.example.com"`) + `]}`)); err != nil ||
		s.providers[0].Issuer() != "https://idp.example.com" || s.callback != authhttp.OAuthTokenResponse {
		t.Errorf("issuer overriding Google's: %v", err)
	}

	for _, c := range []struct{ name, file, want string }{
		{"unknown member", `{"providers":[` + provider("google", `,"clientsecret":"x"`) + `]}`, `unknown field "clientsecret"`},
		{"unknown top-level member", `{"providers":[` + provider("google", "") + `],"callbacks":"token"}`, `unknown field "callbacks"`},
		{"no provider", `{"providers":[]}`, "providers: at least one is required"},
		{"bad callback", `{"providers":[` + provider("google", "") + `],"callback":"cookie"}`, `callback: must be "token" or "redirect"`},
		{"OIDC without issuer", `{"providers":[` + provider("acme", "") + `]}`, "providers[0] (acme): oauth: ProviderConfig.Issuer: required"},
		{"issuer on github", `{"providers":[` + provider("github", `,"issuer":"https://x.example"`) + `]}`, "issuer is for OpenID Connect providers"},
		{"endpoints on google", `{"providers":[` + provider("google", `,"token_url":"https://x.example"`) + `]}`, "auth_url, token_url and api_url are for github and facebook"},
		{"tenant on google", `{"providers":[` + provider("google", `,"tenant":"x"`) + `]}`, "tenant is for microsoft only"},
		{"no name", `{"providers":[` + provider("", "") + `]}`, "name: required"},
		{"bad name", `{"providers":[` + provider("Bad Name", `,"issuer":"https://x.example"`) + `]}`, "providers[0] (invalid name): oauth: name:"},
		{"no client secret", `{"providers":[{"name":"google","client_id":"id","redirect_url":"https://a.example/cb"}]}`, "ClientSecret: required"},
		{"no redirect URL", `{"providers":[{"name":"google","client_id":"id","client_secret":"` + testClientSecret + `"}]}`, "RedirectURL"},
		{"wrong type", `{"providers":[{"name":"google","scopes":"openid"}]}`, "providers.scopes: must be a JSON []string"},
		{"malformed", `{"providers":[` + provider("google", "") + `,]}`, "malformed JSON at byte"},
		{"two values", `{"providers":[` + provider("google", "") + `]} {}`, "more than one JSON value"},
		{"empty", ``, "empty or truncated"},
	} {
		_, err := parseOAuthFile([]byte(c.file))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		} else if strings.Contains(err.Error(), testClientSecret) {
			t.Errorf("%s: the error quotes the secret: %v", c.name, err)
		}
	}
}

func TestParseOAuthOptions(t *testing.T) {
	o, err := parseOptions([]string{"--oauth-config", "/etc/app/oauth.json", "--oauth-token-keys-file", "/etc/app/keys",
		"--oauth-state-key-file", "/etc/app/state"}, noEnv, io.Discard)
	if err != nil || o.oauthConfig != "/etc/app/oauth.json" || o.oauthTokenKeysFile != "/etc/app/keys" || o.oauthStateKeyFile != "/etc/app/state" {
		t.Errorf("%+v, %v", o, err)
	}
	for _, args := range [][]string{{"--oauth-token-keys-file", "/k"}, {"--oauth-state-key-file", "/s"}} {
		var out bytes.Buffer
		if _, err := parseOptions(args, noEnv, &out); !errors.Is(err, errUsage) || !strings.Contains(out.String(), "need --oauth-config") {
			t.Errorf("%q: %v %q", args, err, out.String())
		}
	}
	var usage bytes.Buffer
	parseOptions([]string{"-h"}, noEnv, &usage)
	for _, s := range []string{"-oauth-config", "-oauth-token-keys-file", "-oauth-state-key-file", envOAuthTokenKeys, envOAuthStateKey} {
		if !strings.Contains(usage.String(), s) {
			t.Errorf("usage lacks %s", s)
		}
	}
}

// TestLoadOAuthKeys: the token keys and the state key come from their
// files or from the environment; without token keys the program does not
// start; a bad key is refused naming where it came from, never quoting
// it; without a state key, a warning.
func TestLoadOAuthKeys(t *testing.T) {
	cfg := writeFile(t, "oauth.json", `{"providers":[{"name":"acme","issuer":"https://sso.acme.example","client_id":"id",`+
		`"client_secret":"`+testClientSecret+`","redirect_url":"https://auth.example.com/auth/oauth/acme/callback"}]}`)
	env := func(vars map[string]string) func(string) string { return func(k string) string { return vars[k] } }
	load := func(o options, getenv func(string) string) (*oauthSettings, *logBuffer, error) {
		logs := &logBuffer{}
		s, err := loadOAuth(newLogger(logs), o, getenv)
		if err != nil && (strings.Contains(err.Error(), "5a5a") || strings.Contains(err.Error(), testClientSecret)) {
			t.Errorf("the error quotes a secret: %v", err)
		}
		logs.noSecrets(t, testTokenKeys[3:20], testStateKey[:20], testClientSecret)
		return s, logs, err
	}

	if s, _, err := load(options{}, noEnv); s != nil || err != nil {
		t.Errorf("without --oauth-config: %v, %v", s, err)
	}
	_, _, err := load(options{oauthConfig: cfg}, noEnv)
	if err == nil || !strings.Contains(err.Error(), envOAuthTokenKeys) || !strings.Contains(err.Error(), "--oauth-token-keys-file") {
		t.Errorf("no token keys: %v", err)
	}

	s, logs, err := load(options{oauthConfig: cfg}, env(map[string]string{envOAuthTokenKeys: testTokenKeys}))
	if err != nil {
		t.Fatal(err)
	}
	if s.cipher.Current() != "k2" || s.stateKey != nil || len(logs.records(t, "oauth: external sign-in")) != 1 {
		t.Errorf("from the environment: %+v\n%s", s, logs)
	}
	if !strings.Contains(logs.String(), "no state key") {
		t.Errorf("no warning about the random state key:\n%s", logs)
	}
	// Sealed with k1 opens with the parsed cipher (the previous key).
	k1, _ := oauth.ParseKeys(testTokenKeys[strings.IndexByte(testTokenKeys, ',')+1:])
	if tok, err := s.cipher.Open(k1.Seal("t", 1, "ACME"), 1, "ACME"); err != nil || tok != "t" {
		t.Errorf("previous key: %q, %v", tok, err)
	}

	s, logs, err = load(options{oauthConfig: cfg, oauthTokenKeysFile: writeFile(t, "keys", testTokenKeys+"\n"),
		oauthStateKeyFile: writeFile(t, "state", testStateKey+"\n")},
		env(map[string]string{envOAuthTokenKeys: "ignored:AAAA", envOAuthStateKey: "ignored"}))
	if err != nil || s.cipher.Current() != "k2" || !bytes.Equal(s.stateKey, bytes.Repeat([]byte{0x7e}, 32)) || strings.Contains(logs.String(), "no state key") {
		t.Errorf("from files: %+v, %v\n%s", s, err, logs)
	}
	s, _, err = load(options{oauthConfig: cfg}, env(map[string]string{envOAuthTokenKeys: testTokenKeys, envOAuthStateKey: testStateKey}))
	if err != nil || len(s.stateKey) != 32 {
		t.Errorf("state key from the environment: %v", err)
	}

	for _, c := range []struct {
		name string
		o    options
		env  map[string]string
		want string
	}{
		{"short token key", options{oauthConfig: cfg}, map[string]string{envOAuthTokenKeys: "k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, 16))},
			"$" + envOAuthTokenKeys + ": oauth: key 1 (\"k1\"): secret is not base64 of 32 bytes"},
		{"token key without id", options{oauthConfig: cfg}, map[string]string{envOAuthTokenKeys: testStateKey}, "want id:base64"},
		{"bad token keys file", options{oauthConfig: cfg, oauthTokenKeysFile: writeFile(t, "bad-keys", "k1:5a5a5a5a")}, nil,
			"--oauth-token-keys-file"},
		{"missing token keys file", options{oauthConfig: cfg, oauthTokenKeysFile: "/nonexistent/keys"}, nil, "--oauth-token-keys-file"},
		{"short state key", options{oauthConfig: cfg}, map[string]string{envOAuthTokenKeys: testTokenKeys, envOAuthStateKey: "5a5a5a5a"},
			"$" + envOAuthStateKey + ": not base64 of 32 bytes"},
		{"bad state key file", options{oauthConfig: cfg, oauthStateKeyFile: writeFile(t, "bad-state", "5a5a5a5a%%")},
			map[string]string{envOAuthTokenKeys: testTokenKeys}, "--oauth-state-key-file"},
		{"missing config", options{oauthConfig: "/nonexistent/oauth.json"}, map[string]string{envOAuthTokenKeys: testTokenKeys}, "--oauth-config"},
		{"bad config", options{oauthConfig: writeFile(t, "bad.json", `{"providers":[{"name":"google","client_secret":"`+testClientSecret+`"}]}`)},
			map[string]string{envOAuthTokenKeys: testTokenKeys}, "ProviderConfig.ClientID: required"},
	} {
		if _, _, err := load(c.o, env(c.env)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}

	// A key file others may read: a warning.
	loose := writeFile(t, "loose", testTokenKeys)
	if err := os.Chmod(loose, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, logs, err := load(options{oauthConfig: cfg, oauthTokenKeysFile: loose}, noEnv); err != nil || !strings.Contains(logs.String(), "chmod 600") {
		t.Errorf("loose key file: %v\n%s", err, logs)
	}
}

// TestRunOAuthRefusesWithoutKeys: --oauth-config without token keys stops
// the program before it listens.
func TestRunOAuthRefusesWithoutKeys(t *testing.T) {
	cfg := writeFile(t, "oauth.json", `{"providers":[{"name":"acme","issuer":"https://sso.acme.example","client_id":"id",`+
		`"client_secret":"`+testClientSecret+`","redirect_url":"https://auth.example.com/auth/oauth/acme/callback"}]}`)
	var logs logBuffer
	listened := false
	err := run(context.Background(), []string{"--addr", "127.0.0.1:0", "--oauth-config", cfg}, noEnv, &logs,
		func(string) { listened = true })
	if err == nil || listened || !strings.Contains(err.Error(), envOAuthTokenKeys) {
		t.Errorf("run: %v (listened: %t)", err, listened)
	}
	logs.noSecrets(t, testClientSecret)
}

// freeAddr returns a loopback address no one listens on at the moment:
// the program's OAuth redirect URL must name its address before it
// starts, so the test cannot let it pick port 0.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// oauthFlow runs the program with --oauth-config naming a fake OpenID
// Connect provider "acme" (and getenv's DATABASE_URL, if any) and signs
// in through it: start, the provider, the callback, GET /me. The
// program speaks plain HTTP and the state cookie is Secure, which a
// cookie jar would not send back over HTTP: the test carries it from
// start's Set-Cookie to the callback by hand, as a browser does on
// http://localhost. It returns the secrets used and the logs.
func oauthFlow(t *testing.T, getenv func(string) string) ([]string, *logBuffer) {
	t.Helper()
	addr := freeAddr(t)
	base := "http://" + addr
	fake := oauthtest.New(t, oauthtest.Config{RedirectURLs: []string{base + "/auth/oauth/acme/callback"}, ClientSecret: testClientSecret})
	fake.SetUser(oauthtest.User{Subject: "sam-sub", Email: "sam@example.com", EmailVerified: true, Name: "Sam", PreferredUsername: "sam"})
	conf, err := json.Marshal(map[string]any{
		"providers": []map[string]any{{"name": "acme", "issuer": fake.Issuer(), "client_id": fake.ClientID(),
			"client_secret": fake.ClientSecret(), "redirect_url": base + "/auth/oauth/acme/callback"}},
		"return_to": []string{"/account"},
	})
	if err != nil {
		t.Fatal(err)
	}
	env := func(k string) string {
		if k == envOAuthTokenKeys {
			return testTokenKeys
		}
		return getenv(k)
	}
	_, logs, stop, wait := startRun(t, env, "--addr", addr, "--oauth-config", writeFile(t, "oauth.json", string(conf)),
		"--oauth-state-key-file", writeFile(t, "state", testStateKey))

	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.Get(base + "/auth/oauth/acme/start?return_to=/account")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	var state *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == oauth.StateCookieName {
			state = c
		}
	}
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, fake.AuthURL()+"?") || state == nil || !state.Secure {
		t.Fatalf("start: %d %q %+v", resp.StatusCode, loc, state)
	}
	back, err := fake.Authorize(loc)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", back.String(), nil)
	req.AddCookie(&http.Cookie{Name: state.Name, Value: state.Value})
	resp, err = noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok authhttp.TokenResponse
	err = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil || tok.AccessToken == "" {
		t.Fatalf("callback: %d %+v %v", resp.StatusCode, tok, err)
	}
	c := client{t: t, base: base}
	if me := c.want("GET", "/me", tok.AccessToken, nil, http.StatusOK); me["username"] != "sam" || me["is_verified"] != true {
		t.Errorf("/me %v", me)
	}
	ids := c.want("GET", "/me/identities", tok.AccessToken, nil, http.StatusOK)
	if list, _ := ids["identities"].([]any); len(list) != 1 || list[0].(map[string]any)["provider"] != "acme" {
		t.Errorf("identities %v", ids)
	}
	// The state is spent: the same callback again is refused.
	resp, err = noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("replayed callback: %d", resp.StatusCode)
	}
	c.want("DELETE", "/me/identities/acme", tok.AccessToken, nil, http.StatusConflict) // the account's only sign-in
	stop()
	if err := wait(); err != nil {
		t.Fatalf("run: %v", err)
	}
	out := logs.String()
	if !strings.Contains(out, "oauth: external sign-in") || strings.Contains(out, "no state key") {
		t.Errorf("log:\n%s", out)
	}
	return []string{testClientSecret, testTokenKeys[3:40], testStateKey[:40], back.Query().Get("code"), back.Query().Get("state"),
		state.Value, tok.AccessToken, tok.RefreshToken}, logs
}

// TestRunOAuthMemory signs in with an external identity through the
// program on the in-memory store.
func TestRunOAuthMemory(t *testing.T) {
	secrets, logs := oauthFlow(t, noEnv)
	logs.noSecrets(t, secrets...)
}

// TestRunOAuthPostgres does it on PostgreSQL: the identity is in
// oauth_profiles, its tokens sealed, and the events in the audit trail.
func TestRunOAuthPostgres(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.URL(t)
	secrets, logs := oauthFlow(t, func(k string) string {
		if k == "DATABASE_URL" {
			return dbURL
		}
		return ""
	})
	logs.noSecrets(t, append(secrets, dbURL)...)

	ctx := context.Background()
	db, err := postgres.Open(ctx, dbURL, postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var provider, access string
	if err := db.SQLX().QueryRowContext(ctx, `SELECT provider, access_token FROM oauth_profiles`).Scan(&provider, &access); err != nil {
		t.Fatal(err)
	}
	if id, ok := oauth.KeyID(access); provider != "ACME" || !ok || id != "k2" {
		t.Errorf("stored %s, access token sealed under %q (%t)", provider, id, ok)
	}
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
	for _, want := range []audit.EventType{audit.UserRegistered, audit.OAuthLinked, audit.OAuthLogin, audit.OAuthRefused, audit.SessionCreated} {
		if !slices.Contains(got, want) {
			t.Errorf("no %s event in %v", want, got)
		}
	}
}

// TestAppOAuthRedirect: with "callback": "redirect" the callback sets the
// session cookie and redirects to return_to, and the API then takes the
// cookie, for unsafe requests only from --public-url's origin.
func TestAppOAuthRedirect(t *testing.T) {
	const redirect = "https://auth.example.com/auth/oauth/acme/callback"
	fake := oauthtest.New(t, oauthtest.Config{RedirectURLs: []string{redirect}})
	s, err := parseOAuthFile([]byte(`{"providers":[{"name":"acme","issuer":"` + fake.Issuer() + `","client_id":"` + fake.ClientID() +
		`","client_secret":"` + fake.ClientSecret() + `","redirect_url":"` + redirect + `"}],` +
		`"return_to":["https://app.example.com/"],"callback":"redirect"}`))
	if err != nil {
		t.Fatal(err)
	}
	if s.cipher, err = oauth.ParseKeys(testTokenKeys); err != nil {
		t.Fatal(err)
	}
	a, _ := newTestApp(t, memStores(), appConfig{oauth: s, publicURL: "https://app.example.com/front", noSeedPolicy: true})
	h := a.routes()

	w := request(h, "GET", "/auth/oauth/acme/start", "")
	var state string
	for _, c := range w.Result().Cookies() {
		if c.Name == oauth.StateCookieName {
			state = c.Value
		}
	}
	if w.Code != http.StatusFound || state == "" {
		t.Fatalf("start: %d %v", w.Code, w.Header())
	}
	back, err := fake.Authorize(w.Header().Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	w = request(h, "GET", back.RequestURI(), "", "Cookie", oauth.StateCookieName+"="+state)
	var sess string
	for _, c := range w.Result().Cookies() {
		if c.Name == session.CookieName {
			sess = c.Value
		}
	}
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "https://app.example.com/" || sess == "" {
		t.Fatalf("callback: %d %v %s", w.Code, w.Header(), w.Body)
	}
	cookie := session.CookieName + "=" + sess
	if w := request(h, "GET", "/me", "", "Cookie", cookie); w.Code != http.StatusOK {
		t.Errorf("/me by cookie: %d %s", w.Code, w.Body)
	}
	link := "/me/identities/acme/link"
	if w := request(h, "POST", link, "", "Cookie", cookie, "Origin", "https://app.example.com"); w.Code != http.StatusOK {
		t.Errorf("link from the front end's origin: %d %s", w.Code, w.Body)
	}
	wantProblem(t, request(h, "POST", link, "", "Cookie", cookie, "Origin", "https://evil.example"), http.StatusForbidden)
}
