-- Cedrina schema, version 4: security stamps, and an index for ended
-- sessions.
--
-- users.security_stamp moves on (+1) with every change that must end what
-- was authorized before it: a password change or reset, a deactivation, a
-- reactivation. A login reads it before verifying the password (a slow
-- step), and its writes are conditional on it: the success is recorded,
-- and the session started, only while the stamp is still the one read. A
-- time comparison (password_changed_at, is_active) cannot see a
-- deactivation undone by a reactivation while the password was being
-- hashed; a stamp that only moves forward can.
--
-- sessions.security_stamp is the user's stamp when the session started. A
-- session is valid only while it equals its user's, so every session from
-- before a stamp change ends at once, even where nothing revoked it.
--
-- Both default to 0 and are NOT NULL: rows written by the original system
-- (which does not know the columns) still insert, and adding a column with
-- a constant default does not rewrite the table.
--
-- idx_sessions_inactive serves the cleanup pass that deletes ended
-- sessions (is_active false or NULL): a partial index holding only those
-- rows, so the pass is an index scan however many live sessions there are.
-- idx_sessions_is_active (a B-tree on a boolean, from the original schema)
-- cannot serve "is_active IS NOT TRUE" and stays for the lookups by
-- is_active that schema made.

-- +goose Up
ALTER TABLE users ADD COLUMN security_stamp BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN security_stamp BIGINT NOT NULL DEFAULT 0;
CREATE INDEX idx_sessions_inactive ON sessions (id) WHERE is_active IS NOT TRUE;

-- +goose Down
DROP INDEX idx_sessions_inactive;
ALTER TABLE sessions DROP COLUMN security_stamp;
ALTER TABLE users DROP COLUMN security_stamp;
