// Package rbac decides who may do what, on Casbin v2 and the casbin_rules
// table, and administers the rules.
//
// # Models
//
// Three models ship embedded, each Casbin model text with a decision
// index that answers exactly as Casbin's Enforce would:
//
//   - [RBAC] (the default): (subject, object, action); a role hierarchy
//     through "g" rules and objects as keyMatch2 path patterns
//     ("/docs/:id", "/admin/*"), "*" as any action.
//   - [Domains]: the same within a tenant: (subject, domain, object,
//     action), roles held per domain.
//   - [Attributes]: the original system's attribute model: (subject,
//     object, action, department, location, time of day), "*" in a policy
//     matching any value.
//
// [ParseModel] takes any other Casbin model; its decisions go through
// Casbin itself.
//
// # Subjects
//
// A request's subject is the user's role, lower-cased ([Subject]: the role
// ADMIN checks as "admin"), as the original system's stored rules spell
// it; users.role stays the coarse role the session carries. Roles above
// it, and any further roles of one user, are "g" rules: "g, admin, user"
// (admin holds every permission of user), "g, user:42, editor" (user 42
// also holds editor, [UserSubject]). [Authorizer.AllowedPrincipal] checks
// a signed-in principal as both its role and itself.
//
// # Deciding
//
//	st := rbac.NewMemoryStore() // or store/postgres: db.Rules()
//	az, err := rbac.New(ctx, rbac.Config{Store: st, Recorder: auditWriter})
//	az.AddRules(ctx, rbac.Rule{Type: "p", Values: []string{"admin", "/admin/*", "*"}})
//	if az.Allowed(ctx, "admin", "/admin/users/7", "DELETE") { ... }
//
// Deny by default: only an active rule allows. Fail closed: when the
// rules cannot be loaded (at New, or on a later reload) every check
// denies until a reload succeeds ([Authorizer.Err] says why), and a
// request the model cannot take (the wrong number of attributes) is
// denied. Denials are recorded as authorization_denied audit events.
//
// A plain Casbin decision evaluates its matcher against every policy
// line (milliseconds at 10,000 rules), and Casbin's cached enforcers keep
// answering from a cache that most changes do not clear, so a revoked
// permission goes on being granted. The Authorizer does neither: on every
// change it reloads the active rules and rebuilds an index of each
// subject's permissions (for each subject, the roles it reaches through
// at most 10 links, Casbin's limit; for each role, its literal objects in
// maps and its patterns compiled once), then swaps it in atomically. A
// decision is a few map lookups and, for patterns, precompiled regular
// expression matches behind a literal-prefix check; an allowed decision
// allocates nothing. The change methods rebuild before they return, so
// the very next check on this instance sees the change; other instances
// rebuild when their [Watcher] reports it (store/postgres's
// PolicyWatcher, on PostgreSQL LISTEN/NOTIFY, within milliseconds, and
// again after every reconnection, since notifications may have been
// lost while disconnected). The differential tests compare the index
// with Casbin's Enforce on thousands of random policies and requests for
// each shipped model.
//
// # Administration
//
// [Authorizer.Grant], [Authorizer.Revoke], [Authorizer.AddRole],
// [Authorizer.RemoveRole], [Authorizer.AddRules], [Authorizer.RemoveRules]
// and [Authorizer.SetRuleActive] (deactivate a rule without deleting it:
// it stays in the table with its history and is no longer enforced)
// write through the [Store], record the acting user of the context
// (audit.ContextWithActor) as created_by / updated_by, rebuild the index
// and record a policy_changed event. A users.role change is
// user.Service.SetRole's, which records the actor too.
//
// # HTTP
//
// [Authorizer.Require] guards a handler behind the session middleware:
// the route's pattern (or a given object) and the method are checked for
// the signed-in principal; a denial is 403 problem+json.
//
// # Stores
//
// [MemoryStore] keeps rules in one process, with is_active, created_by
// and updated_by as the table keeps them; store/postgres keeps them in
// casbin_rules (sqlx); the nested module rbac/gormadapter does so through
// Casbin's GORM adapter for hosts that use GORM. All pass
// store/storetest.RunRuleStore. [NewAdapter] turns any Store into a Casbin
// adapter, for hosts that also drive Casbin's own enforcer.
package rbac
