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

// NoKey is the key fingerprint of a chain hashed without a key (plain
// SHA-256).
const NoKey = "none"

// fingerprintLabel is the message whose HMAC under a key is the key's
// fingerprint. A chain hash is an HMAC of an event's canonical JSON, which
// never equals it, so a fingerprint is never a usable link.
const fingerprintLabel = "cedrina audit key fingerprint v1"

// KeyFingerprint returns the fingerprint of a chain key, which the store
// keeps with the chain's end: the first 16 bytes, as 32 hex digits, of
// HMAC-SHA-256(key, "cedrina audit key fingerprint v1"), or [NoKey] when
// key is empty. It tells keys apart without revealing them: finding the
// key from it means breaking HMAC-SHA-256 (keys have at least 32 bytes).
func KeyFingerprint(key []byte) string {
	if len(key) == 0 {
		return NoKey
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(fingerprintLabel))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// chainer computes the tamper-evidence hashes. With a key they are
// HMAC-SHA-256, which someone who can write the table but does not hold
// the key cannot recompute; without one, SHA-256. fp is the key's
// fingerprint.
type chainer struct {
	key []byte
	fp  string
}

func newChainer(key []byte) chainer {
	if len(key) == 0 {
		key = nil
	}
	return chainer{key: key, fp: KeyFingerprint(key)}
}

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

// seal is the Sealer the service hands to stores. It refuses, with a
// [*KeyError], to extend a chain sealed under another key: the events
// would fail verification under either key, and so would the chain's end.
// A chain whose fingerprint is unknown ("", sealed before fingerprints
// were recorded) takes this key's. The events were prepared (validated,
// normalized) before, so hashing cannot fail.
func (c chainer) seal(end Head, events []Event) (Head, error) {
	if len(events) == 0 {
		return end, nil
	}
	if end.KeyFingerprint != "" && end.KeyFingerprint != c.fp {
		return end, &KeyError{Stored: end.KeyFingerprint, Configured: c.fp}
	}
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
	end.KeyFingerprint = c.fp
	return end, nil
}

func docOrEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// ErrKeyMismatch is matched by every [*KeyError]: the chain is sealed
// under another key than the configured one (Config.Key), or under a key
// when none is configured, or under none when one is.
var ErrKeyMismatch = errors.New("audit: chain sealed with another key")

// KeyError reports that the configured key is not the one the chain is
// sealed under. Appending under it is refused, since the new events would
// break the chain for good; verifying under it would report every event
// as altered. Stored and Configured are key fingerprints ([KeyFingerprint];
// [NoKey] for no key).
type KeyError struct {
	Stored     string // the chain's
	Configured string // the configured key's
}

func (e *KeyError) Error() string {
	switch {
	case e.Stored == NoKey:
		return fmt.Sprintf("%v: the chain has no key, the configured key's fingerprint is %s", ErrKeyMismatch, e.Configured)
	case e.Configured == NoKey:
		return fmt.Sprintf("%v: the chain's key fingerprint is %s, and no key is configured", ErrKeyMismatch, e.Stored)
	}
	return fmt.Sprintf("%v: the chain's key fingerprint is %s, the configured key's is %s", ErrKeyMismatch, e.Stored, e.Configured)
}

// Is makes errors.Is(err, ErrKeyMismatch) hold.
func (e *KeyError) Is(target error) bool { return target == ErrKeyMismatch }

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
	// KeyUnknown is set when the break may be a wrong key rather than
	// tampering: the chain predates key fingerprints (its end records
	// none), and the first event checked does not match its hash, as
	// every event would under a wrong key.
	KeyUnknown bool
}

func (e *ChainError) Error() string {
	reason := string(e.Reason)
	if e.KeyUnknown {
		reason += ", or the key is wrong: this chain predates key fingerprints"
	}
	if e.ID != 0 {
		return fmt.Sprintf("audit: chain broken at seq %d (event %d): %s", e.Seq, e.ID, reason)
	}
	return fmt.Sprintf("audit: chain broken at seq %d: %s", e.Seq, reason)
}

// Is makes errors.Is(err, ErrChainBroken) hold.
func (e *ChainError) Is(target error) bool { return target == ErrChainBroken }

// verifier walks a chain in Seq order.
type verifier struct {
	c       chainer
	next    int64  // the Seq expected next
	prev    string // the hash it must link to
	checked int64
	// keyUnknown: the chain records no key fingerprint, so a first event
	// that does not match its hash may be a wrong key.
	keyUnknown bool
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
			return &ChainError{Seq: e.Seq, ID: e.ID, Reason: Altered, KeyUnknown: v.keyUnknown && v.checked == 0}
		}
		if e.UserID != nil && (e.ActorID == nil || *e.UserID != *e.ActorID) {
			return &ChainError{Seq: e.Seq, ID: e.ID, Reason: Altered}
		}
		v.prev, v.next = e.Hash, e.Seq+1
		v.checked++
	}
	return nil
}
