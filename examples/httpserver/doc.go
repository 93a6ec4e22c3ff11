// Httpserver is a small net/http application built on the Cedrina SDK:
// registration, login, sessions with JWT access tokens and rotating
// refresh tokens, over a JSON API, on the in-memory store or on
// PostgreSQL. It shows how a host wires the packages together and maps
// their errors to HTTP.
//
// # Running
//
// With the in-memory store (everything is lost on exit):
//
//	go run ./examples/httpserver
//
// Then, from another terminal:
//
//	curl -i -X POST http://127.0.0.1:8080/register \
//		-H 'Content-Type: application/json' \
//		-d '{"username":"alice","email":"alice@example.com","password":"violet-kettle-orbit-42"}'
//
//	curl -i -X POST http://127.0.0.1:8080/login \
//		-H 'Content-Type: application/json' \
//		-d '{"login":"alice","password":"violet-kettle-orbit-42"}'
//
// The login field takes the username or the email address. The answer
// holds the account and the session's tokens:
//
//	{"user":{"id":1,"username":"alice",...},
//	 "tokens":{"access_token":"eyJ...","token_type":"Bearer","expires_in":900,
//	           "refresh_token":"Zk3...","session_id":1}}
//
// Send the access token in the Authorization header (never in a URL):
//
//	ACCESS='eyJ...'    # tokens.access_token
//	REFRESH='Zk3...'   # tokens.refresh_token
//	curl -i http://127.0.0.1:8080/me -H "Authorization: Bearer $ACCESS"
//	curl -i http://127.0.0.1:8080/sessions -H "Authorization: Bearer $ACCESS"
//
// When the access token expires (15 minutes), exchange the refresh token
// for a new pair; each refresh token works once:
//
//	curl -i -X POST http://127.0.0.1:8080/refresh \
//		-H 'Content-Type: application/json' \
//		-d '{"refresh_token":"'"$REFRESH"'"}'
//
//	curl -i -X POST http://127.0.0.1:8080/logout -H "Authorization: Bearer $ACCESS"
//
//	curl -i http://127.0.0.1:8080/healthz
//
// Stop the server with Ctrl-C (SIGINT) or SIGTERM: it stops accepting
// connections and lets requests in flight finish, for up to 15 seconds.
//
// # PostgreSQL
//
// Give a database URL in the environment (preferred: command lines are
// visible to other users of the machine) or with --database-url:
//
//	DATABASE_URL='postgres://app@127.0.0.1:5432/app?sslmode=disable' go run ./examples/httpserver
//	go run ./examples/httpserver --database-url 'postgres://app@127.0.0.1:5432/app?sslmode=disable'
//
// On start the program applies the SDK's schema migrations
// (schema.Migrate): the SDK never migrates by itself, and an application
// chooses where to do it, here at start-up. Several instances starting at
// once migrate exactly once. The tables are created in the first schema
// of the connection's search_path. /healthz then also pings the database.
//
// # Flags
//
//	--addr             address to listen on; default 127.0.0.1:8080
//	--database-url     PostgreSQL URL; default $DATABASE_URL; empty: in memory
//	--trusted-proxies  comma-separated CIDRs of the reverse proxies in front
//	                   of the server; default none
//	--jwt-key-file     PEM private key that signs access tokens; default a
//	                   fresh Ed25519 key per run
//
// # Sessions and tokens
//
// A login starts a server-side session (package session) and returns two
// tokens. The access token is a JWT (RFC 9068, EdDSA by default, 15
// minutes) for the Authorization: Bearer header. The refresh token is
// opaque and single-use: POST /refresh swaps it for a new pair.
// Presenting a refresh token that was already swapped means that two
// parties hold it (a thief and its owner, and the server cannot tell
// which), so it ends the session, newest tokens included, and records a
// token_reuse audit event. Only SHA-256 hashes of the tokens are stored.
//
// Every protected route checks, on every request, that the token's
// session is still active, so logout, DELETE /sessions/{id},
// revoke-others and a password change take effect on the next request.
// Other services can verify the access tokens without asking this one,
// from the public keys at /.well-known/jwks.json (session.NewVerifier);
// they then see a revocation only when the token expires.
//
// Without --jwt-key-file the server signs with a key generated at start
// (logged as "ephemeral key: tokens die with the process"): a restart
// invalidates every access token, and several instances behind one load
// balancer would refuse each other's tokens. For anything else, make a key
// once and give every instance the same file:
//
//	openssl genpkey -algorithm ed25519 -out jwt.pem && chmod 600 jwt.pem
//	go run ./examples/httpserver --jwt-key-file jwt.pem
//
// P-256 (ES256) and RSA (RS256, at least 2048 bits) keys work too. The
// key's id (kid) is its RFC 7638 thumbprint, the same on every instance.
//
// Sessions end after 24 hours without activity or 7 days after login,
// whichever comes first. A password change ends every session of the
// user, the one that made the change included, and starts a fresh one
// for the client that made it. Ended sessions stay in the store until
// session.Service.Cleanup deletes them; this example does not run it.
//
// This API uses bearer tokens only, which browsers never attach by
// themselves, so it needs no CSRF defence. A browser application that
// keeps the session in a cookie instead uses session.SetCookie and
// session.MiddlewareConfig's AllowCookie, whose documentation gives the
// CSRF rule.
//
// # Audit trail
//
// Registration, logins (with the refusal reason), lockouts, the other
// account events and the session events (created, refreshed, revoked,
// expired, logout, token reuse) go to the audit trail (package audit) in the same store,
// through a batched writer that is flushed on shutdown. Each event carries
// the client IP, the User-Agent and a correlation id. The client IP is the
// peer's address unless the peer is one of --trusted-proxies, whose
// X-Forwarded-For is then believed: list only proxies you run, never a
// range clients can connect from, or clients choose their own address.
// The correlation id is the request's X-Correlation-ID or X-Request-ID
// when well-formed, or a fresh random one, and is echoed in the
// X-Correlation-ID response header. Check the chain with
// `cedrina audit verify`.
//
// Logs are JSON lines on standard error (log/slog). They never contain
// passwords or tokens; a refused login is logged with its precise reason (unknown
// user, wrong password, locked, inactive) and account id, while the
// client only ever sees "invalid credentials".
//
// # API
//
//	GET  /healthz   200 {"status":"ok"}; 503 when the database does not answer
//	POST /register  {"username","email","password"}: 201 with the user;
//	                400 invalid field; 409 username or email taken
//	POST /login     {"login","password"}: 200 {"user","tokens"}; 401 for every refusal
//	POST /refresh   {"refresh_token"}: 200 with new tokens; 401 for every refusal
//	GET  /.well-known/jwks.json   the public keys of the access tokens (JWKS)
//
// With "Authorization: Bearer <access_token>" (else 401):
//
//	GET    /me                       200 with the user
//	POST   /logout                   204; the session ends
//	POST   /password                 {"current_password","new_password"}: 200 with the
//	                                 tokens of a fresh session; every older session
//	                                 ends; 403 wrong current password or locked;
//	                                 400 new password refused
//	GET    /sessions                 200 {"sessions":[{"id","client_ip","user_agent",
//	                                 "created_at","last_activity_at","current"}]},
//	                                 most recently active first
//	DELETE /sessions/{id}            204; 404 when the user has no such session
//	POST   /sessions/revoke-others   200 {"revoked":n}: ends all but this session
//
// The tokens object is {"access_token","token_type":"Bearer","expires_in"
// (seconds),"refresh_token","session_id"}, as in an OAuth 2.0 token
// response.
//
// Request bodies must be application/json (else 415), at most 64 KiB
// (else 413), one JSON object without unknown fields (else 400). A wrong
// method gets 405 with an Allow header. Every response carries
// Cache-Control: no-store and X-Content-Type-Options: nosniff.
//
// # Errors
//
// Errors are problem details (RFC 9457, application/problem+json) with
// type, title, status and detail. Problems that mean no more than their
// status code have type about:blank. The others, whose type URIs are this
// page with a fragment:
//
//   - #invalid-field (400): a field was refused; the extension member
//     "field" names it (username, email or password) and detail says why.
//     A password is never echoed.
//   - #taken (409): the username or email address already has an account;
//     "field" says which. This reveals that an account exists, which a
//     registration form cannot avoid for usernames. A host that must not
//     reveal which email addresses are registered answers every valid
//     registration alike and sends a verification email instead.
//   - #invalid-credentials (401): the login was refused. The body is the
//     same, byte for byte, whatever the reason (ASVS 6.3.8).
//   - #invalid-token (401): a refresh token was refused: unknown,
//     expired, its session ended, or already used. One body for all.
//   - #wrong-password (403): a password change was refused because the
//     current password is wrong or the account is locked. A wrong current
//     password counts towards the lockout, like a failed login.
//
// A protected route called without a valid access token answers 401
// about:blank with the detail "valid credentials are required", the same
// whatever was wrong, and a WWW-Authenticate: Bearer challenge whose
// error="invalid_token" says a token was sent but refused (RFC 6750).
// Another user's session is "not found" (404), not "forbidden", so
// session ids cannot be probed.
//
// Unexpected failures answer 500 with a generic body and are logged;
// requests that wait more than 10 seconds (for example for a hashing slot
// during a login flood) answer 503.
//
// # Deployment notes
//
// The server speaks plain HTTP: put it behind a proxy that terminates TLS
// and sets Strict-Transport-Security; tokens cross the network in every
// request. Login, registration and refresh are not rate limited: the SDK
// has no rate limiter yet, so put one in front of them (in the proxy, say,
// per client IP and per account name) before exposing the server. The
// account lockout alone (5 failures lock an account for 15 minutes) lets
// an attacker lock accounts on purpose.
package main
