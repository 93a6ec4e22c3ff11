package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cedrina/cedrina/internal/legacytest"
	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/legacy"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/store/storetest"
	"github.com/cedrina/cedrina/user"
)

// noLegacyKey fails when the output shows a key of the fixture, in any
// form.
func noLegacyKey(t *testing.T, r result) {
	t.Helper()
	for _, key := range []string{legacytest.Key, legacytest.OtherKey} {
		b, _ := base64.URLEncoding.DecodeString(key)
		for _, form := range []string{key, strings.TrimRight(key, "="), base64.StdEncoding.EncodeToString(b), hex.EncodeToString(b)} {
			if strings.Contains(r.stdout+r.stderr, form) {
				t.Fatalf("the output shows a key:\n%s%s", r.stdout, r.stderr)
			}
		}
	}
}

func TestLegacyUsage(t *testing.T) {
	t.Parallel()
	cli(t, nil, "help", "legacy").expect(t, exitOK, `cedrina legacy status \[--legacy-key-file FILE\]`, "")
	cli(t, nil, "help").expect(t, exitOK, `legacy\s+count password hashes by format`, "")
	cli(t, nil, "legacy").expect(t, exitUsage, `^$`, `^cedrina: legacy: missing action`)
	cli(t, nil, "legacy", "sideways").expect(t, exitUsage, `^$`, `^cedrina: legacy: unknown action "sideways"`)
	cli(t, nil, "legacy", "status", "now").expect(t, exitUsage, `^$`, `^cedrina: legacy status: unexpected argument "now"`)
	cli(t, nil, "legacy", "status", "--batch", "0").expect(t, exitUsage, `^$`, `--batch must be positive`)
	cli(t, nil, "legacy", "status").expect(t, exitUsage, `^$`, `^cedrina: legacy status: no database URL`)
	// The key is never a flag's value: it would show in ps and shell history.
	r := cli(t, nil, "legacy", "status", "--legacy-key", legacytest.Key)
	r.expect(t, exitUsage, `^$`, `flag provided but not defined: -legacy-key `)
	noLegacyKey(t, r)

	missing := filepath.Join(t.TempDir(), "none")
	cli(t, nil, "legacy", "status", "--legacy-key-file", missing).expect(t, exitUsage, `^$`, `--legacy-key-file: open .*: no such file or directory`)
	empty := secretFile(t, "  ", 0o600)
	cli(t, nil, "legacy", "status", "--legacy-key-file", empty).expect(t, exitUsage, `^$`, `--legacy-key-file .*: the file is empty`)
	for _, bad := range []string{legacytest.Key[:30], legacytest.Key + "," + legacytest.OtherKey[:40], "hunter2"} {
		r := cli(t, map[string]string{"CEDRINA_LEGACY_KEY": bad}, "legacy", "status")
		r.expect(t, exitUsage, `^$`, `^cedrina: legacy status: \$CEDRINA_LEGACY_KEY: legacy: key \d of \d: not base64 or hex of 32 bytes\n$`)
		noLegacyKey(t, r)
		if strings.Contains(r.stderr, bad) {
			t.Errorf("the error quotes the key: %s", r.stderr)
		}
		file := secretFile(t, bad, 0o600)
		r = cli(t, nil, "legacy", "status", "--legacy-key-file", file)
		r.expect(t, exitUsage, `^$`, `^cedrina: legacy status: --legacy-key-file .*: legacy: key \d of \d: not base64`)
		noLegacyKey(t, r)
	}
}

// legacyDB is a migrated schema holding the fixture's accounts as the
// original left them (two $2b$, three encrypted), and one account of
// each other format: argon2id, $2a$, none, unknown.
func legacyDB(t *testing.T) (string, *postgres.DB, map[string]int64) {
	t.Helper()
	url, db, _ := migratedDB(t)
	ids := map[string]int64{}
	add := func(name, hash string) {
		t.Helper()
		u := storetest.NewUser(name)
		u.HashedPassword = hash
		if err := db.Users().Create(context.Background(), u); err != nil {
			t.Fatal(err)
		}
		ids[name] = u.ID
	}
	for _, u := range legacytest.Users {
		add(u.Username, u.Stored)
	}
	add("argon", storetest.NewUser("x").HashedPassword)
	add("sdkbcrypt", "$2a$04$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234")
	add("external", user.NoPassword)
	add("mystery", "$argon2i$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")
	return url, db, ids
}

// statusTable is the table status prints for the given counts, in the
// order argon2id, bcrypt, legacy-bcrypt, legacy-encrypted, none, unknown.
func statusTable(counts ...int) string {
	names := []string{"argon2id", "bcrypt", "legacy-bcrypt", "legacy-encrypted", "none", "unknown"}
	re := `^FORMAT\s+ACCOUNTS\s*\n`
	total := 0
	for i, n := range counts {
		re += fmt.Sprintf(`%s\s+%d\s*\n`, regexp.QuoteMeta(names[i]), n)
		total += n
	}
	return re + fmt.Sprintf(`total\s+%d\s*\n\n`, total)
}

// TestLegacyStatus counts the formats and checks keys: none (a warning),
// the right one from a file or the environment, several, another one
// (exit 1, naming the accounts), and one that opens all but an altered
// value.
func TestLegacyStatus(t *testing.T) {
	t.Parallel()
	url, db, ids := legacyDB(t)
	env := map[string]string{"DATABASE_URL": url}
	table := statusTable(1, 1, 2, 3, 1, 1)
	const remain = "5 accounts still hold a legacy hash; they move to the current format as their users sign in\n$"

	r := cli(t, env, "legacy", "status")
	r.expect(t, exitOK, table+remain, `^cedrina: legacy status: warning: 3 accounts hold an encrypted hash and cannot sign in until the applications set user.LegacyConfig.Keys`)

	keyFile := secretFile(t, legacytest.Key, 0o600)
	opens := table + "the legacy key opens all 3 encrypted hashes\n" + remain
	runs := []result{r}
	for _, r := range []result{
		cli(t, env, "legacy", "status", "--legacy-key-file", keyFile),
		cli(t, nil, "legacy", "status", "--database-url", url, "--legacy-key-file", keyFile, "--batch", "1"),
		cli(t, map[string]string{"DATABASE_URL": url, "CEDRINA_LEGACY_KEY": legacytest.Key}, "legacy", "status", "--batch", "2"),
		cli(t, map[string]string{"DATABASE_URL": url, "CEDRINA_LEGACY_KEY": legacytest.OtherKey + ", " + legacytest.Key}, "legacy", "status"),
		// The file wins over the environment.
		cli(t, map[string]string{"DATABASE_URL": url, "CEDRINA_LEGACY_KEY": legacytest.OtherKey}, "legacy", "status", "--legacy-key-file", keyFile),
	} {
		r.expect(t, exitOK, opens, "")
		runs = append(runs, r)
	}

	// A key file others may read: a warning, and the check all the same.
	loose := secretFile(t, legacytest.Key, 0o644)
	r = cli(t, env, "legacy", "status", "--legacy-key-file", loose)
	r.expect(t, exitOK, opens, `^cedrina: warning: --legacy-key-file .* holds secrets and is readable by other users \(mode -rw-r--r--\); chmod 600 it\n$`)
	runs = append(runs, r)

	var enc []string
	for _, u := range legacytest.Users {
		if u.Encrypted {
			enc = append(enc, fmt.Sprint(ids[u.Username]))
		}
	}
	r = cli(t, map[string]string{"DATABASE_URL": url, "CEDRINA_LEGACY_KEY": legacytest.OtherKey}, "legacy", "status", "--batch", "2")
	r.expect(t, exitFailure, table+remain,
		`^cedrina: legacy status: the legacy key does not open 3 of 3 encrypted hashes \(user ids: `+strings.Join(enc, ", ")+`\)\n$`)
	runs = append(runs, r)

	// An altered value among good ones.
	stored := legacytest.Users[2].Stored
	c := "A"
	if stored[50] == 'A' {
		c = "B"
	}
	u := storetest.NewUser("altered")
	u.HashedPassword = stored[:50] + c + stored[51:]
	if err := db.Users().Create(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	r = cli(t, env, "legacy", "status", "--legacy-key-file", keyFile)
	r.expect(t, exitFailure, statusTable(1, 1, 2, 4, 1, 1)+"6 accounts still hold a legacy hash",
		fmt.Sprintf(`^cedrina: legacy status: the legacy key does not open 1 of 4 encrypted hashes \(user ids: %d\)\n$`, u.ID))
	runs = append(runs, r)

	for _, r := range runs {
		noLegacyKey(t, r)
		for _, u := range legacytest.Users {
			if strings.Contains(r.stdout+r.stderr, u.Stored) || strings.Contains(r.stdout+r.stderr, u.Password) {
				t.Fatalf("the output shows a stored hash or a password:\n%s%s", r.stdout, r.stderr)
			}
		}
	}
}

// TestLegacyStatusManyFailures: a key that opens none of twelve encrypted
// hashes names the first ten accounts and how many more there are.
func TestLegacyStatusManyFailures(t *testing.T) {
	t.Parallel()
	url, db, _ := migratedDB(t)
	var ids []string
	for i := range 12 {
		u := storetest.NewUser(fmt.Sprintf("enc%02d", i))
		u.HashedPassword = legacytest.Users[1].Stored
		if err := db.Users().Create(context.Background(), u); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, fmt.Sprint(u.ID))
	}
	r := cli(t, map[string]string{"DATABASE_URL": url, "CEDRINA_LEGACY_KEY": legacytest.OtherKey}, "legacy", "status", "--batch", "5")
	r.expect(t, exitFailure, statusTable(0, 0, 0, 12, 0, 0)+"12 accounts still hold",
		`^cedrina: legacy status: the legacy key does not open 12 of 12 encrypted hashes \(user ids: `+strings.Join(ids[:10], ", ")+` and 2 more\)\n$`)
	noLegacyKey(t, r)
}

// TestLegacyStatusMigrated: once every account the original left has
// signed in through a service with the legacy rule and key, no legacy
// hash remains, and status says so with or without a key.
func TestLegacyStatusMigrated(t *testing.T) {
	t.Parallel()
	url, db, _ := migratedDB(t)
	ctx := context.Background()
	for _, u := range legacytest.Users {
		nu := storetest.NewUser(u.Username)
		nu.HashedPassword = u.Stored
		if err := db.Users().Create(ctx, nu); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"DATABASE_URL": url}
	cli(t, env, "legacy", "status", "--legacy-key-file", secretFile(t, legacytest.Key, 0o600)).
		expect(t, exitOK, statusTable(0, 0, 2, 3, 0, 0)+"the legacy key opens all 3 encrypted hashes\n5 accounts still hold", "")

	keys, err := legacy.ParseKeys(legacytest.Key)
	if err != nil {
		t.Fatal(err)
	}
	h, err := user.NewHasher(user.HashConfig{Argon2id: user.Argon2idParams{Memory: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	users, err := user.NewService(db.Users(), user.Config{Hasher: h, Legacy: user.LegacyConfig{Enabled: true, BcryptCost: 4, Keys: keys}})
	if err != nil {
		t.Fatal(err)
	}
	for i, u := range legacytest.Users {
		if _, err := users.Login(ctx, u.Username, u.Password); err != nil {
			t.Fatalf("%s: %v", u.Username, err)
		}
		if i == 0 {
			cli(t, env, "legacy", "status").expect(t, exitOK, statusTable(1, 0, 1, 3, 0, 0)+"4 accounts still hold", "warning: 3 accounts hold")
		}
		if i == 3 {
			cli(t, env, "legacy", "status").
				expect(t, exitOK, statusTable(4, 0, 0, 1, 0, 0)+"1 account still holds a legacy hash; it moves to the current format as its user signs in\n$",
					"warning: 1 account holds an encrypted hash and cannot sign in")
			cli(t, map[string]string{"DATABASE_URL": url, "CEDRINA_LEGACY_KEY": legacytest.Key}, "legacy", "status").
				expect(t, exitOK, statusTable(4, 0, 0, 1, 0, 0)+"the legacy key opens the 1 encrypted hash\n1 account still holds", "")
		}
	}
	for _, env := range []map[string]string{env, {"DATABASE_URL": url, "CEDRINA_LEGACY_KEY": legacytest.OtherKey}} {
		cli(t, env, "legacy", "status").expect(t, exitOK, statusTable(5, 0, 0, 0, 0, 0)+"no legacy password hash remains\n$", "")
	}
}

// TestLegacyStatusBeforeAdoption: on the original system's database, not
// adopted yet, status counts and checks the key all the same (it reads
// only columns that database has), so an operator can check the key
// before adopting.
func TestLegacyStatusBeforeAdoption(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	legacytest.Create(t, pgtest.OpenPgx(t, url))
	env := map[string]string{"DATABASE_URL": url, "CEDRINA_LEGACY_KEY": legacytest.Key}
	cli(t, env, "legacy", "status").
		expect(t, exitOK, statusTable(0, 0, 2, 3, 0, 0)+"the legacy key opens all 3 encrypted hashes\n5 accounts still hold", "")
	env["CEDRINA_LEGACY_KEY"] = legacytest.OtherKey
	cli(t, env, "legacy", "status").expect(t, exitFailure, statusTable(0, 0, 2, 3, 0, 0), `the legacy key does not open 3 of 3 encrypted hashes \(user ids: 2, 3, 5\)`)
}
