package user

import (
	"errors"
	"fmt"
)

// Role is the coarse authorization role stored on the account (users.role,
// VARCHAR(20), default USER). Fine-grained permissions belong to the rbac
// package; the role is its subject's group.
//
// A valid role is 1 to 20 characters of A-Z, 0-9 and _, starting with a
// letter. Hosts may define roles of their own beside the constants.
type Role string

// Roles the SDK knows by name.
const (
	RoleUser  Role = "USER"
	RoleAdmin Role = "ADMIN"
)

// Tier is the account's service tier (users.tier, VARCHAR(20), default
// FREE); rate limits may depend on it. Same syntax as [Role].
type Tier string

// Tiers the SDK knows by name.
const (
	TierFree       Tier = "FREE"
	TierPremium    Tier = "PREMIUM"
	TierEnterprise Tier = "ENTERPRISE"
)

// ErrInvalidRole and ErrInvalidTier report a malformed role or tier.
var (
	ErrInvalidRole = errors.New("user: invalid role")
	ErrInvalidTier = errors.New("user: invalid tier")
)

// Validate reports whether r is a well-formed role.
func (r Role) Validate() error {
	if !validToken(string(r)) {
		return fmt.Errorf("%w: %q", ErrInvalidRole, r)
	}
	return nil
}

// Validate reports whether t is a well-formed tier.
func (t Tier) Validate() error {
	if !validToken(string(t)) {
		return fmt.Errorf("%w: %q", ErrInvalidTier, t)
	}
	return nil
}

// validToken reports whether s matches ^[A-Z][A-Z0-9_]{0,19}$.
func validToken(s string) bool {
	if len(s) == 0 || len(s) > 20 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
