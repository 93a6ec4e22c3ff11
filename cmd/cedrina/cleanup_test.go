package main

import (
	"context"
	"database/sql"
	"testing"

	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/schema"
)

func TestCleanup(t *testing.T) {
	t.Parallel()
	cli(t, nil, "cleanup", "--batch", "0").expect(t, exitUsage, `^$`, `must be positive`)
	cli(t, nil, "cleanup", "extra").expect(t, exitUsage, `^$`, `unexpected argument`)
	cli(t, nil, "help", "cleanup").expect(t, exitOK, `cedrina cleanup`, "")

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
	if _, err := db.ExecContext(ctx, `INSERT INTO users (username, email, hashed_password) VALUES ('u', 'u@example.com', 'x')`); err != nil {
		t.Fatal(err)
	}
	// 5 expired, 3 idle for two days, 2 live.
	if _, err := db.ExecContext(ctx, `
INSERT INTO sessions (user_id, session_token, refresh_token, expires_at, last_activity_at)
SELECT (SELECT id FROM users), 's' || g, 'r' || g,
	CASE WHEN g <= 5 THEN now() - interval '1 hour' ELSE now() + interval '1 day' END,
	CASE WHEN g BETWEEN 6 AND 8 THEN now() - interval '2 days' ELSE now() END
FROM generate_series(1, 10) AS g`); err != nil {
		t.Fatal(err)
	}
	cli(t, map[string]string{"DATABASE_URL": url}, "cleanup", "--batch", "3").expect(t, exitOK, `^deleted 8 sessions in `, "")
	var left int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sessions`).Scan(&left); err != nil || left != 2 {
		t.Fatalf("%d sessions left (%v), want 2", left, err)
	}
}
