package user_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/testkit"
	"github.com/cedrina/cedrina/notify"
	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/user"
)

const verifyURL = "https://app.example.com/verify-email"

// verifier is a user service with a notifier, on one database with its
// audit trail.
type verifier struct {
	s     *user.Service
	mail  *testkit.Mailbox
	clock *clock
	audit *audit.Service
}

func newVerifier(t *testing.T, users user.Store, events audit.Store) *verifier {
	t.Helper()
	v := &verifier{mail: testkit.NewMailbox(), clock: newClock()}
	var err error
	if v.audit, err = audit.NewService(events, audit.Config{Now: v.clock.Now}); err != nil {
		t.Fatal(err)
	}
	v.s = newService(t, users, user.Config{Now: v.clock.Now, Notifier: v.mail, Recorder: v.audit,
		Verification: user.VerificationConfig{URL: verifyURL}, Queue: notify.QueueConfig{Workers: 1}})
	t.Cleanup(func() { v.s.Close(context.Background()) })
	return v
}

// token asks for a verification of id's address and returns the token
// of the link sent, with the message.
func (v *verifier) token(t *testing.T, id int64) (string, notify.Message) {
	t.Helper()
	if err := v.s.RequestVerification(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	m := v.mail.Next(t)
	return linkToken(t, m), m
}

func linkToken(t *testing.T, m notify.Message) string {
	t.Helper()
	if m.Kind != notify.VerifyEmail {
		t.Fatalf("message kind %s, want verify_email", m.Kind)
	}
	u, err := url.Parse(m.Link)
	if err != nil || !strings.HasPrefix(m.Link, verifyURL+"?token=") {
		t.Fatalf("link %v not built from the configured URL (%v)", m, err)
	}
	return u.Query().Get("token")
}

func verificationErr(t *testing.T, err error, want user.TokenReason) {
	t.Helper()
	var ve *user.VerificationError
	if !errors.As(err, &ve) || !errors.Is(err, user.ErrInvalidVerification) || ve.Reason != want {
		t.Fatalf("err = %v, want a VerificationError (%s)", err, want)
	}
}

func TestVerifyEmail(t *testing.T) {
	withAudit(t, func(t *testing.T, users user.Store, events audit.Store) {
		v := newVerifier(t, users, events)
		ctx := context.Background()
		u := register(t, v.s, "alice")
		tok, m := v.token(t, u.ID)
		if m.To != "alice@example.com" || m.UserID != u.ID || !m.ExpiresAt.Equal(v.clock.Now().Add(24*time.Hour)) {
			t.Errorf("message %v, expires %v", m, m.ExpiresAt)
		}
		if len(tok) < 22 { // 128 bits in base64url
			t.Fatalf("token of %d characters", len(tok))
		}
		v.clock.Advance(23 * time.Hour)
		got, err := v.s.VerifyEmail(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		if !got.IsVerified || got.EmailVerifiedAt == nil || !got.EmailVerifiedAt.Equal(v.clock.Now()) {
			t.Errorf("after verification: verified %v at %v", got.IsVerified, got.EmailVerifiedAt)
		}
		verificationErr(t, func() error { _, err := v.s.VerifyEmail(ctx, tok); return err }(), user.TokenUsed)
		if err := v.s.RequestVerification(ctx, u.ID); !errors.Is(err, user.ErrAlreadyVerified) {
			t.Errorf("RequestVerification when verified: %v", err)
		}
		types := map[audit.EventType]int{}
		for _, e := range allEvents(t, v.audit) {
			types[e.Type]++
		}
		if types[audit.EmailVerificationRequested] != 1 || types[audit.EmailVerified] != 1 {
			t.Errorf("events %v", types)
		}
	})
}

func TestVerifyEmailRefusals(t *testing.T) {
	withAudit(t, func(t *testing.T, users user.Store, events audit.Store) {
		v := newVerifier(t, users, events)
		ctx := context.Background()
		verify := func(tok string) error { _, err := v.s.VerifyEmail(ctx, tok); return err }

		u := register(t, v.s, "bob")
		old, _ := v.token(t, u.ID)
		newer, _ := v.token(t, u.ID)
		verificationErr(t, verify(old), user.TokenUsed) // replaced by the newer one
		for _, bad := range []string{"", newer[:len(newer)-1], newer + "=", newer + "A", " " + newer[1:], "' OR 1=1 --", "\x00", strings.Repeat("é", 22)} {
			verificationErr(t, verify(bad), user.TokenMalformed)
		}
		v.clock.Advance(24 * time.Hour)
		verificationErr(t, verify(newer), user.TokenExpired)

		// A token for an address the account no longer has.
		c := register(t, v.s, "carol")
		tok, _ := v.token(t, c.ID)
		if _, err := v.s.ChangeEmail(ctx, c.ID, "carol.new@example.com", goodPassword); err != nil {
			t.Fatal(err)
		}
		v.mail.Next(t) // the notice to the old address
		v.mail.Next(t) // the link to the new one
		verificationErr(t, verify(tok), user.TokenUsed)
		// Back to the old address: the old token stays spent.
		if _, err := v.s.ChangeEmail(ctx, c.ID, "carol@example.com", goodPassword); err != nil {
			t.Fatal(err)
		}
		v.mail.Next(t)
		v.mail.Next(t)
		verificationErr(t, verify(tok), user.TokenUsed)

		// An inactive account.
		d := register(t, v.s, "dave")
		tok, _ = v.token(t, d.ID)
		if _, err := v.s.Deactivate(ctx, d.ID); err != nil {
			t.Fatal(err)
		}
		verificationErr(t, verify(tok), user.TokenInactive)
		verificationErr(t, verify("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), user.TokenUnknown)
		for _, u := range []string{"bob", "carol", "dave"} {
			got, _ := v.s.GetByUsername(ctx, u)
			if got.IsVerified {
				t.Errorf("%s verified by a refused token", u)
			}
		}
	})
}

func TestVerifyEmailConcurrent(t *testing.T) {
	withAudit(t, func(t *testing.T, users user.Store, events audit.Store) {
		v := newVerifier(t, users, events)
		u := register(t, v.s, "alice")
		tok, _ := v.token(t, u.ID)
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := v.s.VerifyEmail(context.Background(), tok)
				if err == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				} else if !errors.Is(err, user.ErrInvalidVerification) {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if ok != 1 {
			t.Fatalf("%d successes, want 1", ok)
		}
	})
}

func TestChangeEmail(t *testing.T) {
	withAudit(t, func(t *testing.T, users user.Store, events audit.Store) {
		v := newVerifier(t, users, events)
		ctx := context.Background()
		u := register(t, v.s, "alice")
		register(t, v.s, "bob")
		tok, _ := v.token(t, u.ID)
		if _, err := v.s.VerifyEmail(ctx, tok); err != nil {
			t.Fatal(err)
		}

		// Refusals change nothing.
		if _, err := v.s.ChangeEmail(ctx, u.ID, "alice2@example.com", "wrong password"); !errors.Is(err, user.ErrInvalidCredentials) {
			t.Errorf("wrong password: %v", err)
		}
		if _, err := v.s.ChangeEmail(ctx, u.ID, "BOB@example.com", goodPassword); !errors.Is(err, user.ErrEmailTaken) {
			t.Errorf("taken address: %v", err)
		}
		for _, bad := range []string{"", "not an address", "alice@example.com", "ALICE@EXAMPLE.COM"} {
			if _, err := v.s.ChangeEmail(ctx, u.ID, bad, goodPassword); !errors.Is(err, user.ErrInvalidEmail) {
				t.Errorf("ChangeEmail(%q): %v, want ErrInvalidEmail", bad, err)
			}
		}
		if got, _ := v.s.Get(ctx, u.ID); got.Email != "alice@example.com" || !got.IsVerified {
			t.Fatalf("refusals changed the account: %+v", got)
		}

		got, err := v.s.ChangeEmail(ctx, u.ID, "Alice.New@Example.com", goodPassword)
		if err != nil {
			t.Fatal(err)
		}
		if got.Email != "alice.new@example.com" || got.IsVerified || got.EmailVerifiedAt != nil {
			t.Errorf("after the change: %s verified %v at %v", got.Email, got.IsVerified, got.EmailVerifiedAt)
		}
		notice := v.mail.Next(t)
		if notice.Kind != notify.EmailChanged || notice.To != "alice@example.com" || notice.Link != "" {
			t.Errorf("notice %v", notice)
		}
		link := v.mail.Next(t)
		if link.To != "alice.new@example.com" {
			t.Errorf("verification link sent to %s", link.To)
		}
		if _, err := v.s.VerifyEmail(ctx, linkToken(t, link)); err != nil {
			t.Errorf("the new address's link: %v", err)
		}
		// The old address is free again; the new one is taken.
		if _, err := v.s.GetByEmail(ctx, "alice@example.com"); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("old address still finds the account: %v", err)
		}
		// A wrong password counted, a right one cleared the count: the
		// account is not on its way to a lockout.
		got, _ = v.s.Get(ctx, u.ID)
		if got.FailedLoginAttempts != 0 {
			t.Errorf("failed_login_attempts = %d after a successful change", got.FailedLoginAttempts)
		}
		types := map[audit.EventType]int{}
		for _, e := range allEvents(t, v.audit) {
			types[e.Type]++
		}
		if types[audit.EmailChanged] != 1 || types[audit.LoginFailed] != 1 {
			t.Errorf("events %v", types)
		}
	})
}

// Fifty accounts move to one address at once: exactly one gets it.
func TestChangeEmailConcurrent(t *testing.T) {
	withAudit(t, func(t *testing.T, users user.Store, events audit.Store) {
		v := newVerifier(t, users, events)
		var ids []int64
		for i := range 50 {
			ids = append(ids, register(t, v.s, "user"+string(rune('a'+i/26))+string(rune('a'+i%26))).ID)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, taken := 0, 0
		for _, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := v.s.ChangeEmail(context.Background(), id, "wanted@example.com", goodPassword)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, user.ErrEmailTaken):
					taken++
				default:
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if ok != 1 || taken != 49 {
			t.Fatalf("%d successes, %d taken; want 1, 49", ok, taken)
		}
	})
}

func TestVerificationConfig(t *testing.T) {
	st := memory.New().Users()
	for name, c := range map[string]struct {
		cfg  user.Config
		want string
	}{
		"notifier without URL": {user.Config{Notifier: testkit.NewMailbox()}, "user: Config.Verification.URL: empty"},
		"relative URL":         {user.Config{Notifier: testkit.NewMailbox(), Verification: user.VerificationConfig{URL: "/verify"}}, "Config.Verification.URL"},
		"short TTL":            {user.Config{Verification: user.VerificationConfig{TTL: time.Second}}, "user: Config.Verification.TTL: 1s is outside"},
	} {
		c.cfg.Hasher = cheapHasher(t)
		if _, err := user.NewService(st, c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
	s := newService(t, st, user.Config{})
	u := register(t, s, "alice")
	if err := s.RequestVerification(context.Background(), u.ID); !errors.Is(err, user.ErrNoNotifier) {
		t.Errorf("without a notifier: %v", err)
	}
}

func TestCleanupVerifications(t *testing.T) {
	withAudit(t, func(t *testing.T, users user.Store, events audit.Store) {
		v := newVerifier(t, users, events)
		ctx := context.Background()
		a := register(t, v.s, "alice")
		b := register(t, v.s, "bob")
		v.token(t, a.ID)
		used, _ := v.token(t, a.ID) // spends the first
		if _, err := v.s.VerifyEmail(ctx, used); err != nil {
			t.Fatal(err)
		}
		v.token(t, b.ID)
		v.clock.Advance(25 * time.Hour) // bob's expires
		c := register(t, v.s, "carol")
		live, _ := v.token(t, c.ID)
		n, err := user.CleanupVerifications(ctx, users, user.CleanupConfig{Batch: 2, Pause: -1, Now: v.clock.Now})
		if err != nil || n != 3 {
			t.Fatalf("CleanupVerifications = %d, %v; want 3", n, err)
		}
		if _, err := v.s.VerifyEmail(ctx, live); err != nil {
			t.Fatalf("the live token was deleted: %v", err)
		}
	})
}
