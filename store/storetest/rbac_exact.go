package storetest

import (
	"context"
	"testing"

	"github.com/cedrina/cedrina/rbac"
)

// testRuleExact: Filter.Exact matches a rule's whole value list, an empty
// value matching only an empty (NULL) one, in Rules and Remove alike.
func testRuleExact(t *testing.T, s rbac.Store) {
	ctx := context.Background()
	have := insert(t, s, "admin-1", ruleT0,
		rule(t, "p", "alice", "/data", "read"),
		rule(t, "p", "alice", "/data", "read", "extra"),
		rule(t, "p", "alice", "", "read"),
		rule(t, "p", "alice", "/data"),
	)
	for _, tc := range []struct {
		values []string
		want   []rbac.Rule
	}{
		{[]string{"alice", "/data", "read"}, []rbac.Rule{have[0]}},
		{[]string{"alice", "/data", "read", ""}, []rbac.Rule{have[0]}}, // trailing empty values do not count
		{[]string{"alice", "", "read"}, []rbac.Rule{have[2]}},
		{[]string{"alice", "/data"}, []rbac.Rule{have[3]}},
		{[]string{"alice"}, nil},
		{[]string{"alice", "/data", "read", "extra"}, []rbac.Rule{have[1]}},
	} {
		f := rbac.Filter{Type: "p", Values: tc.values, Exact: true}
		got := rulesOf(t, s, f)
		if len(got) != len(tc.want) || len(got) == 1 && got[0].ID != tc.want[0].ID {
			t.Errorf("Rules(%s, exact) = %s, want %s", fmtFilter(f), lines(got), lines(tc.want))
		}
	}
	n, err := s.Remove(ctx, rbac.Filter{Type: "p", Values: []string{"alice", "/data", "read"}, Exact: true}, "admin-2", ruleAt(1))
	if err != nil || n != 1 {
		t.Fatalf("Remove(exact) = %d, %v; want 1", n, err)
	}
	checkAll(t, s, []rbac.Rule{have[1], have[2], have[3]})
}
