// Httpserver is a small net/http application built on the Cedrina SDK:
// registration and login over a JSON API, on the in-memory store or on
// PostgreSQL. It shows how a host wires the packages together and maps
// their errors to HTTP; later versions add sessions and tokens.
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
//	curl -i http://127.0.0.1:8080/healthz
//
// The login field takes the username or the email address. Stop the
// server with Ctrl-C (SIGINT) or SIGTERM: it stops accepting connections
// and lets requests in flight finish, for up to 15 seconds.
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
//
// # Audit trail
//
// Registration, logins (with the refusal reason), lockouts and the other
// account events go to the audit trail (package audit) in the same store,
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
// passwords; a refused login is logged with its precise reason (unknown
// user, wrong password, locked, inactive) and account id, while the
// client only ever sees "invalid credentials".
//
// # API
//
//	GET  /healthz   200 {"status":"ok"}; 503 when the database does not answer
//	POST /register  {"username","email","password"}: 201 with the user;
//	                400 invalid field; 409 username or email taken
//	POST /login     {"login","password"}: 200 with the user; 401 for every refusal
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
//
// Unexpected failures answer 500 with a generic body and are logged;
// requests that wait more than 10 seconds (for example for a hashing slot
// during a login flood) answer 503.
//
// # Deployment notes
//
// The server speaks plain HTTP: put it behind a proxy that terminates TLS
// and sets Strict-Transport-Security. Login and registration are not yet
// rate limited; put the ratelimit package in front of them before exposing
// the server. The account lockout alone (5 failures lock an account for
// 15 minutes) lets an attacker lock accounts on purpose.
package main
