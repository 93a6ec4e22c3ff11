package session

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// signRaw signs a header and a payload given as JSON text, byte for byte,
// with the mixed set's EdDSA key: JSON that json.Marshal cannot make
// (duplicate members, odd escapes) with a valid signature.
func signRaw(tb testing.TB, header, payload string) string {
	tb.Helper()
	k := fixtureKeys(tb)
	in := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString([]byte(payload))
	sig, err := jwt.SigningMethodEdDSA.Sign(in, k.ed.sk().private)
	if err != nil {
		tb.Fatal(err)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// The JSON of a valid token, as sign writes it.
const rawHeader = `{"alg":"EdDSA","kid":"ed","typ":"at+jwt"}`

func rawPayload(tb testing.TB) string {
	tb.Helper()
	b, err := json.Marshal(validClaims())
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// strictCase is a validly signed token only strictJSON refuses (strict),
// or one golang-jwt refuses as well.
type strictCase struct {
	name   string
	token  string
	strict bool
}

// strictTokens are tokens signed with the mixed set's EdDSA key whose JSON
// breaks the strict rules: time claims that are not numbers, duplicate
// member names.
func strictTokens(tb testing.TB) []strictCase {
	tb.Helper()
	payload := rawPayload(tb)
	exp := strconv.FormatInt(testNow.Add(15*time.Minute).Unix(), 10)
	iat := strconv.FormatInt(testNow.Unix(), 10)
	expired := strconv.FormatInt(testNow.Add(-time.Hour).Unix(), 10)
	for _, m := range []string{`"exp":` + exp, `"iat":` + iat, `"sub":"42"`, `"sid":"7"`} {
		if !strings.Contains(payload, m) {
			tb.Fatalf("payload %s lacks %s", payload, m)
		}
	}
	// with replaces member old (as written) by new in the payload.
	with := func(old, new string) string { return strings.Replace(payload, old, new, 1) }
	// plus adds members at the end of the payload.
	plus := func(members string) string { return strings.TrimSuffix(payload, "}") + "," + members + "}" }
	var cases []strictCase
	add := func(name, header, payload string, strict bool) {
		cases = append(cases, strictCase{name, signRaw(tb, header, payload), strict})
	}

	// Time claims that are not JSON numbers. golang-jwt's NumericDate
	// decodes through json.Number, which takes a quoted number; null
	// leaves the claim out. The flags mark the cases golang-jwt and
	// claimsProblem accept: a quoted exp in the past, or a missing exp or
	// iat, is refused by them too (but as expired or missing, not as what
	// it is).
	for _, v := range []struct {
		name          string
		json          func(valid string) string
		exp, iat, nbf bool
	}{
		{"a string", func(v string) string { return `"` + v + `"` }, true, true, true},
		{`"1234567890"`, func(string) string { return `"1234567890"` }, false, true, true},
		{"a string in exponent form", func(string) string { return `"1.7e9"` }, false, true, true},
		{"null", func(string) string { return `null` }, false, false, true},
		{"an object", func(v string) string { return `{"n":` + v + `}` }, false, false, false},
		{"an empty object", func(string) string { return `{}` }, false, false, false},
		{"an array", func(v string) string { return `[` + v + `]` }, false, false, false},
		{"true", func(string) string { return `true` }, false, false, false},
		{"false", func(string) string { return `false` }, false, false, false},
	} {
		add("exp "+v.name, rawHeader, with(`"exp":`+exp, `"exp":`+v.json(exp)), v.exp)
		add("iat "+v.name, rawHeader, with(`"iat":`+iat, `"iat":`+v.json(iat)), v.iat)
		add("nbf "+v.name, rawHeader, plus(`"nbf":`+v.json(iat)), v.nbf)
	}
	// encoding/json matches names to fields ignoring case and unescapes
	// them: these are exp to golang-jwt.
	add(`exp as "EXP", a string`, rawHeader, with(`"exp":`+exp, `"EXP":"`+exp+`"`), true)
	add(`exp as "e\u0078p", a string`, rawHeader, with(`"exp":`+exp, `"e\u0078p":"`+exp+`"`), true)
	add(`nbf as "Nbf", null`, rawHeader, plus(`"Nbf":null`), true)

	// Duplicate members in the payload, each copy valid on its own.
	add("duplicate sub", rawHeader, plus(`"sub":"43"`), true)
	add("duplicate sub, same value", rawHeader, plus(`"sub":"42"`), true)
	add("duplicate sid", rawHeader, plus(`"sid":"8"`), true)
	add("duplicate role", rawHeader, plus(`"role":"admin"`), true)
	add("duplicate aud", rawHeader, plus(`"aud":"api"`), true)
	add("duplicate exp, first valid, second expired", rawHeader, plus(`"exp":`+expired), false)
	add("duplicate exp, first expired, second valid", rawHeader, with(`"exp":`+exp, `"exp":`+expired+`,"exp":`+exp), true)
	add("duplicate unregistered member", rawHeader, plus(`"x":1,"x":1`), true)
	add(`duplicate sub as "SUB"`, rawHeader, plus(`"SUB":"43"`), true)
	add(`duplicate sub as "Sub"`, rawHeader, plus(`"Sub":"43"`), true)
	add(`duplicate sub as "ſub" (U+017F folds to s)`, rawHeader, plus(`"ſub":"43"`), true)
	add(`duplicate sub as "s\u0075b"`, rawHeader, plus(`"s\u0075b":"43"`), true)
	add(`duplicate sub as "\u0053UB"`, rawHeader, plus(`"\u0053UB":"43"`), true)
	// Inside nested objects.
	add("duplicate member in a nested object", rawHeader, plus(`"x":{"a":1,"b":2,"a":3}`), true)
	add("duplicate member in an object in an array", rawHeader, plus(`"x":[1,{"a":1,"a":1}]`), true)
	add("duplicate member three objects deep", rawHeader, plus(`"x":{"y":{"z":{"a":true,"A":false}}}`), true)
	add("duplicate member after a nested object closed", rawHeader, plus(`"x":{"a":{"b":1},"c":[{"b":2}],"a":0}`), true)

	// Duplicate members in the header; the last one is the one golang-jwt
	// uses, and it is valid.
	add("duplicate kid", `{"alg":"EdDSA","kid":"nope","typ":"at+jwt","kid":"ed"}`, payload, true)
	add("duplicate kid, same value", `{"alg":"EdDSA","kid":"ed","typ":"at+jwt","kid":"ed"}`, payload, true)
	add("duplicate alg", `{"alg":"HS256","kid":"ed","typ":"at+jwt","alg":"EdDSA"}`, payload, true)
	add("duplicate alg, none first", `{"alg":"none","kid":"ed","typ":"at+jwt","alg":"EdDSA"}`, payload, true)
	add("duplicate typ", `{"alg":"EdDSA","kid":"ed","typ":"JWT","typ":"at+jwt"}`, payload, true)
	add(`duplicate kid as "KID"`, `{"alg":"EdDSA","KID":"x","kid":"ed","typ":"at+jwt"}`, payload, true)
	add("duplicate member in a nested header object", `{"alg":"EdDSA","kid":"ed","typ":"at+jwt","x":{"a":1,"a":2}}`, payload, true)

	// Not objects.
	add("payload null", rawHeader, `null`, false)
	add("header and payload with trailing data", rawHeader, payload+`{}`, false)
	return cases
}

// TestStrictTokensPassGolangJWT shows that the strict cases are refused by
// the new checks alone: golang-jwt with parse's options, plus the claim
// checks parse adds, accepts every one of them.
func TestStrictTokensPassGolangJWT(t *testing.T) {
	ks := mixedSet(t)
	for _, tc := range strictTokens(t) {
		if !tc.strict {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			c := new(Claims)
			if _, err := jwt.NewParser(ks.parserOptions(testConfig())...).ParseWithClaims(tc.token, c, ks.keyfunc); err != nil {
				t.Fatalf("golang-jwt refuses it: %v", err)
			}
			if p := claimsProblem(c); p != "" {
				t.Fatalf("claimsProblem refuses it: %s", p)
			}
			if len(tc.token) > MaxTokenSize || !compactJWS(tc.token) {
				t.Fatal("refused by the length or character check")
			}
		})
	}
}

// TestStrictJSONReasons checks the reason given for each kind of
// refusal.
func TestStrictJSONReasons(t *testing.T) {
	ks := mixedSet(t)
	want := map[string]string{
		"exp a string":                        "exp is not a number",
		"iat null":                            "iat is not a number",
		"nbf \"1234567890\"":                  "nbf is not a number",
		"duplicate sub":                       "duplicate member",
		"duplicate kid":                       "duplicate member",
		"duplicate member in a nested object": "duplicate member",
		"duplicate exp, first valid, second expired": "duplicate member",
	}
	for _, tc := range strictTokens(t) {
		reason, ok := want[tc.name]
		if !ok {
			continue
		}
		delete(want, tc.name)
		_, err := ks.parse(tc.token, testConfig())
		if err == nil || err.Error() != "session: invalid token: "+reason {
			t.Errorf("%s: err = %v, want reason %q", tc.name, err, reason)
		}
	}
	for name := range want {
		t.Errorf("no case %q", name)
	}
}

// TestStrictJSONAccepts: JSON that is strict passes, and the check makes
// no allocation.
func TestStrictJSONAccepts(t *testing.T) {
	ks := mixedSet(t)
	payload := rawPayload(t)
	iat := strconv.FormatInt(testNow.Unix(), 10)
	plus := func(members string) string { return strings.TrimSuffix(payload, "}") + "," + members + "}" }
	for name, tok := range map[string]string{
		"as sign writes it":                    mustSign(t, ks, validClaims()),
		"nbf a number":                         signRaw(t, rawHeader, plus(`"nbf":1`)),
		"exp a fraction":                       signRaw(t, rawHeader, strings.Replace(payload, `,"iat"`, `.25,"iat"`, 1)),
		"iat in exponent form":                 signRaw(t, rawHeader, strings.Replace(payload, `"iat":`+iat, `"iat":`+strconv.FormatFloat(float64(testNow.Unix()), 'e', -1, 64), 1)),
		"one name in different objects":        signRaw(t, rawHeader, plus(`"x":{"sub":1,"y":{"sub":2}},"z":[{"sub":3},{"sub":4}]`)),
		"names that differ":                    signRaw(t, rawHeader, plus(`"subs":1,"su":2,"s\u00fcb":3,"\u00dfub":4`)),
		"time claim names nested, not numbers": signRaw(t, rawHeader, plus(`"x":{"exp":"soon","iat":null,"nbf":{}}`)),
		"white space everywhere":               signRaw(t, " {\n\t\"alg\" : \"EdDSA\" ,\"kid\":\"ed\",\"typ\":\"at+jwt\"}\r\n", " "+payload+" "),
		"escapes in values":                    signRaw(t, rawHeader, plus(`"x":"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"`)),
		"header with an unknown member":        signRaw(t, `{"alg":"EdDSA","kid":"ed","typ":"at+jwt","x-a":[],"x-b":{}}`, payload),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ks.parse(tok, testConfig()); err != nil {
				t.Fatal(err)
			}
			if r := strictJSON(tok); r != "" {
				t.Fatalf("strictJSON: %s", r)
			}
		})
	}
	tok := mustSign(t, ks, validClaims())
	if n := testing.AllocsPerRun(100, func() { strictJSON(tok) }); n != 0 {
		t.Errorf("strictJSON of an issued token: %v allocations", n)
	}
}

// TestStrictTokensEverywhere runs the strict cases through
// Service.Authenticate on a store that knows the tokens' session: each is
// refused before the store is asked, and a valid token gets through.
func TestStrictTokensEverywhere(t *testing.T) {
	st := &liveSessionStore{}
	svc, err := NewService(st, Config{Keys: mixedSet(t), Issuer: testIssuer, Audience: []string{"api"}, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := svc.Authenticate(ctx, signRaw(t, rawHeader, rawPayload(t))); err != nil {
		t.Fatalf("valid token: %v", err)
	}
	for _, tc := range malformedTokens(t) {
		t.Run(tc.name, func(t *testing.T) {
			before := st.lookups.Load()
			p, err := svc.Authenticate(ctx, tc.token)
			if p != nil {
				t.Errorf("returned principal %+v", p)
			}
			checkRefused(t, tc.token, err, tc.want)
			if st.lookups.Load() != before {
				t.Error("the store was asked")
			}
		})
	}
}

// liveSessionStore is a Store whose only session, 7 of user 42, is live
// at testNow; it counts lookups. Other methods fail.
type liveSessionStore struct {
	Store
	lookups atomic.Int64
}

func (s *liveSessionStore) ByID(_ context.Context, id int64) (*Session, UserState, error) {
	s.lookups.Add(1)
	if id != 7 {
		return nil, UserState{}, ErrNotFound
	}
	return &Session{ID: 7, UserID: 42, Active: true, CreatedAt: testNow.Add(-time.Hour),
		ExpiresAt: testNow.Add(time.Hour), LastActivityAt: testNow}, UserState{Active: true}, nil
}

func (s *liveSessionStore) Touch(context.Context, int64, time.Time, time.Duration) (bool, error) {
	return false, errors.New("unexpected Touch")
}

// refStrict is strictJSON's rule for one decoded segment, written with
// encoding/json's Decoder.Token and UseNumber: the reference the scanner
// must agree with. data must be valid JSON.
func refStrict(data []byte, claims bool) string {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return reasonBadJSON
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return reasonNotObject
	}
	var walk func(tok json.Token, depth int) string
	walk = func(tok json.Token, depth int) string {
		d, ok := tok.(json.Delim)
		if !ok {
			return ""
		}
		var names []string
		for dec.More() {
			if d == '{' {
				k, err := dec.Token()
				if err != nil {
					return reasonBadJSON
				}
				name := k.(string)
				for _, n := range names {
					if strings.EqualFold(n, name) {
						return reasonDuplicate
					}
				}
				names = append(names, name)
				v, err := dec.Token()
				if err != nil {
					return reasonBadJSON
				}
				if claims && depth == 0 {
					for _, tc := range timeClaims {
						if _, num := v.(json.Number); strings.EqualFold(name, tc.name) && !num {
							return tc.reason
						}
					}
				}
				if r := walk(v, depth+1); r != "" {
					return r
				}
				continue
			}
			v, err := dec.Token()
			if err != nil {
				return reasonBadJSON
			}
			if r := walk(v, depth+1); r != "" {
				return r
			}
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return reasonBadJSON
		}
		return ""
	}
	return walk(tok, 0)
}

// FuzzStrictJSON: checkJSON never panics, refuses as malformed exactly
// what encoding/json.Valid refuses, and on valid JSON gives the reason the
// Decoder.Token reference gives.
func FuzzStrictJSON(f *testing.F) {
	for _, tc := range strictTokens(f) {
		for _, seg := range strings.Split(tc.token, ".")[:2] {
			b, err := base64.RawURLEncoding.DecodeString(seg)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b, true)
		}
	}
	for _, s := range []string{
		``, ` `, `{}`, `{"a":1}`, `{"a":1,"A":2}`, `{"a":{"b":1},"b":1}`, `[]`, `null`, `{"exp":"1"}`,
		`{"exp":1e3,"iat":-0.5E-2,"nbf":0}`, `{"\u0065xp":null}`, `{"ſ":1,"S":2}`, `{"K":1,"\u212a":2}`,
		`{"a":"\ud800"}`, `{"\ud800":1,"\ufffd":2}`, "{\"a\xff\":1,\"a\xfe\":2}", `{"a":1,}`, `{"a" 1}`,
		`{"a":01}`, `{"a":1.}`, `{"a":.1}`, `{"a":-}`, `{"a":1e}`, `{"a":tru}`, `{"a":"\x"}`, `{"a":"\u12"}`,
		"{\"a\":\"\x01\"}", `{"a":[1,2,]}`, `{"a":[,]}`, `{} {}`, `{}x`, `"{}"`, strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
		`{"a":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`,
	} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, claims bool) {
		got := checkJSON(data, claims)
		valid := json.Valid(data)
		if (got == reasonBadJSON) == valid {
			t.Fatalf("checkJSON = %q, json.Valid = %v", got, valid)
		}
		if !valid {
			return
		}
		if want := refStrict(data, claims); got != want {
			t.Fatalf("checkJSON = %q, the Decoder.Token reference %q", got, want)
		}
	})
}

func TestStrictJSONDepth(t *testing.T) {
	for _, n := range []int{9999, 10000, 10001} {
		data := []byte(`{"a":` + strings.Repeat("[", n-1) + strings.Repeat("]", n-1) + `}`)
		got, valid := checkJSON(data, false), json.Valid(data)
		if (got == "") != valid {
			t.Errorf("depth %d: checkJSON %q, json.Valid %v", n, got, valid)
		}
	}
}

func TestAppendBase64URL(t *testing.T) {
	for n := range 40 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*37 + n)
		}
		s := base64.RawURLEncoding.EncodeToString(b)
		got, ok := appendBase64URL(nil, s)
		if !ok || string(got) != string(b) {
			t.Errorf("%q: %x, %v; want %x", s, got, ok, b)
		}
	}
	for _, s := range []string{"A", "AAAAA", "AB", "AAB", "A=", "A+AA", "A/AA", "A.AA", "AA\n"} {
		if got, ok := appendBase64URL(nil, s); ok {
			t.Errorf("%q decoded to %x", s, got)
		}
	}
}

// BenchmarkStrictJSON is the cost strictJSON adds to the first use of an
// issued token (HS256: the shortest signature, so the largest share).
func BenchmarkStrictJSON(b *testing.B) {
	_, tok := benchSet(b, HS256)
	b.ReportAllocs()
	for b.Loop() {
		if r := strictJSON(tok); r != "" {
			b.Fatal(r)
		}
	}
}

// BenchmarkClaimsClone is the cost of one copy of the claims: one on the
// first use of a token (the cache's own), one on every cached use.
func BenchmarkClaimsClone(b *testing.B) {
	c := validClaims()
	b.ReportAllocs()
	for b.Loop() {
		c.clone()
	}
}
