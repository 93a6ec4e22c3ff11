package user

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/cedrina/cedrina/internal/errs"
)

// Hasher hashes and verifies passwords. The service passes NFKC-normalized
// passwords (see [NormalizePassword]). [PasswordHasher] is the SDK's
// implementation; hosts may supply their own.
type Hasher interface {
	// Hash returns an encoded hash of password that embeds the algorithm,
	// its parameters and a fresh random salt.
	Hash(ctx context.Context, password string) (string, error)
	// Verify reports whether password matches encoded, and whether encoded
	// should be replaced by a fresh Hash because the algorithm or a
	// parameter differs from the current policy.
	Verify(ctx context.Context, encoded, password string) (match, needsRehash bool, err error)
}

// HashAlgorithm names a password hashing algorithm.
type HashAlgorithm string

// Algorithms [PasswordHasher] can write. It verifies hashes of both
// whatever its configuration.
const (
	// Argon2id (RFC 9106), the default, stored as a PHC string:
	// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
	Argon2id HashAlgorithm = "argon2id"
	// Bcrypt, stored in the modular crypt format $2a$/$2b$/$2y$. It only
	// uses the first 72 bytes of a password; see [ErrPasswordTooLong].
	Bcrypt HashAlgorithm = "bcrypt"
)

// Argon2idParams are the argon2id cost parameters. Zero fields take the
// OWASP Password Storage Cheat Sheet's recommended minimum, which ASVS
// cites: m=19456 KiB (19 MiB), t=2, p=1, with a 16-byte salt and a
// 32-byte key.
type Argon2idParams struct {
	// Memory is the memory cost in KiB; 0 means 19456. At least 8 ×
	// Threads and at most 1 GiB (1048576).
	Memory uint32
	// Time is the number of passes; 0 means 2. At most 100.
	Time uint32
	// Threads is the degree of parallelism; 0 means 1.
	Threads uint8
	// SaltLength is the salt size in bytes; 0 means 16. From 16 to 1024.
	SaltLength uint32
	// KeyLength is the size of the derived key in bytes; 0 means 32. From
	// 16 to 1024.
	KeyLength uint32
}

// Defaults and bounds of the hashing parameters.
const (
	DefaultArgon2idMemory     = 19456
	DefaultArgon2idTime       = 2
	DefaultArgon2idThreads    = 1
	DefaultArgon2idSaltLength = 16
	DefaultArgon2idKeyLength  = 32
	DefaultBcryptCost         = 12

	// maxArgon2idMemory, maxArgon2idTime, maxArgon2idLength bound both the
	// configuration and the parameters read back from a stored hash, so a
	// tampered row cannot make one verification take gigabytes of memory
	// or minutes of CPU.
	maxArgon2idMemory = 1 << 20 // KiB: 1 GiB
	maxArgon2idTime   = 100
	maxArgon2idLength = 1024
	// Stored hashes may have shorter salts and keys than new ones
	// (migrated from another system); they verify and are rehashed.
	minStoredSaltLength = 8  // RFC 9106's minimum
	minStoredKeyLength  = 16 // shorter tags are too easy to collide
	minSaltLength       = 16
	minKeyLength        = 16
	// maxStoredBcryptCost bounds the cost read from a stored bcrypt hash,
	// unless the configured cost is higher: cost 16 takes seconds, cost 31
	// days.
	maxStoredBcryptCost = 16
	// maxEncodedHash bounds the length of a stored hash string.
	maxEncodedHash = 4096
)

// HashConfig configures a [PasswordHasher]. Its zero value is the default:
// argon2id with m=19456 KiB, t=2, p=1, one hash at a time per CPU.
type HashConfig struct {
	// Algorithm is the algorithm of new hashes; "" means Argon2id. Hashes of
	// the other algorithm still verify, and Verify reports that they need
	// rehashing.
	Algorithm HashAlgorithm
	// Argon2id holds the argon2id parameters; zero fields take defaults.
	Argon2id Argon2idParams
	// BcryptCost is the bcrypt cost of new bcrypt hashes; 0 means 12. From
	// bcrypt.MinCost (4) to bcrypt.MaxCost (31); every step doubles the
	// work.
	BcryptCost int
	// MaxConcurrent is how many hashes and verifications may run at once;
	// further calls wait for a slot (or for their context to end). 0 means
	// runtime.GOMAXPROCS(0). Each argon2id run holds Memory KiB, so peak
	// memory is about MaxConcurrent × 19 MiB with the defaults: this is
	// what keeps a flood of login attempts from exhausting memory.
	MaxConcurrent int
}

// withDefaults returns c with every zero field replaced by its default.
func (c HashConfig) withDefaults() HashConfig {
	if c.Algorithm == "" {
		c.Algorithm = Argon2id
	}
	a := &c.Argon2id
	if a.Memory == 0 {
		a.Memory = DefaultArgon2idMemory
	}
	if a.Time == 0 {
		a.Time = DefaultArgon2idTime
	}
	if a.Threads == 0 {
		a.Threads = DefaultArgon2idThreads
	}
	if a.SaltLength == 0 {
		a.SaltLength = DefaultArgon2idSaltLength
	}
	if a.KeyLength == 0 {
		a.KeyLength = DefaultArgon2idKeyLength
	}
	if c.BcryptCost == 0 {
		c.BcryptCost = DefaultBcryptCost
	}
	if c.MaxConcurrent == 0 {
		c.MaxConcurrent = runtime.GOMAXPROCS(0)
	}
	return c
}

// validate checks a configuration with defaults filled in and names the
// bad field.
func (c HashConfig) validate() error {
	a := c.Argon2id
	switch {
	case c.Algorithm != Argon2id && c.Algorithm != Bcrypt:
		return errs.Configf("user", "HashConfig.Algorithm", "%q is not %q or %q", c.Algorithm, Argon2id, Bcrypt)
	case a.Memory < 8*uint32(a.Threads):
		return errs.Configf("user", "HashConfig.Argon2id.Memory", "%d KiB is below 8 × Threads (%d)", a.Memory, 8*uint32(a.Threads))
	case a.Memory > maxArgon2idMemory:
		return errs.Configf("user", "HashConfig.Argon2id.Memory", "%d KiB is above %d", a.Memory, maxArgon2idMemory)
	case a.Time > maxArgon2idTime:
		return errs.Configf("user", "HashConfig.Argon2id.Time", "%d is above %d", a.Time, maxArgon2idTime)
	case a.SaltLength < minSaltLength || a.SaltLength > maxArgon2idLength:
		return errs.Configf("user", "HashConfig.Argon2id.SaltLength", "%d is outside %d..%d", a.SaltLength, minSaltLength, maxArgon2idLength)
	case a.KeyLength < minKeyLength || a.KeyLength > maxArgon2idLength:
		return errs.Configf("user", "HashConfig.Argon2id.KeyLength", "%d is outside %d..%d", a.KeyLength, minKeyLength, maxArgon2idLength)
	case c.BcryptCost < bcrypt.MinCost || c.BcryptCost > bcrypt.MaxCost:
		return errs.Configf("user", "HashConfig.BcryptCost", "%d is outside %d..%d", c.BcryptCost, bcrypt.MinCost, bcrypt.MaxCost)
	case c.MaxConcurrent < 0:
		return errs.Configf("user", "HashConfig.MaxConcurrent", "%d is negative", c.MaxConcurrent)
	}
	return nil
}

// Errors of [PasswordHasher].
var (
	// ErrPasswordTooLong is returned by Hash when the algorithm is bcrypt
	// and the password is over 72 bytes: bcrypt would silently ignore the
	// rest. (Verify never returns it: such a password simply does not
	// match a bcrypt hash.)
	ErrPasswordTooLong = errors.New("user: password too long for bcrypt (over 72 bytes)")
	// ErrMalformedHash is returned by Verify when the stored hash is
	// neither a valid argon2id PHC string nor a valid bcrypt hash, or when
	// its parameters are out of bounds. The error names the problem, never
	// the hash.
	ErrMalformedHash = errors.New("user: malformed password hash")
)

func malformed(reason string) error {
	return fmt.Errorf("%w: %s", ErrMalformedHash, reason)
}

// PasswordHasher is the SDK's [Hasher]: it writes argon2id (default) or
// bcrypt hashes and verifies both, using golang.org/x/crypto. It is safe
// for concurrent use; at most MaxConcurrent hashes or verifications run at
// once.
type PasswordHasher struct {
	cfg HashConfig
	sem semaphore
}

var _ Hasher = (*PasswordHasher)(nil)

// NewHasher returns a PasswordHasher for cfg, with zero fields set to their
// defaults. It refuses an invalid configuration with an error naming the
// field: an unknown Algorithm, Argon2id.Memory below 8 × Threads or above
// 1 GiB, Argon2id.Time above 100, SaltLength or KeyLength outside
// 16..1024, BcryptCost outside bcrypt.MinCost..bcrypt.MaxCost, a negative
// MaxConcurrent.
func NewHasher(cfg HashConfig) (*PasswordHasher, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &PasswordHasher{cfg: cfg, sem: newSemaphore(cfg.MaxConcurrent)}, nil
}

// Config returns the configuration in use, with defaults filled in.
func (h *PasswordHasher) Config() HashConfig { return h.cfg }

// Hash returns a new hash of password with the configured algorithm,
// parameters and a fresh salt from crypto/rand. With bcrypt, a password over
// 72 bytes is refused with [ErrPasswordTooLong]. Hash waits for a free slot
// (see MaxConcurrent); if ctx ends first it returns an error wrapping
// ctx.Err().
func (h *PasswordHasher) Hash(ctx context.Context, password string) (string, error) {
	if h.cfg.Algorithm == Bcrypt && len(password) > bcryptMaxPassword {
		return "", ErrPasswordTooLong
	}
	if err := h.sem.acquire(ctx); err != nil {
		return "", fmt.Errorf("user: hash password: %w", err)
	}
	defer h.sem.release()
	switch h.cfg.Algorithm {
	case Bcrypt:
		return hashBcrypt(password, h.cfg.BcryptCost)
	default:
		return hashArgon2id(password, h.cfg.Argon2id), nil
	}
}

// Verify reports whether password matches the stored hash encoded, which
// may be an argon2id PHC string or a bcrypt hash whatever the configured
// algorithm. When the password matches, needsRehash reports whether
// encoded differs from what Hash would write now: another algorithm, or
// another argon2id memory, time, parallelism, salt length or key length, or
// another bcrypt cost. needsRehash is false when the password does not
// match.
//
// A string that is neither format, or whose parameters are out of bounds,
// gives an error wrapping [ErrMalformedHash]. The bounds keep a tampered
// row from costing unbounded memory or CPU: for argon2id, m from 8 × p to
// 1 GiB, t from 1 to 100, p from 1 to 255, a salt of 8 to 1024 bytes and a
// key of 16 to 1024 bytes; for bcrypt, a cost up to 16, or up to the
// configured BcryptCost if that is higher. A password over 72 bytes never
// matches a bcrypt hash, although the same work is done as for any other
// password. Verify waits for a free slot like Hash and returns an error
// wrapping ctx.Err() if ctx ends first.
func (h *PasswordHasher) Verify(ctx context.Context, encoded, password string) (match, needsRehash bool, err error) {
	if len(encoded) > maxEncodedHash {
		return false, false, malformed("too long")
	}
	switch {
	case strings.HasPrefix(encoded, "$argon2id$"):
		p, err := parseArgon2id(encoded)
		if err != nil {
			return false, false, err
		}
		if err := h.sem.acquire(ctx); err != nil {
			return false, false, fmt.Errorf("user: verify password: %w", err)
		}
		match = p.verify(password)
		h.sem.release()
		return match, match && h.argon2idNeedsRehash(p), nil
	case isBcryptPrefix(encoded):
		cost, err := parseBcrypt(encoded, max(maxStoredBcryptCost, h.cfg.BcryptCost))
		if err != nil {
			return false, false, err
		}
		if err := h.sem.acquire(ctx); err != nil {
			return false, false, fmt.Errorf("user: verify password: %w", err)
		}
		match = verifyBcrypt(encoded, password)
		h.sem.release()
		return match, match && (h.cfg.Algorithm != Bcrypt || cost != h.cfg.BcryptCost), nil
	}
	return false, false, malformed("unknown format")
}

// argon2idNeedsRehash reports whether a stored argon2id hash differs from
// the current policy.
func (h *PasswordHasher) argon2idNeedsRehash(p argon2idHash) bool {
	want := h.cfg.Argon2id
	return h.cfg.Algorithm != Argon2id ||
		p.memory != want.Memory ||
		p.time != want.Time ||
		p.threads != want.Threads ||
		uint32(len(p.salt)) != want.SaltLength ||
		uint32(len(p.key)) != want.KeyLength
}

// semaphore bounds how many hashing operations run at once: a buffered
// channel with one element per running operation.
type semaphore chan struct{}

func newSemaphore(n int) semaphore { return make(semaphore, n) }

// acquire takes a slot, waiting until one is free or ctx is done; in the
// latter case it returns ctx.Err(). A context already done never gets a
// slot, even when one is free.
func (s semaphore) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case s <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// release frees a slot taken by acquire.
func (s semaphore) release() { <-s }
