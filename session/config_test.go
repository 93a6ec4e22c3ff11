package session_test

import (
	"testing"
	"time"

	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/store/memory"
)

// TestConfigErrorFormat: every refused setting reads "session:
// <Type>.<Field>: <problem>".
func TestConfigErrorFormat(t *testing.T) {
	keys := newKeys(t)
	st := memory.New().Sessions()
	ok := func() session.Config {
		return session.Config{Keys: keys, Issuer: "https://auth.test", Audience: []string{"api"}}
	}
	cases := []struct {
		edit func(*session.Config)
		want string
	}{
		{func(c *session.Config) { c.Keys = nil }, "session: Config.Keys: required"},
		{func(c *session.Config) { c.Issuer = "" }, "session: Config.Issuer: required"},
		{func(c *session.Config) { c.Audience = nil }, "session: Config.Audience: required"},
		{func(c *session.Config) { c.Audience = []string{"api", ""} }, "session: Config.Audience[1]: empty"},
		{func(c *session.Config) { c.Leeway = time.Minute }, "session: Config.Leeway: 1m0s is above 30s"},
		{func(c *session.Config) { c.AccessTTL = -time.Second }, "session: Config.AccessTTL: -1s is negative"},
		{func(c *session.Config) { c.AccessTTL = 8 * 24 * time.Hour },
			"session: Config.AccessTTL: 192h0m0s exceeds Config.AbsoluteTimeout (168h0m0s)"},
	}
	for _, c := range cases {
		cfg := ok()
		c.edit(&cfg)
		if _, err := session.NewService(st, cfg); err == nil || err.Error() != c.want {
			t.Errorf("got %v, want %q", err, c.want)
		}
	}
	if _, err := session.NewVerifier([]byte(`{"keys":[]}`), session.VerifierConfig{Audience: []string{"api"}}); err == nil ||
		err.Error() != "session: VerifierConfig.Issuer: required" {
		t.Errorf("NewVerifier: %v", err)
	}
}
