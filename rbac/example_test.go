package rbac_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/cedrina/cedrina/audit"
	"github.com/cedrina/cedrina/rbac"
	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/user"
)

// The default model: a role hierarchy and path patterns.
func ExampleRBAC() {
	ctx := context.Background()
	az, err := rbac.New(ctx, rbac.Config{Store: rbac.NewMemoryStore()})
	if err != nil {
		panic(err)
	}
	defer az.Close(ctx)
	// Changes name their actor, recorded as created_by / updated_by.
	ctx = audit.ContextWithActor(ctx, audit.Actor{Name: "bootstrap"})
	_, err = az.AddRules(ctx,
		rbac.Rule{Type: "p", Values: []string{"admin", "/admin/*", "*"}},
		rbac.Rule{Type: "p", Values: []string{"user", "/docs/:id", "GET"}},
		rbac.Rule{Type: "g", Values: []string{"admin", "user"}},    // admin holds user's permissions
		rbac.Rule{Type: "g", Values: []string{"user:42", "admin"}}, // and user 42 is an admin
	)
	if err != nil {
		panic(err)
	}
	fmt.Println(az.Allowed(ctx, "user", "/docs/7", "GET"))
	fmt.Println(az.Allowed(ctx, "user", "/docs/7/raw", "GET")) // :id is one segment
	fmt.Println(az.Allowed(ctx, "admin", "/docs/7", "GET"))    // inherited
	fmt.Println(az.Allowed(ctx, "user:42", "/admin/users/9", "DELETE"))
	// A signed-in user checks as its role (lower-cased) and as itself.
	p := &session.Principal{UserID: 42, Role: user.RoleUser}
	fmt.Println(az.AllowedPrincipal(ctx, p, "/admin/users/9", "DELETE"))

	// A revocation holds on the very next check.
	if _, err := az.RemoveRole(ctx, "user:42", "admin"); err != nil {
		panic(err)
	}
	fmt.Println(az.AllowedPrincipal(ctx, p, "/admin/users/9", "DELETE"))
	// Output:
	// true
	// false
	// true
	// true
	// true
	// false
}

// The multi-tenant model: roles hold within one domain.
func ExampleDomains() {
	ctx := context.Background()
	az, err := rbac.New(ctx, rbac.Config{Store: rbac.NewMemoryStore(), Model: rbac.Domains()})
	if err != nil {
		panic(err)
	}
	defer az.Close(ctx)
	if _, err := az.Grant(ctx, "owner", "/projects/*", "*", "acme"); err != nil {
		panic(err)
	}
	if _, err := az.AddRole(ctx, "user:42", "owner", "acme"); err != nil {
		panic(err)
	}
	fmt.Println(az.Allowed(ctx, "user:42", "/projects/7", "DELETE", "acme"))
	fmt.Println(az.Allowed(ctx, "user:42", "/projects/7", "DELETE", "globex"))
	// Output:
	// true
	// false
}

// The original system's attribute model: department, location and time
// of day, "*" in a rule matching any value.
func ExampleAttributes() {
	ctx := context.Background()
	az, err := rbac.New(ctx, rbac.Config{Store: rbac.NewMemoryStore(), Model: rbac.Attributes()})
	if err != nil {
		panic(err)
	}
	defer az.Close(ctx)
	if _, err := az.Grant(ctx, "analyst", "/reports", "GET", "finance", "*", "business_hours"); err != nil {
		panic(err)
	}
	fmt.Println(az.Allowed(ctx, "analyst", "/reports", "GET", "finance", "eu", "business_hours"))
	fmt.Println(az.Allowed(ctx, "analyst", "/reports", "GET", "finance", "eu", "night"))
	// Output:
	// true
	// false
}

// Require guards a route: the pattern's path (with {id} as :id) is the
// object, the method the action.
func ExampleAuthorizer_Require() {
	ctx := context.Background()
	az, err := rbac.New(ctx, rbac.Config{Store: rbac.NewMemoryStore()})
	if err != nil {
		panic(err)
	}
	defer az.Close(ctx)
	if _, err := az.Grant(ctx, "admin", "/admin/*", "*"); err != nil {
		panic(err)
	}
	deleteUser := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	mux := http.NewServeMux()
	// Behind the session middleware (authhttp's Handler.RequireAuth), which
	// puts the session.Principal in the request's context.
	mux.Handle("DELETE /admin/users/{id}", az.Require("", "")(deleteUser))
	fmt.Println(rbac.Subject(user.RoleAdmin))
	// Output: admin
}
