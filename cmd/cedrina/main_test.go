package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"

	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/schema"
)

type result struct {
	code           int
	stdout, stderr string
}

// cli runs the program with args and the given environment.
func cli(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	getenv := func(k string) string { return env[k] }
	code := run(t.Context(), args, getenv, &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// expect checks the exit code, that stderr is one line matching errRE (or
// empty when errRE is ""), and that stdout matches outRE.
func (r result) expect(t *testing.T, code int, outRE, errRE string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit code = %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	if !regexp.MustCompile(outRE).MatchString(r.stdout) {
		t.Errorf("stdout does not match %q:\n%s", outRE, r.stdout)
	}
	if errRE == "" {
		if r.stderr != "" {
			t.Errorf("unexpected stderr: %s", r.stderr)
		}
		return
	}
	if !regexp.MustCompile(errRE).MatchString(r.stderr) {
		t.Errorf("stderr does not match %q:\n%s", errRE, r.stderr)
	}
	if strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "cedrina: ") {
		t.Errorf("stderr is not one 'cedrina: ...' line: %q", r.stderr)
	}
}

// closedPort returns a 127.0.0.1 port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func TestUsage(t *testing.T) {
	t.Parallel()
	none := map[string]string{}
	t.Run("no arguments", func(t *testing.T) {
		r := cli(t, none)
		if r.code != exitUsage || !strings.Contains(r.stderr, "Usage:") || r.stdout != "" {
			t.Errorf("got %+v, want usage on stderr and exit 2", r)
		}
	})
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			cli(t, none, args...).expect(t, exitOK, `(?s)Usage:.*migrate\s+apply, roll back`, "")
		})
	}
	for _, args := range [][]string{{"help", "migrate"}, {"migrate", "-h"}, {"migrate", "--help"}, {"migrate", "up", "-h"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			cli(t, none, args...).expect(t, exitOK, `(?s)cedrina migrate \[--database-url URL\] up\|down\|reset\|status.*DATABASE_URL`, "")
		})
	}
	for _, tc := range []struct {
		args  []string
		errRE string
	}{
		{[]string{"frobnicate"}, `^cedrina: unknown command "frobnicate"`},
		{[]string{"--verbose"}, `^cedrina: unknown flag --verbose`},
		{[]string{"help", "frobnicate"}, `^cedrina: help: unknown command "frobnicate"`},
		{[]string{"migrate"}, `^cedrina: migrate: missing action`},
		{[]string{"migrate", "sideways"}, `^cedrina: migrate: unknown action "sideways"`},
		{[]string{"migrate", "up", "down"}, `^cedrina: migrate: unexpected argument "down"`},
		{[]string{"migrate", "--bogus", "up"}, `^cedrina: migrate: flag provided but not defined: -bogus`},
		{[]string{"migrate", "up", "--database-url"}, `^cedrina: migrate: flag needs an argument`},
		{[]string{"migrate", "up"}, `^cedrina: migrate up: no database URL: pass --database-url or set DATABASE_URL`},
		{[]string{"migrate", "up", "--database-url", " \t"}, `^cedrina: migrate up: no database URL: pass --database-url or set DATABASE_URL`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			cli(t, none, tc.args...).expect(t, exitUsage, `^$`, tc.errRE)
		})
	}
}

func TestBadURL(t *testing.T) {
	t.Parallel()
	for _, url := range []string{
		"postgres://admin:hunter2secret@db:notaport/app",
		"postgres://admin:hunter2secret@[::1/app",
		"mysql://admin:hunter2secret@db/app",
		"postgres://admin:hunter2secret@db/app?sslmode=sometimes",
		"postgres://admin:hunter2secret@db/app?connect_timeout=hunter2secret",
		"not a url",
	} {
		t.Run(url, func(t *testing.T) {
			t.Parallel()
			r := cli(t, nil, "migrate", "status", "--database-url", url)
			r.expect(t, exitFailure, `^$`, `^cedrina: migrate status: malformed database URL: `)
			if strings.Contains(r.stderr, "hunter2secret") {
				t.Errorf("the error shows the password: %s", r.stderr)
			}
		})
	}
}

func TestUnreachable(t *testing.T) {
	t.Parallel()
	url := fmt.Sprintf("postgres://root:hunter2secret@127.0.0.1:%d/test?sslmode=disable", closedPort(t))
	t.Run("flag", func(t *testing.T) {
		r := cli(t, nil, "migrate", "up", "--database-url", url)
		r.expect(t, exitFailure, `^$`, `^cedrina: migrate up: cannot reach database: .*connection refused`)
		if strings.Contains(r.stderr, "hunter2secret") {
			t.Errorf("the error shows the password: %s", r.stderr)
		}
	})
	t.Run("env", func(t *testing.T) {
		cli(t, map[string]string{"DATABASE_URL": url}, "migrate", "status").
			expect(t, exitFailure, `^$`, `^cedrina: migrate status: cannot reach database`)
	})
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	unreachable := fmt.Sprintf("postgres://root@127.0.0.1:%d/test?sslmode=disable", closedPort(t))
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	version := func(want int64) {
		t.Helper()
		got, err := schema.Version(context.Background(), db)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("schema version = %d, want %d", got, want)
		}
	}
	latest := schema.Latest()
	// The flag wins over DATABASE_URL, which points at a closed port.
	withEnv := map[string]string{"DATABASE_URL": unreachable}
	viaFlag := func(args ...string) result {
		t.Helper()
		return cli(t, withEnv, append(args, "--database-url", url)...)
	}
	// DATABASE_URL is used when there is no flag.
	viaEnv := func(args ...string) result {
		t.Helper()
		return cli(t, map[string]string{"DATABASE_URL": url}, args...)
	}

	viaEnv("migrate", "status").expect(t, exitOK,
		`(?m)^VERSION\s+STATE\s+APPLIED AT\s+FILE\n1\s+pending\s+-\s+00001_initial\.sql$`, "")

	viaFlag("migrate", "up").expect(t, exitOK, fmt.Sprintf(`^migrated from version 0 to version %d\n$`, latest), "")
	version(latest)
	// Flag before the action works as well.
	cli(t, withEnv, "migrate", "--database-url", url, "up").
		expect(t, exitOK, fmt.Sprintf(`^schema is up to date at version %d\n$`, latest), "")

	r := viaEnv("migrate", "status")
	r.expect(t, exitOK,
		`(?m)^1\s+applied\s+\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\s+00001_initial\.sql$`, "")
	r.expect(t, exitOK, fmt.Sprintf(`current version %d, latest %d, 0 pending`, latest, latest), "")

	viaFlag("migrate", "down").expect(t, exitOK,
		fmt.Sprintf(`^rolled back from version %d to version %d\n$`, latest, latest-1), "")
	version(latest - 1)

	viaFlag("migrate", "up").expect(t, exitOK, `^migrated from version \d+ to version \d+\n$`, "")
	viaFlag("migrate", "reset").expect(t, exitOK, fmt.Sprintf(`^rolled back from version %d to version 0\n$`, latest), "")
	version(0)
	viaFlag("migrate", "reset").expect(t, exitOK, `^nothing to roll back`, "")
	viaFlag("migrate", "down").expect(t, exitFailure, `^$`, `^cedrina: migrate down: nothing to roll back: no migration is applied\n$`)
	version(0)
}

// TestMigrateFailure makes the migration itself fail: a table named users
// already exists in the schema.
func TestMigrateFailure(t *testing.T) {
	t.Parallel()
	url := pgtest.URL(t)
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), "CREATE TABLE users (id int)"); err != nil {
		t.Fatal(err)
	}
	cli(t, nil, "migrate", "up", "--database-url", url).
		expect(t, exitFailure, `^$`, `^cedrina: migrate up: schema: migrate: .*already exists`)
	v, err := schema.Version(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	if v != 0 {
		t.Errorf("version after a failed migration = %d, want 0", v)
	}
}
