package legacytest_test

import (
	"testing"

	"github.com/cedrina/cedrina/internal/legacytest"
	"github.com/cedrina/cedrina/internal/pgtest"
)

// TestCreate writes the fixture into an empty schema and reads back what
// the other tests rely on.
func TestCreate(t *testing.T) {
	t.Parallel()
	db := pgtest.OpenPgx(t, pgtest.URL(t))
	legacytest.Create(t, db)
	counts := map[string]int{
		"users": len(legacytest.Users), "oauth_profiles": len(legacytest.Profiles),
		"casbin_rules": len(legacytest.Rules) + 1, "sessions": legacytest.Sessions,
		"password_reset_tokens": legacytest.ResetTokens, "audit_logs": legacytest.AuditRows, "alembic_version": 1,
	}
	for table, want := range counts {
		var n int
		if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("%s: %d rows, want %d", table, n, want)
		}
	}
	var active int
	if err := db.QueryRowContext(t.Context(), "SELECT count(*) FROM casbin_rules WHERE is_active").Scan(&active); err != nil {
		t.Fatal(err)
	}
	if active != len(legacytest.Rules) {
		t.Errorf("%d active rules, want %d", active, len(legacytest.Rules))
	}
}
