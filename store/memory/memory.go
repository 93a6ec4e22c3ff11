package memory

import (
	"context"
	"sync"

	"github.com/cedrina/cedrina/store"
)

// DB is an in-memory database holding every table the SDK's stores need.
// The zero value is not usable; call [New].
type DB struct {
	// mu guards every table. Reads take it shared, writes exclusive; a
	// transaction holds it exclusively from start to end, so transactions
	// are serialised and never interleave with other writes.
	mu       sync.RWMutex
	users    userTable
	audit    auditTable
	sessions sessionTable
	resets   resetTable
	oauth    oauthTable
}

var _ store.Transactor = (*DB)(nil)

// New returns an empty database.
func New() *DB {
	return &DB{
		users: newUserTable(), audit: newAuditTable(), sessions: newSessionTable(), resets: newResetTable(),
		oauth: newOAuthTable(),
	}
}

// tx is the state of one transaction: the undo steps of every change made
// inside it, newest last.
type tx struct {
	db   *DB
	undo []func()
}

// record remembers how to undo a change; it is a no-op outside a
// transaction.
func (t *tx) record(undo func()) {
	if t != nil {
		t.undo = append(t.undo, undo)
	}
}

type txKey struct{}

// txFrom returns the transaction of db carried by ctx, or nil.
func (db *DB) txFrom(ctx context.Context) *tx {
	t, _ := ctx.Value(txKey{}).(*tx)
	if t == nil || t.db != db {
		return nil
	}
	return t
}

// InTx runs fn in a transaction. Transactions are serialised: while fn runs,
// every other call on db waits. If fn returns an error or panics, every
// change made through the transaction's context is undone. A nested InTx
// with the transaction's context joins the outer transaction.
//
// Calling a store method of db with a context that does not carry the
// transaction from inside fn (context.Background(), say) deadlocks, as it
// would wait for the transaction to end.
func (db *DB) InTx(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	if db.txFrom(ctx) != nil {
		return fn(ctx)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	t := &tx{db: db}
	committed := false
	defer func() {
		if !committed {
			for i := len(t.undo) - 1; i >= 0; i-- {
				t.undo[i]()
			}
		}
	}()
	if err := fn(context.WithValue(ctx, txKey{}, t)); err != nil {
		return err
	}
	committed = true
	return nil
}

// read runs fn with the tables readable: inside the caller's transaction,
// or under the shared lock.
func (db *DB) read(ctx context.Context, fn func()) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if db.txFrom(ctx) == nil {
		db.mu.RLock()
		defer db.mu.RUnlock()
	}
	fn()
	return nil
}

// write runs fn with the tables writable and the transaction (nil outside
// one) to record undo steps in.
func (db *DB) write(ctx context.Context, fn func(t *tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t := db.txFrom(ctx)
	if t == nil {
		db.mu.Lock()
		defer db.mu.Unlock()
	}
	return fn(t)
}
