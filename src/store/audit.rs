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

    /// Calls `each` with the events `filter` selects, oldest first, each with its details,
    /// as they are read: one statement for the page, details joined in (not one query per
    /// event). Only the filters given appear in the statement, so SQLite can pick the index
    /// that serves them: the account's, the organization's (newest first for `limit`), its
    /// time range, or its actions.
    pub fn for_each_audit_event(
        &self,
        filter: &AuditFilter<'_>,
        each: &mut dyn FnMut(AuditEvent) -> Result<()>,
    ) -> Result<()> {
        let mut conditions = vec!["e.org = :org"];
        let mut values: Vec<(&str, rusqlite::types::Value)> =
            vec![(":org", filter.org.to_string().into())];
        if let Some(id) = filter.account_id {
            conditions.push("e.account_id = :account");
            values.push((":account", id.into()));
        }
        if let Some(target) = filter.target {
            // An account purged for good: the events naming it, and every event of the
            // accounts that ever had this name (so renames are followed).
            // As a list of ids, so SQLite looks them up through the target and account
            // indexes instead of walking the organization's events for matches.
            conditions.push(
                "e.id IN (SELECT id FROM audit_events WHERE org = :org AND target = :target \
                  UNION SELECT id FROM audit_events WHERE account_id IN (SELECT account_id \
                  FROM audit_events WHERE org = :org AND target = :target \
                  AND account_id IS NOT NULL))",
            );
            values.push((":target", target.to_string().into()));
        }
        // Which index serves the page: an account's (or a purged account's ids) when one is
        // named, else the organization's walked newest first when a limit stops the walk early,
        // else the action or time index. A unary `+` keeps SQLite from choosing an action or
        // time index (and then sorting every match) where the walk is the cheaper plan.
        let one_account = filter.account_id.is_some() || filter.target.is_some();
        let walk = one_account || filter.limit.is_some();
        match filter.action {
            Some(family) if family.ends_with('.') => {
                // `token.` is every action from `token.` up to (not including) `token/`.
                conditions.push(if walk {
                    "+e.action >= :action AND +e.action < :action_end"
                } else {
                    "e.action >= :action AND e.action < :action_end"
                });
                let end = format!("{}/", &family[..family.len() - 1]);
                values.push((":action", family.to_string().into()));
                values.push((":action_end", end.into()));
            }
            // One action: `(org, action)` is in id order, so it serves a limit too.
            Some(action) => {
                conditions.push(if one_account {
                    "+e.action = :action"
                } else {
                    "e.action = :action"
                });
                values.push((":action", action.to_string().into()));
            }
            None => {}
        }
        if let Some(since) = filter.since {
            conditions.push(if walk {
                "+e.at >= :since"
            } else {
                "e.at >= :since"
            });
            values.push((":since", format_timestamp(since).into()));
        }
        // The whole trail of the organization, or a time or action slice of it: read in
        // full by design (`sa audit` without `--account` or `--limit`).
        let whole_trail =
            filter.limit.is_none() && filter.account_id.is_none() && filter.target.is_none();
        let report = if whole_trail {
            "/* report: audit trail */"
        } else {
            ""
        };
        let conditions = conditions.join(" AND ");
        let columns = |t: &str| {
            format!(
                "{t}.id, {t}.at, {t}.actor, {t}.action, {t}.org, {t}.target, {t}.account_id, \
                 d.key, d.value"
            )
        };
        let sql = match filter.limit {
            // The newest `limit` events (a walk down an index that stops early), then put
            // back in order with their details.
            Some(limit) => {
                values.push((":limit", i64::try_from(limit).unwrap_or(i64::MAX).into()));
                format!(
                    "SELECT {} FROM (SELECT * FROM audit_events e WHERE {conditions}
                        ORDER BY e.id DESC LIMIT :limit) page
                     LEFT JOIN audit_details d ON d.event_id = page.id
                     ORDER BY page.id, d.position",
                    columns("page")
                )
            }
            // Details joined in order: rows stream out as read (sorted first only when an
            // action or time index picked the events).
            None => format!(
                "SELECT {} {report} FROM audit_events e
                 LEFT JOIN audit_details d ON d.event_id = e.id
                 WHERE {conditions} ORDER BY e.id, d.position",
                columns("e")
            ),
        };
        let mut stmt = self.tx.prepare_cached(&sql)?;
        let params: Vec<(&str, &dyn rusqlite::ToSql)> = values
            .iter()
            .map(|(name, value)| (*name, value as &dyn rusqlite::ToSql))
            .collect();
        let mut rows = stmt.query(params.as_slice())?;
        let mut current: Option<AuditEvent> = None;
        while let Some(row) = rows.next()? {
            let id: i64 = row.get(0)?;
            if current.as_ref().is_some_and(|e| e.id != id)
                && let Some(done) = current.take()
            {
                each(done)?;
            }
            if current.is_none() {
                current = Some(AuditEvent {
                    id,
                    at: parse_timestamp(&row.get::<_, String>(1)?)?,
                    actor: row.get(2)?,
                    action: row.get(3)?,
                    org: row.get(4)?,
                    target: row.get(5)?,
                    account_id: row.get(6)?,
                    details: Vec::new(),
                });
            }
            if let (Some(event), Some(key)) = (current.as_mut(), row.get::<_, Option<String>>(7)?) {
                event.details.push((key, row.get(8)?));
            }
        }
        if let Some(done) = current {
            each(done)?;
        }
        Ok(())
    }
}
