// Package reset lets users who forgot their password set a new one
// through a link sent to their address.
//
//	resets, err := reset.NewService(db.Resets(), db, reset.Config{
//		Users:    users,    // *user.Service
//		Sessions: sessions, // *session.Service
//		Notifier: mailer,   // the host's notify.Notifier
//		URL:      "https://app.example.com/reset-password",
//		Recorder: auditSvc,
//	})
//	defer resets.Close(shutdownCtx)
//	err = resets.Request(ctx, email, reset.Meta{})            // always the same answer
//	err = resets.Confirm(ctx, token, newPassword, reset.Meta{}) // from the link's page
//
// The [Service] works on any [Store]; store/memory and store/postgres
// implement it on the password_reset_tokens table, and store/storetest
// checks them alike.
//
// # Requests
//
// [Service.Request] answers the same, in the same time, for every
// address: it checks the address's form and two rate limits, puts the
// request in a queue and returns. Looking the address up, issuing the
// token and sending the link happen on the service's own goroutines, so
// neither the database's answer nor the mail server's shows in the
// response time. For an active account a token of 32 random bytes is
// issued (unpadded base64url, 43 characters); only its SHA-256 is stored,
// with the client's IP address, user agent and the account's security
// stamp, and the account's older tokens are spent. The link is
// Config.URL with the token as its "token" query parameter, built from
// configuration only, never from a request header. A request never
// changes or locks the account.
//
// # Rate limits
//
// Requests are limited per client IP address (Config.PerClient, by
// default 20 an hour, an IPv6 client counted by its /64) and then per
// address asked for (Config.PerAddress, 3 an hour), whether or not an
// account has it, in fixed windows of the ratelimit package. A request
// over a limit gets a [*ratelimit.LimitedError] (errors.Is
// ratelimit.ErrLimited) naming the policy and carrying the state the
// RateLimit response headers report and when to retry; the HTTP layer
// answers 429. The counters live in Config.RateLimits, by default a
// memory store of the service's own: it counts in one process, so
// several app instances must share a store (store/postgres's or
// store/redisstore's), or each allows the whole limit. When the store
// fails, the request is refused with the store's error (matching
// store.ErrUnavailable where a retry may succeed), never let through
// unchecked. Config.NoRateLimit turns both limits off, for a host that
// applies its own and for tests.
//
// # Confirmation
//
// [Service.Confirm] first checks everything it can without writing: the
// token's form, that it is unspent and unexpired (30 minutes by default),
// that its account is active and unchanged since the token was issued
// (the security stamp: a password change or reset, a deactivation, a
// reactivation all void the account's tokens), and the new password
// against the policy; it hashes the password. A refused password leaves
// the token usable. Then one transaction spends the token, sets the hash
// (only if the security stamp is still the one read: the write carries
// its read), clears the lockout, spends the account's other tokens, ends
// every session and records password_reset_completed. If any step fails,
// all of it is undone and the token works again. After the commit the
// account's address is told that the password changed. The user is not
// signed in.
//
// A refused token is a [*TokenError] matching [ErrInvalidToken] with its
// reason (malformed, unknown, used, expired, superseded, inactive) for
// the host's logs; callers see one message for all of them.
//
// # Messages and shutdown
//
// Messages go to a [notify.Notifier] the host implements (its mailer);
// notify.Log is a development notifier that prints each link as one log
// line. [Service.Close] finishes the queued requests and messages, or,
// when its context ends first, drops the requests (logging each) and hands
// the unsent messages to Config.Queue.Undelivered. Tokens and links never
// reach a log line, an audit event or an error string of this package.
//
// # Cleanup
//
// Spent and expired tokens are deleted by [Cleanup] (or `cedrina
// cleanup`), a batch at a time.
package reset
