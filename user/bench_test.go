package user_test

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"database/sql/driver"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fernet/fernet-go"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"golang.org/x/crypto/bcrypt"

	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/legacy"
	"github.com/cedrina/cedrina/schema"
	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/user"
)

// plainHasher does no hashing work at all, so a benchmark that uses it
// measures everything in a login except password hashing.
type plainHasher struct{}

func (plainHasher) Hash(_ context.Context, pw string) (string, error) { return "plain$" + pw, nil }

func (plainHasher) Verify(_ context.Context, encoded, pw string) (bool, bool, error) {
	return subtle.ConstantTimeCompare([]byte(encoded), []byte("plain$"+pw)) == 1, false, nil
}

// dbCounts counts, for one PostgreSQL pool, the statements sent and the
// network round trips they cost (a write followed by a read on a
// connection).
type dbCounts struct{ stmts, trips atomic.Int64 }

func (c *dbCounts) reset() { c.stmts.Store(0); c.trips.Store(0) }

func (c *dbCounts) report(b *testing.B, ops int) {
	if ops > 0 && c.stmts.Load() > 0 {
		b.ReportMetric(float64(c.stmts.Load())/float64(ops), "stmts/op")
		b.ReportMetric(float64(c.trips.Load())/float64(ops), "roundtrips/op")
	}
}

// counter wraps lib/pq's connector to count statements.
type counter struct {
	driver.Connector
	c *dbCounts
}

func (c counter) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return countingConn{conn, c.c}, nil
}

type countingConn struct {
	driver.Conn
	c *dbCounts
}

func (c countingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	c.c.stmts.Add(1)
	return c.Conn.(driver.QueryerContext).QueryContext(ctx, q, args)
}

func (c countingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	c.c.stmts.Add(1)
	return c.Conn.(driver.ExecerContext).ExecContext(ctx, q, args)
}

func (c countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	c.c.stmts.Add(1)
	return c.Conn.(driver.ConnBeginTx).BeginTx(ctx, opts)
}

// tripDialer gives lib/pq connections that count round trips.
type tripDialer struct{ c *dbCounts }

func (d tripDialer) Dial(network, addr string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, addr)
}

func (d tripDialer) DialTimeout(network, addr string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.DialContext(ctx, network, addr)
}

func (d tripDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := new(net.Dialer).DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &tripConn{Conn: conn, c: d.c}, nil
}

type tripConn struct {
	net.Conn
	c     *dbCounts
	wrote bool
}

func (t *tripConn) Write(p []byte) (int, error) { t.wrote = true; return t.Conn.Write(p) }

func (t *tripConn) Read(p []byte) (int, error) {
	if t.wrote {
		t.wrote = false
		t.c.trips.Add(1)
	}
	return t.Conn.Read(p)
}

// benchStores gives the store variants the benchmarks run on. The
// PostgreSQL pool is configured as postgres.Open configures it
// (binary_parameters=yes) and counts its statements and round trips.
func benchStores(b *testing.B) map[string]func(b *testing.B) (user.Store, *dbCounts) {
	return map[string]func(b *testing.B) (user.Store, *dbCounts){
		"store=memory": func(b *testing.B) (user.Store, *dbCounts) { return memory.New().Users(), new(dbCounts) },
		"store=postgres": func(b *testing.B) (user.Store, *dbCounts) {
			conn, err := pq.NewConnector(pgtest.URL(b) + "&binary_parameters=yes")
			if err != nil {
				b.Fatal(err)
			}
			counts := new(dbCounts)
			conn.Dialer(tripDialer{counts})
			sdb := sql.OpenDB(counter{conn, counts})
			b.Cleanup(func() { sdb.Close() })
			if err := schema.Migrate(context.Background(), sdb); err != nil {
				b.Fatal(err)
			}
			db, err := postgres.New(sqlx.NewDb(sdb, "postgres"), postgres.Config{})
			if err != nil {
				b.Fatal(err)
			}
			return db.Users(), counts
		},
	}
}

func benchHashers(b *testing.B) map[string]user.Hasher {
	def, err := user.NewHasher(user.HashConfig{})
	if err != nil {
		b.Fatal(err)
	}
	return map[string]user.Hasher{"hash=none": plainHasher{}, "hash=argon2id": def}
}

// BenchmarkRegister registers fresh accounts. hash=none is the cost of
// everything but hashing (validation, normalization, policy, store).
func BenchmarkRegister(b *testing.B) {
	for sname, mk := range benchStores(b) {
		for hname, h := range benchHashers(b) {
			b.Run(sname+"/"+hname, func(b *testing.B) {
				st, n := mk(b)
				s, err := user.NewService(st, user.Config{Hasher: h})
				if err != nil {
					b.Fatal(err)
				}
				ctx := context.Background()
				n.reset()
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					i++
					if _, err := s.Register(ctx, user.Registration{
						Username: fmt.Sprintf("user%d", i), Email: fmt.Sprintf("user%d@example.com", i), Password: goodPassword,
					}); err != nil {
						b.Fatal(err)
					}
				}
				n.report(b, i)
			})
		}
	}
}

// BenchmarkLogin logs one account in again and again.
func BenchmarkLogin(b *testing.B) {
	for sname, mk := range benchStores(b) {
		for hname, h := range benchHashers(b) {
			for _, login := range []string{"username", "email"} {
				b.Run(sname+"/"+hname+"/by="+login, func(b *testing.B) {
					st, n := mk(b)
					s, err := user.NewService(st, user.Config{Hasher: h})
					if err != nil {
						b.Fatal(err)
					}
					ctx := context.Background()
					if _, err := s.Register(ctx, user.Registration{Username: "bench", Email: "bench@example.com", Password: goodPassword}); err != nil {
						b.Fatal(err)
					}
					id := map[string]string{"username": "bench", "email": "bench@example.com"}[login]
					n.reset()
					b.ReportAllocs()
					i := 0
					for b.Loop() {
						i++
						if _, err := s.Login(ctx, id, goodPassword); err != nil {
							b.Fatal(err)
						}
					}
					n.report(b, i)
				})
			}
		}
	}
}

// BenchmarkLoginThroughput logs in from many goroutines at once with the
// default hasher on the memory store: the logins per second the machine
// sustains, which the hashing bounds (about cores / one argon2id run).
func BenchmarkLoginThroughput(b *testing.B) {
	s, err := user.NewService(memory.New().Users(), user.Config{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Register(ctx, user.Registration{Username: "bench", Email: "bench@example.com", Password: goodPassword}); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(8)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Login(ctx, "bench", goodPassword); err != nil {
				b.Error(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "logins/s")
}

// BenchmarkLoginFlood starts 500 logins at once and reports the peak heap
// while they run. The hasher's concurrency limit, not the number of
// callers, bounds it: limit × 19 MiB of argon2id memory plus what the
// garbage collector lets accumulate.
func BenchmarkLoginFlood(b *testing.B) {
	for _, limit := range []int{0, 8, 32} {
		name := fmt.Sprintf("limit=%d", limit)
		if limit == 0 {
			name = fmt.Sprintf("limit=GOMAXPROCS(%d)", runtime.GOMAXPROCS(0))
		}
		b.Run(name, func(b *testing.B) {
			h, err := user.NewHasher(user.HashConfig{MaxConcurrent: limit})
			if err != nil {
				b.Fatal(err)
			}
			s, err := user.NewService(memory.New().Users(), user.Config{Hasher: h})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			if _, err := s.Register(ctx, user.Registration{Username: "bench", Email: "bench@example.com", Password: goodPassword}); err != nil {
				b.Fatal(err)
			}
			var peak uint64
			for b.Loop() {
				runtime.GC()
				stop := make(chan struct{})
				sampled := make(chan uint64)
				go samplePeakHeap(stop, sampled)
				var wg sync.WaitGroup
				for range 500 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if _, err := s.Login(ctx, "bench", goodPassword); err != nil {
							b.Error(err)
						}
					}()
				}
				wg.Wait()
				close(stop)
				peak = max(peak, <-sampled)
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		})
	}
}

// samplePeakHeap reads the heap size every millisecond until stop closes,
// then sends the largest value seen.
func samplePeakHeap(stop <-chan struct{}, out chan<- uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for {
		metrics.Read(sample)
		peak = max(peak, sample[0].Value.Uint64())
		select {
		case <-stop:
			out <- peak
			return
		case <-t.C:
		}
	}
}

// BenchmarkLoginWrong refuses a wrong password for one account
// again and again (the lockout is off, so every attempt is admitted and
// verified): with hash=none, the cost of the refusal path but hashing.
// Refusals are padded to the slowest verification measured, which with
// hash=none is next to nothing.
func BenchmarkLoginWrong(b *testing.B) {
	for sname, mk := range benchStores(b) {
		b.Run(sname+"/hash=none", func(b *testing.B) {
			st, n := mk(b)
			s, err := user.NewService(st, user.Config{Hasher: plainHasher{}, Lockout: user.LockoutPolicy{Threshold: -1}})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			if _, err := s.Register(ctx, user.Registration{Username: "bench", Email: "bench@example.com", Password: goodPassword}); err != nil {
				b.Fatal(err)
			}
			n.reset()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if _, err := s.Login(ctx, "bench", "wrong password"); !errors.Is(err, user.ErrInvalidCredentials) {
					b.Fatal(err)
				}
			}
			n.report(b, i)
		})
	}
}

// BenchmarkRefusalTiming measures how long a refused login takes, by
// reason, with the default hasher (argon2id) and the legacy rule on
// (bcrypt cost 12, as the original system wrote): an unknown user, a
// wrong password on an argon2id account, a wrong password on a legacy
// bcrypt account, a locked account. The goal is that they are within 2x
// of each other, so timing tells none of them apart.
func BenchmarkRefusalTiming(b *testing.B) {
	st := memory.New().Users()
	s, err := user.NewService(st, user.Config{Legacy: user.LegacyConfig{Enabled: true}, Lockout: user.LockoutPolicy{Threshold: -1}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Register(ctx, user.Registration{Username: "argon", Email: "argon@example.com", Password: goodPassword}); err != nil {
		b.Fatal(err)
	}
	legacy, err := bcrypt.GenerateFromPassword([]byte(goodPassword), 12)
	if err != nil {
		b.Fatal(err)
	}
	far := time.Now().Add(24 * time.Hour)
	for _, u := range []*user.User{
		{Username: "legacy", Email: "legacy@example.com", HashedPassword: "$2b$" + string(legacy[4:]), IsActive: true, Role: user.RoleUser, Tier: user.TierFree},
		{Username: "locked", Email: "locked@example.com", HashedPassword: "$2b$" + string(legacy[4:]), IsActive: true, Role: user.RoleUser, Tier: user.TierFree, LockedUntil: &far},
	} {
		if err := st.Create(ctx, u); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct{ name, login string }{
		{"unknown", "nobody"}, {"argon2id", "argon"}, {"bcrypt12-legacy", "legacy"}, {"locked", "locked"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Login(ctx, c.login, "not the password"); !errors.Is(err, user.ErrInvalidCredentials) {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(user.RefusalFloor(s).Microseconds())/1000, "floor-ms")
		})
	}
}

// BenchmarkLegacyEncryptedLogin is the first sign-in of an account the
// original system wrote, at its bcrypt cost 12 and with its hash
// encrypted ("enc_v1:"): the Fernet token opened, the bcrypt hash
// verified, the password rehashed with the default hasher and stored
// (conditional on the old value). The account's original hash is put
// back, outside the timer, before each sign-in.
func BenchmarkLegacyEncryptedLogin(b *testing.B) {
	ctx := context.Background()
	keyText := "S2VlcC10aGlzLWtleS1vdXQtb2YtcHJvZHVjdGlvbiE="
	fk, err := fernet.DecodeKey(keyText)
	if err != nil {
		b.Fatal(err)
	}
	const pw = "pässwörd-Ünïcödé"
	h, err := bcrypt.GenerateFromPassword([]byte(pw), 12)
	if err != nil {
		b.Fatal(err)
	}
	tok, err := fernet.EncryptAndSign([]byte("$2b$"+string(h[4:])), fk)
	if err != nil {
		b.Fatal(err)
	}
	original := legacy.HashPrefix + base64.StdEncoding.EncodeToString(tok)
	keys, err := legacy.ParseKeys(keyText)
	if err != nil {
		b.Fatal(err)
	}
	for sname, mk := range benchStores(b) {
		b.Run(sname, func(b *testing.B) {
			st, _ := mk(b)
			s, err := user.NewService(st, user.Config{Legacy: user.LegacyConfig{Enabled: true, Keys: keys}})
			if err != nil {
				b.Fatal(err)
			}
			u, err := s.Register(ctx, user.Registration{Username: "bruno", Email: "bruno@example.com", Password: goodPassword})
			if err != nil {
				b.Fatal(err)
			}
			current := u.HashedPassword
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				if ok, err := st.ReplacePasswordHash(ctx, u.ID, current, original); err != nil || !ok {
					b.Fatalf("restoring the original hash: %v, %v", ok, err)
				}
				b.StartTimer()
				res, err := s.Login(ctx, "bruno", pw)
				if err != nil {
					b.Fatal(err)
				}
				current = res.User.HashedPassword
				if user.PasswordFormat(current) != user.FormatArgon2id {
					b.Fatalf("not rehashed: %s", user.PasswordFormat(current))
				}
			}
		})
	}
}
