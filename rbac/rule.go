package rbac

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/cedrina/cedrina/internal/errs"
	"github.com/cedrina/cedrina/store"
)

// Limits of a rule, those of the casbin_rules table.
const (
	// MaxValues is how many values a rule has at most (v0 to v5).
	MaxValues = 6
	// MaxValueLen is a value's longest length in bytes (VARCHAR(256) holds
	// 256 characters; bytes are stricter and need no counting of runes).
	MaxValueLen = 256
	// MaxTypeLen is a rule type's longest length (ptype VARCHAR(10)).
	MaxTypeLen = 10
	// MaxActorLen is the longest created_by / updated_by (VARCHAR(100)).
	MaxActorLen = 100
)

var (
	// ErrInvalidRule: a rule the table cannot hold or the model cannot
	// use (an empty or over-long value, NUL, invalid UTF-8, a bad type).
	ErrInvalidRule = errors.New("rbac: invalid rule")
	// ErrNotFound: no rule has that id.
	ErrNotFound = errs.Kind("rbac: rule not found", store.ErrNotFound)
	// ErrNotLoaded: the Authorizer has no usable policy (its last load
	// failed); every check denies until a reload succeeds.
	ErrNotLoaded = errors.New("rbac: policy not loaded")
)

// Rule is one row of casbin_rules: a Casbin policy line (Type "p") or role
// link (Type "g", "g2", ...) with who wrote it and whether it is enforced.
type Rule struct {
	// ID is assigned by the store.
	ID int64 `json:"id"`
	// Type is Casbin's ptype: "p" for a permission, "g" for a role link
	// (member, role[, domain]).
	Type string `json:"ptype"`
	// Values are v0 to v5 in order, without trailing empty values (the
	// table stores those as NULL). A model whose definition has more
	// fields reads the missing ones as "".
	Values []string `json:"values"`
	// Active is is_active: an inactive rule is kept (with its history)
	// but never enforced.
	Active bool `json:"is_active"`
	// CreatedAt, UpdatedAt, CreatedBy and UpdatedBy are set by the store;
	// the actors come from the context (audit.ContextWithActor) and are
	// "" when none acted.
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	CreatedBy string    `json:"created_by,omitempty"`
	UpdatedBy string    `json:"updated_by,omitempty"`
}

// Line returns the rule as Casbin spells a policy line: type and values
// joined by ", ".
func (r Rule) Line() string {
	return strings.Join(append([]string{r.Type}, r.Values...), ", ")
}

// Same reports whether r and o are the same policy line (type and values;
// not id, state or history).
func (r Rule) Same(o Rule) bool { return r.Type == o.Type && slices.Equal(r.Values, o.Values) }

// NewRule returns the rule of type typ with values, trailing empty values
// dropped, after Validate.
func NewRule(typ string, values ...string) (Rule, error) {
	r := Rule{Type: typ, Values: Trim(values)}
	return r, r.Validate()
}

// Trim returns values without their trailing empty strings (a new slice).
func Trim(values []string) []string {
	n := len(values)
	for n > 0 && values[n-1] == "" {
		n--
	}
	return slices.Clone(values[:n])
}

// Validate checks what every store requires of a rule: a type of 1 to
// MaxTypeLen characters a-z, 0-9 and _ starting with a letter; 1 to
// MaxValues values, the last one non-empty, each valid UTF-8 of at most
// MaxValueLen bytes without NUL or other control characters. Errors
// match ErrInvalidRule.
func (r Rule) Validate() error {
	if err := validType(r.Type); err != nil {
		return err
	}
	switch {
	case len(r.Values) == 0:
		return fmt.Errorf("%w: no values", ErrInvalidRule)
	case len(r.Values) > MaxValues:
		return fmt.Errorf("%w: %d values, at most %d", ErrInvalidRule, len(r.Values), MaxValues)
	case r.Values[len(r.Values)-1] == "":
		return fmt.Errorf("%w: trailing empty value", ErrInvalidRule)
	}
	for i, v := range r.Values {
		if err := validValue(v); err != nil {
			return fmt.Errorf("%w: v%d %v", ErrInvalidRule, i, err)
		}
	}
	return nil
}

func validType(t string) error {
	if t == "" || len(t) > MaxTypeLen || t[0] < 'a' || t[0] > 'z' {
		return fmt.Errorf("%w: type %q: 1 to %d characters a-z, 0-9, _ starting with a letter", ErrInvalidRule, t, MaxTypeLen)
	}
	for i := 1; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return fmt.Errorf("%w: type %q: 1 to %d characters a-z, 0-9, _ starting with a letter", ErrInvalidRule, t, MaxTypeLen)
		}
	}
	return nil
}

func validValue(v string) error {
	if len(v) > MaxValueLen {
		return fmt.Errorf("is %d bytes, at most %d", len(v), MaxValueLen)
	}
	if !utf8.ValidString(v) {
		return errors.New("is not valid UTF-8")
	}
	for _, c := range v {
		if c < 0x20 || c == 0x7f {
			return errors.New("contains a control character")
		}
	}
	return nil
}

// ValidActor checks an actor as created_by / updated_by hold it: at most
// MaxActorLen bytes of valid UTF-8 without control characters.
func ValidActor(a string) error {
	if len(a) > MaxActorLen {
		return fmt.Errorf("%w: actor is %d bytes, at most %d", ErrInvalidRule, len(a), MaxActorLen)
	}
	if err := validValue(a); err != nil {
		return fmt.Errorf("%w: actor %v", ErrInvalidRule, err)
	}
	return nil
}

// Filter selects rules. Zero fields do not filter.
type Filter struct {
	// Type selects one rule type ("p", "g").
	Type string
	// Values selects by position: Values[i], when not "", must equal
	// v<i>. (Casbin's field filters: a filter from field 2 is Values
	// with two leading "".)
	Values []string
	// Exact makes Values the rule's whole value list: an empty value
	// matches only an empty one, and the rule has no value beyond them.
	Exact bool
	// Inactive includes inactive rules; by default only active ones.
	Inactive bool
}

// Match reports whether r passes f.
func (f Filter) Match(r Rule) bool {
	if f.Type != "" && r.Type != f.Type || !f.Inactive && !r.Active {
		return false
	}
	if f.Exact {
		return slices.Equal(r.Values, Trim(f.Values))
	}
	for i, v := range f.Values {
		if v == "" {
			continue
		}
		if i >= len(r.Values) || r.Values[i] != v {
			return false
		}
	}
	return true
}
