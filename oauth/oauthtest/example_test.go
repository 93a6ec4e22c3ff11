package oauthtest_test

import (
	"context"
	"fmt"
	"log"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/cedrina/cedrina/oauth/oauthtest"
)

// A sign-in with OpenID Connect, the client built on x/oauth2 and go-oidc.
// In a test, start the provider with New(t, cfg) instead, which closes it
// when the test ends.
func Example() {
	const callback = "http://app.test/auth/callback"
	p, err := oauthtest.Start(oauthtest.Config{RedirectURLs: []string{callback}})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	p.SetUser(oauthtest.User{Subject: "248289761001", Email: "jane@example.com", EmailVerified: true, Name: "Jane Doe"})

	// The client discovers the provider through the fake's HTTP client.
	ctx := oidc.ClientContext(context.Background(), p.Client())
	provider, err := oidc.NewProvider(ctx, p.Issuer())
	if err != nil {
		log.Fatal(err)
	}
	conf := oauth2.Config{
		ClientID:     p.ClientID(),
		ClientSecret: p.ClientSecret(),
		Endpoint:     provider.Endpoint(),
		RedirectURL:  callback,
		Scopes:       []string{oidc.ScopeOpenID, "email", "profile"},
	}

	// The client sends the browser to the provider with PKCE and a nonce;
	// Authorize plays the browser and the consenting user.
	verifier := oauth2.GenerateVerifier()
	redirect, err := p.Authorize(conf.AuthCodeURL("state-123", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-456")))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("state:", redirect.Query().Get("state"))

	// The client's callback exchanges the code and verifies the ID token.
	tok, err := conf.Exchange(ctx, redirect.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		log.Fatal(err)
	}
	idToken, err := provider.Verifier(&oidc.Config{ClientID: p.ClientID()}).Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		log.Fatal(err)
	}
	var claims struct {
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
		Name          string `json:"name"`
	}
	if err := idToken.Claims(&claims); err != nil {
		log.Fatal(err)
	}
	fmt.Println("sub:", idToken.Subject, "nonce:", idToken.Nonce)
	fmt.Println(claims.Name, claims.Email, claims.EmailVerified)

	// The code is single use.
	_, err = conf.Exchange(ctx, redirect.Query().Get("code"), oauth2.VerifierOption(verifier))
	fmt.Println("replay:", err.(*oauth2.RetrieveError).ErrorCode)
	// Output:
	// state: state-123
	// sub: 248289761001 nonce: nonce-456
	// Jane Doe jane@example.com true
	// replay: invalid_grant
}

// A provider that issues ID tokens for another client: the client under
// test must refuse them.
func ExampleProvider_Misbehave() {
	const callback = "http://app.test/auth/callback"
	p, err := oauthtest.Start(oauthtest.Config{RedirectURLs: []string{callback}})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	p.Misbehave(oauthtest.Misbehaviour{IDTokenAudience: "another-client"})

	ctx := oidc.ClientContext(context.Background(), p.Client())
	provider, err := oidc.NewProvider(ctx, p.Issuer())
	if err != nil {
		log.Fatal(err)
	}
	conf := oauth2.Config{
		ClientID:     p.ClientID(),
		ClientSecret: p.ClientSecret(),
		Endpoint:     provider.Endpoint(),
		RedirectURL:  callback,
		Scopes:       []string{oidc.ScopeOpenID},
	}
	verifier := oauth2.GenerateVerifier()
	redirect, err := p.Authorize(conf.AuthCodeURL("state", oauth2.S256ChallengeOption(verifier)))
	if err != nil {
		log.Fatal(err)
	}
	tok, err := conf.Exchange(ctx, redirect.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		log.Fatal(err)
	}
	_, err = provider.Verifier(&oidc.Config{ClientID: p.ClientID()}).Verify(ctx, tok.Extra("id_token").(string))
	fmt.Println(err)
	// Output:
	// oidc: expected audience "client-id" got ["another-client"]
}
