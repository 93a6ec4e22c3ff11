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
// found.
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
//	GET    /.well-known/jwks.json                               200 JWK set
//
// "login" is a username or an email address. A token response is the
// OAuth 2.0 one: {access_token, token_type: "Bearer", expires_in,
// refresh_token}, with password_change_required: true when the password
// was accepted by the user package's legacy rule only and must be
// changed. Send the access token as "Authorization: Bearer <token>".
//
// # Problems
//
// Every error is an application/problem+json body (RFC 9457, [Problem])
// with Cache-Control: no-store:
//
//   - 400, 413, 415 [TypeMalformedRequest]: the body is not the expected
//     JSON object;
//   - 401 [TypeInvalidCredentials]: a login was refused; one body for an
//     unknown account, a wrong password, a locked or deactivated account,
//     so that the answer tells an attacker nothing about the account;
//   - 401 [TypeInvalidToken]: a refresh token was refused; presenting a
//     refresh token that was already exchanged also ends its session;
//   - 401 "about:blank" with a WWW-Authenticate: Bearer challenge: a
//     protected route without a valid access token;
//   - 403 [TypeWrongPassword]: a password change with a wrong current
//     password (counted like a failed login);
//   - 404: no such resource or session;
//   - 409 [TypeTaken]: the username or email address has an account
//     (the field member says which); 409 [TypeConflict]: the account
//     changed during the request;
//   - 422 [TypeInvalidField]: a field failed validation; the field member
//     names it and the detail says why, never quoting the value;
//   - 503 with Retry-After: the database is unavailable or the request
//     ran out of time.
//
// Hosts that write their own handlers use the same pieces: [DecodeJSON],
// [WriteJSON], [WriteProblem], [ProblemFor] (the error → status mapping),
// [TokenResponse], [UserView] and [SessionView]. Config.ErrorFunc
// reshapes every error body of the handler.
//
// # Limits
//
// The handler sets no timeouts: give the http.Server its read, write and
// idle timeouts, and each request's context a deadline, so that a flood
// of logins queued behind the password hasher gives up (503) instead of
// piling up. Rate limiting is not applied yet.
package authhttp
