package main

import (
	"bytes"
	"database/sql"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cedrina/cedrina/internal/legacytest"
	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/oauth"
	"github.com/cedrina/cedrina/schema"
)

// sdkKeys are the SDK's OAuth token keys the adopt tests convert into.
var sdkKeys = "k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))

// secretFile writes text to a new file with the given mode.
func secretFile(t *testing.T, text string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, []byte(text+"\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // whatever the umask
		t.Fatal(err)
	}
	return path
}

// checkTokens checks that the fixture's OAuth tokens are sealed with
// sdkKeys and open to the providers' tokens.
func checkTokens(t *testing.T, db *sql.DB) {
	t.Helper()
	c, err := oauth.ParseKeys(sdkKeys)
	if err != nil {
		t.Fatal(err)
	}
	legacytest.CheckTokens(t, db, c.Current(), c.Open)
}

// TestMigrateAdopt adopts with key files, then again.
func TestMigrateAdopt(t *testing.T) {
	t.Parallel()
	url, db := legacytest.Open(t)
	legacyFile := secretFile(t, legacytest.Key, 0o600)
	tokenFile := secretFile(t, sdkKeys, 0o600)

	r := cli(t, nil, "migrate", "adopt", "--database-url", url,
		"--legacy-key-file", legacyFile, "--oauth-token-keys-file", tokenFile, "--batch", "1")
	if r.code != exitOK {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if want := "converted 1 of 2 OAuth tokens\nconverted 2 of 2 OAuth tokens\n"; r.stderr != want {
		t.Errorf("stderr = %q, want %q", r.stderr, want)
	}
	for _, re := range []string{
		`(?m)^Adoption of schema t_[0-9a-f]+: adopted now, at \d{4}-`,
		`(?m)^  users +OK$`,
		`(?m)^  users\.idx_users_username +extra \(the original's; users_username_key serves the same lookups; you may drop it\)`,
		`(?m)^Alembic: alembic_version at revision ` + legacytest.AlembicHead + `; the table is left alone$`,
		`(?m)^Sessions ended: 3 `,
		`(?m)^Password reset tokens removed: 2 `,
		`(?m)^OAuth tokens converted into the SDK's sealed format: 2 of 2$`,
		fmt.Sprintf(`(?m)^Migrations: version 1 recorded as applied \(its tables exist\); versions 2 to %d applied`, schema.Latest()),
	} {
		if !regexp.MustCompile(re).MatchString(r.stdout) {
			t.Errorf("stdout does not match %s:\n%s", re, r.stdout)
		}
	}
	checkTokens(t, db)

	// Again: nothing to do, and no key needed.
	cli(t, nil, "migrate", "adopt", "--database-url", url).
		expect(t, exitOK, `(?m)^Adoption of schema t_[0-9a-f]+: already adopted at .*; nothing to adopt$`, "")
	checkTokens(t, db)
}

// TestMigrateAdoptEnv takes both keys from the environment.
func TestMigrateAdoptEnv(t *testing.T) {
	t.Parallel()
	url, db := legacytest.Open(t)
	env := map[string]string{"DATABASE_URL": url, envLegacyKey: legacytest.Key, envOAuthTokenKeys: sdkKeys}
	r := cli(t, env, "migrate", "adopt")
	if r.code != exitOK || !strings.Contains(r.stdout, ": adopted now, at ") ||
		r.stderr != "converted 2 of 2 OAuth tokens\n" {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	checkTokens(t, db)
}

// TestMigrateAdoptRefused: a key missing, a wrong key, an incompatible
// schema; each exits 1, says why, and changes nothing.
func TestMigrateAdoptRefused(t *testing.T) {
	t.Parallel()
	otherSDK := "k2:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 32))
	for _, tc := range []struct {
		name   string
		alter  string
		env    map[string]string
		args   []string
		errRE  string
		outRE  string
		hidden []string // texts that must appear in no output
	}{
		{name: "no legacy key", env: map[string]string{envOAuthTokenKeys: sdkKeys},
			errRE: `^cedrina: migrate adopt: 2 OAuth tokens, in 2 profiles, must be converted into the SDK's format: ` +
				`give the original system's Fernet key \(--legacy-key-file or \$CEDRINA_LEGACY_KEY\); nothing changed\n$`,
			outRE:  `(?m)^Adoption of schema t_[0-9a-f]+: refused, nothing changed: 2 OAuth tokens`,
			hidden: []string{sdkKeys}},
		{name: "no keys",
			errRE: `^cedrina: migrate adopt: 2 OAuth tokens, .*: give the original system's Fernet key \(--legacy-key-file or \$CEDRINA_LEGACY_KEY\) ` +
				`and the SDK's OAuth token keys \(--oauth-token-keys-file or \$CEDRINA_OAUTH_TOKEN_KEYS\); nothing changed\n$`,
			outRE: `OAuth tokens to convert: 2, in 2 profiles`},
		{name: "no token keys", env: map[string]string{envLegacyKey: legacytest.Key},
			errRE:  `give the SDK's OAuth token keys \(--oauth-token-keys-file or \$CEDRINA_OAUTH_TOKEN_KEYS\); nothing changed\n$`,
			outRE:  `refused, nothing changed`,
			hidden: []string{legacytest.Key}},
		{name: "wrong key", env: map[string]string{envLegacyKey: legacytest.OtherKey, envOAuthTokenKeys: otherSDK},
			errRE: `^cedrina: migrate adopt: schema: adopt: convert the access_token of oauth_profiles id 1 \(GOOGLE, user 2\): .*legacy: no configured key opens the value`,
			outRE: `refused, nothing changed: schema: adopt: convert the access_token of oauth_profiles id 1`,
			hidden: []string{legacytest.OtherKey, otherSDK, strings.TrimPrefix(otherSDK, "k2:"), legacytest.Key,
				legacytest.Profiles[0].Token, legacytest.Profiles[0].Stored}},
		{name: "column missing", alter: `ALTER TABLE users DROP COLUMN tier`,
			env:   map[string]string{envLegacyKey: legacytest.Key, envOAuthTokenKeys: sdkKeys},
			errRE: `^cedrina: migrate adopt: schema: adopt: the tables are not the ones migration 1 creates: users\.tier: missing; nothing changed\n$`,
			outRE: `(?m)^  users +1 difference\n      users\.tier: missing$`},
		{name: "type changed", alter: `ALTER TABLE users ALTER COLUMN email TYPE VARCHAR(100)`,
			errRE: `users\.email: type character varying\(100\), want character varying\(254\); nothing changed\n$`,
			outRE: `(?m)^      users\.email: type character varying\(100\), want character varying\(254\)$`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url, db := legacytest.Open(t)
			if tc.alter != "" {
				if _, err := db.ExecContext(t.Context(), tc.alter); err != nil {
					t.Fatal(err)
				}
			}
			r := cli(t, tc.env, append([]string{"migrate", "adopt", "--database-url", url}, tc.args...)...)
			r.expect(t, exitFailure, tc.outRE, tc.errRE)
			for _, h := range tc.hidden {
				if strings.Contains(r.stdout+r.stderr, h) {
					t.Errorf("the output shows a secret (%.6s…):\n%s\n%s", h, r.stdout, r.stderr)
				}
			}
			if v, err := schema.Version(t.Context(), db); err != nil || v != 0 {
				t.Errorf("version after a refusal = %d, %v; want 0", v, err)
			}
			var active int
			if err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM sessions WHERE is_active`).Scan(&active); err != nil {
				t.Fatal(err)
			}
			if active != legacytest.Sessions {
				t.Errorf("%d sessions active after a refusal, want %d", active, legacytest.Sessions)
			}
		})
	}
}

// TestMigrateAdoptManaged: a schema migrate up created has nothing to
// adopt.
func TestMigrateAdoptManaged(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	cli(t, nil, "migrate", "up", "--database-url", url).expect(t, exitOK, `^migrated`, "")
	cli(t, nil, "migrate", "adopt", "--database-url", url).expect(t, exitOK,
		fmt.Sprintf("already managed by Cedrina at version %d \\(migrated by `migrate up`, not adopted\\); nothing to adopt\n", schema.Latest()), "")
}

// TestMigrateAdoptUsage: bad flags and keys exit 2 before any connection
// (the database URL points at a closed port).
func TestMigrateAdoptUsage(t *testing.T) {
	t.Parallel()
	url := fmt.Sprintf("postgres://root@127.0.0.1:%d/test?sslmode=disable", closedPort(t))
	good := secretFile(t, legacytest.Key, 0o600)
	empty := secretFile(t, "", 0o600)
	for _, tc := range []struct {
		env   map[string]string
		args  []string
		errRE string
	}{
		{nil, []string{"migrate", "up", "--batch", "5"}, `^cedrina: migrate up: --batch is a flag of migrate adopt only\n$`},
		{nil, []string{"migrate", "status", "--legacy-key-file", good}, `^cedrina: migrate status: --legacy-key-file is a flag of migrate adopt only\n$`},
		{nil, []string{"migrate", "adopt", "--batch", "0"}, `^cedrina: migrate adopt: --batch must be at least 1\n$`},
		{nil, []string{"migrate", "adopt", "--batch", "x"}, `^cedrina: migrate: invalid value "x" for flag -batch`},
		{map[string]string{envLegacyKey: "not-a-key"}, []string{"migrate", "adopt"},
			`^cedrina: migrate adopt: \$CEDRINA_LEGACY_KEY: legacy: key 1 of 1: not base64 or hex of 32 bytes\n$`},
		{map[string]string{envOAuthTokenKeys: "k1:tooshort"}, []string{"migrate", "adopt"},
			`^cedrina: migrate adopt: \$CEDRINA_OAUTH_TOKEN_KEYS: oauth: key 1 \("k1"\): secret is not base64 of 32 bytes\n$`},
		{nil, []string{"migrate", "adopt", "--legacy-key-file", filepath.Join(t.TempDir(), "none")},
			`^cedrina: migrate adopt: --legacy-key-file: open .*: no such file or directory\n$`},
		{nil, []string{"migrate", "adopt", "--oauth-token-keys-file", empty},
			`^cedrina: migrate adopt: --oauth-token-keys-file .*: the file is empty\n$`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			r := cli(t, tc.env, append(tc.args, "--database-url", url)...)
			r.expect(t, exitUsage, `^$`, tc.errRE)
			if strings.Contains(r.stderr, "tooshort") || strings.Contains(r.stderr, "not-a-key") {
				t.Errorf("the error shows the key: %s", r.stderr)
			}
		})
	}
	// help migrate lists adopt and its flags.
	cli(t, nil, "help", "migrate").expect(t, exitOK,
		`(?s)cedrina migrate \[--database-url URL\] adopt \[--legacy-key-file FILE\] \[--oauth-token-keys-file FILE\] \[--batch N\].*`+
			`adopt +take over.*--legacy-key-file FILE.*CEDRINA_LEGACY_KEY.*--oauth-token-keys-file FILE.*CEDRINA_OAUTH_TOKEN_KEYS.*--batch N`, "")
}

// TestMigrateAdoptReadableKeyFile: a key file others may read works, with
// a warning.
func TestMigrateAdoptReadableKeyFile(t *testing.T) {
	t.Parallel()
	url, db := legacytest.Open(t)
	legacyFile := secretFile(t, legacytest.Key, 0o644)
	r := cli(t, map[string]string{envOAuthTokenKeys: sdkKeys}, "migrate", "adopt", "--database-url", url, "--legacy-key-file", legacyFile)
	want := fmt.Sprintf("cedrina: warning: --legacy-key-file %s holds secrets and is readable by other users (mode -rw-r--r--); chmod 600 it\n"+
		"converted 2 of 2 OAuth tokens\n", legacyFile)
	if r.code != exitOK || r.stderr != want {
		t.Fatalf("exit %d\nstderr: %q\nwant:   %q", r.code, r.stderr, want)
	}
	checkTokens(t, db)
}
