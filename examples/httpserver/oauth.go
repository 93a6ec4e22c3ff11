package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/cedrina/cedrina/authhttp"
	"github.com/cedrina/cedrina/oauth"
)

// The environment variables that hold the OAuth keys when their files are
// not given.
const (
	envOAuthTokenKeys = "CEDRINA_OAUTH_TOKEN_KEYS"
	envOAuthStateKey  = "CEDRINA_OAUTH_STATE_KEY"
)

// oauthFile is the --oauth-config file.
type oauthFile struct {
	Providers []providerFile `json:"providers"`
	// ReturnTo is the allowlist of return_to (oauth.Config.ReturnTo).
	ReturnTo        []string `json:"return_to"`
	DefaultReturnTo string   `json:"default_return_to"`
	// Callback is "token" (default) or "redirect" (authhttp.OAuthRedirect:
	// the session cookie and 303 to return_to).
	Callback string `json:"callback"`
}

// providerFile is one provider of the --oauth-config file: its name picks
// the constructor (google, microsoft, facebook, github; any other name is
// an OpenID Connect provider, which needs issuer).
type providerFile struct {
	Name         string   `json:"name"`
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret"`
	RedirectURL  string   `json:"redirect_url"`
	Issuer       string   `json:"issuer"`
	Tenant       string   `json:"tenant"`
	AuthURL      string   `json:"auth_url"`
	TokenURL     string   `json:"token_url"`
	APIURL       string   `json:"api_url"`
	Scopes       []string `json:"scopes"`
}

// oauthSettings is what the program needs to build the oauth service:
// the providers, the allowlist, the callback mode and the keys.
type oauthSettings struct {
	providers       []*oauth.Provider
	returnTo        []string
	defaultReturnTo string
	callback        authhttp.OAuthCallbackMode
	cipher          *oauth.Cipher
	// stateKey is nil without one: the service makes a random key.
	stateKey []byte
}

// loadOAuth reads the --oauth-config file and the keys: the token keys
// from --oauth-token-keys-file or $CEDRINA_OAUTH_TOKEN_KEYS (required),
// the state key from --oauth-state-key-file or $CEDRINA_OAUTH_STATE_KEY
// (optional: without it, a random key and a warning). Errors name the
// file or the variable, never a secret. It returns nil without
// --oauth-config.
func loadOAuth(log *slog.Logger, o options, getenv func(string) string) (*oauthSettings, error) {
	if o.oauthConfig == "" {
		return nil, nil
	}
	b, err := readSecretFile(log, "--oauth-config", o.oauthConfig)
	if err != nil {
		return nil, err
	}
	s, err := parseOAuthFile(b)
	clear(b)
	if err != nil {
		return nil, fmt.Errorf("--oauth-config %s: %w", o.oauthConfig, err)
	}

	keys, source, err := secretText(log, "--oauth-token-keys-file", o.oauthTokenKeysFile, getenv, envOAuthTokenKeys)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(keys) == "" {
		return nil, fmt.Errorf("--oauth-config needs the keys that seal the providers' tokens at rest: "+
			"--oauth-token-keys-file or $%s (\"id:base64 of 32 bytes\", comma-separated, the current key first)", envOAuthTokenKeys)
	}
	if s.cipher, err = oauth.ParseKeys(keys); err != nil {
		return nil, fmt.Errorf("%s: %w", source, err) // ParseKeys never quotes a secret
	}

	stateKey, source, err := secretText(log, "--oauth-state-key-file", o.oauthStateKeyFile, getenv, envOAuthStateKey)
	if err != nil {
		return nil, err
	}
	if stateKey = strings.TrimSpace(stateKey); stateKey == "" {
		log.Warn("oauth: no state key (--oauth-state-key-file or $" + envOAuthStateKey + "): a random one; " +
			"a sign-in begun on one instance, or before a restart, fails at the callback")
	} else if s.stateKey, err = oauth.DecodeKey(stateKey); err != nil {
		return nil, fmt.Errorf("%s: not base64 of 32 bytes", source)
	}
	log.Info("oauth: external sign-in", "providers", providerNames(s.providers), "token_key", s.cipher.Current(),
		"callback", callbackName(s.callback))
	return s, nil
}

// secretText returns a secret's text, and where it came from for errors:
// the file's at path, when given (flag names its flag), else the
// environment variable envVar's.
func secretText(log *slog.Logger, flag, path string, getenv func(string) string, envVar string) (text, source string, err error) {
	if path == "" {
		return getenv(envVar), "$" + envVar, nil
	}
	b, err := readSecretFile(log, flag, path)
	if err != nil {
		return "", "", err
	}
	defer clear(b)
	return string(b), flag + " " + path, nil
}

// readSecretFile reads a file that holds secrets, warning when other users
// may read it. Errors name the file, never its content.
func readSecretFile(log *slog.Logger, flag, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		log.Warn("a file with secrets is readable by other users; chmod 600 it", "flag", flag, "path", path,
			"mode", fi.Mode().Perm().String())
	}
	return b, nil
}

// parseOAuthFile parses the --oauth-config file, refusing unknown
// members, and builds its providers. Errors name the member, never a
// value.
func parseOAuthFile(b []byte) (*oauthSettings, error) {
	var f oauthFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, jsonProblem(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one JSON value")
	}
	if len(f.Providers) == 0 {
		return nil, errors.New("providers: at least one is required")
	}
	s := &oauthSettings{returnTo: f.ReturnTo, defaultReturnTo: f.DefaultReturnTo}
	switch f.Callback {
	case "", "token":
		s.callback = authhttp.OAuthTokenResponse
	case "redirect":
		s.callback = authhttp.OAuthRedirect
	default:
		return nil, errors.New(`callback: must be "token" or "redirect"`)
	}
	for i, pf := range f.Providers {
		p, err := newProvider(pf)
		if err != nil {
			return nil, fmt.Errorf("providers[%d] (%s): %w", i, printableName(pf.Name), err)
		}
		s.providers = append(s.providers, p)
	}
	return s, nil
}

// jsonProblem describes a decoding error of the config file without
// quoting its values.
func jsonProblem(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Errorf("%s: must be a JSON %s", typ.Field, typ.Type)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return errors.New(strings.TrimPrefix(err.Error(), "json: "))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("empty or truncated")
	}
	return errors.New("not a JSON object")
}

// newProvider builds the provider pf names: Google, Microsoft, Facebook,
// GitHub, or, under any other name, an OpenID Connect provider.
func newProvider(pf providerFile) (*oauth.Provider, error) {
	c := oauth.ProviderConfig{ClientID: pf.ClientID, ClientSecret: pf.ClientSecret, RedirectURL: pf.RedirectURL,
		Scopes: pf.Scopes, Issuer: pf.Issuer, Tenant: pf.Tenant, AuthURL: pf.AuthURL, TokenURL: pf.TokenURL, APIURL: pf.APIURL}
	oidcOnly := func() error {
		if pf.AuthURL != "" || pf.TokenURL != "" || pf.APIURL != "" {
			return errors.New("auth_url, token_url and api_url are for github and facebook (OpenID Connect providers have issuer)")
		}
		return nil
	}
	if pf.Tenant != "" && pf.Name != "microsoft" {
		return nil, errors.New("tenant is for microsoft only")
	}
	switch pf.Name {
	case "google":
		if err := oidcOnly(); err != nil {
			return nil, err
		}
		return oauth.Google(c)
	case "microsoft":
		if err := oidcOnly(); err != nil {
			return nil, err
		}
		return oauth.Microsoft(c)
	case "facebook", "github":
		if pf.Issuer != "" {
			return nil, errors.New("issuer is for OpenID Connect providers")
		}
		if pf.Name == "facebook" {
			return oauth.Facebook(c)
		}
		return oauth.GitHub(c)
	case "":
		return nil, errors.New("name: required")
	}
	if err := oidcOnly(); err != nil {
		return nil, err
	}
	return oauth.OIDC(pf.Name, c)
}

// printableName shows a provider's name in an error when it is short and
// printable ASCII.
func printableName(s string) string {
	if s == "" || len(s) > 50 {
		return "invalid name"
	}
	for _, r := range s {
		if r < 0x21 || r > 0x7e {
			return "invalid name"
		}
	}
	return s
}

func providerNames(ps []*oauth.Provider) []string {
	names := make([]string, 0, len(ps))
	for _, p := range ps {
		names = append(names, p.Name())
	}
	return names
}

func callbackName(m authhttp.OAuthCallbackMode) string {
	if m == authhttp.OAuthRedirect {
		return "redirect"
	}
	return "token"
}
