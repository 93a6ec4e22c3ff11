package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cedrina/cedrina/rbac"
	"github.com/cedrina/cedrina/store"
)

// RunRuleStore checks an [rbac.Store] against its doc comment: what Add
// stores (type, values, is_active, actors, times in UTC at microsecond
// precision) and returns; that an already active rule is left alone and
// an inactive one reactivated, duplicates within a batch counted once;
// that a batch with an invalid rule or actor changes nothing; filters by
// type, by position with "" as a wildcard, and of inactive rules, in id
// order; Remove of active matches only, and its refusal of a filter
// without a type; SetActive both ways, idempotent, and rbac.ErrNotFound;
// Replace, atomic and keeping inactive rules; values that are Unicode,
// SQL or array syntax round-tripping unchanged; copies; canceled
// contexts; 50 concurrent Adds of one rule that leave one active row and
// count one; concurrent SetActive calls. When the store is also an
// [rbac.Watcher], it checks that every change of the active set notifies
// its subscribers once the change is visible.
//
// newStore is called once per subtest, possibly from parallel subtests,
// and returns a fresh, empty store; it may skip the test.
func RunRuleStore(t *testing.T, newStore func(t *testing.T) rbac.Store) {
	for name, fn := range ruleCases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, newStore(t))
		})
	}
}

var ruleCases = map[string]func(*testing.T, rbac.Store){
	"AddInserts":          testRuleAddInserts,
	"AddActiveUnchanged":  testRuleAddActiveUnchanged,
	"AddReactivates":      testRuleAddReactivates,
	"AddMixed":            testRuleAddMixed,
	"AddAllOrNothing":     testRuleAddAllOrNothing,
	"Actors":              testRuleActors,
	"Filter":              testRuleFilter,
	"FilterExact":         testRuleExact,
	"Remove":              testRuleRemove,
	"RemoveNeedsType":     testRuleRemoveNeedsType,
	"SetActive":           testRuleSetActive,
	"SetActiveNotFound":   testRuleSetActiveNotFound,
	"Replace":             testRuleReplace,
	"ReplaceEmpty":        testRuleReplaceEmpty,
	"ReplaceAllOrNothing": testRuleReplaceAllOrNothing,
	"Times":               testRuleTimes,
	"Values":              testRuleValues,
	"Copies":              testRuleCopies,
	"CanceledContext":     testRuleCanceledContext,
	"ConcurrentAdd":       testRuleConcurrentAdd,
	"ConcurrentAddMany":   testRuleConcurrentAddMany,
	"ConcurrentSetActive": testRuleConcurrentSetActive,
	"Watcher":             testRuleWatcher,
}

// ruleT0 is the time of the suite's first change: base plus 789 ns, in a
// zone east of UTC, so that a store that keeps nanoseconds or the zone
// shows.
var ruleT0 = base.Add(789 * time.Nanosecond).In(time.FixedZone("UTC+5:30", 5*3600+1800))

// ruleAt returns ruleT0 plus n minutes.
func ruleAt(n int) time.Time { return ruleT0.Add(time.Duration(n) * time.Minute) }

// stored is a time as a store returns it: UTC, truncated to the
// microsecond.
func stored(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// rule returns the valid rule of type typ with values.
func rule(t *testing.T, typ string, values ...string) rbac.Rule {
	t.Helper()
	r, err := rbac.NewRule(typ, values...)
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	return r
}

// addRules adds rules and fails the test unless Add counts want.
func addRules(t *testing.T, s rbac.Store, rules []rbac.Rule, by string, now time.Time, want int) {
	t.Helper()
	n, err := s.Add(context.Background(), rules, by, now)
	if err != nil {
		t.Fatalf("Add(%s): %v", lines(rules), err)
	}
	if n != want {
		t.Fatalf("Add(%s) = %d, want %d", lines(rules), n, want)
	}
}

// fmtFilter spells f for messages, values quoted.
func fmtFilter(f rbac.Filter) string {
	return fmt.Sprintf("{Type:%q Values:%q Exact:%v Inactive:%v}", f.Type, f.Values, f.Exact, f.Inactive)
}

// lines spells rules as Casbin does, for messages.
func lines(rules []rbac.Rule) string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = "[" + r.Line() + "]"
	}
	return strings.Join(out, " ")
}

// allRules returns every rule, inactive ones included.
func allRules(t *testing.T, s rbac.Store) []rbac.Rule {
	t.Helper()
	return rulesOf(t, s, rbac.Filter{Inactive: true})
}

func rulesOf(t *testing.T, s rbac.Store, f rbac.Filter) []rbac.Rule {
	t.Helper()
	got, err := s.Rules(context.Background(), f)
	if err != nil {
		t.Fatalf("Rules(%s): %v", fmtFilter(f), err)
	}
	return got
}

// stamped returns r as a store keeps it after Add inserted it: active,
// with id, by as both actors and now as both times.
func stamped(r rbac.Rule, id int64, by string, now time.Time) rbac.Rule {
	r.ID, r.Active = id, true
	r.CreatedBy, r.UpdatedBy = by, by
	r.CreatedAt, r.UpdatedAt = stored(now), stored(now)
	return r
}

// diffRule describes how got differs from want, or returns "".
func diffRule(got, want rbac.Rule) string {
	var d differ
	d.eq("ID", got.ID, want.ID)
	d.eq("Type", got.Type, want.Type)
	d.eq("Values", got.Values, want.Values)
	d.eq("Active", got.Active, want.Active)
	d.time("CreatedAt", got.CreatedAt, want.CreatedAt)
	d.time("UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	d.eq("CreatedBy", got.CreatedBy, want.CreatedBy)
	d.eq("UpdatedBy", got.UpdatedBy, want.UpdatedBy)
	return d.String()
}

// checkRules fails the test unless got is want, rule by rule, in order.
func checkRules(t *testing.T, what string, got, want []rbac.Rule) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d rules %s, want %d %s", what, len(got), lines(got), len(want), lines(want))
		return
	}
	for i := range got {
		if d := diffRule(got[i], want[i]); d != "" {
			t.Errorf("%s: rule %d [%s]: %s", what, i, want[i].Line(), d)
		}
	}
}

// checkAll fails the test unless the store holds exactly want.
func checkAll(t *testing.T, s rbac.Store, want []rbac.Rule) {
	t.Helper()
	checkRules(t, "every rule", allRules(t, s), want)
}

// insert adds each rule alone, one Add each, by by at now, and returns
// them as stored (with the ids the store gave them).
func insert(t *testing.T, s rbac.Store, by string, now time.Time, rules ...rbac.Rule) []rbac.Rule {
	t.Helper()
	out := make([]rbac.Rule, len(rules))
	for i, r := range rules {
		addRules(t, s, []rbac.Rule{r}, by, now, 1)
		got := rulesOf(t, s, rbac.Filter{Type: r.Type, Values: r.Values})
		var found *rbac.Rule
		for j := range got {
			if got[j].Same(r) {
				found = &got[j]
			}
		}
		if found == nil {
			t.Fatalf("Add(%s) returned 1, but Rules does not find it: %s", r.Line(), lines(got))
		}
		if i > 0 && found.ID <= out[i-1].ID {
			t.Fatalf("ids not increasing: %s has id %d after %d", r.Line(), found.ID, out[i-1].ID)
		}
		out[i] = stamped(r, found.ID, by, now)
		if d := diffRule(*found, out[i]); d != "" {
			t.Fatalf("Add(%s) stored: %s", r.Line(), d)
		}
	}
	return out
}

// setActive calls SetActive, which must succeed.
func setActive(t *testing.T, s rbac.Store, id int64, active bool, by string, now time.Time) rbac.Rule {
	t.Helper()
	r, err := s.SetActive(context.Background(), id, active, by, now)
	if err != nil {
		t.Fatalf("SetActive(%d, %v): %v", id, active, err)
	}
	return r
}

// deactivated returns r after a SetActive(false) by by at now.
func deactivated(r rbac.Rule, by string, now time.Time) rbac.Rule {
	r.Active, r.UpdatedBy, r.UpdatedAt = false, by, stored(now)
	return r
}

func testRuleAddInserts(t *testing.T, s rbac.Store) {
	if got := allRules(t, s); len(got) != 0 {
		t.Fatalf("a new store holds %s", lines(got))
	}
	p := rule(t, "p", "alice", "data1", "read")
	g := rule(t, "g", "alice", "admin")
	addRules(t, s, []rbac.Rule{p, g}, "admin-1", ruleT0, 2)
	got := allRules(t, s)
	if len(got) != 2 {
		t.Fatalf("after adding 2 rules the store holds %s", lines(got))
	}
	if got[0].ID <= 0 || got[1].ID <= got[0].ID {
		t.Errorf("ids %d, %d: want positive and increasing in the order added", got[0].ID, got[1].ID)
	}
	checkAll(t, s, []rbac.Rule{stamped(p, got[0].ID, "admin-1", ruleT0), stamped(g, got[1].ID, "admin-1", ruleT0)})
	// The active rules, by default.
	checkRules(t, "Rules(Filter{})", rulesOf(t, s, rbac.Filter{}), got)
}

func testRuleAddActiveUnchanged(t *testing.T, s rbac.Store) {
	p := rule(t, "p", "alice", "data1", "read")
	want := insert(t, s, "admin-1", ruleT0, p)
	addRules(t, s, []rbac.Rule{p}, "admin-2", ruleAt(1), 0)
	addRules(t, s, []rbac.Rule{p, p}, "admin-2", ruleAt(2), 0)
	checkAll(t, s, want)
}

func testRuleAddReactivates(t *testing.T, s rbac.Store) {
	p := rule(t, "p", "alice", "data1", "read")
	want := insert(t, s, "admin-1", ruleT0, p)
	off := setActive(t, s, want[0].ID, false, "admin-2", ruleAt(1))
	if d := diffRule(off, deactivated(want[0], "admin-2", ruleAt(1))); d != "" {
		t.Errorf("SetActive(false) returned: %s", d)
	}
	addRules(t, s, []rbac.Rule{p}, "admin-3", ruleAt(2), 1)
	// The same row, active again: created_by and created_at stay.
	re := want[0]
	re.UpdatedBy, re.UpdatedAt = "admin-3", stored(ruleAt(2))
	checkAll(t, s, []rbac.Rule{re})
}

// testRuleAddMixed: one Add with a new rule (twice), a rule that is only
// inactive and one that is active counts 2, and inserts in the order
// given.
func testRuleAddMixed(t *testing.T, s rbac.Store) {
	active := rule(t, "p", "alice", "data1", "read")
	inactive := rule(t, "p", "bob", "data2", "write")
	fresh1 := rule(t, "g", "carol", "admin")
	fresh2 := rule(t, "g", "dave", "admin")
	have := insert(t, s, "admin-1", ruleT0, active, inactive)
	have[1] = deactivated(have[1], "admin-1", ruleAt(1))
	setActive(t, s, have[1].ID, false, "admin-1", ruleAt(1))

	addRules(t, s, []rbac.Rule{fresh1, active, inactive, fresh2, fresh1, inactive}, "admin-2", ruleAt(2), 3)
	got := allRules(t, s)
	if len(got) != 4 {
		t.Fatalf("store holds %s, want 4 rules", lines(got))
	}
	re := have[1]
	re.Active, re.UpdatedBy, re.UpdatedAt = true, "admin-2", stored(ruleAt(2))
	checkAll(t, s, []rbac.Rule{have[0], re,
		stamped(fresh1, got[2].ID, "admin-2", ruleAt(2)), stamped(fresh2, got[3].ID, "admin-2", ruleAt(2))})
}

// invalidRules are rules every store must refuse, with why.
func invalidRules() map[string]rbac.Rule {
	return map[string]rbac.Rule{
		"257-byte value":       {Type: "p", Values: []string{"alice", strings.Repeat("x", rbac.MaxValueLen+1)}},
		"value with NUL":       {Type: "p", Values: []string{"alice", "da\x00ta"}},
		"value with newline":   {Type: "p", Values: []string{"alice", "da\nta"}},
		"invalid UTF-8":        {Type: "p", Values: []string{"alice", "\xff\xfe"}},
		"upper-case type":      {Type: "P", Values: []string{"alice"}},
		"empty type":           {Values: []string{"alice"}},
		"11-character type":    {Type: "p1234567890", Values: []string{"alice"}},
		"no values":            {Type: "p"},
		"seven values":         {Type: "p", Values: []string{"a", "b", "c", "d", "e", "f", "g"}},
		"trailing empty value": {Type: "p", Values: []string{"alice", ""}},
	}
}

func testRuleAddAllOrNothing(t *testing.T, s rbac.Store) {
	ctx := context.Background()
	kept := rule(t, "p", "alice", "data1", "read")
	off := rule(t, "p", "bob", "data2", "write")
	want := insert(t, s, "admin-1", ruleT0, kept, off)
	want[1] = deactivated(want[1], "admin-1", ruleAt(1))
	setActive(t, s, want[1].ID, false, "admin-1", ruleAt(1))

	for why, bad := range invalidRules() {
		// Valid rules first (one new, one to reactivate), the invalid
		// one last.
		batch := []rbac.Rule{rule(t, "g", "carol", "admin"), off, bad}
		n, err := s.Add(ctx, batch, "admin-2", ruleAt(2))
		if !errors.Is(err, rbac.ErrInvalidRule) || n != 0 {
			t.Errorf("Add with a rule of %s last = %d, %v; want 0, rbac.ErrInvalidRule", why, n, err)
		}
	}
	n, err := s.Add(ctx, []rbac.Rule{rule(t, "g", "carol", "admin"), off}, strings.Repeat("a", rbac.MaxActorLen+1), ruleAt(2))
	if !errors.Is(err, rbac.ErrInvalidRule) || n != 0 {
		t.Errorf("Add by a %d-byte actor = %d, %v; want 0, rbac.ErrInvalidRule", rbac.MaxActorLen+1, n, err)
	}
	n, err = s.Add(ctx, []rbac.Rule{rule(t, "g", "carol", "admin")}, "admin\x00", ruleAt(2))
	if !errors.Is(err, rbac.ErrInvalidRule) || n != 0 {
		t.Errorf("Add by an actor with NUL = %d, %v; want 0, rbac.ErrInvalidRule", n, err)
	}
	checkAll(t, s, want)
}

func testRuleActors(t *testing.T, s rbac.Store) {
	long := strings.Repeat("é", rbac.MaxActorLen/2) // 100 bytes
	want := insert(t, s, "", ruleT0, rule(t, "p", "alice", "data1", "read"))
	want = append(want, insert(t, s, long, ruleT0, rule(t, "p", "bob", "data1", "read"))...)
	want = append(want, insert(t, s, "user:42 'x'", ruleT0, rule(t, "p", "carol", "data1", "read"))...)
	checkAll(t, s, want)

	// SetActive records its actor, "" included.
	want[1] = deactivated(want[1], "", ruleAt(1))
	if d := diffRule(setActive(t, s, want[1].ID, false, "", ruleAt(1)), want[1]); d != "" {
		t.Errorf("SetActive by no actor: %s", d)
	}
	if _, err := s.SetActive(context.Background(), want[0].ID, false, long+"x", ruleAt(2)); !errors.Is(err, rbac.ErrInvalidRule) {
		t.Errorf("SetActive by a %d-byte actor: err = %v, want rbac.ErrInvalidRule", len(long)+1, err)
	}
	checkAll(t, s, want)
}

// filterRules are the rules the filter tests search, in the order added;
// the rule at index filterInactive is made inactive.
func filterRules(t *testing.T) []rbac.Rule {
	return []rbac.Rule{
		rule(t, "p", "alice", "data1", "read"),          // 0
		rule(t, "p", "bob", "data2", "write"),           // 1
		rule(t, "g", "alice", "admin"),                  // 2
		rule(t, "g", "bob", "admin", "domain1"),         // 3
		rule(t, "p", "alice", "data2", "read"),          // 4 inactive
		rule(t, "p", "admin", "data2", "read", "allow"), // 5
		rule(t, "g2", "data1", "group1"),                // 6
		rule(t, "p", "carol", "", "read"),               // 7: an empty value in the middle
	}
}

const filterInactive = 4

// insertFilterRules inserts filterRules, makes the one at filterInactive
// inactive, and returns them as stored.
func insertFilterRules(t *testing.T, s rbac.Store) []rbac.Rule {
	t.Helper()
	have := insert(t, s, "admin-1", ruleT0, filterRules(t)...)
	have[filterInactive] = deactivated(have[filterInactive], "admin-1", ruleAt(1))
	setActive(t, s, have[filterInactive].ID, false, "admin-1", ruleAt(1))
	return have
}

func testRuleFilter(t *testing.T, s rbac.Store) {
	have := insertFilterRules(t, s)
	pick := func(idx ...int) []rbac.Rule {
		out := []rbac.Rule{}
		for _, i := range idx {
			out = append(out, have[i])
		}
		return out
	}
	for _, tc := range []struct {
		f    rbac.Filter
		want []rbac.Rule
	}{
		{rbac.Filter{}, pick(0, 1, 2, 3, 5, 6, 7)},
		{rbac.Filter{Inactive: true}, pick(0, 1, 2, 3, 4, 5, 6, 7)},
		{rbac.Filter{Type: "p"}, pick(0, 1, 5, 7)},
		{rbac.Filter{Type: "p", Inactive: true}, pick(0, 1, 4, 5, 7)},
		{rbac.Filter{Type: "g"}, pick(2, 3)},
		{rbac.Filter{Type: "g2"}, pick(6)},
		{rbac.Filter{Type: "g3"}, pick()},
		{rbac.Filter{Values: []string{"alice"}}, pick(0, 2)},
		{rbac.Filter{Values: []string{"alice"}, Inactive: true}, pick(0, 2, 4)},
		{rbac.Filter{Type: "p", Values: []string{"alice"}}, pick(0)},
		{rbac.Filter{Values: []string{"", "data2"}}, pick(1, 5)},
		{rbac.Filter{Values: []string{"", "admin"}}, pick(2, 3)},
		{rbac.Filter{Type: "g", Values: []string{"", "admin", "domain1"}}, pick(3)},
		{rbac.Filter{Values: []string{"", "", "read"}}, pick(0, 5, 7)},
		{rbac.Filter{Values: []string{"", "", "", "allow"}}, pick(5)},
		{rbac.Filter{Values: []string{"", "", "", "", "x"}}, pick()},
		{rbac.Filter{Values: []string{"", "", "", "", "", "", "x"}}, pick()},
		{rbac.Filter{Values: []string{"", "", "", "", "", "", ""}}, pick(0, 1, 2, 3, 5, 6, 7)},
		{rbac.Filter{Values: []string{"ALICE"}}, pick()},
		{rbac.Filter{Values: []string{"alic"}}, pick()},
		{rbac.Filter{Values: []string{"alice%"}}, pick()},
		{rbac.Filter{Values: []string{"a\x00"}}, pick()},
		{rbac.Filter{Values: []string{"\xff"}}, pick()},
		{rbac.Filter{Type: "p\x00"}, pick()},
	} {
		checkRules(t, "Rules("+fmtFilter(tc.f)+")", rulesOf(t, s, tc.f), tc.want)
	}
}

func testRuleRemove(t *testing.T, s rbac.Store) {
	ctx := context.Background()
	have := insertFilterRules(t, s)

	remove := func(f rbac.Filter, want int) {
		t.Helper()
		n, err := s.Remove(ctx, f, "admin-2", ruleAt(2))
		if err != nil || n != want {
			t.Fatalf("Remove(%s) = %d, %v; want %d", fmtFilter(f), n, err, want)
		}
	}
	// Alice's active p rule goes; her inactive one stays, even when the
	// filter asks for inactive rules.
	remove(rbac.Filter{Type: "p", Values: []string{"alice"}, Inactive: true}, 1)
	remove(rbac.Filter{Type: "p", Values: []string{"alice"}}, 0)
	remove(rbac.Filter{Type: "g", Values: []string{"", "admin"}}, 2)
	remove(rbac.Filter{Type: "g", Values: []string{"", "admin"}}, 0)
	remove(rbac.Filter{Type: "p", Values: []string{"", "", "", "", "", "", "x"}}, 0)
	remove(rbac.Filter{Type: "p", Values: []string{"\x00"}}, 0)
	checkAll(t, s, []rbac.Rule{have[1], have[4], have[5], have[6], have[7]})
	remove(rbac.Filter{Type: "p"}, 3)
	checkAll(t, s, []rbac.Rule{have[4], have[6]})
}

func testRuleRemoveNeedsType(t *testing.T, s rbac.Store) {
	want := insert(t, s, "admin-1", ruleT0, rule(t, "p", "alice", "data1", "read"))
	for _, f := range []rbac.Filter{{}, {Values: []string{"alice"}}, {Inactive: true}} {
		if n, err := s.Remove(context.Background(), f, "admin-2", ruleAt(1)); !errors.Is(err, rbac.ErrInvalidRule) || n != 0 {
			t.Errorf("Remove(%s) = %d, %v; want 0, rbac.ErrInvalidRule", fmtFilter(f), n, err)
		}
	}
	checkAll(t, s, want)
}

func testRuleSetActive(t *testing.T, s rbac.Store) {
	want := insert(t, s, "admin-1", ruleT0, rule(t, "p", "alice", "data1", "read"), rule(t, "g", "alice", "admin"))
	id := want[0].ID

	// Active to active changes nothing, not even updated_by.
	if d := diffRule(setActive(t, s, id, true, "admin-2", ruleAt(1)), want[0]); d != "" {
		t.Errorf("SetActive(true) on an active rule returned: %s", d)
	}
	checkAll(t, s, want)

	want[0] = deactivated(want[0], "admin-3", ruleAt(2))
	if d := diffRule(setActive(t, s, id, false, "admin-3", ruleAt(2)), want[0]); d != "" {
		t.Errorf("SetActive(false) returned: %s", d)
	}
	checkAll(t, s, want)
	checkRules(t, "active rules", rulesOf(t, s, rbac.Filter{}), want[1:])

	if d := diffRule(setActive(t, s, id, false, "admin-4", ruleAt(3)), want[0]); d != "" {
		t.Errorf("SetActive(false) again returned: %s", d)
	}
	checkAll(t, s, want)

	want[0].Active, want[0].UpdatedBy, want[0].UpdatedAt = true, "admin-5", stored(ruleAt(4))
	if d := diffRule(setActive(t, s, id, true, "admin-5", ruleAt(4)), want[0]); d != "" {
		t.Errorf("SetActive(true) returned: %s", d)
	}
	checkAll(t, s, want)
}

func testRuleSetActiveNotFound(t *testing.T, s rbac.Store) {
	want := insert(t, s, "admin-1", ruleT0, rule(t, "p", "alice", "data1", "read"))
	for _, id := range []int64{want[0].ID + 1, want[0].ID + 1000, 0, -1, 1 << 40} {
		for _, active := range []bool{true, false} {
			r, err := s.SetActive(context.Background(), id, active, "admin-2", ruleAt(1))
			if !errors.Is(err, rbac.ErrNotFound) || !errors.Is(err, store.ErrNotFound) || r.ID != 0 {
				t.Errorf("SetActive(%d, %v) = %+v, %v; want rbac.ErrNotFound (store.ErrNotFound)", id, active, r, err)
			}
		}
	}
	checkAll(t, s, want)
}

func testRuleReplace(t *testing.T, s rbac.Store) {
	ctx := context.Background()
	a := rule(t, "p", "alice", "data1", "read") // active, dropped
	b := rule(t, "p", "bob", "data2", "write")  // active, kept
	c := rule(t, "g", "carol", "admin")         // inactive, in the new set
	d := rule(t, "g", "dave", "admin")          // inactive, not in the new set
	e := rule(t, "p", "erin", "data3", "read")  // new
	f := rule(t, "g2", "data3", "group1")       // new
	have := insert(t, s, "admin-1", ruleT0, a, b, c, d)
	for _, i := range []int{2, 3} {
		have[i] = deactivated(have[i], "admin-1", ruleAt(1))
		setActive(t, s, have[i].ID, false, "admin-1", ruleAt(1))
	}
	if err := s.Replace(ctx, []rbac.Rule{e, b, c, f, e}, "admin-2", ruleAt(2)); err != nil {
		t.Fatalf("Replace: %v", err)
	}
	got := allRules(t, s)
	if len(got) != 5 {
		t.Fatalf("after Replace the store holds %s, want 5 rules", lines(got))
	}
	re := have[2]
	re.Active, re.UpdatedBy, re.UpdatedAt = true, "admin-2", stored(ruleAt(2))
	checkAll(t, s, []rbac.Rule{have[1], re, have[3],
		stamped(e, got[3].ID, "admin-2", ruleAt(2)), stamped(f, got[4].ID, "admin-2", ruleAt(2))})
	if got[3].ID <= have[3].ID || got[4].ID <= got[3].ID {
		t.Errorf("ids of the new rules %d, %d: want increasing after %d, in the order given", got[3].ID, got[4].ID, have[3].ID)
	}

	// The same set again changes nothing.
	before := allRules(t, s)
	if err := s.Replace(ctx, []rbac.Rule{b, c, e, f}, "admin-3", ruleAt(3)); err != nil {
		t.Fatalf("Replace with the same set: %v", err)
	}
	checkAll(t, s, before)
}

func testRuleReplaceEmpty(t *testing.T, s rbac.Store) {
	have := insert(t, s, "admin-1", ruleT0, rule(t, "p", "alice", "data1", "read"), rule(t, "g", "bob", "admin"))
	have[1] = deactivated(have[1], "admin-1", ruleAt(1))
	setActive(t, s, have[1].ID, false, "admin-1", ruleAt(1))
	if err := s.Replace(context.Background(), nil, "admin-2", ruleAt(2)); err != nil {
		t.Fatalf("Replace(nil): %v", err)
	}
	checkAll(t, s, have[1:])
}

func testRuleReplaceAllOrNothing(t *testing.T, s rbac.Store) {
	ctx := context.Background()
	a := rule(t, "p", "alice", "data1", "read")
	b := rule(t, "g", "bob", "admin")
	want := insert(t, s, "admin-1", ruleT0, a, b)
	want[1] = deactivated(want[1], "admin-1", ruleAt(1))
	setActive(t, s, want[1].ID, false, "admin-1", ruleAt(1))
	for why, bad := range invalidRules() {
		if err := s.Replace(ctx, []rbac.Rule{b, rule(t, "p", "carol", "x", "read"), bad}, "admin-2", ruleAt(2)); !errors.Is(err, rbac.ErrInvalidRule) {
			t.Errorf("Replace with a rule of %s last: err = %v, want rbac.ErrInvalidRule", why, err)
		}
	}
	if err := s.Replace(ctx, []rbac.Rule{b}, strings.Repeat("a", rbac.MaxActorLen+1), ruleAt(2)); !errors.Is(err, rbac.ErrInvalidRule) {
		t.Errorf("Replace by a %d-byte actor: err = %v, want rbac.ErrInvalidRule", rbac.MaxActorLen+1, err)
	}
	checkAll(t, s, want)
}

func testRuleTimes(t *testing.T, s rbac.Store) {
	for _, at := range []time.Time{
		ruleT0,
		time.Date(2026, 3, 14, 15, 9, 26, 999999999, time.UTC), // truncated, not rounded up
		time.Date(2100, 1, 1, 0, 0, 0, 1, time.FixedZone("UTC-8", -8*3600)),
		time.Date(1999, 12, 31, 23, 59, 59, 500, time.Local),
	} {
		r := rule(t, "p", "user-"+at.Format(time.RFC3339Nano), "data", "read")
		got := insert(t, s, "admin-1", at, r)[0] // insert compares
		later := at.Add(1500 * time.Nanosecond)
		if d := diffRule(setActive(t, s, got.ID, false, "admin-1", later), deactivated(got, "admin-1", later)); d != "" {
			t.Errorf("SetActive at %v: %s", later, d)
		}
	}
}

func testRuleValues(t *testing.T, s rbac.Store) {
	var six []string
	for i := range rbac.MaxValues {
		six = append(six, fmt.Sprintf("v%d", i))
	}
	values := [][]string{
		{"/caf\u00e9", "rôle", "読む"},
		{"'; DROP TABLE casbin_rules; --", "\"quoted\"", `back\slash`},
		{"{a,b}", "NULL", "null", " spaced ", "(x)", "[y]"},
		{"data:*", "%", "_", "$1", "?"},
		{strings.Repeat("é", rbac.MaxValueLen/2), strings.Repeat("x", rbac.MaxValueLen)},
		{"emoji \U0001F600", "tab-less", "a\u00a0b"},
		six,
		{"", "", "", "", "", "last"},
		{"carol", "", "read"},
	}
	var rules []rbac.Rule
	for _, v := range values {
		rules = append(rules, rule(t, "p", v...))
	}
	want := insert(t, s, "admin-1", ruleT0, rules...)
	checkAll(t, s, want)
	// Each is found by its own values, and Add sees each as present.
	for _, r := range rules {
		checkRules(t, "Rules by "+r.Line(), rulesOf(t, s, rbac.Filter{Type: "p", Values: r.Values}), keep(want, r))
	}
	addRules(t, s, rules, "admin-2", ruleAt(1), 0)
	if err := s.Replace(context.Background(), rules, "admin-2", ruleAt(1)); err != nil {
		t.Fatalf("Replace with the same rules: %v", err)
	}
	checkAll(t, s, want)
	for _, r := range rules {
		if n, err := s.Remove(context.Background(), rbac.Filter{Type: "p", Values: r.Values}, "admin-2", ruleAt(2)); err != nil || n < 1 {
			t.Errorf("Remove(%s) = %d, %v; want at least 1", r.Line(), n, err)
		}
	}
	checkAll(t, s, nil)
}

// keep returns the rules of have that match r's values at r's non-empty
// positions (a filter by r's values).
func keep(have []rbac.Rule, r rbac.Rule) []rbac.Rule {
	f := rbac.Filter{Type: r.Type, Values: r.Values}
	out := []rbac.Rule{}
	for _, h := range have {
		if f.Match(h) {
			out = append(out, h)
		}
	}
	return out
}

func testRuleCopies(t *testing.T, s rbac.Store) {
	values := []string{"alice", "data1", "read"}
	in := []rbac.Rule{{Type: "p", Values: values}}
	addRules(t, s, in, "admin-1", ruleT0, 1)
	values[0] = "mallory"
	in[0].Type = "g"
	want := []rbac.Rule{stamped(rule(t, "p", "alice", "data1", "read"), allRules(t, s)[0].ID, "admin-1", ruleT0)}
	checkAll(t, s, want)

	got := allRules(t, s)
	got[0].Values[0] = "mallory"
	got[0].Active = false
	checkAll(t, s, want)

	r := setActive(t, s, want[0].ID, true, "admin-1", ruleAt(1))
	r.Values[1] = "data2"
	checkAll(t, s, want)

	// A rule passed in with an id, a state or a history gets the store's.
	addRules(t, s, []rbac.Rule{{ID: 99, Type: "g", Values: []string{"bob", "admin"}, Active: false,
		CreatedAt: ruleAt(-60), CreatedBy: "forged"}}, "admin-2", ruleAt(2), 1)
	got = allRules(t, s)
	if len(got) != 2 {
		t.Fatalf("store holds %s", lines(got))
	}
	checkAll(t, s, append(want, stamped(rule(t, "g", "bob", "admin"), got[1].ID, "admin-2", ruleAt(2))))
}

func testRuleCanceledContext(t *testing.T, s rbac.Store) {
	want := insert(t, s, "admin-1", ruleT0, rule(t, "p", "alice", "data1", "read"), rule(t, "g", "bob", "admin"))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got, err := s.Rules(ctx, rbac.Filter{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Rules = %s, %v; want context.Canceled", lines(got), err)
	}
	if n, err := s.Add(ctx, []rbac.Rule{rule(t, "g", "carol", "admin")}, "admin-2", ruleAt(1)); !errors.Is(err, context.Canceled) || n != 0 {
		t.Errorf("Add = %d, %v; want 0, context.Canceled", n, err)
	}
	if n, err := s.Remove(ctx, rbac.Filter{Type: "p"}, "admin-2", ruleAt(1)); !errors.Is(err, context.Canceled) || n != 0 {
		t.Errorf("Remove = %d, %v; want 0, context.Canceled", n, err)
	}
	if r, err := s.SetActive(ctx, want[0].ID, false, "admin-2", ruleAt(1)); !errors.Is(err, context.Canceled) || r.ID != 0 {
		t.Errorf("SetActive = %+v, %v; want the zero Rule, context.Canceled", r, err)
	}
	if err := s.Replace(ctx, nil, "admin-2", ruleAt(1)); !errors.Is(err, context.Canceled) {
		t.Errorf("Replace: err = %v, want context.Canceled", err)
	}
	checkAll(t, s, want)
}

// ruleRacers is how many goroutines the concurrency tests run.
const ruleRacers = 50

func testRuleConcurrentAdd(t *testing.T, s rbac.Store) {
	r := rule(t, "p", "alice", "data1", "read")
	counts := make([]int, ruleRacers)
	for i, err := range race(ruleRacers, func(i int) error {
		n, err := s.Add(context.Background(), []rbac.Rule{r}, fmt.Sprintf("admin-%d", i), ruleT0)
		counts[i] = n
		return err
	}) {
		if err != nil {
			t.Fatalf("Add %d: %v", i, err)
		}
	}
	total := 0
	winner := -1
	for i, n := range counts {
		total += n
		if n == 1 {
			winner = i
		}
	}
	if total != 1 {
		t.Fatalf("%d concurrent Adds of one rule counted %d in all, want 1", ruleRacers, total)
	}
	got := allRules(t, s)
	if len(got) != 1 {
		t.Fatalf("%d concurrent Adds of one rule left %s, want one row", ruleRacers, lines(got))
	}
	checkAll(t, s, []rbac.Rule{stamped(r, got[0].ID, fmt.Sprintf("admin-%d", winner), ruleT0)})
}

// testRuleConcurrentAddMany: concurrent Adds of batches that share a
// rule, each with a rule of its own, and a rule that is inactive: every
// rule ends active once, and the counts add up.
func testRuleConcurrentAddMany(t *testing.T, s rbac.Store) {
	shared := rule(t, "g", "alice", "admin")
	off := rule(t, "g", "bob", "admin")
	id := insert(t, s, "admin-1", ruleT0, off)[0].ID
	setActive(t, s, id, false, "admin-1", ruleT0)
	own := make([]rbac.Rule, ruleRacers)
	for i := range own {
		own[i] = rule(t, "p", fmt.Sprintf("user-%02d", i), "data", "read")
	}
	var total atomic.Int64
	for i, err := range race(ruleRacers, func(i int) error {
		own := own[i]
		batch := []rbac.Rule{shared, own, off}
		if i%2 == 1 {
			batch = []rbac.Rule{own, off, shared}
		}
		n, err := s.Add(context.Background(), batch, "admin-2", ruleAt(1))
		total.Add(int64(n))
		return err
	}) {
		if err != nil {
			t.Fatalf("Add %d: %v", i, err)
		}
	}
	if total.Load() != ruleRacers+2 {
		t.Errorf("the Adds counted %d in all, want %d (each its own rule, the shared and the inactive one once)", total.Load(), ruleRacers+2)
	}
	got := allRules(t, s)
	if len(got) != ruleRacers+2 {
		t.Fatalf("store holds %d rules, want %d", len(got), ruleRacers+2)
	}
	for _, r := range got {
		if !r.Active {
			t.Errorf("rule %d [%s] is inactive", r.ID, r.Line())
		}
		if r.Same(off) && r.ID != id {
			t.Errorf("the inactive rule was inserted again as %d instead of reactivated (%d)", r.ID, id)
		}
	}
	for i, a := range got {
		for _, b := range got[i+1:] {
			if a.Same(b) {
				t.Errorf("rule [%s] stored twice: ids %d and %d", a.Line(), a.ID, b.ID)
			}
		}
	}
}

func testRuleConcurrentSetActive(t *testing.T, s rbac.Store) {
	want := insert(t, s, "admin-1", ruleT0, rule(t, "p", "alice", "data1", "read"))
	id := want[0].ID
	for _, active := range []bool{false, true, true, false} {
		for i, err := range race(ruleRacers, func(i int) error {
			r, err := s.SetActive(context.Background(), id, active, "admin-2", ruleAt(1))
			if err == nil && (r.ID != id || r.Active != active) {
				return fmt.Errorf("returned id %d active %v, want id %d active %v", r.ID, r.Active, id, active)
			}
			return err
		}) {
			if err != nil {
				t.Fatalf("SetActive(%v) %d: %v", active, i, err)
			}
		}
		got := allRules(t, s)
		if len(got) != 1 || got[0].ID != id || got[0].Active != active {
			t.Fatalf("after %d concurrent SetActive(%v): %+v", ruleRacers, active, got)
		}
		if got[0].UpdatedBy != "admin-2" || !got[0].UpdatedAt.Equal(stored(ruleAt(1))) {
			t.Errorf("after SetActive(%v): updated by %q at %v, want admin-2 at %v", active, got[0].UpdatedBy, got[0].UpdatedAt, stored(ruleAt(1)))
		}
	}
}

// ruleWatchWait bounds the wait for a notification.
const ruleWatchWait = 10 * time.Second

// testRuleWatcher: a store that is also an rbac.Watcher notifies its
// subscribers after each change of the active set, once the change is
// visible: the subscriber reads the rules from its callback and must see
// them as changed. A change that alters nothing need not notify; the test
// does not check that it does not.
func testRuleWatcher(t *testing.T, s rbac.Store) {
	w, ok := s.(rbac.Watcher)
	if !ok {
		t.Skip("storetest: the store is not an rbac.Watcher")
	}
	ctx := context.Background()
	seen := make(chan int, 1000) // the active rules each call saw
	var calls atomic.Int64
	cancel := w.Subscribe(func() {
		calls.Add(1)
		rules, err := s.Rules(ctx, rbac.Filter{})
		if err != nil {
			t.Errorf("Rules from the subscriber: %v", err)
			return
		}
		select {
		case seen <- len(rules):
		default:
		}
	})
	defer cancel()
	// A second subscriber, cancelled at once, must not stop the first.
	w.Subscribe(func() {})()

	// step runs change on its own goroutine (a store that called its
	// subscribers with its lock held would hang there) and waits for a
	// call that saw active rules.
	step := func(what string, active int, change func() error) {
		t.Helper()
		for len(seen) > 0 {
			<-seen
		}
		done := make(chan error, 1)
		go func() { done <- change() }()
		deadline := time.After(ruleWatchWait)
		finished, notified := false, false
		for !finished || !notified {
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				finished = true
			case n := <-seen:
				notified = notified || n == active
			case <-deadline:
				t.Fatalf("%s: after %v, finished %v, notified with %d active rules seen %v (calls so far %d)",
					what, ruleWatchWait, finished, active, notified, calls.Load())
			}
		}
	}
	a, b, c := rule(t, "p", "alice", "data1", "read"), rule(t, "g", "alice", "admin"), rule(t, "g", "bob", "admin")
	step("Add", 2, func() error {
		_, err := s.Add(ctx, []rbac.Rule{a, b}, "admin-1", ruleT0)
		return err
	})
	// A no-op Add may or may not notify.
	addRules(t, s, []rbac.Rule{a}, "admin-1", ruleT0, 0)
	id := rulesOf(t, s, rbac.Filter{Type: "p"})[0].ID
	step("SetActive(false)", 1, func() error {
		_, err := s.SetActive(ctx, id, false, "admin-1", ruleAt(1))
		return err
	})
	step("SetActive(true)", 2, func() error {
		_, err := s.SetActive(ctx, id, true, "admin-1", ruleAt(2))
		return err
	})
	step("Add reactivating", 2, func() error {
		if _, err := s.SetActive(ctx, id, false, "admin-1", ruleAt(3)); err != nil {
			return err
		}
		_, err := s.Add(ctx, []rbac.Rule{a}, "admin-1", ruleAt(3))
		return err
	})
	step("Remove", 1, func() error {
		_, err := s.Remove(ctx, rbac.Filter{Type: "g"}, "admin-1", ruleAt(4))
		return err
	})
	step("Replace", 2, func() error {
		return s.Replace(ctx, []rbac.Rule{b, c}, "admin-1", ruleAt(5))
	})
	step("Replace with nothing", 0, func() error {
		return s.Replace(ctx, nil, "admin-1", ruleAt(6))
	})
}
