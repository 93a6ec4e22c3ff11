package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/cedrina/cedrina/session"
	"github.com/cedrina/cedrina/store"
	"github.com/cedrina/cedrina/user"
)

// pgState is another driver's error that reports a SQLSTATE and nothing
// else: no Message or constraint field.
type pgState string

func (e pgState) Error() string    { return "other driver: " + string(e) }
func (e pgState) SQLState() string { return string(e) }

// otherDriverError is a third driver's error with the method and lib/pq's
// field names, and a multi-line Error() that quotes the DETAIL.
type otherDriverError struct {
	Code, Message, Detail, Constraint string
}

func (e *otherDriverError) Error() string {
	return "ERROR: " + e.Message + "\nDETAIL: " + e.Detail
}
func (e *otherDriverError) SQLState() string { return e.Code }

// detail is a DETAIL line as the server writes it for a unique violation:
// it quotes the row's values, which must never reach an error message.
const detail = "Key (email)=(secret@example.com) already exists."

// serverErr builds, for one driver, the error the server reports.
type serverErr func(code, msg, constraint string) error

// drivers are the server errors of lib/pq, pgx and a third driver with
// lib/pq's field names, each as the driver returns it, wrapped by a
// caller's fmt.Errorf.
var drivers = map[string]serverErr{
	"pq": func(code, msg, constraint string) error {
		return fmt.Errorf("query: %w", &pq.Error{Severity: "ERROR", Code: pqerror.Code(code), Message: msg, Detail: detail, Constraint: constraint})
	},
	"pgx": func(code, msg, constraint string) error {
		return fmt.Errorf("query: %w", &pgconn.PgError{Severity: "ERROR", Code: code, Message: msg, Detail: detail, ConstraintName: constraint})
	},
	"other": func(code, msg, constraint string) error {
		return fmt.Errorf("query: %w", &otherDriverError{Code: code, Message: msg, Detail: detail, Constraint: constraint})
	},
}

const (
	kindUnavailable = "unavailable"
	kindConflict    = "conflict"
	kindNotFound    = "not found"
	kindPlain       = "plain"
	kindCtxErr      = "context"
)

// kindOf classifies a translated error as the callers do, with errors.Is.
func kindOf(err error) string {
	is := func(target error) bool { return errors.Is(err, target) }
	switch {
	case is(store.ErrUnavailable):
		return kindUnavailable
	case is(store.ErrConflict):
		return kindConflict
	case is(store.ErrNotFound):
		return kindNotFound
	case is(context.Canceled), is(context.DeadlineExceeded):
		return kindCtxErr
	default:
		return kindPlain
	}
}

// checkTranslated checks what holds for every translation of err: no
// driver type, no DETAIL, one line, and translating again changes
// nothing.
func checkTranslated(t *testing.T, ctx context.Context, err, got error) {
	t.Helper()
	if pe, ok := errors.AsType[*pq.Error](got); ok {
		t.Errorf("translate(%v) leaks *pq.Error %v", err, pe)
	}
	if pe, ok := errors.AsType[*pgconn.PgError](got); ok {
		t.Errorf("translate(%v) leaks *pgconn.PgError %v", err, pe)
	}
	if oe, ok := errors.AsType[*otherDriverError](got); ok {
		t.Errorf("translate(%v) leaks the driver's type %v", err, oe)
	}
	if msg := got.Error(); strings.Contains(msg, "secret@example.com") || strings.Contains(msg, "DETAIL") {
		t.Errorf("translate(%v) = %q keeps the DETAIL line", err, msg)
	}
	if again := translate(ctx, got); again.Error() != got.Error() || kindOf(again) != kindOf(got) {
		t.Errorf("translate twice = %q (%s), once %q (%s)", again, kindOf(again), got, kindOf(got))
	}
}

// TestTranslateServerErrors: each driver's server error, by SQLSTATE.
func TestTranslateServerErrors(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name       string
		ctx        context.Context
		code       string
		constraint string
		want       string
	}{
		{"unique", nil, "23505", "users_username_key", kindConflict},
		{"foreign key", nil, "23503", "sessions_user_id_fkey", kindConflict},
		{"exclusion", nil, "23P01", "no_overlap", kindConflict},
		{"08006 connection failure", nil, "08006", "", kindUnavailable},
		{"08001 cannot connect", nil, "08001", "", kindUnavailable},
		{"08P01 protocol violation", nil, "08P01", "", kindUnavailable},
		{"53300 too many connections", nil, "53300", "", kindUnavailable},
		{"53100 disk full", nil, "53100", "", kindUnavailable},
		{"57P01 admin shutdown", nil, "57P01", "", kindUnavailable},
		{"57P02 crash shutdown", nil, "57P02", "", kindUnavailable},
		{"57P03 cannot connect now", nil, "57P03", "", kindUnavailable},
		{"57014 statement timeout", context.Background(), "57014", "", kindUnavailable},
		{"57014 no context", nil, "57014", "", kindUnavailable},
		{"57014 caller cancelled", cancelled, "57014", "", kindCtxErr},
		{"40001 serialization", nil, "40001", "", kindUnavailable},
		{"40P01 deadlock", nil, "40P01", "", kindUnavailable},
		{"55P03 lock not available", nil, "55P03", "", kindUnavailable},
		{"58030 io error", nil, "58030", "", kindUnavailable},
		{"22008 datetime overflow", nil, "22008", "", kindPlain},
		{"22P02 invalid text", nil, "22P02", "", kindPlain},
		{"23514 check", nil, "23514", "users_role_check", kindPlain},
		{"23502 not null", nil, "23502", "", kindPlain},
		{"28P01 bad password", nil, "28P01", "", kindPlain},
		{"42P01 undefined table", nil, "42P01", "", kindPlain},
		{"3F000 invalid schema", nil, "3F000", "", kindPlain},
		{"57000 other operator intervention", nil, "57000", "", kindPlain},
	} {
		for name, newErr := range drivers {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				msg := "message of " + tc.code
				err := newErr(tc.code, msg, tc.constraint)
				got := translate(tc.ctx, err)
				if k := kindOf(got); k != tc.want {
					t.Errorf("translate(%v) = %v: %s, want %s", err, got, k, tc.want)
				}
				checkTranslated(t, tc.ctx, err, got)
				if !strings.Contains(got.Error(), "SQLSTATE "+tc.code) {
					t.Errorf("translate(%v) = %q lost the SQLSTATE", err, got)
				}
				if tc.want == kindConflict {
					if c := constraintName(got); c != tc.constraint {
						t.Errorf("constraint = %q, want %q", c, tc.constraint)
					}
					return
				}
				if !strings.Contains(got.Error(), msg) {
					t.Errorf("translate(%v) = %q lost the message", err, got)
				}
			})
		}
	}
}

// TestTranslateSentinels: constraint violations of every driver become
// the domain's sentinels.
func TestTranslateSentinels(t *testing.T) {
	for name, newErr := range drivers {
		t.Run(name, func(t *testing.T) {
			for _, tc := range []struct {
				code, constraint string
				mapErr           func(error) error
				want             error
			}{
				{"23505", "users_username_key", mapUserErr, user.ErrUsernameTaken},
				{"23505", "users_email_key", mapUserErr, user.ErrEmailTaken},
				{"23503", "sessions_user_id_fkey", mapSessionErr, session.ErrNotFound},
			} {
				err := tc.mapErr(translate(context.Background(), newErr(tc.code, "violated", tc.constraint)))
				if !errors.Is(err, tc.want) {
					t.Errorf("%s %s: err = %v, want %v", tc.code, tc.constraint, err, tc.want)
				}
				if tc.code == "23505" && !errors.Is(err, store.ErrConflict) {
					t.Errorf("%s %s: err = %v, want it to match store.ErrConflict", tc.code, tc.constraint, err)
				}
			}
		})
	}
}

// TestTranslateMissingSchema: a missing table or schema says how to create
// it, for every driver.
func TestTranslateMissingSchema(t *testing.T) {
	for name, newErr := range drivers {
		t.Run(name, func(t *testing.T) {
			got := translate(context.Background(), newErr("42P01", `relation "users" does not exist`, ""))
			const want = `postgres: relation "users" does not exist (SQLSTATE 42P01): the schema is not migrated; run schema.Migrate or "cedrina migrate up"`
			if got.Error() != want {
				t.Errorf("translate = %q,\nwant %q", got, want)
			}
			got = translate(context.Background(), newErr("3F000", `schema "cedrina" does not exist`, ""))
			if !strings.HasSuffix(got.Error(), `(SQLSTATE 3F000): `+notMigrated) {
				t.Errorf("translate = %q, want it to say to migrate", got)
			}
		})
	}
}

// TestTranslateConnectionErrors: errors of the connection rather than of
// the server, as lib/pq, pgx and the standard library report them.
func TestTranslateConnectionErrors(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want string
	}{
		{"no rows", nil, sql.ErrNoRows, kindNotFound},
		{"bad conn", nil, driver.ErrBadConn, kindUnavailable},
		{"EOF", nil, fmt.Errorf("read: %w", io.EOF), kindUnavailable},
		{"unexpected EOF", nil, io.ErrUnexpectedEOF, kindUnavailable},
		{"net.OpError", nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, kindUnavailable},
		{"net.DNSError", nil, &net.DNSError{Err: "no such host", Name: "db.invalid"}, kindUnavailable},
		{"ECONNREFUSED", nil, fmt.Errorf("dial: %w", syscall.ECONNREFUSED), kindUnavailable},
		{"ECONNRESET", nil, fmt.Errorf("read: %w", syscall.ECONNRESET), kindUnavailable},
		{"pool timeout", nil, fmt.Errorf("postgres: no connection free: %w", ErrPoolTimeout), kindUnavailable},
		{"safe to retry", nil, fmt.Errorf("conn: %w", safeToRetry(true)), kindUnavailable},
		{"not safe to retry", nil, fmt.Errorf("conn: %w", safeToRetry(false)), kindPlain},
		{"other driver 08006", nil, pgState("08006"), kindUnavailable},
		{"other driver 22008", nil, pgState("22008"), kindPlain},
		{"plain error", nil, errors.New("boom"), kindPlain},
		{"context canceled", nil, context.Canceled, kindCtxErr},
		{"deadline exceeded", nil, fmt.Errorf("x: %w", context.DeadlineExceeded), kindCtxErr},
		{"caller's context canceled", cancelled, context.Canceled, kindCtxErr},
		{"57014 and the caller's context", cancelled,
			fmt.Errorf("%w: %w", &pgconn.PgError{Code: "57014", Message: "canceling statement due to user request", Detail: detail}, context.Canceled), kindCtxErr},
		// A driver's own deadline (pgx's connect_timeout) while the
		// caller's context is live: the database did not answer.
		{"driver's deadline", context.Background(), fmt.Errorf("failed to connect: timeout: %w", context.DeadlineExceeded), kindUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := translate(tc.ctx, tc.err)
			if k := kindOf(got); k != tc.want {
				t.Errorf("translate(%v) = %v: %s, want %s", tc.err, got, k, tc.want)
			}
			checkTranslated(t, tc.ctx, tc.err, got)
			if tc.want == kindUnavailable && errors.Is(tc.err, ErrPoolTimeout) && !errors.Is(got, ErrPoolTimeout) {
				t.Errorf("translate(%v) no longer matches ErrPoolTimeout", tc.err)
			}
			if tc.want == kindUnavailable && !strings.Contains(got.Error(), tc.err.Error()) {
				t.Errorf("translate(%v) = %q lost the message", tc.err, got)
			}
			if tc.name == "driver's deadline" && (errors.Is(got, context.DeadlineExceeded) || errors.Is(got, context.Canceled)) {
				t.Errorf("translate(%v) = %v matches a context error, though the caller's context is live", tc.err, got)
			}
		})
	}
}

// safeToRetry is an error that says whether it happened before anything
// reached the server, as pgx's connection errors do.
type safeToRetry bool

func (e safeToRetry) Error() string     { return fmt.Sprintf("safe to retry: %v", bool(e)) }
func (e safeToRetry) SafeToRetry() bool { return bool(e) }

// TestTranslateNasty: odd server errors still translate to one clean line
// without the driver's type.
func TestTranslateNasty(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want string // the whole message
		kind string
	}{
		{"pq empty message", &pq.Error{Code: "22P02"}, "postgres: error without a message (SQLSTATE 22P02)", kindPlain},
		{"pgx empty message", &pgconn.PgError{Code: "22P02"}, "postgres: error without a message (SQLSTATE 22P02)", kindPlain},
		{"pq no code", &pq.Error{Message: "odd"}, "postgres: odd", kindPlain},
		{"pgx no code", &pgconn.PgError{Message: "odd"}, "postgres: odd", kindPlain},
		{"pq empty", &pq.Error{}, "postgres: error without a message", kindPlain},
		{"NUL bytes", &pgconn.PgError{Code: "22021", Message: "bad\x00byte\x00"}, `postgres: bad\x00byte\x00 (SQLSTATE 22021)`, kindPlain},
		{"forged log line", &pq.Error{Code: "22P02", Message: "invalid input\nDETAIL: " + detail, Detail: detail},
			`postgres: invalid input\nDETAIL: Key (email)=(secret@example.com) already exists. (SQLSTATE 22P02)`, kindPlain},
		{"invalid UTF-8", &pgconn.PgError{Code: "22P02", Message: "a\xffb"}, "postgres: a\uFFFDb (SQLSTATE 22P02)", kindPlain},
		{"unique, no constraint", &pgconn.PgError{Code: "23505", Message: "duplicate key"}, `postgres: constraint "" violated (SQLSTATE 23505)`, kindConflict},
		{"unique, nasty constraint", &pq.Error{Code: "23505", Constraint: "a\"b\n"}, `postgres: constraint "a\"b\n" violated (SQLSTATE 23505)`, kindConflict},
		{"nil *pgconn.PgError", wrapsNil{}, "wraps a nil *pgconn.PgError", kindPlain},
		{"other driver, no fields", pgState("22P02"), "postgres: other driver: 22P02 (SQLSTATE 22P02)", kindPlain},
		{"other driver, multi-line", &otherDriverError{Code: "22P02", Message: "m", Detail: detail}, "postgres: m (SQLSTATE 22P02)", kindPlain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := translate(context.Background(), tc.err)
			if got.Error() != tc.want {
				t.Errorf("translate = %q, want %q", got, tc.want)
			}
			if k := kindOf(got); k != tc.kind {
				t.Errorf("translate = %v: %s, want %s", got, k, tc.kind)
			}
			if _, ok := errors.AsType[*pq.Error](got); ok && tc.kind != kindPlain {
				t.Errorf("translate leaks *pq.Error")
			}
			if _, ok := errors.AsType[*pgconn.PgError](got); ok && !strings.HasPrefix(tc.name, "nil") {
				t.Errorf("translate leaks *pgconn.PgError")
			}
		})
	}
}

// wrapsNil is an error whose chain holds a nil *pgconn.PgError, whose
// methods would panic.
type wrapsNil struct{}

func (wrapsNil) Error() string { return "wraps a nil *pgconn.PgError" }
func (wrapsNil) Unwrap() error { return (*pgconn.PgError)(nil) }

// TestSanitize: sanitize, which Open applies to connection errors, drops
// the driver's type and the DETAIL of any driver's error, and leaves other
// errors alone.
func TestSanitize(t *testing.T) {
	for name, newErr := range drivers {
		got := sanitize(newErr("28P01", `password authentication failed for user "app"`, ""))
		if want := `postgres: password authentication failed for user "app" (SQLSTATE 28P01)`; got.Error() != want {
			t.Errorf("%s: sanitize = %q, want %q", name, got, want)
		}
		if _, ok := errors.AsType[interface {
			error
			SQLState() string
		}](got); ok {
			t.Errorf("%s: sanitize kept the driver's type: %T", name, got)
		}
	}
	boom := errors.New("boom")
	if got := sanitize(boom); got != boom {
		t.Errorf("sanitize(boom) = %v", got)
	}
}
