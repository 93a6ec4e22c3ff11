package oauth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// StateCookieName is the cookie that carries a flow's sealed state from
// Begin to the callback. The __Host- prefix makes browsers refuse it
// unless it is Secure, has Path=/ and no Domain.
const StateCookieName = "__Host-cedrina-oauth"

// flow is what Begin hands to the callback, sealed in the state cookie:
// nothing in it is readable or changeable by the browser.
type flow struct {
	V        int    `json:"v"`
	State    string `json:"s"`  // the state parameter: 32 random bytes, base64url
	Verifier string `json:"cv"` // the PKCE code verifier
	Nonce    string `json:"n,omitempty"`
	Provider string `json:"p"` // the provider's route name
	ReturnTo string `json:"r,omitempty"`
	Expires  int64  `json:"e"` // Unix seconds
	// Link: the flow links the identity to this signed-in user, whose
	// security stamp was LinkStamp.
	LinkUser  int64 `json:"u,omitempty"`
	LinkStamp int64 `json:"us,omitempty"`
}

// stateHash is what the store keeps of a spent state.
func stateHash(state string) string {
	sum := sha256.Sum256([]byte(state))
	return hex.EncodeToString(sum[:])
}

// sealer seals flows with AES-256-GCM.
type sealer struct{ aead cipher.AEAD }

var flowAD = []byte("cedrina oauth flow v1")

func newSealer(key []byte) (*sealer, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

func (s *sealer) seal(f *flow) string {
	plain, _ := json.Marshal(f) // plain fields: never fails
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plain)+s.aead.Overhead())
	rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, flowAD))
}

// maxCookie bounds the sealed state read back: a cookie is at most 4 KiB.
const maxCookie = 4096

var errBadFlow = errors.New("oauth: state cookie cannot be opened")

func (s *sealer) open(v string) (*flow, error) {
	if v == "" || len(v) > maxCookie {
		return nil, errBadFlow
	}
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(raw) < s.aead.NonceSize()+s.aead.Overhead() {
		return nil, errBadFlow
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], flowAD)
	if err != nil {
		return nil, errBadFlow
	}
	var f flow
	if err := json.Unmarshal(plain, &f); err != nil || f.V != 1 || f.State == "" || f.Verifier == "" {
		return nil, errBadFlow
	}
	return &f, nil
}

// randomToken returns n random bytes, base64url.
func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func sameString(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// SetStateCookie writes a's sealed state as the [StateCookieName] cookie:
// Secure, HttpOnly, SameSite=Lax (sent on the provider's top-level
// redirect back to the callback, never on a cross-site subrequest),
// Path=/, expiring with the flow. One browser runs one flow at a time: a
// second Begin replaces the first's cookie.
func SetStateCookie(w http.ResponseWriter, a *Authorization) {
	http.SetCookie(w, &http.Cookie{
		Name: StateCookieName, Value: a.State, Path: "/",
		Expires: a.ExpiresAt.UTC(), MaxAge: max(1, int(a.MaxAge/time.Second)),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

// ClearStateCookie deletes the state cookie (after every callback: a
// state is used once).
func ClearStateCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: StateCookieName, Value: "", Path: "/", Expires: time.Unix(0, 0).UTC(), MaxAge: -1,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}
