package schema_test

import (
	"context"
	"testing"

	"github.com/cedrina/cedrina/internal/legacytest"
	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/legacy"
	"github.com/cedrina/cedrina/oauth"
	"github.com/cedrina/cedrina/schema"
)

// BenchmarkAdopt adopts the original system's database holding 10,000
// more users, each with an OAuth profile whose token the original
// encrypted: inspection (the probe), the baseline, the token conversion
// in batches of 500 (Fernet opened, AES-GCM sealed, one UPDATE a batch)
// and migrations 2 to the latest. The database is made anew, outside the
// timer, for each adoption.
func BenchmarkAdopt(b *testing.B) {
	const users = 10000
	ctx := context.Background()
	keys, err := legacy.ParseKeys(legacytest.Key)
	if err != nil {
		b.Fatal(err)
	}
	cipher, err := oauth.NewCipher(oauth.Key{ID: "k1", Secret: make([]byte, 32)})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		db := pgtest.OpenPgx(b, pgtest.URL(b))
		if err := legacytest.CreateContext(ctx, db); err != nil {
			b.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO users (id, username, email, hashed_password)
			SELECT 100 + i, 'user' || i, 'user' || i || '@example.com', $1 FROM generate_series(1, $2::int) AS i`,
			legacytest.Users[0].Stored, users); err != nil {
			b.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO oauth_profiles (user_id, provider, provider_user_id, access_token)
			SELECT 100 + i, 'GOOGLE', 'g' || i, $1 FROM generate_series(1, $2::int) AS i`,
			legacytest.Profiles[0].Stored, users); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		r, err := schema.Adopt(ctx, db, schema.AdoptConfig{Tokens: oauth.LegacyTokens(keys, cipher)})
		if err != nil {
			b.Fatal(err)
		}
		if r.TokensConverted != users+int64(len(legacytest.Profiles)) {
			b.Fatalf("%d tokens converted", r.TokensConverted)
		}
	}
}
