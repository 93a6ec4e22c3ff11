package postgres_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/schema"
	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/store/storetest"
	"github.com/cedrina/cedrina/user"
)

// A host's pgx pool reaches the SDK as a *sql.DB in one of two ways:
// sql.Open("pgx", url) (pgx's own connections under database/sql's pool,
// as pgtest.PgxDB opens it) or stdlib.OpenDBFromPool (database/sql on top
// of a *pgxpool.Pool). Both must give the SDK's errors.

// pgxFromPool returns the stores on a *pgxpool.Pool wrapped by
// stdlib.OpenDBFromPool, on a fresh schema, migrated when migrate is set.
func pgxFromPool(t *testing.T, migrate bool) *postgres.DB {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), pgtest.URL(t))
	if err != nil {
		t.Fatalf("pgxpool.New: %T", err) // the message can quote the URL
	}
	t.Cleanup(pool.Close)
	sdb := stdlib.OpenDBFromPool(pool)
	t.Cleanup(func() { sdb.Close() })
	if migrate {
		if err := schema.Migrate(context.Background(), sdb); err != nil {
			t.Fatal(err)
		}
	}
	db, err := postgres.NewFromSQL(sdb, postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// driverDBs are the ways the tests reach PostgreSQL: lib/pq through Open
// (as hosts get it) and New, pgx through NewFromSQL. Each returns the
// stores on a fresh schema, migrated or not.
var driverDBs = []struct {
	name string
	open func(t *testing.T, migrate bool) *postgres.DB
}{
	{"lib/pq Open", func(t *testing.T, migrate bool) *postgres.DB {
		db, err := postgres.Open(context.Background(), pgtest.URL(t), postgres.Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		if migrate {
			if err := schema.Migrate(context.Background(), db.SQLX().DB); err != nil {
				t.Fatal(err)
			}
		}
		return db
	}},
	{"pgx sql.Open", func(t *testing.T, migrate bool) *postgres.DB {
		sdb := pgtest.OpenPgx(t, pgtest.URL(t))
		if migrate {
			if err := schema.Migrate(context.Background(), sdb); err != nil {
				t.Fatal(err)
			}
		}
		db, err := postgres.NewFromSQL(sdb, postgres.Config{})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}},
	{"pgx OpenDBFromPool", pgxFromPool},
}

// TestDuplicateThroughEveryDriver: a duplicate username or email is
// user.ErrUsernameTaken or user.ErrEmailTaken, matching store.ErrConflict,
// whichever driver the pool uses.
func TestDuplicateThroughEveryDriver(t *testing.T) {
	for _, d := range driverDBs {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			db := d.open(t, true)
			ctx := context.Background()
			if err := db.Users().Create(ctx, storetest.NewUser("dup")); err != nil {
				t.Fatal(err)
			}
			again := storetest.NewUser("dup")
			again.Email = "other@example.com"
			err := db.Users().Create(ctx, again)
			if !errors.Is(err, user.ErrUsernameTaken) || !errors.Is(err, store.ErrConflict) {
				t.Errorf("duplicate username: err = %v (%T), want user.ErrUsernameTaken and store.ErrConflict", err, err)
			}
			again = storetest.NewUser("other")
			again.Email = "dup@example.com"
			err = db.Users().Create(ctx, again)
			if !errors.Is(err, user.ErrEmailTaken) || !errors.Is(err, store.ErrConflict) {
				t.Errorf("duplicate email: err = %v (%T), want user.ErrEmailTaken and store.ErrConflict", err, err)
			}
		})
	}
}

// TestMissingSchemaThroughEveryDriver: on a schema nobody migrated, a
// store call says how to migrate, whichever driver the pool uses; so does
// an audit_chain without its row.
func TestMissingSchemaThroughEveryDriver(t *testing.T) {
	for _, d := range driverDBs {
		t.Run(d.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db := d.open(t, false)
			_, err := db.Users().ByID(ctx, 1)
			const want = `postgres: relation "users" does not exist (SQLSTATE 42P01): the schema is not migrated; run schema.Migrate or "cedrina migrate up"`
			if err == nil || err.Error() != want {
				t.Errorf("ByID on an empty schema: err = %v,\nwant %s", err, want)
			}
			if _, err := db.Audit().State(ctx); err == nil || !strings.HasSuffix(err.Error(), `(SQLSTATE 42P01): the schema is not migrated; run schema.Migrate or "cedrina migrate up"`) {
				t.Errorf("State on an empty schema: err = %v, want the missing-schema message", err)
			}

			if err := schema.Migrate(ctx, db.SQLX().DB); err != nil {
				t.Fatal(err)
			}
			if _, err := db.SQLX().ExecContext(ctx, `DELETE FROM audit_chain`); err != nil {
				t.Fatal(err)
			}
			const noRow = `postgres: audit_chain has no row: the schema is not migrated; run schema.Migrate or "cedrina migrate up"`
			if _, err := db.Audit().State(ctx); err == nil || err.Error() != noRow {
				t.Errorf("State without the chain row: err = %v, want %s", err, noRow)
			}
			seal := func(end audit.Head, events []audit.Event) (audit.Head, error) { return end, nil }
			if err := db.Audit().Append(ctx, []audit.Event{{Type: "login_success", Time: time.Now()}}, seal); err == nil || err.Error() != noRow {
				t.Errorf("Append without the chain row: err = %v, want %s", err, noRow)
			}
			if _, err := db.Audit().TrimChain(ctx, time.Now().Add(time.Hour), 10, nil); err == nil || err.Error() != noRow {
				t.Errorf("TrimChain without the chain row: err = %v, want %s", err, noRow)
			}
		})
	}
}

// TestTerminatedConnectionPgx: TestTerminatedConnection on a pgx pool.
func TestTerminatedConnectionPgx(t *testing.T) {
	sdb := pgtest.PgxDB(t)
	db, err := postgres.NewFromSQL(sdb, postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	terminatedConnection(t, db, sqlx.NewDb(sdb, "pgx"))
}

// hungServer listens on a local port and accepts connections without ever
// answering, as a server that hangs does. It returns the address.
func hungServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// closedPort returns a local address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// pgxDBAt returns the stores on a pgx pool for a server at addr, with
// pgx's connect timeout set to timeout (none when 0).
func pgxDBAt(t *testing.T, addr string, timeout time.Duration) *postgres.DB {
	t.Helper()
	cfg, err := pgx.ParseConfig("postgres://cedrina:s3cret-pw@" + addr + "/none?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnectTimeout = timeout
	sdb := stdlib.OpenDB(*cfg)
	t.Cleanup(func() { sdb.Close() })
	db, err := postgres.NewFromSQL(sdb, postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// TestPgxConnectErrorsUnavailable: pgx's errors for a server that cannot
// be reached match store.ErrUnavailable: a refused connection (a
// *pgconn.ConnectError around a dial error) and a server that accepts but
// never answers within pgx's own connect timeout (pgconn.Timeout: an
// error around context.DeadlineExceeded, though the caller's context is
// live, which must therefore not read as the caller's deadline).
func TestPgxConnectErrorsUnavailable(t *testing.T) {
	ctx := context.Background()
	t.Run("refused", func(t *testing.T) {
		db := pgxDBAt(t, closedPort(t), 0)
		err := db.Ping(ctx)
		t.Logf("refused: %v", err)
		_, err2 := db.Users().ByID(ctx, 1)
		for _, err := range []error{err, err2} {
			if !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("a closed port: err = %v, want store.ErrUnavailable", err)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret-pw") {
				t.Errorf("error reveals the password: %v", err)
			}
		}
	})
	t.Run("connect timeout", func(t *testing.T) {
		_, err := pgxDBAt(t, hungServer(t), time.Millisecond).Users().ByID(ctx, 1)
		t.Logf("connect timeout: %v", err)
		if !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("a server that never answers: err = %v, want store.ErrUnavailable", err)
		}
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			t.Errorf("a server that never answers: err = %v matches a context error, but the caller's context is live", err)
		}
		if errors.Is(err, postgres.ErrPoolTimeout) {
			t.Errorf("a server that never answers: err = %v, but the pool was not exhausted", err)
		}
	})
	t.Run("caller's context ended", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := pgxDBAt(t, hungServer(t), 0).Users().ByID(cctx, 1)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the caller's context ended: err = %v, want context.Canceled", err)
		}
	})
}
