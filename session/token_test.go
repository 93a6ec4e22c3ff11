package session

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The fixed clock of the token tests.
var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const testIssuer = "https://auth.example.com"

func testConfig() tokenConfig {
	return tokenConfig{Issuer: testIssuer, Audience: []string{"api"}, Now: func() time.Time { return testNow }}
}

// validClaims are claims parse accepts at testNow.
func validClaims() *Claims {
	return &Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    testIssuer,
			Subject:   "42",
			Audience:  jwt.ClaimStrings{"api"},
			ExpiresAt: jwt.NewNumericDate(testNow.Add(15 * time.Minute)),
			IssuedAt:  jwt.NewNumericDate(testNow),
			ID:        "jti-1",
		},
		SessionID: "7",
		Role:      "user",
		Tier:      "free",
	}
}

// testKeys are one key per algorithm, generated once per test binary (a
// 3072-bit RSA key takes a while, more so under -race).
type testKeys struct{ ed, ec, rsa, hs *Key }

var (
	keysOnce sync.Once
	keysVal  testKeys
	keysErr  error
)

func fixtureKeys(tb testing.TB) testKeys {
	tb.Helper()
	keysOnce.Do(func() {
		var ks [4]*Key
		for i, a := range []struct {
			alg SigningAlgorithm
			id  string
		}{{EdDSA, "ed"}, {ES256, "ec"}, {RS256, "rsa"}, {HS256, "hs"}} {
			if ks[i], keysErr = GenerateKey(a.alg, a.id); keysErr != nil {
				return
			}
		}
		keysVal = testKeys{ed: ks[0], ec: ks[1], rsa: ks[2], hs: ks[3]}
	})
	if keysErr != nil {
		tb.Fatal(keysErr)
	}
	return keysVal
}

// mixedSet signs with EdDSA and also verifies ES256, RS256 and HS256: all
// four algorithms pass WithValidMethods, so only the kid-to-key binding
// stops algorithm confusion.
func mixedSet(tb testing.TB) *KeySet {
	tb.Helper()
	k := fixtureKeys(tb)
	ks, err := NewKeySet(k.ed, k.ec, k.rsa, k.hs)
	if err != nil {
		tb.Fatal(err)
	}
	return ks
}

func mustSign(tb testing.TB, ks *KeySet, c *Claims) string {
	tb.Helper()
	tok, err := ks.sign(c)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// hdr is a header with typ at+jwt and the given kid.
func hdr(kid string) map[string]any { return map[string]any{"typ": "at+jwt", "kid": kid} }

// craft signs any header and claims with method and key, bypassing sign's
// checks; header entries with a nil value are removed.
func craft(tb testing.TB, method jwt.SigningMethod, key any, header map[string]any, claims jwt.Claims) string {
	tb.Helper()
	t := jwt.NewWithClaims(method, claims)
	t.Header = map[string]any{"alg": method.Alg()}
	for k, v := range header {
		if v == nil {
			delete(t.Header, k)
		} else {
			t.Header[k] = v
		}
	}
	s, err := t.SignedString(key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// claimsMap is c as a map, to remove claims or give them odd types.
func claimsMap(tb testing.TB, c *Claims, edit func(m jwt.MapClaims)) jwt.MapClaims {
	tb.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		tb.Fatal(err)
	}
	m := jwt.MapClaims{}
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatal(err)
	}
	edit(m)
	return m
}

// seg encodes v as a token segment: JSON for maps and structs, raw bytes
// for []byte and strings.
func seg(tb testing.TB, v any) string {
	tb.Helper()
	switch v := v.(type) {
	case string:
		return base64.RawURLEncoding.EncodeToString([]byte(v))
	case []byte:
		return base64.RawURLEncoding.EncodeToString(v)
	}
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// publicSecrets are byte strings an attacker might use as the HMAC secret
// of a forged HS256 token: the encodings of a public key a verifier holds.
func publicSecrets(tb testing.TB, k *Key) map[string][]byte {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.public)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string][]byte{
		"PKIX PEM": pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
		"PKIX DER": der,
	}
	j, _, err := publicJWK(k)
	if err != nil {
		tb.Fatal(err)
	}
	out["JWK JSON"], _ = json.Marshal(j)
	switch p := k.public.(type) {
	case ed25519.PublicKey:
		out["raw"] = p
	case *ecdsa.PublicKey:
		out["raw"], _ = p.Bytes()
	case *rsa.PublicKey:
		pk1 := x509.MarshalPKCS1PublicKey(p)
		out["raw"] = pk1
		out["PKCS1 PEM"] = pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: pk1})
	}
	return out
}

type badToken struct {
	name  string
	token string
	want  error // ErrInvalidToken or ErrExpired
}

// malformedTokens are the tokens every verifier of the mixed set (and of
// its public keys) must refuse: alg=none and algorithms outside the set,
// HS256 signed with a public key, a token under another key's kid or an
// unknown one, expired, a wrong or missing iss, aud or exp, exp not a
// number, a wrong typ, headers pointing at other keys (jwk, jku, x5u,
// x5c), and tampering. Duplicate member names are strict_test.go's.
func malformedTokens(tb testing.TB) []badToken {
	tb.Helper()
	k := fixtureKeys(tb)
	ks := mixedSet(tb)
	good := mustSign(tb, ks, validClaims())
	parts := strings.Split(good, ".")
	var cases []badToken
	add := func(name, token string) { cases = append(cases, badToken{name, token, ErrInvalidToken}) }
	edit := func(f func(c *Claims)) *Claims { c := validClaims(); f(c); return c }
	drop := func(names ...string) jwt.MapClaims {
		return claimsMap(tb, validClaims(), func(m jwt.MapClaims) {
			for _, n := range names {
				delete(m, n)
			}
		})
	}
	set := func(name string, v any) jwt.MapClaims {
		return claimsMap(tb, validClaims(), func(m jwt.MapClaims) { m[name] = v })
	}
	ed := func(h map[string]any, c jwt.Claims) string {
		return craft(tb, jwt.SigningMethodEdDSA, k.ed.sk().private, h, c)
	}

	// alg=none, unsigned.
	none := craft(tb, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, hdr("ed"), validClaims())
	add("alg=none", none)
	add("alg=none with a real signature", strings.Join([]string{strings.Split(none, ".")[0], parts[1], parts[2]}, "."))
	add("alg=None", seg(tb, map[string]any{"alg": "None", "typ": "at+jwt", "kid": "ed"})+"."+parts[1]+".")
	add("alg missing", seg(tb, hdr("ed"))+"."+parts[1]+"."+parts[2])
	add("alg=HS512 not in the set", craft(tb, jwt.SigningMethodHS512, k.hs.sk().secret, hdr("hs"), validClaims()))
	add("alg=PS256 with the RSA key", craft(tb, jwt.SigningMethodPS256, k.rsa.sk().private, hdr("rsa"), validClaims()))
	add("alg=RS512 with the RSA key", craft(tb, jwt.SigningMethodRS512, k.rsa.sk().private, hdr("rsa"), validClaims()))

	// HS256 "signed" with a public key, under the real key's kid.
	for _, pk := range []*Key{k.ed, k.ec, k.rsa} {
		for form, secret := range publicSecrets(tb, pk) {
			add("HS256 signed with the "+pk.id+" public key as "+form, craft(tb, jwt.SigningMethodHS256, secret, hdr(pk.id), validClaims()))
		}
	}
	add("HS256 signed with a public key under the HS256 kid", craft(tb, jwt.SigningMethodHS256, publicSecrets(tb, k.ed)["raw"], hdr("hs"), validClaims()))
	// Valid signatures by a real key under another key's kid.
	add("ES256 token under the EdDSA kid", craft(tb, jwt.SigningMethodES256, k.ec.sk().private, hdr("ed"), validClaims()))
	add("EdDSA token under the RSA kid", ed(hdr("rsa"), validClaims()))
	add("HS256 token under the EdDSA kid", craft(tb, jwt.SigningMethodHS256, k.hs.sk().secret, hdr("ed"), validClaims()))

	// Expiry and times.
	cases = append(cases,
		badToken{"expired", ed(hdr("ed"), edit(func(c *Claims) {
			c.ExpiresAt = jwt.NewNumericDate(testNow.Add(-time.Minute))
			c.IssuedAt = jwt.NewNumericDate(testNow.Add(-16 * time.Minute))
		})), ErrExpired},
		badToken{"expired beyond the leeway", ed(hdr("ed"), edit(func(c *Claims) {
			c.ExpiresAt = jwt.NewNumericDate(testNow.Add(-6 * time.Second))
			c.IssuedAt = jwt.NewNumericDate(testNow.Add(-time.Minute))
		})), ErrExpired},
	)
	add("expired with a wrong aud", ed(hdr("ed"), edit(func(c *Claims) {
		c.ExpiresAt = jwt.NewNumericDate(testNow.Add(-time.Minute))
		c.IssuedAt = jwt.NewNumericDate(testNow.Add(-16 * time.Minute))
		c.Audience = jwt.ClaimStrings{"other"}
	})))
	add("expired with a bad sub", ed(hdr("ed"), edit(func(c *Claims) {
		c.ExpiresAt = jwt.NewNumericDate(testNow.Add(-time.Minute))
		c.IssuedAt = jwt.NewNumericDate(testNow.Add(-16 * time.Minute))
		c.Subject = "alice"
	})))
	add("missing exp", ed(hdr("ed"), drop("exp")))
	add("exp not a number", ed(hdr("ed"), set("exp", "tomorrow")))
	add("iat in the future", ed(hdr("ed"), edit(func(c *Claims) { c.IssuedAt = jwt.NewNumericDate(testNow.Add(time.Minute)) })))
	add("missing iat", ed(hdr("ed"), drop("iat")))
	add("nbf in the future", ed(hdr("ed"), edit(func(c *Claims) { c.NotBefore = jwt.NewNumericDate(testNow.Add(time.Minute)) })))

	// Audience and issuer.
	add("wrong aud", ed(hdr("ed"), edit(func(c *Claims) { c.Audience = jwt.ClaimStrings{"other"} })))
	add("wrong aud, several", ed(hdr("ed"), edit(func(c *Claims) { c.Audience = jwt.ClaimStrings{"other", "API", "api "} })))
	add("missing aud", ed(hdr("ed"), drop("aud")))
	add("empty aud", ed(hdr("ed"), set("aud", "")))
	add("aud not a string", ed(hdr("ed"), set("aud", 1)))
	add("wrong iss", ed(hdr("ed"), edit(func(c *Claims) { c.Issuer = "https://evil.example.com" })))
	add("iss with other case", ed(hdr("ed"), edit(func(c *Claims) { c.Issuer = strings.ToUpper(testIssuer) })))
	add("iss with a trailing slash", ed(hdr("ed"), edit(func(c *Claims) { c.Issuer = testIssuer + "/" })))
	add("missing iss", ed(hdr("ed"), drop("iss")))

	// Identifiers.
	for _, v := range []string{"", "alice", "-1", "0", "007", "+42", "4.2", "1e3", " 42", "42\n", "9223372036854775808", "٤٢"} {
		add("sub "+strconvQuote(v), ed(hdr("ed"), edit(func(c *Claims) { c.Subject = v })))
		add("sid "+strconvQuote(v), ed(hdr("ed"), edit(func(c *Claims) { c.SessionID = v })))
	}
	add("missing sub", ed(hdr("ed"), drop("sub")))
	add("missing sid", ed(hdr("ed"), drop("sid")))
	add("sub a JSON number", ed(hdr("ed"), set("sub", 42)))
	add("sid a JSON number", ed(hdr("ed"), set("sid", 7)))
	add("missing jti", ed(hdr("ed"), drop("jti")))

	// typ.
	for _, typ := range []any{nil, "JWT", "jwt", "at+jwt ", "application/jwt", "at+JWT+x", "", 1, []string{"at+jwt"}} {
		h := hdr("ed")
		h["typ"] = typ
		name := "typ missing"
		if typ != nil {
			b, _ := json.Marshal(typ)
			name = "typ " + string(b)
		}
		add(name, ed(h, validClaims()))
	}

	// kid.
	add("unknown kid", ed(hdr("nope"), validClaims()))
	add("missing kid", ed(map[string]any{"typ": "at+jwt"}, validClaims()))
	add("empty kid", ed(hdr(""), validClaims()))
	add("kid a number", ed(map[string]any{"typ": "at+jwt", "kid": 1}, validClaims()))
	add("kid with a NUL", ed(hdr("ed\x00"), validClaims()))
	add("kid with other case", ed(hdr("ED"), validClaims()))
	add("crit header", ed(map[string]any{"typ": "at+jwt", "kid": "ed", "crit": []string{"exp"}, "exp": 1}, validClaims()))

	// Another key under a known kid.
	for _, alg := range []SigningAlgorithm{EdDSA, ES256, HS256} {
		other, err := GenerateKey(alg, "x")
		if err != nil {
			tb.Fatal(err)
		}
		kid := map[SigningAlgorithm]string{EdDSA: "ed", ES256: "ec", HS256: "hs"}[alg]
		add("signed by another "+string(alg)+" key with the same kid", craft(tb, alg.method(), other.signingKey(), hdr(kid), validClaims()))
	}

	rsaOther, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	add("signed by another RS256 key with the same kid", craft(tb, jwt.SigningMethodRS256, rsaOther, hdr("rsa"), validClaims()))

	// Headers pointing at the attacker's key.
	attacker, err := GenerateKey(EdDSA, "attacker")
	if err != nil {
		tb.Fatal(err)
	}
	aj, _, _ := publicJWK(attacker)
	sign := func(h map[string]any) string {
		return craft(tb, jwt.SigningMethodEdDSA, attacker.sk().private, h, validClaims())
	}
	add("attacker key in jwk header, attacker kid", sign(map[string]any{"typ": "at+jwt", "kid": "attacker", "jwk": aj}))
	add("attacker key in jwk header, real kid", sign(map[string]any{"typ": "at+jwt", "kid": "ed", "jwk": aj}))
	add("attacker key in jwk header, no kid", sign(map[string]any{"typ": "at+jwt", "jwk": aj}))
	add("jku header", sign(map[string]any{"typ": "at+jwt", "kid": "ed", "jku": "https://evil.example/jwks.json"}))
	add("x5u header", sign(map[string]any{"typ": "at+jwt", "kid": "ed", "x5u": "https://evil.example/cert.pem"}))
	add("x5c header", sign(map[string]any{"typ": "at+jwt", "kid": "ed", "x5c": []string{"MIIB"}}))

	// Tampering.
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	for _, r := range [][2]string{{`"sub":"42"`, `"sub":"43"`}, {`"role":"user"`, `"role":"admin"`}, {`"sid":"7"`, `"sid":"8"`}} {
		if !strings.Contains(string(payload), r[0]) {
			tb.Fatalf("payload %s lacks %s", payload, r[0])
		}
		p := strings.Replace(string(payload), r[0], r[1], 1)
		add("tampered payload "+r[1], parts[0]+"."+seg(tb, p)+"."+parts[2])
	}
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	add("tampered header", seg(tb, strings.Replace(string(header), `"typ":"at+jwt"`, `"typ":"application/at+jwt"`, 1))+"."+parts[1]+"."+parts[2])
	sig := []byte(parts[2])
	sig[10] ^= 'A' ^ 'B' // another base64url letter
	add("tampered signature", parts[0]+"."+parts[1]+"."+string(sig))
	add("signature of another token", parts[0]+"."+parts[1]+"."+strings.Split(mustSign(tb, ks, edit(func(c *Claims) { c.Subject = "43" })), ".")[2])
	add("signature removed", parts[0]+"."+parts[1]+".")
	add("signature with non-canonical base64 trailing bits", parts[0]+"."+parts[1]+"."+nonCanonical(parts[2]))
	add("signature with padding", good+"==")

	// Signed JSON that is not strict.
	for _, sc := range strictTokens(tb) {
		add("strict JSON: "+sc.name, sc.token)
	}

	// Structure.
	add("empty", "")
	add("truncated by 10", good[:len(good)-10])
	add("truncated in half", good[:len(good)/2])
	add("header only", parts[0])
	add("header and payload", parts[0]+"."+parts[1])
	add("extra segment", good+".AAAA")
	add("extra dot", good+".")
	add("five segments (JWE shape)", good+".AAAA.AAAA")
	add("leading space", " "+good)
	add("trailing newline", good+"\n")
	add("CRLF inside the payload", parts[0]+"."+parts[1][:10]+"\r\n"+parts[1][10:]+"."+parts[2])
	add("LF inside the signature", parts[0]+"."+parts[1]+"."+parts[2][:10]+"\n"+parts[2][10:])
	add("NUL in the middle", good[:20]+"\x00"+good[20:])
	add("NUL at the end", good+"\x00")
	add("NULs only", strings.Repeat("\x00", 64))
	add("invalid base64 in header", "*"+parts[0][1:]+"."+parts[1]+"."+parts[2])
	add("invalid base64 in payload", parts[0]+"."+parts[1][:5]+"!"+parts[1][6:]+"."+parts[2])
	add("standard base64 alphabet", strings.NewReplacer("-", "+", "_", "/").Replace(good)+"+/")
	add("header not JSON", seg(tb, "not json")+"."+parts[1]+"."+parts[2])
	add("header JSON null", seg(tb, "null")+"."+parts[1]+"."+parts[2])
	add("payload not JSON", parts[0]+"."+seg(tb, "not json")+"."+parts[2])
	add("payload a JSON array", parts[0]+"."+seg(tb, "[1,2]")+"."+parts[2])
	add("dots only", "..")
	// Longer than MaxTokenSize yet properly signed: refused by length
	// alone.
	add("one byte over MaxTokenSize, validly signed", paddedToken(tb, MaxTokenSize+1))
	huge := ed(hdr("ed"), set("pad", strings.Repeat("x", 9000)))
	if len(huge) <= 2*MaxTokenSize {
		tb.Fatalf("huge token is only %d bytes", len(huge))
	}
	add("huge (> 8 KiB), validly signed", huge)
	add("huge garbage", strings.Repeat("A", 1<<20))
	return cases
}

// tokenOfSize returns sign(hpad, ppad) for paddings that make the token
// exactly size bytes long: sign puts hpad in the header and ppad in the
// payload. A base64url segment cannot grow by every length (n bytes take
// ceil(4n/3) characters), so both segments are padded.
func tokenOfSize(tb testing.TB, size int, sign func(hpad, ppad string) string) string {
	tb.Helper()
	base := len(sign("", ""))
	if base > size {
		tb.Fatalf("the shortest token is %d bytes, more than %d", base, size)
	}
	for h := 0; h < 4; h++ {
		for p := max(0, (size-base)*3/4-8); ; p++ {
			tok := sign(strings.Repeat("h", h), strings.Repeat("p", p))
			if len(tok) == size {
				return tok
			}
			if len(tok) > size {
				break
			}
		}
	}
	tb.Fatalf("no token of %d bytes", size)
	return ""
}

// paddedToken is a valid EdDSA token of the mixed set, exactly size bytes
// long (padded with the unregistered members "xpad" in the header and
// "pad" in the payload).
func paddedToken(tb testing.TB, size int) string {
	tb.Helper()
	k := fixtureKeys(tb)
	return tokenOfSize(tb, size, func(hpad, ppad string) string {
		h := hdr("ed")
		h["xpad"] = hpad
		return craft(tb, jwt.SigningMethodEdDSA, k.ed.sk().private, h,
			claimsMap(tb, validClaims(), func(m jwt.MapClaims) { m["pad"] = ppad }))
	})
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

// nonCanonical changes the unused low bits of the last base64url
// character of s, which a lenient decoder maps to the same bytes.
func nonCanonical(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[last|1])
}

// checkRefused asserts err is the wanted refusal and leaks no token text.
func checkRefused(t *testing.T, token string, err error, want error) {
	t.Helper()
	if err == nil {
		t.Fatal("accepted")
	}
	if !errors.Is(err, want) {
		t.Fatalf("err = %v, want %v", err, want)
	}
	if !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("err = %v does not wrap ErrUnauthenticated", err)
	}
	if want == ErrInvalidToken && errors.Is(err, ErrExpired) || want == ErrExpired && errors.Is(err, ErrInvalidToken) {
		t.Fatalf("err = %v wraps both ErrInvalidToken and ErrExpired", err)
	}
	msg := err.Error()
	if token != "" && strings.Contains(msg, token) {
		t.Fatalf("error message contains the token: %q", msg)
	}
	for _, s := range strings.Split(token, ".") {
		if len(s) >= 8 && strings.Contains(msg, s) {
			t.Fatalf("error message contains a token segment: %q", msg)
		}
	}
}

func TestParseRejectsMalformedTokens(t *testing.T) {
	k := fixtureKeys(t)
	mixed := mixedSet(t)
	edOnly, err := NewKeySet(k.ed)
	if err != nil {
		t.Fatal(err)
	}
	sets := map[string]*KeySet{"mixed": mixed, "EdDSA only": edOnly}
	cases := malformedTokens(t)
	for setName, ks := range sets {
		for _, tc := range cases {
			t.Run(setName+"/"+tc.name, func(t *testing.T) {
				c, err := ks.parse(tc.token, testConfig())
				if c != nil {
					t.Errorf("returned claims %+v", c)
				}
				checkRefused(t, tc.token, err, tc.want)
			})
		}
	}
}

func TestParseAccepts(t *testing.T) {
	k := fixtureKeys(t)
	ks := mixedSet(t)
	edit := func(f func(c *Claims)) *Claims { c := validClaims(); f(c); return c }
	ed := func(h map[string]any, c jwt.Claims) string {
		return craft(t, jwt.SigningMethodEdDSA, k.ed.sk().private, h, c)
	}
	cases := map[string]string{
		"signed by sign":          mustSign(t, ks, validClaims()),
		"typ application/at+jwt":  ed(map[string]any{"typ": "application/at+jwt", "kid": "ed"}, validClaims()),
		"typ AT+JWT":              ed(map[string]any{"typ": "AT+JWT", "kid": "ed"}, validClaims()),
		"typ Application/At+Jwt":  ed(map[string]any{"typ": "Application/At+Jwt", "kid": "ed"}, validClaims()),
		"aud a single string":     ed(hdr("ed"), claimsMap(t, validClaims(), func(m jwt.MapClaims) { m["aud"] = "api" })),
		"aud among others":        ed(hdr("ed"), edit(func(c *Claims) { c.Audience = jwt.ClaimStrings{"x", "api"} })),
		"exp within the leeway":   ed(hdr("ed"), edit(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(testNow.Add(-4 * time.Second)) })),
		"iat within the leeway":   ed(hdr("ed"), edit(func(c *Claims) { c.IssuedAt = jwt.NewNumericDate(testNow.Add(4 * time.Second)) })),
		"ES256 verify key":        craft(t, jwt.SigningMethodES256, k.ec.sk().private, hdr("ec"), validClaims()),
		"RS256 verify key":        craft(t, jwt.SigningMethodRS256, k.rsa.sk().private, hdr("rsa"), validClaims()),
		"HS256 verify key":        craft(t, jwt.SigningMethodHS256, k.hs.sk().secret, hdr("hs"), validClaims()),
		"unknown headers ignored": ed(map[string]any{"typ": "at+jwt", "kid": "ed", "x-custom": true}, validClaims()),
		"largest int64 ids":       ed(hdr("ed"), edit(func(c *Claims) { c.Subject, c.SessionID = "9223372036854775807", "1" })),
		"exactly MaxTokenSize":    paddedToken(t, MaxTokenSize),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := ks.parse(tok, testConfig())
			if err != nil {
				t.Fatal(err)
			}
			if c.Issuer != testIssuer || c.ID != "jti-1" {
				t.Errorf("claims = %+v", c)
			}
		})
	}
}

func TestTokenRoundTripAllAlgorithms(t *testing.T) {
	k := fixtureKeys(t)
	for _, key := range []*Key{k.ed, k.ec, k.rsa, k.hs} {
		t.Run("alg="+string(key.Algorithm()), func(t *testing.T) {
			ks, err := NewKeySet(key)
			if err != nil {
				t.Fatal(err)
			}
			want := validClaims()
			want.Audience = jwt.ClaimStrings{"api", "admin"}
			tok := mustSign(t, ks, want)
			h := tokenHeader(t, tok)
			if h["alg"] != string(key.Algorithm()) || h["typ"] != "at+jwt" || h["kid"] != key.ID() || len(h) != 3 {
				t.Errorf("header = %v", h)
			}
			got, err := ks.parse(tok, testConfig())
			if err != nil {
				t.Fatal(err)
			}
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(want)
			if string(gj) != string(wj) {
				t.Errorf("claims = %s, want %s", gj, wj)
			}
			// A set holding only the public key verifies too.
			pub, err := newKeySet(nil, []*Key{key.Public()})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := pub.parse(tok, testConfig()); err != nil {
				t.Errorf("public key set: %v", err)
			}
		})
	}
}

// tokenHeader decodes a token's header.
func tokenHeader(tb testing.TB, tok string) map[string]any {
	tb.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err != nil {
		tb.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		tb.Fatal(err)
	}
	return h
}

func TestTokenRotation(t *testing.T) {
	old, err := GenerateKey(EdDSA, "2026-01")
	if err != nil {
		t.Fatal(err)
	}
	next, err := GenerateKey(ES256, "2026-02")
	if err != nil {
		t.Fatal(err)
	}
	before, _ := NewKeySet(old)
	oldTok := mustSign(t, before, validClaims())

	during, err := NewKeySet(next, old.Public())
	if err != nil {
		t.Fatal(err)
	}
	newTok := mustSign(t, during, validClaims())
	if kid := tokenHeader(t, newTok)["kid"]; kid != "2026-02" {
		t.Errorf("new token kid = %v", kid)
	}
	if kid := tokenHeader(t, oldTok)["kid"]; kid != "2026-01" {
		t.Errorf("old token kid = %v", kid)
	}
	for name, tok := range map[string]string{"old": oldTok, "new": newTok} {
		if _, err := during.parse(tok, testConfig()); err != nil {
			t.Errorf("during rotation, %s token: %v", name, err)
		}
	}
	if _, err := before.parse(newTok, testConfig()); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("old set, new token: %v", err)
	}

	after, _ := NewKeySet(next)
	if _, err := after.parse(oldTok, testConfig()); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("after rotation, old token: err = %v, want ErrInvalidToken", err)
	}
	if _, err := after.parse(newTok, testConfig()); err != nil {
		t.Errorf("after rotation, new token: %v", err)
	}
}

func TestTokenConfigValidate(t *testing.T) {
	ok := testConfig()
	if err := ok.validate("Config"); err != nil {
		t.Fatal(err)
	}
	for field, edit := range map[string]func(c *tokenConfig){
		"Issuer":      func(c *tokenConfig) { c.Issuer = "" },
		"Audience":    func(c *tokenConfig) { c.Audience = nil },
		"Audience[1]": func(c *tokenConfig) { c.Audience = []string{"api", ""} },
		"Leeway":      func(c *tokenConfig) { c.Leeway = 31 * time.Second },
		"Leeway ":     func(c *tokenConfig) { c.Leeway = -time.Second },
	} {
		c := testConfig()
		edit(&c)
		err := c.validate("Config")
		if err == nil || !strings.HasPrefix(err.Error(), "session: Config."+strings.TrimSpace(field)+": ") {
			t.Errorf("%s: err = %v", field, err)
		}
		// parse refuses to run on it rather than switching a check off.
		ks := mixedSet(t)
		if _, err := ks.parse(mustSign(t, ks, validClaims()), c); err == nil || errors.Is(err, ErrUnauthenticated) {
			t.Errorf("%s: parse err = %v, want a config error", field, err)
		}
	}
	c := testConfig()
	c.Leeway = 30 * time.Second
	if err := c.validate("Config"); err != nil {
		t.Errorf("Leeway 30s: %v", err)
	}
}

func TestParseLeeway(t *testing.T) {
	k := fixtureKeys(t)
	ks := mixedSet(t)
	tok := craft(t, jwt.SigningMethodEdDSA, k.ed.sk().private, hdr("ed"), func() *Claims {
		c := validClaims()
		c.ExpiresAt = jwt.NewNumericDate(testNow.Add(-20 * time.Second))
		c.IssuedAt = jwt.NewNumericDate(testNow.Add(-time.Minute))
		return c
	}())
	cfg := testConfig()
	if _, err := ks.parse(tok, cfg); !errors.Is(err, ErrExpired) {
		t.Errorf("default leeway: err = %v, want ErrExpired", err)
	}
	cfg.Leeway = 30 * time.Second
	if _, err := ks.parse(tok, cfg); err != nil {
		t.Errorf("leeway 30s: %v", err)
	}
}

func TestTokenSignRefuses(t *testing.T) {
	ks := mixedSet(t)
	for name, edit := range map[string]func(c *Claims){
		"no iss":  func(c *Claims) { c.Issuer = "" },
		"no aud":  func(c *Claims) { c.Audience = nil },
		"no exp":  func(c *Claims) { c.ExpiresAt = nil },
		"no iat":  func(c *Claims) { c.IssuedAt = nil },
		"no jti":  func(c *Claims) { c.ID = "" },
		"bad sub": func(c *Claims) { c.Subject = "alice" },
		"bad sid": func(c *Claims) { c.SessionID = "" },
		"too long": func(c *Claims) {
			c.Role = strings.Repeat("r", MaxTokenSize)
		},
	} {
		c := validClaims()
		edit(c)
		if tok, err := ks.sign(c); err == nil {
			t.Errorf("%s: signed %d bytes", name, len(tok))
		}
	}
	// The error names the limit, not the token.
	c := validClaims()
	c.Role = strings.Repeat("r", MaxTokenSize)
	_, err := ks.sign(c)
	if err == nil || !strings.Contains(err.Error(), "MaxTokenSize (4096)") || strings.Contains(err.Error(), "eyJ") || strings.Contains(err.Error(), "rrrr") {
		t.Errorf("too long: err = %v", err)
	}
	// Growing the role a byte at a time: sign issues tokens up to the
	// limit, parse accepts the longest, and sign refuses the next.
	c = validClaims()
	longest := ""
	for {
		c.Role += "r"
		tok, err := ks.sign(c)
		if err != nil {
			break
		}
		longest = tok
	}
	if len(longest) < MaxTokenSize-2 || len(longest) > MaxTokenSize {
		t.Fatalf("longest token signed: %d bytes", len(longest))
	}
	if _, err := ks.parse(longest, testConfig()); err != nil {
		t.Errorf("a token of %d bytes issued by sign: %v", len(longest), err)
	}
	if _, err := ks.sign(nil); err == nil {
		t.Error("nil claims signed")
	}
	k := fixtureKeys(t)
	verifyOnly, _ := newKeySet(nil, []*Key{k.ed.Public()})
	if _, err := verifyOnly.sign(validClaims()); err == nil {
		t.Error("a set without signing key signed")
	}
}

// TestTokenErrorsNeverQuoteInput feeds tokens whose decoded parts hold
// recognisable text (JSON syntax errors quote input) and checks that no
// error message repeats it.
func TestTokenErrorsNeverQuoteInput(t *testing.T) {
	ks := mixedSet(t)
	const marker = "SECRETMARKER"
	for _, tok := range []string{
		seg(t, `{"alg":"EdDSA","kid":"`+marker+`","typ":"at+jwt"}`) + "." + seg(t, "{}") + ".AAAA",
		seg(t, `{"alg":"EdDSA"`+marker) + "." + seg(t, "{}") + ".AAAA",
		seg(t, `{"alg":"EdDSA","kid":"ed","typ":"at+jwt"}`) + "." + seg(t, `{"sub":`+marker+`}`) + ".AAAA",
		seg(t, `{"alg":"`+marker+`","kid":"ed","typ":"at+jwt"}`) + "." + seg(t, "{}") + ".AAAA",
		seg(t, `{"alg":"EdDSA","kid":"ed","typ":"`+marker+`"}`) + "." + seg(t, "{}") + ".AAAA",
		marker + "." + marker + "." + marker,
	} {
		_, err := ks.parse(tok, testConfig())
		if err == nil || strings.Contains(err.Error(), marker) || strings.Contains(strings.ToLower(err.Error()), strings.ToLower(marker)) {
			t.Errorf("err = %v", err)
		}
	}
}

// FuzzParse: whatever the input, parse does not panic and accepts nothing
// but the tokens the test issued.
func FuzzParse(f *testing.F) {
	ks := mixedSet(f)
	k := fixtureKeys(f)
	issued := map[string]bool{}
	for i, key := range []*Key{k.ed, k.ec, k.rsa, k.hs} {
		c := validClaims()
		c.Subject = string(rune('1' + i))
		tok := craft(f, key.alg.method(), key.signingKey(), hdr(key.id), c)
		issued[tok] = true
	}
	issued[mustSign(f, ks, validClaims())] = true
	for tok := range issued {
		f.Add(tok)
		parts := strings.Split(tok, ".")
		f.Add(parts[0] + "." + parts[1] + ".")
		f.Add(parts[0] + ".." + parts[2])
		f.Add(tok + "." + parts[2])
		f.Add(nonCanonical(tok))
		f.Add(strings.ToUpper(tok))
	}
	for _, tc := range malformedTokens(f) {
		if len(tc.token) <= 2*MaxTokenSize {
			f.Add(tc.token)
		}
	}
	cfg := testConfig()
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := ks.parse(tok, cfg)
		if err == nil {
			if !issued[tok] {
				t.Fatalf("accepted a token the test did not issue: %q", tok)
			}
			if c == nil {
				t.Fatal("nil claims without error")
			}
			return
		}
		if c != nil {
			t.Fatal("claims with an error")
		}
		if !errors.Is(err, ErrInvalidToken) && !errors.Is(err, ErrExpired) {
			t.Fatalf("err = %v, want ErrInvalidToken or ErrExpired", err)
		}
		if len(tok) >= 8 && strings.Contains(err.Error(), tok) {
			t.Fatalf("error quotes the token: %v", err)
		}
	})
}

func benchSet(b *testing.B, alg SigningAlgorithm) (*KeySet, string) {
	b.Helper()
	key, err := GenerateKey(alg, "bench")
	if err != nil {
		b.Fatal(err)
	}
	ks, err := NewKeySet(key)
	if err != nil {
		b.Fatal(err)
	}
	return ks, mustSign(b, ks, validClaims())
}

func BenchmarkParse(b *testing.B) {
	for _, alg := range []SigningAlgorithm{EdDSA, HS256} {
		b.Run("alg="+string(alg), func(b *testing.B) {
			ks, tok := benchSet(b, alg)
			cfg := testConfig()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ks.parse(tok, cfg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBareJWT is golang-jwt alone with the same key and options: the
// difference to BenchmarkParse is this package's own cost.
func BenchmarkBareJWT(b *testing.B) {
	for _, alg := range []SigningAlgorithm{EdDSA, HS256} {
		b.Run("alg="+string(alg), func(b *testing.B) {
			ks, tok := benchSet(b, alg)
			cfg := testConfig()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := jwt.NewParser(ks.parserOptions(cfg)...).ParseWithClaims(tok, &Claims{}, ks.keyfunc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestTokenConcurrentUse signs and parses from many goroutines on one
// key set and one Verifier (run with -race).
func TestTokenConcurrentUse(t *testing.T) {
	ks := mixedSet(t)
	v := newTestVerifier(t, ks, testVerifierConfig())
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				tok, err := ks.sign(validClaims())
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := ks.parse(tok, testConfig()); err != nil {
					t.Error(err)
				}
				if _, err := v.Verify(tok); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
}
