package gormadapter_test

import (
	"testing"

	"github.com/cedrina/cedrina/rbac"
	"github.com/cedrina/cedrina/store/storetest"
)

// TestRuleStore runs the suite every rbac.Store passes, with each
// driver.
func TestRuleStore(t *testing.T) {
	for _, d := range drivers {
		t.Run(d, func(t *testing.T) {
			storetest.RunRuleStore(t, func(t *testing.T) rbac.Store {
				a, _ := newAdapter(t, d)
				return a
			})
		})
	}
}

// TestCasbinAdapter runs the suite every Casbin adapter on casbin_rules
// passes, with each driver.
func TestCasbinAdapter(t *testing.T) {
	for _, d := range drivers {
		t.Run(d, func(t *testing.T) {
			storetest.RunCasbinAdapter(t, func(t *testing.T) (storetest.CasbinAdapter, rbac.Store) {
				a, _ := newAdapter(t, d)
				return a, a
			})
		})
	}
}
