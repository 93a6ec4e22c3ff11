package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"unicode"

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

// unavailableError is a failure of the database rather than of the data,
// translated from the driver. It matches store.ErrUnavailable with
// errors.Is; its message is the (sanitized) cause's.
type unavailableError struct{ cause error }

func (e *unavailableError) Error() string        { return e.cause.Error() }
func (e *unavailableError) Is(target error) bool { return target == store.ErrUnavailable }
func (e *unavailableError) Unwrap() error        { return e.cause }

// translate is the one place where driver errors become the SDK's: no rows
// becomes store.ErrNotFound, a unique (23505), foreign key (23503) or
// exclusion (23P01) violation a *constraintError matching
// store.ErrConflict, a failure of the database rather than of the data
// (see unavailable) an error matching store.ErrUnavailable, a missing
// table or schema (42P01, 3F000) an error saying to migrate, and any other
// driver error a plain error that keeps the server's message and SQLSTATE
// but not the driver's type, nor the DETAIL line (which can quote row
// values). It reads server errors of any driver (see asServerError), so a
// host's pgx pool behaves as lib/pq's does.
//
// Context errors pass unchanged when ctx, the caller's context, has ended
// (or is nil), and a statement the server cancelled (57014) because ctx
// ended becomes an error matching ctx's error, not store.ErrUnavailable.
// A context error while ctx is still live comes from a deadline of the
// driver's own (pgx's connect_timeout, for one) and is a failure of the
// database: it matches store.ErrUnavailable, not the context error, which
// the caller would take for the end of its own context.
func translate(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, store.ErrConflict):
		return err // translated already, by a nested call
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		if ctx != nil && ctx.Err() == nil {
			return &unavailableError{cause: errors.New(sanitize(err).Error())}
		}
		if se, ok := asServerError(err); ok {
			// A driver that reports both (the server's 57014 and the
			// context's end) keeps the context error, not its own type.
			cerr := context.Canceled
			if errors.Is(err, context.DeadlineExceeded) {
				cerr = context.DeadlineExceeded
			}
			return fmt.Errorf("%w: %w", se.plain(), cerr)
		}
		return err
	}
	se, ok := asServerError(err)
	if !ok {
		if unavailable(err, "") {
			return &unavailableError{cause: err}
		}
		return err
	}
	switch se.code {
	case "23505", "23503", "23P01":
		return &constraintError{constraint: se.constraint, code: se.code}
	case "57014":
		if ctx != nil && ctx.Err() != nil {
			return fmt.Errorf("%w: %w", se.plain(), ctx.Err())
		}
	case "42P01", "3F000":
		return fmt.Errorf("%w: %s", se.plain(), notMigrated)
	}
	// A server error without a SQLSTATE (a driver's own error that has
	// the method but no code) is classified by err's chain.
	if unavailable(err, se.code) {
		return &unavailableError{cause: se.plain()}
	}
	return se.plain()
}

// notMigrated ends the message of an error that a missing table or schema
// caused.
const notMigrated = `the schema is not migrated; run schema.Migrate or "cedrina migrate up"`

// serverError is what translate keeps of an error the server reported,
// whichever driver carried it.
type serverError struct {
	code       string // SQLSTATE
	message    string // the primary message: no DETAIL, HINT or query
	constraint string // the violated constraint, if any
}

// plain is se as an error of no driver's type: the server's message, with
// control characters escaped, and SQLSTATE.
func (se serverError) plain() error {
	msg := cleanMessage(se.message)
	if msg == "" {
		msg = "error without a message"
	}
	if se.code == "" {
		return errors.New("postgres: " + msg)
	}
	return fmt.Errorf("postgres: %s (SQLSTATE %s)", msg, cleanMessage(se.code))
}

// cleanMessage makes s one line of valid UTF-8: control characters (a
// newline that would start a forged log line, a NUL that would cut a C
// string) are written as Go escapes, invalid bytes as U+FFFD.
func cleanMessage(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if !strings.ContainsFunc(s, unicode.IsControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// asServerError finds in err's chain an error the server reported (one
// with a SQLSTATE) and reads its code, message and constraint.
//
// lib/pq's *pq.Error is read directly: this package depends on lib/pq
// anyway (Open uses it). Any other driver's error is found by the method
// SQLState() string, which lib/pq's and pgx's (*pgconn.PgError) errors both
// have, so the package needs no import of pgx. Neither driver has a method
// for the message or the constraint, only exported fields, so for other
// drivers they are read by reflection from the fields pgconn.PgError
// names ConstraintName and Message (or Constraint, lib/pq's name). A
// driver without a Message field gives the first line of its Error():
// drivers put DETAIL on a line of its own, if at all.
func asServerError(err error) (serverError, bool) {
	if pe, ok := errors.AsType[*pq.Error](err); ok && pe != nil {
		return serverError{code: string(pe.Code), message: pe.Message, constraint: pe.Constraint}, true
	}
	se, ok := errors.AsType[interface {
		error
		SQLState() string
	}](err)
	if !ok || isNil(se) {
		return serverError{}, false
	}
	out := serverError{code: se.SQLState()}
	out.constraint, _ = stringField(se, "ConstraintName", "Constraint")
	msg, ok := stringField(se, "Message")
	if !ok {
		msg, _, _ = strings.Cut(se.Error(), "\n")
	}
	out.message = msg
	return out, true
}

// isNil reports whether v is nil or a nil pointer, whose methods could
// panic.
func isNil(v any) bool {
	rv := reflect.ValueOf(v)
	return !rv.IsValid() || rv.Kind() == reflect.Pointer && rv.IsNil()
}

// stringField returns the first of the named string fields that v, a
// struct or a pointer to one, has.
func stringField(v any, names ...string) (string, bool) {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return "", false
		}
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return "", false
	}
	for _, name := range names {
		if f, ok := rv.Type().FieldByName(name); ok && f.IsExported() && f.Type.Kind() == reflect.String {
			return rv.FieldByIndex(f.Index).String(), true
		}
	}
	return "", false
}

// unavailable reports whether err (whose SQLSTATE is code, or "") is a
// failure of the database rather than of the data, so that retrying later
// may succeed: a lost or refused connection (driver.ErrBadConn, EOF, a
// network error, ECONNREFUSED, ECONNRESET, or an error that says it is
// safe to retry because it happened before anything reached the server,
// as pgx's connection errors do), no pooled connection within the acquire
// timeout, or a server that reports a connection exception (class 08),
// insufficient resources (53), a system error (58), a shutdown (57P01
// admin, 57P02 crash, 57P03 cannot connect now), a cancelled statement
// (57014, a statement_timeout for instance), a serialization failure
// (40001), a deadlock (40P01) or a lock not available (55P03).
func unavailable(err error, code string) bool {
	if code != "" {
		switch code[:min(2, len(code))] {
		case "08", "53", "58":
			return true
		}
		switch code {
		case "57P01", "57P02", "57P03", "57014", "40001", "40P01", "55P03":
			return true
		}
		return false
	}
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, ErrPoolTimeout), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET):
		return true
	}
	if r, ok := errors.AsType[interface {
		error
		SafeToRetry() bool
	}](err); ok && r.SafeToRetry() {
		return true
	}
	_, ok := errors.AsType[net.Error](err)
	return ok
}

// sanitize drops the driver's error type, and the DETAIL line, from an
// error the server reported, keeping its message and SQLSTATE. Other
// errors are returned unchanged.
func sanitize(err error) error {
	if se, ok := asServerError(err); ok {
		return se.plain()
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
