package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/store/memory"
)

// A signed JWT (HS256), an unsigned one (alg "none", empty signature) and
// the signed one's signature, which must not survive either.
const (
	jwtSigned   = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
	jwtUnsigned = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9."
	jwtSig      = "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)

// jwtShape is what must not be left in a stored value: the start of a JWS
// compact serialization.
var jwtShape = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.`)

// secretKeys are keys whose values must be redacted.
var secretKeys = []string{
	"password", "Password", "PASSWORD", "user_password", "newPassword", "old-password", "password_confirmation",
	"passwd", "passphrase", "secret", "client_secret", "clientSecret", "totp_secret",
	"token", "access_token", "accessToken", "refreshToken", "refresh_token", "id_token", "X-Auth-Token", "csrf_token",
	"api_key", "apiKey", "APIKey", "X-Api-Key", "api.key", "authorization", "Authorization", "Proxy-Authorization",
	"cookie", "Cookie", "set-cookie", "Set-Cookie", "credentials", "credential", "private_key", "privateKey",
	"signingKey", "signing_key", "encryption_key", "key",
	"code", "auth_code", "authCode", "resetCode", "reset_code", "mfa_code", "verification_code",
	"otp", "OTP", "pin", "userPin", "nonce", "salt", "code_verifier", "codeVerifier", "jwt", "id_jwt",
	"signature", "pwd", "auth", "bearer",
}

// publicKeys are keys whose values are kept.
var publicKeys = []string{
	"country_code", "countryCode", "status_code", "statusCode", "http_code", "error_code", "language_code", "currency_code",
	"postal_code", "zip_code", "response_code", "exit_code",
	"kid", "key_id", "keyId", "keys", "username", "email", "reason", "attempts", "user_agent", "session_id", "author",
	"authenticated", "auth_method", "oauth_provider", "locked_until", "during", "from", "to", "provider", "role",
	"code_challenge", "code_challenge_method", "expires_in", "ip", "display_name",
}

func TestRedactKeys(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		keys     []string
		redacted bool
	}{{secretKeys, true}, {publicKeys, false}} {
		for _, k := range tc.keys {
			t.Run(k, func(t *testing.T) {
				svc := newService(t, memory.New().Audit(), audit.Config{})
				const v = "value-7f3a"
				record(t, ctx, svc, audit.Event{Type: audit.LoginFailed, Data: map[string]any{k: v}, Metadata: map[string]any{k: v}})
				e := only(t, svc)
				want := any(v)
				if tc.redacted {
					want = audit.Redacted
				}
				if e.Data[k] != want || e.Metadata[k] != want {
					t.Errorf("Data[%q], Metadata[%q] = %#v, %#v; want %#v", k, k, e.Data[k], e.Metadata[k], want)
				}
				if audit.SecretKey(k) != tc.redacted {
					t.Errorf("SecretKey(%q) = %v", k, !tc.redacted)
				}
			})
		}
	}
}

func TestRedactNonStringValues(t *testing.T) {
	// The value goes whatever its type: a number, an object, a list.
	svc := newService(t, memory.New().Audit(), audit.Config{})
	record(t, context.Background(), svc, audit.Event{Type: audit.LoginFailed, Data: map[string]any{
		"pin":         1234,
		"credentials": map[string]any{"user": "alice", "pass": "hunter2"},
		"tokens":      []any{"t1", "t2"},
		"secret":      nil,
		"otp":         true,
	}})
	e := only(t, svc)
	for _, k := range []string{"pin", "credentials", "tokens", "secret", "otp"} {
		if e.Data[k] != audit.Redacted {
			t.Errorf("Data[%q] = %#v, want %q", k, e.Data[k], audit.Redacted)
		}
	}
}

func TestRedactNested(t *testing.T) {
	svc := newService(t, memory.New().Audit(), audit.Config{})
	record(t, context.Background(), svc, audit.Event{Type: audit.OAuthLinked,
		Data: map[string]any{
			"request": map[string]any{
				"headers": map[string]any{"Authorization": "Basic YWxpY2U6aHVudGVyMg==", "Accept": "text/html"},
				"form":    map[string]any{"username": "alice", "password": "hunter2"},
			},
			"attempts": []any{
				map[string]any{"otp": "123456", "ok": false},
				map[string]any{"otp": "654321", "ok": true},
				[]any{map[string]any{"client_secret": "s3"}, "plain"},
			},
		},
		Metadata: map[string]any{"provider": map[string]any{"name": "google", "refresh_token": "1//0g"}},
	})
	got := only(t, svc)
	want := audit.Event{
		Data: map[string]any{
			"request": map[string]any{
				"headers": map[string]any{"Authorization": audit.Redacted, "Accept": "text/html"},
				"form":    map[string]any{"username": "alice", "password": audit.Redacted},
			},
			"attempts": []any{
				map[string]any{"otp": audit.Redacted, "ok": false},
				map[string]any{"otp": audit.Redacted, "ok": true},
				[]any{map[string]any{"client_secret": audit.Redacted}, "plain"},
			},
		},
		Metadata: map[string]any{"provider": map[string]any{"name": "google", "refresh_token": audit.Redacted}},
	}
	if g, w := jsonString(got.Data), jsonString(want.Data); g != w {
		t.Errorf("Data = %s\nwant   %s", g, w)
	}
	if g, w := jsonString(got.Metadata), jsonString(want.Metadata); g != w {
		t.Errorf("Metadata = %s\nwant       %s", g, w)
	}
	verify(t, svc, 1)
}

func TestRedactExtraKeys(t *testing.T) {
	svc := newService(t, memory.New().Audit(), audit.Config{RedactKeys: []string{"ssn", "Credit-Card", "", "_", " "}})
	data := map[string]any{
		"ssn": "078-05-1120", "user_SSN": "x", "creditCard": "4111", "credit_card_number": "4111", "CREDIT.CARD": "4111",
		"password": "still", "username": "alice", "card": "visa", "credit": 10,
	}
	record(t, context.Background(), svc, audit.Event{Type: audit.ProfileUpdated, Data: data})
	e := only(t, svc)
	for k, v := range data {
		redacted := !slicesContains([]string{"username", "card", "credit"}, k)
		if redacted && e.Data[k] != audit.Redacted {
			t.Errorf("Data[%q] = %#v, want redacted", k, e.Data[k])
		}
		if !redacted && fmt.Sprint(e.Data[k]) != fmt.Sprint(v) {
			t.Errorf("Data[%q] = %#v, want %#v (empty RedactKeys must not match everything)", k, e.Data[k], v)
		}
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestRedactJWTValues(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{jwtSigned, audit.Redacted},
		{jwtUnsigned, audit.Redacted},
		{"Bearer " + jwtSigned, "Bearer " + audit.Redacted},
		{"https://app.example/cb#id_token=" + jwtSigned + "&state=xyz", "https://app.example/cb#id_token=" + audit.Redacted + "&state=xyz"},
		{jwtSigned + " and " + jwtUnsigned, audit.Redacted + " and " + audit.Redacted},
		{"line1\n" + jwtSigned, "line1\uFFFD" + audit.Redacted},
		// Not JWTs.
		{"eyJ", "eyJ"},
		{"1.2.3", "1.2.3"},
		{"eyJhbGciOiJIUzI1NiJ9", "eyJhbGciOiJIUzI1NiJ9"},
		{"alice@example.com", "alice@example.com"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			svc := newService(t, memory.New().Audit(), audit.Config{})
			record(t, context.Background(), svc, audit.Event{Type: audit.LoginFailed,
				Data:     map[string]any{"note": tc.in, "list": []any{tc.in}, "deep": map[string]any{"x": []any{map[string]any{"y": tc.in}}}},
				Metadata: map[string]any{"note": tc.in}})
			e := only(t, svc)
			deep := e.Data["deep"].(map[string]any)["x"].([]any)[0].(map[string]any)["y"]
			for _, got := range []any{e.Data["note"], e.Data["list"].([]any)[0], deep, e.Metadata["note"]} {
				if got != tc.want {
					t.Errorf("stored %q, want %q", got, tc.want)
				}
			}
		})
	}
}

// TestNoSecretStored records events carrying secrets in every way a
// caller might pass them, through a Service and a Writer, and searches
// everything that comes back (Query results, the archive, the log, the
// errors) for them.
func TestNoSecretStored(t *testing.T) {
	ctx := context.Background()
	var log syncBuffer
	mem := memory.New().Audit()
	svc := newService(t, mem, audit.Config{Logger: slog.New(slog.NewTextHandler(&log, nil)), RedactKeys: []string{"ssn"}})
	w := newWriter(t, svc, audit.WriterConfig{})

	var secrets []string
	secret := func() string {
		s := fmt.Sprintf("Zq%03dSecretValue", len(secrets))
		secrets = append(secrets, s)
		return s
	}
	events := []audit.Event{}
	for _, k := range append(secretKeys, "ssn", "user_ssn") {
		events = append(events, audit.Event{Type: audit.LoginFailed,
			Data: map[string]any{
				k:       secret(),
				"outer": map[string]any{k: secret(), "list": []any{map[string]any{k: secret()}, []any{map[string]any{k: secret()}}}},
				"list":  []any{map[string]any{k: []any{secret(), secret()}}},
			},
			Metadata: map[string]any{k: secret(), "m": map[string]any{k: map[string]any{"inner": secret()}}},
		})
	}
	secrets = append(secrets, jwtSigned, jwtUnsigned, jwtSig, strings.Split(jwtSigned, ".")[1])
	for _, v := range []string{jwtSigned, "Bearer " + jwtSigned, "cb#id_token=" + jwtSigned, jwtUnsigned, strings.Repeat("x", 100) + jwtSigned} {
		events = append(events, audit.Event{Type: audit.SessionCreated,
			Data:     map[string]any{"note": v, "list": []any{v, map[string]any{"detail": v}}, "reason": map[string]any{"msg": v}},
			Metadata: map[string]any{"note": v},
		})
	}
	for i, e := range events {
		var r audit.Recorder = svc
		if i%2 == 1 {
			r = w
		}
		record(t, ctx, r, e)
	}
	// A rejected event's error does not carry its data either.
	secrets = append(secrets, "Zq-rejected-1", "Zq-rejected-2")
	for _, doc := range []map[string]any{
		{"password": "Zq-rejected-1", "x": math.NaN()},
		{"token": "Zq-rejected-2", "c": make(chan int)},
	} {
		err := svc.Record(ctx, audit.Event{Type: audit.LoginFailed, Data: doc})
		if err == nil {
			t.Fatal("Record with an unencodable value succeeded")
		}
		fmt.Fprintln(&log, err)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	stored := all(t, svc)
	if len(stored) != len(events) {
		t.Fatalf("%d events stored, want %d", len(stored), len(events))
	}
	verify(t, svc, int64(len(events)))

	var out bytes.Buffer
	page, err := svc.Query(ctx, audit.Query{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{stored, page} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out.Write(b)
	}
	if err := mem.Chain(ctx, 1, 1<<40, func(b []audit.Event) error {
		fmt.Fprintf(&out, "%+v", b) // what a debug print of the raw rows shows
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Archive(ctx, time.Now().Add(time.Hour), &out); err != nil {
		t.Fatal(err)
	}
	out.WriteString(log.String())
	for _, s := range secrets {
		if i := strings.Index(out.String(), s); i >= 0 {
			t.Errorf("secret %q found in the output: ...%s...", s, out.String()[max(0, i-80):min(out.Len(), i+len(s)+20)])
		}
	}
	if n := strings.Count(out.String(), audit.Redacted); n < len(secrets) {
		t.Errorf("%d redactions in the output, want at least %d", n, len(secrets))
	}
}

// TestRedactTypedValues passes secrets and control characters inside
// Go values that are not the types a JSON decoder produces.
func TestRedactTypedValues(t *testing.T) {
	svc := newService(t, memory.New().Audit(), audit.Config{})
	type note string
	record(t, context.Background(), svc, audit.Event{Type: audit.LoginFailed, Data: map[string]any{
		"list":    []map[string]any{{"token": "Zq-1"}},
		"headers": http.Header{"Authorization": {"Bearer Zq-2"}},
		"form":    map[string]string{"password": "Zq-3"},
		"body": struct {
			Password string `json:"password"`
		}{"Zq-4"},
		"tokens": []string{jwtSigned, "a\nb"},
		"note":   note(jwtSigned + "\nforged"),
	}})
	b := jsonString(only(t, svc))
	for _, s := range []string{"Zq-1", "Zq-2", "Zq-3", "Zq-4", jwtSig, `\n`} {
		if strings.Contains(b, s) {
			t.Errorf("stored event holds %q: %s", s, b)
		}
	}
}

// --- control characters ---

// bad are the inputs that must not reach the store as they are.
var bad = []string{"\n", "\r", "\r\n", "\x00", "\t", "\x1b[31m", "\x7f", "\u0085", "\u2028", "\u2029", "\xff\xfe", "\xc0\x80", "\xed\xa0\x80"}

// checkText fails unless s is valid UTF-8 without control characters.
func checkText(tb testing.TB, what, s string) {
	tb.Helper()
	if !utf8.ValidString(s) {
		tb.Errorf("%s %q is not valid UTF-8", what, s)
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			tb.Errorf("%s %q holds the control character %U", what, s, r)
		}
	}
}

// checkDoc checks every key and string in a decoded JSON document.
func checkDoc(tb testing.TB, what string, v any) {
	tb.Helper()
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			checkText(tb, what+" key", k)
			checkDoc(tb, what, e)
		}
	case []any:
		for _, e := range v {
			checkDoc(tb, what, e)
		}
	case string:
		checkText(tb, what+" value", v)
	}
}

func TestRecordControlCharacters(t *testing.T) {
	for _, c := range bad {
		t.Run(fmt.Sprintf("%q", c), func(t *testing.T) {
			ctx := audit.ContextWithRequestInfo(context.Background(), audit.RequestInfo{UserAgent: "ctx" + c + "agent", CorrelationID: "ctx" + c + "corr"})
			svc := newService(t, memory.New().Audit(), audit.Config{})
			v := "a" + c + "INFO forged line"
			record(t, ctx, svc,
				audit.Event{Type: audit.LoginFailed, UserAgent: v, CorrelationID: v, Source: v,
					Data:     map[string]any{"k" + c: v, "nested": map[string]any{"n" + c: []any{v, map[string]any{c: v}}}},
					Metadata: map[string]any{"m" + c: v}},
				audit.Event{Type: audit.LoginFailed}, // from the context
			)
			for _, e := range all(t, svc) {
				checkText(t, "UserAgent", e.UserAgent)
				checkText(t, "CorrelationID", e.CorrelationID)
				checkText(t, "Source", e.Source)
				checkDoc(t, "Data", e.Data)
				checkDoc(t, "Metadata", e.Metadata)
				if !strings.HasSuffix(e.UserAgent, "agent") && !strings.HasSuffix(e.UserAgent, "INFO forged line") {
					t.Errorf("UserAgent %q lost its text", e.UserAgent)
				}
			}
			verify(t, svc, 2)
		})
	}
}

func TestRecordTruncates(t *testing.T) {
	svc := newService(t, memory.New().Audit(), audit.Config{})
	long := strings.Repeat("é", 5000)
	record(t, context.Background(), svc, audit.Event{Type: audit.LoginFailed, UserAgent: long, CorrelationID: long, Source: long,
		Data: map[string]any{long: long, "short": "é"}})
	e := only(t, svc)
	for _, tc := range []struct {
		what string
		s    string
		n    int
	}{
		{"UserAgent", e.UserAgent, 1024},
		{"CorrelationID", e.CorrelationID, 100},
		{"Source", e.Source, 100},
		{"Data value", fmt.Sprint(e.Data[strings.Repeat("é", 200)]), audit.MaxValueRunes},
		{"Data short value", fmt.Sprint(e.Data["short"]), 1},
	} {
		if n := utf8.RuneCountInString(tc.s); n != tc.n || !utf8.ValidString(tc.s) {
			t.Errorf("%s has %d code points, want %d", tc.what, n, tc.n)
		}
	}
	if len(e.Data) != 2 {
		t.Errorf("Data has keys %v; want the long one cut to 200 code points", e.Data)
	}
	verify(t, svc, 1)
}

func TestArchiveOneLinePerEvent(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, memory.New().Audit(), audit.Config{Now: stepClock(t0, time.Second)})
	for _, c := range bad {
		v := "x" + c + `{"forged":"event"}` + c
		record(t, ctx, svc, audit.Event{Type: audit.LoginFailed, UserAgent: v, CorrelationID: v, Source: v,
			Data: map[string]any{v: v, "list": []any{v}}, Metadata: map[string]any{v: map[string]any{v: v}}})
	}
	var buf bytes.Buffer
	n, err := svc.Archive(ctx, t0.Add(time.Hour), &buf)
	if err != nil || n != int64(len(bad)) {
		t.Fatalf("Archive = %d, %v", n, err)
	}
	if got := strings.Count(buf.String(), "\n"); got != len(bad) {
		t.Errorf("archive has %d lines, want %d (one per event)", got, len(bad))
	}
	for _, line := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		checkText(t, "archive line", line)
		var e audit.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Errorf("line %q: %v", line, err)
		}
	}
}

func TestCleanText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"", 10, ""},
		{"plain text", 100, "plain text"},
		{"héllo wörld ✓ 日本", 100, "héllo wörld ✓ 日本"},
		{"a\nb\rc\x00d\te", 100, "a\uFFFDb\uFFFDc\uFFFDd\uFFFDe"},
		{"\x1b[31mred", 100, "\uFFFD[31mred"},
		{"a\u2028b\u2029c\u0085d\x7f", 100, "a\uFFFDb\uFFFDc\uFFFDd\uFFFD"},
		{"bad\xff\xfe", 100, "bad\uFFFD\uFFFD"},
		{"abcdef", 3, "abc"},
		{"日本語テキスト", 3, "日本語"},
		{"ab\ncd", 3, "ab\uFFFD"},
		{"abc", 3, "abc"},
		{"abc", 0, ""},
		{"\uFFFD", 5, "\uFFFD"}, // a real U+FFFD is kept
	} {
		if got := audit.CleanText(tc.in, tc.max); got != tc.want {
			t.Errorf("CleanText(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

func FuzzCleanText(f *testing.F) {
	for _, c := range bad {
		f.Add("a"+c+"b", uint16(100))
	}
	f.Add("日本語", uint16(2))
	f.Add("", uint16(0))
	f.Fuzz(func(t *testing.T, s string, m uint16) {
		max := int(m % 5000)
		got := audit.CleanText(s, max)
		checkText(t, "CleanText output", got)
		in := []rune(s) // invalid bytes as U+FFFD, as CleanText reads them
		if n := utf8.RuneCountInString(got); n != min(max, len(in)) {
			t.Fatalf("CleanText(%q, %d) has %d code points, want %d", s, max, n, min(max, len(in)))
		}
		for i, r := range []rune(got) {
			if r != in[i] && r != utf8.RuneError {
				t.Fatalf("CleanText(%q, %d) = %q: code point %d changed from %U to %U", s, max, got, i, in[i], r)
			}
		}
		clean := utf8.ValidString(s) && len(in) <= max && !strings.ContainsFunc(s, func(r rune) bool {
			return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
		})
		if clean && got != s {
			t.Fatalf("CleanText(%q, %d) = %q changed a clean input", s, max, got)
		}
		if again := audit.CleanText(got, max); again != got {
			t.Fatalf("CleanText is not idempotent: %q then %q", got, again)
		}
	})
}

// mustRedact is an independent statement of the key parts that always
// mark a secret, wherever they occur, whatever the case and separators.
func mustRedact(k string) bool {
	n := strings.ToLower(strings.NewReplacer("_", "", "-", "", ".", "", " ", "").Replace(k))
	for _, p := range []string{"password", "passwd", "passphrase", "secret", "token", "apikey", "privatekey", "authorization", "credential", "cookie"} {
		if strings.Contains(n, p) {
			return true
		}
	}
	return false
}

func FuzzRedact(f *testing.F) {
	for _, k := range append(append([]string{}, secretKeys...), publicKeys...) {
		f.Add(k, "v")
	}
	f.Add("note", jwtSigned)
	f.Add("note", "x\n"+jwtUnsigned+"\x00")
	f.Add("k\n", "a\x00b")
	f.Add("\xff", "\xfe")
	f.Add("", "")
	f.Add(strings.Repeat("k", 300), strings.Repeat("é", 5000))
	f.Fuzz(func(t *testing.T, key, value string) {
		in := map[string]any{key: value, "nested": map[string]any{key: []any{value, map[string]any{key: value}}}}
		out := audit.Redact(nil, in)
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("Redact output does not encode: %v", err)
		}
		var walk func(v any)
		walk = func(v any) {
			switch v := v.(type) {
			case map[string]any:
				for k, e := range v {
					checkText(t, "key", k)
					if utf8.RuneCountInString(k) > 200 {
						t.Fatalf("key of %d code points", utf8.RuneCountInString(k))
					}
					walk(e)
				}
			case []any:
				for _, e := range v {
					walk(e)
				}
			case string:
				checkText(t, "value", v)
				if jwtShape.MatchString(v) {
					t.Fatalf("value %q still holds a JWT", v)
				}
				if utf8.RuneCountInString(v) > audit.MaxValueRunes+len(audit.Redacted) {
					t.Fatalf("value of %d code points", utf8.RuneCountInString(v))
				}
			default:
				t.Fatalf("value of type %T", v)
			}
		}
		walk(out)

		secret := audit.SecretKey(key)
		if mustRedact(key) && !secret {
			t.Fatalf("key %q is not redacted", key)
		}
		ck := audit.CleanText(key, 200)
		if ck == "nested" {
			return
		}
		want := any(jwtShapeFull.ReplaceAllString(audit.CleanText(value, audit.MaxValueRunes), audit.Redacted))
		if secret {
			want = audit.Redacted
		}
		nested := out["nested"].(map[string]any)
		var got []any
		if secret {
			got = []any{out[ck], nested[ck]}
		} else {
			list := nested[ck].([]any)
			got = []any{out[ck], list[0], list[1].(map[string]any)[ck]}
		}
		for _, g := range got {
			if g != want {
				t.Fatalf("Redact(%q: %q) stored %#v, want %#v", key, value, g, want)
			}
		}
	})
}

// jwtShapeFull is the whole JWS compact serialization, as it is replaced.
var jwtShapeFull = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)
