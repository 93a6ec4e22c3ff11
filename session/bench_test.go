package session_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/schema"
	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/store/storetest"
	"github.com/cedrina/cedrina/user"
)

var benchCfg = struct {
	Issuer   string
	Audience []string
}{"https://auth.example", []string{"api"}}

func benchKeys(b *testing.B, alg session.SigningAlgorithm) *session.KeySet {
	b.Helper()
	k, err := session.GenerateKey(alg, "")
	if err != nil {
		b.Fatal(err)
	}
	ks, err := session.NewKeySet(k)
	if err != nil {
		b.Fatal(err)
	}
	return ks
}

type benchStore struct {
	users    user.Store
	sessions session.Store
	db       *postgres.DB // nil for memory
}

func benchStores(b *testing.B) map[string]func(b *testing.B) benchStore {
	return map[string]func(b *testing.B) benchStore{
		"store=memory": func(b *testing.B) benchStore {
			db := memory.New()
			return benchStore{users: db.Users(), sessions: db.Sessions()}
		},
		"store=postgres": func(b *testing.B) benchStore {
			db, err := postgres.Open(context.Background(), pgtest.URL(b), postgres.Config{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			if err := schema.Migrate(context.Background(), db.SQLX().DB); err != nil {
				b.Fatal(err)
			}
			return benchStore{users: db.Users(), sessions: db.Sessions(), db: db}
		},
	}
}

// benchSession starts one session and returns its service and tokens.
func benchSession(b *testing.B, st benchStore, ks *session.KeySet, cacheSize int) (*session.Service, *session.Tokens) {
	b.Helper()
	svc, err := session.NewService(st.sessions, session.Config{Keys: ks, Issuer: benchCfg.Issuer, Audience: benchCfg.Audience, CacheSize: cacheSize})
	if err != nil {
		b.Fatal(err)
	}
	u := storetest.NewUser(fmt.Sprint("bench", time.Now().UnixNano()))
	u.PasswordChangedAt = time.Now().Add(-time.Hour)
	if err := st.users.Create(context.Background(), u); err != nil {
		b.Fatal(err)
	}
	tok, err := svc.Start(context.Background(), u, session.Client{})
	if err != nil {
		b.Fatal(err)
	}
	return svc, tok
}

// BenchmarkAuthenticate: the whole check of an access token. cache=off
// verifies the signature every time (the first use of a token);
// cache=on recognises a token seen before and still checks expiry and the
// session every time.
func BenchmarkAuthenticate(b *testing.B) {
	for sname, mk := range benchStores(b) {
		for _, alg := range []session.SigningAlgorithm{session.EdDSA, session.HS256} {
			for _, cache := range []int{-1, 0} {
				name := fmt.Sprintf("%s/alg=%s/cache=%s", sname, alg, map[int]string{-1: "off", 0: "on"}[cache])
				b.Run(name, func(b *testing.B) {
					svc, tok := benchSession(b, mk(b), benchKeys(b, alg), cache)
					ctx := context.Background()
					b.ReportAllocs()
					for b.Loop() {
						if _, err := svc.Authenticate(ctx, tok.AccessToken); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		}
	}
}

// BenchmarkRefresh rotates the refresh token of one session again and
// again.
func BenchmarkRefresh(b *testing.B) {
	for sname, mk := range benchStores(b) {
		b.Run(sname, func(b *testing.B) {
			svc, tok := benchSession(b, mk(b), benchKeys(b, session.EdDSA), 0)
			ctx := context.Background()
			refresh := tok.RefreshToken
			b.ReportAllocs()
			for b.Loop() {
				next, err := svc.Refresh(ctx, refresh)
				if err != nil {
					b.Fatal(err)
				}
				refresh = next.RefreshToken
			}
		})
	}
}

// BenchmarkCleanup1M deletes 1,000,000 expired sessions while 4
// goroutines keep authenticating a live session, and compares the p99 of
// those Authenticate calls with the p99 on the idle database.
func BenchmarkCleanup1M(b *testing.B) {
	st := benchStores(b)["store=postgres"](b)
	svc, tok := benchSession(b, st, benchKeys(b, session.HS256), -1)
	ctx := context.Background()
	x := st.db.SQLX()
	var uid int64
	if err := x.GetContext(ctx, &uid, `SELECT min(id) FROM users`); err != nil {
		b.Fatal(err)
	}
	if _, err := x.ExecContext(ctx, `
INSERT INTO sessions (user_id, session_token, refresh_token, expires_at, last_activity_at, created_at)
SELECT $1, md5('s' || g), md5('r' || g), now() - interval '1 day', now() - interval '2 days', now() - interval '3 days'
FROM generate_series(1, 1000000) AS g`, uid); err != nil {
		b.Fatal(err)
	}
	if _, err := x.ExecContext(ctx, `ANALYZE sessions`); err != nil {
		b.Fatal(err)
	}
	p99 := func(run func(stop <-chan struct{})) (time.Duration, int) {
		var mu sync.Mutex
		var lat []time.Duration
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
					}
					t0 := time.Now()
					if _, err := svc.Authenticate(ctx, tok.AccessToken); err != nil {
						b.Error(err)
						return
					}
					d := time.Since(t0)
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				}
			})
		}
		run(stop)
		close(stop)
		wg.Wait()
		slices.Sort(lat)
		return lat[len(lat)*99/100], len(lat)
	}
	idle, nIdle := p99(func(stop <-chan struct{}) { time.Sleep(3 * time.Second) })
	var deleted atomic.Int64
	var took time.Duration
	busy, nBusy := p99(func(stop <-chan struct{}) {
		t0 := time.Now()
		n, err := svc.Cleanup(ctx, 1000)
		if err != nil {
			b.Error(err)
		}
		took = time.Since(t0)
		deleted.Store(n)
	})
	if deleted.Load() != 1_000_000 {
		b.Fatalf("Cleanup deleted %d, want 1,000,000", deleted.Load())
	}
	var left int
	if err := x.GetContext(ctx, &left, `SELECT count(*) FROM sessions`); err != nil || left != 1 {
		b.Fatalf("%d sessions left (%v), want the live one", left, err)
	}
	b.ReportMetric(float64(idle.Microseconds()), "p99-idle-µs")
	b.ReportMetric(float64(busy.Microseconds()), "p99-during-cleanup-µs")
	b.ReportMetric(took.Seconds(), "cleanup-s")
	b.Logf("Authenticate p99 idle %v (%d calls), during cleanup %v (%d calls); cleanup of 1,000,000 took %v", idle, nIdle, busy, nBusy, took)
}
