package session

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strconv"
)

// b64url is the JOSE base64url encoding (RFC 7515 2): no padding; Strict
// refuses non-zero trailing bits, so each value has one encoding.
var b64url = base64.RawURLEncoding.Strict()

// jwk is the public JSON Web Key (RFC 7517, 7518 6, 8037 2) of one
// asymmetric key. It has no member for private material.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
}

// publicJWK returns the JWK of k's public key; ok is false for HS256.
func publicJWK(k *Key) (j jwk, ok bool, err error) {
	j = jwk{Kid: k.id, Use: "sig", Alg: string(k.alg)}
	switch p := k.public.(type) {
	case ed25519.PublicKey:
		j.Kty, j.Crv, j.X = "OKP", "Ed25519", b64url.EncodeToString(p)
	case *ecdsa.PublicKey:
		b, err := p.Bytes() // 0x04 || X || Y, 32 bytes each on P-256
		if err != nil {
			return jwk{}, false, fmt.Errorf("key %q: %w", k.id, err)
		}
		j.Kty, j.Crv, j.X, j.Y = "EC", "P-256", b64url.EncodeToString(b[1:33]), b64url.EncodeToString(b[33:65])
	case *rsa.PublicKey:
		j.Kty, j.N, j.E = "RSA", b64url.EncodeToString(p.N.Bytes()), b64url.EncodeToString(big.NewInt(int64(p.E)).Bytes())
	case nil:
		return jwk{}, false, nil // HS256: never published
	default:
		return jwk{}, false, fmt.Errorf("key %q: unsupported public key type %T", k.id, p)
	}
	return j, true, nil
}

// marshalJWKS returns the JWKS document of the public parts of keys' asymmetric keys.
func marshalJWKS(keys []*Key) ([]byte, error) {
	doc := struct {
		Keys []jwk `json:"keys"`
	}{Keys: make([]jwk, 0, len(keys))}
	for _, k := range keys {
		j, ok, err := publicJWK(k)
		if err != nil {
			return nil, err
		}
		if ok {
			doc.Keys = append(doc.Keys, j)
		}
	}
	return json.Marshal(doc)
}

// thumbprint returns the RFC 7638 JWK thumbprint (SHA-256, base64url) of
// an asymmetric public key: a kid that depends only on the key.
func thumbprint(pub crypto.PublicKey) (string, error) {
	j, ok, err := publicJWK(&Key{public: pub})
	if err != nil || !ok {
		return "", errors.New("no thumbprint for this key")
	}
	// The required members in lexicographic order, no whitespace
	// (RFC 7638 3.2); base64url values need no JSON escaping.
	var s string
	switch j.Kty {
	case "OKP":
		s = `{"crv":"` + j.Crv + `","kty":"OKP","x":"` + j.X + `"}`
	case "EC":
		s = `{"crv":"` + j.Crv + `","kty":"EC","x":"` + j.X + `","y":"` + j.Y + `"}`
	case "RSA":
		s = `{"e":"` + j.E + `","kty":"RSA","n":"` + j.N + `"}`
	}
	sum := sha256.Sum256([]byte(s))
	return b64url.EncodeToString(sum[:]), nil
}

// JWKS returns the set's JSON Web Key Set (RFC 7517 5): {"keys":[...]}
// with the public part of every asymmetric key (kid, kty, alg, use "sig",
// and crv/x for Ed25519, crv/x/y for P-256, n/e for RSA), signing key
// first. HS256 keys never appear: their secret is not public. Other
// services build a [Verifier] from it.
func (ks *KeySet) JWKS() ([]byte, error) { return bytes.Clone(ks.jwks), nil }

// JWKSHandler serves [KeySet.JWKS] to GET and HEAD (405 with an Allow
// header otherwise) as application/jwk-set+json, cacheable for 5 minutes
// (Cache-Control: public, max-age=300). After adding a key to a
// rotation, wait that long before signing with it, so verifiers that
// cached the document have seen the new key.
func (ks *KeySet) JWKSHandler() http.Handler {
	body := bytes.Clone(ks.jwks)
	length := strconv.Itoa(len(body))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/jwk-set+json")
		h.Set("Cache-Control", "public, max-age=300")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Length", length)
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			w.Write(body)
		}
	})
}

// privateMembers are JWK members that carry private or symmetric key
// material (RFC 7518 6.2.2, 6.3.2, 6.4). A JWKS that has them is a leak
// and is refused, not silently used.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// parseJWKS returns the signature keys of a JWKS document. Member names
// are matched exactly (not case-insensitively as encoding/json does for
// structs). Keys that are not for signatures (use other than "sig",
// key_ops without "verify") or of a kty this package does not know are
// skipped (RFC 7517 5); keys it should use but cannot (no kid, an
// unsupported curve or alg, RSA under 2048 bits, bad encoding, private
// material, a kid used twice) make the whole document an error.
func parseJWKS(doc []byte) ([]*Key, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(doc, &top); err != nil {
		return nil, fmt.Errorf("JWKS is not a JSON object: %w", err)
	}
	raw, ok := top["keys"]
	if !ok {
		return nil, errors.New(`JWKS has no "keys" member`)
	}
	var members []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil {
		return nil, fmt.Errorf(`JWKS "keys" is not an array of objects: %w`, err)
	}
	var keys []*Key
	seen := make(map[string]bool, len(members))
	for i, m := range members {
		k, err := parseJWK(m)
		if err != nil {
			return nil, fmt.Errorf("JWKS key %d: %w", i, err)
		}
		if k == nil {
			continue
		}
		if seen[k.id] {
			return nil, fmt.Errorf("JWKS key %d: duplicate kid %q", i, k.id)
		}
		seen[k.id] = true
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("JWKS has no usable signature key")
	}
	return keys, nil
}

// parseJWK returns the key of one JWK, nil if it is to be skipped.
func parseJWK(m map[string]json.RawMessage) (*Key, error) {
	if m == nil {
		return nil, errors.New("not an object")
	}
	for _, name := range privateMembers {
		if _, ok := m[name]; ok {
			return nil, fmt.Errorf("has private key material (member %q)", name)
		}
	}
	str := func(name string) (string, error) {
		raw, ok := m[name]
		if !ok {
			return "", nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("member %q is not a string", name)
		}
		return s, nil
	}
	var kty, kid, use, alg, crv, x, y, n, e string
	for _, f := range []struct {
		name string
		v    *string
	}{{"kty", &kty}, {"kid", &kid}, {"use", &use}, {"alg", &alg}, {"crv", &crv}, {"x", &x}, {"y", &y}, {"n", &n}, {"e", &e}} {
		s, err := str(f.name)
		if err != nil {
			return nil, err
		}
		*f.v = s
	}
	if use != "" && use != "sig" {
		return nil, nil // an encryption key
	}
	if raw, ok := m["key_ops"]; ok {
		var ops []string
		if err := json.Unmarshal(raw, &ops); err != nil {
			return nil, errors.New(`member "key_ops" is not an array of strings`)
		}
		if !slices.Contains(ops, "verify") {
			return nil, nil
		}
	}
	switch kty {
	case "OKP", "EC", "RSA":
	case "":
		return nil, errors.New(`no "kty"`)
	default:
		return nil, nil // a key type this package does not know
	}
	if kid == "" {
		return nil, fmt.Errorf("%s key has no kid", kty)
	}
	if err := checkKID(kid); err != nil {
		return nil, err
	}
	var pub crypto.PublicKey
	switch kty {
	case "OKP":
		if crv != "Ed25519" {
			return nil, fmt.Errorf("key %q: OKP curve %q is not supported; only Ed25519", kid, crv)
		}
		if alg != "" && alg != string(EdDSA) && alg != "Ed25519" {
			return nil, fmt.Errorf("key %q: alg %q does not match an Ed25519 key", kid, alg)
		}
		b, err := b64url.DecodeString(x)
		if err != nil || len(b) != ed25519.PublicKeySize {
			return nil, fmt.Errorf(`key %q: "x" is not a base64url Ed25519 public key`, kid)
		}
		pub = ed25519.PublicKey(b)
	case "EC":
		if crv != "P-256" {
			return nil, fmt.Errorf("key %q: EC curve %q is not supported; only P-256", kid, crv)
		}
		if alg != "" && alg != string(ES256) {
			return nil, fmt.Errorf("key %q: alg %q does not match a P-256 key", kid, alg)
		}
		bx, errx := b64url.DecodeString(x)
		by, erry := b64url.DecodeString(y)
		if errx != nil || erry != nil || len(bx) != 32 || len(by) != 32 {
			return nil, fmt.Errorf(`key %q: "x" and "y" are not 32-byte base64url coordinates`, kid)
		}
		p, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, bx...), by...))
		if err != nil {
			return nil, fmt.Errorf("key %q: not a point on P-256", kid)
		}
		pub = p
	case "RSA":
		if alg != "" && alg != string(RS256) {
			return nil, fmt.Errorf("key %q: alg %q is not supported for an RSA key; only RS256", kid, alg)
		}
		bn, errn := b64url.DecodeString(n)
		be, erre := b64url.DecodeString(e)
		if errn != nil || erre != nil || len(bn) == 0 || len(be) == 0 || len(be) > 4 {
			return nil, fmt.Errorf(`key %q: "n" and "e" are not base64url integers`, kid)
		}
		exp := new(big.Int).SetBytes(be)
		if !exp.IsInt64() || exp.Int64() > 1<<31-1 {
			return nil, fmt.Errorf("key %q: RSA public exponent is invalid", kid)
		}
		pub = &rsa.PublicKey{N: new(big.Int).SetBytes(bn), E: int(exp.Int64())}
	}
	k, err := keyFromPublic(kid, pub)
	if err != nil {
		return nil, fmt.Errorf("key %q: %w", kid, err)
	}
	return k, nil
}
