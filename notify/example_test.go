package notify_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/cedrina/cedrina/notify"
)

// The development notifier prints each message as one log line, link
// included.
func ExampleLog() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // a fixed output for the example
			}
			return a
		},
	}))
	n := notify.Log(logger)
	n.Notify(context.Background(), notify.Message{
		Kind: notify.PasswordReset, To: "alice@example.com", UserID: 1,
		Link:      "https://app.example.com/reset-password?token=abc",
		ExpiresAt: time.Date(2026, 11, 29, 12, 30, 0, 0, time.UTC),
	})
	// Output:
	// level=INFO msg="notify: development notifier (not sent)" kind=password_reset to=alice@example.com user_id=1 link="https://app.example.com/reset-password?token=abc" expires_at=2026-11-29T12:30:00.000Z
}

// A host's mailer is a Notifier; a Message printed by accident hides its
// link.
func ExampleFunc() {
	mailer := notify.Func(func(ctx context.Context, m notify.Message) error {
		// Render a template and hand it to the mail server here.
		fmt.Println("sending", m)
		return nil
	})
	mailer.Notify(context.Background(), notify.Message{Kind: notify.VerifyEmail, To: "bob@example.com", UserID: 2,
		Link: "https://app.example.com/verify-email?token=secret"})
	// Output:
	// sending verify_email message to bob@example.com (user 2) link=[redacted]
}
