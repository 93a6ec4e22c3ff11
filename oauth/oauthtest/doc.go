// Package oauthtest is a fake OAuth 2.0 and OpenID Connect provider for
// tests, served by net/http/httptest on 127.0.0.1.
//
// A [Provider] has one registered client and signs in one [User] at a
// time. It serves an OpenID Connect provider (discovery, JWKS,
// authorization, token and userinfo endpoints) and, on the same server,
// the two user endpoints of GitHub's API and the one of Facebook's Graph
// API that a sign-in needs, so one fake stands in for Google, any OIDC
// provider, GitHub and Facebook:
//
//	GET  /.well-known/openid-configuration
//	GET  /jwks
//	GET  /authorize
//	POST /token
//	GET  /userinfo                         (and POST)
//	GET  /github/user                      ([Provider.GitHubAPIURL] + "/user")
//	GET  /github/user/emails
//	GET  /facebook/me?fields=id,name,email ([Provider.FacebookGraphURL] + "/me")
//
// A test points the client under test at [Provider.Issuer] (OpenID
// Connect discovery) or at [Provider.AuthURL] and [Provider.TokenURL]
// (plain OAuth 2.0), lets [Provider.Authorize] play the browser and the
// consenting user on the authorization URL the client built, and hands the
// returned callback URL to the client.
//
// # Trusting the fake
//
// The provider speaks plain HTTP on 127.0.0.1, so any HTTP client reaches
// it; [Provider.Client] is the server's own. With golang.org/x/oauth2 pass
// it as context.WithValue(ctx, oauth2.HTTPClient, p.Client()); with go-oidc
// create the provider with oidc.NewProvider(oidc.ClientContext(ctx,
// p.Client()), p.Issuer()). ID tokens are signed with RS256 by a 2048-bit
// key made for each Provider, published in the JWKS: the client must fetch
// it, never be given it.
//
// # Strictness
//
// The provider behaves like a strict real one, so that a test checks the
// client, not only the happy path:
//
//   - /authorize answers a 400 page, and does not redirect, for an unknown
//     client_id, a redirect_uri not registered in [Config].RedirectURLs
//     (exact string match), and a request without PKCE or with the
//     "plain" method: only S256 is accepted. It redirects back with
//     error=invalid_request when state is empty, the code_challenge is not
//     43 base64url characters or a parameter is repeated, and with
//     error=unsupported_response_type unless response_type is code. Every
//     authorization response carries iss (RFC 9207).
//   - A code is single use and valid for 10 minutes of the provider's
//     clock ([Config].Now). It is spent by the first request that
//     presents it, even when that request then fails; a second use fails
//     with invalid_grant and revokes the tokens the first use got.
//   - /token requires the redirect_uri sent to /authorize and a
//     code_verifier whose S256 hash is the code_challenge (invalid_grant
//     otherwise), and authenticates the client by HTTP Basic
//     (client_secret_basic, with RFC 6749 2.3.1's form-urlencoding of the
//     id and secret) or by client_id and client_secret in the form
//     (client_secret_post), never both (invalid_request). A wrong client
//     gets 401 invalid_client, and its code is not spent.
//   - Claims follow the scopes, as OpenID Connect Core 5.4 says and
//     providers do: the ID token and /userinfo carry email and
//     email_verified only when the scope has "email", and name,
//     preferred_username and picture only when it has "profile". An ID
//     token is issued only when the scope has "openid". Empty claims are
//     left out.
//   - Access tokens expire after [Config].AccessTokenTTL of the provider's
//     clock; the user endpoints then answer 401 (Facebook: 400
//     OAuthException).
//   - The refresh_token grant returns a new access token (no new refresh
//     token, no ID token) for a refresh token issued to the client.
//
// # Misbehaviour
//
// [Provider.Misbehave] sets switches ([Misbehaviour]) that break the
// protocol on purpose, one defence of the client per switch: an ID token
// signed by an unknown key, from another issuer, for another audience,
// expired, with another nonce or unsigned; an error or a wrong iss in the
// authorization response; a token endpoint that answers an error, an
// unexpected status or truncated JSON; user endpoints that fail or lie
// about the subject; a discovery document naming another issuer. The zero
// Misbehaviour is a correct provider. Switches are read once per request,
// so a test may flip them between the steps of one sign-in.
//
// # Concurrency
//
// All methods of a Provider are safe for concurrent use, while the server
// answers requests. [Provider.SetUser] sets the user of the next
// authorizations; codes and tokens keep the user they were issued for.
package oauthtest
