package reset_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/errs"
	"github.com/cedrina/cedrina/internal/secret"
	"github.com/cedrina/cedrina/internal/testkit"
	"github.com/cedrina/cedrina/notify"
	"github.com/cedrina/cedrina/ratelimit"
	"github.com/cedrina/cedrina/reset"
	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/user"
)

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// No token or link reaches an audit row, a log line or an error string;
// the development notifier's line is the only place a link appears.
func TestNoSecretsOutside(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		devLog := &testkit.Buffer{}
		dev := notify.Log(slog.New(slog.NewTextHandler(devLog, nil)))
		failOnce := true
		var mu sync.Mutex
		e := newEnv(t, b, func(c *reset.Config) {
			out := c.Notifier
			c.Notifier = notify.Func(func(ctx context.Context, m notify.Message) error {
				dev.Notify(ctx, m)
				mu.Lock()
				fail := failOnce && m.Kind == notify.PasswordReset
				failOnce = false
				mu.Unlock()
				if fail {
					// The mailer fails, quoting what it was given.
					return errors.New("smtp: 554 rejected: " + m.Link)
				}
				return out.Notify(ctx, m)
			})
			c.NoRateLimit = true
		})
		ctx := context.Background()
		u := e.register(t, "alice")
		var secrets []string
		// The first request's mail fails; the second's goes out.
		if err := e.svc.Request(ctx, "alice@example.com", reset.Meta{}); err != nil {
			t.Fatal(err)
		}
		tok := e.request(t, u)
		secrets = append(secrets, tok, secret.Hash(tok))
		var errStrings []string
		for _, bad := range []string{tok[:42], tok + "=", tok[:42] + "\x00", strings.ToUpper(tok)} {
			if err := e.svc.Confirm(ctx, bad, newPassword, reset.Meta{}); err != nil {
				errStrings = append(errStrings, err.Error())
			}
		}
		if err := e.svc.Confirm(ctx, tok, newPassword, reset.Meta{}); err != nil {
			t.Fatal(err)
		}
		e.out.Next(t)
		err := e.svc.Confirm(ctx, tok, newPassword, reset.Meta{})
		errStrings = append(errStrings, err.Error())
		e.clock.Advance(time.Hour)
		tok2 := e.request(t, u)
		secrets = append(secrets, tok2)
		e.clock.Advance(time.Hour)
		errStrings = append(errStrings, e.svc.Confirm(ctx, tok2, newPassword, reset.Meta{}).Error())

		page, qerr := e.audit.Query(ctx, audit.Query{Limit: 1000})
		if qerr != nil {
			t.Fatal(qerr)
		}
		rows, _ := json.Marshal(page.Events)
		if len(page.Events) < 4 {
			t.Fatalf("only %d audit events", len(page.Events))
		}
		places := map[string]string{"audit rows": string(rows), "logs": e.logs.String(), "errors": strings.Join(errStrings, "\n")}
		if !strings.Contains(e.logs.String(), "notify: sending failed") || !strings.Contains(e.logs.String(), "notify: message not sent") {
			t.Errorf("the failed mail is not logged:\n%s", e.logs.String())
		}
		for where, text := range places {
			for _, s := range secrets {
				if strings.Contains(text, s) {
					t.Errorf("a token (or its hash) appears in the %s", where)
				}
			}
			if strings.Contains(text, "token=") {
				t.Errorf("a link appears in the %s", where)
			}
		}
		if !strings.Contains(devLog.String(), "token="+tok) || !strings.Contains(devLog.String(), "token="+tok2) {
			t.Errorf("the development notifier did not print the links")
		}
	})
}

// Cleanup deletes spent and expired tokens in batches and keeps the
// usable ones.
func TestCleanup(t *testing.T) {
	backends(t, func(t *testing.T, b backend) {
		e := newEnv(t, b, func(c *reset.Config) { c.NoRateLimit = true })
		ctx := context.Background()
		var users []*user.User
		for _, n := range []string{"user1", "user2", "user3", "user4", "user5"} {
			users = append(users, e.register(t, n))
		}
		e.request(t, users[0])
		e.request(t, users[0]) // spends the first
		used := e.request(t, users[1])
		if err := e.svc.Confirm(ctx, used, newPassword, reset.Meta{}); err != nil {
			t.Fatal(err)
		}
		e.out.Next(t)
		e.request(t, users[2])
		e.clock.Advance(31 * time.Minute) // all of the above expire
		live1 := e.request(t, users[3])
		live2 := e.request(t, users[4])
		n, err := e.svc.Cleanup(ctx, reset.CleanupConfig{Batch: 2, Pause: -1})
		if err != nil || n != 4 {
			t.Fatalf("Cleanup = %d, %v; want 4", n, err)
		}
		for _, tok := range []string{live1, live2} {
			if _, err := e.resets.ByHash(ctx, secret.Hash(tok)); err != nil {
				t.Errorf("a live token was deleted: %v", err)
			}
		}
		if n, err := reset.Cleanup(ctx, e.resets, reset.CleanupConfig{Now: e.clock.Now}); err != nil || n != 0 {
			t.Errorf("second Cleanup = %d, %v", n, err)
		}
	})
}

// Close honours its deadline with a mailer that hangs, and hands over the
// messages it did not send.
func TestCloseHandsOver(t *testing.T) {
	db := memory.New()
	release := make(chan struct{})
	defer close(release)
	var mu sync.Mutex
	var handed []notify.Message
	started := make(chan struct{}, 10)
	e := newEnv(t, backend{db, db.Resets(), db.Users(), db.Sessions(), db.Audit()}, func(c *reset.Config) {
		c.NoRateLimit = true
		c.Notifier = notify.Func(func(ctx context.Context, m notify.Message) error {
			started <- struct{}{}
			<-release
			return nil
		})
		c.Queue.Undelivered = func(m notify.Message, err error) {
			mu.Lock()
			defer mu.Unlock()
			handed = append(handed, m)
		}
	})
	u := e.register(t, "alice")
	for range 3 {
		if err := e.svc.Request(context.Background(), string(u.Email), reset.Meta{}); err != nil {
			t.Fatal(err)
		}
	}
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.svc.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close = %v", err)
	}
	// The two requests still queued were dropped (and logged); the one
	// whose mail hangs is handed over when its send returns.
	if !strings.Contains(e.logs.String(), "not handled before shutdown") {
		t.Errorf("dropped requests are not logged:\n%s", e.logs.String())
	}
	if err := e.svc.Request(context.Background(), string(u.Email), reset.Meta{}); !errors.Is(err, reset.ErrBusy) {
		t.Errorf("Request after Close = %v, want ErrBusy", err)
	}
}

func TestConfig(t *testing.T) {
	db := memory.New()
	users, err := user.NewService(db.Users(), user.Config{})
	if err != nil {
		t.Fatal(err)
	}
	good := reset.Config{Users: users, Notifier: notify.Log(slog.Default()), URL: "https://app.example.com/reset"}
	for name, c := range map[string]struct {
		mutate func(*reset.Config)
		want   string
	}{
		"no users":      {func(c *reset.Config) { c.Users = nil }, "reset: Config.Users: required"},
		"no notifier":   {func(c *reset.Config) { c.Notifier = nil }, "reset: Config.Notifier: required"},
		"no URL":        {func(c *reset.Config) { c.URL = "" }, "reset: Config.URL: empty"},
		"relative URL":  {func(c *reset.Config) { c.URL = "/reset" }, "reset: Config.URL: "},
		"fragment":      {func(c *reset.Config) { c.URL = "https://x.example/r#t" }, "has a fragment"},
		"short TTL":     {func(c *reset.Config) { c.TTL = time.Second }, "reset: Config.TTL: 1s is outside 1m..24h"},
		"long TTL":      {func(c *reset.Config) { c.TTL = 48 * time.Hour }, "reset: Config.TTL:"},
		"negative pool": {func(c *reset.Config) { c.Queue.Workers = -1 }, "reset: Config.Queue:"},
		"address limit": {func(c *reset.Config) { c.PerAddress = ratelimit.PerHour("forgot", 0) },
			"reset: Config.PerAddress.Limit: 0 is outside 1..1000000000"},
		"client limit name": {func(c *reset.Config) { c.PerClient = ratelimit.Policy{Limit: 5, Window: time.Hour} },
			"reset: Config.PerClient.Name: 0 characters; want 1 to 64"},
	} {
		cfg := good
		c.mutate(&cfg)
		_, err := reset.NewService(db.Resets(), db, cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", name, err, c.want)
		}
	}
	if _, err := reset.NewService(nil, db, good); err == nil {
		t.Error("nil store accepted")
	}
	if _, err := reset.NewService(db.Resets(), nil, good); err == nil {
		t.Error("nil transactor accepted")
	}
	s, err := reset.NewService(db.Resets(), db, good)
	if err != nil {
		t.Fatal(err)
	}
	s.Close(context.Background())
}

// TestRateLimits: exactly 3 requests an hour per address and 20 per
// client IP, an IPv6 client counted by its /64, custom policies, a store
// shared by two services (two app instances), NoRateLimit, and a failing
// store that refuses the request (fails closed).
func TestRateLimits(t *testing.T) {
	mem := func() backend {
		db := memory.New()
		return backend{db, db.Resets(), db.Users(), db.Sessions(), db.Audit()}
	}
	ctx := context.Background()
	n := 0
	fresh := func() string { // an address no request asked for yet
		n++
		return fmt.Sprintf("user%d@example.com", n)
	}

	t.Run("per address", func(t *testing.T) {
		e := newEnv(t, mem(), nil) // 12:00:00, the start of an hour
		for i := range 3 {
			if err := e.svc.Request(ctx, "bob@example.com", reset.Meta{}); err != nil {
				t.Fatalf("request %d: %v", i+1, err)
			}
		}
		e.clock.Advance(10 * time.Minute)
		addr := ratelimit.PerHour("password_forgot_address", 3)
		wantLimited(t, e.svc.Request(ctx, "BOB@Example.com", reset.Meta{}), addr, 50*time.Minute)
		if err := e.svc.Request(ctx, "carol@example.com", reset.Meta{}); err != nil {
			t.Fatalf("another address: %v", err)
		}
		e.clock.Advance(50*time.Minute - time.Second)
		wantLimited(t, e.svc.Request(ctx, "bob@example.com", reset.Meta{}), addr, time.Second)
		e.clock.Advance(time.Second) // 13:00:00, the next window
		if err := e.svc.Request(ctx, "bob@example.com", reset.Meta{}); err != nil {
			t.Fatalf("in the next hour: %v", err)
		}
	})

	t.Run("per client IP", func(t *testing.T) {
		e := newEnv(t, mem(), nil)
		e.clock.Advance(15 * time.Minute)
		client := ratelimit.PerHour("password_forgot_client", 20)
		ip := reset.Meta{ClientIP: mustAddr("198.51.100.20")}
		for i := range 20 {
			if err := e.svc.Request(ctx, fresh(), ip); err != nil {
				t.Fatalf("request %d: %v", i+1, err)
			}
		}
		wantLimited(t, e.svc.Request(ctx, fresh(), ip), client, 45*time.Minute)
		// The same address as an IPv4-mapped IPv6 one is the same client.
		wantLimited(t, e.svc.Request(ctx, fresh(), reset.Meta{ClientIP: mustAddr("::ffff:198.51.100.20")}), client, 45*time.Minute)
		if err := e.svc.Request(ctx, fresh(), reset.Meta{ClientIP: mustAddr("198.51.100.21")}); err != nil {
			t.Fatalf("another client: %v", err)
		}
		// The client IP of the request's audit.RequestInfo counts too.
		rctx := audit.ContextWithRequestInfo(ctx, audit.RequestInfo{ClientIP: mustAddr("198.51.100.20")})
		wantLimited(t, e.svc.Request(rctx, fresh(), reset.Meta{}), client, 45*time.Minute)

		// IPv6: one budget per /64.
		for i := range 20 {
			ip := "2001:db8:1:2::1"
			if i%2 == 1 {
				ip = "2001:db8:1:2:ffff:ffff:ffff:ffff"
			}
			if err := e.svc.Request(ctx, fresh(), reset.Meta{ClientIP: mustAddr(ip)}); err != nil {
				t.Fatalf("IPv6 request %d: %v", i+1, err)
			}
		}
		wantLimited(t, e.svc.Request(ctx, fresh(), reset.Meta{ClientIP: mustAddr("2001:db8:1:2::abcd")}), client, 45*time.Minute)
		if err := e.svc.Request(ctx, fresh(), reset.Meta{ClientIP: mustAddr("2001:db8:1:3::1")}); err != nil {
			t.Fatalf("the next /64: %v", err)
		}
	})

	t.Run("client before address", func(t *testing.T) {
		// A request the client limit refuses is not counted per address.
		e := newEnv(t, mem(), func(c *reset.Config) { c.PerClient = ratelimit.PerMinute("forgot_ip", 1) })
		ip := reset.Meta{ClientIP: mustAddr("192.0.2.5")}
		if err := e.svc.Request(ctx, "dave@example.com", ip); err != nil {
			t.Fatal(err)
		}
		for range 5 {
			wantLimited(t, e.svc.Request(ctx, "dave@example.com", ip), ratelimit.PerMinute("forgot_ip", 1), time.Minute)
		}
		for i := range 2 {
			if err := e.svc.Request(ctx, "dave@example.com", reset.Meta{}); err != nil {
				t.Fatalf("request %d without a client IP: %v", i+2, err)
			}
		}
		wantLimited(t, e.svc.Request(ctx, "dave@example.com", reset.Meta{}), ratelimit.PerHour("password_forgot_address", 3), time.Hour)
	})

	t.Run("shared store", func(t *testing.T) {
		st, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
		if err != nil {
			t.Fatal(err)
		}
		shared := func(c *reset.Config) { c.RateLimits = st }
		one, two := newEnv(t, mem(), shared), newEnv(t, mem(), shared) // two app instances, one clock time
		for _, e := range []*env{one, two, one} {
			if err := e.svc.Request(ctx, "erin@example.com", reset.Meta{}); err != nil {
				t.Fatal(err)
			}
		}
		wantLimited(t, two.svc.Request(ctx, "erin@example.com", reset.Meta{}), ratelimit.PerHour("password_forgot_address", 3), time.Hour)
	})

	t.Run("off", func(t *testing.T) {
		e := newEnv(t, mem(), func(c *reset.Config) { c.NoRateLimit = true })
		ip := reset.Meta{ClientIP: mustAddr("192.0.2.6")}
		for i := range 50 {
			if err := e.svc.Request(ctx, "frank@example.com", ip); err != nil {
				t.Fatalf("request %d: %v", i+1, err)
			}
		}
	})

	t.Run("store failure", func(t *testing.T) {
		down := errs.Kind("ratestore: connection refused", store.ErrUnavailable)
		calls := 0
		e := newEnv(t, mem(), func(c *reset.Config) {
			c.RateLimits = fakeRateStore{take: func(context.Context, ratelimit.Policy, string, int, time.Time) (ratelimit.Result, error) {
				calls++
				return ratelimit.Result{}, down
			}}
		})
		u := e.register(t, "grace")
		err := e.svc.Request(ctx, string(u.Email), reset.Meta{})
		if !errors.Is(err, store.ErrUnavailable) || errors.Is(err, ratelimit.ErrLimited) || calls != 1 {
			t.Fatalf("Request = %v after %d checks; want the store's failure after 1", err, calls)
		}
		if want := "ratelimit: password_forgot_address: ratestore: connection refused"; err.Error() != want {
			t.Errorf("message %q, want %q", err, want)
		}
		e.out.None(t) // nothing was queued
		if got := e.events(t, audit.PasswordResetRequested); len(got) != 0 {
			t.Errorf("%d events recorded for a refused request", len(got))
		}
	})
}

// fakeRateStore is a ratelimit.Store whose Take is take.
type fakeRateStore struct {
	take func(ctx context.Context, p ratelimit.Policy, key string, n int, now time.Time) (ratelimit.Result, error)
}

func (f fakeRateStore) Take(ctx context.Context, p ratelimit.Policy, key string, n int, now time.Time) (ratelimit.Result, error) {
	return f.take(ctx, p, key, n, now)
}

// Confirm survives any token text: a refusal, never a panic or a store
// error.
func FuzzConfirm(f *testing.F) {
	db := memory.New()
	e := newEnv(f, backend{db, db.Resets(), db.Users(), db.Sessions(), db.Audit()}, nil)
	tok, _ := secret.New()
	for _, s := range []string{"", tok, tok + "=", tok[:42], "' OR 1=1 --", "\xff\xfe", strings.Repeat("A", 43)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := e.svc.Confirm(context.Background(), s, newPassword, reset.Meta{})
		if !errors.Is(err, reset.ErrInvalidToken) {
			t.Fatalf("Confirm(%q) = %v", s, err)
		}
	})
}
