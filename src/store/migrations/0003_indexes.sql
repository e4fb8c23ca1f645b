-- sa schema version 3. Released migrations are never edited; add 0004_… instead.
-- Indexes so that a page of the audit trail is found without reading the whole trail
-- (tests: store/query_plans.rs runs EXPLAIN QUERY PLAN on every statement).
-- `sa audit --limit N`: the organization's events, newest first (rowid order within org).
CREATE INDEX audit_events_org ON audit_events (org);
-- `sa audit --account NAME` for an account purged for good: the events naming it.
CREATE INDEX audit_events_target ON audit_events (org, target);
-- `sa audit --action X` and `--action family.`.
CREATE INDEX audit_events_action ON audit_events (org, action);
-- `sa token list --expiring-within DUR` (the cron check): the few tokens about to lapse.
CREATE INDEX tokens_expires ON tokens (expires_at);
-- `limits.max_accounts` is checked on every `sa create`: a count kept up to date by triggers
-- instead of counting the organization's accounts each time.
ALTER TABLE orgs ADD COLUMN account_count INTEGER NOT NULL DEFAULT 0;
UPDATE orgs SET account_count = (SELECT count(*) FROM accounts a WHERE a.org = orgs.name);
CREATE TRIGGER accounts_counted AFTER INSERT ON accounts
BEGIN
    UPDATE orgs SET account_count = account_count + 1 WHERE name = NEW.org;
END;
CREATE TRIGGER accounts_uncounted AFTER DELETE ON accounts
BEGIN
    UPDATE orgs SET account_count = account_count - 1 WHERE name = OLD.org;
END;
