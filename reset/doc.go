// Package reset lets users who forgot their password set a new one
// through a link sent to their address.
package reset
