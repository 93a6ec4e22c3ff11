package postgres_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/rbac"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/store/storetest"
)

// testChannel returns a notification channel of the test's own: channels
// are database-wide, and test packages share the database.
func testChannel(t testing.TB) string {
	t.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "cedrina_rbac_" + hex.EncodeToString(b[:])
}

// rulesOn returns db's rule store on a channel of the test's own.
func rulesOn(t testing.TB, db *postgres.DB) *postgres.RuleStore {
	t.Helper()
	s, err := db.RulesOn(testChannel(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ruleDB returns a DB on a fresh, migrated schema (lib/pq) and its rule
// store on a channel of the test's own.
func ruleDB(t *testing.T) (*postgres.DB, *postgres.RuleStore) {
	t.Helper()
	db, err := postgres.New(pgtest.DB(t), postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return db, rulesOn(t, db)
}

// ruleTestTime is the tests' clock reading, with nanoseconds the stores
// drop.
var ruleTestTime = time.Date(2026, 3, 14, 15, 9, 26, 535897789, time.UTC)

func newRule(t *testing.T, typ string, values ...string) rbac.Rule {
	t.Helper()
	r, err := rbac.NewRule(typ, values...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// rawRule is a casbin_rules row as stored, NULLs visible: the row the
// store scans.
type rawRule = postgres.RuleRow

func rawRules(t *testing.T, db *postgres.DB) []rawRule {
	t.Helper()
	var rows []rawRule
	if err := db.SQLX().SelectContext(t.Context(), &rows, `SELECT id, ptype, v0, v1, v2, v3, v4, v5, is_active,
		created_at, updated_at, created_by, updated_by FROM casbin_rules ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	return rows
}

func str(s string) sql.NullString { return sql.NullString{String: s, Valid: true} }

// TestRuleRows checks the rows as stored: missing values NULL, an empty
// value in the middle the empty string, the actors (NULL for none), is_active, and the
// times truncated to the microsecond.
func TestRuleRows(t *testing.T) {
	t.Parallel()
	db, rules := ruleDB(t)
	ctx := t.Context()
	t1 := ruleTestTime
	t2 := t1.Add(time.Minute)
	if n, err := rules.Add(ctx, []rbac.Rule{newRule(t, "p", "alice", "data1", "read"), newRule(t, "g", "bob", "", "admin")}, "admin-1", t1); err != nil || n != 2 {
		t.Fatalf("Add = %d, %v", n, err)
	}
	if n, err := rules.Add(ctx, []rbac.Rule{newRule(t, "p", "a", "b", "c", "d", "e", "f")}, "", t1); err != nil || n != 1 {
		t.Fatalf("Add = %d, %v", n, err)
	}
	if _, err := rules.SetActive(ctx, 1, false, "admin-2", t2); err != nil {
		t.Fatal(err)
	}
	micro := t1.Truncate(time.Microsecond)
	want := []rawRule{
		{ID: 1, Type: "p", V0: str("alice"), V1: str("data1"), V2: str("read"), IsActive: sql.NullBool{Valid: true},
			CreatedBy: str("admin-1"), UpdatedBy: str("admin-2")},
		{ID: 2, Type: "g", V0: str("bob"), V1: str(""), V2: str("admin"), IsActive: sql.NullBool{Bool: true, Valid: true},
			CreatedBy: str("admin-1"), UpdatedBy: str("admin-1")},
		{ID: 3, Type: "p", V0: str("a"), V1: str("b"), V2: str("c"), V3: str("d"), V4: str("e"), V5: str("f"),
			IsActive: sql.NullBool{Bool: true, Valid: true}},
	}
	got := rawRules(t, db)
	if len(got) != len(want) {
		t.Fatalf("rows %+v, want %d", got, len(want))
	}
	for i, g := range got {
		w := want[i]
		if g.ID != w.ID || g.Type != w.Type || g.V0 != w.V0 || g.V1 != w.V1 || g.V2 != w.V2 || g.V3 != w.V3 ||
			g.V4 != w.V4 || g.V5 != w.V5 || g.IsActive != w.IsActive || g.CreatedBy != w.CreatedBy || g.UpdatedBy != w.UpdatedBy {
			t.Errorf("row %d = %+v,\nwant %+v", i, g, w)
		}
		updated := micro
		if i == 0 {
			updated = t2.Truncate(time.Microsecond)
		}
		if !g.CreatedAt.Valid || !g.CreatedAt.Time.Equal(micro) || !g.UpdatedAt.Valid || !g.UpdatedAt.Time.Equal(updated) {
			t.Errorf("row %d: created_at %v, updated_at %v; want %v, %v", i, g.CreatedAt, g.UpdatedAt, micro, updated)
		}
	}
}

// TestRuleRowsFromOtherWriters: rows that another writer left (a Casbin
// adapter that stores "" rather than NULL, a NULL is_active, NULL times
// and actors, duplicates) read as rules, and the store's changes treat
// them as the Store doc says: "" and NULL are the same missing value, a
// NULL is_active is inactive, Add reactivates the lowest inactive id.
func TestRuleRowsFromOtherWriters(t *testing.T) {
	t.Parallel()
	db, rules := ruleDB(t)
	ctx := t.Context()
	if _, err := db.SQLX().ExecContext(ctx, `
INSERT INTO casbin_rules (ptype, v0, v1, v2, v3, v4, v5, is_active, created_at, updated_at, created_by, updated_by) VALUES
	('p', 'alice', 'data1', 'read', '', '', '', true, NULL, NULL, NULL, NULL),       -- 1: gorm-style, active
	('p', 'bob', 'data2', 'write', NULL, NULL, NULL, NULL, now(), now(), 'x', 'x'),   -- 2: NULL is_active
	('p', 'bob', 'data2', 'write', '', NULL, '', false, now(), now(), 'y', 'y'),      -- 3: the same line, inactive
	('g', 'carol', 'admin', NULL, NULL, NULL, NULL, false, now(), now(), 'z', 'z'),   -- 4
	('g', 'carol', 'admin', '', '', '', '', false, now(), now(), 'z', 'z')             -- 5: the same line`); err != nil {
		t.Fatal(err)
	}
	all, err := rules.Rules(ctx, rbac.Filter{Inactive: true})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, r := range all {
		lines = append(lines, r.Line())
		if r.ID == 1 && (!r.Active || !r.CreatedAt.IsZero() || r.CreatedBy != "") {
			t.Errorf("row 1 read as %+v: want active, zero time, no actor", r)
		}
		if r.ID == 2 && r.Active {
			t.Errorf("row 2 (is_active NULL) read as active")
		}
	}
	if got, want := strings.Join(lines, "; "), "p, alice, data1, read; p, bob, data2, write; p, bob, data2, write; g, carol, admin; g, carol, admin"; got != want {
		t.Errorf("rules %q, want %q", got, want)
	}
	active, err := rules.Rules(ctx, rbac.Filter{})
	if err != nil || len(active) != 1 || active[0].ID != 1 {
		t.Errorf("active rules %+v, %v; want row 1 only", active, err)
	}

	// An exact filter finds the gorm-style row by its three values.
	exact, err := rules.Rules(ctx, rbac.Filter{Type: "p", Values: []string{"alice", "data1", "read"}, Exact: true})
	if err != nil || len(exact) != 1 || exact[0].ID != 1 {
		t.Errorf("exact filter: %+v, %v; want row 1", exact, err)
	}
	exact, err = rules.Rules(ctx, rbac.Filter{Type: "g", Values: []string{"carol", "admin"}, Exact: true, Inactive: true})
	if err != nil || len(exact) != 2 || exact[0].ID != 4 || exact[1].ID != 5 {
		t.Errorf("exact filter: %+v, %v; want rows 4 and 5", exact, err)
	}

	// The gorm-style row is the active line: Add leaves it.
	n, err := rules.Add(ctx, []rbac.Rule{newRule(t, "p", "alice", "data1", "read"),
		newRule(t, "p", "bob", "data2", "write"), newRule(t, "g", "carol", "admin")}, "admin-1", ruleTestTime)
	if err != nil || n != 2 {
		t.Fatalf("Add = %d, %v; want 2 (two reactivated)", n, err)
	}
	var ids []int64
	for _, r := range rawRules(t, db) {
		if r.IsActive.Valid && r.IsActive.Bool {
			ids = append(ids, r.ID)
		}
	}
	if len(ids) != 3 || ids[0] != 1 || ids[1] != 2 || ids[2] != 4 {
		t.Errorf("active ids %v, want [1 2 4]: the lowest id of each line", ids)
	}
	// Row 3 (inactive) stays through Replace; row 5 too.
	if err := rules.Replace(ctx, []rbac.Rule{newRule(t, "g", "carol", "admin")}, "admin-2", ruleTestTime); err != nil {
		t.Fatal(err)
	}
	ids = ids[:0]
	for _, r := range rawRules(t, db) {
		ids = append(ids, r.ID)
	}
	if len(ids) != 3 || ids[0] != 3 || ids[1] != 4 || ids[2] != 5 {
		t.Errorf("rows after Replace %v, want [3 4 5]", ids)
	}
}

// TestRuleNullIsActiveUnchanged: SetActive(false) on a row whose
// is_active is NULL (inactive) changes nothing; SetActive(true) makes it
// active.
func TestRuleNullIsActiveUnchanged(t *testing.T) {
	t.Parallel()
	db, rules := ruleDB(t)
	ctx := t.Context()
	if _, err := db.SQLX().ExecContext(ctx, `INSERT INTO casbin_rules (ptype, v0, is_active, updated_by) VALUES ('g', 'x', NULL, 'other')`); err != nil {
		t.Fatal(err)
	}
	r, err := rules.SetActive(ctx, 1, false, "admin-1", ruleTestTime)
	if err != nil || r.Active || r.UpdatedBy != "other" {
		t.Fatalf("SetActive(false) = %+v, %v; want the rule unchanged", r, err)
	}
	if got := rawRules(t, db)[0]; got.IsActive.Valid || got.UpdatedBy != str("other") {
		t.Errorf("row after SetActive(false): %+v, want is_active NULL, updated_by other", got)
	}
	r, err = rules.SetActive(ctx, 1, true, "admin-1", ruleTestTime)
	if err != nil || !r.Active || r.UpdatedBy != "admin-1" {
		t.Fatalf("SetActive(true) = %+v, %v", r, err)
	}
}

// TestRuleInHostTransaction: the rule store joins the context's
// transaction; its changes roll back with it.
func TestRuleInHostTransaction(t *testing.T) {
	t.Parallel()
	db, rules := ruleDB(t)
	ctx := t.Context()
	errRollback := errors.New("roll back")
	err := db.InTx(ctx, func(ctx context.Context) error {
		if _, err := rules.Add(ctx, []rbac.Rule{newRule(t, "p", "alice", "data1", "read")}, "", ruleTestTime); err != nil {
			return err
		}
		in, err := rules.Rules(ctx, rbac.Filter{})
		if err != nil || len(in) != 1 {
			t.Errorf("inside the transaction: %+v, %v; want the rule", in, err)
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("InTx: %v", err)
	}
	if got := rawRules(t, db); len(got) != 0 {
		t.Errorf("after rollback: %+v", got)
	}
	err = db.InTx(ctx, func(ctx context.Context) error {
		_, err := rules.Add(ctx, []rbac.Rule{newRule(t, "p", "alice", "data1", "read")}, "", ruleTestTime)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := rawRules(t, db); len(got) != 1 {
		t.Errorf("after commit: %+v", got)
	}
}

func TestRulesOnChannel(t *testing.T) {
	t.Parallel()
	db, err := postgres.New(pgtest.DB(t), postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", strings.Repeat("c", 64), "a\x00b", "a\nb", "\xff"} {
		if s, err := db.RulesOn(bad); err == nil || s != nil || !strings.HasPrefix(err.Error(), "postgres: RulesOn channel: ") {
			t.Errorf("RulesOn(%q) = %v, %v; want an error naming the channel", bad, s, err)
		}
	}
	for _, good := range []string{"c", strings.Repeat("c", 63), "Mixed Case-and spaces", "caf\u00e9"} {
		if _, err := db.RulesOn(good); err != nil {
			t.Errorf("RulesOn(%q): %v", good, err)
		}
	}
}

// TestRuleStoreWithOpen runs the rule store's suite on a pool made by
// Open (binary_parameters=yes, as hosts get it), capped at
// pgtest.MaxOpenConns: the concurrency cases hold a connection per
// waiting goroutine, and Open's default of 50 per subtest would exhaust
// the server's connections shared by the packages under test.
func TestRuleStoreWithOpen(t *testing.T) {
	storetest.RunRuleStore(t, func(t *testing.T) rbac.Store {
		db, err := postgres.Open(context.Background(), pgtest.URL(t),
			postgres.Config{MaxOpenConns: pgtest.MaxOpenConns, MaxIdleConns: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if err := schemaMigrate(db); err != nil {
			t.Fatal(err)
		}
		return rulesOn(t, db)
	})
}

// TestCasbinAdapterOnRuleStore: rbac's Casbin adapter over the
// PostgreSQL rule store passes the same adapter suite as over the memory
// store, on lib/pq and on pgx.
func TestCasbinAdapterOnRuleStore(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) *postgres.DB{
		"lib/pq": func(t *testing.T) *postgres.DB {
			db, err := postgres.New(pgtest.DB(t), postgres.Config{})
			if err != nil {
				t.Fatal(err)
			}
			return db
		},
		"pgx": func(t *testing.T) *postgres.DB {
			db, err := postgres.NewFromSQL(pgtest.PgxDB(t), postgres.Config{})
			if err != nil {
				t.Fatal(err)
			}
			return db
		},
	} {
		t.Run(name, func(t *testing.T) {
			storetest.RunCasbinAdapter(t, func(t *testing.T) (storetest.CasbinAdapter, rbac.Store) {
				st := rulesOn(t, open(t))
				return rbac.NewAdapter(st), st
			})
		})
	}
}
