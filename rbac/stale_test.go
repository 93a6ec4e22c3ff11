package rbac

import (
	"context"
	"testing"

	"github.com/casbin/casbin/v2"
)

// TestNeverStale puts the Authorizer beside Casbin's cached enforcer on
// one policy and removes a role link from both: the cached enforcer goes
// on allowing from its cache; the Authorizer denies on the next check.
func TestNeverStale(t *testing.T) {
	ctx := context.Background()
	rules := []Rule{
		{Type: "p", Values: []string{"admin", "/admin/*", "*"}, Active: true},
		{Type: "g", Values: []string{"user:1", "admin"}, Active: true},
	}
	m, _ := RBAC().casbin()
	cached, err := casbin.NewSyncedCachedEnforcer(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := loadRules(cached.GetModel(), rules); err != nil {
		t.Fatal(err)
	}
	cached.BuildRoleLinks()
	st := NewMemoryStore()
	a, err := New(ctx, Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	if _, err := a.AddRules(ctx, rules...); err != nil {
		t.Fatal(err)
	}
	if ok, _ := cached.Enforce("user:1", "/admin/users", "DELETE"); !ok || !a.Allowed(ctx, "user:1", "/admin/users", "DELETE") {
		t.Fatal("not allowed before the removal")
	}
	if _, err := cached.DeleteRoleForUser("user:1", "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.RemoveRole(ctx, "user:1", "admin"); err != nil {
		t.Fatal(err)
	}
	if a.Allowed(ctx, "user:1", "/admin/users", "DELETE") {
		t.Fatal("the Authorizer allows after the role link was removed")
	}
	stale, _ := cached.Enforce("user:1", "/admin/users", "DELETE")
	t.Logf("Casbin's SyncedCachedEnforcer after the removal: allowed = %v", stale)
}
