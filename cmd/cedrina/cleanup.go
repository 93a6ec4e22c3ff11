package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/cedrina/cedrina/session"
)

const cleanupUsage = `Usage:

	cedrina cleanup [--idle DURATION] [--batch N] [--database-url URL]

Deletes ended, expired and idle sessions, with their refresh token
history, in batches, pausing between batches so that applications sharing
the database keep their latency. Safe to run while applications serve, and
from several hosts at once.

Flags:

	--idle DURATION      sessions without activity for this long are deleted;
	                     use the applications' session.Config.IdleTimeout
	                     (default 24h)
	--batch N            sessions per batch (default 1000)
	--database-url URL   PostgreSQL URL; when not given, $DATABASE_URL is used
`

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
	start := time.Now()
	n, err := session.Cleanup(ctx, db.Sessions(), session.CleanupConfig{Batch: *batch, IdleTimeout: *idle})
	if err != nil {
		e.errorf("cleanup: %v (%d sessions deleted before the error)", err, n)
		return exitFailure
	}
	fmt.Fprintf(e.stdout, "deleted %d sessions in %s\n", n, time.Since(start).Round(time.Millisecond))
	return exitOK
}
