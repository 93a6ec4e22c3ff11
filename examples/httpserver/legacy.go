package main

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/cedrina/cedrina/legacy"
	"github.com/cedrina/cedrina/schema"
	"github.com/cedrina/cedrina/user"
)

// envLegacyKey holds the original system's Fernet key (its PGCRYPTO_KEY)
// when --legacy-key-file is not given.
const envLegacyKey = "CEDRINA_LEGACY_KEY"

// loadLegacyKeys reads the original system's Fernet key, as that system
// configured it, from --legacy-key-file or $CEDRINA_LEGACY_KEY: nil when
// neither is set. Errors name the file or the variable, never the key.
func loadLegacyKeys(log *slog.Logger, o options, getenv func(string) string) (*legacy.Keys, error) {
	text, source, err := secretText(log, "--legacy-key-file", o.legacyKeyFile, getenv, envLegacyKey)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	keys, err := legacy.ParseKeys(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", source, err) // ParseKeys never quotes a key
	}
	return keys, nil
}

// legacyConfig is the user service's legacy switch: on when the database
// was adopted from the original system (schema.Adopt recorded it) or a
// legacy key is given, so that the original's password hashes verify and
// move to the current format as their users sign in. It says in the log
// which, and warns when the accounts whose hashes the original encrypted
// cannot sign in for want of the key.
func legacyConfig(log *slog.Logger, adopted *schema.Adoption, keys *legacy.Keys) user.LegacyConfig {
	if adopted == nil && keys == nil {
		return user.LegacyConfig{}
	}
	if adopted != nil {
		log.Info("the database was adopted from the original system: its password formats are accepted and upgraded at sign-in",
			"adopted_at", adopted.AdoptedAt, "legacy_key", keys != nil)
	} else {
		log.Info("a legacy key is configured: the original system's password formats are accepted and upgraded at sign-in")
	}
	if keys == nil {
		log.Warn("no legacy key (--legacy-key-file or $" + envLegacyKey + "): accounts whose password hash the original " +
			"system encrypted (enc_v1) cannot sign in; `cedrina legacy status` counts them")
	}
	return user.LegacyConfig{Enabled: true, Keys: keys}
}
