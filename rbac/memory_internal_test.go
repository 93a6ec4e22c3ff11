package rbac

import (
	"context"
	"testing"
	"time"
)

// TestMemoryReactivatesLowestID: of several inactive rows of one rule
// (which only another writer leaves, never Add), Add reactivates the one
// with the lowest id.
func TestMemoryReactivatesLowestID(t *testing.T) {
	t0 := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	m := NewMemoryStore()
	for id := int64(1); id <= 3; id++ {
		m.rules = append(m.rules, Rule{ID: id, Type: "p", Values: []string{"alice", "data1", "read"}, CreatedAt: t0, UpdatedAt: t0})
	}
	m.lastID = 3
	r, _ := NewRule("p", "alice", "data1", "read")
	n, err := m.Add(context.Background(), []Rule{r}, "admin", t0.Add(time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("Add = %d, %v; want 1", n, err)
	}
	for _, s := range m.rules {
		if want := s.ID == 1; s.Active != want {
			t.Errorf("rule %d active %v, want %v", s.ID, s.Active, want)
		}
	}
}
