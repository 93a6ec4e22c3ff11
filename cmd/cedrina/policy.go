package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/errs"
	"github.com/cedrina/cedrina/rbac"
)

const policyUsage = `Usage:

	cedrina policy list [--inactive] [flags]
	cedrina policy add TYPE V0 [V1 ...] [flags]
	cedrina policy remove TYPE V0 [V1 ...] [flags]
	cedrina policy deactivate|activate ID [flags]

Actions, on the authorization policy (the casbin_rules table):

	list        print the active rules (with --inactive, every rule): id,
	            state, the rule as a Casbin policy line, when it last changed,
	            who created it and who changed it last
	add         add the rule TYPE, V0, V1, ... (a "p" permission or a "g" role
	            link), active; a rule that exists inactive is reactivated, one
	            that is active already is left alone
	remove      delete the active rule identical to TYPE, V0, V1, ...; exit 1
	            when there is none
	deactivate  stop enforcing rule ID, keeping it with its history
	activate    enforce rule ID again; exit 1 when no rule has that id

Every change is made as the actor "cli" (created_by, updated_by) and
recorded as a policy_changed event in the audit trail. The applications
on the database reload the policy when PostgreSQL notifies them of the
change (their policy watchers), within milliseconds.

Flags:

	--inactive           list inactive rules too
	--model NAME         the applications' access control model, which a rule
	                     must fit: rbac (default: "p, role, object, action" and
	                     "g, member, role"), domains or abac
	--model-file FILE    a Casbin model of the application's own instead
	--database-url URL   PostgreSQL URL; when not given, $DATABASE_URL is used
	--key-file FILE      the audit chain's HMAC key, as hex, when the application
	                     sets audit.Config.Key; when not given,
	                     $CEDRINA_AUDIT_KEY_FILE is used; under another key than
	                     the chain's nothing is changed (exit 4)

For example, let the role auditor read the audit trail through the
applications' admin routes, then take it back:

	cedrina policy add p auditor /admin/audit GET
	cedrina policy remove p auditor /admin/audit GET
`

func runPolicy(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("policy", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dbURL := databaseURLFlag(fs)
	keyFile := fs.String("key-file", "", "")
	inactive := fs.Bool("inactive", false, "")
	modelName := fs.String("model", "", "")
	modelFile := fs.String("model-file", "", "")
	positional, err := parseArgs(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(e.stdout, policyUsage)
			return exitOK
		}
		e.errorf("policy: %v (run 'cedrina help policy')", err)
		return exitUsage
	}
	if len(positional) == 0 {
		e.errorf("policy: want an action: list, add, remove, deactivate or activate (run 'cedrina help policy')")
		return exitUsage
	}
	action, rest := positional[0], positional[1:]
	label := "policy " + action
	var (
		rule rbac.Rule
		id   int64
	)
	switch action {
	case "list":
		if len(rest) > 0 {
			e.errorf("%s: unexpected argument %q", label, rest[0])
			return exitUsage
		}
	case "add", "remove":
		if len(rest) < 2 {
			e.errorf("%s: want the rule: TYPE V0 [V1 ...], such as: p auditor /admin/audit GET", label)
			return exitUsage
		}
		if rule, err = rbac.NewRule(rest[0], rest[1:]...); err != nil {
			e.errorf("%s: %s", label, errs.Trim("rbac", err))
			return exitUsage
		}
	case "deactivate", "activate":
		if len(rest) != 1 {
			e.errorf("%s: want one rule id", label)
			return exitUsage
		}
		if id, err = strconv.ParseInt(rest[0], 10, 64); err != nil || id <= 0 {
			e.errorf("%s: the rule id must be a positive integer, not %q", label, rest[0])
			return exitUsage
		}
	default:
		e.errorf("policy: unknown action %q: want list, add, remove, deactivate or activate", action)
		return exitUsage
	}
	model, err := policyModel(*modelName, *modelFile)
	if err != nil {
		e.errorf("%s: %v", label, err)
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
	rules := db.Rules()
	if action == "list" {
		list, err := rules.Rules(ctx, rbac.Filter{Inactive: *inactive})
		if err != nil {
			e.errorf("%s: %v", label, err)
			return exitFailure
		}
		if err := printRules(e.stdout, list); err != nil {
			e.errorf("%s: %v", label, err)
			return exitFailure
		}
		return exitOK
	}

	rec, code := checkedTrail(ctx, e, db, key, label)
	if rec == nil {
		return code
	}
	// Changes go through an Authorizer, as the applications' do: it
	// checks rules against the model, writes them with the actor and
	// records policy_changed; the rule store notifies the applications.
	az, err := rbac.New(ctx, rbac.Config{Store: rules, Model: model, Recorder: rec})
	if err != nil {
		e.errorf("%s: %v", label, err)
		return exitFailure
	}
	defer az.Close(context.WithoutCancel(ctx))
	ctx = audit.ContextWithActor(ctx, cliActor)
	code = exitOK
	switch action {
	case "add":
		n, err := az.AddRules(ctx, rule)
		switch {
		case errors.Is(err, rbac.ErrInvalidRule):
			e.errorf("%s: %s", label, errs.Trim("rbac", err))
			return exitUsage
		case err != nil:
			e.errorf("%s: %v", label, err)
			return exitFailure
		case n == 0:
			fmt.Fprintf(e.stdout, "active already: %s\n", rule.Line())
		default:
			fmt.Fprintf(e.stdout, "added: %s\n", rule.Line())
		}
	case "remove":
		n, err := az.RemoveRules(ctx, rbac.Filter{Type: rule.Type, Values: rule.Values, Exact: true})
		switch {
		case err != nil:
			e.errorf("%s: %v", label, err)
			return exitFailure
		case n == 0:
			e.errorf("%s: no active rule is %s; nothing was removed", label, rule.Line())
			code = exitFailure
		default:
			fmt.Fprintf(e.stdout, "removed: %s\n", rule.Line())
		}
	default: // deactivate, activate
		active := action == "activate"
		r, err := az.SetRuleActive(ctx, id, active)
		if errors.Is(err, rbac.ErrNotFound) {
			e.errorf("%s: no rule has id %d", label, id)
			return exitFailure
		}
		if err != nil {
			e.errorf("%s: %v", label, err)
			return exitFailure
		}
		state := "inactive"
		if r.Active {
			state = "active"
		}
		fmt.Fprintf(e.stdout, "rule %d, %s: %s\n", r.ID, state, r.Line())
	}
	if rec.err != nil {
		e.errorf("%s: the policy changed, but its policy_changed event was not recorded: %v", label, rec.err)
		return exitFailure
	}
	return code
}

// policyModel returns the model named by --model or read from
// --model-file.
func policyModel(name, file string) (rbac.Model, error) {
	if file != "" {
		if name != "" {
			return rbac.Model{}, errors.New("give --model or --model-file, not both")
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return rbac.Model{}, fmt.Errorf("--model-file: %w", err)
		}
		return rbac.ParseModel(string(b))
	}
	switch name {
	case "", "rbac":
		return rbac.RBAC(), nil
	case "domains":
		return rbac.Domains(), nil
	case "abac":
		return rbac.Attributes(), nil
	}
	return rbac.Model{}, fmt.Errorf("--model %q: want rbac, domains or abac (or --model-file)", name)
}

// printRules writes rules as a table.
func printRules(w io.Writer, rules []rbac.Rule) error {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tRULE\tUPDATED AT\tCREATED BY\tUPDATED BY")
	orDash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, r := range rules {
		state := "active"
		if !r.Active {
			state = "inactive"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", r.ID, state, r.Line(), r.UpdatedAt.UTC().Format(time.RFC3339),
			orDash(r.CreatedBy), orDash(r.UpdatedBy))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%d rules\n", len(rules))
	return err
}
