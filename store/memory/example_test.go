package memory_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/user"
)

// One DB holds every table; each service gets the store it needs.
func Example() {
	ctx := context.Background()
	db := memory.New()

	trail, err := audit.NewService(db.Audit(), audit.Config{})
	if err != nil {
		panic(err)
	}
	// A cheap hasher keeps the example fast; a real service keeps the
	// default (user.Config{}).
	hasher, err := user.NewHasher(user.HashConfig{Argon2id: user.Argon2idParams{Memory: 64, Time: 1}})
	if err != nil {
		panic(err)
	}
	users, err := user.NewService(db.Users(), user.Config{Hasher: hasher, Recorder: trail})
	if err != nil {
		panic(err)
	}
	// A generated key is lost with the process; see session.ParsePrivateKeyPEM.
	key, err := session.GenerateKey(session.EdDSA, "k")
	if err != nil {
		panic(err)
	}
	keys, err := session.NewKeySet(key)
	if err != nil {
		panic(err)
	}
	sessions, err := session.NewService(db.Sessions(), session.Config{Keys: keys, Issuer: "https://auth.example.com", Audience: []string{"api"}, Recorder: trail})
	if err != nil {
		panic(err)
	}

	u, err := users.Register(ctx, user.Registration{Username: "alice", Email: "alice@example.com", Password: "correct horse battery staple"})
	if err != nil {
		panic(err)
	}
	res, err := users.Login(ctx, "alice", "correct horse battery staple")
	if err != nil {
		panic(err)
	}
	if _, err := sessions.Start(ctx, res.User, session.Client{}); err != nil {
		panic(err)
	}
	live, err := sessions.List(ctx, u.ID)
	if err != nil {
		panic(err)
	}
	n, err := trail.Verify(ctx, 0, 0)
	fmt.Println("user", u.ID, "sessions", len(live), "audit events", n, err)
	// Output:
	// user 1 sessions 1 audit events 3 <nil>
}

// A transaction that fails leaves nothing behind: the user created inside
// it is gone. Store calls inside the transaction pass its context, tx.
func ExampleDB_InTx() {
	ctx := context.Background()
	db := memory.New()
	now := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	newUser := func(name string) *user.User {
		return &user.User{
			Username: user.Username(name), Email: user.Email(name + "@example.com"),
			HashedPassword: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
			IsActive:       true, Role: user.RoleUser, Tier: user.TierFree,
			CreatedAt: now, UpdatedAt: now, PasswordChangedAt: now,
		}
	}

	errAbort := errors.New("changed my mind")
	err := db.InTx(ctx, func(tx context.Context) error {
		u := newUser("bob")
		if err := db.Users().Create(tx, u); err != nil {
			return err
		}
		if _, err := db.Users().SetRole(tx, u.ID, user.RoleAdmin, now); err != nil {
			return err
		}
		return errAbort // rolls back both changes
	})
	fmt.Println("InTx:", err)
	_, err = db.Users().ByUsername(ctx, "bob")
	fmt.Println("bob:", err)

	err = db.InTx(ctx, func(tx context.Context) error {
		return db.Users().Create(tx, newUser("carol"))
	})
	fmt.Println("InTx:", err)
	carol, err := db.Users().ByUsername(ctx, "carol")
	fmt.Println("carol:", carol.Username, err)
	// Output:
	// InTx: changed my mind
	// bob: user: not found
	// InTx: <nil>
	// carol: carol <nil>
}
