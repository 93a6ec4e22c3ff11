package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/user"
)

// RunSessionStore checks a [session.Store] beside the user store its
// sessions belong to: what Create stores and the per-user cap it
// enforces, the lookups with their user's state, Rotate's compare-and-swap
// and reuse detection (also under 50 concurrent calls), Touch's
// throttling, revocation, ListActive's validity rules and order, cleanup
// by DeleteExpired and by deleting the user, and, with a Transactor,
// rollback of every kind of change.
func RunSessionStore(t *testing.T, newStores Factory) {
	subtests(t, newStores, func(s Stores) bool { return s.Sessions != nil && s.Users != nil }, sessionCases)
	subtests(t, newStores, func(s Stores) bool { return s.Sessions != nil && s.Users != nil && s.Tx != nil }, sessionTxCases)
}

var sessionCases = map[string]func(*testing.T, Stores){
	"RoundTrip":             testSessionRoundTrip,
	"UserState":             testSessionUserState,
	"UnknownUser":           testSessionUnknownUser,
	"NotFound":              testSessionNotFound,
	"DuplicateHashes":       testSessionDuplicateHashes,
	"Cap":                   testSessionCap,
	"ConcurrentCap":         testSessionConcurrentCap,
	"Rotate":                testSessionRotate,
	"RotateRevoked":         testSessionRotateRevoked,
	"RotateChain":           testSessionRotateChain,
	"ConcurrentRotate":      testSessionConcurrentRotate,
	"Touch":                 testSessionTouch,
	"ConcurrentTouch":       testSessionConcurrentTouch,
	"TouchInactiveOrAbsent": testSessionTouchInactive,
	"Revoke":                testSessionRevoke,
	"RevokeUser":            testSessionRevokeUser,
	"ListActive":            testSessionListActive,
	"DeleteUser":            testSessionDeleteUser,
	"DeleteExpired":         testSessionDeleteExpired,
	"ReturnsCopies":         testSessionReturnsCopies,
	"CanceledContext":       testSessionCanceledContext,
	"CreateChecksUser":      testSessionCreateChecksUser,
	"CreateRacesStamp":      testSessionCreateRacesStamp,
	"ByRefreshHash":         testSessionByRefreshHash,
}

var sessionTxCases = map[string]func(*testing.T, Stores){
	"TxRollbackWithUser":    testSessionTxRollbackWithUser,
	"TxRollbackFailedWrite": testSessionTxRollbackFailedWrite,
	"TxRollbackRotation":    testSessionTxRollbackRotation,
	"TxCommit":              testSessionTxCommit,
}

// sessionTTL is the absolute lifetime of the suite's sessions.
const sessionTTL = 7 * 24 * time.Hour

// hashOf returns a hex SHA-256 that stands for a token named label; the
// stores never see a token, only such hashes.
func hashOf(label string) string {
	sum := sha256.Sum256([]byte(label))
	return hex.EncodeToString(sum[:])
}

// newSession returns an active session of the user, created and last
// active at base, with hashes derived from label and no documents.
func newSession(userID int64, label string) *session.Session {
	return &session.Session{
		UserID:         userID,
		TokenHash:      hashOf("token:" + label),
		RefreshHash:    hashOf("refresh:" + label),
		Active:         true,
		CreatedAt:      base,
		ExpiresAt:      base.Add(sessionTTL),
		LastActivityAt: base,
		ClientIP:       netip.MustParseAddr("192.0.2.1"),
		UserAgent:      "storetest/" + label,
	}
}

// addSession creates s with the given cap and returns the ids evicted.
func addSession(t *testing.T, st Stores, s *session.Session, max int) []int64 {
	t.Helper()
	evicted, err := st.Sessions.Create(context.Background(), s, max)
	if err != nil {
		t.Fatalf("Create(session of user %d, %q): %v", s.UserID, s.UserAgent, err)
	}
	if s.ID <= 0 {
		t.Fatalf("Create set ID = %d, want > 0", s.ID)
	}
	return evicted
}

// mustSession returns the stored session id.
func mustSession(t *testing.T, st Stores, id int64) *session.Session {
	t.Helper()
	got, _, err := st.Sessions.ByID(context.Background(), id)
	if err != nil {
		t.Fatalf("ByID(%d): %v", id, err)
	}
	return got
}

// checkSession fails the test unless the stored session want.ID equals
// want.
func checkSession(t *testing.T, st Stores, want *session.Session) {
	t.Helper()
	if d := diffSession(mustSession(t, st, want.ID), want); d != "" {
		t.Errorf("stored session %d: %s", want.ID, d)
	}
}

// checkActive fails the test unless the stored sessions' is_active flags
// are as given.
func checkActive(t *testing.T, st Stores, want map[int64]bool) {
	t.Helper()
	for id, active := range want {
		if got := mustSession(t, st, id).Active; got != active {
			t.Errorf("session %d active = %v, want %v", id, got, active)
		}
	}
}

// checkGone fails the test unless ByID finds no session id.
func checkGone(t *testing.T, st Stores, id int64) {
	t.Helper()
	if _, _, err := st.Sessions.ByID(context.Background(), id); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("ByID(%d) err = %v, want ErrNotFound", id, err)
	}
}

// sorted returns ids in ascending order; the stores promise no order for
// the ids Create and RevokeUser return.
func sorted(ids []int64) []int64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// stateOf is the UserState the stores should report for u.
func stateOf(u *user.User) session.UserState {
	return session.UserState{Role: u.Role, Tier: u.Tier, Active: u.IsActive, PasswordChangedAt: u.PasswordChangedAt,
		SecurityStamp: u.SecurityStamp}
}

// diffState describes how got differs from want, or returns "".
func diffState(got, want session.UserState) string {
	var d []string
	if got.Role != want.Role || got.Tier != want.Tier || got.Active != want.Active {
		d = append(d, fmt.Sprintf("role, tier, active = %s, %s, %v, want %s, %s, %v", got.Role, got.Tier, got.Active, want.Role, want.Tier, want.Active))
	}
	if !got.PasswordChangedAt.Equal(want.PasswordChangedAt) || got.PasswordChangedAt.Location() != time.UTC {
		d = append(d, fmt.Sprintf("PasswordChangedAt = %v, want %v in UTC", got.PasswordChangedAt, want.PasswordChangedAt))
	}
	if got.SecurityStamp != want.SecurityStamp {
		d = append(d, fmt.Sprintf("SecurityStamp = %d, want %d", got.SecurityStamp, want.SecurityStamp))
	}
	if len(d) == 0 {
		return ""
	}
	return fmt.Sprint(d)
}

// diffSession describes how got differs from want, or returns "". A nil
// want.SecurityContext stands for the empty document the stores return.
func diffSession(got, want *session.Session) string {
	if got == nil {
		return "session is nil"
	}
	var d differ
	d.eq("ID", got.ID, want.ID)
	d.eq("UserID", got.UserID, want.UserID)
	d.eq("TokenHash", got.TokenHash, want.TokenHash)
	d.eq("RefreshHash", got.RefreshHash, want.RefreshHash)
	d.eq("Active", got.Active, want.Active)
	d.time("CreatedAt", got.CreatedAt, want.CreatedAt)
	d.time("ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	d.time("LastActivityAt", got.LastActivityAt, want.LastActivityAt)
	if got.ClientIP != want.ClientIP {
		d.add("ClientIP = %v, want %v", got.ClientIP, want.ClientIP)
	}
	d.eq("UserAgent", got.UserAgent, want.UserAgent)
	d.eq("DeviceInfo", got.DeviceInfo, want.DeviceInfo)
	sc := want.SecurityContext
	if sc == nil {
		sc = map[string]any{}
	}
	d.eq("SecurityContext", got.SecurityContext, sc)
	return d.String()
}

// testSessionRoundTrip: ByID and ByTokenHash return every field as
// stored, with the user's state: client addresses of both families and
// none, JSON documents as a JSON column returns them (numbers as float64,
// nil DeviceInfo as nil, nil SecurityContext as {}), times in UTC.
func testSessionRoundTrip(t *testing.T, st Stores) {
	ctx := context.Background()
	u := mustCreate(t, st.Users, NewUser("alice"))
	elsewhere := time.FixedZone("UTC+5:30", 5*3600+1800)

	full := newSession(u.ID, "full")
	full.CreatedAt = base.Add(-time.Hour).In(elsewhere)
	full.ExpiresAt = base.Add(sessionTTL).In(elsewhere)
	full.LastActivityAt = base.Add(-time.Minute).In(elsewhere)
	full.ClientIP = netip.MustParseAddr("203.0.113.7")
	full.UserAgent = `Mozilla/5.0 (X11; Linux x86_64) "quoted" 'o''brien'; DROP TABLE sessions;-- ünïcödé`
	full.DeviceInfo = map[string]any{"os": "linux", "screen": map[string]any{"w": 1920, "h": 1080}, "touch": false}
	full.SecurityContext = map[string]any{"mfa": true, "risk": 0.25, "methods": []any{"password", "totp"}, "n": 3}

	v6 := newSession(u.ID, "v6")
	v6.ClientIP = netip.MustParseAddr("2001:db8::42")
	v6.DeviceInfo = map[string]any{}
	v6.SecurityContext = map[string]any{}

	bare := newSession(u.ID, "bare")
	bare.ClientIP = netip.Addr{}
	bare.UserAgent = ""

	for _, s := range []*session.Session{full, v6, bare} {
		want := *s
		want.CreatedAt, want.ExpiresAt, want.LastActivityAt = s.CreatedAt.UTC(), s.ExpiresAt.UTC(), s.LastActivityAt.UTC()
		switch s {
		case full:
			want.DeviceInfo = map[string]any{"os": "linux", "screen": map[string]any{"w": float64(1920), "h": float64(1080)}, "touch": false}
			want.SecurityContext = map[string]any{"mfa": true, "risk": 0.25, "methods": []any{"password", "totp"}, "n": float64(3)}
		case bare:
			want.DeviceInfo, want.SecurityContext = nil, nil
		}
		evicted, err := st.Sessions.Create(ctx, s, 0)
		if err != nil {
			t.Fatalf("Create(%s): %v", s.UserAgent, err)
		}
		if len(evicted) != 0 {
			t.Errorf("Create(%s) with max 0 evicted %v", s.UserAgent, evicted)
		}
		if s.ID <= 0 {
			t.Fatalf("Create set ID = %d, want > 0", s.ID)
		}
		want.ID = s.ID
		for name, get := range map[string]func() (*session.Session, session.UserState, error){
			"ByID":        func() (*session.Session, session.UserState, error) { return st.Sessions.ByID(ctx, s.ID) },
			"ByTokenHash": func() (*session.Session, session.UserState, error) { return st.Sessions.ByTokenHash(ctx, s.TokenHash) },
		} {
			got, state, err := get()
			if err != nil {
				t.Fatalf("%s(%s): %v", name, s.UserAgent, err)
			}
			if d := diffSession(got, &want); d != "" {
				t.Errorf("%s(%s): %s", name, s.UserAgent, d)
			}
			if d := diffState(state, stateOf(u)); d != "" {
				t.Errorf("%s(%s) user state: %s", name, s.UserAgent, d)
			}
		}
	}
	if full.ID == v6.ID || v6.ID == bare.ID || full.ID == bare.ID {
		t.Errorf("sessions share ids: %d, %d, %d", full.ID, v6.ID, bare.ID)
	}
	// Lookups are exact: the refresh hash is not a session token.
	if _, _, err := st.Sessions.ByTokenHash(ctx, full.RefreshHash); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("ByTokenHash(refresh hash) err = %v, want ErrNotFound", err)
	}
}

// testSessionUserState: the user's role, tier, active flag and password
// change time are read with the session, fresh after every change.
func testSessionUserState(t *testing.T, st Stores) {
	ctx := context.Background()
	u := mustCreate(t, st.Users, NewUser("bob"))
	s := newSession(u.ID, "s")
	addSession(t, st, s, 0)
	check := func(step string, want session.UserState, withRotate bool) {
		t.Helper()
		if _, got, err := st.Sessions.ByID(ctx, s.ID); err != nil || diffState(got, want) != "" {
			t.Errorf("%s: ByID state = %+v, %v: %s", step, got, err, diffState(got, want))
		}
		if _, got, err := st.Sessions.ByTokenHash(ctx, s.TokenHash); err != nil || diffState(got, want) != "" {
			t.Errorf("%s: ByTokenHash state = %+v, %v: %s", step, got, err, diffState(got, want))
		}
		if withRotate {
			next := hashOf(step)
			_, got, err := st.Sessions.Rotate(ctx, s.RefreshHash, next, base, 24*time.Hour)
			if err != nil || diffState(got, want) != "" {
				t.Errorf("%s: Rotate state = %+v, %v: %s", step, got, err, diffState(got, want))
			}
			if err == nil {
				s.RefreshHash = next
			}
		}
	}
	want := stateOf(u)
	check("as created", want, true)

	if _, err := st.Users.SetRole(ctx, u.ID, user.RoleAdmin, base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	want.Role = user.RoleAdmin
	check("after SetRole", want, true)

	if _, err := st.Users.SetTier(ctx, u.ID, user.TierEnterprise, base.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	want.Tier = user.TierEnterprise
	check("after SetTier", want, true)

	changed := base.Add(3 * time.Minute)
	if err := st.Users.SetPassword(ctx, u.ID, "new-hash", changed, want.SecurityStamp); err != nil {
		t.Fatal(err)
	}
	want.PasswordChangedAt = changed
	want.SecurityStamp++
	check("after SetPassword", want, true)

	// Whether deactivating the user touches its sessions is the services'
	// business; the state read with the session shows it either way.
	if _, err := st.Users.SetActive(ctx, u.ID, false, base.Add(4*time.Minute)); err != nil {
		t.Fatal(err)
	}
	want.Active = false
	want.SecurityStamp++
	check("after SetActive(false)", want, false)
}

func testSessionUnknownUser(t *testing.T, st Stores) {
	ctx := context.Background()
	s := newSession(987654, "orphan")
	_, err := st.Sessions.Create(ctx, s, 3)
	if !errors.Is(err, session.ErrNotFound) || !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Create for a missing user: err = %v, want session.ErrNotFound", err)
	}
	if _, _, err := st.Sessions.ByTokenHash(ctx, s.TokenHash); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("the refused session was stored: ByTokenHash err = %v", err)
	}
	// The hashes are still free.
	u := mustCreate(t, st.Users, NewUser("carol"))
	addSession(t, st, newSession(u.ID, "orphan"), 0)
}

func testSessionNotFound(t *testing.T, st Stores) {
	ctx := context.Background()
	u := mustCreate(t, st.Users, NewUser("dave"))
	s := newSession(u.ID, "present")
	addSession(t, st, s, 0)
	for _, missing := range []int64{s.ID + 1000, 1 << 31, 1 << 40, math.MaxInt64, -1} {
		sessionNotFound(t, st, s, missing)
	}
	checkSession(t, st, s)
	// A user with no sessions has none to list or revoke; that is no error.
	for _, id := range []int64{u.ID + 1000, 1 << 40, math.MaxInt64, -1} {
		if got, err := st.Sessions.ListActive(ctx, id, base, time.Hour); err != nil || len(got) != 0 {
			t.Errorf("ListActive of user %d without sessions = %v, %v; want none", id, got, err)
		}
		if got, err := st.Sessions.RevokeUser(ctx, id, 0); err != nil || len(got) != 0 {
			t.Errorf("RevokeUser of user %d without sessions = %v, %v; want none", id, got, err)
		}
	}
}

func sessionNotFound(t *testing.T, st Stores, s *session.Session, missing int64) {
	ctx := context.Background()
	calls := map[string]func() error{
		"ByID":        func() error { _, _, err := st.Sessions.ByID(ctx, missing); return err },
		"ByTokenHash": func() error { _, _, err := st.Sessions.ByTokenHash(ctx, hashOf("token:absent")); return err },
		"Rotate": func() error {
			_, _, err := st.Sessions.Rotate(ctx, hashOf("refresh:absent"), hashOf("refresh:next"), base, 24*time.Hour)
			return err
		},
		// A session token is not a refresh token.
		"Rotate(token hash)": func() error {
			_, _, err := st.Sessions.Rotate(ctx, s.TokenHash, hashOf("refresh:next"), base, 24*time.Hour)
			return err
		},
		"Revoke": func() error { _, err := st.Sessions.Revoke(ctx, missing); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, session.ErrNotFound) || !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s(%d): err = %v, want session.ErrNotFound", name, missing, err)
		}
	}
}

// testSessionDuplicateHashes: a session token or refresh token hash in use
// refuses the Create with a store.ErrConflict, atomically: nothing is
// stored and nothing evicted.
func testSessionDuplicateHashes(t *testing.T, st Stores) {
	ctx := context.Background()
	u := mustCreate(t, st.Users, NewUser("erin"))
	first := newSession(u.ID, "first")
	addSession(t, st, first, 0)
	for name, mk := range map[string]func() *session.Session{
		"token hash": func() *session.Session {
			s := newSession(u.ID, "dup-token")
			s.TokenHash = first.TokenHash
			return s
		},
		"refresh hash": func() *session.Session {
			s := newSession(u.ID, "dup-refresh")
			s.RefreshHash = first.RefreshHash
			return s
		},
	} {
		s := mk()
		s.LastActivityAt = base.Add(time.Hour)
		evicted, err := st.Sessions.Create(ctx, s, 1)
		if !errors.Is(err, store.ErrConflict) {
			t.Errorf("Create with a used %s: evicted %v, err = %v; want store.ErrConflict", name, evicted, err)
		}
		if s.TokenHash != first.TokenHash {
			if _, _, err := st.Sessions.ByTokenHash(ctx, s.TokenHash); !errors.Is(err, session.ErrNotFound) {
				t.Errorf("Create with a used %s stored the session: ByTokenHash err = %v", name, err)
			}
		}
	}
	checkSession(t, st, first)
	if got, err := st.Sessions.ListActive(ctx, u.ID, base, time.Hour); err != nil || len(got) != 1 {
		t.Errorf("after the refused creations ListActive = %d sessions, %v; want 1", len(got), err)
	}
}

// testSessionCap: Create with max > 0 keeps the max most recently active
// of the user's active sessions, the new one always among them.
func testSessionCap(t *testing.T, st Stores) {
	a := mustCreate(t, st.Users, NewUser("frank"))
	b := mustCreate(t, st.Users, NewUser("gina"))
	// The other user's sessions are more recently active than all of
	// a's; they neither count nor go.
	var others []int64
	for i := range 3 {
		s := newSession(b.ID, fmt.Sprintf("b%d", i))
		s.LastActivityAt = base.Add(time.Duration(10+i) * time.Minute)
		addSession(t, st, s, 0)
		others = append(others, s.ID)
	}
	mk := func(i int, lastActivity time.Time) *session.Session {
		s := newSession(a.ID, fmt.Sprintf("a%d", i))
		s.LastActivityAt = lastActivity
		return s
	}
	var ids []int64
	steps := []struct {
		last    time.Time
		max     int
		evicted []int // indexes into ids
	}{
		{base.Add(1 * time.Minute), 3, nil},
		{base.Add(2 * time.Minute), 3, nil},
		{base.Add(3 * time.Minute), 3, nil},
		{base.Add(4 * time.Minute), 3, []int{0}},
		{base.Add(5 * time.Minute), 3, []int{1}},
		// The newest session stays even when it is the least recently
		// active: the two most recently active others stay beside it.
		{base, 3, []int{2}},
		// max 0: no cap.
		{base.Add(6 * time.Minute), 0, nil},
		// max 1: only the new one stays.
		{base.Add(7 * time.Minute), 1, []int{3, 4, 5, 6}},
		// Inactive sessions are not evicted again.
		{base.Add(8 * time.Minute), 1, []int{7}},
	}
	for i, step := range steps {
		s := mk(i, step.last)
		got := addSession(t, st, s, step.max)
		ids = append(ids, s.ID)
		var want []int64
		for _, j := range step.evicted {
			want = append(want, ids[j])
		}
		if !slices.Equal(sorted(got), sorted(want)) {
			t.Errorf("step %d: Create(max %d) evicted %v, want %v", i, step.max, got, want)
		}
	}
	active := map[int64]bool{}
	for i, id := range ids {
		active[id] = i == len(ids)-1
	}
	for _, id := range others {
		active[id] = true
	}
	checkActive(t, st, active)
}

// testSessionConcurrentCap: 20 logins of one user at once, each with a
// cap of 3, leave exactly 3 of its sessions active, as any serial order
// of the atomic Creates would: every session is either kept or evicted
// once, and the other user's session stays.
func testSessionConcurrentCap(t *testing.T, st Stores) {
	const n, max = 20, 3
	u := mustCreate(t, st.Users, NewUser("fred"))
	other := mustCreate(t, st.Users, NewUser("gwen"))
	theirs := newSession(other.ID, "other")
	addSession(t, st, theirs, 0)
	ids := make([]int64, n)
	evicted := make([][]int64, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			s := newSession(u.ID, fmt.Sprintf("s%d", i))
			s.LastActivityAt = base.Add(time.Duration(i) * time.Second)
			ev, err := st.Sessions.Create(context.Background(), s, max)
			if err != nil {
				t.Errorf("Create %d: %v", i, err)
				return
			}
			ids[i], evicted[i] = s.ID, ev
		}()
	}
	close(start)
	wg.Wait()
	active, err := st.Sessions.ListActive(context.Background(), u.ID, base, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(active) != max {
		t.Errorf("after %d concurrent Creates with max %d the user has %d active sessions, want %d", n, max, len(active), max)
	}
	times := map[int64]int{}
	for _, ev := range evicted {
		for _, id := range ev {
			times[id]++
		}
	}
	total := 0
	for id, k := range times {
		total += k
		if k != 1 {
			t.Errorf("session %d evicted %d times", id, k)
		}
		if mustSession(t, st, id).Active {
			t.Errorf("evicted session %d is active", id)
		}
	}
	if total+len(active) != n {
		t.Errorf("%d evictions and %d active sessions, want them to add up to %d", total, len(active), n)
	}
	checkSession(t, st, theirs)
}

func testSessionRotate(t *testing.T, st Stores) {
	ctx := context.Background()
	u := mustCreate(t, st.Users, NewUser("hank"))
	s := newSession(u.ID, "s")
	s.DeviceInfo = map[string]any{"os": "ios"}
	addSession(t, st, s, 0)
	other := newSession(u.ID, "other")
	addSession(t, st, other, 0)

	old, next := s.RefreshHash, hashOf("refresh:s:1")
	at := base.Add(5 * time.Minute)
	got, state, err := st.Sessions.Rotate(ctx, old, next, at, 24*time.Hour)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	want := *s
	want.RefreshHash, want.LastActivityAt = next, at
	if d := diffSession(got, &want); d != "" {
		t.Errorf("Rotate returned: %s", d)
	}
	if d := diffState(state, stateOf(u)); d != "" {
		t.Errorf("Rotate user state: %s", d)
	}
	checkSession(t, st, &want)
	checkSession(t, st, other)

	// The old hash again: reuse. Nothing changes; the session is named.
	got, _, err = st.Sessions.Rotate(ctx, old, hashOf("refresh:s:reuse"), at.Add(time.Minute), 24*time.Hour)
	if !errors.Is(err, session.ErrRotated) {
		t.Fatalf("Rotate with the replaced hash: err = %v, want ErrRotated", err)
	}
	if d := diffSession(got, &want); d != "" {
		t.Errorf("Rotate with the replaced hash returned: %s", d)
	}
	checkSession(t, st, &want)
	if _, _, err := st.Sessions.Rotate(ctx, hashOf("refresh:s:reuse"), hashOf("refresh:x"), at, 24*time.Hour); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("the refused new hash was stored: Rotate with it err = %v, want ErrNotFound", err)
	}

	// The current hash still rotates.
	at2 := at.Add(2 * time.Minute)
	got, _, err = st.Sessions.Rotate(ctx, next, hashOf("refresh:s:2"), at2, 24*time.Hour)
	if err != nil {
		t.Fatalf("Rotate with the current hash: %v", err)
	}
	want.RefreshHash, want.LastActivityAt = hashOf("refresh:s:2"), at2
	if d := diffSession(got, &want); d != "" {
		t.Errorf("second Rotate returned: %s", d)
	}
	checkSession(t, st, &want)
}

// testSessionRotateRevoked: the current refresh hash of an inactive
// session is refused like a replaced one, and changes nothing.
func testSessionRotateRevoked(t *testing.T, st Stores) {
	ctx := context.Background()
	u := mustCreate(t, st.Users, NewUser("ivy"))
	s := newSession(u.ID, "s")
	addSession(t, st, s, 0)
	if ok, err := st.Sessions.Revoke(ctx, s.ID); err != nil || !ok {
		t.Fatalf("Revoke = %v, %v", ok, err)
	}
	want := *s
	want.Active = false
	got, _, err := st.Sessions.Rotate(ctx, s.RefreshHash, hashOf("refresh:s:1"), base.Add(time.Hour), 24*time.Hour)
	if !errors.Is(err, session.ErrRotated) {
		t.Fatalf("Rotate of a revoked session: err = %v, want ErrRotated", err)
	}
	if d := diffSession(got, &want); d != "" {
		t.Errorf("Rotate of a revoked session returned: %s", d)
	}
	checkSession(t, st, &want)
	if _, _, err := st.Sessions.Rotate(ctx, hashOf("refresh:s:1"), hashOf("refresh:s:2"), base, 24*time.Hour); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("the refused new hash was stored: Rotate with it err = %v, want ErrNotFound", err)
	}
}

// testSessionRotateChain: after five rotations every replaced hash is
// still recognised as reuse of this session.
func testSessionRotateChain(t *testing.T, st Stores) {
	ctx := context.Background()
	u := mustCreate(t, st.Users, NewUser("jack"))
	s := newSession(u.ID, "s")
	addSession(t, st, s, 0)
	hashes := []string{s.RefreshHash}
	for i := 1; i <= 5; i++ {
		h := hashOf(fmt.Sprintf("refresh:s:%d", i))
		if _, _, err := st.Sessions.Rotate(ctx, hashes[i-1], h, base.Add(time.Duration(i)*time.Minute), 24*time.Hour); err != nil {
			t.Fatalf("rotation %d: %v", i, err)
		}
		hashes = append(hashes, h)
	}
	want := *s
	want.RefreshHash, want.LastActivityAt = hashes[5], base.Add(5*time.Minute)
	for i, h := range hashes[:5] {
		got, _, err := st.Sessions.Rotate(ctx, h, hashOf(fmt.Sprintf("refresh:reuse:%d", i)), base.Add(time.Hour), 24*time.Hour)
		if !errors.Is(err, session.ErrRotated) {
			t.Errorf("reuse of hash %d: err = %v, want ErrRotated", i, err)
			continue
		}
		if d := diffSession(got, &want); d != "" {
			t.Errorf("reuse of hash %d returned: %s", i, d)
		}
	}
	checkSession(t, st, &want)
	if _, _, err := st.Sessions.Rotate(ctx, hashes[5], hashOf("refresh:s:6"), base.Add(time.Hour), 24*time.Hour); err != nil {
		t.Fatalf("rotation of the current hash after the reuses: %v", err)
	}
}

// testSessionConcurrentRotate: 50 refreshes with one token at once give
// exactly one success; every other call sees the reuse. Ten rounds, each
// with the previous winner's token, give a lost compare-and-swap more
// chances to show.
func testSessionConcurrentRotate(t *testing.T, st Stores) {
	const n, rounds = 50, 10
	u := mustCreate(t, st.Users, NewUser("kate"))
	s := newSession(u.ID, "s")
	addSession(t, st, s, 0)
	type result struct {
		s   *session.Session
		err error
	}
	want := *s
	for round := range rounds {
		at := base.Add(time.Duration(round+1) * time.Minute)
		next := func(i int) string { return hashOf(fmt.Sprintf("refresh:s:%d:%d", round, i)) }
		results := make([]result, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				got, _, err := st.Sessions.Rotate(context.Background(), want.RefreshHash, next(i), at, 24*time.Hour)
				results[i] = result{got, err}
			}()
		}
		close(start)
		wg.Wait()
		var won []int
		rotated := 0
		for i, r := range results {
			switch {
			case r.err == nil:
				won = append(won, i)
			case errors.Is(r.err, session.ErrRotated):
				rotated++
				if r.s == nil || r.s.ID != s.ID {
					t.Errorf("round %d, call %d: ErrRotated with session %+v, want session %d", round, i, r.s, s.ID)
				}
			default:
				t.Errorf("round %d, call %d: unexpected error: %v", round, i, r.err)
			}
		}
		if len(won) != 1 || rotated != n-1 {
			t.Fatalf("round %d: calls %v succeeded and %d returned ErrRotated, want 1 and %d", round, won, rotated, n-1)
		}
		want.RefreshHash, want.LastActivityAt = next(won[0]), at
		if d := diffSession(results[won[0]].s, &want); d != "" {
			t.Errorf("round %d: the winning Rotate returned: %s", round, d)
		}
		checkSession(t, st, &want)
	}
}

// testSessionTouch: Touch writes only when the stored last activity is
// strictly earlier than at-minGap, and never moves it backwards.
func testSessionTouch(t *testing.T, st Stores) {
	ctx := context.Background()
	u := mustCreate(t, st.Users, NewUser("liam"))
	s := newSession(u.ID, "s")
	addSession(t, st, s, 0)
	other := newSession(u.ID, "other")
	addSession(t, st, other, 0)
	const gap = time.Minute
	us := time.Microsecond
	steps := []struct {
		at    time.Time
		gap   time.Duration
		wrote bool
		last  time.Time // stored afterwards
	}{
		{base, gap, false, base},
		{base.Add(gap), gap, false, base}, // last == at-gap: not earlier
		{base.Add(gap + us), gap, true, base.Add(gap + us)},
		{base.Add(gap + us), gap, false, base.Add(gap + us)},
		{base.Add(30 * time.Second), gap, false, base.Add(gap + us)}, // never backwards
		{base.Add(2*gap + us), gap, false, base.Add(gap + us)},
		{base.Add(2*gap + 2*us), gap, true, base.Add(2*gap + 2*us)},
		// No gap: any later time writes, the same time does not.
		{base.Add(2*gap + 2*us), 0, false, base.Add(2*gap + 2*us)},
		{base.Add(2*gap + 3*us), 0, true, base.Add(2*gap + 3*us)},
	}
	want := *s
	for i, step := range steps {
		wrote, err := st.Sessions.Touch(ctx, s.ID, step.at, step.gap)
		if err != nil {
			t.Fatalf("step %d: Touch: %v", i, err)
		}
		if wrote != step.wrote {
			t.Errorf("step %d: Touch(at %v, gap %v) = %v, want %v", i, step.at, step.gap, wrote, step.wrote)
		}
		want.LastActivityAt = step.last
		checkSession(t, st, &want)
	}
	checkSession(t, st, other)
}

// testSessionConcurrentTouch: 20 requests of one session at one moment
// write once; the update is conditional, not read-then-write. Five
// rounds, an hour apart, as in testSessionConcurrentRotate.
func testSessionConcurrentTouch(t *testing.T, st Stores) {
	const n, rounds = 20, 5
	u := mustCreate(t, st.Users, NewUser("mia"))
	s := newSession(u.ID, "s")
	addSession(t, st, s, 0)
	want := *s
	for round := range rounds {
		at := base.Add(time.Duration(round+1) * time.Hour)
		wrote := make([]bool, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				ok, err := st.Sessions.Touch(context.Background(), s.ID, at, time.Minute)
				if err != nil {
					t.Error(err)
				}
				wrote[i] = ok
			}()
		}
		close(start)
		wg.Wait()
		writes := 0
		for _, w := range wrote {
			if w {
				writes++
			}
		}
		if writes != 1 {
			t.Errorf("round %d: %d of %d concurrent Touch calls wrote, want 1", round, writes, n)
		}
		want.LastActivityAt = at
		checkSession(t, st, &want)
	}
}

// testSessionTouchInactive: an inactive session is not touched. Touch
// names no error in its doc, so for a session that does not exist it
// reports (false, nil), as for any session it does not write.
func testSessionTouchInactive(t *testing.T, st Stores) {
	ctx := context.Background()
	u := mustCreate(t, st.Users, NewUser("noah"))
	s := newSession(u.ID, "s")
	addSession(t, st, s, 0)
	if _, err := st.Sessions.Revoke(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	wrote, err := st.Sessions.Touch(ctx, s.ID, base.Add(time.Hour), time.Minute)
	if err != nil || wrote {
		t.Errorf("Touch of a revoked session = %v, %v; want false, nil", wrote, err)
	}
	want := *s
	want.Active = false
	checkSession(t, st, &want)
	wrote, err = st.Sessions.Touch(ctx, s.ID+1000, base.Add(time.Hour), time.Minute)
	if err != nil || wrote {
		t.Errorf("Touch of a missing session = %v, %v; want false, nil", wrote, err)
	}
}

func testSessionRevoke(t *testing.T, st Stores) {
	ctx := context.Background()
	u := mustCreate(t, st.Users, NewUser("olga"))
	s := newSession(u.ID, "s")
	addSession(t, st, s, 0)
	other := newSession(u.ID, "other")
	addSession(t, st, other, 0)
	if ok, err := st.Sessions.Revoke(ctx, s.ID); err != nil || !ok {
		t.Fatalf("Revoke = %v, %v; want true, nil", ok, err)
	}
	want := *s
	want.Active = false
	checkSession(t, st, &want)
	// Inactive sessions are still found by token.
	if got, _, err := st.Sessions.ByTokenHash(ctx, s.TokenHash); err != nil || diffSession(got, &want) != "" {
		t.Errorf("ByTokenHash of a revoked session = %+v, %v", got, err)
	}
	if ok, err := st.Sessions.Revoke(ctx, s.ID); err != nil || ok {
		t.Fatalf("second Revoke = %v, %v; want false, nil", ok, err)
	}
	checkSession(t, st, &want)
	checkSession(t, st, other)
	if _, err := st.Sessions.Revoke(ctx, other.ID+1000); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Revoke of a missing session: err = %v, want ErrNotFound", err)
	}
}

func testSessionRevokeUser(t *testing.T, st Stores) {
	ctx := context.Background()
	a := mustCreate(t, st.Users, NewUser("pete"))
	b := mustCreate(t, st.Users, NewUser("quinn"))
	var as []int64
	for i := range 4 {
		s := newSession(a.ID, fmt.Sprintf("a%d", i))
		addSession(t, st, s, 0)
		as = append(as, s.ID)
	}
	bs := newSession(b.ID, "b")
	addSession(t, st, bs, 0)
	if _, err := st.Sessions.Revoke(ctx, as[3]); err != nil {
		t.Fatal(err)
	}
	// All but the current one; the already revoked one is not counted.
	got, err := st.Sessions.RevokeUser(ctx, a.ID, as[1])
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{as[0], as[2]}; !slices.Equal(sorted(got), want) {
		t.Errorf("RevokeUser(except %d) = %v, want %v", as[1], got, want)
	}
	checkActive(t, st, map[int64]bool{as[0]: false, as[1]: true, as[2]: false, as[3]: false, bs.ID: true})
	// Another user's session as except protects nothing of a's.
	if got, err = st.Sessions.RevokeUser(ctx, a.ID, bs.ID); err != nil || !slices.Equal(got, []int64{as[1]}) {
		t.Errorf("RevokeUser(except another user's session) = %v, %v; want [%d]", got, err, as[1])
	}
	if got, err = st.Sessions.RevokeUser(ctx, a.ID, 0); err != nil || len(got) != 0 {
		t.Errorf("RevokeUser with none active = %v, %v; want none", got, err)
	}
	checkActive(t, st, map[int64]bool{as[0]: false, as[1]: false, as[2]: false, as[3]: false, bs.ID: true})
	if got, err = st.Sessions.RevokeUser(ctx, b.ID, 0); err != nil || !slices.Equal(got, []int64{bs.ID}) {
		t.Errorf("RevokeUser(except 0) = %v, %v; want [%d]", got, err, bs.ID)
	}
	checkActive(t, st, map[int64]bool{bs.ID: false})
}

// testSessionListActive: only active sessions that are neither expired
// (expires_at <= at) nor idle (last_activity_at <= at-idle) nor older than
// the password (created_at < password_changed_at) are listed, most
// recently active first.
func testSessionListActive(t *testing.T, st Stores) {
	ctx := context.Background()
	u := mustCreate(t, st.Users, NewUser("rose"))
	other := mustCreate(t, st.Users, NewUser("sam"))
	changed := base.Add(time.Hour)
	at := base.Add(2 * time.Hour)
	const idle = 30 * time.Minute
	us := time.Microsecond
	type spec struct {
		created, last, expires time.Time
		revoked                bool
	}
	specs := map[string]spec{
		"recent":         {changed.Add(10 * time.Minute), at.Add(-time.Minute), at.Add(time.Hour), false},
		"older":          {changed.Add(5 * time.Minute), at.Add(-20 * time.Minute), at.Add(time.Hour), false},
		"edge":           {changed, at.Add(-idle + us), at.Add(us), false},
		"idle":           {changed.Add(time.Minute), at.Add(-idle), at.Add(time.Hour), false},
		"expired":        {changed.Add(time.Minute), at.Add(-2 * time.Minute), at, false},
		"revoked":        {changed.Add(time.Minute), at.Add(-3 * time.Minute), at.Add(time.Hour), true},
		"beforePassword": {changed.Add(-us), at.Add(-4 * time.Minute), at.Add(time.Hour), false},
	}
	// A session of the old security stamp, created before the password
	// change, is not listed whatever its times.
	stale := newSession(u.ID, "staleStamp")
	stale.CreatedAt, stale.LastActivityAt, stale.ExpiresAt = changed.Add(20*time.Minute), at.Add(-time.Minute), at.Add(time.Hour)
	addSession(t, st, stale, 0)
	if err := st.Users.SetPassword(ctx, u.ID, "new-hash", changed, u.SecurityStamp); err != nil {
		t.Fatal(err)
	}
	stored := map[string]*session.Session{}
	for name, sp := range specs {
		s := newSession(u.ID, name)
		s.SecurityStamp = u.SecurityStamp + 1
		s.CreatedAt, s.LastActivityAt, s.ExpiresAt = sp.created, sp.last, sp.expires
		addSession(t, st, s, 0)
		if sp.revoked {
			if _, err := st.Sessions.Revoke(ctx, s.ID); err != nil {
				t.Fatal(err)
			}
			s.Active = false
		}
		stored[name] = s
	}
	theirs := newSession(other.ID, "other")
	theirs.CreatedAt, theirs.LastActivityAt = changed, at
	addSession(t, st, theirs, 0)

	got, err := st.Sessions.ListActive(ctx, u.ID, at, idle)
	if err != nil {
		t.Fatal(err)
	}
	wantNames := []string{"recent", "older", "edge"}
	if len(got) != len(wantNames) {
		var ids []int64
		for _, s := range got {
			ids = append(ids, s.ID)
		}
		t.Fatalf("ListActive = sessions %v, want %v (ids %d, %d, %d)", ids, wantNames, stored["recent"].ID, stored["older"].ID, stored["edge"].ID)
	}
	for i, name := range wantNames {
		if d := diffSession(&got[i], stored[name]); d != "" {
			t.Errorf("ListActive[%d], want %s: %s", i, name, d)
		}
	}
	if got, err := st.Sessions.ListActive(ctx, other.ID, at, idle); err != nil || len(got) != 1 || diffSession(&got[0], theirs) != "" {
		t.Errorf("ListActive of the other user = %v, %v; want only its session", got, err)
	}
}

// testSessionDeleteUser: deleting the user deletes its sessions and their
// rotation history, and nothing of other users.
func testSessionDeleteUser(t *testing.T, st Stores) {
	ctx := context.Background()
	u := mustCreate(t, st.Users, NewUser("tina"))
	other := mustCreate(t, st.Users, NewUser("uma"))
	s := newSession(u.ID, "s")
	addSession(t, st, s, 0)
	if _, _, err := st.Sessions.Rotate(ctx, s.RefreshHash, hashOf("refresh:s:1"), base.Add(time.Minute), 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	theirs := newSession(other.ID, "other")
	addSession(t, st, theirs, 0)
	if err := st.Users.Delete(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	checkGone(t, st, s.ID)
	if _, _, err := st.Sessions.ByTokenHash(ctx, s.TokenHash); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("ByTokenHash after deleting the user: err = %v, want ErrNotFound", err)
	}
	for _, h := range []string{s.RefreshHash, hashOf("refresh:s:1")} {
		if _, _, err := st.Sessions.Rotate(ctx, h, hashOf("refresh:x"), base.Add(time.Hour), 24*time.Hour); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Rotate after deleting the user: err = %v, want ErrNotFound", err)
		}
	}
	checkSession(t, st, theirs)
}

// testSessionDeleteExpired: batches of 2 delete exactly the inactive,
// expired and idle sessions with their rotation history, and keep the
// valid ones with theirs.
func testSessionDeleteExpired(t *testing.T, st Stores) {
	ctx := context.Background()
	u := mustCreate(t, st.Users, NewUser("vera"))
	other := mustCreate(t, st.Users, NewUser("walt"))
	at := base.Add(48 * time.Hour)
	const idle = 30 * time.Minute
	type spec struct {
		user          *user.User
		last, expires time.Time
		rotateAt      time.Time // zero: not rotated
		revoke        bool
		keep          bool
	}
	specs := map[string]spec{
		"valid":         {u, at.Add(-time.Minute), at.Add(time.Hour), time.Time{}, false, true},
		"validRotated":  {u, at.Add(-40 * time.Minute), at.Add(time.Microsecond), at.Add(-29 * time.Minute), false, true},
		"validOther":    {other, at.Add(-time.Minute), at.Add(time.Hour), time.Time{}, false, true},
		"revoked":       {u, at.Add(-5 * time.Minute), at.Add(time.Hour), at.Add(-2 * time.Minute), true, false},
		"expiredAt":     {u, at.Add(-time.Minute), at, time.Time{}, false, false},
		"expiredBefore": {other, at.Add(-5 * time.Minute), at.Add(-time.Second), time.Time{}, false, false},
		"idle":          {u, at.Add(-45 * time.Minute), at.Add(time.Hour), at.Add(-31 * time.Minute), false, false},
		"idleLong":      {u, at.Add(-24 * time.Hour), at.Add(time.Hour), time.Time{}, false, false},
	}
	type entry struct {
		s       *session.Session
		rotated string // the replaced refresh hash, if rotated
	}
	entries := map[string]*entry{}
	for name, sp := range specs {
		s := newSession(sp.user.ID, name)
		s.LastActivityAt, s.ExpiresAt = sp.last, sp.expires
		addSession(t, st, s, 0)
		e := &entry{s: s}
		if !sp.rotateAt.IsZero() {
			next := hashOf("refresh:" + name + ":1")
			if _, _, err := st.Sessions.Rotate(ctx, s.RefreshHash, next, sp.rotateAt, 24*time.Hour); err != nil {
				t.Fatalf("Rotate(%s): %v", name, err)
			}
			e.rotated, s.RefreshHash, s.LastActivityAt = s.RefreshHash, next, sp.rotateAt
		}
		if sp.revoke {
			if _, err := st.Sessions.Revoke(ctx, s.ID); err != nil {
				t.Fatal(err)
			}
			s.Active = false
		}
		entries[name] = e
	}
	var counts []int
	for range 10 {
		n, err := st.Sessions.DeleteExpired(ctx, at, idle, 2)
		if err != nil {
			t.Fatal(err)
		}
		counts = append(counts, n)
		if n < 2 {
			break
		}
	}
	if !slices.Equal(counts, []int{2, 2, 1}) {
		t.Errorf("DeleteExpired(batch 2) returned %v in turn, want [2 2 1]", counts)
	}
	if n, err := st.Sessions.DeleteExpired(ctx, at, idle, 2); err != nil || n != 0 {
		t.Errorf("DeleteExpired with nothing left = %d, %v; want 0, nil", n, err)
	}
	for name, sp := range specs {
		e := entries[name]
		if !sp.keep {
			checkGone(t, st, e.s.ID)
			for _, h := range []string{e.s.RefreshHash, e.rotated} {
				if h == "" {
					continue
				}
				if _, _, err := st.Sessions.Rotate(ctx, h, hashOf("refresh:after:"+name), at, 24*time.Hour); !errors.Is(err, session.ErrNotFound) {
					t.Errorf("%s: Rotate with a hash of the deleted session: err = %v, want ErrNotFound", name, err)
				}
			}
			continue
		}
		checkSession(t, st, e.s)
		if e.rotated != "" {
			if _, _, err := st.Sessions.Rotate(ctx, e.rotated, hashOf("refresh:after:"+name), at, 24*time.Hour); !errors.Is(err, session.ErrRotated) {
				t.Errorf("%s: the kept session lost its rotation history: Rotate err = %v, want ErrRotated", name, err)
			}
		}
	}
}

func testSessionReturnsCopies(t *testing.T, st Stores) {
	ctx := context.Background()
	u := mustCreate(t, st.Users, NewUser("xena"))
	s := newSession(u.ID, "s")
	s.DeviceInfo = map[string]any{"os": "linux", "nested": map[string]any{"a": "b"}}
	s.SecurityContext = map[string]any{"mfa": true}
	addSession(t, st, s, 0)
	s.DeviceInfo["os"] = "changed after Create"
	s.SecurityContext["mfa"] = "changed after Create"
	got := mustSession(t, st, s.ID)
	got.DeviceInfo["os"] = "changed after ByID"
	got.DeviceInfo["nested"].(map[string]any)["a"] = "changed"
	got.SecurityContext["mfa"] = "changed after ByID"
	list, err := st.Sessions.ListActive(ctx, u.ID, base, time.Hour)
	if err != nil || len(list) != 1 {
		t.Fatalf("ListActive = %v, %v", list, err)
	}
	list[0].DeviceInfo["os"] = "changed after ListActive"
	again := mustSession(t, st, s.ID)
	if again.DeviceInfo["os"] != "linux" || again.DeviceInfo["nested"].(map[string]any)["a"] != "b" || again.SecurityContext["mfa"] != true {
		t.Fatalf("the store shares memory with its callers: %v, %v", again.DeviceInfo, again.SecurityContext)
	}
}

// testSessionCanceledContext: every method refuses a canceled context with
// context.Canceled and changes nothing.
func testSessionCanceledContext(t *testing.T, st Stores) {
	u := mustCreate(t, st.Users, NewUser("yuri"))
	s := newSession(u.ID, "s")
	addSession(t, st, s, 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	later := base.Add(time.Hour)
	fresh := newSession(u.ID, "canceled")
	calls := map[string]func() error{
		"Create":      func() error { _, err := st.Sessions.Create(ctx, fresh, 1); return err },
		"ByID":        func() error { _, _, err := st.Sessions.ByID(ctx, s.ID); return err },
		"ByTokenHash": func() error { _, _, err := st.Sessions.ByTokenHash(ctx, s.TokenHash); return err },
		"Rotate": func() error {
			_, _, err := st.Sessions.Rotate(ctx, s.RefreshHash, hashOf("refresh:s:1"), later, 24*time.Hour)
			return err
		},
		"Touch":      func() error { _, err := st.Sessions.Touch(ctx, s.ID, later, time.Minute); return err },
		"Revoke":     func() error { _, err := st.Sessions.Revoke(ctx, s.ID); return err },
		"RevokeUser": func() error { _, err := st.Sessions.RevokeUser(ctx, u.ID, 0); return err },
		"ListActive": func() error { _, err := st.Sessions.ListActive(ctx, u.ID, base, time.Hour); return err },
		"DeleteExpired": func() error {
			_, err := st.Sessions.DeleteExpired(ctx, later.Add(sessionTTL), time.Minute, 10)
			return err
		},
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: err = %v, want context.Canceled", name, err)
		}
	}
	checkSession(t, st, s)
	if _, _, err := st.Sessions.ByTokenHash(context.Background(), fresh.TokenHash); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Create with a canceled context stored the session: err = %v", err)
	}
	if _, _, err := st.Sessions.Rotate(context.Background(), s.RefreshHash, hashOf("refresh:s:2"), later, 24*time.Hour); err != nil {
		t.Errorf("Rotate after the canceled calls: %v", err)
	}
}

// testSessionTxRollbackWithUser: a user and its session created in one
// transaction that then fails are both undone.
func testSessionTxRollbackWithUser(t *testing.T, st Stores) {
	var s *session.Session
	err := st.Tx.InTx(context.Background(), func(ctx context.Context) error {
		u := NewUser("txuser")
		if err := st.Users.Create(ctx, u); err != nil {
			return err
		}
		s = newSession(u.ID, "tx")
		if _, err := st.Sessions.Create(ctx, s, 0); err != nil {
			return err
		}
		// The transaction reads its own writes.
		if _, _, err := st.Sessions.ByID(ctx, s.ID); err != nil {
			return fmt.Errorf("reading own write: %w", err)
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("InTx returned %v, want fn's error", err)
	}
	if exists(t, st, "txuser") {
		t.Error("the user survived the rollback")
	}
	checkGone(t, st, s.ID)
	if _, _, err := st.Sessions.ByTokenHash(context.Background(), s.TokenHash); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("the session survived the rollback: ByTokenHash err = %v", err)
	}
	// The hashes are free again.
	u := mustCreate(t, st.Users, NewUser("txuser"))
	addSession(t, st, newSession(u.ID, "tx"), 0)
}

// testSessionTxRollbackFailedWrite: a Create that fails inside a
// transaction rolls back the user, the session and the evictions made
// before it.
func testSessionTxRollbackFailedWrite(t *testing.T, st Stores) {
	existing := mustCreate(t, st.Users, NewUser("before"))
	var kept []*session.Session
	for i := range 2 {
		s := newSession(existing.ID, fmt.Sprintf("kept%d", i))
		addSession(t, st, s, 0)
		kept = append(kept, s)
	}
	var created *session.Session
	err := st.Tx.InTx(context.Background(), func(ctx context.Context) error {
		u := NewUser("txuser")
		if err := st.Users.Create(ctx, u); err != nil {
			return err
		}
		created = newSession(u.ID, "new")
		if _, err := st.Sessions.Create(ctx, created, 0); err != nil {
			return err
		}
		evictor := newSession(existing.ID, "evictor")
		evicted, err := st.Sessions.Create(ctx, evictor, 1)
		if err != nil {
			return err
		}
		if want := []int64{kept[0].ID, kept[1].ID}; !slices.Equal(sorted(evicted), want) {
			t.Errorf("inside the transaction Create(max 1) evicted %v, want %v", evicted, want)
		}
		dup := newSession(u.ID, "dup")
		dup.TokenHash = created.TokenHash
		_, err = st.Sessions.Create(ctx, dup, 0)
		return err
	})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("InTx returned %v, want store.ErrConflict", err)
	}
	if exists(t, st, "txuser") {
		t.Error("the user survived the rollback")
	}
	for _, h := range []string{created.TokenHash, hashOf("token:evictor")} {
		if _, _, err := st.Sessions.ByTokenHash(context.Background(), h); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("a session survived the rollback: ByTokenHash err = %v", err)
		}
	}
	for _, s := range kept {
		checkSession(t, st, s)
	}
}

// testSessionTxRollbackRotation: a rotation, a touch and a revocation
// rolled back leave the session as it was, rotation history included.
func testSessionTxRollbackRotation(t *testing.T, st Stores) {
	u := mustCreate(t, st.Users, NewUser("zoe"))
	s := newSession(u.ID, "s")
	addSession(t, st, s, 0)
	other := newSession(u.ID, "other")
	addSession(t, st, other, 0)
	err := st.Tx.InTx(context.Background(), func(ctx context.Context) error {
		if _, _, err := st.Sessions.Rotate(ctx, s.RefreshHash, hashOf("refresh:s:1"), base.Add(time.Minute), 24*time.Hour); err != nil {
			return err
		}
		if _, err := st.Sessions.Touch(ctx, other.ID, base.Add(time.Hour), time.Minute); err != nil {
			return err
		}
		if _, err := st.Sessions.RevokeUser(ctx, u.ID, 0); err != nil {
			return err
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("InTx returned %v, want fn's error", err)
	}
	checkSession(t, st, s)
	checkSession(t, st, other)
	// The replaced hash is current again, not remembered as rotated.
	if _, _, err := st.Sessions.Rotate(context.Background(), s.RefreshHash, hashOf("refresh:s:1"), base.Add(time.Minute), 24*time.Hour); err != nil {
		t.Fatalf("Rotate after the rollback: %v", err)
	}
}

func testSessionTxCommit(t *testing.T, st Stores) {
	var s *session.Session
	err := st.Tx.InTx(context.Background(), func(ctx context.Context) error {
		u := NewUser("txuser")
		if err := st.Users.Create(ctx, u); err != nil {
			return err
		}
		s = newSession(u.ID, "tx")
		if _, err := st.Sessions.Create(ctx, s, 0); err != nil {
			return err
		}
		_, _, err := st.Sessions.Rotate(ctx, s.RefreshHash, hashOf("refresh:tx:1"), base.Add(time.Minute), 24*time.Hour)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := *s
	want.RefreshHash, want.LastActivityAt = hashOf("refresh:tx:1"), base.Add(time.Minute)
	checkSession(t, st, &want)
	if _, _, err := st.Sessions.Rotate(context.Background(), s.RefreshHash, hashOf("refresh:tx:2"), base, 24*time.Hour); !errors.Is(err, session.ErrRotated) {
		t.Errorf("Rotate with the hash replaced in the transaction: err = %v, want ErrRotated", err)
	}
}

// testSessionCreateChecksUser: Create inserts only for an active user
// whose security stamp is the session's; otherwise ErrUserChanged and
// nothing stored.
func testSessionCreateChecksUser(t *testing.T, st Stores) {
	ctx := context.Background()
	u := mustCreate(t, st.Users, NewUser("stamp"))
	stale := newSession(u.ID, "stale")
	stale.SecurityStamp = 1
	if _, err := st.Sessions.Create(ctx, stale, 0); !errors.Is(err, session.ErrUserChanged) {
		t.Fatalf("Create with stamp 1 (user has 0): err = %v, want ErrUserChanged", err)
	}
	if _, _, err := st.Sessions.ByTokenHash(ctx, stale.TokenHash); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("a refused Create stored the session: err = %v", err)
	}
	ok := newSession(u.ID, "ok")
	addSession(t, st, ok, 0)
	if got := mustSession(t, st, ok.ID); got.SecurityStamp != 0 {
		t.Fatalf("stored stamp %d, want 0", got.SecurityStamp)
	}
	if _, err := st.Users.SetActive(ctx, u.ID, false, base); err != nil { // stamp 1
		t.Fatal(err)
	}
	for _, stamp := range []int64{0, 1} {
		s := newSession(u.ID, fmt.Sprintf("inactive%d", stamp))
		s.SecurityStamp = stamp
		if _, err := st.Sessions.Create(ctx, s, 0); !errors.Is(err, session.ErrUserChanged) {
			t.Fatalf("Create for an inactive user (stamp %d): err = %v, want ErrUserChanged", stamp, err)
		}
	}
	if _, err := st.Users.SetActive(ctx, u.ID, true, base); err != nil { // stamp 2
		t.Fatal(err)
	}
	// The first session's stamp is behind its user's now.
	if _, state, err := st.Sessions.ByID(ctx, ok.ID); err != nil || state.SecurityStamp != 2 {
		t.Fatalf("user state read with the old session: stamp %d, %v; want 2", state.SecurityStamp, err)
	}
	again := newSession(u.ID, "again")
	again.SecurityStamp = 2
	addSession(t, st, again, 0)
	got, err := st.Sessions.ListActive(ctx, u.ID, base, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != again.ID {
		t.Fatalf("ListActive lists %d sessions, want only the one with the current stamp", len(got))
	}
}

// testSessionCreateRacesStamp: sessions created with stamp 0 while the
// password changes (stamp 0 -> 1): whatever the interleaving, no session
// of stamp 0 is valid afterwards (each was refused, or its stamp is
// behind its user's), and ListActive shows none.
func testSessionCreateRacesStamp(t *testing.T, st Stores) {
	ctx := context.Background()
	for trial := range 5 {
		u := mustCreate(t, st.Users, NewUser(fmt.Sprintf("racer%d", trial)))
		const n = 10
		var wg sync.WaitGroup
		start := make(chan struct{})
		created := make([]int64, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				s := newSession(u.ID, fmt.Sprintf("race%d-%d", trial, i))
				_, err := st.Sessions.Create(ctx, s, 0)
				switch {
				case err == nil:
					created[i] = s.ID
				case !errors.Is(err, session.ErrUserChanged):
					t.Error(err)
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if err := st.Users.SetPassword(ctx, u.ID, "changed", base, 0); err != nil {
				t.Error(err)
			}
		}()
		close(start)
		wg.Wait()
		for _, id := range created {
			if id == 0 {
				continue
			}
			s, state, err := st.Sessions.ByID(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if s.SecurityStamp == state.SecurityStamp {
				t.Fatalf("trial %d: session %d has its user's current stamp %d after the change", trial, id, state.SecurityStamp)
			}
		}
		if got, err := st.Sessions.ListActive(ctx, u.ID, base, 24*time.Hour); err != nil || len(got) != 0 {
			t.Fatalf("trial %d: ListActive after the change = %d sessions, %v; want none", trial, len(got), err)
		}
	}
}

// testSessionByRefreshHash: the current hash finds its session, a rotated
// one its session with ErrRotated, an unknown one nothing.
func testSessionByRefreshHash(t *testing.T, st Stores) {
	ctx := context.Background()
	u := mustCreate(t, st.Users, NewUser("refresher"))
	s := newSession(u.ID, "r")
	addSession(t, st, s, 0)
	first := s.RefreshHash
	got, _, err := st.Sessions.ByRefreshHash(ctx, first)
	if err != nil || got.ID != s.ID {
		t.Fatalf("ByRefreshHash(current) = %v, %v", got, err)
	}
	next := hashOf("r-next")
	if _, _, err := st.Sessions.Rotate(ctx, first, next, base, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	got, state, err := st.Sessions.ByRefreshHash(ctx, first)
	if !errors.Is(err, session.ErrRotated) || got == nil || got.ID != s.ID || state.Role != u.Role {
		t.Fatalf("ByRefreshHash(rotated) = %v, %+v, %v; want the session and ErrRotated", got, state, err)
	}
	if got, _, err = st.Sessions.ByRefreshHash(ctx, next); err != nil || got.ID != s.ID || got.RefreshHash != next {
		t.Fatalf("ByRefreshHash(new current) = %v, %v", got, err)
	}
	if _, err := st.Sessions.Revoke(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if got, _, err = st.Sessions.ByRefreshHash(ctx, next); err != nil || got.Active {
		t.Fatalf("ByRefreshHash(current of an ended session) = %v, %v; want the inactive session", got, err)
	}
	for _, h := range []string{hashOf("never"), s.TokenHash, ""} {
		if _, _, err := st.Sessions.ByRefreshHash(ctx, h); !errors.Is(err, session.ErrNotFound) {
			t.Fatalf("ByRefreshHash(%q) err = %v, want ErrNotFound", h, err)
		}
	}
}
