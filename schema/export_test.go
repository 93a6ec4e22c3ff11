package schema

// LockID exposes the advisory lock key derivation to the external tests.
var LockID = lockID
