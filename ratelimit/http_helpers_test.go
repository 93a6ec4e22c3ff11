package ratelimit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/ratelimit"
)

// clockStart is where the HTTP tests' clocks start: 10 seconds into a minute, so
// a one-minute fixed window has 50 seconds left.
var clockStart = time.Date(2025, 3, 1, 12, 0, 10, 0, time.UTC)

// memLimiter returns a limiter of p on a fresh memory store, reading now.
func memLimiter(tb testing.TB, p ratelimit.Policy, now func() time.Time) *ratelimit.Limiter {
	tb.Helper()
	st, err := ratelimit.NewMemoryStore(ratelimit.MemoryConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	l, err := ratelimit.New(st, p, ratelimit.Config{Now: now})
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

// newMiddleware returns NewMiddleware(cfg) or fails the test.
func newMiddleware(tb testing.TB, cfg ratelimit.MiddlewareConfig) *ratelimit.Middleware {
	tb.Helper()
	m, err := ratelimit.NewMiddleware(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// stubStore is a Store whose Take is a function field.
type stubStore struct {
	take func(ctx context.Context, p ratelimit.Policy, key string, n int, now time.Time) (ratelimit.Result, error)
}

func (f stubStore) Take(ctx context.Context, p ratelimit.Policy, key string, n int, now time.Time) (ratelimit.Result, error) {
	return f.take(ctx, p, key, n, now)
}

// captureRecorder is an audit.Recorder that keeps the events it is given
// and returns err.
type captureRecorder struct {
	mu     sync.Mutex
	events []audit.Event
	err    error
}

func (c *captureRecorder) Record(_ context.Context, e audit.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, e)
	return c.err
}

func (c *captureRecorder) Events() []audit.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]audit.Event(nil), c.events...)
}

// counter is a handler that counts the requests it serves.
type counter struct {
	mu sync.Mutex
	n  int
}

func (c *counter) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (c *counter) Count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// request returns a GET request from the TCP peer remote.
func request(remote string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/login", nil)
	r.RemoteAddr = remote
	return r
}

// serve sends r through h and returns the response.
func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// together runs f(0) to f(n-1) on n goroutines released at once, and
// waits for them.
func together(n int, f func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			f(i)
		}()
	}
	close(start)
	wg.Wait()
}

// checkProblem checks that w is a problem+json response of status with
// Retry-After retry and Cache-Control: no-store.
func checkProblem(tb testing.TB, w *httptest.ResponseRecorder, status int, retry string) {
	tb.Helper()
	if w.Code != status {
		tb.Fatalf("status %d, want %d; body %q", w.Code, status, w.Body)
	}
	h := w.Header()
	for k, want := range map[string]string{
		"Content-Type":  "application/problem+json",
		"Cache-Control": "no-store",
		"Retry-After":   retry,
	} {
		if got := h.Values(k); len(got) != 1 || got[0] != want {
			tb.Errorf("%s: %q, want [%q]", k, got, want)
		}
	}
	dec := json.NewDecoder(strings.NewReader(w.Body.String()))
	dec.DisallowUnknownFields()
	var p ratelimit.Problem
	if err := dec.Decode(&p); err != nil {
		tb.Fatalf("body %q: %v", w.Body, err)
	}
	if p.Type != "about:blank" || p.Status != status || p.Title != http.StatusText(status) || p.Detail == "" {
		tb.Errorf("problem %+v, want about:blank, %q, %d and a detail", p, http.StatusText(status), status)
	}
}

// sfItem is a member of a structured-field List (RFC 9651) of the shape
// the RateLimit headers use: a String and parameters with Integer values.
type sfItem struct {
	Name   string
	Params []sfParam
}

type sfParam struct {
	Key   string
	Value int64
}

func (it sfItem) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%q", it.Name)
	for _, p := range it.Params {
		fmt.Fprintf(&b, ";%s=%d", p.Key, p.Value)
	}
	return b.String()
}

// parseSFList parses the field lines of one header as a structured-field
// List whose members are Strings with Integer parameters, following the
// parsing algorithm of RFC 9651 section 4.2 and refusing anything else
// (other bare item types, Boolean parameters, duplicate parameter keys,
// Integers of more than 15 digits). The lines are combined with commas
// as section 4.2 says.
func parseSFList(lines []string) ([]sfItem, error) {
	s := strings.Join(lines, ",")
	p := &sfParser{s: s}
	p.skip(" ")
	var items []sfItem
	if p.done() {
		return nil, nil // an empty List
	}
	for {
		it, err := p.item()
		if err != nil {
			return nil, fmt.Errorf("%q at %d: %w", s, p.i, err)
		}
		items = append(items, it)
		p.skip(" \t")
		if p.done() {
			return items, nil
		}
		if p.s[p.i] != ',' {
			return nil, fmt.Errorf("%q at %d: want ','", s, p.i)
		}
		p.i++
		p.skip(" \t")
		if p.done() {
			return nil, fmt.Errorf("%q: trailing comma", s)
		}
	}
}

type sfParser struct {
	s string
	i int
}

func (p *sfParser) done() bool { return p.i == len(p.s) }

func (p *sfParser) skip(set string) {
	for !p.done() && strings.IndexByte(set, p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *sfParser) item() (sfItem, error) {
	var it sfItem
	name, err := p.str()
	if err != nil {
		return it, err
	}
	it.Name = name
	seen := map[string]bool{}
	for !p.done() && p.s[p.i] == ';' {
		p.i++
		p.skip(" ")
		k, err := p.key()
		if err != nil {
			return it, err
		}
		if seen[k] {
			return it, fmt.Errorf("duplicate parameter %q", k)
		}
		seen[k] = true
		if p.done() || p.s[p.i] != '=' {
			return it, fmt.Errorf("parameter %q is not an Integer", k)
		}
		p.i++
		v, err := p.integer()
		if err != nil {
			return it, err
		}
		it.Params = append(it.Params, sfParam{k, v})
	}
	return it, nil
}

func (p *sfParser) str() (string, error) {
	if p.done() || p.s[p.i] != '"' {
		return "", errors.New("want a String")
	}
	p.i++
	var b strings.Builder
	for !p.done() {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '\\':
			if p.done() || (p.s[p.i] != '"' && p.s[p.i] != '\\') {
				return "", errors.New("bad escape")
			}
			b.WriteByte(p.s[p.i])
			p.i++
		case c == '"':
			return b.String(), nil
		case c < 0x20 || c > 0x7e:
			return "", fmt.Errorf("byte %#x in a String", c)
		default:
			b.WriteByte(c)
		}
	}
	return "", errors.New("unterminated String")
}

func (p *sfParser) key() (string, error) {
	start := p.i
	if p.done() || !(p.s[p.i] >= 'a' && p.s[p.i] <= 'z' || p.s[p.i] == '*') {
		return "", errors.New("want a key")
	}
	for !p.done() {
		c := p.s[p.i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*') {
			break
		}
		p.i++
	}
	return p.s[start:p.i], nil
}

func (p *sfParser) integer() (int64, error) {
	neg := false
	if !p.done() && p.s[p.i] == '-' {
		neg = true
		p.i++
	}
	start := p.i
	var v int64
	for !p.done() && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		v = v*10 + int64(p.s[p.i]-'0')
		p.i++
		if p.i-start > 15 {
			return 0, errors.New("Integer of more than 15 digits")
		}
	}
	if p.i == start {
		return 0, errors.New("want an Integer")
	}
	if !p.done() && p.s[p.i] == '.' {
		return 0, errors.New("a Decimal, want an Integer")
	}
	if neg {
		v = -v
	}
	return v, nil
}

// headerItems parses header k of h and fails the test unless it is a
// List of the items want, written as "name";k=v;....
func headerItems(tb testing.TB, h http.Header, k string, want ...string) {
	tb.Helper()
	items, err := parseSFList(h.Values(k))
	if err != nil {
		tb.Fatalf("%s: %v", k, err)
	}
	got := make([]string, len(items))
	for i, it := range items {
		got[i] = it.String()
	}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		tb.Fatalf("%s: %q, want %q", k, got, want)
	}
}
