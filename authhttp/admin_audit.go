package authhttp

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/internal/errs"
)

// Page sizes of GET /admin/audit.
const (
	defaultAuditLimit = 50
	maxAuditLimit     = 1000
)

// listAudit answers a page of audit events, newest first (see
// [AuditPage]), selected by the query: user_id, type and severity
// (repeatable: any of them), from and to (RFC 3339; from <= time < to),
// correlation_id, limit (1 to 1000, default 50) and cursor (the next of
// the previous page). A parameter that is unknown, repeated or malformed,
// or a cursor this listing did not give, answers 400
// [TypeInvalidParameter] naming it.
func (h *Handler) listAudit(w http.ResponseWriter, r *http.Request) {
	q, err := auditQuery(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	page, err := h.audit.Query(r.Context(), q)
	switch {
	case errors.Is(err, audit.ErrInvalidCursor):
		h.failWith(w, r, *invalidParameter("cursor", "the cursor is not one this listing gave"), err)
		return
	case errors.Is(err, audit.ErrInvalidEvent): // checked already; for a store's own refusal
		h.failWith(w, r, *invalidParameter("", "invalid event type or severity"), err)
		return
	case err != nil:
		h.fail(w, r, err)
		return
	}
	views := make([]AuditEventView, 0, len(page.Events))
	for i := range page.Events {
		views = append(views, NewAuditEventView(&page.Events[i]))
	}
	WriteJSON(w, http.StatusOK, AuditPage{Events: views, Next: page.Next})
}

// auditQuery reads GET /admin/audit's query parameters.
func auditQuery(r *http.Request) (audit.Query, error) {
	p, err := queryParams(r, []string{"user_id", "from", "to", "correlation_id", "limit", "cursor"},
		[]string{"type", "severity"})
	if err != nil {
		return audit.Query{}, err
	}
	q := audit.Query{CorrelationID: p.Get("correlation_id"), Cursor: p.Get("cursor"), Limit: defaultAuditLimit}
	if s := p.Get("user_id"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil || id <= 0 {
			return q, invalidParameter("user_id", "user_id must be a positive integer")
		}
		q.UserID = &id
	}
	for _, t := range p["type"] {
		if audit.EventType(t).Validate() != nil {
			return q, invalidParameter("type", "type must be an event type: lower-case snake_case, such as login_failure")
		}
		q.Types = append(q.Types, audit.EventType(t))
	}
	for _, s := range p["severity"] {
		if audit.Severity(s).Validate() != nil {
			return q, invalidParameter("severity", "severity must be INFO, WARNING, ERROR or CRITICAL")
		}
		q.Severities = append(q.Severities, audit.Severity(s))
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		s := p.Get(t.name)
		if s == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return q, invalidParameter(t.name, t.name+" must be an RFC 3339 time, such as 2026-01-02T15:04:05Z")
		}
		*t.dst = v
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.From.Before(q.To) {
		return q, invalidParameter("to", "to must be later than from")
	}
	if s := p.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxAuditLimit {
			return q, invalidParameter("limit", fmt.Sprintf("limit must be an integer from 1 to %d", maxAuditLimit))
		}
		q.Limit = n
	}
	return q, nil
}

// verifyAudit walks the audit trail's hash chain, from and to (chain
// positions, default the whole chain), and answers 200 with a
// [ChainVerification]: a broken chain, or a server whose key is not the
// chain's, is a finding of the verification, not a failure of the
// request, and is answered 200 with "intact": false and what was found.
// Other errors (the database) are problems as everywhere.
func (h *Handler) verifyAudit(w http.ResponseWriter, r *http.Request) {
	p, err := queryParams(r, []string{"from", "to"}, nil)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var bounds [2]int64
	for i, name := range []string{"from", "to"} {
		s := p.Get(name)
		if s == "" {
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 {
			h.fail(w, r, invalidParameter(name, name+" must be a chain position, a positive integer"))
			return
		}
		bounds[i] = n
	}
	if bounds[0] > 0 && bounds[1] > 0 && bounds[0] > bounds[1] {
		h.fail(w, r, invalidParameter("to", "to must not be before from"))
		return
	}
	ctx := r.Context()
	n, err := h.audit.Verify(ctx, bounds[0], bounds[1])
	res := ChainVerification{Verified: n}
	var (
		ke *audit.KeyError
		ce *audit.ChainError
	)
	switch {
	case errors.As(err, &ke):
		h.log.WarnContext(ctx, "authhttp: audit chain not verified: the server's key is not the chain's",
			"stored", ke.Stored, "configured", ke.Configured)
		res.KeyMismatch = &KeyMismatchView{Stored: ke.Stored, Configured: ke.Configured}
		WriteJSON(w, http.StatusOK, res)
		return
	case errors.As(err, &ce):
		h.log.ErrorContext(ctx, "authhttp: audit chain broken", "seq", ce.Seq, "id", ce.ID,
			"reason", string(ce.Reason), "key_unknown", ce.KeyUnknown, "verified", n)
		res.Break = &ChainBreak{Seq: ce.Seq, ID: ce.ID, Reason: string(ce.Reason), KeyUnknown: ce.KeyUnknown}
		WriteJSON(w, http.StatusOK, res)
		return
	case errors.Is(err, audit.ErrChainBroken): // a store's own report, without a *ChainError
		h.log.ErrorContext(ctx, "authhttp: audit chain broken", "error", err, "verified", n)
		res.Break = &ChainBreak{Reason: errs.Trim("audit", err)}
		WriteJSON(w, http.StatusOK, res)
		return
	case err != nil:
		h.fail(w, r, err)
		return
	}
	st, err := h.audit.State(ctx)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if res.Unchained, err = h.audit.Unchained(ctx); err != nil {
		h.fail(w, r, err)
		return
	}
	res.Intact = true
	res.Start = &ChainHead{Seq: st.Start.Seq, Hash: st.Start.Hash}
	res.End = &ChainHead{Seq: st.End.Seq, Hash: st.End.Hash, KeyFingerprint: st.End.KeyFingerprint}
	WriteJSON(w, http.StatusOK, res)
}
