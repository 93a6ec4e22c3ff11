package reset

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/netip"
	"net/url"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/batch"
	"github.com/cedrina/cedrina/internal/errs"
	"github.com/cedrina/cedrina/internal/secret"
	"github.com/cedrina/cedrina/notify"
	"github.com/cedrina/cedrina/ratelimit"
	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/user"
)

// Users is what the reset flow needs of the accounts. *user.Service
// implements it.
type Users interface {
	Get(ctx context.Context, id int64) (*user.User, error)
	GetByEmail(ctx context.Context, email string) (*user.User, error)
	PreparePassword(ctx context.Context, u *user.User, password string) (string, error)
	SetPasswordHash(ctx context.Context, id int64, hash string, stamp int64) error
}

// Config configures a [Service]. Users, Notifier and URL are required;
// the zero value of every other field is a safe default.
type Config struct {
	// Users reads accounts and sets their password: the application's
	// *user.Service, on the same database as the reset store.
	Users Users
	// Sessions ends the user's sessions inside the reset's transaction:
	// the application's *session.Service, on the same database. Without
	// it sessions end all the same (their security stamp no longer
	// matches the user's), but no session_revoked event is recorded.
	Sessions user.SessionEnder
	// Notifier sends the reset link and the notice that the password
	// changed, from the service's own goroutines (see Queue); call
	// [Service.Close] at shutdown.
	Notifier notify.Notifier
	// Queue configures the goroutines that handle requests and send
	// messages. Its Timeout bounds each request's handling.
	Queue notify.QueueConfig
	// URL is the address of the host's page that takes the token, as its
	// "token" query parameter (other parameters are kept):
	// "https://app.example.com/reset-password". Links are built from it
	// and nothing else, never from a request's Host header. Absolute,
	// http or https, without a fragment.
	URL string
	// TTL is how long a token can be used. Default 30 minutes; at most 24
	// hours.
	TTL time.Duration
	// RateLimits keeps the counters of PerAddress and PerClient. Default:
	// a ratelimit.NewMemoryStore of the service's own, which counts in
	// this process only: several app instances behind one load balancer
	// would each allow the whole limit, so give them a store they share
	// (store/postgres's, or store/redisstore's), the one the host's other
	// limits use (policy names keep their counters apart).
	RateLimits ratelimit.Store
	// PerAddress limits requests per address asked for, whether or not an
	// account has it (keyed "address:" and the address in its canonical
	// form, so its case does not matter). The zero Policy is the default,
	// ratelimit.PerHour("password_forgot_address", 3); any other policy
	// replaces it whole, and must be valid.
	PerAddress ratelimit.Policy
	// PerClient limits requests per client IP address (ratelimit.IPKey:
	// an IPv6 client by its /64), from Meta.ClientIP or the
	// audit.RequestInfo in the context; a request without one is not
	// counted by it. The zero Policy is the default,
	// ratelimit.PerHour("password_forgot_client", 20).
	PerClient ratelimit.Policy
	// NoRateLimit turns PerAddress and PerClient off. Only for a host that
	// limits these requests in front of the service, and for tests:
	// without a limit, anyone can fill an address's mailbox with reset
	// links.
	NoRateLimit bool
	// Recorder receives password_reset_requested and
	// password_reset_completed. A failure to record the completion undoes
	// the reset (the event is part of its transaction when the recorder
	// writes to the same database synchronously, as *audit.Service does).
	Recorder audit.Recorder
	// Logger receives operational messages (never tokens or links).
	// Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Meta describes the request a reset is asked for or confirmed from.
// Zero fields are taken from the audit.RequestInfo in the context.
type Meta struct {
	ClientIP  netip.Addr
	UserAgent string
}

// Service runs the reset flow. It is safe for concurrent use.
type Service struct {
	store      Store
	tx         store.Transactor
	users      Users
	sessions   user.SessionEnder
	out        *notify.Queue
	base       *url.URL
	ttl        time.Duration
	perAddress *ratelimit.Limiter // nil: not limited
	perClient  *ratelimit.Limiter
	rec        audit.Recorder
	log        *slog.Logger
	now        func() time.Time
}

// NewService returns a Service on st, whose multi-step changes run in
// transactions of tx: the database that holds st, the users and the
// sessions (a *memory.DB or *postgres.DB). It validates cfg and names the
// bad field in its error.
func NewService(st Store, tx store.Transactor, cfg Config) (*Service, error) {
	switch {
	case st == nil:
		return nil, errs.Configf("reset", "NewService", "nil Store")
	case tx == nil:
		return nil, errs.Configf("reset", "NewService", "nil Transactor")
	case cfg.Users == nil:
		return nil, errs.Configf("reset", "Config.Users", "required")
	case cfg.Notifier == nil:
		return nil, errs.Configf("reset", "Config.Notifier", "required")
	}
	base, err := secret.ParseBase(cfg.URL)
	if err != nil {
		return nil, errs.ConfigErr("reset", "Config.URL", err)
	}
	s := &Service{store: st, tx: tx, users: cfg.Users, sessions: cfg.Sessions, base: base, ttl: cfg.TTL,
		rec: cfg.Recorder, log: cfg.Logger, now: cfg.Now}
	switch {
	case s.ttl == 0:
		s.ttl = 30 * time.Minute
	case s.ttl < time.Minute || s.ttl > 24*time.Hour:
		return nil, errs.Configf("reset", "Config.TTL", "%v is outside 1m..24h", s.ttl)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if !cfg.NoRateLimit {
		if s.perAddress, s.perClient, err = limiters(cfg, s.now); err != nil {
			return nil, err
		}
	}
	if cfg.Queue.Logger == nil {
		cfg.Queue.Logger = s.log
	}
	if s.out, err = notify.NewQueue(cfg.Notifier, cfg.Queue); err != nil {
		return nil, errs.ConfigErr("reset", "Config.Queue", err)
	}
	return s, nil
}

// Close stops the goroutines that handle requests and send messages,
// after finishing what is queued, or when ctx ends: then the requests
// not handled are dropped (each logged), the messages not sent go to
// Config.Queue.Undelivered, and Close returns ctx's error. Give it a fresh
// context with a timeout at shutdown.
func (s *Service) Close(ctx context.Context) error {
	if err := s.out.Close(ctx); err != nil {
		return errs.Wrap("reset", "close", err)
	}
	return nil
}

// clock returns the current time as the stores keep it.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

func (s *Service) meta(ctx context.Context, m Meta) Meta {
	if info, ok := audit.RequestInfoFromContext(ctx); ok {
		if !m.ClientIP.IsValid() {
			m.ClientIP = info.ClientIP
		}
		if m.UserAgent == "" {
			m.UserAgent = info.UserAgent
		}
	}
	return m
}

// The default rate limits of Request (see Config.PerAddress and
// Config.PerClient).
var (
	defaultPerAddress = ratelimit.PerHour("password_forgot_address", 3)
	defaultPerClient  = ratelimit.PerHour("password_forgot_client", 20)
)

// limiters builds the limiters of cfg's policies on its store, on the
// service's clock.
func limiters(cfg Config, now func() time.Time) (perAddress, perClient *ratelimit.Limiter, err error) {
	st := cfg.RateLimits
	if st == nil {
		if st, err = ratelimit.NewMemoryStore(ratelimit.MemoryConfig{}); err != nil {
			return nil, nil, errs.ConfigErr("reset", "Config.RateLimits", err)
		}
	}
	build := func(field string, p, def ratelimit.Policy) (*ratelimit.Limiter, error) {
		if p == (ratelimit.Policy{}) {
			p = def
		}
		l, err := ratelimit.New(st, p, ratelimit.Config{Now: now})
		if err != nil {
			return nil, errs.Setting("reset", field, err)
		}
		return l, nil
	}
	if perAddress, err = build("Config.PerAddress", cfg.PerAddress, defaultPerAddress); err != nil {
		return nil, nil, err
	}
	if perClient, err = build("Config.PerClient", cfg.PerClient, defaultPerClient); err != nil {
		return nil, nil, err
	}
	return perAddress, perClient, nil
}

// ErrBusy is the error of a Request the service has no room for: too
// many requests wait to be handled, and this one was not taken. Try
// again later.
var ErrBusy = errs.Kind("reset: too many requests waiting", store.ErrUnavailable)

// Request asks for a reset link for the account with address email. It
// gives the same result, in the same time, whether or not an account has
// that address: it checks the address's form and the rate limits, queues
// the request and returns. The request is handled off the request path:
// for an active account with that address, a token of 32 random bytes is
// issued (only its SHA-256 stored, with the client's IP and user agent,
// the account's earlier tokens spent) and its link sent through the
// Notifier; for any other address nothing is sent. Either way a
// password_reset_requested event is recorded, with its outcome. Nothing
// about the account changes: a request never locks it or ends a session.
//
// The rate limits are checked per client IP first, then per address; a
// request the first refuses is not counted by the second.
//
// Errors: ErrInvalidEmail (user's) when email is not an address; a
// *ratelimit.LimitedError (errors.Is ratelimit.ErrLimited) naming the
// policy that refused the request, with its RateLimit-header state and
// when to retry; ErrBusy; the rate-limit store's failure (matching
// store.ErrUnavailable when the store says a retry may succeed): the
// request is then refused, never let through unchecked.
func (s *Service) Request(ctx context.Context, email string, m Meta) error {
	addr, err := user.ParseEmail(email)
	if err != nil {
		return err
	}
	m = s.meta(ctx, m)
	if s.perClient != nil && m.ClientIP.IsValid() {
		if err := allow(ctx, s.perClient, ratelimit.IPKey(m.ClientIP)); err != nil {
			return err
		}
	}
	if s.perAddress != nil {
		if err := allow(ctx, s.perAddress, "address:"+string(addr)); err != nil {
			return err
		}
	}
	// The job is dropped either before it ran, or after a run Close
	// cancelled: handle has then logged whatever it could not finish.
	ran := false
	err = s.out.Run(ctx, func(ctx context.Context) {
		s.handle(ctx, addr, m)
		ran = true
	}, func(reason error) {
		if !ran {
			s.log.Error("reset: a reset request was not handled before shutdown", "error", reason)
		}
	})
	if err != nil {
		s.log.ErrorContext(ctx, "reset: request not queued", "error", err)
		return ErrBusy
	}
	return nil
}

// allow counts one request under key with l: nil when l admits it, a
// *ratelimit.LimitedError when it does not, l's failure otherwise.
func allow(ctx context.Context, l *ratelimit.Limiter, key string) error {
	res, err := l.Allow(ctx, key)
	switch {
	case err != nil:
		return err // names the policy; matches store.ErrUnavailable where the store said so
	case !res.Allowed:
		return &ratelimit.LimitedError{Policy: l.Policy(), Result: res}
	}
	return nil
}

// handle does a queued request: the lookup, the token, the message.
func (s *Service) handle(ctx context.Context, addr user.Email, m Meta) {
	u, err := s.users.GetByEmail(ctx, string(addr))
	now := s.clock()
	switch {
	case errors.Is(err, user.ErrNotFound):
		s.record(ctx, audit.PasswordResetRequested, audit.Info, 0, now, m, map[string]any{"outcome": "unknown_address"})
		return
	case err != nil:
		s.log.ErrorContext(ctx, "reset: looking the address up failed", "error", err)
		return
	case !u.IsActive:
		s.record(ctx, audit.PasswordResetRequested, audit.Warning, u.ID, now, m, map[string]any{"outcome": "inactive"})
		return
	}
	token, hash := secret.New()
	stamp := u.SecurityStamp
	t := &Token{UserID: u.ID, TokenHash: hash, CreatedAt: now, ExpiresAt: now.Add(s.ttl),
		ClientIP: m.ClientIP, UserAgent: m.UserAgent, SecurityStamp: &stamp}
	if err := s.store.Issue(ctx, t); err != nil {
		s.log.ErrorContext(ctx, "reset: issuing a token failed", "user_id", u.ID, "error", err)
		return
	}
	s.record(ctx, audit.PasswordResetRequested, audit.Info, u.ID, now, m, map[string]any{"outcome": "issued"})
	s.out.Deliver(ctx, notify.Message{Kind: notify.PasswordReset, To: string(u.Email), UserID: u.ID,
		Username: string(u.Username), Link: secret.Link(s.base, token), ExpiresAt: t.ExpiresAt, Time: now})
}

// record sends an event about user id (0: none); a failure is logged.
func (s *Service) record(ctx context.Context, typ audit.EventType, sev audit.Severity, id int64, at time.Time, m Meta, data map[string]any) {
	if err := s.recordErr(ctx, typ, sev, id, at, m, data); err != nil {
		s.log.ErrorContext(ctx, "reset: recording an audit event failed", "event_type", string(typ), "user_id", id, "error", err)
	}
}

func (s *Service) recordErr(ctx context.Context, typ audit.EventType, sev audit.Severity, id int64, at time.Time, m Meta, data map[string]any) error {
	if s.rec == nil {
		return nil
	}
	e := audit.Event{Type: typ, Severity: sev, Time: at, Source: "reset", ClientIP: m.ClientIP, UserAgent: m.UserAgent, Data: data}
	if id != 0 {
		e.UserID = &id
	}
	return s.rec.Record(ctx, e)
}

// ErrInvalidToken is the one error a refused reset token gives, whatever
// the reason; a *TokenError says which.
var ErrInvalidToken = errors.New("reset: invalid or expired token")

// Reason says why a token was refused.
type Reason string

// The reasons a token is refused.
const (
	// Malformed: not a token as the service writes them (truncated,
	// padded, wrong alphabet or length).
	Malformed Reason = "malformed"
	// Unknown: no such token, or its account was deleted.
	Unknown Reason = "unknown"
	// Used: used for a reset, or replaced by a newer request.
	Used Reason = "used"
	// Expired: older than Config.TTL.
	Expired Reason = "expired"
	// Superseded: the account changed since the token was issued (its
	// password was changed or reset, or it was deactivated and
	// reactivated).
	Superseded Reason = "superseded"
	// Inactive: the account is deactivated.
	Inactive Reason = "inactive"
)

// TokenError is the error of a refused token. It matches
// [ErrInvalidToken]; Reason tells the host why, for its logs. Show
// callers one message for every reason.
type TokenError struct {
	Reason Reason
	// UserID is the token's account, 0 when unknown.
	UserID int64
}

func (e *TokenError) Error() string { return ErrInvalidToken.Error() + " (" + string(e.Reason) + ")" }

// Is makes errors.Is(err, ErrInvalidToken) hold.
func (e *TokenError) Is(target error) bool { return target == ErrInvalidToken }

// Confirm sets a new password with a reset token. The token is checked
// (its form, then the stored token: unspent, unexpired, its account
// active and unchanged since the token was issued) and the password
// checked against the policy and hashed before anything changes, so a
// weak password does not spend the token. Then, all or nothing in one
// transaction: the token is spent (single use: of concurrent calls with
// one token exactly one succeeds), the hash and password_changed_at are
// set and the lockout cleared only if the account is still as it was read
// (its security stamp), every other token of the account is spent, every
// session ended, and password_reset_completed recorded. If any step
// fails, nothing changes and the token can be used again. Afterwards the
// account's address is told that the password changed. The user is not
// logged in.
//
// A login with the old password that straddles Confirm leaves no session:
// the new stamp refuses its success and its session (see user.Service.Login).
//
// Errors: a *TokenError (errors.Is ErrInvalidToken); a *user.PasswordError
// (errors.Is user.ErrWeakPassword) when the policy refuses password; the
// errors of the steps in the transaction.
func (s *Service) Confirm(ctx context.Context, token, password string, m Meta) error {
	hash, ok := secret.Parse(token)
	if !ok {
		return &TokenError{Reason: Malformed}
	}
	m = s.meta(ctx, m)
	u, err := s.check(ctx, hash)
	if err != nil {
		return err
	}
	pw, err := s.users.PreparePassword(ctx, u, password)
	if err != nil {
		return err
	}
	now := s.clock()
	err = s.tx.InTx(ctx, func(ctx context.Context) error {
		t, err := s.store.Consume(ctx, hash, now)
		switch {
		case errors.Is(err, ErrNotFound):
			return &TokenError{Reason: Unknown}
		case errors.Is(err, ErrSpent):
			return spent(t, now)
		case err != nil:
			return errs.Wrap("reset", "spend token", err)
		}
		switch err := s.users.SetPasswordHash(ctx, u.ID, pw, u.SecurityStamp); {
		case errors.Is(err, user.ErrStale):
			return &TokenError{Reason: Superseded, UserID: u.ID}
		case errors.Is(err, user.ErrNotFound):
			return &TokenError{Reason: Unknown}
		case err != nil:
			return errs.Wrap("reset", "set password", err)
		}
		if _, err := s.store.InvalidateUser(ctx, u.ID, now); err != nil {
			return errs.Wrap("reset", "spend the other tokens", err)
		}
		ended := 0
		if s.sessions != nil {
			if ended, err = s.sessions.RevokeAll(ctx, u.ID, 0); err != nil {
				return errs.Wrap("reset", "end sessions", err)
			}
		}
		if err := s.recordErr(ctx, audit.PasswordResetCompleted, audit.Warning, u.ID, now, m, map[string]any{"sessions_ended": ended}); err != nil {
			return errs.Wrap("reset", "record", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	s.out.Send(ctx, notify.Message{Kind: notify.PasswordChanged, To: string(u.Email), UserID: u.ID, Username: string(u.Username), Time: now})
	return nil
}

// check reads the token with hash and its account, and refuses what
// cannot be used now.
func (s *Service) check(ctx context.Context, hash string) (*user.User, error) {
	t, err := s.store.ByHash(ctx, hash)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, &TokenError{Reason: Unknown}
	case err != nil:
		return nil, errs.Wrap("reset", "read token", err)
	}
	now := s.clock()
	if t.IsUsed || !t.ExpiresAt.After(now) {
		return nil, spent(t, now)
	}
	u, err := s.users.Get(ctx, t.UserID)
	switch {
	case errors.Is(err, user.ErrNotFound):
		return nil, &TokenError{Reason: Unknown}
	case err != nil:
		return nil, errs.Wrap("reset", "read account", err)
	case !u.IsActive:
		return nil, &TokenError{Reason: Inactive, UserID: u.ID}
	case t.SecurityStamp != nil && *t.SecurityStamp != u.SecurityStamp, t.CreatedAt.Before(u.PasswordChangedAt):
		return nil, &TokenError{Reason: Superseded, UserID: u.ID}
	}
	return u, nil
}

// spent is the refusal of a token that is used or expired.
func spent(t *Token, now time.Time) error {
	if t == nil {
		return &TokenError{Reason: Used}
	}
	if t.IsUsed {
		return &TokenError{Reason: Used, UserID: t.UserID}
	}
	if !t.ExpiresAt.After(now) {
		return &TokenError{Reason: Expired, UserID: t.UserID}
	}
	return &TokenError{Reason: Used, UserID: t.UserID}
}

// CleanupConfig configures [Cleanup]. Zero values are the defaults.
type CleanupConfig struct {
	// Batch is how many tokens one batch deletes. Default 1,000.
	Batch int
	// Pause between batches: 0 waits twice as long as the previous batch
	// took; negative does not wait.
	Pause time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Cleanup deletes the tokens that can no longer be used (spent or
// expired) from st, a batch at a time, until none is left or ctx ends,
// and returns how many it deleted. Run it from a background job or
// `cedrina cleanup`, not on a request path.
func Cleanup(ctx context.Context, st Store, cfg CleanupConfig) (int64, error) {
	n, err := batch.Expired(ctx, cfg.Batch, cfg.Pause, cfg.Now, func(at time.Time, size int) (int, error) {
		return st.DeleteExpired(ctx, at, size)
	})
	if err != nil {
		return n, errs.Wrap("reset", "cleanup", err)
	}
	return n, nil
}

// Cleanup deletes spent and expired tokens with the service's clock (see
// the function [Cleanup]).
func (s *Service) Cleanup(ctx context.Context, cfg CleanupConfig) (int64, error) {
	if cfg.Now == nil {
		cfg.Now = s.now
	}
	return Cleanup(ctx, s.store, cfg)
}
