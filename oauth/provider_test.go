package oauth

import (
	"testing"
)

func TestMicrosoftIssuer(t *testing.T) {
	const tid = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	iss := "https://login.microsoftonline.com/" + tid + "/v2.0"
	cases := []struct {
		tenant, iss, tid string
		ok               bool
	}{
		{"common", iss, tid, true},
		{"organizations", iss, tid, true},
		{"consumers", iss, tid, false},
		{"consumers", "https://login.microsoftonline.com/" + microsoftConsumers + "/v2.0", microsoftConsumers, true},
		{"organizations", "https://login.microsoftonline.com/" + microsoftConsumers + "/v2.0", microsoftConsumers, false},
		{"common", iss, "", false},
		{"common", iss, "another-tenant", false},
		{"common", "https://evil.example/" + tid + "/v2.0", tid, false},
		{"common", "https://login.microsoftonline.com/a/b/v2.0", "a/b", false},
		{"common", "https://login.microsoftonline.com/a?x/v2.0", "a?x", false},
	}
	for _, c := range cases {
		if got := microsoftIssuerOK(c.tenant, c.iss, c.tid); got != c.ok {
			t.Errorf("microsoftIssuerOK(%q, %q, %q) = %v", c.tenant, c.iss, c.tid, got)
		}
	}
}

func TestProviderConfigRefused(t *testing.T) {
	good := ProviderConfig{ClientID: "id", ClientSecret: "secret", RedirectURL: "https://app.example.com/auth/oauth/x/callback", Issuer: "https://idp.example"}
	if _, err := OIDC("acme", good); err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*ProviderConfig){
		"no client id":       func(c *ProviderConfig) { c.ClientID = "" },
		"no secret":          func(c *ProviderConfig) { c.ClientSecret = "" },
		"relative redirect":  func(c *ProviderConfig) { c.RedirectURL = "/callback" },
		"redirect fragment":  func(c *ProviderConfig) { c.RedirectURL = "https://app.example.com/cb#x" },
		"no issuer":          func(c *ProviderConfig) { c.Issuer = "" },
		"relative issuer":    func(c *ProviderConfig) { c.Issuer = "idp.example" },
		"no openid scope":    func(c *ProviderConfig) { c.Scopes = []string{"email"} },
		"HMAC algorithm":     func(c *ProviderConfig) { c.Algorithms = []string{"HS256"} },
		"unsigned algorithm": func(c *ProviderConfig) { c.Algorithms = []string{"none"} },
	} {
		c := good
		mutate(&c)
		if _, err := OIDC("acme", c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	for _, name := range []string{"", "ACME", "a b", "a/b", "ä", string(make([]byte, 51))} {
		if _, err := OIDC(name, good); err == nil {
			t.Errorf("name %q accepted", name)
		}
	}
	gh := good
	gh.APIURL = "not a url"
	if _, err := GitHub(gh); err == nil {
		t.Error("GitHub with a relative API URL accepted")
	}
	for _, mk := range []func(ProviderConfig) (*Provider, error){Google, Microsoft, Facebook, GitHub} {
		c := good
		c.Issuer = ""
		p, err := mk(c)
		if err != nil {
			t.Fatal(err)
		}
		if p.StoredName() != map[string]string{"google": "GOOGLE", "microsoft": "MICROSOFT", "facebook": "FACEBOOK", "github": "GITHUB"}[p.Name()] {
			t.Errorf("%s stored as %s", p.Name(), p.StoredName())
		}
	}
}
