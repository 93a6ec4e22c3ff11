package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"syscall"

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
// (see unavailable) an error matching store.ErrUnavailable, and any other
// driver error a plain error that keeps the server's message and SQLSTATE
// but not the driver's type, nor the DETAIL line (which can quote row
// values). Context errors pass unchanged, and a statement the server
// cancelled (57014) because ctx, the caller's context, ended becomes an
// error matching ctx's error, not store.ErrUnavailable.
func translate(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, store.ErrConflict):
		return err // translated already, by a nested call
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
	code := sqlState(err)
	switch code {
	case "57014":
		if ctx != nil && ctx.Err() != nil {
			return fmt.Errorf("%w: %w", sanitize(err), ctx.Err())
		}
	}
	if unavailable(err, code) {
		return &unavailableError{cause: sanitize(err)}
	}
	return sanitize(err)
}

// sqlState returns the SQLSTATE of a driver error that reports one
// (lib/pq's *pq.Error, pgx's *pgconn.PgError, ...), or "".
func sqlState(err error) string {
	var se interface{ SQLState() string }
	if errors.As(err, &se) {
		return se.SQLState()
	}
	return ""
}

// unavailable reports whether err (whose SQLSTATE is code, or "") is a
// failure of the database rather than of the data, so that retrying later
// may succeed: a lost or refused connection (driver.ErrBadConn, EOF, a
// network error, ECONNREFUSED, ECONNRESET), no pooled connection within
// the acquire timeout, or a server that reports a connection exception
// (class 08), insufficient resources (53), a system error (58), a shutdown
// (57P01 admin, 57P02 crash, 57P03 cannot connect now), a cancelled
// statement (57014, a statement_timeout for instance), a serialization
// failure (40001), a deadlock (40P01) or a lock not available (55P03).
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
	var ne net.Error
	return errors.As(err, &ne)
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
