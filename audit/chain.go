package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strings"
	"time"
)

// Genesis is the hash the first event of a chain links to.
var Genesis = strings.Repeat("0", 64)

// chainer computes the tamper-evidence hashes. With a key they are
// HMAC-SHA-256, which someone who can write the table but does not hold
// the key cannot recompute; without one, SHA-256.
type chainer struct{ key []byte }

// canonical is the hashed form of an event: fixed field order, times in
// RFC 3339 at microseconds, JSON documents as encoding/json writes them
// (keys sorted), absent values as "" or null. Version 1.
type canonical struct {
	V             int             `json:"v"`
	Seq           int64           `json:"seq"`
	Prev          string          `json:"prev"`
	ActorID       *int64          `json:"actor_id"`
	Type          EventType       `json:"event_type"`
	Data          json.RawMessage `json:"event_data"`
	ClientIP      string          `json:"client_ip"`
	UserAgent     string          `json:"user_agent"`
	CorrelationID string          `json:"correlation_id"`
	Time          string          `json:"created_at"`
	Severity      Severity        `json:"severity"`
	Source        string          `json:"source"`
	Metadata      json.RawMessage `json:"metadata"`
}

// hash returns the hex hash of e as stored: its content, Seq and PrevHash.
// ActorID, not UserID, is hashed: the database may set user_id to NULL
// when the user is deleted, which must not look like tampering.
func (c chainer) hash(e *Event) (string, error) {
	data, err := json.Marshal(docOrEmpty(e.Data))
	if err != nil {
		return "", fmt.Errorf("%w: event_data: %v", ErrInvalidEvent, err)
	}
	meta, err := json.Marshal(docOrEmpty(e.Metadata))
	if err != nil {
		return "", fmt.Errorf("%w: metadata: %v", ErrInvalidEvent, err)
	}
	ip := ""
	if e.ClientIP.IsValid() {
		ip = e.ClientIP.String()
	}
	b, err := json.Marshal(canonical{
		V: 1, Seq: e.Seq, Prev: e.PrevHash, ActorID: e.ActorID, Type: e.Type, Data: data,
		ClientIP: ip, UserAgent: e.UserAgent, CorrelationID: e.CorrelationID,
		Time: e.Time.UTC().Format(time.RFC3339Nano), Severity: e.Severity, Source: e.Source, Metadata: meta,
	})
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	var h hash.Hash
	if c.key != nil {
		h = hmac.New(sha256.New, c.key)
	} else {
		h = sha256.New()
	}
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// seal is the Sealer the service hands to stores. The events were
// prepared (validated, normalized) before, so hashing cannot fail.
func (c chainer) seal(end Head, events []Event) Head {
	for i := range events {
		e := &events[i]
		e.Seq, e.PrevHash = end.Seq+1, end.Hash
		h, err := c.hash(e)
		if err != nil {
			panic("audit: sealing a prepared event: " + err.Error())
		}
		e.Hash = h
		end = Head{Seq: e.Seq, Hash: e.Hash}
	}
	return end
}

func docOrEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// ErrChainBroken is matched by every [*ChainError].
var ErrChainBroken = errors.New("audit: chain broken")

// BreakReason says how the chain is broken at an event.
type BreakReason string

// The ways a chain breaks.
const (
	// Altered: the event's content no longer matches its hash, or its
	// user_id differs from the actor it was recorded with.
	Altered BreakReason = "content altered"
	// Missing: no event is stored at this position.
	Missing BreakReason = "event missing"
	// Relinked: the event does not link to the event before it (events
	// were reordered, or the one before was replaced).
	Relinked BreakReason = "link broken"
	// EndMismatch: the last event is not the recorded end of the chain
	// (events were removed from the end, or the end record changed).
	EndMismatch BreakReason = "end of chain does not match"
)

// ChainError reports the first place where the chain is broken.
type ChainError struct {
	// Seq is the chain position of the break.
	Seq int64
	// ID is the stored event's id there; 0 when it is missing.
	ID     int64
	Reason BreakReason
}

func (e *ChainError) Error() string {
	if e.ID != 0 {
		return fmt.Sprintf("audit: chain broken at seq %d (event %d): %s", e.Seq, e.ID, e.Reason)
	}
	return fmt.Sprintf("audit: chain broken at seq %d: %s", e.Seq, e.Reason)
}

// Is makes errors.Is(err, ErrChainBroken) hold.
func (e *ChainError) Is(target error) bool { return target == ErrChainBroken }

// verifier walks a chain in Seq order.
type verifier struct {
	c       chainer
	next    int64  // the Seq expected next
	prev    string // the hash it must link to
	checked int64
}

func (v *verifier) check(batch []Event) error {
	for i := range batch {
		e := &batch[i]
		if e.Seq != v.next {
			return &ChainError{Seq: v.next, Reason: Missing}
		}
		if e.PrevHash != v.prev {
			return &ChainError{Seq: e.Seq, ID: e.ID, Reason: Relinked}
		}
		h, err := v.c.hash(e)
		if err != nil || !hmac.Equal([]byte(h), []byte(e.Hash)) {
			return &ChainError{Seq: e.Seq, ID: e.ID, Reason: Altered}
		}
		if e.UserID != nil && (e.ActorID == nil || *e.UserID != *e.ActorID) {
			return &ChainError{Seq: e.Seq, ID: e.ID, Reason: Altered}
		}
		v.prev, v.next = e.Hash, e.Seq+1
		v.checked++
	}
	return nil
}
