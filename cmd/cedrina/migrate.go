package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/cedrina/cedrina/schema"
)

const migrateUsage = `Usage:

	cedrina migrate [--database-url URL] up|down|reset|status
	cedrina migrate [--database-url URL] adopt [--legacy-key-file FILE] [--oauth-token-keys-file FILE] [--batch N]

Actions:

	up      apply every pending migration (safe to run from many hosts at once)
	down    roll back the most recent migration
	reset   roll back every migration: drops all Cedrina tables and their data
	status  list the migrations and whether each is applied
	adopt   take over a database the original system created (where up fails:
	        its tables exist): compare them with what migration 1 creates and
	        print a report on stdout. When they match, record migration 1 as
	        applied, end the original's sessions, remove its password reset
	        tokens, convert its OAuth tokens (progress on stderr), record the
	        adoption and apply the later migrations; when they do not, or when
	        tokens need a key not given, change nothing and exit 1. Running it
	        again changes nothing. The alembic_version table is left alone

Flags (before or after the action):

	--database-url URL             PostgreSQL URL; when not given, $DATABASE_URL is used
	--legacy-key-file FILE         adopt: the original system's Fernet key, as it
	                               was configured (PGCRYPTO_KEY; several separated
	                               by commas); when not given, $CEDRINA_LEGACY_KEY
	                               holds the key itself
	--oauth-token-keys-file FILE   adopt: the SDK's OAuth token keys, as the
	                               application has them: "id:base64 of 32 bytes",
	                               several separated by commas, the current first;
	                               when not given, $CEDRINA_OAUTH_TOKEN_KEYS holds
	                               the keys themselves
	--batch N                      adopt: OAuth profiles converted per batch
	                               (default 500)
`

// migrateActions maps each action to its implementation.
var migrateActions = map[string]func(ctx context.Context, e *env, db *sql.DB) error{
	"up":     migrateUp,
	"down":   migrateDown,
	"reset":  migrateReset,
	"status": migrateStatus,
}

func runMigrate(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported below, in one line
	dbURL := databaseURLFlag(fs)
	var af adoptFlags
	fs.StringVar(&af.legacyKeyFile, "legacy-key-file", "", "")
	fs.StringVar(&af.tokenKeysFile, "oauth-token-keys-file", "", "")
	fs.IntVar(&af.batch, "batch", 500, "")

	positional, err := parseArgs(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(e.stdout, migrateUsage)
			return exitOK
		}
		e.errorf("migrate: %v (run 'cedrina help migrate')", err)
		return exitUsage
	}
	switch {
	case len(positional) == 0:
		e.errorf("migrate: missing action: up, down, reset, status or adopt (run 'cedrina help migrate')")
		return exitUsage
	case len(positional) > 1:
		e.errorf("migrate: unexpected argument %q after %q", positional[1], positional[0])
		return exitUsage
	}
	action, ok := migrateActions[positional[0]]
	if !ok && positional[0] != "adopt" {
		e.errorf("migrate: unknown action %q: want up, down, reset, status or adopt", positional[0])
		return exitUsage
	}
	var keys *adoptKeys
	if positional[0] == "adopt" {
		if af.batch < 1 {
			e.errorf("migrate adopt: --batch must be at least 1")
			return exitUsage
		}
		if keys, err = readAdoptKeys(e, af); err != nil {
			e.errorf("migrate adopt: %v", err)
			return exitUsage
		}
	} else {
		var adoptOnly string
		fs.Visit(func(f *flag.Flag) {
			if f.Name != "database-url" && adoptOnly == "" {
				adoptOnly = f.Name
			}
		})
		if adoptOnly != "" {
			e.errorf("migrate %s: --%s is a flag of migrate adopt only", positional[0], adoptOnly)
			return exitUsage
		}
	}

	db, code := openDB(ctx, e, *dbURL, "migrate "+positional[0])
	if db == nil {
		return code
	}
	defer db.SQLX().Close()
	if keys != nil {
		return migrateAdopt(ctx, e, db.SQLX().DB, keys, af.batch)
	}
	if err := action(ctx, e, db.SQLX().DB); err != nil {
		e.errorf("migrate %s: %v", positional[0], err)
		return exitFailure
	}
	return exitOK
}

func migrateUp(ctx context.Context, e *env, db *sql.DB) error {
	before, err := schema.Version(ctx, db)
	if err != nil {
		return err
	}
	if err := schema.Migrate(ctx, db); err != nil {
		return err
	}
	after, err := schema.Version(ctx, db)
	if err != nil {
		return err
	}
	if after == before {
		fmt.Fprintf(e.stdout, "schema is up to date at version %d\n", after)
		return nil
	}
	fmt.Fprintf(e.stdout, "migrated from version %d to version %d\n", before, after)
	return nil
}

func migrateDown(ctx context.Context, e *env, db *sql.DB) error {
	before, err := schema.Version(ctx, db)
	if err != nil {
		return err
	}
	if err := schema.Down(ctx, db); err != nil {
		if errors.Is(err, schema.ErrNothingApplied) {
			return errors.New("nothing to roll back: no migration is applied")
		}
		return err
	}
	after, err := schema.Version(ctx, db)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "rolled back from version %d to version %d\n", before, after)
	return nil
}

func migrateReset(ctx context.Context, e *env, db *sql.DB) error {
	before, err := schema.Version(ctx, db)
	if err != nil {
		return err
	}
	if err := schema.Reset(ctx, db); err != nil {
		return err
	}
	if before == 0 {
		fmt.Fprintln(e.stdout, "nothing to roll back: no migration is applied")
		return nil
	}
	fmt.Fprintf(e.stdout, "rolled back from version %d to version 0\n", before)
	return nil
}

func migrateStatus(ctx context.Context, e *env, db *sql.DB) error {
	list, err := schema.Status(ctx, db)
	if err != nil {
		return err
	}
	current, err := schema.Version(ctx, db)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tSTATE\tAPPLIED AT\tFILE")
	pending := 0
	for _, s := range list {
		state, at := "pending", "-"
		if s.Applied {
			// The version table stores the server's wall clock without a
			// zone, so none is printed.
			state, at = "applied", s.AppliedAt.Format("2006-01-02 15:04:05")
		} else {
			pending++
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", s.Version, state, at, s.Source)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\ncurrent version %d, latest %d, %d pending\n", current, schema.Latest(), pending)
	return nil
}
