package rbac

import (
	"context"
	"time"
)

// Store keeps the rules (the casbin_rules table). MemoryStore,
// store/postgres and rbac/gormadapter implement it, and
// store/storetest.RunRuleStore checks implementations alike.
//
// The by argument of the changing methods is the actor
// (audit.Actor.String, "" for none), recorded as created_by or
// updated_by; now is the change's time (created_at, updated_at). Rules
// passed in are valid (Rule.Validate); a store may refuse others with
// ErrInvalidRule. A change that returns an error changed nothing.
//
// Every change that alters what is enforced (the set of active rules)
// notifies the store's watchers, if it has any, after it is durable (in
// PostgreSQL: NOTIFY inside the same transaction, delivered at commit).
type Store interface {
	// Rules returns the rules that match f, in id order.
	Rules(ctx context.Context, f Filter) ([]Rule, error)

	// Add makes each of rules an active rule, in one transaction: a rule
	// that is already active (same type and values) is left alone; one
	// that exists only inactive is made active again (the one with the
	// lowest id; updated_by = by); any other is inserted (created_by and
	// updated_by = by). It returns how many rules it inserted or
	// reactivated. Duplicates within rules count once.
	Add(ctx context.Context, rules []Rule, by string, now time.Time) (int, error)

	// Remove deletes the active rules that match f (f.Inactive is
	// ignored: inactive rules are kept), in one statement, and returns
	// how many it deleted. f.Type must be set.
	Remove(ctx context.Context, f Filter, by string, now time.Time) (int, error)

	// SetActive sets is_active of the rule with id (updated_by = by,
	// updated_at = now) and returns it as stored. Setting it to what it
	// already is changes nothing and returns the rule (no notification).
	// ErrNotFound when no rule has id.
	SetActive(ctx context.Context, id int64, active bool, by string, now time.Time) (Rule, error)

	// Replace makes rules the complete set of active rules, in one
	// transaction: active rules not among them are deleted, rules not
	// yet active are added as Add would. Inactive rules stay. Casbin's
	// SavePolicy.
	Replace(ctx context.Context, rules []Rule, by string, now time.Time) error
}

// Watcher tells an Authorizer that the rules changed elsewhere (another
// process, another Authorizer on the same store). store/postgres's
// PolicyWatcher listens for the store's notifications; MemoryStore is its
// own watcher.
type Watcher interface {
	// Subscribe calls changed after each change to the rules it learns
	// of, and whenever it may have missed some (after reconnecting), until
	// cancel is called. changed must not block for long; calls may be
	// coalesced.
	Subscribe(changed func()) (cancel func())
}
