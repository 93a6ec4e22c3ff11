package audit_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/store/memory"
)

func Example() {
	ctx := context.Background()
	svc, err := audit.NewService(memory.New().Audit(), audit.Config{})
	if err != nil {
		panic(err)
	}

	// Request information travels in the context; secrets in the data are
	// redacted before anything is stored.
	ctx = audit.ContextWithRequestInfo(ctx, audit.RequestInfo{ClientIP: netip.MustParseAddr("::ffff:192.0.2.7"), UserAgent: "curl/8.5"})
	err = svc.Record(ctx, audit.Event{Type: audit.LoginFailed, Severity: audit.Warning, Source: "user",
		Data: map[string]any{"reason": "wrong_password", "attempts": 1, "password": "hunter2"}})
	if err != nil {
		panic(err)
	}
	if err := svc.Record(ctx, audit.Event{Type: audit.LoginSucceeded, Source: "user"}); err != nil {
		panic(err)
	}

	n, err := svc.Verify(ctx, 0, 0)
	fmt.Println("verified", n, "events:", err)

	page, err := svc.Query(ctx, audit.Query{})
	if err != nil {
		panic(err)
	}
	for _, e := range page.Events { // newest first
		fmt.Println(e.Seq, e.Type, e.Severity, e.ClientIP, e.Data)
	}
	// Output:
	// verified 2 events: <nil>
	// 2 login_success INFO 192.0.2.7 map[]
	// 1 login_failure WARNING 192.0.2.7 map[attempts:1 password:[REDACTED] reason:wrong_password]
}

func ExampleWriter() {
	ctx := context.Background()
	svc, err := audit.NewService(memory.New().Audit(), audit.Config{})
	if err != nil {
		panic(err)
	}
	w, err := svc.NewWriter(audit.WriterConfig{OnFull: audit.Drop})
	if err != nil {
		panic(err)
	}
	for range 3 {
		if err := w.Record(ctx, audit.Event{Type: audit.SessionCreated}); err != nil {
			fmt.Println(err) // ErrQueueFull: the event is lost, the request goes on
		}
	}
	// Close writes what was accepted (Flush would too, and keep the
	// writer). Give it a fresh context with a timeout: what it cannot
	// store by then goes to the fallback, and Close says how many.
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Close(cctx); err != nil {
		fmt.Println(err)
	}
	s := w.Stats()
	n, err := svc.Verify(ctx, 0, 0)
	fmt.Println(s.Accepted, s.Written, s.Fallback, n, err)
	// Output:
	// 3 3 0 3 <nil>
}
