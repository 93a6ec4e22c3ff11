// Package notify is how the SDK asks the host to tell a user something:
// a password reset link, an address verification link, a notice that the
// password or the address changed. The host sends the mail (or text, or
// push) by implementing [Notifier]; the services call it from their own
// goroutines, never on the request path, and hand over what they could not
// send at shutdown.
//
// [Log] is a Notifier for development: it writes each message, link
// included, as one log line. It is the only place in the SDK where a link
// or token is ever written out; never use it in production.
package notify

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Kind says what a message is about.
type Kind string

// The kinds of message the SDK sends.
const (
	// PasswordReset carries the link to set a new password (Link, valid
	// until ExpiresAt).
	PasswordReset Kind = "password_reset"
	// PasswordChanged tells the user that the account's password was
	// reset; no link.
	PasswordChanged Kind = "password_changed"
	// VerifyEmail carries the link that verifies the address To (Link,
	// valid until ExpiresAt).
	VerifyEmail Kind = "verify_email"
	// EmailChanged tells the account's previous address (To) that the
	// account now uses another one; no link.
	EmailChanged Kind = "email_changed"
)

// Message is one message to a user. Link, when set, is a secret: whoever
// holds it can act for the user until ExpiresAt. Message's String,
// GoString and LogValue leave it out, so a message that reaches a log or
// an error by accident does not leak it.
type Message struct {
	Kind Kind
	// To is the recipient's address.
	To string
	// UserID and Username name the account.
	UserID   int64
	Username string
	// Link is the URL the user follows (PasswordReset, VerifyEmail).
	Link string
	// ExpiresAt is when Link stops working.
	ExpiresAt time.Time
	// Time is when what the message reports happened.
	Time time.Time
}

// String describes m without its link.
func (m Message) String() string {
	link := ""
	if m.Link != "" {
		link = " link=[redacted]"
	}
	return fmt.Sprintf("%s message to %s (user %d)%s", m.Kind, m.To, m.UserID, link)
}

// GoString is String, so %#v hides the link too.
func (m Message) GoString() string { return "notify.Message(" + m.String() + ")" }

// LogValue logs m without its link.
func (m Message) LogValue() slog.Value {
	return slog.GroupValue(slog.String("kind", string(m.Kind)), slog.String("to", m.To),
		slog.Int64("user_id", m.UserID), slog.Bool("has_link", m.Link != ""))
}

// Notifier delivers messages. Notify is called from the services' worker
// goroutines with a context that ends after their send timeout; an error
// is logged (without the link) and the message handed to the service's
// Undelivered function. Notify must be safe for concurrent use.
type Notifier interface {
	Notify(ctx context.Context, m Message) error
}

// Func is a function that is a Notifier.
type Func func(ctx context.Context, m Message) error

// Notify calls f.
func (f Func) Notify(ctx context.Context, m Message) error { return f(ctx, m) }

// Log returns a Notifier for development that writes one line per
// message to l at Info level: the kind, the recipient, the user and the
// link. The link is a secret: this Notifier is the one place that prints
// it, on purpose, so that a developer can follow it without a mail
// server. Never use it in production.
func Log(l *slog.Logger) Notifier {
	return Func(func(ctx context.Context, m Message) error {
		attrs := []slog.Attr{slog.String("kind", string(m.Kind)), slog.String("to", m.To), slog.Int64("user_id", m.UserID)}
		if m.Link != "" {
			attrs = append(attrs, slog.String("link", m.Link), slog.Time("expires_at", m.ExpiresAt))
		}
		l.LogAttrs(ctx, slog.LevelInfo, "notify: development notifier (not sent)", attrs...)
		return nil
	})
}

// Undelivered is the function a service hands a message to when the
// message could not be sent: its Notifier failed (err is that failure),
// or the service closed before it was sent (err matches the context's
// error). A host that keeps an outbox stores the message there to send it
// later. Messages to be handed over carry their link: keep them as
// secret as the tokens they hold.
type Undelivered func(m Message, err error)

// LogUndelivered returns the default Undelivered: one Error-level line on
// l per message, without its link.
func LogUndelivered(l *slog.Logger) Undelivered {
	return func(m Message, err error) {
		l.LogAttrs(context.Background(), slog.LevelError, "notify: message not sent",
			slog.Any("message", m), slog.String("error", Scrub(m, err)))
	}
}

// Scrub returns err's text with m's link, and the token in it, replaced
// by "[redacted]": a mailer's error may quote the message it refused.
func Scrub(m Message, err error) string {
	s := err.Error()
	if m.Link == "" {
		return s
	}
	s = strings.ReplaceAll(s, m.Link, "[redacted]")
	if u, perr := url.Parse(m.Link); perr == nil {
		for _, vs := range u.Query() {
			for _, v := range vs {
				if len(v) >= 16 { // a secret, not "en"
					s = strings.ReplaceAll(s, v, "[redacted]")
				}
			}
		}
	}
	return s
}
