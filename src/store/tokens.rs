//! Rows of `tokens`, `token_scopes` and `token_usage_daily`.

use chrono::{DateTime, Utc};
use super::Tx;
use super::sql::{Owned, Param, Row, bind_names, params};
use crate::error::{Error, Result};
use crate::store::AccountStatus;
use crate::time::{format_timestamp, parse_timestamp};

/// What was decided about a token; whether it has expired is a matter of the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredStatus {
    Active,
    Disabled,
    Revoked,
}

impl StoredStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StoredStatus::Active => "active",
            StoredStatus::Disabled => "disabled",
            StoredStatus::Revoked => "revoked",
        }
    }

    fn from_db(text: &str) -> Result<Self> {
        match text {
            "active" => Ok(StoredStatus::Active),
            "disabled" => Ok(StoredStatus::Disabled),
            "revoked" => Ok(StoredStatus::Revoked),
            other => Err(Error::database(format!("unknown token status `{other}`"))),
        }
    }
}

/// A token's metadata as stored (never its secret; its hash stays in the store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub id: String,
    pub account_id: i64,
    pub account: String,
    pub org: String,
    /// The account's status: a disabled account's tokens are rejected as `disabled`.
    pub account_status: AccountStatus,
    pub name: Option<String>,
    pub scopes: Vec<String>,
    pub status: StoredStatus,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub revoked_by: Option<String>,
    pub replaces: Option<String>,
    pub replaced_by: Option<String>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub last_used_source: Option<String>,
    pub use_count: u64,
    /// While paused: when, and by whom (`sa:policy` for the stale-token policy).
    pub paused_at: Option<DateTime<Utc>>,
    pub paused_by: Option<String>,
}

/// A token row to insert.
#[derive(Debug)]
pub struct NewToken<'a> {
    pub id: &'a str,
    pub account_id: i64,
    pub name: Option<&'a str>,
    pub hash: &'a str,
    pub scopes: &'a [String],
    pub created_at: DateTime<Utc>,
    pub created_by: &'a str,
    pub expires_at: Option<DateTime<Utc>>,
    pub replaces: Option<&'a str>,
}

/// Which tokens `sa token list` shows, already resolved against the clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TokenFilter {
    /// Everything that could still verify: active or disabled, and not expired.
    #[default]
    Live,
    Active,
    Disabled,
    Expired,
    Revoked,
    All,
}

/// In which order `sa token list` prints.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TokenSort {
    /// Oldest first.
    #[default]
    Created,
    /// Never used first, then the longest unused.
    LastUsed,
    /// Soonest to expire first; never expiring last.
    Expires,
    /// Least used first.
    Uses,
}

/// Which tokens of an organization a list reads.
#[derive(Debug, Clone, Default)]
pub struct TokenSelection {
    /// One account's, or the organization's.
    pub account_id: Option<i64>,
    pub filter: TokenFilter,
    /// Only live tokens expiring by then, not already rotated.
    pub expiring_before: Option<DateTime<Utc>>,
    /// Only tokens not used since then (a token never used: not since it was created).
    pub unused_before: Option<DateTime<Utc>>,
    pub sort: TokenSort,
    /// At most this many, the first in `sort`'s order.
    pub limit: Option<u64>,
}

/// Everything one verification needs, read in one indexed lookup.
#[derive(Debug, Clone)]
pub struct TokenForVerify {
    pub id: String,
    pub hash: String,
    pub status: StoredStatus,
    pub expires_at: Option<DateTime<Utc>>,
    pub scopes: Vec<String>,
    pub account_id: i64,
    pub account: String,
    pub account_status: AccountStatus,
    pub org: String,
    pub roles: Vec<String>,
    /// Set while a rotated token lives out its grace period.
    pub replaced_by: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Successful verifications of one token on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageDay {
    pub day: String,
    pub count: u64,
}

const TOKEN_COLUMNS: &str = "t.id, t.account_id, a.name, a.org, a.status, t.name, \
    (SELECT string_agg(permission, '\u{1f}' ORDER BY permission) FROM token_scopes s \
       WHERE s.token_id = t.id), \
    t.status, t.created_at, t.created_by, t.expires_at, t.revoked_at, t.revoked_by, \
    t.replaces, t.replaced_by, t.last_used_at, t.last_used_source, t.use_count, \
    t.paused_at, t.paused_by";

/// Columns as SQLite hands them over; converted (and checked) outside the row callback.
struct RawToken {
    id: String,
    account_id: i64,
    account: String,
    org: String,
    account_status: String,
    name: Option<String>,
    scopes: Option<String>,
    status: String,
    created_at: String,
    created_by: String,
    expires_at: Option<String>,
    revoked_at: Option<String>,
    revoked_by: Option<String>,
    replaces: Option<String>,
    replaced_by: Option<String>,
    last_used_at: Option<String>,
    last_used_source: Option<String>,
    use_count: i64,
    paused_at: Option<String>,
    paused_by: Option<String>,
}

fn raw_token(row: &Row<'_>) -> Result<RawToken> {
    Ok(RawToken {
        id: row.get(0)?,
        account_id: row.get(1)?,
        account: row.get(2)?,
        org: row.get(3)?,
        account_status: row.get(4)?,
        name: row.get(5)?,
        scopes: row.get(6)?,
        status: row.get(7)?,
        created_at: row.get(8)?,
        created_by: row.get(9)?,
        expires_at: row.get(10)?,
        revoked_at: row.get(11)?,
        revoked_by: row.get(12)?,
        replaces: row.get(13)?,
        replaced_by: row.get(14)?,
        last_used_at: row.get(15)?,
        last_used_source: row.get(16)?,
        use_count: row.get(17)?,
        paused_at: row.get(18)?,
        paused_by: row.get(19)?,
    })
}

fn split_list(text: Option<String>) -> Vec<String> {
    text.map(|t| t.split('\u{1f}').map(str::to_string).collect())
        .unwrap_or_default()
}

fn time(text: Option<&str>) -> Result<Option<DateTime<Utc>>> {
    text.map(parse_timestamp).transpose()
}

impl RawToken {
    fn into_token(self) -> Result<Token> {
        Ok(Token {
            account_status: AccountStatus::from_db(&self.account_status)?,
            scopes: split_list(self.scopes),
            status: StoredStatus::from_db(&self.status)?,
            created_at: parse_timestamp(&self.created_at)?,
            expires_at: time(self.expires_at.as_deref())?,
            revoked_at: time(self.revoked_at.as_deref())?,
            last_used_at: time(self.last_used_at.as_deref())?,
            paused_at: time(self.paused_at.as_deref())?,
            paused_by: self.paused_by,
            use_count: u64::try_from(self.use_count).unwrap_or(0),
            id: self.id,
            account_id: self.account_id,
            account: self.account,
            org: self.org,
            name: self.name,
            created_by: self.created_by,
            revoked_by: self.revoked_by,
            replaces: self.replaces,
            replaced_by: self.replaced_by,
            last_used_source: self.last_used_source,
        })
    }
}

impl Tx<'_> {
    pub fn insert_token(&self, new: &NewToken<'_>) -> Result<()> {
        self.tx.execute(
            "INSERT INTO tokens (id, account_id, name, hash, status, created_at, created_by, expires_at, replaces, idle_since)
             VALUES (?1, ?2, ?3, ?4, 'active', ?5, ?6, ?7, ?8, ?5)",
            params![
                new.id,
                new.account_id,
                new.name,
                new.hash,
                format_timestamp(new.created_at),
                new.created_by,
                new.expires_at.map(format_timestamp),
                new.replaces
            ],
        )?;
        for scope in new.scopes {
            self.tx.execute(
                "INSERT INTO token_scopes (token_id, permission) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
                params![new.id, scope],
            )?;
        }
        Ok(())
    }

    /// A token of `org`, whatever its account's status (`account_status` says).
    pub fn find_token(&self, org: &str, id: &str) -> Result<Option<Token>> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens t JOIN accounts a ON a.id = t.account_id
             WHERE t.id = ?1 AND a.org = ?2"
        );
        let raw = self.tx.query_opt(&sql, params![id, org], raw_token)?;
        raw.map(RawToken::into_token).transpose()
    }

    /// Calls `each` with the tokens of `org` (or of one account) that pass `filter`, oldest
    /// first, as they are read. One account's tokens are found through `tokens_account`;
    /// the organization's through its accounts.
    pub fn for_each_token(
        &self,
        org: &str,
        selection: &TokenSelection,
        now: DateTime<Utc>,
        each: &mut dyn FnMut(Token) -> Result<()>,
    ) -> Result<()> {
        // What was decided about the token (and its account), and what the clock says.
        const LIVE: &str = "(t.expires_at IS NULL OR t.expires_at > :now)";
        let (decided, clock) = match selection.filter {
            TokenFilter::Live => ("t.status != 'revoked'", LIVE),
            TokenFilter::Active => ("t.status = 'active' AND a.status = 'active'", LIVE),
            TokenFilter::Disabled => (
                "(t.status = 'disabled' OR (t.status = 'active' AND a.status = 'disabled'))",
                LIVE,
            ),
            TokenFilter::Expired => ("t.status != 'revoked'", "t.expires_at <= :now"),
            TokenFilter::Revoked => ("t.status = 'revoked'", "TRUE"),
            TokenFilter::All => ("TRUE", "TRUE"),
        };
        // About to lapse: live now and gone by :before, not already replaced. One closed range
        // on `expires_at` (an `IS NULL OR` beside it made SQLite read every future expiry).
        let clock = if selection.expiring_before.is_some() {
            "t.expires_at > :now AND t.expires_at <= :before AND t.replaced_by IS NULL"
        } else {
            clock
        };
        // Idle since before :unused: not used, enabled again, or created since (the clock the
        // stale-token policy and `sa usage --stale` read).
        let idle = if selection.unused_before.is_some() {
            "AND t.idle_since < :unused"
        } else {
            ""
        };
        // :key is the organization, or the account: a plain equality either way, which SQLite
        // can serve from an index (`:x IS NULL OR …` made it walk the whole organization).
        let (scope, report) = match (selection.account_id, selection.expiring_before) {
            (Some(_), _) => ("t.account_id = :key AND a.org = :org", ""),
            // The cron check (`--expiring-within 14d --exit-code`) wants a few tokens out of
            // many: found through `tokens_expires`, the organization checked on each (`+`
            // keeps SQLite from walking the organization instead).
            (None, Some(_)) => ("+a.org = :key", ""),
            (None, None) => ("a.org = :key", "/* report: tokens */"),
        };
        let order = match selection.sort {
            TokenSort::Created => "t.created_at, t.rowid",
            // The stalest first: never used, then the longest unused.
            TokenSort::LastUsed => {
                "t.last_used_at IS NOT NULL, t.last_used_at, t.created_at, t.rowid"
            }
            // The soonest to lapse first; those that never expire last.
            TokenSort::Expires => "t.expires_at IS NULL, t.expires_at, t.created_at, t.rowid",
            // The least used first.
            TokenSort::Uses => "t.use_count, t.created_at, t.rowid",
        };
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} {report} FROM tokens t JOIN accounts a ON a.id = t.account_id
             WHERE {scope} AND a.status != 'deleted' AND {decided} AND {clock} {idle}
             ORDER BY {order} LIMIT :limit"
        );
        let key = match selection.account_id {
            Some(id) => Owned::Int(id),
            None => Owned::Text(org.to_string()),
        };
        let now = format_timestamp(now);
        let limit = super::sql_limit(selection.limit);
        let before = selection.expiring_before.map(format_timestamp);
        let unused = selection.unused_before.map(format_timestamp);
        // Only the parameters the statement names are bound.
        let (sql, params) = bind_names(
            &sql,
            &[
                (":key", &key as &dyn Param),
                (":now", &now),
                (":limit", &limit),
                (":org", &org),
                (":before", &before),
                (":unused", &unused),
            ],
        )?;
        self.tx.for_each(&sql, &params, |row| {
            each(raw_token(row)?.into_token()?)
        })
    }

    /// Whether any active, unexpired token has been idle (not used, enabled or created) since
    /// before `cutoff`: the stale-token policy's cheap check after every write command.
    pub fn any_idle_token(&self, cutoff: DateTime<Utc>, now: DateTime<Utc>) -> Result<bool> {
        self.tx.exists(
            "SELECT 1 FROM tokens WHERE status = 'active' AND idle_since < ?1
                AND (expires_at IS NULL OR expires_at > ?2) LIMIT 1",
            params![format_timestamp(cutoff), format_timestamp(now)],
        )
    }

    /// The active, unexpired tokens of every organization idle since before `cutoff` (see
    /// [`Tx::any_idle_token`]), with their accounts.
    pub fn idle_tokens(&self, cutoff: DateTime<Utc>, now: DateTime<Utc>) -> Result<Vec<Token>> {
        let raw = self.tx.query_all(
            &format!(
                "SELECT {TOKEN_COLUMNS} /* report: stale tokens */
                 FROM tokens t JOIN accounts a ON a.id = t.account_id
                 WHERE t.status = 'active' AND t.idle_since < ?1
                   AND (t.expires_at IS NULL OR t.expires_at > ?2)
                 ORDER BY t.idle_since"
            ),
            params![format_timestamp(cutoff), format_timestamp(now)],
            raw_token,
        )?;
        raw.into_iter().map(RawToken::into_token).collect()
    }

    /// The tokens of `org` that ended before `cutoff`: revoked before it, or expired before
    /// it (and not revoked), deleted accounts' included. What `sa token prune` removes.
    pub fn for_each_prunable_token(
        &self,
        org: &str,
        cutoff: DateTime<Utc>,
        each: &mut dyn FnMut(Token) -> Result<()>,
    ) -> Result<()> {
        self.tx.for_each(
            &format!(
                "SELECT {TOKEN_COLUMNS} /* report: token prune */
                 FROM tokens t JOIN accounts a ON a.id = t.account_id
                 WHERE t.status = 'revoked' AND t.revoked_at < ?2 AND +a.org = ?1
                 UNION ALL
                 SELECT {TOKEN_COLUMNS} FROM tokens t JOIN accounts a ON a.id = t.account_id
                 WHERE t.expires_at < ?2 AND +t.status != 'revoked' AND +a.org = ?1"
            ),
            params![org, format_timestamp(cutoff)],
            |row| each(raw_token(row)?.into_token()?),
        )
    }

    /// Removes a token for good, with its scopes and per-day counters.
    pub fn delete_token(&self, id: &str) -> Result<()> {
        self.tx
            .execute("DELETE FROM tokens WHERE id = ?1", params![id])?;
        Ok(())
    }

    /// Whether any per-day counter is older than `day`, and removing them.
    pub fn any_usage_before(&self, day: &str) -> Result<bool> {
        self.tx.exists(
            "SELECT 1 FROM token_usage_daily WHERE day < ?1 LIMIT 1",
            params![day],
        )
    }

    pub fn delete_usage_before(&self, day: &str) -> Result<u64> {
        let n = self.tx.execute(
            "DELETE /* report: expired deletions */ FROM token_usage_daily WHERE day < ?1",
            params![day],
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Active, unexpired tokens of an account, except `except` (the one being rotated).
    pub fn count_active_tokens(
        &self,
        account_id: i64,
        now: DateTime<Utc>,
        except: Option<&str>,
    ) -> Result<u64> {
        let n: i64 = self.tx.query_row(
            "SELECT count(*) FROM tokens WHERE account_id = ?1 AND status = 'active'
               AND (expires_at IS NULL OR expires_at > ?2)
               AND (CAST(?3 AS TEXT) IS NULL OR id != ?3)",
            params![account_id, format_timestamp(now), except],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    pub fn revoke_token(&self, id: &str, at: DateTime<Utc>, by: &str) -> Result<()> {
        self.tx.execute(
            "UPDATE tokens SET status = 'revoked', revoked_at = ?2, revoked_by = ?3
             WHERE id = ?1 AND status != 'revoked'",
            params![id, format_timestamp(at), by],
        )?;
        Ok(())
    }

    /// Pauses (`Disabled`, noting when and by whom) or resumes (`Active`) a token that is not
    /// revoked.
    pub fn set_token_paused(
        &self,
        id: &str,
        paused: bool,
        at: DateTime<Utc>,
        by: &str,
    ) -> Result<()> {
        if paused {
            self.tx.execute(
                "UPDATE tokens SET status = 'disabled', paused_at = ?2, paused_by = ?3
                 WHERE id = ?1 AND status != 'revoked'",
                params![id, format_timestamp(at), by],
            )?;
        } else {
            // Resuming restarts the stale-token policy's clock, or the policy would pause the
            // token again at the next command.
            self.tx.execute(
                "UPDATE tokens SET status = 'active', paused_at = NULL, paused_by = NULL,
                    idle_since = CASE WHEN idle_since > ?2 THEN idle_since ELSE ?2 END
                 WHERE id = ?1 AND status != 'revoked'",
                params![id, format_timestamp(at)],
            )?;
        }
        Ok(())
    }

    /// The stale-token policy's pause: only while the token is still active and still idle
    /// since before `cutoff`, so a use counted since it was read (by a verifier, which does
    /// not wait for the writers' lock) keeps it active. Whether it was paused.
    pub fn pause_idle_token(
        &self,
        id: &str,
        cutoff: DateTime<Utc>,
        at: DateTime<Utc>,
        by: &str,
    ) -> Result<bool> {
        Ok(self.tx.execute(
            "UPDATE tokens SET status = 'disabled', paused_at = ?2, paused_by = ?3
             WHERE id = ?1 AND status = 'active' AND idle_since < ?4",
            params![id, format_timestamp(at), by, format_timestamp(cutoff)],
        )? == 1)
    }

    /// Revokes every token of an account that is not revoked yet; returns their ids.
    pub fn revoke_account_tokens(
        &self,
        account_id: i64,
        at: DateTime<Utc>,
        by: &str,
    ) -> Result<Vec<String>> {
        let mut ids: Vec<String> = self.tx.query_all(
            "UPDATE tokens SET status = 'revoked', revoked_at = ?2, revoked_by = ?3
             WHERE account_id = ?1 AND status != 'revoked' RETURNING id",
            params![account_id, format_timestamp(at), by],
            |r| r.get(0),
        )?;
        ids.sort();
        Ok(ids)
    }

    /// Records a rotation: `old` is replaced by `new` and, with a grace period, expires at
    /// `grace_until` (which the domain has already capped at its old expiry).
    pub fn mark_replaced(
        &self,
        old: &str,
        new: &str,
        grace_until: Option<DateTime<Utc>>,
    ) -> Result<()> {
        self.tx.execute(
            "UPDATE tokens SET replaced_by = ?2, expires_at = coalesce(?3, expires_at)
             WHERE id = ?1",
            params![old, new, grace_until.map(format_timestamp)],
        )?;
        Ok(())
    }

    /// The one indexed lookup of a verification.
    pub fn token_for_verify(&self, id: &str) -> Result<Option<TokenForVerify>> {
        let row = self.tx.query_opt(
            "SELECT t.id, t.hash, t.status, t.expires_at,
                (SELECT string_agg(permission, '\u{1f}') FROM token_scopes s WHERE s.token_id = t.id),
                a.id, a.name, a.status, a.org,
                (SELECT string_agg(role, '\u{1f}') FROM account_roles r WHERE r.account_id = a.id),
                t.replaced_by, t.created_at
             FROM tokens t JOIN accounts a ON a.id = t.account_id WHERE t.id = ?1",
            params![id],
            |r| {
                Ok((
                    r.get::<String>(0)?,
                    r.get::<String>(1)?,
                    r.get::<String>(2)?,
                    r.get::<Option<String>>(3)?,
                    r.get::<Option<String>>(4)?,
                    r.get::<i64>(5)?,
                    r.get::<String>(6)?,
                    r.get::<String>(7)?,
                    r.get::<String>(8)?,
                    r.get::<Option<String>>(9)?,
                    r.get::<Option<String>>(10)?,
                    r.get::<String>(11)?,
                ))
            },
        )?;
        let Some((
            id,
            hash,
            status,
            expires_at,
            scopes,
            account_id,
            account,
            account_status,
            org,
            roles,
            replaced_by,
            created_at,
        )) = row
        else {
            return Ok(None);
        };
        Ok(Some(TokenForVerify {
            id,
            hash,
            status: StoredStatus::from_db(&status)?,
            expires_at: time(expires_at.as_deref())?,
            scopes: split_list(scopes),
            account_id,
            account,
            account_status: AccountStatus::from_db(&account_status)?,
            org,
            roles: split_list(roles),
            replaced_by,
            created_at: crate::time::parse_timestamp(&created_at)?,
        }))
    }

    /// Counts one successful verification, if the token is still usable at `at` (it may
    /// have been revoked or paused since it was read). The increments happen in SQL, so
    /// concurrent verifiers serialised by the write lock never lose a count. Returns whether
    /// the use was counted.
    pub fn record_token_use(
        &self,
        id: &str,
        at: DateTime<Utc>,
        source: Option<&str>,
    ) -> Result<bool> {
        let stamp = format_timestamp(at);
        let counted = self.tx.execute(
            "UPDATE tokens SET use_count = use_count + 1,
                last_used_at = CASE WHEN last_used_at > ?2 THEN last_used_at ELSE ?2 END,
                idle_since = CASE WHEN idle_since > ?2 THEN idle_since ELSE ?2 END,
                last_used_source = CASE WHEN ?2 >= coalesce(last_used_at, '') THEN ?3
                                        ELSE last_used_source END
             WHERE id = ?1 AND status = 'active' AND (expires_at IS NULL OR expires_at > ?2)
               AND EXISTS (SELECT 1 FROM accounts a WHERE a.id = tokens.account_id AND a.status = 'active')",
            params![id, stamp, source],
        )?;
        if counted == 0 {
            return Ok(false);
        }
        self.tx.execute(
            "INSERT INTO token_usage_daily (token_id, day, count) VALUES (?1, ?2, 1)
             ON CONFLICT (token_id, day) DO UPDATE SET count = token_usage_daily.count + 1",
            params![id, at.format("%Y-%m-%d").to_string()],
        )?;
        Ok(true)
    }

    /// Adds `count` successful checks that a verify cache answered (the last at `at`) to the
    /// token's usage, whatever its status now: each was a success when it was answered, even
    /// if the token was revoked since. Returns whether the token still exists (a pruned one
    /// is not counted).
    pub fn record_token_uses(
        &self,
        id: &str,
        count: u64,
        at: DateTime<Utc>,
        source: Option<&str>,
    ) -> Result<bool> {
        let count = i64::try_from(count).unwrap_or(i64::MAX);
        let stamp = format_timestamp(at);
        let counted = self.tx.execute(
            "UPDATE tokens SET use_count = use_count + ?4,
                last_used_at = CASE WHEN last_used_at > ?2 THEN last_used_at ELSE ?2 END,
                idle_since = CASE WHEN idle_since > ?2 THEN idle_since ELSE ?2 END,
                last_used_source = CASE WHEN ?2 >= coalesce(last_used_at, '') THEN ?3
                                        ELSE last_used_source END
             WHERE id = ?1",
            params![id, stamp, source, count],
        )?;
        if counted == 0 {
            return Ok(false);
        }
        self.tx.execute(
            "INSERT INTO token_usage_daily (token_id, day, count) VALUES (?1, ?2, ?3)
             ON CONFLICT (token_id, day) DO UPDATE SET count = token_usage_daily.count + ?3",
            params![id, at.format("%Y-%m-%d").to_string(), count],
        )?;
        Ok(true)
    }

    /// Replaces a hash made with older parameters, unless another process already did.
    pub fn replace_token_hash(&self, id: &str, old: &str, new: &str) -> Result<()> {
        self.tx.execute(
            "UPDATE tokens SET hash = ?3 WHERE id = ?1 AND hash = ?2",
            params![id, old, new],
        )?;
        Ok(())
    }

    /// Per-day successful verifications of a token since `from_day` (`YYYY-MM-DD`).
    pub fn token_usage_days(&self, id: &str, from_day: &str) -> Result<Vec<UsageDay>> {
        self.tx.query_all(
            "SELECT day, count FROM token_usage_daily WHERE token_id = ?1 AND day >= ?2 ORDER BY day",
            params![id, from_day],
            |r| {
                Ok(UsageDay {
                    day: r.get(0)?,
                    count: u64::try_from(r.get::<i64>(1)?).unwrap_or(0),
                })
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewAccount, Store};
    use crate::time::now;

    fn store_with_token() -> Store {
        let mut store = Store::open_in_memory().unwrap();
        store
            .write(|tx| {
                tx.ensure_org("default", now())?;
                let account_id = tx.insert_account(&NewAccount {
                    org: "default",
                    name: "bot",
                    description: None,
                    email: "bot@default.sa.local",
                    at: now(),
                    by: "t",
                })?;
                tx.insert_token(&NewToken {
                    id: "AAAAAAAAAAAA",
                    account_id,
                    name: None,
                    hash: "$argon2id$…",
                    scopes: &[],
                    created_at: now(),
                    created_by: "t",
                    expires_at: None,
                    replaces: None,
                })
            })
            .unwrap();
        store
    }

    #[test]
    fn a_use_is_counted_only_while_the_token_is_usable() {
        let mut store = store_with_token();
        let counted = |store: &mut Store| {
            store
                .write(|tx| tx.record_token_use("AAAAAAAAAAAA", now(), Some("x")))
                .unwrap()
        };
        assert!(counted(&mut store));
        store
            .write(|tx| tx.set_token_paused("AAAAAAAAAAAA", true, crate::time::now(), "t"))
            .unwrap();
        assert!(!counted(&mut store), "paused while argon2 ran");
        store
            .write(|tx| tx.set_token_paused("AAAAAAAAAAAA", false, crate::time::now(), "t"))
            .unwrap();
        store
            .write(|tx| tx.revoke_token("AAAAAAAAAAAA", now(), "t"))
            .unwrap();
        assert!(!counted(&mut store), "revoked while argon2 ran");
        let token = store
            .read(|tx| tx.find_token("default", "AAAAAAAAAAAA"))
            .unwrap()
            .unwrap();
        assert_eq!(token.use_count, 1);
        let days = store
            .read(|tx| tx.token_usage_days("AAAAAAAAAAAA", "2000-01-01"))
            .unwrap();
        assert_eq!(days.iter().map(|d| d.count).sum::<u64>(), 1);
    }

    #[test]
    fn an_older_use_does_not_move_last_used_back() {
        let mut store = store_with_token();
        let later = now();
        let earlier = later - chrono::TimeDelta::minutes(5);
        store
            .write(|tx| tx.record_token_use("AAAAAAAAAAAA", later, Some("new")))
            .unwrap();
        store
            .write(|tx| tx.record_token_use("AAAAAAAAAAAA", earlier, Some("old")))
            .unwrap();
        let token = store
            .read(|tx| tx.find_token("default", "AAAAAAAAAAAA"))
            .unwrap()
            .unwrap();
        assert_eq!(token.last_used_at, Some(later));
        assert_eq!(token.last_used_source.as_deref(), Some("new"));
        assert_eq!(token.use_count, 2);
    }
}
