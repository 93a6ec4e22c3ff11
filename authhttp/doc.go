// Package authhttp is the SDK's HTTP API: an http.Handler, built from the
// services it is given, that a host mounts in a few lines.
//
//	api, err := authhttp.New(authhttp.Config{Users: users, Sessions: sessions})
//	mux := http.NewServeMux()
//	mux.Handle("/", api)                                   // the routes below
//	mux.Handle("GET /hello", api.RequireAuth(helloHandler)) // the host's own, protected
//
// Build the services in this order: the session service first, then the
// user service with user.Config.Sessions set to it, so that a password
// change or a deactivation ends the user's sessions at once. Audit is
// optional and lives in the services: give both a recorder
// (user.Config.Recorder, session.Config.Recorder); the handler puts each
// request's client IP (through Config.TrustedProxies only), user agent
// and correlation id in its context, where sessions and events find
// them. A host that applies audit.Middleware itself applies it outermost,
// in front of everything that records; the handler then keeps what it
// found. Password reset and email verification need a notifier and the
// addresses of the host's pages (see "Password reset and email
// verification" below).
//
// # Routes
//
// Bodies are JSON objects in and out, under the names of the schema's
// columns. A request body must be application/json (UTF-8, no content
// coding), one object of at most Config.MaxBodyBytes with no member the
// route does not take.
//
//	POST   /auth/register         {username, email, password}   201 UserView
//	POST   /auth/login            {login, password}             200 TokenResponse
//	POST   /auth/refresh          {refresh_token}               200 TokenResponse
//	POST   /auth/logout           Bearer, or {refresh_token}    204
//	POST   /auth/logout-all       Bearer                        204
//	POST   /auth/password/change  Bearer {current_password, new_password}  200 TokenResponse
//	GET    /me                    Bearer                        200 UserView
//	GET    /me/sessions           Bearer                        200 [SessionView, ...]
//	DELETE /me/sessions/{id}      Bearer                        204
//	POST   /me/sessions/revoke-others  Bearer                   204
//	POST   /me/email              Bearer {email, current_password}  200 UserView
//	POST   /auth/email/verify/request  Bearer                   202
//	POST   /auth/email/verify     {token}                       204
//	POST   /auth/password/forgot  {email}                       202 (with Config.Reset)
//	POST   /auth/password/reset   {token, password}             204 (with Config.Reset)
//	GET    /.well-known/jwks.json                               200 JWK set
//
// With Config.OAuth, sign-in with external identities (see "Sign-in with
// external identities"):
//
//	GET    /auth/oauth/{provider}/start     ?return_to          302 to the provider
//	GET    /auth/oauth/{provider}/callback  (the provider's redirect)  200 TokenResponse or LinkedResponse, or 303 (OAuthRedirect)
//	GET    /me/identities         Bearer                        200 {identities: [IdentityView, ...]}
//	POST   /me/identities/{provider}/link  Bearer, optional {return_to}  200 {authorization_url}
//	DELETE /me/identities/{provider}  Bearer                    204
//
// With Config.Authorizer, the administration routes (see
// "Administration"), each Bearer and allowed by the policy:
//
//	GET    /admin/audit           ?user_id&type&severity&from&to&correlation_id&limit&cursor  200 AuditPage (with Config.Audit)
//	GET    /admin/audit/verify    ?from&to                      200 ChainVerification (with Config.Audit)
//	POST   /admin/users/{id}/role {role}                        200 UserView
//	GET    /admin/policies        ?ptype&v0..v5&inactive        200 {rules: [RuleView, ...]}
//	POST   /admin/policies        {ptype, values} or {rules: [{ptype, values}, ...]}  201 {changed} (200 when 0)
//	DELETE /admin/policies        {id}                          200 RuleView (deactivated)
//	DELETE /admin/policies        {ptype, values}               200 {removed}
//
// "login" is a username or an email address. A token response is the
// OAuth 2.0 one: {access_token, token_type: "Bearer", expires_in,
// refresh_token}, with password_change_required: true when the password
// was accepted by the user package's legacy rule only and must be
// changed. Send the access token as "Authorization: Bearer <token>".
//
// # Rate limits
//
// The routes an attacker floods are rate limited, in fixed windows
// aligned to the clock (package ratelimit):
//
//	POST /auth/login                 30 a minute per client IP    Config.RateLimit.Login
//	POST /auth/register              20 a minute per client IP    Config.RateLimit.Register
//	GET  /auth/oauth/{provider}/start,
//	GET  /auth/oauth/{provider}/callback,
//	POST /me/identities/{provider}/link  30 a minute per client IP, Config.RateLimit.OAuth
//	                                 counted together
//	POST /auth/email/verify/request  3 an hour per signed-in user Config.RateLimit.VerificationRequest
//	POST /auth/password/forgot       3 an hour per address and    reset.Config.PerAddress,
//	                                 20 an hour per client IP     reset.Config.PerClient
//
// Every request counts, whatever its outcome: a wrong password as much
// as a right one. The client IP is the one sessions and audit events
// record, the peer's address unless the peer is one of
// Config.TrustedProxies, whose X-Forwarded-For is then believed (a
// client that can set the header itself would otherwise pick a fresh
// budget with each request); an IPv6 client is counted by its /64.
//
// A limited route's responses carry the RateLimit-Policy and RateLimit
// headers of draft-ietf-httpapi-ratelimit-headers-10, naming the policy,
// never the client:
//
//	RateLimit-Policy: "login";q=30;w=60
//	RateLimit: "login";r=12;t=42
//
// (quota, window in seconds, requests remaining, seconds until the quota
// is back). A request over its limit gets 429 [TypeRateLimited] with the
// two headers, Retry-After in whole seconds and Cache-Control: no-store,
// and is not served: its password is not checked, its account not
// created. The forgot-password route sends the headers on its 429 only:
// its 202 is the same for every address. When the limits' store fails,
// the limited routes answer 503 with Retry-After: 1 rather than serve a
// request unchecked. A refusal is logged with its policy's name, and,
// with Config.RateLimit.Recorder, recorded as a rate_limit_exceeded
// audit event, at most once per policy, client and window.
//
// Each limit is a ratelimit.Policy of [RateLimitConfig]; Disabled turns
// the handler's limits off (for a host that limits in front of it, and
// for tests), reset.Config.NoRateLimit the reset service's. The counters
// are in this process's memory by default: several app instances behind
// a load balancer must share one store, or each allows the whole limit.
// Give the same shared store (store/postgres's db.RateLimits, or
// store/redisstore's) to Config.RateLimit.Store and to
// reset.Config.RateLimits.
//
// # Password reset and email verification
//
// The services send links by mail through a notify.Notifier the host
// provides (its mailer), from their own goroutines, never on the request
// path: give the user service one (user.Config.Notifier, with
// user.Config.Verification.URL) and build a reset.Service with another
// (reset.Config.Notifier and URL), and hand it to the handler as
// Config.Reset. Each URL is the address of a page of the host's front
// end; the link is that URL with the token as its "token" parameter, and
// the page posts the token to the API. Links are built from
// configuration only, never from a request's Host header. Close both
// services at shutdown, after the HTTP server stopped taking requests, so
// that the messages still queued are sent. notify.Log prints the links
// instead of sending them, for development only.
//
// POST /auth/password/forgot answers 202 for every well-formed address,
// with an account or without, active or not: the lookup, the token and
// the mail happen afterwards, so that neither the answer nor its time
// tells whether the address has an account. Requests are limited per
// address (3 an hour by default) and per client IP (20 an hour). POST
// /auth/password/reset sets the password with the link's token (single
// use, 30 minutes by default) and ends every session of the user, unlocks
// a locked account and tells the address that the password changed; the
// client then logs in. A password the policy refuses leaves the token
// usable.
//
// POST /auth/email/verify/request sends a verification link to the
// signed-in user's address; POST /auth/email/verify, which needs no
// session (the link may be opened on another device), marks the address
// verified: GET /me then shows "is_verified": true and
// "email_verified_at". POST /me/email changes the address after checking
// the current password (counted like a login attempt); the new address
// is unverified, the old one is told of the change and the new one gets
// a verification link. Sessions go on.
//
// # Sign-in with external identities
//
// Give the handler an oauth.Service (Config.OAuth) and users sign in with
// the providers it holds (Google, Microsoft, Facebook, GitHub, any
// OpenID Connect provider), each under its route name: "google" serves
// /auth/oauth/google/start and /auth/oauth/google/callback, the redirect
// URL to register with the provider (oauth.ProviderConfig.RedirectURL).
//
// The browser goes to GET /auth/oauth/{provider}/start (a link or a
// top-level navigation, not a fetch), optionally with return_to, which
// must be in the service's allowlist (oauth.Config.ReturnTo): anything else is 400
// [TypeReturnToRefused] and no flow begins, so that the server never
// redirects anywhere it was not configured to. The answer is 302 Found to
// the provider, with the flow's sealed state in the __Host-cedrina-oauth
// cookie (Secure, HttpOnly, SameSite=Lax, expiring with the flow: 10
// minutes by default). The provider sends the browser back to the
// callback with a code and the state; the callback clears the cookie
// whatever happens (a state is used once), checks the state against it,
// exchanges the code (PKCE), checks the ID token, and then signs the
// identity's account in, or makes an account for a new identity, or, when
// the identity is new but its address belongs to an account, links it
// only if both the provider and the account verified the address:
// otherwise 409 [TypeLinkRequired], no session, and the user signs in to
// that account (with its password) and links the identity from there.
//
// How the callback ends is Config.OAuthCallback: OAuthTokenResponse
// (default) answers 200 with the [TokenResponse] of POST /auth/login, for
// a client that follows the provider's redirect with its own HTTP client;
// OAuthRedirect sets the session cookie (session.SetCookie) and answers
// 303 See Other to the flow's return_to, for a browser, with
// Config.Auth.AllowCookie so that the API and [Handler.RequireAuth] read
// the cookie. Secure cookies need HTTPS (browsers except
// http://localhost). In either mode a refusal is a problem+json body; a
// host whose users land on the callback in a browser renders it as a
// page of its own with Config.ErrorFunc.
//
// A signed-in user links another identity with POST
// /me/identities/{provider}/link (an empty body, or {return_to}): the
// answer is 200 [LinkResponse] with the authorization URL, and the state
// cookie; send the browser there (so the response must reach the
// browser's cookie store: same origin, or fetch with credentials). The
// callback then links the identity to that user, unless the account
// changed meanwhile (a password change, a reset or a deactivation voids
// the flow), and answers 200 [LinkedResponse] {"linked": true, "provider"}
// (or 303 to return_to), without a new session. GET /me/identities lists
// the linked identities ([IdentityView]: provider, email, linked_at,
// updated_at; never the provider's tokens), and DELETE
// /me/identities/{provider} unlinks one, unless it is the only way the
// account can sign in (an account made from an identity has no password):
// 409 [TypeLastSignInMethod] until a password is set through a password
// reset.
//
// Every refused callback but those the user can act on (409
// [TypeLinkRequired], 409 [TypeIdentityConflict], and 401
// [TypeInvalidCredentials] for a deactivated account) gets one 400
// [TypeExternalSignInFailed] body: a forged, expired or replayed state, a
// user who declined at the provider, a bad ID token look alike to the
// client. The oauth service logs the reason and records it as an
// oauth_refused audit event; sign-ins, links and unlinks are recorded as
// oauth_login, oauth_linked and oauth_unlinked. An unknown provider is 404
// at start; a provider whose discovery document cannot be fetched, 503
// with Retry-After.
//
// # Administration
//
// Give the handler an rbac.Authorizer (Config.Authorizer) and it serves
// the routes under /admin/: the audit trail, the users' roles and the
// authorization policy itself. Each route is behind the bearer check,
// then behind the Authorizer (rbac.Authorizer.RequireWith): the object
// checked is the route's pattern with its wildcards written as Casbin
// path parameters ("/admin/users/:id/role", "/admin/policies"), the
// action is the request's method, and the subjects are the signed-in
// user's role, lower-cased ("admin" for ADMIN), and the user itself
// ("user:42"). A request the policy does not allow gets 403 problem+json
// (through Config.ErrorFunc), which names neither the rule nor the role,
// and, with a recorder on the Authorizer, an authorization_denied event.
// [AdminRules] is the default policy, "p, admin, /admin/*, *": ADMIN
// may do all of it, nobody else anything. Narrower rules grant one
// route, "p, auditor, /admin/audit, GET". The role comes with the
// session on every request, so a role change takes effect on the user's
// very next request, as does a policy change on this instance (the
// Authorizer rebuilds its index before the change returns) and, on
// PostgreSQL with store/postgres's PolicyWatcher, on the other
// instances within the notification's delay.
//
// Every change is made as the signed-in user
// (audit.ContextWithActor): it is recorded as the rules' created_by and
// updated_by and as "by" in the role_changed and policy_changed events.
//
// GET /admin/audit lists audit events newest first ([AuditEventView]),
// by keyset pages: "next" is the cursor of the following page, "" after
// the last one; pass it back as cursor with the same filters. type and
// severity may repeat (any of them); from and to are RFC 3339 times
// (from <= time < to); limit is 1 to 1000, default 50. GET
// /admin/audit/verify walks the hash chain (audit.Service.Verify, from
// and to being chain positions) and answers 200 whatever it finds: a
// [ChainVerification] with "intact": true and where the chain ends, or
// "intact": false with the first break (seq, id, reason), or with
// "key_mismatch" when the server's audit key is not the chain's (then
// nothing was checked). It reads the whole range; keep it for operators.
//
// POST /admin/policies adds rules, active, in one transaction (a rule
// that exists inactive is reactivated); DELETE /admin/policies with an id
// deactivates that rule, which stays in the table with its history and is
// no longer enforced, and with ptype and values deletes the identical
// active rule. A rule the table or the Authorizer's model cannot hold is
// 422 [TypeInvalidRule] and changes nothing.
//
// An unknown query parameter, or one given twice, is 400
// [TypeInvalidParameter], as is a malformed one; the problem's parameter
// member names it.
//
// # Problems
//
// Every error is an application/problem+json body (RFC 9457, [Problem])
// with Cache-Control: no-store:
//
//   - 400, 413, 415 [TypeMalformedRequest]: the body is not the expected
//     JSON object;
//   - 400 [TypeInvalidResetToken], [TypeInvalidVerificationToken]: a
//     reset or verification token was refused; one body whether it is
//     unknown, malformed, used or expired;
//   - 400 [TypeInvalidParameter]: a query or path parameter of an admin
//     route (or of GET /auth/oauth/{provider}/start) is unknown,
//     repeated or malformed; the parameter member names it;
//   - 400 [TypeReturnToRefused]: an external sign-in's or link's
//     return_to is not in the allowlist;
//   - 400 [TypeExternalSignInFailed]: an external sign-in or link was
//     refused at the callback; one body for every reason;
//   - 401 [TypeInvalidCredentials]: a login was refused; one body for an
//     unknown account, a wrong password, a locked or deactivated account,
//     so that the answer tells an attacker nothing about the account;
//   - 401 [TypeInvalidToken]: a refresh token was refused; presenting a
//     refresh token that was already exchanged also ends its session;
//   - 401 "about:blank" with a WWW-Authenticate: Bearer challenge: a
//     protected route without a valid access token;
//   - 403 [TypeWrongPassword]: a password or address change with a
//     wrong current password (counted like a failed login);
//   - 403 "about:blank": an admin route the policy does not allow the
//     signed-in user;
//   - 404: no such resource, session, user (admin), rule (admin),
//     provider or linked identity;
//   - 409 [TypeTaken]: the username or email address has an account
//     (the field member says which); 409 [TypeConflict]: the account
//     changed during the request; 409 [TypeAlreadyVerified]: a
//     verification link asked for an address that is verified already;
//     409 [TypeLinkRequired]: an external identity's address belongs to
//     an account that must link it itself; 409 [TypeIdentityConflict]:
//     the identity is linked elsewhere, or the account has one of that
//     provider; 409 [TypeLastSignInMethod]: unlinking the account's only
//     way to sign in;
//   - 422 [TypeInvalidField]: a field failed validation; the field member
//     names it and the detail says why, never quoting the value;
//   - 422 [TypeInvalidRule]: a policy rule the table or the model cannot
//     hold;
//   - 429 [TypeRateLimited] with Retry-After and the RateLimit headers:
//     too many logins, registrations, external sign-in or verification
//     requests, or reset requests for an address or from a client (see
//     "Rate limits");
//   - 501: a verification link was asked for, but the user service has
//     no Notifier;
//   - 503 with Retry-After: the database or the rate limits' store is
//     unavailable, too many reset requests wait to be handled, an
//     external identity provider cannot be reached (at start), or the
//     request ran out of time.
//
// Hosts that write their own handlers use the same pieces: [DecodeJSON],
// [WriteJSON], [WriteProblem], [ProblemFor] (the error → status mapping),
// [TokenResponse], [UserView], [SessionView], [IdentityView],
// [AuditEventView] and [RuleView]. Config.ErrorFunc
// reshapes every error body of the handler.
//
// # Limits
//
// The handler sets no timeouts: give the http.Server its read, write and
// idle timeouts, and each request's context a deadline, so that a flood
// of logins queued behind the password hasher gives up (503) instead of
// piling up. The rate limits above bound what one client can ask of the
// password hasher; POST /auth/refresh, /auth/password/reset and
// /auth/email/verify, which take 256-bit tokens, and the routes behind
// the bearer check are not limited by the handler.
package authhttp
