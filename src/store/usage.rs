//! Aggregates for `sa usage`: counts over an organization's accounts, tokens and per-day
//! verification counters, each one statement (reports: they read the whole organization,
//! through its indexes).

use chrono::{DateTime, Utc};
use super::Tx;
use super::sql::{Param, bind_names, params};
use crate::error::Result;
use crate::time::format_timestamp;

/// What `sa usage` counts, as of one instant. Tokens of deleted accounts are left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageCounts {
    pub accounts_active: u64,
    pub accounts_disabled: u64,
    pub accounts_deleted: u64,
    pub tokens_active: u64,
    /// Paused, or of a disabled account.
    pub tokens_disabled: u64,
    pub tokens_expired: u64,
    pub tokens_revoked: u64,
    /// Tokens in force (active, of an active account, not expired) lapsing by
    /// `UsageBounds::expiring_before`, not already rotated.
    pub tokens_expiring: u64,
    pub tokens_never_used: u64,
    /// Tokens in force idle since before `UsageBounds::stale_before`: not used, enabled
    /// again, or created since (the stale-token policy's clock, `idle_since`).
    pub tokens_stale: u64,
    /// Active accounts, older than the stale bound, none of whose tokens was used since.
    pub accounts_stale: u64,
    /// Live tokens paused by the stale-token policy.
    pub tokens_auto_disabled: u64,
    /// Live tokens whose lifetime is longer than `UsageBounds::max_ttl_secs`.
    pub tokens_over_max_ttl: u64,
    /// Live tokens that never expire.
    pub tokens_without_expiry: u64,
    /// Accounts with more active tokens than `UsageBounds::max_tokens_per_account`.
    pub accounts_over_token_limit: u64,
    /// Successful verifications on the last 1, 7 and 30 UTC days (today included).
    pub verifications: [u64; 3],
}

/// The instants and limits the counts are taken against.
#[derive(Debug, Clone)]
pub struct UsageBounds {
    pub now: DateTime<Utc>,
    pub expiring_before: DateTime<Utc>,
    pub stale_before: DateTime<Utc>,
    pub max_ttl_secs: Option<i64>,
    pub max_tokens_per_account: Option<u64>,
    /// The first UTC day of the last 1, 7 and 30 days (`YYYY-MM-DD`).
    pub first_days: [String; 3],
}

fn count(n: Option<i64>) -> u64 {
    n.and_then(|n| u64::try_from(n).ok()).unwrap_or(0)
}

impl Tx<'_> {
    pub fn usage_counts(&self, org: &str, bounds: &UsageBounds) -> Result<UsageCounts> {
        let mut counts = UsageCounts::default();
        self.tx.for_each(
            "SELECT /* report: usage */ status, count(*) FROM accounts WHERE org = ?1 GROUP BY status",
            params![org],
            |row| {
                let n = count(row.get(1)?);
                match row.get::<String>(0)?.as_str() {
                    "active" => counts.accounts_active = n,
                    "disabled" => counts.accounts_disabled = n,
                    _ => counts.accounts_deleted = n,
                }
                Ok(())
            },
        )?;
        let now = format_timestamp(bounds.now);
        let stale = format_timestamp(bounds.stale_before);
        // Live: what could still verify, or could again once resumed. In force: what verifies
        // now; only those can be about to lapse or be stale (a paused token is already
        // stopped, by an admin or the stale-token policy).
        let soon = format_timestamp(bounds.expiring_before);
        let (sql, params) = bind_names(
            "SELECT /* report: usage */
                count(*) FILTER (WHERE live AND status = 'active' AND account_status = 'active'),
                count(*) FILTER (WHERE live AND (status = 'disabled' OR account_status = 'disabled')),
                count(*) FILTER (WHERE status != 'revoked' AND NOT live),
                count(*) FILTER (WHERE status = 'revoked'),
                count(*) FILTER (WHERE in_force AND expires_at <= :soon AND replaced_by IS NULL),
                count(*) FILTER (WHERE live AND last_used_at IS NULL),
                count(*) FILTER (WHERE in_force AND idle_since < :stale),
                count(*) FILTER (WHERE live AND status = 'disabled' AND paused_by = 'sa:policy'),
                count(*) FILTER (WHERE live AND CAST(:max_ttl AS BIGINT) IS NOT NULL
                    AND expires_at IS NOT NULL
                    AND unixepoch(expires_at) - unixepoch(created_at) > :max_ttl),
                count(*) FILTER (WHERE live AND expires_at IS NULL)
             FROM (SELECT t.status, a.status AS account_status, t.expires_at, t.replaced_by,
                      t.last_used_at, t.created_at, t.paused_by, t.idle_since,
                      (t.status != 'revoked' AND (t.expires_at IS NULL OR t.expires_at > :now))
                          AS live,
                      (t.status = 'active' AND a.status = 'active'
                       AND (t.expires_at IS NULL OR t.expires_at > :now)) AS in_force
                   FROM accounts a CROSS JOIN tokens t ON t.account_id = a.id
                   WHERE a.org = :org AND a.status != 'deleted') live_tokens",
            &[
                (":org", &org as &dyn Param),
                (":now", &now),
                (":soon", &soon),
                (":stale", &stale),
                (":max_ttl", &bounds.max_ttl_secs),
            ],
        )?;
        self.tx.query_row(&sql, &params, |r| {
            counts.tokens_active = count(r.get(0)?);
            counts.tokens_disabled = count(r.get(1)?);
            counts.tokens_expired = count(r.get(2)?);
            counts.tokens_revoked = count(r.get(3)?);
            counts.tokens_expiring = count(r.get(4)?);
            counts.tokens_never_used = count(r.get(5)?);
            counts.tokens_stale = count(r.get(6)?);
            counts.tokens_auto_disabled = count(r.get(7)?);
            counts.tokens_over_max_ttl = count(r.get(8)?);
            counts.tokens_without_expiry = count(r.get(9)?);
            Ok(())
        })?;
        counts.accounts_stale = count(self.tx.query_row(
            "SELECT /* report: usage */ count(*) FROM accounts a
             WHERE a.org = ?1 AND a.status = 'active' AND a.created_at < ?2
               AND NOT EXISTS (SELECT 1 FROM tokens t
                               WHERE t.account_id = a.id AND t.last_used_at >= ?2)",
            params![org, stale],
            |r| r.get(0),
        )?);
        if let Some(limit) = bounds.max_tokens_per_account {
            counts.accounts_over_token_limit = count(self.tx.query_row(
                "SELECT /* report: usage */ count(*) FROM accounts a
                 WHERE a.org = ?1 AND a.status != 'deleted'
                   AND (SELECT count(*) FROM tokens t WHERE t.account_id = a.id
                        AND t.status = 'active'
                        AND (t.expires_at IS NULL OR t.expires_at > ?2)) > ?3",
                params![org, now, i64::try_from(limit).unwrap_or(i64::MAX)],
                |r| r.get(0),
            )?);
        }
        let [d1, d7, d30] = &bounds.first_days;
        self.tx.query_row(
            "SELECT /* report: usage */
                CAST(sum(CASE WHEN u.day >= ?2 THEN u.count END) AS BIGINT),
                CAST(sum(CASE WHEN u.day >= ?3 THEN u.count END) AS BIGINT),
                CAST(sum(u.count) AS BIGINT)
             FROM accounts a CROSS JOIN tokens t ON t.account_id = a.id
             JOIN token_usage_daily u ON u.token_id = t.id AND u.day >= ?4
             WHERE a.org = ?1 AND a.status != 'deleted'",
            params![org, d1, d7, d30],
            |r| {
                counts.verifications = [count(r.get(0)?), count(r.get(1)?), count(r.get(2)?)];
                Ok(())
            },
        )?;
        Ok(counts)
    }
}
