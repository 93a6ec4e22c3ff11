package redisstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cedrina/cedrina/store"
)

// unavailableError is a failure of Redis or of the connection to it,
// translated from go-redis. It matches store.ErrUnavailable with
// errors.Is.
type unavailableError struct{ cause error }

func (e *unavailableError) Error() string        { return "redisstore: " + e.cause.Error() }
func (e *unavailableError) Is(target error) bool { return target == store.ErrUnavailable }
func (e *unavailableError) Unwrap() error        { return e.cause }

// plainError is any other error of go-redis or of a script, with the
// package's prefix.
type plainError struct{ cause error }

func (e *plainError) Error() string { return "redisstore: " + e.cause.Error() }
func (e *plainError) Unwrap() error { return e.cause }

// translate is the one place where go-redis's errors become the
// package's. Once ctx has ended, a context error passes unchanged, and a
// network timeout (go-redis sets the connection's deadline from ctx's
// when the client's ContextTimeoutEnabled is set) is reported as ctx's
// error, which it wraps. While ctx is live, a context error comes from a
// deadline of the client's own (a dial timeout, whose error matches
// context.DeadlineExceeded) and is a failure of Redis. A failure of Redis
// rather than of the request (see unavailable) matches
// store.ErrUnavailable. Anything else (a script error, WRONGTYPE on a key
// some other program wrote under the prefix) keeps its message.
func translate(ctx context.Context, err error) error {
	isCtx := errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
	var ne net.Error
	switch {
	case err == nil:
		return nil
	case isCtx && ended(ctx) != nil:
		return err
	case errors.As(err, &ne) && ne.Timeout() && ended(ctx) != nil:
		return fmt.Errorf("redisstore: %w: %w", ended(ctx), err)
	case isCtx, unavailable(err):
		return &unavailableError{cause: err}
	}
	return &plainError{cause: err}
}

// ended returns ctx's error, or context.DeadlineExceeded once ctx's
// deadline has passed even if its timer has not fired yet (a connection
// whose deadline go-redis set from ctx's can time out first).
func ended(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

// unavailable reports whether err is a failure of Redis or of the
// connection to it, so that retrying later may succeed: a network error
// (refused, reset, timed out), a connection closed mid-reply, no pooled
// connection in time, or a server error whose code says it is busy or not
// ready to serve writes: LOADING, BUSY (a script ran too long), READONLY
// (a replica, during a failover), MASTERDOWN, CLUSTERDOWN, TRYAGAIN,
// NOREPLICAS, MISCONF (persistence failing), OOM (maxmemory reached)
// and max clients. Server errors are told apart by their code, the first
// word of the reply, which Redis documents; go-redis reads it the same
// way.
func unavailable(err error) bool {
	var ne net.Error
	switch {
	case errors.As(err, &ne),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, redis.ErrPoolTimeout), errors.Is(err, redis.ErrPoolExhausted),
		redis.IsLoadingError(err), redis.IsReadOnlyError(err), redis.IsMasterDownError(err),
		redis.IsClusterDownError(err), redis.IsTryAgainError(err), redis.IsNoReplicasError(err),
		redis.IsMaxClientsError(err), redis.IsOOMError(err),
		redis.HasErrorPrefix(err, "BUSY "), redis.HasErrorPrefix(err, "MISCONF "):
		return true
	}
	return false
}
