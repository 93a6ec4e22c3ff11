package legacy_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/fernet/fernet-go"

	"github.com/cedrina/cedrina/internal/legacytest"
	"github.com/cedrina/cedrina/legacy"
)

// keys parses s or fails the test.
func keys(t testing.TB, s string) *legacy.Keys {
	t.Helper()
	k, err := legacy.ParseKeys(s)
	if err != nil {
		t.Fatalf("ParseKeys: %v", err)
	}
	return k
}

// keyBytes returns the 32 bytes of a URL-safe base64 key.
func keyBytes(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.URLEncoding.DecodeString(s)
	if err != nil || len(b) != 32 {
		t.Fatalf("fixture key %d bytes, %v", len(b), err)
	}
	return b
}

// encrypted returns the encrypted users of the fixture.
func encrypted(t testing.TB) []legacytest.User {
	t.Helper()
	var out []legacytest.User
	for _, u := range legacytest.Users {
		if u.Encrypted {
			out = append(out, u)
		}
	}
	if len(out) == 0 {
		t.Fatal("the fixture has no encrypted hash")
	}
	return out
}

// seal wraps plaintext as the original did: a Fernet token under key,
// its text base64-encoded again (standard alphabet) after "enc_v1:".
func seal(t testing.TB, key, plaintext string) string {
	t.Helper()
	k, err := fernet.DecodeKey(key)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := fernet.EncryptAndSign([]byte(plaintext), k)
	if err != nil {
		t.Fatal(err)
	}
	return legacy.HashPrefix + base64.StdEncoding.EncodeToString(tok)
}

// noSecret fails the test when s contains the fixture's key in any of
// the forms it can be written in.
func noSecret(t testing.TB, what, s string) {
	t.Helper()
	for _, key := range []string{legacytest.Key, legacytest.OtherKey} {
		b := keyBytes(t, key)
		for _, form := range []string{key, base64.StdEncoding.EncodeToString(b), hex.EncodeToString(b), strings.TrimRight(key, "=")} {
			if strings.Contains(s, form) {
				t.Fatalf("%s shows a key: %q", what, s)
			}
		}
	}
}

func TestParseKeys(t *testing.T) {
	key := keyBytes(t, legacytest.Key)
	other := keyBytes(t, legacytest.OtherKey)
	if !strings.ContainsAny(legacytest.OtherKey, "-_") {
		t.Fatal("OtherKey must use the URL-safe alphabet, so that its standard form differs")
	}
	for _, tc := range []struct {
		name, in string
		n        int
		opens    bool // the fixture's values open
	}{
		{"one key", legacytest.Key, 1, true},
		{"trailing newline, as in a file", legacytest.Key + "\n", 1, true},
		{"hex", hex.EncodeToString(key), 1, true},
		{"upper-case hex", strings.ToUpper(hex.EncodeToString(key)), 1, true},
		{"standard base64", base64.StdEncoding.EncodeToString(other), 1, false},
		{"URL-safe base64", legacytest.OtherKey, 1, false},
		{"two, comma", legacytest.OtherKey + "," + legacytest.Key, 2, true},
		{"two, comma and space", legacytest.Key + ", " + legacytest.OtherKey, 2, true},
		{"three, white space", " " + legacytest.OtherKey + "\n\t" + hex.EncodeToString(other) + "\r\n" + legacytest.Key + " ", 3, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := legacy.ParseKeys(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if k.Len() != tc.n {
				t.Fatalf("Len = %d, want %d", k.Len(), tc.n)
			}
			u := encrypted(t)[0]
			got, err := k.OpenHash(u.Stored)
			switch {
			case tc.opens && (err != nil || got != legacytest.Hashes[u.Username]):
				t.Fatalf("OpenHash = %q, %v; want the fixture's hash", got, err)
			case !tc.opens && !errors.Is(err, legacy.ErrWrongKey):
				t.Fatalf("OpenHash with another key: %v, want ErrWrongKey", err)
			}
		})
	}

	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "no key given"},
		{"separators only", " ,\n\t, ", "no key given"},
		{"garbage", "not-a-key", "key 1 of 1"},
		{"16 bytes", base64.URLEncoding.EncodeToString(key[:16]), "key 1 of 1"},
		{"33 bytes", base64.URLEncoding.EncodeToString(append(key, 0)), "key 1 of 1"},
		{"31 bytes of hex", hex.EncodeToString(key[:31]), "key 1 of 1"},
		{"64 characters, not hex", strings.Repeat("z", 64), "key 1 of 1"},
		{"no padding", strings.TrimRight(legacytest.Key, "="), "key 1 of 1"},
		{"second of two bad", legacytest.Key + "," + legacytest.OtherKey[:40], "key 2 of 2"},
		{"a semicolon is no separator", legacytest.Key + ";" + legacytest.OtherKey, "key 1 of 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := legacy.ParseKeys(tc.in)
			if err == nil {
				t.Fatalf("ParseKeys = %v, want an error", k)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "legacy: ") {
				t.Fatalf("error %q, want one with %q", err, tc.want)
			}
			noSecret(t, "the error", err.Error())
			if len(tc.in) >= 8 && strings.Contains(err.Error(), strings.TrimSpace(tc.in)) {
				t.Fatalf("the error quotes its input: %q", err)
			}
		})
	}
}

// TestOpenHash: every encrypted hash of the fixture, made by Python's
// Fernet, opens to the bcrypt hash inside it.
func TestOpenHash(t *testing.T) {
	k := keys(t, legacytest.Key)
	for _, u := range encrypted(t) {
		if !legacy.IsEncryptedHash(u.Stored) {
			t.Errorf("%s: IsEncryptedHash = false", u.Username)
		}
		got, err := k.OpenHash(u.Stored)
		if err != nil || got != legacytest.Hashes[u.Username] {
			t.Errorf("%s: OpenHash = %q, %v; want %q", u.Username, got, err, legacytest.Hashes[u.Username])
		}
	}
	for _, u := range legacytest.Users {
		if !u.Encrypted && legacy.IsEncryptedHash(u.Stored) {
			t.Errorf("%s: IsEncryptedHash of a bcrypt hash", u.Username)
		}
	}
}

func TestOpenHashWrongKey(t *testing.T) {
	for _, tc := range []struct {
		name string
		k    *legacy.Keys
	}{
		{"another key", keys(t, legacytest.OtherKey)},
		{"nil Keys", nil},
		{"zero Keys", &legacy.Keys{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, u := range encrypted(t) {
				got, err := tc.k.OpenHash(u.Stored)
				if !errors.Is(err, legacy.ErrWrongKey) || got != "" {
					t.Errorf("%s: OpenHash = %q, %v; want ErrWrongKey", u.Username, got, err)
				}
				if err != nil {
					noSecret(t, "the error", err.Error())
				}
			}
		})
	}
}

// TestOpenHashSecondKey: of several keys, the one that opens is found
// whatever its place.
func TestOpenHashSecondKey(t *testing.T) {
	k := keys(t, legacytest.OtherKey+","+legacytest.Key)
	for _, u := range encrypted(t) {
		if got, err := k.OpenHash(u.Stored); err != nil || got != legacytest.Hashes[u.Username] {
			t.Errorf("%s: OpenHash = %q, %v", u.Username, got, err)
		}
	}
}

// TestOpenHashTampered changes every character of every encrypted hash,
// one at a time, to a dozen others: no altered value opens. A change
// that keeps the shape of a Fernet token is reported as ErrWrongKey (its
// HMAC fails: Fernet cannot tell an altered value from another key's),
// one that breaks it as ErrMalformed. Decoding is strict, so even the
// characters that carry only padding bits or line breaks count.
func TestOpenHashTampered(t *testing.T) {
	k := keys(t, legacytest.Key)
	replacements := []byte{'A', 'z', '0', '+', '/', '-', '_', '=', '\n', '\r', 0, 0xff}
	var wrongKey, malformed int
	for _, u := range encrypted(t) {
		for i := range len(u.Stored) {
			for _, c := range append(replacements, u.Stored[i]^1) {
				if c == u.Stored[i] {
					continue
				}
				b := []byte(u.Stored)
				b[i] = c
				got, err := k.OpenHash(string(b))
				switch {
				case err == nil:
					t.Fatalf("%s: changing byte %d to %q still opens, to %q", u.Username, i, c, got)
				case errors.Is(err, legacy.ErrWrongKey):
					wrongKey++
				case errors.Is(err, legacy.ErrMalformed):
					malformed++
				default:
					t.Fatalf("%s: byte %d: %v is no sentinel", u.Username, i, err)
				}
			}
		}
	}
	if wrongKey == 0 || malformed == 0 {
		t.Fatalf("%d wrong-key and %d malformed refusals; want both kinds", wrongKey, malformed)
	}

	// A change inside the token itself, re-encoded properly: the shape
	// holds, the HMAC does not.
	u := encrypted(t)[0]
	tok, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(u.Stored, legacy.HashPrefix))
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{1, 10, 40, len(tok) / 2, len(tok) - 10} { // timestamp, IV, ciphertext, HMAC
		b := bytes.Clone(tok)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		if _, err := k.OpenHash(legacy.HashPrefix + base64.StdEncoding.EncodeToString(b)); !errors.Is(err, legacy.ErrWrongKey) {
			t.Errorf("token byte %d changed: %v, want ErrWrongKey", i, err)
		}
	}
}

func TestOpenHashMalformed(t *testing.T) {
	k := keys(t, legacytest.Key)
	u := encrypted(t)[0]
	rest := strings.TrimPrefix(u.Stored, legacy.HashPrefix)
	tok, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.URLEncoding.DecodeString(string(tok))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, in string }{
		{"empty", ""},
		{"prefix only", legacy.HashPrefix},
		{"no prefix", rest},
		{"the bcrypt hash itself", legacytest.Hashes[u.Username]},
		{"upper-case prefix", "ENC_V1:" + rest},
		{"prefix without colon", "enc_v1" + rest},
		{"bad base64", legacy.HashPrefix + "%%%%" + rest[4:]},
		{"URL-safe instead of standard base64", legacy.HashPrefix + base64.URLEncoding.EncodeToString([]byte("\xfb\xff"+string(tok)))},
		{"line breaks in the base64", legacy.HashPrefix + rest[:76] + "\n" + rest[76:]},
		{"CRLF in the base64", legacy.HashPrefix + rest[:76] + "\r\n" + rest[76:]},
		{"trailing newline", u.Stored + "\n"},
		{"unpadded", legacy.HashPrefix + strings.TrimRight(rest, "=")},
		{"not a Fernet token", legacy.HashPrefix + base64.StdEncoding.EncodeToString([]byte("$2b$04$plain"))},
		{"the token without the second base64", legacy.HashPrefix + string(tok)},
		{"binary token instead of its text", legacy.HashPrefix + base64.StdEncoding.EncodeToString(raw)},
		{"token version 0x81", legacy.HashPrefix + base64.StdEncoding.EncodeToString([]byte(base64.URLEncoding.EncodeToString(append([]byte{0x81}, raw[1:]...))))},
		{"token one byte short", legacy.HashPrefix + base64.StdEncoding.EncodeToString([]byte(base64.URLEncoding.EncodeToString(raw[:len(raw)-1])))},
		{"token with one byte more", legacy.HashPrefix + base64.StdEncoding.EncodeToString([]byte(base64.URLEncoding.EncodeToString(append(bytes.Clone(raw), 0))))},
		{"huge", legacy.HashPrefix + strings.Repeat("QUFB", 1<<18)},
		{"huge token", legacy.HashPrefix + base64.StdEncoding.EncodeToString([]byte(base64.URLEncoding.EncodeToString(make([]byte, 1<<17))))},
		{"NUL bytes", legacy.HashPrefix + "\x00\x00\x00\x00"},
		{"NUL after the value", u.Stored + "\x00"},
		{"NUL in the prefix", "enc_v1\x00" + rest},
		{"invalid UTF-8", legacy.HashPrefix + "\xff\xfe\xfd\xfc"},
		{"invalid UTF-8 inside", legacy.HashPrefix + rest[:8] + "\xc3\x28" + rest[10:]},
		{"plaintext not bcrypt", seal(t, legacytest.Key, "hunter2")},
		{"plaintext empty", seal(t, legacytest.Key, "")},
		{"plaintext bcrypt of another version", seal(t, legacytest.Key, "$2x$"+legacytest.Hashes[u.Username][4:])},
		{"plaintext bcrypt, cost not digits", seal(t, legacytest.Key, "$2b$1x$"+legacytest.Hashes[u.Username][7:])},
		{"plaintext bcrypt with a bad character", seal(t, legacytest.Key, legacytest.Hashes[u.Username][:59]+"!")},
		{"plaintext bcrypt, one short", seal(t, legacytest.Key, legacytest.Hashes[u.Username][:59])},
		{"plaintext bcrypt and a newline", seal(t, legacytest.Key, legacytest.Hashes[u.Username]+"\n")},
		{"plaintext another enc_v1 value", seal(t, legacytest.Key, u.Stored)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := k.OpenHash(tc.in)
			if !errors.Is(err, legacy.ErrMalformed) || got != "" {
				t.Fatalf("OpenHash = %q, %v; want ErrMalformed", got, err)
			}
			noSecret(t, "the error", err.Error())
			if len(err.Error()) > 200 {
				t.Fatalf("error of %d bytes: does it quote the value? %.200q", len(err.Error()), err)
			}
			if len(rest) > 0 && strings.Contains(err.Error(), rest[:16]) {
				t.Fatalf("the error quotes the value: %q", err)
			}
		})
	}

	// A value made the original's way under the key opens: the cases
	// above fail for what they change, not for being made here.
	h := legacytest.Hashes[u.Username]
	if got, err := k.OpenHash(seal(t, legacytest.Key, h)); err != nil || got != h {
		t.Fatalf("a value sealed in the test: %q, %v", got, err)
	}
}

// TestOpenToken: the Fernet spec's vectors, as fernet-go ships them
// (generate.json, verify.json, invalid.json), and the fixture's provider
// tokens.
func TestOpenToken(t *testing.T) {
	const secret = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4="
	k := keys(t, secret)
	const token = "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA=="
	if got, err := k.OpenToken(token); err != nil || got != "hello" {
		t.Fatalf("spec vector: %q, %v; want hello", got, err)
	}
	if !legacy.IsToken(token) {
		t.Fatal("IsToken(spec vector) = false")
	}
	for _, tc := range []struct {
		desc, token string
		want        error // nil: opens, to "" (the original never expired its values)
	}{
		{"incorrect mac", "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykQUFBQUFBQUFBQQ==", legacy.ErrWrongKey},
		{"too short", "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPA==", legacy.ErrMalformed},
		{"invalid base64", "%%%%%%%%%%%%%AECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykRtfsH-p1YsUD2Q==", legacy.ErrMalformed},
		{"payload size not multiple of block size", "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPOm73QeoCk9uGib28Xe5vz6oxq5nmxbx_v7mrfyudzUm", legacy.ErrMalformed},
		// A valid HMAC over a bad padding: only the key's holder makes
		// such a token, and fernet-go reports it as it reports a bad HMAC.
		{"payload padding error", "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0ODz4LEpdELGQAad7aNEHbf-JkLPIpuiYRLQ3RtXatOYREu2FWke6CnJNYIbkuKNqOhw==", legacy.ErrWrongKey},
		{"incorrect IV (causes padding error)", "gAAAAAAdwJ6xBQECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAkLhFLHpGtDBRLRTZeUfWgHSv49TF2AUEZ1TIvcZjK1zQ==", legacy.ErrWrongKey},
		{"very short payload size", "gAAAAABdnQ1TUKh2OE_ggbyCIxfg", legacy.ErrMalformed},
		{"super short payload size", "gAAA", legacy.ErrMalformed},
		// The spec's two time vectors fail only under a TTL; with none,
		// as the original read its values, they open.
		{"far-future TS (unacceptable clock skew)", "gAAAAAAdwStRAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAnja1xKYyhd-Y6mSkTOyTGJmw2Xc2a6kBd-iX9b_qXQcw==", nil},
		{"expired TTL", "gAAAAAAdwJ6xAAECAwQFBgcICQoLDA0OD3HkMATM5lFqGaerZ-fWPAl1-szkFVzXTuGb4hR8AKtwcaX1YdykRtfsH-p1YsUD2Q==", nil},
	} {
		got, err := k.OpenToken(tc.token)
		switch {
		case tc.want == nil && (err != nil || got != ""):
			t.Errorf("%s: %q, %v; want the empty plaintext", tc.desc, got, err)
		case tc.want != nil && (!errors.Is(err, tc.want) || got != ""):
			t.Errorf("%s: %q, %v; want %v", tc.desc, got, err, tc.want)
		}
	}

	fk := keys(t, legacytest.Key)
	for _, p := range legacytest.Profiles {
		if !legacy.IsToken(p.Stored) {
			t.Errorf("user %d: IsToken = false", p.UserID)
		}
		if got, err := fk.OpenToken(p.Stored); err != nil || got != p.Token {
			t.Errorf("user %d: OpenToken = %q, %v", p.UserID, got, err)
		}
		if _, err := keys(t, legacytest.OtherKey).OpenToken(p.Stored); !errors.Is(err, legacy.ErrWrongKey) {
			t.Errorf("user %d, another key: %v, want ErrWrongKey", p.UserID, err)
		}
	}
	for _, s := range []string{"", "hello", p0(t) + "\n", strings.Repeat("A", 1<<17), legacytest.Users[0].Stored} {
		if legacy.IsToken(s) {
			t.Errorf("IsToken(%.40q) = true", s)
		}
		if _, err := fk.OpenToken(s); !errors.Is(err, legacy.ErrMalformed) {
			t.Errorf("OpenToken(%.40q): %v, want ErrMalformed", s, err)
		}
	}
}

func p0(t testing.TB) string {
	t.Helper()
	if len(legacytest.Profiles) == 0 {
		t.Fatal("the fixture has no profile")
	}
	return legacytest.Profiles[0].Stored
}

// TestKeysNeverPrinted: no fmt verb and no slog handler shows a key.
func TestKeysNeverPrinted(t *testing.T) {
	k := keys(t, legacytest.Key+","+legacytest.OtherKey)
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		out = append(out, fmt.Sprintf(verb, k))
		out = append(out, fmt.Sprintf(verb, *k))
		out = append(out, fmt.Sprintf(verb, struct{ K *legacy.Keys }{k}))
		out = append(out, fmt.Sprintf(verb, []any{k}))
	}
	out = append(out, fmt.Sprint(k), fmt.Sprintln(k), k.String(), k.GoString())
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("keys", "keys", k, "group", slog.GroupValue(slog.Any("k", k)))
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("keys", "keys", k, "value", *k)
	out = append(out, buf.String())
	for _, s := range out {
		noSecret(t, "printing Keys", s)
	}
	if got := fmt.Sprintf("%v", k); got != "legacy.Keys(2 keys)" {
		t.Errorf("%%v = %q", got)
	}
	if got := keys(t, legacytest.Key).String(); got != "legacy.Keys(1 key)" {
		t.Errorf("String = %q", got)
	}
	var nilKeys *legacy.Keys
	if got := fmt.Sprint(nilKeys); got != "legacy.Keys(0 keys)" {
		t.Errorf("nil Keys prints %q", got)
	}
	if !strings.Contains(buf.String(), `keys="legacy.Keys(2 keys)"`) {
		t.Errorf("slog text output: %s", buf.String())
	}
}

// FuzzOpenHash: any input, under the fixture's key: no panic, an error
// that is one of the sentinels and quotes neither key nor input, and a
// success only for the values made under the key.
func FuzzOpenHash(f *testing.F) {
	k := keys(f, legacytest.Key)
	valid := map[string]string{}
	for _, u := range encrypted(f) {
		valid[u.Stored] = legacytest.Hashes[u.Username]
		f.Add(u.Stored)
		f.Add(u.Stored[:len(u.Stored)/2])
	}
	// Values sealed here differ in every fuzzing process (a random IV),
	// so only those that cannot open are seeds.
	f.Add(seal(f, legacytest.Key, "not bcrypt"))
	f.Add(seal(f, legacytest.OtherKey, legacytest.Hashes["bruno"]))
	for _, s := range []string{"", legacy.HashPrefix, "enc_v1:\x00", "enc_v1:\xff", "$2b$04$x", "enc_v1:Z0FBQUFB", "enc_v1:====", "enc_v1:Z0FB\nQUFB"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := k.OpenHash(s)
		if err == nil {
			want, ok := valid[s]
			if !ok || got != want {
				t.Fatalf("OpenHash(%q) = %q: opened a value not made under the key", s, got)
			}
			return
		}
		if got != "" {
			t.Fatalf("OpenHash(%q) = %q with an error", s, got)
		}
		if !errors.Is(err, legacy.ErrMalformed) && !errors.Is(err, legacy.ErrWrongKey) {
			t.Fatalf("OpenHash(%q): %v is no sentinel", s, err)
		}
		noSecret(t, "the error", err.Error())
		if len(s) >= 16 && strings.Contains(err.Error(), s[len(s)-16:]) {
			t.Fatalf("the error quotes the input: %v", err)
		}
	})
}

// FuzzParseKeys: any input: no panic; an error names no key text; a
// success holds one key per field and prints none of them.
func FuzzParseKeys(f *testing.F) {
	for _, s := range []string{legacytest.Key, legacytest.OtherKey + "," + legacytest.Key, "", " , ", "not-a-key",
		strings.Repeat("a", 64), strings.Repeat("z", 64), legacytest.Key + "\n" + legacytest.Key[:10], "\xff\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := legacy.ParseKeys(s)
		fields := strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(", \t\r\n", r) })
		if err != nil {
			if k != nil {
				t.Fatalf("ParseKeys(%q) = %v with an error", s, k)
			}
			if !strings.HasPrefix(err.Error(), "legacy: ") {
				t.Fatalf("ParseKeys(%q): %q", s, err)
			}
			for _, f := range fields {
				if len(f) >= 12 && strings.Contains(err.Error(), f) {
					t.Fatalf("ParseKeys(%q): the error quotes a key: %v", s, err)
				}
			}
			return
		}
		if k.Len() != len(fields) || k.Len() == 0 {
			t.Fatalf("ParseKeys(%q): %d keys, %d fields", s, k.Len(), len(fields))
		}
		printed := fmt.Sprintf("%v %+v %#v %s", k, k, k, k)
		for _, f := range fields {
			if strings.Contains(printed, f) {
				t.Fatalf("Keys print a key: %q", printed)
			}
		}
	})
}

func BenchmarkOpenHash(b *testing.B) {
	k := keys(b, legacytest.Key)
	u := encrypted(b)[0]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.OpenHash(u.Stored); err != nil {
			b.Fatal(err)
		}
	}
}
