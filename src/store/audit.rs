//! Rows of `audit_events` and `audit_details`.

use chrono::{DateTime, Utc};
use rusqlite::params;

use super::Tx;
use crate::error::Result;
use crate::time::{format_timestamp, parse_timestamp};

/// An event to append.
#[derive(Debug)]
pub struct NewAuditEvent<'a> {
    pub at: DateTime<Utc>,
    pub actor: &'a str,
    pub action: &'a str,
    pub org: &'a str,
    pub target: &'a str,
    pub account_id: Option<i64>,
    pub details: &'a [(&'a str, String)],
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub org: String,
    pub target: String,
    pub account_id: Option<i64>,
    pub details: Vec<(String, String)>,
}

/// `sa audit` filters.
#[derive(Debug, Default)]
pub struct AuditFilter<'a> {
    pub org: &'a str,
    pub account_id: Option<i64>,
    /// When the account is gone for good: every event of the accounts that ever had this
    /// name (so renames are followed), and events naming it.
    pub target: Option<&'a str>,
    /// Exact (`account.create`) or a prefix ending in `.` (`token.`).
    pub action: Option<&'a str>,
    pub since: Option<DateTime<Utc>>,
    /// The newest `limit` events, still printed oldest first.
    pub limit: Option<u64>,
}

impl Tx<'_> {
    pub fn insert_audit_event(&self, event: &NewAuditEvent<'_>) -> Result<i64> {
        self.tx.execute(
            "INSERT INTO audit_events (at, actor, action, org, target, account_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                format_timestamp(event.at),
                event.actor,
                event.action,
                event.org,
                event.target,
                event.account_id
            ],
        )?;
        let id = self.tx.last_insert_rowid();
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO audit_details (event_id, position, key, value) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (position, (key, value)) in event.details.iter().enumerate() {
            stmt.execute(params![id, position as i64, key, value])?;
        }
        Ok(id)
    }

    pub fn list_audit_events(&self, filter: &AuditFilter<'_>) -> Result<Vec<AuditEvent>> {
        let (exact, prefix) = match filter.action {
            Some(action) if action.ends_with('.') => (None, Some(action)),
            Some(action) => (Some(action), None),
            None => (None, None),
        };
        let limit = filter
            .limit
            .map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));
        let mut stmt = self.tx.prepare(
            "SELECT id, at, actor, action, org, target, account_id FROM (
                SELECT * FROM audit_events
                WHERE org = ?1
                  AND (?2 IS NULL OR account_id = ?2)
                  AND (?3 IS NULL OR target = ?3 OR account_id IN (
                        SELECT account_id FROM audit_events
                        WHERE org = ?1 AND target = ?3 AND account_id IS NOT NULL))
                  AND (?4 IS NULL OR action = ?4)
                  AND (?5 IS NULL OR substr(action, 1, length(?5)) = ?5)
                  AND (?6 IS NULL OR at >= ?6)
                ORDER BY id DESC LIMIT ?7
             ) ORDER BY id",
        )?;
        let rows = stmt.query_map(
            params![
                filter.org,
                filter.account_id,
                filter.target,
                exact,
                prefix,
                filter.since.map(format_timestamp),
                limit
            ],
            |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, Option<i64>>(6)?,
                ))
            },
        )?;
        let mut details_stmt = self.tx.prepare_cached(
            "SELECT key, value FROM audit_details WHERE event_id = ?1 ORDER BY position",
        )?;
        let mut events = Vec::new();
        for row in rows {
            let (id, at, actor, action, org, target, account_id) = row?;
            let details = details_stmt
                .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<(String, String)>>>()?;
            events.push(AuditEvent {
                id,
                at: parse_timestamp(&at)?,
                actor,
                action,
                org,
                target,
                account_id,
                details,
            });
        }
        Ok(events)
    }
}
