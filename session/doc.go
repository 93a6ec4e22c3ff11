// Package session starts, authenticates, refreshes and ends login
// sessions: server-side sessions in the sessions table, short-lived JWT
// access tokens (RFC 9068) and rotating opaque refresh tokens.
//
//	ks, _ := session.NewKeySet(signingKey, previousKey)
//	sessions, err := session.NewService(db.Sessions(), session.Config{
//		Keys: ks, Issuer: "https://auth.example.com", Audience: []string{"api"},
//		Recorder: auditWriter,
//	})
//	tok, err := sessions.Start(ctx, res.User, session.Client{}) // res from user.Service.Login
//	p, err := sessions.Authenticate(ctx, accessToken)     // every request
//	next, err := sessions.Refresh(ctx, tok.RefreshToken)  // when the access token expires
//	mux.Handle("/api/", sessions.RequireAuth(session.MiddlewareConfig{})(api))
//	mux.Handle("/.well-known/jwks.json", ks.JWKSHandler())
//
// # Tokens
//
// Start returns an access token (a JWT signed with the key set's current
// key: header typ at+jwt and kid; claims iss, sub, aud, exp, iat, jti,
// sid, role, tier), an opaque refresh token and an opaque session token
// for cookie transport. The refresh and session tokens are 32 bytes from
// crypto/rand; only their SHA-256 is stored. No access token is longer
// than [MaxTokenSize] (4096 bytes): signing a longer one is an error, and
// every verifier refuses one before decoding it.
//
// # Authentication
//
// [Service.Authenticate] verifies the JWT with the algorithms pinned to
// those of the key set, the key chosen by kid from the set only (jku, x5u,
// jwk and x5c headers are ignored), typ, iss, aud and a required exp, with
// at most 30 s of leeway. The first time a token is seen, its header and
// payload must also be strict JSON: no two members of an object with the
// same name (after unescaping, ignoring case, as encoding/json matches
// them), and exp, iat and nbf JSON numbers, not strings or null. It then
// reads the session and its user in one indexed lookup and refuses an
// ended session, an expired one (absolute limit, default 7 days), an idle
// one (default 24 h without activity), an inactive user, a session
// started before the user's last password change, and a session whose
// security stamp is no longer its user's. So a logout or revocation
// takes effect on the very next request.
// Activity is written at most once a minute per session. Verified tokens
// are remembered in a bounded cache keyed by the token's SHA-256, which
// spares the signature check on later requests but never the expiry and
// session checks. Every caller gets its own copy of the claims
// ([Principal].Claims): changing it changes neither what the cache
// accepts nor what other requests see.
//
// Every refusal wraps [ErrUnauthenticated]; the precise errors
// ([ErrInvalidToken], [ErrExpired], [ErrRevoked], [ErrTokenReuse]) are for
// logs and the audit trail.
//
// # Refresh and reuse
//
// [Service.Refresh] swaps the stored refresh hash with one conditional
// update (compare-and-swap), so of concurrent refreshes with one token
// exactly one wins. Every replaced hash is remembered: presenting one
// again, the mark of a stolen or replayed token, revokes the session (its
// whole token family) and records a token_reuse event. A token that never
// existed is only invalid. [Service.LogoutRefreshToken] ends a session by
// its refresh token, for clients whose access token has expired; a
// rotated token presented there is a replay too.
//
// # Keys
//
// EdDSA (Ed25519) by default; ES256, RS256 and HS256 selectable. Keep
// the signing key as a secret and load it at every start with
// [ParsePrivateKeyPEM] (or [NewHMACKey] for HS256). [GenerateKey] makes a
// fresh random key, for tests and for creating the key once
// ([Key.MarshalPrivateKeyPEM] writes it out): a process that generates
// its key at every start logs everyone out whenever it restarts, as
// tokens signed by the previous key no longer verify. A [KeySet] has one
// signing key and older keys still accepted, for rotation: add the new
// key as the signer, keep the old one for an access token lifetime, then
// drop it. HS256 needs a secret of at least 32 random
// bytes and gives every verifier the power to sign; prefer an asymmetric
// algorithm. [KeySet.JWKSHandler] serves the public keys; other services
// build a [Verifier] from that document alone. A Verifier cannot see
// revocation: a token stays valid for it until it expires.
//
// # HTTP
//
// [Service.RequireAuth] takes the token from "Authorization: Bearer",
// and optionally from the __Host-session cookie (Secure, HttpOnly,
// SameSite=Lax, opaque), puts the [Principal] in the request context
// ([PrincipalFromContext]) and answers refusals with one problem+json 401 and a
// WWW-Authenticate challenge. Tokens are never read from URLs.
//
// # Users
//
// Start is given the user as the login read it (user.LoginResult.User)
// and creates the session only while the account is still active and has
// the security stamp the login read, in one atomic store step
// ([Store.Create]): a login that straddles a password change or reset, a
// deactivation or a deactivation undone by a reactivation starts no
// session ([ErrUserChanged]). Every session keeps the stamp it started
// with and is valid only while it equals its user's, so any of those
// changes ends every session started before it on the very next request,
// whether or not anything revoked them. Give the session Service to
// user.Config.Sessions as well, so the sessions are also ended explicitly
// (with session_revoked events); deleting a user deletes its sessions. A
// user's sessions are capped (default 20, least recently active ended
// first), listed with [Service.List], ended one at a time or all but the
// current with [Service.Revoke] and [Service.RevokeAll];
// [Service.Cleanup] deletes ended and expired sessions in batches.
package session
