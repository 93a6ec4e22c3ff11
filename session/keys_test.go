package session

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"
)

func TestGenerateKey(t *testing.T) {
	k := fixtureKeys(t)
	for _, tc := range []struct {
		key  *Key
		alg  SigningAlgorithm
		want string // type of the private or secret material
	}{
		{k.ed, EdDSA, "ed25519.PrivateKey"},
		{k.ec, ES256, "*ecdsa.PrivateKey"},
		{k.rsa, RS256, "*rsa.PrivateKey"},
		{k.hs, HS256, "[]uint8"},
	} {
		t.Run(string(tc.alg), func(t *testing.T) {
			key := tc.key
			if key.Algorithm() != tc.alg || !key.CanSign() {
				t.Fatalf("alg %s, CanSign %t", key.Algorithm(), key.CanSign())
			}
			if got := fmt.Sprintf("%T", key.signingKey()); got != tc.want {
				t.Errorf("material %s, want %s", got, tc.want)
			}
			switch p := key.public.(type) {
			case *ecdsa.PublicKey:
				if p.Curve != elliptic.P256() {
					t.Errorf("curve %s", p.Curve.Params().Name)
				}
			case *rsa.PublicKey:
				if p.N.BitLen() != 3072 {
					t.Errorf("RSA %d bits", p.N.BitLen())
				}
			}
			if tc.alg == HS256 && len(key.sk().secret) != 32 {
				t.Errorf("secret of %d bytes", len(key.sk().secret))
			}
			pub := key.Public()
			if tc.alg == HS256 {
				if pub != key {
					t.Error("HS256 Public() is not the key itself")
				}
			} else if pub.CanSign() || pub.ID() != key.ID() || pub.Algorithm() != key.Algorithm() || pub.sk != nil {
				t.Errorf("Public() = %v", pub)
			}
		})
	}
	// Random kids: 16 bytes of base64url, all different.
	seen := map[string]bool{}
	for range 20 {
		key, err := GenerateKey(EdDSA, "")
		if err != nil {
			t.Fatal(err)
		}
		b, err := base64.RawURLEncoding.DecodeString(key.ID())
		if err != nil || len(b) != 16 || seen[key.ID()] {
			t.Fatalf("kid %q", key.ID())
		}
		seen[key.ID()] = true
	}
	if _, err := GenerateKey("none", "x"); err == nil {
		t.Error("alg none generated")
	}
	if _, err := GenerateKey("HS512", "x"); err == nil {
		t.Error("alg HS512 generated")
	}
	for _, id := range []string{"a\nb", "a\x00", strings.Repeat("k", 257), "\xff"} {
		if _, err := GenerateKey(EdDSA, id); err == nil {
			t.Errorf("kid %q accepted", id)
		}
	}
}

func TestNewHMACKey(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	if _, err := NewHMACKey("hs", secret[:31]); err == nil {
		t.Error("31-byte secret accepted")
	}
	if _, err := NewHMACKey("", secret); err == nil {
		t.Error("empty id accepted")
	}
	key, err := NewHMACKey("hs", secret)
	if err != nil {
		t.Fatal(err)
	}
	ks, _ := NewKeySet(key)
	tok := mustSign(t, ks, validClaims())
	secret[0] ^= 1 // the key kept its own copy
	if _, err := ks.parse(tok, testConfig()); err != nil {
		t.Errorf("after changing the caller's slice: %v", err)
	}
	if key.Algorithm() != HS256 || !key.CanSign() {
		t.Errorf("key = %v", key)
	}
}

// TestKeyNeverPrintsMaterial formats keys with every common verb and
// looks for their secret or private material in the output.
func TestKeyNeverPrintsMaterial(t *testing.T) {
	k := fixtureKeys(t)
	ks := mixedSet(t)
	var needles []string
	needles = append(needles, hex.EncodeToString(k.hs.sk().secret), base64.RawURLEncoding.EncodeToString(k.hs.sk().secret), string(k.hs.sk().secret))
	ed := k.ed.sk().private.(ed25519.PrivateKey)
	needles = append(needles, hex.EncodeToString(ed.Seed()), strings.TrimSuffix(fmt.Sprint([]byte(ed.Seed())[:8]), "]"))
	ecD, _ := k.ec.sk().private.(*ecdsa.PrivateKey).Bytes()
	needles = append(needles, hex.EncodeToString(ecD), new(big.Int).SetBytes(ecD).String())
	needles = append(needles, k.rsa.sk().private.(*rsa.PrivateKey).D.String()[:20])
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%d", "%q"} {
		// holder has keys in unexported fields, where fmt cannot call
		// Format and dumps values by reflection.
		type holder struct {
			hs, ed *Key
			v      Key
			ks     *KeySet
			keys   []*Key
		}
		h := holder{k.hs, k.ed, *k.ed, ks, []*Key{k.hs}}
		for _, v := range []any{k.hs, *k.hs, k.ed, *k.ed, k.ec, k.rsa, []*Key{k.hs, k.ed}, ks, *ks, h, &h} {
			out := fmt.Sprintf(verb, v)
			for _, n := range needles {
				if strings.Contains(out, n) || strings.Contains(strings.ToLower(out), strings.ToLower(n)) {
					t.Fatalf("fmt %s of %T prints key material %q: %.300s", verb, v, n, out)
				}
			}
		}
	}
	if got := fmt.Sprint(k.hs); !strings.Contains(got, `"hs"`) || !strings.Contains(got, "HS256") {
		t.Errorf("Sprint = %s", got)
	}
}

// pemOf marshals a key with crypto/x509 and wraps it in PEM.
func pemOf(t *testing.T, typ string, der []byte, err error) []byte {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestParsePEM(t *testing.T) {
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	ecPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaPriv := fixtureKeys(t).rsa.sk().private.(*rsa.PrivateKey)
	rsa2048, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		return pemOf(t, "PRIVATE KEY", der, err)
	}
	pkix := func(k any) []byte { der, err := x509.MarshalPKIXPublicKey(k); return pemOf(t, "PUBLIC KEY", der, err) }
	sec1, err := x509.MarshalECPrivateKey(ecPriv)
	ecSEC1 := pemOf(t, "EC PRIVATE KEY", sec1, err)

	type pair struct {
		name      string
		priv, pub []byte
		alg       SigningAlgorithm
	}
	for _, p := range []pair{
		{"Ed25519 PKCS#8", pkcs8(edPriv), pkix(edPub), EdDSA},
		{"P-256 PKCS#8", pkcs8(ecPriv), pkix(&ecPriv.PublicKey), ES256},
		{"P-256 SEC 1", ecSEC1, pkix(&ecPriv.PublicKey), ES256},
		{"RSA-3072 PKCS#8", pkcs8(rsaPriv), pkix(&rsaPriv.PublicKey), RS256},
		{"RSA-2048 PKCS#1", pemOf(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa2048), nil),
			pemOf(t, "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rsa2048.PublicKey), nil), RS256},
		{"RSA-2048 PKCS#1 private, PKIX public", pemOf(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa2048), nil), pkix(&rsa2048.PublicKey), RS256},
	} {
		t.Run(p.name, func(t *testing.T) {
			priv, err := ParsePrivateKeyPEM("k1", p.priv)
			if err != nil {
				t.Fatal(err)
			}
			pub, err := ParsePublicKeyPEM("k1", p.pub)
			if err != nil {
				t.Fatal(err)
			}
			if priv.Algorithm() != p.alg || pub.Algorithm() != p.alg || !priv.CanSign() || pub.CanSign() || priv.ID() != "k1" {
				t.Fatalf("priv %v, pub %v", priv, pub)
			}
			// What the private key signs, the public key verifies.
			signer, _ := NewKeySet(priv)
			verifier, err := newKeySet(nil, []*Key{pub})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := verifier.parse(mustSign(t, signer, validClaims()), testConfig()); err != nil {
				t.Fatal(err)
			}
			// Without an id, both get the same thumbprint kid.
			a, _ := ParsePrivateKeyPEM("", p.priv)
			b, _ := ParsePublicKeyPEM("", p.pub)
			if a.ID() == "" || a.ID() != b.ID() {
				t.Errorf("thumbprint kids %q and %q", a.ID(), b.ID())
			}
			// MarshalPrivateKeyPEM round trip: PKCS#8, same key.
			out, err := priv.MarshalPrivateKeyPEM()
			if err != nil {
				t.Fatal(err)
			}
			if block, _ := pem.Decode(out); block == nil || block.Type != "PRIVATE KEY" {
				t.Fatalf("marshalled %q", out)
			}
			again, err := ParsePrivateKeyPEM("k1", out)
			if err != nil {
				t.Fatal(err)
			}
			if again.Algorithm() != p.alg || again.ID() != "k1" {
				t.Errorf("round trip %v", again)
			}
			if again2, _ := ParsePrivateKeyPEM("", out); again2.ID() != a.ID() {
				t.Error("round trip changed the key")
			}
			resigner, _ := NewKeySet(again)
			if _, err := verifier.parse(mustSign(t, resigner, validClaims()), testConfig()); err != nil {
				t.Errorf("key parsed back: %v", err)
			}
		})
	}
}

func TestMarshalPrivateKeyPEMRefuses(t *testing.T) {
	k := fixtureKeys(t)
	for _, key := range []*Key{k.hs, k.ed.Public(), k.ec.Public(), k.rsa.Public()} {
		if out, err := key.MarshalPrivateKeyPEM(); err == nil || out != nil {
			t.Errorf("%v: marshalled", key)
		}
	}
}

func TestParsePEMRefuses(t *testing.T) {
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		return pemOf(t, "PRIVATE KEY", der, err)
	}
	pkix := func(k any) []byte { der, err := x509.MarshalPKIXPublicKey(k); return pemOf(t, "PUBLIC KEY", der, err) }
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rsa1536, err := rsa.GenerateKey(rand.Reader, 1536)
	if err != nil {
		t.Fatal(err)
	}
	x25519, _ := ecdh.X25519().GenerateKey(rand.Reader)
	sec1, err := x509.MarshalECPrivateKey(p384)
	p384SEC1 := pemOf(t, "EC PRIVATE KEY", sec1, err)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	good := pkcs8(edPriv)
	goodDER, _ := pem.Decode(good)

	encrypted := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Headers: map[string]string{
		"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00112233445566778899AABBCCDDEEFF",
	}, Bytes: bytes.Repeat([]byte{1}, 64)})
	dekOnly := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"DEK-Info": "AES-256-CBC,00"}, Bytes: goodDER.Bytes})

	privCases := map[string][]byte{
		"P-384 PKCS#8":              pkcs8(p384),
		"P-384 SEC 1":               p384SEC1,
		"P-521 PKCS#8":              pkcs8(p521),
		"RSA-1024 PKCS#8":           pkcs8(rsa1024),
		"RSA-1536 PKCS#1":           pemOf(t, "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa1536), nil),
		"X25519 PKCS#8":             pkcs8(x25519),
		"encrypted (RFC 1423)":      encrypted,
		"DEK-Info header":           dekOnly,
		"encrypted PKCS#8":          pemOf(t, "ENCRYPTED PRIVATE KEY", bytes.Repeat([]byte{1}, 64), nil),
		"garbage":                   []byte("not a key at all"),
		"empty":                     nil,
		"PEM with garbage DER":      pemOf(t, "PRIVATE KEY", []byte("garbage"), nil),
		"PKCS#8 DER labelled PKCS1": pemOf(t, "RSA PRIVATE KEY", goodDER.Bytes, nil),
		"certificate block":         pemOf(t, "CERTIFICATE", goodDER.Bytes, nil),
		"public key":                pkix(edPub),
		"two blocks":                append(append([]byte{}, good...), good...),
		"truncated PEM":             good[:len(good)-20],
		"raw DER":                   goodDER.Bytes,
	}
	for name, in := range privCases {
		if key, err := ParsePrivateKeyPEM("k", in); err == nil {
			t.Errorf("private %s: accepted as %v", name, key)
		} else if strings.Contains(err.Error(), string(in)) && len(in) > 0 {
			t.Errorf("private %s: error quotes the input", name)
		}
	}
	x25519Pub := pkix(x25519.PublicKey())
	pubCases := map[string][]byte{
		"P-384":          pkix(&p384.PublicKey),
		"RSA-1024 PKIX":  pkix(&rsa1024.PublicKey),
		"RSA-1024 PKCS1": pemOf(t, "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rsa1024.PublicKey), nil),
		"X25519":         x25519Pub,
		"private key":    good,
		"garbage":        []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
		"two blocks":     append(pkix(edPub), pkix(edPub)...),
		"empty":          nil,
	}
	for name, in := range pubCases {
		if key, err := ParsePublicKeyPEM("k", in); err == nil {
			t.Errorf("public %s: accepted as %v", name, key)
		}
	}
	// A valid key with an invalid id.
	if _, err := ParsePrivateKeyPEM("bad\nkid", good); err == nil {
		t.Error("kid with a newline accepted")
	}
}

func TestNewKeySet(t *testing.T) {
	k := fixtureKeys(t)
	ks, err := NewKeySet(k.ed, k.ec.Public(), k.rsa, k.hs)
	if err != nil {
		t.Fatal(err)
	}
	if ks.Signing() != k.ed {
		t.Error("Signing is not the signing key")
	}
	keys := ks.Keys()
	if len(keys) != 4 || keys[0] != k.ed || keys[1].ID() != "ec" || keys[2] != k.rsa || keys[3] != k.hs {
		t.Errorf("Keys = %v", keys)
	}
	keys[0] = nil // a copy
	if ks.Keys()[0] != k.ed {
		t.Error("Keys returned the set's own slice")
	}
	if want := []string{"EdDSA", "ES256", "RS256", "HS256"}; strings.Join(ks.methods, ",") != strings.Join(want, ",") {
		t.Errorf("methods = %v", ks.methods)
	}

	dupHS, _ := NewHMACKey("ed", bytes.Repeat([]byte{1}, 32))
	for name, f := range map[string]func() (*KeySet, error){
		"nil signing":               func() (*KeySet, error) { return NewKeySet(nil) },
		"verification-only signing": func() (*KeySet, error) { return NewKeySet(k.ed.Public()) },
		"nil verify key":            func() (*KeySet, error) { return NewKeySet(k.ed, nil) },
		"zero Key":                  func() (*KeySet, error) { return NewKeySet(k.ed, &Key{}) },
		"zero Key with id":          func() (*KeySet, error) { return NewKeySet(k.ed, &Key{id: "z", alg: EdDSA}) },
		"duplicate kid":             func() (*KeySet, error) { return NewKeySet(k.ed, k.ed.Public()) },
		"duplicate kid, other alg":  func() (*KeySet, error) { return NewKeySet(k.ed, dupHS) },
		"signing repeated":          func() (*KeySet, error) { return NewKeySet(k.ed, k.ed) },
	} {
		if _, err := f(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := newKeySet(nil, nil); err == nil {
		t.Error("empty set accepted")
	}
}

// TestKeyThumbprintVectors checks kids made from keys against RFC 7638 3.1
// (RSA) and RFC 8037 A.3 (Ed25519).
func TestKeyThumbprintVectors(t *testing.T) {
	const (
		rsaN = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
		edX  = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
	)
	n, _ := base64.RawURLEncoding.DecodeString(rsaN)
	x, _ := base64.RawURLEncoding.DecodeString(edX)
	for _, tc := range []struct {
		pub  any
		want string
	}{
		{&rsa.PublicKey{N: new(big.Int).SetBytes(n), E: 65537}, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"},
		{ed25519.PublicKey(x), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"},
	} {
		key, err := keyFromPublic("", tc.pub)
		if err != nil {
			t.Fatal(err)
		}
		if key.ID() != tc.want {
			t.Errorf("%T thumbprint %s, want %s", tc.pub, key.ID(), tc.want)
		}
	}
}
