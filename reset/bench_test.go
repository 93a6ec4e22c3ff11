package reset_test

import (
	"context"
	"testing"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/reset"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/user"
)

// handled signals each password_reset_requested event: a request was
// handled off the request path, whatever its outcome.
type handled chan struct{}

func (h handled) Record(_ context.Context, e audit.Event) error {
	if e.Type == audit.PasswordResetRequested {
		h <- struct{}{}
	}
	return nil
}

func pgBackend(b *testing.B) backend {
	db, err := postgres.New(pgtest.DB(b), postgres.Config{})
	if err != nil {
		b.Fatal(err)
	}
	return backend{db, db.Resets(), db.Users(), db.Sessions(), db.Audit()}
}

// BenchmarkRequest times Request for known and unknown addresses on
// PostgreSQL, side by side in one loop so that all see the same machine:
// the Request call alone, which is all the requester waits for. The loop
// asks known, unknown, unknown, known, waiting for each to be handled
// off the request path, and reports each call's time by the address and
// by what was handled just before (its handling may still be finishing
// on the other core): "unknown-after-known-ns/op", and so on. ns/op is
// the whole loop, handling included.
func BenchmarkRequest(b *testing.B) {
	done := make(handled, 1)
	e := newEnv(b, pgBackend(b), func(c *reset.Config) {
		c.NoRateLimit, c.Recorder = true, done
	})
	e.register(b, "alice")
	ctx := context.Background()
	steps := []struct{ metric, addr string }{
		{"known-after-known-ns/op", "alice@example.com"},
		{"unknown-after-known-ns/op", "nobody@example.com"},
		{"unknown-after-unknown-ns/op", "ghost@example.com"},
		{"known-after-unknown-ns/op", "alice@example.com"},
	}
	waited := make([]time.Duration, len(steps))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j, st := range steps {
			start := time.Now()
			if err := e.svc.Request(ctx, st.addr, reset.Meta{}); err != nil {
				b.Fatal(err)
			}
			waited[j] += time.Since(start)
			<-done
			if st.addr == "alice@example.com" {
				e.out.Next(b) // handled once the link is sent
			}
		}
	}
	for j, st := range steps {
		b.ReportMetric(float64(waited[j].Nanoseconds())/float64(b.N), st.metric)
	}
}

// BenchmarkHandle times the handling of one request off the request path,
// for a known and an unknown address: the work the requester does not
// wait for.
func BenchmarkHandle(b *testing.B) {
	for _, who := range []string{"known", "unknown"} {
		addr := "alice@example.com"
		if who == "unknown" {
			addr = "nobody@example.com"
		}
		b.Run(who, func(b *testing.B) {
			done := make(handled, 1)
			e := newEnv(b, pgBackend(b), func(c *reset.Config) {
				c.NoRateLimit, c.Recorder = true, done
			})
			e.register(b, "alice")
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := e.svc.Request(ctx, addr, reset.Meta{}); err != nil {
					b.Fatal(err)
				}
				<-done
				if who == "known" {
					e.out.Next(b)
				}
			}
		})
	}
}

// BenchmarkConfirm times Confirm on PostgreSQL: the checks, the hash of
// the new password, and the transaction (spend the token, set the
// password, spend the other tokens, end the sessions, record the
// event). "cheap-hash" uses argon2id at m=64 KiB, t=1 to show the
// flow's own cost; "default-hash" the default argon2id (m=19 MiB, t=2).
func BenchmarkConfirm(b *testing.B) {
	for _, name := range []string{"cheap-hash", "default-hash"} {
		b.Run(name, func(b *testing.B) {
			e := newEnv(b, pgBackend(b), func(c *reset.Config) { c.NoRateLimit = true })
			if name == "default-hash" {
				users, err := user.NewService(e.ustore, user.Config{Now: e.clock.Now, Sessions: e.sessions})
				if err != nil {
					b.Fatal(err)
				}
				e.cfg.Users = users
				if e.svc, err = reset.NewService(e.resets, e.tx, e.cfg); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { e.svc.Close(context.Background()) })
			}
			u := e.register(b, "alice")
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				tok := e.request(b, u)
				b.StartTimer()
				if err := e.svc.Confirm(ctx, tok, newPassword, reset.Meta{}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				e.out.Next(b) // the notice
				b.StartTimer()
			}
		})
	}
}
