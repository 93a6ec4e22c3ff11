package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cedrina/cedrina/reset"
	"github.com/cedrina/cedrina/store"
)

// RunResetStore checks a [reset.Store] beside the user store its tokens
// belong to: what Issue stores and the older tokens it spends (also under
// concurrent calls), its refusals, Consume's single use (also under 50
// concurrent calls) and its errors for unknown, spent and expired tokens,
// InvalidateUser, batched cleanup by DeleteExpired and by deleting the
// user, copies, canceled contexts and, with a Transactor, rollback and
// commit.
func RunResetStore(t *testing.T, newStores Factory) {
	subtests(t, newStores, func(s Stores) bool { return s.Resets != nil && s.Users != nil }, resetCases)
	subtests(t, newStores, func(s Stores) bool { return s.Resets != nil && s.Users != nil && s.Tx != nil }, resetTxCases)
}

var resetCases = map[string]func(*testing.T, Stores){
	"RoundTrip":         testResetRoundTrip,
	"IssueSpendsOthers": testResetIssueSpendsOthers,
	"ConcurrentIssue":   testResetConcurrentIssue,
	"UnknownUser":       testResetUnknownUser,
	"DuplicateHash":     testResetDuplicateHash,
	"Consume":           testResetConsume,
	"ConsumeUnknown":    testResetConsumeUnknown,
	"ConsumeSpent":      testResetConsumeSpent,
	"ConsumeExpired":    testResetConsumeExpired,
	"ConcurrentConsume": testResetConcurrentConsume,
	"InvalidateUser":    testResetInvalidateUser,
	"DeleteExpired":     testResetDeleteExpired,
	"DeleteUser":        testResetDeleteUser,
	"ReturnsCopies":     testResetReturnsCopies,
	"CanceledContext":   testResetCanceledContext,
}

var resetTxCases = map[string]func(*testing.T, Stores){
	"TxRollback": testResetTxRollback,
	"TxCommit":   testResetTxCommit,
}

// resetTTL is the lifetime of the suite's reset tokens.
const resetTTL = time.Hour

// newToken returns an unspent token of the user, created at base and
// valid for resetTTL, with its hash derived from label and security stamp
// 0.
func newToken(userID int64, label string) *reset.Token {
	return &reset.Token{
		UserID:        userID,
		TokenHash:     hashOf("reset:" + label),
		CreatedAt:     base,
		ExpiresAt:     base.Add(resetTTL),
		ClientIP:      netip.MustParseAddr("192.0.2.1"),
		UserAgent:     "storetest/" + label,
		SecurityStamp: stampPtr(0),
	}
}

func stampPtr(n int64) *int64 { return &n }

func timePtr(t time.Time) *time.Time { return &t }

// issue issues tok and returns the token as it should be stored: tok
// with its ID, in UTC.
func issue(t *testing.T, st Stores, tok *reset.Token) *reset.Token {
	t.Helper()
	want := *tok
	if err := st.Resets.Issue(context.Background(), tok); err != nil {
		t.Fatalf("Issue(token of user %d, %q): %v", tok.UserID, tok.UserAgent, err)
	}
	if tok.ID <= 0 {
		t.Fatalf("Issue set ID = %d, want > 0", tok.ID)
	}
	want.ID = tok.ID
	want.CreatedAt, want.ExpiresAt = want.CreatedAt.UTC(), want.ExpiresAt.UTC()
	return &want
}

// mustToken returns the stored token with that hash.
func mustToken(t *testing.T, st Stores, hash string) *reset.Token {
	t.Helper()
	got, err := st.Resets.ByHash(context.Background(), hash)
	if err != nil {
		t.Fatalf("ByHash(%.12s...): %v", hash, err)
	}
	return got
}

// checkToken fails the test unless the stored token with want's hash
// equals want.
func checkToken(t *testing.T, st Stores, want *reset.Token) {
	t.Helper()
	if d := diffToken(mustToken(t, st, want.TokenHash), want); d != "" {
		t.Errorf("stored token %d (%s): %s", want.ID, want.UserAgent, d)
	}
}

// checkNoToken fails the test unless ByHash finds no token with hash.
func checkNoToken(t *testing.T, st Stores, hash string) {
	t.Helper()
	if got, err := st.Resets.ByHash(context.Background(), hash); !errors.Is(err, reset.ErrNotFound) || !errors.Is(err, store.ErrNotFound) {
		t.Errorf("ByHash(%.12s...) = %+v, %v; want reset.ErrNotFound", hash, got, err)
	}
}

// spentAt returns want spent at at.
func spentAt(want *reset.Token, at time.Time) *reset.Token {
	c := *want
	c.IsUsed, c.UsedAt = true, timePtr(at.UTC())
	return &c
}

// diffToken describes how got differs from want, or returns "".
func diffToken(got, want *reset.Token) string {
	if got == nil {
		return "token is nil"
	}
	var d differ
	d.eq("ID", got.ID, want.ID)
	d.eq("UserID", got.UserID, want.UserID)
	d.eq("TokenHash", got.TokenHash, want.TokenHash)
	d.eq("IsUsed", got.IsUsed, want.IsUsed)
	d.timePtr("UsedAt", got.UsedAt, want.UsedAt)
	d.time("CreatedAt", got.CreatedAt, want.CreatedAt)
	d.time("ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	if got.ClientIP != want.ClientIP {
		d.add("ClientIP = %v, want %v", got.ClientIP, want.ClientIP)
	}
	d.eq("UserAgent", got.UserAgent, want.UserAgent)
	if fmtID(got.SecurityStamp) != fmtID(want.SecurityStamp) {
		d.add("SecurityStamp = %s, want %s", fmtID(got.SecurityStamp), fmtID(want.SecurityStamp))
	}
	return d.String()
}

// testResetRoundTrip: ByHash returns every field as Issue stored it:
// client addresses of both families and none, odd user agents, security
// stamps absent, zero and beyond float64's exact integers, times in UTC.
func testResetRoundTrip(t *testing.T, st Stores) {
	ctx := context.Background()
	elsewhere := time.FixedZone("UTC-3", -3*3600)

	full := newToken(mustCreate(t, st.Users, NewUser("alice")).ID, "full")
	full.CreatedAt = base.Add(-time.Minute).In(elsewhere)
	full.ExpiresAt = base.Add(resetTTL).In(elsewhere)
	full.ClientIP = netip.MustParseAddr("203.0.113.7")
	full.UserAgent = `Mozilla/5.0 "quoted" 'o''brien'; DROP TABLE password_reset_tokens;-- ünïcödé	tab`
	full.SecurityStamp = stampPtr(1<<53 + 1)

	v6 := newToken(mustCreate(t, st.Users, NewUser("bob")).ID, "v6")
	v6.ClientIP = netip.MustParseAddr("2001:db8::42")
	v6.SecurityStamp = stampPtr(0)

	bare := newToken(mustCreate(t, st.Users, NewUser("carol")).ID, "bare")
	bare.ClientIP = netip.Addr{}
	bare.UserAgent = ""
	bare.SecurityStamp = nil

	ids := map[int64]bool{}
	for _, tok := range []*reset.Token{full, v6, bare} {
		want := issue(t, st, tok)
		if ids[tok.ID] {
			t.Errorf("Issue gave id %d twice", tok.ID)
		}
		ids[tok.ID] = true
		checkToken(t, st, want)
	}
	// Lookups are exact.
	checkNoToken(t, st, hashOf("reset:absent"))
	checkNoToken(t, st, "")
	if _, err := st.Resets.ByHash(ctx, full.TokenHash[:63]); !errors.Is(err, reset.ErrNotFound) {
		t.Errorf("ByHash(a prefix of a stored hash) err = %v, want ErrNotFound", err)
	}
}

// testResetIssueSpendsOthers: Issue spends the user's unspent tokens
// (used_at the new token's CreatedAt), leaves its spent ones and other
// users' tokens as they were.
func testResetIssueSpendsOthers(t *testing.T, st Stores) {
	a := mustCreate(t, st.Users, NewUser("dave"))
	b := mustCreate(t, st.Users, NewUser("erin"))

	a1 := issue(t, st, newToken(a.ID, "a1"))
	b1 := issue(t, st, newToken(b.ID, "b1"))

	t2 := newToken(a.ID, "a2")
	t2.CreatedAt = base.Add(time.Minute)
	a2 := issue(t, st, t2)
	a1 = spentAt(a1, a2.CreatedAt)
	checkToken(t, st, a1)
	checkToken(t, st, a2)
	checkToken(t, st, b1)

	// An expired unspent token is spent too; a spent one keeps its
	// used_at.
	t3 := newToken(a.ID, "a3")
	t3.CreatedAt = base.Add(2 * resetTTL)
	t3.ExpiresAt = t3.CreatedAt.Add(resetTTL)
	a3 := issue(t, st, t3)
	a2 = spentAt(a2, a3.CreatedAt)
	checkToken(t, st, a1)
	checkToken(t, st, a2)
	checkToken(t, st, a3)
	checkToken(t, st, b1)

	// One outstanding token per user.
	for _, u := range []int64{a.ID, b.ID} {
		if n, err := st.Resets.InvalidateUser(context.Background(), u, base); err != nil || n != 1 {
			t.Errorf("InvalidateUser(%d) = %d, %v; want 1 outstanding token", u, n, err)
		}
	}
}

// testResetConcurrentIssue: Issues for one user at once leave it with one
// unspent token, whatever the interleaving.
func testResetConcurrentIssue(t *testing.T, st Stores) {
	u := mustCreate(t, st.Users, NewUser("frank"))
	const n = 20
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			tok := newToken(u.ID, fmt.Sprintf("c%d", i))
			tok.CreatedAt = base.Add(time.Duration(i) * time.Second)
			if err := st.Resets.Issue(context.Background(), tok); err != nil {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	unspent := 0
	for i := range n {
		if !mustToken(t, st, hashOf(fmt.Sprintf("reset:c%d", i))).IsUsed {
			unspent++
		}
	}
	if unspent != 1 {
		t.Errorf("after %d concurrent Issues the user has %d unspent tokens, want 1", n, unspent)
	}
}

// testResetUnknownUser: a token for no user is refused with
// ErrUnknownUser and not stored.
func testResetUnknownUser(t *testing.T, st Stores) {
	ctx := context.Background()
	for _, id := range []int64{987654, 1 << 31, 1 << 40, math.MaxInt64, -1, 0} {
		tok := newToken(id, "orphan")
		err := st.Resets.Issue(ctx, tok)
		if !errors.Is(err, reset.ErrUnknownUser) || !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Issue for user %d: err = %v, want reset.ErrUnknownUser", id, err)
		}
		checkNoToken(t, st, tok.TokenHash)
	}
	// The hash is still free.
	u := mustCreate(t, st.Users, NewUser("gina"))
	issue(t, st, newToken(u.ID, "orphan"))
}

// testResetDuplicateHash: a hash already stored refuses the Issue with a
// store.ErrConflict, atomically: the user's other tokens stay unspent.
func testResetDuplicateHash(t *testing.T, st Stores) {
	ctx := context.Background()
	a := mustCreate(t, st.Users, NewUser("hank"))
	b := mustCreate(t, st.Users, NewUser("iris"))
	a1 := issue(t, st, newToken(a.ID, "a1"))
	b1 := issue(t, st, newToken(b.ID, "b1"))
	for _, userID := range []int64{a.ID, b.ID} {
		dup := newToken(userID, "dup")
		dup.TokenHash = a1.TokenHash
		dup.CreatedAt = base.Add(time.Minute)
		err := st.Resets.Issue(ctx, dup)
		if !errors.Is(err, store.ErrConflict) || errors.Is(err, reset.ErrUnknownUser) {
			t.Errorf("Issue for user %d with a stored hash: err = %v, want store.ErrConflict", userID, err)
		}
	}
	checkToken(t, st, a1)
	checkToken(t, st, b1)
}

// testResetConsume: Consume spends an unspent, unexpired token and
// returns it spent; the store keeps it so.
func testResetConsume(t *testing.T, st Stores) {
	ctx := context.Background()
	u := mustCreate(t, st.Users, NewUser("jack"))
	want := issue(t, st, newToken(u.ID, "c"))
	at := base.Add(resetTTL - time.Microsecond).In(time.FixedZone("UTC+9", 9*3600))
	got, err := st.Resets.Consume(ctx, want.TokenHash, at)
	if err != nil {
		t.Fatalf("Consume: %v", err)
	}
	want = spentAt(want, at)
	if d := diffToken(got, want); d != "" {
		t.Errorf("Consume returned: %s", d)
	}
	checkToken(t, st, want)
}

func testResetConsumeUnknown(t *testing.T, st Stores) {
	ctx := context.Background()
	u := mustCreate(t, st.Users, NewUser("kate"))
	want := issue(t, st, newToken(u.ID, "present"))
	for _, h := range []string{hashOf("reset:absent"), "", want.TokenHash[:63]} {
		got, err := st.Resets.Consume(ctx, h, base)
		if !errors.Is(err, reset.ErrNotFound) || !errors.Is(err, store.ErrNotFound) || got != nil {
			t.Errorf("Consume(%q) = %+v, %v; want nil, reset.ErrNotFound", h, got, err)
		}
	}
	checkToken(t, st, want)
}

// testResetConsumeSpent: a token used, replaced by a newer one, or
// invalidated is refused with ErrSpent and returned as stored.
func testResetConsumeSpent(t *testing.T, st Stores) {
	ctx := context.Background()
	u := mustCreate(t, st.Users, NewUser("liam"))
	v := mustCreate(t, st.Users, NewUser("mona"))

	used := issue(t, st, newToken(u.ID, "used"))
	if _, err := st.Resets.Consume(ctx, used.TokenHash, base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	used = spentAt(used, base.Add(time.Minute))

	t2 := newToken(u.ID, "replaced")
	t2.CreatedAt = base.Add(2 * time.Minute)
	replaced := issue(t, st, t2)
	t3 := newToken(u.ID, "newer")
	t3.CreatedAt = base.Add(3 * time.Minute)
	newer := issue(t, st, t3)
	replaced = spentAt(replaced, newer.CreatedAt)

	invalidated := issue(t, st, newToken(v.ID, "invalidated"))
	if n, err := st.Resets.InvalidateUser(ctx, v.ID, base.Add(4*time.Minute)); err != nil || n != 1 {
		t.Fatalf("InvalidateUser = %d, %v; want 1", n, err)
	}
	invalidated = spentAt(invalidated, base.Add(4*time.Minute))

	for _, want := range []*reset.Token{used, replaced, invalidated} {
		got, err := st.Resets.Consume(ctx, want.TokenHash, base.Add(5*time.Minute))
		if !errors.Is(err, reset.ErrSpent) || !errors.Is(err, store.ErrConflict) {
			t.Errorf("Consume(%s) err = %v, want reset.ErrSpent", want.UserAgent, err)
		}
		if d := diffToken(got, want); d != "" {
			t.Errorf("Consume(%s) returned: %s", want.UserAgent, d)
		}
		checkToken(t, st, want)
	}
	checkToken(t, st, newer)
}

// testResetConsumeExpired: a token is expired at its expires_at and
// after; Consume refuses it with ErrSpent, returns it as stored and
// changes nothing. A microsecond before, it is consumed.
func testResetConsumeExpired(t *testing.T, st Stores) {
	ctx := context.Background()
	u := mustCreate(t, st.Users, NewUser("nora"))
	want := issue(t, st, newToken(u.ID, "e"))
	for _, at := range []time.Time{want.ExpiresAt, want.ExpiresAt.Add(time.Microsecond), want.ExpiresAt.Add(24 * time.Hour)} {
		got, err := st.Resets.Consume(ctx, want.TokenHash, at)
		if !errors.Is(err, reset.ErrSpent) {
			t.Errorf("Consume at %v (expires %v): err = %v, want reset.ErrSpent", at, want.ExpiresAt, err)
		}
		if d := diffToken(got, want); d != "" {
			t.Errorf("Consume at %v returned: %s", at, d)
		}
		checkToken(t, st, want)
	}
	at := want.ExpiresAt.Add(-time.Microsecond)
	got, err := st.Resets.Consume(ctx, want.TokenHash, at)
	if err != nil {
		t.Fatalf("Consume a microsecond before expiry: %v", err)
	}
	if d := diffToken(got, spentAt(want, at)); d != "" {
		t.Errorf("Consume a microsecond before expiry returned: %s", d)
	}
}

// testResetConcurrentConsume: of 50 concurrent Consumes of one token
// exactly one succeeds; the others get ErrSpent with the spent token.
func testResetConcurrentConsume(t *testing.T, st Stores) {
	u := mustCreate(t, st.Users, NewUser("oscar"))
	want := issue(t, st, newToken(u.ID, "race"))
	const n = 50
	at := base.Add(time.Minute)
	toks := make([]*reset.Token, n)
	errs := race(n, func(i int) (err error) {
		toks[i], err = st.Resets.Consume(context.Background(), want.TokenHash, at)
		return err
	})
	oneWinner(t, "Consume calls", errs, reset.ErrSpent)
	for i := range toks {
		// The winner and the losers alike return the token as spent.
		if d := diffToken(toks[i], spentAt(want, at)); d != "" {
			t.Errorf("Consume %d (err %v) returned: %s", i, errs[i], d)
		}
	}
	checkToken(t, st, spentAt(want, at))
}

// testResetInvalidateUser: InvalidateUser spends the user's unspent
// tokens only and counts them.
func testResetInvalidateUser(t *testing.T, st Stores) {
	ctx := context.Background()
	u := mustCreate(t, st.Users, NewUser("pia"))
	v := mustCreate(t, st.Users, NewUser("quinn"))
	old := issue(t, st, newToken(u.ID, "old"))
	t2 := newToken(u.ID, "current")
	t2.CreatedAt = base.Add(time.Minute)
	current := issue(t, st, t2)
	old = spentAt(old, current.CreatedAt)
	other := issue(t, st, newToken(v.ID, "other"))

	at := base.Add(10 * time.Minute)
	if n, err := st.Resets.InvalidateUser(ctx, u.ID, at); err != nil || n != 1 {
		t.Fatalf("InvalidateUser = %d, %v; want 1", n, err)
	}
	current = spentAt(current, at)
	checkToken(t, st, old)
	checkToken(t, st, current)
	checkToken(t, st, other)
	if n, err := st.Resets.InvalidateUser(ctx, u.ID, at.Add(time.Minute)); err != nil || n != 0 {
		t.Errorf("InvalidateUser again = %d, %v; want 0", n, err)
	}
	checkToken(t, st, current)
	// A user without tokens, or no user at all, has nothing to spend.
	w := mustCreate(t, st.Users, NewUser("rita"))
	for _, id := range []int64{w.ID, 987654, 1 << 40, math.MaxInt64, -1} {
		if n, err := st.Resets.InvalidateUser(ctx, id, at); err != nil || n != 0 {
			t.Errorf("InvalidateUser(%d) = %d, %v; want 0, nil", id, n, err)
		}
	}
	checkToken(t, st, other)
}

// testResetDeleteExpired: DeleteExpired deletes spent and expired tokens
// (expires_at <= at), batch by batch, and keeps the usable ones.
func testResetDeleteExpired(t *testing.T, st Stores) {
	ctx := context.Background()
	at := base.Add(3 * resetTTL)
	userID := func(name string) int64 { return mustCreate(t, st.Users, NewUser(name)).ID }
	tok := func(userID int64, label string, created, expires time.Time) *reset.Token {
		tk := newToken(userID, label)
		tk.CreatedAt, tk.ExpiresAt = created, expires
		return issue(t, st, tk)
	}

	a, b, c, d, e, f := userID("sam"), userID("tina"), userID("uma"), userID("vic"), userID("wes"), userID("xia")
	consumed := tok(a, "consumed", base, at.Add(time.Hour))
	if _, err := st.Resets.Consume(ctx, consumed.TokenHash, base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	replaced := tok(b, "replaced", base, at.Add(time.Hour))
	liveB := tok(b, "liveB", base.Add(time.Minute), at.Add(time.Hour))
	expired := tok(c, "expired", base, at.Add(-time.Minute))
	expiresNow := tok(d, "expiresNow", base, at)
	spentExpired := tok(e, "spentExpired", base, base.Add(resetTTL))
	if _, err := st.Resets.InvalidateUser(ctx, e, base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	liveF := tok(f, "liveF", base, at.Add(time.Microsecond))

	var counts []int
	for range 10 {
		n, err := st.Resets.DeleteExpired(ctx, at, 2)
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
	if n, err := st.Resets.DeleteExpired(ctx, at, 2); err != nil || n != 0 {
		t.Errorf("DeleteExpired with nothing left = %d, %v; want 0, nil", n, err)
	}
	for _, gone := range []*reset.Token{consumed, replaced, expired, expiresNow, spentExpired} {
		checkNoToken(t, st, gone.TokenHash)
	}
	checkToken(t, st, liveB)
	checkToken(t, st, liveF)
}

// testResetDeleteUser: deleting a user deletes its tokens, and only its.
func testResetDeleteUser(t *testing.T, st Stores) {
	ctx := context.Background()
	u := mustCreate(t, st.Users, NewUser("yara"))
	v := mustCreate(t, st.Users, NewUser("zack"))
	old := issue(t, st, newToken(u.ID, "old"))
	t2 := newToken(u.ID, "current")
	t2.CreatedAt = base.Add(time.Minute)
	current := issue(t, st, t2)
	other := issue(t, st, newToken(v.ID, "other"))
	if err := st.Users.Delete(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	checkNoToken(t, st, old.TokenHash)
	checkNoToken(t, st, current.TokenHash)
	if _, err := st.Resets.Consume(ctx, current.TokenHash, base); !errors.Is(err, reset.ErrNotFound) {
		t.Errorf("Consume of a deleted user's token: err = %v, want ErrNotFound", err)
	}
	checkToken(t, st, other)
	// The hashes are free again.
	issue(t, st, newToken(v.ID, "current"))
}

// testResetReturnsCopies: neither what Issue was given nor what the
// store returns shares memory with the stored token.
func testResetReturnsCopies(t *testing.T, st Stores) {
	ctx := context.Background()
	u := mustCreate(t, st.Users, NewUser("abby"))
	stamp := int64(5)
	tok := newToken(u.ID, "c")
	tok.SecurityStamp = &stamp
	want := issue(t, st, tok)
	want.SecurityStamp = stampPtr(5)
	stamp = 99
	*tok.SecurityStamp = 98
	tok.UserAgent = "changed after Issue"
	checkToken(t, st, want)

	got := mustToken(t, st, want.TokenHash)
	*got.SecurityStamp = 97
	got.IsUsed = true
	checkToken(t, st, want)

	at := base.Add(time.Minute)
	consumed, err := st.Resets.Consume(ctx, want.TokenHash, at)
	if err != nil {
		t.Fatal(err)
	}
	*consumed.UsedAt = base.Add(time.Hour)
	*consumed.SecurityStamp = 96
	want = spentAt(want, at)
	checkToken(t, st, want)

	spent, err := st.Resets.Consume(ctx, want.TokenHash, at)
	if !errors.Is(err, reset.ErrSpent) {
		t.Fatalf("Consume again: err = %v, want ErrSpent", err)
	}
	*spent.UsedAt = base.Add(2 * time.Hour)
	*spent.SecurityStamp = 95
	checkToken(t, st, want)
}

// testResetCanceledContext: every method refuses a canceled context with
// context.Canceled and changes nothing.
func testResetCanceledContext(t *testing.T, st Stores) {
	u := mustCreate(t, st.Users, NewUser("bert"))
	want := issue(t, st, newToken(u.ID, "c"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fresh := newToken(u.ID, "canceled")
	fresh.CreatedAt = base.Add(time.Minute)
	later := base.Add(time.Minute)
	calls := map[string]func() error{
		"Issue":          func() error { return st.Resets.Issue(ctx, fresh) },
		"ByHash":         func() error { _, err := st.Resets.ByHash(ctx, want.TokenHash); return err },
		"Consume":        func() error { _, err := st.Resets.Consume(ctx, want.TokenHash, later); return err },
		"InvalidateUser": func() error { _, err := st.Resets.InvalidateUser(ctx, u.ID, later); return err },
		"DeleteExpired": func() error {
			_, err := st.Resets.DeleteExpired(ctx, later.Add(10*resetTTL), 10)
			return err
		},
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a canceled context: err = %v, want context.Canceled", name, err)
		}
	}
	checkToken(t, st, want)
	checkNoToken(t, st, fresh.TokenHash)
	if _, err := st.Resets.Consume(context.Background(), want.TokenHash, later); err != nil {
		t.Errorf("Consume after the canceled calls: %v", err)
	}
}

// testResetTxRollback: an Issue, a Consume, an InvalidateUser and a
// DeleteExpired, with a user created, in one transaction that then fails
// are all undone.
func testResetTxRollback(t *testing.T, st Stores) {
	u := mustCreate(t, st.Users, NewUser("cleo"))
	before := issue(t, st, newToken(u.ID, "before"))
	next := newToken(u.ID, "next")
	next.CreatedAt = base.Add(time.Minute)
	var inTx *reset.Token
	err := st.Tx.InTx(context.Background(), func(ctx context.Context) error {
		if err := st.Resets.Issue(ctx, next); err != nil {
			return err
		}
		// The transaction reads its own writes.
		got, err := st.Resets.ByHash(ctx, before.TokenHash)
		if err != nil {
			return fmt.Errorf("reading own write: %w", err)
		}
		if !got.IsUsed {
			t.Error("inside the transaction Issue left the older token unspent")
		}
		if _, err := st.Resets.Consume(ctx, next.TokenHash, base.Add(2*time.Minute)); err != nil {
			return err
		}
		v := NewUser("txuser")
		if err := st.Users.Create(ctx, v); err != nil {
			return err
		}
		inTx = newToken(v.ID, "intx")
		if err := st.Resets.Issue(ctx, inTx); err != nil {
			return err
		}
		if n, err := st.Resets.InvalidateUser(ctx, v.ID, base.Add(3*time.Minute)); err != nil || n != 1 {
			return fmt.Errorf("InvalidateUser = %d, %w", n, err)
		}
		if n, err := st.Resets.DeleteExpired(ctx, base.Add(10*resetTTL), 10); err != nil || n != 3 {
			return fmt.Errorf("DeleteExpired = %d, %w", n, err)
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("InTx returned %v, want fn's error", err)
	}
	if exists(t, st, "txuser") {
		t.Error("the user survived the rollback")
	}
	checkToken(t, st, before)
	checkNoToken(t, st, next.TokenHash)
	checkNoToken(t, st, inTx.TokenHash)
	// The token is still usable, and the hashes are free again.
	got, err := st.Resets.Consume(context.Background(), before.TokenHash, base.Add(time.Minute))
	if err != nil {
		t.Fatalf("Consume after the rollback: %v", err)
	}
	if d := diffToken(got, spentAt(before, base.Add(time.Minute))); d != "" {
		t.Errorf("Consume after the rollback returned: %s", d)
	}
	issue(t, st, newToken(u.ID, "next"))
}

func testResetTxCommit(t *testing.T, st Stores) {
	u := mustCreate(t, st.Users, NewUser("dora"))
	before := issue(t, st, newToken(u.ID, "before"))
	next := newToken(u.ID, "next")
	next.CreatedAt = base.Add(time.Minute)
	want := *next
	at := base.Add(2 * time.Minute)
	err := st.Tx.InTx(context.Background(), func(ctx context.Context) error {
		if err := st.Resets.Issue(ctx, next); err != nil {
			return err
		}
		_, err := st.Resets.Consume(ctx, next.TokenHash, at)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want.ID = next.ID
	checkToken(t, st, spentAt(before, next.CreatedAt))
	checkToken(t, st, spentAt(&want, at))
}
