package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/cedrina/cedrina/legacy"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/user"
)

const legacyUsage = `Usage:

	cedrina legacy status [--legacy-key-file FILE] [flags]

Actions:

	status  count the accounts by the format of their password hash, and say
	        how many still hold one the original system wrote: legacy-bcrypt
	        ($2b$, $2y$) or legacy-encrypted ("enc_v1:", bcrypt encrypted
	        under the original's PGCRYPTO_KEY). Those move to the current
	        format as their users sign in, when the applications set
	        user.LegacyConfig (Enabled; and Keys for the encrypted ones).

When encrypted hashes remain and a key is given, status opens every one of
them with it (opening only: no password is checked) and says whether the
key opens them all; exit 1 when it does not, naming the first accounts
it fails on. Without a key it warns that those accounts cannot sign in
until the applications have it. Exit 0 otherwise.

Flags:

	--legacy-key-file FILE  the original system's Fernet key, as its
	                        PGCRYPTO_KEY setting held it (URL-safe base64;
	                        several separated by commas); when not given,
	                        $CEDRINA_LEGACY_KEY holds the key itself. The file
	                        should be readable by its owner only. The key is
	                        never printed
	--batch N               encrypted hashes read per query (default 1000)
	--database-url URL      PostgreSQL URL; when not given, $DATABASE_URL is used
`

// passwordFormats are the formats status lists, in order.
var passwordFormats = []string{
	user.FormatArgon2id, user.FormatBcrypt, user.FormatLegacyBcrypt,
	user.FormatLegacyEncrypted, user.FormatNone, user.FormatUnknown,
}

// maxFailedIDs bounds the user ids a failed key check names.
const maxFailedIDs = 10

func runLegacy(ctx context.Context, e *env, args []string) int {
	fs := flag.NewFlagSet("legacy", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	dbURL := databaseURLFlag(fs)
	keyFile := fs.String("legacy-key-file", "", "")
	batch := fs.Int("batch", 1000, "")
	positional, err := parseArgs(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(e.stdout, legacyUsage)
			return exitOK
		}
		e.errorf("legacy: %v (run 'cedrina help legacy')", err)
		return exitUsage
	}
	switch {
	case len(positional) == 0:
		e.errorf("legacy: missing action: status (run 'cedrina help legacy')")
		return exitUsage
	case positional[0] != "status":
		e.errorf("legacy: unknown action %q (run 'cedrina help legacy')", positional[0])
		return exitUsage
	case len(positional) > 1:
		e.errorf("legacy status: unexpected argument %q", positional[1])
		return exitUsage
	case *batch <= 0:
		e.errorf("legacy status: --batch must be positive")
		return exitUsage
	}
	keys, err := legacyKeys(e, *keyFile)
	if err != nil {
		e.errorf("legacy status: %v", err)
		return exitUsage
	}

	db, code := openDB(ctx, e, *dbURL, "legacy status")
	if db == nil {
		return code
	}
	defer db.SQLX().Close()
	users := db.Users()
	counts, err := users.PasswordFormats(ctx)
	if err != nil {
		e.errorf("legacy status: %v", err)
		return exitFailure
	}
	if err := printFormats(e.stdout, counts); err != nil {
		e.errorf("legacy status: %v", err)
		return exitFailure
	}

	code = exitOK
	if n := counts[user.FormatLegacyEncrypted]; n > 0 {
		if keys == nil {
			e.errorf("legacy status: warning: %s cannot sign in until the applications set user.LegacyConfig.Keys to the original system's key "+
				"(give it with --legacy-key-file or $CEDRINA_LEGACY_KEY to check that it opens them)",
				plural(n, "account holds an encrypted hash and", "accounts hold an encrypted hash and"))
		} else {
			checked, failed, failedIDs, err := checkLegacyKey(ctx, users, keys, *batch)
			switch {
			case err != nil:
				e.errorf("legacy status: checking the legacy key: %v (after %d hashes)", err, checked)
				return exitFailure
			case failed > 0:
				e.errorf("legacy status: the legacy key does not open %d of %s (user ids: %s)",
					failed, plural(checked, "encrypted hash", "encrypted hashes"), listIDs(failedIDs, failed))
				code = exitFailure
			case checked == 1:
				fmt.Fprintln(e.stdout, "the legacy key opens the 1 encrypted hash")
			default:
				fmt.Fprintf(e.stdout, "the legacy key opens all %d encrypted hashes\n", checked)
			}
		}
	}
	switch n := counts[user.FormatLegacyBcrypt] + counts[user.FormatLegacyEncrypted]; n {
	case 0:
		fmt.Fprintln(e.stdout, "no legacy password hash remains")
	case 1:
		fmt.Fprintln(e.stdout, "1 account still holds a legacy hash; it moves to the current format as its user signs in")
	default:
		fmt.Fprintf(e.stdout, "%d accounts still hold a legacy hash; they move to the current format as their users sign in\n", n)
	}
	return code
}

// printFormats writes the count of every format, zeros included, and the
// total, as a table with the counts aligned right.
func printFormats(w io.Writer, counts map[string]int64) error {
	formats := slices.Clone(passwordFormats)
	for f := range counts { // none in practice: the stores name no other
		if !slices.Contains(formats, f) {
			formats = append(formats, f)
		}
	}
	var total int64
	nameWidth, numWidth := len("FORMAT"), len("ACCOUNTS")
	for _, f := range formats {
		total += counts[f]
		nameWidth = max(nameWidth, len(f))
	}
	numWidth = max(numWidth, len(strconv.FormatInt(total, 10)))
	row := func(name, n string) { fmt.Fprintf(w, "%-*s  %*s\n", nameWidth, name, numWidth, n) }
	row("FORMAT", "ACCOUNTS")
	for _, f := range formats {
		row(f, strconv.FormatInt(counts[f], 10))
	}
	row("total", strconv.FormatInt(total, 10))
	_, err := fmt.Fprintln(w)
	return err
}

// checkLegacyKey opens every encrypted hash with keys, batch by batch,
// and returns how many it checked, how many did not open and the ids of
// the first of those.
func checkLegacyKey(ctx context.Context, users *postgres.UserStore, keys *legacy.Keys, batch int) (checked, failed int64, ids []int64, err error) {
	var after int64
	for {
		page, err := users.ByPasswordFormat(ctx, user.FormatLegacyEncrypted, after, batch)
		if err != nil {
			return checked, failed, ids, err
		}
		for _, h := range page {
			checked++
			if _, err := keys.OpenHash(h.Hash); err != nil {
				failed++
				if len(ids) < maxFailedIDs {
					ids = append(ids, h.UserID)
				}
			}
			after = h.UserID
		}
		if len(page) < batch {
			return checked, failed, ids, nil
		}
	}
}

// listIDs prints the ids of the accounts a key does not open:
// "3, 7, 12", or "3, 7, ... and 5 more".
func listIDs(ids []int64, total int64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.FormatInt(id, 10)
	}
	out := strings.Join(s, ", ")
	if more := total - int64(len(ids)); more > 0 {
		out += fmt.Sprintf(" and %d more", more)
	}
	return out
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
