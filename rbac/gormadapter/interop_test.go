package gormadapter_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/rbac"
	"github.com/cedrina/cedrina/rbac/gormadapter"
	"github.com/cedrina/cedrina/store/postgres"
)

// The tests below put the adapter beside Cedrina's own PostgreSQL rule
// store on one schema, as a host that moves from one to the other (or
// runs both) does. Only the tests import store/postgres.

// TestSameChannel: the adapter's default channel is the one the
// PostgreSQL rule store notifies on and its watcher listens on.
func TestSameChannel(t *testing.T) {
	if gormadapter.DefaultChannel != postgres.PolicyChannel {
		t.Fatalf("DefaultChannel %q, postgres.PolicyChannel %q", gormadapter.DefaultChannel, postgres.PolicyChannel)
	}
}

// bothStores returns the adapter and store/postgres's RuleStore on db,
// both notifying on ch.
func bothStores(t *testing.T, db *sql.DB, ch string) (*gormadapter.Adapter, *postgres.RuleStore) {
	t.Helper()
	a, err := gormadapter.New(db, gormadapter.Config{Channel: ch})
	if err != nil {
		t.Fatal(err)
	}
	pdb, err := postgres.NewFromSQL(db, postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := pdb.RulesOn(ch)
	if err != nil {
		t.Fatal(err)
	}
	return a, rs
}

// TestSharedLock: concurrent Adds of one rule, half through the adapter
// and half through store/postgres's RuleStore, leave one row and count
// one: both take the same advisory lock.
func TestSharedLock(t *testing.T) {
	db := migrated(t, "postgres")
	ch := channel(t)
	a, rs := bothStores(t, db, ch)
	stores := []rbac.Store{a, rs}
	for round := range 5 {
		r := mustRule(t, "p", fmt.Sprintf("user-%d", round), "data", "read")
		const racers = 20
		counts := make([]int, racers)
		errs := make([]error, racers)
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				counts[i], errs[i] = stores[i%2].Add(context.Background(), []rbac.Rule{r}, "", t0)
			})
		}
		wg.Wait()
		total := 0
		for i := range racers {
			if errs[i] != nil {
				t.Fatalf("Add %d: %v", i, errs[i])
			}
			total += counts[i]
		}
		got, err := a.Rules(context.Background(), rbac.Filter{Type: "p", Values: r.Values, Inactive: true})
		if err != nil {
			t.Fatal(err)
		}
		if total != 1 || len(got) != 1 {
			t.Fatalf("round %d: %d concurrent Adds through both stores counted %d and left %d rows, want 1 and 1", round, racers, total, len(got))
		}
	}
}

// TestPolicyWatcher: store/postgres's PolicyWatcher reports the
// adapter's changes.
func TestPolicyWatcher(t *testing.T) {
	db, url := migratedURL(t, "pgx")
	ch := channel(t)
	a, err := gormadapter.New(db, gormadapter.Config{Channel: ch})
	if err != nil {
		t.Fatal(err)
	}
	w, err := postgres.NewPolicyWatcher(url, postgres.WatcherConfig{Channel: ch})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	// A call that sees the rule (not one for a reconnection, say).
	changed := make(chan struct{}, 10)
	defer w.Subscribe(func() {
		if rules, err := a.Rules(context.Background(), rbac.Filter{}); err == nil && len(rules) == 1 {
			changed <- struct{}{}
		}
	})()
	if _, err := a.Add(context.Background(), []rbac.Rule{mustRule(t, "g", "alice", "admin")}, "", t0); err != nil {
		t.Fatal(err)
	}
	select {
	case <-changed:
	case <-time.After(10 * time.Second):
		t.Fatal("the watcher reported no change within 10 s")
	}
}

// within polls cond until it holds and fails the test after d: it waits
// for the other instance's watcher and reload, never for a fixed time.
func within(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
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
}

// authorizer returns an rbac.Authorizer on st that learns of changes
// elsewhere through store/postgres's PolicyWatcher on url and ch.
func authorizer(t *testing.T, st rbac.Store, url, ch string) *rbac.Authorizer {
	t.Helper()
	w, err := postgres.NewPolicyWatcher(url, postgres.WatcherConfig{Channel: ch})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	az, err := rbac.New(context.Background(), rbac.Config{Store: st, Watcher: w})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := az.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return az
}

// TestAuthorizersAcrossStores: two instances on one database, one on the
// adapter and one on store/postgres's RuleStore. A change on either is
// enforced on its own next check and on the other within two seconds.
func TestAuthorizersAcrossStores(t *testing.T) {
	db, url := migratedURL(t, "postgres")
	ch := channel(t)
	ga, rs := bothStores(t, db, ch)
	a := authorizer(t, ga, url, ch)
	b := authorizer(t, rs, url, ch)
	ctx := audit.ContextWithActor(context.Background(), audit.Actor{UserID: 1})

	if _, err := a.AddRules(ctx,
		rbac.Rule{Type: "p", Values: []string{"user", "/me", "GET"}},
		rbac.Rule{Type: "g", Values: []string{"admin", "user"}},
	); err != nil {
		t.Fatal(err)
	}
	within(t, 2*time.Second, "the grant through the adapter, on the other instance",
		func() bool { return b.Allowed(ctx, "admin", "/me", "GET") })

	if _, err := b.RemoveRole(ctx, "admin", "user"); err != nil {
		t.Fatal(err)
	}
	if b.Allowed(ctx, "admin", "/me", "GET") {
		t.Fatal("the instance that revoked still allows")
	}
	within(t, 2*time.Second, "the revocation through store/postgres, on the adapter's instance",
		func() bool { return !a.Allowed(ctx, "admin", "/me", "GET") })

	rules, err := a.Rules(ctx, rbac.Filter{Type: "p"})
	if err != nil || len(rules) != 1 {
		t.Fatalf("Rules = %v, %v", rules, err)
	}
	r, err := a.SetRuleActive(ctx, rules[0].ID, false)
	if err != nil {
		t.Fatal(err)
	}
	if r.UpdatedBy != "1" || a.Allowed(ctx, "user", "/me", "GET") {
		t.Fatalf("after SetRuleActive(false) through the adapter: %+v, still allowed %v", r, a.Allowed(ctx, "user", "/me", "GET"))
	}
	within(t, 2*time.Second, "the deactivation through the adapter, on the other instance",
		func() bool { return !b.Allowed(ctx, "user", "/me", "GET") })
}
