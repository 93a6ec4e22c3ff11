package redisstore_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/cedrina/cedrina/store/redisstore"
)

func TestMain(m *testing.M) {
	// go-redis logs failed dials; the tests of an unreachable server
	// make them on purpose.
	redis.SetLogger(quiet{})
	os.Exit(m.Run())
}

type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// envURL names the environment variable that holds the URL of the Redis
// server the tests use, e.g. redis://127.0.0.1:6379/0.
const envURL = "CEDRINA_TEST_REDIS_URL"

// redisOptions returns the options of the server of CEDRINA_TEST_REDIS_URL.
// When the variable is unset it skips the test with a message saying how
// to enable it, except when the CI environment variable is non-empty: in
// CI the Redis tests must run, so it fails the test instead.
func redisOptions(t testing.TB) *redis.Options {
	t.Helper()
	u := os.Getenv(envURL)
	if u == "" {
		msg := "redisstore: Redis tests need " + envURL + ", e.g. " + envURL + "=redis://127.0.0.1:6379/0 go test ./store/redisstore"
		if os.Getenv("CI") != "" {
			t.Fatal(msg + " (CI is set, so Redis tests must not skip)")
		}
		t.Skip(msg)
	}
	opt, err := redis.ParseURL(u)
	if err != nil {
		// The error can quote the URL; the URL can hold a password.
		t.Fatalf("redisstore: %s is not a redis:// URL (%T)", envURL, err)
	}
	return opt
}

// newClient opens a client on the server of CEDRINA_TEST_REDIS_URL (see
// redisOptions), checks that the server answers, and closes the client in
// t.Cleanup. An unreachable server fails the test.
func newClient(t testing.TB) *redis.Client {
	t.Helper()
	opt := redisOptions(t)
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redisstore: the server of %s does not answer: %v", envURL, err)
	}
	return c
}

// newPrefix returns a fresh key prefix and deletes every key under it
// in t.Cleanup, before c is closed.
func newPrefix(t testing.TB, c redis.UniversalClient) string {
	t.Helper()
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	prefix := "cedrina-test:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		keys, err := scanKeys(ctx, c, prefix)
		if err == nil && len(keys) > 0 {
			err = c.Del(ctx, keys...).Err()
		}
		if err != nil {
			t.Errorf("redisstore: delete the keys under %s: %v", prefix, err)
		}
	})
	return prefix
}

// scanKeys returns every key under prefix.
func scanKeys(ctx context.Context, c redis.UniversalClient, prefix string) ([]string, error) {
	var keys []string
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	return keys, iter.Err()
}

// newStore returns a Store on c with cfg and, unless cfg has one, a fresh
// prefix whose keys are deleted in t.Cleanup.
func newStore(t testing.TB, c redis.UniversalClient, cfg redisstore.Config) *redisstore.Store {
	t.Helper()
	if cfg.Prefix == "" {
		cfg.Prefix = newPrefix(t, c)
	}
	s, err := redisstore.New(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fakeServer is a TCP server that speaks just enough RESP for go-redis to
// connect (HELLO is refused, so the client falls back to RESP2; anything
// else but a script gets OK) and answers every EVALSHA and EVAL with
// reply, a raw RESP reply such as "-LOADING Redis is loading\r\n". An
// empty reply closes the connection instead. With stall set it never
// answers a script, and sends on got when one arrives.
type fakeServer struct {
	ln    net.Listener
	reply string
	stall bool
	got   chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

func newFakeServer(t *testing.T, reply string, stall bool) *fakeServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{ln: ln, reply: reply, stall: stall, got: make(chan struct{}, 16)}
	f.wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			f.conns = append(f.conns, conn)
			f.mu.Unlock()
			f.wg.Go(func() { f.serve(conn) })
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		f.mu.Lock()
		for _, c := range f.conns {
			_ = c.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
	})
	return f
}

func (f *fakeServer) addr() string { return f.ln.Addr().String() }

func (f *fakeServer) serve(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	for {
		cmd, err := readCommand(r)
		if err != nil {
			return
		}
		out := "+OK\r\n"
		switch strings.ToUpper(cmd) {
		case "HELLO":
			out = "-ERR unknown command 'HELLO'\r\n"
		case "EVALSHA", "EVAL":
			if f.stall {
				select {
				case f.got <- struct{}{}:
				default:
				}
				continue
			}
			if f.reply == "" {
				return
			}
			out = f.reply
		}
		if _, err := io.WriteString(conn, out); err != nil {
			return
		}
	}
}

// readCommand reads one RESP array of bulk strings and returns its first
// element, the command's name.
func readCommand(r *bufio.Reader) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(line, "*") {
		return "", fmt.Errorf("not an array: %q", line)
	}
	n, err := strconv.Atoi(strings.TrimSpace(line[1:]))
	if err != nil {
		return "", err
	}
	var name string
	for i := range n {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		size, err := strconv.Atoi(strings.TrimSpace(line[1:]))
		if err != nil {
			return "", err
		}
		buf := make([]byte, size+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		if i == 0 {
			name = string(buf[:size])
		}
	}
	return name, nil
}
