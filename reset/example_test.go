package reset_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"github.com/cedrina/cedrina/notify"
	"github.com/cedrina/cedrina/reset"
	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/user"
)

// The whole flow on the in-memory store: a request for a known and an
// unknown address (the same answer), the link the known one receives,
// and the reset it allows once.
func Example() {
	ctx := context.Background()
	db := memory.New()
	users, err := user.NewService(db.Users(), user.Config{})
	if err != nil {
		panic(err)
	}
	// The host's mailer; here it hands the reset links to the example.
	links := make(chan notify.Message, 1)
	mailer := notify.Func(func(_ context.Context, m notify.Message) error {
		if m.Kind == notify.PasswordReset {
			links <- m
		}
		return nil
	})
	resets, err := reset.NewService(db.Resets(), db, reset.Config{
		Users: users, Notifier: mailer, URL: "https://app.example.com/reset-password",
	})
	if err != nil {
		panic(err)
	}
	defer resets.Close(ctx)

	if _, err := users.Register(ctx, user.Registration{Username: "alice", Email: "alice@example.com", Password: "correct horse battery staple"}); err != nil {
		panic(err)
	}
	fmt.Println(resets.Request(ctx, "alice@example.com", reset.Meta{}))
	fmt.Println(resets.Request(ctx, "nobody@example.com", reset.Meta{}))

	m := <-links
	link, _ := url.Parse(m.Link)
	fmt.Println(m.To, link.Host+link.Path)
	token := link.Query().Get("token")

	fmt.Println(resets.Confirm(ctx, token, "a new and long passphrase", reset.Meta{}))
	_, err = users.Login(ctx, "alice", "a new and long passphrase")
	fmt.Println(err)
	err = resets.Confirm(ctx, token, "yet another passphrase", reset.Meta{})
	fmt.Println(errors.Is(err, reset.ErrInvalidToken), err)
	// Output:
	// <nil>
	// <nil>
	// alice@example.com app.example.com/reset-password
	// <nil>
	// <nil>
	// true reset: invalid or expired token (used)
}
