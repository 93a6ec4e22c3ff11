package user_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/user"
)

// TestErrorMessagesReadOnce: an error names its problem once, with one
// package prefix, on every store, and still matches its sentinel and the
// sentinel's class.
func TestErrorMessagesReadOnce(t *testing.T) {
	stores(t, func(t *testing.T, st user.Store) {
		ctx := context.Background()
		s := newService(t, st, user.Config{})
		register(t, s, "once")
		_, err := s.Register(ctx, user.Registration{Username: "once", Email: "other@example.com", Password: goodPassword})
		if err == nil || err.Error() != "user: username taken" ||
			!errors.Is(err, user.ErrUsernameTaken) || !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate username: %v", err)
		}
		_, err = s.Register(ctx, user.Registration{Username: "twice", Email: "ONCE@example.com", Password: goodPassword})
		if err == nil || err.Error() != "user: email taken" || !errors.Is(err, user.ErrEmailTaken) {
			t.Errorf("duplicate email: %v", err)
		}
		_, err = s.Get(ctx, 1<<40)
		if err == nil || err.Error() != "user: not found" || !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown id: %v", err)
		}
	})
}

// TestConfigErrorFormat: every refused setting reads "user: <path>:
// <problem>", whatever its depth.
func TestConfigErrorFormat(t *testing.T) {
	st := memory.New().Users()
	cases := []struct {
		cfg  user.Config
		want string
	}{
		{user.Config{Lockout: user.LockoutPolicy{Duration: time.Millisecond}}, "user: Config.Lockout.Duration: 1ms is shorter than a second"},
		{user.Config{Password: user.PasswordPolicy{MinLength: 4}}, "user: Config.Password.MinLength: 4 is below 8"},
		{user.Config{Password: user.PasswordPolicy{Checkers: []user.PasswordChecker{nil}}}, "user: Config.Password.Checkers[0]: nil"},
		{user.Config{DefaultRole: "root"}, `user: Config.DefaultRole: invalid role: "root"`},
		{user.Config{MinRefusalTime: -time.Second}, "user: Config.MinRefusalTime: -1s is negative"},
		{user.Config{Legacy: user.LegacyConfig{BcryptCost: 99}}, "user: Config.Legacy.BcryptCost: 99 is outside 4..31"},
	}
	for _, c := range cases {
		c.cfg.Hasher = cheapHasher(t)
		_, err := user.NewService(st, c.cfg)
		if err == nil || err.Error() != c.want {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
	if err := (user.PasswordPolicy{MaxLength: 10}).Validate(); err == nil || err.Error() != "user: PasswordPolicy.MaxLength: 10 is below 64" {
		t.Errorf("PasswordPolicy.Validate: %v", err)
	}
	if _, err := user.NewHasher(user.HashConfig{Algorithm: "scrypt"}); err == nil ||
		err.Error() != `user: HashConfig.Algorithm: "scrypt" is not "argon2id" or "bcrypt"` {
		t.Errorf("NewHasher: %v", err)
	}
}
