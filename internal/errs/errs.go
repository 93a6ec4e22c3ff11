// Package errs builds the SDK's errors so that each message reads once.
//
// Two shapes cover every package:
//
//   - A sentinel that belongs to a wider class, such as user.ErrUsernameTaken
//     (a store.ErrConflict) or session.ErrExpired (a
//     session.ErrUnauthenticated), is made with [Kind]: its message is its
//     own ("user: username taken"), not its own followed by each class's,
//     and errors.Is still matches every class.
//   - A refused configuration is a [*Config] error: "pkg: Type.Field:
//     problem", one format in every package, whatever the field's depth.
package errs

import (
	"errors"
	"fmt"
	"strings"
)

// kind is a sentinel with classes.
type kind struct {
	msg     string
	classes []error
}

func (k *kind) Error() string   { return k.msg }
func (k *kind) Unwrap() []error { return k.classes }

// Kind returns a sentinel error whose message is msg and that matches each
// of classes with errors.Is.
func Kind(msg string, classes ...error) error {
	return &kind{msg: msg, classes: classes}
}

// Config is a configuration setting refused by a constructor. Its message
// is "Pkg: Field: Problem", as in
// "session: Config.Issuer: required" or
// "user: Config.Password.MinLength: 4 is below 8".
type Config struct {
	Pkg     string // the package, "user"
	Field   string // the path from the argument's type, "Config.Lockout.Duration"
	Problem string // what is wrong, without a package prefix
	Err     error  // the underlying error, if any, for errors.Is and errors.As
}

func (e *Config) Error() string { return e.Pkg + ": " + e.Field + ": " + e.Problem }
func (e *Config) Unwrap() error { return e.Err }

// Configf returns a *Config error for field of package pkg.
func Configf(pkg, field, format string, args ...any) error {
	return &Config{Pkg: pkg, Field: field, Problem: fmt.Sprintf(format, args...)}
}

// ConfigErr returns a *Config error for field whose problem is err. The
// message drops err's own "pkg: " prefix, so that it is not repeated; a
// *Config err (a nested setting) is re-rooted under field instead:
// ConfigErr("user", "Config.Password", <PasswordPolicy.MinLength error>)
// reads "user: Config.Password.MinLength: ...".
func ConfigErr(pkg, field string, err error) error {
	var c *Config
	if errors.As(err, &c) && c.Pkg == pkg {
		sub := c.Field
		if _, rest, ok := strings.Cut(sub, "."); ok {
			sub = rest
		} else {
			sub = ""
		}
		f := field
		if sub != "" {
			f = field + "." + sub
		}
		return &Config{Pkg: pkg, Field: f, Problem: c.Problem, Err: c.Err}
	}
	return &Config{Pkg: pkg, Field: field, Problem: Trim(pkg, err), Err: err}
}

// Setting returns a *Config error for field, a setting whose type
// belongs to another package (a ratelimit.Policy in reset.Config), from
// the error that package's validation gave: a *Config error of any
// package is re-rooted under field, its own type's name dropped, so that
// Setting("reset", "Config.PerAddress", <ratelimit: Policy.Limit: 0 is
// outside 1..10>) reads "reset: Config.PerAddress.Limit: 0 is outside
// 1..10". Any other error is ConfigErr's.
func Setting(pkg, field string, err error) error {
	var c *Config
	if !errors.As(err, &c) {
		return ConfigErr(pkg, field, err)
	}
	f := field
	if _, sub, ok := strings.Cut(c.Field, "."); ok {
		f = field + "." + sub
	}
	return &Config{Pkg: pkg, Field: f, Problem: c.Problem, Err: err}
}

// Trim returns err's message without a leading "pkg: ".
func Trim(pkg string, err error) string {
	return strings.TrimPrefix(err.Error(), pkg+": ")
}

// wrapped is an error with context, read once.
type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg }
func (w *wrapped) Unwrap() error { return w.err }

// Wrap returns err with what was being done, as package pkg's error:
// "pkg: doing: cause", where cause is err's message without its own
// "pkg: " prefix, so that a package's name is not repeated. The result
// matches err with errors.Is and errors.As.
func Wrap(pkg, doing string, err error) error {
	return &wrapped{msg: pkg + ": " + doing + ": " + Trim(pkg, err), err: err}
}
