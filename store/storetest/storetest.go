package storetest

import (
	"errors"
	"testing"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/testkit"
	"github.com/cedrina/cedrina/oauth"
	"github.com/cedrina/cedrina/ratelimit"
	"github.com/cedrina/cedrina/rbac"
	"github.com/cedrina/cedrina/reset"
	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/user"
)

// Stores is one set of fresh, empty stores of one adapter, sharing one
// database, and the Transactor that spans them. A suite for a nil field
// is skipped, so an adapter may implement only some stores.
type Stores struct {
	Tx         store.Transactor
	Users      user.Store
	Audit      audit.Store
	Sessions   session.Store
	Resets     reset.Store
	RateLimits ratelimit.Store
	Rules      rbac.Store
	OAuth      oauth.Store
}

// Factory returns fresh, empty stores for one test. It is called once per
// subtest, possibly from parallel subtests, and should register its
// cleanup with t.Cleanup.
type Factory func(t *testing.T) Stores

// Run runs every suite for which newStores provides a store.
func Run(t *testing.T, newStores Factory) {
	t.Run("Users", func(t *testing.T) { RunUserStore(t, newStores) })
	t.Run("Transactor", func(t *testing.T) { RunTransactor(t, newStores) })
	t.Run("Audit", func(t *testing.T) { RunAuditStore(t, newStores) })
	t.Run("Sessions", func(t *testing.T) { RunSessionStore(t, newStores) })
	t.Run("Resets", func(t *testing.T) { RunResetStore(t, newStores) })
	t.Run("RateLimits", func(t *testing.T) { RunRateLimitStore(t, newStores) })
	t.Run("OAuth", func(t *testing.T) { RunOAuthStore(t, newStores) })
	t.Run("Rules", func(t *testing.T) {
		RunRuleStore(t, func(t *testing.T) rbac.Store {
			s := newStores(t)
			if s.Rules == nil {
				t.Skip("storetest: the adapter does not provide this store")
			}
			return s.Rules
		})
	})
}

// subtests runs each case in parallel with fresh stores, skipping when
// the factory's stores lack what the case needs.
func subtests(t *testing.T, newStores Factory, need func(Stores) bool, cases map[string]func(*testing.T, Stores)) {
	t.Helper()
	for name, fn := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newStores(t)
			if !need(s) {
				t.Skip("storetest: the adapter does not provide this store")
			}
			fn(t, s)
		})
	}
}

// race calls fn(0), ..., fn(n-1) on n goroutines released at once and
// returns their errors, in order.
var race = testkit.Race

// oneWinner checks that exactly one of errs is nil and every other
// matches loser, and returns the winner's index. what names the callers
// in failure messages ("writers").
func oneWinner(t *testing.T, what string, errs []error, loser error) int {
	t.Helper()
	won, lost := -1, 0
	for i, err := range errs {
		switch {
		case err == nil:
			if won >= 0 {
				t.Fatalf("%s %d and %d both succeeded", what, won, i)
			}
			won = i
		case errors.Is(err, loser):
			lost++
		default:
			t.Fatalf("%s %d: %v", what, i, err)
		}
	}
	if won < 0 || lost != len(errs)-1 {
		t.Fatalf("%d %s: winner %d, %d refused with %v; want one winner and %d refused", len(errs), what, won, lost, loser, len(errs)-1)
	}
	return won
}
