package main

import (
	"regexp"
	"strings"
	"testing"
)

var alnum = regexp.MustCompile(`^[A-Za-z0-9]{6,}$`)

// FuzzNewConnectorHidesPassword: whatever follows the password in a URL,
// a parse error never repeats the password.
func FuzzNewConnectorHidesPassword(f *testing.F) {
	for _, s := range [][2]string{
		{"hunter2secret", "db:notaport/app"},
		{"hunter2secret", "[::1/app"},
		{"hunter2secret", "db/app?sslmode=maybe"},
		{"hunter2secret", "db/app?connect_timeout=hunter2secret"},
		{"s3cretpw", "db/app?sslmode=%zz"},
		{"s3cretpw", "db:5432/app?application_name=x&port=abc"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, password, rest string) {
		// A password that also appears in the rest of the URL may be quoted
		// legitimately (as a port, a parameter value, ...).
		if !alnum.MatchString(password) || strings.Contains(rest, password) {
			t.Skip()
		}
		_, err := newConnector("postgres://admin:" + password + "@" + rest)
		if err != nil && strings.Contains(err.Error(), password) {
			t.Errorf("error shows the password %q: %v", password, err)
		}
	})
}
