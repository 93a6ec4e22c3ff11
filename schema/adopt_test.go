package schema_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cedrina/cedrina/internal/legacytest"
	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/legacy"
	"github.com/cedrina/cedrina/oauth"
	"github.com/cedrina/cedrina/schema"
)

// testCipher is the SDK's token cipher the tests convert into.
func testCipher(t *testing.T) *oauth.Cipher {
	t.Helper()
	c, err := oauth.ParseKeys("k1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tokens returns the conversion of the fixture's tokens into c's format.
func tokens(t *testing.T, c *oauth.Cipher) func(int64, string, string) (string, error) {
	t.Helper()
	keys, err := legacy.ParseKeys(legacytest.Key)
	if err != nil {
		t.Fatal(err)
	}
	return oauth.LegacyTokens(keys, c)
}

func reportText(t *testing.T, r *schema.AdoptReport) string {
	t.Helper()
	var b strings.Builder
	n, err := r.WriteTo(&b)
	if err != nil || n != int64(b.Len()) {
		t.Fatalf("WriteTo = %d, %v; wrote %d bytes", n, err, b.Len())
	}
	return b.String()
}

// strings1 runs q, whose rows are one text column each.
func strings1(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	var out []string
	queryRows(t, db, q, func(r *sql.Rows) error {
		var s sql.NullString
		err := r.Scan(&s)
		out = append(out, s.String)
		return err
	}, args...)
	return out
}

// snapshot is everything a schema holds, as text: its relations, types,
// columns, constraints and indexes, the rows of every table and the
// state of every sequence, and whether any probe schema of Adopt is left.
func snapshot(t *testing.T, db *sql.DB) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT 'relation ' || relname || ' ' || relkind::text FROM pg_class
			WHERE relnamespace = current_schema()::regnamespace ORDER BY 1`,
		`SELECT 'type ' || typname FROM pg_type WHERE typnamespace = current_schema()::regnamespace ORDER BY 1`,
		`SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' ' ||
			coalesce(character_maximum_length::text, '-') || ' ' || is_nullable || ' ' || coalesce(column_default, '-')
			FROM information_schema.columns WHERE table_schema = current_schema() ORDER BY 1`,
		`SELECT 'constraint ' || r.relname || ' ' || c.conname || ' ' || pg_get_constraintdef(c.oid)
			FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
			WHERE r.relnamespace = current_schema()::regnamespace ORDER BY 1`,
		`SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY 1`,
		`SELECT 'probe schemas ' || count(*) FROM pg_namespace WHERE nspname LIKE 'cedrina_adopt_probe_%'`,
	} {
		for _, s := range strings1(t, db, q) {
			b.WriteString(s + "\n")
		}
	}
	for _, rel := range strings1(t, db, `SELECT relkind::text || quote_ident(relname) FROM pg_class
		WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'S') ORDER BY 1`) {
		kind, name := rel[:1], rel[1:]
		fmt.Fprintf(&b, "rows of %s:\n", name)
		q := `SELECT x::text FROM ` + name + ` x ORDER BY 1`
		if kind == "S" {
			q = `SELECT (last_value, is_called)::text FROM ` + name
		}
		for _, s := range strings1(t, db, q) {
			b.WriteString("  " + s + "\n")
		}
	}
	return b.String()
}

// sameSnapshot fails the test when before and after differ, showing the
// first differing lines.
func sameSnapshot(t *testing.T, before, after string) {
	t.Helper()
	if before == after {
		return
	}
	b, a := strings.Split(before, "\n"), strings.Split(after, "\n")
	for i := range max(len(a), len(b)) {
		var x, y string
		if i < len(b) {
			x = b[i]
		}
		if i < len(a) {
			y = a[i]
		}
		if x != y {
			t.Fatalf("the schema changed; first difference at line %d:\nbefore: %s\nafter:  %s", i+1, x, y)
		}
	}
}

func hasVersionTable(t *testing.T, db *sql.DB) bool {
	t.Helper()
	var ok bool
	if err := db.QueryRowContext(t.Context(), `SELECT EXISTS (SELECT 1 FROM pg_class
		WHERE relnamespace = current_schema()::regnamespace AND relname = $1)`, schema.VersionTable).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

// extraIndexes are the original's indexes that migration 1 leaves out,
// and the unique constraint's index that serves each.
var extraIndexes = map[string]string{
	"users.idx_users_username":                                   "users_username_key",
	"users.idx_users_email":                                      "users_email_key",
	"oauth_profiles.idx_oauth_profiles_user_id":                  "oauth_profiles_user_id_provider_key",
	"oauth_profiles.idx_oauth_profiles_provider":                 "oauth_profiles_provider_provider_user_id_key",
	"sessions.idx_sessions_session_token":                        "sessions_session_token_key",
	"sessions.idx_sessions_refresh_token":                        "sessions_refresh_token_key",
	"password_reset_tokens.idx_password_reset_tokens_token_hash": "password_reset_tokens_token_hash_key",
	"rate_limit_records.idx_rate_limit_records_key_hash":         "rate_limit_records_key_hash_algorithm_window_start_key",
}

// TestAdoptOriginal adopts the original system's database and checks the
// report, the data and the record.
func TestAdoptOriginal(t *testing.T) {
	t.Parallel()
	_, db := legacytest.Open(t)
	ctx := t.Context()
	c := testCipher(t)

	userColumns := strings.Join(strings1(t, db, `SELECT column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'users' ORDER BY ordinal_position`), ", ")
	usersQuery := `SELECT (` + userColumns + `)::text FROM users ORDER BY id`
	usersBefore := strings1(t, db, usersQuery)
	alembicBefore := strings1(t, db, `SELECT a::text FROM alembic_version a`)

	var progress [][2]int64
	r, err := schema.Adopt(ctx, db, schema.AdoptConfig{
		Tokens:   tokens(t, c),
		Batch:    1,
		Progress: func(done, total int64) { progress = append(progress, [2]int64{done, total}) },
	})
	if err != nil {
		t.Fatalf("Adopt: %v", err)
	}
	text := reportText(t, r)
	t.Log("\n" + text)

	if r.State != schema.AdoptedNow {
		t.Errorf("State = %v, want adopted now", r.State)
	}
	if d := r.Differences(); len(d) != 0 {
		t.Errorf("Differences = %q, want none", d)
	}
	if len(r.Tables) != 7 {
		t.Errorf("%d tables checked, want 7", len(r.Tables))
	}
	extras := map[string]string{}
	for _, ix := range r.Indexes {
		switch ix.Status {
		case schema.IndexExtra:
			extras[ix.Table+"."+ix.Name] = ix.Note
		case schema.IndexPresent:
		default:
			t.Errorf("index %s.%s: %v (%s), want present or extra", ix.Table, ix.Name, ix.Status, ix.Note)
		}
	}
	if len(extras) != len(extraIndexes) {
		t.Errorf("extra indexes %v, want %d", extras, len(extraIndexes))
	}
	for name, server := range extraIndexes {
		want := "the original's; " + server + " serves the same lookups; you may drop it"
		if extras[name] != want {
			t.Errorf("extra index %s: note %q, want %q", name, extras[name], want)
		}
	}
	if r.AlembicHead != legacytest.AlembicHead || !r.Alembic {
		t.Errorf("Alembic = %v %q, want %q", r.Alembic, r.AlembicHead, legacytest.AlembicHead)
	}
	if r.SessionsEnded != legacytest.Sessions || r.ResetTokensRemoved != legacytest.ResetTokens ||
		r.TokensConverted != int64(len(legacytest.Profiles)) || r.Tokens != int64(len(legacytest.Profiles)) {
		t.Errorf("sessions ended %d, reset tokens removed %d, tokens converted %d of %d; want %d, %d, %d of %d",
			r.SessionsEnded, r.ResetTokensRemoved, r.TokensConverted, r.Tokens,
			legacytest.Sessions, legacytest.ResetTokens, len(legacytest.Profiles), len(legacytest.Profiles))
	}
	if r.From != 0 || r.To != schema.Latest() {
		t.Errorf("From, To = %d, %d; want 0, %d", r.From, r.To, schema.Latest())
	}
	if want := [][2]int64{{1, 2}, {2, 2}}; !slices.Equal(progress, want) {
		t.Errorf("progress = %v, want %v", progress, want)
	}
	if !slices.Equal(r.Other, []string{"alembic_version"}) {
		t.Errorf("Other = %v, want [alembic_version]", r.Other)
	}
	for _, line := range []string{
		"Adoption of schema t_",
		": adopted now, at ",
		"users                  OK\n",
		"Relations that later migrations create: none exists yet\n",
		"users.idx_users_username",
		"extra (the original's; users_username_key serves the same lookups; you may drop it): CREATE INDEX idx_users_username ON users USING btree (username)\n",
		"rate_limit_records.idx_rate_limit_records_algorithm",
		"present (00008_rate_limit_indexes.sql drops it)\n",
		"Other tables, left alone: alembic_version\n",
		"Alembic: alembic_version at revision " + legacytest.AlembicHead + "; the table is left alone\n",
		"Sessions ended: 3 (the original's; their users sign in again)\n",
		"Password reset tokens removed: 2 (",
		"OAuth tokens converted into the SDK's sealed format: 2 of 2\n",
		fmt.Sprintf("Migrations: version 1 recorded as applied (its tables exist); versions 2 to %d applied; now at version %[1]d of %[1]d\n", schema.Latest()),
	} {
		if !strings.Contains(text, line) {
			t.Errorf("report lacks %q", line)
		}
	}

	mustVersion(t, db, schema.Latest())
	if got := strings1(t, db, usersQuery); !slices.Equal(got, usersBefore) {
		t.Errorf("users changed:\n%q\nwant\n%q", got, usersBefore)
	}
	if got := strings1(t, db, `SELECT a::text FROM alembic_version a`); !slices.Equal(got, alembicBefore) {
		t.Errorf("alembic_version = %q, want %q", got, alembicBefore)
	}
	legacytest.CheckTokens(t, db, "k1", c.Open)
	var active, resets int
	if err := db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM sessions WHERE is_active IS NOT FALSE),
		(SELECT count(*) FROM password_reset_tokens)`).Scan(&active, &resets); err != nil {
		t.Fatal(err)
	}
	if active != 0 || resets != 0 {
		t.Errorf("%d sessions active, %d reset tokens left; want none", active, resets)
	}
	rec, err := schema.Adopted(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if rec == nil || *rec != *r.Adoption || rec.AlembicHead != legacytest.AlembicHead || rec.SessionsEnded != 3 ||
		rec.ResetTokensRemoved != 2 || rec.TokensConverted != 2 || rec.AdoptedAt.IsZero() {
		t.Errorf("Adopted = %+v, want the report's %+v", rec, r.Adoption)
	}

	// Without what the original has and migration 1 has not, the adopted
	// schema is the one Migrate creates.
	dropOriginalExtras(t, db)
	checkDesign(t, db)
}

// dropOriginalExtras drops what an adopted schema holds beyond Cedrina's
// schema, which Adopt leaves to the operator: the original's extra
// indexes and its alembic_version table.
func dropOriginalExtras(t *testing.T, db *sql.DB) {
	t.Helper()
	for name := range extraIndexes {
		_, ix, _ := strings.Cut(name, ".")
		if _, err := db.ExecContext(t.Context(), "DROP INDEX "+ix); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(t.Context(), "DROP TABLE alembic_version"); err != nil {
		t.Fatal(err)
	}
}

// fsRead returns the text of an embedded migration.
func fsRead(name string) (string, error) {
	b, err := fs.ReadFile(schema.Migrations(), name)
	return string(b), err
}

// TestAdoptTwice: a second Adopt reports the first and changes nothing.
func TestAdoptTwice(t *testing.T) {
	t.Parallel()
	_, db := legacytest.Open(t)
	ctx := t.Context()
	cfg := schema.AdoptConfig{Tokens: tokens(t, testCipher(t))}
	first, err := schema.Adopt(ctx, db, cfg)
	if err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, db)
	r, err := schema.Adopt(ctx, db, cfg)
	if err != nil {
		t.Fatalf("second Adopt: %v", err)
	}
	sameSnapshot(t, before, snapshot(t, db))
	if r.State != schema.AlreadyAdopted || *r.Adoption != *first.Adoption || r.From != schema.Latest() || r.To != schema.Latest() {
		t.Errorf("second Adopt: %v, %+v, %d..%d; want already adopted, %+v, at %d", r.State, r.Adoption, r.From, r.To,
			first.Adoption, schema.Latest())
	}
	if r.SessionsEnded != 0 || r.ResetTokensRemoved != 0 || r.TokensConverted != 0 || r.Tables != nil {
		t.Errorf("second Adopt did or inspected something: %+v", r)
	}
	text := reportText(t, r)
	for _, want := range []string{
		": already adopted at " + first.Adoption.AdoptedAt.UTC().Format("2006-01-02T15:04:05Z") + "; nothing to adopt\n",
		"At adoption: Alembic revision " + legacytest.AlembicHead + "; 3 sessions ended, 2 password reset tokens removed, 2 OAuth tokens converted\n",
		fmt.Sprintf("Migrations: none applied; at version %d of %[1]d\n", schema.Latest()),
	} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	// Without a key, too: nothing is left to convert.
	if _, err := schema.Adopt(ctx, db, schema.AdoptConfig{}); err != nil {
		t.Fatalf("third Adopt, without a key: %v", err)
	}
	sameSnapshot(t, before, snapshot(t, db))
}

// TestAdoptIncompatible changes the original's schema in one way before
// Adopt, which must refuse, name the difference, and change nothing.
func TestAdoptIncompatible(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		alter string
		want  []string // lines of the report
	}{
		{"column dropped", `ALTER TABLE users DROP COLUMN tier`,
			[]string{"users.tier: missing"}},
		{"type changed", `ALTER TABLE users ALTER COLUMN email TYPE VARCHAR(100)`,
			[]string{"users.email: type character varying(100), want character varying(254)"}},
		{"not null dropped", `ALTER TABLE sessions ALTER COLUMN expires_at DROP NOT NULL`,
			[]string{"sessions.expires_at: nullable, want NOT NULL"}},
		{"not null added", `ALTER TABLE users ALTER COLUMN is_active SET NOT NULL`,
			[]string{"users.is_active: NOT NULL, want nullable"}},
		{"default changed", `ALTER TABLE users ALTER COLUMN role SET DEFAULT 'GUEST'`,
			[]string{"users.role: default 'GUEST'::character varying, want 'USER'::character varying"}},
		{"default dropped", `ALTER TABLE users ALTER COLUMN is_active DROP DEFAULT`,
			[]string{"users.is_active: no default, want true"}},
		{"default added", `ALTER TABLE users ALTER COLUMN last_login_at SET DEFAULT now()`,
			[]string{"users.last_login_at: default now(), want none"}},
		{"constraint dropped", `ALTER TABLE users DROP CONSTRAINT users_email_key`,
			[]string{"users: constraint users_email_key: missing, want UNIQUE (email)"}},
		{"constraint renamed", `ALTER TABLE users RENAME CONSTRAINT users_email_key TO users_email_uq`,
			[]string{"users: constraint users_email_key: missing, want UNIQUE (email)",
				"users: constraint users_email_uq: not created by migration 1 (UNIQUE (email))"}},
		{"delete rule changed", `ALTER TABLE sessions DROP CONSTRAINT sessions_user_id_fkey;
			ALTER TABLE sessions ADD CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id)`,
			[]string{"sessions: constraint sessions_user_id_fkey: FOREIGN KEY (user_id) REFERENCES users(id), want FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE"}},
		{"check added", `ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role <> '')`,
			[]string{"users: constraint users_role_check: not created by migration 1 (CHECK (((role)::text <> ''::text)))"}},
		{"extra column", `ALTER TABLE users ADD COLUMN nickname TEXT`,
			[]string{"users.nickname: not created by migration 1"}},
		{"column of a later migration", `ALTER TABLE users ADD COLUMN security_stamp BIGINT NOT NULL DEFAULT 0`,
			[]string{"users.security_stamp: not created by migration 1 (00004_security_stamp.sql adds it)"}},
		{"missing table", `DROP TABLE casbin_rules`,
			[]string{"missing table casbin_rules"}},
		{"view instead of a table", `ALTER TABLE casbin_rules RENAME TO casbin_rules_old;
			CREATE VIEW casbin_rules AS SELECT * FROM casbin_rules_old`,
			[]string{"casbin_rules: a view, want a table", "Other tables, left alone: alembic_version, casbin_rules_old"}},
		{"identity instead of serial", `ALTER TABLE casbin_rules ALTER COLUMN id DROP DEFAULT;
			ALTER TABLE casbin_rules ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY`,
			[]string{"casbin_rules.id: default generated by default as identity, want nextval('casbin_rules_id_seq'::regclass)"}},
		{"table of a later migration", `CREATE TABLE audit_chain (id int)`,
			[]string{"audit_chain: already exists (a table; 00002_audit_chain.sql creates a table of that name)"}},
		{"index of a later migration", `CREATE INDEX idx_sessions_inactive ON sessions (id)`,
			[]string{"idx_sessions_inactive: already exists (an index; 00004_security_stamp.sql creates an index of that name)"}},
		{"type named as a later table", `CREATE TYPE oauth_spent_states AS ENUM ('x')`,
			[]string{"oauth_spent_states: already exists (a type; 00009_oauth_states.sql creates a table of that name)"}},
		{"adoption table", `CREATE TABLE cedrina_adoption (id int)`,
			[]string{"cedrina_adoption: already exists (a table; 00010_adoption.sql creates a table of that name)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, db := legacytest.Open(t)
			if _, err := db.ExecContext(t.Context(), tc.alter); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, db)
			r, err := schema.Adopt(t.Context(), db, schema.AdoptConfig{Tokens: tokens(t, testCipher(t))})
			if !errors.Is(err, schema.ErrIncompatible) {
				t.Fatalf("Adopt = %v, want ErrIncompatible", err)
			}
			if !strings.Contains(err.Error(), tc.want[0]) || !strings.HasSuffix(err.Error(), "; nothing changed") {
				t.Errorf("error %q does not name %q and say nothing changed", err, tc.want[0])
			}
			if r == nil {
				t.Fatal("no report")
			}
			text := reportText(t, r)
			for _, w := range tc.want {
				if !strings.Contains(text, w+"\n") {
					t.Errorf("report lacks the line %q:\n%s", w, text)
				}
			}
			if r.State != schema.AdoptRefused || !strings.Contains(text, ": refused, nothing changed: ") {
				t.Errorf("State = %v; report:\n%s", r.State, text)
			}
			sameSnapshot(t, before, snapshot(t, db))
			if hasVersionTable(t, db) {
				t.Error("refused, but created the version table")
			}
		})
	}
}

// TestAdoptEmpty: a schema without the original's tables is refused, with
// every table missing and the advice to migrate up instead.
func TestAdoptEmpty(t *testing.T) {
	t.Parallel()
	db := openEmpty(t)
	before := snapshot(t, db)
	r, err := schema.Adopt(t.Context(), db, schema.AdoptConfig{})
	if !errors.Is(err, schema.ErrIncompatible) {
		t.Fatalf("Adopt = %v, want ErrIncompatible", err)
	}
	for _, tc := range r.Tables {
		if len(tc.Differences) != 1 || tc.Differences[0] != "missing table "+tc.Name {
			t.Errorf("%s: %q, want missing", tc.Name, tc.Differences)
		}
	}
	if len(r.Tables) != 7 || r.Indexes != nil || r.Alembic {
		t.Errorf("report: %d tables, indexes %v, alembic %v", len(r.Tables), r.Indexes, r.Alembic)
	}
	text := reportText(t, r)
	for _, want := range []string{"run `cedrina migrate up` (schema.Migrate), not adopt", "Alembic: no alembic_version table\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	sameSnapshot(t, before, snapshot(t, db))
	if hasVersionTable(t, db) {
		t.Error("refused, but created the version table")
	}
}

// TestAdoptTokensNeedKey: tokens and no conversion refuses, changing
// nothing; so does a conversion that fails on the second token.
func TestAdoptTokensNeedKey(t *testing.T) {
	t.Parallel()
	_, db := legacytest.Open(t)
	ctx := t.Context()
	before := snapshot(t, db)

	r, err := schema.Adopt(ctx, db, schema.AdoptConfig{})
	if !errors.Is(err, schema.ErrTokensNeedKey) || errors.Is(err, schema.ErrIncompatible) {
		t.Fatalf("Adopt without Tokens = %v, want ErrTokensNeedKey", err)
	}
	if !strings.Contains(err.Error(), "2 tokens in 2 profiles; nothing changed") {
		t.Errorf("error %q does not say how many", err)
	}
	if text := reportText(t, r); !strings.Contains(text, "refused, nothing changed: 2 OAuth tokens, in 2 profiles, must be converted") ||
		!strings.Contains(text, "OAuth tokens to convert: 2, in 2 profiles\n") {
		t.Errorf("report:\n%s", text)
	}
	sameSnapshot(t, before, snapshot(t, db))

	convert := tokens(t, testCipher(t))
	calls := 0
	failing := func(userID int64, provider, stored string) (string, error) {
		calls++
		if calls == 2 {
			return "", errors.New("no key opens it")
		}
		return convert(userID, provider, stored)
	}
	r, err = schema.Adopt(ctx, db, schema.AdoptConfig{Tokens: failing, Batch: 1})
	if err == nil || !strings.Contains(err.Error(), "convert the access_token of oauth_profiles id 2 (MICROSOFT, user 3): no key opens it; nothing changed") {
		t.Fatalf("Adopt with a failing conversion = %v", err)
	}
	if r.State != schema.AdoptRefused || r.Refusal != err.Error() {
		t.Errorf("report: %v, %q", r.State, r.Refusal)
	}
	sameSnapshot(t, before, snapshot(t, db))
	if hasVersionTable(t, db) {
		t.Error("refused, but created the version table")
	}

	// A wrong key names the row and neither the token nor the key.
	wrong, err := legacy.ParseKeys(legacytest.OtherKey)
	if err != nil {
		t.Fatal(err)
	}
	_, err = schema.Adopt(ctx, db, schema.AdoptConfig{Tokens: oauth.LegacyTokens(wrong, testCipher(t))})
	if !errors.Is(err, legacy.ErrWrongKey) || !strings.Contains(err.Error(), "oauth_profiles id 1 (GOOGLE, user 2)") {
		t.Errorf("Adopt with a wrong key = %v", err)
	}
	for _, secret := range []string{legacytest.OtherKey, legacytest.Profiles[0].Stored, legacytest.Profiles[0].Token} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("the error shows a secret: %v", err)
		}
	}
	sameSnapshot(t, before, snapshot(t, db))
}

// TestAdoptNoTokens: without tokens to convert, no conversion is needed.
func TestAdoptNoTokens(t *testing.T) {
	t.Parallel()
	_, db := legacytest.Open(t)
	if _, err := db.ExecContext(t.Context(), `UPDATE oauth_profiles SET access_token = NULL`); err != nil {
		t.Fatal(err)
	}
	r, err := schema.Adopt(t.Context(), db, schema.AdoptConfig{})
	if err != nil || r.State != schema.AdoptedNow || r.Tokens != 0 || r.TokensConverted != 0 {
		t.Fatalf("Adopt = %+v, %v", r, err)
	}
}

// TestAdoptManaged: a schema Migrate created has nothing to adopt.
func TestAdoptManaged(t *testing.T) {
	t.Parallel()
	db := openEmpty(t)
	ctx := t.Context()
	if err := schema.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if rec, err := schema.Adopted(ctx, db); rec != nil || err != nil {
		t.Errorf("Adopted on a migrated schema = %+v, %v; want nil, nil", rec, err)
	}
	before := snapshot(t, db)
	r, err := schema.Adopt(ctx, db, schema.AdoptConfig{})
	if err != nil {
		t.Fatal(err)
	}
	sameSnapshot(t, before, snapshot(t, db))
	if r.State != schema.AlreadyManaged || r.From != schema.Latest() || r.Adoption != nil || r.Tables != nil {
		t.Errorf("report = %+v", r)
	}
	want := fmt.Sprintf("already managed by Cedrina at version %d (migrated by `migrate up`, not adopted); nothing to adopt\n", schema.Latest())
	if text := reportText(t, r); !strings.Contains(text, want) {
		t.Errorf("report lacks %q:\n%s", want, text)
	}

	// At an older version, too: adopt applies nothing (migrate up does).
	db = openEmpty(t)
	if err := schema.MigrateTo(ctx, db, 3); err != nil {
		t.Fatal(err)
	}
	if r, err := schema.Adopt(ctx, db, schema.AdoptConfig{}); err != nil || r.State != schema.AlreadyManaged || r.To != 3 {
		t.Errorf("Adopt at version 3 = %+v, %v", r, err)
	}
	mustVersion(t, db, 3)
}

// TestAdoptAfterStatus: a version table holding only version 0 (migrate
// status ran on the original's database) is no obstacle.
func TestAdoptAfterStatus(t *testing.T) {
	t.Parallel()
	_, db := legacytest.Open(t)
	mustVersion(t, db, 0) // creates the version table
	r, err := schema.Adopt(t.Context(), db, schema.AdoptConfig{Tokens: tokens(t, testCipher(t))})
	if err != nil || r.State != schema.AdoptedNow {
		t.Fatalf("Adopt = %v, %v", r, err)
	}
	mustVersion(t, db, schema.Latest())
	var zeros int
	if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM "+schema.VersionTable+" WHERE version_id = 0").Scan(&zeros); err != nil {
		t.Fatal(err)
	}
	if zeros != 1 {
		t.Errorf("version 0 recorded %d times, want once", zeros)
	}
}

// TestAdoptResume: when the adoption committed but the later migrations
// did not run (Adopt failed after its transaction, say the connection
// was lost), the next Adopt applies them and changes nothing else. The
// state is made by hand: a full adoption, rolled back to version 1, with
// the record put back as the adoption's transaction leaves it.
func TestAdoptResume(t *testing.T) {
	t.Parallel()
	_, db := legacytest.Open(t)
	ctx := t.Context()
	first, err := schema.Adopt(ctx, db, schema.AdoptConfig{Tokens: tokens(t, testCipher(t))})
	if err != nil {
		t.Fatal(err)
	}
	for v := schema.Latest(); v > 1; v-- {
		if err := schema.Down(ctx, db); err != nil {
			t.Fatal(err)
		}
	}
	mustVersion(t, db, 1)
	if rec, err := schema.Adopted(ctx, db); rec != nil || err != nil {
		t.Fatalf("Adopted after rolling back migration 10 = %+v, %v; want nil, nil", rec, err)
	}
	table, err := schema.AdoptionTableSQL()
	if err != nil {
		t.Fatal(err)
	}
	a := first.Adoption
	if _, err := db.ExecContext(ctx, table); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO cedrina_adoption VALUES (1, $1, $2, $3, $4, $5)`,
		a.AdoptedAt, a.AlembicHead, a.SessionsEnded, a.ResetTokensRemoved, a.TokensConverted); err != nil {
		t.Fatal(err)
	}
	tokensBefore := strings1(t, db, `SELECT access_token FROM oauth_profiles ORDER BY id`)

	r, err := schema.Adopt(ctx, db, schema.AdoptConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if r.State != schema.AlreadyAdopted || r.From != 1 || r.To != schema.Latest() || *r.Adoption != *a {
		t.Errorf("resumed Adopt = %v, %d..%d, %+v", r.State, r.From, r.To, r.Adoption)
	}
	if text := reportText(t, r); !strings.Contains(text, fmt.Sprintf("Migrations: versions 2 to %d applied; now at version %[1]d of %[1]d\n", schema.Latest())) {
		t.Errorf("report:\n%s", text)
	}
	mustVersion(t, db, schema.Latest())
	if got := strings1(t, db, `SELECT access_token FROM oauth_profiles ORDER BY id`); !slices.Equal(got, tokensBefore) {
		t.Error("the resumed Adopt changed the tokens")
	}
	if rec, err := schema.Adopted(ctx, db); err != nil || rec == nil || *rec != *a {
		t.Errorf("Adopted = %+v, %v; want %+v", rec, err, a)
	}
}

// TestAdoptConcurrent: five adopters at once; one adopts, four find it
// adopted.
func TestAdoptConcurrent(t *testing.T) {
	t.Parallel()
	url, _ := legacytest.Open(t)
	c := testCipher(t)
	convert := tokens(t, c)
	var mu sync.Mutex
	calls := 0
	counting := func(userID int64, provider, stored string) (string, error) {
		mu.Lock()
		calls++
		mu.Unlock()
		return convert(userID, provider, stored)
	}
	const n = 5
	reports := make([]*schema.AdoptReport, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		db, err := sql.Open("postgres", url)
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(3)
		t.Cleanup(func() { db.Close() })
		wg.Go(func() {
			<-start
			reports[i], errs[i] = schema.Adopt(t.Context(), db, schema.AdoptConfig{Tokens: counting})
		})
	}
	close(start)
	wg.Wait()
	states := map[schema.AdoptState]int{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("adopter %d: %v", i, errs[i])
		}
		states[reports[i].State]++
	}
	if states[schema.AdoptedNow] != 1 || states[schema.AlreadyAdopted] != n-1 {
		t.Errorf("states = %v, want 1 adopted now and %d already adopted", states, n-1)
	}
	if calls != len(legacytest.Profiles) {
		t.Errorf("%d conversions, want %d", calls, len(legacytest.Profiles))
	}
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustVersion(t, db, schema.Latest())
	legacytest.CheckTokens(t, db, "k1", c.Open)
}

// TestAdoptPgx adopts through pgx's database/sql driver.
func TestAdoptPgx(t *testing.T) {
	t.Parallel()
	db := pgtest.OpenPgx(t, pgtest.URL(t))
	legacytest.Create(t, db)
	r, err := schema.Adopt(t.Context(), db, schema.AdoptConfig{Tokens: tokens(t, testCipher(t))})
	if err != nil || r.State != schema.AdoptedNow || r.TokensConverted != 2 || len(r.Differences()) != 0 {
		t.Fatalf("Adopt = %+v, %v", r, err)
	}
	mustVersion(t, db, schema.Latest())
}

// TestAdoptionTable: the cedrina_adoption that Adopt creates, before the
// later migrations run, is the one migration 10 creates, to the catalog.
func TestAdoptionTable(t *testing.T) {
	t.Parallel()
	text, err := schema.AdoptionTableSQL()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "CREATE TABLE IF NOT EXISTS cedrina_adoption (") {
		t.Errorf("Adopt's statement is not migration 10's:\n%s", text)
	}
	_, adopted := legacytest.Open(t)
	if _, err := schema.Adopt(t.Context(), adopted, schema.AdoptConfig{Tokens: tokens(t, testCipher(t))}); err != nil {
		t.Fatal(err)
	}
	migrated := pgtest.DB(t).DB
	shape := func(db *sql.DB) []string {
		return strings1(t, db, `
			SELECT 'column ' || attname || ' ' || format_type(atttypid, atttypmod) || ' ' || attnotnull || ' ' ||
			       coalesce(pg_get_expr(d.adbin, d.adrelid), '-')
			FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
			WHERE attrelid = 'cedrina_adoption'::regclass AND attnum > 0 AND NOT attisdropped
			UNION ALL
			SELECT 'constraint ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
			WHERE conrelid = 'cedrina_adoption'::regclass
			UNION ALL
			SELECT 'index ' || indexrelid::regclass::text FROM pg_index WHERE indrelid = 'cedrina_adoption'::regclass
			ORDER BY 1`)
	}
	a, m := shape(adopted), shape(migrated)
	if !slices.Equal(a, m) || len(a) != 9 {
		t.Errorf("cedrina_adoption, adopted:\n%s\nmigrated:\n%s", strings.Join(a, "\n"), strings.Join(m, "\n"))
	}
}

func TestAdoptOneConnection(t *testing.T) {
	db, err := sql.Open("postgres", "postgres://nobody@127.0.0.1:1/none?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := schema.Adopt(context.Background(), db, schema.AdoptConfig{}); err == nil || !strings.Contains(err.Error(), "Adopt needs two") {
		t.Errorf("Adopt on a one-connection pool = %v", err)
	}
	if _, err := schema.Adopt(context.Background(), nil, schema.AdoptConfig{}); err == nil {
		t.Error("Adopt(nil) succeeded")
	}
}

// TestOriginalIndexes: the indexes Adopt calls the original's are the
// CREATE INDEX statements of the original's DDL that migration 1 does not
// have.
func TestOriginalIndexes(t *testing.T) {
	first, err := fsRead("00001_initial.sql")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^CREATE INDEX (\w+) ON`)
	inFirst := map[string]bool{}
	for _, m := range re.FindAllStringSubmatch(first, -1) {
		inFirst[m[1]] = true
	}
	want := map[string]bool{}
	for _, m := range re.FindAllStringSubmatch(legacytest.DDL, -1) {
		if !inFirst[m[1]] {
			want[m[1]] = true
		}
	}
	if len(want) != 8 || len(want) != len(schema.OriginalIndexes) {
		t.Fatalf("the original's extra indexes: %v; Adopt knows %v", want, schema.OriginalIndexes)
	}
	for name := range want {
		if !schema.OriginalIndexes[name] {
			t.Errorf("%s: not among OriginalIndexes", name)
		}
	}
}

func TestUnqualifyIndexDef(t *testing.T) {
	for _, tc := range []struct{ def, qname, qschema, want string }{
		{"CREATE INDEX idx_users_role ON t_1.users USING btree (role)", "idx_users_role", "t_1",
			"CREATE INDEX idx_users_role ON users USING btree (role)"},
		{"CREATE UNIQUE INDEX users_pkey ON public.users USING btree (id)", "users_pkey", "public",
			"CREATE UNIQUE INDEX users_pkey ON users USING btree (id)"},
		{"CREATE INDEX p_idx ON ONLY s.parted USING btree (a)", "p_idx", "s",
			"CREATE INDEX p_idx ON ONLY parted USING btree (a)"},
		{`CREATE INDEX ix ON "My Schema"."Users" USING btree (a)`, "ix", `"My Schema"`,
			`CREATE INDEX ix ON "Users" USING btree (a)`},
		{`CREATE INDEX "ix ON s.x" ON s.users USING btree (a)`, `"ix ON s.x"`, "s",
			`CREATE INDEX "ix ON s.x" ON users USING btree (a)`},
		// The schema name inside the key list stays.
		{"CREATE INDEX ix ON s.users USING btree (s.f(a))", "ix", "s",
			"CREATE INDEX ix ON users USING btree (s.f(a))"},
		// Another schema, or another shape, stays as it is.
		{"CREATE INDEX ix ON other.users USING btree (a)", "ix", "s",
			"CREATE INDEX ix ON other.users USING btree (a)"},
		{"something else", "ix", "s", "something else"},
	} {
		if got := schema.UnqualifyIndexDef(tc.def, tc.qname, tc.qschema); got != tc.want {
			t.Errorf("UnqualifyIndexDef(%q, %q, %q) = %q, want %q", tc.def, tc.qname, tc.qschema, got, tc.want)
		}
	}
}

func TestIndexKeys(t *testing.T) {
	for _, tc := range []struct {
		def     string
		method  string
		keys    []string
		partial bool
		ok      bool
	}{
		{"CREATE INDEX i ON t USING btree (a)", "btree", []string{"a"}, false, true},
		{"CREATE UNIQUE INDEX i ON t USING btree (a, b, c)", "btree", []string{"a", "b", "c"}, false, true},
		{"CREATE INDEX i ON t USING btree (user_id, created_at DESC, id DESC)", "btree", []string{"user_id", "created_at DESC", "id DESC"}, false, true},
		{"CREATE INDEX i ON t USING btree (id) WHERE (is_active IS NOT TRUE)", "btree", []string{"id"}, true, true},
		{"CREATE INDEX i ON t USING btree (lower((a)::text), b) INCLUDE (c)", "btree", []string{"lower((a)::text)", "b"}, false, true},
		{`CREATE INDEX i ON t USING btree ("a,)b", c)`, "btree", []string{`"a,)b"`, "c"}, false, true},
		{"CREATE INDEX i ON t USING gin (tags)", "gin", []string{"tags"}, false, true},
		{"CREATE INDEX i ON t USING btree (a", "", nil, false, false},
		{"CREATE INDEX i ON t", "", nil, false, false},
	} {
		method, keys, partial, ok := schema.IndexKeys(tc.def)
		if method != tc.method || !slices.Equal(keys, tc.keys) || partial != tc.partial || ok != tc.ok {
			t.Errorf("IndexKeys(%q) = %q, %q, %v, %v; want %q, %q, %v, %v",
				tc.def, method, keys, partial, ok, tc.method, tc.keys, tc.partial, tc.ok)
		}
	}
	for _, tc := range []struct {
		server, def string
		want        bool
	}{
		{"CREATE UNIQUE INDEX k ON t USING btree (a)", "CREATE INDEX i ON t USING btree (a)", true},
		{"CREATE UNIQUE INDEX k ON t USING btree (a, b)", "CREATE INDEX i ON t USING btree (a)", true},
		{"CREATE UNIQUE INDEX k ON t USING btree (a, b)", "CREATE INDEX i ON t USING btree (b)", false},
		{"CREATE UNIQUE INDEX k ON t USING btree (a)", "CREATE INDEX i ON t USING btree (a, b)", false},
		{"CREATE UNIQUE INDEX k ON t USING btree (a)", "CREATE INDEX i ON t USING hash (a)", false},
		{"CREATE UNIQUE INDEX k ON t USING btree (a) WHERE (b)", "CREATE INDEX i ON t USING btree (a)", false},
		{"CREATE UNIQUE INDEX k ON t USING btree (a DESC)", "CREATE INDEX i ON t USING btree (a)", false},
	} {
		if got := schema.Serves(tc.server, tc.def); got != tc.want {
			t.Errorf("Serves(%q, %q) = %v, want %v", tc.server, tc.def, got, tc.want)
		}
	}
}

// TestMigrateNotAdopted: migrating the original system's database without
// adopting it fails, says to adopt it, and leaves its tables as they were.
func TestMigrateNotAdopted(t *testing.T) {
	t.Parallel()
	db := pgtest.OpenPgx(t, pgtest.URL(t))
	legacytest.Create(t, db)
	err := schema.Migrate(t.Context(), db)
	if !errors.Is(err, schema.ErrNotAdopted) || !strings.Contains(err.Error(), "cedrina migrate adopt") {
		t.Fatalf("Migrate = %v; want ErrNotAdopted", err)
	}
	if err := schema.MigrateTo(t.Context(), db, 3); !errors.Is(err, schema.ErrNotAdopted) {
		t.Fatalf("MigrateTo = %v; want ErrNotAdopted", err)
	}
	var users int
	if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM users").Scan(&users); err != nil || users != len(legacytest.Users) {
		t.Fatalf("users: %d, %v", users, err)
	}
	// Adopt still takes it over (goose left only its version 0 behind).
	if _, err := schema.Adopt(t.Context(), db, schema.AdoptConfig{Tokens: func(_ int64, _, s string) (string, error) { return "v1:k:" + s, nil }}); err != nil {
		t.Fatal(err)
	}
	if err := schema.Migrate(t.Context(), db); err != nil {
		t.Fatalf("Migrate after Adopt: %v", err)
	}
}
