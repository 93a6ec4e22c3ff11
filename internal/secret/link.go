package secret

import (
	"errors"
	"fmt"
	"net/url"
)

// ParseBase checks the base URL links are built from: absolute, http or
// https, with a host, without user info or a fragment.
func ParseBase(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("empty")
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%q is not a URL", s)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%q is not an absolute http or https URL", s)
	case u.Host == "":
		return nil, fmt.Errorf("%q has no host", s)
	case u.User != nil:
		return nil, fmt.Errorf("%q carries user info", s)
	case u.Fragment != "" || u.RawFragment != "":
		return nil, fmt.Errorf("%q has a fragment", s)
	case u.Query().Has("token"):
		return nil, fmt.Errorf("%q has a token parameter already", s)
	}
	return u, nil
}

// Link returns base with token as its "token" query parameter; base's
// other parameters are kept.
func Link(base *url.URL, token string) string {
	u := *base
	q := u.Query()
	q.Set("token", token)
	u.RawQuery = q.Encode()
	return u.String()
}
