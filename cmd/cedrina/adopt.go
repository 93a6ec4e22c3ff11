package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/cedrina/cedrina/legacy"
	"github.com/cedrina/cedrina/oauth"
	"github.com/cedrina/cedrina/schema"
)

// envOAuthTokenKeys holds the SDK's OAuth token keys themselves (not a
// file name) when --oauth-token-keys-file is not given.
const envOAuthTokenKeys = "CEDRINA_OAUTH_TOKEN_KEYS"

// adoptFlags are the flags of migrate adopt.
type adoptFlags struct {
	legacyKeyFile, tokenKeysFile string
	batch                        int
}

// adoptKeys holds the keys migrate adopt converts OAuth tokens with, and
// says, for the operator, which of them were not given.
type adoptKeys struct {
	tokens  func(userID int64, provider, stored string) (string, error) // nil unless both keys were given
	missing []string
}

// readAdoptKeys reads the original system's Fernet keys and the SDK's
// OAuth token keys, each from its file flag or, without it, from its
// environment variable. A key that is absent is listed in missing; one
// that is given but unreadable or malformed is an error, which names the
// flag or variable and never a key.
func readAdoptKeys(e *env, f adoptFlags) (*adoptKeys, error) {
	legacyText, legacySource, err := secretSource(e, "--legacy-key-file", f.legacyKeyFile, envLegacyKey)
	if err != nil {
		return nil, err
	}
	tokenText, tokenSource, err := secretSource(e, "--oauth-token-keys-file", f.tokenKeysFile, envOAuthTokenKeys)
	if err != nil {
		return nil, err
	}
	k := &adoptKeys{}
	var keys *legacy.Keys
	if legacyText == "" {
		k.missing = append(k.missing, "the original system's Fernet key (--legacy-key-file or $"+envLegacyKey+")")
	} else if keys, err = legacy.ParseKeys(legacyText); err != nil {
		return nil, fmt.Errorf("%s: %v", legacySource, err)
	}
	var cipher *oauth.Cipher
	if tokenText == "" {
		k.missing = append(k.missing, "the SDK's OAuth token keys (--oauth-token-keys-file or $"+envOAuthTokenKeys+")")
	} else if cipher, err = oauth.ParseKeys(tokenText); err != nil {
		return nil, fmt.Errorf("%s: %v", tokenSource, err)
	}
	if keys != nil && cipher != nil {
		k.tokens = oauth.LegacyTokens(keys, cipher)
	}
	return k, nil
}

// migrateAdopt runs schema.Adopt with the keys given, prints the report
// on stdout and the conversion's progress on stderr, and returns the
// exit code: 0 adopted, already adopted or already managed; 1 refused or
// failed.
func migrateAdopt(ctx context.Context, e *env, db *sql.DB, keys *adoptKeys, batch int) int {
	r, err := schema.Adopt(ctx, db, schema.AdoptConfig{
		Tokens: keys.tokens,
		Batch:  batch,
		Progress: func(done, total int64) {
			fmt.Fprintf(e.stderr, "converted %d of %d OAuth tokens\n", done, total)
		},
	})
	if r != nil {
		if _, werr := r.WriteTo(e.stdout); werr != nil && err == nil {
			err = werr
		}
	}
	switch {
	case errors.Is(err, schema.ErrTokensNeedKey):
		e.errorf("migrate adopt: %d OAuth tokens, in %d profiles, must be converted into the SDK's format: give %s; nothing changed",
			r.Tokens, r.Profiles, strings.Join(keys.missing, " and "))
		return exitFailure
	case err != nil:
		e.errorf("migrate adopt: %v", err)
		return exitFailure
	}
	return exitOK
}
