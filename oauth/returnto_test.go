package oauth

import (
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cedrina/cedrina/user"
)

var testRules = []string{"https://app.example.com/after-login", "https://app.example.com/app/", "/account", "/docs/"}

func TestReturnTo(t *testing.T) {
	rules, err := parseReturnRules(testRules)
	if err != nil {
		t.Fatal(err)
	}
	allowed := []string{
		"https://app.example.com/after-login",
		"https://APP.example.com/after-login",
		"https://app.example.com/after-login#tab",
		"https://app.example.com/app/",
		"https://app.example.com/app/settings?x=1",
		"/account",
		"/docs/guide",
	}
	refused := []string{
		"",
		"https://evil.example",
		"https://evil.example/app/",
		"//evil.example/app/",
		"/\\evil.example",
		"\\\\evil.example",
		"https://app.example.com@evil.example/app/",
		"https://app.example.com.evil.example/app/",
		"https://app.example.com:444/app/",
		"http://app.example.com/app/",
		"https:/app.example.com/app/",
		"https:app.example.com/app/",
		"HTTPS://app.example.com/app/",
		"javascript:alert(1)",
		"data:text/html,<script>",
		"https://app.example.com/after-login/x",
		"https://app.example.com/after-login?next=https://evil.example",
		"https://app.example.com/app",
		"https://app.example.com/app/../admin",
		"https://app.example.com/app/%2e%2e/admin",
		"https://app.example.com/app/%2F%2Fevil.example",
		"https://app.example.com/app/%5cevil",
		"/account/../admin",
		"/accounts",
		"/docs",
		"/docs/\t/evil",
		"/docs/\x00",
		"/docs/\n",
		"/docs/ x",
		"/docs/\xff",
		"/docs/\u2028",
		"https://app.example.com/app/" + strings.Repeat("a", maxReturnTo),
		"app.example.com/app/",
		"%2F%2Fevil.example",
	}
	for _, s := range allowed {
		if !allowReturnTo(rules, s) {
			t.Errorf("refused %q", s)
		}
	}
	for _, s := range refused {
		if allowReturnTo(rules, s) {
			t.Errorf("allowed %q", s)
		}
	}
}

func TestReturnToRules(t *testing.T) {
	for _, bad := range []string{"evil.example", "//evil.example", "ftp://x.example/", "https://u@x.example/", "/a/../b", ""} {
		if _, err := parseReturnRules([]string{bad}); err == nil {
			t.Errorf("rule %q accepted", bad)
		}
	}
}

// FuzzReturnTo checks that whatever return_to is allowed leads to an
// allowlisted host, or is a path on the site's own host as every URL
// parser reads it.
func FuzzReturnTo(f *testing.F) {
	rules, err := parseReturnRules(testRules)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"/account", "//evil", "/\\evil", "https://app.example.com/app/x", "https://app.example.com@evil/app/", "/docs/%2e%2e/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !allowReturnTo(rules, s) {
			return
		}
		u, err := url.Parse(s)
		if err != nil {
			t.Fatalf("allowed %q, which does not parse", s)
		}
		switch {
		case u.Host == "":
			if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.ContainsAny(s, "\\\t\r\n") {
				t.Fatalf("allowed path %q could leave the site", s)
			}
		case !strings.EqualFold(u.Host, "app.example.com") || u.Scheme != "https" || u.User != nil:
			t.Fatalf("allowed %q: host %q", s, u.Host)
		}
		if strings.Contains(u.Path, "..") && (strings.Contains(u.Path, "/../") || strings.HasSuffix(u.Path, "/..")) {
			t.Fatalf("allowed %q with a dot segment", s)
		}
	})
}

func TestDeriveUsername(t *testing.T) {
	cases := []struct {
		id   Identity
		want string
	}{
		{Identity{Username: "Octo-Cat"}, "octo-cat"},
		{Identity{Email: "jane.doe@example.com"}, "jane.doe"},
		{Identity{Name: "Jane Q. Public"}, "jane-q.-public"},
		{Identity{Username: "ab", Email: "x@example.com", Name: "Zoë Müller"}, "zoë-müller"},
		{Identity{Name: "Зоя"}, "зоя"},
		{Identity{Name: "pаypal"}, "pypal"}, // Cyrillic а in Latin: mixed scripts, ASCII kept
		{Identity{Name: "日本"}, "user"},      // two code points: too short
		{Identity{Username: "'; DROP TABLE users; --"}, "drop-table-users"},
		{Identity{Username: "a\x00b\x00c\x00d"}, "abcd"},
		{Identity{Username: "\xff\xfe"}, "user"},
		{Identity{}, "user"},
		{Identity{Username: strings.Repeat("long", 30)}, strings.Repeat("long", 10)},
	}
	for _, tc := range cases {
		if got := deriveUsername(&tc.id); got != tc.want {
			t.Errorf("deriveUsername(%+v) = %q; want %q", tc.id, got, tc.want)
		}
	}
	if c := usernameCandidate("jane", 3); !strings.HasPrefix(c, "jane-") || len(c) != len("jane-")+6 {
		t.Errorf("candidate %q", c)
	}
}

// FuzzDeriveUsername checks that every identity gives a valid username
// that still takes a suffix.
func FuzzDeriveUsername(f *testing.F) {
	f.Add("octocat", "jane@example.com", "Jane Doe")
	f.Add("", "", "")
	f.Add("a\u0301\u0301\u0301\u0301\u0301b", "\xff@x", "ǅ")
	f.Fuzz(func(t *testing.T, username, email, name string) {
		base := deriveUsername(&Identity{Username: username, Email: email, Name: name})
		for attempt := range 2 {
			c := usernameCandidate(base, attempt)
			if _, err := user.ParseUsername(c); err != nil {
				t.Fatalf("candidate %q of (%q, %q, %q): %v", c, username, email, name, err)
			}
			if utf8.RuneCountInString(c) > user.MaxUsernameLength {
				t.Fatalf("candidate %q too long", c)
			}
		}
	})
}
