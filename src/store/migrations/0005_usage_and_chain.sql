-- sa schema version 5. Released migrations are never edited; add 0006_… instead.

-- A tamper-evident audit trail: each event holds the hash of its content and of the event
-- before it in its organization (store/audit.rs, docs/audit-chain.md). The migration's code
-- step chains the events already stored.
ALTER TABLE audit_events ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_events ADD COLUMN hash TEXT;

-- Where `sa audit prune` last cut each organization's chain: the last event it removed.
CREATE TABLE audit_checkpoints (
    org                 TEXT PRIMARY KEY,
    last_removed_id     INTEGER NOT NULL,
    last_removed_hash   TEXT NOT NULL,
    removed             INTEGER NOT NULL,
    at                  TEXT NOT NULL,
    by                  TEXT NOT NULL
) STRICT;

-- When and by whom a token was paused: `sa usage` counts those the stale-token policy
-- (`sa:policy`) paused. Cleared when it is enabled again.
ALTER TABLE tokens ADD COLUMN paused_at TEXT;
ALTER TABLE tokens ADD COLUMN paused_by TEXT;

-- `retention.usage_days`: the oldest per-day counters, without reading the others.
CREATE INDEX token_usage_day ON token_usage_daily (day);
-- `tokens.disable_unused_after`: when the stale-token policy's clock started for a token — its
-- last use, else its last `sa token enable`, else its creation — and the active tokens by it.
ALTER TABLE tokens ADD COLUMN idle_since TEXT;
UPDATE tokens SET idle_since = coalesce(last_used_at, created_at);
CREATE INDEX tokens_idle ON tokens (idle_since) WHERE status = 'active';
-- `sa token prune`: revoked tokens by when they were revoked.
CREATE INDEX tokens_revoked ON tokens (revoked_at) WHERE status = 'revoked';
