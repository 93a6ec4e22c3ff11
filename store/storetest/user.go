package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/user"
)

// base is the suite's reference time: UTC, whole microseconds.
var base = time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)

// NewUser returns a storable user with the given name, its email derived
// from the name, and fixed times. Suites and tests use it to fill a store.
func NewUser(name string) *user.User {
	return &user.User{
		Username:          user.Username(name),
		Email:             user.Email(name + "@example.com"),
		HashedPassword:    "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		IsActive:          true,
		Role:              user.RoleUser,
		Tier:              user.TierFree,
		CreatedAt:         base,
		UpdatedAt:         base,
		PasswordChangedAt: base,
	}
}

func mustCreate(t *testing.T, s user.Store, u *user.User) *user.User {
	t.Helper()
	if err := s.Create(context.Background(), u); err != nil {
		t.Fatalf("Create(%q): %v", u.Username, err)
	}
	return u
}

// RunUserStore checks a [user.Store].
func RunUserStore(t *testing.T, newStores Factory) {
	subtests(t, newStores, func(s Stores) bool { return s.Users != nil }, userCases)
}

var userCases = map[string]func(*testing.T, Stores){
	"CreateAndGet":            testCreateAndGet,
	"CreateFillsDefaults":     testCreateFillsDefaults,
	"DuplicateUsername":       testDuplicateUsername,
	"DuplicateEmail":          testDuplicateEmail,
	"ConcurrentCreateOneName": testConcurrentCreate,
	"NotFound":                testUserNotFound,
	"UpdateProfile":           testUpdateProfile,
	"SetRoleTierActive":       testSetRoleTierActive,
	"SetPassword":             testSetPassword,
	"ReplacePasswordHash":     testReplacePasswordHash,
	"SetPasswordStale":        testSetPasswordStale,
	"ConcurrentSetPassword":   testConcurrentSetPassword,
	"AdmitLogin":              testAdmitLogin,
	"AdmitLoginNoThreshold":   testAdmitLoginNoThreshold,
	"AdmitLoginInactive":      testAdmitLoginInactive,
	"ConcurrentAdmissions":    testConcurrentAdmissions,
	"ConcurrentLockout":       testConcurrentLockout,
	"LoginSuccess":            testLoginSuccess,
	"LoginSuccessConditions":  testLoginSuccessConditions,
	"Delete":                  testDelete,
	"ReturnsCopies":           testReturnsCopies,
	"UntrustedText":           testUntrustedText,
	"CanceledContext":         testCanceledContext,

	"SetEmail":                       testSetEmail,
	"SetEmailTaken":                  testSetEmailTaken,
	"SetEmailStale":                  testSetEmailStale,
	"SetEmailSpendsTokens":           testSetEmailSpendsTokens,
	"ConcurrentSetEmailOneAddress":   testConcurrentSetEmail,
	"VerificationRoundTrip":          testVerificationRoundTrip,
	"CreateVerificationSpendsOthers": testCreateVerificationSpendsOthers,
	"CreateVerificationDuplicate":    testCreateVerificationDuplicate,
	"CreateVerificationNoUser":       testCreateVerificationNoUser,
	"ConsumeVerification":            testConsumeVerification,
	"ConsumeVerificationRefused":     testConsumeVerificationRefused,
	"ConsumeVerificationNotFound":    testConsumeVerificationNotFound,
	"ConcurrentConsumeVerification":  testConcurrentConsumeVerification,
	"DeleteExpiredVerifications":     testDeleteExpiredVerifications,
	"DeleteUserVerifications":        testDeleteUserVerifications,
	"VerificationRollback":           testVerificationRollback,
	"VerificationReturnsCopies":      testVerificationReturnsCopies,
}

func testCreateAndGet(t *testing.T, s Stores) {
	ctx := context.Background()
	login := base.Add(-time.Hour)
	verified := base.Add(-2 * time.Hour)
	u := NewUser("alice")
	u.IsVerified = true
	u.Role, u.Tier = user.RoleAdmin, user.TierPremium
	u.LastLoginAt, u.EmailVerifiedAt = &login, &verified
	u.ProfileData = map[string]any{"name": "Alice", "age": 30, "tags": []any{"a", "b"}}
	u.Preferences = map[string]any{"theme": "dark"}
	u.Metadata = map[string]any{"source": "import"}
	want := *u
	want.ProfileData = map[string]any{"name": "Alice", "age": float64(30), "tags": []any{"a", "b"}}
	mustCreate(t, s.Users, u)
	if u.ID <= 0 {
		t.Fatalf("Create set ID = %d, want > 0", u.ID)
	}
	want.ID = u.ID
	// Create leaves u as stored: JSON documents as a JSON column returns them.
	if d := diffUser(u, &want); d != "" {
		t.Errorf("Create: %s", d)
	}
	for name, get := range map[string]func() (*user.User, error){
		"ByID":       func() (*user.User, error) { return s.Users.ByID(ctx, u.ID) },
		"ByUsername": func() (*user.User, error) { return s.Users.ByUsername(ctx, "alice") },
		"ByEmail":    func() (*user.User, error) { return s.Users.ByEmail(ctx, "alice@example.com") },
	} {
		got, err := get()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d := diffUser(got, &want); d != "" {
			t.Errorf("%s: %s", name, d)
		}
	}
	// A second user gets another id.
	b := mustCreate(t, s.Users, NewUser("bob"))
	if b.ID == u.ID {
		t.Errorf("two users share id %d", b.ID)
	}
}

func testCreateFillsDefaults(t *testing.T, s Stores) {
	u := NewUser("carol")
	u.CreatedAt, u.UpdatedAt, u.PasswordChangedAt = time.Time{}, time.Time{}, time.Time{}
	u.Preferences, u.Metadata, u.ProfileData = nil, nil, nil
	mustCreate(t, s.Users, u)
	got, err := s.Users.ByID(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	for name, ts := range map[string]time.Time{"created_at": got.CreatedAt, "updated_at": got.UpdatedAt, "password_changed_at": got.PasswordChangedAt} {
		if ts.IsZero() {
			t.Errorf("%s is zero, want the time of insertion", name)
		}
		if ts.Location() != time.UTC {
			t.Errorf("%s location = %v, want UTC", name, ts.Location())
		}
	}
	if got.ProfileData != nil {
		t.Errorf("ProfileData = %v, want nil (NULL)", got.ProfileData)
	}
	if got.Preferences == nil || len(got.Preferences) != 0 || got.Metadata == nil || len(got.Metadata) != 0 {
		t.Errorf("Preferences, Metadata = %v, %v, want empty documents", got.Preferences, got.Metadata)
	}
	if got.LastLoginAt != nil || got.LockedUntil != nil || got.EmailVerifiedAt != nil {
		t.Errorf("nullable times set: %v %v %v", got.LastLoginAt, got.LockedUntil, got.EmailVerifiedAt)
	}
}

func testDuplicateUsername(t *testing.T, s Stores) {
	ctx := context.Background()
	mustCreate(t, s.Users, NewUser("dave"))
	dup := NewUser("dave")
	dup.Email = "other@example.com"
	err := s.Users.Create(ctx, dup)
	if !errors.Is(err, user.ErrUsernameTaken) || !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Create duplicate username: err = %v, want ErrUsernameTaken wrapping store.ErrConflict", err)
	}
	if _, err := s.Users.ByEmail(ctx, "other@example.com"); !errors.Is(err, user.ErrNotFound) {
		t.Fatalf("refused row was stored: ByEmail err = %v", err)
	}
}

func testDuplicateEmail(t *testing.T, s Stores) {
	ctx := context.Background()
	mustCreate(t, s.Users, NewUser("erin"))
	dup := NewUser("erin2")
	dup.Email = "erin@example.com"
	err := s.Users.Create(ctx, dup)
	if !errors.Is(err, user.ErrEmailTaken) || !errors.Is(err, store.ErrConflict) {
		t.Fatalf("Create duplicate email: err = %v, want ErrEmailTaken wrapping store.ErrConflict", err)
	}
	if _, err := s.Users.ByUsername(ctx, "erin2"); !errors.Is(err, user.ErrNotFound) {
		t.Fatalf("refused row was stored: ByUsername err = %v", err)
	}
}

// testConcurrentCreate: 50 goroutines create one username (each with its
// own email), then 50 create one email (each with its own username):
// exactly one success each time.
func testConcurrentCreate(t *testing.T, s Stores) {
	const n = 50
	for _, tc := range []struct {
		name    string
		mk      func(i int) *user.User
		wantErr error
	}{
		{"username", func(i int) *user.User {
			u := NewUser("frank")
			u.Email = user.Email(fmt.Sprintf("frank%d@example.com", i))
			return u
		}, user.ErrUsernameTaken},
		{"email", func(i int) *user.User {
			u := NewUser(fmt.Sprintf("gina%d", i))
			u.Email = "gina@example.com"
			return u
		}, user.ErrEmailTaken},
	} {
		var wg sync.WaitGroup
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = s.Users.Create(context.Background(), tc.mk(i))
			}()
		}
		close(start)
		wg.Wait()
		ok, taken := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, tc.wantErr):
				taken++
			default:
				t.Errorf("%s: unexpected error: %v", tc.name, err)
			}
		}
		if ok != 1 || taken != n-1 {
			t.Errorf("%s: %d successes and %d %v, want 1 and %d", tc.name, ok, taken, tc.wantErr, n-1)
		}
	}
}

func testUserNotFound(t *testing.T, s Stores) {
	// Ids no row has, beyond a 32-bit column too: the API takes int64.
	for _, id := range []int64{987654, 1 << 31, 1 << 40, math.MaxInt64, -1, math.MinInt64} {
		userNotFound(t, s, id)
	}
}

func userNotFound(t *testing.T, s Stores, id int64) {
	ctx := context.Background()
	calls := map[string]func() error{
		"ByID":       func() error { _, err := s.Users.ByID(ctx, id); return err },
		"ByUsername": func() error { _, err := s.Users.ByUsername(ctx, "nobody"); return err },
		"ByEmail":    func() error { _, err := s.Users.ByEmail(ctx, "nobody@example.com"); return err },
		"UpdateProfile": func() error {
			_, err := s.Users.UpdateProfile(ctx, id, user.ProfileUpdate{Metadata: map[string]any{}}, base)
			return err
		},
		"SetRole":             func() error { _, err := s.Users.SetRole(ctx, id, user.RoleAdmin, base); return err },
		"SetTier":             func() error { _, err := s.Users.SetTier(ctx, id, user.TierPremium, base); return err },
		"SetActive":           func() error { _, err := s.Users.SetActive(ctx, id, false, base); return err },
		"SetPassword":         func() error { return s.Users.SetPassword(ctx, id, "h", base, 0) },
		"ReplacePasswordHash": func() error { _, err := s.Users.ReplacePasswordHash(ctx, id, "a", "b"); return err },
		"AdmitLogin": func() error {
			_, _, err := s.Users.AdmitLogin(ctx, id, base, user.LockoutPolicy{Threshold: 5, Duration: time.Minute})
			return err
		},
		"RecordLoginSuccess": func() error { _, err := s.Users.RecordLoginSuccess(ctx, id, base, 0, nil); return err },
		"SetEmail": func() error {
			_, err := s.Users.SetEmail(ctx, id, "nobody@example.com", "somebody@example.com", base, 0)
			return err
		},
		"CreateVerification": func() error {
			return s.Users.CreateVerification(ctx, &user.Verification{UserID: id, Email: "nobody@example.com",
				TokenHash: tokenHash(fmt.Sprint("nobody-", id)), CreatedAt: base, ExpiresAt: base.Add(time.Hour)})
		},
		"Delete": func() error { return s.Users.Delete(ctx, id) },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, user.ErrNotFound) || !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s on missing user %d: err = %v, want user.ErrNotFound", name, id, err)
		}
	}
}

func testUpdateProfile(t *testing.T, s Stores) {
	ctx := context.Background()
	u := NewUser("hank")
	u.ProfileData = map[string]any{"bio": "old"}
	u.Preferences = map[string]any{"lang": "en"}
	u.Metadata = map[string]any{"k": "v"}
	mustCreate(t, s.Users, u)
	at := base.Add(time.Minute)
	got, err := s.Users.UpdateProfile(ctx, u.ID, user.ProfileUpdate{Preferences: map[string]any{"lang": "fr", "n": 2}}, at)
	if err != nil {
		t.Fatal(err)
	}
	want := *u
	want.Preferences = map[string]any{"lang": "fr", "n": float64(2)}
	want.UpdatedAt = at
	if d := diffUser(got, &want); d != "" {
		t.Fatalf("after updating preferences: %s", d)
	}
	// Empty documents replace; nil ones are left alone.
	at2 := at.Add(time.Minute)
	got, err = s.Users.UpdateProfile(ctx, u.ID, user.ProfileUpdate{ProfileData: map[string]any{}, Metadata: map[string]any{}}, at2)
	if err != nil {
		t.Fatal(err)
	}
	want.ProfileData, want.Metadata, want.UpdatedAt = map[string]any{}, map[string]any{}, at2
	if d := diffUser(got, &want); d != "" {
		t.Fatalf("after emptying documents: %s", d)
	}
	stored, err := s.Users.ByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := diffUser(stored, &want); d != "" {
		t.Fatalf("stored row: %s", d)
	}
}

func testSetRoleTierActive(t *testing.T, s Stores) {
	ctx := context.Background()
	u := mustCreate(t, s.Users, NewUser("ivy"))
	at := base.Add(time.Hour)
	got, err := s.Users.SetRole(ctx, u.ID, user.RoleAdmin, at)
	if err != nil || got.Role != user.RoleAdmin || !got.UpdatedAt.Equal(at) || got.SecurityStamp != 0 {
		t.Fatalf("SetRole = %+v, %v", got, err)
	}
	got, err = s.Users.SetTier(ctx, u.ID, user.TierEnterprise, at.Add(time.Second))
	if err != nil || got.Tier != user.TierEnterprise || got.Role != user.RoleAdmin || got.SecurityStamp != 0 {
		t.Fatalf("SetTier = %+v, %v", got, err)
	}
	// The stamp moves when is_active changes, and only then.
	for i, step := range []struct {
		active bool
		stamp  int64
	}{{true, 0}, {false, 1}, {false, 1}, {true, 2}, {true, 2}, {false, 3}} {
		got, err = s.Users.SetActive(ctx, u.ID, step.active, at.Add(time.Duration(2+i)*time.Second))
		if err != nil || got.IsActive != step.active || got.SecurityStamp != step.stamp || !got.UpdatedAt.Equal(at.Add(time.Duration(2+i)*time.Second)) {
			t.Fatalf("step %d: SetActive(%v) = active %v, stamp %d, %v; want stamp %d", i, step.active, got.IsActive, got.SecurityStamp, err, step.stamp)
		}
	}
	stored, err := s.Users.ByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Role != user.RoleAdmin || stored.Tier != user.TierEnterprise || stored.IsActive || stored.SecurityStamp != 3 {
		t.Fatalf("stored role, tier, active, stamp = %s, %s, %v, %d", stored.Role, stored.Tier, stored.IsActive, stored.SecurityStamp)
	}
}

// lockout is the policy of the admission cases.
var lockout = user.LockoutPolicy{Threshold: 3, Duration: 15 * time.Minute}

// admit admits one attempt and fails the test on a store error.
func admit(t *testing.T, s Stores, id int64, at time.Time, p user.LockoutPolicy) (*user.User, bool) {
	t.Helper()
	u, ok, err := s.Users.AdmitLogin(context.Background(), id, at, p)
	if err != nil {
		t.Fatalf("AdmitLogin: %v", err)
	}
	return u, ok
}

func testSetPassword(t *testing.T, s Stores) {
	ctx := context.Background()
	u := mustCreate(t, s.Users, NewUser("jack"))
	for range 3 {
		admit(t, s, u.ID, base, lockout)
	}
	at := base.Add(time.Minute)
	if err := s.Users.SetPassword(ctx, u.ID, "new-hash", at, 0); err != nil {
		t.Fatal(err)
	}
	got, err := s.Users.ByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.HashedPassword != "new-hash" || !got.PasswordChangedAt.Equal(at) || !got.UpdatedAt.Equal(at) {
		t.Errorf("after SetPassword: hash %q, password_changed_at %v, updated_at %v", got.HashedPassword, got.PasswordChangedAt, got.UpdatedAt)
	}
	if got.FailedLoginAttempts != 0 || got.LockedUntil != nil {
		t.Errorf("SetPassword left the lockout: attempts %d, locked until %v", got.FailedLoginAttempts, got.LockedUntil)
	}
	if got.SecurityStamp != 1 {
		t.Errorf("SetPassword left the security stamp at %d, want 1", got.SecurityStamp)
	}
}

// testSetPasswordStale: a SetPassword conditional on a stamp that has
// moved changes nothing and says so.
func testSetPasswordStale(t *testing.T, s Stores) {
	ctx := context.Background()
	u := mustCreate(t, s.Users, NewUser("jill"))
	if _, err := s.Users.SetActive(ctx, u.ID, false, base); err != nil { // stamp 1
		t.Fatal(err)
	}
	if _, err := s.Users.SetActive(ctx, u.ID, true, base); err != nil { // stamp 2
		t.Fatal(err)
	}
	admit(t, s, u.ID, base, lockout)
	for _, stamp := range []int64{0, 1, 3} {
		if err := s.Users.SetPassword(ctx, u.ID, "stale-hash", base.Add(time.Hour), stamp); !errors.Is(err, user.ErrStale) || !errors.Is(err, store.ErrConflict) {
			t.Fatalf("SetPassword with stamp %d (stored 2): err = %v, want ErrStale", stamp, err)
		}
	}
	got, err := s.Users.ByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.HashedPassword != u.HashedPassword || !got.PasswordChangedAt.Equal(u.PasswordChangedAt) || got.FailedLoginAttempts != 1 || got.SecurityStamp != 2 {
		t.Fatalf("a stale SetPassword changed the row: hash changed %v, password_changed_at %v, attempts %d, stamp %d",
			got.HashedPassword != u.HashedPassword, got.PasswordChangedAt, got.FailedLoginAttempts, got.SecurityStamp)
	}
}

// testConcurrentSetPassword: 20 writers that all read stamp 0: exactly
// one password is set, the others are stale.
func testConcurrentSetPassword(t *testing.T, s Stores) {
	u := mustCreate(t, s.Users, NewUser("jules"))
	const n = 20
	errs := race(n, func(i int) error {
		return s.Users.SetPassword(context.Background(), u.ID, fmt.Sprintf("hash-%d", i), base, 0)
	})
	won := oneWinner(t, "writers", errs, user.ErrStale)
	got, err := s.Users.ByID(context.Background(), u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.HashedPassword != fmt.Sprintf("hash-%d", won) || got.SecurityStamp != 1 {
		t.Fatalf("winner %d, stored hash %q, stamp %d; want its hash, stamp 1", won, got.HashedPassword, got.SecurityStamp)
	}
}

func testReplacePasswordHash(t *testing.T, s Stores) {
	ctx := context.Background()
	u := mustCreate(t, s.Users, NewUser("kate"))
	old := u.HashedPassword
	ok, err := s.Users.ReplacePasswordHash(ctx, u.ID, "not-the-hash", "x")
	if err != nil || ok {
		t.Fatalf("ReplacePasswordHash with a stale hash = %v, %v; want false, nil", ok, err)
	}
	ok, err = s.Users.ReplacePasswordHash(ctx, u.ID, old, "rehashed")
	if err != nil || !ok {
		t.Fatalf("ReplacePasswordHash = %v, %v; want true, nil", ok, err)
	}
	got, err := s.Users.ByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.HashedPassword != "rehashed" || !got.PasswordChangedAt.Equal(u.PasswordChangedAt) || got.SecurityStamp != 0 {
		t.Fatalf("after rehash: hash %q, password_changed_at %v (want unchanged %v), stamp %d (want 0)", got.HashedPassword, got.PasswordChangedAt, u.PasswordChangedAt, got.SecurityStamp)
	}
	// Concurrent rehashes of one hash: exactly one wins.
	const n = 20
	var wg sync.WaitGroup
	wins := make([]bool, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.Users.ReplacePasswordHash(ctx, u.ID, "rehashed", fmt.Sprintf("h%d", i))
			if err != nil {
				t.Error(err)
			}
			wins[i] = ok
		}()
	}
	wg.Wait()
	won := 0
	for _, w := range wins {
		if w {
			won++
		}
	}
	if won != 1 {
		t.Fatalf("%d concurrent compare-and-swaps succeeded, want 1", won)
	}
}

// testAdmitLogin walks the admission counter through a lock and its
// expiry.
func testAdmitLogin(t *testing.T, s Stores) {
	ctx := context.Background()
	u := mustCreate(t, s.Users, NewUser("liam"))
	lockEnd := base.Add(2*time.Second + 15*time.Minute)
	steps := []struct {
		at       time.Time
		admitted bool
		attempts int
		until    *time.Time // nil: not locked
	}{
		{base, true, 1, nil},
		{base.Add(time.Second), true, 2, nil},
		// The third admission reaches the threshold and sets the lock.
		{base.Add(2 * time.Second), true, 3, &lockEnd},
		// While locked, attempts are not admitted and change nothing.
		{base.Add(3 * time.Second), false, 3, &lockEnd},
		{lockEnd.Add(-time.Microsecond), false, 3, &lockEnd},
		// Exactly at the end of the lock it has expired: counting starts anew.
		{lockEnd, true, 1, nil},
		{base.Add(16 * time.Minute), true, 2, nil},
	}
	for i, st := range steps {
		got, ok := admit(t, s, u.ID, st.at, lockout)
		if ok != st.admitted || got.FailedLoginAttempts != st.attempts || !timePtrEqual(got.LockedUntil, st.until) {
			t.Fatalf("step %d: admitted %v, attempts %d, locked until %v; want %v, %d, %v", i, ok, got.FailedLoginAttempts, fmtTime(got.LockedUntil), st.admitted, st.attempts, fmtTime(st.until))
		}
		if got.ID != u.ID || got.HashedPassword != u.HashedPassword || got.SecurityStamp != u.SecurityStamp {
			t.Fatalf("step %d: AdmitLogin returned another row: id %d, stamp %d", i, got.ID, got.SecurityStamp)
		}
		stored, err := s.Users.ByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.FailedLoginAttempts != st.attempts || !timePtrEqual(stored.LockedUntil, st.until) {
			t.Fatalf("step %d: stored attempts %d, locked until %v; want %d, %v", i, stored.FailedLoginAttempts, fmtTime(stored.LockedUntil), st.attempts, fmtTime(st.until))
		}
	}
}

func testAdmitLoginNoThreshold(t *testing.T, s Stores) {
	u := mustCreate(t, s.Users, NewUser("mia"))
	for i := 1; i <= 10; i++ {
		got, ok := admit(t, s, u.ID, base, user.LockoutPolicy{})
		if !ok || got.FailedLoginAttempts != i || got.LockedUntil != nil {
			t.Fatalf("attempt %d: admitted %v, attempts %d, locked until %v; want admitted, %d, never locked", i, ok, got.FailedLoginAttempts, fmtTime(got.LockedUntil), i)
		}
	}
}

// testAdmitLoginInactive: a deactivated account admits nothing and counts
// nothing.
func testAdmitLoginInactive(t *testing.T, s Stores) {
	u := mustCreate(t, s.Users, NewUser("milo"))
	if _, err := s.Users.SetActive(context.Background(), u.ID, false, base); err != nil {
		t.Fatal(err)
	}
	got, ok := admit(t, s, u.ID, base, lockout)
	if ok || got.IsActive || got.FailedLoginAttempts != 0 {
		t.Fatalf("inactive account: admitted %v, active %v, attempts %d", ok, got.IsActive, got.FailedLoginAttempts)
	}
}

// admitInParallel admits n attempts at once and returns how many were
// admitted and the stored user.
func admitInParallel(t *testing.T, s Stores, id int64, n int, p user.LockoutPolicy) (int, *user.User) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	admitted := 0
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, ok, err := s.Users.AdmitLogin(context.Background(), id, base, p)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				admitted++
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	got, err := s.Users.ByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return admitted, got
}

// testConcurrentAdmissions: with a threshold above 100, 100 parallel
// attempts are all admitted and counted exactly.
func testConcurrentAdmissions(t *testing.T, s Stores) {
	u := mustCreate(t, s.Users, NewUser("noah"))
	n, got := admitInParallel(t, s, u.ID, 100, user.LockoutPolicy{Threshold: 1000, Duration: time.Minute})
	if n != 100 || got.FailedLoginAttempts != 100 || got.LockedUntil != nil {
		t.Fatalf("after 100 parallel attempts: %d admitted, attempts %d, locked until %v; want 100, exactly 100, unlocked", n, got.FailedLoginAttempts, fmtTime(got.LockedUntil))
	}
}

// testConcurrentLockout: 40 parallel attempts at threshold 5: exactly 5
// admitted and counted, and the account locked.
func testConcurrentLockout(t *testing.T, s Stores) {
	u := mustCreate(t, s.Users, NewUser("olga"))
	n, got := admitInParallel(t, s, u.ID, 40, user.LockoutPolicy{Threshold: 5, Duration: 15 * time.Minute})
	want := base.Add(15 * time.Minute)
	if n != 5 || got.FailedLoginAttempts != 5 || !timePtrEqual(got.LockedUntil, &want) {
		t.Fatalf("after 40 parallel attempts: %d admitted, attempts %d, locked until %v; want 5, 5, %v", n, got.FailedLoginAttempts, fmtTime(got.LockedUntil), want)
	}
}

func testLoginSuccess(t *testing.T, s Stores) {
	ctx := context.Background()
	u := mustCreate(t, s.Users, NewUser("pete"))
	var adm *user.User
	for range 2 {
		adm, _ = admit(t, s, u.ID, base, lockout)
	}
	at := base.Add(time.Minute)
	ok, err := s.Users.RecordLoginSuccess(ctx, u.ID, at, adm.SecurityStamp, adm.LockedUntil)
	if err != nil || !ok {
		t.Fatalf("RecordLoginSuccess = %v, %v; want true", ok, err)
	}
	got, err := s.Users.ByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.FailedLoginAttempts != 0 || got.LockedUntil != nil || !timePtrEqual(got.LastLoginAt, &at) {
		t.Fatalf("after success: attempts %d, locked until %v, last login %v", got.FailedLoginAttempts, fmtTime(got.LockedUntil), fmtTime(got.LastLoginAt))
	}
	if !got.UpdatedAt.Equal(u.UpdatedAt) || got.SecurityStamp != u.SecurityStamp {
		t.Errorf("RecordLoginSuccess changed updated_at to %v or the stamp to %d", got.UpdatedAt, got.SecurityStamp)
	}
}

// testLoginSuccessConditions: the success of an admitted attempt is
// recorded only while the account is as the admission left it.
func testLoginSuccessConditions(t *testing.T, s Stores) {
	ctx := context.Background()
	at := base.Add(time.Minute)
	cases := []struct {
		name string
		// between runs after the admission (adm) and before the success.
		between func(t *testing.T, id int64, adm *user.User)
		want    bool
	}{
		{"unchanged", func(*testing.T, int64, *user.User) {}, true},
		{"password changed", func(t *testing.T, id int64, adm *user.User) {
			if err := s.Users.SetPassword(ctx, id, "new", base, adm.SecurityStamp); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"deactivated", func(t *testing.T, id int64, _ *user.User) {
			if _, err := s.Users.SetActive(ctx, id, false, base); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"deactivated and reactivated", func(t *testing.T, id int64, _ *user.User) {
			for _, active := range []bool{false, true} {
				if _, err := s.Users.SetActive(ctx, id, active, base); err != nil {
					t.Fatal(err)
				}
			}
		}, false},
		{"locked by later attempts", func(t *testing.T, id int64, _ *user.User) {
			for range 2 {
				admit(t, s, id, base, lockout)
			}
		}, false},
		{"other attempts below the threshold", func(t *testing.T, id int64, _ *user.User) {
			admit(t, s, id, base, lockout)
		}, true},
		{"rehashed by another login", func(t *testing.T, id int64, adm *user.User) {
			if ok, err := s.Users.ReplacePasswordHash(ctx, id, adm.HashedPassword, "rehashed"); err != nil || !ok {
				t.Fatal(ok, err)
			}
		}, true},
	}
	for i, c := range cases {
		u := mustCreate(t, s.Users, NewUser(fmt.Sprintf("quentin%d", i)))
		adm, ok := admit(t, s, u.ID, base, lockout)
		if !ok {
			t.Fatalf("%s: not admitted", c.name)
		}
		c.between(t, u.ID, adm)
		before, err := s.Users.ByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		wrote, err := s.Users.RecordLoginSuccess(ctx, u.ID, at, adm.SecurityStamp, adm.LockedUntil)
		if err != nil || wrote != c.want {
			t.Fatalf("%s: RecordLoginSuccess = %v, %v; want %v", c.name, wrote, err, c.want)
		}
		after, err := s.Users.ByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !wrote && (after.FailedLoginAttempts != before.FailedLoginAttempts || !timePtrEqual(after.LockedUntil, before.LockedUntil) || after.LastLoginAt != nil) {
			t.Fatalf("%s: a refused success changed the row: attempts %d -> %d, locked %v -> %v, last login %v",
				c.name, before.FailedLoginAttempts, after.FailedLoginAttempts, fmtTime(before.LockedUntil), fmtTime(after.LockedUntil), fmtTime(after.LastLoginAt))
		}
	}

	// The attempt that set the lock itself (the threshold-th) may record
	// its success, which clears the lock; so may one whose lock expired.
	u := mustCreate(t, s.Users, NewUser("rita"))
	admit(t, s, u.ID, base, lockout)
	admit(t, s, u.ID, base, lockout)
	adm, ok := admit(t, s, u.ID, base, lockout)
	if !ok || adm.LockedUntil == nil {
		t.Fatalf("third admission: admitted %v, locked until %v; want admitted and locking", ok, fmtTime(adm.LockedUntil))
	}
	if wrote, err := s.Users.RecordLoginSuccess(ctx, u.ID, at, adm.SecurityStamp, adm.LockedUntil); err != nil || !wrote {
		t.Fatalf("success of the locking attempt = %v, %v; want true", wrote, err)
	}
	if got, _ := s.Users.ByID(ctx, u.ID); got.LockedUntil != nil || got.FailedLoginAttempts != 0 {
		t.Fatalf("after the locking attempt's success: locked until %v, attempts %d", fmtTime(got.LockedUntil), got.FailedLoginAttempts)
	}
	early, _ := admit(t, s, u.ID, base, lockout)
	admit(t, s, u.ID, base, lockout)
	admit(t, s, u.ID, base, lockout) // locks until base+15m
	if wrote, err := s.Users.RecordLoginSuccess(ctx, u.ID, base.Add(15*time.Minute), early.SecurityStamp, early.LockedUntil); err != nil || !wrote {
		t.Fatalf("success once the lock expired = %v, %v; want true", wrote, err)
	}

	// The locking attempt's own lock, cleared meanwhile by another
	// attempt's success: no lock is in force, the success is recorded.
	v := mustCreate(t, s.Users, NewUser("vera"))
	admit(t, s, v.ID, base, lockout)
	other, _ := admit(t, s, v.ID, base, lockout)
	locking, _ := admit(t, s, v.ID, base, lockout)
	if wrote, err := s.Users.RecordLoginSuccess(ctx, v.ID, at, other.SecurityStamp, other.LockedUntil); err != nil || wrote {
		t.Fatalf("success of an attempt that saw no lock, with a lock in force = %v, %v; want false", wrote, err)
	}
	// Clear the lock the way a success does, through an attempt admitted
	// before it: here the locking attempt itself.
	if wrote, err := s.Users.RecordLoginSuccess(ctx, v.ID, at, locking.SecurityStamp, locking.LockedUntil); err != nil || !wrote {
		t.Fatalf("success of the locking attempt = %v, %v", wrote, err)
	}
	if wrote, err := s.Users.RecordLoginSuccess(ctx, v.ID, at, other.SecurityStamp, other.LockedUntil); err != nil || !wrote {
		t.Fatalf("success once the lock was cleared by another = %v, %v; want true", wrote, err)
	}
}

func testDelete(t *testing.T, s Stores) {
	ctx := context.Background()
	u := mustCreate(t, s.Users, NewUser("quinn"))
	other := mustCreate(t, s.Users, NewUser("rose"))
	if err := s.Users.Delete(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Users.ByID(ctx, u.ID); !errors.Is(err, user.ErrNotFound) {
		t.Fatalf("ByID after Delete: err = %v", err)
	}
	if err := s.Users.Delete(ctx, u.ID); !errors.Is(err, user.ErrNotFound) {
		t.Fatalf("second Delete: err = %v, want ErrNotFound", err)
	}
	if _, err := s.Users.ByID(ctx, other.ID); err != nil {
		t.Fatalf("Delete removed another user: %v", err)
	}
	// The name and address are free again.
	again := mustCreate(t, s.Users, NewUser("quinn"))
	if again.ID == u.ID {
		t.Errorf("re-created user reuses id %d", u.ID)
	}
}

func testReturnsCopies(t *testing.T, s Stores) {
	ctx := context.Background()
	u := NewUser("sam")
	u.Preferences = map[string]any{"theme": "dark", "nested": map[string]any{"a": "b"}}
	mustCreate(t, s.Users, u)
	u.Preferences["theme"] = "changed after Create"
	got, err := s.Users.ByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	got.Preferences["theme"] = "changed after ByID"
	got.Preferences["nested"].(map[string]any)["a"] = "changed"
	again, err := s.Users.ByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if again.Preferences["theme"] != "dark" || again.Preferences["nested"].(map[string]any)["a"] != "b" {
		t.Fatalf("the store shares memory with its callers: %v", again.Preferences)
	}
}

// testUntrustedText stores values with SQL metacharacters, quotes, NUL-free
// control-adjacent and non-ASCII text unchanged: the store validates
// nothing and parameterizes everything.
func testUntrustedText(t *testing.T, s Stores) {
	ctx := context.Background()
	for i, name := range []string{
		`o'brien"; DROP TABLE users;--`,
		`%_\`,
		"ünïcödé-名前",
		"a$1b$2",
	} {
		u := NewUser(name)
		u.Email = user.Email(fmt.Sprintf("u%d+'or'1'='1@example.com", i))
		u.Metadata = map[string]any{"q": `'); DELETE FROM users; --`}
		mustCreate(t, s.Users, u)
		got, err := s.Users.ByUsername(ctx, user.Username(name))
		if err != nil {
			t.Fatalf("ByUsername(%q): %v", name, err)
		}
		if got.ID != u.ID || string(got.Email) != string(u.Email) || got.Metadata["q"] != u.Metadata["q"] {
			t.Fatalf("round trip of %q changed it: %+v", name, got)
		}
	}
	if _, err := s.Users.ByUsername(ctx, "%"); !errors.Is(err, user.ErrNotFound) {
		t.Fatalf("ByUsername(%q) matched as a pattern: err = %v", "%", err)
	}
}

func testCanceledContext(t *testing.T, s Stores) {
	u := mustCreate(t, s.Users, NewUser("tina"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Users.ByID(ctx, u.ID); !errors.Is(err, context.Canceled) {
		t.Errorf("ByID with a canceled context: err = %v, want context.Canceled", err)
	}
	if err := s.Users.Create(ctx, NewUser("uma")); !errors.Is(err, context.Canceled) {
		t.Errorf("Create with a canceled context: err = %v, want context.Canceled", err)
	}
	if _, err := s.Users.ByUsername(context.Background(), "uma"); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("Create with a canceled context stored the user: err = %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

func timePtrEqual(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "<nil>"
	}
	return t.Format(time.RFC3339Nano)
}

// diffUser describes how got differs from want, or returns "".
func diffUser(got, want *user.User) string {
	var d differ
	d.eq("ID", got.ID, want.ID)
	d.eq("Username", got.Username, want.Username)
	d.eq("Email", got.Email, want.Email)
	d.eq("HashedPassword", got.HashedPassword, want.HashedPassword)
	d.eq("IsActive", got.IsActive, want.IsActive)
	d.eq("IsVerified", got.IsVerified, want.IsVerified)
	d.eq("Role", got.Role, want.Role)
	d.eq("Tier", got.Tier, want.Tier)
	d.time("CreatedAt", got.CreatedAt, want.CreatedAt)
	d.time("UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	d.timePtr("LastLoginAt", got.LastLoginAt, want.LastLoginAt)
	d.eq("FailedLoginAttempts", got.FailedLoginAttempts, want.FailedLoginAttempts)
	d.timePtr("LockedUntil", got.LockedUntil, want.LockedUntil)
	d.time("PasswordChangedAt", got.PasswordChangedAt, want.PasswordChangedAt)
	d.timePtr("EmailVerifiedAt", got.EmailVerifiedAt, want.EmailVerifiedAt)
	d.eq("ProfileData", got.ProfileData, want.ProfileData)
	prefs, meta := want.Preferences, want.Metadata
	if prefs == nil {
		prefs = map[string]any{}
	}
	if meta == nil {
		meta = map[string]any{}
	}
	d.eq("Preferences", got.Preferences, prefs)
	d.eq("Metadata", got.Metadata, meta)
	return d.String()
}
