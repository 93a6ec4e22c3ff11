package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/schema"
	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/store/storetest"
	"github.com/cedrina/cedrina/user"
)

func TestConformanceWithOpen(t *testing.T) {
	// The same suite on a pool made by Open, with its defaults
	// (binary_parameters=yes), as hosts get it; the rate limits with
	// asynchronous commits.
	storetest.Run(t, func(t *testing.T) storetest.Stores {
		db, err := postgres.Open(context.Background(), pgtest.URL(t), postgres.Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := schema.Migrate(context.Background(), db.SQLX().DB); err != nil {
			t.Fatal(err)
		}
		return storetest.Stores{Tx: db, Users: db.Users(), Audit: db.Audit(), Sessions: db.Sessions(), Resets: db.Resets(),
			RateLimits: db.RateLimits(postgres.RateLimitConfig{AsyncCommit: true})}
	})
}

func TestConfigValidation(t *testing.T) {
	for _, cfg := range []postgres.Config{
		{MaxIdleConns: -1},
		{MaxOpenConns: -1},
		{MaxIdleConns: 60, MaxOpenConns: 10},
		{ConnMaxLifetime: -time.Second},
		{AcquireTimeout: -time.Second},
	} {
		if _, err := postgres.Open(context.Background(), "postgres://127.0.0.1:1/x", cfg); err == nil || !strings.Contains(err.Error(), "Config.") {
			t.Errorf("Open(%+v) err = %v, want one naming the field", cfg, err)
		}
	}
	if _, err := postgres.New(nil, postgres.Config{}); err == nil {
		t.Error("New(nil) succeeded")
	}
	if _, err := postgres.NewFromSQL(nil, postgres.Config{}); err == nil {
		t.Error("NewFromSQL(nil) succeeded")
	}
}

// TestOpenEmptyURL: Open refuses an empty URL rather than connecting to
// lib/pq's defaults (PG* variables, localhost).
func TestOpenEmptyURL(t *testing.T) {
	for _, url := range []string{"", " ", "\t\n "} {
		db, err := postgres.Open(context.Background(), url, postgres.Config{})
		if err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", url)
			continue
		}
		if want := "postgres: Open: empty database URL"; err.Error() != want {
			t.Errorf("Open(%q) err = %q, want %q", url, err, want)
		}
	}
}

func TestOpenUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := postgres.Open(ctx, "postgres://nobody:s3cret-pw@127.0.0.1:1/none?sslmode=disable&connect_timeout=5", postgres.Config{})
	if err == nil {
		t.Fatal("Open succeeded on a closed port")
	}
	if strings.Contains(err.Error(), "s3cret-pw") {
		t.Fatalf("error reveals the password: %v", err)
	}
}

// TestPoolTimeout: with every connection busy, a store call waits at most
// AcquireTimeout and then fails with ErrPoolTimeout.
func TestPoolTimeout(t *testing.T) {
	x := pgtest.DB(t)
	x.SetMaxOpenConns(1)
	db, err := postgres.New(x, postgres.Config{AcquireTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	held := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error)
	go func() {
		done <- db.InTx(context.Background(), func(ctx context.Context) error {
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	_, err = db.Users().ByID(context.Background(), 1)
	close(release)
	if !errors.Is(err, postgres.ErrPoolTimeout) || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrPoolTimeout matching store.ErrUnavailable", err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestTerminatedConnection: a transaction whose connection the server
// terminates (pg_terminate_backend, as at a failover or an operator's
// kill) fails with an error matching store.ErrUnavailable, and the
// audit chain is as it was.
func TestTerminatedConnection(t *testing.T) {
	x := pgtest.DB(t)
	db, err := postgres.New(x, postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	terminatedConnection(t, db, x)
}

// terminatedConnection is TestTerminatedConnection on db, whose pool is x.
func terminatedConnection(t *testing.T, db *postgres.DB, x *sqlx.DB) {
	t.Helper()
	ctx := context.Background()
	before, err := db.Audit().State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	err = db.InTx(ctx, func(ctx context.Context) error {
		var pid int
		if err := postgres.TxFromContext(ctx).GetContext(ctx, &pid, `SELECT pg_backend_pid()`); err != nil {
			return err
		}
		var ok bool
		if err := x.GetContext(context.Background(), &ok, `SELECT pg_terminate_backend($1)`, pid); err != nil || !ok {
			t.Fatalf("pg_terminate_backend = %v, %v", ok, err)
		}
		_, err := db.Audit().State(ctx)
		return err
	})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("statement on a terminated connection: %v, want store.ErrUnavailable", err)
	}
	t.Logf("terminated connection: %v", err)
	after, err := db.Audit().State(ctx) // the pool replaced the connection
	if err != nil || after != before {
		t.Fatalf("State = %+v, %v; want %+v", after, err, before)
	}
}

// TestTxFromContext: a host's own statement joins the SDK's transaction
// and rolls back with it.
func TestTxFromContext(t *testing.T) {
	x := pgtest.DB(t)
	db, err := postgres.New(x, postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := x.ExecContext(ctx, `CREATE TABLE host_table (user_id integer)`); err != nil {
		t.Fatal(err)
	}
	if postgres.TxFromContext(ctx) != nil {
		t.Fatal("TxFromContext outside a transaction is not nil")
	}
	boom := errors.New("boom")
	err = db.InTx(ctx, func(ctx context.Context) error {
		u := storetest.NewUser("hostuser")
		if err := db.Users().Create(ctx, u); err != nil {
			return err
		}
		tx := postgres.TxFromContext(ctx)
		if tx == nil {
			return errors.New("no transaction in context")
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO host_table VALUES ($1)`, u.ID); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	var n int
	if err := x.GetContext(ctx, &n, `SELECT count(*) FROM host_table`); err != nil || n != 0 {
		t.Fatalf("host row survived the rollback: %d, %v", n, err)
	}
}

// TestDeleteCascades: deleting a user removes its sessions, OAuth profiles
// and reset tokens, and keeps its audit rows with user_id NULL.
func TestDeleteCascades(t *testing.T) {
	x := pgtest.DB(t)
	db, err := postgres.New(x, postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	u := storetest.NewUser("cascade")
	if err := db.Users().Create(ctx, u); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO sessions (user_id, session_token, refresh_token, expires_at) VALUES ($1, 's', 'r', NOW() + interval '1 day')`,
		`INSERT INTO oauth_profiles (user_id, provider, provider_user_id) VALUES ($1, 'github', '42')`,
		`INSERT INTO password_reset_tokens (user_id, token_hash, expires_at) VALUES ($1, 'h', NOW())`,
		`INSERT INTO audit_logs (user_id, event_type, event_data) VALUES ($1, 'login_success', '{}')`,
	} {
		if _, err := x.ExecContext(ctx, q, u.ID); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Users().Delete(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	for table, want := range map[string]int{"sessions": 0, "oauth_profiles": 0, "password_reset_tokens": 0, "audit_logs": 1} {
		var n int
		if err := x.GetContext(ctx, &n, `SELECT count(*) FROM `+table); err != nil || n != want {
			t.Errorf("%s: %d rows (%v), want %d", table, n, err, want)
		}
	}
	var detached bool
	if err := x.GetContext(ctx, &detached, `SELECT user_id IS NULL FROM audit_logs`); err != nil || !detached {
		t.Errorf("audit row still names the deleted user: %v", err)
	}
}

// TestLegacyRow: a row written by another system, with NULLs where the
// schema allows them, loads and works with the atomic counter.
func TestLegacyRow(t *testing.T) {
	x := pgtest.DB(t)
	db, err := postgres.New(x, postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := x.ExecContext(ctx, `INSERT INTO users (username, email, hashed_password, is_active, role, preferences, failed_login_attempts, created_at)
		VALUES ('legacy', 'legacy@example.com', '$2b$12$abcdefghijklmnopqrstuu5dy2.WyYhZZHn/Cq3bV6Xk6Oj8qGq7y', NULL, NULL, NULL, NULL, NULL)`); err != nil {
		t.Fatal(err)
	}
	u, err := db.Users().ByUsername(ctx, "legacy")
	if err != nil {
		t.Fatal(err)
	}
	if u.IsActive || u.Role != "" || u.FailedLoginAttempts != 0 || !u.CreatedAt.IsZero() || u.Preferences != nil {
		t.Fatalf("legacy row read as %+v", u)
	}
	// A NULL is_active is inactive: fail closed, nothing admitted.
	p := user.LockoutPolicy{Threshold: 5, Duration: time.Minute}
	if got, ok, err := db.Users().AdmitLogin(ctx, u.ID, time.Now(), p); err != nil || ok || got.FailedLoginAttempts != 0 {
		t.Fatalf("AdmitLogin on a NULL is_active = %+v, %v, %v; want not admitted", got, ok, err)
	}
	if _, err := x.ExecContext(ctx, `UPDATE users SET is_active = true WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := db.Users().AdmitLogin(ctx, u.ID, time.Now(), p); err != nil || !ok || got.FailedLoginAttempts != 1 {
		t.Fatalf("AdmitLogin on a NULL counter = attempts %d, %v, %v; want 1, admitted", got.FailedLoginAttempts, ok, err)
	}
}

// TestOpenRedactsPassword: no error from Open quotes the password, however
// the connection string is broken.
func TestOpenRedactsPassword(t *testing.T) {
	const pw = "s3cret-pw"
	for _, dsn := range []string{
		"postgres://u:" + pw + "@127.0.0.1:1/x?%zz",
		"POSTGRES://u:" + pw + "@127.0.0.1:1/x",
		"postgres://u:" + pw + "@[::1:5432/x",
		"host=127.0.0.1 port=1 password=" + pw + " sslmode=bogus",
		"host=127.0.0.1 port=1 password='" + pw + "' sslmode=disable connect_timeout=2",
		"password=" + pw + " =broken",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := postgres.Open(ctx, dsn, postgres.Config{})
		cancel()
		if err == nil {
			t.Errorf("Open(%q) succeeded", dsn)
			continue
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("Open(%q) error reveals the password: %v", dsn, err)
		}
	}
}
