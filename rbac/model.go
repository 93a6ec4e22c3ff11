package rbac

import (
	"embed"
	"fmt"
	"strings"

	"github.com/casbin/casbin/v2/model"
)

//go:embed models/*.conf
var modelFiles embed.FS

// kind is what the decision index knows of a model's matcher.
type kind int

const (
	// kindCasbin: a model of the host's; decisions go through Casbin.
	kindCasbin kind = iota
	// kindRBAC: g(r.sub, p.sub) && keyMatch2(r.obj, p.obj) && (r.act == p.act || p.act == "*").
	kindRBAC
	// kindDomains: kindRBAC within a domain (g with three fields, r.dom == p.dom).
	kindDomains
	// kindABAC: the original attribute model: exact object and action,
	// three attributes each matching itself or a policy's *.
	kindABAC
)

// Model is an access control model: Casbin model text, and, for the
// models this package ships, what lets the Authorizer decide without
// evaluating the matcher. Build one with [RBAC], [Domains], [Attributes]
// or [ParseModel]; the zero Model means RBAC.
type Model struct {
	name string
	text string
	kind kind
	// attrs is how many values Allowed takes after the action.
	attrs int
}

// RBAC returns the default model: role-based access with a role hierarchy
// and path patterns. A request is (subject, object, action). Policies are
// "p, role, object pattern, action" and role links "g, member, role":
//
//	p, admin, /admin/*, *        admins may do anything under /admin/
//	p, user, /me, GET            users may read /me
//	p, user, /docs/:id, read     users may read any single document
//	g, admin, user               admin holds every permission of user
//	g, user:42, editor           user 42 also holds editor
//
// Objects match as Casbin's keyMatch2: ":name" matches one path segment
// (one or more characters other than "/"), "/*" the rest of the path
// (possibly empty); the rest of a pattern is a regular expression
// anchored at both ends, so "." matches any character. An action of "*"
// matches every action. A role inherits through at most 10 links, as
// Casbin's role manager does.
func RBAC() Model { return builtin("rbac", kindRBAC, 0) }

// Domains returns the multi-tenant model: RBAC within a domain. A request
// is (subject, domain, object, action); Allowed takes the domain as its
// one attribute: Allowed(ctx, "user:42", "/projects/7", "read", "acme").
// Policies are "p, role, domain, object pattern, action" and role links
// "g, member, role, domain", which hold only in that domain:
//
//	p, owner, acme, /projects/*, *
//	g, user:42, owner, acme
func Domains() Model { return builtin("domains", kindDomains, 1) }

// Attributes returns the original system's attribute model. A request is
// (subject, object, action, department, location, time of day); Allowed
// takes the last three as attributes, and a request passes "*" for an
// attribute it does not use (missing trailing attributes are "*").
// Policies name all six; a policy's "*" matches any request value of that
// attribute. Objects and actions match exactly:
//
//	p, admin, /admin/users, GET, *, *, *
//	p, analyst, /reports, GET, finance, *, business_hours
//	g, admin, analyst
func Attributes() Model { return builtin("abac", kindABAC, 3) }

func builtin(name string, k kind, attrs int) Model {
	b, err := modelFiles.ReadFile("models/" + name + ".conf")
	if err != nil {
		panic(err) // embedded at build time
	}
	return Model{name: name, text: string(b), kind: k, attrs: attrs}
}

// ParseModel returns a model of the host's own from Casbin model text.
// Its decisions go through Casbin's Enforce on a policy rebuilt on every
// change (never stale, but as slow as Casbin: about 5 ms at 10,000
// rules); the shipped models are decided by an index instead. Allowed
// passes its arguments to the request in order: subject, object, action,
// then the attributes.
func ParseModel(text string) (Model, error) {
	if _, err := model.NewModelFromString(text); err != nil {
		return Model{}, fmt.Errorf("rbac: model: %w", err)
	}
	return Model{name: "custom", text: text, kind: kindCasbin, attrs: -1}, nil
}

// Name is "rbac", "domains", "abac" or "custom".
func (m Model) Name() string { return m.orDefault().name }

// Text is the model's Casbin text.
func (m Model) Text() string { return m.orDefault().text }

func (m Model) orDefault() Model {
	if m.text == "" {
		return RBAC()
	}
	return m
}

// casbin parses the model's text.
func (m Model) casbin() (model.Model, error) {
	return model.NewModelFromString(m.orDefault().text)
}

// policyValues returns the p rule that grants the request (subject,
// object, action, attrs): its values in the model's policy order.
func (m Model) policyValues(subject, object, action string, attrs []string) ([]string, error) {
	m = m.orDefault()
	switch m.kind {
	case kindDomains:
		if len(attrs) != 1 {
			return nil, fmt.Errorf("%w: the domains model takes the domain as its one attribute", ErrInvalidRule)
		}
		return []string{subject, attrs[0], object, action}, nil
	case kindABAC:
		if len(attrs) > 3 {
			return nil, fmt.Errorf("%w: the attribute model takes at most 3 attributes", ErrInvalidRule)
		}
		v := []string{subject, object, action, "*", "*", "*"}
		copy(v[3:], attrs)
		return v, nil
	case kindRBAC:
		if len(attrs) != 0 {
			return nil, fmt.Errorf("%w: the rbac model takes no attributes", ErrInvalidRule)
		}
	}
	return append([]string{subject, object, action}, attrs...), nil
}

// CheckRule refuses, with an error wrapping [ErrInvalidRule], a rule the
// model cannot use: a p rule whose object pattern is not a valid regular
// expression once keyMatch2 has rewritten it (Casbin would fail every
// decision that reaches it), a p or g rule with the wrong number of
// values for the shipped models, a rule type the model has not. The
// Authorizer refuses such rules when they are added, and skips (and
// logs) those it loads: a table may hold another model's rules, such as
// the original system's attribute rules under [RBAC]. Any rule passes a
// model from [ParseModel].
func (m Model) CheckRule(r Rule) error {
	m = m.orDefault()
	if m.kind == kindCasbin {
		return nil
	}
	arity := map[kind]int{kindRBAC: 3, kindDomains: 4, kindABAC: 6}[m.kind]
	garity := 2
	if m.kind == kindDomains {
		garity = 3
	}
	switch r.Type {
	case "p":
		if len(r.Values) > arity || len(r.Values) < arity && m.kind != kindABAC {
			return fmt.Errorf("%w: the %s model's p rules have %d values, not %d", ErrInvalidRule, m.name, arity, len(r.Values))
		}
		if r.Values[0] == "" {
			return fmt.Errorf("%w: empty subject", ErrInvalidRule)
		}
		if m.kind != kindABAC {
			if _, err := compilePattern(r.Values[arity-2]); err != nil {
				return fmt.Errorf("%w: object pattern %q: %v", ErrInvalidRule, r.Values[arity-2], err)
			}
		}
	case "g":
		if len(r.Values) != garity {
			return fmt.Errorf("%w: the %s model's g rules have %d values, not %d", ErrInvalidRule, m.name, garity, len(r.Values))
		}
		for _, v := range r.Values {
			if v == "" {
				return fmt.Errorf("%w: empty value in a role link", ErrInvalidRule)
			}
		}
	default:
		return fmt.Errorf("%w: the %s model has no rules of type %q", ErrInvalidRule, m.name, r.Type)
	}
	return nil
}

// request returns the Casbin request of (subject, object, action,
// attrs) for the model: the values of the policy that would grant it, in
// the same order. ok is false when attrs do not fit the model.
func (m Model) request(subject, object, action string, attrs []string) ([]any, bool) {
	v, err := m.policyValues(subject, object, action, attrs)
	if err != nil {
		return nil, false
	}
	r := make([]any, len(v))
	for i, x := range v {
		r[i] = x
	}
	return r, true
}

// keyMatch2Pattern rewrites a keyMatch2 pattern into the regular
// expression Casbin matches it as.
func keyMatch2Pattern(p string) string {
	p = strings.ReplaceAll(p, "/*", "/.*")
	return "^" + keyMatch2Param.ReplaceAllString(p, "$1[^/]+$2") + "$"
}
