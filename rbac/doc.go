// Package rbac decides who may do what, on Casbin v2 and the casbin_rules
// table.
package rbac
