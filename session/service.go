package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/batch"
	"github.com/cedrina/cedrina/internal/errs"
	"github.com/cedrina/cedrina/user"
)

// Config configures a [Service]. Keys, Issuer and Audience are required;
// every other field's zero value is a safe default.
type Config struct {
	// Keys sign and verify access tokens.
	Keys *KeySet
	// Issuer is the iss claim of issued tokens and the one accepted.
	Issuer string
	// Audience is the aud claim of issued tokens; a token is accepted when
	// its aud contains one of them.
	Audience []string
	// AccessTTL is an access token's lifetime. Default 15 minutes.
	AccessTTL time.Duration
	// IdleTimeout ends a session unused for this long. Default 24 hours.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after it started, however
	// active. Default 7 days.
	AbsoluteTimeout time.Duration
	// ActivityInterval is the least time between two writes of a
	// session's last_activity_at. Default 1 minute.
	ActivityInterval time.Duration
	// MaxSessionsPerUser caps a user's active sessions: starting one more
	// ends the least recently active. Default 20; negative: no cap.
	MaxSessionsPerUser int
	// Leeway is the clock skew allowed on token times. Default 5 s, at
	// most 30 s.
	Leeway time.Duration
	// CleanupPause is the wait between two batches of Cleanup, so that a
	// large cleanup does not starve the requests sharing the database.
	// Zero (the default) waits twice as long as the previous batch took:
	// the cleaner works at most a third of the time. Negative: no wait.
	CleanupPause time.Duration
	// CacheSize bounds the cache of verified access tokens (keyed by the
	// SHA-256 of the whole token), which spares the signature check on
	// repeated use; expiry and the session's state are still checked every
	// time. Default 10,000; negative: no cache.
	CacheSize int
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives operational messages (never tokens). Default: discard.
	Logger *slog.Logger
	// Recorder receives session events: created, refreshed, revoked,
	// expired, logout, token reuse. Default: none.
	Recorder audit.Recorder
}

// Service starts, authenticates, refreshes and ends sessions. It is safe
// for concurrent use.
type Service struct {
	store Store
	keys  *KeySet
	tc    tokenConfig
	cfg   Config
	cache *tokenCache
	log   *slog.Logger
}

// NewService returns a Service on store. It validates cfg and names the
// bad field in its error.
func NewService(store Store, cfg Config) (*Service, error) {
	if store == nil {
		return nil, errs.Configf("session", "NewService", "nil Store")
	}
	if cfg.Keys == nil {
		return nil, errs.Configf("session", "Config.Keys", "required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Leeway == 0 {
		cfg.Leeway = 5 * time.Second
	}
	cfg.Audience = slices.Clone(cfg.Audience) // the caller's slice may change later
	tc := tokenConfig{Issuer: cfg.Issuer, Audience: cfg.Audience, Leeway: cfg.Leeway, Now: cfg.Now}
	if err := tc.validate("Config"); err != nil {
		return nil, err
	}
	defaults := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"AccessTTL", &cfg.AccessTTL, 15 * time.Minute},
		{"IdleTimeout", &cfg.IdleTimeout, 24 * time.Hour},
		{"AbsoluteTimeout", &cfg.AbsoluteTimeout, 7 * 24 * time.Hour},
		{"ActivityInterval", &cfg.ActivityInterval, time.Minute},
	}
	for _, d := range defaults {
		switch {
		case *d.v == 0:
			*d.v = d.def
		case *d.v < 0:
			return nil, errs.Configf("session", "Config."+d.name, "%v is negative", *d.v)
		}
	}
	if cfg.AccessTTL > cfg.AbsoluteTimeout {
		return nil, errs.Configf("session", "Config.AccessTTL", "%v exceeds Config.AbsoluteTimeout (%v)", cfg.AccessTTL, cfg.AbsoluteTimeout)
	}
	switch {
	case cfg.MaxSessionsPerUser == 0:
		cfg.MaxSessionsPerUser = 20
	case cfg.MaxSessionsPerUser < 0:
		cfg.MaxSessionsPerUser = 0
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = 10_000
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	svc := &Service{store: store, keys: cfg.Keys, tc: tc, cfg: cfg, cache: newTokenCache(cfg.CacheSize), log: log}
	// Sign the largest token Start can issue (ids of 19 digits, a role
	// and a tier of 20 characters), so that a configuration whose tokens
	// would exceed MaxTokenSize, or a key set that cannot sign, fails here
	// rather than at the first login.
	widest := &Session{ID: math.MaxInt64, UserID: math.MaxInt64, ExpiresAt: time.Now().Add(cfg.AbsoluteTimeout)}
	wide := UserState{Role: user.Role(strings.Repeat("R", 20)), Tier: user.Tier(strings.Repeat("T", 20))}
	if _, _, err := svc.issue(widest, wide, time.Now()); err != nil {
		return nil, errs.ConfigErr("session", "Config", err)
	}
	return svc, nil
}

// Keys returns the key set the service signs and verifies access tokens
// with, for publishing its public keys ([KeySet.JWKSHandler]).
func (s *Service) Keys() *KeySet { return s.keys }

func (s *Service) clock() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// Client describes who starts a session. Empty ClientIP and UserAgent are
// taken from the audit.RequestInfo in the context.
type Client struct {
	ClientIP        netip.Addr
	UserAgent       string
	DeviceInfo      map[string]any
	SecurityContext map[string]any
}

// Tokens are what a client holds for a session. Give them to the client
// once; only their hashes are stored. Tokens is not a response body: the
// authhttp package's TokenResponse is the OAuth 2.0 token response
// (access_token, token_type, expires_in, refresh_token) built from it.
type Tokens struct {
	SessionID int64 `json:"session_id"`
	// IssuedAt is when the access token was issued, by the service's
	// clock: AccessExpiresAt - IssuedAt is its lifetime.
	IssuedAt time.Time `json:"issued_at"`
	// AccessToken is a JWT (RFC 9068) for the Authorization: Bearer header.
	AccessToken     string    `json:"access_token"`
	AccessExpiresAt time.Time `json:"access_expires_at"`
	// RefreshToken is opaque and single-use: Refresh replaces it.
	RefreshToken string `json:"refresh_token"`
	// SessionToken is opaque, for cookie transport only ([SetCookie]);
	// empty after Refresh (the session token does not change). It is not
	// marshalled: a response body built from Tokens must not carry the
	// cookie's secret.
	SessionToken string `json:"-"`
	// ExpiresAt is the session's absolute end.
	ExpiresAt time.Time `json:"expires_at"`
}

// Principal is an authenticated request's identity.
type Principal struct {
	UserID    int64
	SessionID int64
	// Role and Tier are the user's current ones, read with the session.
	Role user.Role
	Tier user.Tier
	// Claims are the access token's claims; nil when the request was
	// authenticated by the session cookie (AuthenticateSession).
	Claims *Claims
}

// newSecret returns 32 bytes from crypto/rand, base64url, and their hex
// SHA-256.
func newSecret() (token, hash string) {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, hashToken(token)
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Start begins a session for u after a successful login and returns its
// tokens. u is the user as the login read it (user.LoginResult.User): the
// session is created only while the account is still active and has the
// security stamp u carries, in one atomic store step, so a login that
// straddles a password change or reset, a deactivation, or a deactivation
// undone by a reactivation starts no session. When the user is over
// MaxSessionsPerUser, the least recently active sessions end.
//
// Errors: ErrNotFound when the user does not exist; ErrRevoked when u is
// nil or inactive; ErrUserChanged when the account changed since u was
// read; an error when the access token would exceed the size limit.
func (s *Service) Start(ctx context.Context, u *user.User, c Client) (*Tokens, error) {
	if u == nil || !u.IsActive {
		return nil, ErrRevoked
	}
	if info, ok := audit.RequestInfoFromContext(ctx); ok {
		if !c.ClientIP.IsValid() {
			c.ClientIP = info.ClientIP
		}
		if c.UserAgent == "" {
			c.UserAgent = info.UserAgent
		}
	}
	now := s.clock()
	sessionToken, sessionHash := newSecret()
	refreshToken, refreshHash := newSecret()
	sess := &Session{
		UserID: u.ID, TokenHash: sessionHash, RefreshHash: refreshHash, Active: true,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.AbsoluteTimeout), LastActivityAt: now,
		ClientIP: c.ClientIP, UserAgent: cleanAgent(c.UserAgent), DeviceInfo: c.DeviceInfo, SecurityContext: c.SecurityContext,
		SecurityStamp: u.SecurityStamp,
	}
	evicted, err := s.store.Create(ctx, sess, s.cfg.MaxSessionsPerUser)
	if err != nil {
		return nil, err
	}
	s.record(ctx, audit.SessionCreated, audit.Info, sess, nil)
	for _, id := range evicted {
		s.record(ctx, audit.SessionRevoked, audit.Info, &Session{ID: id, UserID: u.ID}, map[string]any{"reason": "session_cap"})
	}
	access, exp, err := s.issue(sess, UserState{Role: u.Role, Tier: u.Tier}, now)
	if err != nil {
		// No client will ever hold this session's tokens: end it rather
		// than leave it active. (NewService's probe makes this rare.)
		if _, rerr := s.store.Revoke(ctx, sess.ID); rerr != nil {
			s.log.ErrorContext(ctx, "session: ending a session whose token could not be signed failed", "session_id", sess.ID, "error", rerr)
		}
		return nil, err
	}
	return &Tokens{SessionID: sess.ID, IssuedAt: now, AccessToken: access, AccessExpiresAt: exp, RefreshToken: refreshToken,
		SessionToken: sessionToken, ExpiresAt: sess.ExpiresAt}, nil
}

// cleanAgent makes a User-Agent header storable and printable: valid
// UTF-8, control characters replaced, at most 1,024 bytes cut on a
// character boundary.
func cleanAgent(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return utf8.RuneError
		}
		return r
	}, strings.ToValidUTF8(s, string(utf8.RuneError)))
	if len(s) <= 1024 {
		return s
	}
	n := 1024
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// issue signs an access token for sess, expiring after AccessTTL or with
// the session, whichever comes first.
func (s *Service) issue(sess *Session, st UserState, now time.Time) (string, time.Time, error) {
	exp := now.Add(s.cfg.AccessTTL)
	if sess.ExpiresAt.Before(exp) {
		exp = sess.ExpiresAt
	}
	jti := make([]byte, 16)
	rand.Read(jti)
	c := &Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: s.tc.Issuer, Subject: strconv.FormatInt(sess.UserID, 10), Audience: s.tc.Audience,
			ExpiresAt: jwt.NewNumericDate(exp), IssuedAt: jwt.NewNumericDate(now),
			ID: base64.RawURLEncoding.EncodeToString(jti),
		},
		SessionID: strconv.FormatInt(sess.ID, 10), Role: string(st.Role), Tier: string(st.Tier),
	}
	tok, err := s.keys.sign(c)
	if err != nil {
		return "", time.Time{}, err // sign's errors read "session: sign token: ..."
	}
	return tok, exp, nil
}

// Authenticate checks an access token: its signature and claims (pinned
// algorithms, kid from the key set, typ at+jwt, iss, aud, exp), then that
// its session is still active and within its idle and absolute limits, and
// that its user is active, has not changed password since and still has
// the security stamp the session started with. A logout or
// revocation takes effect on the next call. It records activity at most
// once per ActivityInterval.
//
// A token verified before is recognised from a bounded cache of token
// hashes, skipping the signature check but not the expiry and session
// checks.
//
// Errors, all wrapping ErrUnauthenticated: ErrInvalidToken, ErrExpired,
// ErrRevoked. Store errors otherwise.
func (s *Service) Authenticate(ctx context.Context, accessToken string) (*Principal, error) {
	now := s.clock()
	claims, err := s.verify(accessToken, now)
	if err != nil {
		return nil, err
	}
	sid, _ := strconv.ParseInt(claims.SessionID, 10, 64)
	uid, _ := strconv.ParseInt(claims.Subject, 10, 64)
	sess, st, err := s.store.ByID(ctx, sid)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrRevoked
	}
	if err != nil {
		return nil, err
	}
	if sess.UserID != uid {
		return nil, ErrInvalidToken
	}
	if err := s.check(ctx, sess, st, now); err != nil {
		return nil, err
	}
	s.touch(ctx, sess, now)
	return &Principal{UserID: sess.UserID, SessionID: sess.ID, Role: st.Role, Tier: st.Tier, Claims: claims}, nil
}

// verify returns the token's claims, from the cache or by parsing.
func (s *Service) verify(token string, now time.Time) (*Claims, error) {
	key := sha256.Sum256([]byte(token))
	if c, ok := s.cache.get(key); ok {
		if !now.Before(c.ExpiresAt.Time.Add(s.tc.Leeway)) {
			s.cache.remove(key)
			return nil, ErrExpired
		}
		return c, nil
	}
	c, err := s.keys.parse(token, s.tc)
	if err != nil {
		return nil, err
	}
	s.cache.put(key, c)
	return c, nil
}

// AuthenticateSession checks an opaque session token (cookie transport)
// as Authenticate checks the session behind an access token. Errors:
// ErrInvalidToken for a token that names no session, ErrExpired,
// ErrRevoked.
func (s *Service) AuthenticateSession(ctx context.Context, sessionToken string) (*Principal, error) {
	if !wellFormed(sessionToken) {
		return nil, ErrInvalidToken
	}
	now := s.clock()
	sess, st, err := s.store.ByTokenHash(ctx, hashToken(sessionToken))
	if errors.Is(err, ErrNotFound) {
		return nil, ErrInvalidToken
	}
	if err != nil {
		return nil, err
	}
	if err := s.check(ctx, sess, st, now); err != nil {
		return nil, err
	}
	s.touch(ctx, sess, now)
	return &Principal{UserID: sess.UserID, SessionID: sess.ID, Role: st.Role, Tier: st.Tier}, nil
}

// wellFormed reports whether t looks like a token newSecret made: 43
// base64url characters.
func wellFormed(t string) bool {
	if len(t) != 43 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// check decides whether a session is live at now. A session found
// expired is ended, once, with a session_expired event.
func (s *Service) check(ctx context.Context, sess *Session, st UserState, now time.Time) error {
	switch {
	case !sess.Active:
		return ErrRevoked
	case !st.Active:
		return ErrRevoked
	case sess.SecurityStamp != st.SecurityStamp, sess.CreatedAt.Before(st.PasswordChangedAt):
		return ErrRevoked
	case !now.Before(sess.ExpiresAt), !now.Before(sess.LastActivityAt.Add(s.cfg.IdleTimeout)):
		if ended, err := s.store.Revoke(ctx, sess.ID); err == nil && ended {
			reason := "absolute_timeout"
			if now.Before(sess.ExpiresAt) {
				reason = "idle_timeout"
			}
			s.record(ctx, audit.SessionExpired, audit.Info, sess, map[string]any{"reason": reason})
		}
		return ErrExpired
	}
	return nil
}

// touch records activity when the stored time is older than the interval:
// no write at all on most requests.
func (s *Service) touch(ctx context.Context, sess *Session, now time.Time) {
	if sess.LastActivityAt.After(now.Add(-s.cfg.ActivityInterval)) {
		return
	}
	if _, err := s.store.Touch(ctx, sess.ID, now, s.cfg.ActivityInterval); err != nil {
		s.log.WarnContext(ctx, "session: recording activity failed", "session_id", sess.ID, "error", err)
	}
}

// Refresh exchanges a refresh token for a new access token and a new
// refresh token, atomically: of concurrent refreshes with one token
// exactly one succeeds. Presenting a refresh token that was already
// rotated (a replay: the token was stolen, or a client raced itself)
// revokes the session and records a token_reuse event.
//
// The current refresh token of a session that has ended (logout, expiry,
// revocation) is refused with ErrRevoked or ErrExpired, not as reuse.
//
// Errors, all wrapping ErrUnauthenticated: ErrInvalidToken (unknown
// token), ErrTokenReuse, ErrExpired, ErrRevoked.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (*Tokens, error) {
	if !wellFormed(refreshToken) {
		return nil, ErrInvalidToken
	}
	now := s.clock()
	next, nextHash := newSecret()
	presented := hashToken(refreshToken)
	sess, st, err := s.store.Rotate(ctx, presented, nextHash, now, s.cfg.IdleTimeout)
	switch {
	case errors.Is(err, ErrRotated) && sess.RefreshHash == presented:
		// The session's current token, but the session has ended (logout,
		// expiry, revocation): refused, and no reuse. check ends an
		// expired session and says which.
		if cerr := s.check(ctx, sess, st, now); cerr != nil {
			return nil, cerr
		}
		return nil, ErrRevoked
	case errors.Is(err, ErrRotated):
		return nil, s.reuse(ctx, sess)
	case errors.Is(err, ErrNotFound):
		return nil, ErrInvalidToken
	case err != nil:
		return nil, err
	}
	if err := s.check(ctx, sess, st, now); err != nil {
		if errors.Is(err, ErrRevoked) {
			s.store.Revoke(ctx, sess.ID)
		}
		return nil, err
	}
	access, exp, err := s.issue(sess, st, now)
	if err != nil {
		return nil, err
	}
	s.record(ctx, audit.SessionRefreshed, audit.Info, sess, nil)
	return &Tokens{SessionID: sess.ID, IssuedAt: now, AccessToken: access, AccessExpiresAt: exp, RefreshToken: next, ExpiresAt: sess.ExpiresAt}, nil
}

// Logout ends the principal's session; ending a session that has already
// ended is not an error. Errors: ErrUnauthenticated when p is nil;
// ErrNotFound.
func (s *Service) Logout(ctx context.Context, p *Principal) error {
	if p == nil {
		return fmt.Errorf("%w: Logout without a principal", ErrUnauthenticated)
	}
	sess, _, err := s.store.ByID(ctx, p.SessionID)
	if err != nil {
		return err
	}
	return s.logout(ctx, sess)
}

// LogoutRefreshToken ends the session whose refresh token is
// refreshToken, so that a client whose access token has expired can still
// log out. Ending a session that has already ended is not an error. A
// refresh token that was already rotated is a replay: as with Refresh,
// the session is revoked, a token_reuse event is recorded and
// ErrTokenReuse returned.
//
// Errors, all wrapping ErrUnauthenticated: ErrInvalidToken (malformed or
// unknown token), ErrTokenReuse. Store errors otherwise.
func (s *Service) LogoutRefreshToken(ctx context.Context, refreshToken string) error {
	if !wellFormed(refreshToken) {
		return ErrInvalidToken
	}
	sess, _, err := s.store.ByRefreshHash(ctx, hashToken(refreshToken))
	switch {
	case errors.Is(err, ErrRotated):
		return s.reuse(ctx, sess)
	case errors.Is(err, ErrNotFound):
		return ErrInvalidToken
	case err != nil:
		return err
	}
	return s.logout(ctx, sess)
}

func (s *Service) logout(ctx context.Context, sess *Session) error {
	ended, err := s.store.Revoke(ctx, sess.ID)
	if err != nil {
		return err
	}
	if ended {
		s.record(ctx, audit.Logout, audit.Info, sess, nil)
	}
	return nil
}

// reuse revokes the session of a replayed refresh token, records it and
// returns ErrTokenReuse.
func (s *Service) reuse(ctx context.Context, sess *Session) error {
	if ended, err := s.store.Revoke(ctx, sess.ID); err != nil {
		return err
	} else if ended {
		s.record(ctx, audit.SessionRevoked, audit.Warning, sess, map[string]any{"reason": "token_reuse"})
	}
	s.record(ctx, audit.TokenReuse, audit.Critical, sess, nil)
	return ErrTokenReuse
}

// Revoke ends one of the user's sessions. Errors: ErrNotFound when the
// user has no such session (a session of another user is not found).
func (s *Service) Revoke(ctx context.Context, userID, sessionID int64) error {
	sess, _, err := s.store.ByID(ctx, sessionID)
	if err != nil {
		return err
	}
	if sess.UserID != userID {
		return ErrNotFound
	}
	ended, err := s.store.Revoke(ctx, sessionID)
	if err != nil {
		return err
	}
	if ended {
		s.record(ctx, audit.SessionRevoked, audit.Info, sess, map[string]any{"reason": "revoked"})
	}
	return nil
}

// RevokeAll ends every active session of the user except the one with id
// except (0: none, for "log out everywhere"; the current session's id for
// "log out other devices"), and returns how many it ended.
func (s *Service) RevokeAll(ctx context.Context, userID, except int64) (int, error) {
	ids, err := s.store.RevokeUser(ctx, userID, except)
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		s.record(ctx, audit.SessionRevoked, audit.Info, &Session{ID: id, UserID: userID}, map[string]any{"reason": "revoked_all"})
	}
	return len(ids), nil
}

// List returns the user's live sessions, most recently active first:
// client IP, user agent, device, last activity.
func (s *Service) List(ctx context.Context, userID int64) ([]Session, error) {
	return s.store.ListActive(ctx, userID, s.clock(), s.cfg.IdleTimeout)
}

// Cleanup deletes ended, expired and idle sessions (and their rotation
// history), batch at a time (default 1,000), each batch short statements,
// pausing between batches as Config.CleanupPause says, until none is left
// or ctx ends. It returns how many it deleted. Run it from a background
// job (or `cedrina cleanup`), not on a request path.
func (s *Service) Cleanup(ctx context.Context, batch int) (int64, error) {
	return Cleanup(ctx, s.store, CleanupConfig{Batch: batch, IdleTimeout: s.cfg.IdleTimeout, Pause: s.cfg.CleanupPause, Now: s.cfg.Now})
}

// CleanupConfig configures [Cleanup]. Zero values are the defaults.
type CleanupConfig struct {
	// Batch is how many sessions one batch deletes. Default 1,000.
	Batch int
	// IdleTimeout: sessions without activity for this long are deleted.
	// Default 24 hours; use the Service's value.
	IdleTimeout time.Duration
	// Pause between batches: 0 waits twice as long as the previous batch
	// took; negative does not wait.
	Pause time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Cleanup deletes ended, expired and idle sessions from st without a
// Service (no keys needed), for operator tools; [Service.Cleanup] calls it
// with the service's settings.
func Cleanup(ctx context.Context, st Store, cfg CleanupConfig) (int64, error) {
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 24 * time.Hour
	}
	n, err := batch.Expired(ctx, cfg.Batch, cfg.Pause, cfg.Now, func(at time.Time, size int) (int, error) {
		return st.DeleteExpired(ctx, at, cfg.IdleTimeout, size)
	})
	if err != nil {
		return n, fmt.Errorf("session: cleanup: %w", err)
	}
	return n, nil
}

// record sends a session event to the recorder, if any.
func (s *Service) record(ctx context.Context, typ audit.EventType, sev audit.Severity, sess *Session, data map[string]any) {
	if s.cfg.Recorder == nil {
		return
	}
	if data == nil {
		data = map[string]any{}
	}
	data["session_id"] = sess.ID
	uid := sess.UserID
	e := audit.Event{Type: typ, Severity: sev, Source: "session", Data: data, UserID: &uid}
	if err := s.cfg.Recorder.Record(ctx, e); err != nil {
		s.log.ErrorContext(ctx, "session: recording an audit event failed", "event_type", string(typ), "error", err)
	}
}
