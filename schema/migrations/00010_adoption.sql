-- Cedrina schema, version 10: the record of an adoption.
--
-- A database the original system created (its own DDL, versioned by
-- Alembic) is taken over by schema.Adopt (`cedrina migrate adopt`), not
-- by version 1, whose tables already exist there. Adopt
-- checks that the tables are the ones version 1 creates, records version
-- 1 as applied, ends what the original system left open (its sessions,
-- its reset tokens, kept in clear), moves its provider tokens into the
-- SDK's sealed format, and writes one row here saying so: when
-- (adopted_at), the Alembic revision the database was at (alembic_head,
-- NULL when it had no alembic_version table, several revisions separated
-- by ", "), and how many sessions it ended, reset tokens it removed and
-- OAuth tokens it converted. The row is what tells a second Adopt that
-- there is nothing left to adopt, and operators when and from what the
-- schema was taken over.
--
-- A schema created by `migrate up` gets the table too, empty: it was
-- never adopted.
--
-- IF NOT EXISTS because Adopt creates this very table, with this very
-- statement, in the transaction that records version 1, before versions 2
-- and later run; on an adopted schema, this migration then finds the table
-- with its row and leaves both as they are.
--
-- A single row (id = 1), as audit_chain. Down drops the table and with it
-- the record of the adoption.

-- +goose Up
CREATE TABLE IF NOT EXISTS cedrina_adoption (
    id                   SMALLINT     NOT NULL DEFAULT 1,
    adopted_at           TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    alembic_head         VARCHAR(255),
    sessions_ended       BIGINT       NOT NULL DEFAULT 0,
    reset_tokens_removed BIGINT       NOT NULL DEFAULT 0,
    tokens_converted     BIGINT       NOT NULL DEFAULT 0,
    CONSTRAINT cedrina_adoption_pkey PRIMARY KEY (id),
    CONSTRAINT cedrina_adoption_single_row CHECK (id = 1)
);

-- +goose Down
DROP TABLE cedrina_adoption;
