package audit_test

import (
	"context"
	"strings"
	"testing"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/store/memory"
)

// TestRedactKeyForms: secret names written run together, in capitals, with
// other separators or in full-width letters are redacted; the common
// non-secret names that mention a secret are kept.
func TestRedactKeyForms(t *testing.T) {
	for _, k := range []string{
		"pass", "user_pass", "pw", "passcode", "totp", "recovery_codes", "backup_codes", "privkey",
		"authcode", "resetcode", "otpcode", "signingkey", "accesskey", "RESETCODE", "api:key",
		"private:key", "pass\tword", "csrf", "csrf_token", "oauth_state", "ＰＡＳＳＷＯＲＤ", "idempotency_key",
	} {
		if !audit.SecretKey(k) {
			t.Errorf("SecretKey(%q) = false, want true", k)
		}
	}
	for _, k := range []string{
		"token_count", "tokens_revoked", "token_type", "password_changed_at", "password_policy",
		"public_key", "publicKey", "signature_valid", "cookie_consent", "keys", "key_id", "kid",
		"country_code", "status_code", "reason", "attempts", "session_id", "author", "shipping",
	} {
		if audit.SecretKey(k) {
			t.Errorf("SecretKey(%q) = true, want false", k)
		}
	}
}

// TestRedactInText: secrets inside free text (URLs with token parameters,
// Authorization credentials, URL passwords, JWTs) are replaced, in Data
// and in the event's own text fields.
func TestRedactInText(t *testing.T) {
	cases := []struct{ in, want, secret string }{
		{"https://app.example/reset?token=s3cr3t-reset&lang=en", "https://app.example/reset?token=[REDACTED]&lang=en", "s3cr3t-reset"},
		{"see https://app.example/cb?code=auth-c0de&state=xyz now", "see https://app.example/cb?code=[REDACTED]&state=xyz now", "auth-c0de"},
		{"https://app.example/cb#access_token=fr4gment-t0ken&token_type=bearer", "https://app.example/cb#access_token=[REDACTED]&token_type=bearer", "fr4gment-t0ken"},
		{"postgres://app:db-passw0rd@db:5432/app", "postgres://app:[REDACTED]@db:5432/app", "db-passw0rd"},
		{"Authorization: Bearer abcdef0123456789opaque", "Authorization: Bearer [REDACTED]", "abcdef0123456789opaque"},
		{"basic dXNlcjpwYXNzd29yZA==", "basic [REDACTED]", "dXNlcjpwYXNzd29yZA=="},
		{"https://app.example/profile?tab=security", "https://app.example/profile?tab=security", ""},
	}
	a, err := audit.NewService(memory.New().Audit(), audit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range cases {
		if err := a.Record(ctx, audit.Event{Type: "text_test", Data: map[string]any{"note": c.in}, UserAgent: c.in, Source: c.in}); err != nil {
			t.Fatal(err)
		}
		p, err := a.Query(ctx, audit.Query{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		e := p.Events[0]
		if e.Data["note"] != c.want {
			t.Errorf("Data: %q stored as %q, want %q", c.in, e.Data["note"], c.want)
		}
		if c.secret != "" && (strings.Contains(e.UserAgent, c.secret) || strings.Contains(e.Source, c.secret)) {
			t.Errorf("%q: the user agent or source keeps the secret: %q, %q", c.in, e.UserAgent, e.Source)
		}
	}
	if n, err := a.Verify(ctx, 0, 0); err != nil || n != int64(len(cases)) {
		t.Fatalf("Verify = %d, %v", n, err)
	}
}
