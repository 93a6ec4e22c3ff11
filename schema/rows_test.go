package schema_test

import (
	"database/sql"
	"errors"
	"testing"

	"github.com/lib/pq"

	"github.com/cedrina/cedrina/internal/pgtest"
)

// TestOriginalRowsInsert inserts rows the way the original system wrote
// them, naming only the columns without a default, and checks the
// defaults PostgreSQL fills in.
func TestOriginalRowsInsert(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	ctx := t.Context()

	var (
		userID                                int64
		isActive, isVerified                  bool
		role, tier, preferences, metadata     string
		failed                                int
		createdAt, updatedAt, pwChanged       sql.NullTime
		lastLogin, lockedUntil, emailVerified sql.NullTime
		profileData                           sql.NullString
	)
	err := db.QueryRowContext(ctx, `
		INSERT INTO users (username, email, hashed_password)
		VALUES ('alice', 'alice@example.com', '$2b$12$abcdefghijklmnopqrstuv')
		RETURNING id, is_active, is_verified, role, tier, preferences::text, metadata::text,
		          failed_login_attempts, created_at, updated_at, password_changed_at,
		          last_login_at, locked_until, email_verified_at, profile_data::text`).
		Scan(&userID, &isActive, &isVerified, &role, &tier, &preferences, &metadata,
			&failed, &createdAt, &updatedAt, &pwChanged,
			&lastLogin, &lockedUntil, &emailVerified, &profileData)
	if err != nil {
		t.Fatalf("insert user: %v", err)
	}
	if userID != 1 || !isActive || isVerified || role != "USER" || tier != "FREE" ||
		preferences != "{}" || metadata != "{}" || failed != 0 {
		t.Errorf("user defaults: id=%d is_active=%v is_verified=%v role=%q tier=%q preferences=%s metadata=%s failed_login_attempts=%d",
			userID, isActive, isVerified, role, tier, preferences, metadata, failed)
	}
	if !createdAt.Valid || !updatedAt.Valid || !pwChanged.Valid {
		t.Error("users: created_at, updated_at, password_changed_at must default to now()")
	}
	if lastLogin.Valid || lockedUntil.Valid || emailVerified.Valid || profileData.Valid {
		t.Error("users: last_login_at, locked_until, email_verified_at, profile_data must default to NULL")
	}

	var sActive bool
	var sCtx string
	var sCreated, sActivity sql.NullTime
	err = db.QueryRowContext(ctx, `
		INSERT INTO sessions (user_id, session_token, refresh_token, expires_at, client_ip)
		VALUES ($1, 'sess-hash', 'refresh-hash', now() + interval '1 hour', '192.0.2.1')
		RETURNING is_active, security_context::text, created_at, last_activity_at`, userID).
		Scan(&sActive, &sCtx, &sCreated, &sActivity)
	if err != nil {
		t.Fatalf("insert session: %v", err)
	}
	if !sActive || sCtx != "{}" || !sCreated.Valid || !sActivity.Valid {
		t.Errorf("session defaults: is_active=%v security_context=%s created_at=%v last_activity_at=%v",
			sActive, sCtx, sCreated, sActivity)
	}

	var used bool
	var rCtx string
	var usedAt sql.NullTime
	err = db.QueryRowContext(ctx, `
		INSERT INTO password_reset_tokens (user_id, token_hash, expires_at)
		VALUES ($1, 'reset-hash', now() + interval '15 minutes')
		RETURNING is_used, security_context::text, used_at`, userID).Scan(&used, &rCtx, &usedAt)
	if err != nil {
		t.Fatalf("insert reset token: %v", err)
	}
	if used || rCtx != "{}" || usedAt.Valid {
		t.Errorf("reset token defaults: is_used=%v security_context=%s used_at=%v", used, rCtx, usedAt)
	}

	var oCreated sql.NullTime
	err = db.QueryRowContext(ctx, `
		INSERT INTO oauth_profiles (user_id, provider, provider_user_id)
		VALUES ($1, 'google', '1234567890')
		RETURNING created_at`, userID).Scan(&oCreated)
	if err != nil {
		t.Fatalf("insert oauth profile: %v", err)
	}
	if !oCreated.Valid {
		t.Error("oauth_profiles.created_at must default to now()")
	}

	var severity, aMeta string
	err = db.QueryRowContext(ctx, `
		INSERT INTO audit_logs (user_id, event_type, event_data)
		VALUES ($1, 'user.login', '{"ok": true}')
		RETURNING severity, metadata::text`, userID).Scan(&severity, &aMeta)
	if err != nil {
		t.Fatalf("insert audit log: %v", err)
	}
	if severity != "INFO" || aMeta != "{}" {
		t.Errorf("audit defaults: severity=%q metadata=%s", severity, aMeta)
	}
	// The trail also records events without a user.
	if _, err := db.ExecContext(ctx, `
		INSERT INTO audit_logs (event_type, event_data) VALUES ('login.failed', '{}')`); err != nil {
		t.Fatalf("insert anonymous audit log: %v", err)
	}

	var ruleActive bool
	err = db.QueryRowContext(ctx, `
		INSERT INTO casbin_rules (ptype, v0, v1, v2) VALUES ('p', 'admin', '/users', 'GET')
		RETURNING is_active`).Scan(&ruleActive)
	if err != nil {
		t.Fatalf("insert casbin rule: %v", err)
	}
	if !ruleActive {
		t.Error("casbin_rules.is_active must default to true")
	}

	var count int
	var rlMeta string
	var hits sql.NullString
	var level sql.NullInt64
	err = db.QueryRowContext(ctx, `
		INSERT INTO rate_limit_records (key_hash, algorithm, window_start, window_end, limit_value)
		VALUES ('k', 'fixed_window', date_trunc('minute', now()), date_trunc('minute', now()) + interval '1 minute', 10)
		RETURNING request_count, metadata::text, hits::text, level`).Scan(&count, &rlMeta, &hits, &level)
	if err != nil {
		t.Fatalf("insert rate limit record: %v", err)
	}
	if count != 1 || rlMeta != "{}" || hits.Valid || level.Valid {
		t.Errorf("rate limit defaults: request_count=%d metadata=%s hits=%v level=%v, want 1, {}, NULL, NULL",
			count, rlMeta, hits, level)
	}
}

// TestDeleteUser checks the delete rules: the user's sessions, OAuth links,
// reset tokens and email verification tokens go with it, its audit events
// stay with user_id NULL.
func TestDeleteUser(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	ctx := t.Context()

	var keep, gone int64
	for _, u := range []struct {
		name string
		id   *int64
	}{{"gone", &gone}, {"keep", &keep}} {
		if err := db.QueryRowContext(ctx, `
			INSERT INTO users (username, email, hashed_password) VALUES ($1::text, $1::text || '@example.com', 'h')
			RETURNING id`, u.name).Scan(u.id); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			`INSERT INTO sessions (user_id, session_token, refresh_token, expires_at)
			 VALUES ($1::int, 's-' || $1::int, 'r-' || $1::int, now())`,
			`INSERT INTO oauth_profiles (user_id, provider, provider_user_id) VALUES ($1::int, 'github', 'gh-' || $1::int)`,
			`INSERT INTO password_reset_tokens (user_id, token_hash, expires_at) VALUES ($1::int, 't-' || $1::int, now())`,
			`INSERT INTO email_verification_tokens (user_id, email, token_hash, expires_at)
			 VALUES ($1::int, 'v@example.com', 'v-' || $1::int, now())`,
			`INSERT INTO audit_logs (user_id, event_type, event_data) VALUES ($1, 'user.created', '{}')`,
		} {
			if _, err := db.ExecContext(ctx, q, *u.id); err != nil {
				t.Fatalf("%v\n%s", err, q)
			}
		}
	}

	if _, err := db.ExecContext(ctx, "DELETE FROM users WHERE id = $1", gone); err != nil {
		t.Fatalf("delete user: %v", err)
	}
	for _, tc := range []struct {
		what  string
		q     string
		want  int
		owner int64
	}{
		{"sessions of the deleted user", "SELECT count(*) FROM sessions WHERE user_id = $1", 0, gone},
		{"oauth_profiles of the deleted user", "SELECT count(*) FROM oauth_profiles WHERE user_id = $1", 0, gone},
		{"password_reset_tokens of the deleted user", "SELECT count(*) FROM password_reset_tokens WHERE user_id = $1", 0, gone},
		{"email_verification_tokens of the deleted user", "SELECT count(*) FROM email_verification_tokens WHERE user_id = $1", 0, gone},
		{"audit_logs of the deleted user", "SELECT count(*) FROM audit_logs WHERE user_id = $1", 0, gone},
		{"audit_logs kept with user_id NULL", "SELECT count(*) FROM audit_logs WHERE user_id IS NULL AND $1::int > 0", 1, gone},
		{"sessions of the other user", "SELECT count(*) FROM sessions WHERE user_id = $1", 1, keep},
		{"oauth_profiles of the other user", "SELECT count(*) FROM oauth_profiles WHERE user_id = $1", 1, keep},
		{"password_reset_tokens of the other user", "SELECT count(*) FROM password_reset_tokens WHERE user_id = $1", 1, keep},
		{"email_verification_tokens of the other user", "SELECT count(*) FROM email_verification_tokens WHERE user_id = $1", 1, keep},
		{"audit_logs of the other user", "SELECT count(*) FROM audit_logs WHERE user_id = $1", 1, keep},
	} {
		var got int
		if err := db.QueryRowContext(ctx, tc.q, tc.owner).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("%s: %d rows, want %d", tc.what, got, tc.want)
		}
	}
}

// TestConstraintNames checks that violations carry the constraint names
// the stores map to domain errors.
func TestConstraintNames(t *testing.T) {
	t.Parallel()
	db := pgtest.DB(t)
	ctx := t.Context()

	setup := []string{
		// A fresh schema numbers these users 1 and 2.
		`INSERT INTO users (username, email, hashed_password) VALUES ('a', 'a@example.com', 'h'), ('b', 'b@example.com', 'h')`,
		`INSERT INTO sessions (user_id, session_token, refresh_token, expires_at) VALUES (1, 's', 'r', now())`,
		`INSERT INTO password_reset_tokens (user_id, token_hash, expires_at) VALUES (1, 't', now())`,
		`INSERT INTO email_verification_tokens (user_id, email, token_hash, expires_at) VALUES (1, 'a@example.com', 'v', now())`,
		`INSERT INTO oauth_profiles (user_id, provider, provider_user_id) VALUES (1, 'google', 'g1')`,
		`INSERT INTO oauth_spent_states (state_hash, expires_at) VALUES (repeat('a', 64), now())`,
		`INSERT INTO rate_limit_records (key_hash, algorithm, window_start, window_end, limit_value)
		 VALUES ('k', 'fixed', '2024-01-01T00:00:00Z', '2024-01-01T00:01:00Z', 5)`,
	}
	for _, q := range setup {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
	}
	for _, tc := range []struct {
		constraint, code, q string
	}{
		{"users_username_key", "23505", `INSERT INTO users (username, email, hashed_password) VALUES ('a', 'other@example.com', 'h')`},
		{"users_email_key", "23505", `INSERT INTO users (username, email, hashed_password) VALUES ('other', 'a@example.com', 'h')`},
		{"sessions_session_token_key", "23505", `INSERT INTO sessions (user_id, session_token, refresh_token, expires_at) VALUES (1, 's', 'r2', now())`},
		{"sessions_refresh_token_key", "23505", `INSERT INTO sessions (user_id, session_token, refresh_token, expires_at) VALUES (1, 's2', 'r', now())`},
		{"password_reset_tokens_token_hash_key", "23505", `INSERT INTO password_reset_tokens (user_id, token_hash, expires_at) VALUES (2, 't', now())`},
		{"email_verification_tokens_token_hash_key", "23505", `INSERT INTO email_verification_tokens (user_id, email, token_hash, expires_at) VALUES (2, 'b@example.com', 'v', now())`},
		{"oauth_profiles_provider_provider_user_id_key", "23505", `INSERT INTO oauth_profiles (user_id, provider, provider_user_id) VALUES (2, 'google', 'g1')`},
		{"oauth_profiles_user_id_provider_key", "23505", `INSERT INTO oauth_profiles (user_id, provider, provider_user_id) VALUES (1, 'google', 'g2')`},
		{"oauth_spent_states_pkey", "23505", `INSERT INTO oauth_spent_states (state_hash, expires_at) VALUES (repeat('a', 64), now())`},
		{"rate_limit_records_key_hash_algorithm_window_start_key", "23505", `INSERT INTO rate_limit_records (key_hash, algorithm, window_start, window_end, limit_value)
		  VALUES ('k', 'fixed', '2024-01-01T00:00:00Z', '2024-01-01T00:02:00Z', 9)`},
		{"sessions_user_id_fkey", "23503", `INSERT INTO sessions (user_id, session_token, refresh_token, expires_at) VALUES (99, 's9', 'r9', now())`},
		{"oauth_profiles_user_id_fkey", "23503", `INSERT INTO oauth_profiles (user_id, provider, provider_user_id) VALUES (99, 'github', 'x')`},
		{"password_reset_tokens_user_id_fkey", "23503", `INSERT INTO password_reset_tokens (user_id, token_hash, expires_at) VALUES (99, 't9', now())`},
		{"email_verification_tokens_user_id_fkey", "23503", `INSERT INTO email_verification_tokens (user_id, email, token_hash, expires_at) VALUES (99, 'x@example.com', 'v9', now())`},
		{"audit_logs_user_id_fkey", "23503", `INSERT INTO audit_logs (user_id, event_type, event_data) VALUES (99, 'x', '{}')`},
	} {
		_, err := db.ExecContext(ctx, tc.q)
		var pqErr *pq.Error
		if !errors.As(err, &pqErr) {
			t.Errorf("%s: error = %v, want a *pq.Error", tc.constraint, err)
			continue
		}
		if string(pqErr.Code) != tc.code || pqErr.Constraint != tc.constraint {
			t.Errorf("%s: got code %s constraint %q, want code %s", tc.constraint, pqErr.Code, pqErr.Constraint, tc.code)
		}
	}
}
