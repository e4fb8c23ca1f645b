//! Rows of `accounts`, `account_roles`, `orgs` and custom `roles`.

use chrono::{DateTime, Utc};
use super::Tx;
use super::sql::{Row, params};
use crate::error::{Error, Result};
use crate::time::{format_timestamp, parse_timestamp};

/// `active`, `disabled` or `deleted` (restorable until its retention ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountStatus {
    Active,
    Disabled,
    Deleted,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Disabled => "disabled",
            AccountStatus::Deleted => "deleted",
        }
    }

    pub(crate) fn from_db(text: &str) -> Result<Self> {
        match text {
            "active" => Ok(AccountStatus::Active),
            "disabled" => Ok(AccountStatus::Disabled),
            "deleted" => Ok(AccountStatus::Deleted),
            other => Err(Error::database(format!("unknown account status `{other}`"))),
        }
    }
}

/// A service account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    pub org: String,
    pub name: String,
    pub description: Option<String>,
    pub email: String,
    pub status: AccountStatus,
    pub disabled_reason: Option<String>,
    pub roles: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    /// Tokens that are neither revoked, disabled nor expired.
    pub active_tokens: u64,
}

/// Which account: by id or by name, within an organization.
#[derive(Debug, Clone, Copy)]
pub enum AccountKey<'a> {
    Id(i64),
    Name(&'a str),
}

/// What a new account row holds.
#[derive(Debug)]
pub struct NewAccount<'a> {
    pub org: &'a str,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub email: &'a str,
    pub at: DateTime<Utc>,
    pub by: &'a str,
}

/// `sa list` filters, already validated.
#[derive(Debug, Default)]
pub struct AccountFilter<'a> {
    /// `None`: active and disabled, and deleted too with `include_deleted`.
    pub status: Option<AccountStatus>,
    pub include_deleted: bool,
    pub role: Option<&'a str>,
    /// Case-insensitive substring of name, description or email.
    pub search: Option<&'a str>,
    /// At most this many, the first by name.
    pub limit: Option<u64>,
}

/// One line of `sa org list`.
#[derive(Debug, Clone)]
pub struct OrgSummary {
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub active_accounts: u64,
    pub disabled_accounts: u64,
    pub deleted_accounts: u64,
}

const ACCOUNT_COLUMNS: &str = "a.id, a.org, a.name, a.description, a.email, a.status, \
     a.disabled_reason, a.created_at, a.created_by, a.updated_at, a.deleted_at, \
     (SELECT string_agg(role, '\u{1f}' ORDER BY role) FROM account_roles r \
        WHERE r.account_id = a.id), \
     (SELECT count(*) FROM tokens t WHERE t.account_id = a.id AND t.status = 'active' \
        AND (t.expires_at IS NULL OR t.expires_at > ?1))";

fn account_from_row(row: &Row<'_>) -> Result<RawAccount> {
    Ok(RawAccount {
        id: row.get(0)?,
        org: row.get(1)?,
        name: row.get(2)?,
        description: row.get(3)?,
        email: row.get(4)?,
        status: row.get(5)?,
        disabled_reason: row.get(6)?,
        created_at: row.get(7)?,
        created_by: row.get(8)?,
        updated_at: row.get(9)?,
        deleted_at: row.get(10)?,
        roles: row.get(11)?,
        active_tokens: row.get(12)?,
    })
}

/// Columns as SQLite hands them over; converted (and checked) outside the row callback.
struct RawAccount {
    id: i64,
    org: String,
    name: String,
    description: Option<String>,
    email: String,
    status: String,
    disabled_reason: Option<String>,
    created_at: String,
    created_by: String,
    updated_at: String,
    deleted_at: Option<String>,
    roles: Option<String>,
    active_tokens: i64,
}

impl RawAccount {
    fn into_account(self) -> Result<Account> {
        Ok(Account {
            id: self.id,
            org: self.org,
            name: self.name,
            description: self.description,
            email: self.email,
            status: AccountStatus::from_db(&self.status)?,
            disabled_reason: self.disabled_reason,
            roles: self
                .roles
                .map(|r| r.split('\u{1f}').map(str::to_string).collect())
                .unwrap_or_default(),
            created_at: parse_timestamp(&self.created_at)?,
            created_by: self.created_by,
            updated_at: parse_timestamp(&self.updated_at)?,
            deleted_at: self
                .deleted_at
                .as_deref()
                .map(parse_timestamp)
                .transpose()?,
            active_tokens: u64::try_from(self.active_tokens).unwrap_or(0),
        })
    }
}

impl Tx<'_> {
    /// Records the organization the first time an account is created in it.
    pub fn ensure_org(&self, org: &str, at: DateTime<Utc>) -> Result<()> {
        self.tx.execute(
            "INSERT INTO orgs (name, created_at) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
            params![org, format_timestamp(at)],
        )?;
        Ok(())
    }

    pub fn list_orgs(&self) -> Result<Vec<OrgSummary>> {
        let rows = self.tx.query_all(
            "SELECT /* report: organizations */ o.name, o.created_at,
                (SELECT count(*) FROM accounts a WHERE a.org = o.name AND a.status = 'active'),
                (SELECT count(*) FROM accounts a WHERE a.org = o.name AND a.status = 'disabled'),
                (SELECT count(*) FROM accounts a WHERE a.org = o.name AND a.status = 'deleted')
             FROM orgs o ORDER BY o.name",
            params![],
            |row| {
                Ok((
                    row.get::<String>(0)?,
                    row.get::<String>(1)?,
                    row.get::<i64>(2)?,
                    row.get::<i64>(3)?,
                    row.get::<i64>(4)?,
                ))
            },
        )?;
        let mut orgs = Vec::new();
        for (name, created_at, active, disabled, deleted) in rows {
            let count = |n: i64| u64::try_from(n).unwrap_or(0);
            orgs.push(OrgSummary {
                name,
                created_at: parse_timestamp(&created_at)?,
                active_accounts: count(active),
                disabled_accounts: count(disabled),
                deleted_accounts: count(deleted),
            });
        }
        Ok(orgs)
    }

    pub fn insert_account(&self, new: &NewAccount<'_>) -> Result<i64> {
        let at = format_timestamp(new.at);
        self.tx.query_row(
            "INSERT INTO accounts (org, name, description, email, status, created_at, created_by, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'active', ?5, ?6, ?5) RETURNING id",
            params![new.org, new.name, new.description, new.email, at, new.by],
            |row| row.get(0),
        )
    }

    /// Any account of `org` by id or name, whatever its status. One statement per key, so
    /// each is a primary-key or unique-index lookup (an `OR` of the two made SQLite read the
    /// whole organization).
    pub fn find_account(
        &self,
        org: &str,
        key: AccountKey<'_>,
        now: DateTime<Utc>,
    ) -> Result<Option<Account>> {
        let now = format_timestamp(now);
        let raw = match key {
            AccountKey::Id(id) => self.tx.query_opt(
                &format!("SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.id = ?2 AND a.org = ?3"),
                params![now, id, org],
                account_from_row,
            ),
            AccountKey::Name(name) => self.tx.query_opt(
                &format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM accounts a WHERE a.org = ?2 AND a.name = ?3"
                ),
                params![now, org, name],
                account_from_row,
            ),
        }?;
        raw.map(RawAccount::into_account).transpose()
    }

    /// Calls `each` with the accounts of `org` that pass `filter`, by name, as they are read.
    pub fn for_each_account(
        &self,
        org: &str,
        filter: &AccountFilter<'_>,
        now: DateTime<Utc>,
        each: &mut dyn FnMut(Account) -> Result<()>,
    ) -> Result<()> {
        let status = filter.status.map(AccountStatus::as_str);
        // instr, not LIKE: no wildcards to escape, and no length limit on the pattern.
        let search = filter.search.map(str::to_lowercase);
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} /* report: accounts */ FROM accounts a
             WHERE a.org = ?2
               AND (CASE WHEN CAST(?3 AS TEXT) IS NOT NULL THEN a.status = ?3 WHEN ?6 THEN TRUE
                         ELSE a.status != 'deleted' END)
               AND (CAST(?4 AS TEXT) IS NULL
                    OR EXISTS (SELECT 1 FROM account_roles r WHERE r.account_id = a.id AND r.role = ?4))
               AND (CAST(?5 AS TEXT) IS NULL OR instr(lower(a.name), ?5) > 0
                    OR instr(lower(coalesce(a.description, '')), ?5) > 0
                    OR instr(lower(a.email), ?5) > 0)
             ORDER BY a.org, a.name LIMIT ?7"
        );
        self.tx.for_each(
            &sql,
            params![
                format_timestamp(now),
                org,
                status,
                filter.role,
                search,
                filter.include_deleted,
                super::sql_limit(filter.limit)
            ],
            |row| each(account_from_row(row)?.into_account()?),
        )
    }

    /// The names and descriptions of `org`'s deleted accounts, or else of its active and
    /// disabled ones, by name, as they are read: what shell completion and the account picker
    /// offer. Two columns, in the order of the `(org, name)` index, without the per-account
    /// subqueries of `for_each_account`: 100,000 names take a moment.
    pub fn for_each_account_name(
        &self,
        org: &str,
        deleted: bool,
        each: &mut dyn FnMut(String, Option<String>) -> Result<()>,
    ) -> Result<()> {
        self.tx.for_each(
            "SELECT /* report: account names */ name, description FROM accounts
             WHERE org = ?1 AND (status = 'deleted') = ?2 ORDER BY name",
            params![org, deleted],
            |row| each(row.get(0)?, row.get(1)?),
        )
    }

    /// The accounts of `org` that pass `filter`, by name (for tests and small lists).
    pub fn list_accounts(
        &self,
        org: &str,
        filter: &AccountFilter<'_>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Account>> {
        let mut accounts = Vec::new();
        self.for_each_account(org, filter, now, &mut |a| {
            accounts.push(a);
            Ok(())
        })?;
        Ok(accounts)
    }

    /// Accounts in `org` that count against `limits.max_accounts` (deleted ones hold their
    /// name, so they count until purged): a counter the schema's triggers keep.
    pub fn count_accounts(&self, org: &str) -> Result<u64> {
        let n: Option<i64> = self.tx.query_opt(
            "SELECT account_count FROM orgs WHERE name = ?1",
            params![org],
            |r| r.get(0),
        )?;
        Ok(n.map_or(0, |n| u64::try_from(n).unwrap_or(0)))
    }

    pub fn rename_account(&self, id: i64, name: &str, at: DateTime<Utc>) -> Result<()> {
        self.tx.execute(
            "UPDATE accounts SET name = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, name, format_timestamp(at)],
        )?;
        Ok(())
    }

    pub fn set_account_description(
        &self,
        id: i64,
        description: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.tx.execute(
            "UPDATE accounts SET description = ?2, updated_at = ?3 WHERE id = ?1",
            params![id, description, format_timestamp(at)],
        )?;
        Ok(())
    }

    /// Sets the status; `reason` is kept only while disabled, `deleted_at` only while deleted.
    pub fn set_account_status(
        &self,
        id: i64,
        status: AccountStatus,
        reason: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let at = format_timestamp(at);
        let deleted_at = (status == AccountStatus::Deleted).then_some(at.as_str());
        self.tx.execute(
            "UPDATE accounts SET status = ?2, disabled_reason = ?3, deleted_at = ?4, updated_at = ?5
             WHERE id = ?1",
            params![id, status.as_str(), reason, deleted_at, at],
        )?;
        Ok(())
    }

    /// Removes the account for good, with its role grants, tokens and usage counters.
    pub fn purge_account(&self, id: i64) -> Result<()> {
        self.tx
            .execute("DELETE FROM accounts WHERE id = ?1", params![id])?;
        Ok(())
    }

    /// Whether any deleted account's retention ended at or before `cutoff`: the check that
    /// runs before every command, a search of the partial index `accounts_deleted`.
    pub fn any_deleted_before(&self, cutoff: DateTime<Utc>) -> Result<bool> {
        self.tx.exists(
            "SELECT 1 FROM accounts WHERE status = 'deleted' AND deleted_at <= ?1 LIMIT 1",
            params![format_timestamp(cutoff)],
        )
    }

    /// Deleted accounts (of every organization) whose retention ended at or before `cutoff`,
    /// oldest deletion first (the order of the partial index, so no table scan).
    pub fn deleted_accounts_before(
        &self,
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Account>> {
        let sql = format!(
            "SELECT {ACCOUNT_COLUMNS} /* report: expired deletions */ FROM accounts a
             WHERE a.status = 'deleted' AND a.deleted_at <= ?2 ORDER BY a.deleted_at, a.id"
        );
        self.tx.query_all(
            &sql,
            params![format_timestamp(now), format_timestamp(cutoff)],
            |row| account_from_row(row)?.into_account(),
        )
    }

    /// The email a new account gets: `LOCAL@DOMAIN`, or, when an account (even a renamed or
    /// purged one) ever had that, the first free `LOCAL-N@DOMAIN` for N = 2, 3, …
    pub fn free_email(&self, org: &str, local: &str, domain: &str) -> Result<String> {
        let taken = |email: &str| {
            self.tx.exists(
                "SELECT 1 FROM account_emails WHERE org = ?1 AND email = ?2",
                params![org, email],
            )
        };
        let mut candidate = format!("{local}@{domain}");
        let mut n = 1u64;
        while taken(&candidate)? {
            n += 1;
            candidate = format!("{local}-{n}@{domain}");
        }
        Ok(candidate)
    }

    /// Reserves `email` in `org` for the account, for good.
    pub fn reserve_email(&self, org: &str, email: &str, account_id: i64) -> Result<()> {
        self.tx.execute(
            "INSERT INTO account_emails (org, email, account_id) VALUES (?1, ?2, ?3)",
            params![org, email, account_id],
        )?;
        Ok(())
    }
}

/// The actor of the changes a schema migration makes.
pub const MIGRATION_ACTOR: &str = "sa:migration";

/// Schema version 2: reserves every email in use or named by an `account.create` event, and
/// gives the newer of two accounts that shared an email (sa 0.1 handed a renamed account's
/// email to the next account of its old name) the first free `NAME-N@…`, with an
/// `account.update` event saying why.
///
/// Every email is reserved before any is given out, so a new one never takes what a purged
/// account or a later account already had. Accounts come before purged ones, and older
/// accounts before newer, so the account that had an email first keeps it.
pub(super) fn reserve_existing_emails(tx: &Tx<'_>) -> Result<()> {
    tx.tx.execute(
        "INSERT INTO account_emails (org, email, account_id)
         SELECT org, email, id FROM accounts ORDER BY id
         ON CONFLICT DO NOTHING",
        params![],
    )?;
    tx.tx.execute(
        "INSERT INTO account_emails (org, email, account_id)
         SELECT e.org, d.value, e.account_id FROM audit_events e
         JOIN audit_details d ON d.event_id = e.id AND d.key = 'email'
         WHERE e.action = 'account.create' AND e.account_id IS NOT NULL
         ORDER BY e.id
         ON CONFLICT DO NOTHING",
        params![],
    )?;
    let sharing: Vec<(i64, String, String, String, i64)> = tx.tx.query_all(
        "SELECT a.id, a.org, a.name, a.email, r.account_id FROM accounts a
         JOIN account_emails r ON r.org = a.org AND r.email = a.email
         WHERE r.account_id != a.id ORDER BY a.id",
        params![],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )?;
    let now = crate::time::now();
    for (id, org, name, email, holder) in sharing {
        let Some((local, domain)) = email.rsplit_once('@') else {
            return Err(Error::database(format!(
                "account {id} has the email `{email}`, which has no `@`"
            )));
        };
        let fresh = tx.free_email(&org, local, domain)?;
        tx.reserve_email(&org, &fresh, id)?;
        tx.tx.execute(
            "UPDATE accounts SET email = ?2 WHERE id = ?1",
            params![id, fresh],
        )?;
        // Schema 2 has no hash chain yet: migration 5 chains this event with the rest.
        tx.insert_unchained_audit_event(&super::NewAuditEvent {
            at: now,
            actor: MIGRATION_ACTOR,
            action: "account.update",
            org: &org,
            target: &name,
            account_id: Some(id),
            details: &[
                ("old_email", email.clone()),
                ("new_email", fresh),
                ("reason", format!("account {holder} had this email first")),
            ],
        })?;
    }
    tx.tx.execute(
        "CREATE UNIQUE INDEX accounts_email ON accounts (org, email)",
        params![],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::time::now;

    fn new<'a>(name: &'a str) -> NewAccount<'a> {
        NewAccount {
            org: "default",
            name,
            description: Some("d"),
            email: name,
            at: now(),
            by: "me",
        }
    }

    #[test]
    fn accounts_round_trip_and_filter() {
        let mut store = Store::open_in_memory().unwrap();
        store
            .write(|tx| {
                tx.ensure_org("default", now())?;
                let id = tx.insert_account(&new("alpha"))?;
                tx.grant_role(id, "viewer")?;
                tx.grant_role(id, "admin")?;
                let beta = tx.insert_account(&new("beta_1"))?;
                tx.set_account_status(beta, AccountStatus::Disabled, Some("leak"), now())?;
                let a = tx
                    .find_account("default", AccountKey::Id(id), now())?
                    .unwrap();
                assert_eq!(a.roles, vec!["admin", "viewer"]);
                assert_eq!(a.status, AccountStatus::Active);
                assert!(
                    tx.find_account("other", AccountKey::Id(id), now())?
                        .is_none()
                );
                let all = tx.list_accounts("default", &AccountFilter::default(), now())?;
                assert_eq!(all.len(), 2);
                let by_role = AccountFilter {
                    role: Some("viewer"),
                    ..Default::default()
                };
                assert_eq!(tx.list_accounts("default", &by_role, now())?.len(), 1);
                // `_` in a search is literal, not a LIKE wildcard.
                let search = AccountFilter {
                    search: Some("A_1"),
                    ..Default::default()
                };
                let found = tx.list_accounts("default", &search, now())?;
                assert_eq!(found.len(), 1);
                assert_eq!(found[0].disabled_reason.as_deref(), Some("leak"));
                assert!(
                    tx.list_accounts(
                        "default",
                        &AccountFilter {
                            search: Some("a_b"),
                            ..Default::default()
                        },
                        now()
                    )?
                    .is_empty()
                );
                Ok(())
            })
            .unwrap();
    }
}
