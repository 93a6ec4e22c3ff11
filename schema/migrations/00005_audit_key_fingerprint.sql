-- Cedrina schema, version 5: the fingerprint of the audit chain's key.
--
-- audit_chain.key_fingerprint names the key the chain is sealed under,
-- without revealing it: the first 16 bytes, in hex, of
-- HMAC-SHA-256(key, "cedrina audit key fingerprint v1") for a keyed chain,
-- or 'none' for a chain hashed with plain SHA-256 (no key). The audit
-- package records it in the statement that moves the chain's end, refuses
-- to append under another key (which would break the chain for good), and
-- compares it with the configured key before verifying, so that a wrong
-- or missing key is reported as such, not as tampering.
--
-- NULL means unknown: a chain sealed before this migration, or one never
-- sealed. The next append records the fingerprint of its key. The column
-- is nullable, without a default or CHECK, so existing rows stay as they
-- are and adding it does not rewrite the table.

-- +goose Up
ALTER TABLE audit_chain ADD COLUMN key_fingerprint VARCHAR(32);

-- +goose Down
ALTER TABLE audit_chain DROP COLUMN key_fingerprint;
