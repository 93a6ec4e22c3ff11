-- Cedrina schema, version 6: email verification tokens.
--
-- The original system had the users.is_verified and email_verified_at
-- columns but no way to set them safely. A verification token is 32 random
-- bytes sent to the address; only its hex SHA-256 is stored (token_hash),
-- with the address it verifies (email), so that a token sent to an old
-- address is refused once the account's address changed. A token is spent
-- once (used_at) and expires (expires_at, 24 hours by default). Changing
-- the address, or asking for a new token, spends the user's outstanding
-- ones. Removing the user removes its tokens.
--
-- A table, not a signed token: a signed token cannot be spent, so it would
-- verify again until it expired (after an address went back to an earlier
-- one, say); a row can be, with one conditional UPDATE, and needs no
-- signing key the host would have to keep and rotate.
--
-- idx_email_verification_tokens_user_id serves spending a user's
-- outstanding tokens; idx_email_verification_tokens_expires_at serves the
-- cleanup pass. token_hash lookups use the unique constraint's index.

-- +goose Up
CREATE TABLE email_verification_tokens (
    id         SERIAL,
    user_id    INTEGER NOT NULL,
    email      VARCHAR(254) NOT NULL,
    token_hash VARCHAR(64) NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    expires_at TIMESTAMP WITH TIME ZONE NOT NULL,
    used_at    TIMESTAMP WITH TIME ZONE,
    CONSTRAINT email_verification_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT email_verification_tokens_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT email_verification_tokens_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX idx_email_verification_tokens_user_id ON email_verification_tokens (user_id);
CREATE INDEX idx_email_verification_tokens_expires_at ON email_verification_tokens (expires_at);

-- +goose Down
DROP TABLE email_verification_tokens;
