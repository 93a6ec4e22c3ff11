// Package store holds what every storage adapter shares: the [Transactor]
// interface and the sentinel errors adapters translate driver errors into.
//
// It imports no domain package. The domain packages (user, session, ...)
// declare their own Store interfaces; the adapters in store/memory and
// store/postgres implement them, and store/storetest checks that they all
// behave alike.
//
// # Errors
//
// Adapters never let a driver error through the API. A missing row becomes
// [ErrNotFound] and a violated unique constraint [ErrConflict], each wrapped
// by the domain package's own sentinel (for example user.ErrEmailTaken wraps
// ErrConflict), so both errors.Is(err, user.ErrEmailTaken) and
// errors.Is(err, store.ErrConflict) hold. A failure of the database rather
// than of the data (a lost connection, a server shutting down, a deadlock
// victim) matches [ErrUnavailable]: retrying later may succeed.
package store
