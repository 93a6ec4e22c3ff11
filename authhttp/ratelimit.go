package authhttp

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/errs"
	"github.com/cedrina/cedrina/ratelimit"
	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/store"
)

// RateLimitConfig configures the rate limits a [Handler] applies to its
// routes. The zero value is the default: login 30 a minute,
// registration 20 a minute and external sign-in (OAuth) requests 30 a
// minute per client IP, verification links 3 an hour per signed-in user,
// counted in the handler's memory. Password reset
// requests are limited by the reset service (reset.Config.PerAddress
// and PerClient), not here.
//
// Each limit is a ratelimit.Policy: the zero Policy is the default, any
// other replaces it whole and must be valid (New names the bad field,
// "authhttp: Config.RateLimit.Login.Limit: ..."). Every limit here fails
// closed: when the store cannot be reached the request is refused (503),
// never let through unchecked, since these routes are what an attacker
// floods.
type RateLimitConfig struct {
	// Disabled turns the handler's limits off, for a host that limits
	// these routes in front of the handler (at its reverse proxy, or in
	// its own middleware) and for tests. Without limits, POST /auth/login
	// lets a client guess passwords across many accounts as fast as the
	// server hashes (the lockout counts per account only), and POST
	// /auth/register lets it create accounts in bulk.
	Disabled bool
	// Store keeps the counters. Default: a ratelimit.NewMemoryStore of
	// the handler's own, which counts in this process only. Several app
	// instances behind one load balancer would each allow the whole
	// limit: give them a store they share (the PostgreSQL store of
	// store/postgres, or store/redisstore), and give the same one to
	// reset.Config.RateLimits (policy names keep the counters apart).
	Store ratelimit.Store
	// Login limits POST /auth/login per client IP address, whatever the
	// account and whether the password is right. Default
	// ratelimit.PerMinute("login", 30).
	Login ratelimit.Policy
	// Register limits POST /auth/register per client IP address. Default
	// ratelimit.PerMinute("register", 20).
	Register ratelimit.Policy
	// OAuth limits the external sign-in routes (with Config.OAuth) per
	// client IP: GET /auth/oauth/{provider}/start, GET
	// /auth/oauth/{provider}/callback and POST
	// /me/identities/{provider}/link, counted together. A sign-in takes
	// two requests (start and callback). Each callback costs a round trip
	// to the provider and records an audit event when refused. Default
	// ratelimit.PerMinute("oauth", 30).
	OAuth ratelimit.Policy
	// VerificationRequest limits POST /auth/email/verify/request per
	// signed-in user: each sends a mail. Default
	// ratelimit.PerHour("email_verification", 3).
	VerificationRequest ratelimit.Policy
	// Recorder receives a rate_limit_exceeded audit event when a limit
	// refuses a request, sampled: at most one per policy and key (a client
	// IP, a user) in each of the policy's windows, and at most 10 a
	// second in all, so that a flood of refused requests cannot flood the
	// audit trail. The event names the policy and the key's hash, never
	// the key. Default: none.
	Recorder audit.Recorder
	// Now is the limits' clock. Default time.Now.
	Now func() time.Time
}

// The default policies of RateLimitConfig.
var (
	defaultLogin               = ratelimit.PerMinute("login", 30)
	defaultRegister            = ratelimit.PerMinute("register", 20)
	defaultOAuth               = ratelimit.PerMinute("oauth", 30)
	defaultVerificationRequest = ratelimit.PerHour("email_verification", 3)
)

// limits is the middleware of each limited route; each passes requests
// straight through when the limits are disabled.
type limits struct {
	login, register, oauth, verification func(http.Handler) http.Handler
}

// newLimits builds the limits of c. The client IP is the one the
// handler's audit.RequestInfo holds (through Config.TrustedProxies only),
// as ratelimit.ByIP finds it: the same address sessions and audit events
// record.
func (h *Handler) newLimits(c RateLimitConfig) (limits, error) {
	if c.Disabled {
		none := func(next http.Handler) http.Handler { return next }
		return limits{none, none, none, none}, nil
	}
	st := c.Store
	if st == nil {
		var err error
		if st, err = ratelimit.NewMemoryStore(ratelimit.MemoryConfig{}); err != nil {
			return limits{}, errs.ConfigErr("authhttp", "Config.RateLimit.Store", err)
		}
	}
	mw, err := ratelimit.NewMiddleware(ratelimit.MiddlewareConfig{ErrorFunc: h.rateLimited, Recorder: c.Recorder,
		Logger: h.log, Now: c.Now})
	if err != nil {
		return limits{}, errs.ConfigErr("authhttp", "Config.RateLimit", err)
	}
	limiter := func(field string, p, def ratelimit.Policy) (*ratelimit.Limiter, error) {
		if p == (ratelimit.Policy{}) {
			p = def
		}
		l, err := ratelimit.New(st, p, ratelimit.Config{Now: c.Now})
		if err != nil {
			return nil, errs.Setting("authhttp", "Config.RateLimit."+field, err)
		}
		return l, nil
	}
	login, err := limiter("Login", c.Login, defaultLogin)
	if err != nil {
		return limits{}, err
	}
	register, err := limiter("Register", c.Register, defaultRegister)
	if err != nil {
		return limits{}, err
	}
	oauth, err := limiter("OAuth", c.OAuth, defaultOAuth)
	if err != nil {
		return limits{}, err
	}
	verification, err := limiter("VerificationRequest", c.VerificationRequest, defaultVerificationRequest)
	if err != nil {
		return limits{}, err
	}
	byIP := ratelimit.ByIP(h.proxies)
	return limits{
		login:        mw.Limit(ratelimit.Rule{Limiter: login, Key: byIP, Sensitive: true}),
		register:     mw.Limit(ratelimit.Rule{Limiter: register, Key: byIP, Sensitive: true}),
		oauth:        mw.Limit(ratelimit.Rule{Limiter: oauth, Key: byIP, Sensitive: true}),
		verification: mw.Limit(ratelimit.Rule{Limiter: verification, Key: ratelimit.ByUser(signedInUser), Sensitive: true}),
	}, nil
}

// signedInUser is the id of the request's signed-in user, which the
// bearer check put in its context.
func signedInUser(r *http.Request) (string, bool) {
	p, ok := session.PrincipalFromContext(r.Context())
	if !ok {
		return "", false
	}
	return strconv.FormatInt(p.UserID, 10), true
}

// rateLimited answers a request that a limit refused, 429
// [TypeRateLimited] with Retry-After, or could not check because its
// store failed, 503 with Retry-After: 1, through the handler's error
// path (Config.ErrorFunc shapes these bodies too). The RateLimit-Policy
// and RateLimit headers are set already.
func (h *Handler) rateLimited(w http.ResponseWriter, r *http.Request, err error) {
	var le *ratelimit.LimitedError
	switch {
	case errors.As(err, &le):
		h.log.InfoContext(r.Context(), "authhttp: request rate limited", "policy", le.Policy.Name)
		h.fail(w, r, err)
	case r.Context().Err() != nil:
		h.fail(w, r, err) // the client went away, or the deadline passed
	default:
		// Whatever the store's failure, the client is told to come back:
		// the limit is not known to be exceeded, and a 500 would say the
		// request itself is at fault.
		h.failWith(w, r, ProblemFor(store.ErrUnavailable), err)
	}
}
