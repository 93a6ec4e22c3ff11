package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/cedrina/cedrina/store/postgres"
)

// pingTimeout bounds the first contact with the server, so a wrong host
// fails in seconds instead of hanging.
const pingTimeout = 10 * time.Second

// databaseURLFlag registers --database-url on fs, for every command that
// needs a database.
func databaseURLFlag(fs *flag.FlagSet) *string {
	return fs.String("database-url", "", "PostgreSQL URL (default: $DATABASE_URL)")
}

// usageError is a problem with the command line or configuration (exit 2);
// every other error is a failure (exit 1).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// connect resolves the database URL (the flag wins over DATABASE_URL),
// opens a lib/pq pool and pings the server. Error messages never contain
// the password of the URL.
func connect(ctx context.Context, e *env, flagURL string) (*sql.DB, error) {
	dsn := flagURL
	if strings.TrimSpace(dsn) == "" {
		dsn = e.getenv("DATABASE_URL")
	}
	if strings.TrimSpace(dsn) == "" {
		return nil, &usageError{"no database URL: pass --database-url or set DATABASE_URL"}
	}
	connector, err := newConnector(dsn)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(connector)
	pingCtx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("cannot reach database: no answer within %s", pingTimeout)
		}
		return nil, fmt.Errorf("cannot reach database: %v", err)
	}
	return db, nil
}

// openDB connects as connect does and wraps the pool in the SDK's
// PostgreSQL stores. On failure it prints "cedrina: <label>: <reason>"
// and returns the exit code to end with (2 for a usage problem, 1
// otherwise). The caller closes the pool with db.SQLX().Close().
func openDB(ctx context.Context, e *env, flagURL, label string) (*postgres.DB, int) {
	sqlDB, err := connect(ctx, e, flagURL)
	if err != nil {
		e.errorf("%s: %v", label, err)
		var ue *usageError
		if errors.As(err, &ue) {
			return nil, exitUsage
		}
		return nil, exitFailure
	}
	db, err := postgres.NewFromSQL(sqlDB, postgres.Config{})
	if err != nil { // only for a nil pool, which connect never returns
		sqlDB.Close()
		e.errorf("%s: %v", label, err)
		return nil, exitFailure
	}
	return db, exitOK
}

// urlScheme matches the start of a URL (RFC 3986 scheme, then "://");
// anything else is taken as a key=value connection string.
var urlScheme = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*)://`)

// newConnector validates dsn (a postgres:// URL or a key=value string) and
// returns a lib/pq connector for it. Parsers quote the input in their
// errors, so URL errors are rebuilt without the URL and any password that
// survives is masked.
func newConnector(dsn string) (*pq.Connector, error) {
	var password string
	if m := urlScheme.FindStringSubmatch(dsn); m != nil {
		if m[1] != "postgres" && m[1] != "postgresql" {
			return nil, errors.New("malformed database URL: the scheme must be postgres:// or postgresql://")
		}
		u, err := url.Parse(dsn)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return nil, fmt.Errorf("malformed database URL: %v", err)
		}
		password, _ = u.User.Password()
	}
	c, err := pq.NewConnector(dsn)
	if err != nil {
		msg := err.Error()
		if password != "" {
			msg = strings.ReplaceAll(msg, password, "xxxxx")
		}
		return nil, fmt.Errorf("malformed database URL: %s", strings.TrimPrefix(msg, "pq: "))
	}
	return c, nil
}
