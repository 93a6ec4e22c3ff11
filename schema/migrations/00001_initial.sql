-- Cedrina schema, version 1: the seven tables of the schema the original
-- system used (users, oauth_profiles, sessions, password_reset_tokens,
-- casbin_rules, audit_logs, rate_limit_records).
--
-- This file is the contract between the Go stores and the database. It keeps
-- the original system's column types, defaults and nullability unchanged, so
-- rows written by that system (which often names only the required columns
-- and relies on the defaults) still insert. Many flag and timestamp columns
-- are therefore nullable with a default; stores always write them explicitly.
--
-- Constraint names are spelled out, but they are exactly the names
-- PostgreSQL would generate on its own (<table>_pkey, <table>_<cols>_key,
-- <table>_<col>_fkey). The stores translate unique violations (23505) and
-- foreign key violations (23503) into domain errors by these names, so a
-- rename here is a breaking change.
--
-- Index policy: every lookup the original schema indexes is served by a
-- btree index. Where that schema declares an index that a UNIQUE constraint
-- already provides (same columns, or the index column is the leading column
-- of the constraint's index), the extra index is left out and a comment names
-- the index that answers the same queries. A redundant index costs a write on
-- every INSERT and UPDATE and buys no read the planner could not already do.
--
-- Improvements over the original schema (partial indexes, bigint keys, ...)
-- belong in later, separately numbered migrations, never in this file.
--
-- Apply with schema.Migrate, `cedrina migrate up`, or the goose CLI:
--   goose -dir schema/migrations -table cedrina_goose_db_version postgres "$DATABASE_URL" up

-- +goose Up

-- Accounts. username and email are unique on their own. Role, tier and
-- the JSON columns get the same defaults the original ORM relied on.
CREATE TABLE users (
    id                    SERIAL,
    username              VARCHAR(50)  NOT NULL,
    email                 VARCHAR(254) NOT NULL,
    hashed_password       VARCHAR(255) NOT NULL,
    is_active             BOOLEAN DEFAULT TRUE,
    is_verified           BOOLEAN DEFAULT FALSE,
    role                  VARCHAR(20) DEFAULT 'USER',
    tier                  VARCHAR(20) DEFAULT 'FREE',
    created_at            TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at            TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    last_login_at         TIMESTAMP WITH TIME ZONE,
    failed_login_attempts INTEGER DEFAULT 0,
    locked_until          TIMESTAMP WITH TIME ZONE,
    password_changed_at   TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    email_verified_at     TIMESTAMP WITH TIME ZONE,
    profile_data          JSONB,
    preferences           JSONB DEFAULT '{}',
    metadata              JSONB DEFAULT '{}',
    CONSTRAINT users_pkey PRIMARY KEY (id),
    CONSTRAINT users_username_key UNIQUE (username),
    CONSTRAINT users_email_key UNIQUE (email)
);

-- idx_users_username is not created: the unique index users_username_key on
-- (username) is the same index, so a second one would double the write cost
-- of every insert and username change for no faster lookup.
-- idx_users_email is not created for the same reason: users_email_key on
-- (email) already serves every lookup by email.
CREATE INDEX idx_users_role ON users (role);
CREATE INDEX idx_users_tier ON users (tier);
CREATE INDEX idx_users_is_active ON users (is_active);
CREATE INDEX idx_users_created_at ON users (created_at);

-- External identities. One row per (provider, account at that provider),
-- and a user links at most one account per provider. Removing the user
-- removes the links.
CREATE TABLE oauth_profiles (
    id               SERIAL,
    user_id          INTEGER NOT NULL,
    provider         VARCHAR(50) NOT NULL,
    provider_user_id VARCHAR(255) NOT NULL,
    access_token     TEXT,
    refresh_token    TEXT,
    token_expires_at TIMESTAMP WITH TIME ZONE,
    user_info        JSONB,
    created_at       TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at       TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    CONSTRAINT oauth_profiles_pkey PRIMARY KEY (id),
    CONSTRAINT oauth_profiles_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT oauth_profiles_provider_provider_user_id_key UNIQUE (provider, provider_user_id),
    CONSTRAINT oauth_profiles_user_id_provider_key UNIQUE (user_id, provider)
);

-- idx_oauth_profiles_user_id is not created: user_id is the leading column
-- of oauth_profiles_user_id_provider_key, so that unique index already finds
-- all links of a user (and serves the cascade from users). A separate index
-- would only add write cost.
-- idx_oauth_profiles_provider is not created either: provider is the leading
-- column of oauth_profiles_provider_provider_user_id_key, which therefore
-- answers every "WHERE provider = ..." query on its own.
CREATE INDEX idx_oauth_profiles_provider_user_id ON oauth_profiles (provider_user_id);

-- Server-side sessions. Both tokens are unique. Expired or revoked rows are
-- found through expires_at and is_active by the cleanup job.
CREATE TABLE sessions (
    id               SERIAL,
    user_id          INTEGER NOT NULL,
    session_token    VARCHAR(255) NOT NULL,
    refresh_token    VARCHAR(255) NOT NULL,
    is_active        BOOLEAN DEFAULT TRUE,
    created_at       TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    expires_at       TIMESTAMP WITH TIME ZONE NOT NULL,
    last_activity_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    client_ip        INET,
    user_agent       TEXT,
    device_info      JSONB,
    security_context JSONB DEFAULT '{}',
    CONSTRAINT sessions_pkey PRIMARY KEY (id),
    CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT sessions_session_token_key UNIQUE (session_token),
    CONSTRAINT sessions_refresh_token_key UNIQUE (refresh_token)
);

CREATE INDEX idx_sessions_user_id ON sessions (user_id);
-- idx_sessions_session_token is not created: sessions_session_token_key on
-- (session_token) is the same index.
-- idx_sessions_refresh_token is not created: sessions_refresh_token_key on
-- (refresh_token) is the same index. Token rotation writes these columns
-- often, so duplicate indexes would be paid for on the hottest path.
CREATE INDEX idx_sessions_is_active ON sessions (is_active);
CREATE INDEX idx_sessions_expires_at ON sessions (expires_at);

-- Single-use password reset tokens, stored as a hash only.
CREATE TABLE password_reset_tokens (
    id               SERIAL,
    user_id          INTEGER NOT NULL,
    token_hash       VARCHAR(255) NOT NULL,
    is_used          BOOLEAN DEFAULT FALSE,
    created_at       TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    expires_at       TIMESTAMP WITH TIME ZONE NOT NULL,
    used_at          TIMESTAMP WITH TIME ZONE,
    client_ip        INET,
    user_agent       TEXT,
    security_context JSONB DEFAULT '{}',
    CONSTRAINT password_reset_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT password_reset_tokens_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT password_reset_tokens_token_hash_key UNIQUE (token_hash)
);

CREATE INDEX idx_password_reset_tokens_user_id ON password_reset_tokens (user_id);
-- idx_password_reset_tokens_token_hash is not created:
-- password_reset_tokens_token_hash_key on (token_hash) is the same index.
CREATE INDEX idx_password_reset_tokens_is_used ON password_reset_tokens (is_used);
CREATE INDEX idx_password_reset_tokens_expires_at ON password_reset_tokens (expires_at);

-- Casbin policy lines (ptype plus up to six values). Rules are switched off
-- with is_active rather than deleted, and carry who created or changed them.
CREATE TABLE casbin_rules (
    id         SERIAL,
    ptype      VARCHAR(10) NOT NULL,
    v0         VARCHAR(256),
    v1         VARCHAR(256),
    v2         VARCHAR(256),
    v3         VARCHAR(256),
    v4         VARCHAR(256),
    v5         VARCHAR(256),
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    created_by VARCHAR(100),
    updated_by VARCHAR(100),
    is_active  BOOLEAN DEFAULT TRUE,
    CONSTRAINT casbin_rules_pkey PRIMARY KEY (id)
);

CREATE INDEX idx_casbin_rules_ptype ON casbin_rules (ptype);
CREATE INDEX idx_casbin_rules_v0 ON casbin_rules (v0);
CREATE INDEX idx_casbin_rules_v1 ON casbin_rules (v1);
CREATE INDEX idx_casbin_rules_is_active ON casbin_rules (is_active);

-- Security audit trail. The trail outlives the account: deleting a user
-- keeps the events and only clears user_id.
CREATE TABLE audit_logs (
    id             SERIAL,
    user_id        INTEGER,
    event_type     VARCHAR(100) NOT NULL,
    event_data     JSONB NOT NULL,
    client_ip      INET,
    user_agent     TEXT,
    correlation_id VARCHAR(100),
    created_at     TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    severity       VARCHAR(20) DEFAULT 'INFO',
    source         VARCHAR(100),
    metadata       JSONB DEFAULT '{}',
    CONSTRAINT audit_logs_pkey PRIMARY KEY (id),
    CONSTRAINT audit_logs_user_id_fkey FOREIGN KEY (user_id)
        REFERENCES users (id) ON DELETE SET NULL
);

CREATE INDEX idx_audit_logs_user_id ON audit_logs (user_id);
CREATE INDEX idx_audit_logs_event_type ON audit_logs (event_type);
CREATE INDEX idx_audit_logs_created_at ON audit_logs (created_at);
CREATE INDEX idx_audit_logs_correlation_id ON audit_logs (correlation_id);
CREATE INDEX idx_audit_logs_severity ON audit_logs (severity);

-- Rate limit counters: one row per (hashed key, algorithm, window). The
-- unique constraint is what lets a single INSERT ... ON CONFLICT bump a
-- counter atomically.
CREATE TABLE rate_limit_records (
    id            SERIAL,
    key_hash      VARCHAR(255) NOT NULL,
    algorithm     VARCHAR(50) NOT NULL,
    window_start  TIMESTAMP WITH TIME ZONE NOT NULL,
    window_end    TIMESTAMP WITH TIME ZONE NOT NULL,
    request_count INTEGER DEFAULT 1,
    limit_value   INTEGER NOT NULL,
    metadata      JSONB DEFAULT '{}',
    created_at    TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at    TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    CONSTRAINT rate_limit_records_pkey PRIMARY KEY (id),
    CONSTRAINT rate_limit_records_key_hash_algorithm_window_start_key
        UNIQUE (key_hash, algorithm, window_start)
);

-- idx_rate_limit_records_key_hash is not created: key_hash is the leading
-- column of rate_limit_records_key_hash_algorithm_window_start_key, which
-- serves every lookup by key. This table takes a write on every limited
-- request, so each index left out is saved many times per second.
CREATE INDEX idx_rate_limit_records_algorithm ON rate_limit_records (algorithm);
CREATE INDEX idx_rate_limit_records_window_start ON rate_limit_records (window_start);
CREATE INDEX idx_rate_limit_records_window_end ON rate_limit_records (window_end);

-- +goose Down

-- Reverse order of creation: tables that reference users go first. Dropping
-- a table also drops its indexes, constraints and the sequence behind its
-- SERIAL column.
DROP TABLE rate_limit_records;
DROP TABLE audit_logs;
DROP TABLE casbin_rules;
DROP TABLE password_reset_tokens;
DROP TABLE sessions;
DROP TABLE oauth_profiles;
DROP TABLE users;
