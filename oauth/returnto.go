package oauth

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/cedrina/cedrina/internal/errs"
)

// returnRule is one allowlist entry: an absolute URL (scheme and host
// set) or a path on the host's own site; prefix when it ends in "/".
type returnRule struct {
	scheme, host string // "" for a path on the site itself
	path         string
	query        string
	prefix       bool
}

// maxReturnTo bounds a return_to value.
const maxReturnTo = 2048

func parseReturnRules(list []string) ([]returnRule, error) {
	rules := make([]returnRule, 0, len(list))
	for i, s := range list {
		u, err := parseReturnURL(s)
		if err != nil {
			return nil, errs.Configf("oauth", fmt.Sprintf("Config.ReturnTo[%d]", i), "%v", err)
		}
		rules = append(rules, returnRule{scheme: u.Scheme, host: strings.ToLower(u.Host), path: u.EscapedPath(), query: u.RawQuery,
			prefix: strings.HasSuffix(u.EscapedPath(), "/") && u.RawQuery == ""})
	}
	return rules, nil
}

// parseReturnURL parses s as an absolute http(s) URL or an absolute path,
// refusing what browsers and servers read differently: control
// characters and white space, backslashes, "//" at the start of a path,
// user info, dot segments, and encoded slashes, backslashes and dots.
func parseReturnURL(s string) (*url.URL, error) {
	if s == "" || len(s) > maxReturnTo || !utf8.ValidString(s) {
		return nil, fmt.Errorf("empty, over %d bytes, or not UTF-8", maxReturnTo)
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == '\\' || (r >= 0x80 && r <= 0x9f) || r == '\u2028' || r == '\u2029' {
			return nil, fmt.Errorf("contains white space, a control character or a backslash")
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("not a URL")
	}
	switch {
	case u.Opaque != "" || u.User != nil:
		return nil, fmt.Errorf("opaque or with user info")
	case u.Scheme == "" && u.Host == "":
		if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") {
			return nil, fmt.Errorf("a path must start with a single /")
		}
	case u.Scheme != "https" && u.Scheme != "http", u.Host == "", !strings.HasPrefix(s, u.Scheme+"://"):
		return nil, fmt.Errorf("not an http(s) URL with a host")
	}
	p := u.EscapedPath()
	if strings.HasPrefix(p, "//") {
		return nil, fmt.Errorf("path starts with //")
	}
	lp := strings.ToLower(p)
	if strings.Contains(lp, "%2f") || strings.Contains(lp, "%5c") || strings.Contains(lp, "%2e") {
		return nil, fmt.Errorf("encoded slash, backslash or dot in the path")
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "." || seg == ".." {
			return nil, fmt.Errorf("dot segment in the path")
		}
	}
	return u, nil
}

// allowReturnTo reports whether s matches an allowlist entry: the same
// scheme and host (or, for a path, none), and the same path and query,
// or, for an entry ending in "/", a path under it.
func allowReturnTo(rules []returnRule, s string) bool {
	u, err := parseReturnURL(s)
	if err != nil {
		return false
	}
	host, path := strings.ToLower(u.Host), u.EscapedPath()
	for _, r := range rules {
		if r.scheme != u.Scheme || r.host != host {
			continue
		}
		if r.prefix && strings.HasPrefix(path, r.path) {
			return true
		}
		if path == r.path && u.RawQuery == r.query {
			return true
		}
	}
	return false
}
