package schema

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pressly/goose/v3/database"
)

// AdoptConfig configures [Adopt]. The zero value converts no token,
// works in batches of 500 and reports no progress.
type AdoptConfig struct {
	// Tokens converts one OAuth token the original system stored (the
	// access_token or refresh_token of an oauth_profiles row, never empty)
	// for the row's user id and provider (as stored, e.g. "GOOGLE") into
	// the value to store instead; a value it returns unchanged is left as
	// it is. oauth.LegacyTokens gives one. Nil: Adopt refuses, changing
	// nothing, with an error wrapping [ErrTokensNeedKey] when any profile
	// holds a token.
	Tokens func(userID int64, provider, stored string) (string, error)
	// Batch is how many oauth_profiles rows each batch of the token
	// conversion reads and writes. Default (0 or less): 500.
	Batch int
	// Progress, when not nil, is called after each batch of the token
	// conversion with the number of tokens processed so far and the
	// number to process. The conversion's transaction is still open: its
	// work stands only once Adopt returns without an error.
	Progress func(done, total int64)
}

// defaultAdoptBatch is AdoptConfig.Batch's default.
const defaultAdoptBatch = 500

var (
	// ErrIncompatible is wrapped by the error of [Adopt] when the schema's
	// tables are not the ones migration 1 creates, or when it already
	// holds what a later migration creates. The report, returned with the
	// error, names every difference; nothing was changed.
	ErrIncompatible = errors.New("schema: adopt: the tables are not the ones migration 1 creates")
	// ErrTokensNeedKey is wrapped by the error of [Adopt] when OAuth
	// profiles hold tokens and [AdoptConfig.Tokens] is nil. The report
	// says how many; nothing was changed.
	ErrTokensNeedKey = errors.New("schema: adopt: OAuth tokens must be converted, and no conversion is configured")
)

// AdoptState is what [Adopt] found and did.
type AdoptState int

const (
	// AdoptRefused: nothing changed. The tables differ from what migration
	// 1 creates, tokens need a key, or converting one failed.
	AdoptRefused AdoptState = iota
	// AdoptedNow: this call adopted the schema.
	AdoptedNow
	// AlreadyAdopted: an earlier call adopted the schema; this one applied
	// the migrations still pending, if any, and changed nothing else.
	AlreadyAdopted
	// AlreadyManaged: the schema was created by [Migrate] (`cedrina migrate
	// up`), not adopted; there is nothing to adopt and nothing changed.
	AlreadyManaged
)

// String returns "refused", "adopted now", "already adopted" or "already
// managed".
func (s AdoptState) String() string {
	switch s {
	case AdoptRefused:
		return "refused"
	case AdoptedNow:
		return "adopted now"
	case AlreadyAdopted:
		return "already adopted"
	case AlreadyManaged:
		return "already managed"
	}
	return fmt.Sprintf("AdoptState(%d)", int(s))
}

// Adoption is the record an adoption leaves in the cedrina_adoption table
// (migration 10).
type Adoption struct {
	// AdoptedAt is when the adoption committed (the server's clock).
	AdoptedAt time.Time
	// AlembicHead is the revision the original's alembic_version table
	// held, several separated by ", "; "" when there was no such table.
	AlembicHead string
	// SessionsEnded, ResetTokensRemoved and TokensConverted count what
	// the adoption did: sessions of the original set inactive, password
	// reset tokens deleted, OAuth token values converted.
	SessionsEnded, ResetTokensRemoved, TokensConverted int64
}

// TableCheck is the comparison of one table that migration 1 creates with
// the table of that name in the schema.
type TableCheck struct {
	Name string
	// Differences lists each difference that refuses the adoption, naming
	// the table, column or constraint, e.g.
	//
	//	missing table casbin_rules
	//	users.email: type character varying(100), want character varying(254)
	//	users.is_verified: missing
	//	users.nickname: not created by migration 1
	//	sessions.expires_at: nullable, want NOT NULL
	//	users.role: default 'GUEST'::character varying, want 'USER'::character varying
	//	users: constraint users_email_key: missing, want UNIQUE (email)
	//
	// Empty when the table is as migration 1 creates it.
	Differences []string
}

// OK reports whether the table is as migration 1 creates it.
func (t TableCheck) OK() bool { return len(t.Differences) == 0 }

// IndexStatus says how an index of the schema compares with migration 1.
type IndexStatus int

const (
	// IndexPresent: migration 1 creates the index, and the schema has it
	// as migration 1 defines it.
	IndexPresent IndexStatus = iota
	// IndexMissing: migration 1 creates the index; the schema lacks it.
	IndexMissing
	// IndexDiffers: the schema has an index of that name, defined
	// otherwise.
	IndexDiffers
	// IndexExtra: the schema has an index on a table of migration 1 that
	// no migration creates.
	IndexExtra
)

// String returns "present", "missing", "differs" or "extra".
func (s IndexStatus) String() string {
	switch s {
	case IndexPresent:
		return "present"
	case IndexMissing:
		return "missing"
	case IndexDiffers:
		return "differs"
	case IndexExtra:
		return "extra"
	}
	return fmt.Sprintf("IndexStatus(%d)", int(s))
}

// IndexCheck is one index of the tables of migration 1 that are not the
// index of a constraint (constraints are compared with the tables).
// Indexes are reported, never a reason to refuse: adoption creates and
// drops none.
type IndexCheck struct {
	Table, Name string
	Status      IndexStatus
	// Definition is the index as the schema has it (migration 1's for a
	// missing one), without the schema name, as pg_get_indexdef prints it.
	Definition string
	// Want is migration 1's definition, for IndexDiffers.
	Want string
	// Note says what happens to the index or what to do about it: a
	// later migration drops or creates it, or the index of a constraint
	// answers the same lookups, so that it may be dropped.
	Note string
}

// AdoptReport is everything [Adopt] found and did; WriteTo prints it.
type AdoptReport struct {
	// Schema is the adopted schema: the current schema of the *sql.DB.
	Schema string
	State  AdoptState
	// Refusal says why Adopt refused; "" unless State is AdoptRefused.
	Refusal string
	// Adoption is the record of the adoption (made now for AdoptedNow,
	// earlier for AlreadyAdopted); nil otherwise.
	Adoption *Adoption
	// Tables holds one check per table migration 1 creates, in the order
	// it creates them, and Indexes one per index of those tables; both
	// are nil when the schema was not inspected (already adopted, already
	// managed).
	Tables  []TableCheck
	Indexes []IndexCheck
	// Conflicts lists the relations a later migration creates that the
	// schema already holds, e.g. "audit_chain: already exists (a table;
	// 00002_audit_chain.sql creates a table of that name)". Any refuses
	// the adoption.
	Conflicts []string
	// Other lists the schema's other tables (the original's
	// alembic_version, a host's tables), which Adopt leaves alone.
	Other []string
	// Alembic reports whether the schema has the original's
	// alembic_version table, and AlembicHead the revision it holds
	// (several separated by ", "). Adopt leaves the table as it is.
	Alembic     bool
	AlembicHead string
	// Tokens is how many OAuth token values (access and refresh tokens)
	// oauth_profiles held when inspected, and Profiles in how many rows.
	Tokens, Profiles int64
	// SessionsEnded, ResetTokensRemoved and TokensConverted count what
	// this call did; all 0 unless State is AdoptedNow.
	SessionsEnded, ResetTokensRemoved, TokensConverted int64
	// From and To are the versions before and after this call: the
	// migrations From+1 to To ran, except that for AdoptedNow (From 0)
	// version 1 was recorded as applied, its tables existing, and 2 to To
	// ran.
	From, To int64
}

// Differences returns every difference that refuses the adoption: those
// of the tables, then the conflicts.
func (r *AdoptReport) Differences() []string {
	var out []string
	for _, t := range r.Tables {
		out = append(out, t.Differences...)
	}
	return append(out, r.Conflicts...)
}

// WriteTo writes the report for people to read to w.
func (r *AdoptReport) WriteTo(w io.Writer) (int64, error) {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("Adoption of schema %s: ", r.Schema)
	switch r.State {
	case AdoptRefused:
		p("refused, nothing changed: %s\n", r.Refusal)
	case AdoptedNow:
		p("adopted now, at %s\n", r.Adoption.AdoptedAt.UTC().Format(time.RFC3339))
	case AlreadyAdopted:
		a := r.Adoption
		p("already adopted at %s; nothing to adopt\n", a.AdoptedAt.UTC().Format(time.RFC3339))
		head := "no alembic_version table"
		if a.AlembicHead != "" {
			head = "Alembic revision " + a.AlembicHead
		}
		p("At adoption: %s; %d sessions ended, %d password reset tokens removed, %d OAuth tokens converted\n",
			head, a.SessionsEnded, a.ResetTokensRemoved, a.TokensConverted)
	case AlreadyManaged:
		p("already managed by Cedrina at version %d (migrated by `migrate up`, not adopted); nothing to adopt\n", r.From)
	default:
		p("%s\n", r.State)
	}

	if r.Tables != nil {
		p("\nTables, compared with what migration 1 creates (columns, types, nullability, defaults, named constraints):\n")
		width := 0
		for _, t := range r.Tables {
			width = max(width, len(t.Name))
		}
		missing := 0
		for _, t := range r.Tables {
			switch {
			case t.OK():
				p("  %-*s  OK\n", width, t.Name)
			case len(t.Differences) == 1 && t.Differences[0] == "missing table "+t.Name:
				missing++
				p("  %-*s  missing\n      %s\n", width, t.Name, t.Differences[0])
			default:
				p("  %-*s  %d difference%s\n", width, t.Name, len(t.Differences), plural(len(t.Differences)))
				for _, d := range t.Differences {
					p("      %s\n", d)
				}
			}
		}
		if missing == len(r.Tables) {
			p("  The schema holds none of the original system's tables: to create Cedrina's schema in it, run `cedrina migrate up` (schema.Migrate), not adopt.\n")
		}
		p("\nRelations that later migrations create: ")
		if len(r.Conflicts) == 0 {
			p("none exists yet\n")
		} else {
			verb := "exist"
			if len(r.Conflicts) == 1 {
				verb = "exists"
			}
			p("%d already %s\n", len(r.Conflicts), verb)
			for _, c := range r.Conflicts {
				p("      %s\n", c)
			}
		}
		if len(r.Indexes) > 0 {
			p("\nIndexes (reported only; adoption creates and drops none):\n")
			width := 0
			for _, ix := range r.Indexes {
				width = max(width, len(ix.Table)+1+len(ix.Name))
			}
			for _, ix := range r.Indexes {
				p("  %-*s  %s", width, ix.Table+"."+ix.Name, ix.Status)
				if ix.Note != "" {
					p(" (%s)", ix.Note)
				}
				switch ix.Status {
				case IndexMissing, IndexExtra:
					p(": %s", ix.Definition)
				case IndexDiffers:
					p(": %s, want %s", ix.Definition, ix.Want)
				}
				p("\n")
			}
		}
		if len(r.Other) > 0 {
			p("\nOther tables, left alone: %s\n", strings.Join(r.Other, ", "))
		}
		p("\nAlembic: ")
		switch {
		case !r.Alembic:
			p("no alembic_version table\n")
		case r.AlembicHead == "":
			p("alembic_version holds no revision; the table is left alone\n")
		default:
			p("alembic_version at revision %s; the table is left alone\n", r.AlembicHead)
		}
		if r.State != AdoptedNow && len(r.Differences()) == 0 { // counted
			p("OAuth tokens to convert: %d, in %d profiles\n", r.Tokens, r.Profiles)
		}
	}

	if r.State == AdoptedNow {
		p("Sessions ended: %d (the original's; their users sign in again)\n", r.SessionsEnded)
		p("Password reset tokens removed: %d (the original kept them in clear; a pending reset must be requested again)\n", r.ResetTokensRemoved)
		p("OAuth tokens converted into the SDK's sealed format: %d of %d\n", r.TokensConverted, r.Tokens)
	}
	switch r.State {
	case AdoptedNow:
		p("Migrations: version 1 recorded as applied (its tables exist)")
		if r.To > 1 {
			p("; versions 2 to %d applied", r.To)
		}
		p("; now at version %d of %d\n", r.To, Latest())
	case AlreadyAdopted, AlreadyManaged:
		if r.To > r.From {
			p("Migrations: versions %d to %d applied; now at version %d of %d\n", r.From+1, r.To, r.To, Latest())
		} else {
			p("Migrations: none applied; at version %d of %d\n", r.To, Latest())
		}
	}
	n, err := io.WriteString(w, b.String())
	return int64(n), err
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// adoptionTable is migration 10's table, and adoptionMigration its file:
// Adopt creates the table with that file's own statement.
const (
	adoptionTable     = "cedrina_adoption"
	adoptionMigration = "00010_adoption.sql"
)

// Adopt takes over a database the original system created: its seven
// tables exist, with data, and migration 1, which would create them,
// fails there. It compares the tables of db's current schema with what
// migration 1 creates and, when they are the same, records migration 1
// as applied, ends the original's sessions, removes its password reset
// tokens, converts its OAuth tokens with cfg.Tokens, records the
// adoption (see [Adopted]) and applies the later migrations. The package
// documentation, "Adopting the original system's database", says
// exactly what it checks and does.
//
// The report is returned whenever the schema could be read, with an error
// or not. Refusals change nothing and return errors wrapping
// [ErrIncompatible] or [ErrTokensNeedKey], or the conversion's error.
// Adopt on an adopted schema applies pending migrations only
// ([AlreadyAdopted]); on a schema [Migrate] created it changes nothing
// ([AlreadyManaged]). It holds the advisory lock of [Migrate] throughout,
// so concurrent calls, and migrations, run one after the other. db must
// allow two open connections: one holds the lock while the migrations
// run on another.
func Adopt(ctx context.Context, db *sql.DB, cfg AdoptConfig) (*AdoptReport, error) {
	if db == nil {
		return nil, errors.New("schema: adopt: nil *sql.DB")
	}
	if db.Stats().MaxOpenConnections == 1 {
		return nil, errors.New("schema: adopt: the pool allows one connection; Adopt needs two (one holds the migration lock while the migrations run on the other)")
	}
	if cfg.Batch <= 0 {
		cfg.Batch = defaultAdoptBatch
	}
	files, err := migrations()
	if err != nil {
		return nil, fmt.Errorf("schema: adopt: %w", err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("schema: adopt: %w", err)
	}
	defer conn.Close()
	current, err := currentSchema(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("schema: adopt: %w", err)
	}
	locker := advisoryLocker{id: lockID(current)}
	if err := locker.SessionLock(ctx, conn); err != nil {
		return nil, fmt.Errorf("schema: adopt: %w", err)
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if locker.SessionUnlock(uctx, conn) != nil {
			// The lock may still be held: discard the connection, which
			// ends its session and the lock with it, rather than return
			// it to the pool.
			_ = conn.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()

	a := &adoption{ctx: ctx, db: db, conn: conn, cfg: cfg, files: files,
		r: &AdoptReport{Schema: current}}
	return a.run()
}

// adoption is one run of Adopt, on conn, which holds the lock.
type adoption struct {
	ctx   context.Context
	db    *sql.DB
	conn  *sql.Conn
	cfg   AdoptConfig
	files []migration
	r     *AdoptReport
	store database.Store
}

func (a *adoption) run() (*AdoptReport, error) {
	store, err := database.NewStore(database.DialectPostgres, VersionTable)
	if err != nil {
		return nil, fmt.Errorf("schema: adopt: %w", err)
	}
	a.store = store
	present := map[string]bool{}
	err = eachRow(a.ctx, a.conn, `SELECT relname FROM pg_class WHERE relnamespace = `+inSchema+`
		AND relkind IN ('r', 'p') AND relname IN ('`+VersionTable+`', '`+adoptionTable+`')`,
		func(r *sql.Rows) error {
			var name string
			err := r.Scan(&name)
			present[name] = true
			return err
		})
	if err != nil {
		return nil, fmt.Errorf("schema: adopt: read the schema: %w", err)
	}
	version := int64(-1) // no version recorded
	if present[VersionTable] {
		v, err := store.GetLatestVersion(a.ctx, a.conn)
		switch {
		case err == nil:
			version = v
		case !errors.Is(err, database.ErrVersionNotFound):
			return nil, fmt.Errorf("schema: adopt: %w", err)
		}
	}
	var rec *Adoption
	if present[adoptionTable] {
		rec, err = readAdoption(a.ctx, a.conn)
		switch {
		case err != nil && version >= 1:
			return nil, fmt.Errorf("schema: adopt: %w", err)
		case err != nil:
			// Not migration 10's table: the inspection reports it as a
			// relation a later migration creates.
			rec = nil
		}
	}

	switch {
	case rec != nil && version < 1:
		return nil, fmt.Errorf("schema: adopt: adopted at %s, but %s records no applied migration; "+
			"record version 1 by hand before migrating", rec.AdoptedAt.UTC().Format(time.RFC3339), VersionTable)
	case rec != nil:
		a.r.State, a.r.Adoption, a.r.From = AlreadyAdopted, rec, version
		return a.r, a.up()
	case version >= 1:
		a.r.State, a.r.From, a.r.To = AlreadyManaged, version, version
		return a.r, nil
	}

	if err := a.baseline(present[VersionTable], version); err != nil {
		if a.r.State == AdoptRefused && a.r.Refusal == "" {
			a.r.Refusal = err.Error()
		}
		if a.r.Tables == nil {
			return nil, err // the schema could not be read: no report
		}
		return a.r, err
	}
	a.r.State = AdoptedNow
	return a.r, a.up()
}

// up applies the pending migrations with a goose provider that takes no
// lock (this adoption holds it, on another connection), and records the
// version reached in the report.
func (a *adoption) up() error {
	p, err := migrator(a.db)
	if err != nil {
		return fmt.Errorf("schema: adopt: %w", err)
	}
	_, upErr := p.Up(a.ctx)
	v, err := a.store.GetLatestVersion(context.WithoutCancel(a.ctx), a.conn)
	if err != nil {
		return fmt.Errorf("schema: adopt: %w", err)
	}
	a.r.To = v
	if upErr != nil {
		return fmt.Errorf("schema: adopt: the adoption is recorded, but a later migration failed (run adopt or migrate up again): %w", upErr)
	}
	return nil
}

// baseline inspects the schema and, when it is compatible, adopts it, in
// one transaction: version 1 is recorded, sessions ended, reset tokens
// removed, OAuth tokens converted, the adoption recorded.
func (a *adoption) baseline(versionTable bool, version int64) error {
	ctx := a.ctx
	tx, err := a.conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("schema: adopt: %w", err)
	}
	defer tx.Rollback()
	// The catalog queries are cheap, but their estimates come from the
	// catalogs' statistics, which can be far off (a database whose
	// schemas came and went); JIT-compiling them then costs more than
	// running them.
	if _, err := tx.ExecContext(ctx, `SELECT set_config('jit', 'off', true)`); err != nil {
		return fmt.Errorf("schema: adopt: %w", err)
	}

	want, after, err := probe(ctx, tx, a.files)
	if err != nil {
		return fmt.Errorf("schema: adopt: probe the migrations: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `SELECT set_config('search_path', quote_ident($1), true)`, a.r.Schema); err != nil {
		return fmt.Errorf("schema: adopt: %w", err)
	}
	got, err := readCatalog(ctx, tx, false)
	if err != nil {
		return fmt.Errorf("schema: adopt: read the schema: %w", err)
	}
	// Keep concurrent DDL away from the tables while they are compared and
	// adopted, and concurrent writes from the tables adoption writes.
	var shared, exclusive []string
	for _, t := range want.tables {
		if got.relations[t] != "table" {
			continue
		}
		switch t {
		case "sessions", "password_reset_tokens", "oauth_profiles":
			exclusive = append(exclusive, t)
		default:
			shared = append(shared, t)
		}
	}
	for _, l := range []struct {
		tables []string
		mode   string
	}{{shared, "SHARE UPDATE EXCLUSIVE"}, {exclusive, "SHARE ROW EXCLUSIVE"}} {
		if len(l.tables) == 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, "LOCK TABLE "+strings.Join(l.tables, ", ")+" IN "+l.mode+" MODE"); err != nil {
			return fmt.Errorf("schema: adopt: lock the tables: %w", err)
		}
	}
	if got, err = readCatalog(ctx, tx, true); err != nil { // as locked
		return fmt.Errorf("schema: adopt: read the schema: %w", err)
	}

	r := a.r
	compare(r, want, got, after)
	if _, ok := got.relations["alembic_version"]; ok {
		r.Alembic = true
		var heads []string
		err := eachRow(ctx, tx, `SELECT version_num::text FROM alembic_version ORDER BY 1`, func(rows *sql.Rows) error {
			var h string
			err := rows.Scan(&h)
			heads = append(heads, h)
			return err
		})
		if err != nil {
			return fmt.Errorf("schema: adopt: read alembic_version: %w", err)
		}
		r.AlembicHead = strings.Join(heads, ", ")
	}
	if diffs := r.Differences(); len(diffs) > 0 {
		r.Refusal = fmt.Sprintf("%d difference%s from what migration 1 creates", len(diffs), plural(len(diffs)))
		shown := diffs[:min(3, len(diffs))]
		more := ""
		if len(diffs) > len(shown) {
			more = fmt.Sprintf("; %d more in the report", len(diffs)-len(shown))
		}
		return fmt.Errorf("%w: %s%s; nothing changed", ErrIncompatible, strings.Join(shown, "; "), more)
	}

	err = tx.QueryRowContext(ctx, `
		SELECT count(*) FILTER (WHERE coalesce(access_token, '') <> '') + count(*) FILTER (WHERE coalesce(refresh_token, '') <> ''),
		       count(*) FILTER (WHERE coalesce(access_token, '') <> '' OR coalesce(refresh_token, '') <> '')
		FROM oauth_profiles`).Scan(&r.Tokens, &r.Profiles)
	if err != nil {
		return fmt.Errorf("schema: adopt: count OAuth tokens: %w", err)
	}
	if r.Tokens > 0 && a.cfg.Tokens == nil {
		r.Refusal = fmt.Sprintf("%d OAuth tokens, in %d profiles, must be converted into the SDK's format, and no conversion is configured", r.Tokens, r.Profiles)
		return fmt.Errorf("%w: %d tokens in %d profiles; nothing changed", ErrTokensNeedKey, r.Tokens, r.Profiles)
	}

	if !versionTable {
		if err := a.store.CreateVersionTable(ctx, tx); err != nil {
			return fmt.Errorf("schema: adopt: %w", err)
		}
	}
	if version < 0 {
		if err := a.store.Insert(ctx, tx, database.InsertRequest{Version: 0}); err != nil {
			return fmt.Errorf("schema: adopt: %w", err)
		}
	}
	if err := a.store.Insert(ctx, tx, database.InsertRequest{Version: 1}); err != nil {
		return fmt.Errorf("schema: adopt: %w", err)
	}
	res, err := tx.ExecContext(ctx, `UPDATE sessions SET is_active = false WHERE is_active IS NOT FALSE`)
	if err != nil {
		return fmt.Errorf("schema: adopt: end the sessions: %w", err)
	}
	if r.SessionsEnded, err = res.RowsAffected(); err != nil {
		return fmt.Errorf("schema: adopt: end the sessions: %w", err)
	}
	res, err = tx.ExecContext(ctx, `DELETE FROM password_reset_tokens`)
	if err != nil {
		return fmt.Errorf("schema: adopt: remove the reset tokens: %w", err)
	}
	if r.ResetTokensRemoved, err = res.RowsAffected(); err != nil {
		return fmt.Errorf("schema: adopt: remove the reset tokens: %w", err)
	}
	if r.Tokens > 0 {
		if err := a.convert(tx); err != nil {
			r.Refusal = err.Error()
			return err
		}
	}
	table, err := adoptionTableSQL()
	if err != nil {
		return fmt.Errorf("schema: adopt: %w", err)
	}
	if _, err := tx.ExecContext(ctx, table); err != nil {
		return fmt.Errorf("schema: adopt: create %s: %w", adoptionTable, err)
	}
	rec := &Adoption{AlembicHead: r.AlembicHead, SessionsEnded: r.SessionsEnded,
		ResetTokensRemoved: r.ResetTokensRemoved, TokensConverted: r.TokensConverted}
	err = tx.QueryRowContext(ctx, `
		INSERT INTO cedrina_adoption (id, alembic_head, sessions_ended, reset_tokens_removed, tokens_converted)
		VALUES (1, $1, $2, $3, $4) RETURNING adopted_at`,
		sql.NullString{String: rec.AlembicHead, Valid: r.Alembic}, rec.SessionsEnded, rec.ResetTokensRemoved, rec.TokensConverted).
		Scan(&rec.AdoptedAt)
	if err != nil {
		return fmt.Errorf("schema: adopt: record the adoption: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("schema: adopt: commit: %w", err)
	}
	r.Adoption, r.From, r.To = rec, 0, 1
	return nil
}

// convert converts the OAuth tokens of oauth_profiles with cfg.Tokens, in
// batches of cfg.Batch rows by id, in tx.
func (a *adoption) convert(tx *sql.Tx) error {
	ctx, r := a.ctx, a.r
	type update struct {
		ID      int64   `json:"id"`
		Access  *string `json:"a"`
		Refresh *string `json:"r"`
	}
	var last, done int64
	for {
		rows, err := tx.QueryContext(ctx, `
			SELECT id, user_id, provider, coalesce(access_token, ''), coalesce(refresh_token, '')
			FROM oauth_profiles
			WHERE id > $1 AND (coalesce(access_token, '') <> '' OR coalesce(refresh_token, '') <> '')
			ORDER BY id LIMIT $2`, last, a.cfg.Batch)
		if err != nil {
			return fmt.Errorf("schema: adopt: read OAuth tokens: %w", err)
		}
		type row struct {
			id, user        int64
			provider        string
			access, refresh string
		}
		var batch []row
		for rows.Next() {
			var x row
			if err := rows.Scan(&x.id, &x.user, &x.provider, &x.access, &x.refresh); err != nil {
				rows.Close()
				return fmt.Errorf("schema: adopt: read OAuth tokens: %w", err)
			}
			batch = append(batch, x)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("schema: adopt: read OAuth tokens: %w", err)
		}
		if len(batch) == 0 {
			return nil
		}
		var updates []update
		for _, x := range batch {
			u := update{ID: x.id}
			for _, f := range []struct {
				column string
				stored string
				to     **string
			}{{"access_token", x.access, &u.Access}, {"refresh_token", x.refresh, &u.Refresh}} {
				if f.stored == "" {
					continue
				}
				done++
				v, err := a.cfg.Tokens(x.user, x.provider, f.stored)
				if err == nil && v == "" {
					err = errors.New("converted to an empty value")
				}
				if err != nil {
					return fmt.Errorf("schema: adopt: convert the %s of oauth_profiles id %d (%s, user %d): %w; nothing changed",
						f.column, x.id, x.provider, x.user, err)
				}
				if v != f.stored {
					*f.to = &v
					r.TokensConverted++
				}
			}
			if u.Access != nil || u.Refresh != nil {
				updates = append(updates, u)
			}
		}
		if len(updates) > 0 {
			b, err := json.Marshal(updates)
			if err != nil {
				return fmt.Errorf("schema: adopt: %w", err)
			}
			// One statement per batch; JSON carries the values whatever
			// the driver.
			_, err = tx.ExecContext(ctx, `
				UPDATE oauth_profiles p
				SET access_token = coalesce(u.a, p.access_token), refresh_token = coalesce(u.r, p.refresh_token)
				FROM jsonb_to_recordset($1::jsonb) AS u(id integer, a text, r text)
				WHERE p.id = u.id`, string(b))
			if err != nil {
				return fmt.Errorf("schema: adopt: store converted OAuth tokens: %w", err)
			}
		}
		last = batch[len(batch)-1].id
		if a.cfg.Progress != nil {
			a.cfg.Progress(done, r.Tokens)
		}
	}
}

// probe runs the embedded migrations' Up parts in a new schema, inside a
// savepoint of tx that it rolls back, and returns the catalog migration 1
// leaves and what each later migration changes.
func probe(ctx context.Context, tx *sql.Tx, files []migration) (*catalog, []later, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, nil, err
	}
	name := "cedrina_adopt_probe_" + hex.EncodeToString(b[:]) // needs no quoting
	if _, err := tx.ExecContext(ctx, "SAVEPOINT cedrina_adopt_probe"); err != nil {
		return nil, nil, err
	}
	for _, q := range []string{
		"CREATE SCHEMA " + name,
		"SELECT set_config('search_path', '" + name + "', true)",
	} {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return nil, nil, err
		}
	}
	var first *catalog
	var after []later
	prev := (*catalog)(nil)
	for _, m := range files {
		if _, err := tx.ExecContext(ctx, m.up); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", m.name, err)
		}
		c, err := readCatalog(ctx, tx, prev == nil)
		if err != nil {
			return nil, nil, err
		}
		if prev == nil {
			first = c
		} else {
			after = append(after, diffCatalogs(m.name, prev, c))
		}
		prev = c
	}
	if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT cedrina_adopt_probe"); err != nil {
		return nil, nil, err
	}
	return first, after, nil
}

// adoptionTableSQL returns the statement of migration 10 that creates
// cedrina_adoption, which Adopt runs itself.
func adoptionTableSQL() (string, error) {
	files, err := migrations()
	if err != nil {
		return "", err
	}
	for _, m := range files {
		if m.name == adoptionMigration {
			return m.up, nil
		}
	}
	return "", fmt.Errorf("no embedded %s", adoptionMigration)
}

// Adopted returns the record of the adoption of db's current schema, or
// nil, nil when it was not adopted (also when the cedrina_adoption table
// does not exist yet).
func Adopted(ctx context.Context, db *sql.DB) (*Adoption, error) {
	if db == nil {
		return nil, errors.New("schema: adopted: nil *sql.DB")
	}
	var exists bool
	err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_class WHERE relnamespace = `+inSchema+`
		AND relkind IN ('r', 'p') AND relname = '`+adoptionTable+`')`).Scan(&exists)
	if err != nil {
		return nil, fmt.Errorf("schema: adopted: %w", err)
	}
	if !exists {
		return nil, nil
	}
	rec, err := readAdoption(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("schema: adopted: %w", err)
	}
	return rec, nil
}

// readAdoption reads the row of cedrina_adoption; nil when there is none.
func readAdoption(ctx context.Context, q queryRower) (*Adoption, error) {
	var rec Adoption
	var head sql.NullString
	err := q.QueryRowContext(ctx, `
		SELECT adopted_at, alembic_head, sessions_ended, reset_tokens_removed, tokens_converted
		FROM cedrina_adoption WHERE id = 1`).
		Scan(&rec.AdoptedAt, &head, &rec.SessionsEnded, &rec.ResetTokensRemoved, &rec.TokensConverted)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", adoptionTable, err)
	}
	rec.AlembicHead = head.String
	return &rec, nil
}
