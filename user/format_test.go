package user_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cedrina/cedrina/user"
)

// TestUserNeverShowsItsHash: no fmt verb, no slog handler and no JSON
// encoding of a User shows the hash; the JSON is the public view,
// without the lockout state, the stamp or the host's metadata.
func TestUserNeverShowsItsHash(t *testing.T) {
	const hash = "$argon2id$v=19$m=19456,t=2,p=1$c2VjcmV0c2FsdHNhbHQ$SECRETKEYMATERIAL"
	locked := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	u := &user.User{ID: 42, Username: "alice", Email: "alice@example.com", HashedPassword: hash, IsActive: true,
		Role: user.RoleUser, Tier: user.TierFree, FailedLoginAttempts: 3, LockedUntil: &locked, SecurityStamp: 7,
		Metadata: map[string]any{"internal_note": "vip"}, Preferences: map[string]any{"theme": "dark"}}

	var printed []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v", "%10v", "%-v"} {
		printed = append(printed, fmt.Sprintf(verb, u), fmt.Sprintf(verb, *u))
	}
	printed = append(printed, fmt.Sprint(u), fmt.Sprintln(*u), u.String(),
		fmt.Sprintf("%+v", struct{ U *user.User }{u}), fmt.Sprintf("%v", []user.User{*u}),
		fmt.Sprintf("%v", map[string]*user.User{"u": u}))
	for _, h := range []func(*bytes.Buffer) slog.Handler{
		func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var b bytes.Buffer
		log := slog.New(h(&b))
		log.Info("login", "user", u, "value", *u, slog.Any("any", u))
		printed = append(printed, b.String())
		if !strings.Contains(b.String(), "alice") || !strings.Contains(b.String(), "42") {
			t.Errorf("slog output lost the id or name: %s", b.String())
		}
	}
	for _, p := range printed {
		for _, secret := range []string{hash, "SECRETKEYMATERIAL", "c2VjcmV0c2FsdHNhbHQ"} {
			if strings.Contains(p, secret) {
				t.Errorf("printed form shows the hash: %s", p)
			}
		}
	}
	if s := fmt.Sprintf("%+v", u); !strings.Contains(s, "HashedPassword:[REDACTED]") || !strings.Contains(s, "Username:alice") {
		t.Errorf("%%+v = %s, want the fields with the hash redacted", s)
	}
	if s := fmt.Sprint(*u); s != "user 42 (alice)" && !strings.Contains(s, "[REDACTED]") {
		t.Errorf("fmt.Sprint = %s", s)
	}

	b, err := json.Marshal(u)
	if err != nil {
		t.Fatal(err)
	}
	var view map[string]any
	if err := json.Unmarshal(b, &view); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "username", "email", "is_active", "is_verified", "role", "tier", "created_at", "updated_at",
		"last_login_at", "password_changed_at", "email_verified_at", "profile_data", "preferences"} {
		if _, ok := view[k]; !ok {
			t.Errorf("JSON view lacks %q: %s", k, b)
		}
	}
	if len(view) != 14 {
		t.Errorf("JSON view has %d members, want the 14 documented: %s", len(view), b)
	}
	for _, leak := range []string{"hashed_password", "failed_login_attempts", "locked_until", "metadata", "security_stamp", "internal_note", "argon2id"} {
		if strings.Contains(string(b), leak) {
			t.Errorf("JSON view shows %q: %s", leak, b)
		}
	}
}
