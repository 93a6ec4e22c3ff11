package rbac

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/casbin/casbin/v2/util"
)

// FuzzPattern checks a compiled object pattern against Casbin's own
// keyMatch2 on any pattern and path: where the pattern compiles, both
// decide alike; where it does not, Casbin fails too (it panics).
func FuzzPattern(f *testing.F) {
	for _, s := range [][2]string{
		{"/a/:id", "/a/1"}, {"/a/*", "/a/b/c"}, {"/a.b", "/aXb"}, {"/x|y", "/y"}, {"/:x.json", "/1.json"},
		{"/a(", "/a"}, {"", ""}, {"/caf\u00e9/*", "/caf\u00e9/1"}, {"/a/b*", "/a/bbb"}, {"^$", ""}, {"/\x00", "/\x00"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, path string) {
		re, err := compilePattern(pattern)
		want, casbinErr := keyMatch2(path, pattern)
		if err != nil {
			if casbinErr == nil {
				t.Fatalf("pattern %q refused (%v), Casbin takes it", pattern, err)
			}
			return
		}
		if casbinErr != nil {
			t.Fatalf("pattern %q taken, Casbin fails: %v", pattern, casbinErr)
		}
		got := path == pattern
		if re != nil {
			prefix, _ := re.LiteralPrefix()
			got = strings.HasPrefix(path, prefix) && re.MatchString(path)
		}
		if got != want {
			t.Fatalf("pattern %q, path %q: %v, Casbin %v", pattern, path, got, want)
		}
	})
}

func keyMatch2(path, pattern string) (ok bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return util.KeyMatch2(path, pattern), nil
}

// FuzzRule: validation never panics, and what it accepts is what the
// table can hold.
func FuzzRule(f *testing.F) {
	f.Add("p", "admin", "/admin/*", "GET")
	f.Add("g", "user:1", "", "x")
	f.Add("P", "a\x00", "\xff", strings.Repeat("a", 300))
	f.Fuzz(func(t *testing.T, typ, v0, v1, v2 string) {
		r, err := NewRule(typ, v0, v1, v2)
		if err != nil {
			return
		}
		if len(r.Type) > MaxTypeLen || len(r.Values) == 0 || len(r.Values) > 3 || r.Values[len(r.Values)-1] == "" {
			t.Fatalf("accepted %+v", r)
		}
		for _, v := range r.Values {
			if len(v) > MaxValueLen || !utf8.ValidString(v) || strings.ContainsAny(v, "\x00\n\r") {
				t.Fatalf("accepted value %q", v)
			}
		}
		_ = RBAC().CheckRule(r)
	})
}

// FuzzRouteObject: never panics, and a wildcard never survives.
func FuzzRouteObject(f *testing.F) {
	for _, p := range []string{"GET /a/{id}", "/{x...}", "GET {", "/a/{$}", "POST host/{a}/{b}"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, pattern string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Pattern = pattern
		obj := RouteObject(r)
		if strings.Count(pattern, "{") == strings.Count(pattern, "}") && !strings.Contains(pattern, "}{") &&
			strings.Count(pattern, "{") == 1 && strings.Index(pattern, "{") < strings.Index(pattern, "}") && strings.Contains(obj, "{") {
			t.Fatalf("RouteObject(%q) = %q kept a wildcard", pattern, obj)
		}
	})
}
