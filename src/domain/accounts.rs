//! The service-account lifecycle: create, update, disable/enable, delete (restorable for
//! `retention.deleted_accounts`), undelete, purge.

use crate::domain::Context;
use crate::domain::audit;
use crate::domain::names::{AccountName, AccountRef, RoleName, check_free_text};
use crate::domain::permissions::Scopes;
use crate::domain::permissions::builtin_role;
use crate::domain::roles;
use crate::error::{Error, Result};
use crate::store::{
    Account, AccountFilter, AccountKey, AccountStatus, NewAccount, OrgSummary, Store, Tx,
};

/// `sa create`
#[derive(Debug, Clone)]
pub struct CreateAccount {
    pub name: AccountName,
    pub description: Option<String>,
    pub roles: Vec<RoleName>,
}

/// `sa update`: `None` leaves a field as it is; a description of `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct UpdateAccount {
    pub name: Option<AccountName>,
    pub description: Option<Option<String>>,
}

/// `sa list` filters.
#[derive(Debug, Clone, Default)]
pub struct ListAccounts {
    /// `None`: active and disabled, and deleted too with `include_deleted`.
    pub status: Option<AccountStatus>,
    pub include_deleted: bool,
    pub role: Option<RoleName>,
    pub search: Option<String>,
    /// At most this many, the first by name.
    pub limit: Option<u64>,
}

/// An account and whether the command changed anything (enabling an active account does not).
#[derive(Debug, Clone)]
pub struct Outcome {
    pub account: Account,
    pub changed: bool,
}

/// The result of `sa delete`.
#[derive(Debug, Clone)]
pub struct Deletion {
    pub account: Account,
    pub revoked_tokens: Vec<String>,
    pub purged: bool,
}

fn key(reference: &AccountRef) -> AccountKey<'_> {
    match reference {
        AccountRef::Id(id) => AccountKey::Id(*id),
        AccountRef::Name(name) => AccountKey::Name(name.as_str()),
    }
}

/// Any account of the organization, deleted ones included.
pub(crate) fn find_any(tx: &Tx<'_>, ctx: &Context<'_>, reference: &AccountRef) -> Result<Account> {
    tx.find_account(ctx.org.as_str(), key(reference), ctx.now)?
        .ok_or_else(|| Error::AccountNotFound {
            org: ctx.org.to_string(),
            account: reference.to_string(),
        })
}

/// An account that is not deleted; a deleted one is "not found" with a hint to undelete it.
pub(crate) fn find(tx: &Tx<'_>, ctx: &Context<'_>, reference: &AccountRef) -> Result<Account> {
    let account = find_any(tx, ctx, reference)?;
    if account.status == AccountStatus::Deleted {
        return Err(Error::AccountDeleted {
            name: account.name,
            id: account.id,
        });
    }
    Ok(account)
}

fn reload(tx: &Tx<'_>, ctx: &Context<'_>, id: i64) -> Result<Account> {
    find_any(tx, ctx, &AccountRef::Id(id))
}

/// Checks that a role exists in the organization (built-in or custom).
pub(crate) fn check_role(tx: &Tx<'_>, ctx: &Context<'_>, role: &RoleName) -> Result<()> {
    if builtin_role(role.as_str()).is_some()
        || tx
            .custom_role_permissions(ctx.org.as_str(), role.as_str())?
            .is_some()
    {
        Ok(())
    } else {
        Err(Error::RoleNotFound(role.to_string()))
    }
}

fn check_name_free(tx: &Tx<'_>, ctx: &Context<'_>, name: &AccountName) -> Result<()> {
    match tx.find_account(ctx.org.as_str(), AccountKey::Name(name.as_str()), ctx.now)? {
        None => Ok(()),
        Some(holder) => Err(Error::NameTaken {
            org: ctx.org.to_string(),
            name: name.to_string(),
            deleted_id: (holder.status == AccountStatus::Deleted).then_some(holder.id),
        }),
    }
}

pub fn create(store: &mut Store, ctx: &Context<'_>, request: &CreateAccount) -> Result<Account> {
    // Bad text is refused at once, not after waiting for another writer's lock.
    if let Some(description) = &request.description {
        check_free_text("the description", description)?;
    }
    store.write(|tx| create_in(tx, ctx, request))
}

/// [`create`] inside the caller's transaction (`sa apply` makes many changes in one).
pub(crate) fn create_in(tx: &Tx<'_>, ctx: &Context<'_>, request: &CreateAccount) -> Result<Account> {
    if let Some(description) = &request.description {
        check_free_text("the description", description)?;
    }
    check_name_free(tx, ctx, &request.name)?;
    if let Some(limit) = ctx.config.limits.max_accounts
        && tx.count_accounts(ctx.org.as_str())? >= limit
    {
        return Err(Error::LimitReached {
            what: "account",
            limit,
            key: "limits.max_accounts",
        });
    }
    for role in &request.roles {
        check_role(tx, ctx, role)?;
        let what = format!("create an account with `{role}`");
        roles::refuse_wider(tx, ctx, &what, &[role.to_string()], &Scopes::UNSCOPED)?;
    }
    let email = tx.free_email(
        ctx.org.as_str(),
        request.name.as_str(),
        &format!("{}.{}", ctx.org, ctx.config.email_domain),
    )?;
    tx.ensure_org(ctx.org.as_str(), ctx.now)?;
    let id = tx.insert_account(&NewAccount {
        org: ctx.org.as_str(),
        name: request.name.as_str(),
        description: request.description.as_deref(),
        email: &email,
        at: ctx.now,
        by: &ctx.actor,
    })?;
    tx.reserve_email(ctx.org.as_str(), &email, id)?;
    for role in &request.roles {
        tx.grant_role(id, role.as_str())?;
    }
    let roles: Vec<&str> = request.roles.iter().map(RoleName::as_str).collect();
    let mut details = vec![("id", id.to_string()), ("email", email.clone())];
    if let Some(description) = &request.description {
        details.push(("description", description.clone()));
    }
    if !roles.is_empty() {
        details.push(("roles", roles.join(",")));
    }
    audit::record(
        tx,
        ctx,
        "account.create",
        request.name.as_str(),
        Some(id),
        &details,
    )?;
    reload(tx, ctx, id)
}

pub fn show(store: &mut Store, ctx: &Context<'_>, reference: &AccountRef) -> Result<Account> {
    store.read(|tx| find(tx, ctx, reference))
}

/// Calls `each` with the accounts `query` selects, by name, as they are read.
pub fn list(
    store: &mut Store,
    ctx: &Context<'_>,
    query: &ListAccounts,
    each: &mut dyn FnMut(Account) -> Result<()>,
) -> Result<()> {
    store.read(|tx| {
        // A misspelt role would otherwise look like "nobody holds it".
        if let Some(role) = &query.role {
            check_role(tx, ctx, role)?;
        }
        tx.for_each_account(
            ctx.org.as_str(),
            &AccountFilter {
                status: query.status,
                include_deleted: query.include_deleted,
                role: query.role.as_ref().map(RoleName::as_str),
                search: query.search.as_deref(),
                limit: query.limit,
            },
            ctx.now,
            each,
        )
    })
}

/// Calls `each` with the name and description of every account a person may name where an
/// account is asked for (the deleted ones with `deleted`, for `sa undelete`; else the active
/// and disabled ones), by name: what shell completion and the account picker offer.
pub fn names(
    store: &mut Store,
    ctx: &Context<'_>,
    deleted: bool,
    each: &mut dyn FnMut(String, Option<String>) -> Result<()>,
) -> Result<()> {
    store.read(|tx| tx.for_each_account_name(ctx.org.as_str(), deleted, each))
}

pub fn update(
    store: &mut Store,
    ctx: &Context<'_>,
    reference: &AccountRef,
    request: &UpdateAccount,
) -> Result<Outcome> {
    if request.name.is_none() && request.description.is_none() {
        return Err(Error::invalid(
            "nothing to update: give `--name` or `--description`",
        ));
    }
    if let Some(Some(description)) = &request.description {
        check_free_text("the description", description)?;
    }
    store.write(|tx| update_in(tx, ctx, reference, request))
}

/// [`update`] inside the caller's transaction.
pub(crate) fn update_in(
    tx: &Tx<'_>,
    ctx: &Context<'_>,
    reference: &AccountRef,
    request: &UpdateAccount,
) -> Result<Outcome> {
    if let Some(Some(description)) = &request.description {
        check_free_text("the description", description)?;
    }
    let account = find(tx, ctx, reference)?;
    let mut details = Vec::new();
    if let Some(name) = request.name.as_ref().filter(|n| n.as_str() != account.name) {
        // A name is how services and people know an account: a service account may not
        // move one that can do more than it can, and so free its name for itself.
        let what = format!("rename account `{}`", account.name);
        roles::refuse_wider(tx, ctx, &what, &account.roles, &Scopes::UNSCOPED)?;
        check_name_free(tx, ctx, name)?;
        tx.rename_account(account.id, name.as_str(), ctx.now)?;
        details.push(("old_name", account.name.clone()));
        details.push(("new_name", name.to_string()));
    }
    if let Some(description) = request
        .description
        .as_ref()
        .filter(|d| **d != account.description)
    {
        tx.set_account_description(account.id, description.as_deref(), ctx.now)?;
        details.push(("description", description.clone().unwrap_or_default()));
    }
    let changed = !details.is_empty();
    let updated = reload(tx, ctx, account.id)?;
    if changed {
        audit::record(
            tx,
            ctx,
            "account.update",
            &updated.name,
            Some(account.id),
            &details,
        )?;
    }
    Ok(Outcome {
        account: updated,
        changed,
    })
}

/// Disables an account: all its tokens are rejected until it is enabled again.
///
/// `reason`: `None` keeps the reason an already disabled account has (so a script that runs
/// `sa disable X` again does not erase "key exposed in a public repository"); `Some("")`
/// clears it; anything else replaces it.
pub fn disable(
    store: &mut Store,
    ctx: &Context<'_>,
    reference: &AccountRef,
    reason: Option<&str>,
) -> Result<Outcome> {
    if let Some(reason) = reason {
        check_free_text("the reason", reason)?;
    }
    store.write(|tx| disable_in(tx, ctx, reference, reason))
}

/// [`disable`] inside the caller's transaction.
pub(crate) fn disable_in(
    tx: &Tx<'_>,
    ctx: &Context<'_>,
    reference: &AccountRef,
    reason: Option<&str>,
) -> Result<Outcome> {
    if let Some(reason) = reason {
        check_free_text("the reason", reason)?;
    }
    let account = find(tx, ctx, reference)?;
    let reason: Option<String> = match reason {
        None => account.disabled_reason.clone(),
        Some("") => None,
        Some(reason) => Some(reason.to_string()),
    };
    let reason = reason.as_deref();
    if account.status == AccountStatus::Disabled && account.disabled_reason.as_deref() == reason
    {
        return Ok(Outcome {
            account,
            changed: false,
        });
    }
    tx.set_account_status(account.id, AccountStatus::Disabled, reason, ctx.now)?;
    let details: Vec<(&str, String)> = reason
        .map(|r| ("reason", r.to_string()))
        .into_iter()
        .collect();
    audit::record(
        tx,
        ctx,
        "account.disable",
        &account.name,
        Some(account.id),
        &details,
    )?;
    Ok(Outcome {
        account: reload(tx, ctx, account.id)?,
        changed: true,
    })
}

pub fn enable(store: &mut Store, ctx: &Context<'_>, reference: &AccountRef) -> Result<Outcome> {
    store.write(|tx| enable_in(tx, ctx, reference))
}

/// [`enable`] inside the caller's transaction.
pub(crate) fn enable_in(tx: &Tx<'_>, ctx: &Context<'_>, reference: &AccountRef) -> Result<Outcome> {
    let account = find(tx, ctx, reference)?;
    if account.status == AccountStatus::Active {
        return Ok(Outcome {
            account,
            changed: false,
        });
    }
    let what = format!("enable account `{}`", account.name);
    Ok(Outcome {
        account: activate(tx, ctx, &account, &what, "account.enable")?,
        changed: true,
    })
}

/// Makes `account` active (enable, undelete), which puts its roles in effect again: no
/// wider than a service account acting may hand out; audited as `action`.
fn activate(
    tx: &Tx<'_>,
    ctx: &Context<'_>,
    account: &Account,
    what: &str,
    action: &str,
) -> Result<Account> {
    roles::refuse_wider(tx, ctx, what, &account.roles, &Scopes::UNSCOPED)?;
    tx.set_account_status(account.id, AccountStatus::Active, None, ctx.now)?;
    audit::record(tx, ctx, action, &account.name, Some(account.id), &[])?;
    reload(tx, ctx, account.id)
}

/// Deletes an account: its tokens are revoked at once; the record stays restorable for
/// `retention.deleted_accounts`, or is removed for good with `purge`.
pub fn delete(
    store: &mut Store,
    ctx: &Context<'_>,
    reference: &AccountRef,
    purge: bool,
) -> Result<Deletion> {
    store.write(|tx| delete_in(tx, ctx, reference, purge))
}

/// [`delete`] inside the caller's transaction.
pub(crate) fn delete_in(
    tx: &Tx<'_>,
    ctx: &Context<'_>,
    reference: &AccountRef,
    purge: bool,
) -> Result<Deletion> {
    // `--purge` may finish off an account that is already deleted.
    let account = if purge {
        find_any(tx, ctx, reference)?
    } else {
        find(tx, ctx, reference)?
    };
    let revoked_tokens = tx.revoke_account_tokens(account.id, ctx.now, &ctx.actor)?;
    if account.status != AccountStatus::Deleted {
        tx.set_account_status(account.id, AccountStatus::Deleted, None, ctx.now)?;
        let details = [("revoked_tokens", revoked_tokens.len().to_string())];
        audit::record(
            tx,
            ctx,
            "account.delete",
            &account.name,
            Some(account.id),
            &details,
        )?;
    }
    if purge {
        tx.purge_account(account.id)?;
        let details = [("reason", "requested".to_string())];
        audit::record(
            tx,
            ctx,
            "account.purge",
            &account.name,
            Some(account.id),
            &details,
        )?;
    }
    let account = if purge {
        // The row is gone; show what it was at the end.
        Account {
            status: AccountStatus::Deleted,
            deleted_at: account.deleted_at.or(Some(ctx.now)),
            disabled_reason: None,
            active_tokens: 0,
            ..account
        }
    } else {
        reload(tx, ctx, account.id)?
    };
    Ok(Deletion {
        account,
        revoked_tokens,
        purged: purge,
    })
}

/// Restores a deleted account with its id, email and roles, and no live tokens.
pub fn undelete(store: &mut Store, ctx: &Context<'_>, reference: &AccountRef) -> Result<Account> {
    store.write(|tx| {
        let account = find_any(tx, ctx, reference)?;
        if account.status != AccountStatus::Deleted {
            return Err(Error::Refused(format!(
                "account `{}` (id {}) is not deleted",
                account.name, account.id
            )));
        }
        let what = format!("restore account `{}`", account.name);
        activate(tx, ctx, &account, &what, "account.undelete")
    })
}

/// Organizations that have (or had) accounts, with their account counts.
pub fn list_orgs(store: &mut Store) -> Result<Vec<OrgSummary>> {
    store.read(|tx| tx.list_orgs())
}

/// The actor of purges made by `retention.deleted_accounts`.
pub const RETENTION_ACTOR: &str = "sa:retention";

/// Removes deleted accounts whose retention has ended, in every organization. Runs before
/// each command, so "after the retention has passed" needs no daemon.
pub fn purge_expired(store: &mut Store, ctx: &Context<'_>) -> Result<usize> {
    let cutoff = ctx.now - ctx.config.retention.deleted_accounts.to_delta();
    if !store.read(|tx| tx.any_deleted_before(cutoff))? {
        return Ok(0);
    }
    store.write(|tx| {
        let expired = tx.deleted_accounts_before(cutoff, ctx.now)?;
        for account in &expired {
            tx.purge_account(account.id)?;
            // The policy acted, not whoever happened to run the command that applied it.
            let event_ctx = Context {
                org: crate::domain::names::OrgName::parse(&account.org)?,
                actor: RETENTION_ACTOR.to_string(),
                acting: None,
                ..ctx.clone()
            };
            let details = [
                ("reason", "retention ended".to_string()),
                ("triggered_by", ctx.triggered_by(&account.org)),
            ];
            audit::record(
                tx,
                &event_ctx,
                "account.purge",
                &account.name,
                Some(account.id),
                &details,
            )?;
        }
        Ok(expired.len())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::domain::names::OrgName;
    use crate::time::now;

    fn name(n: &str) -> AccountName {
        AccountName::parse(n).unwrap()
    }

    fn create_named(store: &mut Store, ctx: &Context<'_>, n: &str) -> Result<Account> {
        create(
            store,
            ctx,
            &CreateAccount {
                name: name(n),
                description: None,
                roles: vec![],
            },
        )
    }

    fn context(config: &Config) -> Context<'_> {
        Context {
            org: OrgName::default(),
            actor: "tester".into(),
            now: now(),
            config,
            acting: None,
        }
    }

    #[test]
    fn lifecycle_keeps_id_and_email() {
        let config = Config::with_db_path(":memory:");
        let ctx = context(&config);
        let mut store = Store::open_in_memory().unwrap();
        let a = create_named(&mut store, &ctx, "ci-bot").unwrap();
        assert_eq!(a.email, "ci-bot@default.sa.local");
        let renamed = update(
            &mut store,
            &ctx,
            &AccountRef::Id(a.id),
            &UpdateAccount {
                name: Some(name("cd-bot")),
                description: None,
            },
        )
        .unwrap();
        assert_eq!(
            (renamed.account.id, renamed.account.email.as_str()),
            (a.id, "ci-bot@default.sa.local")
        );
        delete(&mut store, &ctx, &AccountRef::Id(a.id), false).unwrap();
        let err = show(&mut store, &ctx, &AccountRef::Name(name("cd-bot"))).unwrap_err();
        assert!(matches!(err, Error::AccountDeleted { .. }));
        assert!(matches!(
            create_named(&mut store, &ctx, "cd-bot"),
            Err(Error::NameTaken {
                deleted_id: Some(_),
                ..
            })
        ));
        let back = undelete(&mut store, &ctx, &AccountRef::Id(a.id)).unwrap();
        assert_eq!(back.status, AccountStatus::Active);
        let mut actions = Vec::new();
        crate::domain::audit::list(&mut store, &ctx, &Default::default(), &mut |e| {
            actions.push(e.action);
            Ok(())
        })
        .unwrap();
        assert_eq!(
            actions,
            [
                "account.create",
                "account.update",
                "account.delete",
                "account.undelete"
            ]
        );
    }

    #[test]
    fn retention_purges_only_what_has_expired() {
        let config = Config::with_db_path(":memory:");
        let ctx = context(&config);
        let mut store = Store::open_in_memory().unwrap();
        let a = create_named(&mut store, &ctx, "old-bot").unwrap();
        delete(&mut store, &ctx, &AccountRef::Id(a.id), false).unwrap();
        assert_eq!(purge_expired(&mut store, &ctx).unwrap(), 0);
        let later = Context {
            now: ctx.now + chrono::TimeDelta::days(31),
            ..ctx.clone()
        };
        assert_eq!(purge_expired(&mut store, &later).unwrap(), 1);
        assert!(matches!(
            show(&mut store, &ctx, &AccountRef::Id(a.id)),
            Err(Error::AccountNotFound { .. })
        ));
        // The name is free again, and the id is not reused.
        let b = create_named(&mut store, &ctx, "old-bot").unwrap();
        assert!(b.id > a.id);
    }

    #[test]
    fn account_limit_counts_per_organization() {
        let mut config = Config::with_db_path(":memory:");
        config.limits.max_accounts = Some(1);
        let ctx = context(&config);
        let mut store = Store::open_in_memory().unwrap();
        create_named(&mut store, &ctx, "one").unwrap();
        assert!(matches!(
            create_named(&mut store, &ctx, "two"),
            Err(Error::LimitReached { limit: 1, .. })
        ));
        let other = Context {
            org: OrgName::parse("acme").unwrap(),
            ..ctx.clone()
        };
        create_named(&mut store, &other, "two").unwrap();
    }
}
