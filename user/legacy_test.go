package user_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/store/storetest"
	"github.com/cedrina/cedrina/user"
)

// legacyAccounts are accounts as the original system stored them: bcrypt
// over the raw UTF-8 bytes of the password, no normalization, truncated
// at 72 bytes by the library. The hashes were made with pyca/bcrypt 3.2.2
// (Debian's python3-bcrypt), the original's library, by
// bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds=4)): cost
// 4 instead of the original 12, so that the race detector verifies them in
// milliseconds rather than seconds; the algorithm is the same.
var legacyAccounts = []struct {
	name, password, hash string
	// strict: the password also verifies without the legacy rule (its
	// raw bytes are already its NFKC form, and at most 72 bytes).
	strict bool
	// storable: the strict rules take the password, so the login rehashes
	// it; otherwise it keeps its legacy hash and needs a change.
	storable bool
}{
	{"ascii", "correct horse battery staple", "$2b$04$Lj8RJqWvFLl0P11k6JyCSuIlFVQV5WnA83BzDCu59oaRnfdzgs4Qi", true, true},
	{"nfc", "Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e", "$2b$04$fDpbRqBdvffG5uPxKuzPb.3ZXVP1NxxCJViCJdTXh3GH21BsLHQjO", true, true},
	{"decomposed", "Cafe\u0301 au lait tre\u0300s bien", "$2b$04$twaFt.CER4an3w5Uao0bBeXUlV1wCEphYRxmhvDS1DA3pUJ2IaYlG", false, true},
	{"ligature", "\ufb01nancial of\ufb01ce keys", "$2b$04$40RPwTPifCXwSa8n2qP6Z.et64V7iX1TAfr6wRy8W0a4t3v8/KHQm", false, true},
	{"fullwidth", "\uff50\uff41\uff53\uff53\uff57\uff4f\uff52\uff44 \uff54\uff4f\uff4b\uff59\uff4f 2024", "$2b$04$2rRXhDuItcIGYG0ALOuXuuB8HgM8ExoTLiLlLzb2aPd2OwL7bUBSS", false, true},
	{"long87", "a very long passphrase that goes on and on past the bcrypt limit of 72 bytes!!xxxxxxxxx", "$2b$04$WGBDFhlMNezAIKreWJNv1uBBSyZWmpGpyIKtuXx741zXW2ZEqRbma", false, true},
	{"tab", "tab\tseparated secret", "$2b$04$cQtMyXQNBOQJz2M0bqOPQ.lAJk2XgiibWo.7mgk7lwN2AoDjhKxQK", false, false},
}

// loadLegacy stores the legacy accounts as the original system left them.
func loadLegacy(t *testing.T, st user.Store) map[string]*user.User {
	t.Helper()
	out := map[string]*user.User{}
	for _, a := range legacyAccounts {
		u := storetest.NewUser(a.name)
		u.HashedPassword = a.hash
		if err := st.Create(context.Background(), u); err != nil {
			t.Fatal(err)
		}
		out[a.name] = u
	}
	return out
}

var legacyOn = user.LegacyConfig{Enabled: true, BcryptCost: 4}

func TestLegacyPasswords(t *testing.T) {
	stores(t, func(t *testing.T, st user.Store) {
		ctx := context.Background()
		accounts := loadLegacy(t, st)
		legacy := newService(t, st, user.Config{Legacy: legacyOn})
		strict := newService(t, st, user.Config{})
		if len(accounts[legacyAccounts[5].name].Username) == 0 || len(legacyAccounts[5].password) != 87 {
			t.Fatal("the long case must be 87 bytes")
		}
		for _, a := range legacyAccounts {
			// A wrong password still fails, by either rule. (It differs
			// in its first byte: past 72 bytes bcrypt reads nothing.)
			_, err := legacy.Login(ctx, a.name, "!"+a.password)
			authErr(t, err, user.AuthWrongPassword)

			res, err := legacy.Login(ctx, a.name, a.password)
			if err != nil {
				t.Fatalf("%s: legacy login with the original password: %v", a.name, err)
			}
			if res.PasswordChangeRequired == a.storable {
				t.Fatalf("%s: PasswordChangeRequired = %v", a.name, res.PasswordChangeRequired)
			}
			stored, err := st.ByID(ctx, accounts[a.name].ID)
			if err != nil {
				t.Fatal(err)
			}
			if !a.storable {
				// Kept, and still signs in, still asking for a change.
				if stored.HashedPassword != a.hash {
					t.Fatalf("%s: the legacy hash was replaced by %q", a.name, stored.HashedPassword)
				}
				again, err := legacy.Login(ctx, a.name, a.password)
				if err != nil || !again.PasswordChangeRequired {
					t.Fatalf("%s: second login = %+v, %v; want success with PasswordChangeRequired", a.name, again, err)
				}
				continue
			}
			// Rehashed at once: the strict path (legacy rule off) takes it now.
			if !strings.HasPrefix(stored.HashedPassword, "$argon2id$") || res.User.HashedPassword != stored.HashedPassword {
				t.Fatalf("%s: after the legacy login the hash is %q", a.name, stored.HashedPassword)
			}
			if stored.SecurityStamp != accounts[a.name].SecurityStamp || !stored.PasswordChangedAt.Equal(accounts[a.name].PasswordChangedAt) {
				t.Fatalf("%s: rehashing changed the stamp or password_changed_at", a.name)
			}
			if res, err := strict.Login(ctx, a.name, a.password); err != nil || res.PasswordChangeRequired {
				t.Fatalf("%s: strict login after the rehash = %+v, %v", a.name, res, err)
			}
			// Strict now: the 73rd byte counts too.
			_, err = strict.Login(ctx, a.name, a.password+"!")
			authErr(t, err, user.AuthWrongPassword)
		}

		// The tab account changes its password with the legacy one as the
		// current password, and is strict from then on.
		tab := accounts["tab"]
		if err := legacy.ChangePassword(ctx, tab.ID, "tab\tseparated secret", "a new tabless passphrase"); err != nil {
			t.Fatalf("ChangePassword from the legacy password: %v", err)
		}
		if res, err := strict.Login(ctx, "tab", "a new tabless passphrase"); err != nil || res.PasswordChangeRequired {
			t.Fatalf("after the change: %+v, %v", res, err)
		}
	})
}

// TestLegacyOff: without the switch, today's strict rules: only the
// passwords whose raw bytes are their NFKC form and at most 72 bytes
// verify; the rest are refused, not locked out silently by a wrong rule.
func TestLegacyOff(t *testing.T) {
	stores(t, func(t *testing.T, st user.Store) {
		ctx := context.Background()
		loadLegacy(t, st)
		s := newService(t, st, user.Config{Lockout: user.LockoutPolicy{Threshold: -1}})
		for _, a := range legacyAccounts {
			res, err := s.Login(ctx, a.name, a.password)
			switch {
			case a.strict && (err != nil || res.PasswordChangeRequired):
				t.Errorf("%s: strict login = %v", a.name, err)
			case !a.strict:
				authErr(t, err, user.AuthWrongPassword)
			}
		}
	})
}

// TestLegacyNeverAppliesToSDKHashes: the SDK writes bcrypt as $2a$; such
// a hash of raw, unnormalized bytes is not verified by the legacy rule.
func TestLegacyNeverAppliesToSDKHashes(t *testing.T) {
	stores(t, func(t *testing.T, st user.Store) {
		ctx := context.Background()
		for _, a := range legacyAccounts {
			if a.strict {
				continue
			}
			u := storetest.NewUser("sdk" + a.name)
			u.HashedPassword = "$2a$" + strings.TrimPrefix(a.hash, "$2b$") // the same hash, the SDK's prefix
			if err := st.Create(ctx, u); err != nil {
				t.Fatal(err)
			}
			s := newService(t, st, user.Config{Legacy: legacyOn})
			_, err := s.Login(ctx, "sdk"+a.name, a.password)
			if !errors.Is(err, user.ErrInvalidCredentials) {
				t.Errorf("%s: a $2a$ hash verified by the legacy rule: %v", a.name, err)
			}
		}
	})
}

func TestLegacyConfig(t *testing.T) {
	for _, cost := range []int{3, 32, -1} {
		_, err := user.NewService(memory.New().Users(), user.Config{Legacy: user.LegacyConfig{Enabled: true, BcryptCost: cost}, Hasher: cheapHasher(t)})
		if err == nil || !strings.Contains(err.Error(), "Legacy.BcryptCost") {
			t.Errorf("BcryptCost %d: err = %v, want one naming Legacy.BcryptCost", cost, err)
		}
	}
}

// FuzzLoginLegacy: any login and password, against a strict
// argon2id account and a legacy bcrypt account on a fresh store: never a
// panic, never an error other than a refusal, and a success only for
// what each rule accepts: the NFKC form of the account's password, or,
// for the legacy account, its raw bytes (the original ones are under 72
// bytes, so no truncation is involved).
func FuzzLoginLegacy(f *testing.F) {
	for _, a := range legacyAccounts {
		f.Add(a.name, a.password)
		f.Add("legacy", a.password)
	}
	f.Add("strict", goodPassword)
	f.Add("strict", "ｃｏｒｒｅｃｔ horse battery staple")
	f.Add("legacy", "Cafe\u0301 au lait tre\u0300s bien")
	f.Add("legacy", "\x00")
	f.Add("\xff", "\xff\xfe")
	const legacyPassword = "Cafe\u0301 au lait tre\u0300s bien"
	legacyHash := legacyAccounts[2].hash
	h := cheapHasher(f)
	f.Fuzz(func(t *testing.T, login, password string) {
		st := memory.New().Users()
		s, err := user.NewService(st, user.Config{Hasher: h, Legacy: legacyOn, Lockout: user.LockoutPolicy{Threshold: -1}})
		if err != nil {
			t.Fatal(err)
		}
		user.SetRefusalWait(s, func(context.Context, time.Duration) {})
		ctx := context.Background()
		if _, err := s.Register(ctx, user.Registration{Username: "strict", Email: "strict@example.com", Password: goodPassword}); err != nil {
			t.Fatal(err)
		}
		lu := storetest.NewUser("legacy")
		lu.HashedPassword = legacyHash
		if err := st.Create(ctx, lu); err != nil {
			t.Fatal(err)
		}
		res, err := s.Login(ctx, login, password)
		var ae *user.AuthError
		switch {
		case err == nil:
		case errors.As(err, &ae):
			return
		default:
			t.Fatalf("Login(%q, %q): %v", login, password, err)
		}
		nfkc, nerr := user.NormalizePassword(password)
		switch res.User.Username {
		case "strict":
			if nerr != nil || nfkc != goodPassword {
				t.Fatalf("strict account accepted %q", password)
			}
		case "legacy":
			want, _ := user.NormalizePassword(legacyPassword)
			if password != legacyPassword && (nerr != nil || nfkc != want) {
				t.Fatalf("legacy account accepted %q", password)
			}
		default:
			t.Fatalf("login %q signed in %q", login, res.User.Username)
		}
	})
}
