package rbac_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/testkit"
	"github.com/cedrina/cedrina/rbac"
	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/user"
)

var t0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

func rule(typ string, v ...string) rbac.Rule { return rbac.Rule{Type: typ, Values: v} }

// matrixRules: admin > editor > user, and user 7 (role USER) also holds
// editor.
var matrixRules = []rbac.Rule{
	rule("p", "admin", "/admin/*", "*"),
	rule("p", "user", "/me", "GET"),
	rule("p", "user", "/docs/:id", "GET"),
	rule("p", "editor", "/docs/:id", "PUT"),
	rule("g", "admin", "editor"),
	rule("g", "editor", "user"),
	rule("g", "user:7", "editor"),
}

func newAuthorizer(t *testing.T, st rbac.Store, cfg rbac.Config) *rbac.Authorizer {
	t.Helper()
	cfg.Store = st
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return t0 }
	}
	a, err := rbac.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := a.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return a
}

// TestMatrix checks every role x action x resource, the negative cases
// included: exactly the listed triples are allowed.
func TestMatrix(t *testing.T) {
	ctx := context.Background()
	a := newAuthorizer(t, rbac.NewMemoryStore(), rbac.Config{})
	if n, err := a.AddRules(ctx, matrixRules...); err != nil || n != len(matrixRules) {
		t.Fatalf("AddRules = %d, %v", n, err)
	}
	allowed := map[string]bool{
		// admin's "*" action on /admin/* is any action, even "get" and "*".
		"admin GET /admin/users": true, "admin PUT /admin/users": true, "admin DELETE /admin/users": true,
		"admin get /admin/users": true, "admin * /admin/users": true,
		"admin GET /me": true, "admin GET /docs/1": true, "admin PUT /docs/1": true,
		"editor GET /me": true, "editor GET /docs/1": true, "editor PUT /docs/1": true,
		"user GET /me": true, "user GET /docs/1": true,
		"user:7 GET /me": true, "user:7 GET /docs/1": true, "user:7 PUT /docs/1": true,
	}
	subjects := []string{"admin", "editor", "user", "user:7", "user:8", "guest", "", "ADMIN", "admin "}
	actions := []string{"GET", "PUT", "DELETE", "get", "*"}
	resources := []string{"/admin/users", "/admin", "/me", "/me/", "/docs/1", "/docs/1/raw", "/docs/", "/other", "", "/ADMIN/users"}
	n := 0
	for _, s := range subjects {
		for _, act := range actions {
			for _, obj := range resources {
				want := allowed[s+" "+act+" "+obj]
				if got := a.Allowed(ctx, s, obj, act); got != want {
					t.Errorf("Allowed(%q, %q, %q) = %v, want %v", s, obj, act, got, want)
				}
				n++
			}
		}
	}
	if n != 450 {
		t.Fatalf("%d cases", n)
	}
	// A request the model cannot take is denied.
	if a.Allowed(ctx, "admin", "/admin/users", "GET", "extra") {
		t.Error("an attribute the rbac model does not take was accepted")
	}
}

func TestAllowedPrincipal(t *testing.T) {
	ctx := context.Background()
	a := newAuthorizer(t, rbac.NewMemoryStore(), rbac.Config{})
	if _, err := a.AddRules(ctx, matrixRules...); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p    *session.Principal
		act  string
		want bool
	}{
		{&session.Principal{UserID: 1, Role: user.RoleAdmin}, "PUT", true}, // ADMIN checks as admin
		{&session.Principal{UserID: 2, Role: user.RoleUser}, "PUT", false}, // user may only read
		{&session.Principal{UserID: 7, Role: user.RoleUser}, "PUT", true},  // user 7 also holds editor
		{&session.Principal{UserID: 2, Role: user.RoleUser}, "GET", true},  //
		{&session.Principal{UserID: 3, Role: user.Role("GUEST")}, "GET", false},
		{nil, "GET", false},
	} {
		if got := a.AllowedPrincipal(ctx, tc.p, "/docs/9", tc.act); got != tc.want {
			t.Errorf("AllowedPrincipal(%+v, %s) = %v, want %v", tc.p, tc.act, got, tc.want)
		}
	}
	if rbac.Subject(user.RoleAdmin) != "admin" || rbac.UserSubject(42) != "user:42" {
		t.Fatal("subjects spelled wrong")
	}
}

// TestRevocationIsImmediate: every kind of change is enforced on the very
// next check of the Authorizer that made it.
func TestRevocationIsImmediate(t *testing.T) {
	ctx := context.Background()
	a := newAuthorizer(t, rbac.NewMemoryStore(), rbac.Config{})
	if _, err := a.AddRules(ctx, matrixRules...); err != nil {
		t.Fatal(err)
	}
	check := func(step, sub, obj, act string, want bool) {
		t.Helper()
		if got := a.Allowed(ctx, sub, obj, act); got != want {
			t.Fatalf("%s: Allowed(%s, %s, %s) = %v, want %v", step, sub, obj, act, got, want)
		}
	}
	check("start", "user", "/me", "GET", true)
	if ok, err := a.Revoke(ctx, "user", "/me", "GET"); !ok || err != nil {
		t.Fatalf("Revoke = %v, %v", ok, err)
	}
	check("revoked", "user", "/me", "GET", false)
	check("revoked, inherited", "admin", "/me", "GET", false)
	if ok, err := a.Revoke(ctx, "user", "/me", "GET"); ok || err != nil {
		t.Fatalf("second Revoke = %v, %v; want false, nil", ok, err)
	}
	if ok, err := a.Grant(ctx, "user", "/me", "GET"); !ok || err != nil {
		t.Fatalf("Grant = %v, %v", ok, err)
	}
	check("granted again", "admin", "/me", "GET", true)
	if ok, err := a.RemoveRole(ctx, "admin", "editor"); !ok || err != nil {
		t.Fatalf("RemoveRole = %v, %v", ok, err)
	}
	check("role link removed", "admin", "/docs/1", "PUT", false)
	check("role link removed, own rule", "admin", "/admin/x", "GET", true)
	if ok, err := a.AddRole(ctx, "admin", "editor"); !ok || err != nil {
		t.Fatalf("AddRole = %v, %v", ok, err)
	}
	check("role link back", "admin", "/docs/1", "PUT", true)

	rules, err := a.Rules(ctx, rbac.Filter{Type: "p", Values: []string{"admin"}})
	if err != nil || len(rules) != 1 {
		t.Fatalf("Rules = %v, %v", rules, err)
	}
	off, err := a.SetRuleActive(ctx, rules[0].ID, false)
	if err != nil || off.Active {
		t.Fatalf("SetRuleActive(false) = %+v, %v", off, err)
	}
	check("deactivated", "admin", "/admin/x", "GET", false)
	kept, _ := a.Rules(ctx, rbac.Filter{Type: "p", Values: []string{"admin"}, Inactive: true})
	if len(kept) != 1 || kept[0].Active {
		t.Fatalf("deactivated rule not kept: %+v", kept)
	}
	if _, err := a.SetRuleActive(ctx, rules[0].ID, true); err != nil {
		t.Fatal(err)
	}
	check("reactivated", "admin", "/admin/x", "GET", true)
	if _, err := a.SetRuleActive(ctx, 999999, false); !errors.Is(err, rbac.ErrNotFound) {
		t.Fatalf("SetRuleActive(unknown) = %v, want ErrNotFound", err)
	}
}

// TestSecondAuthorizer: a change through one Authorizer reaches another
// on the same store through its watcher.
func TestSecondAuthorizer(t *testing.T) {
	ctx := context.Background()
	st := rbac.NewMemoryStore()
	a := newAuthorizer(t, st, rbac.Config{})
	b := newAuthorizer(t, st, rbac.Config{})
	if _, err := a.AddRules(ctx, matrixRules...); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool { return b.Allowed(ctx, "admin", "/me", "GET") })
	if _, err := a.Revoke(ctx, "user", "/me", "GET"); err != nil {
		t.Fatal(err)
	}
	if a.Allowed(ctx, "admin", "/me", "GET") {
		t.Fatal("the changing Authorizer still allows")
	}
	eventually(t, func() bool { return !b.Allowed(ctx, "admin", "/me", "GET") })
}

// eventually polls cond until it holds, failing after 5 s: it waits for
// another goroutine's reload, yielding to it, and never sleeps.
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5 s")
		}
		runtime.Gosched()
	}
}

// failingStore fails its reads while fail is set.
type failingStore struct {
	rbac.Store
	mu   sync.Mutex
	fail bool
}

func (f *failingStore) set(v bool) { f.mu.Lock(); f.fail = v; f.mu.Unlock() }

func (f *failingStore) Rules(ctx context.Context, fl rbac.Filter) ([]rbac.Rule, error) {
	f.mu.Lock()
	fail := f.fail
	f.mu.Unlock()
	if fail {
		return nil, errors.New("database down")
	}
	return f.Store.Rules(ctx, fl)
}

func TestFailClosed(t *testing.T) {
	ctx := context.Background()
	st := &failingStore{Store: rbac.NewMemoryStore(), fail: true}
	if _, err := rbac.New(ctx, rbac.Config{Store: st}); err == nil {
		t.Fatal("New succeeded without its rules")
	}
	st.set(false)
	rec := &testkit.Events{}
	a := newAuthorizer(t, st, rbac.Config{Recorder: rec, Watcher: noWatcher{}, RetryInterval: time.Hour})
	if _, err := a.AddRules(ctx, matrixRules...); err != nil {
		t.Fatal(err)
	}
	if !a.Allowed(ctx, "admin", "/admin/x", "GET") || a.Err() != nil {
		t.Fatal("not allowed while loaded")
	}
	st.set(true)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := a.Reload(cancelled); err == nil || !a.Allowed(ctx, "admin", "/admin/x", "GET") {
		t.Fatalf("a cancelled Reload = %v; it must fail and leave the policy as it was", err)
	}
	if err := a.Reload(ctx); err == nil {
		t.Fatal("Reload succeeded on a failing store")
	}
	if a.Allowed(ctx, "admin", "/admin/x", "GET") {
		t.Fatal("allowed after a failed reload: must fail closed")
	}
	if err := a.Err(); !errors.Is(err, rbac.ErrNotLoaded) {
		t.Fatalf("Err = %v, want ErrNotLoaded", err)
	}
	if _, err := a.Grant(ctx, "user", "/x", "GET"); err == nil || !strings.Contains(err.Error(), "stored") {
		t.Fatalf("Grant while reloads fail = %v; want the change stored and the reload's failure", err)
	}
	den := rec.Of(audit.AuthorizationDenied)
	if len(den) == 0 || den[len(den)-1].Data["reason"] != "policy_not_loaded" {
		t.Fatalf("denial events %+v", den)
	}
	st.set(false)
	if err := a.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if !a.Allowed(ctx, "admin", "/admin/x", "GET") || !a.Allowed(ctx, "user", "/x", "GET") {
		t.Fatal("not allowed after recovery")
	}
}

type noWatcher struct{}

func (noWatcher) Subscribe(func()) func() { return func() {} }

func TestAudit(t *testing.T) {
	rec := &testkit.Events{}
	a := newAuthorizer(t, rbac.NewMemoryStore(), rbac.Config{Recorder: rec})
	ctx := audit.ContextWithActor(context.Background(), audit.Actor{UserID: 42})
	if _, err := a.Grant(ctx, "user", "/me", "GET"); err != nil {
		t.Fatal(err)
	}
	rules, _ := a.Rules(ctx, rbac.Filter{})
	if len(rules) != 1 || rules[0].CreatedBy != "42" || rules[0].UpdatedBy != "42" {
		t.Fatalf("rules %+v; want created_by and updated_by 42", rules)
	}
	pc := rec.Of(audit.PolicyChanged)
	if len(pc) != 1 || pc[0].UserID == nil || *pc[0].UserID != 42 || pc[0].Data["by"] != "42" ||
		pc[0].Data["operation"] != "add" || !slices.Equal(pc[0].Data["rules"].([]string), []string{"p, user, /me, GET"}) {
		t.Fatalf("policy_changed %+v", pc)
	}
	// A change that changes nothing records nothing.
	if _, err := a.Grant(ctx, "user", "/me", "GET"); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Of(audit.PolicyChanged)); n != 1 {
		t.Fatalf("%d policy_changed events after a no-op grant", n)
	}
	pctx := session.ContextWithPrincipal(context.Background(), &session.Principal{UserID: 9, Role: user.RoleUser})
	if a.Allowed(pctx, "user", "/admin", "GET") {
		t.Fatal("allowed")
	}
	den := rec.Of(audit.AuthorizationDenied)
	if len(den) != 1 || *den[0].UserID != 9 || den[0].Data["object"] != "/admin" || den[0].Severity != audit.Warning {
		t.Fatalf("authorization_denied %+v", den)
	}
	// An actor that created_by cannot hold is refused before anything is written.
	long := audit.ContextWithActor(context.Background(), audit.Actor{Name: strings.Repeat("x", rbac.MaxActorLen+1)})
	if _, err := a.Grant(long, "user", "/y", "GET"); !errors.Is(err, rbac.ErrInvalidRule) {
		t.Fatalf("over-long actor: %v", err)
	}
}

func TestInvalidRules(t *testing.T) {
	ctx := context.Background()
	a := newAuthorizer(t, rbac.NewMemoryStore(), rbac.Config{})
	for name, r := range map[string]rbac.Rule{
		"empty":             {},
		"no values":         rule("p"),
		"bad type":          rule("P", "a", "/b", "GET"),
		"type not in model": rule("g2", "a", "b"),
		"too many values":   rule("p", "a", "/b", "GET", "x"),
		"empty subject":     rule("p", "", "/b", "GET"),
		"bad pattern":       rule("p", "a", "/b(", "GET"),
		"NUL":               rule("p", "a", "/b\x00", "GET"),
		"invalid UTF-8":     rule("p", "a", "/b\xff", "GET"),
		"newline":           rule("p", "a\nforged", "/b", "GET"),
		"huge":              rule("p", "a", "/"+strings.Repeat("b", rbac.MaxValueLen), "GET"),
		"short role link":   rule("g", "a"),
		"long role link":    rule("g", "a", "b", "c"),
	} {
		if _, err := a.AddRules(ctx, rule("p", "ok", "/ok", "GET"), r); !errors.Is(err, rbac.ErrInvalidRule) {
			t.Errorf("%s: AddRules = %v, want ErrInvalidRule", name, err)
		}
	}
	if rules, _ := a.Rules(ctx, rbac.Filter{Inactive: true}); len(rules) != 0 {
		t.Fatalf("a refused batch stored %v", rules)
	}
	// SQL metacharacters and look-alikes are just values.
	sneaky := rule("p", "admin'; DROP TABLE casbin_rules; --", "/\u0430dmin/*", "GET") // Cyrillic a
	if _, err := a.AddRules(ctx, sneaky); err != nil {
		t.Fatal(err)
	}
	if a.Allowed(ctx, "admin", "/admin/x", "GET") || !a.Allowed(ctx, sneaky.Values[0], "/\u0430dmin/x", "GET") {
		t.Fatal("a look-alike matched, or a stored value did not")
	}
}

func TestModels(t *testing.T) {
	ctx := context.Background()
	t.Run("domains", func(t *testing.T) {
		a := newAuthorizer(t, rbac.NewMemoryStore(), rbac.Config{Model: rbac.Domains()})
		if _, err := a.Grant(ctx, "owner", "/projects/*", "*", "acme"); err != nil {
			t.Fatal(err)
		}
		if _, err := a.AddRole(ctx, "user:42", "owner", "acme"); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			dom  string
			want bool
		}{{"acme", true}, {"globex", false}, {"", false}} {
			if got := a.Allowed(ctx, "user:42", "/projects/7", "DELETE", tc.dom); got != tc.want {
				t.Errorf("domain %q: %v, want %v", tc.dom, got, tc.want)
			}
		}
		if a.Allowed(ctx, "user:42", "/projects/7", "DELETE") {
			t.Error("allowed without a domain")
		}
	})
	t.Run("attributes", func(t *testing.T) {
		a := newAuthorizer(t, rbac.NewMemoryStore(), rbac.Config{Model: rbac.Attributes()})
		if _, err := a.Grant(ctx, "analyst", "/reports", "GET", "finance", "*", "business_hours"); err != nil {
			t.Fatal(err)
		}
		if _, err := a.AddRole(ctx, "admin", "analyst"); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			sub   string
			attrs []string
			want  bool
		}{
			{"analyst", []string{"finance", "eu", "business_hours"}, true},
			{"admin", []string{"finance", "us", "business_hours"}, true},
			{"analyst", []string{"sales", "eu", "business_hours"}, false},
			{"analyst", []string{"finance", "eu", "night"}, false},
			{"analyst", []string{"finance"}, false}, // time of day defaults to *, which the rule does not match
			{"analyst", []string{"*", "*", "*"}, false},
			{"analyst", []string{"finance", "eu", "business_hours", "x"}, false},
		} {
			if got := a.Allowed(ctx, tc.sub, "/reports", "GET", tc.attrs...); got != tc.want {
				t.Errorf("%s %q: %v, want %v", tc.sub, tc.attrs, got, tc.want)
			}
		}
	})
	t.Run("custom", func(t *testing.T) {
		m, err := rbac.ParseModel(`
[request_definition]
r = sub, obj, act
[policy_definition]
p = sub, obj, act
[policy_effect]
e = some(where (p.eft == allow))
[matchers]
m = r.sub == p.sub && globMatch(r.obj, p.obj) && r.act == p.act
`)
		if err != nil {
			t.Fatal(err)
		}
		a := newAuthorizer(t, rbac.NewMemoryStore(), rbac.Config{Model: m})
		if _, err := a.Grant(ctx, "bot", "/feeds/*", "GET"); err != nil {
			t.Fatal(err)
		}
		if !a.Allowed(ctx, "bot", "/feeds/1", "GET") || a.Allowed(ctx, "bot", "/feeds/1", "POST") {
			t.Fatal("custom model decided wrong")
		}
		if _, err := a.Revoke(ctx, "bot", "/feeds/*", "GET"); err != nil {
			t.Fatal(err)
		}
		if a.Allowed(ctx, "bot", "/feeds/1", "GET") {
			t.Fatal("custom model stale after a revocation")
		}
	})
	if _, err := rbac.ParseModel("[matchers]\nm = ("); err == nil {
		t.Error("a broken model was accepted")
	}
}

func TestRequire(t *testing.T) {
	ctx := context.Background()
	rec := &testkit.Events{}
	a := newAuthorizer(t, rbac.NewMemoryStore(), rbac.Config{Recorder: rec})
	if _, err := a.AddRules(ctx, matrixRules...); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Grant(ctx, "user", "/reports/:year/*", "GET"); err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux := http.NewServeMux()
	mux.Handle("/admin/users/{id}", a.Require("", "")(ok))
	mux.Handle("GET /reports/{year}/{rest...}", a.Require("", "")(ok))
	mux.Handle("GET /docs/{id}", a.Require("/docs/:id", "PUT")(ok)) // fixed object and action
	for _, tc := range []struct {
		p            *session.Principal
		method, path string
		want         int
	}{
		{&session.Principal{UserID: 1, Role: user.RoleAdmin}, "GET", "/admin/users/5", 204},
		{&session.Principal{UserID: 2, Role: user.RoleUser}, "GET", "/admin/users/5", 403},
		{&session.Principal{UserID: 2, Role: user.RoleUser}, "GET", "/reports/2026/q1/x", 204},
		{&session.Principal{UserID: 2, Role: user.RoleUser}, "HEAD", "/reports/2026/q1/x", 204}, // checked as GET
		{&session.Principal{UserID: 2, Role: user.RoleUser}, "GET", "/docs/3", 403},
		{&session.Principal{UserID: 7, Role: user.RoleUser}, "GET", "/docs/3", 204},
		{nil, "GET", "/admin/users/5", 401},
	} {
		req := httptest.NewRequest(tc.method, tc.path, nil)
		if tc.p != nil {
			req = req.WithContext(session.ContextWithPrincipal(req.Context(), tc.p))
		}
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		if w.Code != tc.want {
			t.Errorf("%v %s %s: %d, want %d", tc.p, tc.method, tc.path, w.Code, tc.want)
			continue
		}
		if tc.want >= 400 {
			var body map[string]any
			if w.Header().Get("Content-Type") != "application/problem+json" || json.Unmarshal(w.Body.Bytes(), &body) != nil ||
				body["status"] != float64(tc.want) || w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("%s: refusal %q %q", tc.path, w.Header(), w.Body)
			}
		}
	}
	den := rec.Of(audit.AuthorizationDenied)
	if len(den) != 2 || den[0].Data["object"] != "/admin/users/:id" || den[0].Data["action"] != "GET" {
		t.Fatalf("denials %+v", den)
	}
}

func TestRouteObject(t *testing.T) {
	for pattern, want := range map[string]string{
		"":                             "",
		"/me":                          "/me",
		"GET /me":                      "/me",
		"GET example.com/me/{id}":      "/me/:id",
		"DELETE /admin/users/{id}":     "/admin/users/:id",
		"/files/{path...}":             "/files/*",
		"GET /{$}":                     "/",
		"GET /a/{x}/b/{y}":             "/a/:x/b/:y",
		"POST  /admin/users/{id}/role": "/admin/users/:id/role",
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Pattern = pattern
		if got := rbac.RouteObject(r); got != want {
			t.Errorf("RouteObject(%q) = %q, want %q", pattern, got, want)
		}
	}
}

// TestConcurrentGrants: 50 goroutines grant one permission at once while
// others check; exactly one grant adds it, all see it afterwards, and 50
// concurrent revocations remove it exactly once.
func TestConcurrentGrants(t *testing.T) {
	ctx := context.Background()
	a := newAuthorizer(t, rbac.NewMemoryStore(), rbac.Config{})
	const n = 50
	run := func(f func() (bool, error)) int {
		var wg sync.WaitGroup
		var mu sync.Mutex
		changed := 0
		start := make(chan struct{})
		for range n {
			wg.Go(func() {
				<-start
				ok, err := f()
				if err != nil {
					t.Error(err)
				}
				a.Allowed(ctx, "user", "/x", "GET") // races the rebuilds
				if ok {
					mu.Lock()
					changed++
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		return changed
	}
	if c := run(func() (bool, error) { return a.Grant(ctx, "user", "/x", "GET") }); c != 1 {
		t.Fatalf("%d grants added the rule, want 1", c)
	}
	if !a.Allowed(ctx, "user", "/x", "GET") {
		t.Fatal("not allowed after the grants")
	}
	if c := run(func() (bool, error) { return a.Revoke(ctx, "user", "/x", "GET") }); c != 1 {
		t.Fatalf("%d revocations removed the rule, want 1", c)
	}
	if a.Allowed(ctx, "user", "/x", "GET") {
		t.Fatal("allowed after the revocations")
	}
	if rules, _ := a.Rules(ctx, rbac.Filter{Inactive: true}); len(rules) != 0 {
		t.Fatalf("rules left: %v", rules)
	}
}
