package session_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/store/storetest"
	"github.com/cedrina/cedrina/user"
)

// TestTokenSizeLimit: one limit, MaxTokenSize, for Authenticate, a
// Verifier and RequireAuth. Tokens validly signed for a live session, of
// every size around the limit: up to it they are accepted everywhere,
// beyond it refused everywhere.
func TestTokenSizeLimit(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)}
	key, err := session.GenerateKey(session.EdDSA, "size")
	if err != nil {
		t.Fatal(err)
	}
	ks, err := session.NewKeySet(key)
	if err != nil {
		t.Fatal(err)
	}
	const iss = "https://auth.example"
	db := memory.New()
	svc, err := session.NewService(db.Sessions(), session.Config{Keys: ks, Issuer: iss, Audience: []string{"api"}, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	u := storetest.NewUser("sizes")
	u.PasswordChangedAt = c.Now().Add(-time.Hour)
	if err := db.Users().Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	started, err := svc.Start(ctx, u, session.Client{})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := ks.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	v, err := session.NewVerifier(doc, session.VerifierConfig{Issuer: iss, Audience: []string{"api"}, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	pemKey, err := key.MarshalPrivateKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	priv, err := jwt.ParseEdPrivateKeyFromPEM(pemKey)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(hpad, ppad string) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{
			"iss": iss, "sub": strconv.FormatInt(u.ID, 10), "aud": []string{"api"},
			"exp": c.Now().Add(15 * time.Minute).Unix(), "iat": c.Now().Unix(), "jti": "j1",
			"sid": strconv.FormatInt(started.SessionID, 10), "pad": ppad,
		})
		tok.Header["typ"], tok.Header["kid"], tok.Header["xpad"] = "at+jwt", key.ID(), hpad
		s, err := tok.SignedString(priv)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	h := svc.RequireAuth(session.MiddlewareConfig{})(whoami())
	for _, tc := range []struct {
		name string
		size int
		ok   bool
	}{
		{"1 KiB", 1024, true},
		{"one byte under", session.MaxTokenSize - 1, true},
		{"exactly MaxTokenSize", session.MaxTokenSize, true},
		{"one byte over", session.MaxTokenSize + 1, false},
		{"two bytes over", session.MaxTokenSize + 2, false},
		{"8 KiB", 8 << 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := session.TokenOfSize(t, tc.size, sign)
			_, aerr := svc.Authenticate(ctx, tok)
			_, verr := v.Verify(tok)
			w := serve(h, bearerRequest("GET", tok))
			if tc.ok {
				if aerr != nil || verr != nil || w.Code != http.StatusOK {
					t.Fatalf("refused: Authenticate %v, Verify %v, RequireAuth %d", aerr, verr, w.Code)
				}
				return
			}
			for name, err := range map[string]error{"Authenticate": aerr, "Verify": verr} {
				if !errors.Is(err, session.ErrInvalidToken) {
					t.Errorf("%s: err = %v, want ErrInvalidToken", name, err)
				} else if strings.Contains(err.Error(), tok[:40]) {
					t.Errorf("%s: the error quotes the token", name)
				}
			}
			want401(t, w, challengeInvalid)
		})
	}
}

// TestStartRefusesOversizedToken: a configuration whose Issuer or
// Audience would make access tokens longer than MaxTokenSize is refused by
// NewService, which signs the widest token Start can issue, and says why
// without showing the token; a configuration just under the limit starts
// sessions whose tokens fit.
func TestStartRefusesOversizedToken(t *testing.T) {
	long := strings.Repeat("a", session.MaxTokenSize)
	for name, cfg := range map[string]session.Config{
		"Issuer":   {Issuer: "https://" + long, Audience: []string{"api"}},
		"Audience": {Issuer: "https://auth.example", Audience: []string{"api", long}},
	} {
		t.Run(name, func(t *testing.T) {
			db := memory.New()
			cfg.Keys = newKeys(t)
			_, err := session.NewService(db.Sessions(), cfg)
			if err == nil {
				t.Fatal("NewService accepted a configuration whose tokens exceed MaxTokenSize")
			}
			msg := err.Error()
			if !strings.Contains(msg, "MaxTokenSize (4096)") || !strings.HasPrefix(msg, "session: Config: ") || strings.Count(msg, "session:") != 1 {
				t.Errorf("the error does not name the limit once: %v", err)
			}
			// No token: not its header ("{\"alg\"" in base64url), nor the
			// long value in clear or encoded.
			for _, s := range []string{"eyJ", "aaaaaaaa", "YWFhYWFh"} {
				if strings.Contains(msg, s) {
					t.Errorf("the error shows %q: %v", s, err)
				}
			}
		})
	}
	// The largest Issuer that fits: every session's token fits too.
	db := memory.New()
	keys := newKeys(t)
	n := 1
	for size := session.MaxTokenSize; size > 1; size /= 2 {
		if _, err := session.NewService(db.Sessions(), session.Config{Keys: keys, Issuer: strings.Repeat("i", n+size), Audience: []string{"api"}}); err == nil {
			n += size
		}
	}
	svc, err := session.NewService(db.Sessions(), session.Config{Keys: keys, Issuer: strings.Repeat("i", n), Audience: []string{"api"}})
	if err != nil {
		t.Fatalf("an Issuer of %d bytes: %v", n, err)
	}
	u := storetest.NewUser("big")
	u.Role, u.Tier = user.Role(strings.Repeat("R", 20)), user.Tier(strings.Repeat("T", 20))
	if err := db.Users().Create(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	tok, err := svc.Start(context.Background(), u, session.Client{})
	if err != nil || len(tok.AccessToken) > session.MaxTokenSize {
		t.Fatalf("Start with an Issuer of %d bytes: %v", n, err)
	}
	if _, err := svc.Authenticate(context.Background(), tok.AccessToken); err != nil {
		t.Fatalf("the widest token does not verify: %v", err)
	}
}
