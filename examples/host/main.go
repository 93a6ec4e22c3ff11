// Host is the smallest program that mounts the SDK's HTTP API and
// protects a route of its own; the README shows it whole.
package main

import (
	"github.com/cedrina/cedrina/authhttp"
	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/user"
	"log"
	"net/http"
)

func main() {
	db := memory.New()                                  // in production: postgres.Open, then schema.Migrate
	key := must(session.GenerateKey(session.EdDSA, "")) // dies with the process, and every session with it: see ParsePrivateKeyPEM
	sessions := must(session.NewService(db.Sessions(), session.Config{Keys: must(session.NewKeySet(key)), Issuer: "https://auth.example.com", Audience: []string{"api"}}))
	users := must(user.NewService(db.Users(), user.Config{Sessions: sessions})) // after sessions: a password change ends them
	api := must(authhttp.New(authhttp.Config{Users: users, Sessions: sessions}))
	http.Handle("/", api) // /auth/..., /me..., /.well-known/jwks.json
	http.Handle("GET /hello", api.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("hello, signed-in user\n")) // session.PrincipalFromContext(r.Context()) says who
	})))
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", nil))
}

func must[T any](v T, err error) T {
	if err != nil {
		log.Fatal(err)
	}
	return v
}
