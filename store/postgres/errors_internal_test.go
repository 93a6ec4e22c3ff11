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

	"github.com/lib/pq"

	"github.com/cedrina/cedrina/store"
)

// pgState is another driver's error that reports a SQLSTATE (pgx's
// *pgconn.PgError has the same method).
type pgState string

func (e pgState) Error() string    { return "other driver: " + string(e) }
func (e pgState) SQLState() string { return string(e) }

func TestTranslateClassification(t *testing.T) {
	pqErr := func(code string) error {
		return fmt.Errorf("query: %w", &pq.Error{Code: pq.ErrorCode(code), Message: "msg " + code, Detail: "Key (email)=(secret@example.com)"})
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	const (
		unavailable = "unavailable"
		conflict    = "conflict"
		notFound    = "not found"
		plain       = "plain"
		ctxErr      = "context"
	)
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want string
	}{
		{"no rows", nil, sql.ErrNoRows, notFound},
		{"unique", nil, pqErr("23505"), conflict},
		{"foreign key", nil, pqErr("23503"), conflict},
		{"exclusion", nil, pqErr("23P01"), conflict},
		{"bad conn", nil, driver.ErrBadConn, unavailable},
		{"EOF", nil, fmt.Errorf("read: %w", io.EOF), unavailable},
		{"unexpected EOF", nil, io.ErrUnexpectedEOF, unavailable},
		{"net.OpError", nil, &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, unavailable},
		{"net.DNSError", nil, &net.DNSError{Err: "no such host", Name: "db.invalid"}, unavailable},
		{"ECONNREFUSED", nil, fmt.Errorf("dial: %w", syscall.ECONNREFUSED), unavailable},
		{"ECONNRESET", nil, fmt.Errorf("read: %w", syscall.ECONNRESET), unavailable},
		{"pool timeout", nil, fmt.Errorf("postgres: no connection free: %w", ErrPoolTimeout), unavailable},
		{"08006 connection failure", nil, pqErr("08006"), unavailable},
		{"08001 cannot connect", nil, pqErr("08001"), unavailable},
		{"53300 too many connections", nil, pqErr("53300"), unavailable},
		{"53100 disk full", nil, pqErr("53100"), unavailable},
		{"57P01 admin shutdown", nil, pqErr("57P01"), unavailable},
		{"57P02 crash shutdown", nil, pqErr("57P02"), unavailable},
		{"57P03 cannot connect now", nil, pqErr("57P03"), unavailable},
		{"57014 statement timeout", context.Background(), pqErr("57014"), unavailable},
		{"57014 no context", nil, pqErr("57014"), unavailable},
		{"57014 caller cancelled", cancelled, pqErr("57014"), ctxErr},
		{"40001 serialization", nil, pqErr("40001"), unavailable},
		{"40P01 deadlock", nil, pqErr("40P01"), unavailable},
		{"55P03 lock not available", nil, pqErr("55P03"), unavailable},
		{"58030 io error", nil, pqErr("58030"), unavailable},
		{"other driver 08006", nil, pgState("08006"), unavailable},
		{"22008 datetime overflow", nil, pqErr("22008"), plain},
		{"22P02 invalid text", nil, pqErr("22P02"), plain},
		{"23514 check", nil, pqErr("23514"), plain},
		{"42P01 undefined table", nil, pqErr("42P01"), plain},
		{"57000 other operator intervention", nil, pqErr("57000"), plain},
		{"other driver 22008", nil, pgState("22008"), plain},
		{"plain error", nil, errors.New("boom"), plain},
		{"context canceled", nil, context.Canceled, ctxErr},
		{"deadline exceeded", nil, fmt.Errorf("x: %w", context.DeadlineExceeded), ctxErr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := translate(tc.ctx, tc.err)
			is := func(target error) bool { return errors.Is(got, target) }
			var kind string
			switch {
			case is(store.ErrUnavailable):
				kind = unavailable
			case is(store.ErrConflict):
				kind = conflict
			case is(store.ErrNotFound):
				kind = notFound
			case is(context.Canceled), is(context.DeadlineExceeded):
				kind = ctxErr
			default:
				kind = plain
			}
			if kind != tc.want {
				t.Errorf("translate(%v) = %v: %s, want %s", tc.err, got, kind, tc.want)
			}
			var pe *pq.Error
			if errors.As(got, &pe) {
				t.Errorf("translate(%v) leaks *pq.Error", tc.err)
			}
			if strings.Contains(got.Error(), "secret@example.com") {
				t.Errorf("translate(%v) = %q keeps the DETAIL line", tc.err, got)
			}
			if kind == unavailable && errors.Is(tc.err, ErrPoolTimeout) && !errors.Is(got, ErrPoolTimeout) {
				t.Errorf("translate(%v) no longer matches ErrPoolTimeout", tc.err)
			}
			if kind == unavailable && !strings.Contains(got.Error(), strings.TrimPrefix(tc.err.Error(), "query: ")) &&
				!strings.Contains(got.Error(), "msg ") {
				t.Errorf("translate(%v) = %q lost the message", tc.err, got)
			}
			// Translating twice changes nothing.
			if again := translate(tc.ctx, got); again.Error() != got.Error() {
				t.Errorf("translate twice = %q, once %q", again, got)
			}
		})
	}
}
