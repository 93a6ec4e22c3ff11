package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cedrina/cedrina/legacy"
)

// envLegacyKey holds the original system's Fernet key itself (not a file
// name) when --legacy-key-file is not given.
const envLegacyKey = "CEDRINA_LEGACY_KEY"

// maxSecretFile bounds what is read from a key file.
const maxSecretFile = 64 << 10

// legacyKeys reads the original system's keys from the --legacy-key-file
// file, else from $CEDRINA_LEGACY_KEY; nil when neither is given. Errors
// name the file or the variable, never the key.
func legacyKeys(e *env, file string) (*legacy.Keys, error) {
	text, source, err := secretSource(e, "--legacy-key-file", file, envLegacyKey)
	if err != nil || text == "" {
		return nil, err
	}
	keys, err := legacy.ParseKeys(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", source, err)
	}
	return keys, nil
}

// secretSource returns the text of a secret: the file's, when path is
// given (flag names the flag), else the environment variable's, trimmed,
// and which of them it came from. An empty file is an error; an empty or
// unset variable means no secret.
func secretSource(e *env, flag, path, envVar string) (text, source string, err error) {
	if path == "" {
		return strings.TrimSpace(e.getenv(envVar)), "$" + envVar, nil
	}
	b, err := readSecretFile(e, flag, path)
	if err != nil {
		return "", "", err
	}
	text = strings.TrimSpace(string(b))
	if text == "" {
		return "", "", fmt.Errorf("%s %s: the file is empty", flag, path)
	}
	return text, flag + " " + path, nil
}

// readSecretFile reads a file that holds secrets (at most 64 KiB),
// warning on stderr when other users may read it. Errors name flag and
// the file, never its content.
func readSecretFile(e *env, flag, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&0o077 != 0 {
		fmt.Fprintf(e.stderr, "cedrina: warning: %s %s holds secrets and is readable by other users (mode %s); chmod 600 it\n",
			flag, path, fi.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", flag, path, err)
	}
	return b, nil
}
