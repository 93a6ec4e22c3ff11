package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cedrina/cedrina/oauth"
	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/user"
)

// RunOAuthStore checks an [oauth.Store] beside the user store its
// profiles belong to: what Link stores and returns, its refusals (an
// identity linked already and a provider linked already, both also under
// concurrent calls, an unknown user, a user deactivated or whose security
// stamp moved), lookups by identity and by user, UpdateTokens,
// Unlink and its refusal of a passwordless user's last identity (also
// under concurrent calls), profiles deleted with their user, values a
// PostgreSQL column cannot hold, spent flow states (50 concurrent spends
// of one state give one success) and their batched cleanup, copies,
// canceled contexts and, with a Transactor, rollback and commit.
//
// Beyond what [oauth.Store] states, the suite holds a store to what
// PostgreSQL's columns allow, so that every store refuses the same
// values: Link and UpdateTokens refuse a Provider longer than 50
// characters, a ProviderUserID longer than 255, text with a NUL byte or
// invalid UTF-8 and user info holding a NUL, with an error of no
// sentinel class; lookups by such values find nothing. SpendState takes
// the state's hash as 64 hexadecimal digits (a hex SHA-256) and refuses
// anything else. ByUser orders by provider byte by byte.
func RunOAuthStore(t *testing.T, newStores Factory) {
	subtests(t, newStores, func(s Stores) bool { return s.OAuth != nil && s.Users != nil }, oauthCases)
	subtests(t, newStores, func(s Stores) bool { return s.OAuth != nil && s.Users != nil && s.Tx != nil }, oauthTxCases)
}

var oauthCases = map[string]func(*testing.T, Stores){
	"LinkRoundTrip":                testOAuthLinkRoundTrip,
	"LinkDefaultTimes":             testOAuthLinkDefaultTimes,
	"LinkIdentityTaken":            testOAuthLinkIdentityTaken,
	"LinkProviderLinked":           testOAuthLinkProviderLinked,
	"LinkUnknownUser":              testOAuthLinkUnknownUser,
	"LinkUserChanged":              testOAuthLinkUserChanged,
	"LinkAfterPasswordChange":      testOAuthLinkAfterPasswordChange,
	"LinkRacesPasswordChange":      testOAuthLinkRacesPasswordChange,
	"ConcurrentLinkOneIdentity":    testOAuthConcurrentLinkOneIdentity,
	"ConcurrentLinkOneUser":        testOAuthConcurrentLinkOneUser,
	"ByIdentityExact":              testOAuthByIdentityExact,
	"ByUser":                       testOAuthByUser,
	"UpdateTokens":                 testOAuthUpdateTokens,
	"UpdateTokensNotFound":         testOAuthUpdateTokensNotFound,
	"Unlink":                       testOAuthUnlink,
	"UnlinkNotFound":               testOAuthUnlinkNotFound,
	"UnlinkLastSignInMethod":       testOAuthUnlinkLastSignInMethod,
	"ConcurrentUnlinkPasswordless": testOAuthConcurrentUnlinkPasswordless,
	"DeleteUser":                   testOAuthDeleteUser,
	"ReturnsCopies":                testOAuthReturnsCopies,
	"UntrustedText":                testOAuthUntrustedText,
	"Unstorable":                   testOAuthUnstorable,
	"SpendState":                   testOAuthSpendState,
	"StateHashFormat":              testOAuthStateHashFormat,
	"ConcurrentSpendState":         testOAuthConcurrentSpendState,
	"DeleteExpiredStates":          testOAuthDeleteExpiredStates,
	"CanceledContext":              testOAuthCanceledContext,
}

var oauthTxCases = map[string]func(*testing.T, Stores){
	"TxRollback": testOAuthTxRollback,
	"TxCommit":   testOAuthTxCommit,
}

// newProfile returns a profile of the account subject at provider for
// the user, with sealed-looking tokens, an expiry and user info, created
// at base.
func newProfile(userID int64, provider, subject string) *oauth.Profile {
	return &oauth.Profile{
		UserID:         userID,
		Provider:       provider,
		ProviderUserID: subject,
		AccessToken:    "sealed-access:" + provider + ":" + subject,
		RefreshToken:   "sealed-refresh:" + provider + ":" + subject,
		TokenExpiresAt: timePtr(base.Add(time.Hour)),
		UserInfo:       map[string]any{"sub": subject, "email": subject + "@" + strings.ToLower(provider) + ".example"},
		CreatedAt:      base,
	}
}

// passwordless returns a user without a password, as an OAuth sign-up
// creates it.
func passwordless(name string) *user.User {
	u := NewUser(name)
	u.HashedPassword = user.NoPassword
	return u
}

// asStored returns p as a store keeps it: times in UTC at microsecond
// precision, the user info as a JSON column gives it back, and
// UpdatedAt equal to CreatedAt, as Link sets it.
func asStored(t *testing.T, p *oauth.Profile) *oauth.Profile {
	t.Helper()
	c := *p
	c.CreatedAt = c.CreatedAt.UTC().Round(time.Microsecond)
	c.UpdatedAt = c.CreatedAt
	if p.TokenExpiresAt != nil {
		c.TokenExpiresAt = timePtr(p.TokenExpiresAt.UTC().Round(time.Microsecond))
	}
	c.UserInfo = jsonDoc(t, p.UserInfo)
	return &c
}

// jsonDoc returns m as a JSON column gives it back; nil stays nil.
func jsonDoc(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	if m == nil {
		return nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// link links p for a user whose security stamp is stamp and returns the
// profile as it should be stored.
func link(t *testing.T, st Stores, p *oauth.Profile, stamp int64) *oauth.Profile {
	t.Helper()
	want := asStored(t, p)
	if err := st.OAuth.Link(context.Background(), p, stamp); err != nil {
		t.Fatalf("Link(user %d, %q, %q): %v", p.UserID, p.Provider, p.ProviderUserID, err)
	}
	if p.ID <= 0 {
		t.Fatalf("Link set ID = %d, want > 0", p.ID)
	}
	want.ID = p.ID
	var d differ
	d.time("CreatedAt", p.CreatedAt, want.CreatedAt)
	d.time("UpdatedAt", p.UpdatedAt, want.UpdatedAt)
	if s := d.String(); s != "" {
		t.Errorf("Link(%q, %q) set %s", p.Provider, p.ProviderUserID, s)
	}
	return want
}

// mustProfile returns the stored profile of (provider, subject).
func mustProfile(t *testing.T, st Stores, provider, subject string) *oauth.Profile {
	t.Helper()
	got, err := st.OAuth.ByIdentity(context.Background(), provider, subject)
	if err != nil {
		t.Fatalf("ByIdentity(%q, %q): %v", provider, subject, err)
	}
	return got
}

// checkProfile fails the test unless the stored profile of want's
// identity equals want.
func checkProfile(t *testing.T, st Stores, want *oauth.Profile) {
	t.Helper()
	if d := diffProfile(mustProfile(t, st, want.Provider, want.ProviderUserID), want); d != "" {
		t.Errorf("stored profile (%q, %q): %s", want.Provider, want.ProviderUserID, d)
	}
}

// checkNoProfile fails the test unless ByIdentity finds nothing.
func checkNoProfile(t *testing.T, st Stores, provider, subject string) {
	t.Helper()
	got, err := st.OAuth.ByIdentity(context.Background(), provider, subject)
	if !errors.Is(err, oauth.ErrNotFound) || !errors.Is(err, store.ErrNotFound) || got != nil {
		t.Errorf("ByIdentity(%q, %q) = %+v, %v; want nil, oauth.ErrNotFound", provider, subject, got, err)
	}
}

// checkUserProfiles fails the test unless ByUser returns exactly want, in
// that order.
func checkUserProfiles(t *testing.T, st Stores, userID int64, want ...*oauth.Profile) {
	t.Helper()
	got, err := st.OAuth.ByUser(context.Background(), userID)
	if err != nil {
		t.Fatalf("ByUser(%d): %v", userID, err)
	}
	if len(got) != len(want) {
		t.Fatalf("ByUser(%d) = %d profiles %s, want %d %s", userID, len(got), providers(got), len(want), providers(want))
	}
	for i := range want {
		if d := diffProfile(got[i], want[i]); d != "" {
			t.Errorf("ByUser(%d)[%d]: %s", userID, i, d)
		}
	}
}

// providers lists the profiles' providers, for failure messages.
func providers(ps []*oauth.Profile) string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.Provider
	}
	return fmt.Sprintf("%q", names)
}

// diffProfile describes how got differs from want, or returns "".
func diffProfile(got, want *oauth.Profile) string {
	if got == nil {
		return "profile is nil"
	}
	var d differ
	d.eq("ID", got.ID, want.ID)
	d.eq("UserID", got.UserID, want.UserID)
	d.eq("Provider", got.Provider, want.Provider)
	d.eq("ProviderUserID", got.ProviderUserID, want.ProviderUserID)
	d.eq("AccessToken", got.AccessToken, want.AccessToken)
	d.eq("RefreshToken", got.RefreshToken, want.RefreshToken)
	d.timePtr("TokenExpiresAt", got.TokenExpiresAt, want.TokenExpiresAt)
	d.eq("UserInfo", got.UserInfo, want.UserInfo) // nil (NULL) is not an empty document
	d.time("CreatedAt", got.CreatedAt, want.CreatedAt)
	d.time("UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	return d.String()
}

// testOAuthLinkRoundTrip: Link sets the ID and the times, and ByIdentity
// and ByUser return every field as stored: nested user info with numbers,
// unicode, nulls and empty values, tokens, expiry set (at microsecond
// precision, from another time zone) and absent, empty tokens.
func testOAuthLinkRoundTrip(t *testing.T, st Stores) {
	elsewhere := time.FixedZone("UTC-3", -3*3600)
	u := mustCreate(t, st.Users, NewUser("alice"))

	full := newProfile(u.ID, "GOOGLE", "108234567890123456789")
	full.ID = 777 // ignored: Link sets it
	full.CreatedAt = base.Add(-time.Minute + time.Microsecond).In(elsewhere)
	full.UpdatedAt = base.Add(time.Hour) // ignored: Link sets it to CreatedAt
	full.TokenExpiresAt = timePtr(base.Add(time.Hour + 999999*time.Microsecond).In(elsewhere))
	full.UserInfo = map[string]any{
		"sub":            "108234567890123456789",
		"name":           "Ålice Ünïcödé 名前 🙂",
		"email_verified": true,
		"age":            30,
		"ratio":          0.25,
		"nothing":        nil,
		"empty":          "",
		"list":           []any{"a", 1, map[string]any{"deep": []any{}}},
		"address":        map[string]any{"street": `1 "Quoted" St.`, "geo": map[string]any{"lat": -33.5, "lng": 151}},
		"":               "empty key",
	}
	bare := &oauth.Profile{UserID: u.ID, Provider: "GITHUB", ProviderUserID: "583231", CreatedAt: base}
	emptyInfo := &oauth.Profile{UserID: u.ID, Provider: "FACEBOOK", ProviderUserID: "10000", CreatedAt: base.Add(time.Second),
		UserInfo: map[string]any{}, TokenExpiresAt: timePtr(base)}

	wantFull := link(t, st, full, u.SecurityStamp)
	wantFull.UserInfo = map[string]any{
		"sub":            "108234567890123456789",
		"name":           "Ålice Ünïcödé 名前 🙂",
		"email_verified": true,
		"age":            float64(30),
		"ratio":          0.25,
		"nothing":        nil,
		"empty":          "",
		"list":           []any{"a", float64(1), map[string]any{"deep": []any{}}},
		"address":        map[string]any{"street": `1 "Quoted" St.`, "geo": map[string]any{"lat": -33.5, "lng": float64(151)}},
		"":               "empty key",
	}
	if full.ID == 777 {
		t.Errorf("Link kept the ID it was given")
	}
	wantBare := link(t, st, bare, u.SecurityStamp)
	wantEmpty := link(t, st, emptyInfo, u.SecurityStamp)
	if wantFull.ID == wantBare.ID || wantBare.ID == wantEmpty.ID || wantFull.ID == wantEmpty.ID {
		t.Errorf("Link gave ids %d, %d, %d; want three different", wantFull.ID, wantBare.ID, wantEmpty.ID)
	}
	for _, want := range []*oauth.Profile{wantFull, wantBare, wantEmpty} {
		checkProfile(t, st, want)
	}
	if got := mustProfile(t, st, "GITHUB", "583231"); got.UserInfo != nil || got.TokenExpiresAt != nil || got.AccessToken != "" || got.RefreshToken != "" {
		t.Errorf("a bare profile reads back as %+v; want no tokens, expiry or user info", got)
	}
	if got := mustProfile(t, st, "FACEBOOK", "10000"); got.UserInfo == nil || len(got.UserInfo) != 0 {
		t.Errorf("empty user info reads back as %#v, want an empty, non-nil document", got.UserInfo)
	}
	checkUserProfiles(t, st, u.ID, wantEmpty, wantBare, wantFull) // by provider

	// Times are kept at microsecond precision.
	v := mustCreate(t, st.Users, NewUser("bob"))
	fine := newProfile(v.ID, "GOOGLE", "fine")
	fine.CreatedAt = base.Add(123456789 * time.Nanosecond)
	fine.TokenExpiresAt = timePtr(base.Add(time.Hour + 987654321*time.Nanosecond))
	if err := st.OAuth.Link(context.Background(), fine, v.SecurityStamp); err != nil {
		t.Fatal(err)
	}
	got := mustProfile(t, st, "GOOGLE", "fine")
	for name, ts := range map[string]time.Time{"CreatedAt": got.CreatedAt, "UpdatedAt": got.UpdatedAt, "TokenExpiresAt": *got.TokenExpiresAt} {
		if ts.Nanosecond()%1000 != 0 || ts.Location() != time.UTC {
			t.Errorf("%s = %v, want UTC at microsecond precision", name, ts)
		}
	}
	if d := got.CreatedAt.Sub(fine.CreatedAt); d < -time.Microsecond || d > time.Microsecond || !got.UpdatedAt.Equal(got.CreatedAt) {
		t.Errorf("CreatedAt, UpdatedAt = %v, %v; want %v within a microsecond, twice", got.CreatedAt, got.UpdatedAt, fine.CreatedAt)
	}
}

// testOAuthLinkDefaultTimes: a zero CreatedAt is the time of the insert,
// for created_at and updated_at alike.
func testOAuthLinkDefaultTimes(t *testing.T, st Stores) {
	u := mustCreate(t, st.Users, NewUser("carol"))
	p := newProfile(u.ID, "GOOGLE", "c1")
	p.CreatedAt, p.UpdatedAt = time.Time{}, time.Time{}
	if err := st.OAuth.Link(context.Background(), p, u.SecurityStamp); err != nil {
		t.Fatal(err)
	}
	if p.CreatedAt.IsZero() || p.CreatedAt.Location() != time.UTC || !p.UpdatedAt.Equal(p.CreatedAt) || p.UpdatedAt.Location() != time.UTC {
		t.Fatalf("Link set CreatedAt, UpdatedAt = %v, %v; want the time of insertion, twice, in UTC", p.CreatedAt, p.UpdatedAt)
	}
	got := mustProfile(t, st, "GOOGLE", "c1")
	if !got.CreatedAt.Equal(p.CreatedAt) || !got.UpdatedAt.Equal(p.CreatedAt) {
		t.Errorf("stored CreatedAt, UpdatedAt = %v, %v; want %v as Link set it", got.CreatedAt, got.UpdatedAt, p.CreatedAt)
	}
}

// testOAuthLinkIdentityTaken: an identity links to one user only; the
// same account id at another provider, or in another case, is another
// identity.
func testOAuthLinkIdentityTaken(t *testing.T, st Stores) {
	ctx := context.Background()
	a := mustCreate(t, st.Users, NewUser("dave"))
	b := mustCreate(t, st.Users, NewUser("erin"))
	want := link(t, st, newProfile(a.ID, "GOOGLE", "g1"), a.SecurityStamp)

	for _, who := range []*user.User{b, a} { // another user, and the same one again
		p := newProfile(who.ID, "GOOGLE", "g1")
		p.AccessToken = "other"
		err := st.OAuth.Link(ctx, p, who.SecurityStamp)
		if !errors.Is(err, oauth.ErrIdentityTaken) || !errors.Is(err, store.ErrConflict) {
			t.Errorf("Link of a linked identity for user %s: err = %v, want oauth.ErrIdentityTaken", who.Username, err)
		}
	}
	checkProfile(t, st, want)
	checkUserProfiles(t, st, a.ID, want)
	checkUserProfiles(t, st, b.ID)

	// Other identities: the id at another provider, another case.
	other := link(t, st, newProfile(b.ID, "GITHUB", "g1"), b.SecurityStamp)
	lower := link(t, st, newProfile(b.ID, "google", "g1"), b.SecurityStamp)
	upper := link(t, st, newProfile(b.ID, "GOOGLE", "G1"), b.SecurityStamp)
	checkUserProfiles(t, st, b.ID, other, upper, lower) // "GITHUB" < "GOOGLE" < "google"
}

// testOAuthLinkProviderLinked: a user links one account per provider.
func testOAuthLinkProviderLinked(t *testing.T, st Stores) {
	ctx := context.Background()
	a := mustCreate(t, st.Users, NewUser("frank"))
	want := link(t, st, newProfile(a.ID, "GOOGLE", "first"), a.SecurityStamp)
	err := st.OAuth.Link(ctx, newProfile(a.ID, "GOOGLE", "second"), a.SecurityStamp)
	if !errors.Is(err, oauth.ErrProviderLinked) || !errors.Is(err, store.ErrConflict) || errors.Is(err, oauth.ErrIdentityTaken) {
		t.Errorf("Link of a second GOOGLE account: err = %v, want oauth.ErrProviderLinked", err)
	}
	checkNoProfile(t, st, "GOOGLE", "second")
	checkUserProfiles(t, st, a.ID, want)
	// Another provider is fine, and the refused account is free for
	// another user.
	gh := link(t, st, newProfile(a.ID, "GITHUB", "second"), a.SecurityStamp)
	checkUserProfiles(t, st, a.ID, gh, want)
	b := mustCreate(t, st.Users, NewUser("gina"))
	link(t, st, newProfile(b.ID, "GOOGLE", "second"), b.SecurityStamp)
}

// testOAuthLinkUnknownUser: a profile for no user is refused with
// ErrUnknownUser and not stored.
func testOAuthLinkUnknownUser(t *testing.T, st Stores) {
	ctx := context.Background()
	gone := mustCreate(t, st.Users, NewUser("gone"))
	if err := st.Users.Delete(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{gone.ID, 987654, 1 << 31, 1 << 40, math.MaxInt64, -1, 0} {
		for _, stamp := range []int64{0, 1} {
			err := st.OAuth.Link(ctx, newProfile(id, "GOOGLE", "orphan"), stamp)
			if !errors.Is(err, oauth.ErrUnknownUser) || !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Link for user %d, stamp %d: err = %v, want oauth.ErrUnknownUser", id, stamp, err)
			}
		}
		checkUserProfiles(t, st, id)
	}
	checkNoProfile(t, st, "GOOGLE", "orphan")
	// The identity is still free.
	u := mustCreate(t, st.Users, NewUser("hank"))
	link(t, st, newProfile(u.ID, "GOOGLE", "orphan"), u.SecurityStamp)
}

// checkUserChanged links a profile with stamp and fails the test unless
// it is refused with ErrUserChanged and nothing is stored.
func checkUserChanged(t *testing.T, st Stores, why string, userID, stamp int64, subject string) {
	t.Helper()
	err := st.OAuth.Link(context.Background(), newProfile(userID, "GOOGLE", subject), stamp)
	if !errors.Is(err, oauth.ErrUserChanged) || !errors.Is(err, store.ErrConflict) {
		t.Errorf("Link %s: err = %v, want oauth.ErrUserChanged", why, err)
	}
	checkNoProfile(t, st, "GOOGLE", subject)
	checkUserProfiles(t, st, userID)
}

// testOAuthLinkUserChanged: Link needs the user active and its security
// stamp the one given; a deactivated, reactivated or otherwise changed
// user refuses it.
func testOAuthLinkUserChanged(t *testing.T, st Stores) {
	ctx := context.Background()
	u := mustCreate(t, st.Users, NewUser("iris"))
	stamp := u.SecurityStamp
	checkUserChanged(t, st, "with a stamp ahead of the user's", u.ID, stamp+1, "ahead")
	checkUserChanged(t, st, "with a stamp behind the user's", u.ID, stamp-1, "behind")

	off, err := st.Users.SetActive(ctx, u.ID, false, base)
	if err != nil {
		t.Fatal(err)
	}
	checkUserChanged(t, st, "for an inactive user, with its old stamp", u.ID, stamp, "inactive-old")
	checkUserChanged(t, st, "for an inactive user, with its current stamp", u.ID, off.SecurityStamp, "inactive-current")

	on, err := st.Users.SetActive(ctx, u.ID, true, base)
	if err != nil {
		t.Fatal(err)
	}
	checkUserChanged(t, st, "after a deactivation and reactivation, with the first stamp", u.ID, stamp, "reactivated-old")
	link(t, st, newProfile(u.ID, "GOOGLE", "reactivated"), on.SecurityStamp)

	// An inactive user created so.
	v := NewUser("jack")
	v.IsActive = false
	mustCreate(t, st.Users, v)
	checkUserChanged(t, st, "for a user created inactive", v.ID, v.SecurityStamp, "created-inactive")
}

// testOAuthLinkAfterPasswordChange: the interleaving of a sign-in that
// reads the user, waits for the provider while the password changes,
// then links: the link is refused and nothing is stored; with the new
// stamp it succeeds.
func testOAuthLinkAfterPasswordChange(t *testing.T, st Stores) {
	ctx := context.Background()
	u := mustCreate(t, st.Users, NewUser("kate"))
	read, err := st.Users.ByID(ctx, u.ID) // the flow reads the user ...
	if err != nil {
		t.Fatal(err)
	}
	// ... the password changes while the provider answers ...
	if err := st.Users.SetPassword(ctx, u.ID, "$argon2id$changed", base.Add(time.Minute), read.SecurityStamp); err != nil {
		t.Fatal(err)
	}
	// ... and the link made with what the flow read is refused.
	checkUserChanged(t, st, "after a password change", u.ID, read.SecurityStamp, "k1")
	now, err := st.Users.ByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	link(t, st, newProfile(u.ID, "GOOGLE", "k1"), now.SecurityStamp)
}

// testOAuthLinkRacesPasswordChange: Links racing a password change each
// either succeed or are refused with ErrUserChanged (no deadlock, no
// other error), in every trial.
func testOAuthLinkRacesPasswordChange(t *testing.T, st Stores) {
	ctx := context.Background()
	for trial := range 5 {
		u := mustCreate(t, st.Users, NewUser(fmt.Sprintf("racer%d", trial)))
		const n = 8
		errs := race(n+1, func(i int) error {
			if i == n {
				return st.Users.SetPassword(ctx, u.ID, "$argon2id$changed", base, u.SecurityStamp)
			}
			return st.OAuth.Link(ctx, newProfile(u.ID, fmt.Sprintf("P%d", i), fmt.Sprintf("t%d-%d", trial, i)), u.SecurityStamp)
		})
		if errs[n] != nil {
			t.Fatalf("trial %d: SetPassword: %v", trial, errs[n])
		}
		linked := 0
		for i, err := range errs[:n] {
			switch {
			case err == nil:
				linked++
			case !errors.Is(err, oauth.ErrUserChanged):
				t.Fatalf("trial %d: Link %d: %v", trial, i, err)
			}
		}
		got, err := st.OAuth.ByUser(ctx, u.ID)
		if err != nil || len(got) != linked {
			t.Fatalf("trial %d: ByUser = %d profiles, %v; want the %d linked", trial, len(got), err, linked)
		}
	}
}

// testOAuthConcurrentLinkOneIdentity: of 20 users linking one identity at
// once, exactly one gets it.
func testOAuthConcurrentLinkOneIdentity(t *testing.T, st Stores) {
	const n = 20
	users := make([]*user.User, n)
	for i := range users {
		users[i] = mustCreate(t, st.Users, NewUser(fmt.Sprintf("claimant%d", i)))
	}
	errs := race(n, func(i int) error {
		return st.OAuth.Link(context.Background(), newProfile(users[i].ID, "GOOGLE", "contested"), users[i].SecurityStamp)
	})
	won := oneWinner(t, "Links", errs, oauth.ErrIdentityTaken)
	if got := mustProfile(t, st, "GOOGLE", "contested"); got.UserID != users[won].ID {
		t.Errorf("the identity belongs to user %d, want the winner %d", got.UserID, users[won].ID)
	}
	for i, u := range users {
		got, err := st.OAuth.ByUser(context.Background(), u.ID)
		if want := map[bool]int{true: 1, false: 0}[i == won]; err != nil || len(got) != want {
			t.Errorf("user %d has %d profiles (%v), want %d", i, len(got), err, want)
		}
	}
}

// testOAuthConcurrentLinkOneUser: of 20 accounts of one provider linked
// to one user at once, exactly one is.
func testOAuthConcurrentLinkOneUser(t *testing.T, st Stores) {
	const n = 20
	u := mustCreate(t, st.Users, NewUser("lena"))
	errs := race(n, func(i int) error {
		return st.OAuth.Link(context.Background(), newProfile(u.ID, "GITHUB", fmt.Sprintf("acct%d", i)), u.SecurityStamp)
	})
	won := oneWinner(t, "Links", errs, oauth.ErrProviderLinked)
	got, err := st.OAuth.ByUser(context.Background(), u.ID)
	if err != nil || len(got) != 1 || got[0].ProviderUserID != fmt.Sprintf("acct%d", won) {
		t.Fatalf("ByUser = %s, %v; want the winner's account acct%d only", providers(got), err, won)
	}
	for i := range n {
		if i != won {
			checkNoProfile(t, st, "GITHUB", fmt.Sprintf("acct%d", i))
		}
	}
}

// testOAuthByIdentityExact: lookups compare both parts exactly: no case
// folding, prefixes or patterns.
func testOAuthByIdentityExact(t *testing.T, st Stores) {
	u := mustCreate(t, st.Users, NewUser("mona"))
	want := link(t, st, newProfile(u.ID, "GOOGLE", "Sub_1%"), u.SecurityStamp)
	checkProfile(t, st, want)
	for _, id := range [][2]string{
		{"google", "Sub_1%"}, {"GOOGLE", "sub_1%"}, {"GOOGLE", "Sub_1"}, {"GOOGLE", "Sub_1%x"}, {"GOOGLE", "Sub%"},
		{"GOOGLE", "Sub_1_"}, {"GOOGL", "Sub_1%"}, {"GOOGLE ", "Sub_1%"}, {"GOOGLE", "Sub_1% "}, {"", ""}, {"GITHUB", "Sub_1%"},
	} {
		checkNoProfile(t, st, id[0], id[1])
	}
}

// testOAuthByUser: a user's profiles, ordered by provider byte by byte;
// none for a user without any or no user at all.
func testOAuthByUser(t *testing.T, st Stores) {
	a := mustCreate(t, st.Users, NewUser("nora"))
	b := mustCreate(t, st.Users, NewUser("omar"))
	var want []*oauth.Profile
	for _, prov := range []string{"ZITADEL", "GIT_HUB", "APPLE", "GITHUB", "OIDC_2", "OIDC2", "GOOGLE"} {
		want = append(want, link(t, st, newProfile(a.ID, prov, "a-"+prov), a.SecurityStamp))
	}
	other := link(t, st, newProfile(b.ID, "GOOGLE", "b"), b.SecurityStamp)
	slices.SortFunc(want, func(x, y *oauth.Profile) int { return strings.Compare(x.Provider, y.Provider) })
	checkUserProfiles(t, st, a.ID, want...)
	checkUserProfiles(t, st, b.ID, other)
	c := mustCreate(t, st.Users, NewUser("pia"))
	for _, id := range []int64{c.ID, 987654, 1 << 31, 1 << 40, math.MaxInt64, -1, 0} {
		checkUserProfiles(t, st, id)
	}
}

// testOAuthUpdateTokens: UpdateTokens replaces the tokens, their expiry
// and the user info ("" and nil clearing them), sets updated_at, keeps
// the rest, returns the profile as stored and touches no other profile.
func testOAuthUpdateTokens(t *testing.T, st Stores) {
	ctx := context.Background()
	u := mustCreate(t, st.Users, NewUser("quinn"))
	want := link(t, st, newProfile(u.ID, "GOOGLE", "q1"), u.SecurityStamp)
	other := link(t, st, newProfile(u.ID, "GITHUB", "q2"), u.SecurityStamp)
	elsewhere := time.FixedZone("UTC+9", 9*3600)

	steps := []struct {
		name string
		up   oauth.TokenUpdate
		at   time.Time
	}{
		{"new tokens", oauth.TokenUpdate{
			AccessToken: "sealed-access-2", RefreshToken: "sealed-refresh-2",
			TokenExpiresAt: timePtr(base.Add(2*time.Hour + time.Microsecond).In(elsewhere)),
			UserInfo:       map[string]any{"sub": "q1", "n": 2, "nested": map[string]any{"k": []any{true, nil}}},
		}, base.Add(time.Minute).In(elsewhere)},
		{"access token only", oauth.TokenUpdate{AccessToken: "sealed-access-3", UserInfo: map[string]any{}}, base.Add(2 * time.Minute)},
		{"everything cleared", oauth.TokenUpdate{}, base.Add(3 * time.Minute)},
		{"refresh token only", oauth.TokenUpdate{RefreshToken: "sealed-refresh-4", TokenExpiresAt: timePtr(base)}, base.Add(4 * time.Minute)},
		{"an older time", oauth.TokenUpdate{AccessToken: "a5"}, base.Add(-time.Hour)},
	}
	for _, s := range steps {
		got, err := st.OAuth.UpdateTokens(ctx, want.ID, s.up, s.at)
		if err != nil {
			t.Fatalf("UpdateTokens (%s): %v", s.name, err)
		}
		w := *want
		w.AccessToken, w.RefreshToken = s.up.AccessToken, s.up.RefreshToken
		w.TokenExpiresAt = nil
		if s.up.TokenExpiresAt != nil {
			w.TokenExpiresAt = timePtr(s.up.TokenExpiresAt.UTC())
		}
		w.UserInfo = jsonDoc(t, s.up.UserInfo)
		w.UpdatedAt = s.at.UTC()
		want = &w
		if d := diffProfile(got, want); d != "" {
			t.Errorf("UpdateTokens (%s) returned: %s", s.name, d)
		}
		checkProfile(t, st, want)
		checkProfile(t, st, other)
	}
	checkUserProfiles(t, st, u.ID, other, want)
}

// testOAuthUpdateTokensNotFound: an id that names no profile (none, an
// unlinked one, out of range) is ErrNotFound.
func testOAuthUpdateTokensNotFound(t *testing.T, st Stores) {
	ctx := context.Background()
	u := mustCreate(t, st.Users, NewUser("rita"))
	kept := link(t, st, newProfile(u.ID, "GOOGLE", "r1"), u.SecurityStamp)
	gone := link(t, st, newProfile(u.ID, "GITHUB", "r2"), u.SecurityStamp)
	if _, err := st.OAuth.Unlink(ctx, u.ID, "GITHUB"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{gone.ID, 987654, 1 << 31, 1 << 40, math.MaxInt64, -1, 0} {
		got, err := st.OAuth.UpdateTokens(ctx, id, oauth.TokenUpdate{AccessToken: "x"}, base.Add(time.Minute))
		if !errors.Is(err, oauth.ErrNotFound) || !errors.Is(err, store.ErrNotFound) || got != nil {
			t.Errorf("UpdateTokens(%d) = %+v, %v; want nil, oauth.ErrNotFound", id, got, err)
		}
	}
	checkProfile(t, st, kept)
	checkNoProfile(t, st, "GITHUB", "r2")
}

// testOAuthUnlink: Unlink deletes the user's profile of the provider and
// returns it; a user with a password may unlink its last identity; the
// identity is free again afterwards.
func testOAuthUnlink(t *testing.T, st Stores) {
	ctx := context.Background()
	u := mustCreate(t, st.Users, NewUser("sam"))
	g := link(t, st, newProfile(u.ID, "GOOGLE", "s1"), u.SecurityStamp)
	gh := link(t, st, newProfile(u.ID, "GITHUB", "s2"), u.SecurityStamp)
	v := mustCreate(t, st.Users, NewUser("tina"))
	vg := link(t, st, newProfile(v.ID, "GOOGLE", "t1"), v.SecurityStamp)

	got, err := st.OAuth.Unlink(ctx, u.ID, "GOOGLE")
	if err != nil {
		t.Fatalf("Unlink(GOOGLE): %v", err)
	}
	if d := diffProfile(got, g); d != "" {
		t.Errorf("Unlink(GOOGLE) returned: %s", d)
	}
	checkNoProfile(t, st, "GOOGLE", "s1")
	checkUserProfiles(t, st, u.ID, gh)
	checkUserProfiles(t, st, v.ID, vg)
	if got, err := st.OAuth.Unlink(ctx, u.ID, "GOOGLE"); !errors.Is(err, oauth.ErrNotFound) || got != nil {
		t.Errorf("Unlink(GOOGLE) again = %+v, %v; want nil, oauth.ErrNotFound", got, err)
	}
	// The last one: the user has a password.
	got, err = st.OAuth.Unlink(ctx, u.ID, "GITHUB")
	if err != nil {
		t.Fatalf("Unlink of the last identity of a user with a password: %v", err)
	}
	if d := diffProfile(got, gh); d != "" {
		t.Errorf("Unlink(GITHUB) returned: %s", d)
	}
	checkUserProfiles(t, st, u.ID)
	checkUserProfiles(t, st, v.ID, vg)
	// The identity and the provider are free again.
	link(t, st, newProfile(v.ID, "GITHUB", "s2"), v.SecurityStamp)
	link(t, st, newProfile(u.ID, "GOOGLE", "s3"), u.SecurityStamp)
}

// testOAuthUnlinkNotFound: a provider the user has no profile of, another
// user's provider, or no user: ErrNotFound, and nothing changes.
func testOAuthUnlinkNotFound(t *testing.T, st Stores) {
	ctx := context.Background()
	u := mustCreate(t, st.Users, passwordless("uma"))
	g := link(t, st, newProfile(u.ID, "GOOGLE", "u1"), u.SecurityStamp)
	v := mustCreate(t, st.Users, NewUser("vic"))
	vgh := link(t, st, newProfile(v.ID, "GITHUB", "v1"), v.SecurityStamp)
	for _, c := range []struct {
		userID   int64
		provider string
	}{
		{u.ID, "GITHUB"}, {u.ID, "google"}, {u.ID, "GOOGL"}, {u.ID, "GOOGLE "}, {u.ID, "%"}, {u.ID, ""}, {u.ID, "GOOGLE\x00"}, {u.ID, "\xff"},
		{v.ID, "GOOGLE"}, {987654, "GOOGLE"}, {1 << 40, "GOOGLE"}, {math.MaxInt64, "GOOGLE"}, {-1, "GOOGLE"}, {0, "GOOGLE"},
	} {
		got, err := st.OAuth.Unlink(ctx, c.userID, c.provider)
		if !errors.Is(err, oauth.ErrNotFound) || !errors.Is(err, store.ErrNotFound) || got != nil {
			t.Errorf("Unlink(%d, %q) = %+v, %v; want nil, oauth.ErrNotFound", c.userID, c.provider, got, err)
		}
	}
	checkUserProfiles(t, st, u.ID, g)
	checkUserProfiles(t, st, v.ID, vgh)
}

// checkLastSignInMethod unlinks the user's profile of provider and fails
// the test unless it is refused with ErrLastSignInMethod and kept.
func checkLastSignInMethod(t *testing.T, st Stores, userID int64, kept *oauth.Profile) {
	t.Helper()
	got, err := st.OAuth.Unlink(context.Background(), userID, kept.Provider)
	if !errors.Is(err, oauth.ErrLastSignInMethod) || !errors.Is(err, store.ErrConflict) || got != nil {
		t.Errorf("Unlink(%q) of a passwordless user's last identity = %+v, %v; want nil, oauth.ErrLastSignInMethod", kept.Provider, got, err)
	}
	checkProfile(t, st, kept)
}

// testOAuthUnlinkLastSignInMethod: a passwordless user keeps its last
// identity: with one, Unlink refuses; with two, the first goes and the
// second stays; once a password is set, the last one may go too.
func testOAuthUnlinkLastSignInMethod(t *testing.T, st Stores) {
	ctx := context.Background()
	one := mustCreate(t, st.Users, passwordless("wes"))
	only := link(t, st, newProfile(one.ID, "GOOGLE", "w1"), one.SecurityStamp)
	checkLastSignInMethod(t, st, one.ID, only)
	checkUserProfiles(t, st, one.ID, only)

	two := mustCreate(t, st.Users, passwordless("xia"))
	g := link(t, st, newProfile(two.ID, "GOOGLE", "x1"), two.SecurityStamp)
	gh := link(t, st, newProfile(two.ID, "GITHUB", "x2"), two.SecurityStamp)
	if _, err := st.OAuth.Unlink(ctx, two.ID, "GOOGLE"); err != nil {
		t.Fatalf("Unlink of one of two identities of a passwordless user: %v", err)
	}
	checkNoProfile(t, st, g.Provider, g.ProviderUserID)
	checkLastSignInMethod(t, st, two.ID, gh)
	checkUserProfiles(t, st, two.ID, gh)

	// A password set (through a reset) makes the last identity optional.
	if err := st.Users.SetPassword(ctx, two.ID, "$argon2id$set-by-reset", base.Add(time.Minute), two.SecurityStamp); err != nil {
		t.Fatal(err)
	}
	got, err := st.OAuth.Unlink(ctx, two.ID, "GITHUB")
	if err != nil {
		t.Fatalf("Unlink of the last identity after a password was set: %v", err)
	}
	if d := diffProfile(got, gh); d != "" {
		t.Errorf("Unlink returned: %s", d)
	}
	checkUserProfiles(t, st, two.ID)
	// The other user is as it was.
	checkUserProfiles(t, st, one.ID, only)
}

// testOAuthConcurrentUnlinkPasswordless: a passwordless user's 8
// identities unlinked at once: 7 go, one stays, refused with
// ErrLastSignInMethod, in every trial.
func testOAuthConcurrentUnlinkPasswordless(t *testing.T, st Stores) {
	ctx := context.Background()
	const n = 8
	for trial := range 5 {
		u := mustCreate(t, st.Users, passwordless(fmt.Sprintf("lonely%d", trial)))
		for i := range n {
			link(t, st, newProfile(u.ID, fmt.Sprintf("PROVIDER_%d", i), fmt.Sprintf("t%d-%d", trial, i)), u.SecurityStamp)
		}
		errs := race(n, func(i int) error {
			_, err := st.OAuth.Unlink(ctx, u.ID, fmt.Sprintf("PROVIDER_%d", i))
			return err
		})
		kept, unlinked := -1, 0
		for i, err := range errs {
			switch {
			case err == nil:
				unlinked++
			case errors.Is(err, oauth.ErrLastSignInMethod):
				if kept >= 0 {
					t.Fatalf("trial %d: Unlinks %d and %d both refused", trial, kept, i)
				}
				kept = i
			default:
				t.Fatalf("trial %d: Unlink %d: %v", trial, i, err)
			}
		}
		if unlinked != n-1 || kept < 0 {
			t.Fatalf("trial %d: %d of %d Unlinks succeeded, refused: %d; want %d and one refused", trial, unlinked, n, kept, n-1)
		}
		got, err := st.OAuth.ByUser(ctx, u.ID)
		if err != nil || len(got) != 1 || got[0].Provider != fmt.Sprintf("PROVIDER_%d", kept) {
			t.Fatalf("trial %d: ByUser = %s, %v; want PROVIDER_%d only", trial, providers(got), err, kept)
		}
	}
}

// testOAuthDeleteUser: deleting a user deletes its profiles, and only
// its; their identities are free again.
func testOAuthDeleteUser(t *testing.T, st Stores) {
	ctx := context.Background()
	u := mustCreate(t, st.Users, NewUser("yara"))
	v := mustCreate(t, st.Users, NewUser("zack"))
	g := link(t, st, newProfile(u.ID, "GOOGLE", "y1"), u.SecurityStamp)
	link(t, st, newProfile(u.ID, "GITHUB", "y2"), u.SecurityStamp)
	vg := link(t, st, newProfile(v.ID, "GOOGLE", "z1"), v.SecurityStamp)
	if err := st.Users.Delete(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	checkUserProfiles(t, st, u.ID)
	checkNoProfile(t, st, "GOOGLE", "y1")
	checkNoProfile(t, st, "GITHUB", "y2")
	if _, err := st.OAuth.UpdateTokens(ctx, g.ID, oauth.TokenUpdate{}, base); !errors.Is(err, oauth.ErrNotFound) {
		t.Errorf("UpdateTokens of a deleted user's profile: err = %v, want oauth.ErrNotFound", err)
	}
	if _, err := st.OAuth.Unlink(ctx, u.ID, "GOOGLE"); !errors.Is(err, oauth.ErrNotFound) {
		t.Errorf("Unlink of a deleted user's profile: err = %v, want oauth.ErrNotFound", err)
	}
	checkUserProfiles(t, st, v.ID, vg)
	link(t, st, newProfile(v.ID, "GITHUB", "y2"), v.SecurityStamp)
}

// testOAuthReturnsCopies: neither what Link and UpdateTokens were given
// nor what the store returns shares memory with the stored profile.
func testOAuthReturnsCopies(t *testing.T, st Stores) {
	ctx := context.Background()
	u := mustCreate(t, st.Users, NewUser("abby"))
	expires := base.Add(time.Hour)
	p := newProfile(u.ID, "GOOGLE", "c1")
	p.TokenExpiresAt = &expires
	p.UserInfo = map[string]any{"name": "Abby", "nested": map[string]any{"a": "b"}, "list": []any{"x"}}
	want := link(t, st, p, u.SecurityStamp)
	want.TokenExpiresAt = timePtr(base.Add(time.Hour))
	want.UserInfo = map[string]any{"name": "Abby", "nested": map[string]any{"a": "b"}, "list": []any{"x"}}
	expires = base.Add(2 * time.Hour)
	p.UserInfo["name"] = "changed after Link"
	p.UserInfo["nested"].(map[string]any)["a"] = "changed"
	p.UserInfo["list"].([]any)[0] = "changed"
	p.AccessToken = "changed"
	checkProfile(t, st, want)

	mutate := func(got *oauth.Profile) {
		*got.TokenExpiresAt = base.Add(3 * time.Hour)
		got.UserInfo["name"] = "changed after a read"
		got.UserInfo["nested"].(map[string]any)["a"] = "changed"
		got.UserInfo["list"].([]any)[0] = "changed"
	}
	mutate(mustProfile(t, st, "GOOGLE", "c1"))
	checkProfile(t, st, want)
	all, err := st.OAuth.ByUser(ctx, u.ID)
	if err != nil || len(all) != 1 {
		t.Fatalf("ByUser = %d, %v", len(all), err)
	}
	mutate(all[0])
	checkProfile(t, st, want)

	info := map[string]any{"name": "Abby 2", "nested": map[string]any{"a": "c"}, "list": []any{"y"}}
	exp2 := base.Add(4 * time.Hour)
	up := oauth.TokenUpdate{AccessToken: "a2", TokenExpiresAt: &exp2, UserInfo: info}
	got, err := st.OAuth.UpdateTokens(ctx, want.ID, up, base.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want.AccessToken, want.RefreshToken, want.TokenExpiresAt, want.UpdatedAt = "a2", "", timePtr(base.Add(4*time.Hour)), base.Add(time.Minute)
	want.UserInfo = map[string]any{"name": "Abby 2", "nested": map[string]any{"a": "c"}, "list": []any{"y"}}
	exp2 = base
	info["name"] = "changed after UpdateTokens"
	info["nested"].(map[string]any)["a"] = "changed"
	mutate(got)
	checkProfile(t, st, want)
}

// testOAuthUntrustedText: identities and tokens with SQL metacharacters,
// quotes, patterns, non-ASCII text and the longest lengths the columns
// take are stored unchanged and found exactly.
func testOAuthUntrustedText(t *testing.T, st Stores) {
	u := mustCreate(t, st.Users, NewUser("bert"))
	subjects := []string{
		`'; DROP TABLE users; --`,
		`o'brien"; DELETE FROM oauth_profiles;--`,
		`%_\`,
		"ünïcödé-名前-🙂",
		"a$1b$2",
		"tab\tnew\nline",
		strings.Repeat("x", 255),
		strings.Repeat("é", 255), // 255 characters, 510 bytes
		strings.Repeat("🙂", 255),
	}
	var want []*oauth.Profile
	for i, sub := range subjects {
		prov := fmt.Sprintf("P%02d", i)
		if i == len(subjects)-1 {
			prov = strings.Repeat("Ü", 50) // 50 characters, 100 bytes
		}
		p := newProfile(u.ID, prov, sub)
		p.AccessToken = `'); UPDATE users SET role = 'ADMIN'; --` + sub
		p.UserInfo = map[string]any{"q": `'); DELETE FROM users; --`, sub: sub}
		want = append(want, link(t, st, p, u.SecurityStamp))
	}
	for _, w := range want {
		checkProfile(t, st, w)
	}
	checkUserProfiles(t, st, u.ID, want...)
	checkNoProfile(t, st, "P02", "%")
	checkNoProfile(t, st, "P%", `%_\`)
	checkNoProfile(t, st, "P02", `%_\\`)
}

// testOAuthUnstorable: values PostgreSQL's columns cannot hold are
// refused by Link and UpdateTokens with an error of no sentinel class,
// and nothing is stored; lookups by them find nothing.
func testOAuthUnstorable(t *testing.T, st Stores) {
	ctx := context.Background()
	u := mustCreate(t, st.Users, NewUser("cleo"))
	refused := func(err error) bool {
		return err != nil && !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) && !errors.Is(err, context.Canceled)
	}
	bad := map[string]func(p *oauth.Profile){
		"256-character provider_user_id":       func(p *oauth.Profile) { p.ProviderUserID = strings.Repeat("x", 256) },
		"256-character multi-byte provider_id": func(p *oauth.Profile) { p.ProviderUserID = strings.Repeat("é", 256) },
		"255 characters and a space":           func(p *oauth.Profile) { p.ProviderUserID = strings.Repeat("x", 255) + " " },
		"51-character provider":                func(p *oauth.Profile) { p.Provider = strings.Repeat("P", 51) },
		"provider_user_id with NUL":            func(p *oauth.Profile) { p.ProviderUserID = "a\x00b" },
		"provider_user_id of invalid UTF-8":    func(p *oauth.Profile) { p.ProviderUserID = "a\xffb" },
		"provider with NUL":                    func(p *oauth.Profile) { p.Provider = "GOOGLE\x00" },
		"provider of invalid UTF-8":            func(p *oauth.Profile) { p.Provider = "GO\xc3OGLE" },
		"access token with NUL":                func(p *oauth.Profile) { p.AccessToken = "tok\x00en" },
		"refresh token of invalid UTF-8":       func(p *oauth.Profile) { p.RefreshToken = "\xfe\xff" },
		"user info with NUL in a value":        func(p *oauth.Profile) { p.UserInfo = map[string]any{"name": "a\x00"} },
		"user info with NUL in a key":          func(p *oauth.Profile) { p.UserInfo = map[string]any{"na\x00me": "a"} },
		"user info with NUL deep inside":       func(p *oauth.Profile) { p.UserInfo = map[string]any{"a": []any{map[string]any{"b": "\x00"}}} },
		"user info that is not JSON":           func(p *oauth.Profile) { p.UserInfo = map[string]any{"f": func() {}} },
	}
	for why, change := range bad {
		p := newProfile(u.ID, "GOOGLE", "ok")
		change(p)
		if err := st.OAuth.Link(ctx, p, u.SecurityStamp); !refused(err) {
			t.Errorf("Link of a %s: err = %v, want an error of no sentinel class", why, err)
		}
		checkUserProfiles(t, st, u.ID)
	}
	want := link(t, st, newProfile(u.ID, "GOOGLE", "ok"), u.SecurityStamp)
	for why, up := range map[string]oauth.TokenUpdate{
		"access token with NUL":          {AccessToken: "a\x00"},
		"refresh token with NUL":         {RefreshToken: "\x00"},
		"access token of invalid UTF-8":  {AccessToken: "\xc3("},
		"refresh token of invalid UTF-8": {RefreshToken: "\xff"},
		"user info with NUL":             {UserInfo: map[string]any{"x": map[string]any{"y": "\x00"}}},
		"user info that is not JSON":     {UserInfo: map[string]any{"c": make(chan int)}},
	} {
		got, err := st.OAuth.UpdateTokens(ctx, want.ID, up, base.Add(time.Minute))
		if !refused(err) || got != nil {
			t.Errorf("UpdateTokens with a %s = %+v, %v; want nil and an error of no sentinel class", why, got, err)
		}
		checkProfile(t, st, want)
	}
	for _, id := range [][2]string{{"GOOGLE", "ok\x00"}, {"GOOGLE\x00", "ok"}, {"GOOGLE", "o\xffk"}, {"\xff", "ok"}, {"GOOGLE", strings.Repeat("x", 300)}} {
		checkNoProfile(t, st, id[0], id[1])
	}
}

// stateHash returns the hex SHA-256 of a flow state named label.
func stateHash(label string) string { return hashOf("oauth-state:" + label) }

// testOAuthSpendState: a state is spent once: the second spend, whatever
// its expiry, is ErrStateSpent; other states are unaffected.
func testOAuthSpendState(t *testing.T, st Stores) {
	ctx := context.Background()
	h := stateHash("s1")
	if err := st.OAuth.SpendState(ctx, h, base.Add(10*time.Minute)); err != nil {
		t.Fatalf("SpendState: %v", err)
	}
	for _, exp := range []time.Time{base.Add(10 * time.Minute), base.Add(time.Hour), base.Add(-time.Hour)} {
		if err := st.OAuth.SpendState(ctx, h, exp); !errors.Is(err, oauth.ErrStateSpent) || !errors.Is(err, store.ErrConflict) {
			t.Errorf("SpendState again (expiring %v): err = %v, want oauth.ErrStateSpent", exp, err)
		}
	}
	// Hashes are compared exactly.
	upper := strings.ToUpper(h)
	for _, other := range []string{stateHash("s2"), upper} {
		if err := st.OAuth.SpendState(ctx, other, base.Add(10*time.Minute)); err != nil {
			t.Errorf("SpendState(%s) after another state: %v", other, err)
		}
	}
	// A state already expired is recorded too.
	if err := st.OAuth.SpendState(ctx, stateHash("expired"), base.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := st.OAuth.SpendState(ctx, stateHash("expired"), base.Add(time.Hour)); !errors.Is(err, oauth.ErrStateSpent) {
		t.Errorf("SpendState of a recorded expired state: err = %v, want oauth.ErrStateSpent", err)
	}
}

// testOAuthStateHashFormat: a state's hash is 64 hexadecimal digits;
// anything else is refused with an error of no sentinel class.
func testOAuthStateHashFormat(t *testing.T, st Stores) {
	ctx := context.Background()
	h := stateHash("fmt")
	for _, bad := range []string{"", "abc", h[:63], h + "0", h[:63] + " ", " " + h[:63], h[:63] + "g", h[:63] + "\x00", h[:62] + "\xc3\xa9"} {
		err := st.OAuth.SpendState(ctx, bad, base.Add(time.Minute))
		if err == nil || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			t.Errorf("SpendState(%q): err = %v, want an error of no sentinel class", bad, err)
		}
	}
	if err := st.OAuth.SpendState(ctx, h, base.Add(time.Minute)); err != nil {
		t.Errorf("SpendState(%s) after the refusals: %v", h, err)
	}
}

// testOAuthConcurrentSpendState: of 50 concurrent spends of one state
// exactly one succeeds.
func testOAuthConcurrentSpendState(t *testing.T, st Stores) {
	h := stateHash("race")
	errs := race(50, func(i int) error {
		return st.OAuth.SpendState(context.Background(), h, base.Add(time.Duration(i)*time.Second))
	})
	oneWinner(t, "SpendState calls", errs, oauth.ErrStateSpent)
	if err := st.OAuth.SpendState(context.Background(), h, base); !errors.Is(err, oauth.ErrStateSpent) {
		t.Errorf("SpendState after the race: err = %v, want oauth.ErrStateSpent", err)
	}
}

// testOAuthDeleteExpiredStates: DeleteExpiredStates deletes the records
// whose expiry is not after at, batch by batch, and keeps the others; a
// deleted state can be spent again.
func testOAuthDeleteExpiredStates(t *testing.T, st Stores) {
	ctx := context.Background()
	at := base.Add(time.Hour)
	expired := map[string]time.Time{
		"e1": at.Add(-time.Minute), "e2": at.Add(-time.Hour), "e3": at.Add(-24 * time.Hour),
		"e4": at.Add(-time.Microsecond), "now": at,
	}
	live := map[string]time.Time{"l1": at.Add(time.Microsecond), "l2": at.Add(time.Hour)}
	for _, m := range []map[string]time.Time{expired, live} {
		for label, exp := range m {
			if err := st.OAuth.SpendState(ctx, stateHash(label), exp.In(time.FixedZone("UTC+1", 3600))); err != nil {
				t.Fatal(err)
			}
		}
	}
	var counts []int
	for range 10 {
		n, err := st.OAuth.DeleteExpiredStates(ctx, at, 2)
		if err != nil {
			t.Fatal(err)
		}
		counts = append(counts, n)
		if n < 2 {
			break
		}
	}
	if !slices.Equal(counts, []int{2, 2, 1}) {
		t.Errorf("DeleteExpiredStates(batch 2) returned %v in turn, want [2 2 1]", counts)
	}
	if n, err := st.OAuth.DeleteExpiredStates(ctx, at, 2); err != nil || n != 0 {
		t.Errorf("DeleteExpiredStates with nothing left = %d, %v; want 0, nil", n, err)
	}
	for label := range live {
		if err := st.OAuth.SpendState(ctx, stateHash(label), at); !errors.Is(err, oauth.ErrStateSpent) {
			t.Errorf("SpendState(%s) of a live record after the cleanup: err = %v, want oauth.ErrStateSpent", label, err)
		}
	}
	for label := range expired {
		if err := st.OAuth.SpendState(ctx, stateHash(label), at.Add(time.Hour)); err != nil {
			t.Errorf("SpendState(%s) of a deleted record: %v", label, err)
		}
	}
	// Later, everything has expired; batch 1.
	later := at.Add(48 * time.Hour)
	total := 0
	for range 20 {
		n, err := st.OAuth.DeleteExpiredStates(ctx, later, 1)
		if err != nil {
			t.Fatal(err)
		}
		total += n
		if n < 1 {
			break
		}
	}
	if want := len(expired) + len(live); total != want {
		t.Errorf("DeleteExpiredStates(batch 1) deleted %d in all, want %d", total, want)
	}
}

// testOAuthCanceledContext: every method refuses a canceled context with
// context.Canceled and changes nothing.
func testOAuthCanceledContext(t *testing.T, st Stores) {
	u := mustCreate(t, st.Users, NewUser("dora"))
	want := link(t, st, newProfile(u.ID, "GOOGLE", "d1"), u.SecurityStamp)
	spent := stateHash("spent")
	if err := st.OAuth.SpendState(context.Background(), spent, base); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fresh := newProfile(u.ID, "GITHUB", "d2")
	later := base.Add(time.Minute)
	calls := map[string]func() error{
		"Link":       func() error { return st.OAuth.Link(ctx, fresh, u.SecurityStamp) },
		"ByIdentity": func() error { _, err := st.OAuth.ByIdentity(ctx, "GOOGLE", "d1"); return err },
		"ByUser":     func() error { _, err := st.OAuth.ByUser(ctx, u.ID); return err },
		"UpdateTokens": func() error {
			_, err := st.OAuth.UpdateTokens(ctx, want.ID, oauth.TokenUpdate{AccessToken: "x"}, later)
			return err
		},
		"Unlink":              func() error { _, err := st.OAuth.Unlink(ctx, u.ID, "GOOGLE"); return err },
		"SpendState":          func() error { return st.OAuth.SpendState(ctx, stateHash("fresh"), later) },
		"DeleteExpiredStates": func() error { _, err := st.OAuth.DeleteExpiredStates(ctx, later.Add(time.Hour), 10); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: err = %v, want context.Canceled", name, err)
		}
	}
	checkUserProfiles(t, st, u.ID, want)
	if err := st.OAuth.SpendState(context.Background(), stateHash("fresh"), later); err != nil {
		t.Errorf("SpendState after the canceled calls: %v", err)
	}
	if err := st.OAuth.SpendState(context.Background(), spent, later); !errors.Is(err, oauth.ErrStateSpent) {
		t.Errorf("the canceled cleanup deleted a record: SpendState err = %v", err)
	}
}

// testOAuthTxRollback: a user created and linked, a Link, an
// UpdateTokens, an Unlink, a SpendState and a DeleteExpiredStates in one
// transaction that then fails are all undone.
func testOAuthTxRollback(t *testing.T, st Stores) {
	u := mustCreate(t, st.Users, NewUser("emma"))
	g := link(t, st, newProfile(u.ID, "GOOGLE", "e1"), u.SecurityStamp)
	gh := link(t, st, newProfile(u.ID, "GITHUB", "e2"), u.SecurityStamp)
	old := stateHash("old")
	if err := st.OAuth.SpendState(context.Background(), old, base); err != nil {
		t.Fatal(err)
	}
	err := st.Tx.InTx(context.Background(), func(ctx context.Context) error {
		v := passwordless("txuser")
		if err := st.Users.Create(ctx, v); err != nil {
			return err
		}
		if err := st.OAuth.Link(ctx, newProfile(v.ID, "GOOGLE", "tx1"), v.SecurityStamp); err != nil {
			return err
		}
		if err := st.OAuth.Link(ctx, newProfile(u.ID, "APPLE", "tx2"), u.SecurityStamp); err != nil {
			return err
		}
		// The transaction reads its own writes.
		if got, err := st.OAuth.ByIdentity(ctx, "GOOGLE", "tx1"); err != nil || got.UserID != v.ID {
			return fmt.Errorf("reading own write: %+v, %w", got, err)
		}
		if _, err := st.OAuth.UpdateTokens(ctx, g.ID, oauth.TokenUpdate{AccessToken: "in-tx"}, base.Add(time.Minute)); err != nil {
			return err
		}
		if _, err := st.OAuth.Unlink(ctx, u.ID, "GITHUB"); err != nil {
			return err
		}
		if err := st.OAuth.SpendState(ctx, stateHash("in-tx"), base); err != nil {
			return err
		}
		if n, err := st.OAuth.DeleteExpiredStates(ctx, base.Add(time.Hour), 10); err != nil || n != 2 {
			return fmt.Errorf("DeleteExpiredStates = %d, %w", n, err)
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("InTx returned %v, want fn's error", err)
	}
	if exists(t, st, "txuser") {
		t.Error("the user survived the rollback")
	}
	checkNoProfile(t, st, "GOOGLE", "tx1")
	checkNoProfile(t, st, "APPLE", "tx2")
	checkUserProfiles(t, st, u.ID, gh, g)
	if err := st.OAuth.SpendState(context.Background(), old, base); !errors.Is(err, oauth.ErrStateSpent) {
		t.Errorf("SpendState of a record whose deletion was rolled back: err = %v, want oauth.ErrStateSpent", err)
	}
	if err := st.OAuth.SpendState(context.Background(), stateHash("in-tx"), base); err != nil {
		t.Errorf("SpendState of a state spent in the rolled back transaction: %v", err)
	}
	// The identities and ids are free again.
	w := mustCreate(t, st.Users, NewUser("txuser"))
	link(t, st, newProfile(w.ID, "GOOGLE", "tx1"), w.SecurityStamp)
}

// testOAuthTxCommit: a user created and linked in one transaction (an
// OAuth sign-up) commits both; a refused Unlink inside a transaction
// leaves it usable.
func testOAuthTxCommit(t *testing.T, st Stores) {
	var created *user.User
	var p *oauth.Profile
	err := st.Tx.InTx(context.Background(), func(ctx context.Context) error {
		created = passwordless("signup")
		if err := st.Users.Create(ctx, created); err != nil {
			return err
		}
		p = newProfile(created.ID, "GOOGLE", "signup-sub")
		if err := st.OAuth.Link(ctx, p, created.SecurityStamp); err != nil {
			return err
		}
		if _, err := st.OAuth.Unlink(ctx, created.ID, "GOOGLE"); !errors.Is(err, oauth.ErrLastSignInMethod) {
			return fmt.Errorf("unlinking the only identity in the transaction: %w", err)
		}
		return st.Tx.InTx(ctx, func(ctx context.Context) error { // nested: joins
			return st.OAuth.SpendState(ctx, stateHash("signup"), base)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if !exists(t, st, "signup") {
		t.Fatal("the user was not committed")
	}
	want := asStored(t, p)
	want.ID = p.ID
	checkProfile(t, st, want)
	checkUserProfiles(t, st, created.ID, want)
	if err := st.OAuth.SpendState(context.Background(), stateHash("signup"), base); !errors.Is(err, oauth.ErrStateSpent) {
		t.Errorf("SpendState of a state spent in the committed transaction: err = %v, want oauth.ErrStateSpent", err)
	}
}
