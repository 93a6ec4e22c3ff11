package gormadapter

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"unicode"

	"github.com/cedrina/cedrina/store"
)

// notMigrated ends the message of an error that a missing table or column
// caused.
const notMigrated = `the schema is not migrated; run schema.Migrate or "cedrina migrate up"`

// unavailableError is a failure of the database rather than of the data.
// It matches store.ErrUnavailable with errors.Is.
type unavailableError struct{ cause error }

func (e *unavailableError) Error() string        { return e.cause.Error() }
func (e *unavailableError) Is(target error) bool { return target == store.ErrUnavailable }
func (e *unavailableError) Unwrap() error        { return e.cause }

// translate is the one place where driver and gorm errors become the
// adapter's, by the rules of Cedrina's PostgreSQL store: an error the
// server reported (lib/pq's or pgx's, found by its SQLState method)
// becomes a plain error with the server's primary message and SQLSTATE
// (no driver type, no DETAIL line, which can quote row values); a failure
// of the database rather than of the data (a lost connection, a deadlock
// victim, a shutdown, too many connections) matches store.ErrUnavailable;
// a missing table or column says to migrate. A context error passes
// unchanged when ctx has ended; a statement the server cancelled because
// ctx ended matches ctx's error.
func translate(ctx context.Context, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrUnavailable):
		return err
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		if ctx.Err() == nil {
			// A deadline of the driver's own, not the caller's.
			return &unavailableError{cause: errors.New(sanitize(err).Error())}
		}
		if code, msg, ok := serverError(err); ok {
			return fmt.Errorf("%w: %w", plain(code, msg), ctx.Err())
		}
		return err
	}
	code, msg, ok := serverError(err)
	if !ok {
		if unavailable(err, "") {
			return &unavailableError{cause: err}
		}
		return err
	}
	switch code {
	case "57014":
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %w", plain(code, msg), ctx.Err())
		}
	case "42P01", "42703", "3F000":
		return fmt.Errorf("%w: %s", plain(code, msg), notMigrated)
	}
	if unavailable(err, code) {
		return &unavailableError{cause: plain(code, msg)}
	}
	return plain(code, msg)
}

// sanitize drops the driver's type and DETAIL from a server error.
func sanitize(err error) error {
	if code, msg, ok := serverError(err); ok {
		return plain(code, msg)
	}
	return err
}

// plain is a server error of no driver's type: its message, with control
// characters escaped, and SQLSTATE.
func plain(code, msg string) error {
	msg = cleanMessage(msg)
	if msg == "" {
		msg = "error without a message"
	}
	return fmt.Errorf("gormadapter: %s (SQLSTATE %s)", msg, cleanMessage(code))
}

// serverError finds in err's chain an error the server reported, by the
// method SQLState() string that lib/pq's *pq.Error and pgx's
// *pgconn.PgError both have, and reads its code and primary message (the
// exported field Message both drivers have, else the first line of
// Error()).
func serverError(err error) (code, msg string, ok bool) {
	se, ok := errors.AsType[interface {
		error
		SQLState() string
	}](err)
	if !ok {
		return "", "", false
	}
	rv := reflect.ValueOf(se)
	if rv.Kind() == reflect.Pointer && rv.IsNil() {
		return "", "", false
	}
	code = se.SQLState()
	for rv.Kind() == reflect.Pointer {
		rv = rv.Elem()
	}
	if rv.Kind() == reflect.Struct {
		if f := rv.FieldByName("Message"); f.IsValid() && f.Kind() == reflect.String {
			return code, f.String(), true
		}
	}
	msg, _, _ = strings.Cut(se.Error(), "\n")
	return code, msg, true
}

// cleanMessage makes s one line of valid UTF-8.
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

// unavailable reports whether err (whose SQLSTATE is code, or "") is a
// failure of the database rather than of the data: a lost or refused
// connection, or a server that reports a connection exception (class
// 08), insufficient resources (53), a system error (58), a shutdown
// (57P01, 57P02, 57P03), a cancelled statement (57014), a serialization
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
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET):
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
