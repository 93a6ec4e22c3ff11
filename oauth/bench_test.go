package oauth_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/cedrina/cedrina/oauth"
	"github.com/cedrina/cedrina/oauth/oauthtest"
	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/user"
)

func BenchmarkCipher(b *testing.B) {
	c, _ := oauth.NewCipher(oauth.Key{ID: "k1", Secret: bytes.Repeat([]byte{1}, 32)})
	token := string(bytes.Repeat([]byte("t"), 200)) // a typical access token's size
	sealed := c.Seal(token, 42, "GOOGLE")
	b.Run("Seal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c.Seal(token, 42, "GOOGLE")
		}
	})
	b.Run("Open", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Open(sealed, 42, "GOOGLE"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkFlow measures the service's side of a flow against the fake
// provider on loopback: Begin alone, and a whole sign-in of a linked
// identity (Begin, the provider's authorize, Complete: state spent, code
// exchanged, ID token verified, user info fetched, tokens sealed and
// stored, sign-in recorded).
func BenchmarkFlow(b *testing.B) {
	db := memory.New()
	e := newBenchEnv(b, db)
	ctx := context.Background()
	b.Run("Begin", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.svc.Begin(ctx, "acme", ""); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("SignIn", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			a, err := e.svc.Begin(ctx, "acme", "")
			if err != nil {
				b.Fatal(err)
			}
			back, err := e.oidc.Authorize(a.URL)
			if err != nil {
				b.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodGet, back.String(), nil)
			r.AddCookie(&http.Cookie{Name: oauth.StateCookieName, Value: a.State})
			if _, err := e.svc.Complete(ctx, oauth.CallbackFromRequest(r, "acme")); err != nil {
				b.Fatal(err)
			}
		}
	})
}

type benchEnv struct {
	svc  *oauth.Service
	oidc *oauthtest.Provider
}

func newBenchEnv(b *testing.B, db *memory.DB) *benchEnv {
	fake := oauthtest.New(b, oauthtest.Config{RedirectURLs: []string{redirectBase + "acme/callback"}})
	fake.SetUser(oauthtest.User{Subject: strconv.Itoa(1), Email: "bench@example.com", EmailVerified: true})
	users := benchUsers(b, db)
	p, err := oauth.OIDC("acme", oauth.ProviderConfig{Issuer: fake.Issuer(), ClientID: fake.ClientID(), ClientSecret: fake.ClientSecret(),
		RedirectURL: redirectBase + "acme/callback", HTTPClient: fake.Client()})
	if err != nil {
		b.Fatal(err)
	}
	c, _ := oauth.NewCipher(oauth.Key{ID: "k1", Secret: bytes.Repeat([]byte{1}, 32)})
	svc, err := oauth.NewService(oauth.Config{Providers: []*oauth.Provider{p}, Users: users, Store: db.OAuth(), Tx: db, Cipher: c})
	if err != nil {
		b.Fatal(err)
	}
	return &benchEnv{svc: svc, oidc: fake}
}

func benchUsers(b *testing.B, db *memory.DB) *user.Service {
	hasher, err := user.NewHasher(user.HashConfig{Argon2id: user.Argon2idParams{Memory: 64, Time: 1, Threads: 1}})
	if err != nil {
		b.Fatal(err)
	}
	us, err := user.NewService(db.Users(), user.Config{Hasher: hasher})
	if err != nil {
		b.Fatal(err)
	}
	return us
}
