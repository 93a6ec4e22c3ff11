package postgres_test

import (
	"context"
	"database/sql"
	"log"
	"net/http"
	"os"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/cedrina/cedrina/authhttp"
	"github.com/cedrina/cedrina/schema"
	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/user"
)

// A host opens a pool, migrates explicitly, and hands the stores to the
// services. (It needs a server, so it is compiled, not run.)
func Example() {
	ctx := context.Background()
	db, err := postgres.Open(ctx, os.Getenv("DATABASE_URL"), postgres.Config{}) // 20 idle, 50 open, 30 s acquire, 1 h recycle; "" is refused
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if err := schema.Migrate(ctx, db.SQLX().DB); err != nil { // advisory-locked: safe from many instances
		log.Fatal(err)
	}
	keys := loadKeys() // session.ParsePrivateKeyPEM, the same key on every instance
	sessions, err := session.NewService(db.Sessions(), session.Config{Keys: keys, Issuer: "https://auth.example.com", Audience: []string{"api"}})
	if err != nil {
		log.Fatal(err)
	}
	users, err := user.NewService(db.Users(), user.Config{Sessions: sessions})
	if err != nil {
		log.Fatal(err)
	}
	api, err := authhttp.New(authhttp.Config{Users: users, Sessions: sessions})
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.ListenAndServe(":8080", api))
}

// A host whose pool is pgx's hands it over through database/sql; errors
// are translated by SQLSTATE as with lib/pq. (Compiled, not run.)
func ExampleNewFromSQL() {
	pool, err := sql.Open("pgx", os.Getenv("DATABASE_URL"))
	if err != nil {
		log.Fatal(err)
	}
	db, err := postgres.NewFromSQL(pool, postgres.Config{}) // the pool's own settings are kept
	if err != nil {
		log.Fatal(err)
	}
	_ = db.Users() // user.ErrUsernameTaken, store.ErrUnavailable, ... as on lib/pq
}

// loadKeys reads the access-token signing key.
func loadKeys() *session.KeySet {
	pem, err := os.ReadFile(os.Getenv("JWT_KEY_FILE"))
	if err != nil {
		log.Fatal(err)
	}
	key, err := session.ParsePrivateKeyPEM("", pem)
	if err != nil {
		log.Fatal(err)
	}
	keys, err := session.NewKeySet(key)
	if err != nil {
		log.Fatal(err)
	}
	return keys
}
