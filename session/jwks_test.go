package session

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

func TestJWKSDocument(t *testing.T) {
	k := fixtureKeys(t)
	ks := mixedSet(t)
	doc, err := ks.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(doc, &parsed); err != nil {
		t.Fatal(err)
	}
	if len(parsed.Keys) != 3 {
		t.Fatalf("%d keys, want 3 (HS256 never published): %s", len(parsed.Keys), doc)
	}
	b64 := func(v any) []byte {
		t.Helper()
		s, _ := v.(string)
		b, err := base64.RawURLEncoding.Strict().DecodeString(s)
		if err != nil {
			t.Fatalf("%q is not base64url: %v", s, err)
		}
		return b
	}
	want := []struct {
		kid, kty, alg string
		members       []string
	}{
		{"ed", "OKP", "EdDSA", []string{"crv", "x"}},
		{"ec", "EC", "ES256", []string{"crv", "x", "y"}},
		{"rsa", "RSA", "RS256", []string{"n", "e"}},
	}
	for i, w := range want {
		j := parsed.Keys[i]
		if j["kid"] != w.kid || j["kty"] != w.kty || j["alg"] != w.alg || j["use"] != "sig" {
			t.Errorf("key %d = %v", i, j)
		}
		if len(j) != 4+len(w.members) {
			t.Errorf("key %s has members %v, want kid kty alg use %v", w.kid, j, w.members)
		}
		for _, m := range w.members {
			if _, ok := j[m]; !ok {
				t.Errorf("key %s lacks %q", w.kid, m)
			}
		}
		for _, m := range privateMembers {
			if _, ok := j[m]; ok {
				t.Errorf("key %s has private member %q", w.kid, m)
			}
		}
		switch w.kty {
		case "OKP":
			if j["crv"] != "Ed25519" || !bytes.Equal(b64(j["x"]), k.ed.public.(ed25519.PublicKey)) {
				t.Errorf("OKP key %v", j)
			}
		case "EC":
			raw, _ := k.ec.public.(*ecdsa.PublicKey).Bytes()
			if j["crv"] != "P-256" || !bytes.Equal(b64(j["x"]), raw[1:33]) || !bytes.Equal(b64(j["y"]), raw[33:]) {
				t.Errorf("EC key %v", j)
			}
		case "RSA":
			p := k.rsa.public.(*rsa.PublicKey)
			if !bytes.Equal(b64(j["n"]), p.N.Bytes()) || j["e"] != "AQAB" {
				t.Errorf("RSA key %v", j)
			}
		}
	}
	// No private material anywhere in the bytes: not the HMAC secret, not
	// the Ed25519 seed, not the private scalars.
	ecD, _ := k.ec.sk().private.(*ecdsa.PrivateKey).Bytes()
	for _, secret := range [][]byte{k.hs.sk().secret, k.ed.sk().private.(ed25519.PrivateKey).Seed(), ecD, k.rsa.sk().private.(*rsa.PrivateKey).D.Bytes()} {
		if bytes.Contains(doc, []byte(base64.RawURLEncoding.EncodeToString(secret))) {
			t.Error("JWKS holds private material")
		}
	}
	if strings.Contains(string(doc), `"hs"`) || strings.Contains(string(doc), "HS256") || strings.Contains(string(doc), `"d"`) {
		t.Errorf("JWKS mentions the HS256 key or a d member: %s", doc)
	}
	// The document is a copy.
	doc[0] = 'X'
	if again, _ := ks.JWKS(); again[0] != '{' {
		t.Error("JWKS returned the set's own bytes")
	}
	// It parses back to the same public keys.
	keys, err := parseJWKS(mustJWKS(t, ks))
	if err != nil {
		t.Fatal(err)
	}
	for i, src := range []*Key{k.ed, k.ec, k.rsa} {
		got := keys[i]
		equal := got.public.(interface{ Equal(crypto.PublicKey) bool }).Equal(src.public)
		if got.ID() != src.ID() || got.Algorithm() != src.Algorithm() || got.CanSign() || !equal {
			t.Errorf("key %d parsed back as %v", i, got)
		}
	}
}

func mustJWKS(t *testing.T, ks *KeySet) []byte {
	t.Helper()
	doc, err := ks.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestJWKSWithoutAsymmetricKeys(t *testing.T) {
	ks, err := NewKeySet(fixtureKeys(t).hs)
	if err != nil {
		t.Fatal(err)
	}
	if doc := mustJWKS(t, ks); string(doc) != `{"keys":[]}` {
		t.Errorf("JWKS = %s", doc)
	}
}

func TestJWKSHandler(t *testing.T) {
	ks := mixedSet(t)
	h := ks.JWKSHandler()
	want := mustJWKS(t, ks)
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, "/.well-known/jwks.json", nil))
		res := rec.Result()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", method, res.StatusCode)
		}
		for name, v := range map[string]string{
			"Content-Type":           "application/jwk-set+json",
			"Cache-Control":          "public, max-age=300",
			"X-Content-Type-Options": "nosniff",
			"Content-Length":         strconv.Itoa(len(want)),
		} {
			if got := res.Header.Get(name); got != v {
				t.Errorf("%s: %s = %q, want %q", method, name, got, v)
			}
		}
		body := rec.Body.Bytes()
		if method == http.MethodGet && !bytes.Equal(body, want) {
			t.Errorf("GET body %s", body)
		}
		if method == http.MethodHead && len(body) != 0 {
			t.Errorf("HEAD body %s", body)
		}
	}
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions, "TRACE"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, "/.well-known/jwks.json", strings.NewReader("x")))
		if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: status %d, Allow %q", method, rec.Code, rec.Header().Get("Allow"))
		}
		if strings.Contains(rec.Body.String(), `"keys"`) {
			t.Errorf("%s: served the document", method)
		}
	}
}

func TestParseJWKS(t *testing.T) {
	k := fixtureKeys(t)
	jwkOf := func(key *Key) map[string]any {
		j, _, err := publicJWK(key)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(j)
		m := map[string]any{}
		json.Unmarshal(b, &m)
		return m
	}
	with := func(key *Key, edit func(m map[string]any)) map[string]any {
		m := jwkOf(key)
		edit(m)
		return m
	}
	doc := func(keys ...any) []byte {
		b, err := json.Marshal(map[string]any{"keys": keys})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ed, ec, rs := jwkOf(k.ed), jwkOf(k.ec), jwkOf(k.rsa)

	// Accepted, with the number of keys kept.
	for name, tc := range map[string]struct {
		doc  []byte
		keys int
	}{
		"all three":               {doc(ed, ec, rs), 3},
		"no use, no alg":          {doc(with(k.ed, func(m map[string]any) { delete(m, "use"); delete(m, "alg") })), 1},
		"alg Ed25519":             {doc(with(k.ed, func(m map[string]any) { m["alg"] = "Ed25519" })), 1},
		"key_ops verify":          {doc(with(k.ed, func(m map[string]any) { m["key_ops"] = []string{"verify"} })), 1},
		"encryption key skipped":  {doc(ed, with(k.rsa, func(m map[string]any) { m["use"] = "enc"; m["alg"] = "RSA-OAEP"; m["kid"] = "e" })), 1},
		"key_ops without verify":  {doc(ed, with(k.ec, func(m map[string]any) { m["key_ops"] = []string{"encrypt"}; m["kid"] = "e" })), 1},
		"unknown kty skipped":     {doc(ed, map[string]any{"kty": "AKP", "kid": "pq", "alg": "ML-DSA-44", "pub": "AAAA"}), 1},
		"x5c and x5t ignored":     {doc(with(k.rsa, func(m map[string]any) { m["x5c"] = []string{"MIIB"}; m["x5t"] = "abc" })), 1},
		"extra top-level members": {[]byte(`{"keys":` + string(doc(ed)[8:len(doc(ed))-1]) + `,"other":1}`), 1},
	} {
		keys, err := parseJWKS(tc.doc)
		if err != nil || len(keys) != tc.keys {
			t.Errorf("%s: %d keys, err %v", name, len(keys), err)
		}
	}

	small := func() map[string]any {
		key, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			t.Fatal(err)
		}
		return map[string]any{"kty": "RSA", "kid": "small", "n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()), "e": "AQAB"}
	}()
	offCurve := with(k.ec, func(m map[string]any) { m["y"] = m["x"] })
	for name, in := range map[string][]byte{
		"not JSON":            []byte("nope"),
		"not an object":       []byte(`[1]`),
		"no keys member":      []byte(`{}`),
		"KEYS upper case":     []byte(`{"KEYS":` + string(doc(ed)[8:])),
		"keys not an array":   []byte(`{"keys":{}}`),
		"keys of non-objects": []byte(`{"keys":[1]}`),
		"empty keys":          doc(),
		"only skipped keys":   doc(with(k.ed, func(m map[string]any) { m["use"] = "enc" })),
		"null key":            []byte(`{"keys":[null]}`),
		"no kid":              doc(with(k.ed, func(m map[string]any) { delete(m, "kid") })),
		"empty kid":           doc(with(k.ed, func(m map[string]any) { m["kid"] = "" })),
		"KID upper case":      doc(with(k.ed, func(m map[string]any) { m["KID"] = m["kid"]; delete(m, "kid") })),
		"kid a number":        doc(with(k.ed, func(m map[string]any) { m["kid"] = 1 })),
		"duplicate kid":       doc(ed, with(k.ec, func(m map[string]any) { m["kid"] = "ed" })),
		"no kty":              doc(with(k.ed, func(m map[string]any) { delete(m, "kty") })),
		"private d (OKP)":     doc(with(k.ed, func(m map[string]any) { m["d"] = "AAAA" })),
		"private d (EC)":      doc(with(k.ec, func(m map[string]any) { m["d"] = "AAAA" })),
		"private p (RSA)":     doc(with(k.rsa, func(m map[string]any) { m["p"] = "AAAA" })),
		"oct key":             doc(ed, map[string]any{"kty": "oct", "kid": "hs", "k": "c2VjcmV0", "alg": "HS256"}),
		"Ed448":               doc(with(k.ed, func(m map[string]any) { m["crv"] = "Ed448" })),
		"X25519":              doc(with(k.ed, func(m map[string]any) { m["crv"] = "X25519" })),
		"P-384":               doc(with(k.ec, func(m map[string]any) { m["crv"] = "P-384" })),
		"secp256k1":           doc(with(k.ec, func(m map[string]any) { m["crv"] = "secp256k1" })),
		"RSA 1024":            doc(small),
		"alg RS256 on OKP":    doc(with(k.ed, func(m map[string]any) { m["alg"] = "RS256" })),
		"alg HS256 on EC":     doc(with(k.ec, func(m map[string]any) { m["alg"] = "HS256" })),
		"alg ES384 on EC":     doc(with(k.ec, func(m map[string]any) { m["alg"] = "ES384" })),
		"alg PS256 on RSA":    doc(with(k.rsa, func(m map[string]any) { m["alg"] = "PS256" })),
		"alg none":            doc(with(k.ed, func(m map[string]any) { m["alg"] = "none" })),
		"x too short":         doc(with(k.ed, func(m map[string]any) { m["x"] = "AAAA" })),
		"x padded":            doc(with(k.ed, func(m map[string]any) { m["x"] = m["x"].(string) + "=" })),
		"x standard base64":   doc(with(k.ed, func(m map[string]any) { m["x"] = strings.Repeat("+", 43) })),
		"x not a string":      doc(with(k.ed, func(m map[string]any) { m["x"] = 5 })),
		"EC point off curve":  doc(offCurve),
		"EC without y":        doc(with(k.ec, func(m map[string]any) { delete(m, "y") })),
		"RSA without e":       doc(with(k.rsa, func(m map[string]any) { delete(m, "e") })),
		"RSA e even":          doc(with(k.rsa, func(m map[string]any) { m["e"] = "AQAA" })),
		"RSA e one":           doc(with(k.rsa, func(m map[string]any) { m["e"] = "AQ" })),
		"RSA e too long":      doc(with(k.rsa, func(m map[string]any) { m["e"] = "AQAAAAAB" })),
		"key_ops not strings": doc(with(k.ed, func(m map[string]any) { m["key_ops"] = "verify" })),
	} {
		if keys, err := parseJWKS(in); err == nil {
			t.Errorf("%s: accepted %d keys", name, len(keys))
		}
	}
}
