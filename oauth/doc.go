// Package oauth signs users in with OAuth 2.0 and OpenID Connect
// providers and links their external identities to accounts, on the
// oauth_profiles table.
//
// # Providers
//
// [Google], [Microsoft], [Facebook], [GitHub], and any OpenID Connect
// provider from its issuer URL ([OIDC]): its discovery document is
// fetched on first use (and again after a failure), its key set is
// fetched and cached by github.com/coreos/go-oidc/v3 and refetched when a
// token names a key it has not seen. Each provider is a value configured
// on its own ([ProviderConfig]); a [Service] takes several at once; there
// is no global registry. A provider is stored under its name upper-cased,
// as the original system stored them: GOOGLE, MICROSOFT, FACEBOOK, GITHUB,
// and an OIDC provider's configured name ("acme" is ACME).
//
// # The flow
//
// [Service.Begin] makes the authorization URL (golang.org/x/oauth2): a
// state of 256 random bits, a PKCE S256 challenge (RFC 7636) and, for
// OpenID Connect, a nonce. Everything the callback needs (state, code
// verifier, nonce, provider, return_to, expiry, and for a link the user
// and their security stamp) is sealed with AES-256-GCM under
// Config.StateKey into [Authorization.State], which the host keeps in the
// [StateCookieName] cookie ([SetStateCookie]): the browser can neither
// read nor change it, and it binds the flow to that browser.
//
// [Service.Complete] checks the callback against the cookie: the state
// parameter equals the sealed one (compared in constant time), the flow
// began with this provider (each provider has its own redirect URI: the
// mix-up defence of RFC 9700 4.4.2), an iss parameter, when present
// (RFC 9207), names the provider's issuer, and the flow has not expired.
// The state is then spent in the store: of any number of callbacks with
// one state exactly one goes on, whatever the instance. Then the code is
// exchanged with the verifier; an ID token is verified (signature against
// the provider's keys with an allow-list of asymmetric algorithms, exact
// issuer, audience containing the client id, expiry by the Service's
// clock, the flow's nonce, at_hash when present); the user info is
// fetched (its subject must be the ID token's). Every refusal is a
// [*CallbackError] with a [Reason], logged and recorded as oauth_refused;
// no message ever holds a code, a token or a provider's response body.
//
// # Accounts
//
// Identities are keyed on (provider, provider_user_id). A known identity
// signs its account in. A new one:
//   - links to the account that has its address only when the provider
//     asserts that it verified the address (email_verified, GitHub's
//     verified flag), the provider may link by address (not Microsoft,
//     whose email claim is unverified, nor Facebook, which does not say,
//     nor a provider configured with NoEmailLinking), and the account's
//     own address is verified. Otherwise the callback is refused with
//     [ErrLinkRequired]: an address alone never signs anyone in; the user
//     signs in to the account and links the identity from there
//     ([Service.BeginLink]).
//   - otherwise gets a new account, created with the identity in one
//     store transaction: its username derived from the identity
//     (preferred username, address, name) and made unique with a numeric
//     suffix, its address verified when the provider verified it, and no
//     password: its hash is [user.NoPassword], which never verifies and
//     is refused as any wrong password is, at the same cost. A password
//     is set later through a password reset.
//
// Linking from a signed-in session ([Service.BeginLink]) needs no address
// match. The link is made only if the account is still active and has
// the security stamp it had when the flow began, so a flow begun by a
// stolen session is voided by the password change that ends it.
// [Service.Unlink] refuses to remove the last identity of an account
// without a password ([ErrLastSignInMethod]), atomically in the store.
//
// # Provider tokens
//
// The provider's access and refresh tokens are stored sealed by a
// [Cipher]: AES-256-GCM, a fresh nonce each time, the user id and the
// provider as additional data (a value copied into another row does not
// open), and the key id in the value, so keys rotate ([NewCipher] takes
// the current key and the previous ones). They are never sent to the
// browser and never logged; [Service.ProviderToken] opens them for the
// host's calls to the provider. The provider's user info is stored as
// JSON (user_info).
//
// # Storage
//
// The [Store] interface is implemented by store/memory and
// store/postgres (oauth_profiles, and oauth_spent_states for spent flow
// states, which [Service.Cleanup] prunes), and checked by
// store/storetest's RunOAuthStore. The HTTP routes are in package
// authhttp; the fake provider the tests use is package oauthtest.
package oauth
