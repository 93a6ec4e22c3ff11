package session

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func testVerifierConfig() VerifierConfig {
	c := testConfig()
	return VerifierConfig{Issuer: c.Issuer, Audience: c.Audience, Now: c.Now}
}

func newTestVerifier(t *testing.T, ks *KeySet, cfg VerifierConfig) *Verifier {
	t.Helper()
	doc, err := ks.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(doc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerifierVerifiesTokensOfTheKeySet(t *testing.T) {
	k := fixtureKeys(t)
	for _, signing := range []*Key{k.ed, k.ec, k.rsa} {
		t.Run("alg="+string(signing.Algorithm()), func(t *testing.T) {
			// Signs with one key, publishes all three asymmetric ones.
			others := []*Key{k.ed, k.ec, k.rsa, k.hs}
			var verify []*Key
			for _, o := range others {
				if o != signing {
					verify = append(verify, o)
				}
			}
			ks, err := NewKeySet(signing, verify...)
			if err != nil {
				t.Fatal(err)
			}
			v := newTestVerifier(t, ks, testVerifierConfig())
			want := validClaims()
			got, err := v.Verify(mustSign(t, ks, want))
			if err != nil {
				t.Fatal(err)
			}
			if got.Subject != "42" || got.SessionID != "7" || got.Role != "user" || got.Tier != "free" || got.ID != "jti-1" {
				t.Errorf("claims = %+v", got)
			}
			if len(v.keys.keys) != 3 || v.keys.Signing() != nil {
				t.Errorf("verifier keys = %v", v.keys.keys)
			}
			for _, key := range v.keys.keys {
				if key.CanSign() {
					t.Errorf("verifier holds a signing key %v", key)
				}
			}
		})
	}
}

func TestVerifierRejectsMalformedTokens(t *testing.T) {
	v := newTestVerifier(t, mixedSet(t), testVerifierConfig())
	for _, tc := range malformedTokens(t) {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Verify(tc.token)
			if c != nil {
				t.Errorf("returned claims %+v", c)
			}
			checkRefused(t, tc.token, err, tc.want)
		})
	}
}

// TestVerifierRefusesHS256 shows a Verifier cannot check HS256 tokens: the
// secret is not in the JWKS, so the token's kid is unknown and HS256 is
// not among its algorithms.
func TestVerifierRefusesHS256(t *testing.T) {
	k := fixtureKeys(t)
	ks, _ := NewKeySet(k.hs, k.ed)
	v := newTestVerifier(t, ks, testVerifierConfig())
	_, err := v.Verify(mustSign(t, ks, validClaims()))
	checkRefused(t, "", err, ErrInvalidToken)
	if strings.Join(v.keys.methods, ",") != "EdDSA" {
		t.Errorf("verifier algorithms %v", v.keys.methods)
	}
	hsOnly, _ := NewKeySet(k.hs)
	if _, err := NewVerifier(mustJWKS(t, hsOnly), testVerifierConfig()); err == nil {
		t.Error("verifier built from a JWKS without keys")
	}
}

func TestVerifierRotation(t *testing.T) {
	k := fixtureKeys(t)
	next, err := GenerateKey(EdDSA, "next")
	if err != nil {
		t.Fatal(err)
	}
	old, _ := NewKeySet(k.ec)
	during, _ := NewKeySet(next, k.ec)
	after, _ := NewKeySet(next)
	oldTok := mustSign(t, old, validClaims())
	if _, err := newTestVerifier(t, during, testVerifierConfig()).Verify(oldTok); err != nil {
		t.Errorf("during rotation: %v", err)
	}
	_, err = newTestVerifier(t, after, testVerifierConfig()).Verify(oldTok)
	checkRefused(t, oldTok, err, ErrInvalidToken)
}

func TestVerifierConfig(t *testing.T) {
	doc := mustJWKS(t, mixedSet(t))
	for field, edit := range map[string]func(c *VerifierConfig){
		"Issuer":      func(c *VerifierConfig) { c.Issuer = "" },
		"Audience":    func(c *VerifierConfig) { c.Audience = nil },
		"Audience[0]": func(c *VerifierConfig) { c.Audience = []string{""} },
		"Leeway":      func(c *VerifierConfig) { c.Leeway = time.Minute },
	} {
		c := testVerifierConfig()
		edit(&c)
		if _, err := NewVerifier(doc, c); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%s: err = %v", field, err)
		}
	}
	if _, err := NewVerifier([]byte(`{"keys":[]}`), testVerifierConfig()); err == nil {
		t.Error("empty JWKS accepted")
	}

	// The verifier keeps its own copy of Audience.
	aud := []string{"api"}
	c := testVerifierConfig()
	c.Audience = aud
	v, err := NewVerifier(doc, c)
	if err != nil {
		t.Fatal(err)
	}
	aud[0] = "other"
	if _, err := v.Verify(mustSign(t, mixedSet(t), validClaims())); err != nil {
		t.Errorf("after the caller changed its Audience slice: %v", err)
	}
}

func TestVerifierDefaultClock(t *testing.T) {
	ks := mixedSet(t)
	c := validClaims()
	now := time.Now()
	c.IssuedAt = jwt.NewNumericDate(now)
	c.ExpiresAt = jwt.NewNumericDate(now.Add(time.Minute))
	tok := mustSign(t, ks, c)
	cfg := testVerifierConfig()
	cfg.Now = nil
	if _, err := newTestVerifier(t, ks, cfg).Verify(tok); err != nil {
		t.Errorf("with time.Now: %v", err)
	}
	// The fixed test clock is far from a token issued now.
	_, err := newTestVerifier(t, ks, testVerifierConfig()).Verify(tok)
	if !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("token issued now, verifier on the test clock: %v", err)
	}
}
