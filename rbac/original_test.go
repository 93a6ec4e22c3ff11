package rbac_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"

	"github.com/cedrina/cedrina/internal/legacytest"
	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/legacy"
	"github.com/cedrina/cedrina/oauth"
	"github.com/cedrina/cedrina/rbac"
	"github.com/cedrina/cedrina/schema"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/user"
)

// TestOriginalRulesDecideAlike is the differential test on the rules the
// original system wrote: a database as that system left it is adopted,
// and for every role its users hold, every object and action of the
// rules (and some of none), and every department, location and time of
// day the rules name (and "*" and values they do not name), the SDK's
// Authorizer with the Attributes model over casbin_rules (through
// store/postgres) decides exactly as Casbin's own enforcer with the
// original's model text over the raw active rows.
func TestOriginalRulesDecideAlike(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sqlDB := pgtest.OpenPgx(t, pgtest.URL(t))
	legacytest.Create(t, sqlDB)
	keys, err := legacy.ParseKeys(legacytest.Key)
	if err != nil {
		t.Fatal(err)
	}
	cipher, err := oauth.NewCipher(oauth.Key{ID: "k1", Secret: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := schema.Adopt(ctx, sqlDB, schema.AdoptConfig{Tokens: oauth.LegacyTokens(keys, cipher)}); err != nil {
		t.Fatal(err)
	}

	// The original: its model, the active rows as its adapter loaded them.
	m, err := model.NewModelFromString(legacytest.Model)
	if err != nil {
		t.Fatal(err)
	}
	orig, err := casbin.NewEnforcer(m)
	if err != nil {
		t.Fatal(err)
	}
	objects, actions := map[string]bool{"/other": true}, map[string]bool{"PATCH": true}
	attrs := [3]map[string]bool{{"*": true, "hr": true}, {"*": true, "us-east": true}, {"*": true, "night": true}}
	rows, err := sqlDB.QueryContext(ctx, `SELECT ptype, coalesce(v0, ''), coalesce(v1, ''), coalesce(v2, ''), coalesce(v3, ''), coalesce(v4, ''), coalesce(v5, '')
		FROM casbin_rules WHERE is_active ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	loaded := 0
	for rows.Next() {
		var ptype string
		v := make([]string, 6)
		if err := rows.Scan(&ptype, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]); err != nil {
			t.Fatal(err)
		}
		switch ptype {
		case "p":
			if _, err := orig.AddPolicy(v[0], v[1], v[2], v[3], v[4], v[5]); err != nil {
				t.Fatal(err)
			}
			objects[v[1]], actions[v[2]] = true, true
			for i := range attrs {
				attrs[i][v[3+i]] = true
			}
		case "g":
			if _, err := orig.AddGroupingPolicy(v[0], v[1]); err != nil {
				t.Fatal(err)
			}
		}
		loaded++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if loaded != len(legacytest.Rules) {
		t.Fatalf("loaded %d active rows, want %d", loaded, len(legacytest.Rules))
	}

	// The SDK: the same table through store/postgres.
	db, err := postgres.NewFromSQL(sqlDB, postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	az, err := rbac.New(ctx, rbac.Config{Store: db.Rules(), Model: rbac.Attributes()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { az.Close(context.Background()) })

	var roles []user.Role
	if err := selectRoles(ctx, sqlDB, &roles); err != nil {
		t.Fatal(err)
	}
	roles = append(roles, "GUEST")
	checked, allowed := 0, 0
	for _, role := range roles {
		sub := rbac.Subject(role)
		if sub != strings.ToLower(string(role)) {
			t.Fatalf("Subject(%q) = %q; the original checks the lower-case role", role, sub)
		}
		for obj := range objects {
			for act := range actions {
				for dept := range attrs[0] {
					for loc := range attrs[1] {
						for tod := range attrs[2] {
							want, err := orig.Enforce(strings.ToLower(string(role)), obj, act, dept, loc, tod)
							if err != nil {
								t.Fatal(err)
							}
							got := az.Allowed(ctx, sub, obj, act, dept, loc, tod)
							if got != want {
								t.Errorf("%s %s %s (%s, %s, %s): SDK %v, original %v", role, obj, act, dept, loc, tod, got, want)
							}
							checked++
							if want {
								allowed++
							}
						}
					}
				}
			}
		}
	}
	// Both outcomes occur, so the comparison is not vacuous: admin
	// inherits user's rules, the inactive rule allows nothing.
	if allowed == 0 || allowed == checked {
		t.Fatalf("%d of %d requests allowed; want some of each", allowed, checked)
	}
	if az.Allowed(ctx, "user", "/admin/users", "GET", "*", "*", "*") {
		t.Error("the rule the original switched off allows")
	}
	if !az.Allowed(ctx, "admin", "/reports", "GET", "finance", "*", "business_hours") {
		t.Error("admin does not inherit user's rule")
	}
	t.Logf("%d requests compared, %d allowed", checked, allowed)
}

func selectRoles(ctx context.Context, db *sql.DB, out *[]user.Role) error {
	rows, err := db.QueryContext(ctx, `SELECT DISTINCT role FROM users ORDER BY role`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return err
		}
		*out = append(*out, user.Role(r))
	}
	return rows.Err()
}
