package user

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/errs"
	"github.com/cedrina/cedrina/notify"
)

// Config configures a [Service]. The zero value is a safe default for
// every field.
type Config struct {
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives operational messages (never passwords, hashes or
	// tokens). Default: discard.
	Logger *slog.Logger
	// Hasher hashes new passwords and verifies stored ones. Default:
	// NewHasher(HashConfig{}): argon2id, m=19456 KiB, t=2, p=1, with as many
	// hashes at once as GOMAXPROCS.
	Hasher Hasher
	// Password is the policy for new passwords (length after NFKC, common
	// passwords, context words). Default: 8 to 128 code points, blocklist on.
	Password PasswordPolicy
	// Lockout locks an account after consecutive failed logins. Zero
	// Threshold means 5; a negative Threshold never locks (dangerous: it
	// leaves online guessing to rate limiting alone). Zero Duration means
	// 15 minutes.
	Lockout LockoutPolicy
	// DefaultRole and DefaultTier are given to new accounts that name
	// none. Default USER and FREE.
	DefaultRole Role
	DefaultTier Tier
	// Sessions, when set, ends the user's sessions: all of them after a
	// password change (changing a password ends the other sessions; the
	// host starts a fresh one for the client that changed it) and after
	// deactivation. *session.Service implements it. Without it sessions
	// end all the same, as their security stamp no longer matches the
	// user's, but no session_revoked event is recorded for them.
	Sessions SessionEnder
	// Legacy turns on the verification of password hashes carried over
	// from another system (see [LegacyConfig]). Default off.
	Legacy LegacyConfig
	// MinRefusalTime is the least time a refused login takes. Refusals
	// already take as long as the slowest password verification the
	// service has measured (see [Service.Login]); set this when
	// the store holds hashes slower than any the service has seen yet.
	// Default 0.
	MinRefusalTime time.Duration
	// Recorder receives the service's audit events (registration, login
	// success and failure with the reason, lockout, password change, role
	// and tier changes, deactivation, reactivation, deletion, address
	// change and verification). Default: none. A recorder's failure is logged, never returned: the account
	// operation it describes has already happened.
	Recorder audit.Recorder
	// Notifier sends the messages of email verification (the link) and
	// address changes (a notice to the previous address), from the
	// service's own goroutines; call [Service.Close] at shutdown. Default:
	// none, and RequestVerification returns ErrNoNotifier.
	Notifier notify.Notifier
	// Queue configures the goroutines that send through Notifier.
	Queue notify.QueueConfig
	// Verification configures email verification. Its URL is required
	// with Notifier.
	Verification VerificationConfig
}

// SessionEnder ends a user's sessions, except the one with id except (0:
// none). *session.Service implements it.
type SessionEnder interface {
	RevokeAll(ctx context.Context, userID, except int64) (int, error)
}

// Service manages accounts: registration, login with lockout, profile,
// role and tier, activation, password change and deletion. It is safe for
// concurrent use.
type Service struct {
	store   Store
	now     func() time.Time
	log     *slog.Logger
	hasher  Hasher
	policy  PasswordPolicy
	lockout LockoutPolicy
	role    Role
	tier    Tier
	rec     audit.Recorder
	ender   SessionEnder
	legacy  LegacyConfig
	pad     *refusalPad
	out     *notify.Queue // nil without a Notifier
	verify  VerificationConfig
	verURL  *url.URL

	dummy string // a hash of a random password, verified for unknown users
}

// NewService returns a Service on store. It validates cfg and names the
// bad field in its error.
func NewService(store Store, cfg Config) (*Service, error) {
	if store == nil {
		return nil, errs.Configf("user", "NewService", "nil Store")
	}
	s := &Service{store: store, now: cfg.Now, log: cfg.Logger, hasher: cfg.Hasher,
		policy: cfg.Password, lockout: cfg.Lockout, role: cfg.DefaultRole, tier: cfg.DefaultTier, rec: cfg.Recorder, ender: cfg.Sessions,
		legacy: cfg.Legacy}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.hasher == nil {
		h, err := NewHasher(HashConfig{})
		if err != nil {
			return nil, err
		}
		s.hasher = h
	}
	if err := s.policy.Validate(); err != nil {
		return nil, errs.ConfigErr("user", "Config.Password", err)
	}
	if !s.policy.DisableBlocklist {
		IsCommonPassword("") // build the list now, not in the first request
	}
	switch {
	case s.lockout.Threshold == 0:
		s.lockout.Threshold = 5
	case s.lockout.Threshold < 0:
		s.lockout.Threshold = 0 // the store's "never lock"
	}
	switch {
	case s.lockout.Duration == 0:
		s.lockout.Duration = 15 * time.Minute
	case s.lockout.Duration < time.Second:
		return nil, errs.Configf("user", "Config.Lockout.Duration", "%v is shorter than a second", s.lockout.Duration)
	}
	if s.role == "" {
		s.role = RoleUser
	}
	if err := s.role.Validate(); err != nil {
		return nil, errs.ConfigErr("user", "Config.DefaultRole", err)
	}
	if s.tier == "" {
		s.tier = TierFree
	}
	if err := s.tier.Validate(); err != nil {
		return nil, errs.ConfigErr("user", "Config.DefaultTier", err)
	}
	if cfg.MinRefusalTime < 0 {
		return nil, errs.Configf("user", "Config.MinRefusalTime", "%v is negative", cfg.MinRefusalTime)
	}
	s.pad = newRefusalPad(cfg.MinRefusalTime)
	if err := s.setupVerification(cfg); err != nil {
		return nil, err
	}
	switch {
	case s.legacy.BcryptCost == 0:
		s.legacy.BcryptCost = DefaultBcryptCost
	case s.legacy.BcryptCost < bcrypt.MinCost || s.legacy.BcryptCost > bcrypt.MaxCost:
		return nil, errs.Configf("user", "Config.Legacy.BcryptCost", "%d is outside %d..%d", s.legacy.BcryptCost, bcrypt.MinCost, bcrypt.MaxCost)
	}
	if err := s.legacy.validateKeys(); err != nil {
		return nil, err
	}
	// The dummy hash unknown users are checked against: made now, not on
	// the first unknown login, which would then cost two hashes and stand
	// out. Its password is 128 random bits nobody knows. Verifying it once
	// seeds the refusal padding.
	ctx := context.Background()
	dummy, err := s.hasher.Hash(ctx, rand.Text())
	if err != nil {
		return nil, fmt.Errorf("user: NewService: hashing the dummy password: %w", err)
	}
	s.dummy = dummy
	start := time.Now()
	if _, _, err := s.hasher.Verify(ctx, dummy, rand.Text()); err != nil {
		return nil, fmt.Errorf("user: NewService: verifying the dummy password: %w", err)
	}
	s.pad.observe(hashClass(dummy), time.Since(start))
	if s.legacy.Enabled {
		d, err := calibrateLegacy(ctx, s.hasher, s.legacy.BcryptCost)
		if err != nil {
			return nil, err
		}
		s.pad.observe(fmt.Sprintf("bcrypt %02d", s.legacy.BcryptCost), d)
	}
	if cfg.Notifier != nil {
		if cfg.Queue.Logger == nil {
			cfg.Queue.Logger = s.log
		}
		if s.out, err = notify.NewQueue(cfg.Notifier, cfg.Queue); err != nil {
			return nil, errs.ConfigErr("user", "Config.Queue", err)
		}
	}
	return s, nil
}

// record sends an audit event about user id (0: no user) to the recorder,
// if there is one. A failure is logged, not returned.
func (s *Service) record(ctx context.Context, typ audit.EventType, sev audit.Severity, id int64, at time.Time, data map[string]any) {
	if s.rec == nil {
		return
	}
	e := audit.Event{Type: typ, Severity: sev, Time: at, Source: "user", Data: data}
	if id != 0 {
		e.UserID = &id
	}
	if err := s.rec.Record(ctx, e); err != nil {
		s.log.ErrorContext(ctx, "user: recording an audit event failed", "event_type", string(typ), "user_id", id, "error", err)
	}
}

// recordRefusal records a refused login (or password check) and, when
// this failure locked the account, the lockout.
func (s *Service) recordRefusal(ctx context.Context, ae *AuthError, at time.Time, during string) {
	data := map[string]any{"reason": string(ae.Reason)}
	if during != "" {
		data["during"] = during
	}
	counted := ae.Reason == AuthWrongPassword || ae.Reason == AuthUnreadableHash
	if counted {
		data["attempts"] = ae.Attempts
	}
	s.record(ctx, audit.LoginFailed, audit.Warning, ae.UserID, at, data)
	if counted && ae.LockedUntil != nil {
		s.record(ctx, audit.AccountLocked, audit.Error, ae.UserID, at, map[string]any{
			"attempts": ae.Attempts, "locked_until": ae.LockedUntil.Format(time.RFC3339Nano),
		})
	}
}

// endSessions ends every session of the user, when a SessionEnder is
// configured. A failure is logged: the sessions are refused anyway by the
// time checks, and the account change has happened.
func (s *Service) endSessions(ctx context.Context, id int64) {
	if s.ender == nil {
		return
	}
	if _, err := s.ender.RevokeAll(ctx, id, 0); err != nil {
		s.log.ErrorContext(ctx, "user: ending the user's sessions failed", "user_id", id, "error", err)
	}
}

// clock returns the current time as the stores keep it: UTC, microseconds.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Registration is what a new account is made from. Username, Email and
// Password are raw user input; Register validates and normalizes them.
type Registration struct {
	Username string
	Email    string
	Password string
	// Role and Tier default to Config.DefaultRole and Config.DefaultTier.
	Role Role
	Tier Tier
	// Optional JSON documents.
	ProfileData map[string]any
	Preferences map[string]any
	Metadata    map[string]any
}

// Register creates an account. It normalizes the username ([ParseUsername])
// and email ([ParseEmail]), checks the password against the policy, hashes
// it and stores the user, active and unverified.
//
// Errors: ErrInvalidUsername, ErrInvalidEmail, ErrInvalidRole,
// ErrInvalidTier; a *PasswordError (errors.Is ErrWeakPassword) when the
// policy refuses the password; ErrUsernameTaken or ErrEmailTaken when the
// store's unique constraint refuses the account; the context's error.
func (s *Service) Register(ctx context.Context, r Registration) (*User, error) {
	name, email, err := parseAccount(r.Username, r.Email)
	if err != nil {
		return nil, err
	}
	role, tier := r.Role, r.Tier
	if role == "" {
		role = s.role
	}
	if tier == "" {
		tier = s.tier
	}
	if err := role.Validate(); err != nil {
		return nil, err
	}
	if err := tier.Validate(); err != nil {
		return nil, err
	}
	if err := s.policy.Check(ctx, r.Password, PasswordContext{Username: name, Email: email}); err != nil {
		return nil, err
	}
	password, err := NormalizePassword(r.Password)
	if err != nil {
		return nil, err
	}
	hash, err := s.hashNew(ctx, password)
	if err != nil {
		return nil, err
	}
	u := s.newAccount(name, email, hash, role, tier)
	u.ProfileData, u.Preferences, u.Metadata = r.ProfileData, r.Preferences, r.Metadata
	if err := s.store.Create(ctx, u); err != nil {
		return nil, err
	}
	s.record(ctx, audit.UserRegistered, audit.Info, u.ID, u.CreatedAt, nil)
	return u, nil
}

// parseAccount returns the canonical forms of a new account's username
// and address.
func parseAccount(username, email string) (Username, Email, error) {
	name, err := ParseUsername(username)
	if err != nil {
		return "", "", err
	}
	addr, err := ParseEmail(email)
	if err != nil {
		return "", "", err
	}
	return name, addr, nil
}

// newAccount returns a new active account, created now.
func (s *Service) newAccount(name Username, email Email, hash string, role Role, tier Tier) *User {
	now := s.clock()
	return &User{Username: name, Email: email, HashedPassword: hash, IsActive: true, Role: role, Tier: tier,
		CreatedAt: now, UpdatedAt: now, PasswordChangedAt: now}
}

// hashNew hashes a new password. bcrypt's refusal of a password over 72
// bytes is a policy refusal like any other (a *PasswordError), so hosts
// answer it as they answer a short password.
func (s *Service) hashNew(ctx context.Context, password string) (string, error) {
	hash, err := s.hasher.Hash(ctx, password)
	switch {
	case errors.Is(err, ErrPasswordTooLong):
		return "", &PasswordError{Reason: ReasonTooLong, Err: err}
	case err != nil:
		return "", fmt.Errorf("user: hashing password: %w", err)
	}
	return hash, nil
}

// ErrInvalidCredentials is the one error a login refusal gives, whatever
// the reason. Show callers nothing more precise: telling an unknown user
// from a wrong password or a locked account lets attackers find accounts.
var ErrInvalidCredentials = errors.New("user: invalid credentials")

// AuthReason says why a login was refused.
type AuthReason string

// The reasons a login is refused.
const (
	AuthUnknownUser   AuthReason = "unknown_user"
	AuthWrongPassword AuthReason = "wrong_password"
	AuthLocked        AuthReason = "locked"
	AuthInactive      AuthReason = "inactive"
	// AuthAccountChanged: the password was right, but the account changed
	// while it was being verified (its password was changed or reset, it
	// was deactivated, or deactivated and reactivated), so the login's
	// read was stale and it is refused.
	AuthAccountChanged AuthReason = "account_changed"
	// AuthUnreadableHash: the account's password hash is one the original
	// system encrypted ("enc_v1:", see [LegacyConfig].Keys) and the
	// service cannot open it: no legacy key is configured, or the key
	// does not open it (another key, or an altered value). The password
	// was not checked. The service logs which at Error level; the
	// account signs in again once the right key is configured.
	AuthUnreadableHash AuthReason = "unreadable_hash"
)

// AuthError is the error of a refused login. It matches
// [ErrInvalidCredentials] with errors.Is, and its message is the same for
// every reason; the host reads the precise reason with errors.As for its
// audit trail and logs, and must not show it to the caller.
type AuthError struct {
	Reason AuthReason
	// UserID is the account's id; 0 for AuthUnknownUser.
	UserID int64
	// Attempts is the failure counter after this attempt
	// (AuthWrongPassword, AuthUnreadableHash).
	Attempts int
	// LockedUntil is the end of the lock, when the account is locked
	// (AuthLocked), or became locked by this attempt (AuthWrongPassword,
	// AuthUnreadableHash).
	LockedUntil *time.Time
}

func (e *AuthError) Error() string { return ErrInvalidCredentials.Error() }

// Is makes errors.Is(err, ErrInvalidCredentials) hold.
func (e *AuthError) Is(target error) bool { return target == ErrInvalidCredentials }

// maxLoginPassword bounds the password bytes a login, or any other path
// that checks a caller's password, verifies: longer input cannot be a
// valid password (a policy allows at most 4,096 code points) and would
// only cost hashing time. Such input is refused as a wrong password.
const maxLoginPassword = 64 << 10

// LoginResult is a successful login.
type LoginResult struct {
	// User is the account as the login left it (last_login_at set, the
	// lockout cleared). Its SecurityStamp is the one the password was
	// verified against: give it to session.Service.Start, which starts a
	// session only while the account still has that stamp.
	User *User
	// PasswordChangeRequired: the password matched only by the legacy
	// rule (see [LegacyConfig]) and cannot be stored in the current
	// format, for instance because it contains a tab. The account keeps
	// its legacy hash until the password is changed; ask the user to
	// change it ([Service.ChangePassword] accepts it as the current
	// password). An HTTP API says so in its login response.
	PasswordChangeRequired bool
}

// Login logs a user in by username or email (input containing "@"
// is taken as an email) and password.
//
// The attempt is admitted before the password is verified, in one atomic
// store step ([Store.AdmitLogin]) that counts it as a failure in advance:
// of concurrent attempts on an unlocked account exactly the lockout
// threshold are verified, and the others are refused as locked without
// checking the account's hash. A success then clears the count, records
// last_login_at and, when the stored hash uses another algorithm or other
// parameters than the current policy, rehashes the password; that write
// is conditional on the state the admission read (the security stamp and
// the lock), so a login that straddles a password change or reset, a
// deactivation (even one undone since) or a lock set by concurrent
// attempts is refused (AuthAccountChanged, AuthInactive or AuthLocked)
// and clears nothing. A password hash the original system encrypted is
// opened with [LegacyConfig].Keys first; one that cannot be opened is
// refused (AuthUnreadableHash) without checking the password, and
// nothing is rewritten.
//
// Every refusal takes the same time: an unknown user is checked against a
// dummy hash, and every refusal, whatever its reason, waits until as long
// as the slowest verification the service has measured has passed since
// the call began (see [Config.MinRefusalTime] and [LegacyConfig]).
//
// Errors: an *AuthError (errors.Is ErrInvalidCredentials) for every
// refusal; the context's error; store errors.
func (s *Service) Login(ctx context.Context, login, password string) (*LoginResult, error) {
	start := time.Now()
	res, err := s.authenticate(ctx, login, password)
	var ae *AuthError
	switch {
	case err == nil:
		s.record(ctx, audit.LoginSucceeded, audit.Info, res.User.ID, *res.User.LastLoginAt, nil)
	case errors.As(err, &ae):
		s.recordRefusal(ctx, ae, s.clock(), "")
		s.pad.pad(ctx, start)
	}
	return res, err
}

func (s *Service) authenticate(ctx context.Context, login, password string) (*LoginResult, error) {
	u, err := s.find(ctx, login)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	var adm *User
	var admitted bool
	if u != nil {
		adm, admitted, err = s.store.AdmitLogin(ctx, u.ID, s.clock(), s.lockout)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	if adm == nil { // unknown, or deleted since it was found
		if _, err := s.checkPassword(ctx, s.dummy, password); err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &AuthError{Reason: AuthUnknownUser}
	}
	if !admitted {
		return nil, notAdmitted(adm)
	}
	v, err := s.checkPassword(ctx, adm.HashedPassword, password)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		s.log.ErrorContext(ctx, "user: stored password hash cannot be verified", "user_id", adm.ID, "error", err)
		return nil, errs.Wrap("user", fmt.Sprintf("login of user %d", adm.ID), err)
	}
	if v.unreadable != nil {
		return nil, s.refuseUnreadable(ctx, adm, v.unreadable)
	}
	if !v.match {
		// Counted at admission; the lock in adm, if any, is this
		// attempt's own (admission refuses locked accounts).
		return nil, &AuthError{Reason: AuthWrongPassword, UserID: adm.ID, Attempts: adm.FailedLoginAttempts, LockedUntil: adm.LockedUntil}
	}
	if err := s.recordSuccess(ctx, adm); err != nil {
		return nil, err
	}
	if v.rehash {
		s.rehash(ctx, adm, v.normalized)
	}
	if v.changeRequired {
		s.log.WarnContext(ctx, "user: legacy password cannot be stored in the current format; a password change is required", "user_id", adm.ID)
	}
	return &LoginResult{User: adm, PasswordChangeRequired: v.changeRequired}, nil
}

// recordSuccess records a verified sign-in of u, as read before the
// verification (Store.RecordLoginSuccess, conditional on its security
// stamp and lock), and updates u as the store did: last_login_at now, the
// lockout cleared. A refusal says why the account changed.
func (s *Service) recordSuccess(ctx context.Context, u *User) error {
	now := s.clock()
	ok, err := s.store.RecordLoginSuccess(ctx, u.ID, now, u.SecurityStamp, u.LockedUntil)
	switch {
	case errors.Is(err, ErrNotFound):
		return &AuthError{Reason: AuthUnknownUser}
	case err != nil:
		return err
	case !ok:
		return s.changedDuringLogin(ctx, u, now)
	}
	u.LastLoginAt, u.FailedLoginAttempts, u.LockedUntil = &now, 0, nil
	return nil
}

// notAdmitted is the refusal of an attempt AdmitLogin did not admit.
func notAdmitted(u *User) *AuthError {
	if !u.IsActive {
		return &AuthError{Reason: AuthInactive, UserID: u.ID}
	}
	// Locked by a lock in force, or by attempts admitted concurrently (the
	// row read may predate their lock).
	return &AuthError{Reason: AuthLocked, UserID: u.ID, LockedUntil: u.LockedUntil}
}

// changedDuringLogin says why a verified login could not be recorded:
// the account changed since its admission.
func (s *Service) changedDuringLogin(ctx context.Context, adm *User, now time.Time) error {
	u, err := s.store.ByID(ctx, adm.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		return &AuthError{Reason: AuthUnknownUser}
	case err != nil:
		return err
	case !u.IsActive:
		return &AuthError{Reason: AuthInactive, UserID: u.ID}
	case u.SecurityStamp == adm.SecurityStamp && u.Locked(now):
		return &AuthError{Reason: AuthLocked, UserID: u.ID, LockedUntil: u.LockedUntil}
	}
	return &AuthError{Reason: AuthAccountChanged, UserID: u.ID}
}

// rehash replaces u's hash by one made with the current policy. A failure
// is logged, not returned: the login itself succeeded.
func (s *Service) rehash(ctx context.Context, u *User, password string) {
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		s.log.WarnContext(ctx, "user: rehash after login failed", "user_id", u.ID, "error", err)
		return
	}
	ok, err := s.store.ReplacePasswordHash(ctx, u.ID, u.HashedPassword, hash)
	switch {
	case err != nil:
		s.log.WarnContext(ctx, "user: storing rehashed password failed", "user_id", u.ID, "error", err)
	case ok:
		u.HashedPassword = hash
	}
}

// find looks a user up by username or email (login contains "@"). Input
// that is no valid name or address finds nobody.
func (s *Service) find(ctx context.Context, login string) (*User, error) {
	if strings.Contains(login, "@") {
		email, err := ParseEmail(login)
		if err != nil {
			return nil, ErrNotFound
		}
		return s.store.ByEmail(ctx, email)
	}
	name, err := ParseUsername(login)
	if err != nil {
		return nil, ErrNotFound
	}
	return s.store.ByUsername(ctx, name)
}

// Get returns the user with id. Errors: ErrNotFound.
func (s *Service) Get(ctx context.Context, id int64) (*User, error) {
	return s.store.ByID(ctx, id)
}

// GetByUsername returns the user with that username, given in any form
// that normalizes to it ("Alice" finds "alice"). Errors: ErrNotFound (also
// for input that is no valid username).
func (s *Service) GetByUsername(ctx context.Context, username string) (*User, error) {
	name, err := ParseUsername(username)
	if err != nil {
		return nil, ErrNotFound
	}
	return s.store.ByUsername(ctx, name)
}

// GetByEmail returns the user with that address, compared as [ParseEmail]
// documents (case-insensitively). Errors: ErrNotFound (also for input that
// is no valid address).
func (s *Service) GetByEmail(ctx context.Context, email string) (*User, error) {
	e, err := ParseEmail(email)
	if err != nil {
		return nil, ErrNotFound
	}
	return s.store.ByEmail(ctx, e)
}

// UpdateProfile replaces the JSON documents named in p (nil ones are left
// alone) and returns the updated user. Errors: ErrNotFound; an error when
// a document cannot be encoded as JSON.
func (s *Service) UpdateProfile(ctx context.Context, id int64, p ProfileUpdate) (*User, error) {
	u, err := s.store.UpdateProfile(ctx, id, p, s.clock())
	if err == nil {
		var changed []any
		for _, f := range []struct {
			name string
			doc  map[string]any
		}{{"profile_data", p.ProfileData}, {"preferences", p.Preferences}, {"metadata", p.Metadata}} {
			if f.doc != nil {
				changed = append(changed, f.name)
			}
		}
		s.record(ctx, audit.ProfileUpdated, audit.Info, id, u.UpdatedAt, map[string]any{"fields": changed})
	}
	return u, err
}

// SetRole changes the user's role. The role_changed event names the
// user whose role changed; when ctx carries an actor
// (audit.ContextWithActor: the administrator, or "cli"), its data also
// holds "by", the actor as audit.Actor.String spells it. Errors:
// ErrInvalidRole, ErrNotFound.
func (s *Service) SetRole(ctx context.Context, id int64, role Role) (*User, error) {
	if err := role.Validate(); err != nil {
		return nil, err
	}
	u, err := s.store.SetRole(ctx, id, role, s.clock())
	if err == nil {
		data := map[string]any{"role": string(role)}
		if a, ok := audit.ActorFromContext(ctx); ok && a.String() != "" {
			data["by"] = a.String()
		}
		s.record(ctx, audit.RoleChanged, audit.Warning, id, u.UpdatedAt, data)
	}
	return u, err
}

// SetTier changes the user's tier. Errors: ErrInvalidTier, ErrNotFound.
func (s *Service) SetTier(ctx context.Context, id int64, tier Tier) (*User, error) {
	if err := tier.Validate(); err != nil {
		return nil, err
	}
	u, err := s.store.SetTier(ctx, id, tier, s.clock())
	if err == nil {
		s.record(ctx, audit.TierChanged, audit.Info, id, u.UpdatedAt, map[string]any{"tier": string(tier)})
	}
	return u, err
}

// Deactivate disables the account: Login refuses it from now on
// (AuthInactive). Errors: ErrNotFound.
func (s *Service) Deactivate(ctx context.Context, id int64) (*User, error) {
	u, err := s.store.SetActive(ctx, id, false, s.clock())
	if err == nil {
		s.record(ctx, audit.UserDeactivated, audit.Warning, id, u.UpdatedAt, nil)
		s.endSessions(ctx, id)
	}
	return u, err
}

// Reactivate enables a deactivated account. Errors: ErrNotFound.
func (s *Service) Reactivate(ctx context.Context, id int64) (*User, error) {
	u, err := s.store.SetActive(ctx, id, true, s.clock())
	if err == nil {
		s.record(ctx, audit.UserReactivated, audit.Info, id, u.UpdatedAt, nil)
	}
	return u, err
}

// Delete removes the account with its sessions, OAuth profiles and reset
// tokens; its audit events stay, detached from it (user_id NULL). The
// user_deleted event is recorded after the deletion and names the user as
// its actor only; its user_id is NULL too. Errors: ErrNotFound.
func (s *Service) Delete(ctx context.Context, id int64) error {
	if err := s.store.Delete(ctx, id); err != nil {
		return err
	}
	s.record(ctx, audit.UserDeleted, audit.Warning, id, s.clock(), nil)
	return nil
}

// ChangePassword replaces the password after checking the current one.
// The new password must pass the policy (checked first). The check of the
// current password is admitted and counted like a login attempt
// ([Store.AdmitLogin]), so a stolen session cannot be used to guess it,
// and is refused while the account is locked or inactive. The new hash is
// stored only if the account's security stamp is still the one the check
// read ([Store.SetPassword]): of two concurrent changes, or a change and
// a reset, only one applies. Success clears any lockout, moves the
// security stamp forward (so every session started before ends) and,
// with Config.Sessions, ends the user's sessions explicitly.
//
// The current password is verified as at login: capped at 64 KiB, legacy
// hashes by the legacy rule when enabled, encrypted legacy hashes opened
// with [LegacyConfig].Keys.
//
// Errors: ErrNotFound; an *AuthError (errors.Is ErrInvalidCredentials)
// when current is wrong, the account is locked or inactive, or its hash
// cannot be opened (AuthUnreadableHash); a
// *PasswordError (errors.Is ErrWeakPassword) when the policy refuses
// next; ErrStale when the account changed during the call.
func (s *Service) ChangePassword(ctx context.Context, id int64, current, next string) error {
	err := s.changePassword(ctx, id, current, next)
	var ae *AuthError
	switch {
	case err == nil:
		s.record(ctx, audit.PasswordChanged, audit.Info, id, s.clock(), nil)
		s.endSessions(ctx, id)
	case errors.As(err, &ae):
		s.recordRefusal(ctx, ae, s.clock(), "password_change")
	}
	return err
}

func (s *Service) changePassword(ctx context.Context, id int64, current, next string) error {
	u, err := s.store.ByID(ctx, id)
	if err != nil {
		return err
	}
	if err := s.policy.Check(ctx, next, PasswordContext{Username: u.Username, Email: u.Email}); err != nil {
		return err
	}
	npw, err := NormalizePassword(next)
	if err != nil {
		return err
	}
	adm, err := s.checkCurrent(ctx, id, current, "change password")
	if err != nil {
		return err
	}
	hash, err := s.hashNew(ctx, npw)
	if err != nil {
		return err
	}
	return s.store.SetPassword(ctx, id, hash, s.clock(), adm.SecurityStamp)
}

// checkCurrent checks the current password of user id before a change
// (doing names it in errors): the check is admitted and counted like a
// login attempt ([Store.AdmitLogin]), and the user is returned as the
// admission read it, so that the change can be made conditional on its
// security stamp.
func (s *Service) checkCurrent(ctx context.Context, id int64, current, doing string) (*User, error) {
	adm, admitted, err := s.store.AdmitLogin(ctx, id, s.clock(), s.lockout)
	if err != nil {
		return nil, err
	}
	if !admitted {
		return nil, notAdmitted(adm)
	}
	v, err := s.checkPassword(ctx, adm.HashedPassword, current)
	if err != nil {
		return nil, errs.Wrap("user", fmt.Sprintf("%s of user %d", doing, id), err)
	}
	if v.unreadable != nil {
		return nil, s.refuseUnreadable(ctx, adm, v.unreadable)
	}
	if !v.match {
		return nil, &AuthError{Reason: AuthWrongPassword, UserID: id, Attempts: adm.FailedLoginAttempts, LockedUntil: adm.LockedUntil}
	}
	return adm, nil
}

// PreparePassword checks password against the policy for u (its name and
// address are context words) and hashes it: the slow half of setting a
// password, for flows that establish who the user is some other way (a
// reset token). Store the result with [Service.SetPasswordHash].
//
// Errors: a *PasswordError (errors.Is ErrWeakPassword) when the policy
// refuses password; the context's error.
func (s *Service) PreparePassword(ctx context.Context, u *User, password string) (string, error) {
	if err := s.policy.Check(ctx, password, PasswordContext{Username: u.Username, Email: u.Email}); err != nil {
		return "", err
	}
	npw, err := NormalizePassword(password)
	if err != nil {
		return "", err
	}
	return s.hashNew(ctx, npw)
}

// SetPasswordHash stores hash, made by [Service.PreparePassword], as the
// password of user id, only if the account's security stamp is still
// stamp (what the caller read before its slow steps). Like a password
// change it sets password_changed_at, clears any lockout and moves the
// security stamp forward, so every session started before ends. It
// records no audit event and ends no session explicitly: the flow that
// calls it (reset.Service.Confirm) does both in its own transaction.
//
// Errors: ErrStale when the account changed since stamp was read;
// ErrNotFound.
func (s *Service) SetPasswordHash(ctx context.Context, id int64, hash string, stamp int64) error {
	if hash == "" {
		return errors.New("user: SetPasswordHash: empty hash")
	}
	return s.store.SetPassword(ctx, id, hash, s.clock(), stamp)
}

// CheckPassword applies the password policy to a candidate password for
// the given account names, for example to give feedback while a user
// types. Errors: a *PasswordError (errors.Is ErrWeakPassword).
func (s *Service) CheckPassword(ctx context.Context, password string, pc PasswordContext) error {
	return s.policy.Check(ctx, password, pc)
}
