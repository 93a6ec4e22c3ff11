package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/rbac"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/user"
)

// adminFlow walks the administration API through the program at base:
// two users register, makeAdmin makes alice ADMIN (as an operator does,
// with `cedrina user set-role` or in code), then bob is refused
// /admin/audit while alice pages through it (through events trail, a
// service on the program's audit store, stored for the purpose); alice grants the role user
// GET /admin/audit and bob's very next request passes; she removes the
// grant and his very next request is refused again. It returns alice's
// access token.
func adminFlow(t *testing.T, base string, trail *audit.Service, makeAdmin func(id int64)) string {
	t.Helper()
	c := client{t: t, base: base}
	login := func(name string) (int64, string) {
		t.Helper()
		u := c.want("POST", "/auth/register", "", map[string]string{
			"username": name, "email": name + "@example.com", "password": testPassword}, http.StatusCreated)
		tok := c.want("POST", "/auth/login", "", map[string]string{"login": name, "password": testPassword}, http.StatusOK)
		return int64(u["id"].(float64)), tok["access_token"].(string)
	}
	aliceID, alice := login("alice")
	_, bob := login("bob")
	c.want("GET", "/admin/audit", alice, nil, http.StatusForbidden) // not yet an administrator
	makeAdmin(aliceID)

	p := c.want("GET", "/admin/audit", bob, nil, http.StatusForbidden)
	if p["detail"] != "you are not allowed to do this" {
		t.Errorf("403 body %v", p)
	}
	// Alice pages through the trail, newest first, two at a time: five
	// events of one correlation id, stored directly (the program's own
	// events reach the store a moment later, through its batched writer).
	for i := range 5 {
		if err := trail.Record(context.Background(), audit.Event{Type: audit.LoginFailed, Source: "test",
			CorrelationID: "admin-flow", Data: map[string]any{"i": i}}); err != nil {
			t.Fatal(err)
		}
	}
	var got []float64
	next, pages := "", 0
	for {
		path := "/admin/audit?limit=2&correlation_id=admin-flow"
		if next != "" {
			path += "&cursor=" + url.QueryEscape(next)
		}
		page := c.want("GET", path, alice, nil, http.StatusOK)
		pages++
		for _, e := range page["events"].([]any) {
			e := e.(map[string]any)
			got = append(got, e["event_data"].(map[string]any)["i"].(float64))
		}
		if next = page["next"].(string); next == "" {
			break
		}
	}
	if pages != 3 || !slices.Equal(got, []float64{4, 3, 2, 1, 0}) {
		t.Errorf("%d pages of events %v, want 3 pages of 4 3 2 1 0", pages, got)
	}
	if m := c.want("GET", "/admin/audit/verify", alice, nil, http.StatusOK); m["intact"] != true {
		t.Errorf("verify: %v", m)
	}

	grant := map[string]any{"ptype": "p", "values": []string{"user", "/admin/audit", "GET"}}
	if m := c.want("POST", "/admin/policies", alice, grant, http.StatusCreated); m["changed"] != float64(1) {
		t.Errorf("grant: %v", m)
	}
	c.want("GET", "/admin/audit", bob, nil, http.StatusOK)
	c.want("GET", "/admin/policies", bob, nil, http.StatusForbidden) // that route only
	if m := c.want("DELETE", "/admin/policies", alice, grant, http.StatusOK); m["removed"] != float64(1) {
		t.Errorf("remove: %v", m)
	}
	c.want("GET", "/admin/audit", bob, nil, http.StatusForbidden)

	rules := c.want("GET", "/admin/policies", alice, nil, http.StatusOK)["rules"].([]any)
	if len(rules) != 1 || rules[0].(map[string]any)["created_by"] != "bootstrap" {
		t.Errorf("policy after the flow: %v", rules)
	}
	return alice
}

// TestAdminMemory: the flow on the in-memory store, alice made ADMIN in
// code through the app's own user service.
func TestAdminMemory(t *testing.T) {
	a, logs := newTestApp(t, memStores(), appConfig{})
	srv := httptest.NewServer(a.routes())
	defer srv.Close()
	alice := adminFlow(t, srv.URL, a.trail, func(id int64) {
		if _, err := a.users.SetRole(audit.ContextWithActor(context.Background(), audit.Actor{Name: "test"}), id, user.RoleAdmin); err != nil {
			t.Fatal(err)
		}
	})
	if !strings.Contains(logs.String(), "seeded the admin policy") {
		t.Errorf("no seeding in the log:\n%s", logs)
	}
	logs.noSecrets(t, testPassword, alice)
}

// TestAdminNoSeed: without the seeded policy even ADMIN is refused:
// nothing is allowed but what the policy says.
func TestAdminNoSeed(t *testing.T) {
	a, _ := newTestApp(t, memStores(), appConfig{noSeedPolicy: true})
	srv := httptest.NewServer(a.routes())
	defer srv.Close()
	c := client{t: t, base: srv.URL}
	u := c.want("POST", "/auth/register", "", map[string]string{
		"username": "carol", "email": "carol@example.com", "password": testPassword}, http.StatusCreated)
	if _, err := a.users.SetRole(context.Background(), int64(u["id"].(float64)), user.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	tok := c.want("POST", "/auth/login", "", map[string]string{"login": "carol", "password": testPassword}, http.StatusOK)
	c.want("GET", "/admin/policies", tok["access_token"].(string), nil, http.StatusForbidden)
	if rules, err := a.authz.Rules(context.Background(), rbac.Filter{Inactive: true}); err != nil || len(rules) != 0 {
		t.Errorf("rules %v, %v", rules, err)
	}
}

// TestRunAdminPostgres runs the real program on PostgreSQL: the policy is
// in casbin_rules, seeded at start, and alice is made ADMIN from outside
// the program as `cedrina user set-role` does it, through a user service
// on the same database with the actor "cli". The rules the flow wrote
// are in the table, with the acting admin, and the role change and the
// policy changes are in the audit trail.
func TestRunAdminPostgres(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.URL(t)
	addr, logs, stop, wait := startRun(t, func(k string) string {
		if k == "DATABASE_URL" {
			return dbURL
		}
		return ""
	})
	ctx := context.Background()
	db, err := postgres.Open(ctx, dbURL, postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	trail, err := audit.NewService(db.Audit(), audit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	users, err := user.NewService(db.Users(), user.Config{Recorder: trail})
	if err != nil {
		t.Fatal(err)
	}
	var aliceID int64
	alice := adminFlow(t, "http://"+addr, trail, func(id int64) {
		aliceID = id
		if _, err := users.SetRole(audit.ContextWithActor(ctx, audit.Actor{Name: "cli"}), id, user.RoleAdmin); err != nil {
			t.Fatal(err)
		}
	})
	stop()
	if err := wait(); err != nil {
		t.Fatalf("run: %v", err)
	}
	logs.noSecrets(t, testPassword, alice, dbURL)
	if !strings.Contains(logs.String(), "seeded the admin policy") {
		t.Errorf("no seeding in the log:\n%s", logs)
	}

	rules, err := db.Rules().Rules(ctx, rbac.Filter{Inactive: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 1 || rules[0].Line() != "p, admin, /admin/*, *" || rules[0].CreatedBy != "bootstrap" {
		t.Errorf("rules after the flow: %+v", rules)
	}
	// Every event is stored by now: the writer was closed at shutdown.
	p, err := trail.Query(ctx, audit.Query{Types: []audit.EventType{audit.RoleChanged, audit.PolicyChanged}, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := len(p.Events) - 1; i >= 0; i-- {
		e := p.Events[i]
		got = append(got, fmt.Sprintf("%s %v %v", e.Type, e.Data["by"], e.Data["operation"]))
	}
	by := strconv.FormatInt(aliceID, 10)
	want := []string{"policy_changed bootstrap add", "role_changed cli <nil>",
		"policy_changed " + by + " add", "policy_changed " + by + " remove"}
	if !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
	// A second start finds the policy and leaves it alone.
	_, logs2, stop2, wait2 := startRun(t, func(k string) string {
		if k == "DATABASE_URL" {
			return dbURL
		}
		return ""
	})
	stop2()
	if err := wait2(); err != nil {
		t.Fatalf("second run: %v", err)
	}
	if strings.Contains(logs2.String(), "seeded the admin policy") {
		t.Errorf("seeded again:\n%s", logs2)
	}
}
