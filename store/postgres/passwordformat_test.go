package postgres_test

import (
	"context"
	"fmt"
	"maps"
	"testing"

	"github.com/cedrina/cedrina/internal/legacytest"
	"github.com/cedrina/cedrina/internal/pgtest"
	"github.com/cedrina/cedrina/store/memory"
	"github.com/cedrina/cedrina/store/postgres"
	"github.com/cedrina/cedrina/store/storetest"
	"github.com/cedrina/cedrina/user"
)

// formatSamples are stored hashes of every format, the tricky ones
// included. (PostgreSQL text holds no NUL byte and no invalid UTF-8, so
// those cases are user.PasswordFormat's tests alone.)
var formatSamples = []string{
	storetest.NewUser("x").HashedPassword,
	"$argon2id$",
	"$argon2i$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
	"$argon2d$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
	"$ARGON2ID$v=19",
	"argon2id$v=19",
	"$2a$12$abcdefghijklmnopqrstuuabcdefghijklmnopqrstuvwxyz01234",
	"$2a$",
	"$2A$12$abc",
	"$2a",
	legacytest.Users[0].Stored, // $2b$
	"$2b$",
	"$2b",
	"$2y$10$abc",
	"$2Y$10$abc",
	"$2x$10$abc",
	"$2$10$abc",
	legacytest.Users[1].Stored, // enc_v1:
	"enc_v1:",
	"enc_v1:garbage",
	"enc_v1",
	"enc_v1Z0FB",
	"ENC_V1:Z0FB",
	"encXv1:Z0FB",
	"enc%v1:Z0FB",
	"enc_v2:Z0FB",
	" enc_v1:Z0FB",
	user.NoPassword,
	user.NoPassword + " ",
	"!NO-PASSWORD",
	"!",
	"",
	"plaintext",
	"$pbkdf2-sha256$29000$abc",
	"é$2a$",
	"_2a$",
	"%2a$",
}

// TestPasswordFormats stores one user per sample on PostgreSQL and on
// the memory store: both count alike, as user.PasswordFormat does, and
// ByPasswordFormat finds each sample under exactly the format
// user.PasswordFormat gives it.
func TestPasswordFormats(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := postgres.New(pgtest.DB(t), postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	pg, mem := db.Users(), memory.New().Users()
	want := map[string]int64{}
	format := map[int64]string{} // PostgreSQL user id -> user.PasswordFormat
	for i, h := range formatSamples {
		for _, st := range []user.Store{pg, mem} {
			u := storetest.NewUser(fmt.Sprintf("sample%d", i))
			u.HashedPassword = h
			if err := st.Create(ctx, u); err != nil {
				t.Fatalf("sample %q: %v", h, err)
			}
			if st == user.Store(pg) {
				format[u.ID] = user.PasswordFormat(h)
			}
		}
		want[user.PasswordFormat(h)]++
	}
	if len(want) != 6 {
		t.Fatalf("the samples cover %d formats, want all 6: %v", len(want), want)
	}
	got, err := pg.PasswordFormats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gotMem, err := mem.PasswordFormats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, want) || !maps.Equal(gotMem, want) {
		t.Fatalf("PostgreSQL counts %v, memory %v; want %v", got, gotMem, want)
	}

	// Each sample under its format: in pages of 2, to walk the pages.
	seen := map[int64]string{}
	for f := range want {
		var after int64
		for {
			page, err := pg.ByPasswordFormat(ctx, f, after, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range page {
				if h.UserID <= after {
					t.Fatalf("%s: id %d after %d", f, h.UserID, after)
				}
				if prev, dup := seen[h.UserID]; dup {
					t.Fatalf("user %d under %s and %s", h.UserID, prev, f)
				}
				if h.Hash != hashOf(t, pg, h.UserID) {
					t.Fatalf("user %d: hash %q", h.UserID, h.Hash)
				}
				seen[h.UserID] = f
				after = h.UserID
			}
			if len(page) < 2 {
				break
			}
		}
	}
	for id, f := range format {
		if seen[id] != f {
			t.Errorf("sample %q: SQL says %q, user.PasswordFormat %q", hashOf(t, pg, id), seen[id], f)
		}
	}
	if len(seen) != len(format) {
		t.Errorf("%d users walked, %d stored", len(seen), len(format))
	}
	if _, err := pg.ByPasswordFormat(ctx, user.FormatBcrypt, 0, 0); err == nil {
		t.Error("ByPasswordFormat with limit 0: no error")
	}
	if page, err := pg.ByPasswordFormat(ctx, "no such format", 0, 10); err != nil || len(page) != 0 {
		t.Errorf("an unknown format: %d users, %v", len(page), err)
	}
}

func hashOf(t *testing.T, st user.Store, id int64) string {
	t.Helper()
	u, err := st.ByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u.HashedPassword
}

// TestPasswordFormatsEmpty: no users, no formats.
func TestPasswordFormatsEmpty(t *testing.T) {
	t.Parallel()
	db, err := postgres.New(pgtest.DB(t), postgres.Config{})
	if err != nil {
		t.Fatal(err)
	}
	for name, st := range map[string]interface {
		PasswordFormats(context.Context) (map[string]int64, error)
	}{"postgres": db.Users(), "memory": memory.New().Users()} {
		got, err := st.PasswordFormats(context.Background())
		if err != nil || len(got) != 0 {
			t.Errorf("%s: %v, %v; want an empty map", name, got, err)
		}
	}
}
