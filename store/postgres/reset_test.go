package postgres_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/reset"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/store/storetest"
)

// newResetDB returns a reset store on a fresh, migrated schema, the pool
// under it, and a user to own tokens.
func newResetDB(t *testing.T) (*postgres.ResetStore, *sqlx.DB, int64) {
	t.Helper()
	x := pgtest.DB(t)
	db, err := postgres.New(x, postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	u := storetest.NewUser("legacy")
	if err := db.Users().Create(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return db.Resets(), x, u.ID
}

// TestResetLegacyRows: rows the original system wrote, naming only the
// required columns or holding NULL where the schema allows it, read back
// as unused tokens without a security stamp, and can be consumed,
// invalidated and replaced.
func TestResetLegacyRows(t *testing.T) {
	resets, x, userID := newResetDB(t)
	ctx := context.Background()
	expires := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)

	if _, err := x.ExecContext(ctx, `INSERT INTO password_reset_tokens (user_id, token_hash, expires_at) VALUES ($1, 'plain', $2)`, userID, expires); err != nil {
		t.Fatal(err)
	}
	got, err := resets.ByHash(ctx, "plain")
	if err != nil {
		t.Fatal(err)
	}
	if got.IsUsed || got.UsedAt != nil || got.SecurityStamp != nil || got.ClientIP.IsValid() || got.UserAgent != "" ||
		got.CreatedAt.IsZero() || got.CreatedAt.Location() != time.UTC || !got.ExpiresAt.Equal(expires) || got.UserID != userID {
		t.Errorf("ByHash(a row with only the required columns) = %+v; want unused, no stamp, no address, created now", got)
	}

	if _, err := x.ExecContext(ctx, `INSERT INTO password_reset_tokens (user_id, token_hash, expires_at, is_used, created_at, security_context)
VALUES ($1, 'nulls', $2, NULL, NULL, NULL)`, userID, expires); err != nil {
		t.Fatal(err)
	}
	got, err = resets.ByHash(ctx, "nulls")
	if err != nil {
		t.Fatal(err)
	}
	if got.IsUsed || got.UsedAt != nil || got.SecurityStamp != nil || !got.CreatedAt.IsZero() {
		t.Errorf("ByHash(a row of NULLs) = %+v; want unused, no stamp, zero CreatedAt", got)
	}
	at := expires.Add(-time.Minute)
	got, err = resets.Consume(ctx, "nulls", at)
	if err != nil {
		t.Fatalf("Consume(is_used NULL): %v", err)
	}
	if !got.IsUsed || got.UsedAt == nil || !got.UsedAt.Equal(at) {
		t.Errorf("Consume(is_used NULL) = %+v; want spent at %v", got, at)
	}
	if _, err := resets.Consume(ctx, "nulls", at); !errors.Is(err, reset.ErrSpent) {
		t.Errorf("Consume(is_used NULL) again: err = %v, want ErrSpent", err)
	}

	// Several unspent rows of one user, NULL is_used among them: all are
	// counted and spent.
	for _, q := range []string{
		`INSERT INTO password_reset_tokens (user_id, token_hash, expires_at, is_used) VALUES ($1, 'n1', $2, NULL)`,
		`INSERT INTO password_reset_tokens (user_id, token_hash, expires_at) VALUES ($1, 'n2', $2)`,
	} {
		if _, err := x.ExecContext(ctx, q, userID, expires); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := resets.InvalidateUser(ctx, userID, at); err != nil || n != 3 {
		t.Errorf("InvalidateUser = %d, %v; want 3 (plain, n1, n2)", n, err)
	}

	// Issue spends a NULL is_used row too.
	if _, err := x.ExecContext(ctx, `INSERT INTO password_reset_tokens (user_id, token_hash, expires_at, is_used) VALUES ($1, 'n3', $2, NULL)`, userID, expires); err != nil {
		t.Fatal(err)
	}
	tok := &reset.Token{UserID: userID, TokenHash: "issued", CreatedAt: at, ExpiresAt: expires}
	if err := resets.Issue(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if got, err := resets.ByHash(ctx, "n3"); err != nil || !got.IsUsed || got.UsedAt == nil || !got.UsedAt.Equal(at) {
		t.Errorf("after Issue the NULL is_used row = %+v, %v; want spent at %v", got, err, at)
	}

	// DeleteExpired keeps an unexpired row whose is_used is NULL.
	if _, err := x.ExecContext(ctx, `INSERT INTO password_reset_tokens (user_id, token_hash, expires_at, is_used) VALUES ($1, 'keep', $2, NULL)`, userID, expires); err != nil {
		t.Fatal(err)
	}
	if n, err := resets.DeleteExpired(ctx, at, 100); err != nil || n != 5 {
		t.Errorf("DeleteExpired = %d, %v; want 5 (every spent row)", n, err)
	}
	if _, err := resets.ByHash(ctx, "keep"); err != nil {
		t.Errorf("DeleteExpired deleted the unexpired row with is_used NULL: %v", err)
	}
}

// TestResetSecurityContext: the stamp is read from security_context's
// security_stamp key when it holds an integer, whatever else the document
// holds, and written as {"security_stamp": n}, or {} without one.
func TestResetSecurityContext(t *testing.T) {
	resets, x, userID := newResetDB(t)
	ctx := context.Background()
	expires := time.Now().Add(time.Hour)
	stamp := func(n int64) *int64 { return &n }
	for doc, want := range map[string]*int64{
		`{}`:                                nil,
		`{"security_stamp": 7}`:             stamp(7),
		`{"security_stamp": -2, "ip": "x"}`: stamp(-2),
		`{"security_stamp": 9223372036854775807}`: stamp(9223372036854775807),
		`{"security_stamp": 9223372036854775808}`: nil,
		`{"security_stamp": 1.5}`:                 nil,
		`{"security_stamp": "7"}`:                 nil,
		`{"security_stamp": null}`:                nil,
		`{"security_stamp": {"n": 7}}`:            nil,
		`{"other": 7}`:                            nil,
		`[]`:                                      nil,
	} {
		if _, err := x.ExecContext(ctx, `DELETE FROM password_reset_tokens`); err != nil {
			t.Fatal(err)
		}
		if _, err := x.ExecContext(ctx, `INSERT INTO password_reset_tokens (user_id, token_hash, expires_at, security_context)
VALUES ($1, 'h', $2, $3::jsonb)`, userID, expires, doc); err != nil {
			t.Fatal(err)
		}
		got, err := resets.ByHash(ctx, "h")
		if err != nil {
			t.Fatalf("ByHash(security_context %s): %v", doc, err)
		}
		if (got.SecurityStamp == nil) != (want == nil) || want != nil && *got.SecurityStamp != *want {
			t.Errorf("security_context %s: SecurityStamp = %v, want %v", doc, got.SecurityStamp, want)
		}
	}

	// What Issue writes, and the address as INET.
	for _, tc := range []struct {
		stamp *int64
		ip    netip.Addr
		doc   string
		inet  *string
	}{
		{stamp(42), netip.MustParseAddr("::ffff:192.0.2.1"), `{"security_stamp": 42}`, ptr("192.0.2.1")},
		{nil, netip.Addr{}, `{}`, nil},
		{stamp(0), netip.MustParseAddr("fe80::1%eth0"), `{"security_stamp": 0}`, ptr("fe80::1")},
	} {
		if _, err := x.ExecContext(ctx, `DELETE FROM password_reset_tokens`); err != nil {
			t.Fatal(err)
		}
		tok := &reset.Token{UserID: userID, TokenHash: "w", ExpiresAt: expires, SecurityStamp: tc.stamp, ClientIP: tc.ip}
		if err := resets.Issue(ctx, tok); err != nil {
			t.Fatal(err)
		}
		var row struct {
			Doc  string  `db:"doc"`
			Inet *string `db:"inet"`
		}
		if err := x.GetContext(ctx, &row, `SELECT security_context::text AS doc, host(client_ip) AS inet FROM password_reset_tokens`); err != nil {
			t.Fatal(err)
		}
		if row.Doc != tc.doc || (row.Inet == nil) != (tc.inet == nil) || tc.inet != nil && *row.Inet != *tc.inet {
			t.Errorf("Issue(stamp %v, ip %v) wrote security_context %s, client_ip %v; want %s, %v", tc.stamp, tc.ip, row.Doc, row.Inet, tc.doc, tc.inet)
		}
		if tok.CreatedAt.IsZero() {
			t.Errorf("Issue with a zero CreatedAt: the token as stored has none")
		}
	}
}

func ptr[T any](v T) *T { return &v }
