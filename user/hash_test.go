package user

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// cheap is a configuration fast enough for tests.
var cheap = HashConfig{
	Argon2id:   Argon2idParams{Memory: 64, Time: 1},
	BcryptCost: bcrypt.MinCost,
}

func newTestHasher(tb testing.TB, cfg HashConfig) *PasswordHasher {
	tb.Helper()
	h, err := NewHasher(cfg)
	if err != nil {
		tb.Fatalf("NewHasher(%+v): %v", cfg, err)
	}
	return h
}

func TestNewHasherConfig(t *testing.T) {
	tests := []struct {
		name  string
		cfg   HashConfig
		field string // "" when valid
	}{
		{"zero value", HashConfig{}, ""},
		{"bcrypt", HashConfig{Algorithm: Bcrypt}, ""},
		{"cheap", cheap, ""},
		{"bcrypt max cost", HashConfig{BcryptCost: bcrypt.MaxCost}, ""},
		{"four threads", HashConfig{Argon2id: Argon2idParams{Memory: 32, Threads: 4}}, ""},
		{"unknown algorithm", HashConfig{Algorithm: "scrypt"}, "Algorithm"},
		{"wrong case algorithm", HashConfig{Algorithm: "Argon2id"}, "Algorithm"},
		{"bcrypt cost too low", HashConfig{BcryptCost: bcrypt.MinCost - 1}, "BcryptCost"},
		{"bcrypt cost too high", HashConfig{BcryptCost: bcrypt.MaxCost + 1}, "BcryptCost"},
		{"negative bcrypt cost", HashConfig{BcryptCost: -1}, "BcryptCost"},
		{"memory below 8 per thread", HashConfig{Argon2id: Argon2idParams{Memory: 31, Threads: 4}}, "Argon2id.Memory"},
		{"memory above 1 GiB", HashConfig{Argon2id: Argon2idParams{Memory: 1<<20 + 1}}, "Argon2id.Memory"},
		{"time above 100", HashConfig{Argon2id: Argon2idParams{Time: 101}}, "Argon2id.Time"},
		{"salt too short", HashConfig{Argon2id: Argon2idParams{SaltLength: 8}}, "Argon2id.SaltLength"},
		{"salt too long", HashConfig{Argon2id: Argon2idParams{SaltLength: 1025}}, "Argon2id.SaltLength"},
		{"key too short", HashConfig{Argon2id: Argon2idParams{KeyLength: 15}}, "Argon2id.KeyLength"},
		{"key too long", HashConfig{Argon2id: Argon2idParams{KeyLength: 1025}}, "Argon2id.KeyLength"},
		{"negative concurrency", HashConfig{MaxConcurrent: -1}, "MaxConcurrent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := NewHasher(tt.cfg)
			if tt.field == "" {
				if err != nil || h == nil {
					t.Fatalf("NewHasher: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("NewHasher = %v, want an error naming %s", err, tt.field)
			}
		})
	}
}

func TestHasherConfigDefaults(t *testing.T) {
	got := newTestHasher(t, HashConfig{}).Config()
	want := HashConfig{
		Algorithm:     Argon2id,
		Argon2id:      Argon2idParams{Memory: 19456, Time: 2, Threads: 1, SaltLength: 16, KeyLength: 32},
		BcryptCost:    12,
		MaxConcurrent: runtime.GOMAXPROCS(0),
	}
	if got != want {
		t.Fatalf("Config() = %+v, want %+v", got, want)
	}
}

// The defaults write the OWASP parameters. Hashes once with each
// algorithm.
func TestHashDefaultsEncoding(t *testing.T) {
	ctx := context.Background()
	enc, err := newTestHasher(t, HashConfig{}).Hash(ctx, "tangerine submarine")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("default hash %q", enc)
	}
	p, err := parseArgon2id(enc)
	if err != nil || len(p.salt) != 16 || len(p.key) != 32 {
		t.Fatalf("default hash parses to salt %d, key %d bytes, %v", len(p.salt), len(p.key), err)
	}
	enc, err = newTestHasher(t, HashConfig{Algorithm: Bcrypt}).Hash(ctx, "tangerine submarine")
	if err != nil {
		t.Fatal(err)
	}
	if cost, err := bcrypt.Cost([]byte(enc)); err != nil || cost != 12 || len(enc) != 60 {
		t.Fatalf("default bcrypt hash %q: cost %d, %v", enc, cost, err)
	}
}

func TestHashRoundTrip(t *testing.T) {
	ctx := context.Background()
	for _, alg := range []HashAlgorithm{Argon2id, Bcrypt} {
		t.Run(string(alg), func(t *testing.T) {
			cfg := cheap
			cfg.Algorithm = alg
			h := newTestHasher(t, cfg)
			for _, pw := range []string{"tangerine submarine", "", "пароль", "'; DROP TABLE users;--", strings.Repeat("x", 72)} {
				enc, err := h.Hash(ctx, pw)
				if err != nil {
					t.Fatalf("Hash(%q): %v", pw, err)
				}
				if strings.Contains(enc, pw) && pw != "" {
					t.Fatalf("hash %q contains the password", enc)
				}
				match, rehash, err := h.Verify(ctx, enc, pw)
				if err != nil || !match || rehash {
					t.Fatalf("Verify(right) = %v, %v, %v", match, rehash, err)
				}
				match, rehash, err = h.Verify(ctx, enc, pw+"x")
				if err != nil || match || rehash {
					t.Fatalf("Verify(wrong) = %v, %v, %v", match, rehash, err)
				}
				again, err := h.Hash(ctx, pw)
				if err != nil || again == enc {
					t.Fatalf("two hashes of one password are equal (salt not random): %q", enc)
				}
			}
		})
	}
}

func TestArgon2idFormat(t *testing.T) {
	cfg := cheap
	cfg.Argon2id.Threads = 2
	cfg.Argon2id.SaltLength = 24
	cfg.Argon2id.KeyLength = 48
	enc, err := newTestHasher(t, cfg).Hash(context.Background(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Split(enc, "$")
	if len(fields) != 6 || fields[1] != "argon2id" || fields[2] != "v=19" || fields[3] != "m=64,t=1,p=2" {
		t.Fatalf("hash %q", enc)
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(fields[4])
	key, err2 := base64.RawStdEncoding.DecodeString(fields[5])
	if err1 != nil || err2 != nil || len(salt) != 24 || len(key) != 48 {
		t.Fatalf("salt %d bytes (%v), key %d bytes (%v)", len(salt), err1, len(key), err2)
	}
}

// Hashes written by other implementations verify.
func TestVerifyKnownHashes(t *testing.T) {
	// The reference implementation's argon2id output for "password" with
	// salt "somesalt", t=2, m=64, p=2, 24-byte key (x/crypto's test vector).
	key, _ := hex.DecodeString("350ac37222f436ccb5c0972f1ebd3bf6b958bf2071841362")
	phc := "$argon2id$v=19$m=64,t=2,p=2$" + base64.RawStdEncoding.EncodeToString([]byte("somesalt")) + "$" + base64.RawStdEncoding.EncodeToString(key)
	tests := []struct {
		name, enc, pw string
	}{
		{"argon2id reference", phc, "password"},
		// OpenBSD / crypt_blowfish test vector.
		{"bcrypt 2a", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U"},
		{"bcrypt 2b", "$2b$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U"},
		{"bcrypt 2y", "$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U"},
		{"bcrypt x/crypto vector", "$2a$10$XajjQvNhvvRt5GSeFk1xFeyqRrsxkhBkUiQeg0dt.wU1qD4aFDcga", "allmine"},
	}
	h := newTestHasher(t, cheap)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			match, rehash, err := h.Verify(context.Background(), tt.enc, tt.pw)
			if err != nil || !match || !rehash {
				t.Fatalf("Verify = %v, %v, %v; want match needing rehash", match, rehash, err)
			}
			match, _, err = h.Verify(context.Background(), tt.enc, tt.pw+"!")
			if err != nil || match {
				t.Fatalf("Verify(wrong) = %v, %v", match, err)
			}
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	b := base64.RawStdEncoding.EncodeToString
	salt := b([]byte("saltsaltsaltsalt"))
	key := b(make([]byte, 32))
	ok := "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key
	if _, err := parseArgon2id(ok); err != nil {
		t.Fatalf("base case: %v", err)
	}
	bcryptOK := "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
	tests := []struct {
		name, enc string
	}{
		{"empty", ""},
		{"plain text", "tangerine submarine"},
		{"unknown algorithm", "$pbkdf2-sha256$29000$c2FsdA$aGFzaA"},
		{"argon2i", "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"argon2d", "$argon2d$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"upper case", "$ARGON2ID$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"wrong version", "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key},
		{"version with leading zero", "$argon2id$v=019$m=64,t=1,p=1$" + salt + "$" + key},
		{"missing version", "$argon2id$m=64,t=1,p=1$" + salt + "$" + key},
		{"missing key", "$argon2id$v=19$m=64,t=1,p=1$" + salt},
		{"missing salt and key", "$argon2id$v=19$m=64,t=1,p=1"},
		{"extra field", ok + "$" + key},
		{"trailing dollar", ok + "$"},
		{"truncated", ok[:len(ok)-10]},
		{"truncated in parameters", "$argon2id$v=19$m=64,t="},
		{"missing parameter", "$argon2id$v=19$m=64,t=1$" + salt + "$" + key},
		{"extra parameter", "$argon2id$v=19$m=64,t=1,p=1,keyid=abc$" + salt + "$" + key},
		{"parameters out of order", "$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key},
		{"space in parameters", "$argon2id$v=19$m=64, t=1,p=1$" + salt + "$" + key},
		{"leading zero", "$argon2id$v=19$m=064,t=1,p=1$" + salt + "$" + key},
		{"plus sign", "$argon2id$v=19$m=+64,t=1,p=1$" + salt + "$" + key},
		{"negative", "$argon2id$v=19$m=64,t=-1,p=1$" + salt + "$" + key},
		{"hex", "$argon2id$v=19$m=0x40,t=1,p=1$" + salt + "$" + key},
		{"huge memory", "$argon2id$v=19$m=4294967295,t=1,p=1$" + salt + "$" + key},
		{"memory overflowing uint32", "$argon2id$v=19$m=9999999999,t=1,p=1$" + salt + "$" + key},
		{"memory over 1 GiB", "$argon2id$v=19$m=1048577,t=1,p=1$" + salt + "$" + key},
		{"memory below 8 per thread", "$argon2id$v=19$m=31,t=1,p=4$" + salt + "$" + key},
		{"zero time", "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key},
		{"huge time", "$argon2id$v=19$m=64,t=101,p=1$" + salt + "$" + key},
		{"zero parallelism", "$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key},
		{"parallelism over 255", "$argon2id$v=19$m=4096,t=1,p=256$" + salt + "$" + key},
		{"key over 1024 bytes", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + b(make([]byte, 1025))},
		{"key under 16 bytes", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + b(make([]byte, 15))},
		{"salt under 8 bytes", "$argon2id$v=19$m=64,t=1,p=1$" + b([]byte("salt")) + "$" + key},
		{"empty salt", "$argon2id$v=19$m=64,t=1,p=1$$" + key},
		{"bad base64", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:len(key)-1] + "*"},
		{"padded base64", "$argon2id$v=19$m=64,t=1,p=1$" + base64.StdEncoding.EncodeToString([]byte("saltsaltsaltsalt")) + "$" + key},
		{"url-safe base64", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + base64.RawURLEncoding.EncodeToString([]byte{0xfb, 0xff, 0xfe, 0xfb, 0xff, 0xfe, 0xfb, 0xff, 0xfe, 0xfb, 0xff, 0xfe, 0xfb, 0xff, 0xfe, 0xfb})},
		{"non-canonical base64 trailing bits", "$argon2id$v=19$m=64,t=1,p=1$" + salt[:len(salt)-1] + "B" + "$" + key},
		{"newline in salt", "$argon2id$v=19$m=64,t=1,p=1$" + salt[:8] + "\n" + salt[8:] + "$" + key},
		{"NUL in salt", "$argon2id$v=19$m=64,t=1,p=1$" + salt[:8] + "\x00" + salt[8:] + "$" + key},
		{"NUL after", ok + "\x00"},
		{"NUL before", "\x00" + ok},
		{"huge string", ok + strings.Repeat("A", 1<<20)},
		{"bcrypt too short", bcryptOK[:59]},
		{"bcrypt too long", bcryptOK + "A"},
		{"bcrypt 2x", "$2x$" + bcryptOK[4:]},
		{"bcrypt 2", "$2$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeWx"},
		{"bcrypt 3a", "$3a$" + bcryptOK[4:]},
		{"bcrypt cost plus sign", "$2a$+5$" + bcryptOK[7:]},
		{"bcrypt cost one digit", "$2a$5$C" + bcryptOK[7:]},
		{"bcrypt cost 3", "$2a$03$" + bcryptOK[7:]},
		{"bcrypt cost 32", "$2a$32$" + bcryptOK[7:]},
		{"bcrypt cost 17 above the bound", "$2a$17$" + bcryptOK[7:]},
		{"bcrypt bad character", bcryptOK[:30] + "!" + bcryptOK[31:]},
		{"bcrypt NUL", bcryptOK[:30] + "\x00" + bcryptOK[31:]},
		{"bcrypt missing separator", "$2a$05C" + bcryptOK[7:]},
	}
	h := newTestHasher(t, cheap)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			match, rehash, err := h.Verify(context.Background(), tt.enc, "password")
			if !errors.Is(err, ErrMalformedHash) || match || rehash {
				t.Fatalf("Verify = %v, %v, %v; want ErrMalformedHash", match, rehash, err)
			}
			if !strings.HasPrefix(err.Error(), "user: malformed password hash: ") {
				t.Fatalf("error %q", err)
			}
			if len(tt.enc) > 10 && strings.Contains(err.Error(), tt.enc) {
				t.Fatalf("error %q contains the hash", err)
			}
		})
	}
}

// A configured bcrypt cost above the fixed bound raises the bound.
func TestVerifyBcryptCostBoundFollowsConfig(t *testing.T) {
	enc := "$2a$17$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
	if _, err := parseBcrypt(enc, maxStoredBcryptCost); !errors.Is(err, ErrMalformedHash) {
		t.Fatalf("cost 17 with default bound: %v", err)
	}
	if cost, err := parseBcrypt(enc, 17); err != nil || cost != 17 {
		t.Fatalf("cost 17 with bound 17: %d, %v", cost, err)
	}
}

func TestVerifyNeedsRehash(t *testing.T) {
	ctx := context.Background()
	const pw = "tangerine submarine"
	base := cheap
	argon, err := newTestHasher(t, base).Hash(ctx, pw)
	if err != nil {
		t.Fatal(err)
	}
	bcryptCfg := base
	bcryptCfg.Algorithm = Bcrypt
	bcr, err := newTestHasher(t, bcryptCfg).Hash(ctx, pw)
	if err != nil {
		t.Fatal(err)
	}
	with := func(f func(*HashConfig)) HashConfig {
		c := base
		f(&c)
		return c
	}
	tests := []struct {
		name   string
		stored string
		cfg    HashConfig
		want   bool
	}{
		{"argon2id, same policy", argon, base, false},
		{"argon2id, explicit defaults equal to the policy", argon, with(func(c *HashConfig) { c.Argon2id.Threads, c.Argon2id.SaltLength, c.Argon2id.KeyLength = 1, 16, 32 }), false},
		{"argon2id, other concurrency only", argon, with(func(c *HashConfig) { c.MaxConcurrent = 7 }), false},
		{"argon2id, other bcrypt cost only", argon, with(func(c *HashConfig) { c.BcryptCost = 5 }), false},
		{"argon2id, memory differs", argon, with(func(c *HashConfig) { c.Argon2id.Memory = 128 }), true},
		{"argon2id, lower memory also differs", argon, with(func(c *HashConfig) { c.Argon2id.Memory = 32 }), true},
		{"argon2id, time differs", argon, with(func(c *HashConfig) { c.Argon2id.Time = 2 }), true},
		{"argon2id, threads differ", argon, with(func(c *HashConfig) { c.Argon2id.Threads = 2 }), true},
		{"argon2id, salt length differs", argon, with(func(c *HashConfig) { c.Argon2id.SaltLength = 32 }), true},
		{"argon2id, key length differs", argon, with(func(c *HashConfig) { c.Argon2id.KeyLength = 64 }), true},
		{"argon2id, policy now bcrypt", argon, bcryptCfg, true},
		{"bcrypt, same policy", bcr, bcryptCfg, false},
		{"bcrypt, other argon2id parameters only", bcr, with(func(c *HashConfig) { c.Algorithm = Bcrypt; c.Argon2id.Memory = 256 }), false},
		{"bcrypt, cost differs", bcr, with(func(c *HashConfig) { c.Algorithm = Bcrypt; c.BcryptCost = 5 }), true},
		{"bcrypt, policy now argon2id", bcr, base, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHasher(t, tt.cfg)
			match, rehash, err := h.Verify(ctx, tt.stored, pw)
			if err != nil || !match || rehash != tt.want {
				t.Fatalf("Verify = %v, %v, %v; want match, needsRehash %v", match, rehash, err, tt.want)
			}
			// No rehash is ever suggested for a wrong password.
			match, rehash, err = h.Verify(ctx, tt.stored, pw+"!")
			if err != nil || match || rehash {
				t.Fatalf("Verify(wrong) = %v, %v, %v", match, rehash, err)
			}
		})
	}
}

func TestBcrypt72ByteGuard(t *testing.T) {
	ctx := context.Background()
	cfg := cheap
	cfg.Algorithm = Bcrypt
	h := newTestHasher(t, cfg)
	pw72 := strings.Repeat("a", 71) + "b"
	if len(pw72) != 72 {
		t.Fatal("bad test data")
	}
	if _, err := h.Hash(ctx, pw72); err != nil {
		t.Fatalf("Hash(72 bytes): %v", err)
	}
	for _, long := range []string{pw72 + "c", pw72 + strings.Repeat("c", 1000), strings.Repeat("é", 37)} {
		if _, err := h.Hash(ctx, long); !errors.Is(err, ErrPasswordTooLong) {
			t.Fatalf("Hash(%d bytes) = %v, want ErrPasswordTooLong", len(long), err)
		}
	}
	// A bcrypt hash of the first 72 bytes, as x/crypto or another system
	// would have written it.
	raw, err := bcrypt.GenerateFromPassword([]byte(pw72), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	// x/crypto itself truncates: the guard is needed.
	if err := bcrypt.CompareHashAndPassword(raw, []byte(pw72+"c")); err != nil {
		t.Log("x/crypto no longer truncates in CompareHashAndPassword; the guard stays harmless")
	}
	for _, hasher := range []*PasswordHasher{h, newTestHasher(t, cheap)} {
		match, _, err := hasher.Verify(ctx, string(raw), pw72)
		if err != nil || !match {
			t.Fatalf("Verify(72 bytes) = %v, %v", match, err)
		}
		for _, long := range []string{pw72 + "c", pw72 + strings.Repeat("c", 100)} {
			match, rehash, err := hasher.Verify(ctx, string(raw), long)
			if err != nil || match || rehash {
				t.Fatalf("Verify(%d bytes) = %v, %v, %v; want no match", len(long), match, rehash, err)
			}
		}
	}
	// Argon2id has no such limit.
	ha := newTestHasher(t, cheap)
	enc, err := ha.Hash(ctx, pw72+"c")
	if err != nil {
		t.Fatal(err)
	}
	if match, _, _ := ha.Verify(ctx, enc, pw72); match {
		t.Fatal("argon2id matched a prefix")
	}
	if match, _, _ := ha.Verify(ctx, enc, pw72+"c"); !match {
		t.Fatal("argon2id did not match a long password")
	}
}

func TestHasherSemaphoreHonoursContext(t *testing.T) {
	cfg := cheap
	cfg.MaxConcurrent = 1
	h := newTestHasher(t, cfg)
	enc, err := h.Hash(context.Background(), "pw")
	if err != nil {
		t.Fatal(err)
	}
	// Hold the only slot.
	if err := h.sem.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(cancelled, "pw"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Hash with the slot held and ctx cancelled = %v, want context.Canceled", err)
	}
	if _, _, err := h.Verify(cancelled, enc, "pw"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Verify with the slot held and ctx cancelled = %v, want context.Canceled", err)
	}
	// A call waiting for the slot gives up when its context ends.
	waiting, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := h.Hash(waiting, "pw")
		done <- err
	}()
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("waiting Hash = %v, want context.Canceled", err)
	}
	// Once the slot is free, work proceeds.
	h.sem.release()
	if match, _, err := h.Verify(context.Background(), enc, "pw"); err != nil || !match {
		t.Fatalf("Verify after release = %v, %v", match, err)
	}
	// A context already done never gets a slot, even a free one.
	if _, err := h.Hash(cancelled, "pw"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Hash with a free slot and ctx cancelled = %v", err)
	}
}

func TestSemaphoreBounds(t *testing.T) {
	s := newSemaphore(3)
	for i := range 3 {
		if err := s.acquire(context.Background()); err != nil {
			t.Fatalf("acquire %d: %v", i, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.acquire(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("4th acquire = %v", err)
	}
	s.release()
	if err := s.acquire(context.Background()); err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	if len(s) != 3 {
		t.Fatalf("%d slots held, want 3", len(s))
	}
}

// Many concurrent calls all complete with MaxConcurrent 2 (run with -race).
func TestHasherConcurrent(t *testing.T) {
	cfg := cheap
	cfg.MaxConcurrent = 2
	h := newTestHasher(t, cfg)
	ctx := context.Background()
	errs := make(chan error, 16)
	for i := range 16 {
		go func() {
			pw := fmt.Sprint("pw", i)
			enc, err := h.Hash(ctx, pw)
			if err == nil {
				var match bool
				match, _, err = h.Verify(ctx, enc, pw)
				if err == nil && !match {
					err = errors.New("no match")
				}
			}
			errs <- err
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if len(h.sem) != 0 {
		t.Fatalf("%d slots still held", len(h.sem))
	}
}

func FuzzVerifyHash(f *testing.F) {
	h, err := NewHasher(cheap)
	if err != nil {
		f.Fatal(err)
	}
	argon, _ := h.Hash(context.Background(), "password")
	for _, s := range []string{
		argon,
		"$argon2id$v=19$m=64,t=2,p=2$c29tZXNhbHQ$NQrDciL0Nsy1wJcvHr079rlYvyBxhBNi",
		"$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNh\nbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAA",
		"$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
		"$2y$31$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
		"$2a$+5$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
		"", "$", "$argon2id$", "$2a$", "\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.HasPrefix(s, "$argon2id$") {
			p, err := parseArgon2id(s)
			if err != nil {
				if !errors.Is(err, ErrMalformedHash) {
					t.Fatalf("parse error %v does not wrap ErrMalformedHash", err)
				}
				return
			}
			// The parser is strict: it accepts only the canonical encoding.
			if p.String() != s {
				t.Fatalf("parsed %q re-encodes as %q", s, p.String())
			}
			if p.memory > maxArgon2idMemory || p.memory < 8*uint32(p.threads) || p.time < 1 || p.time > maxArgon2idTime ||
				p.threads < 1 || len(p.salt) < minStoredSaltLength || len(p.salt) > maxArgon2idLength ||
				len(p.key) < minStoredKeyLength || len(p.key) > maxArgon2idLength {
				t.Fatalf("parameters out of bounds in %q", s)
			}
			if p.memory > 256 || p.time > 2 {
				return // too expensive to verify in a fuzz loop; bounds are checked above
			}
		}
		if isBcryptPrefix(s) {
			cost, err := parseBcrypt(s, maxStoredBcryptCost)
			if err != nil {
				if !errors.Is(err, ErrMalformedHash) {
					t.Fatalf("parse error %v does not wrap ErrMalformedHash", err)
				}
				return
			}
			if cost < bcrypt.MinCost || cost > maxStoredBcryptCost || len(s) != 60 {
				t.Fatalf("accepted %q with cost %d", s, cost)
			}
			if cost > 5 {
				return
			}
		}
		match, rehash, err := h.Verify(context.Background(), s, "password")
		if err != nil {
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("Verify error %v does not wrap ErrMalformedHash", err)
			}
			if match || rehash {
				t.Fatal("match or rehash with an error")
			}
			return
		}
		if rehash && !match {
			t.Fatal("rehash without a match")
		}
	})
}

func BenchmarkArgon2idDefault(b *testing.B) {
	h := newTestHasher(b, HashConfig{})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(ctx, "tangerine submarine"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBcrypt12Verify(b *testing.B) {
	h := newTestHasher(b, HashConfig{Algorithm: Bcrypt, BcryptCost: 12})
	ctx := context.Background()
	enc, err := h.Hash(ctx, "tangerine submarine")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if match, _, err := h.Verify(ctx, enc, "tangerine submarine"); err != nil || !match {
			b.Fatal(match, err)
		}
	}
}
