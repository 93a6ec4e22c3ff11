-- Cedrina schema, version 2: tamper evidence for audit_logs, and an index
-- for a user's recent events.
--
-- Every event the audit package records is a link of a hash chain: its
-- position (chain_seq), the hash of the event before it (prev_hash) and its
-- own hash over its content and prev_hash (hash, hex SHA-256 or
-- HMAC-SHA-256). The hash covers actor_id, the user id as recorded, not
-- user_id: deleting a user sets user_id to NULL (ON DELETE SET NULL, as in
-- the original schema, so the trail outlives the account), which must not
-- look like tampering. The verifier checks that user_id is either actor_id
-- or NULL.
--
-- All four columns are nullable and have no default, so rows written by the
-- original system still insert; such rows are outside the chain.
--
-- audit_chain is a single row holding where the chain starts (moved forward
-- by archiving) and ends. Writers lock it (SELECT ... FOR UPDATE) to append,
-- which serialises chain assignment across every process sharing the
-- database; the end it records makes removing the newest events evident.

-- +goose Up
ALTER TABLE audit_logs
    ADD COLUMN chain_seq BIGINT,
    ADD COLUMN actor_id  BIGINT,
    ADD COLUMN prev_hash VARCHAR(64),
    ADD COLUMN hash      VARCHAR(64);

-- One event per chain position; NULLs (unchained rows) do not collide.
CREATE UNIQUE INDEX audit_logs_chain_seq_key ON audit_logs (chain_seq);

-- A user's events newest first, optionally in a time range, paged by
-- (created_at, id): an index range scan in exactly the listing's order.
-- idx_audit_logs_user_id stays for the foreign key's ON DELETE SET NULL.
CREATE INDEX idx_audit_logs_user_created ON audit_logs (user_id, created_at DESC, id DESC);

CREATE TABLE audit_chain (
    id         SMALLINT    NOT NULL DEFAULT 1,
    start_seq  BIGINT      NOT NULL,
    start_hash VARCHAR(64) NOT NULL,
    end_seq    BIGINT      NOT NULL,
    end_hash   VARCHAR(64) NOT NULL,
    CONSTRAINT audit_chain_pkey PRIMARY KEY (id),
    CONSTRAINT audit_chain_single_row CHECK (id = 1)
);

-- The empty chain: the first event will be seq 1 and link to 64 zeros.
INSERT INTO audit_chain (id, start_seq, start_hash, end_seq, end_hash)
VALUES (1, 1, repeat('0', 64), 0, repeat('0', 64));

-- +goose Down
DROP TABLE audit_chain;
DROP INDEX idx_audit_logs_user_created;
DROP INDEX audit_logs_chain_seq_key;
ALTER TABLE audit_logs
    DROP COLUMN hash,
    DROP COLUMN prev_hash,
    DROP COLUMN actor_id,
    DROP COLUMN chain_seq;
