package authhttp

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/rbac"
	"github.com/cedrina/cedrina/user"
)

// AdminRules returns the default admin policy: one rule, "p, admin,
// /admin/*, *", which lets the role admin (the users whose users.role is
// ADMIN, as rbac.Subject spells it) do anything under /admin/: every
// route of the administration API, whatever its method. It fits the
// default model, rbac.RBAC.
//
// A host bootstraps its first administrator in code with the
// Authorizer it gives to Config.Authorizer and its user service:
//
//	az.AddRules(ctx, authhttp.AdminRules()...) // no-op when already there
//	users.SetRole(ctx, id, user.RoleAdmin)
//
// or from outside the program, with `cedrina user set-role`.
func AdminRules() []rbac.Rule {
	return []rbac.Rule{{Type: "p", Values: []string{"admin", "/admin/*", "*"}}}
}

// SetRoleRequest is the body of POST /admin/users/{id}/role.
type SetRoleRequest struct {
	Role user.Role `json:"role"`
}

// RuleRequest is one policy rule in the body of POST and DELETE
// /admin/policies: Casbin's ptype ("p", "g", ...) and the values v0 to
// v5 in order.
type RuleRequest struct {
	Type   string   `json:"ptype"`
	Values []string `json:"values"`
}

// AddRulesRequest is the body of POST /admin/policies: one rule (ptype
// and values), or several (rules), not both.
type AddRulesRequest struct {
	Type   string        `json:"ptype"`
	Values []string      `json:"values"`
	Rules  []RuleRequest `json:"rules"`
}

// RemoveRuleRequest is the body of DELETE /admin/policies: the id of a
// rule to deactivate, or the ptype and values of the active rule to
// delete, not both.
type RemoveRuleRequest struct {
	ID     int64    `json:"id"`
	Type   string   `json:"ptype"`
	Values []string `json:"values"`
}

// adminRoutes wires the administration API on mux, each route behind the
// bearer check and then the Authorizer; only with Config.Authorizer (and
// the audit routes only with Config.Audit too).
func (h *Handler) adminRoutes(mux *http.ServeMux) {
	if h.authz == nil {
		return
	}
	// The object checked is the route's pattern ("/admin/users/:id/role"),
	// the action the method. Refusals go through ErrorFunc.
	require := h.authz.RequireWith("", "", rbac.RequireConfig{ErrorFunc: h.refuse})
	admin := func(f http.HandlerFunc) http.Handler { return h.auth(require(f)) }
	allow := map[string]string{
		"/admin/users/{id}/role": "POST",
		"/admin/policies":        "GET, HEAD, POST, DELETE",
	}
	if h.audit != nil {
		mux.Handle("GET /admin/audit", admin(h.listAudit))
		mux.Handle("GET /admin/audit/verify", admin(h.verifyAudit))
		allow["/admin/audit"] = "GET, HEAD"
		allow["/admin/audit/verify"] = "GET, HEAD"
	}
	mux.Handle("POST /admin/users/{id}/role", admin(h.setRole))
	mux.Handle("GET /admin/policies", admin(h.listPolicies))
	mux.Handle("POST /admin/policies", admin(h.addPolicies))
	mux.Handle("DELETE /admin/policies", admin(h.removePolicy))
	for path, methods := range allow {
		mux.Handle(path, h.methodNotAllowed(methods))
	}
}

// errForbidden is the error behind a refusal by the Authorizer.
var errForbidden = errors.New("authhttp: the policy does not allow this request")

// refuse answers a request the Authorizer refused (rbac.RequireConfig's
// ErrorFunc): 403 with the body rbac.WriteError sends, which names
// neither the rule nor the role, through ErrorFunc. The Authorizer
// records the denial (authorization_denied) when it has a recorder.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, status int) {
	if status != http.StatusForbidden {
		h.failWith(w, r, authProblem(status), errForbidden)
		return
	}
	h.log.InfoContext(r.Context(), "authhttp: request refused by the policy", "method", r.Method,
		"object", rbac.RouteObject(r), "user_id", principal(r).UserID)
	h.failWith(w, r, Problem{Status: http.StatusForbidden, Detail: "you are not allowed to do this"}, errForbidden)
}

// actorContext returns r's context naming the signed-in user as the
// actor of the changes made with it: created_by / updated_by of the
// rules, "by" of the role_changed and policy_changed events.
func actorContext(r *http.Request) *http.Request {
	ctx := audit.ContextWithActor(r.Context(), audit.Actor{UserID: principal(r).UserID})
	return r.WithContext(ctx)
}

// invalidParameter is the 400 problem of a query or path parameter.
func invalidParameter(name, detail string) *Problem {
	return &Problem{Type: TypeInvalidParameter, Title: "Invalid parameter", Status: http.StatusBadRequest,
		Parameter: name, Detail: detail}
}

// queryParams parses r's query, which may hold only the parameters
// named in single (at most once each) and repeated (any number of
// times).
func queryParams(r *http.Request, single, repeated []string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, invalidParameter("", "the query string is malformed")
	}
	for name, vs := range q {
		switch {
		case slices.Contains(repeated, name):
		case slices.Contains(single, name):
			if len(vs) > 1 {
				return nil, invalidParameter(name, fmt.Sprintf("parameter %s is given %d times", name, len(vs)))
			}
		default:
			return nil, invalidParameter(name, "unknown parameter "+strconv.Quote(name))
		}
	}
	return q, nil
}

// setRole changes a user's users.role: 200 with the account's view; 400
// for an id that is not a positive integer, 404 for an unknown user, 422
// for a malformed role. The role_changed event names the acting
// administrator in "by".
func (h *Handler) setRole(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		h.fail(w, r, invalidParameter("id", "the user id must be a positive integer"))
		return
	}
	var req SetRoleRequest
	if err := DecodeJSON(w, r, &req, h.maxBody); err != nil {
		h.fail(w, r, err)
		return
	}
	r = actorContext(r)
	u, err := h.users.SetRole(r.Context(), id, req.Role)
	if errors.Is(err, user.ErrNotFound) {
		h.failWith(w, r, Problem{Status: http.StatusNotFound, Detail: "no such user"}, err)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.log.InfoContext(r.Context(), "authhttp: role changed", "user_id", id, "role", string(u.Role),
		"by", principal(r).UserID)
	WriteJSON(w, http.StatusOK, NewUserView(u))
}

// listPolicies answers the rules that match the query: ptype, v0 to v5
// (each, when given, must equal the rule's value at that position) and
// inactive=true to include inactive rules. 200 {"rules": [RuleView, ...]}
// in id order.
func (h *Handler) listPolicies(w http.ResponseWriter, r *http.Request) {
	names := []string{"ptype", "v0", "v1", "v2", "v3", "v4", "v5", "inactive"}
	q, err := queryParams(r, names, nil)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f := rbac.Filter{Type: q.Get("ptype")}
	for i := range rbac.MaxValues {
		f.Values = append(f.Values, q.Get("v"+strconv.Itoa(i)))
	}
	f.Values = rbac.Trim(f.Values)
	if s := q.Get("inactive"); s != "" {
		if f.Inactive, err = strconv.ParseBool(s); err != nil {
			h.fail(w, r, invalidParameter("inactive", "inactive must be true or false"))
			return
		}
	}
	rules, err := h.authz.Rules(r.Context(), f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	views := make([]RuleView, 0, len(rules))
	for i := range rules {
		views = append(views, NewRuleView(&rules[i]))
	}
	WriteJSON(w, http.StatusOK, RuleList{Rules: views})
}

// addPolicies adds rules, active, in one transaction: 201 {"changed": n}
// with the number of rules added or reactivated, 200 {"changed": 0} when
// every rule was active already; 422 [TypeInvalidRule] when a rule does
// not fit the table or the model (nothing is added).
func (h *Handler) addPolicies(w http.ResponseWriter, r *http.Request) {
	var req AddRulesRequest
	if err := DecodeJSON(w, r, &req, h.maxBody); err != nil {
		h.fail(w, r, err)
		return
	}
	one := req.Type != "" || req.Values != nil
	switch {
	case one && req.Rules != nil:
		h.fail(w, r, malformed(http.StatusBadRequest, "give ptype and values, or rules, not both"))
		return
	case !one && len(req.Rules) == 0:
		h.fail(w, r, malformed(http.StatusBadRequest, "give ptype and values, or a non-empty list of rules"))
		return
	case one:
		req.Rules = []RuleRequest{{Type: req.Type, Values: req.Values}}
	}
	rules := make([]rbac.Rule, len(req.Rules))
	for i, rr := range req.Rules {
		rules[i] = rbac.Rule{Type: rr.Type, Values: rr.Values}
	}
	r = actorContext(r)
	n, err := h.authz.AddRules(r.Context(), rules...)
	if err != nil {
		h.policyFailed(w, r, err)
		return
	}
	status := http.StatusCreated
	if n == 0 {
		status = http.StatusOK
	}
	WriteJSON(w, status, ChangedResponse{Changed: n})
}

// removePolicy deactivates the rule with the body's id (200 with its
// view; 404 when there is none), keeping it and its history, or deletes
// the active rule identical to the body's ptype and values (200
// {"removed": n}, n 0 or 1).
func (h *Handler) removePolicy(w http.ResponseWriter, r *http.Request) {
	var req RemoveRuleRequest
	if err := DecodeJSON(w, r, &req, h.maxBody); err != nil {
		h.fail(w, r, err)
		return
	}
	byValues := req.Type != "" || req.Values != nil
	switch {
	case req.ID != 0 && byValues:
		h.fail(w, r, malformed(http.StatusBadRequest, "give id, or ptype and values, not both"))
		return
	case req.ID == 0 && !byValues:
		h.fail(w, r, malformed(http.StatusBadRequest, "give id, or ptype and values"))
		return
	}
	r = actorContext(r)
	ctx := r.Context()
	if !byValues {
		notFound := Problem{Status: http.StatusNotFound, Detail: "no such rule"}
		if req.ID < 0 {
			h.failWith(w, r, notFound, rbac.ErrNotFound)
			return
		}
		rule, err := h.authz.SetRuleActive(ctx, req.ID, false)
		if errors.Is(err, rbac.ErrNotFound) {
			h.failWith(w, r, notFound, err)
			return
		}
		if err != nil {
			h.policyFailed(w, r, err)
			return
		}
		WriteJSON(w, http.StatusOK, NewRuleView(&rule))
		return
	}
	// A rule that cannot exist cannot be removed: say why, as adding it
	// would.
	rule, err := rbac.NewRule(req.Type, req.Values...)
	if err != nil {
		h.policyFailed(w, r, err)
		return
	}
	n, err := h.authz.RemoveRules(ctx, rbac.Filter{Type: rule.Type, Values: rule.Values, Exact: true})
	if err != nil {
		h.policyFailed(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, RemovedResponse{Removed: n})
}

// policyFailed answers a failed policy change, logging the precise reason
// of a refused rule, which the problem does not quote.
func (h *Handler) policyFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, rbac.ErrInvalidRule) {
		h.log.InfoContext(r.Context(), "authhttp: policy rule refused", "error", err)
	}
	h.fail(w, r, err)
}
