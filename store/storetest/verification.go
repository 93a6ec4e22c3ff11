package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/user"
)

// The cases of the email address and verification token methods of
// [user.Store]; userCases lists them.

// tokenHash returns a hex SHA-256, as the service stores, derived from
// name.
func tokenHash(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

// newVerification returns a token for u's current address, created at
// created and valid for a day.
func newVerification(u *user.User, name string, created time.Time) *user.Verification {
	return &user.Verification{
		UserID:    u.ID,
		Email:     u.Email,
		TokenHash: tokenHash(name),
		CreatedAt: created,
		ExpiresAt: created.Add(24 * time.Hour),
	}
}

func mustCreateVerification(t *testing.T, s Stores, v *user.Verification) *user.Verification {
	t.Helper()
	if err := s.Users.CreateVerification(context.Background(), v); err != nil {
		t.Fatalf("CreateVerification for user %d: %v", v.UserID, err)
	}
	return v
}

func mustVerification(t *testing.T, s Stores, hash string) *user.Verification {
	t.Helper()
	v, err := s.Users.VerificationByHash(context.Background(), hash)
	if err != nil {
		t.Fatalf("VerificationByHash: %v", err)
	}
	return v
}

func mustUser(t *testing.T, s Stores, id int64) *user.User {
	t.Helper()
	u, err := s.Users.ByID(context.Background(), id)
	if err != nil {
		t.Fatalf("ByID(%d): %v", id, err)
	}
	return u
}

// diffVerification describes how got differs from want, or returns "".
func diffVerification(got, want *user.Verification) string {
	var d differ
	d.eq("ID", got.ID, want.ID)
	d.eq("UserID", got.UserID, want.UserID)
	d.eq("Email", got.Email, want.Email)
	d.eq("TokenHash", got.TokenHash, want.TokenHash)
	d.time("CreatedAt", got.CreatedAt, want.CreatedAt)
	d.time("ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	d.timePtr("UsedAt", got.UsedAt, want.UsedAt)
	return d.String()
}

// checkStoredUser fails unless user want.ID is stored as want, after
// what the string says.
func checkStoredUser(t *testing.T, s Stores, after string, want *user.User) {
	t.Helper()
	if d := diffUser(mustUser(t, s, want.ID), want); d != "" {
		t.Errorf("after %s: stored user %d: %s", after, want.ID, d)
	}
}

// checkStoredVerification fails unless the token want.TokenHash is stored
// as want, after what the string says.
func checkStoredVerification(t *testing.T, s Stores, after string, want *user.Verification) {
	t.Helper()
	if d := diffVerification(mustVerification(t, s, want.TokenHash), want); d != "" {
		t.Errorf("after %s: stored token %d: %s", after, want.ID, d)
	}
}

// testSetEmail: the address changes, verification is cleared, the stamp
// stays, and both addresses are indexed as they now are.
func testSetEmail(t *testing.T, s Stores) {
	ctx := context.Background()
	verified := base.Add(-time.Hour)
	u := NewUser("alma")
	u.IsVerified, u.EmailVerifiedAt = true, &verified
	mustCreate(t, s.Users, u)
	if _, err := s.Users.SetActive(ctx, u.ID, false, base); err != nil { // stamp 1
		t.Fatal(err)
	}
	if _, err := s.Users.SetActive(ctx, u.ID, true, base); err != nil { // stamp 2
		t.Fatal(err)
	}
	// Two admitted attempts lock the account: the password check a
	// change makes is admitted (and counted) like a login.
	for range 2 {
		if _, _, err := s.Users.AdmitLogin(ctx, u.ID, base, user.LockoutPolicy{Threshold: 2, Duration: time.Hour}); err != nil {
			t.Fatal(err)
		}
	}
	before := mustUser(t, s, u.ID)
	if before.FailedLoginAttempts != 2 || before.LockedUntil == nil {
		t.Fatalf("before SetEmail: %d attempts, locked until %v", before.FailedLoginAttempts, before.LockedUntil)
	}
	at := base.Add(time.Minute)
	got, err := s.Users.SetEmail(ctx, u.ID, "alma@example.com", "alma.new@example.com", at, 2)
	if err != nil {
		t.Fatalf("SetEmail: %v", err)
	}
	want := *before
	want.Email, want.IsVerified, want.EmailVerifiedAt, want.UpdatedAt = "alma.new@example.com", false, nil, at
	want.FailedLoginAttempts, want.LockedUntil = 0, nil // the lockout is cleared
	if d := diffUser(got, &want); d != "" {
		t.Fatalf("SetEmail returned: %s", d)
	}
	checkStoredUser(t, s, "SetEmail", &want)
	byEmail, err := s.Users.ByEmail(ctx, "alma.new@example.com")
	if err != nil || byEmail.ID != u.ID {
		t.Fatalf("ByEmail(new address) = %v, %v; want user %d", byEmail, err, u.ID)
	}
	if _, err := s.Users.ByEmail(ctx, "alma@example.com"); !errors.Is(err, user.ErrNotFound) {
		t.Fatalf("ByEmail(old address): err = %v, want ErrNotFound", err)
	}
	// The old address is free for another account.
	other := NewUser("alma2")
	other.Email = "alma@example.com"
	mustCreate(t, s.Users, other)
	// Setting the address again needs the current one as old.
	if _, err := s.Users.SetEmail(ctx, u.ID, "alma.new@example.com", "alma3@example.com", at.Add(time.Minute), 2); err != nil {
		t.Fatalf("second SetEmail: %v", err)
	}
	if _, err := s.Users.ByEmail(ctx, "alma.new@example.com"); !errors.Is(err, user.ErrNotFound) {
		t.Fatalf("ByEmail(replaced address): err = %v, want ErrNotFound", err)
	}
}

// testSetEmailTaken: another account's address is refused and nothing
// changes.
func testSetEmailTaken(t *testing.T, s Stores) {
	ctx := context.Background()
	a := mustCreate(t, s.Users, NewUser("bert"))
	b := mustCreate(t, s.Users, NewUser("bella"))
	v := mustCreateVerification(t, s, newVerification(a, "bert-1", base))
	_, err := s.Users.SetEmail(ctx, a.ID, a.Email, b.Email, base.Add(time.Minute), a.SecurityStamp)
	if !errors.Is(err, user.ErrEmailTaken) || !errors.Is(err, store.ErrConflict) {
		t.Fatalf("SetEmail to another account's address: err = %v, want ErrEmailTaken", err)
	}
	checkStoredUser(t, s, "a refused SetEmail", a)
	checkStoredUser(t, s, "a refused SetEmail", b)
	checkStoredVerification(t, s, "a refused SetEmail", v)
}

// testSetEmailStale: a moved stamp or address refuses the change with
// ErrStale, and nothing changes.
func testSetEmailStale(t *testing.T, s Stores) {
	ctx := context.Background()
	u := mustCreate(t, s.Users, NewUser("cleo"))
	if err := s.Users.SetPassword(ctx, u.ID, "new-hash", base, 0); err != nil { // stamp 1
		t.Fatal(err)
	}
	v := mustCreateVerification(t, s, newVerification(u, "cleo-1", base))
	before := mustUser(t, s, u.ID)
	for _, c := range []struct {
		name  string
		old   user.Email
		stamp int64
	}{
		{"stamp moved", u.Email, 0},
		{"stamp ahead", u.Email, 2},
		{"address moved", "cleo.old@example.com", 1},
		{"both moved", "cleo.old@example.com", 0},
	} {
		_, err := s.Users.SetEmail(ctx, u.ID, c.old, "cleo.new@example.com", base.Add(time.Hour), c.stamp)
		if !errors.Is(err, user.ErrStale) || !errors.Is(err, store.ErrConflict) {
			t.Fatalf("%s: SetEmail err = %v, want ErrStale", c.name, err)
		}
		checkStoredUser(t, s, c.name+": a stale SetEmail", before)
		checkStoredVerification(t, s, c.name+": a stale SetEmail", v)
		if _, err := s.Users.ByEmail(ctx, "cleo.new@example.com"); !errors.Is(err, user.ErrNotFound) {
			t.Fatalf("%s: ByEmail(refused address): err = %v, want ErrNotFound", c.name, err)
		}
	}
}

// testSetEmailSpendsTokens: changing the address spends the user's
// outstanding tokens, and no one else's.
func testSetEmailSpendsTokens(t *testing.T, s Stores) {
	ctx := context.Background()
	u := mustCreate(t, s.Users, NewUser("dora"))
	other := mustCreate(t, s.Users, NewUser("dino"))
	mine := mustCreateVerification(t, s, newVerification(u, "dora-1", base))
	theirs := mustCreateVerification(t, s, newVerification(other, "dino-1", base))
	at := base.Add(time.Minute)
	if _, err := s.Users.SetEmail(ctx, u.ID, u.Email, "dora.new@example.com", at, 0); err != nil {
		t.Fatal(err)
	}
	want := *mine
	want.UsedAt = &at
	checkStoredVerification(t, s, "SetEmail", &want) // spent at at
	checkStoredVerification(t, s, "another user's SetEmail", theirs)
	if _, err := s.Users.ConsumeVerification(ctx, mine.TokenHash, at.Add(time.Second)); !errors.Is(err, user.ErrTokenRefused) {
		t.Fatalf("ConsumeVerification of a token spent by SetEmail: err = %v, want ErrTokenRefused", err)
	}
}

// testVerificationRoundTrip: every field is stored and read back, times
// in UTC.
func testVerificationRoundTrip(t *testing.T, s Stores) {
	ctx := context.Background()
	u := mustCreate(t, s.Users, NewUser("edda"))
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	v := &user.Verification{
		UserID:    u.ID,
		Email:     "edda.elsewhere@example.com", // any address: the token is refused, not the insert
		TokenHash: tokenHash("edda-1"),
		CreatedAt: base.In(zone),
		ExpiresAt: base.Add(24 * time.Hour).In(zone),
	}
	if err := s.Users.CreateVerification(ctx, v); err != nil {
		t.Fatal(err)
	}
	if v.ID <= 0 {
		t.Fatalf("CreateVerification set ID = %d, want > 0", v.ID)
	}
	want := &user.Verification{ID: v.ID, UserID: u.ID, Email: "edda.elsewhere@example.com", TokenHash: tokenHash("edda-1"),
		CreatedAt: base, ExpiresAt: base.Add(24 * time.Hour)}
	if d := diffVerification(v, want); d != "" {
		t.Errorf("CreateVerification left v as: %s", d)
	}
	if d := diffVerification(mustVerification(t, s, want.TokenHash), want); d != "" {
		t.Errorf("VerificationByHash: %s", d)
	}
	// A spent token, of another user, round-trips its UsedAt.
	w := mustCreate(t, s.Users, NewUser("edgar"))
	used := base.Add(time.Minute).In(zone)
	spent := newVerification(w, "edgar-1", base)
	spent.UsedAt = &used
	mustCreateVerification(t, s, spent)
	if spent.ID == v.ID {
		t.Fatalf("two tokens share id %d", v.ID)
	}
	wantSpent := *spent
	wantSpent.UsedAt = ptr(base.Add(time.Minute))
	if d := diffVerification(mustVerification(t, s, spent.TokenHash), &wantSpent); d != "" {
		t.Errorf("VerificationByHash of a spent token: %s", d)
	}
	checkStoredVerification(t, s, "another user's CreateVerification", want)
	if _, err := s.Users.VerificationByHash(ctx, tokenHash("nobody")); !errors.Is(err, user.ErrTokenNotFound) || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("VerificationByHash(unknown): err = %v, want ErrTokenNotFound", err)
	}
}

// testCreateVerificationSpendsOthers: a new token spends the user's
// outstanding ones at its CreatedAt, not spent ones again, and not
// another user's.
func testCreateVerificationSpendsOthers(t *testing.T, s Stores) {
	u := mustCreate(t, s.Users, NewUser("fern"))
	other := mustCreate(t, s.Users, NewUser("felix"))
	t1 := mustCreateVerification(t, s, newVerification(u, "fern-1", base))
	theirs := mustCreateVerification(t, s, newVerification(other, "felix-1", base))
	t2 := mustCreateVerification(t, s, newVerification(u, "fern-2", base.Add(time.Minute)))
	if t2.UsedAt != nil {
		t.Fatalf("the new token is spent: %s", fmtTime(t2.UsedAt))
	}
	want1 := *t1
	want1.UsedAt = ptr(base.Add(time.Minute))
	checkStoredVerification(t, s, "a newer token", &want1)
	checkStoredVerification(t, s, "another user's CreateVerification", theirs)
	checkStoredVerification(t, s, "creating it", t2)

	mustCreateVerification(t, s, newVerification(u, "fern-3", base.Add(2*time.Minute)))
	checkStoredVerification(t, s, "spending a spent token again", &want1)
	want2 := *t2
	want2.UsedAt = ptr(base.Add(2 * time.Minute))
	checkStoredVerification(t, s, "a newer token", &want2)
	checkStoredVerification(t, s, "another user's CreateVerification", theirs)
}

// testCreateVerificationDuplicate: a stored hash is refused with a
// store.ErrConflict, and nothing changes (no token is spent).
func testCreateVerificationDuplicate(t *testing.T, s Stores) {
	ctx := context.Background()
	u := mustCreate(t, s.Users, NewUser("gale"))
	other := mustCreate(t, s.Users, NewUser("gus"))
	mine := mustCreateVerification(t, s, newVerification(u, "gale-1", base))
	theirs := mustCreateVerification(t, s, newVerification(other, "gus-1", base))
	for _, dup := range []*user.Verification{
		newVerification(u, "gale-1", base.Add(time.Minute)),
		newVerification(u, "gus-1", base.Add(time.Minute)),
		newVerification(other, "gale-1", base.Add(time.Minute)),
	} {
		err := s.Users.CreateVerification(ctx, dup)
		if !errors.Is(err, store.ErrConflict) || errors.Is(err, user.ErrNotFound) {
			t.Fatalf("CreateVerification of a stored hash: err = %v, want a store.ErrConflict", err)
		}
		checkStoredVerification(t, s, "a refused CreateVerification", mine)
		checkStoredVerification(t, s, "a refused CreateVerification", theirs)
	}
}

// testCreateVerificationNoUser: a token of a deleted user is refused with
// ErrNotFound. (userNotFound covers ids no row ever had.)
func testCreateVerificationNoUser(t *testing.T, s Stores) {
	ctx := context.Background()
	u := mustCreate(t, s.Users, NewUser("hale"))
	if err := s.Users.Delete(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	err := s.Users.CreateVerification(ctx, newVerification(u, "hale-1", base))
	if !errors.Is(err, user.ErrNotFound) || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("CreateVerification for a deleted user: err = %v, want ErrNotFound", err)
	}
	if _, err := s.Users.VerificationByHash(ctx, tokenHash("hale-1")); !errors.Is(err, user.ErrTokenNotFound) {
		t.Fatalf("the refused token was stored: err = %v", err)
	}
}

// testConsumeVerification: consuming spends the token and verifies the
// address; a verified address keeps its first verification time.
func testConsumeVerification(t *testing.T, s Stores) {
	ctx := context.Background()
	u := mustCreate(t, s.Users, NewUser("iris"))
	v := mustCreateVerification(t, s, newVerification(u, "iris-1", base))
	at := base.Add(time.Hour)
	got, err := s.Users.ConsumeVerification(ctx, v.TokenHash, at)
	if err != nil {
		t.Fatalf("ConsumeVerification: %v", err)
	}
	want := *u
	want.IsVerified, want.EmailVerifiedAt, want.UpdatedAt = true, &at, at
	if d := diffUser(got, &want); d != "" {
		t.Fatalf("ConsumeVerification returned: %s", d)
	}
	checkStoredUser(t, s, "ConsumeVerification", &want)
	wantV := *v
	wantV.UsedAt = &at
	checkStoredVerification(t, s, "ConsumeVerification", &wantV)

	// A later token for the same address verifies again, keeping the
	// first time.
	v2 := mustCreateVerification(t, s, newVerification(u, "iris-2", base.Add(2*time.Hour)))
	at2 := base.Add(3 * time.Hour)
	got, err = s.Users.ConsumeVerification(ctx, v2.TokenHash, at2)
	if err != nil {
		t.Fatalf("second ConsumeVerification: %v", err)
	}
	want.UpdatedAt = at2
	if d := diffUser(got, &want); d != "" {
		t.Fatalf("second ConsumeVerification returned: %s", d)
	}

	// So does a user created verified.
	first := base.Add(-48 * time.Hour)
	w := NewUser("ivan")
	w.IsVerified, w.EmailVerifiedAt = true, &first
	mustCreate(t, s.Users, w)
	wv := mustCreateVerification(t, s, newVerification(w, "ivan-1", base))
	got, err = s.Users.ConsumeVerification(ctx, wv.TokenHash, at)
	if err != nil {
		t.Fatal(err)
	}
	wantW := *w
	wantW.UpdatedAt = at
	if d := diffUser(got, &wantW); d != "" {
		t.Fatalf("ConsumeVerification of a verified user returned: %s", d)
	}
	if got.EmailVerifiedAt == nil || !got.EmailVerifiedAt.Equal(first) {
		t.Fatalf("email_verified_at = %s, want the first verification %v", fmtTime(got.EmailVerifiedAt), first)
	}
}

// testConsumeVerificationRefused: a spent, expired, misaddressed token,
// or one of an inactive user, is refused and nothing changes.
func testConsumeVerificationRefused(t *testing.T, s Stores) {
	ctx := context.Background()
	expires := base.Add(24 * time.Hour)
	cases := []struct {
		name string
		// prepare runs after the token v of user u was created; it returns
		// the time to consume at.
		prepare func(t *testing.T, u *user.User, v *user.Verification) time.Time
	}{
		{"spent by use", func(t *testing.T, u *user.User, v *user.Verification) time.Time {
			if _, err := s.Users.ConsumeVerification(ctx, v.TokenHash, base.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			return base.Add(2 * time.Minute)
		}},
		{"spent by a newer token", func(t *testing.T, u *user.User, v *user.Verification) time.Time {
			mustCreateVerification(t, s, newVerification(u, v.TokenHash+"-newer", base.Add(time.Minute)))
			return base.Add(2 * time.Minute)
		}},
		{"expiring at at", func(*testing.T, *user.User, *user.Verification) time.Time { return expires }},
		{"expired", func(*testing.T, *user.User, *user.Verification) time.Time { return expires.Add(time.Hour) }},
		{"address changed", func(t *testing.T, u *user.User, v *user.Verification) time.Time {
			if _, err := s.Users.SetEmail(ctx, u.ID, u.Email, "moved."+u.Email, base.Add(time.Minute), u.SecurityStamp); err != nil {
				t.Fatal(err)
			}
			return base.Add(2 * time.Minute)
		}},
		{"address changed and back", func(t *testing.T, u *user.User, v *user.Verification) time.Time {
			if _, err := s.Users.SetEmail(ctx, u.ID, u.Email, "moved."+u.Email, base.Add(time.Minute), u.SecurityStamp); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Users.SetEmail(ctx, u.ID, "moved."+u.Email, u.Email, base.Add(2*time.Minute), u.SecurityStamp); err != nil {
				t.Fatal(err)
			}
			return base.Add(3 * time.Minute)
		}},
		{"user inactive", func(t *testing.T, u *user.User, v *user.Verification) time.Time {
			if _, err := s.Users.SetActive(ctx, u.ID, false, base.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			return base.Add(2 * time.Minute)
		}},
	}
	for i, c := range cases {
		u := mustCreate(t, s.Users, NewUser(fmt.Sprintf("jade%d", i)))
		v := mustCreateVerification(t, s, newVerification(u, fmt.Sprintf("jade%d-1", i), base))
		at := c.prepare(t, u, v)
		beforeU, beforeV := mustUser(t, s, u.ID), mustVerification(t, s, v.TokenHash)
		_, err := s.Users.ConsumeVerification(ctx, v.TokenHash, at)
		if !errors.Is(err, user.ErrTokenRefused) || !errors.Is(err, store.ErrConflict) {
			t.Fatalf("%s: ConsumeVerification err = %v, want ErrTokenRefused", c.name, err)
		}
		checkStoredUser(t, s, c.name+": a refused ConsumeVerification", beforeU)
		checkStoredVerification(t, s, c.name+": a refused ConsumeVerification", beforeV)
	}

	// A token issued for another address than the user's is refused, even
	// unspent.
	u := mustCreate(t, s.Users, NewUser("jules.other"))
	v := newVerification(u, "jules.other-1", base)
	v.Email = "elsewhere@example.com"
	mustCreateVerification(t, s, v)
	if _, err := s.Users.ConsumeVerification(ctx, v.TokenHash, base.Add(time.Minute)); !errors.Is(err, user.ErrTokenRefused) {
		t.Fatalf("token for another address: err = %v, want ErrTokenRefused", err)
	}
	checkStoredUser(t, s, "a refused ConsumeVerification", u)
	checkStoredVerification(t, s, "a refused ConsumeVerification", v)

	// One microsecond before it expires, a token is good; an inactive
	// user's token, left unspent, is good once the user is active again.
	w := mustCreate(t, s.Users, NewUser("june"))
	wv := mustCreateVerification(t, s, newVerification(w, "june-1", base))
	if _, err := s.Users.SetActive(ctx, w.ID, false, base); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Users.ConsumeVerification(ctx, wv.TokenHash, base.Add(time.Minute)); !errors.Is(err, user.ErrTokenRefused) {
		t.Fatalf("inactive user: err = %v, want ErrTokenRefused", err)
	}
	if _, err := s.Users.SetActive(ctx, w.ID, true, base); err != nil {
		t.Fatal(err)
	}
	last := wv.ExpiresAt.Add(-time.Microsecond)
	got, err := s.Users.ConsumeVerification(ctx, wv.TokenHash, last)
	if err != nil || !got.IsVerified || !timePtrEqual(got.EmailVerifiedAt, &last) {
		t.Fatalf("ConsumeVerification just before expiry, once reactivated = %+v, %v; want verified at %v", got, err, last)
	}
}

// testConsumeVerificationNotFound: an unknown hash is ErrTokenNotFound,
// as is the hash of a deleted user's token.
func testConsumeVerificationNotFound(t *testing.T, s Stores) {
	ctx := context.Background()
	if _, err := s.Users.ConsumeVerification(ctx, tokenHash("nobody"), base); !errors.Is(err, user.ErrTokenNotFound) || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("ConsumeVerification(unknown): err = %v, want ErrTokenNotFound", err)
	}
	if _, err := s.Users.ConsumeVerification(ctx, "", base); !errors.Is(err, user.ErrTokenNotFound) {
		t.Fatalf("ConsumeVerification(\"\"): err = %v, want ErrTokenNotFound", err)
	}
}

// testConcurrentConsumeVerification: 50 goroutines consume one token,
// each at its own time: exactly one succeeds, and the stored token and
// user carry the winner's time.
func testConcurrentConsumeVerification(t *testing.T, s Stores) {
	u := mustCreate(t, s.Users, NewUser("kira"))
	v := mustCreateVerification(t, s, newVerification(u, "kira-1", base))
	const n = 50
	at := func(i int) time.Time { return base.Add(time.Minute + time.Duration(i)*time.Microsecond) }
	errs := race(n, func(i int) error {
		_, err := s.Users.ConsumeVerification(context.Background(), v.TokenHash, at(i))
		return err
	})
	won := oneWinner(t, "consumers", errs, user.ErrTokenRefused)
	when := at(won)
	got := mustUser(t, s, u.ID)
	if !got.IsVerified || !timePtrEqual(got.EmailVerifiedAt, &when) || !got.UpdatedAt.Equal(when) {
		t.Errorf("user after the race: verified %v at %s, updated %v; want verified at the winner's %v", got.IsVerified, fmtTime(got.EmailVerifiedAt), got.UpdatedAt, when)
	}
	if gv := mustVerification(t, s, v.TokenHash); !timePtrEqual(gv.UsedAt, &when) {
		t.Errorf("token used at %s, want the winner's %v", fmtTime(gv.UsedAt), when)
	}
}

// testDeleteExpiredVerifications: spent and expired tokens go in batches;
// live ones stay.
func testDeleteExpiredVerifications(t *testing.T, s Stores) {
	ctx := context.Background()
	at := base.Add(2 * time.Hour)
	var gone, live []*user.Verification
	users := make([]*user.User, 6)
	for i := range users {
		users[i] = mustCreate(t, s.Users, NewUser(fmt.Sprintf("lena%d", i)))
	}
	mk := func(u *user.User, name string, created, expires time.Time) *user.Verification {
		v := newVerification(u, name, created)
		v.ExpiresAt = expires
		return mustCreateVerification(t, s, v)
	}
	day := 24 * time.Hour
	// Spent by a newer token, twice: the newer ones live.
	gone = append(gone, mk(users[0], "lena0-1", base, base.Add(day)))
	live = append(live, mk(users[0], "lena0-2", base.Add(time.Minute), base.Add(day)))
	gone = append(gone, mk(users[1], "lena1-1", base, base.Add(day)))
	live = append(live, mk(users[1], "lena1-2", base.Add(time.Minute), base.Add(day)))
	// Used.
	used := mk(users[2], "lena2-1", base, base.Add(day))
	if _, err := s.Users.ConsumeVerification(ctx, used.TokenHash, base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	gone = append(gone, used)
	// Expired: exactly at at, and before.
	gone = append(gone, mk(users[3], "lena3-1", base, at))
	gone = append(gone, mk(users[4], "lena4-1", base, at.Add(-time.Hour)))
	// Unspent, expiring a microsecond after at.
	live = append(live, mk(users[5], "lena5-1", base, at.Add(time.Microsecond)))

	for i, want := range []int{2, 2, 1, 0} {
		n, err := s.Users.DeleteExpiredVerifications(ctx, at, 2)
		if err != nil {
			t.Fatalf("pass %d: %v", i, err)
		}
		if n != want {
			t.Fatalf("pass %d deleted %d, want %d", i, n, want)
		}
	}
	for _, v := range gone {
		if _, err := s.Users.VerificationByHash(ctx, v.TokenHash); !errors.Is(err, user.ErrTokenNotFound) {
			t.Errorf("token %d (used %s, expires %v) survived: err = %v", v.ID, fmtTime(v.UsedAt), v.ExpiresAt, err)
		}
	}
	for _, v := range live {
		checkStoredVerification(t, s, "DeleteExpiredVerifications", v)
	}
}

// testDeleteUserVerifications: deleting a user deletes its tokens, and
// only its own.
func testDeleteUserVerifications(t *testing.T, s Stores) {
	ctx := context.Background()
	u := mustCreate(t, s.Users, NewUser("milo2"))
	other := mustCreate(t, s.Users, NewUser("mona"))
	spent := mustCreateVerification(t, s, newVerification(u, "milo2-1", base))
	mine := mustCreateVerification(t, s, newVerification(u, "milo2-2", base.Add(time.Minute)))
	theirs := mustCreateVerification(t, s, newVerification(other, "mona-1", base))
	if err := s.Users.Delete(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	for _, v := range []*user.Verification{spent, mine} {
		if _, err := s.Users.VerificationByHash(ctx, v.TokenHash); !errors.Is(err, user.ErrTokenNotFound) {
			t.Errorf("a deleted user's token survived: err = %v", err)
		}
	}
	if _, err := s.Users.ConsumeVerification(ctx, mine.TokenHash, base.Add(2*time.Minute)); !errors.Is(err, user.ErrTokenNotFound) {
		t.Errorf("ConsumeVerification of a deleted user's token: err = %v, want ErrTokenNotFound", err)
	}
	checkStoredVerification(t, s, "another user's Delete", theirs)
	// The hash is free again.
	mustCreateVerification(t, s, newVerification(other, "milo2-2", base.Add(3*time.Minute)))
}

// testVerificationRollback: SetEmail, CreateVerification and
// ConsumeVerification inside a transaction that fails leave nothing
// behind; inside one that commits, they stay.
func testVerificationRollback(t *testing.T, s Stores) {
	if s.Tx == nil {
		t.Skip("storetest: the adapter provides no Transactor")
	}
	ctx := context.Background()
	a := mustCreate(t, s.Users, NewUser("nell"))
	b := mustCreate(t, s.Users, NewUser("nico"))
	av := mustCreateVerification(t, s, newVerification(a, "nell-1", base))
	bv := mustCreateVerification(t, s, newVerification(b, "nico-1", base))
	at := base.Add(time.Minute)
	run := func(ctx context.Context) error {
		if _, err := s.Users.SetEmail(ctx, a.ID, a.Email, "nell.new@example.com", at, a.SecurityStamp); err != nil {
			return err
		}
		if err := s.Users.CreateVerification(ctx, newVerification(a, "nell-2", at)); err != nil {
			return err
		}
		if _, err := s.Users.ConsumeVerification(ctx, bv.TokenHash, at); err != nil {
			return err
		}
		// The transaction reads its own writes.
		if got, err := s.Users.ByEmail(ctx, "nell.new@example.com"); err != nil || got.ID != a.ID {
			return fmt.Errorf("reading own SetEmail: %v, %v", got, err)
		}
		if got, err := s.Users.VerificationByHash(ctx, bv.TokenHash); err != nil || got.UsedAt == nil {
			return fmt.Errorf("reading own ConsumeVerification: %v, %v", got, err)
		}
		return nil
	}
	err := s.Tx.InTx(ctx, func(ctx context.Context) error {
		if err := run(ctx); err != nil {
			t.Error(err)
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("InTx returned %v, want fn's error", err)
	}
	checkStoredUser(t, s, "a rolled back transaction", a)
	checkStoredUser(t, s, "a rolled back transaction", b)
	checkStoredVerification(t, s, "a rolled back transaction", av)
	checkStoredVerification(t, s, "a rolled back transaction", bv)
	if _, err := s.Users.ByEmail(ctx, "nell.new@example.com"); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("the rolled back address is indexed: err = %v", err)
	}
	if got, err := s.Users.ByEmail(ctx, a.Email); err != nil || got.ID != a.ID {
		t.Errorf("ByEmail(restored address) = %v, %v", got, err)
	}
	if _, err := s.Users.VerificationByHash(ctx, tokenHash("nell-2")); !errors.Is(err, user.ErrTokenNotFound) {
		t.Errorf("the rolled back token is stored: err = %v", err)
	}

	// The same work committed.
	if err := s.Tx.InTx(ctx, run); err != nil {
		t.Fatal(err)
	}
	if got := mustUser(t, s, a.ID); got.Email != "nell.new@example.com" {
		t.Errorf("after commit: address %q", got.Email)
	}
	if got := mustUser(t, s, b.ID); !got.IsVerified {
		t.Error("after commit: user not verified")
	}
	if got := mustVerification(t, s, tokenHash("nell-2")); got.UsedAt != nil {
		t.Errorf("after commit: the new token is spent at %s", fmtTime(got.UsedAt))
	}
}

// testVerificationReturnsCopies: changing what the methods return, or v
// after CreateVerification, changes nothing stored.
func testVerificationReturnsCopies(t *testing.T, s Stores) {
	ctx := context.Background()
	u := mustCreate(t, s.Users, NewUser("opal"))
	used := base.Add(time.Minute)
	v := newVerification(u, "opal-1", base)
	v.UsedAt = &used
	mustCreateVerification(t, s, v)
	want := *v
	want.UsedAt = ptr(used)
	v.Email, v.ExpiresAt = "changed@example.com", base
	*v.UsedAt = base.Add(time.Hour)
	got := mustVerification(t, s, want.TokenHash)
	if d := diffVerification(got, &want); d != "" {
		t.Fatalf("changing v after CreateVerification changed the store: %s", d)
	}
	got.Email = "changed@example.com"
	*got.UsedAt = base.Add(time.Hour)
	checkStoredVerification(t, s, "changing VerificationByHash's result", &want)

	live := mustCreateVerification(t, s, newVerification(u, "opal-2", base.Add(time.Minute)))
	verified, err := s.Users.ConsumeVerification(ctx, live.TokenHash, base.Add(2*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	// stored is read before, and owns its times, so that a store that
	// shares them with its callers cannot change stored too.
	stored := mustUser(t, s, u.ID)
	stored.EmailVerifiedAt = ptr(*stored.EmailVerifiedAt)
	*verified.EmailVerifiedAt = base.Add(time.Hour)
	verified.Email = "changed@example.com"
	checkStoredUser(t, s, "changing ConsumeVerification's result", stored)
	again := mustUser(t, s, u.ID)
	*again.EmailVerifiedAt = base.Add(time.Hour)
	checkStoredUser(t, s, "changing ByID's result", stored)
	moved, err := s.Users.SetEmail(ctx, u.ID, u.Email, "opal.new@example.com", base.Add(3*time.Minute), u.SecurityStamp)
	if err != nil {
		t.Fatal(err)
	}
	stored = mustUser(t, s, u.ID)
	moved.Email = "changed@example.com"
	moved.Preferences["x"] = "changed"
	checkStoredUser(t, s, "changing SetEmail's result", stored)
}

// testConcurrentSetEmail: 50 users move to one address at once: exactly
// one succeeds, the others get ErrEmailTaken.
func testConcurrentSetEmail(t *testing.T, s Stores) {
	const n = 50
	users := make([]*user.User, n)
	for i := range users {
		users[i] = mustCreate(t, s.Users, NewUser(fmt.Sprintf("pia%d", i)))
	}
	const addr = "pia@example.com"
	errs := race(n, func(i int) error {
		u := users[i]
		_, err := s.Users.SetEmail(context.Background(), u.ID, u.Email, addr, base.Add(time.Minute), u.SecurityStamp)
		return err
	})
	won := oneWinner(t, "users", errs, user.ErrEmailTaken)
	got, err := s.Users.ByEmail(context.Background(), addr)
	if err != nil || got.ID != users[won].ID {
		t.Fatalf("ByEmail(%s) = %v, %v; want the winner %d", addr, got, err, users[won].ID)
	}
	for i, u := range users {
		if i != won {
			checkStoredUser(t, s, "a refused SetEmail", u)
		}
	}
}
