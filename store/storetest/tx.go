package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/cedrina/cedrina/user"
)

// RunTransactor checks a [store.Transactor] together with the stores it
// spans: commit, rollback on error and on panic, nesting, and concurrent
// transactions.
func RunTransactor(t *testing.T, newStores Factory) {
	subtests(t, newStores, func(s Stores) bool { return s.Tx != nil && s.Users != nil }, txCases)
}

var txCases = map[string]func(*testing.T, Stores){
	"Commit":                 testTxCommit,
	"RollbackOnError":        testTxRollbackOnError,
	"RollbackOnPanic":        testTxRollbackOnPanic,
	"NestedJoinsOuter":       testTxNested,
	"ConcurrentTransactions": testTxConcurrent,
}

var errAbort = errors.New("storetest: abort")

func exists(t *testing.T, s Stores, name string) bool {
	t.Helper()
	_, err := s.Users.ByUsername(context.Background(), user.Username(name))
	switch {
	case err == nil:
		return true
	case errors.Is(err, user.ErrNotFound):
		return false
	}
	t.Fatalf("ByUsername(%q): %v", name, err)
	return false
}

func testTxCommit(t *testing.T, s Stores) {
	err := s.Tx.InTx(context.Background(), func(ctx context.Context) error {
		u := NewUser("commit1")
		if err := s.Users.Create(ctx, u); err != nil {
			return err
		}
		// The transaction reads its own writes.
		if _, err := s.Users.ByID(ctx, u.ID); err != nil {
			return fmt.Errorf("reading own write: %w", err)
		}
		_, err := s.Users.SetRole(ctx, u.ID, user.RoleAdmin, base)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.Users.ByUsername(context.Background(), "commit1")
	if err != nil || u.Role != user.RoleAdmin {
		t.Fatalf("after commit: %+v, %v", u, err)
	}
}

// changeEverything makes several kinds of change inside ctx's transaction:
// two inserts and an update of a row that existed before.
func changeEverything(ctx context.Context, s Stores, prefix string, existing int64) error {
	for _, n := range []string{prefix + "a", prefix + "b"} {
		if err := s.Users.Create(ctx, NewUser(n)); err != nil {
			return err
		}
	}
	if _, err := s.Users.SetTier(ctx, existing, user.TierEnterprise, base); err != nil {
		return err
	}
	if _, _, err := s.Users.AdmitLogin(ctx, existing, base, user.LockoutPolicy{}); err != nil {
		return err
	}
	return nil
}

func checkUnchanged(t *testing.T, s Stores, prefix string, existing *user.User) {
	t.Helper()
	for _, n := range []string{prefix + "a", prefix + "b"} {
		if exists(t, s, n) {
			t.Errorf("%s survived the rollback", n)
		}
	}
	got, err := s.Users.ByID(context.Background(), existing.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Tier != existing.Tier || got.FailedLoginAttempts != existing.FailedLoginAttempts {
		t.Errorf("update survived the rollback: tier %s, attempts %d", got.Tier, got.FailedLoginAttempts)
	}
}

func testTxRollbackOnError(t *testing.T, s Stores) {
	existing := mustCreate(t, s.Users, NewUser("before"))
	err := s.Tx.InTx(context.Background(), func(ctx context.Context) error {
		if err := changeEverything(ctx, s, "rb", existing.ID); err != nil {
			return err
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("InTx returned %v, want fn's error", err)
	}
	checkUnchanged(t, s, "rb", existing)
	// A failed store call inside the transaction rolls back too.
	err = s.Tx.InTx(context.Background(), func(ctx context.Context) error {
		if err := s.Users.Create(ctx, NewUser("rbc")); err != nil {
			return err
		}
		return s.Users.Create(ctx, NewUser("before")) // duplicate
	})
	if !errors.Is(err, user.ErrUsernameTaken) {
		t.Fatalf("InTx returned %v, want ErrUsernameTaken", err)
	}
	if exists(t, s, "rbc") {
		t.Error("rbc survived the rollback")
	}
	// The store still works after a rollback.
	mustCreate(t, s.Users, NewUser("after"))
}

func testTxRollbackOnPanic(t *testing.T, s Stores) {
	existing := mustCreate(t, s.Users, NewUser("before"))
	func() {
		defer func() {
			if r := recover(); r != "storetest panic" {
				t.Errorf("recovered %v, want the panic to go on", r)
			}
		}()
		s.Tx.InTx(context.Background(), func(ctx context.Context) error {
			if err := changeEverything(ctx, s, "pn", existing.ID); err != nil {
				t.Error(err)
			}
			panic("storetest panic")
		})
	}()
	checkUnchanged(t, s, "pn", existing)
	mustCreate(t, s.Users, NewUser("after"))
}

func testTxNested(t *testing.T, s Stores) {
	existing := mustCreate(t, s.Users, NewUser("before"))
	// The inner call joins: its error rolls back the outer work too.
	err := s.Tx.InTx(context.Background(), func(ctx context.Context) error {
		if err := s.Users.Create(ctx, NewUser("outer1")); err != nil {
			return err
		}
		return s.Tx.InTx(ctx, func(ctx context.Context) error {
			if err := changeEverything(ctx, s, "in1", existing.ID); err != nil {
				return err
			}
			return errAbort
		})
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("InTx returned %v, want the inner error", err)
	}
	if exists(t, s, "outer1") {
		t.Error("outer1 survived the rollback")
	}
	checkUnchanged(t, s, "in1", existing)

	// The inner call succeeds, the outer fails: nothing was committed by
	// the inner call.
	err = s.Tx.InTx(context.Background(), func(ctx context.Context) error {
		if err := s.Tx.InTx(ctx, func(ctx context.Context) error {
			return changeEverything(ctx, s, "in2", existing.ID)
		}); err != nil {
			return err
		}
		if _, err := s.Users.ByUsername(ctx, "in2a"); err != nil {
			t.Error("the outer transaction does not see the inner write")
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("InTx returned %v, want the outer error", err)
	}
	checkUnchanged(t, s, "in2", existing)

	// Both succeed: everything is committed.
	err = s.Tx.InTx(context.Background(), func(ctx context.Context) error {
		if err := s.Users.Create(ctx, NewUser("outer3")); err != nil {
			return err
		}
		return s.Tx.InTx(ctx, func(ctx context.Context) error { return s.Users.Create(ctx, NewUser("inner3")) })
	})
	if err != nil {
		t.Fatal(err)
	}
	if !exists(t, s, "outer3") || !exists(t, s, "inner3") {
		t.Error("nested commit lost a write")
	}
}

// testTxConcurrent runs 20 transactions at once; the odd ones fail. Exactly
// the even ones' users exist afterwards.
func testTxConcurrent(t *testing.T, s Stores) {
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Tx.InTx(context.Background(), func(ctx context.Context) error {
				for _, suffix := range []string{"x", "y"} {
					if err := s.Users.Create(ctx, NewUser(fmt.Sprintf("c%d%s", i, suffix))); err != nil {
						return err
					}
				}
				if i%2 == 1 {
					return errAbort
				}
				return nil
			})
			if (i%2 == 1) != errors.Is(err, errAbort) || (i%2 == 0 && err != nil) {
				t.Errorf("transaction %d: %v", i, err)
			}
		}()
	}
	wg.Wait()
	for i := range n {
		for _, suffix := range []string{"x", "y"} {
			name := fmt.Sprintf("c%d%s", i, suffix)
			if got, want := exists(t, s, name), i%2 == 0; got != want {
				t.Errorf("%s exists = %v, want %v", name, got, want)
			}
		}
	}
}
