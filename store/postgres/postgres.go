package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	neturl "net/url"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // registers the "postgres" driver

	"github.com/cedrina/cedrina/internal/errs"
	"github.com/cedrina/cedrina/store"
)

// Config holds the pool settings [Open] applies. The zero value gives the
// settings the original system ran with: 20 idle, 50 open, connections
// recycled after an hour, 30 seconds of waiting for one.
type Config struct {
	// MaxIdleConns is the number of connections kept open while idle.
	// Default 20.
	MaxIdleConns int
	// MaxOpenConns caps the connections in use at once: the 20 kept plus
	// up to 30 more under load. Default 50.
	MaxOpenConns int
	// ConnMaxLifetime recycles a connection after it has been open this
	// long, so connections follow failovers and server restarts.
	// Default 1 hour.
	ConnMaxLifetime time.Duration
	// AcquireTimeout bounds the wait for a free connection when all
	// MaxOpenConns are busy. Default 30 seconds. It does not bound the
	// query itself; use the context for that.
	AcquireTimeout time.Duration
	// TextParameters keeps lib/pq's default of sending parameters in a
	// separate round trip after preparing each statement. By default Open
	// adds binary_parameters=yes to the connection string (unless it names
	// binary_parameters itself), so that a parameterized query costs one
	// round trip instead of two. With it, []byte parameters travel in
	// binary form: pass JSON as a string, not []byte, in your own queries
	// on this pool.
	TextParameters bool
}

func (c Config) withDefaults() Config {
	if c.MaxIdleConns == 0 {
		c.MaxIdleConns = 20
	}
	if c.MaxOpenConns == 0 {
		c.MaxOpenConns = 50
	}
	if c.ConnMaxLifetime == 0 {
		c.ConnMaxLifetime = time.Hour
	}
	if c.AcquireTimeout == 0 {
		c.AcquireTimeout = 30 * time.Second
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.MaxIdleConns < 0:
		return errs.Configf("postgres", "Config.MaxIdleConns", "%d is negative", c.MaxIdleConns)
	case c.MaxOpenConns < 0:
		return errs.Configf("postgres", "Config.MaxOpenConns", "%d is negative", c.MaxOpenConns)
	case c.MaxIdleConns > c.MaxOpenConns:
		return errs.Configf("postgres", "Config.MaxIdleConns", "%d exceeds Config.MaxOpenConns (%d)", c.MaxIdleConns, c.MaxOpenConns)
	case c.ConnMaxLifetime < 0:
		return errs.Configf("postgres", "Config.ConnMaxLifetime", "%v is negative", c.ConnMaxLifetime)
	case c.AcquireTimeout < 0:
		return errs.Configf("postgres", "Config.AcquireTimeout", "%v is negative", c.AcquireTimeout)
	}
	return nil
}

// DB is a PostgreSQL database holding the SDK's tables. It hands out the
// stores ([DB.Users], ...) and runs transactions ([DB.InTx]). It is safe
// for concurrent use.
type DB struct {
	x              *sqlx.DB
	acquireTimeout time.Duration
	owned          bool
	rateLimit      rateLimitStmts // prepared on first use
}

var _ store.Transactor = (*DB)(nil)

// Open opens a pool on the PostgreSQL server named by url (a
// postgres:// URL or a key=value connection string, as lib/pq takes),
// applies cfg's pool settings, and checks the connection with a ping.
// The caller closes the DB. Open does not migrate; call schema.Migrate.
//
// An empty url (or one of spaces only) is an error: Open does not fall
// back on lib/pq's defaults (the PG* environment variables, a server on
// localhost), so that a missing setting cannot connect the SDK to another
// database than the one meant.
func Open(ctx context.Context, url string, cfg Config) (*DB, error) {
	if strings.TrimSpace(url) == "" {
		return nil, errors.New("postgres: Open: empty database URL")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if !cfg.TextParameters {
		url = withBinaryParameters(url)
	}
	x, err := sqlx.Open("postgres", url)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", redact(err, url))
	}
	x.SetMaxIdleConns(cfg.MaxIdleConns)
	x.SetMaxOpenConns(cfg.MaxOpenConns)
	x.SetConnMaxLifetime(cfg.ConnMaxLifetime)
	if err := x.PingContext(ctx); err != nil {
		x.Close()
		return nil, fmt.Errorf("postgres: connect: %w", redact(sanitize(err), url))
	}
	return &DB{x: x, acquireTimeout: cfg.AcquireTimeout, owned: true}, nil
}

// withBinaryParameters adds binary_parameters=yes to a postgres:// URL or
// a key=value connection string that does not set binary_parameters.
func withBinaryParameters(dsn string) string {
	if strings.Contains(dsn, "binary_parameters") {
		return dsn
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := neturl.Parse(dsn)
		if err != nil {
			return dsn // sqlx.Open reports it
		}
		q := u.Query()
		q.Set("binary_parameters", "yes")
		u.RawQuery = q.Encode()
		return u.String()
	}
	return strings.TrimSpace(dsn + " binary_parameters=yes")
}

// New wraps a pool the host already has. Its pool settings are left as
// they are; cfg supplies only AcquireTimeout. Closing the returned DB does
// not close x: the host owns it.
func New(x *sqlx.DB, cfg Config) (*DB, error) {
	if x == nil {
		return nil, errors.New("postgres: New: nil *sqlx.DB")
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &DB{x: x, acquireTimeout: cfg.withDefaults().AcquireTimeout}, nil
}

// NewFromSQL wraps a *sql.DB opened with lib/pq ("postgres") or with
// pgx's database/sql driver (github.com/jackc/pgx/v5/stdlib: sql.Open("pgx",
// url), stdlib.OpenDB or stdlib.OpenDBFromPool). Errors are translated
// alike for both (see the package doc), by SQLSTATE, from any driver whose
// server errors have a SQLState() string method. Like [New], it leaves
// the pool's settings and ownership to the host.
func NewFromSQL(db *sql.DB, cfg Config) (*DB, error) {
	if db == nil {
		return nil, errors.New("postgres: NewFromSQL: nil *sql.DB")
	}
	return New(sqlx.NewDb(db, "postgres"), cfg)
}

// SQLX returns the underlying pool.
func (db *DB) SQLX() *sqlx.DB { return db.x }

// Close closes the statements the DB prepared (those of
// [RateLimitStore]), and the pool if [Open] opened it; a wrapped pool
// stays open.
func (db *DB) Close() error {
	err := db.rateLimit.close()
	if !db.owned {
		return err
	}
	return errors.Join(err, db.x.Close())
}

// Ping checks that the server answers.
func (db *DB) Ping(ctx context.Context) error {
	return translate(ctx, db.x.PingContext(ctx))
}

type txKey struct{}

type txState struct {
	db *DB
	tx *sqlx.Tx
}

// TxFromContext returns the transaction that [DB.InTx] put in ctx, or nil.
// Hosts use it to write their own tables in the same transaction as the
// SDK's stores.
func TxFromContext(ctx context.Context) *sqlx.Tx {
	if st, ok := ctx.Value(txKey{}).(*txState); ok {
		return st.tx
	}
	return nil
}

// InTx runs fn in a database transaction carried by the context it passes
// to fn; every store method of this DB called with that context runs in
// the transaction. fn's error or panic rolls back, otherwise InTx commits.
// A nested call with a context that already carries a transaction of this
// DB joins it and leaves commit or rollback to the outermost call.
func (db *DB) InTx(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	if st, ok := ctx.Value(txKey{}).(*txState); ok && st.db == db {
		return fn(ctx)
	}
	conn, err := db.conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("postgres: begin: %w", translate(ctx, err))
	}
	done := false
	defer func() {
		if !done {
			tx.Rollback() // fn panicked; the panic goes on
		}
	}()
	if err := fn(context.WithValue(ctx, txKey{}, &txState{db: db, tx: tx})); err != nil {
		done = true
		if rbErr := tx.Rollback(); rbErr != nil && !errors.Is(rbErr, sql.ErrTxDone) {
			return errors.Join(err, fmt.Errorf("postgres: rollback: %w", translate(ctx, rbErr)))
		}
		return err
	}
	done = true
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("postgres: commit: %w", translate(ctx, err))
	}
	return nil
}

// querier is what a store method runs its statements on: the
// transaction in the context or a connection taken from the pool.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryxContext(ctx context.Context, query string, args ...any) (*sqlx.Rows, error)
	QueryRowxContext(ctx context.Context, query string, args ...any) *sqlx.Row
	GetContext(ctx context.Context, dest any, query string, args ...any) error
	SelectContext(ctx context.Context, dest any, query string, args ...any) error
}

// run calls fn with the context's transaction, or with a pooled
// connection taken within AcquireTimeout and returned afterwards.
func (db *DB) run(ctx context.Context, fn func(q querier) error) error {
	if st, ok := ctx.Value(txKey{}).(*txState); ok && st.db == db {
		return translate(ctx, fn(st.tx))
	}
	conn, err := db.conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return translate(ctx, fn(conn))
}

// conn takes a connection from the pool, waiting at most AcquireTimeout.
func (db *DB) conn(ctx context.Context) (*sqlx.Conn, error) {
	actx, cancel := context.WithTimeout(ctx, db.acquireTimeout)
	defer cancel()
	conn, err := db.x.Connx(actx)
	if err != nil {
		// The acquire timeout, not a deadline of the driver's own (pgx's
		// connect_timeout is a context deadline too), nor the caller's.
		if ctx.Err() == nil && actx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			return nil, translate(ctx, fmt.Errorf("postgres: no connection free within %v: %w", db.acquireTimeout, ErrPoolTimeout))
		}
		return nil, fmt.Errorf("postgres: acquire connection: %w", translate(ctx, err))
	}
	return conn, nil
}

// ErrPoolTimeout reports that every connection stayed busy for
// Config.AcquireTimeout. Errors that match it also match
// store.ErrUnavailable.
var ErrPoolTimeout = errors.New("postgres: connection pool exhausted")

// isRowID reports whether id fits the schema's id columns (INTEGER, from
// SERIAL). The API takes int64 ids; one beyond INTEGER names no row, and
// is answered as such before it reaches a driver, which would refuse to
// encode it (pgx) or have the server refuse it (lib/pq, SQLSTATE 22003).
func isRowID(id int64) bool { return id >= math.MinInt32 && id <= math.MaxInt32 }
