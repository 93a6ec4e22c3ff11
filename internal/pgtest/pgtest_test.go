package pgtest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/cedrina/cedrina/schema"
)

func TestWithSearchPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		base      string
		wantQuery url.Values
	}{
		{"postgres://root@127.0.0.1:5432/test", url.Values{"search_path": {"t_1"}}},
		{"postgres://root@127.0.0.1:5432/test?", url.Values{"search_path": {"t_1"}}},
		{"postgres://root@127.0.0.1:5432/test?sslmode=disable",
			url.Values{"sslmode": {"disable"}, "search_path": {"t_1"}}},
		{"postgresql://u:p%40ss@db/test?sslmode=disable&application_name=x&search_path=public",
			url.Values{"sslmode": {"disable"}, "application_name": {"x"}, "search_path": {"t_1"}}},
	} {
		got, err := withSearchPath(tc.base, "t_1")
		if err != nil {
			t.Errorf("withSearchPath(%q): %v", tc.base, err)
			continue
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := url.Parse(tc.base)
		if u.Scheme != b.Scheme || u.User.String() != b.User.String() || u.Host != b.Host || u.Path != b.Path {
			t.Errorf("withSearchPath(%q) = %q: scheme, user, host or path changed", tc.base, got)
		}
		if q := u.Query(); q.Encode() != tc.wantQuery.Encode() {
			t.Errorf("withSearchPath(%q) query = %v, want %v", tc.base, q, tc.wantQuery)
		}
	}
	for _, bad := range []string{"host=db user=root password=secret", "mysql://root:secret@db/test", "postgres://root:secret@db:port/test"} {
		if _, err := withSearchPath(bad, "t_1"); err == nil {
			t.Errorf("withSearchPath(%q) accepted it", bad)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("withSearchPath(%q) error shows the password: %v", bad, err)
		}
	}
}

// fakeTB records how URL ends a test without ending the real one.
type fakeTB struct {
	testing.TB
	skipped, failed string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skip(args ...any) {
	f.skipped = fmt.Sprint(args...)
	runtime.Goexit()
}
func (f *fakeTB) Fatal(args ...any) {
	f.failed = fmt.Sprint(args...)
	runtime.Goexit()
}

// callURL runs URL on a fake TB in its own goroutine, as the testing
// package runs a test, since Skip and Fatal end the goroutine.
func callURL() *fakeTB {
	f := &fakeTB{}
	var wg sync.WaitGroup
	wg.Go(func() { URL(f) })
	wg.Wait()
	return f
}

func TestURLWithoutDatabase(t *testing.T) {
	t.Setenv(EnvURL, "")

	t.Setenv("CI", "")
	f := callURL()
	if f.failed != "" || !strings.Contains(f.skipped, EnvURL+"='postgres://") {
		t.Errorf("outside CI: skipped %q, failed %q; want a skip saying how to set %s", f.skipped, f.failed, EnvURL)
	}

	t.Setenv("CI", "true")
	f = callURL()
	if f.skipped != "" || !strings.Contains(f.failed, EnvURL) || !strings.Contains(f.failed, "CI") {
		t.Errorf("in CI: skipped %q, failed %q; want the test to fail", f.skipped, f.failed)
	}
}

func schemaExists(t *testing.T, db *sql.DB, name string) bool {
	t.Helper()
	var ok bool
	if err := db.QueryRowContext(t.Context(),
		"SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)", name).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestDB(t *testing.T) {
	t.Parallel()
	URL(t) // skips here, not in the subtest, when there is no database
	var name string
	var watcher *sql.DB
	t.Run("inner", func(t *testing.T) {
		db := DB(t)
		if err := db.QueryRowContext(t.Context(), "SELECT current_schema()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(name, "t_") || len(name) != 18 {
			t.Fatalf("current schema = %q, want t_ and 16 hex digits", name)
		}
		v, err := schema.Version(t.Context(), db.DB)
		if err != nil {
			t.Fatal(err)
		}
		if v != schema.Latest() {
			t.Errorf("version = %d, want %d", v, schema.Latest())
		}
		// Unqualified names resolve in the test's schema.
		var nsp string
		if err := db.QueryRowContext(t.Context(),
			"SELECT table_schema FROM information_schema.tables WHERE table_name = 'users' AND table_schema = current_schema()").
			Scan(&nsp); err != nil {
			t.Fatalf("users not found in the test schema: %v", err)
		}
		watcher = adminDB(t, admin.url)
		if !schemaExists(t, watcher, name) {
			t.Fatalf("schema %s does not exist during the test", name)
		}
	})
	if watcher == nil {
		t.Fatal("inner test did not run")
	}
	if schemaExists(t, watcher, name) {
		t.Errorf("schema %s still exists after the test", name)
	}
}

func TestURLParallel(t *testing.T) {
	t.Parallel()
	const n = 12
	var mu sync.Mutex
	seen := map[string]bool{}
	for i := range n {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			db, err := sql.Open("postgres", URL(t))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var name string
			if err := db.QueryRowContext(context.Background(), "SELECT current_schema()").Scan(&name); err != nil {
				t.Fatal(err)
			}
			// Each test's schema starts empty.
			var tables int
			if err := db.QueryRowContext(context.Background(),
				"SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()").Scan(&tables); err != nil {
				t.Fatal(err)
			}
			if tables != 0 {
				t.Errorf("schema %s has %d tables, want 0", name, tables)
			}
			mu.Lock()
			defer mu.Unlock()
			if seen[name] {
				t.Errorf("schema %s handed out twice", name)
			}
			seen[name] = true
		})
	}
}

// TestPgxDB: pgx sends the URL's search_path to the server as a run-time
// parameter, so a pool of pgx's driver finds its tables in the test's
// schema, as lib/pq's does.
func TestPgxDB(t *testing.T) {
	t.Parallel()
	db := PgxDB(t)
	var name string
	if err := db.QueryRowContext(t.Context(), "SELECT current_schema()").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(name, "t_") || len(name) != 18 {
		t.Fatalf("current schema = %q, want t_ and 16 hex digits", name)
	}
	if v, err := schema.Version(t.Context(), db); err != nil || v != schema.Latest() {
		t.Errorf("version = %d, %v; want %d", v, err, schema.Latest())
	}
	if err := db.QueryRowContext(t.Context(),
		"SELECT table_schema FROM information_schema.tables WHERE table_name = 'users' AND table_schema = current_schema()").
		Scan(&name); err != nil {
		t.Fatalf("users not found in the test schema: %v", err)
	}
	if d := fmt.Sprintf("%T", db.Driver()); !strings.Contains(d, "stdlib") {
		t.Errorf("driver = %s, want pgx's stdlib", d)
	}
}
