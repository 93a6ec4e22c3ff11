package rbac

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/cedrina/cedrina/session"
)

// RequireConfig configures [Authorizer.RequireWith]. The zero value is
// the default.
type RequireConfig struct {
	// Attributes returns the request's attributes for the model (the
	// domain for Domains; department, location and time of day for
	// Attributes). Default none.
	Attributes func(r *http.Request) []string
	// ErrorFunc writes the refusal: status is 401 when the request has
	// no principal (the middleware is not behind authentication), 403
	// when it is denied. Default: [WriteError].
	ErrorFunc func(w http.ResponseWriter, r *http.Request, status int)
}

// Require returns middleware that lets a request through only when its
// signed-in principal (session.PrincipalFromContext: put it behind the
// session middleware, authhttp's RequireAuth) may do action on object
// ([Authorizer.AllowedPrincipal]). An empty object is the request's
// route: the path of the ServeMux pattern that matched it, with each
// wildcard {name} written :name and {name...} written *, so
// "GET /admin/users/{id}" checks "/admin/users/:id", which the rule
// object "/admin/users/:id" (or "/admin/*") matches, whatever id the
// client sent. An empty action is the request's method (HEAD checks as
// GET, whose handler ServeMux runs for it). Denials are 403
// problem+json and are recorded like any denial.
func (a *Authorizer) Require(object, action string) func(http.Handler) http.Handler {
	return a.RequireWith(object, action, RequireConfig{})
}

// RequireWith is [Authorizer.Require] with a configuration.
func (a *Authorizer) RequireWith(object, action string, cfg RequireConfig) func(http.Handler) http.Handler {
	fail := cfg.ErrorFunc
	if fail == nil {
		fail = func(w http.ResponseWriter, r *http.Request, status int) { WriteError(w, r, status) }
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := session.PrincipalFromContext(r.Context())
			if !ok {
				fail(w, r, http.StatusUnauthorized)
				return
			}
			obj, act := object, action
			if obj == "" {
				obj = RouteObject(r)
			}
			if act == "" {
				act = r.Method
				if act == http.MethodHead {
					// ServeMux serves HEAD with a GET route's handler: it
					// reads what GET reads.
					act = http.MethodGet
				}
			}
			var attrs []string
			if cfg.Attributes != nil {
				attrs = cfg.Attributes(r)
			}
			if !a.AllowedPrincipal(r.Context(), p, obj, act, attrs...) {
				fail(w, r, http.StatusForbidden)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// RouteObject returns the object of r's route: the path of the ServeMux
// pattern that matched r (r.Pattern without its method and host), each
// {name} written :name and each {name...} written *; {$} is dropped. ""
// when no pattern matched.
func RouteObject(r *http.Request) string {
	p := r.Pattern
	if i := strings.IndexByte(p, ' '); i >= 0 {
		p = strings.TrimLeft(p[i+1:], " \t")
	}
	if i := strings.IndexByte(p, '/'); i > 0 {
		p = p[i:] // drop a host
	}
	if !strings.Contains(p, "{") {
		return p
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(p, '{')
		if i < 0 {
			b.WriteString(p)
			return b.String()
		}
		j := strings.IndexByte(p[i:], '}')
		if j < 0 {
			b.WriteString(p)
			return b.String()
		}
		b.WriteString(p[:i])
		name := p[i+1 : i+j]
		switch {
		case name == "$":
		case strings.HasSuffix(name, "..."):
			b.WriteByte('*')
		default:
			b.WriteString(":" + name)
		}
		p = p[i+j+1:]
	}
}

// problem is an RFC 9457 body.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// WriteError writes the middleware's refusal: 403 Forbidden ("you may
// not do this") or 401 Unauthorized, as application/problem+json with
// Cache-Control: no-store. It names neither the rule nor the role.
func WriteError(w http.ResponseWriter, _ *http.Request, status int) {
	p := problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: "you are not allowed to do this"}
	if status == http.StatusUnauthorized {
		p.Detail = "valid credentials are required"
	}
	body, _ := json.Marshal(p)
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}
