package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cedrina/cedrina/oauth"
	"github.com/cedrina/cedrina/ratelimit"
	"github.com/cedrina/cedrina/reset"
	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/user"
)

const cleanupUsage = `Usage:

	cedrina cleanup [--idle DURATION] [--batch N] [--database-url URL]

Deletes what can no longer be used, table by table, in this order:

	sessions                    ended, expired and idle sessions, with their
	                            refresh token history
	password reset tokens       spent and expired tokens
	email verification tokens   spent and expired tokens
	rate limit records          counters whose window ended, sliding windows
	                            and token buckets back to their initial
	                            state, a minute ago or more
	oauth flow states           records of spent OAuth sign-in states whose
	                            expiry passed a minute ago or more

and prints one line per table: "deleted N <table> in <duration>". Each
table is emptied in batches, pausing between batches so that applications
sharing the database keep their latency. Safe to run while applications
serve, and from several hosts at once.

When a table fails, cleanup stops there and exits 1: the lines already
printed stand, and the error names the table, how many of its rows were
deleted before the error, and the tables it skipped.

Flags:

	--idle DURATION      sessions without activity for this long are deleted;
	                     use the applications' session.Config.IdleTimeout
	                     (default 24h)
	--batch N            rows per batch, for each table (default 1000)
	--database-url URL   PostgreSQL URL; when not given, $DATABASE_URL is used
`

// cleanupPart is one table cleanup empties.
type cleanupPart struct {
	name string // plural, as printed: "sessions"
	run  func(ctx context.Context) (int64, error)
}

// cleanupParts lists the tables cleanup empties, in order.
func cleanupParts(db *postgres.DB, size int, idle time.Duration) []cleanupPart {
	return []cleanupPart{
		{"sessions", func(ctx context.Context) (int64, error) {
			return session.Cleanup(ctx, db.Sessions(), session.CleanupConfig{Batch: size, IdleTimeout: idle})
		}},
		{"password reset tokens", func(ctx context.Context) (int64, error) {
			return reset.Cleanup(ctx, db.Resets(), reset.CleanupConfig{Batch: size})
		}},
		{"email verification tokens", func(ctx context.Context) (int64, error) {
			return user.CleanupVerifications(ctx, db.Users(), user.CleanupConfig{Batch: size})
		}},
		{"rate limit records", func(ctx context.Context) (int64, error) {
			return ratelimit.Cleanup(ctx, db.RateLimits(postgres.RateLimitConfig{}), ratelimit.CleanupConfig{Batch: size})
		}},
		{"oauth flow states", func(ctx context.Context) (int64, error) {
			return oauth.Cleanup(ctx, db.OAuth(), oauth.CleanupConfig{Batch: size})
		}},
	}
}

func runCleanup(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("cleanup", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dbURL := databaseURLFlag(fs)
	idle := fs.Duration("idle", 24*time.Hour, "")
	batch := fs.Int("batch", 1000, "")
	positional, err := parseArgs(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(e.stdout, cleanupUsage)
			return exitOK
		}
		e.errorf("cleanup: %v (run 'cedrina help cleanup')", err)
		return exitUsage
	}
	switch {
	case len(positional) > 0:
		e.errorf("cleanup: unexpected argument %q", positional[0])
		return exitUsage
	case *idle <= 0 || *batch <= 0:
		e.errorf("cleanup: --idle and --batch must be positive")
		return exitUsage
	}
	db, code := openDB(ctx, e, *dbURL, "cleanup")
	if db == nil {
		return code
	}
	defer db.SQLX().Close()
	parts := cleanupParts(db, *batch, *idle)
	for i, p := range parts {
		start := time.Now()
		n, err := p.run(ctx)
		if err != nil {
			e.errorf("cleanup: %s: %v (%d %s deleted before the error%s)", p.name, err, n, p.name, skipped(parts[i+1:]))
			return exitFailure
		}
		fmt.Fprintf(e.stdout, "deleted %d %s in %s\n", n, p.name, time.Since(start).Round(time.Millisecond))
	}
	return exitOK
}

// skipped names the parts a failure left out, for the error message:
// "; skipped: password reset tokens, email verification tokens", or ""
// when there are none.
func skipped(parts []cleanupPart) string {
	if len(parts) == 0 {
		return ""
	}
	names := make([]string, len(parts))
	for i, p := range parts {
		names[i] = p.name
	}
	return "; skipped: " + strings.Join(names, ", ")
}
