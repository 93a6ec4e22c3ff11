package schema

// LockID exposes the advisory lock key derivation to the external tests.
var LockID = lockID

// The pure parts of Adopt, for the external tests.
var (
	UnqualifyIndexDef = unqualifyIndexDef
	IndexKeys         = indexKeys
	Serves            = serves
	OriginalIndexes   = originalIndexes
	AdoptionTableSQL  = adoptionTableSQL
)
