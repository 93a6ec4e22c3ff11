package store

import (
	"context"
	"errors"
)

// Sentinel errors that every adapter translates its driver's errors into.
// Domain packages wrap them in their own sentinels (user.ErrNotFound wraps
// ErrNotFound), so a caller may test for either.
var (
	// ErrNotFound reports that no row matched.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict reports that a uniqueness or state constraint refused the change.
	ErrConflict = errors.New("store: conflict")
	// ErrUnavailable reports a failure of the storage itself, not of the
	// data: the database is unreachable, the connection was lost, the
	// server is shutting down or overloaded, the transaction was chosen as
	// a deadlock or serialization victim, or no pooled connection came
	// free in time. The same call may succeed if retried later. A
	// third-party store reports such failures by returning an error that
	// matches ErrUnavailable with errors.Is; callers that retry (the audit
	// writer) treat every other error as a refusal of the data.
	ErrUnavailable = errors.New("store: unavailable")
)

// Transactor runs a function inside one atomic transaction.
//
// InTx calls fn with a context that carries the transaction; every store
// method of the same adapter that receives that context (or one derived from
// it) takes part in the transaction. If fn returns an error or panics, every
// change is undone and the error is returned (the panic re-raised);
// otherwise the changes are committed. A call to InTx with a context that
// already carries a transaction of the same adapter joins it: the outer call
// decides whether to commit.
//
// The context given to fn must not be used from several goroutines at once,
// just as a *sql.Tx must not.
type Transactor interface {
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
}
