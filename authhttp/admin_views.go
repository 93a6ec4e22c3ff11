package authhttp

import (
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/rbac"
)

// AuditEventView is how an administrator sees one audit event (GET
// /admin/audit): the audit_logs columns under their names, and the
// event's place in the tamper-evidence chain.
type AuditEventView struct {
	ID int64 `json:"id"`
	// CreatedAt is the event's time, RFC 3339 in UTC with as many
	// fractional digits as it has (microseconds at most).
	CreatedAt string `json:"created_at"`
	EventType string `json:"event_type"`
	Severity  string `json:"severity"`
	// UserID is the user the event is about or who acted; null when none
	// is, or when that user was deleted since.
	UserID *int64 `json:"user_id"`
	// ActorID is UserID as it was recorded, kept when the user is
	// deleted; null when no user was named.
	ActorID *int64 `json:"actor_id"`
	// ClientIP is "" when unknown.
	ClientIP      string `json:"client_ip"`
	UserAgent     string `json:"user_agent"`
	CorrelationID string `json:"correlation_id"`
	Source        string `json:"source"`
	// EventData is the event's structured detail ({} when it has none),
	// secrets already redacted when it was recorded.
	EventData map[string]any `json:"event_data"`
	// Seq is the event's position in the chain; 0 for a row written
	// outside it (by another system). PrevHash and Hash link it.
	Seq      int64  `json:"seq"`
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
}

// NewAuditEventView returns e's view.
func NewAuditEventView(e *audit.Event) AuditEventView {
	v := AuditEventView{
		ID: e.ID, CreatedAt: e.Time.UTC().Format(time.RFC3339Nano), EventType: string(e.Type),
		Severity: string(e.Severity), UserID: e.UserID, ActorID: e.ActorID, UserAgent: e.UserAgent,
		CorrelationID: e.CorrelationID, Source: e.Source, EventData: e.Data, Seq: e.Seq,
		PrevHash: e.PrevHash, Hash: e.Hash,
	}
	if e.ClientIP.IsValid() {
		v.ClientIP = e.ClientIP.String()
	}
	if v.EventData == nil {
		v.EventData = map[string]any{}
	}
	return v
}

// AuditPage is the body of GET /admin/audit: events newest first, and
// the cursor of the next page, "" after the last one.
type AuditPage struct {
	Events []AuditEventView `json:"events"`
	Next   string           `json:"next"`
}

// ChainVerification is the body of GET /admin/audit/verify: the outcome
// of walking the audit trail's hash chain. Intact is true when every
// event checked is as it was recorded; then Start and End say where
// the stored chain starts and ends (End.Hash is worth keeping
// elsewhere, to compare later) and which key it is sealed with. When
// Intact is false, either Break is the first break found (tampering,
// or, with KeyUnknown, possibly a wrong key), or KeyMismatch says that
// the server's key is not the chain's and nothing was checked.
type ChainVerification struct {
	Intact bool `json:"intact"`
	// Verified is how many events were checked and found intact.
	Verified    int64            `json:"verified"`
	Start       *ChainHead       `json:"start,omitempty"`
	End         *ChainHead       `json:"end,omitempty"`
	Break       *ChainBreak      `json:"break,omitempty"`
	KeyMismatch *KeyMismatchView `json:"key_mismatch,omitempty"`
	// Unchained, with an intact chain, is how many stored events are
	// outside it: stored before the chain began, the original system's
	// rows in a database adopted from it. They are neither verified nor
	// a sign of tampering.
	Unchained int64 `json:"unchained"`
}

// ChainHead is one end of the chain: a position and the hash there.
type ChainHead struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
	// KeyFingerprint, at the end, names the key the chain is sealed
	// under: audit.KeyFingerprint's 32 hex digits, "none" for no key, ""
	// when not recorded yet.
	KeyFingerprint string `json:"key_fingerprint,omitempty"`
}

// ChainBreak is the first place where the chain is broken
// (audit.ChainError).
type ChainBreak struct {
	Seq int64 `json:"seq"`
	// ID is the stored event's id there; 0 when it is missing.
	ID int64 `json:"id"`
	// Reason is "content altered", "event missing", "link broken" or
	// "end of chain does not match".
	Reason string `json:"reason"`
	// KeyUnknown: the chain records no key fingerprint, and the break is
	// at the first event checked, as every event would be under a wrong
	// key: a wrong key is as likely as tampering.
	KeyUnknown bool `json:"key_unknown,omitempty"`
}

// KeyMismatchView names the two keys, by fingerprint (audit.KeyError):
// the chain's and the server's (audit.Config.Key). "none" is no key.
type KeyMismatchView struct {
	Stored     string `json:"stored"`
	Configured string `json:"configured"`
}

// RuleView is how an administrator sees one rule of the policy
// (casbin_rules): its type and values, whether it is enforced, and who
// wrote it when ("" when no user or named actor did).
type RuleView struct {
	ID        int64     `json:"id"`
	Type      string    `json:"ptype"`
	Values    []string  `json:"values"`
	IsActive  bool      `json:"is_active"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	CreatedBy string    `json:"created_by"`
	UpdatedBy string    `json:"updated_by"`
}

// NewRuleView returns r's view.
func NewRuleView(r *rbac.Rule) RuleView {
	vals := r.Values
	if vals == nil {
		vals = []string{}
	}
	return RuleView{ID: r.ID, Type: r.Type, Values: vals, IsActive: r.Active, CreatedAt: r.CreatedAt.UTC(),
		UpdatedAt: r.UpdatedAt.UTC(), CreatedBy: r.CreatedBy, UpdatedBy: r.UpdatedBy}
}

// RuleList is the body of GET /admin/policies.
type RuleList struct {
	Rules []RuleView `json:"rules"`
}

// ChangedResponse is the body of POST /admin/policies: how many rules
// were added or reactivated.
type ChangedResponse struct {
	Changed int `json:"changed"`
}

// RemovedResponse is the body of DELETE /admin/policies by ptype and
// values: how many active rules were deleted.
type RemovedResponse struct {
	Removed int `json:"removed"`
}
