// Package gormadapter keeps Cedrina's Casbin rules (the casbin_rules
// table) through GORM, for hosts that already use GORM, on Casbin's own
// github.com/casbin/gorm-adapter/v3 (pinned to v3.39.0: later releases
// are built for Casbin v3 and panic at run time with casbin/v2).
//
// It is a module of its own (github.com/cedrina/cedrina/rbac/gormadapter)
// so that nothing else of Cedrina links GORM or gorm-adapter.
//
//	db, _ := sql.Open("postgres", dsn) // lib/pq, or "pgx" (pgx's stdlib)
//	if err := schema.Migrate(ctx, db); err != nil { ... }
//	a, err := gormadapter.New(db, gormadapter.Config{})
//	// or, with a *gorm.DB: gormadapter.NewFromGorm(gormDB, gormadapter.Config{})
//	e, err := casbin.NewEnforcer(m, a) // a Casbin adapter
//	az, err := rbac.New(ctx, rbac.Config{Store: a, ...}) // an rbac.Store
//
// An [*Adapter] is an [rbac.Store] (it passes the same conformance suite,
// store/storetest.RunRuleStore, as Cedrina's memory and PostgreSQL rule
// stores) and a Casbin adapter: persist.Adapter, ContextAdapter,
// BatchAdapter, ContextBatchAdapter, UpdatableAdapter,
// ContextUpdatableAdapter, FilteredAdapter and ContextFilteredAdapter
// (store/storetest.RunCasbinAdapter checks it as it checks rbac's own
// Casbin adapter). The Casbin methods record as actor (created_by,
// updated_by) the audit.Actor of the context in the ...Ctx variants
// (audit.ActorFromContext), nobody in the others; their clock is
// Config.Now.
//
// # The rules as the table keeps them
//
// Reads return and load active rules only (is_active = true; a NULL
// is_active, as a row of the original system may have, is inactive),
// unless an rbac.Filter asks for inactive ones. Unused values v0 to v5
// are stored NULL and read back as "", trailing ones trimmed; a rule
// with fewer values than its definition in the Casbin model is loaded
// with "" for the missing ones. created_by and updated_by are the actor,
// NULL for none; created_at and updated_at the change's time, in UTC,
// truncated to the microsecond. Rules are validated (rbac.Rule.Validate,
// rbac.ValidActor) before anything is written; errors match
// rbac.ErrInvalidRule, and a SetActive of an unknown id matches
// rbac.ErrNotFound. Driver errors come back without the driver's type,
// as Cedrina's PostgreSQL store returns them: a failure of the database
// rather than of the data matches store.ErrUnavailable.
//
// # Changes: one transaction, one lock, one notification
//
// Each change (Add, Remove, SetActive, Replace, and the Casbin methods
// that write, which go through the same code) is one GORM transaction
// that first takes a transaction-level PostgreSQL advisory lock, the
// same key store/postgres's RuleStore takes, so that concurrent changes
// from any instance and either store take turns: concurrent Adds of one
// rule leave one active row. When the set of active rules changed, the
// transaction ends with pg_notify on Config.Channel (default
// "cedrina_rbac", store/postgres's PolicyChannel, on which its
// PolicyWatcher listens), with RuleStore's payload,
// {"op":"add","rules":2} and the like, which PostgreSQL delivers at
// commit and never for a rollback. A change that changes nothing, or
// fails, notifies nobody. So an rbac.Authorizer on this adapter, with
// store/postgres's PolicyWatcher as its Watcher, learns of changes made
// by any instance, through either store.
//
// # gorm-adapter's traps, and what the adapter does about each
//
// Each of these was seen with gorm-adapter v3.39.0 on this schema; the
// package's tests show the trap on gorm-adapter itself next to the
// adapter's behaviour, so a release that fixes one is noticed.
//
//   - With lib/pq, postgres.Config{DriverName: "postgres", Conn: db} is
//     required: without DriverName, gorm's PostgreSQL migrator adds a
//     pgx-only argument to its queries. New builds its *gorm.DB that way
//     on the host's *sql.DB (lib/pq's or pgx's), opening no pool of its
//     own.
//   - gorm-adapter's constructors run AutoMigrate and create a unique
//     index on the table unless the *gorm.DB's context carries
//     TurnOffAutoMigrate's flag; on casbin_rules that widens ptype to
//     VARCHAR(100), narrows v0 to v5 from 256 to 100 characters (failing,
//     or refusing later rules, on longer values) and adds a unique index
//     on (ptype, v0, ..., v5) that refuses an inactive and an active row
//     of one rule. The adapter sets
//     the flag on a *gorm.DB session of its own (TurnOffAutoMigrate
//     overwrites the *gorm.DB it is given, which must not be the host's),
//     and never calls a migrating constructor with a context of the
//     caller's, which would drop the flag: it uses the one constructor
//     that never migrates (NewFilteredAdapterByDB). New checks that the
//     table exists with every column and refuses otherwise, naming what
//     is missing; it never changes the schema.
//   - gorm-adapter's Close closes the *sql.DB under its *gorm.DB, the
//     host's shared pool, and its NewAdapter sets a finalizer that does
//     the same. [Adapter.Close] does nothing: the host owns the pool.
//   - gorm-adapter's SavePolicy truncates the table (RESTART IDENTITY)
//     outside its transaction, then inserts: inactive rules, ids and
//     history are lost, and a failed insert leaves the table empty.
//     [Adapter.SavePolicy] is [Adapter.Replace]: one transaction that
//     deletes the active rules not in the model and adds the others as
//     Add does, keeping inactive rows, ids and the history of unchanged
//     rules; it also refuses while the adapter's last load was filtered.
//   - gorm-adapter reads every row regardless of is_active (its rule
//     struct has no such column). The adapter's loads read active rows
//     only, and the *gorm.DB it hands gorm-adapter for filtered loading
//     is restricted to active rows with a non-empty ptype.
//   - gorm-adapter's writes store "" rather than NULL for unused values,
//     record no actor, rely on a unique index the table does not have
//     (so AddPolicy inserts duplicates), take no lock and notify nobody;
//     its RemovePolicy compares only the non-empty values (removing
//     "p, a, b, c" also removes "p, a, b, c, d") and removes inactive
//     rows too; RemovePolicies ignores its errors; RemoveFilteredPolicy
//     refuses all-empty values although Casbin's model removes every
//     rule of the type; UpdatePolicy rewrites inactive rows too. None of
//     these is used: every write is the adapter's own SQL, as described
//     above. RemovePolicy deletes the active rows that are exactly the
//     rule; RemoveFilteredPolicy with all-empty values removes every
//     active rule of the type, as Casbin's model does.
//   - Casbin's Enforcer asserts UpdatableAdapter (and ContextEnforcer
//     the batch and update interfaces) without checking, and panics on an
//     adapter without them. The adapter implements them: an update is a
//     removal of the old rule and an Add of the new one, in one
//     transaction.
//   - gorm-adapter's LoadPolicy panics on a row with an empty ptype,
//     fails on a rule shorter than its definition, and its filtered flag
//     never resets. The adapter's LoadPolicy returns an error for the
//     former (failing closed, as for a rule of a type the model lacks),
//     pads the latter, and keeps its own flag, cleared by a full load.
//   - GORM's default logger writes to standard output. New's *gorm.DB logs
//     to Config.Logger (failed statements at error level, statements
//     slower than 200 ms at warn level, SQL without its arguments).
//
// # What remains
//
//   - Filtered loading with gorm-adapter's own filter types (its Filter,
//     *Filter or []Filter) keeps gorm-adapter's semantics: in a Filter,
//     each non-empty field is an IN list and the fields are ANDed; the
//     Filters of a []Filter are loaded in turn; a BatchFilter cannot be
//     filled outside gorm-adapter's package and loads nothing; a rule
//     shorter than its definition fails that load (only LoadPolicy and
//     the rbac.Filter loads pad). Pass an rbac.Filter for the adapter's
//     own semantics.
//   - gorm-adapter's transactional API (Transaction, BeginTransaction,
//     Casbin's TransactionalEnforcer) is not offered: the adapter does
//     not embed gorm-adapter's type, so none of its methods, safe or not,
//     is reachable through it.
//   - Importing the module links gorm-adapter's MySQL, SQL Server and
//     SQLite dialects and their drivers, which gorm-adapter imports
//     unconditionally.
//   - New and NewFromGorm take no context; their check of the table is
//     bounded by 30 seconds.
//   - Statements run on the host's *gorm.DB or through gorm-adapter
//     directly bypass the lock and the notification.
package gormadapter
