package session

import (
	"fmt"
	"slices"
	"time"
)

// VerifierConfig is what a [Verifier] checks tokens against: the issuing
// service's Issuer and (one of) its Audience values.
type VerifierConfig struct {
	// Issuer is the only iss accepted. Required.
	Issuer string
	// Audience: a token is accepted when its aud contains one of them.
	// Required, no empty entries.
	Audience []string
	// Leeway is the clock skew allowed on exp, nbf and iat. Default 5 s,
	// at most 30 s.
	Leeway time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Verifier checks access tokens statelessly, for services that hold only
// the issuing service's JWKS document: signature, typ, kid, iss, aud, exp
// and the other claims, exactly as the issuing service does, but with no
// session lookup.
//
// Revocation is therefore invisible to it: after a logout, a revoked
// session, a password change or a deactivated user, a token already issued
// stays valid here until it expires (the access-token lifetime, 15 minutes
// by default). Where that window matters, call the issuing service's
// Authenticate instead, which checks that the session is still active on
// every request, or keep access tokens short-lived.
//
// A Verifier only knows asymmetric keys: a JWKS never carries HS256
// secrets, and a service that verifies HS256 tokens could also forge them.
// It is immutable and safe for concurrent use. To follow a key rotation,
// build a new Verifier from the new document (the issuer's JWKS handler
// allows caching it for 5 minutes).
type Verifier struct {
	keys *KeySet
	cfg  tokenConfig
}

// NewVerifier returns a Verifier for the keys of a JWKS document (as
// served by [KeySet.JWKSHandler]). It accepts signature keys (use "sig" or
// absent) of kty OKP with crv Ed25519, EC with crv P-256 and RSA of at
// least 2048 bits; each must have a unique kid, and an "alg" member, when
// present, must match the key type (EdDSA or Ed25519, ES256, RS256). A key
// it should use but cannot (no kid, another curve, a small RSA modulus,
// private members such as "d") makes the document an error rather than
// being dropped silently; keys for encryption or of unknown kty are
// skipped. The document is trusted configuration: fetch it over HTTPS from
// the issuer, never from a URL named in a token.
func NewVerifier(jwks []byte, cfg VerifierConfig) (*Verifier, error) {
	tc := tokenConfig{Issuer: cfg.Issuer, Audience: slices.Clone(cfg.Audience), Leeway: cfg.Leeway, Now: cfg.Now}
	if err := tc.validate("VerifierConfig"); err != nil {
		return nil, err
	}
	if tc.Leeway == 0 {
		tc.Leeway = defaultLeeway
	}
	if tc.Now == nil {
		tc.Now = time.Now
	}
	keys, err := parseJWKS(jwks)
	if err != nil {
		return nil, fmt.Errorf("session: new verifier: %w", err)
	}
	ks, err := newKeySet(nil, keys)
	if err != nil {
		return nil, fmt.Errorf("session: new verifier: %w", err)
	}
	return &Verifier{keys: ks, cfg: tc}, nil
}

// Verify checks token as the issuing service's key set does (see
// [Verifier] for what it cannot see) and returns its claims. Errors: an
// expired token wraps ErrExpired, any other refusal ErrInvalidToken; both
// wrap ErrUnauthenticated, and no error message contains the token.
func (v *Verifier) Verify(token string) (*Claims, error) {
	return v.keys.parse(token, v.cfg)
}
