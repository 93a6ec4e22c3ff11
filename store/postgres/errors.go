package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/lib/pq"

	"github.com/cedrina/cedrina/store"
)

// constraintError is a violated constraint, translated from the driver.
// It matches store.ErrConflict with errors.Is and names the constraint so
// a store can map it to its own sentinel.
type constraintError struct {
	constraint string
	code       string
}

func (e *constraintError) Error() string {
	return fmt.Sprintf("postgres: constraint %q violated (SQLSTATE %s)", e.constraint, e.code)
}

func (e *constraintError) Is(target error) bool { return target == store.ErrConflict }

// constraintName returns the name of the constraint err violated, or "".
func constraintName(err error) string {
	var ce *constraintError
	if errors.As(err, &ce) {
		return ce.constraint
	}
	return ""
}

// translate is the one place where driver errors become the SDK's: no rows
// becomes store.ErrNotFound, a unique (23505), foreign key (23503) or
// exclusion (23P01) violation a *constraintError matching
// store.ErrConflict, and any other driver error a plain error that keeps
// the server's message and SQLSTATE but not the driver's type, nor the
// DETAIL line (which can quote row values). Context errors pass unchanged.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	var pe *pq.Error
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505", "23503", "23P01":
			return &constraintError{constraint: pe.Constraint, code: string(pe.Code)}
		}
	}
	return sanitize(err)
}

// sanitize drops the driver's error type, keeping its message.
func sanitize(err error) error {
	var pe *pq.Error
	if errors.As(err, &pe) {
		return fmt.Errorf("postgres: %s (SQLSTATE %s)", pe.Message, pe.Code)
	}
	return err
}

// passwordInDSN finds the password of a postgres:// URL or key=value
// connection string, even a malformed one.
var passwordInDSN = regexp.MustCompile(`://[^:/@]*:([^@]*)@|password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)`)

// errMalformedDSN replaces an error that quotes the connection string.
var errMalformedDSN = errors.New("malformed connection string (not shown: it may hold a password)")

// redact keeps the connection string's password out of an error. Errors
// from parsing quote the connection string, or part of it, in their
// message, so an error that contains the password, or the URL scheme, is
// replaced whole.
func redact(err error, dsn string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if strings.Contains(msg, "://") || strings.Contains(msg, dsn) {
		return errMalformedDSN
	}
	for _, m := range passwordInDSN.FindAllStringSubmatch(dsn, -1) {
		for _, pw := range m[1:] {
			if pw = strings.Trim(pw, "'"); pw != "" && strings.Contains(msg, pw) {
				return errMalformedDSN
			}
		}
	}
	return err
}
