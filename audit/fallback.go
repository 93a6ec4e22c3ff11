package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
)

// The default fallback's log record: its message, and the attribute
// keys of the event and of the reason it was not stored.
const (
	fallbackMsg       = "audit: event not stored"
	fallbackEventKey  = "audit_event"
	fallbackReasonKey = "reason"
)

// loggedEvent renders an event as its JSON: an object under slog's JSON
// handler (json.Marshaler), the JSON text under the text handler
// (encoding.TextMarshaler).
type loggedEvent Event

func (e loggedEvent) MarshalJSON() ([]byte, error) { return json.Marshal(Event(e)) }
func (e loggedEvent) MarshalText() ([]byte, error) { return json.Marshal(Event(e)) }

// logFallback is a Writer's default fallback: one record at Error level
// with the (already redacted) event and the reason, enough to replay it.
func (s *Service) logFallback(e Event, err error) {
	reason := "unknown"
	if err != nil {
		reason = err.Error()
	}
	s.fallbackLog.LogAttrs(context.Background(), slog.LevelError, fallbackMsg,
		slog.Any(fallbackEventKey, loggedEvent(e)), slog.String(fallbackReasonKey, reason))
}

// errNotFallback marks a line that looks like a fallback record but whose
// event cannot be read back.
var errNotFallback = errors.New("audit: unreadable fallback record")

// parseFallback reads one line of a log. It returns the event of a
// record of the default fallback written by slog's JSON handler, ok false
// for any other line, and an error for a fallback record whose event is
// unreadable or invalid.
func parseFallback(line []byte) (e Event, ok bool, err error) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' || !bytes.Contains(line, []byte(fallbackEventKey)) {
		return Event{}, false, nil
	}
	var rec struct {
		Msg   string          `json:"msg"`
		Event json.RawMessage `json:"audit_event"`
	}
	if json.Unmarshal(line, &rec) != nil || rec.Msg != fallbackMsg || len(rec.Event) == 0 {
		return Event{}, false, nil
	}
	if err := json.Unmarshal(rec.Event, &e); err != nil {
		return Event{}, false, fmt.Errorf("%w: %v", errNotFallback, err)
	}
	if err := e.Type.Validate(); err != nil {
		return Event{}, false, fmt.Errorf("%w: %v", errNotFallback, err)
	}
	if e.Severity != "" {
		if err := e.Severity.Validate(); err != nil {
			return Event{}, false, fmt.Errorf("%w: %v", errNotFallback, err)
		}
	}
	return e, true, nil
}

// Replay records again the events that a [Writer]'s default fallback
// logged: it reads r as lines of slog JSON output (a log file may hold
// other lines, which it skips), and records the event of each fallback
// record with [Service.Record], oldest line first. A replayed event keeps
// its time, user and request information; it gets a new chain position.
// Records of slog's text handler are not read.
//
// It returns how many events it recorded. It stops at the first event the
// store does not take (the error names its line: replay the lines after
// it once the cause is fixed), and reports fallback records it could not
// read after reading everything else.
func (s *Service) Replay(ctx context.Context, r io.Reader) (int, error) {
	if r == nil {
		return 0, errors.New("audit: replay: nil io.Reader")
	}
	br := bufio.NewReader(r)
	n, bad, firstBad := 0, 0, 0
	for line := 1; ; line++ {
		b, rerr := br.ReadBytes('\n')
		if len(b) > 0 {
			e, ok, err := parseFallback(b)
			switch {
			case err != nil:
				if bad++; bad == 1 {
					firstBad = line
				}
			case ok:
				if err := s.Record(ctx, e); err != nil {
					return n, fmt.Errorf("audit: replay: line %d: %w", line, err)
				}
				n++
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return n, fmt.Errorf("audit: replay: reading line %d: %w", line, rerr)
		}
	}
	if bad > 0 {
		return n, fmt.Errorf("audit: replay: %d fallback records unreadable, the first at line %d", bad, firstBad)
	}
	return n, nil
}
