package main

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/legacytest"
	"github.com/cedrina/cedrina/legacy"
	"github.com/cedrina/cedrina/oauth"
	"github.com/cedrina/cedrina/schema"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/user"
)

// tokenKeys are the SDK's OAuth token keys of the adoption tests.
const tokenKeys = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

// adopt adopts the database as `cedrina migrate adopt` does, converting
// the OAuth tokens with the original's key into tokenKeys.
func adopt(t *testing.T, db *sql.DB) *oauth.Cipher {
	t.Helper()
	keys, err := legacy.ParseKeys(legacytest.Key)
	if err != nil {
		t.Fatal(err)
	}
	cipher, err := oauth.ParseKeys(tokenKeys)
	if err != nil {
		t.Fatal(err)
	}
	r, err := schema.Adopt(context.Background(), db, schema.AdoptConfig{Tokens: oauth.LegacyTokens(keys, cipher)})
	if err != nil {
		t.Fatal(err)
	}
	if r.State != schema.AdoptedNow {
		t.Fatalf("adopt: state %v", r.State)
	}
	return cipher
}

// storedHash reads a user's hashed_password as stored.
func storedHash(t *testing.T, db *sql.DB, username string) string {
	t.Helper()
	var h string
	if err := db.QueryRowContext(context.Background(), `SELECT hashed_password FROM users WHERE username = $1`, username).Scan(&h); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestRunAdopted is the move from the original system, end to end: the
// example refuses the original's database until it is adopted; after
// adoption it turns the legacy rule on by itself, every user of the
// original signs in with the password they always had (bcrypt over raw
// UTF-8, or encrypted under the original's key; non-ASCII passwords, one
// with a decomposed accent) and is rehashed to the current format; the
// OAuth tokens read back; an ADMIN of the original administers; and the
// audit chain verifies from the adoption on, the original's rows
// reported as unchained.
func TestRunAdopted(t *testing.T) {
	t.Parallel()
	dbURL, db := legacytest.Open(t)
	env := func(k string) string {
		switch k {
		case "DATABASE_URL":
			return dbURL
		case envLegacyKey:
			return legacytest.Key
		}
		return ""
	}

	// Not adopted yet: the program says what to do and starts nothing.
	logs := &logBuffer{}
	err := run(context.Background(), []string{"--addr", "127.0.0.1:0"}, env, logs, func(string) { t.Error("listening on an unadopted database") })
	if !errors.Is(err, schema.ErrNotAdopted) || !strings.Contains(err.Error(), "cedrina migrate adopt") {
		t.Fatalf("run on the original's database: %v; want ErrNotAdopted", err)
	}

	cipher := adopt(t, db)
	addr, logs, stop, wait := startRun(t, env, "--login-limit", "1000")
	if len(logs.records(t, "the database was adopted from the original system: its password formats are accepted and upgraded at sign-in")) != 1 {
		t.Errorf("the legacy rule was not turned on by the adoption:\n%s", logs)
	}
	c := client{t: t, base: "http://" + addr}
	c.want("POST", "/auth/login", "", map[string]string{"login": "alice", "password": "not her password"}, http.StatusUnauthorized)
	if got := storedHash(t, db, "alice"); got != legacytest.Users[0].Stored {
		t.Errorf("a wrong password rewrote alice's hash")
	}
	tokens := map[string]string{}
	for _, u := range legacytest.Users {
		tok := c.want("POST", "/auth/login", "", map[string]string{"login": u.Username, "password": u.Password}, http.StatusOK)
		access, _ := tok["access_token"].(string)
		if access == "" {
			t.Fatalf("%s: login response %v", u.Username, tok)
		}
		tokens[u.Username] = access
		if me := c.want("GET", "/me", access, nil, http.StatusOK); me["username"] != u.Username || me["role"] != u.Role {
			t.Errorf("%s: /me %v", u.Username, me)
		}
		after := storedHash(t, db, u.Username)
		if f := user.PasswordFormat(after); after == u.Stored || f == user.FormatLegacyBcrypt || f == user.FormatLegacyEncrypted {
			t.Errorf("%s: hash not upgraded (format %s)", u.Username, f)
		}
		// Again, now by the current format's strict rule; by email too.
		c.want("POST", "/auth/login", "", map[string]string{"login": u.Email, "password": u.Password}, http.StatusOK)
		if again := storedHash(t, db, u.Username); again != after {
			t.Errorf("%s: rehashed twice", u.Username)
		}
	}

	// bruno was ADMIN in the original: the admin routes are his, under
	// the admin policy the example seeded beside the original's
	// attribute rules; alice (USER) is refused.
	c.want("GET", "/admin/policies", tokens["bruno"], nil, http.StatusOK)
	c.want("GET", "/admin/policies", tokens["alice"], nil, http.StatusForbidden)
	v := c.want("GET", "/admin/audit/verify", tokens["bruno"], nil, http.StatusOK)
	if v["intact"] != true || v["unchained"] != float64(legacytest.AuditRows) || v["verified"].(float64) < 1 {
		t.Errorf("GET /admin/audit/verify: %v", v)
	}
	stop()
	if err := wait(); err != nil {
		t.Fatalf("run: %v", err)
	}
	logs.noSecrets(t, legacytest.Key, dbURL)
	for _, u := range legacytest.Users {
		logs.noSecrets(t, u.Password, u.Stored)
	}

	// The provider tokens the original encrypted read back through the
	// store and the SDK's key.
	pg, err := postgres.NewFromSQL(db, postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, p := range legacytest.Profiles {
		profiles, err := pg.OAuth().ByUser(ctx, p.UserID)
		if err != nil || len(profiles) != 1 {
			t.Fatalf("user %d: profiles %v, %v", p.UserID, profiles, err)
		}
		got, err := cipher.Open(profiles[0].AccessToken, p.UserID, profiles[0].Provider)
		if err != nil || got != p.Token || profiles[0].Provider != p.Provider {
			t.Errorf("user %d: %s token reads %q, %v", p.UserID, profiles[0].Provider, got, err)
		}
	}

	// The chain holds every event since the adoption (the sign-ins) and
	// verifies; the original's rows are outside it.
	trail, err := audit.NewService(pg.Audit(), audit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	n, err := trail.Verify(ctx, 0, 0)
	if err != nil || n < int64(2*len(legacytest.Users)) {
		t.Errorf("Verify: %d events, %v", n, err)
	}
	if u, err := trail.Unchained(ctx); err != nil || u != legacytest.AuditRows {
		t.Errorf("Unchained: %d, %v; want the original's %d rows", u, err, legacytest.AuditRows)
	}
}

// TestRunAdoptedWrongKey: with a key that is not the original's, the
// accounts whose hashes it encrypted are refused (the one 401), the log
// says why for the operator without the key, and their hashes stay as
// they were; the other accounts sign in. Without any key, the program
// warns at start and refuses them the same way.
func TestRunAdoptedWrongKey(t *testing.T) {
	t.Parallel()
	const wrongKeyLine = "user: the legacy key does not open this password hash (wrong key, or the value was altered)"
	for _, tc := range []struct {
		name, key, line string
		file            bool // the key from --legacy-key-file, not the environment
	}{
		{"wrong key", legacytest.OtherKey, wrongKeyLine, false},
		{"wrong key file", legacytest.OtherKey, wrongKeyLine, true},
		{"no key", "", "user: password hash is encrypted by the original system and no legacy key is configured (user.LegacyConfig.Keys)", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dbURL, db := legacytest.Open(t)
			adopt(t, db)
			args := []string{"--login-limit", "1000"}
			envKey := tc.key
			if tc.file {
				path := filepath.Join(t.TempDir(), "legacy.key")
				if err := os.WriteFile(path, []byte(tc.key+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				args, envKey = append(args, "--legacy-key-file", path), legacytest.Key // the file wins
			}
			addr, logs, stop, wait := startRun(t, func(k string) string {
				switch k {
				case "DATABASE_URL":
					return dbURL
				case envLegacyKey:
					return envKey
				}
				return ""
			}, args...)
			if warned := len(logs.records(t, "no legacy key (--legacy-key-file or $"+envLegacyKey+"): accounts whose password hash the original "+
				"system encrypted (enc_v1) cannot sign in; `cedrina legacy status` counts them")) == 1; warned != (tc.key == "") {
				t.Errorf("start-up warning about the missing key: %v", warned)
			}
			c := client{t: t, base: "http://" + addr}
			for _, u := range legacytest.Users {
				if !u.Encrypted {
					c.want("POST", "/auth/login", "", map[string]string{"login": u.Username, "password": u.Password}, http.StatusOK)
					continue
				}
				c.want("POST", "/auth/login", "", map[string]string{"login": u.Username, "password": u.Password}, http.StatusUnauthorized)
				if got := storedHash(t, db, u.Username); got != u.Stored {
					t.Errorf("%s: hash rewritten after a refusal", u.Username)
				}
			}
			stop()
			if err := wait(); err != nil {
				t.Fatalf("run: %v", err)
			}
			lines := logs.records(t, tc.line)
			encrypted := 0
			for _, u := range legacytest.Users {
				if u.Encrypted {
					encrypted++
				}
			}
			if len(lines) != encrypted {
				t.Fatalf("%d operator log lines %q, want %d:\n%s", len(lines), tc.line, encrypted, logs)
			}
			for _, l := range lines {
				if l["level"] != "ERROR" || l["user_id"] == nil {
					t.Errorf("operator log line %v", l)
				}
			}
			logs.noSecrets(t, legacytest.Key, legacytest.OtherKey)
			for _, u := range legacytest.Users {
				logs.noSecrets(t, u.Password, u.Stored)
			}
		})
	}
}
