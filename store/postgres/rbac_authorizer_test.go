package postgres_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/rbac"
	"github.com/cedrina/cedrina/schema"
	"github.com/cedrina/cedrina/store/postgres"
)

// instance is one app instance: its own pool, rule store, watcher and
// Authorizer on the shared database.
type instance struct {
	db *postgres.DB
	az *rbac.Authorizer
}

func newInstance(t *testing.T, base, channel, app string) instance {
	t.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, base, postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	rules, err := db.RulesOn(channel)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	w, err := postgres.NewPolicyWatcher(u.String(), postgres.WatcherConfig{Channel: channel})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeWithin(t, w) })
	az, err := rbac.New(ctx, rbac.Config{Store: rules, Watcher: w})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), watchWait)
		defer cancel()
		if err := az.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return instance{db: db, az: az}
}

// within polls cond until it holds and fails the test after d: it waits
// for the other instance's watcher and reload, never for a fixed time.
func within(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(d)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s: not within %v", what, d)
		}
	}
	return time.Since(start)
}

// TestPolicyAcrossInstances: two instances on one database. A change on
// one is enforced on its very next check, and on the other within a
// second; after the other's listening connection is terminated, it
// reconnects, reloads, and sees the changes made since.
func TestPolicyAcrossInstances(t *testing.T) {
	t.Parallel()
	base := pgtest.URL(t)
	{
		db, err := postgres.Open(context.Background(), base, postgres.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if err := schema.Migrate(context.Background(), db.SQLX().DB); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	channel := testChannel(t)
	app := "cedrina_az_" + channel[len("cedrina_rbac_"):]
	a := newInstance(t, base, channel, app+"_a")
	b := newInstance(t, base, channel, app+"_b")
	ctx := audit.ContextWithActor(context.Background(), audit.Actor{UserID: 1})

	if _, err := a.az.AddRules(ctx,
		rbac.Rule{Type: "p", Values: []string{"admin", "/admin/*", "*"}},
		rbac.Rule{Type: "p", Values: []string{"user", "/me", "GET"}},
		rbac.Rule{Type: "g", Values: []string{"admin", "user"}},
	); err != nil {
		t.Fatal(err)
	}
	within(t, time.Second, "the grant on the other instance", func() bool { return b.az.Allowed(ctx, "admin", "/me", "GET") })

	// Revoke the role link: the very next check here, within a second there.
	if _, err := a.az.RemoveRole(ctx, "admin", "user"); err != nil {
		t.Fatal(err)
	}
	if a.az.Allowed(ctx, "admin", "/me", "GET") {
		t.Fatal("the instance that revoked still allows")
	}
	d := within(t, time.Second, "the revocation on the other instance", func() bool { return !b.az.Allowed(ctx, "admin", "/me", "GET") })
	t.Logf("revocation reached the other instance in %v", d)

	// Deactivation (the rule is kept) counts as a revocation too.
	rules, err := a.az.Rules(ctx, rbac.Filter{Type: "p", Values: []string{"user", "/me"}})
	if err != nil || len(rules) != 1 {
		t.Fatalf("Rules = %v, %v", rules, err)
	}
	if _, err := a.az.SetRuleActive(ctx, rules[0].ID, false); err != nil {
		t.Fatal(err)
	}
	within(t, time.Second, "the deactivation on the other instance", func() bool { return !b.az.Allowed(ctx, "user", "/me", "GET") })

	// Drop the other instance's listening connection; change a policy
	// while it reconnects: it must be enforced there too.
	old := waitBackends(t, a.db, app+"_b", "b's listener", func(p []int) bool { return len(p) == 1 })
	var killed bool
	if err := a.db.SQLX().GetContext(ctx, &killed, `SELECT pg_terminate_backend($1)`, old[0]); err != nil || !killed {
		t.Fatalf("pg_terminate_backend = %v, %v", killed, err)
	}
	if _, err := a.az.Grant(ctx, "user", "/reports", "GET"); err != nil {
		t.Fatal(err)
	}
	within(t, watchWait, "a change made while the other instance reconnected", func() bool { return b.az.Allowed(ctx, "user", "/reports", "GET") })
	waitBackends(t, a.db, app+"_b", "b's new listener", func(p []int) bool { return len(p) == 1 && p[0] != old[0] })
	if _, err := a.az.Revoke(ctx, "user", "/reports", "GET"); err != nil {
		t.Fatal(err)
	}
	within(t, time.Second, "a revocation after the reconnection", func() bool { return !b.az.Allowed(ctx, "user", "/reports", "GET") })

	// Who changed what is in the table.
	all, err := b.az.Rules(ctx, rbac.Filter{Inactive: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range all {
		if r.CreatedBy != "1" || r.UpdatedBy != "1" {
			t.Errorf("%s: created_by %q, updated_by %q, want 1", r.Line(), r.CreatedBy, r.UpdatedBy)
		}
	}
}
