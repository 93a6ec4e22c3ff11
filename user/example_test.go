package user_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/user"
)

func Example() {
	ctx := context.Background()
	users, err := user.NewService(memory.New().Users(), user.Config{})
	if err != nil {
		panic(err)
	}
	u, err := users.Register(ctx, user.Registration{
		Username: "Alice",
		Email:    "Alice@Example.COM",
		Password: "correct horse battery staple",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(u.Username, u.Email, u.Role, u.Tier)

	if _, err := users.Authenticate(ctx, "alice@example.com", "correct horse battery staple"); err == nil {
		fmt.Println("logged in")
	}

	_, err = users.Authenticate(ctx, "alice", "wrong password")
	var ae *user.AuthError
	if errors.Is(err, user.ErrInvalidCredentials) && errors.As(err, &ae) {
		fmt.Println(err, "/", ae.Reason, "attempt", ae.Attempts)
	}
	// Output:
	// alice alice@example.com USER FREE
	// logged in
	// user: invalid credentials / wrong_password attempt 1
}

func ExamplePasswordPolicy_Check() {
	var policy user.PasswordPolicy // the default: 8 to 128 code points, blocklist on
	for _, pw := range []string{"short", "iloveyou1", "alice-smith", "a long and unusual passphrase"} {
		err := policy.Check(context.Background(), pw, user.PasswordContext{Username: "alice-smith"})
		var pe *user.PasswordError
		if errors.As(err, &pe) {
			fmt.Println(pe.Reason)
		} else {
			fmt.Println("ok")
		}
	}
	// Output:
	// too short
	// too common
	// matches a context word
	// ok
}
