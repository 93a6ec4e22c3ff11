package user_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/cedrina/cedrina/internal/testkit"
	"github.com/cedrina/cedrina/user"
)

func TestCreateExternal(t *testing.T) {
	stores(t, func(t *testing.T, st user.Store) {
		ctx := context.Background()
		clock := testkit.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
		s := newService(t, st, user.Config{Now: clock.Now})
		u, err := s.CreateExternal(ctx, user.ExternalAccount{Username: "Octo", Email: "Octo@Example.COM", EmailVerified: true,
			ProfileData: map[string]any{"name": "The Octocat"}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Username != "octo" || got.Email != "octo@example.com" || got.HasPassword() || got.HashedPassword != user.NoPassword ||
			!got.IsVerified || got.EmailVerifiedAt == nil || !got.EmailVerifiedAt.Equal(clock.Now()) || !got.IsActive ||
			got.Role != user.RoleUser || got.ProfileData["name"] != "The Octocat" {
			t.Fatalf("stored %+v", got)
		}
		u2, err := s.CreateExternal(ctx, user.ExternalAccount{Username: "other", Email: "other@example.com"})
		if err != nil || u2.IsVerified || u2.EmailVerifiedAt != nil {
			t.Fatalf("unverified account: %+v, %v", u2, err)
		}
		for name, a := range map[string]user.ExternalAccount{
			"taken username": {Username: "octo", Email: "x@example.com"},
			"taken email":    {Username: "x-1", Email: "octo@example.com"},
			"bad username":   {Username: "a\x00b", Email: "y@example.com"},
			"bad email":      {Username: "y-1", Email: "not an address"},
		} {
			if _, err := s.CreateExternal(ctx, a); err == nil {
				t.Errorf("%s: created", name)
			}
		}
		// No password: a login is a wrong password, never a server error.
		_, err = s.Login(ctx, "octo", "anything at all")
		var ae *user.AuthError
		if !errors.As(err, &ae) || ae.Reason != user.AuthWrongPassword {
			t.Fatalf("password login: %v", err)
		}
	})
}

func TestLoginExternal(t *testing.T) {
	stores(t, func(t *testing.T, st user.Store) {
		ctx := context.Background()
		clock := testkit.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
		s := newService(t, st, user.Config{Now: clock.Now, Lockout: user.LockoutPolicy{Threshold: 2, Duration: time.Hour}})
		u := register(t, s, "ext")
		// A lock from password guesses does not stop it, and is cleared.
		for range 2 {
			_, _ = s.Login(ctx, "ext", "wrong password guess")
		}
		clock.Advance(time.Minute)
		res, err := s.LoginExternal(ctx, u.ID, "oauth:acme")
		if err != nil {
			t.Fatal(err)
		}
		if res.User.LastLoginAt == nil || !res.User.LastLoginAt.Equal(clock.Now()) || res.User.LockedUntil != nil || res.User.SecurityStamp != u.SecurityStamp {
			t.Fatalf("result %+v", res.User)
		}
		if got, _ := s.Get(ctx, u.ID); got.Locked(clock.Now()) || got.FailedLoginAttempts != 0 {
			t.Fatalf("lockout kept: %+v", got)
		}
		if _, err := s.Deactivate(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		var ae *user.AuthError
		if _, err := s.LoginExternal(ctx, u.ID, "oauth:acme"); !errors.As(err, &ae) || ae.Reason != user.AuthInactive {
			t.Fatalf("inactive: %v", err)
		}
		if _, err := s.LoginExternal(ctx, u.ID+1000, "oauth:acme"); !errors.As(err, &ae) || ae.Reason != user.AuthUnknownUser {
			t.Fatalf("unknown: %v", err)
		}
	})
}
