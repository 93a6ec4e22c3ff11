package main

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/schema"
)

const auditUsage = `Usage:

	cedrina audit verify [--from SEQ] [--to SEQ] [flags]
	cedrina audit archive --before TIME --out FILE [flags]
	cedrina audit replay --in FILE [flags]

Actions:

	verify   check the audit trail's hash chain; exit 0 when it is intact
	         (printing its end and its key's fingerprint), 3 when it is
	         broken (the first break is printed), 4 when the key given is
	         not the one the chain is sealed with (or none is given for a
	         keyed chain, or one for an unkeyed chain), 1 on errors
	archive  write the events older than TIME to FILE as JSON lines (the
	         file must not exist), then delete them from the database
	replay   record again the events an audit writer could not store and
	         logged instead ("audit: event not stored" lines of a JSON log;
	         other lines are skipped); each keeps its time and joins the
	         chain at its end; exit 4 when the key is not the chain's

Flags:

	--database-url URL   PostgreSQL URL; when not given, $DATABASE_URL is used
	--key-file FILE      the chain's HMAC key, as hex (at least 64 digits), when
	                     the application sets audit.Config.Key; when not given,
	                     $CEDRINA_AUDIT_KEY_FILE is used. The chain records the
	                     fingerprint of its key (never the key), so a wrong or
	                     missing key is reported as such (exit 4), not as a
	                     broken chain
	--from, --to SEQ     chain positions to verify (default: all)
	--before TIME        RFC 3339 time, or a duration back from now such as 2160h
	--out FILE           where archive writes
	--in FILE            the log replay reads
`

// Exit codes of audit verify (and replay) beyond those of every command.
const (
	// exitBroken: the command worked and found the chain broken, that is
	// tampered with.
	exitBroken = 3
	// exitKeyMismatch: the key given is not the one the chain is sealed
	// with; nothing was checked (verify) or stored (replay).
	exitKeyMismatch = 4
)

func runAudit(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("audit", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dbURL := databaseURLFlag(fs)
	keyFile := fs.String("key-file", "", "")
	from := fs.Int64("from", 0, "")
	to := fs.Int64("to", 0, "")
	before := fs.String("before", "", "")
	out := fs.String("out", "", "")
	in := fs.String("in", "", "")
	positional, err := parseArgs(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(e.stdout, auditUsage)
			return exitOK
		}
		e.errorf("audit: %v (run 'cedrina help audit')", err)
		return exitUsage
	}
	if len(positional) != 1 || (positional[0] != "verify" && positional[0] != "archive" && positional[0] != "replay") {
		e.errorf("audit: want one action, verify, archive or replay (run 'cedrina help audit')")
		return exitUsage
	}
	action := positional[0]
	var cutoff time.Time
	if action == "archive" {
		if cutoff, err = parseBefore(*before, time.Now()); err != nil || *out == "" {
			if err == nil {
				err = errors.New("--out is required")
			}
			e.errorf("audit archive: %v", err)
			return exitUsage
		}
	}
	if action == "replay" && *in == "" {
		e.errorf("audit replay: --in is required")
		return exitUsage
	}
	key, err := readKey(*keyFile, e.getenv("CEDRINA_AUDIT_KEY_FILE"))
	if err != nil {
		e.errorf("audit %s: %v", action, err)
		return exitUsage
	}

	db, code := openDB(ctx, e, *dbURL, "audit "+action)
	if db == nil {
		return code
	}
	defer db.SQLX().Close()
	svc, err := audit.NewService(db.Audit(), audit.Config{Key: key})
	if err != nil {
		e.errorf("audit %s: %v", action, err)
		return exitUsage
	}

	if action == "verify" {
		n, err := svc.Verify(ctx, *from, *to)
		var ke *audit.KeyError
		var ce *audit.ChainError
		switch {
		case errors.As(err, &ke):
			e.errorf("audit verify: %s", keyMismatch(ke))
			return exitKeyMismatch
		case errors.As(err, &ce) && ce.KeyUnknown:
			e.errorf("audit verify: %v (after %d intact events); if the application sets audit.Config.Key, "+
				"pass that key with --key-file or $CEDRINA_AUDIT_KEY_FILE", err, n)
			return exitBroken
		case errors.Is(err, audit.ErrChainBroken):
			e.errorf("audit verify: %v (after %d intact events)", err, n)
			return exitBroken
		case err != nil:
			e.errorf("audit verify: %v", err)
			return exitFailure
		}
		st, err := svc.State(ctx)
		if err != nil {
			e.errorf("audit verify: %v", err)
			return exitFailure
		}
		fmt.Fprintf(e.stdout, "chain intact: %d events verified; chain holds seq %d to %d, end hash %s, %s\n",
			n, st.Start.Seq, st.End.Seq, st.End.Hash, describeKey(st.End.KeyFingerprint))
		unchained, err := svc.Unchained(ctx)
		if err != nil {
			e.errorf("audit verify: %v", err)
			return exitFailure
		}
		if unchained > 0 {
			// Rows from before the chain began: the original system's,
			// in an adopted database. History, not tampering.
			fmt.Fprintf(e.stdout, "%d earlier events are unchained: stored before the chain began%s; kept, not verified\n",
				unchained, adoptedSince(ctx, db.SQLX().DB))
		}
		return exitOK
	}

	if action == "replay" {
		f, err := os.Open(*in)
		if err != nil {
			e.errorf("audit replay: %v", err)
			return exitFailure
		}
		defer f.Close()
		n, err := svc.Replay(ctx, f)
		var ke *audit.KeyError
		if errors.As(err, &ke) {
			e.errorf("audit replay: %s (%d events recorded before)", keyMismatch(ke), n)
			return exitKeyMismatch
		}
		if err != nil {
			e.errorf("audit replay: %v (%d events recorded before the error)", err, n)
			return exitFailure
		}
		fmt.Fprintf(e.stdout, "replayed %d events from %s\n", n, *in)
		return exitOK
	}

	f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		e.errorf("audit archive: %v", err)
		return exitFailure
	}
	n, err := svc.Archive(ctx, cutoff, f)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing %s: %w (the last batch may be in the database and the file both)", *out, cerr)
	}
	if err != nil {
		e.errorf("audit archive: %v (%d events archived before the error)", err, n)
		return exitFailure
	}
	fmt.Fprintf(e.stdout, "archived %d events older than %s to %s\n", n, cutoff.Format(time.RFC3339), *out)
	return exitOK
}

// keyMismatch explains a key mismatch to the operator: both fingerprints
// and the fix. It is no sign of tampering.
func keyMismatch(ke *audit.KeyError) string {
	const fix = "pass the key the application uses (audit.Config.Key), as hex in a file, with --key-file or $CEDRINA_AUDIT_KEY_FILE"
	switch {
	case ke.Stored == audit.NoKey:
		return fmt.Sprintf("wrong key: the chain is sealed without a key, but a key was given (fingerprint %s): "+
			"give no key (no --key-file, no $CEDRINA_AUDIT_KEY_FILE), as the application sets no audit.Config.Key", ke.Configured)
	case ke.Configured == audit.NoKey:
		return fmt.Sprintf("wrong key: the chain is sealed with a key (fingerprint %s), and no key was given: %s", ke.Stored, fix)
	}
	return fmt.Sprintf("wrong key: the chain is sealed with a key of fingerprint %s, the key given has fingerprint %s: %s",
		ke.Stored, ke.Configured, fix)
}

// describeKey says which key the chain records, by fingerprint.
func describeKey(fp string) string {
	switch fp {
	case audit.NoKey:
		return "no key"
	case "":
		return "key fingerprint not recorded yet"
	}
	return "key fingerprint " + fp
}

// parseBefore reads an RFC 3339 time or a duration back from now.
func parseBefore(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, errors.New("--before is required")
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return time.Time{}, fmt.Errorf("--before %q is neither an RFC 3339 time nor a positive duration", s)
	}
	return now.Add(-d), nil
}

// readKey reads the hex HMAC key from the flag's file, else the
// environment's; no file means no key.
func readKey(flagFile, envFile string) ([]byte, error) {
	path := flagFile
	if path == "" {
		path = envFile
	}
	if path == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the key file: %w", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) < 32 {
		return nil, errors.New("the key file must hold at least 64 hex digits")
	}
	return key, nil
}

// adoptedSince says when the database was adopted from the original
// system, whose audit rows are the unchained ones: " (the database was
// adopted on ...)", or "" when it was not, or the record cannot be read.
func adoptedSince(ctx context.Context, db *sql.DB) string {
	a, err := schema.Adopted(ctx, db)
	if err != nil || a == nil {
		return ""
	}
	return " (the original system's, before the database was adopted at " + a.AdoptedAt.UTC().Format(time.RFC3339) + ")"
}
