package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The README's code is this repository's code: each block after a marker
// comment is checked against the file it names, and the curl walkthroughs
// are run against the example server.

const readmePath = "../../README.md"

// readmeBlock returns the fenced block that follows the line starting
// with marker.
func readmeBlock(t *testing.T, marker string) string {
	t.Helper()
	b, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), marker)
	if !ok {
		t.Fatalf("README has no %q", marker)
	}
	_, rest, _ = strings.Cut(rest, "```")
	_, rest, _ = strings.Cut(rest, "\n") // the fence's language
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("README block after %q is not closed", marker)
	}
	return block
}

// TestReadmeHostProgram: the host program in the README is this
// directory's main.go, whole, and at most 30 lines.
func TestReadmeHostProgram(t *testing.T) {
	src, err := os.ReadFile("main.go")
	if err != nil {
		t.Fatal(err)
	}
	_, prog, _ := strings.Cut(string(src), "package main")
	prog = "package main" + prog
	if got := readmeBlock(t, "<!-- file: examples/host/main.go -->"); got != prog {
		t.Errorf("README's host program differs from examples/host/main.go:\n%s", got)
	}
	if n := strings.Count(prog, "\n"); n > 30 {
		t.Errorf("the host program has %d lines, more than 30", n)
	}
}

// TestReadmeExamples: the README's Go snippets are the bodies of example
// functions, which go test compiles (and runs, with their output checked,
// where they have one).
func TestReadmeExamples(t *testing.T) {
	for _, c := range []struct{ file, fn string }{
		{"authhttp/example_test.go", "Example_services"},
		{"authhttp/example_test.go", "Example_admin"},
		{"authhttp/example_test.go", "Example_policyWatcher"},
		{"store/postgres/example_test.go", "Example"},
		{"ratelimit/readme_example_test.go", "Example_limiter"},
		{"ratelimit/readme_example_test.go", "Example_middleware"},
	} {
		src, err := os.ReadFile("../../" + c.file)
		if err != nil {
			t.Fatal(err)
		}
		_, body, ok := strings.Cut(string(src), "func "+c.fn+"() {\n")
		if !ok {
			t.Fatalf("%s has no %s", c.file, c.fn)
		}
		body, _, _ = strings.Cut(body, "\n}\n")
		body, _, _ = strings.Cut(body+"\n", "\t// Output:")
		var want strings.Builder
		for line := range strings.Lines(body) {
			want.WriteString(strings.TrimPrefix(line, "\t"))
		}
		marker := "<!-- example: " + c.file + " " + c.fn + " -->"
		if got := readmeBlock(t, marker); got != want.String() {
			t.Errorf("README's block differs from %s in %s:\n--- README\n%s\n--- example\n%s", c.fn, c.file, got, want.String())
		}
	}
}

// TestReadmeWalkthrough runs the README's curl walkthrough, verbatim, in
// bash against the example server, as a reader would (it needs bash,
// curl and jq, and says so): the server's log goes to server.log in the
// directory the walkthrough runs in, as the README starts it. The second
// part takes the reset link from that log; it runs once the server has
// logged the link, as a reader runs it after reading the paragraph
// between the two. The third, in the rate limiting section, runs last,
// against the same server.
func TestReadmeWalkthrough(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("the README walkthrough needs %s", tool)
			}
			t.Skipf("the README walkthrough needs %s", tool)
		}
	}
	script := readmeBlock(t, "<!-- walkthrough:")
	continued := readmeBlock(t, "<!-- walkthrough, continued:")
	limits := readmeBlock(t, "<!-- walkthrough, rate limits:")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	dir := t.TempDir()
	bin := filepath.Join(dir, "httpserver")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "../httpserver")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	logFile, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	srv := exec.CommandContext(ctx, bin, "--addr", "127.0.0.1:0")
	srv.Env = append(os.Environ(), "DATABASE_URL=") // the in-memory store, as in the README
	// The log goes to server.log and, once written there, to the scanner
	// below.
	logs, logWriter := io.Pipe()
	srv.Stderr = io.MultiWriter(logFile, logWriter)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Process.Signal(os.Interrupt)
		srv.Wait()
		logWriter.Close()
		logFile.Close()
	})
	// The server logs JSON lines; "listening" carries the address, and the
	// development notifier's line carries the reset link.
	listening := make(chan string, 1)
	resetLink := make(chan struct{})
	go func() {
		lines := bufio.NewScanner(logs)
		linked := false
		for lines.Scan() {
			var rec struct{ Msg, Addr, Kind string }
			if json.Unmarshal(lines.Bytes(), &rec) != nil {
				continue
			}
			switch {
			case rec.Msg == "listening":
				listening <- rec.Addr
			case rec.Kind == "password_reset" && !linked:
				linked = true
				close(resetLink)
			}
		}
	}()
	var addr string
	select {
	case addr = <-listening:
	case <-ctx.Done():
		t.Fatal("the server did not say where it listens")
	}

	walk := func(script string) string {
		t.Helper()
		run := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", script)
		run.Dir = dir
		run.Env = append(os.Environ(), "ADDR="+addr)
		out, err := run.CombinedOutput()
		if err != nil {
			t.Fatalf("walkthrough: %v\n%s", err, out)
		}
		return string(out)
	}
	got := walk(script)
	for _, want := range []string{
		`"username":"alice"`,              // register, then /me
		`"current":true`,                  // /me/sessions
		"204\n",                           // logout
		`"status":401`,                    // /me after logout
		`"email":"alice@example.com"`,     // the account view
		`"user_agent":"curl/`,             // the session's client
		`"client_ip":"127.0.0.1"`,         // and its address
		`"type":"about:blank"`,            // a problem body
		`"title":"Unauthorized"`,          // for /me after logout
		`"detail":"valid credentials are`, // without the reason
	} {
		if !strings.Contains(got, want) {
			t.Errorf("walkthrough output lacks %q:\n%s", want, got)
		}
	}
	if strings.Count(got, `"username":"alice"`) != 2 {
		t.Errorf("walkthrough: register and /me should each show alice:\n%s", got)
	}
	if !strings.HasSuffix(got, "\n202\n") {
		t.Errorf("walkthrough: forgot password should answer 202 last:\n%s", got)
	}

	select {
	case <-resetLink:
	case <-ctx.Done():
		t.Fatal("the server did not log the reset link")
	}
	if got := walk(continued); got != "204\nBearer\n" {
		t.Errorf("walkthrough, continued: %q, want the reset's 204 and a login", got)
	}

	// The login limit's 429: its headers, the seconds left in the minute
	// in RateLimit's t and in Retry-After alike.
	got = walk(limits)
	m := limited.FindStringSubmatch(got)
	if m == nil || m[1] != m[2] {
		t.Fatalf("walkthrough, rate limits: %q, want the 429's headers", got)
	}
	if n, _ := strconv.Atoi(m[1]); n < 1 || n > 60 {
		t.Errorf("walkthrough, rate limits: %d seconds left in a minute", n)
	}
}

// limited is the rate limits walkthrough's output.
var limited = regexp.MustCompile(`^Ratelimit: "login";r=0;t=(\d+)\nRatelimit-Policy: "login";q=30;w=60\nRetry-After: (\d+)\n$`)
