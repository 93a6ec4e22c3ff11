package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/rbac"
	"github.com/cedrina/cedrina/store/postgres"
)

// casbinWatcher is Casbin's persist.Watcher, spelled out so that the
// module need not depend on Casbin to check the shape.
type casbinWatcher interface {
	SetUpdateCallback(func(string)) error
	Update() error
	Close()
}

var _ casbinWatcher = (*postgres.CasbinWatcher)(nil)

// watchWait bounds every wait for a notification.
const watchWait = 10 * time.Second

// watcherDSN returns a connection URL for a watcher whose connection
// carries an application_name of its own, by which the test finds its
// backend in pg_stat_activity.
func watcherDSN(t *testing.T) (dsn, app string) {
	t.Helper()
	u, err := url.Parse(pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	app = "cedrina_watcher_" + hex.EncodeToString(b[:])
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	return u.String(), app
}

// recv waits for a payload on ch.
func recv(t *testing.T, ch <-chan string, what string) string {
	t.Helper()
	select {
	case p := <-ch:
		return p
	case <-time.After(watchWait):
		t.Fatalf("%s: no notification within %v", what, watchWait)
		return ""
	}
}

// expect waits for the payload want on ch.
func expect(t *testing.T, ch <-chan string, what, want string) {
	t.Helper()
	if got := recv(t, ch, what); got != want {
		t.Fatalf("%s: payload %s, want %s", what, got, want)
	}
}

// backends returns the pids of the server's connections named app.
func backends(t *testing.T, db *postgres.DB, app string) []int {
	t.Helper()
	var pids []int
	if err := db.SQLX().SelectContext(t.Context(), &pids,
		`SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid`, app); err != nil {
		t.Fatal(err)
	}
	return pids
}

// waitBackends polls pg_stat_activity until ok accepts the pids of the
// connections named app, or fails the test after watchWait.
func waitBackends(t *testing.T, db *postgres.DB, app, what string, ok func([]int) bool) []int {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(watchWait)
	for {
		pids := backends(t, db, app)
		if ok(pids) {
			return pids
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("%s: connections named %s are %v after %v", what, app, pids, watchWait)
		}
	}
}

// closeWithin closes w, failing the test when Close does not return
// within watchWait.
func closeWithin(t *testing.T, w *postgres.PolicyWatcher) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- w.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(watchWait):
		t.Fatalf("Close did not return within %v", watchWait)
	}
}

// TestPolicyWatcher: changes made through a rule store reach a watcher on
// its channel when they commit, never when they roll back; after its
// connection is terminated the watcher reconnects, calls its subscribers
// (they may have missed changes), and sees the changes made afterwards;
// Close ends its connection and goroutines.
func TestPolicyWatcher(t *testing.T) {
	t.Parallel()
	db, err := postgres.New(pgtest.DB(t), postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	channel := testChannel(t)
	rules, err := db.RulesOn(channel)
	if err != nil {
		t.Fatal(err)
	}
	dsn, app := watcherDSN(t)
	w, err := postgres.NewPolicyWatcher(dsn, postgres.WatcherConfig{Channel: channel})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	ctx := t.Context()

	payloads := make(chan string, 100) // through the Casbin callback
	c := w.Casbin()
	if err := c.SetUpdateCallback(func(p string) { payloads <- p }); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	signals := make(chan string, 100) // through Subscribe
	cancel := w.Subscribe(func() { calls.Add(1); signals <- "changed" })
	defer cancel()

	// A change is announced once it commits, with its operation.
	if n, err := rules.Add(ctx, []rbac.Rule{newRule(t, "p", "alice", "data1", "read"), newRule(t, "g", "alice", "admin")}, "admin-1", ruleTestTime); err != nil || n != 2 {
		t.Fatalf("Add = %d, %v", n, err)
	}
	expect(t, payloads, "Add", `{"op":"add","rules":2}`)
	recv(t, signals, "Add (Subscribe)")

	// A change that rolls back is never announced: the next payload is
	// the next committed change's.
	errRollback := errors.New("roll back")
	if err := db.InTx(ctx, func(ctx context.Context) error {
		if _, err := rules.Remove(ctx, rbac.Filter{Type: "g"}, "admin-1", ruleTestTime); err != nil {
			return err
		}
		return errRollback
	}); !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	if _, err := rules.SetActive(ctx, 1, false, "admin-1", ruleTestTime); err != nil {
		t.Fatal(err)
	}
	expect(t, payloads, "SetActive after a rolled-back Remove", `{"op":"set_active","rules":1}`)

	// A change in a host's transaction is announced at its commit: a
	// notification sent meanwhile by another connection comes first.
	if err := db.InTx(ctx, func(ctx context.Context) error {
		if err := rules.Replace(ctx, []rbac.Rule{newRule(t, "g", "bob", "admin")}, "admin-1", ruleTestTime); err != nil {
			return err
		}
		return w.Notify(ctx)
	}); err != nil {
		t.Fatal(err)
	}
	expect(t, payloads, "Notify during the transaction", `{"op":"notify"}`)
	expect(t, payloads, "Replace at commit", `{"op":"replace","rules":2}`)

	// Terminate the watcher's connection: it reconnects and reports it.
	for len(signals) > 0 {
		<-signals
	}
	old := waitBackends(t, db, app, "the watcher's connection", func(p []int) bool { return len(p) == 1 })
	var killed bool
	if err := db.SQLX().GetContext(ctx, &killed, `SELECT pg_terminate_backend($1)`, old[0]); err != nil || !killed {
		t.Fatalf("pg_terminate_backend(%d) = %v, %v", old[0], killed, err)
	}
	expect(t, payloads, "after the connection was terminated", `{"op":"reconnect"}`)
	recv(t, signals, "after the connection was terminated (Subscribe)")
	waitBackends(t, db, app, "the new connection", func(p []int) bool { return len(p) == 1 && p[0] != old[0] })

	// It listens again.
	if _, err := rules.Remove(ctx, rbac.Filter{Type: "g"}, "admin-1", ruleTestTime); err != nil {
		t.Fatal(err)
	}
	expect(t, payloads, "Remove after the reconnection", `{"op":"remove","rules":1}`)
	recv(t, signals, "Remove after the reconnection (Subscribe)")

	// Update (Casbin's) and Notify without a DB: connections of their own.
	if err := c.Update(); err != nil {
		t.Fatal(err)
	}
	expect(t, payloads, "Update", `{"op":"notify"}`)

	// Casbin's Close removes its callback only.
	c.Close()
	if err := w.Notify(ctx); err != nil {
		t.Fatal(err)
	}
	recv(t, signals, "Notify after the Casbin callback was removed")

	closeWithin(t, w)
	n := calls.Load()
	if err := w.Notify(ctx); err != nil {
		t.Fatalf("Notify after Close: %v", err)
	}
	waitBackends(t, db, app, "after Close", func(p []int) bool { return len(p) == 0 })
	if len(payloads) != 0 {
		t.Errorf("payloads after Casbin's Close: %d", len(payloads))
	}
	if calls.Load() != n {
		t.Errorf("a subscriber was called after Close")
	}
	if cancel := w.Subscribe(func() { t.Error("called after Close") }); cancel == nil {
		t.Error("Subscribe after Close returned a nil cancel")
	}
	if err := w.Casbin().SetUpdateCallback(func(string) {}); err == nil {
		t.Error("SetUpdateCallback after Close succeeded")
	}
	if err := w.Close(); err != nil {
		t.Errorf("Close again: %v", err)
	}
}

// TestPolicyWatcherChannels: a watcher sees only its own channel's
// notifications, and Notify goes through WatcherConfig.DB when set.
func TestPolicyWatcherChannels(t *testing.T) {
	t.Parallel()
	db, err := postgres.New(pgtest.DB(t), postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ch1, ch2 := testChannel(t), testChannel(t)
	dsn, _ := watcherDSN(t)
	got := map[string]chan string{}
	var ws []*postgres.PolicyWatcher
	for _, ch := range []string{ch1, ch2} {
		// PingInterval: a ping every millisecond runs beside the
		// notifications.
		w, err := postgres.NewPolicyWatcher(dsn, postgres.WatcherConfig{Channel: ch, DB: db.SQLX().DB, PingInterval: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
		got[ch] = make(chan string, 10)
		if err := w.Casbin().SetUpdateCallback(func(p string) { got[ch] <- p }); err != nil {
			t.Fatal(err)
		}
	}
	rules1, err := db.RulesOn(ch1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rules1.Add(t.Context(), []rbac.Rule{newRule(t, "g", "alice", "admin")}, "", ruleTestTime); err != nil {
		t.Fatal(err)
	}
	expect(t, got[ch1], "Add on the first channel", `{"op":"add","rules":1}`)
	// The second watcher's next payload is its own Notify's: it never
	// saw the Add.
	if err := ws[1].Notify(t.Context()); err != nil {
		t.Fatal(err)
	}
	expect(t, got[ch2], "Notify on the second channel", `{"op":"notify"}`)
	for _, w := range ws {
		closeWithin(t, w)
	}
	if len(got[ch1]) != 0 {
		t.Errorf("the first watcher saw the second's Notify")
	}
}

// TestPolicyWatcherConnectError: a first connection that fails is
// NewPolicyWatcher's error, without the password.
func TestPolicyWatcherConnectError(t *testing.T) {
	t.Parallel()
	addr := closedPort(t)
	done := make(chan error, 1)
	go func() {
		w, err := postgres.NewPolicyWatcher("postgres://cedrina:s3cret-pw@"+addr+"/none?sslmode=disable", postgres.WatcherConfig{})
		if w != nil {
			w.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.HasPrefix(err.Error(), "postgres: policy watcher: listen on \"cedrina_rbac\": ") {
			t.Errorf("err = %v, want the connection's failure", err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("error reveals the password: %v", err)
		}
	case <-time.After(watchWait):
		t.Fatalf("NewPolicyWatcher on a closed port did not return within %v", watchWait)
	}
}

func TestWatcherConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		dsn  string
		cfg  postgres.WatcherConfig
		want string
	}{
		{" ", postgres.WatcherConfig{}, "postgres: NewPolicyWatcher: empty connection string"},
		{"postgres://x", postgres.WatcherConfig{MinReconnect: -1}, "postgres: WatcherConfig.MinReconnect: -1ns is negative"},
		{"postgres://x", postgres.WatcherConfig{MaxReconnect: -1}, "postgres: WatcherConfig.MaxReconnect: -1ns is negative"},
		{"postgres://x", postgres.WatcherConfig{MinReconnect: time.Second, MaxReconnect: time.Millisecond},
			"postgres: WatcherConfig.MaxReconnect: 1ms is below WatcherConfig.MinReconnect (1s)"},
		{"postgres://x", postgres.WatcherConfig{Channel: strings.Repeat("c", 64)}, "postgres: WatcherConfig.Channel: 64 bytes, at most 63"},
		{"postgres://x", postgres.WatcherConfig{Channel: "a\x00"}, "postgres: WatcherConfig.Channel: contains a control character"},
	} {
		w, err := postgres.NewPolicyWatcher(tc.dsn, tc.cfg)
		if w != nil || err == nil || err.Error() != tc.want {
			t.Errorf("NewPolicyWatcher(%q, %+v) = %v, %v; want %s", tc.dsn, tc.cfg, w, err, tc.want)
		}
	}
}
