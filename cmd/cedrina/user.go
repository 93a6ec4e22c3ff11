package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/user"
)

const userUsage = `Usage:

	cedrina user set-role (--id N | --username NAME | --email ADDR) --role ROLE [flags]

Actions:

	set-role  set the role of one account (users.role), as the application's
	          user service does: the user's next request carries the new role,
	          and a role_changed event, by "cli", joins the audit trail.
	          Prints the account's id, username and new role. Exit 1 when no
	          account matches; 4 when the key given is not the one the audit
	          chain is sealed with (nothing is changed, since the event could
	          not be recorded)

Flags:

	--id N               the account, by id
	--username NAME      the account, by username (in any form that normalizes
	                     to it: Alice finds alice)
	--email ADDR         the account, by email address
	--role ROLE          the new role: 1 to 20 characters A-Z, 0-9 and _,
	                     starting with a letter, such as USER or ADMIN
	--database-url URL   PostgreSQL URL; when not given, $DATABASE_URL is used
	--key-file FILE      the audit chain's HMAC key, as hex, when the application
	                     sets audit.Config.Key; when not given,
	                     $CEDRINA_AUDIT_KEY_FILE is used

Exactly one of --id, --username and --email names the account.

The first administrator of a deployment is made this way: with the
application's admin policy (authhttp.AdminRules, "p, admin, /admin/*, *"),
the ADMIN role opens every route under /admin/.
`

// cliActor is the actor of the changes the CLI makes: "cli" in the
// events' "by" and in casbin_rules' created_by and updated_by.
var cliActor = audit.Actor{Name: "cli"}

func runUser(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("user", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dbURL := databaseURLFlag(fs)
	keyFile := fs.String("key-file", "", "")
	id := fs.Int64("id", 0, "")
	username := fs.String("username", "", "")
	email := fs.String("email", "", "")
	role := fs.String("role", "", "")
	positional, err := parseArgs(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(e.stdout, userUsage)
			return exitOK
		}
		e.errorf("user: %v (run 'cedrina help user')", err)
		return exitUsage
	}
	if len(positional) != 1 || positional[0] != "set-role" {
		e.errorf("user: want one action, set-role (run 'cedrina help user')")
		return exitUsage
	}
	const label = "user set-role"
	var by []string
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "id", "username", "email":
			by = append(by, "--"+f.Name)
		}
	})
	switch {
	case len(by) != 1:
		e.errorf("%s: name the account with exactly one of --id, --username and --email", label)
		return exitUsage
	case by[0] == "--id" && *id <= 0:
		e.errorf("%s: --id must be a positive integer", label)
		return exitUsage
	case *role == "":
		e.errorf("%s: --role is required", label)
		return exitUsage
	case user.Role(*role).Validate() != nil:
		e.errorf("%s: --role %s: a role is 1 to 20 characters A-Z, 0-9 and _, starting with a letter, such as ADMIN",
			label, strconv.Quote(*role))
		return exitUsage
	}
	key, err := readKey(*keyFile, e.getenv("CEDRINA_AUDIT_KEY_FILE"))
	if err != nil {
		e.errorf("%s: %v", label, err)
		return exitUsage
	}

	db, code := openDB(ctx, e, *dbURL, label)
	if db == nil {
		return code
	}
	defer db.SQLX().Close()
	// The role_changed event must be recorded: refuse under another key
	// than the chain's before changing anything.
	rec, code := checkedTrail(ctx, e, db, key, label)
	if rec == nil {
		return code
	}
	users, err := user.NewService(db.Users(), user.Config{Recorder: rec})
	if err != nil {
		e.errorf("%s: %v", label, err)
		return exitFailure
	}
	defer users.Close(context.WithoutCancel(ctx))

	var u *user.User
	var which string
	switch by[0] {
	case "--id":
		u, err = users.Get(ctx, *id)
		which = "id " + strconv.FormatInt(*id, 10)
	case "--username":
		u, err = users.GetByUsername(ctx, *username)
		which = "username " + strconv.Quote(*username)
	default:
		u, err = users.GetByEmail(ctx, *email)
		which = "email address " + strconv.Quote(*email)
	}
	if errors.Is(err, user.ErrNotFound) { // also for a malformed name or address
		e.errorf("%s: no user with %s", label, which)
		return exitFailure
	}
	if err != nil {
		e.errorf("%s: %v", label, err)
		return exitFailure
	}
	was := u.Role
	u, err = users.SetRole(audit.ContextWithActor(ctx, cliActor), u.ID, user.Role(*role))
	if errors.Is(err, user.ErrNotFound) { // deleted meanwhile
		e.errorf("%s: no user with %s", label, which)
		return exitFailure
	}
	if err != nil {
		e.errorf("%s: %v", label, err)
		return exitFailure
	}
	fmt.Fprintf(e.stdout, "user %d (%s): role %s (was %s)\n", u.ID, u.Username, u.Role, was)
	if rec.err != nil {
		e.errorf("%s: the role is set, but its role_changed event was not recorded: %v", label, rec.err)
		return exitFailure
	}
	return exitOK
}

// checkChainKey returns a *audit.KeyError when the audit chain is sealed
// under another key than key (nil: no key), as appending would. A chain
// that records no fingerprint yet takes any key.
// checkedTrail returns a recorder on db's audit trail under key, after
// checking that key is the chain's (exit 4 otherwise, nothing changed);
// on failure it reports and returns nil and the exit code.
func checkedTrail(ctx context.Context, e *env, db *postgres.DB, key []byte, label string) (*checkedRecorder, int) {
	trail, err := audit.NewService(db.Audit(), audit.Config{Key: key})
	if err != nil {
		e.errorf("%s: %v", label, err)
		return nil, exitUsage
	}
	var ke *audit.KeyError
	if err := checkChainKey(ctx, trail, key); errors.As(err, &ke) {
		e.errorf("%s: %s (nothing was changed)", label, keyMismatch(ke))
		return nil, exitKeyMismatch
	} else if err != nil {
		e.errorf("%s: %v", label, err)
		return nil, exitFailure
	}
	return &checkedRecorder{Recorder: trail}, exitOK
}

func checkChainKey(ctx context.Context, trail *audit.Service, key []byte) error {
	st, err := trail.State(ctx)
	if err != nil {
		return err
	}
	want := audit.NoKey
	if key != nil {
		want = audit.KeyFingerprint(key)
	}
	if fp := st.End.KeyFingerprint; fp != "" && fp != want {
		return &audit.KeyError{Stored: fp, Configured: want}
	}
	return nil
}

// checkedRecorder records through Recorder and keeps its errors, which
// the services only log: the CLI reports them.
type checkedRecorder struct {
	audit.Recorder
	err error
}

func (r *checkedRecorder) Record(ctx context.Context, e audit.Event) error {
	err := r.Recorder.Record(ctx, e)
	if err != nil {
		r.err = errors.Join(r.err, err)
	}
	return err
}
