package user_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/cedrina/cedrina/legacy"
	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/user"
)

func Example() {
	ctx := context.Background()
	users, err := user.NewService(memory.New().Users(), user.Config{})
	if err != nil {
		panic(err)
	}
	u, err := users.Register(ctx, user.Registration{
		Username: "Alice",
		Email:    "Alice@Example.COM",
		Password: "correct horse battery staple",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(u.Username, u.Email, u.Role, u.Tier)

	if _, err := users.Login(ctx, "alice@example.com", "correct horse battery staple"); err == nil {
		fmt.Println("logged in")
	}

	_, err = users.Login(ctx, "alice", "wrong password")
	var ae *user.AuthError
	if errors.Is(err, user.ErrInvalidCredentials) && errors.As(err, &ae) {
		fmt.Println(err, "/", ae.Reason, "attempt", ae.Attempts)
	}
	// Output:
	// alice alice@example.com USER FREE
	// logged in
	// user: invalid credentials / wrong_password attempt 1
}

func ExamplePasswordPolicy_Check() {
	var policy user.PasswordPolicy // the default: 8 to 128 code points, blocklist on
	for _, pw := range []string{"short", "iloveyou1", "alice-smith", "a long and unusual passphrase"} {
		err := policy.Check(context.Background(), pw, user.PasswordContext{Username: "alice-smith"})
		var pe *user.PasswordError
		if errors.As(err, &pe) {
			fmt.Println(pe.Reason)
		} else {
			fmt.Println("ok")
		}
	}
	// Output:
	// too short
	// too common
	// matches a context word
	// ok
}

// An account carried over from another system, whose bcrypt hash was made
// from the raw bytes of a decomposed "é" (as a Python service stored it),
// signs in with its original password once the legacy rule is on, and is
// rehashed to argon2id at once.
func ExampleLegacyConfig() {
	ctx := context.Background()
	db := memory.New()
	carried := &user.User{
		Username: "camille", Email: "camille@example.com", IsActive: true, Role: user.RoleUser, Tier: user.TierFree,
		// pyca/bcrypt over "Cafe\u0301 au lait tre\u0300s bien" (cost 4 to keep the example fast).
		HashedPassword: "$2b$04$twaFt.CER4an3w5Uao0bBeXUlV1wCEphYRxmhvDS1DA3pUJ2IaYlG",
	}
	if err := db.Users().Create(ctx, carried); err != nil {
		panic(err)
	}
	users, err := user.NewService(db.Users(), user.Config{Legacy: user.LegacyConfig{Enabled: true, BcryptCost: 4}})
	if err != nil {
		panic(err)
	}
	res, err := users.Login(ctx, "camille", "Cafe\u0301 au lait tre\u0300s bien")
	if err != nil {
		panic(err)
	}
	fmt.Println("signed in; change required:", res.PasswordChangeRequired)
	fmt.Println("rehashed:", res.User.HashedPassword[:10])
	// Output:
	// signed in; change required: false
	// rehashed: $argon2id$
}

// An account whose hash the original system stored encrypted ("enc_v1:",
// a Fernet token of its bcrypt hash under the key of its PGCRYPTO_KEY
// setting) signs in once the service has that key, and is rehashed at
// once; PasswordFormat tells the formats apart.
func ExampleLegacyConfig_keys() {
	ctx := context.Background()
	db := memory.New()
	const stored = "enc_v1:Z0FBQUFBQnJESHlRM2g4OUJ5OU5vT1RoQmFQQ3FCN0ZYQVVXWVp3c2tkY2RrbWZyVEFfNlVvS1VXWTBDcmpXOEoySHVvXzhnNVVnc1hPSGhabFExeC05UU5nYVAyUU5yM3Q2RFloMHk1WndGYlJxV0FBQmJya1NaQWlQcHd6TlhJeGFzelBHTm81Z2RVaGpvWVFhczJpZXo4T19oZXpHV213PT0="
	carried := &user.User{
		Username: "bruno", Email: "bruno@example.com", IsActive: true, Role: user.RoleUser, Tier: user.TierFree,
		HashedPassword: stored,
	}
	if err := db.Users().Create(ctx, carried); err != nil {
		panic(err)
	}
	fmt.Println("before:", user.PasswordFormat(stored))

	// The key as the original configured it; a host reads it from its
	// secret store, never from code.
	keys, err := legacy.ParseKeys("S2VlcC10aGlzLWtleS1vdXQtb2YtcHJvZHVjdGlvbiE=")
	if err != nil {
		panic(err)
	}
	users, err := user.NewService(db.Users(), user.Config{Legacy: user.LegacyConfig{Enabled: true, BcryptCost: 4, Keys: keys}})
	if err != nil {
		panic(err)
	}
	res, err := users.Login(ctx, "bruno", "pässwörd-Ünïcödé")
	if err != nil {
		panic(err)
	}
	fmt.Println("after:", user.PasswordFormat(res.User.HashedPassword))
	// Output:
	// before: legacy-encrypted
	// after: argon2id
}

// A hasher verifies hashes of either algorithm and says when a stored hash
// no longer matches the current policy: here a bcrypt hash, read by a
// hasher whose policy is argon2id. The service rehashes such a password
// at the next successful login. (The costs are lowered to keep the
// example fast; the defaults are argon2id m=19456 KiB, t=2, p=1 and bcrypt
// cost 12.)
func ExampleNewHasher() {
	ctx := context.Background()
	old, err := user.NewHasher(user.HashConfig{Algorithm: user.Bcrypt, BcryptCost: 4})
	if err != nil {
		panic(err)
	}
	stored, err := old.Hash(ctx, "correct horse battery staple")
	if err != nil {
		panic(err)
	}

	current, err := user.NewHasher(user.HashConfig{Algorithm: user.Argon2id, Argon2id: user.Argon2idParams{Memory: 64, Time: 1}})
	if err != nil {
		panic(err)
	}
	match, needsRehash, err := current.Verify(ctx, stored, "correct horse battery staple")
	fmt.Println(stored[:4], match, needsRehash, err)
	match, needsRehash, err = current.Verify(ctx, stored, "wrong password")
	fmt.Println(match, needsRehash, err)

	fresh, err := current.Hash(ctx, "correct horse battery staple")
	if err != nil {
		panic(err)
	}
	fmt.Println(fresh[:27])
	// Output:
	// $2a$ true true <nil>
	// false false <nil>
	// $argon2id$v=19$m=64,t=1,p=1
}

// Usernames are compared in one canonical form: width-mapped, lower-cased,
// NFC. Mixing scripts is refused, so a Cyrillic "а" cannot pass for a
// Latin "a".
func ExampleParseUsername() {
	for _, s := range []string{"Alice", "ＡＬＩＣＥ", "jean-luc.picard", "\u0430dmin", "al"} {
		name, err := user.ParseUsername(s)
		fmt.Printf("%q %v\n", name, err)
	}
	// Output:
	// "alice" <nil>
	// "alice" <nil>
	// "jean-luc.picard" <nil>
	// "" user: invalid username: mixed scripts
	// "" user: invalid username: too short
}
