package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The README's code is this repository's code: each block after a marker
// comment is checked against the file it names, and the curl walkthrough
// is run against the example server.

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
		{"store/postgres/example_test.go", "Example"},
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
// curl and jq, and says so).
func TestReadmeWalkthrough(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("the README walkthrough needs %s", tool)
			}
			t.Skipf("the README walkthrough needs %s", tool)
		}
	}
	script := readmeBlock(t, "<!-- walkthrough")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	bin := filepath.Join(t.TempDir(), "httpserver")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "../httpserver")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	srv := exec.CommandContext(ctx, bin, "--addr", "127.0.0.1:0")
	srv.Env = append(os.Environ(), "DATABASE_URL=") // the in-memory store, as in the README
	stderr, err := srv.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Process.Signal(os.Interrupt)
		srv.Wait()
	})
	// The server logs JSON lines; "listening" carries the address.
	addr := ""
	lines := bufio.NewScanner(stderr)
	for addr == "" && lines.Scan() {
		var rec struct{ Msg, Addr string }
		if json.Unmarshal(lines.Bytes(), &rec) == nil && rec.Msg == "listening" {
			addr = rec.Addr
		}
	}
	if addr == "" {
		t.Fatal("the server did not say where it listens")
	}
	go func() { // keep draining the log
		for lines.Scan() {
		}
	}()

	run := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-c", script)
	run.Env = append(os.Environ(), "ADDR="+addr)
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("walkthrough: %v\n%s", err, out)
	}
	got := string(out)
	for _, want := range []string{
		`"username":"alice"`,              // register, then /me
		`"current":true`,                  // /me/sessions
		"204\n",                           // logout
		`"status":401`,                    // /me after logout
		`"email":"alice@example.com"`,     // the account view
		`"user_agent":"curl/`,             // the session's client
		`"client_ip":"127.0.0.1"`,         // and its address
		`"type":"about:blank"`,            // a problem body
		`"title":"Unauthorized"`,          // for the last request
		`"detail":"valid credentials are`, // without the reason
	} {
		if !strings.Contains(got, want) {
			t.Errorf("walkthrough output lacks %q:\n%s", want, got)
		}
	}
	if strings.Count(got, `"username":"alice"`) != 2 {
		t.Errorf("walkthrough: register and /me should each show alice:\n%s", got)
	}
}
