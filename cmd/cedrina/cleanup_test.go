package main

import (
	"context"
	"database/sql"
	"testing"

	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/schema"
)

// seedCleanup inserts, for one new user whose names start with prefix:
//
//   - 10 sessions: 5 expired, 3 idle for two days, 2 live;
//   - 7 password reset tokens: 3 expired, 2 spent, 2 live;
//   - 5 email verification tokens: 2 expired, 2 spent, 1 live;
//   - 5 rate limit records: 2 fixed windows that ended 2 minutes and 90
//     seconds ago, a token bucket full again 5 minutes ago, a fixed
//     window that ended 30 seconds ago (within the minute of grace) and a
//     live sliding window;
//   - 4 spent OAuth flow states: 2 that expired an hour and 2 minutes ago,
//     one that expired 30 seconds ago (within the minute of grace) and a
//     live one.
//
// cleanup deletes 8 sessions, 5 reset tokens, 4 verification tokens, 3
// rate limit records and 2 OAuth flow states of them.
func seedCleanup(t *testing.T, db *sql.DB, prefix string) {
	t.Helper()
	ctx := context.Background()
	var uid int64
	if err := db.QueryRowContext(ctx, `INSERT INTO users (username, email, hashed_password) VALUES ($1::text, $1::text || '@example.com', 'x') RETURNING id`,
		prefix).Scan(&uid); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`
INSERT INTO sessions (user_id, session_token, refresh_token, expires_at, last_activity_at)
SELECT $1, $2::text || 's' || g, $2::text || 'r' || g,
	CASE WHEN g <= 5 THEN now() - interval '1 hour' ELSE now() + interval '1 day' END,
	CASE WHEN g BETWEEN 6 AND 8 THEN now() - interval '2 days' ELSE now() END
FROM generate_series(1, 10) AS g`, `
INSERT INTO password_reset_tokens (user_id, token_hash, is_used, used_at, expires_at)
SELECT $1, $2::text || 'p' || g, g BETWEEN 4 AND 5,
	CASE WHEN g BETWEEN 4 AND 5 THEN now() END,
	CASE WHEN g <= 3 THEN now() - interval '1 hour' ELSE now() + interval '1 hour' END
FROM generate_series(1, 7) AS g`, `
INSERT INTO email_verification_tokens (user_id, email, token_hash, used_at, expires_at)
SELECT $1, $2::text || '@example.com', $2::text || 'v' || g,
	CASE WHEN g BETWEEN 3 AND 4 THEN now() END,
	CASE WHEN g <= 2 THEN now() - interval '1 hour' ELSE now() + interval '1 day' END
FROM generate_series(1, 5) AS g`, `
INSERT INTO rate_limit_records (key_hash, algorithm, window_start, window_end, request_count, limit_value, level, hits)
SELECT $2::text || 'l' || g, CASE g WHEN 3 THEN 'token_bucket' WHEN 5 THEN 'sliding_window' ELSE 'fixed_window' END,
	CASE WHEN g IN (3, 5) THEN timestamptz 'epoch' ELSE now() - interval '1 hour' END,
	now() + CASE g WHEN 1 THEN interval '-2 minutes' WHEN 2 THEN interval '-90 seconds' WHEN 3 THEN interval '-5 minutes'
		WHEN 4 THEN interval '-30 seconds' ELSE interval '1 minute' END,
	1, 10, CASE g WHEN 3 THEN 0 END, CASE g WHEN 5 THEN ARRAY[1]::bigint[] END
FROM generate_series(1, 5) AS g WHERE $1::int > 0`, `
INSERT INTO oauth_spent_states (state_hash, expires_at)
SELECT repeat(md5($2::text || 'o' || g), 2),
	now() + CASE g WHEN 1 THEN interval '-1 hour' WHEN 2 THEN interval '-2 minutes' WHEN 3 THEN interval '-30 seconds'
		ELSE interval '10 minutes' END
FROM generate_series(1, 4) AS g WHERE $1::int > 0`,
	} {
		if _, err := db.ExecContext(ctx, q, uid, prefix); err != nil {
			t.Fatal(err)
		}
	}
}

// expectRows checks how many rows each cleaned table holds.
func expectRows(t *testing.T, db *sql.DB, sessions, resets, verifications, rateLimits, states int) {
	t.Helper()
	for _, c := range []struct {
		table string
		want  int
	}{{"sessions", sessions}, {"password_reset_tokens", resets}, {"email_verification_tokens", verifications},
		{"rate_limit_records", rateLimits}, {"oauth_spent_states", states}} {
		var got int
		if err := db.QueryRowContext(context.Background(), `SELECT count(*) FROM `+c.table).Scan(&got); err != nil || got != c.want {
			t.Errorf("%d rows left in %s (%v), want %d", got, c.table, err, c.want)
		}
	}
}

// TestCleanup: cleanup deletes the dead rows of sessions, password reset
// tokens, email verification tokens, rate limit records and spent OAuth
// flow states, a batch of --batch rows at a time, printing one line per
// table, and keeps the live ones.
func TestCleanup(t *testing.T) {
	t.Parallel()
	cli(t, nil, "cleanup", "--batch", "0").expect(t, exitUsage, `^$`, `must be positive`)
	cli(t, nil, "cleanup", "extra").expect(t, exitUsage, `^$`, `unexpected argument`)
	cli(t, nil, "help", "cleanup").expect(t, exitOK, `(?s)cedrina cleanup.*password reset tokens.*email verification tokens.*rate limit records.*oauth flow states`, "")

	url := pgtest.URL(t)
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := schema.Migrate(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	seedCleanup(t, db, "u")
	env := map[string]string{"DATABASE_URL": url}
	const line = ` in \d+(\.\d+)?[mµn]?s\n`
	cli(t, env, "cleanup", "--batch", "2").expect(t, exitOK,
		`^deleted 8 sessions`+line+`deleted 5 password reset tokens`+line+`deleted 4 email verification tokens`+line+
			`deleted 3 rate limit records`+line+`deleted 2 oauth flow states`+line+`$`, "")
	expectRows(t, db, 2, 2, 1, 2, 2)
	cli(t, env, "cleanup", "--batch", "3").expect(t, exitOK,
		`^deleted 0 sessions`+line+`deleted 0 password reset tokens`+line+`deleted 0 email verification tokens`+line+
			`deleted 0 rate limit records`+line+`deleted 0 oauth flow states`+line+`$`, "")
	expectRows(t, db, 2, 2, 1, 2, 2)
}

// TestCleanupFailure: when a table fails, cleanup stops there, exits 1,
// and says which table failed, how many of its rows it deleted before
// the error and which tables it skipped; the tables before it are done.
func TestCleanupFailure(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := schema.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	seedCleanup(t, db, "u")
	// The fourth reset token deleted fails its statement: the first batch
	// of 3 is deleted, the second fails. The sequence counts across
	// statements, as nextval is never rolled back.
	if _, err := db.ExecContext(ctx, `
CREATE SEQUENCE reset_deletes;
CREATE FUNCTION fail_fourth_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF nextval('reset_deletes') > 3 THEN
		RAISE EXCEPTION 'injected failure';
	END IF;
	RETURN OLD;
END $$;
CREATE TRIGGER fail_fourth_delete BEFORE DELETE ON password_reset_tokens
	FOR EACH ROW EXECUTE FUNCTION fail_fourth_delete()`); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATABASE_URL": url}
	cli(t, env, "cleanup", "--batch", "3").expect(t, exitFailure, `^deleted 8 sessions in \S+\n$`,
		`^cedrina: cleanup: password reset tokens: reset: cleanup: .*injected failure.* `+
			`\(3 password reset tokens deleted before the error; skipped: email verification tokens, rate limit records, oauth flow states\)\n$`)
	expectRows(t, db, 2, 4, 5, 5, 4)

	// The last table fails: nothing is skipped.
	if _, err := db.ExecContext(ctx, `DROP TRIGGER fail_fourth_delete ON password_reset_tokens; DROP TABLE oauth_spent_states`); err != nil {
		t.Fatal(err)
	}
	cli(t, env, "cleanup").expect(t, exitFailure,
		`^deleted 0 sessions in \S+\ndeleted 2 password reset tokens in \S+\ndeleted 4 email verification tokens in \S+\n`+
			`deleted 3 rate limit records in \S+\n$`,
		`^cedrina: cleanup: oauth flow states: .*migrate up.* \(0 oauth flow states deleted before the error\)\n$`)
}
