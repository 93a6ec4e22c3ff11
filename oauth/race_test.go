package oauth_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/cedrina/cedrina/internal/testkit"
	"github.com/cedrina/cedrina/oauth"
)

// N parallel callbacks with one state: exactly one signs in.
func TestConcurrentReplay(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		e.oidc.SetUser(alice)
		cb := e.authorize("acme", e.begin("acme"))
		const n = 20
		errs := testkit.Race(n, func(int) error {
			_, err := e.svc.Complete(context.Background(), cb)
			return err
		})
		ok, replayed := 0, 0
		for _, err := range errs {
			var ce *oauth.CallbackError
			switch {
			case err == nil:
				ok++
			case errors.As(err, &ce) && ce.Reason == oauth.ReasonStateReplayed:
				replayed++
			default:
				t.Fatalf("unexpected error: %v", err)
			}
		}
		if ok != 1 || replayed != n-1 {
			t.Fatalf("%d succeeded, %d replayed; want 1 and %d", ok, replayed, n-1)
		}
		if e.oidc.TokenRequests() != 1 {
			t.Fatalf("%d token requests; want 1", e.oidc.TokenRequests())
		}
	})
}

// N first sign-ins of one new identity at once (a double-clicking user,
// several tabs): one account is made, and every flow signs it in.
func TestConcurrentSignUp(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		e := newEnv(t, b)
		e.oidc.SetUser(alice)
		const n = 10
		cbs := make([]oauth.Callback, n)
		for i := range cbs {
			cbs[i] = e.authorize("acme", e.begin("acme"))
		}
		ids := make([]int64, n)
		outcomes := map[oauth.Outcome]int{}
		var mu sync.Mutex
		for i, err := range testkit.Race(n, func(i int) error {
			res, err := e.svc.Complete(context.Background(), cbs[i])
			if err == nil {
				ids[i] = res.User.ID
				mu.Lock()
				outcomes[res.Outcome]++
				mu.Unlock()
			}
			return err
		}) {
			if err != nil {
				t.Fatalf("flow %d: %v", i, err)
			}
		}
		for i := range ids {
			if ids[i] != ids[0] {
				t.Fatalf("flows signed in users %d and %d", ids[0], ids[i])
			}
		}
		if outcomes[oauth.SignedUp] != 1 || outcomes[oauth.SignedIn] != n-1 {
			t.Fatalf("outcomes %v; want 1 signed_up, %d signed_in", outcomes, n-1)
		}
		ps, err := e.svc.Identities(context.Background(), ids[0])
		if err != nil || len(ps) != 1 {
			t.Fatalf("identities %v, %v", ps, err)
		}
	})
}
