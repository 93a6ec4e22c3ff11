package redisstore_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// fakeTB records how a helper ends a test without ending the real one.
type fakeTB struct {
	testing.TB
	skipped, failed string
	cleanups        []func()
}

func (f *fakeTB) Helper()           {}
func (f *fakeTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) Skip(args ...any)  { f.skipped = fmt.Sprint(args...); runtime.Goexit() }
func (f *fakeTB) Fatal(args ...any) { f.failed = fmt.Sprint(args...); runtime.Goexit() }
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// callNewClient runs newClient on a fake TB in its own goroutine, as the
// testing package runs a test, since Skip and Fatal end the goroutine.
func callNewClient() *fakeTB {
	f := &fakeTB{}
	var wg sync.WaitGroup
	wg.Go(func() { newClient(f) })
	wg.Wait()
	for _, fn := range f.cleanups {
		fn()
	}
	return f
}

// TestGate: without CEDRINA_TEST_REDIS_URL the Redis tests skip, saying
// how to enable them, except in CI, where they fail; a server that does
// not answer fails them, in CI or not.
func TestGate(t *testing.T) {
	t.Setenv(envURL, "")
	t.Setenv("CI", "")
	f := callNewClient()
	if f.failed != "" || !strings.Contains(f.skipped, envURL+"=redis://") {
		t.Errorf("outside CI: skipped %q, failed %q; want a skip saying how to set %s", f.skipped, f.failed, envURL)
	}

	t.Setenv("CI", "true")
	f = callNewClient()
	if f.skipped != "" || !strings.Contains(f.failed, envURL) || !strings.Contains(f.failed, "CI") {
		t.Errorf("in CI: skipped %q, failed %q; want the test to fail", f.skipped, f.failed)
	}

	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		t.Setenv(envURL, "redis://127.0.0.1:1/0?max_retries=-1")
		f = callNewClient()
		if f.skipped != "" || !strings.Contains(f.failed, "does not answer") {
			t.Errorf("CI=%q, no server: skipped %q, failed %q; want the test to fail", ci, f.skipped, f.failed)
		}
	}

	t.Setenv(envURL, "http://user:secret@127.0.0.1:6379/0")
	f = callNewClient()
	if !strings.Contains(f.failed, "not a redis:// URL") || strings.Contains(f.failed, "secret") {
		t.Errorf("a URL of another scheme: failed %q; want a failure that does not show the password", f.failed)
	}
}
