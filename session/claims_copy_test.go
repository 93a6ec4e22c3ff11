package session_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/cedrina/cedrina/session"
)

// vandalize changes every field of c, the values behind its pointers and
// the entries of its Audience in place, as a careless handler might.
func vandalize(c *session.Claims) {
	c.Issuer = "https://evil.example"
	c.Subject = "1"
	c.Audience[0] = "other"
	c.Audience = append(c.Audience, "more")
	*c.ExpiresAt = *jwt.NewNumericDate(c.ExpiresAt.Add(10 * time.Hour))
	c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(100 * time.Hour))
	*c.IssuedAt = *jwt.NewNumericDate(c.IssuedAt.Add(-time.Hour))
	c.NotBefore = jwt.NewNumericDate(time.Unix(1, 0))
	c.ID = "forged"
	c.SessionID = "999"
	c.Role = "admin"
	c.Tier = "enterprise"
}

func claimsJSON(t *testing.T, c *session.Claims) string {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestAuthenticateClaimsAreTheCallersCopy: what a caller does to
// Principal.Claims, after a first or a cached Authenticate, changes
// neither what later calls see nor what the cache accepts: the token is
// still refused once its real exp has passed.
func TestAuthenticateClaimsAreTheCallersCopy(t *testing.T) {
	both(t, session.Config{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		tok := e.start(t)
		first, err := e.svc.Authenticate(ctx, tok.AccessToken) // parsed, then cached
		if err != nil {
			t.Fatal(err)
		}
		want := claimsJSON(t, first.Claims)
		vandalize(first.Claims)
		for i := range 3 { // from the cache
			p, err := e.svc.Authenticate(ctx, tok.AccessToken)
			if err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
			if got := claimsJSON(t, p.Claims); got != want {
				t.Fatalf("call %d: claims %s, want %s", i, got, want)
			}
			vandalize(p.Claims)
		}
		// The real exp (15 minutes) plus the leeway (5 s) passes; the
		// claims the handlers moved 10 hours later must not matter.
		e.clock.Advance(15*time.Minute + 5*time.Second)
		_, err = e.svc.Authenticate(ctx, tok.AccessToken)
		wantErr(t, err, session.ErrExpired)
	})
}

// TestAuthenticateClaimsConcurrentCallers: concurrent Authenticates of
// one token whose callers change their claims do not race (run with
// -race) and each sees the token's claims.
func TestAuthenticateClaimsConcurrentCallers(t *testing.T) {
	both(t, session.Config{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		tok := e.start(t)
		p, err := e.svc.Authenticate(ctx, tok.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		want := claimsJSON(t, p.Claims)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 25 {
					p, err := e.svc.Authenticate(ctx, tok.AccessToken)
					if err != nil {
						t.Error(err)
						return
					}
					if got := claimsJSON(t, p.Claims); got != want {
						t.Errorf("claims %s, want %s", got, want)
						return
					}
					vandalize(p.Claims)
				}
			})
		}
		wg.Wait()
	})
}
