// Httpserver is a runnable authentication server: the SDK's HTTP API
// (package authhttp) on the in-memory store or on PostgreSQL, with what a
// program adds around it: flags, opening and migrating the database, an
// audit trail, the token signing key, password reset and email
// verification links, a health check, request logs, panic recovery, a
// deadline per request, server timeouts and a graceful shutdown. It is the
// wiring a production host needs (but for the mailer: see "Password reset
// and email verification"); examples/host is the smallest program that
// mounts the API.
//
// # Running
//
// With the in-memory store (everything is lost on exit):
//
//	go run ./examples/httpserver
//
// On PostgreSQL, with the URL in the environment (preferred: command lines
// are visible to other users of the machine) or with --database-url:
//
//	DATABASE_URL='postgres://app@127.0.0.1:5432/app?sslmode=disable' go run ./examples/httpserver
//
// On start the program applies the SDK's schema migrations
// (schema.Migrate): the SDK never migrates by itself, and an application
// chooses where to do it, here at start-up. Several instances starting at
// once migrate exactly once. The tables are created in the first schema
// of the connection's search_path.
//
// A database the original system wrote (its tables, no migration
// recorded) is refused at start with a message saying to adopt it first:
// `cedrina migrate adopt` records the first migration, ends the
// original's sessions and reset tokens, converts its OAuth tokens and
// records the adoption. On an adopted database the program turns the
// user service's legacy rule on by itself (user.LegacyConfig), so the
// original's users sign in with their passwords and are rehashed; the
// hashes the original encrypted ("enc_v1:") need its key, from
// --legacy-key-file or $CEDRINA_LEGACY_KEY. Without the key, or with
// another one, those accounts are refused (the one 401) and the log says
// why at ERROR level, with the user's id.
//
// Stop the server with Ctrl-C (SIGINT) or SIGTERM: it stops accepting
// connections and lets requests in flight finish, for up to 15 seconds;
// then, for up to 15 seconds more, it handles the password reset requests
// still queued, sends the messages still queued and stores the audit
// events still queued. A second Ctrl-C kills it.
//
// # Flags
//
//	--addr             address to listen on (host:port); default 127.0.0.1:8080
//	--database-url     PostgreSQL URL; default $DATABASE_URL; both empty: in memory
//	--trusted-proxies  comma-separated CIDRs of the reverse proxies in front of
//	                   the server, whose X-Forwarded-For is believed for the
//	                   client IP; default none
//	--jwt-key-file     PEM private key that signs access tokens (Ed25519, P-256
//	                   or RSA); default a fresh Ed25519 key per run
//	--public-url       base URL of the front end that password reset and email
//	                   verification links point at; default http:// and the
//	                   address the server listens on
//	--login-limit      POST /auth/login requests per minute per client IP;
//	                   default 30
//	--register-limit   POST /auth/register requests per minute per client IP;
//	                   default 20
//	--rate-limit       -rate-limit=false turns every rate limit off (login,
//	                   registration, verification and password reset
//	                   requests), for a server behind a proxy that limits;
//	                   default on
//	--seed-policy      when the authorization policy has no active rule the
//	                   RBAC model can use at start, add the default admin policy "p, admin, /admin/*, *"
//	                   (ADMIN may use every /admin/ route); -seed-policy=false
//	                   leaves the policy as it is; default on
//	--oauth-config     JSON file of the external identity providers, the
//	                   return_to allowlist and the callback mode (see "Sign-in
//	                   with external identities"); default none
//	--oauth-token-keys-file  file with the keys that seal the providers' tokens
//	                   at rest; default $CEDRINA_OAUTH_TOKEN_KEYS; one of the
//	                   two is required with --oauth-config
//	--oauth-state-key-file   file with the key that seals the sign-in flows'
//	                   state cookies; default $CEDRINA_OAUTH_STATE_KEY; without
//	                   either, a random key per run
//	--legacy-key-file  file with the original system's Fernet key (its
//	                   PGCRYPTO_KEY), which opens the password hashes it
//	                   encrypted; default $CEDRINA_LEGACY_KEY; a key turns the
//	                   legacy rule on, as an adopted database does
//
// The keys are never flag values, which other users of the machine see in
// the process list: they come from files (chmod 600; the program warns
// otherwise) or from the environment, and are never logged.
//
// # Trying it with curl
//
// The commands below run as they are in bash; they need curl and jq (which
// picks the tokens out of the JSON answers). ADDR is the server's
// address: set it first if you started the server with another --addr.
//
//	ADDR=${ADDR:-127.0.0.1:8080}
//	curl -s http://$ADDR/healthz
//
// Register, then log in with the username or the email address. The
// answer is an OAuth 2.0 token response: {"access_token", "token_type":
// "Bearer", "expires_in": 900, "refresh_token"}.
//
//	curl -s -X POST http://$ADDR/auth/register -H 'Content-Type: application/json' \
//	  -d '{"username":"alice","email":"alice@example.com","password":"violet-kettle-orbit-42"}'
//	TOKENS=$(curl -s -X POST http://$ADDR/auth/login -H 'Content-Type: application/json' \
//	  -d '{"login":"alice","password":"violet-kettle-orbit-42"}')
//	ACCESS_TOKEN=$(echo "$TOKENS" | jq -r .access_token)
//	REFRESH_TOKEN=$(echo "$TOKENS" | jq -r .refresh_token)
//
// Send the access token in the Authorization header, never in a URL:
//
//	curl -s http://$ADDR/me -H "Authorization: Bearer $ACCESS_TOKEN"
//	curl -s http://$ADDR/me/sessions -H "Authorization: Bearer $ACCESS_TOKEN"
//
// When the access token expires (15 minutes), exchange the refresh token
// for a new pair. Each refresh token works once: presenting it again ends
// the session.
//
//	TOKENS=$(curl -s -X POST http://$ADDR/auth/refresh -H 'Content-Type: application/json' \
//	  -d "{\"refresh_token\":\"$REFRESH_TOKEN\"}")
//	ACCESS_TOKEN=$(echo "$TOKENS" | jq -r .access_token)
//	REFRESH_TOKEN=$(echo "$TOKENS" | jq -r .refresh_token)
//
// Sign in from a second device, then end that session from the first: by
// its id, or with every other session at once.
//
//	curl -s -o /dev/null -X POST http://$ADDR/auth/login -H 'Content-Type: application/json' \
//	  -d '{"login":"alice@example.com","password":"violet-kettle-orbit-42"}'
//	SESSION_ID=$(curl -s http://$ADDR/me/sessions -H "Authorization: Bearer $ACCESS_TOKEN" \
//	  | jq -r '.[] | select(.current | not) | .id')
//	curl -s -w '%{http_code}\n' -X DELETE http://$ADDR/me/sessions/$SESSION_ID \
//	  -H "Authorization: Bearer $ACCESS_TOKEN"
//	curl -s -w '%{http_code}\n' -X POST http://$ADDR/me/sessions/revoke-others \
//	  -H "Authorization: Bearer $ACCESS_TOKEN"
//
// Change the password: every session of the user ends, this one too, and
// the answer holds the tokens of a fresh one.
//
//	TOKENS=$(curl -s -X POST http://$ADDR/auth/password/change \
//	  -H "Authorization: Bearer $ACCESS_TOKEN" -H 'Content-Type: application/json' \
//	  -d '{"current_password":"violet-kettle-orbit-42","new_password":"quiet-harbor-lantern-77"}')
//	ACCESS_TOKEN=$(echo "$TOKENS" | jq -r .access_token)
//	REFRESH_TOKEN=$(echo "$TOKENS" | jq -r .refresh_token)
//
// Log out (204); the tokens stop working at once. POST /auth/logout-all
// ends every session of the user instead.
//
//	curl -s -w '%{http_code}\n' -X POST http://$ADDR/auth/logout -H "Authorization: Bearer $ACCESS_TOKEN"
//	curl -s http://$ADDR/me -H "Authorization: Bearer $ACCESS_TOKEN"
//
// The last command answers 401 with a problem+json body. Other services
// verify the access tokens without asking this one, from the public keys
// (session.NewVerifier, issuer and audience "cedrina-example"):
//
//	curl -s http://$ADDR/.well-known/jwks.json
//
// Forgot the password: the answer is 202 for any address, with an account
// or not. The link goes to the server's log (see "Password reset and email
// verification"); with the log in server.log (start the server with
// 2> server.log), take the token from the link and set a new password
// (204): every session of the user ends, and the new password logs in.
//
//	curl -s -w '%{http_code}\n' -X POST http://$ADDR/auth/password/forgot \
//	  -H 'Content-Type: application/json' -d '{"email":"alice@example.com"}'
//	LINK=$(grep '"kind":"password_reset"' server.log | tail -n 1 | jq -r .link)
//	curl -s -w '%{http_code}\n' -X POST http://$ADDR/auth/password/reset \
//	  -H 'Content-Type: application/json' \
//	  -d "{\"token\":\"${LINK#*token=}\",\"password\":\"amber-meadow-signal-19\"}"
//	TOKENS=$(curl -s -X POST http://$ADDR/auth/login -H 'Content-Type: application/json' \
//	  -d '{"login":"alice","password":"amber-meadow-signal-19"}')
//	ACCESS_TOKEN=$(echo "$TOKENS" | jq -r .access_token)
//
// Verify the address the same way: ask for a link (202), then post its
// token (204); /me then shows "is_verified": true.
//
//	curl -s -w '%{http_code}\n' -X POST http://$ADDR/auth/email/verify/request \
//	  -H "Authorization: Bearer $ACCESS_TOKEN"
//	LINK=$(grep '"kind":"verify_email"' server.log | tail -n 1 | jq -r .link)
//	curl -s -w '%{http_code}\n' -X POST http://$ADDR/auth/email/verify \
//	  -H 'Content-Type: application/json' -d "{\"token\":\"${LINK#*token=}\"}"
//	curl -s http://$ADDR/me -H "Authorization: Bearer $ACCESS_TOKEN"
//
// Each link is written a moment after the 202, by the service's own
// goroutine: if grep finds nothing, run it again.
//
// # API
//
// Package authhttp serves these routes and documents their bodies,
// statuses and errors; this program adds GET /healthz.
//
//	GET    /healthz                     200 {"status":"ok"}; 503 when the database does not answer
//	POST   /auth/register               {username, email, password}: 201 with the account
//	POST   /auth/login                  {login, password}: 200 token response
//	POST   /auth/refresh                {refresh_token}: 200 token response
//	POST   /auth/logout                 Bearer, or {refresh_token}: 204
//	POST   /auth/logout-all             Bearer: 204
//	POST   /auth/password/change        Bearer {current_password, new_password}: 200 token response
//	POST   /auth/password/forgot        {email}: 202 for any address; a reset link is sent
//	POST   /auth/password/reset         {token, password}: 204
//	POST   /auth/email/verify/request   Bearer: 202; a verification link is sent
//	POST   /auth/email/verify           {token}: 204
//	POST   /me/email                    Bearer {email, current_password}: 200 with the account
//	GET    /me                          Bearer: 200 with the account
//	GET    /me/sessions                 Bearer: 200 with the sessions, most recently active first
//	DELETE /me/sessions/{id}            Bearer: 204
//	POST   /me/sessions/revoke-others   Bearer: 204
//	GET    /.well-known/jwks.json       the public keys of the access tokens
//	GET    /admin/audit                 Bearer, allowed by the policy: 200 a page of audit events
//	GET    /admin/audit/verify          Bearer, allowed: 200 the hash chain checked
//	POST   /admin/users/{id}/role       Bearer, allowed {role}: 200 with the account
//	GET    /admin/policies              Bearer, allowed: 200 the policy's rules
//	POST   /admin/policies              Bearer, allowed {ptype, values}: 201 rules added
//	DELETE /admin/policies              Bearer, allowed {id} or {ptype, values}: 200
//	GET    /auth/oauth/{provider}/start     ?return_to: 302 to the provider (with --oauth-config)
//	GET    /auth/oauth/{provider}/callback  the provider's redirect: 200 token response, or 303
//	GET    /me/identities                   Bearer: 200 the linked identities
//	POST   /me/identities/{provider}/link   Bearer, optional {return_to}: 200 {authorization_url}
//	DELETE /me/identities/{provider}        Bearer: 204
//
// Every error, the program's own included (405, a panic's 500, a
// database that does not answer), is an application/problem+json body;
// a refused login gets the same 401 body whatever the reason, which goes
// to the log only. Every response carries Cache-Control: no-store (but
// the key set, which is cacheable), X-Content-Type-Options: nosniff and a
// Content-Security-Policy that allows nothing.
//
// # Administration
//
// The /admin/ routes (package authhttp documents them) are guarded by an
// rbac.Authorizer: the policy decides who may use which route with which
// method, and everyone else gets 403. On PostgreSQL the policy is the
// casbin_rules table, shared by every instance: a change made through one
// instance holds on that instance for the very next request, and reaches
// the others through PostgreSQL LISTEN/NOTIFY (store/postgres's
// PolicyWatcher, on a connection of its own that reconnects and reloads
// after an outage) within milliseconds. In memory the policy is this
// process's. At start, a policy without any active rule the RBAC model
// can use gets the default admin policy, "p, admin, /admin/*, *": users
// whose role is ADMIN may do everything under /admin/ (--seed-policy=false
// leaves it alone). A database adopted from the original system holds
// that system's attribute rules, which the RBAC model skips, so it gets
// the admin policy too.
//
// Nobody is ADMIN at first. On PostgreSQL, make the first administrator
// with the operator tool, after alice registered; her next request
// carries the role:
//
//	go run ./cmd/cedrina user set-role --username alice --role ADMIN --database-url "$DATABASE_URL"
//
// (A host makes its first administrator in code with user.Service.SetRole
// instead; the in-memory store can only be reached that way.) Then, with
// alice's access token:
//
//	curl -s "http://$ADDR/admin/audit?limit=5" -H "Authorization: Bearer $ACCESS_TOKEN"
//	curl -s "http://$ADDR/admin/audit?type=login_failure&from=2026-01-01T00:00:00Z" -H "Authorization: Bearer $ACCESS_TOKEN"
//	curl -s http://$ADDR/admin/audit/verify -H "Authorization: Bearer $ACCESS_TOKEN"
//	curl -s http://$ADDR/admin/policies -H "Authorization: Bearer $ACCESS_TOKEN"
//
// Each page of GET /admin/audit ends with "next": pass it back as
// cursor= (with the same filters) for the following page; it is "" after
// the last one. Let every user read the audit trail, then take it back:
//
//	curl -s -X POST http://$ADDR/admin/policies -H "Authorization: Bearer $ACCESS_TOKEN" \
//	  -H 'Content-Type: application/json' -d '{"ptype":"p","values":["user","/admin/audit","GET"]}'
//	curl -s -X DELETE http://$ADDR/admin/policies -H "Authorization: Bearer $ACCESS_TOKEN" \
//	  -H 'Content-Type: application/json' -d '{"ptype":"p","values":["user","/admin/audit","GET"]}'
//
// DELETE with {"id": N} instead deactivates rule N: it stays in the table
// with its history and is no longer enforced. Every change records who
// made it (created_by, updated_by, and a policy_changed or role_changed
// audit event); denied requests are recorded as authorization_denied.
//
// # Sign-in with external identities
//
// With --oauth-config, users sign in with Google, Microsoft, Facebook,
// GitHub or any OpenID Connect provider (package oauth; package authhttp
// documents the routes). The file is JSON; unknown members are refused:
//
//	{
//	  "providers": [
//	    {"name": "google", "client_id": "...", "client_secret": "...",
//	     "redirect_url": "https://auth.example.com/auth/oauth/google/callback"},
//	    {"name": "github", "client_id": "...", "client_secret": "...",
//	     "redirect_url": "https://auth.example.com/auth/oauth/github/callback"},
//	    {"name": "acme", "issuer": "https://sso.acme.example", "client_id": "...",
//	     "client_secret": "...", "redirect_url": "https://auth.example.com/auth/oauth/acme/callback"}
//	  ],
//	  "return_to": ["https://app.example.com/"],
//	  "default_return_to": "https://app.example.com/account",
//	  "callback": "token"
//	}
//
// Each provider's name is its route name (/auth/oauth/{name}/...) and
// picks its kind: google, microsoft, facebook and github are those
// providers; any other name (lower-case letters, digits, '-' and '_') is
// an OpenID Connect provider found from its "issuer". "redirect_url" is
// required: the callback URL registered with the provider, matched
// exactly. The other members override the providers' defaults: "scopes";
// "issuer" (Google's and Microsoft's too); "tenant" (Microsoft: a tenant
// id or domain, or common, organizations, consumers); "auth_url",
// "token_url" and "api_url" (GitHub's and Facebook's endpoints).
// "return_to" is the allowlist of where a sign-in may send the browser
// afterwards (an entry ending in "/" allows every path under it); any
// other return_to is refused. "callback" is "token" (default: the
// callback answers the token response of POST /auth/login) or "redirect"
// (the callback sets the session cookie and answers 303 to return_to;
// the API then also accepts the session cookie, and its unsafe requests
// only from --public-url's origin or the same origin). The file holds
// client secrets: chmod 600 it.
//
// The providers' access and refresh tokens are stored sealed
// (AES-256-GCM) under keys the program must be given, or it refuses to
// start: "id:base64", comma-separated, the current key first, in
// --oauth-token-keys-file or $CEDRINA_OAUTH_TOKEN_KEYS. To rotate, put a
// new key first and keep the old ones after it. The flows' state cookies
// are sealed with the key in --oauth-state-key-file or
// $CEDRINA_OAUTH_STATE_KEY (the base64 of 32 bytes); without one the
// program makes a random key and says so in the log: a sign-in begun
// before a restart, or on another instance, then fails at the callback.
// Give every instance the same keys.
//
//	umask 077
//	echo "k1:$(openssl rand -base64 32)" > oauth-token-keys
//	openssl rand -base64 32 > oauth-state-key
//	go run ./examples/httpserver --oauth-config oauth.json \
//	  --oauth-token-keys-file oauth-token-keys --oauth-state-key-file oauth-state-key
//
// A sign-in starts in the browser at /auth/oauth/google/start (with
// ?return_to=...), which redirects to the provider with the flow's state
// in the __Host-cedrina-oauth cookie. That cookie, like the session
// cookie, is Secure: browsers keep it over HTTPS, and over plain HTTP
// only for http://localhost. The linked identities are in the
// oauth_profiles table (in memory: this process's). The record of each
// spent flow state, kept so that a state works once, stays in the store
// until oauth.Cleanup deletes the expired ones (`cedrina cleanup`, from
// cron); this program does not run it.
//
// # Keys and sessions
//
// Without --jwt-key-file the server signs with a key generated at start,
// and says so in the log ("ephemeral key: tokens die with the process"):
// a restart invalidates every access token, and several instances behind
// one load balancer would refuse each other's tokens. For anything else,
// make a key once and give every instance the same file:
//
//	openssl genpkey -algorithm ed25519 -out jwt.pem && chmod 600 jwt.pem
//	go run ./examples/httpserver --jwt-key-file jwt.pem
//
// The key's id (kid) is its thumbprint, the same on every instance. The
// program builds the session service first, then the user service with
// it (user.Config.Sessions), so that a password change or a deactivation
// ends the user's sessions at once. Sessions end after 24 hours without
// activity or 7 days after login. Ended sessions stay in the store until
// session.Service.Cleanup deletes them (`cedrina cleanup`, from cron);
// this program does not run it.
//
// # Password reset and email verification
//
// The reset and verification links point at pages of the application's
// front end, which post the token to the API: --public-url followed by
// /reset-password?token=... (valid 30 minutes, once) and
// /verify-email?token=... (valid 24 hours, once). Without --public-url
// they point at the server itself, which serves no such pages: for
// trying the API, take the token from the link.
//
// Links and notices (the password was reset, the address changed) are
// handed to a notify.Notifier, which this program sets to notify.Log on
// its own log: the development notifier, which writes every link, a
// secret, to the log instead of mailing it, and says so at start
// ("development notifier: ... written to this log, not mailed"). It is
// for development only. A real host plugs its mailer in: a
// notify.Notifier (or notify.Func) given to user.Config.Notifier and
// reset.Config.Notifier; the services call it from their own goroutines,
// never on a request path.
//
// POST /auth/password/forgot answers 202 whether or not the address has
// an account, and takes the same time; requests are limited to 3 per
// address and 20 per client IP an hour (see "Rate limits"). A reset ends
// every session of the user
// and unlocks a locked account. POST /me/email changes the address after
// checking the current password; the old address is told, the new one
// gets a verification link.
//
// # Rate limits
//
// The server limits, per client IP, POST /auth/login to 30 requests a
// minute (--login-limit) and POST /auth/register to 20 (--register-limit),
// and, through the SDK's defaults, POST /auth/email/verify/request to 3 an
// hour per user, POST /auth/password/forgot to 3 an hour per address
// and 20 per client IP, and, with --oauth-config, the external sign-in
// routes (start, callback and link, counted together) to 30 a minute per
// client IP. The client IP is the one audit events record
// (see --trusted-proxies). Every request counts, refused or not, in fixed
// windows of the clock (a one-minute window runs from hh:mm:00 to
// hh:mm+1:00). Responses of these routes carry the RateLimit-Policy and
// RateLimit headers, and a request over its limit gets 429 with
// Retry-After:
//
//	HTTP/1.1 429 Too Many Requests
//	Cache-Control: no-store
//	Content-Type: application/problem+json
//	Ratelimit: "login";r=0;t=42
//	Ratelimit-Policy: "login";q=30;w=60
//	Retry-After: 42
//
// The first refusal of a client in each window is recorded in the audit
// trail as rate_limit_exceeded (with the policy's name and the key's
// hash). On PostgreSQL the counters are in the database, shared by every
// instance on it; in memory they are this process's. If the counters
// cannot be read, these routes answer 503 rather than let requests
// through unchecked. --rate-limit=false turns all of it off, for a server
// behind a proxy that limits these routes itself.
//
// Try it, after the walkthrough above: each guess at an unknown account
// is refused (401) until the limit answers 429, whose headers are shown.
//
//	while :; do
//	  HEADERS=$(curl -s -D - -o /dev/null -X POST http://$ADDR/auth/login \
//	    -H 'Content-Type: application/json' -d '{"login":"mallory","password":"a guess"}')
//	  case "$HEADERS" in "HTTP/1.1 429"*) break ;; esac
//	done
//	echo "$HEADERS"
//
// # Audit trail and logs
//
// With either store, account and session events (registration, logins
// with the refusal reason, lockouts, password changes, password reset
// requests and resets, address changes and verifications, sessions
// created, refreshed, revoked, token reuse, and with --oauth-config
// external sign-ins, links, unlinks and refused callbacks with their
// reasons) go to the audit trail in the
// same store, through a batched writer that both services record to and that
// is flushed at shutdown. Each event carries the client IP, the
// User-Agent and a correlation id. The client IP is the peer's address
// unless the peer is one of --trusted-proxies, whose X-Forwarded-For is
// then believed: list only proxies you run, never a range clients can
// connect from, or clients choose their own address. The correlation id
// is the request's X-Correlation-ID or X-Request-ID when well-formed, or
// a fresh random one, and is echoed in the X-Correlation-ID response
// header. Check the trail's hash chain with `cedrina audit verify`.
//
// Logs are JSON lines on standard error: one line per request (method,
// path without the query, status, duration), the API's refusals with
// their reasons, and errors. Every line written while serving a request
// carries its correlation_id and client_ip, as its audit events do. Logs
// never contain passwords or tokens, but for the development notifier's
// lines ("notify: development notifier (not sent)"), which carry the
// reset and verification links on purpose. Audit events the database
// could not take by the end of the shutdown are logged instead ("audit:
// event not stored"); `cedrina audit replay` stores them from the log.
// Messages not sent by then are logged without their links ("notify:
// message not sent").
//
// # Limits and deployment
//
// The server sets read, write and idle timeouts, caps headers at 32 KiB
// and request bodies at 64 KiB, and gives each request a 10-second
// deadline: a request that runs out, typically waiting for a hashing slot
// during a flood of logins, answers 503 with Retry-After instead of
// piling up.
//
// The server speaks plain HTTP: put it behind a reverse proxy that
// terminates TLS and sets Strict-Transport-Security, since tokens cross
// the network in every request. Behind the proxy, give --trusted-proxies
// its address, or every client counts as the proxy's one IP against the
// rate limits. The limits above bound login and registration; the routes
// they do not cover (/auth/refresh, /auth/password/change,
// /auth/password/reset, /auth/email/verify, /me/email) are worth a
// generous per-client limit at the proxy. The account lockout (5 failures
// lock an account for 15 minutes) slows guessing on one account, but lets
// anyone lock an account on purpose.
//
// The API takes bearer tokens only, which browsers never attach by
// themselves, so it needs no CSRF defence; but with an --oauth-config
// whose callback is "redirect" it also takes the session cookie, and then
// refuses a cookie's unsafe request unless it comes from the same origin
// or from --public-url's (session.MiddlewareConfig.AllowCookie).
package main
