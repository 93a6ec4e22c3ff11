package notify_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cedrina/cedrina/notify"
)

const link = "https://app.example.com/reset?token=SECRET-TOKEN-VALUE"

func message() notify.Message {
	return notify.Message{Kind: notify.PasswordReset, To: "alice@example.com", UserID: 7, Username: "alice",
		Link: link, ExpiresAt: time.Date(2026, 1, 1, 0, 30, 0, 0, time.UTC)}
}

// A message that reaches fmt or slog by accident does not show its link.
func TestMessageHidesLink(t *testing.T) {
	m := message()
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&buf, nil))
	l.Info("x", "message", m)
	l2 := slog.New(slog.NewTextHandler(&buf, nil))
	l2.Info("x", "message", m)
	for _, out := range []string{fmt.Sprint(m), fmt.Sprintf("%v %+v %#v %s %q", m, m, m, m, m), buf.String(), fmt.Errorf("wrapped: %v", m).Error()} {
		if strings.Contains(out, "SECRET") {
			t.Errorf("link leaked: %s", out)
		}
		if !strings.Contains(out, "alice@example.com") {
			t.Errorf("recipient missing: %s", out)
		}
	}
}

// The development notifier writes exactly one line per message, with the
// recipient and the link.
func TestLog(t *testing.T) {
	var buf bytes.Buffer
	n := notify.Log(slog.New(slog.NewTextHandler(&buf, nil)))
	if err := n.Notify(context.Background(), message()); err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), notify.Message{Kind: notify.PasswordChanged, To: "bob@example.com", UserID: 8}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2:\n%s", len(lines), buf.String())
	}
	if !strings.Contains(lines[0], "to=alice@example.com") || !strings.Contains(lines[0], link) {
		t.Errorf("first line lacks recipient or link: %s", lines[0])
	}
	if !strings.Contains(lines[1], "to=bob@example.com") || strings.Contains(lines[1], "link=") {
		t.Errorf("second line: %s", lines[1])
	}
}

type recorder struct {
	mu   sync.Mutex
	sent []notify.Message
	lost []error
}

func (r *recorder) undelivered(m notify.Message, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lost = append(r.lost, err)
}

func (r *recorder) Notify(_ context.Context, m notify.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sent = append(r.sent, m)
	return nil
}

func TestQueueSendsEverything(t *testing.T) {
	r := &recorder{}
	q, err := notify.NewQueue(r, notify.QueueConfig{Undelivered: r.undelivered})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		m := message()
		m.UserID = int64(i)
		q.Send(context.Background(), m)
	}
	if err := q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(r.sent) != 200 || len(r.lost) != 0 {
		t.Fatalf("sent %d, lost %d; want 200, 0", len(r.sent), len(r.lost))
	}
	q.Send(context.Background(), message())
	if len(r.lost) != 1 || !errors.Is(r.lost[0], notify.ErrClosed) {
		t.Fatalf("Send after Close: lost %v, want ErrClosed", r.lost)
	}
}

// A failing notifier's message goes to Undelivered with its error, and
// the failure is logged without the link.
func TestQueueFailure(t *testing.T) {
	boom := errors.New("smtp: 451 try later")
	var logs bytes.Buffer
	var got []error
	var mu sync.Mutex
	q, _ := notify.NewQueue(notify.Func(func(context.Context, notify.Message) error { return boom }), notify.QueueConfig{
		Logger:      slog.New(slog.NewTextHandler(&logs, nil)),
		Undelivered: func(m notify.Message, err error) { mu.Lock(); got = append(got, err); mu.Unlock() },
	})
	q.Send(context.Background(), message())
	q.Close(context.Background())
	if len(got) != 1 || !errors.Is(got[0], boom) {
		t.Fatalf("undelivered = %v, want the notifier's error", got)
	}
	if !strings.Contains(logs.String(), "sending failed") || strings.Contains(logs.String(), "SECRET") {
		t.Fatalf("log: %s", logs.String())
	}
}

// Close honours its deadline with a notifier that hangs, and hands over
// every message it did not send, exactly once.
func TestQueueCloseDeadline(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	started := make(chan struct{}, 1)
	var mu sync.Mutex
	lost := map[int64]error{}
	q, _ := notify.NewQueue(notify.Func(func(ctx context.Context, m notify.Message) error {
		started <- struct{}{}
		<-release // ignores ctx
		return nil
	}), notify.QueueConfig{Workers: 1, Undelivered: func(m notify.Message, err error) {
		mu.Lock()
		defer mu.Unlock()
		if _, dup := lost[m.UserID]; dup {
			t.Errorf("message %d handed over twice", m.UserID)
		}
		lost[m.UserID] = err
	}})
	for i := range 5 {
		m := message()
		m.UserID = int64(i)
		q.Send(context.Background(), m)
	}
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	if err := q.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want DeadlineExceeded", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lost) != 4 {
		t.Fatalf("handed over %d messages at Close, want the 4 queued", len(lost))
	}
	for id, err := range lost {
		if id == 0 || !errors.Is(err, notify.ErrClosed) {
			t.Errorf("message %d: %v", id, err)
		}
	}
}

func TestQueueFull(t *testing.T) {
	block := make(chan struct{})
	started := make(chan struct{})
	var once sync.Once
	var lost []error
	q, _ := notify.NewQueue(notify.Func(func(context.Context, notify.Message) error {
		once.Do(func() { close(started) })
		<-block
		return nil
	}), notify.QueueConfig{Workers: 1, Size: 1, Undelivered: func(_ notify.Message, err error) { lost = append(lost, err) }})
	q.Send(context.Background(), message())
	<-started
	q.Send(context.Background(), message()) // queued
	q.Send(context.Background(), message()) // no room
	if len(lost) != 1 || !errors.Is(lost[0], notify.ErrQueueFull) {
		t.Fatalf("lost = %v, want one ErrQueueFull", lost)
	}
	close(block)
	q.Close(context.Background())
}

func TestNewQueueConfig(t *testing.T) {
	if _, err := notify.NewQueue(nil, notify.QueueConfig{}); err == nil {
		t.Error("nil Notifier accepted")
	}
	for _, c := range []notify.QueueConfig{{Workers: -1}, {Size: -1}, {Timeout: -time.Second}} {
		if _, err := notify.NewQueue(notify.Log(slog.Default()), c); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

func TestScrub(t *testing.T) {
	m := message()
	for _, raw := range []string{
		"smtp: 554 rejected body containing " + link,
		"template: token SECRET-TOKEN-VALUE not allowed",
	} {
		got := notify.Scrub(m, errors.New(raw))
		if strings.Contains(got, "SECRET") || !strings.Contains(got, "[redacted]") {
			t.Errorf("Scrub(%q) = %q", raw, got)
		}
	}
	plain := notify.Message{Kind: notify.PasswordChanged, To: "a@example.com"}
	if got := notify.Scrub(plain, errors.New("dial tcp: refused")); got != "dial tcp: refused" {
		t.Errorf("Scrub without a link = %q", got)
	}
}
