-- sa schema version 1. Released migrations are never edited; add 0002_… instead.
-- Timestamps are RFC 3339 UTC text with whole seconds (`2026-11-23T13:37:00Z`): fixed width,
-- so they compare correctly as text.

CREATE TABLE orgs (
    name        TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL
) STRICT;

-- AUTOINCREMENT: an account id is never reused, even after a purge.
CREATE TABLE accounts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    org             TEXT NOT NULL REFERENCES orgs(name),
    name            TEXT NOT NULL,
    description     TEXT,
    email           TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('active', 'disabled', 'deleted')),
    disabled_reason TEXT,
    created_at      TEXT NOT NULL,
    created_by      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    deleted_at      TEXT,
    UNIQUE (org, name)
) STRICT;

CREATE INDEX accounts_deleted ON accounts (deleted_at) WHERE status = 'deleted';

-- Custom roles; the built-in roles (viewer, editor, admin) live in code.
CREATE TABLE roles (
    org         TEXT NOT NULL REFERENCES orgs(name),
    name        TEXT NOT NULL,
    description TEXT,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (org, name)
) STRICT;

CREATE TABLE role_permissions (
    org         TEXT NOT NULL,
    role        TEXT NOT NULL,
    permission  TEXT NOT NULL,
    PRIMARY KEY (org, role, permission),
    FOREIGN KEY (org, role) REFERENCES roles(org, name) ON DELETE CASCADE
) STRICT;

CREATE TABLE account_roles (
    account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    role        TEXT NOT NULL,
    PRIMARY KEY (account_id, role)
) STRICT;

-- `id` is the public token id; `hash` is the argon2id PHC string of the secret part only.
-- `status` holds what was decided (active, disabled, revoked); `expired` is derived from
-- `expires_at` when read.
CREATE TABLE tokens (
    id               TEXT PRIMARY KEY,
    account_id       INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name             TEXT,
    hash             TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('active', 'disabled', 'revoked')),
    created_at       TEXT NOT NULL,
    created_by       TEXT NOT NULL,
    expires_at       TEXT,
    revoked_at       TEXT,
    revoked_by       TEXT,
    replaces         TEXT,
    replaced_by      TEXT,
    last_used_at     TEXT,
    last_used_source TEXT,
    use_count        INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX tokens_account ON tokens (account_id);

CREATE TABLE token_scopes (
    token_id    TEXT NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
    permission  TEXT NOT NULL,
    PRIMARY KEY (token_id, permission)
) STRICT;

-- One row per token and UTC day with at least one successful verification.
CREATE TABLE token_usage_daily (
    token_id    TEXT NOT NULL REFERENCES tokens(id) ON DELETE CASCADE,
    day         TEXT NOT NULL,
    count       INTEGER NOT NULL,
    PRIMARY KEY (token_id, day)
) STRICT;

-- The audit trail outlives what it describes: no foreign keys, so purges keep history.
CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    org         TEXT NOT NULL,
    target      TEXT NOT NULL,
    account_id  INTEGER
) STRICT;

-- What changed, as ordered key/value pairs (`sa audit --json` shows them as an object).
CREATE TABLE audit_details (
    event_id    INTEGER NOT NULL REFERENCES audit_events(id),
    position    INTEGER NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    PRIMARY KEY (event_id, position)
) STRICT;

CREATE INDEX audit_events_account ON audit_events (account_id);
CREATE INDEX audit_events_at ON audit_events (org, at);
