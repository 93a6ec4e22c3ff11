package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cedrina/cedrina/internal/errs"
)

// ErrLimited is matched (errors.Is) by every [*LimitedError]: a request
// over its limit.
var ErrLimited = errors.New("ratelimit: limit exceeded")

// LimitedError is the error of a request a policy refused. It matches
// [ErrLimited].
type LimitedError struct {
	// Policy is the policy that refused the request.
	Policy Policy
	// Result is the key's state after the check; Result.RetryAfter says
	// when to try again.
	Result Result
}

func (e *LimitedError) Error() string {
	return fmt.Sprintf("ratelimit: %s: limit exceeded; retry after %v", e.Policy.Name, e.Result.RetryAfter)
}

// Is makes errors.Is(err, ErrLimited) hold.
func (e *LimitedError) Is(target error) bool { return target == ErrLimited }

// Config configures a [Limiter]. The zero value is the default.
type Config struct {
	// Now is the clock. Default: the system's (time.Now, read more
	// cheaply). Times are taken in whole microseconds.
	Now func() time.Time
}

// Limiter applies one [Policy] to any number of keys, on a [Store]. It is
// safe for concurrent use.
type Limiter struct {
	store  Store
	policy Policy
	now    func() time.Time
}

// New returns a Limiter of policy p on st, or an error naming what is
// wrong with p.
func New(st Store, p Policy, cfg Config) (*Limiter, error) {
	if st == nil {
		return nil, errs.Configf("ratelimit", "New", "nil Store")
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	l := &Limiter{store: st, policy: p.withDefaults(), now: cfg.Now}
	if l.now == nil {
		l.now = systemNow
	}
	return l, nil
}

// Policy returns the limiter's policy, with its defaults filled in.
func (l *Limiter) Policy() Policy { return l.policy }

// Allow is AllowN(ctx, key, 1).
func (l *Limiter) Allow(ctx context.Context, key string) (Result, error) {
	return l.AllowN(ctx, key, 1)
}

// AllowN counts n requests under key, if the policy admits them now, and
// returns the key's state after the check: Result.Allowed says whether
// they go ahead. A refusal is not an error (and costs no allocation, so
// a flood of refused requests makes no garbage); a service that must
// report one as an error returns a [*LimitedError].
//
// An error is a failure: n outside 1..Policy().Quota(), ctx done, or the
// store's failure. It comes with the zero Result, which denies, so a
// caller that looks only at Result.Allowed fails closed.
//
// key is whatever the caller counts by: a client IP, a user id, an
// address, a combination (see [KeyFunc]). Stores outside the process
// keep only its hash ([HashKey]).
func (l *Limiter) AllowN(ctx context.Context, key string, n int) (Result, error) {
	if q := l.policy.Quota(); n < 1 || n > q {
		return Result{}, fmt.Errorf("ratelimit: %s: n=%d is outside 1..%d", l.policy.Name, n, q)
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	now := l.now().Truncate(time.Microsecond).UTC()
	res, err := l.store.Take(ctx, l.policy, key, n, now)
	if err != nil {
		return Result{}, &checkError{policy: l.policy.Name, err: err}
	}
	return res, nil
}

// checkError is a store's failure to check a request of a policy. Its
// message names the policy once and the package once.
type checkError struct {
	policy string
	err    error
}

func (e *checkError) Error() string {
	return "ratelimit: " + e.policy + ": " + errs.Trim("ratelimit", e.err)
}
func (e *checkError) Unwrap() error { return e.err }
