//! Rows of `audit_events` and `audit_details`, and the hash chain that makes the trail
//! tamper-evident.
//!
//! Each event stores `hash`, the SHA-256 of its own content and of `prev_hash`, which is the
//! `hash` of the organization's event before it (or, after `sa audit prune`, the hash of the
//! last event removed, kept in `audit_checkpoints`; or empty for the organization's first).
//! Every insert chains its event in the same transaction, so the chain is a property of the
//! stored trail, like an id. The encoding is in [`event_hash`] and docs/audit-chain.md.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::Tx;
use super::sql::{Db, Owned, Param, Row, bind_names, params};
use crate::error::Result;
use crate::time::{format_timestamp, parse_timestamp};

/// Which version of the encoding a hash was made with; part of what is hashed.
const CHAIN_VERSION: &str = "sa-audit-v1";

/// The hash of an event: lowercase hex SHA-256 of `sa-audit-v1` and a newline, then each
/// field as `<length in bytes>:<bytes>,`: the previous hash, the id, the time as stored
/// (RFC 3339, whole seconds), actor, action, org, target, the account id (empty when none),
/// the number of details, then each detail's key and value in order. Lengths make the
/// encoding unambiguous: no choice of values can make two events encode alike.
pub fn event_hash(prev_hash: &str, event: &AuditEvent) -> String {
    content_hash(&Content {
        prev_hash,
        id: event.id,
        at: &format_timestamp(event.at),
        actor: &event.actor,
        action: &event.action,
        org: &event.org,
        target: &event.target,
        account_id: event.account_id,
        details: &event.details,
    })
}

/// What [`event_hash`] hashes, with the time as stored text.
struct Content<'a> {
    prev_hash: &'a str,
    id: i64,
    at: &'a str,
    actor: &'a str,
    action: &'a str,
    org: &'a str,
    target: &'a str,
    account_id: Option<i64>,
    details: &'a [(String, String)],
}

fn content_hash(c: &Content<'_>) -> String {
    // One buffer, appended to without the formatting machinery: a chain of a million events
    // is walked in seconds only without it.
    let mut bytes = Vec::with_capacity(512);
    bytes.extend_from_slice(CHAIN_VERSION.as_bytes());
    bytes.push(b'\n');
    let mut digits = [0u8; 20];
    let mut field = |value: &[u8]| {
        bytes.extend_from_slice(decimal(&mut digits, value.len() as u64));
        bytes.push(b':');
        bytes.extend_from_slice(value);
        bytes.push(b',');
    };
    let mut number = [0u8; 20];
    let mut signed = |n: i64| -> Vec<u8> {
        let mut out = Vec::with_capacity(21);
        if n < 0 {
            out.push(b'-');
        }
        out.extend_from_slice(decimal(&mut number, n.unsigned_abs()));
        out
    };
    let id = signed(c.id);
    let account = c.account_id.map(&mut signed).unwrap_or_default();
    let count = signed(c.details.len() as i64);
    field(c.prev_hash.as_bytes());
    field(&id);
    field(c.at.as_bytes());
    field(c.actor.as_bytes());
    field(c.action.as_bytes());
    field(c.org.as_bytes());
    field(c.target.as_bytes());
    field(&account);
    field(&count);
    for (key, value) in c.details {
        field(key.as_bytes());
        field(value.as_bytes());
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(&bytes);
    let mut hex = String::with_capacity(64);
    for b in digest.iter() {
        hex.push(char::from(HEX[usize::from(b >> 4)]));
        hex.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    hex
}

/// `n` in decimal, written at the end of `buf`.
fn decimal(buf: &mut [u8; 20], mut n: u64) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[at..];
        }
    }
}

/// An event as the chain walk reads it: its fields as stored (the time as text), and its
/// place in the chain (`None`: never chained, i.e. inserted by hand).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainedEvent {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub org: String,
    pub target: String,
    pub account_id: Option<i64>,
    pub details: Vec<(String, String)>,
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
}

impl ChainedEvent {
    /// Its hash as it should be, after `prev_hash` (see [`event_hash`]).
    pub fn expected_hash(&self, prev_hash: &str) -> String {
        content_hash(&Content {
            prev_hash,
            id: self.id,
            at: &self.at,
            actor: &self.actor,
            action: &self.action,
            org: &self.org,
            target: &self.target,
            account_id: self.account_id,
            details: &self.details,
        })
    }
}

/// Where `sa audit prune` cut an organization's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCheckpoint {
    pub last_removed_id: i64,
    pub last_removed_hash: String,
    /// Events removed by every prune so far.
    pub removed: u64,
    pub at: DateTime<Utc>,
    pub by: String,
}

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
    /// Appends an event, chained to the organization's last one.
    pub fn insert_audit_event(&self, event: &NewAuditEvent<'_>) -> Result<i64> {
        let prev_hash = self.chain_head(event.org)?;
        let id = self.insert_unchained_audit_event(event)?;
        let stored = AuditEvent {
            id,
            at: event.at,
            actor: event.actor.to_string(),
            action: event.action.to_string(),
            org: event.org.to_string(),
            target: event.target.to_string(),
            account_id: event.account_id,
            details: event
                .details
                .iter()
                .map(|(k, v)| ((*k).to_string(), v.clone()))
                .collect(),
        };
        let hash = event_hash(&prev_hash, &stored);
        self.tx.execute(
            "UPDATE audit_events SET prev_hash = ?2, hash = ?3 WHERE id = ?1",
            params![id, prev_hash, hash],
        )?;
        Ok(id)
    }

    /// The hash the organization's next event links to: its last event's, else the
    /// checkpoint's of its last prune, else empty.
    pub fn chain_head(&self, org: &str) -> Result<String> {
        let last: Option<Option<String>> = self.tx.query_opt(
            "SELECT hash FROM audit_events WHERE org = ?1 ORDER BY id DESC LIMIT 1",
            params![org],
            |r| r.get(0),
        )?;
        if let Some(hash) = last {
            return Ok(hash.unwrap_or_default());
        }
        Ok(self
            .audit_checkpoint(org)?
            .map(|c| c.last_removed_hash)
            .unwrap_or_default())
    }

    /// The organizations with audit events, by name.
    pub fn audit_orgs(&self) -> Result<Vec<String>> {
        self.tx.query_all(
            "SELECT /* report: audit chain */ DISTINCT org FROM audit_events ORDER BY org",
            params![],
            |r| r.get(0),
        )
    }

    pub fn audit_checkpoint(&self, org: &str) -> Result<Option<AuditCheckpoint>> {
        let row = self.tx.query_opt(
            "SELECT last_removed_id, last_removed_hash, removed, at, \"by\"
             FROM audit_checkpoints WHERE org = ?1",
            params![org],
            |r| {
                Ok((
                    r.get::<i64>(0)?,
                    r.get::<String>(1)?,
                    r.get::<i64>(2)?,
                    r.get::<String>(3)?,
                    r.get::<String>(4)?,
                ))
            },
        )?;
        row.map(|(id, hash, removed, at, by)| {
            Ok(AuditCheckpoint {
                last_removed_id: id,
                last_removed_hash: hash,
                removed: u64::try_from(removed).unwrap_or(0),
                at: parse_timestamp(&at)?,
                by,
            })
        })
        .transpose()
    }

    /// Calls `each` with the events of `org` after id `after` and their chain columns, in id
    /// order: at most `limit` of them, when given.
    pub fn for_each_chained_event(
        &self,
        org: &str,
        after: i64,
        limit: Option<u64>,
        each: &mut dyn FnMut(ChainedEvent) -> Result<()>,
    ) -> Result<()> {
        const COLUMNS: &str = "e.id, e.at, e.actor, e.action, e.org, e.target, e.account_id, \
            e.prev_hash, e.hash, d.key, d.value";
        // The whole chain is one walk down the organization's index, details joined in order:
        // rows stream out as read. A batch needs its LIMIT in a subquery, whose rows SQLite
        // then sorts: fine for a batch, not for a million events.
        let sql = match limit {
            None => format!(
                "SELECT /* report: audit chain */ {COLUMNS}
                 FROM audit_events e LEFT JOIN audit_details d ON d.event_id = e.id
                 WHERE e.org = ?1 AND e.id > ?2 ORDER BY e.id, d.position"
            ),
            Some(_) => format!(
                "SELECT /* report: audit chain */ {COLUMNS}
                 FROM (SELECT * FROM audit_events WHERE org = ?1 AND id > ?2 ORDER BY id LIMIT ?3) e
                 LEFT JOIN audit_details d ON d.event_id = e.id
                 ORDER BY e.id, d.position"
            ),
        };
        let limit = limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
        let all = params![org, after, limit];
        let params = if limit.is_some() { all } else { &all[..2] };
        group_event_rows(
            &self.tx,
            &sql,
            params,
            9,
            |row, id| {
                Ok(ChainedEvent {
                    id,
                    at: row.get(1)?,
                    actor: row.get(2)?,
                    action: row.get(3)?,
                    org: row.get(4)?,
                    target: row.get(5)?,
                    account_id: row.get(6)?,
                    details: Vec::new(),
                    prev_hash: row.get(7)?,
                    hash: row.get(8)?,
                })
            },
            |chained| (chained.id, &mut chained.details),
            each,
        )
    }

    /// How many of `org`'s events a prune before `before` would remove: the oldest ones, up
    /// to the first at or after `before` (a prefix of the chain, so what remains still links
    /// to the checkpoint).
    pub fn count_prunable_audit_events(&self, org: &str, before: DateTime<Utc>) -> Result<u64> {
        let cut = self.audit_cut(org, before)?;
        let n: i64 = self.tx.query_row(
            "SELECT /* report: audit prune */ count(*) FROM audit_events
             WHERE org = ?1 AND id < ?2",
            params![org, cut],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The id of `org`'s first event at or after `before` (`i64::MAX` when none is).
    fn audit_cut(&self, org: &str, before: DateTime<Utc>) -> Result<i64> {
        let first_kept: Option<i64> = self.tx.query_opt(
            "SELECT /* report: audit prune */ id FROM audit_events
             WHERE org = ?1 AND +at >= ?2 ORDER BY id LIMIT 1",
            params![org, format_timestamp(before)],
            |r| r.get(0),
        )?;
        Ok(first_kept.unwrap_or(i64::MAX))
    }

    /// Removes `org`'s events before `before` (see [`Tx::count_prunable_audit_events`]) with
    /// their details, and moves the organization's checkpoint to the last one removed.
    /// Returns how many went.
    pub fn prune_audit_events(
        &self,
        org: &str,
        before: DateTime<Utc>,
        at: DateTime<Utc>,
        by: &str,
    ) -> Result<u64> {
        let cut = self.audit_cut(org, before)?;
        let last: Option<(i64, Option<String>)> = self.tx.query_opt(
            "SELECT id, hash FROM audit_events WHERE org = ?1 AND id < ?2
             ORDER BY id DESC LIMIT 1",
            params![org, cut],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let Some((last_id, last_hash)) = last else {
            return Ok(0);
        };
        self.tx.execute(
            "DELETE /* report: audit prune */ FROM audit_details WHERE event_id IN
                (SELECT id FROM audit_events WHERE org = ?1 AND id < ?2)",
            params![org, cut],
        )?;
        let removed = self.tx.execute(
            "DELETE /* report: audit prune */ FROM audit_events WHERE org = ?1 AND id < ?2",
            params![org, cut],
        )?;
        let removed = u64::try_from(removed).unwrap_or(0);
        self.tx.execute(
            "INSERT INTO audit_checkpoints (org, last_removed_id, last_removed_hash, removed, at, \"by\")
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (org) DO UPDATE SET last_removed_id = excluded.last_removed_id,
                 last_removed_hash = excluded.last_removed_hash,
                 removed = audit_checkpoints.removed + excluded.removed, at = excluded.at,
                 \"by\" = excluded.\"by\"",
            params![
                org,
                last_id,
                last_hash.unwrap_or_default(),
                i64::try_from(removed).unwrap_or(i64::MAX),
                format_timestamp(at),
                by
            ],
        )?;
        Ok(removed)
    }

    /// Appends an event without chaining it: only for migrations that run before the chain
    /// exists (schema 2), whose events migration 5 then chains with the rest.
    pub(super) fn insert_unchained_audit_event(&self, event: &NewAuditEvent<'_>) -> Result<i64> {
        let id: i64 = self.tx.query_row(
            "INSERT INTO audit_events (at, actor, action, org, target, account_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
            params![
                format_timestamp(event.at),
                event.actor,
                event.action,
                event.org,
                event.target,
                event.account_id
            ],
            |r| r.get(0),
        )?;
        for (position, (key, value)) in event.details.iter().enumerate() {
            self.tx.execute(
                "INSERT INTO audit_details (event_id, position, key, value) VALUES (?1, ?2, ?3, ?4)",
                params![id, position as i64, key, value],
            )?;
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
        let mut values: Vec<(&str, Owned)> = vec![(":org", Owned::Text(filter.org.to_string()))];
        if let Some(id) = filter.account_id {
            conditions.push("e.account_id = :account");
            values.push((":account", Owned::Int(id)));
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
            values.push((":target", Owned::Text(target.to_string())));
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
                values.push((":action", Owned::Text(family.to_string())));
                values.push((":action_end", Owned::Text(end)));
            }
            // One action: `(org, action)` is in id order, so it serves a limit too.
            Some(action) => {
                conditions.push(if one_account {
                    "+e.action = :action"
                } else {
                    "e.action = :action"
                });
                values.push((":action", Owned::Text(action.to_string())));
            }
            None => {}
        }
        if let Some(since) = filter.since {
            conditions.push(if walk {
                "+e.at >= :since"
            } else {
                "e.at >= :since"
            });
            values.push((":since", Owned::Text(format_timestamp(since))));
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
                values.push((":limit", Owned::Int(i64::try_from(limit).unwrap_or(i64::MAX))));
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
        let named: Vec<(&str, &dyn Param)> = values
            .iter()
            .map(|(name, value)| (*name, value as &dyn Param))
            .collect();
        let (sql, params) = bind_names(&sql, &named)?;
        group_event_rows(
            &self.tx,
            &sql,
            &params,
            7,
            |row, id| {
                Ok(AuditEvent {
                    id,
                    at: parse_timestamp(&row.get::<String>(1)?)?,
                    actor: row.get(2)?,
                    action: row.get(3)?,
                    org: row.get(4)?,
                    target: row.get(5)?,
                    account_id: row.get(6)?,
                    details: Vec::new(),
                })
            },
            |event| (event.id, &mut event.details),
            each,
        )
    }
}

/// Events read with their details joined in (one row per detail, or one row with NULLs for an
/// event without any; ordered by event id, then detail position), handed to `each` whole as
/// soon as the next event's first row shows: no list is held. Column 0 is the event id;
/// `key_column` and the one after it are the detail's key and value.
fn group_event_rows<E>(
    db: &Db<'_>,
    sql: &str,
    params: &[&dyn Param],
    key_column: usize,
    start: impl Fn(&Row<'_>, i64) -> Result<E>,
    parts: impl Fn(&mut E) -> (i64, &mut Vec<(String, String)>),
    each: &mut dyn FnMut(E) -> Result<()>,
) -> Result<()> {
    let mut current: Option<E> = None;
    db.for_each(sql, params, |row| {
        let id: i64 = row.get(0)?;
        if let Some(mut event) = current.take() {
            if parts(&mut event).0 == id {
                current = Some(event);
            } else {
                each(event)?;
            }
        }
        let event = match current.as_mut() {
            Some(event) => event,
            None => current.insert(start(row, id)?),
        };
        if let Some(key) = row.get::<Option<String>>(key_column)? {
            parts(event).1.push((key, row.get(key_column + 1)?));
        }
        Ok(())
    })?;
    if let Some(done) = current {
        each(done)?;
    }
    Ok(())
}

/// Migration 5: chains the events already stored, each organization's in id order.
pub(super) fn chain_existing_events(tx: &Tx<'_>) -> Result<()> {
    let orgs: Vec<String> = tx.tx.query_all(
        "SELECT DISTINCT org FROM audit_events ORDER BY org",
        params![],
        |r| r.get(0),
    )?;
    // In batches, each read to its end before its hashes are written: a statement must not
    // read rows the same connection is changing.
    const BATCH: u64 = 10_000;
    for org in orgs {
        let mut prev = String::new();
        let mut after = 0;
        loop {
            let mut batch = Vec::new();
            tx.for_each_chained_event(&org, after, Some(BATCH), &mut |chained| {
                let hash = chained.expected_hash(&prev);
                batch.push((chained.id, std::mem::replace(&mut prev, hash.clone()), hash));
                Ok(())
            })?;
            let Some(&(last, _, _)) = batch.last() else {
                break;
            };
            for (id, prev_hash, hash) in &batch {
                tx.tx.execute(
                    "UPDATE audit_events SET prev_hash = ?2, hash = ?3 WHERE id = ?1",
                    params![id, prev_hash, hash],
                )?;
            }
            after = last;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_the_documented_encoding() {
        // The example of docs/audit-chain.md, hashed by Python's hashlib over the bytes shown.
        let event = AuditEvent {
            id: 1,
            at: parse_timestamp("2026-11-23T13:37:00Z").unwrap(),
            actor: "alice".into(),
            action: "account.create".into(),
            org: "default".into(),
            target: "ci-bot".into(),
            account_id: Some(1),
            details: vec![("email".into(), "ci-bot@default.sa.local".into())],
        };
        assert_eq!(
            event_hash("", &event),
            "3173aeec28bc5ecae35d22b517e755b968d37232fd6c69d98f1c7dad813e00a1"
        );
        // Moving a byte from one field to the next changes the hash.
        let shifted = AuditEvent {
            actor: "alic".into(),
            action: "eaccount.create".into(),
            ..event.clone()
        };
        assert_ne!(event_hash("", &shifted), event_hash("", &event));
    }
}
