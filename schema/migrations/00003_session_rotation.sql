-- Cedrina schema, version 3: refresh token rotation history, and indexes
-- for a user's sessions and for cleanup.
--
-- sessions.refresh_token holds the hash of a session's current refresh
-- token only. To tell a replayed, already-rotated refresh token (the sign
-- of a stolen token: the session must be revoked) from one that never
-- existed, every hash a rotation replaces is kept here, with its session.
-- The history goes with its session (ON DELETE CASCADE), so cleanup of
-- expired sessions bounds it.

-- +goose Up
CREATE TABLE session_refresh_history (
    token_hash VARCHAR(255) NOT NULL,
    session_id INTEGER      NOT NULL,
    rotated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    CONSTRAINT session_refresh_history_pkey PRIMARY KEY (token_hash),
    CONSTRAINT session_refresh_history_session_id_fkey FOREIGN KEY (session_id)
        REFERENCES sessions (id) ON DELETE CASCADE
);

-- Deleting a session finds its history rows through this index.
CREATE INDEX idx_session_refresh_history_session_id ON session_refresh_history (session_id);

-- A user's sessions by recent activity: listing them, and evicting the
-- least recently active beyond the per-user cap.
CREATE INDEX idx_sessions_user_activity ON sessions (user_id, last_activity_at DESC);

-- Cleanup finds idle sessions by last activity (expires_at and is_active
-- have their own indexes from version 1).
CREATE INDEX idx_sessions_last_activity_at ON sessions (last_activity_at);

-- +goose Down
DROP INDEX idx_sessions_last_activity_at;
DROP INDEX idx_sessions_user_activity;
DROP TABLE session_refresh_history;
