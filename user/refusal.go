package user

import (
	"context"
	"strings"
	"sync"
	"time"
)

// refusalPad makes every refused login take the same time, whatever the
// reason: an unknown user (a dummy hash is verified), a wrong password on
// an argon2id account or on a legacy bcrypt one (one or two bcrypt runs),
// a locked or deactivated account (nothing is verified).
//
// It keeps, per hash class (algorithm and cost, as [hashClass] reads them
// from the stored hash, plus the number of verifications), an estimate of
// how long verifying takes: a moving mean and mean deviation of the
// durations observed (1/8 weight per observation), seeded at start-up by a
// measured verification of the dummy hash and, with the legacy rule on, of
// a bcrypt hash at the legacy cost. A class's estimate is its mean plus
// twice its deviation; the floor is the highest estimate of any class
// (and at least Config.MinRefusalTime). Every refusal waits until the
// floor has passed since the login began. So refusals cost what the
// slowest verification the store still needs costs, legacy fallback
// included, and timing does not tell which accounts exist, are locked or
// still hold a legacy hash. Classes only change by their own
// observations, so frequent fast refusals do not wear down the estimate
// of a rare slow class.
//
// Durations are measured on the monotonic clock (time.Now, not
// Config.Now, which tests fix); only the verifications are measured, not
// the database statements around them.
type refusalPad struct {
	min time.Duration

	mu      sync.Mutex
	classes map[string]*estimate
	floor   time.Duration

	// wait blocks until d has passed or ctx is done; tests replace it.
	wait func(ctx context.Context, d time.Duration)
}

type estimate struct{ mean, dev float64 } // nanoseconds

func newRefusalPad(min time.Duration) *refusalPad {
	return &refusalPad{min: min, floor: min, classes: map[string]*estimate{}, wait: sleepCtx}
}

// observe adds one verification of class that took d.
func (p *refusalPad) observe(class string, d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.classes[class]
	if e == nil {
		e = &estimate{mean: float64(d)}
		p.classes[class] = e
	} else {
		diff := float64(d) - e.mean
		e.mean += diff / 8
		if diff < 0 {
			diff = -diff
		}
		e.dev += (diff - e.dev) / 8
	}
	floor := p.min
	for _, e := range p.classes {
		floor = max(floor, time.Duration(e.mean+2*e.dev))
	}
	p.floor = floor
}

// Floor returns the time every refusal takes at least.
func (p *refusalPad) Floor() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.floor
}

// pad waits until the floor has passed since start (or ctx is done).
func (p *refusalPad) pad(ctx context.Context, start time.Time) {
	if d := p.Floor() - time.Since(start); d > 0 {
		p.wait(ctx, d)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// hashClass names what verifying encoded costs: "argon2id m=...,t=...,p=..."
// or "bcrypt 12", or "other" for formats the SDK does not write.
func hashClass(encoded string) string {
	switch {
	case strings.HasPrefix(encoded, "$argon2id$"):
		// $argon2id$v=19$m=19456,t=2,p=1$salt$key
		parts := strings.SplitN(encoded, "$", 6)
		if len(parts) >= 5 {
			return "argon2id " + parts[3]
		}
	case isBcryptPrefix(encoded) && len(encoded) >= 7:
		return "bcrypt " + encoded[4:6]
	}
	return "other"
}
