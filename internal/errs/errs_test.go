package errs

import (
	"errors"
	"fmt"
	"testing"
)

var (
	errClass = errors.New("store: conflict")
	errOther = errors.New("session: unauthenticated")
)

func TestKind(t *testing.T) {
	k := Kind("user: username taken", errClass, errOther)
	if got := k.Error(); got != "user: username taken" {
		t.Errorf("Error() = %q", got)
	}
	if !errors.Is(k, errClass) || !errors.Is(k, errOther) || !errors.Is(k, k) {
		t.Error("Kind does not match its classes")
	}
	if errors.Is(k, errors.New("store: conflict")) {
		t.Error("Kind matches an unrelated error with the same text")
	}
	if Kind("user: other", errClass) == k {
		t.Error("two kinds are the same value")
	}
}

func TestConfig(t *testing.T) {
	inner := errors.New("user: invalid role: \"x\"")
	cases := []struct {
		err  error
		want string
	}{
		{Configf("session", "Config.Issuer", "required"), "session: Config.Issuer: required"},
		{ConfigErr("user", "Config.DefaultRole", inner), `user: Config.DefaultRole: invalid role: "x"`},
		{ConfigErr("user", "Config.Password", Configf("user", "PasswordPolicy.MinLength", "4 is below 8")),
			"user: Config.Password.MinLength: 4 is below 8"},
		{ConfigErr("user", "Config.Hash", Configf("user", "HashConfig", "unusable")), "user: Config.Hash: unusable"},
		// Another package's config error is a problem, not a sub-field.
		{ConfigErr("session", "Config.Keys", Configf("user", "HashConfig.X", "bad")), "session: Config.Keys: user: HashConfig.X: bad"},
	}
	for _, c := range cases {
		if got := c.err.Error(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
	if err := ConfigErr("user", "Config.DefaultRole", inner); !errors.Is(err, inner) {
		t.Error("ConfigErr does not wrap its cause")
	}
	var c *Config
	if !errors.As(cases[2].err, &c) || c.Field != "Config.Password.MinLength" {
		t.Errorf("errors.As: %+v", c)
	}
}

func TestSetting(t *testing.T) {
	policy := Configf("ratelimit", "Policy.Limit", "0 is outside 1..10")
	cases := []struct {
		err  error
		want string
	}{
		{Setting("reset", "Config.PerAddress", policy), "reset: Config.PerAddress.Limit: 0 is outside 1..10"},
		{Setting("authhttp", "Config.RateLimit.Login", Configf("ratelimit", "Policy", "bad")), "authhttp: Config.RateLimit.Login: bad"},
		{Setting("reset", "Config.X", errors.New("reset: plain")), "reset: Config.X: plain"},
	}
	for _, c := range cases {
		if got := c.err.Error(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
	if !errors.Is(cases[0].err, policy) {
		t.Error("Setting does not wrap its cause")
	}
}

func TestWrap(t *testing.T) {
	inner := Kind("user: malformed password hash", errClass)
	w := Wrap("user", "login of user 5", fmt.Errorf("%w: bad salt", inner))
	if got := w.Error(); got != "user: login of user 5: malformed password hash: bad salt" {
		t.Errorf("Error() = %q", got)
	}
	if !errors.Is(w, inner) || !errors.Is(w, errClass) {
		t.Error("Wrap does not match its cause")
	}
	if got := Wrap("user", "x", errors.New("postgres: down")).Error(); got != "user: x: postgres: down" {
		t.Errorf("another package's error: %q", got)
	}
}
