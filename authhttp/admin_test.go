package authhttp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/authhttp"
	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/rbac"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/user"
)

// adminBackends runs fn on the memory store and on PostgreSQL (lib/pq),
// in parallel. The rules are in an rbac.MemoryStore on both.
func adminBackends(t *testing.T, fn func(t *testing.T, b backend)) {
	t.Helper()
	t.Run("memory", func(t *testing.T) {
		t.Parallel()
		fn(t, memBackend())
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		db, err := postgres.New(pgtest.DB(t), postgres.Config{})
		if err != nil {
			t.Fatal(err)
		}
		fn(t, backend{db, db.Users(), db.Sessions(), db.Resets(), db.Audit(), db.OAuth()})
	})
}

// adminAPI is the handler with an Authorizer and an audit service, and
// the services behind it.
type adminAPI struct {
	*api
	users *user.Service
	trail *audit.Service
	authz *rbac.Authorizer
	rules *rbac.MemoryStore
}

// adminConfig adjusts newAdminAPI's setup; the zero value is the
// default: the audit service on b's audit store, recording the user
// service's and the Authorizer's events, and the admin policy seeded.
type adminConfig struct {
	noAudit bool                // Config.Audit nil
	audit   func(*audit.Config) // adjusts the audit service
	// served, when set, returns the handler's audit service (Config.Audit)
	// on the backend's audit store, instead of the one that records.
	served  func(audit.Store) *audit.Service
	handler func(*authhttp.Config)
}

func newAdminAPI(t *testing.T, b backend, c adminConfig) *adminAPI {
	t.Helper()
	ctx := context.Background()
	ac := audit.Config{}
	if c.audit != nil {
		c.audit(&ac)
	}
	trail, err := audit.NewService(b.audit, ac)
	if err != nil {
		t.Fatal(err)
	}
	rules := rbac.NewMemoryStore()
	authz, err := rbac.New(ctx, rbac.Config{Store: rules, Recorder: trail})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { authz.Close(context.Background()) })
	if _, err := authz.AddRules(audit.ContextWithActor(ctx, audit.Actor{Name: "bootstrap"}), authhttp.AdminRules()...); err != nil {
		t.Fatal(err)
	}
	served := trail
	if c.served != nil {
		served = c.served(b.audit)
	}
	s := newStack(t, b, stackConfig{
		user: func(uc *user.Config) { uc.Recorder = trail },
		handler: func(hc *authhttp.Config) {
			hc.Authorizer = authz
			if !c.noAudit {
				hc.Audit = served
			}
			if c.handler != nil {
				c.handler(hc)
			}
		},
	})
	srv := newServer(t, s.h)
	return &adminAPI{api: &api{t: t, srv: srv, h: s.h}, users: s.users, trail: trail, authz: authz, rules: rules}
}

// admin registers name, makes it ADMIN, and returns its id and access
// token.
func (a *adminAPI) admin(name string) (int64, string) {
	a.t.Helper()
	id := int64(a.register(name)["id"].(float64))
	if _, err := a.users.SetRole(context.Background(), id, user.RoleAdmin); err != nil {
		a.t.Fatal(err)
	}
	acc, _ := a.login(name, goodPassword)
	return id, acc
}

// plain registers name, a USER, and returns its id and access token.
func (a *adminAPI) plain(name string) (int64, string) {
	a.t.Helper()
	id := int64(a.register(name)["id"].(float64))
	acc, _ := a.login(name, goodPassword)
	return id, acc
}

// events returns the stored events of type typ, oldest first.
func (a *adminAPI) events(typ audit.EventType) []audit.Event {
	a.t.Helper()
	p, err := a.trail.Query(context.Background(), audit.Query{Types: []audit.EventType{typ}, Limit: 1000})
	if err != nil {
		a.t.Fatal(err)
	}
	slices.Reverse(p.Events)
	return p.Events
}

// TestAdminRoutesMounted: without an Authorizer the admin paths are
// unknown paths (404); with one but without Config.Audit, the audit
// routes are; Mount mounts /admin/ only with an Authorizer.
func TestAdminRoutesMounted(t *testing.T) {
	plainAPI := newAPI(t, memBackend(), nil)
	plainAPI.register("amy")
	acc, _ := plainAPI.login("amy", goodPassword)
	for _, p := range []string{"/admin/audit", "/admin/audit/verify", "/admin/policies", "/admin/users/1/role"} {
		for _, tok := range []string{"", acc} {
			m := plainAPI.want(plainAPI.do("GET", p, tok, nil), 404)
			if m["detail"] != "no such resource" {
				t.Errorf("%s: %v", p, m)
			}
		}
	}

	a := newAdminAPI(t, memBackend(), adminConfig{noAudit: true})
	_, root := a.admin("root")
	a.want(a.do("GET", "/admin/audit", root, nil), 404)
	a.want(a.do("GET", "/admin/audit/verify", root, nil), 404)
	a.want(a.do("GET", "/admin/policies", root, nil), 200)

	// Mount: /admin/ goes to the API only when it has an Authorizer.
	for _, c := range []struct {
		h    *authhttp.Handler
		want int
	}{{plainAPI.h, 200}, {a.h, 401}} {
		mux := http.NewServeMux()
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("host page")) })
		c.h.Mount(mux)
		srv := newServer(t, mux)
		res, err := srv.Client().Get(srv.URL + "/admin/policies")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != c.want {
			t.Errorf("mounted /admin/policies: %d, want %d", res.StatusCode, c.want)
		}
	}
}

// adminRoute is one admin route with a request that would succeed for
// an administrator.
type adminRoute struct {
	method, path string
	body         any
}

func adminRoutes(userID int64) []adminRoute {
	return []adminRoute{
		{"GET", "/admin/audit", nil},
		{"GET", "/admin/audit?limit=2", nil},
		{"GET", "/admin/audit/verify", nil},
		{"POST", "/admin/users/" + strconv.FormatInt(userID, 10) + "/role", map[string]string{"role": "USER"}},
		{"GET", "/admin/policies", nil},
		{"POST", "/admin/policies", map[string]any{"ptype": "p", "values": []string{"editor", "/docs/*", "GET"}}},
		{"DELETE", "/admin/policies", map[string]any{"ptype": "p", "values": []string{"editor", "/docs/*", "GET"}}},
	}
}

// TestAdminAuthorization: every admin route answers 401 without a
// token, 403 problem+json to a signed-in user the policy does not allow
// (recorded as authorization_denied, and through ErrorFunc when the host
// has one), and serves an ADMIN; other methods get 405 with Allow.
func TestAdminAuthorization(t *testing.T) {
	adminBackends(t, func(t *testing.T, b backend) {
		a := newAdminAPI(t, b, adminConfig{})
		_, root := a.admin("root")
		bobID, bob := a.plain("bob")
		for _, rt := range adminRoutes(bobID) {
			a.want(a.do(rt.method, rt.path, "", rt.body), 401)
			m := a.want(a.do(rt.method, rt.path, bob, rt.body), 403)
			if m["type"] != "about:blank" || m["detail"] != "you are not allowed to do this" {
				t.Errorf("%s %s: 403 body %v", rt.method, rt.path, m)
			}
			if r := a.do(rt.method, rt.path, root, rt.body); r.status >= 300 {
				t.Errorf("%s %s as admin: %d %s", rt.method, rt.path, r.status, r.body)
			}
		}
		denied := a.events(audit.AuthorizationDenied)
		if len(denied) != len(adminRoutes(0)) {
			t.Fatalf("%d authorization_denied events, want %d", len(denied), len(adminRoutes(0)))
		}
		if d := denied[3]; d.UserID == nil || *d.UserID != bobID || d.Data["object"] != "/admin/users/:id/role" || d.Data["action"] != "POST" {
			t.Errorf("denial event: user %v, data %v", d.UserID, d.Data)
		}
		for _, c := range []struct{ method, path, allow string }{
			{"POST", "/admin/audit", "GET, HEAD"}, {"DELETE", "/admin/audit/verify", "GET, HEAD"},
			{"GET", "/admin/users/5/role", "POST"}, {"PUT", "/admin/policies", "GET, HEAD, POST, DELETE"},
		} {
			r := a.do(c.method, c.path, root, nil)
			a.want(r, 405)
			if r.header.Get("Allow") != c.allow {
				t.Errorf("%s %s: Allow %q", c.method, c.path, r.header.Get("Allow"))
			}
		}
		a.want(a.do("GET", "/admin/nothing", root, nil), 404)
	})
}

// TestAdminErrorFunc: the host's ErrorFunc shapes the 403.
func TestAdminErrorFunc(t *testing.T) {
	var seen []int
	a := newAdminAPI(t, memBackend(), adminConfig{handler: func(c *authhttp.Config) {
		c.ErrorFunc = func(w http.ResponseWriter, r *http.Request, p authhttp.Problem, err error) {
			seen = append(seen, p.Status)
			w.Header().Set("Content-Type", "application/vnd.host+json")
			w.WriteHeader(p.Status)
			json.NewEncoder(w).Encode(map[string]any{"code": p.Status})
		}
	}})
	_, bob := a.plain("bob")
	r := a.do("GET", "/admin/audit", bob, nil)
	if r.status != 403 || r.header.Get("Content-Type") != "application/vnd.host+json" || !strings.Contains(string(r.body), `"code":403`) {
		t.Errorf("%d %s %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	if !slices.Equal(seen, []int{403}) {
		t.Errorf("ErrorFunc saw %v", seen)
	}
}

// TestAdminAuditPaging: the admin walks the whole trail with next until
// it is empty and sees every event exactly once, newest first; filters
// select; bad parameters are 400 naming them.
func TestAdminAuditPaging(t *testing.T) {
	adminBackends(t, func(t *testing.T, b backend) {
		a := newAdminAPI(t, b, adminConfig{})
		rootID, root := a.admin("root")
		ctx := context.Background()
		// 37 events over a few seconds, several sharing a time, some about
		// root, in two correlation ids.
		base := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		for i := range 37 {
			e := audit.Event{Type: audit.LoginFailed, Severity: audit.Warning, Time: base.Add(time.Duration(i/3) * time.Second),
				Source: "test", CorrelationID: "corr-" + strconv.Itoa(i%2), Data: map[string]any{"i": i}}
			if i%4 == 0 {
				e.Type, e.Severity, e.UserID = audit.LoginSucceeded, audit.Info, &rootID
			}
			if err := a.trail.Record(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		all, err := a.trail.Query(ctx, audit.Query{Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		walk := func(query string) []map[string]any {
			t.Helper()
			var got []map[string]any
			next := ""
			for pages := 0; ; pages++ {
				if pages > 100 {
					t.Fatal("paging does not end")
				}
				q := query
				if next != "" {
					q += "&cursor=" + url.QueryEscape(next)
				}
				m := a.want(a.do("GET", "/admin/audit?"+q, root, nil), 200)
				evs := m["events"].([]any)
				for _, e := range evs {
					got = append(got, e.(map[string]any))
				}
				next = m["next"].(string)
				if next == "" {
					return got
				}
				if len(evs) == 0 {
					t.Fatal("an empty page with a next cursor")
				}
			}
		}
		got := walk("limit=5")
		if len(got) != len(all.Events) {
			t.Fatalf("walked %d events, the trail holds %d", len(got), len(all.Events))
		}
		seen := map[float64]bool{}
		for i, e := range got {
			id := e["id"].(float64)
			if seen[id] {
				t.Fatalf("event %v seen twice", id)
			}
			seen[id] = true
			if want := all.Events[i]; int64(id) != want.ID {
				t.Fatalf("event %d is %v, want %d", i, id, want.ID)
			}
			if i > 0 {
				prev, _ := time.Parse(time.RFC3339Nano, got[i-1]["created_at"].(string))
				cur, _ := time.Parse(time.RFC3339Nano, e["created_at"].(string))
				if cur.After(prev) || cur.Equal(prev) && id > got[i-1]["id"].(float64) {
					t.Fatalf("not newest first at %d: %v after %v", i, e, got[i-1])
				}
			}
		}
		// The view: the documented members, a UTC time, the chain link.
		e := got[0]
		wantKeys := []string{"actor_id", "client_ip", "correlation_id", "created_at", "event_data", "event_type", "hash",
			"id", "prev_hash", "seq", "severity", "source", "user_agent", "user_id"}
		if keys := slices.Sorted(maps.Keys(e)); !slices.Equal(keys, wantKeys) {
			t.Errorf("view members %v, want %v", keys, wantKeys)
		}
		if !strings.HasSuffix(e["created_at"].(string), "Z") || e["seq"].(float64) <= 0 || len(e["hash"].(string)) != 64 {
			t.Errorf("view %v", e)
		}

		// Filters, each checked against the events walked.
		count := func(pred func(map[string]any) bool) int {
			n := 0
			for _, e := range got {
				if pred(e) {
					n++
				}
			}
			return n
		}
		for _, c := range []struct {
			query string
			pred  func(map[string]any) bool
		}{
			{"user_id=" + strconv.FormatInt(rootID, 10), func(e map[string]any) bool { return e["user_id"] == float64(rootID) }},
			{"type=login_success&type=login_failure", func(e map[string]any) bool {
				return e["event_type"] == "login_success" || e["event_type"] == "login_failure"
			}},
			{"severity=INFO&type=login_success", func(e map[string]any) bool {
				return e["event_type"] == "login_success" && e["severity"] == "INFO"
			}},
			{"correlation_id=corr-1&limit=3", func(e map[string]any) bool { return e["correlation_id"] == "corr-1" }},
			{"from=2026-03-01T09:00:03Z&to=2026-03-01T09:00:06Z", func(e map[string]any) bool {
				ts, _ := time.Parse(time.RFC3339Nano, e["created_at"].(string))
				return !ts.Before(base.Add(3*time.Second)) && ts.Before(base.Add(6*time.Second))
			}},
		} {
			sel := walk(c.query)
			if want := count(c.pred); len(sel) != want || want == 0 {
				t.Errorf("%s: %d events, want %d", c.query, len(sel), want)
			}
			for _, e := range sel {
				if !c.pred(e) {
					t.Errorf("%s: event %v does not match", c.query, e)
				}
			}
		}

		for _, c := range []struct{ query, param string }{
			{"limit=0", "limit"}, {"limit=1001", "limit"}, {"limit=ten", "limit"},
			{"user_id=-3", "user_id"}, {"user_id=x", "user_id"}, {"user_id=1&user_id=2", "user_id"},
			{"type=Login", "type"}, {"severity=info", "severity"},
			{"from=yesterday", "from"}, {"to=2026-13-01T00:00:00Z", "to"},
			{"from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", "to"},
			{"cursor=bogus", "cursor"}, {"page=2", "page"},
		} {
			m := a.want(a.do("GET", "/admin/audit?"+c.query, root, nil), 400)
			if m["type"] != authhttp.TypeInvalidParameter || m["parameter"] != c.param {
				t.Errorf("%s: %v, want parameter %s", c.query, m, c.param)
			}
		}
	})
}

// newServer serves h until the test ends.
func newServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// alteredChain is an audit store whose chain shows the event at seq with
// its content changed, as a row edited in the database would.
type alteredChain struct {
	audit.Store
	seq int64
}

func (s alteredChain) Chain(ctx context.Context, from, to int64, fn func([]audit.Event) error) error {
	return s.Store.Chain(ctx, from, to, func(evs []audit.Event) error {
		for i := range evs {
			if evs[i].Seq == s.seq {
				evs[i].Source = "forged"
			}
		}
		return fn(evs)
	})
}

// TestAdminAuditVerify: an intact chain, a range, a broken chain (200,
// intact false, the first break) and a server whose key is not the
// chain's (200, intact false, both fingerprints).
func TestAdminAuditVerify(t *testing.T) {
	key := []byte(strings.Repeat("k", 32))
	b := memBackend()
	a := newAdminAPI(t, b, adminConfig{audit: func(c *audit.Config) { c.Key = key }})
	_, root := a.admin("root")
	m := a.want(a.do("GET", "/admin/audit/verify", root, nil), 200)
	st, err := a.trail.State(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	end := m["end"].(map[string]any)
	if m["intact"] != true || m["verified"] != float64(st.End.Seq) || st.End.Seq < 3 ||
		end["seq"] != float64(st.End.Seq) || end["hash"] != st.End.Hash || end["key_fingerprint"] != audit.KeyFingerprint(key) ||
		m["start"].(map[string]any)["seq"] != float64(1) || m["break"] != nil {
		t.Errorf("intact chain: %v (state %+v)", m, st)
	}
	if m := a.want(a.do("GET", "/admin/audit/verify?from=2&to=3", root, nil), 200); m["intact"] != true || m["verified"] != float64(2) {
		t.Errorf("range: %v", m)
	}
	for _, c := range []struct{ query, param string }{{"from=0", "from"}, {"to=x", "to"}, {"from=3&to=2", "to"}, {"seq=1", "seq"}} {
		if m := a.want(a.do("GET", "/admin/audit/verify?"+c.query, root, nil), 400); m["parameter"] != c.param {
			t.Errorf("%s: %v", c.query, m)
		}
	}

	// The same trail seen through a store where event 2 was altered.
	withKey := func(st audit.Store, k []byte) *audit.Service {
		svc, err := audit.NewService(st, audit.Config{Key: k})
		if err != nil {
			t.Fatal(err)
		}
		return svc
	}
	broken := newAdminAPI(t, b, adminConfig{audit: func(c *audit.Config) { c.Key = key },
		served: func(s audit.Store) *audit.Service { return withKey(alteredChain{s, 2}, key) }})
	_, root2 := broken.admin("root2")
	m = broken.want(broken.do("GET", "/admin/audit/verify", root2, nil), 200)
	brk, _ := m["break"].(map[string]any)
	if m["intact"] != false || m["verified"] != float64(1) || brk == nil || brk["seq"] != float64(2) ||
		brk["reason"] != string(audit.Altered) || brk["id"].(float64) <= 0 || m["end"] != nil {
		t.Errorf("broken chain: %v", m)
	}

	// A server with another key verifies nothing and names both keys.
	other := []byte(strings.Repeat("o", 32))
	wrong := newAdminAPI(t, b, adminConfig{audit: func(c *audit.Config) { c.Key = key },
		served: func(s audit.Store) *audit.Service { return withKey(s, other) }})
	_, root3 := wrong.admin("root3")
	m = wrong.want(wrong.do("GET", "/admin/audit/verify", root3, nil), 200)
	km, _ := m["key_mismatch"].(map[string]any)
	if m["intact"] != false || m["verified"] != float64(0) || km == nil || km["stored"] != audit.KeyFingerprint(key) ||
		km["configured"] != audit.KeyFingerprint(other) || m["break"] != nil {
		t.Errorf("key mismatch: %v", m)
	}
}

// TestAdminSetRole: the admin changes a user's role, the user's very
// next request sees it, the event names the admin; bad ids, unknown
// users and malformed roles are refused.
func TestAdminSetRole(t *testing.T) {
	adminBackends(t, func(t *testing.T, b backend) {
		a := newAdminAPI(t, b, adminConfig{})
		rootID, root := a.admin("root")
		bobID, bob := a.plain("bob")
		path := "/admin/users/" + strconv.FormatInt(bobID, 10) + "/role"
		a.want(a.do("GET", "/admin/policies", bob, nil), 403)
		m := a.want(a.do("POST", path, root, map[string]string{"role": "ADMIN"}), 200)
		if m["id"] != float64(bobID) || m["username"] != "bob" || m["role"] != "ADMIN" || m["password_hash"] != nil {
			t.Errorf("view %v", m)
		}
		a.want(a.do("GET", "/admin/policies", bob, nil), 200) // the very next request
		a.want(a.do("POST", path, root, map[string]string{"role": "USER"}), 200)
		a.want(a.do("GET", "/admin/policies", bob, nil), 403)

		evs := a.events(audit.RoleChanged)
		last := evs[len(evs)-1]
		if last.UserID == nil || *last.UserID != bobID || last.Data["role"] != "USER" || last.Data["by"] != strconv.FormatInt(rootID, 10) {
			t.Errorf("role_changed event: user %v data %v", last.UserID, last.Data)
		}

		for _, c := range []struct {
			path   string
			body   any
			status int
			extra  string // the problem's parameter or field
		}{
			{"/admin/users/abc/role", map[string]string{"role": "ADMIN"}, 400, "id"},
			{"/admin/users/0/role", map[string]string{"role": "ADMIN"}, 400, "id"},
			{"/admin/users/-4/role", map[string]string{"role": "ADMIN"}, 400, "id"},
			{"/admin/users/99999999/role", map[string]string{"role": "ADMIN"}, 404, ""},
			{path, map[string]string{"role": "admin"}, 422, "role"},
			{path, map[string]string{"role": ""}, 422, "role"},
			{path, map[string]string{"role": "ADMIN", "tier": "FREE"}, 400, ""},
			{path, `not json`, 400, ""},
		} {
			m := a.want(a.do("POST", c.path, root, c.body), c.status)
			if got := fmt.Sprint(m["parameter"], m["field"]); c.extra != "" && !strings.Contains(got, c.extra) {
				t.Errorf("%s %v: %v", c.path, c.body, m)
			}
		}
		if u, err := a.users.Get(context.Background(), bobID); err != nil || u.Role != user.RoleUser {
			t.Errorf("after the refusals: %+v %v", u, err)
		}
	})
}

// TestAdminPolicies: list, add, deactivate by id, remove by values; the
// acting admin is recorded as created_by / updated_by and in the
// policy_changed events; a grant and a removal take effect on the very
// next request.
func TestAdminPolicies(t *testing.T) {
	adminBackends(t, func(t *testing.T, b backend) {
		a := newAdminAPI(t, b, adminConfig{})
		rootID, root := a.admin("root")
		_, bob := a.plain("bob")
		by := strconv.FormatInt(rootID, 10)

		m := a.want(a.do("GET", "/admin/policies", root, nil), 200)
		rules := m["rules"].([]any)
		if len(rules) != 1 {
			t.Fatalf("rules %v", m)
		}
		seed := rules[0].(map[string]any)
		wantKeys := []string{"created_at", "created_by", "id", "is_active", "ptype", "updated_at", "updated_by", "values"}
		if keys := slices.Sorted(maps.Keys(seed)); !slices.Equal(keys, wantKeys) {
			t.Errorf("rule view members %v, want %v", keys, wantKeys)
		}
		if seed["ptype"] != "p" || fmt.Sprint(seed["values"]) != "[admin /admin/* *]" || seed["is_active"] != true || seed["created_by"] != "bootstrap" {
			t.Errorf("seed rule %v", seed)
		}

		// Grant role user GET /admin/audit: bob's very next request passes.
		a.want(a.do("GET", "/admin/audit", bob, nil), 403)
		grant := map[string]any{"ptype": "p", "values": []string{"user", "/admin/audit", "GET"}}
		if m := a.want(a.do("POST", "/admin/policies", root, grant), 201); m["changed"] != float64(1) {
			t.Errorf("add: %v", m)
		}
		a.want(a.do("GET", "/admin/audit", bob, nil), 200)
		a.want(a.do("GET", "/admin/audit/verify", bob, nil), 403) // another route
		if m := a.want(a.do("POST", "/admin/policies", root, grant), 200); m["changed"] != float64(0) {
			t.Errorf("add again: %v", m)
		}
		// Several at once.
		many := map[string]any{"rules": []map[string]any{
			{"ptype": "p", "values": []string{"editor", "/docs/*", "GET"}},
			{"ptype": "g", "values": []string{"user:5", "editor"}},
		}}
		if m := a.want(a.do("POST", "/admin/policies", root, many), 201); m["changed"] != float64(2) {
			t.Errorf("add many: %v", m)
		}
		m = a.want(a.do("GET", "/admin/policies?ptype=p&v0=user", root, nil), 200)
		rules = m["rules"].([]any)
		if len(rules) != 1 {
			t.Fatalf("filtered: %v", m)
		}
		granted := rules[0].(map[string]any)
		if granted["created_by"] != by || granted["updated_by"] != by {
			t.Errorf("granted rule %v, want created and updated by %s", granted, by)
		}
		if m := a.want(a.do("GET", "/admin/policies?ptype=g", root, nil), 200); len(m["rules"].([]any)) != 1 {
			t.Errorf("g rules %v", m)
		}
		if m := a.want(a.do("GET", "/admin/policies?v1=/docs/*", root, nil), 200); len(m["rules"].([]any)) != 1 {
			t.Errorf("by v1 %v", m)
		}

		// Deactivate it by id: kept, with its history; bob is refused at once.
		id := granted["id"].(float64)
		m = a.want(a.do("DELETE", "/admin/policies", root, map[string]any{"id": id}), 200)
		if m["id"] != id || m["is_active"] != false || m["updated_by"] != by {
			t.Errorf("deactivated: %v", m)
		}
		a.want(a.do("GET", "/admin/audit", bob, nil), 403)
		if m := a.want(a.do("GET", "/admin/policies?v0=user", root, nil), 200); len(m["rules"].([]any)) != 0 {
			t.Errorf("active rules of user after deactivation: %v", m)
		}
		if m := a.want(a.do("GET", "/admin/policies?v0=user&inactive=true", root, nil), 200); len(m["rules"].([]any)) != 1 {
			t.Errorf("with inactive: %v", m)
		}
		// Adding it again reactivates it; removing it by values deletes it.
		a.want(a.do("POST", "/admin/policies", root, grant), 201)
		a.want(a.do("GET", "/admin/audit", bob, nil), 200)
		if m := a.want(a.do("DELETE", "/admin/policies", root, grant), 200); m["removed"] != float64(1) {
			t.Errorf("remove: %v", m)
		}
		a.want(a.do("GET", "/admin/audit", bob, nil), 403)
		if m := a.want(a.do("DELETE", "/admin/policies", root, grant), 200); m["removed"] != float64(0) {
			t.Errorf("remove again: %v", m)
		}

		changes := a.events(audit.PolicyChanged)
		if len(changes) < 5 {
			t.Fatalf("%d policy_changed events", len(changes))
		}
		for _, e := range changes[1:] { // the first is the seed's, by "bootstrap"
			if e.Data["by"] != by || e.UserID == nil || *e.UserID != rootID {
				t.Errorf("policy_changed %v: user %v, want by %s", e.Data, e.UserID, by)
			}
		}

		for _, c := range []struct {
			method string
			body   any
			status int
			typ    string
		}{
			{"POST", map[string]any{"ptype": "P", "values": []string{"x", "/y", "GET"}}, 422, authhttp.TypeInvalidRule},
			{"POST", map[string]any{"ptype": "p", "values": []string{"x", "/y", "GET", "extra"}}, 422, authhttp.TypeInvalidRule},
			{"POST", map[string]any{"ptype": "p", "values": []string{"x", "/y(", "GET"}}, 422, authhttp.TypeInvalidRule},
			{"POST", map[string]any{"ptype": "p", "values": []string{"x", "/y", "GE\u0007T"}}, 422, authhttp.TypeInvalidRule},
			{"POST", map[string]any{"rules": []map[string]any{{"ptype": "p", "values": []string{"ok", "/ok", "GET"}}, {"ptype": "p"}}}, 422, authhttp.TypeInvalidRule},
			{"POST", map[string]any{"ptype": "p", "values": []string{"a", "/b", "GET"}, "rules": []any{}}, 400, authhttp.TypeMalformedRequest},
			{"POST", map[string]any{}, 400, authhttp.TypeMalformedRequest},
			{"POST", map[string]any{"ptype": "p", "values": "x"}, 400, authhttp.TypeMalformedRequest},
			{"DELETE", map[string]any{"id": 999999}, 404, "about:blank"},
			{"DELETE", map[string]any{"id": -1}, 404, "about:blank"},
			{"DELETE", map[string]any{"id": 1, "ptype": "p"}, 400, authhttp.TypeMalformedRequest},
			{"DELETE", map[string]any{}, 400, authhttp.TypeMalformedRequest},
			{"DELETE", map[string]any{"ptype": "p", "values": []string{}}, 422, authhttp.TypeInvalidRule},
		} {
			r := a.do(c.method, "/admin/policies", root, c.body)
			m := a.want(r, c.status)
			if m["type"] != c.typ {
				t.Errorf("%s %v: %v", c.method, c.body, m)
			}
			if strings.Contains(string(r.body), "/y(") || strings.Contains(string(r.body), "extra") {
				t.Errorf("%s %v: the problem quotes the rule: %s", c.method, c.body, r.body)
			}
		}
		// Nothing of the refused batch was added.
		if m := a.want(a.do("GET", "/admin/policies?v0=ok", root, nil), 200); len(m["rules"].([]any)) != 0 {
			t.Errorf("a refused batch added %v", m)
		}
		for _, q := range []string{"inactive=maybe", "v6=x", "ptype=p&ptype=g"} {
			a.want(a.do("GET", "/admin/policies?"+q, root, nil), 400)
		}
	})
}
