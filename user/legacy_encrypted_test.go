package user_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fernet/fernet-go"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/legacytest"
	"github.com/cedrina/cedrina/internal/testkit"
	"github.com/cedrina/cedrina/legacy"
	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/store/storetest"
	"github.com/cedrina/cedrina/user"
)

// The operator's log lines of an unreadable hash.
const (
	logNoKey    = "user: password hash is encrypted by the original system and no legacy key is configured (user.LegacyConfig.Keys)"
	logWrongKey = "user: the legacy key does not open this password hash (wrong key, or the value was altered)"
)

func parseKeys(t testing.TB, s string) *legacy.Keys {
	t.Helper()
	k, err := legacy.ParseKeys(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// legacyKeyed is the legacy rule with the fixture's key.
func legacyKeyed(t testing.TB) user.LegacyConfig {
	return user.LegacyConfig{Enabled: true, BcryptCost: 4, Keys: parseKeys(t, legacytest.Key)}
}

// sealHash wraps a bcrypt hash as the original system stored it
// encrypted, under the fixture's key.
func sealHash(t testing.TB, hash string) string {
	t.Helper()
	tok, err := fernet.EncryptAndSign([]byte(hash), fernet.MustDecodeKeys(legacytest.Key)[0])
	if err != nil {
		t.Fatal(err)
	}
	return legacy.HashPrefix + base64.StdEncoding.EncodeToString(tok)
}

// alter returns s with its i-th byte replaced by another base64 character.
func alter(s string, i int) string {
	c := byte('A')
	if s[i] == c {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

// encAccount is an account stored with an "enc_v1:" hash.
type encAccount struct {
	name, password, stored string
	storable               bool // see legacyAccounts
}

// encAccounts are the fixture's users, as the original system left them
// (encrypted or plain $2b$), and the legacy accounts of legacy_test.go
// sealed as the original sealed its hashes: decomposed accents,
// ligatures, full-width letters, a password over 72 bytes, a tab.
func encAccounts(t testing.TB) []encAccount {
	t.Helper()
	var out []encAccount
	for _, u := range legacytest.Users {
		out = append(out, encAccount{u.Username, u.Password, u.Stored, true})
	}
	for _, a := range legacyAccounts {
		out = append(out, encAccount{"enc" + a.name, a.password, sealHash(t, a.hash), a.storable})
	}
	return out
}

// loadEnc stores the accounts and returns them by name, as stored.
func loadEnc(t *testing.T, st user.Store, accounts []encAccount) map[string]*user.User {
	t.Helper()
	out := map[string]*user.User{}
	for _, a := range accounts {
		u := storetest.NewUser(a.name)
		u.HashedPassword = a.stored
		if err := st.Create(context.Background(), u); err != nil {
			t.Fatalf("%s: %v", a.name, err)
		}
		out[a.name] = u
	}
	return out
}

// logRecords parses JSON log lines.
func logRecords(t *testing.T, logs *testkit.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(logs.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// expectLogLine fails unless the logs hold msg at Error level for user id.
func expectLogLine(t *testing.T, logs *testkit.Buffer, msg string, id int64) {
	t.Helper()
	for _, r := range logRecords(t, logs) {
		if r["msg"] == msg && r["level"] == "ERROR" && r["user_id"] == float64(id) {
			return
		}
	}
	t.Fatalf("no Error line %q for user %d in the logs:\n%s", msg, id, logs.String())
}

// noSecretsIn fails when s contains a key of the fixture, in any form,
// or any of secrets.
func noSecretsIn(t *testing.T, what, s string, secrets ...string) {
	t.Helper()
	for _, key := range []string{legacytest.Key, legacytest.OtherKey} {
		b, _ := base64.URLEncoding.DecodeString(key)
		secrets = append(secrets, key, base64.StdEncoding.EncodeToString(b), strings.TrimRight(key, "="))
	}
	for _, secret := range secrets {
		if secret != "" && strings.Contains(s, secret) {
			t.Fatalf("%s contain %q:\n%s", what, secret, s)
		}
	}
}

// secretsOf returns what must never be logged of an encrypted account:
// its password, its stored value (and a telling part of it), the bcrypt
// hash inside.
func secretsOf(a encAccount) []string {
	s := []string{a.password, a.stored}
	if rest, ok := strings.CutPrefix(a.stored, legacy.HashPrefix); ok && len(rest) > 40 {
		s = append(s, rest[:24], rest[len(rest)-24:])
	}
	if h, ok := legacytest.Hashes[a.name]; ok {
		s = append(s, h, h[7:29])
	}
	return s
}

func TestPasswordFormat(t *testing.T) {
	dummy, err := cheapHasher(t).Hash(context.Background(), goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ stored, want string }{
		{dummy, user.FormatArgon2id},
		{"$argon2id$", user.FormatArgon2id},
		{"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", user.FormatArgon2id},
		{"$argon2i$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", user.FormatUnknown},
		{"$argon2d$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", user.FormatUnknown},
		{"$ARGON2ID$v=19", user.FormatUnknown},
		{"argon2id$", user.FormatUnknown},
		{"$2a$12$abcdefghijklmnopqrstuu", user.FormatBcrypt},
		{"$2a$", user.FormatBcrypt},
		{"$2b$04$2Hx6t7l.4sFmo/.STR89Kenu47SPgyfSDVBGCKSfFZZlW2Nkg3xw2", user.FormatLegacyBcrypt},
		{"$2b$", user.FormatLegacyBcrypt},
		{"$2y$10$abc", user.FormatLegacyBcrypt},
		{"$2x$10$abc", user.FormatUnknown},
		{"$2$10$abc", user.FormatUnknown},
		{"$2A$10$abc", user.FormatUnknown},
		{"$2a", user.FormatUnknown},
		{"$2b", user.FormatUnknown},
		{legacytest.Users[1].Stored, user.FormatLegacyEncrypted},
		{"enc_v1:", user.FormatLegacyEncrypted},
		{"enc_v1:garbage", user.FormatLegacyEncrypted},
		{"enc_v1", user.FormatUnknown},
		{"enc_v1Z0FB", user.FormatUnknown},
		{"ENC_V1:Z0FB", user.FormatUnknown},
		{"encXv1:Z0FB", user.FormatUnknown},
		{"enc_v2:Z0FB", user.FormatUnknown},
		{" enc_v1:Z0FB", user.FormatUnknown},
		{user.NoPassword, user.FormatNone},
		{user.NoPassword + " ", user.FormatUnknown},
		{"!", user.FormatUnknown},
		{"", user.FormatUnknown},
		{"plaintext", user.FormatUnknown},
		{"$pbkdf2-sha256$29000$abc", user.FormatUnknown},
		{"\x00$2a$", user.FormatUnknown},
	} {
		if got := user.PasswordFormat(tc.stored); got != tc.want {
			t.Errorf("PasswordFormat(%q) = %q, want %q", tc.stored, got, tc.want)
		}
	}
}

// TestLegacyEncryptedLogin: with the key, every account the original
// left signs in with its password, encrypted hash or plain $2b$, and
// is rehashed at once to the SDK's format: the next login is strict. A
// wrong password is refused first and rewrites nothing.
func TestLegacyEncryptedLogin(t *testing.T) {
	stores(t, func(t *testing.T, st user.Store) {
		ctx := context.Background()
		accounts := encAccounts(t)
		stored := loadEnc(t, st, accounts)
		var logs testkit.Buffer
		s := newService(t, st, user.Config{Legacy: legacyKeyed(t), Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
		strict := newService(t, st, user.Config{})
		for _, a := range accounts {
			before := stored[a.name]
			_, err := s.Login(ctx, a.name, "!"+a.password)
			authErr(t, err, user.AuthWrongPassword)
			if got, err := st.ByID(ctx, before.ID); err != nil || got.HashedPassword != a.stored {
				t.Fatalf("%s: a wrong password rewrote the hash: %v", a.name, err)
			}

			res, err := s.Login(ctx, a.name, a.password)
			if err != nil {
				t.Fatalf("%s: login with the original password: %v", a.name, err)
			}
			got, err := st.ByID(ctx, before.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !a.storable {
				// A tab: kept as it is, and a change is required.
				if !res.PasswordChangeRequired || got.HashedPassword != a.stored {
					t.Fatalf("%s: change required %v, hash %s; want required, the encrypted hash kept", a.name, res.PasswordChangeRequired, user.PasswordFormat(got.HashedPassword))
				}
				if err := s.ChangePassword(ctx, before.ID, a.password, "a new tabless passphrase"); err != nil {
					t.Fatalf("%s: ChangePassword from the encrypted hash: %v", a.name, err)
				}
				if _, err := strict.Login(ctx, a.name, "a new tabless passphrase"); err != nil {
					t.Fatalf("%s: after the change: %v", a.name, err)
				}
				continue
			}
			if res.PasswordChangeRequired {
				t.Fatalf("%s: PasswordChangeRequired", a.name)
			}
			if f := user.PasswordFormat(got.HashedPassword); f != user.FormatArgon2id || res.User.HashedPassword != got.HashedPassword {
				t.Fatalf("%s: after the login the hash is %s", a.name, f)
			}
			if got.SecurityStamp != before.SecurityStamp || !got.PasswordChangedAt.Equal(before.PasswordChangedAt) {
				t.Fatalf("%s: rehashing moved the stamp or password_changed_at", a.name)
			}
			if res, err := strict.Login(ctx, a.name, a.password); err != nil || res.PasswordChangeRequired {
				t.Fatalf("%s: strict login after the rehash: %+v, %v", a.name, res, err)
			}
		}
		for _, a := range accounts {
			noSecretsIn(t, "the logs", logs.String(), secretsOf(a)...)
		}
	})
}

// TestLegacyEncryptedChangePassword: the current password of a change is
// checked through the encrypted hash.
func TestLegacyEncryptedChangePassword(t *testing.T) {
	stores(t, func(t *testing.T, st user.Store) {
		ctx := context.Background()
		u := legacytest.Users[1]
		id := loadEnc(t, st, []encAccount{{u.Username, u.Password, u.Stored, true}})[u.Username].ID
		s := newService(t, st, user.Config{Legacy: legacyKeyed(t)})
		err := s.ChangePassword(ctx, id, "not the password", "a brand new passphrase")
		authErr(t, err, user.AuthWrongPassword)
		if err := s.ChangePassword(ctx, id, u.Password, "a brand new passphrase"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Login(ctx, u.Username, "a brand new passphrase"); err != nil {
			t.Fatal(err)
		}
		_, err = s.Login(ctx, u.Username, u.Password)
		authErr(t, err, user.AuthWrongPassword)
	})
}

// TestLegacyEncryptedUnreadable: without the key (the legacy rule on or
// off), with another key, or for a value that is no Fernet token of a
// bcrypt hash, an encrypted account cannot sign in, even with its
// password: the refusal is padded like any other, says why to the
// operator (one Error line naming the user, and neither key, hash nor
// password) and to the audit trail, and rewrites nothing but the
// admission's count.
func TestLegacyEncryptedUnreadable(t *testing.T) {
	notBcrypt := sealHash(t, "the plaintext is no bcrypt hash")
	for _, tc := range []struct {
		name    string
		legacy  func(t testing.TB) user.LegacyConfig
		stored  string // "": the fixture's encrypted users
		wantLog string
	}{
		{"no key", func(testing.TB) user.LegacyConfig { return user.LegacyConfig{Enabled: true, BcryptCost: 4} }, "", logNoKey},
		{"legacy rule off", func(testing.TB) user.LegacyConfig { return user.LegacyConfig{} }, "", logNoKey},
		{"another key", func(t testing.TB) user.LegacyConfig {
			return user.LegacyConfig{Enabled: true, BcryptCost: 4, Keys: parseKeys(t, legacytest.OtherKey)}
		}, "", logWrongKey},
		{"altered value", legacyKeyed, alter(legacytest.Users[1].Stored, 60), logWrongKey},
		{"not base64", legacyKeyed, legacy.HashPrefix + "%%%", logWrongKey},
		{"empty", legacyKeyed, legacy.HashPrefix, logWrongKey},
		{"plaintext no bcrypt hash", legacyKeyed, notBcrypt, logWrongKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stores(t, func(t *testing.T, st user.Store) {
				ctx := context.Background()
				var accounts []encAccount
				for _, u := range legacytest.Users {
					if u.Encrypted && (tc.stored == "" || u.Username == "bruno") {
						a := encAccount{u.Username, u.Password, u.Stored, true}
						if tc.stored != "" {
							a.stored = tc.stored
						}
						accounts = append(accounts, a)
					}
				}
				stored := loadEnc(t, st, accounts)
				var logs testkit.Buffer
				events := &testkit.Events{}
				// MinRefusalTime: every refusal has time left to wait out,
				// however slow the store, so the test sees the padding.
				s := newService(t, st, user.Config{Legacy: tc.legacy(t), Recorder: events, MinRefusalTime: time.Hour,
					Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
				var padded atomic.Int64
				user.SetRefusalWait(s, func(_ context.Context, d time.Duration) {
					if d > 0 {
						padded.Add(1)
					}
				})
				for i, a := range accounts {
					id := stored[a.name].ID
					_, err := s.Login(ctx, a.name, a.password)
					ae := authErr(t, err, user.AuthUnreadableHash)
					if ae.UserID != id || ae.Attempts != 1 {
						t.Fatalf("%s: refusal of user %d after %d attempts; want %d, 1", a.name, ae.UserID, ae.Attempts, id)
					}
					if padded.Load() != int64(i+1) {
						t.Fatalf("%s: the refusal was not padded", a.name)
					}
					expectLogLine(t, &logs, tc.wantLog, id)
					err = s.ChangePassword(ctx, id, a.password, "a brand new passphrase")
					authErr(t, err, user.AuthUnreadableHash)

					got, err := st.ByID(ctx, id)
					if err != nil {
						t.Fatal(err)
					}
					if got.HashedPassword != a.stored || got.SecurityStamp != stored[a.name].SecurityStamp || got.LastLoginAt != nil {
						t.Fatalf("%s: the account was rewritten: format %s, stamp %d, last login %v", a.name,
							user.PasswordFormat(got.HashedPassword), got.SecurityStamp, got.LastLoginAt)
					}
					if got.FailedLoginAttempts != 2 {
						t.Fatalf("%s: %d attempts counted, want the 2 admitted", a.name, got.FailedLoginAttempts)
					}
					noSecretsIn(t, "the logs", logs.String(), secretsOf(a)...)
				}
				for _, e := range events.Of(audit.LoginFailed) {
					if e.Data["reason"] != string(user.AuthUnreadableHash) {
						t.Errorf("login_failed with reason %v", e.Data["reason"])
					}
				}
				if n := len(events.Of(audit.LoginFailed)); n != 2*len(accounts) {
					t.Errorf("%d login_failed events, want %d", n, 2*len(accounts))
				}
			})
		})
	}
}

// TestLegacyEncryptedLockout: refusals of an unreadable hash count like
// wrong passwords, so the account locks at the threshold as any other
// would, and the lock is audited.
func TestLegacyEncryptedLockout(t *testing.T) {
	st := memory.New().Users()
	u := legacytest.Users[1]
	id := loadEnc(t, st, []encAccount{{u.Username, u.Password, u.Stored, true}})[u.Username].ID
	events := &testkit.Events{}
	s := newService(t, st, user.Config{Legacy: user.LegacyConfig{Enabled: true, BcryptCost: 4}, Recorder: events,
		Lockout: user.LockoutPolicy{Threshold: 3, Duration: time.Minute}})
	for i := 1; i <= 3; i++ {
		_, err := s.Login(context.Background(), u.Username, u.Password)
		ae := authErr(t, err, user.AuthUnreadableHash)
		if ae.Attempts != i || (ae.LockedUntil != nil) != (i == 3) {
			t.Fatalf("attempt %d: %d attempts, locked until %v", i, ae.Attempts, ae.LockedUntil)
		}
	}
	_, err := s.Login(context.Background(), u.Username, u.Password)
	authErr(t, err, user.AuthLocked)
	if locks := events.Of(audit.AccountLocked); len(locks) != 1 || *locks[0].UserID != id {
		t.Fatalf("account_locked events: %v", locks)
	}
}

func TestLegacyKeysConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  user.LegacyConfig
	}{
		{"keys without Enabled", user.LegacyConfig{Keys: parseKeys(t, legacytest.Key)}},
		{"keys without Enabled, cost set", user.LegacyConfig{BcryptCost: 4, Keys: parseKeys(t, legacytest.Key)}},
		{"no key in Keys", user.LegacyConfig{Enabled: true, BcryptCost: 4, Keys: &legacy.Keys{}}},
	} {
		_, err := user.NewService(memory.New().Users(), user.Config{Legacy: tc.cfg, Hasher: cheapHasher(t)})
		if err == nil || !strings.HasPrefix(err.Error(), "user: Config.Legacy.Keys: ") {
			t.Errorf("%s: err = %v, want one naming Config.Legacy.Keys", tc.name, err)
		}
		if err != nil {
			noSecretsIn(t, "the error", err.Error())
		}
	}
	if _, err := user.NewService(memory.New().Users(), user.Config{Legacy: legacyKeyed(t), Hasher: cheapHasher(t)}); err != nil {
		t.Fatal(err)
	}
}

// countingStore counts the hash swaps that replaced a hash.
type countingStore struct {
	user.Store
	replaced atomic.Int64
	// afterSuccess, when set, runs once, after the first
	// RecordLoginSuccess that wrote: between a login's success and its
	// rehash.
	afterSuccess atomic.Pointer[func()]
}

func (c *countingStore) ReplacePasswordHash(ctx context.Context, id int64, oldHash, newHash string) (bool, error) {
	ok, err := c.Store.ReplacePasswordHash(ctx, id, oldHash, newHash)
	if ok {
		c.replaced.Add(1)
	}
	return ok, err
}

func (c *countingStore) RecordLoginSuccess(ctx context.Context, id int64, at time.Time, stamp int64, lockedUntil *time.Time) (bool, error) {
	ok, err := c.Store.RecordLoginSuccess(ctx, id, at, stamp, lockedUntil)
	if ok {
		if fn := c.afterSuccess.Swap(nil); fn != nil {
			(*fn)()
		}
	}
	return ok, err
}

// TestLegacyEncryptedConcurrentLogins: ten logins of one encrypted
// account at once, all with the right password, all succeed; the
// encrypted hash is replaced exactly once, by a hash of the password.
func TestLegacyEncryptedConcurrentLogins(t *testing.T) {
	stores(t, func(t *testing.T, st user.Store) {
		ctx := context.Background()
		u := legacytest.Users[4] // eve: the decomposed accent
		cs := &countingStore{Store: st}
		id := loadEnc(t, st, []encAccount{{u.Username, u.Password, u.Stored, true}})[u.Username].ID
		// Attempts in flight count toward the lockout: no lockout here.
		s := newService(t, cs, user.Config{Legacy: legacyKeyed(t), Lockout: user.LockoutPolicy{Threshold: -1}})
		results := make([]*user.LoginResult, 10)
		for i, err := range testkit.Race(10, func(i int) error {
			var err error
			results[i], err = s.Login(ctx, u.Username, u.Password)
			return err
		}) {
			if err != nil {
				t.Fatalf("login %d: %v", i, err)
			}
		}
		got, err := st.ByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if n := cs.replaced.Load(); n != 1 || user.PasswordFormat(got.HashedPassword) != user.FormatArgon2id {
			t.Fatalf("%d swaps, stored format %s; want 1, argon2id", n, user.PasswordFormat(got.HashedPassword))
		}
		for i, r := range results {
			if h := r.User.HashedPassword; h != u.Stored && h != got.HashedPassword {
				t.Fatalf("login %d saw a hash that is neither the encrypted one nor the stored one", i)
			}
		}
		if _, err := newService(t, st, user.Config{}).Login(ctx, u.Username, u.Password); err != nil {
			t.Fatalf("strict login after the race: %v", err)
		}
	})
}

// TestLegacyEncryptedRaceWithChange: a password change that lands while
// a login of the encrypted hash is under way wins, whichever step the
// login is at.
func TestLegacyEncryptedRaceWithChange(t *testing.T) {
	const next = "the change that wins"
	u := legacytest.Users[2] // chen
	check := func(t *testing.T, s *user.Service, st user.Store, id int64) {
		t.Helper()
		ctx := context.Background()
		got, err := st.ByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if user.PasswordFormat(got.HashedPassword) != user.FormatArgon2id {
			t.Fatalf("stored format %s", user.PasswordFormat(got.HashedPassword))
		}
		if _, err := s.Login(ctx, u.Username, next); err != nil {
			t.Fatalf("the change's password: %v", err)
		}
		_, err = s.Login(ctx, u.Username, u.Password)
		authErr(t, err, user.AuthWrongPassword)
	}

	// The change lands after the login read the account: the login's
	// success is refused.
	t.Run("after admission", func(t *testing.T) {
		stores(t, func(t *testing.T, st user.Store) {
			ctx := context.Background()
			id := loadEnc(t, st, []encAccount{{u.Username, u.Password, u.Stored, true}})[u.Username].ID
			p := &pausingStore{Store: st}
			s := newService(t, p, user.Config{Legacy: legacyKeyed(t)})
			p.arm()
			done := make(chan error, 1)
			go func() {
				_, err := s.Login(ctx, u.Username, u.Password)
				done <- err
			}()
			<-p.paused
			if err := s.ChangePassword(ctx, id, u.Password, next); err != nil {
				t.Fatal(err)
			}
			close(p.resume)
			authErr(t, <-done, user.AuthAccountChanged)
			check(t, s, st, id)
		})
	})

	// The change lands between the login's success and its rehash: the
	// login stands, its swap finds the encrypted hash gone and stores
	// nothing.
	t.Run("before the rehash", func(t *testing.T) {
		stores(t, func(t *testing.T, st user.Store) {
			ctx := context.Background()
			id := loadEnc(t, st, []encAccount{{u.Username, u.Password, u.Stored, true}})[u.Username].ID
			cs := &countingStore{Store: st}
			s := newService(t, cs, user.Config{Legacy: legacyKeyed(t)})
			changed := make(chan error, 1)
			change := func() { changed <- s.ChangePassword(ctx, id, u.Password, next) }
			cs.afterSuccess.Store(&change)
			res, err := s.Login(ctx, u.Username, u.Password)
			if err != nil {
				t.Fatalf("the login verified before the change: %v", err)
			}
			if err := <-changed; err != nil {
				t.Fatal(err)
			}
			if cs.replaced.Load() != 0 || res.User.HashedPassword != u.Stored {
				t.Fatalf("the login's rehash replaced the change's hash")
			}
			check(t, s, st, id)
		})
	})
}

// FuzzLegacyEncryptedLogin: a login of an encrypted account with any
// password, its stored value any "enc_v1:" text: never a panic or an
// error other than a refusal; a success only for the fixture's value and
// a password the legacy rule takes; a refusal of any other value is
// AuthUnreadableHash and rewrites nothing.
func FuzzLegacyEncryptedLogin(f *testing.F) {
	u := legacytest.Users[4] // eve: "cafe\u0301-latte-99"
	rest := strings.TrimPrefix(u.Stored, legacy.HashPrefix)
	f.Add(rest, u.Password)
	f.Add(rest, "caf\u00e9-latte-99")
	f.Add(rest, "cafe-latte-99")
	f.Add(rest[:100], u.Password)
	f.Add(rest+"\n", u.Password)
	f.Add("", "")
	f.Add("%%%", "\xff")
	// One service and store for every input, a new account for each.
	st := memory.New().Users()
	s, err := user.NewService(st, user.Config{Hasher: cheapHasher(f), Legacy: legacyKeyed(f),
		Lockout: user.LockoutPolicy{Threshold: -1}})
	if err != nil {
		f.Fatal(err)
	}
	user.SetRefusalWait(s, func(context.Context, time.Duration) {})
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, value, password string) {
		ctx := context.Background()
		a := storetest.NewUser(fmt.Sprintf("user%d", n.Add(1)))
		a.HashedPassword = legacy.HashPrefix + value
		if err := st.Create(ctx, a); err != nil {
			t.Fatal(err)
		}
		_, err := s.Login(ctx, string(a.Username), password)
		var ae *user.AuthError
		switch {
		case err == nil:
			if value != rest {
				t.Fatalf("value %q signed in", value)
			}
			nfkc, nerr := user.NormalizePassword(password)
			want, _ := user.NormalizePassword(u.Password)
			if password != u.Password && (nerr != nil || nfkc != want) {
				t.Fatalf("password %q signed in", password)
			}
			return
		case !errors.As(err, &ae):
			t.Fatalf("Login: %v", err)
		case value != rest && ae.Reason != user.AuthUnreadableHash:
			t.Fatalf("value %q refused as %s", value, ae.Reason)
		}
		got, err := st.ByID(ctx, a.ID)
		if err != nil || got.HashedPassword != a.HashedPassword {
			t.Fatalf("a refusal rewrote the hash: %v", err)
		}
	})
}
