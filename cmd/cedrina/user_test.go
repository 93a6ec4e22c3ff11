package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/user"
)

func TestUserUsage(t *testing.T) {
	t.Parallel()
	cli(t, nil, "help", "user").expect(t, exitOK, `cedrina user set-role \(--id N \| --username NAME \| --email ADDR\) --role ROLE`, "")
	cli(t, nil, "user", "-h").expect(t, exitOK, `(?s)Exactly one of --id, --username and --email`, "")
	for _, tc := range []struct {
		args  []string
		errRE string
	}{
		{[]string{"user"}, `^cedrina: user: want one action, set-role`},
		{[]string{"user", "delete", "--id", "1"}, `^cedrina: user: want one action, set-role`},
		{[]string{"user", "set-role", "--role", "ADMIN"}, `exactly one of --id, --username and --email`},
		{[]string{"user", "set-role", "--id", "1", "--username", "bob", "--role", "ADMIN"}, `exactly one of --id, --username and --email`},
		{[]string{"user", "set-role", "--id", "0", "--role", "ADMIN"}, `--id must be a positive integer`},
		{[]string{"user", "set-role", "--id", "x", "--role", "ADMIN"}, `^cedrina: user: invalid value "x" for flag -id`},
		{[]string{"user", "set-role", "--username", "bob"}, `--role is required`},
		{[]string{"user", "set-role", "--username", "bob", "--role", "admin"}, `--role "admin": a role is 1 to 20 characters A-Z`},
		{[]string{"user", "set-role", "--username", "bob", "--role", "ADMIN"}, `^cedrina: user set-role: no database URL`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			cli(t, nil, tc.args...).expect(t, exitUsage, `^$`, tc.errRE)
		})
	}
}

// roleEvents returns the role_changed events of the trail, oldest first.
func roleEvents(t *testing.T, db *postgres.DB) []audit.Event {
	t.Helper()
	svc, err := audit.NewService(db.Audit(), audit.Config{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Query(context.Background(), audit.Query{Types: []audit.EventType{audit.RoleChanged}, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Event
	for i := len(p.Events) - 1; i >= 0; i-- {
		out = append(out, p.Events[i])
	}
	return out
}

// TestUserSetRole sets roles by id, username and email address on
// PostgreSQL: the account's role changes, the CLI prints it, and each
// change is a role_changed event by "cli" in the trail.
func TestUserSetRole(t *testing.T) {
	t.Parallel()
	url, db, _ := migratedDB(t)
	ctx := context.Background()
	users, err := user.NewService(db.Users(), user.Config{})
	if err != nil {
		t.Fatal(err)
	}
	u, err := users.Register(ctx, user.Registration{Username: "alice", Email: "alice@example.com", Password: "correct horse battery staple"})
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"DATABASE_URL": url}
	id := strconv.FormatInt(u.ID, 10)
	role := func(want user.Role) {
		t.Helper()
		got, err := users.Get(ctx, u.ID)
		if err != nil || got.Role != want {
			t.Fatalf("role = %v (%v), want %s", got.Role, err, want)
		}
	}

	cli(t, env, "user", "set-role", "--username", "Alice", "--role", "ADMIN").
		expect(t, exitOK, `^user `+id+` \(alice\): role ADMIN \(was USER\)\n$`, "")
	role(user.RoleAdmin)
	cli(t, env, "user", "set-role", "--email", "ALICE@example.com", "--role", "AUDITOR").
		expect(t, exitOK, `^user `+id+` \(alice\): role AUDITOR \(was ADMIN\)\n$`, "")
	role("AUDITOR")
	cli(t, nil, "user", "set-role", "--role", "USER", "--id", id, "--database-url", url).
		expect(t, exitOK, `^user `+id+` \(alice\): role USER \(was AUDITOR\)\n$`, "")
	role(user.RoleUser)

	for _, args := range [][]string{
		{"--id", "999999"}, {"--username", "nobody"}, {"--username", "not a name!"}, {"--email", "nobody@example.com"}, {"--email", "not-an-address"},
	} {
		cli(t, env, append([]string{"user", "set-role", "--role", "ADMIN"}, args...)...).
			expect(t, exitFailure, `^$`, `^cedrina: user set-role: no user with (id 999999|username "nobody"|username "not a name!"|email address "nobody@example.com"|email address "not-an-address")\n$`)
	}
	role(user.RoleUser)

	evs := roleEvents(t, db)
	if len(evs) != 3 {
		t.Fatalf("%d role_changed events, want 3", len(evs))
	}
	for i, want := range []string{"ADMIN", "AUDITOR", "USER"} {
		e := evs[i]
		if e.Data["role"] != want || e.Data["by"] != "cli" || e.UserID == nil || *e.UserID != u.ID {
			t.Errorf("event %d: user %v data %v, want role %s by cli", i, e.UserID, e.Data, want)
		}
	}
}

// TestUserSetRoleKeyedChain: with a keyed audit chain, the CLI records
// under the key it is given; without it, or with another, it changes
// nothing (the event could not join the chain) and exits 4.
func TestUserSetRoleKeyedChain(t *testing.T) {
	t.Parallel()
	url, db, _ := migratedDB(t)
	ctx := context.Background()
	key := []byte(strings.Repeat("k", 32))
	trail, err := audit.NewService(db.Audit(), audit.Config{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	users, err := user.NewService(db.Users(), user.Config{Recorder: trail})
	if err != nil {
		t.Fatal(err)
	}
	u, err := users.Register(ctx, user.Registration{Username: "bob", Email: "bob@example.com", Password: "correct horse battery staple"})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "audit.key")
	otherFile := filepath.Join(dir, "other.key")
	os.WriteFile(keyFile, []byte(strings.Repeat("6b", 32)+"\n"), 0o600)
	os.WriteFile(otherFile, []byte(strings.Repeat("6f", 32)+"\n"), 0o600)
	env := map[string]string{"DATABASE_URL": url}

	cli(t, env, "user", "set-role", "--username", "bob", "--role", "ADMIN").
		expect(t, exitKeyMismatch, `^$`, `^cedrina: user set-role: wrong key: the chain is sealed with a key \(fingerprint `+
			audit.KeyFingerprint(key)+`\), and no key was given: .* \(nothing was changed\)\n$`)
	cli(t, env, "user", "set-role", "--username", "bob", "--role", "ADMIN", "--key-file", otherFile).
		expect(t, exitKeyMismatch, `^$`, `wrong key: the chain is sealed with a key of fingerprint `)
	if got, _ := users.Get(ctx, u.ID); got.Role != user.RoleUser {
		t.Fatalf("role changed to %s under the wrong key", got.Role)
	}
	cli(t, map[string]string{"DATABASE_URL": url, "CEDRINA_AUDIT_KEY_FILE": keyFile}, "user", "set-role", "--username", "bob", "--role", "ADMIN").
		expect(t, exitOK, `role ADMIN \(was USER\)`, "")
	if evs := roleEvents(t, db); len(evs) != 1 || evs[0].Data["by"] != "cli" {
		t.Fatalf("role_changed events %v", evs)
	}
	if n, err := trail.Verify(ctx, 0, 0); err != nil || n != 2 {
		t.Errorf("chain after the CLI's event: %d verified, %v", n, err)
	}
}
