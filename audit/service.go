package audit

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cedrina/cedrina/internal/errs"
)

// Recorder records audit events. Services take one as an optional
// dependency: without a recorder they record nothing and report no error.
// [*Service] records synchronously, [*Writer] in batches.
type Recorder interface {
	Record(ctx context.Context, e Event) error
}

// Config configures a [Service]. The zero value is a safe default for
// every field.
type Config struct {
	// Now is the clock for events recorded without a Time. Default
	// time.Now.
	Now func() time.Time
	// Logger receives operational messages. Default: discard. A
	// [Writer]'s default fallback logs the events it could not store on
	// it, or, without a Logger, as JSON on standard error.
	Logger *slog.Logger
	// Key, when set, makes the chain's hashes HMAC-SHA-256 under it, so
	// that someone who can rewrite the table but does not hold the key
	// cannot forge a consistent chain. Without it the hashes are plain
	// SHA-256: they show accidental or naive changes, not those of an
	// attacker who recomputes the chain. At least 32 bytes.
	//
	// The store keeps the key's fingerprint ([KeyFingerprint]) with the
	// chain's end. Appending under another key than the chain's (or
	// without a key to a keyed chain, or with one to an unkeyed chain) is
	// refused with a [*KeyError], and Verify reports such a key as a
	// KeyError, not as tampering. A chain sealed before fingerprints were
	// recorded takes the key of its next append.
	Key []byte
	// RedactKeys are more key names (or parts of them) whose values are
	// redacted in event data and metadata, beside the built-in ones
	// (password, token, secret, authorization, cookie, ...).
	RedactKeys []string
}

// Service records audit events synchronously (one store write per
// event) and queries, verifies and archives them. It is safe for
// concurrent use.
type Service struct {
	store Store
	now   func() time.Time
	log   *slog.Logger
	// fallbackLog receives the default fallback's records: Config.Logger,
	// or JSON on standard error.
	fallbackLog *slog.Logger
	chain       chainer
	redact      redactor
}

var _ Recorder = (*Service)(nil)

// NewService returns a Service on store.
func NewService(store Store, cfg Config) (*Service, error) {
	if store == nil {
		return nil, errs.Configf("audit", "NewService", "nil Store")
	}
	if cfg.Key != nil && len(cfg.Key) < 32 {
		return nil, errs.Configf("audit", "Config.Key", "%d bytes, want at least 32", len(cfg.Key))
	}
	s := &Service{store: store, now: cfg.Now, log: cfg.Logger, chain: newChainer(bytes.Clone(cfg.Key))}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
		s.fallbackLog = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	} else {
		s.fallbackLog = s.log
	}
	for _, k := range cfg.RedactKeys {
		if n := normKey(k); n != "" {
			s.redact.extra = append(s.redact.extra, n)
		}
	}
	return s, nil
}

// Limits of the audit_logs columns.
const (
	maxCorrelationID = 100
	maxSource        = 100
	maxUserAgent     = 1024
)

// prepare validates e and makes it storable: request information from ctx
// where e has none, the time (UTC, microseconds), INFO by default, text
// cleaned of control characters and cut to the column sizes, secrets
// redacted, documents normalized to what a JSON column gives back.
func (s *Service) prepare(ctx context.Context, e Event) (Event, error) {
	if err := e.Type.Validate(); err != nil {
		return Event{}, err
	}
	if e.Severity == "" {
		e.Severity = Info
	}
	if err := e.Severity.Validate(); err != nil {
		return Event{}, err
	}
	if info, ok := RequestInfoFromContext(ctx); ok {
		if !e.ClientIP.IsValid() {
			e.ClientIP = info.ClientIP
		}
		if e.UserAgent == "" {
			e.UserAgent = info.UserAgent
		}
		if e.CorrelationID == "" {
			e.CorrelationID = info.CorrelationID
		}
	}
	e.ClientIP = e.ClientIP.Unmap().WithZone("")
	e.UserAgent = s.redact.text(e.UserAgent, maxUserAgent)
	e.CorrelationID = s.redact.text(e.CorrelationID, maxCorrelationID)
	e.Source = s.redact.text(e.Source, maxSource)
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	// Normalize first, so redaction sees JSON's types whatever the caller
	// passed (map[string]string, http.Header, structs with json tags), and
	// a cyclic value fails here instead of recursing.
	var err error
	if e.Data, err = normalize(e.Data); err != nil {
		return Event{}, fmt.Errorf("%w: event_data: %v", ErrInvalidEvent, err)
	}
	if e.Metadata, err = normalize(e.Metadata); err != nil {
		return Event{}, fmt.Errorf("%w: metadata: %v", ErrInvalidEvent, err)
	}
	e.Data, e.Metadata = s.redact.doc(e.Data), s.redact.doc(e.Metadata)
	e.ID, e.ActorID, e.Seq, e.PrevHash, e.Hash = 0, nil, 0, "", ""
	return e, nil
}

// normalize round-trips a document through encoding/json, so it holds
// exactly what reading it back from a JSON column gives (numbers as
// float64), which the chain's hash depends on. nil becomes {}.
func normalize(m map[string]any) (map[string]any, error) {
	if m == nil {
		return map[string]any{}, nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Record stores e at once, as one link of the chain.
//
// Empty ClientIP, UserAgent and CorrelationID are taken from the
// [RequestInfo] in ctx; an empty Time is now; an empty Severity is INFO.
// Errors: ErrInvalidEvent (bad type or severity, data that is not JSON);
// a [*KeyError] (errors.Is ErrKeyMismatch) when the chain is sealed under
// another key; the store's errors.
func (s *Service) Record(ctx context.Context, e Event) error {
	p, err := s.prepare(ctx, e)
	if err != nil {
		return err
	}
	if err := s.store.Append(ctx, []Event{p}, s.chain.seal); err != nil {
		return fmt.Errorf("audit: record: %w", err)
	}
	return nil
}

// Query selects events. Zero fields do not filter.
type Query struct {
	UserID        *int64
	Types         []EventType
	Severities    []Severity
	From, To      time.Time // From <= Time < To
	CorrelationID string
	// Limit is the page size: 0 means 50, at most 1000.
	Limit int
	// Cursor continues a listing where the previous [Page] ended.
	Cursor string
}

// Page is one page of events, newest first. Next is the cursor of the
// following page, "" after the last one.
type Page struct {
	Events []Event `json:"events"`
	Next   string  `json:"next,omitempty"`
}

// ErrInvalidCursor reports a cursor that Query did not make.
var ErrInvalidCursor = errors.New("audit: invalid cursor")

// Query returns a page of matching events, newest first. Pagination is by
// keyset (time, id), so pages stay consistent while events are added and
// cost the same however deep the listing goes.
//
// Errors: ErrInvalidCursor; ErrInvalidEvent for a malformed type or
// severity in q; the store's errors.
func (s *Service) Query(ctx context.Context, q Query) (Page, error) {
	f := Filter{UserID: q.UserID, Types: q.Types, Severities: q.Severities, From: q.From, To: q.To,
		CorrelationID: q.CorrelationID, Limit: q.Limit}
	for _, t := range q.Types {
		if err := t.Validate(); err != nil {
			return Page{}, err
		}
	}
	for _, sv := range q.Severities {
		if err := sv.Validate(); err != nil {
			return Page{}, err
		}
	}
	switch {
	case f.Limit <= 0:
		f.Limit = 50
	case f.Limit > 1000:
		f.Limit = 1000
	}
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor)
		if err != nil {
			return Page{}, err
		}
		f.After = &c
	}
	// One more than asked tells whether a next page exists.
	want := f.Limit
	f.Limit++
	events, err := s.store.Query(ctx, f)
	if err != nil {
		return Page{}, fmt.Errorf("audit: query: %w", err)
	}
	page := Page{Events: events}
	if len(events) > want {
		page.Events = events[:want]
		last := page.Events[want-1]
		page.Next = encodeCursor(Cursor{Time: last.Time, ID: last.ID})
	}
	return page, nil
}

func encodeCursor(c Cursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.Time.UnixMicro(), 10) + "." + strconv.FormatInt(c.ID, 10)))
}

func decodeCursor(s string) (Cursor, error) {
	if len(s) > 64 {
		return Cursor{}, ErrInvalidCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, ErrInvalidCursor
	}
	ts, id, ok := strings.Cut(string(b), ".")
	if !ok {
		return Cursor{}, ErrInvalidCursor
	}
	us, err1 := strconv.ParseInt(ts, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if err1 != nil || err2 != nil || n <= 0 {
		return Cursor{}, ErrInvalidCursor
	}
	return Cursor{Time: time.UnixMicro(us).UTC(), ID: n}, nil
}

// State returns where the stored chain starts and ends. Hosts that want
// removal of the newest events to be evident too copy State().End to
// storage the database's writers cannot change, and compare later.
func (s *Service) State(ctx context.Context) (ChainState, error) {
	st, err := s.store.State(ctx)
	if err != nil {
		return ChainState{}, fmt.Errorf("audit: state: %w", err)
	}
	return st, nil
}

// Unchained returns how many stored events are outside the chain
// (written before it began, see [UnchainedCounter]); 0 for a store that
// chains every event it holds. Verify neither checks nor counts them:
// they are history the chain cannot vouch for, not tampering.
func (s *Service) Unchained(ctx context.Context) (int64, error) {
	c, ok := s.store.(UnchainedCounter)
	if !ok {
		return 0, nil
	}
	n, err := c.CountUnchained(ctx)
	if err != nil {
		return 0, fmt.Errorf("audit: unchained: %w", err)
	}
	return n, nil
}

// Verify checks the chain from position from to position to (0 for either
// means the chain's start or end) and returns how many events it checked.
//
// First it compares the configured key's fingerprint with the one the
// chain's end records: when they differ (another key, or a key on one
// side only) it checks nothing and returns a [*KeyError] (errors.Is
// ErrKeyMismatch). Otherwise it returns a [*ChainError] (errors.Is
// ErrChainBroken) for the first event whose content was altered, that is
// missing, or that links to another event than the one before it, and
// when the chain's last event is not its recorded end. For a chain that
// records no fingerprint (sealed before fingerprints were), a first
// checked event that does not match its hash may be a wrong key as well
// as tampering: that ChainError has KeyUnknown set and says so.
//
// Events written outside the chain (rows of another system, with no
// chain position) are not covered.
func (s *Service) Verify(ctx context.Context, from, to int64) (int64, error) {
	st, err := s.store.State(ctx)
	if err != nil {
		return 0, fmt.Errorf("audit: verify: %w", err)
	}
	stored := st.End.KeyFingerprint
	if stored != "" && stored != s.chain.fp {
		return 0, &KeyError{Stored: stored, Configured: s.chain.fp}
	}
	if from <= st.Start.Seq {
		from = st.Start.Seq
	}
	toEnd := to <= 0 || to >= st.End.Seq
	if toEnd {
		to = st.End.Seq
	}
	if from > to {
		return 0, nil // nothing stored in the range
	}
	v := &verifier{c: s.chain, next: from, prev: st.Start.Hash, keyUnknown: stored == ""}
	if from > st.Start.Seq {
		// The event before the range gives the hash to link to.
		found := false
		err := s.store.Chain(ctx, from-1, from-1, func(b []Event) error {
			if len(b) > 0 {
				v.prev, found = b[0].Hash, true
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("audit: verify: %w", err)
		}
		if !found {
			return 0, &ChainError{Seq: from - 1, Reason: Missing}
		}
	}
	if err := s.store.Chain(ctx, from, to, v.check); err != nil {
		var ce *ChainError
		if errors.As(err, &ce) {
			return v.checked, ce
		}
		return v.checked, fmt.Errorf("audit: verify: %w", err)
	}
	if v.next <= to {
		return v.checked, &ChainError{Seq: v.next, Reason: Missing}
	}
	if toEnd && v.prev != st.End.Hash {
		return v.checked, &ChainError{Seq: st.End.Seq, Reason: EndMismatch}
	}
	return v.checked, nil
}

// archiveBatch is how many events Archive and DeleteBefore remove per
// transaction: small enough that no lock is held for long.
const archiveBatch = 1000

// Archive writes the events older than before to w as JSON lines (one
// event per line, oldest first, hashes included, so the archive itself
// can be verified) and then deletes them, a batch per transaction. Chained
// events go oldest first and stop at the first chained event that is not
// older than before, so what remains is one unbroken chain, verifiable
// from its new start. A batch is deleted only after it was written to w;
// an error from w stops the archive with that batch kept.
//
// It returns how many events it archived.
func (s *Service) Archive(ctx context.Context, before time.Time, w io.Writer) (int64, error) {
	if w == nil {
		return 0, errors.New("audit: archive: nil io.Writer")
	}
	enc := json.NewEncoder(w)
	n, err := s.store.TrimChain(ctx, before, archiveBatch, func(events []Event) error {
		for i := range events {
			if err := enc.Encode(&events[i]); err != nil {
				return fmt.Errorf("writing the archive: %w", err)
			}
		}
		if f, ok := w.(interface{ Sync() error }); ok {
			return f.Sync()
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("audit: archive: %w", err)
	}
	return n, nil
}

// DeleteBefore deletes the events older than before, as Archive does but
// without writing them anywhere. It returns how many it deleted.
func (s *Service) DeleteBefore(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.store.TrimChain(ctx, before, archiveBatch, nil)
	if err != nil {
		return n, fmt.Errorf("audit: delete: %w", err)
	}
	return n, nil
}
