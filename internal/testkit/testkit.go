// Package testkit holds the test doubles the packages' tests share: an
// injected clock, a log buffer safe for concurrent writers, and a
// notifier that keeps the messages it is given, and an audit recorder
// that keeps the events.
package testkit

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/notify"
)

// Clock is a settable clock for the services' Now: tests move it, never
// sleep. It is safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a Clock reading t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Buffer is a bytes.Buffer that loggers on several goroutines may write
// to at once.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Mailbox is a notify.Notifier that keeps the messages it is given, for
// a test to receive: the services send from their own goroutines.
type Mailbox struct {
	C chan notify.Message
}

// NewMailbox returns a Mailbox with room for 100 messages.
func NewMailbox() *Mailbox { return &Mailbox{C: make(chan notify.Message, 100)} }

// Notify implements notify.Notifier.
func (m *Mailbox) Notify(_ context.Context, msg notify.Message) error {
	m.C <- msg
	return nil
}

// Next returns the next message sent. Its bound guards against a hang;
// it is not a timing assumption.
func (m *Mailbox) Next(t testing.TB) notify.Message {
	t.Helper()
	select {
	case msg := <-m.C:
		return msg
	case <-time.After(30 * time.Second):
		t.Fatal("no message sent")
		return notify.Message{}
	}
}

// None fails t if a message is waiting.
func (m *Mailbox) None(t testing.TB) {
	t.Helper()
	select {
	case msg := <-m.C:
		t.Fatalf("unexpected message: %v", msg)
	default:
	}
}

// Race calls fn(0), ..., fn(n-1) on n goroutines released at once and
// returns their errors, in order.
func Race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// Events is an audit.Recorder that keeps the events it is given, for a
// test to read. It is safe for concurrent use.
type Events struct {
	mu     sync.Mutex
	events []audit.Event
}

// Record implements audit.Recorder.
func (l *Events) Record(_ context.Context, e audit.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
	return nil
}

// All returns every event recorded, in order.
func (l *Events) All() []audit.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]audit.Event(nil), l.events...)
}

// Of returns the events of type typ, in order.
func (l *Events) Of(typ audit.EventType) []audit.Event {
	var out []audit.Event
	for _, e := range l.All() {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}
