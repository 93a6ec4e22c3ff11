package store_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/user"
)

// A domain error matches both its own sentinel and the store's, and its
// message says it once: "user: username taken", not followed by "store:
// conflict". Code that handles every conflict alike tests for
// [store.ErrConflict]; code that tells a taken username from a taken
// email tests for the user package's sentinels.
func Example() {
	ctx := context.Background()
	db := memory.New()
	// A cheap hasher keeps the example fast; a real service keeps the
	// default (user.Config{}).
	hasher, err := user.NewHasher(user.HashConfig{Argon2id: user.Argon2idParams{Memory: 64, Time: 1}})
	if err != nil {
		panic(err)
	}
	users, err := user.NewService(db.Users(), user.Config{Hasher: hasher})
	if err != nil {
		panic(err)
	}
	reg := user.Registration{Username: "alice", Email: "alice@example.com", Password: "correct horse battery staple"}
	if _, err := users.Register(ctx, reg); err != nil {
		panic(err)
	}

	_, err = users.Register(ctx, user.Registration{Username: "Alice", Email: "other@example.com", Password: reg.Password})
	fmt.Println(err)
	fmt.Println(errors.Is(err, user.ErrUsernameTaken), errors.Is(err, store.ErrConflict), errors.Is(err, user.ErrEmailTaken))

	_, err = users.Get(ctx, 42)
	fmt.Println(err, errors.Is(err, user.ErrNotFound), errors.Is(err, store.ErrNotFound))

	key, err := session.GenerateKey(session.EdDSA, "k")
	if err != nil {
		panic(err)
	}
	keys, err := session.NewKeySet(key)
	if err != nil {
		panic(err)
	}
	sessions, err := session.NewService(db.Sessions(), session.Config{Keys: keys, Issuer: "https://auth.example.com", Audience: []string{"api"}})
	if err != nil {
		panic(err)
	}
	err = sessions.Revoke(ctx, 1, 99)
	fmt.Println(err, errors.Is(err, session.ErrNotFound), errors.Is(err, store.ErrNotFound))
	// Output:
	// user: username taken
	// true true false
	// user: not found true true
	// session: not found true true
}

// A third-party adapter reports a failure of the database itself (here a
// lost connection) so that it matches [store.ErrUnavailable], and callers
// know that retrying later may succeed; every other error is a refusal of
// the data, and retrying it is pointless.
func ExampleErrUnavailable() {
	driverErr := errors.New("read tcp 192.0.2.10:5432: connection reset by peer")
	err := fmt.Errorf("mystore: %w: %w", store.ErrUnavailable, driverErr)

	for _, err := range []error{err, user.ErrUsernameTaken} {
		if errors.Is(err, store.ErrUnavailable) {
			fmt.Println("retry later:", err)
		} else {
			fmt.Println("do not retry:", err)
		}
	}
	// Output:
	// retry later: mystore: store: unavailable: read tcp 192.0.2.10:5432: connection reset by peer
	// do not retry: user: username taken
}
