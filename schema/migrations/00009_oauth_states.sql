-- Cedrina schema, version 9: spent OAuth flow states.
--
-- An OAuth or OpenID Connect sign-in sends the browser to the provider
-- with a state, which the provider sends back to the callback. The state
-- is checked by the callback and expires on its own, so nothing is
-- stored when a flow starts: a flow that is never finished leaves no row.
-- What must be stored is that a state was used, so that a callback
-- replayed with the same state (a leaked redirect URL, a callback
-- submitted twice) is refused, whichever instance serves it. One row per
-- used state: state_hash, the hex SHA-256 of the state (never the state
-- itself), and expires_at, the state's own expiry. After expires_at the
-- state is refused as expired anyway, so the row may go: the cleanup
-- deletes rows whose expires_at has passed, in batches, through
-- idx_oauth_spent_states_expires_at.
--
-- state_hash is CHAR(64), the length of every value it holds. The stores
-- write exactly 64 hexadecimal digits and refuse anything else: CHAR pads
-- a shorter value with spaces and compares values without their trailing
-- spaces, so values of other lengths would not compare as written.
--
-- Spending a state is one INSERT ... ON CONFLICT DO NOTHING on the primary
-- key: of concurrent callbacks with one state exactly one inserts. The
-- table belongs to no user (a state is spent before the callback knows
-- who signs in), so it has no foreign key.

-- +goose Up
CREATE TABLE oauth_spent_states (
    state_hash CHAR(64) NOT NULL,
    expires_at TIMESTAMP WITH TIME ZONE NOT NULL,
    CONSTRAINT oauth_spent_states_pkey PRIMARY KEY (state_hash)
);
CREATE INDEX idx_oauth_spent_states_expires_at ON oauth_spent_states (expires_at);

-- +goose Down
DROP TABLE oauth_spent_states;
