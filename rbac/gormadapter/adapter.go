package gormadapter

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	casbingorm "github.com/casbin/gorm-adapter/v3"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/cedrina/cedrina/rbac"
)

// DefaultChannel is Config.Channel's default: store/postgres's
// PolicyChannel, which its RuleStore notifies on and its PolicyWatcher
// listens on (the package does not import store/postgres; a test checks
// that the two are equal).
const DefaultChannel = "cedrina_rbac"

// table is the table the adapter works on, found through the connection's
// search_path like every other Cedrina table.
const table = "casbin_rules"

// lockSQL takes the transaction-level advisory lock that serialises every
// change of casbin_rules, so that two concurrent Adds of one line never
// make two active rows. The key, (0x0cab, 0), is the one store/postgres's
// RuleStore takes, so the two may change one table side by side (a test
// races them). It is released at commit or rollback.
const lockSQL = "SELECT pg_advisory_xact_lock(3243, 0)"

// checkTimeout bounds New's and NewFromGorm's check of the table (they
// take no context).
const checkTimeout = 30 * time.Second

// maxChannelLen is PostgreSQL's longest identifier (NAMEDATALEN - 1): a
// longer channel name is truncated by LISTEN but not by pg_notify.
const maxChannelLen = 63

// Config holds the adapter's optional settings; the zero value is valid.
type Config struct {
	// Channel is the PostgreSQL NOTIFY channel every change of the
	// active rules is announced on, inside the change's transaction.
	// Default DefaultChannel ("cedrina_rbac"), store/postgres's
	// PolicyChannel: keep it unless every instance's watcher listens
	// elsewhere (store/postgres.WatcherConfig.Channel). At most 63
	// bytes of UTF-8, without control characters.
	Channel string
	// Logger receives the adapter's own debug lines (each change of the
	// rules) and, for an adapter made by New, gorm's: a failed statement
	// at error level, a statement slower than 200 ms at warn level, with
	// the SQL but never its arguments. Default: discard.
	Logger *slog.Logger
	// Now is the clock of the Casbin methods (created_at, updated_at);
	// the rbac.Store methods take the time as an argument. Default
	// time.Now.
	Now func() time.Time
}

// Adapter keeps Casbin policies in the casbin_rules table through GORM.
// It implements rbac.Store and Casbin's adapter interfaces (see the
// package documentation). It is safe for concurrent use.
type Adapter struct {
	// db is a session of the host's pool without statement state; every
	// statement of the adapter starts from it.
	db *gorm.DB
	// active is db restricted to the rows LoadFilteredPolicy may read
	// (is_active = true, a non-empty ptype), with gorm-adapter's
	// auto-migration turned off; only gorm-adapter's code uses it.
	active  *gorm.DB
	channel string
	log     *slog.Logger
	now     func() time.Time
	// filtered is Casbin's IsFiltered: whether the last load was a
	// filtered one.
	filtered atomic.Bool
}

var _ rbac.Store = (*Adapter)(nil)

// New returns an adapter on db, a pool of the host's (lib/pq's "postgres"
// driver or pgx's "pgx" database/sql driver) on a database migrated with
// schema.Migrate. It refuses, with an error naming the problem, when the
// casbin_rules table is not found through the connection's search_path or
// lacks one of its columns. New builds its own *gorm.DB on db (no second
// pool: every statement uses db) and never changes the schema.
//
// The adapter does not own db: Close leaves it open, and the host closes
// it when it is done with everything that uses it.
func New(db *sql.DB, cfg Config) (*Adapter, error) {
	if db == nil {
		return nil, errors.New("gormadapter: New: nil *sql.DB")
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	log := cfg.logger()
	g, err := gorm.Open(postgres.New(postgres.Config{
		// With lib/pq, DriverName "postgres" is required: without it
		// gorm's PostgreSQL migrator adds a pgx-only argument to its
		// queries. With Conn set, no connection is opened.
		DriverName: "postgres",
		Conn:       db,
	}), &gorm.Config{
		Logger: logger.NewSlogLogger(log, logger.Config{
			SlowThreshold:             200 * time.Millisecond,
			LogLevel:                  logger.Warn,
			IgnoreRecordNotFoundError: true,
			ParameterizedQueries:      true,
		}),
		// Every change is an explicit transaction of the adapter's.
		SkipDefaultTransaction: true,
		// The table check below reaches the server.
		DisableAutomaticPing: true,
	})
	if err != nil {
		return nil, fmt.Errorf("gormadapter: New: %w", err)
	}
	return newAdapter(g, cfg, "New")
}

// NewFromGorm is New for a host that already has a *gorm.DB on
// PostgreSQL. The adapter works on a session of g: it keeps g's pool,
// logger and settings but none of its statement state (a Table, Where or
// Scopes call the host made on g), and it never modifies g itself. g must
// not be a transaction (the adapter outlives it). As with New, the
// adapter does not own g's pool.
func NewFromGorm(g *gorm.DB, cfg Config) (*Adapter, error) {
	switch {
	case g == nil:
		return nil, errors.New("gormadapter: NewFromGorm: nil *gorm.DB")
	case g.Dialector == nil || g.Name() != "postgres":
		return nil, errors.New("gormadapter: NewFromGorm: not a PostgreSQL *gorm.DB (advisory locks and NOTIFY are PostgreSQL's)")
	}
	if _, ok := g.Statement.ConnPool.(*sql.Tx); ok {
		return nil, errors.New("gormadapter: NewFromGorm: g is a transaction; pass the *gorm.DB of the pool")
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	return newAdapter(g, cfg, "NewFromGorm")
}

func newAdapter(g *gorm.DB, cfg Config, op string) (*Adapter, error) {
	// A session of its own: no statement state of the host's, and the
	// host's *gorm.DB is never written to (TurnOffAutoMigrate below
	// overwrites the *gorm.DB it is given).
	db := g.Session(&gorm.Session{NewDB: true, Context: context.Background()})
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	if err := checkTable(ctx, db); err != nil {
		return nil, fmt.Errorf("gormadapter: %s: %w", op, err)
	}
	// gorm-adapter's constructors create or alter the table (AutoMigrate
	// and a unique index) unless the *gorm.DB's context says not to.
	casbingorm.TurnOffAutoMigrate(db)
	a := &Adapter{
		db:      db,
		active:  db.Where("is_active = ? AND ptype <> ''", true).Session(&gorm.Session{}),
		channel: cfg.Channel,
		log:     cfg.logger(),
		now:     cfg.Now,
	}
	if a.channel == "" {
		a.channel = DefaultChannel
	}
	if a.now == nil {
		a.now = time.Now
	}
	return a, nil
}

func (c Config) check() error {
	if c.Channel == "" {
		return nil
	}
	if len(c.Channel) > maxChannelLen {
		return fmt.Errorf("gormadapter: Config.Channel: %d bytes, at most %d", len(c.Channel), maxChannelLen)
	}
	if !utf8.ValidString(c.Channel) || strings.ContainsFunc(c.Channel, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return errors.New("gormadapter: Config.Channel: invalid UTF-8 or a control character")
	}
	return nil
}

func (c Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// columns are the casbin_rules columns the adapter reads and writes.
var columns = []string{
	"id", "ptype", "v0", "v1", "v2", "v3", "v4", "v5",
	"created_at", "updated_at", "created_by", "updated_by", "is_active",
}

// checkTable reports a missing casbin_rules table or column.
func checkTable(ctx context.Context, db *gorm.DB) error {
	var found []string
	err := db.WithContext(ctx).Raw(`SELECT a.attname FROM pg_attribute a
		WHERE a.attrelid = to_regclass(?) AND a.attnum > 0 AND NOT a.attisdropped`, table).
		Scan(&found).Error
	if err != nil {
		return translate(ctx, err)
	}
	if len(found) == 0 {
		return fmt.Errorf("table %s not found in the search_path: %s", table, notMigrated)
	}
	var missing []string
	for _, c := range columns {
		if !slices.Contains(found, c) {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("table %s lacks column(s) %s: %s", table, strings.Join(missing, ", "), notMigrated)
	}
	return nil
}

// Close does nothing and returns nil: the adapter owns no resource. In
// particular it never closes the host's *sql.DB, which gorm-adapter's
// own Close does (it closes the pool under the *gorm.DB, shared with the
// rest of the host). The adapter stays usable after Close.
func (a *Adapter) Close() error { return nil }
