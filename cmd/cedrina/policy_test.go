package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/rbac"
	"github.com/cedrina/cedrina/store/postgres"
)

func TestPolicyUsage(t *testing.T) {
	t.Parallel()
	cli(t, nil, "help", "policy").expect(t, exitOK, `(?s)cedrina policy add TYPE V0 \[V1 \.\.\.\].*cedrina policy add p auditor /admin/audit GET`, "")
	model := filepath.Join(t.TempDir(), "model.conf")
	os.WriteFile(model, []byte("not a model"), 0o600)
	for _, tc := range []struct {
		args  []string
		errRE string
	}{
		{[]string{"policy"}, `^cedrina: policy: want an action`},
		{[]string{"policy", "grant", "p"}, `^cedrina: policy: unknown action "grant"`},
		{[]string{"policy", "list", "p"}, `^cedrina: policy list: unexpected argument "p"`},
		{[]string{"policy", "add", "p"}, `^cedrina: policy add: want the rule: TYPE V0`},
		{[]string{"policy", "add", "P", "x", "/y", "GET"}, `^cedrina: policy add: invalid rule: type "P"`},
		{[]string{"policy", "remove", "p", "x", "/y", ""}, `^cedrina: policy remove: no database URL`}, // a trailing "" is dropped
		{[]string{"policy", "deactivate"}, `^cedrina: policy deactivate: want one rule id`},
		{[]string{"policy", "activate", "0"}, `the rule id must be a positive integer, not "0"`},
		{[]string{"policy", "list", "--model", "acl"}, `--model "acl": want rbac, domains or abac`},
		{[]string{"policy", "list", "--model", "rbac", "--model-file", model}, `give --model or --model-file, not both`},
		{[]string{"policy", "list", "--model-file", model}, `^cedrina: policy list: rbac: model: `},
		{[]string{"policy", "list"}, `^cedrina: policy list: no database URL`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			cli(t, nil, tc.args...).expect(t, exitUsage, `^$`, tc.errRE)
		})
	}
}

// TestPolicy drives the policy commands on PostgreSQL: rules added,
// listed, refused when the model cannot use them, deactivated, activated
// and removed, each change by "cli" in the table and in the audit trail,
// and each announced to the applications' policy watchers.
func TestPolicy(t *testing.T) {
	t.Parallel()
	url, db, _ := migratedDB(t)
	ctx := context.Background()
	env := map[string]string{"DATABASE_URL": url}

	// A watcher, as each application holds one: told after the change is
	// committed, it finds the rule in the table.
	w, err := postgres.NewPolicyWatcher(url, postgres.WatcherConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	seen := make(chan struct{}, 1)
	cancel := w.Subscribe(func() {
		if rs, err := db.Rules().Rules(ctx, rbac.Filter{Type: "p", Values: []string{"auditor"}}); err == nil && len(rs) > 0 {
			select {
			case seen <- struct{}{}:
			default:
			}
		}
	})
	defer cancel()

	cli(t, env, "policy", "list").expect(t, exitOK, `^ID\s+STATE\s+RULE\s+UPDATED AT\s+CREATED BY\s+UPDATED BY\n\n0 rules\n$`, "")
	cli(t, env, "policy", "add", "p", "auditor", "/admin/audit", "GET").expect(t, exitOK, `^added: p, auditor, /admin/audit, GET\n$`, "")
	select {
	case <-seen:
	case <-time.After(30 * time.Second): // a bound against a hang, not a timing assumption
		t.Fatal("the watcher was not told of the change")
	}
	cli(t, env, "policy", "add", "--model", "rbac", "p", "auditor", "/admin/audit", "GET").
		expect(t, exitOK, `^active already: p, auditor, /admin/audit, GET\n$`, "")
	cli(t, env, "policy", "add", "g", "user:7", "auditor").expect(t, exitOK, `^added: g, user:7, auditor\n$`, "")
	// The model decides what a rule may look like.
	cli(t, env, "policy", "add", "p", "auditor", "/admin/audit", "GET", "finance").
		expect(t, exitUsage, `^$`, `^cedrina: policy add: invalid rule: the rbac model's p rules have 3 values, not 4\n$`)
	cli(t, env, "policy", "add", "--model", "abac", "p", "auditor", "/reports", "GET", "finance", "*", "*").
		expect(t, exitOK, `^added: p, auditor, /reports, GET, finance, \*, \*\n$`, "")

	rules, err := db.Rules().Rules(ctx, rbac.Filter{})
	if err != nil || len(rules) != 3 {
		t.Fatalf("rules %v, %v", rules, err)
	}
	first := rules[0]
	if first.CreatedBy != "cli" || first.UpdatedBy != "cli" {
		t.Errorf("rule %+v, want created and updated by cli", first)
	}
	id := func(r rbac.Rule) string { return strconv.FormatInt(r.ID, 10) }
	cli(t, env, "policy", "list").expect(t, exitOK,
		`(?m)^`+id(first)+`\s+active\s+p, auditor, /admin/audit, GET\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\s+cli\s+cli$`, "")
	cli(t, env, "policy", "deactivate", id(first)).expect(t, exitOK, `^rule `+id(first)+`, inactive: p, auditor, /admin/audit, GET\n$`, "")
	cli(t, env, "policy", "list").expect(t, exitOK, `(?s)^ID.*\n\n2 rules\n$`, "")
	cli(t, env, "policy", "list", "--inactive").expect(t, exitOK, `(?m)^`+id(first)+`\s+inactive\s+p, auditor`, "")
	cli(t, env, "policy", "activate", id(first)).expect(t, exitOK, `^rule `+id(first)+`, active: `, "")
	cli(t, env, "policy", "activate", "999999").expect(t, exitFailure, `^$`, `^cedrina: policy activate: no rule has id 999999\n$`)
	cli(t, env, "policy", "remove", "g", "user:7", "auditor").expect(t, exitOK, `^removed: g, user:7, auditor\n$`, "")
	cli(t, env, "policy", "remove", "g", "user:7", "auditor").
		expect(t, exitFailure, `^$`, `^cedrina: policy remove: no active rule is g, user:7, auditor; nothing was removed\n$`)

	svc, err := audit.NewService(db.Audit(), audit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Query(ctx, audit.Query{Types: []audit.EventType{audit.PolicyChanged}, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for i := len(p.Events) - 1; i >= 0; i-- {
		e := p.Events[i]
		if e.Data["by"] != "cli" || e.Source != "rbac" {
			t.Errorf("event %v by %v", e.Data, e.Data["by"])
		}
		ops = append(ops, e.Data["operation"].(string))
	}
	if got := strings.Join(ops, " "); got != "add add add deactivate activate remove" {
		t.Errorf("policy_changed operations %q", got)
	}
}

// TestPolicyKeyedChain: under another key than the audit chain's, a
// change is refused before anything changes (exit 4); listing needs no
// key.
func TestPolicyKeyedChain(t *testing.T) {
	t.Parallel()
	url, db, _ := migratedDB(t)
	key := []byte(strings.Repeat("k", 32))
	trail, err := audit.NewService(db.Audit(), audit.Config{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if err := trail.Record(context.Background(), audit.Event{Type: audit.LoginSucceeded}); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "audit.key")
	os.WriteFile(keyFile, []byte(strings.Repeat("6b", 32)), 0o600)
	env := map[string]string{"DATABASE_URL": url}
	cli(t, env, "policy", "add", "p", "auditor", "/admin/audit", "GET").
		expect(t, exitKeyMismatch, `^$`, `^cedrina: policy add: wrong key: .* \(nothing was changed\)\n$`)
	cli(t, env, "policy", "list").expect(t, exitOK, `0 rules`, "")
	cli(t, env, "policy", "add", "p", "auditor", "/admin/audit", "GET", "--key-file", keyFile).expect(t, exitOK, `^added: `, "")
	if n, err := trail.Verify(context.Background(), 0, 0); err != nil || n != 2 {
		t.Errorf("chain: %d verified, %v", n, err)
	}
}
