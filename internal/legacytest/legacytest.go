// Package legacytest builds, for tests, a database as the original system
// left it: the tables of its design document's DDL (original.sql, with
// the indexes it declares), an Alembic version table, and rows written the
// way that system wrote them:
//
//   - users whose hashed_password is bcrypt "$2b$" over the raw UTF-8
//     password, or "enc_v1:" + standard base64 of a Fernet token of that
//     hash under [Key]; passwords with non-ASCII text, one of them with a
//     decomposed accent that NFKC would change;
//   - OAuth profiles whose access_token is the Fernet token text of the
//     provider's token under [Key], refresh token and user info empty;
//   - Casbin rules of the attribute model, subjects lower-case roles;
//   - sessions (a JWT id, the SHA-256 hex of a refresh JWT), reset tokens
//     in clear, audit rows without any chain.
//
// The Fernet values were made by Python's cryptography package (Fernet,
// version 48), as the original system makes them, so the tests that read
// them prove the SDK reads that system's output, not its own.
package legacytest

import (
	"context"
	"database/sql"
	_ "embed"
	"fmt"
	"strings"
	"testing"

	_ "github.com/lib/pq" // the "postgres" driver of Open

	"github.com/cedrina/cedrina/internal/pgtest"
)

// DDL is the original system's schema: every CREATE TABLE and CREATE
// INDEX of its design document, verbatim.
//
//go:embed original.sql
var DDL string

// Key is the original system's PGCRYPTO_KEY in the fixture, as it was
// configured (URL-safe base64 of 32 bytes).
const Key = "S2VlcC10aGlzLWtleS1vdXQtb2YtcHJvZHVjdGlvbiE="

// OtherKey is a well-formed Fernet key that opens nothing in the fixture.
const OtherKey = "3SEBQ9guoJRUuRdbQjOxr8f2O6fvNSz0dLA-RBHiwbk="

// AlembicHead is the revision the fixture's alembic_version table holds.
const AlembicHead = "4f2a9c1d7e3b"

// User is one account of the fixture.
type User struct {
	ID       int64
	Username string
	Email    string
	Role     string // as users.role holds it: USER, ADMIN
	Password string // what the user types
	Stored   string // users.hashed_password as the original wrote it
	// Encrypted: Stored is an "enc_v1:" value under Key.
	Encrypted bool
}

// Users of the fixture. The bcrypt hashes have cost 4, so that tests run
// quickly; the original's cost is 12.
var Users = []User{
	{1, "alice", "alice@example.com", "USER", "correct horse battery",
		"$2b$04$2Hx6t7l.4sFmo/.STR89Kenu47SPgyfSDVBGCKSfFZZlW2Nkg3xw2", false},
	{2, "bruno", "bruno@example.com", "ADMIN", "pässwörd-Ünïcödé",
		"enc_v1:Z0FBQUFBQnJESHlRM2g4OUJ5OU5vT1RoQmFQQ3FCN0ZYQVVXWVp3c2tkY2RrbWZyVEFfNlVvS1VXWTBDcmpXOEoySHVvXzhnNVVnc1hPSGhabFExeC05UU5nYVAyUU5yM3Q2RFloMHk1WndGYlJxV0FBQmJya1NaQWlQcHd6TlhJeGFzelBHTm81Z2RVaGpvWVFhczJpZXo4T19oZXpHV213PT0=", true},
	{3, "chen", "chen@example.com", "USER", "密码是秘密的钥匙",
		"enc_v1:Z0FBQUFBQnJESHlRcHllTmhkNnFiSmgtdDJ2S3FucEtmX1dKajRYaUtQREtRUmZEbWk4bUMzSlNWWjFWam1ZN0FmZWMwZ3daTWpnYkRGSmdZemREbzRrbUMxMGIwU1F5d1BGc0NOdU1nYVkxbV8yOVo4MmRrOFl2NGk0bDNITUhSZkI5U25UTlZNNEU0V1o2YUZvUy1hek45U01rTXMzUWpnPT0=", true},
	{4, "dana", "dana@example.com", "USER", "Ωmega🔐pass-42",
		"$2b$04$rU9KNwS9YCw4DqjkKcoX0.o1S8Dj2WvCwCBkSaptk4H4.Sy9B0ND2", false},
	{5, "eve", "eve@example.com", "ADMIN", "cafe\u0301-latte-99",
		"enc_v1:Z0FBQUFBQnJESHlRbmRnVmNDcm1IdDFYMlBfM0ctNzRuQVk1Ukt3Rjlub1VFckpJZmFxZ092TTJrNHFEeWUzSDMxcXB1bWlSaW55VFh1VzVCMFBfaEdPb2dtTFdGdV9Jb0UxazhrVTlTdzIwNWVJSGlVXzMtb1lBdlc4c3FtLXcwQnpuSV9ZNEtHWEhvT2MtYk5Lcm1LdVA3UTVPTFFmU0JnPT0=", true},
}

// Hashes are the bcrypt hashes inside the "enc_v1:" values of Users, by
// username.
var Hashes = map[string]string{
	"bruno": "$2b$04$zM2MHifMQerKYWRtfFBFl./fSfdMYdmg6ea9XDDq8D5KPi8LWLdcC",
	"chen":  "$2b$04$4G9gHZUlsx5upqb.PnZO9ei3weorl0CRHUtpLW5LIcA5FrTgJS7Pi",
	"eve":   "$2b$04$h47t4c8nmZXIdXDgrxuTuuMA7MduVe9epZjsyMoPnWOLPU1AeXb3q",
}

// Profile is one OAuth profile of the fixture.
type Profile struct {
	UserID         int64
	Provider       string // as stored: GOOGLE, MICROSOFT
	ProviderUserID string
	Token          string // the provider's access token
	Stored         string // oauth_profiles.access_token: Fernet token text under Key
}

// Profiles of the fixture.
var Profiles = []Profile{
	{2, "GOOGLE", "108876543210987654321", "ya29.a0AfH6SMC-google-access-token-of-bruno",
		"gAAAAABrDHyQJUyoHmuXdz_33d5hDUUzrMj10oupTLGJtKwPlADile920kU62mVBH3koyt0Sal1j8IBVGRZrqRHc0k6uU_0-7xdM1QPTb_QqCQbPcAad8LSbsWDofkSGsqBHWVNmr6j0"},
	{3, "MICROSOFT", "00000000-0000-0000-4a5b-6c7d8e9f0a1b", "EwBwA8l6BAAU-microsoft-access-token-of-chen",
		"gAAAAABrDHyQuRgl_TOKO1Zh4AZeDnXRVVH6ooi-4vzZnxgGa1GQ_bdOSZLDhCXiCHW20QnmWZMN9cJr1ztA1-SzKG44scZNSr2PBxFUi1FDIipo7A3L_aTdbRtbarLXF-1PNwmu472r"},
}

// Rules are the fixture's casbin_rules rows (ptype, v0..v5; "" is NULL),
// all active, for the attribute model: (subject, object, action,
// department, location, time of day), "*" for an unused attribute.
var Rules = [][]string{
	{"p", "admin", "/admin/users", "GET", "*", "*", "*"},
	{"p", "admin", "/admin/users", "DELETE", "*", "*", "*"},
	{"p", "admin", "/admin/policies", "POST", "security", "*", "*"},
	{"p", "user", "/profile", "GET", "*", "*", "*"},
	{"p", "user", "/profile", "PUT", "*", "*", "*"},
	{"p", "user", "/reports", "GET", "finance", "*", "business_hours"},
	{"p", "user", "/reports/eu", "GET", "*", "eu-west", "*"},
	{"g", "admin", "user", "", "", "", ""},
}

// InactiveRule is a rule the original switched off (is_active false):
// it must allow nothing.
var InactiveRule = []string{"p", "user", "/admin/users", "GET", "*", "*", "*"}

// Sessions is how many sessions the fixture holds (all active, unexpired).
const Sessions = 3

// ResetTokens is how many reset tokens the fixture holds (unused, in
// clear, as the original stored them).
const ResetTokens = 2

// AuditRows is how many audit rows the fixture holds.
const AuditRows = 4

// Create writes the original system's schema and rows into the current
// schema of db (which must be empty).
func Create(t testing.TB, db *sql.DB) {
	t.Helper()
	if err := CreateContext(context.Background(), db); err != nil {
		t.Fatal(err)
	}
}

// Open returns the URL of a fresh schema (pgtest.URL) holding the
// original system's tables and rows, and a lib/pq pool on it, closed when
// the test ends.
func Open(t testing.TB) (string, *sql.DB) {
	t.Helper()
	url := pgtest.URL(t)
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	Create(t, db)
	return url, db
}

// CreateContext is Create without a testing.TB, for benchmarks and tools.
func CreateContext(ctx context.Context, db *sql.DB) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	exec := func(q string, args ...any) error {
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("legacytest: %s: %w", firstLine(q), err)
		}
		return nil
	}
	if err := exec(DDL); err != nil {
		return err
	}
	if err := exec(`CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))`); err != nil {
		return err
	}
	if err := exec(`INSERT INTO alembic_version (version_num) VALUES ($1)`, AlembicHead); err != nil {
		return err
	}
	// The original names only some columns and leaves the rest to the
	// defaults, as its ORM did.
	for _, u := range Users {
		if err := exec(`INSERT INTO users (id, username, email, hashed_password, role, is_verified, created_at)
			VALUES ($1, $2, $3, $4, $5, true, now() - interval '400 days')`, u.ID, u.Username, u.Email, u.Stored, u.Role); err != nil {
			return err
		}
	}
	if err := exec(`SELECT setval('users_id_seq', (SELECT max(id) FROM users))`); err != nil {
		return err
	}
	for _, p := range Profiles {
		if err := exec(`INSERT INTO oauth_profiles (user_id, provider, provider_user_id, access_token, token_expires_at)
			VALUES ($1, $2, $3, $4, now() + interval '1 hour')`, p.UserID, p.Provider, p.ProviderUserID, p.Stored); err != nil {
			return err
		}
	}
	type rule struct {
		values []string
		active bool
	}
	rules := []rule{{InactiveRule, false}}
	for _, r := range Rules {
		rules = append(rules, rule{r, true})
	}
	for _, r := range rules {
		vals := make([]any, 7)
		for i, v := range r.values {
			if v != "" {
				vals[i] = v
			}
		}
		if err := exec(`INSERT INTO casbin_rules (ptype, v0, v1, v2, v3, v4, v5, created_by, is_active)
			VALUES ($1, $2, $3, $4, $5, $6, $7, 'alembic-seed', $8)`, append(vals, r.active)...); err != nil {
			return err
		}
	}
	for i := range Sessions {
		if err := exec(`INSERT INTO sessions (user_id, session_token, refresh_token, expires_at, client_ip, user_agent)
			VALUES ($1, $2, encode(sha256($3::bytea), 'hex'), now() + interval '7 days', '203.0.113.7', 'Mozilla/5.0')`,
			Users[i].ID, fmt.Sprintf("jti-%08d-original", i+1), fmt.Sprintf("eyJhbGciOiJSUzI1NiJ9.refresh-%d.sig", i+1)); err != nil {
			return err
		}
	}
	for i := range ResetTokens {
		if err := exec(`INSERT INTO password_reset_tokens (user_id, token_hash, expires_at)
			VALUES ($1, $2, now() + interval '30 minutes')`, Users[i].ID, fmt.Sprintf("plain-reset-token-%d-kept-in-clear", i+1)); err != nil {
			return err
		}
	}
	audits := []struct {
		user any
		typ  string
		data string
	}{
		{int64(1), "UserRegisteredEvent", `{"username": "alice"}`},
		{int64(2), "UserLoggedInEvent", `{"username": "bruno", "provider": "GOOGLE"}`},
		{int64(3), "PasswordChangedEvent", `{"user_id": 3}`},
		{nil, "FailedLoginAttemptEvent", `{"username": "mallory"}`},
	}
	for _, a := range audits {
		if err := exec(`INSERT INTO audit_logs (user_id, event_type, event_data, client_ip, source)
			VALUES ($1, $2, $3::jsonb, '198.51.100.4', 'cedrina-python')`, a.user, a.typ, a.data); err != nil {
			return err
		}
	}
	return tx.Commit()
}

func firstLine(q string) string {
	for i := 0; i < len(q); i++ {
		if q[i] == '\n' {
			return q[:i]
		}
	}
	return q
}

// Model is the original system's Casbin model, as that system wrote it:
// requests of (subject, object, action, department, location, time of
// day), "*" in a policy for any value, subjects lower-case roles, and
// only active rules loaded. It is written here independently of the
// SDK's own attribute model so that a test can compare the two.
const Model = `[request_definition]
r = sub, obj, act, department, location, time_of_day

[policy_definition]
p = sub, obj, act, department, location, time_of_day

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = g(r.sub, p.sub) && r.obj == p.obj && r.act == p.act && (p.department == "*" || r.department == p.department) && (p.location == "*" || r.location == p.location) && (p.time_of_day == "*" || r.time_of_day == p.time_of_day)
`

// CheckTokens fails the test unless every profile of Profiles holds, in
// db, a value that keyID sealed ("v1:<keyID>:...") and open (an
// oauth.Cipher's Open) turns into the provider's token: the tokens were
// converted by an adoption and read back.
func CheckTokens(t testing.TB, db *sql.DB, keyID string, open func(sealed string, userID int64, provider string) (string, error)) {
	t.Helper()
	for _, p := range Profiles {
		var stored string
		if err := db.QueryRowContext(context.Background(), `SELECT access_token FROM oauth_profiles WHERE user_id = $1 AND provider = $2`,
			p.UserID, p.Provider).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(stored, "v1:"+keyID+":") {
			t.Errorf("%s token of user %d: %.12q…, want a value sealed with %s", p.Provider, p.UserID, stored, keyID)
			continue
		}
		if tok, err := open(stored, p.UserID, p.Provider); err != nil || tok != p.Token {
			t.Errorf("%s token of user %d opens to %q, %v; want the provider's token", p.Provider, p.UserID, tok, err)
		}
	}
}
