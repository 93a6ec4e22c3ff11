package session

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// SigningAlgorithm is a JWS signature algorithm (RFC 7518) for access tokens.
type SigningAlgorithm string

// The supported algorithms. EdDSA is the default and the recommendation:
// small keys, fast, deterministic signatures. ES256 and RS256 are for
// hosts whose other services only speak those. HS256 is symmetric: every
// service that verifies its tokens holds the secret that signs them, so
// any of them can mint tokens for any user; prefer an asymmetric
// algorithm whenever a second service verifies tokens.
const (
	EdDSA SigningAlgorithm = "EdDSA" // Ed25519 (RFC 8037)
	ES256 SigningAlgorithm = "ES256" // ECDSA on P-256 with SHA-256
	RS256 SigningAlgorithm = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256, keys of at least 2048 bits
	HS256 SigningAlgorithm = "HS256" // HMAC-SHA-256 with a secret of at least 32 random bytes
)

// Key sizes and limits.
const (
	// rsaGenerateBits is the size of RSA keys made by GenerateKey.
	rsaGenerateBits = 3072
	// minRSABits is the smallest RSA modulus accepted anywhere.
	minRSABits = 2048
	// maxRSABits is the largest RSA modulus accepted: larger keys make
	// every verification slow and have no use here.
	maxRSABits = 16384
	// minHMACSecret is the shortest HS256 secret accepted, in bytes: the
	// output size of SHA-256 (RFC 7518 3.2, RFC 8725 3.5).
	minHMACSecret = 32
	// maxKIDLen bounds key ids; a kid travels in every token header.
	maxKIDLen = 256
)

// method returns the golang-jwt signing method of a, nil for an unknown
// algorithm.
func (a SigningAlgorithm) method() jwt.SigningMethod {
	switch a {
	case EdDSA:
		return jwt.SigningMethodEdDSA
	case ES256:
		return jwt.SigningMethodES256
	case RS256:
		return jwt.SigningMethodRS256
	case HS256:
		return jwt.SigningMethodHS256
	}
	return nil
}

// Key is one signing or verification key with its key id (kid), the value
// of the kid header of the tokens it signs. Keys are immutable and safe for
// concurrent use. Build them with [GenerateKey], [NewHMACKey],
// [ParsePrivateKeyPEM] or [ParsePublicKeyPEM]; the zero Key is unusable.
//
// A Key holding private material (an asymmetric private key or an HS256
// secret) is a credential: whoever has it can mint access tokens for any
// user. Printing a Key with fmt shows only its id, algorithm and whether it
// can sign, never key material.
type Key struct {
	id  string
	alg SigningAlgorithm
	// sk returns the private material; nil for a verification-only key.
	// The material is reached through a func because fmt prints a func
	// as its address, whatever the verb and depth: a struct that holds a
	// Key in an unexported field (where fmt cannot call Format and dumps
	// fields by reflection, dereferencing pointers under %s or %d) still
	// shows no key bytes.
	sk func() *secretKey
	// public is the asymmetric verification key (ed25519.PublicKey,
	// *ecdsa.PublicKey or *rsa.PublicKey); nil for HS256.
	public crypto.PublicKey
}

// secretKey is a Key's private material: one of the two fields is set.
type secretKey struct {
	// private is the asymmetric signing key (ed25519.PrivateKey,
	// *ecdsa.PrivateKey or *rsa.PrivateKey).
	private crypto.Signer
	// secret is the HS256 secret, which both signs and verifies.
	secret []byte
}

// hide wraps private material for Key.sk.
func hide(s *secretKey) func() *secretKey { return func() *secretKey { return s } }

// ID returns the key id (the kid header of tokens signed with k).
func (k *Key) ID() string { return k.id }

// Algorithm returns the algorithm k signs and verifies with.
func (k *Key) Algorithm() SigningAlgorithm { return k.alg }

// CanSign reports whether k holds private material: an asymmetric private
// key or an HS256 secret.
func (k *Key) CanSign() bool { return k.sk != nil }

// Public returns a verification-only copy of k (k itself if it is one
// already), safe to hand to code that must not sign. For HS256 it returns
// k itself, secret included: an HMAC secret verifies and
// signs alike, so an HS256 verifier needs the secret and can forge tokens;
// keep such keys out of services that should only verify.
func (k *Key) Public() *Key {
	if k.alg == HS256 || k.sk == nil {
		return k
	}
	return &Key{id: k.id, alg: k.alg, public: k.public}
}

// Format prints k as its id, algorithm and whether it can sign, whatever
// the verb (%v, %+v, %#v, %x, ...), so a key that reaches a log line or an
// error through fmt never leaks key material. It has a value receiver so
// that a dereferenced Key is covered too.
func (k Key) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "session.Key{id: %q, alg: %q, canSign: %t}", k.id, string(k.alg), k.sk != nil)
}

// signingKey is what golang-jwt's Sign takes for k.
func (k *Key) signingKey() any {
	switch {
	case k.sk == nil:
		return nil
	case k.alg == HS256:
		return k.sk().secret
	}
	return k.sk().private
}

// verificationKey is what golang-jwt's Verify takes for k.
func (k *Key) verificationKey() any {
	if k.alg == HS256 {
		return k.sk().secret
	}
	return k.public
}

// wellFormed reports whether k was built by this package's constructors:
// a known algorithm with the material it needs.
func (k *Key) wellFormed() bool {
	switch {
	case k.alg.method() == nil:
		return false
	case k.alg == HS256:
		return k.sk != nil && len(k.sk().secret) >= minHMACSecret && k.public == nil
	}
	return k.public != nil && (k.sk == nil || k.sk().private != nil && k.sk().secret == nil)
}

// GenerateKey makes a new random key for alg: Ed25519 for EdDSA, P-256 for
// ES256, 3072-bit RSA for RS256, 32 random bytes for HS256. An empty id
// gets a random one (16 random bytes, base64url). Persist asymmetric keys
// with [Key.MarshalPrivateKeyPEM]; a key regenerated at every start
// invalidates all tokens issued before.
func GenerateKey(alg SigningAlgorithm, id string) (*Key, error) {
	if id == "" {
		id = randomKID()
	} else if err := checkKID(id); err != nil {
		return nil, fmt.Errorf("session: generate key: %w", err)
	}
	switch alg {
	case EdDSA:
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("session: generate key: %w", err)
		}
		return &Key{id: id, alg: alg, sk: hide(&secretKey{private: priv}), public: pub}, nil
	case ES256:
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("session: generate key: %w", err)
		}
		return &Key{id: id, alg: alg, sk: hide(&secretKey{private: priv}), public: &priv.PublicKey}, nil
	case RS256:
		priv, err := rsa.GenerateKey(rand.Reader, rsaGenerateBits)
		if err != nil {
			return nil, fmt.Errorf("session: generate key: %w", err)
		}
		return &Key{id: id, alg: alg, sk: hide(&secretKey{private: priv}), public: &priv.PublicKey}, nil
	case HS256:
		secret := make([]byte, minHMACSecret)
		rand.Read(secret) // never returns an error; crashes the program if the OS fails
		return &Key{id: id, alg: alg, sk: hide(&secretKey{secret: secret})}, nil
	}
	return nil, fmt.Errorf("session: generate key: unsupported algorithm %q", string(alg))
}

// NewHMACKey returns an HS256 key with the given id (required) and secret.
// The secret must be at least 32 bytes from a cryptographically secure
// random source (RFC 8725 3.5): an HMAC-signed token is an offline oracle,
// so anyone holding one token can test guesses of the secret at billions
// per second, and a short or human-chosen secret falls to brute force.
// Shorter secrets are refused; the length of a passphrase says nothing of
// its entropy, so never derive the secret from one. The secret is copied.
//
// Every service that verifies HS256 tokens holds this secret and can
// therefore mint tokens; see [HS256].
func NewHMACKey(id string, secret []byte) (*Key, error) {
	if id == "" {
		return nil, errors.New("session: new HMAC key: id is empty")
	}
	if err := checkKID(id); err != nil {
		return nil, fmt.Errorf("session: new HMAC key: %w", err)
	}
	if len(secret) < minHMACSecret {
		return nil, fmt.Errorf("session: new HMAC key: secret is %d bytes, at least %d random bytes are required", len(secret), minHMACSecret)
	}
	return &Key{id: id, alg: HS256, sk: hide(&secretKey{secret: slices.Clone(secret)})}, nil
}

// ParsePrivateKeyPEM parses one unencrypted PEM private key: PKCS#8
// ("PRIVATE KEY": Ed25519, ECDSA or RSA), SEC 1 ("EC PRIVATE KEY") or
// PKCS#1 ("RSA PRIVATE KEY"). The algorithm follows from the key: Ed25519
// is EdDSA, P-256 is ES256 (other curves are refused), RSA of at least 2048
// bits is RS256 (smaller keys are refused). Encrypted PEM is refused:
// decrypt it with the host's secret manager first. An empty id becomes the
// key's RFC 7638 thumbprint, so the same key always gets the same kid.
func ParsePrivateKeyPEM(id string, pemBytes []byte) (*Key, error) {
	block, err := decodeOnePEM(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("session: parse private key: %w", err)
	}
	var priv any
	switch block.Type {
	case "PRIVATE KEY":
		priv, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		priv, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		priv, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		err = errors.New("encrypted PEM is not supported; decrypt the key first")
	case "PUBLIC KEY", "RSA PUBLIC KEY":
		err = fmt.Errorf("PEM block %q is a public key; use ParsePublicKeyPEM", block.Type)
	default:
		err = fmt.Errorf("unsupported PEM block %q", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("session: parse private key: %w", err)
	}
	k, err := keyFromPrivate(id, priv)
	if err != nil {
		return nil, fmt.Errorf("session: parse private key: %w", err)
	}
	return k, nil
}

// ParsePublicKeyPEM parses one PEM public key, "PUBLIC KEY" (PKIX:
// Ed25519, ECDSA P-256 or RSA) or "RSA PUBLIC KEY" (PKCS#1), into a
// verification-only key, under the same rules as [ParsePrivateKeyPEM].
// An empty id becomes the key's RFC 7638 thumbprint.
func ParsePublicKeyPEM(id string, pemBytes []byte) (*Key, error) {
	block, err := decodeOnePEM(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("session: parse public key: %w", err)
	}
	var pub any
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		err = fmt.Errorf("unsupported PEM block %q (want PUBLIC KEY or RSA PUBLIC KEY)", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("session: parse public key: %w", err)
	}
	k, err := keyFromPublic(id, pub)
	if err != nil {
		return nil, fmt.Errorf("session: parse public key: %w", err)
	}
	return k, nil
}

// MarshalPrivateKeyPEM encodes k's private key as an unencrypted PKCS#8
// "PRIVATE KEY" PEM block, so a host can persist a generated key and load
// it again with [ParsePrivateKeyPEM]. The result is a credential: store it
// as a secret (file mode 0600, a secret manager), never in a log or a
// repository. HS256 keys (keep the secret as it was given) and
// verification-only keys return an error.
func (k *Key) MarshalPrivateKeyPEM() ([]byte, error) {
	if k.alg == HS256 {
		return nil, errors.New("session: marshal private key: HS256 keys have no PEM form")
	}
	if k.sk == nil {
		return nil, fmt.Errorf("session: marshal private key: key %q is verification-only", k.id)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.sk().private)
	if err != nil {
		return nil, fmt.Errorf("session: marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// decodeOnePEM returns the only PEM block of b, refusing encrypted blocks
// (RFC 1423 Proc-Type/DEK-Info headers) and input with more than one
// block, which would make the choice of key ambiguous.
func decodeOnePEM(b []byte) (*pem.Block, error) {
	block, rest := pem.Decode(b)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	if strings.Contains(block.Headers["Proc-Type"], "ENCRYPTED") || block.Headers["DEK-Info"] != "" {
		return nil, errors.New("encrypted PEM is not supported; decrypt the key first")
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, errors.New("more than one PEM block")
	}
	return block, nil
}

// keyFromPrivate wraps a parsed private key, checking type, curve and size.
func keyFromPrivate(id string, priv any) (*Key, error) {
	var k *Key
	switch p := priv.(type) {
	case ed25519.PrivateKey:
		if len(p) != ed25519.PrivateKeySize {
			return nil, errors.New("invalid Ed25519 private key")
		}
		k = &Key{alg: EdDSA, sk: hide(&secretKey{private: p}), public: p.Public()}
	case *ecdsa.PrivateKey:
		if err := checkECDSA(&p.PublicKey); err != nil {
			return nil, err
		}
		k = &Key{alg: ES256, sk: hide(&secretKey{private: p}), public: &p.PublicKey}
	case *rsa.PrivateKey:
		if err := checkRSA(&p.PublicKey); err != nil {
			return nil, err
		}
		k = &Key{alg: RS256, sk: hide(&secretKey{private: p}), public: &p.PublicKey}
	default:
		return nil, fmt.Errorf("unsupported key type %T (want Ed25519, ECDSA P-256 or RSA)", priv)
	}
	return withID(k, id)
}

// keyFromPublic wraps a parsed public key, checking type, curve and size.
func keyFromPublic(id string, pub any) (*Key, error) {
	var k *Key
	switch p := pub.(type) {
	case ed25519.PublicKey:
		if len(p) != ed25519.PublicKeySize {
			return nil, errors.New("invalid Ed25519 public key")
		}
		k = &Key{alg: EdDSA, public: p}
	case *ecdsa.PublicKey:
		if err := checkECDSA(p); err != nil {
			return nil, err
		}
		k = &Key{alg: ES256, public: p}
	case *rsa.PublicKey:
		if err := checkRSA(p); err != nil {
			return nil, err
		}
		k = &Key{alg: RS256, public: p}
	default:
		return nil, fmt.Errorf("unsupported key type %T (want Ed25519, ECDSA P-256 or RSA)", pub)
	}
	return withID(k, id)
}

// withID sets k's id: the given one, checked, or the RFC 7638 thumbprint
// of its public key.
func withID(k *Key, id string) (*Key, error) {
	if id == "" {
		t, err := thumbprint(k.public)
		if err != nil {
			return nil, err
		}
		k.id = t
		return k, nil
	}
	if err := checkKID(id); err != nil {
		return nil, err
	}
	k.id = id
	return k, nil
}

func checkECDSA(p *ecdsa.PublicKey) error {
	if p.Curve != elliptic.P256() {
		return fmt.Errorf("ECDSA curve %s is not supported; only P-256 (ES256)", p.Curve.Params().Name)
	}
	return nil
}

func checkRSA(p *rsa.PublicKey) error {
	switch bits := p.N.BitLen(); {
	case bits < minRSABits:
		return fmt.Errorf("RSA key of %d bits is too small; at least %d are required", bits, minRSABits)
	case bits > maxRSABits:
		return fmt.Errorf("RSA key of %d bits is too large; at most %d are accepted", bits, maxRSABits)
	}
	if p.E < 3 || p.E%2 == 0 {
		return errors.New("RSA public exponent is invalid")
	}
	return nil
}

// randomKID returns 16 random bytes in base64url without padding.
func randomKID() string {
	b := make([]byte, 16)
	rand.Read(b) // never returns an error; crashes the program if the OS fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// checkKID accepts ids of 1 to 256 bytes of UTF-8 without control
// characters: a kid appears in every token header and in logs.
func checkKID(id string) error {
	switch {
	case id == "":
		return errors.New("key id is empty")
	case len(id) > maxKIDLen:
		return fmt.Errorf("key id is longer than %d bytes", maxKIDLen)
	case !utf8.ValidString(id) || strings.ContainsFunc(id, unicode.IsControl):
		return errors.New("key id contains invalid UTF-8 or control characters")
	}
	return nil
}

// KeySet is a service's access-token keys: one current signing key and
// older keys still accepted for verification. To rotate, start signing
// with a new key while keeping the old one in the set for at least the
// access-token lifetime (plus leeway), then drop it; tokens signed by a
// dropped key are refused at once. A KeySet is immutable and safe for
// concurrent use.
//
// A token is verified only with the set's key named by its kid header,
// and only if the token's alg is that key's algorithm: headers that point
// elsewhere (jku, x5u, jwk, x5c) are never followed.
type KeySet struct {
	// keys is the signing key (nil in a Verifier's set) then the others.
	keys    []*Key
	signing *Key
	byID    map[string]*Key
	// methods are the distinct algorithms of keys, for WithValidMethods;
	// never empty.
	methods []string
	// jwks is the JWKS document of the set, computed once.
	jwks []byte
}

// NewKeySet returns the key set that signs with signing and also verifies
// with verify (older keys kept during a rotation). signing must hold
// private material; verify keys may be public-only. Key ids must be
// non-empty and unique within the set, so each kid names exactly one key
// and one algorithm.
func NewKeySet(signing *Key, verify ...*Key) (*KeySet, error) {
	if signing == nil {
		return nil, errors.New("session: new key set: signing key is nil")
	}
	if !signing.CanSign() {
		return nil, fmt.Errorf("session: new key set: signing key %q is verification-only", signing.id)
	}
	ks, err := newKeySet(signing, verify)
	if err != nil {
		return nil, fmt.Errorf("session: new key set: %w", err)
	}
	return ks, nil
}

// newKeySet builds a set; signing may be nil (a Verifier's set), but the
// set must hold at least one key.
func newKeySet(signing *Key, verify []*Key) (*KeySet, error) {
	ks := &KeySet{signing: signing, byID: make(map[string]*Key, len(verify)+1), methods: make([]string, 0, 4)}
	all := verify
	if signing != nil {
		all = append([]*Key{signing}, verify...)
	}
	if len(all) == 0 {
		return nil, errors.New("no keys")
	}
	for i, k := range all {
		if k == nil {
			return nil, fmt.Errorf("key %d is nil", i)
		}
		if err := checkKID(k.id); err != nil {
			return nil, fmt.Errorf("key %d: %w", i, err)
		}
		if !k.wellFormed() {
			return nil, fmt.Errorf("key %q is not a valid key (build keys with GenerateKey, NewHMACKey or Parse*PEM)", k.id)
		}
		if _, dup := ks.byID[k.id]; dup {
			return nil, fmt.Errorf("duplicate key id %q", k.id)
		}
		ks.byID[k.id] = k
		if !slices.Contains(ks.methods, string(k.alg)) {
			ks.methods = append(ks.methods, string(k.alg))
		}
	}
	ks.keys = all
	doc, err := marshalJWKS(all)
	if err != nil {
		return nil, err
	}
	ks.jwks = doc
	return ks, nil
}

// Signing returns the key new tokens are signed with (nil for the key set
// of a [Verifier]).
func (ks *KeySet) Signing() *Key { return ks.signing }

// Keys returns every key of the set, the signing key first. The slice is a
// copy; the keys are shared (they are immutable).
func (ks *KeySet) Keys() []*Key { return slices.Clone(ks.keys) }

// Key's Format is the fmt hook for every verb.
var _ fmt.Formatter = Key{}
