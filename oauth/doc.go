// Package oauth signs users in with OAuth 2.0 and OpenID Connect providers
// and links their external identities to accounts.
package oauth
