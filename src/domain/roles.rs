//! Roles: the built-in ones (`viewer`, `editor`, `admin`, in code) and each organization's
//! custom ones; granting and revoking them; and what an account or a token may do, with the
//! roles that say so (`sa can`).
//!
//! An account's permissions are the union of its roles'; a token with scopes holds their
//! intersection with its account's, computed whenever it is asked, so a role taken away or a
//! permission removed narrows every token at once.

use crate::domain::Context;
use crate::domain::accounts;
use crate::domain::audit;
use crate::domain::names::{AccountRef, RoleName, check_free_text};
use crate::domain::permissions::{self, Permission, Scopes, builtin_role};
use crate::domain::token_format::TokenId;
use crate::domain::tokens::{TokenStatus, status_of};
use crate::error::{Error, Result};
use crate::store::{Store, Tx};

/// The built-in roles, in the order lists show them.
pub const BUILTIN: [&str; 3] = ["viewer", "editor", "admin"];

/// A role and how many accounts hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub name: String,
    pub builtin: bool,
    pub description: Option<String>,
    pub permissions: Vec<Permission>,
    /// Accounts of the organization holding it (deleted ones aside).
    pub holders: u64,
}

/// Parses stored permissions; one that no longer parses grants nothing.
fn parsed(stored: &[String]) -> Vec<Permission> {
    stored
        .iter()
        .filter_map(|p| Permission::parse(p).ok())
        .collect()
}

/// The permissions of a role of `org`, built-in or custom; `None` when there is no such role.
pub(crate) fn permissions_of(
    tx: &Tx<'_>,
    org: &str,
    role: &str,
) -> Result<Option<Vec<Permission>>> {
    if let Some(perms) = builtin_role(role) {
        return Ok(Some(perms));
    }
    Ok(tx
        .custom_role_permissions(org, role)?
        .as_deref()
        .map(parsed))
}

/// Each permission `roles` grant in `org`, with the role that grants it.
pub(crate) fn grants(
    tx: &Tx<'_>,
    org: &str,
    roles: &[String],
) -> Result<Vec<(Permission, String)>> {
    let mut out = Vec::new();
    for role in roles {
        for permission in permissions_of(tx, org, role)?.unwrap_or_default() {
            out.push((permission, role.clone()));
        }
    }
    Ok(out)
}

/// What an account holds: its roles' permissions, each kept once.
pub(crate) fn account_permissions(
    tx: &Tx<'_>,
    org: &str,
    roles: &[String],
) -> Result<Vec<Permission>> {
    let granted: Vec<Permission> = grants(tx, org, roles)?
        .into_iter()
        .map(|(p, _)| p)
        .collect();
    Ok(permissions::effective(&granted, &[]))
}

/// Refuses (exit 1) when a service account acting through a token would, by `what`, put in
/// effect permissions it does not hold itself: an account's (`roles`), narrowed to `scopes`.
/// Handing out, and giving back (enabling, restoring), alike.
pub(crate) fn refuse_wider(
    tx: &Tx<'_>,
    ctx: &Context<'_>,
    what: &str,
    roles: &[String],
    scopes: &Scopes,
) -> Result<()> {
    if ctx.acting.is_none() {
        return Ok(());
    }
    let held = account_permissions(tx, ctx.org.as_str(), roles)?;
    ctx.refuse_escalation(what, &scopes.narrow(&held))
}

fn role(tx: &Tx<'_>, ctx: &Context<'_>, name: &str) -> Result<Role> {
    let org = ctx.org.as_str();
    let holders = tx.count_role_holders(org, name, false)?;
    if let Some(perms) = builtin_role(name) {
        return Ok(Role {
            name: name.to_string(),
            builtin: true,
            description: Some(match name {
                "viewer" => "read everything".into(),
                "editor" => "read and write everything".into(),
                _ => "do anything".into(),
            }),
            permissions: perms,
            holders,
        });
    }
    let row = tx
        .custom_role(org, name)?
        .ok_or_else(|| Error::RoleNotFound(name.to_string()))?;
    Ok(Role {
        name: row.name,
        builtin: false,
        description: row.description,
        permissions: parsed(&row.permissions),
        holders,
    })
}

fn refuse_builtin(name: &str, what: &str) -> Result<()> {
    if builtin_role(name).is_some() {
        return Err(Error::Refused(format!(
            "`{name}` is a built-in role; built-in roles cannot be {what}"
        )));
    }
    Ok(())
}

/// Every role of the organization: the built-in ones, then the custom ones by name.
pub fn list(store: &mut Store, ctx: &Context<'_>) -> Result<Vec<Role>> {
    store.read(|tx| {
        let mut roles = BUILTIN
            .iter()
            .map(|name| role(tx, ctx, name))
            .collect::<Result<Vec<_>>>()?;
        for row in tx.custom_roles(ctx.org.as_str())? {
            roles.push(role(tx, ctx, &row.name)?);
        }
        Ok(roles)
    })
}

/// A role and the names of the accounts holding it, by name (the first `limit` of them, when
/// given; `Role::holders` counts them all).
pub fn show(
    store: &mut Store,
    ctx: &Context<'_>,
    name: &RoleName,
    limit: Option<u64>,
) -> Result<(Role, Vec<String>)> {
    store.read(|tx| {
        let found = role(tx, ctx, name.as_str())?;
        let holders = tx.role_holders(ctx.org.as_str(), name.as_str(), limit)?;
        Ok((found, holders))
    })
}

/// `sa role create`
#[derive(Debug, Clone)]
pub struct CreateRole {
    pub name: RoleName,
    pub permissions: Vec<Permission>,
    pub description: Option<String>,
}

pub fn create(store: &mut Store, ctx: &Context<'_>, request: &CreateRole) -> Result<Role> {
    // Refused at once, not after waiting for another writer's lock.
    check_create(ctx, request)?;
    store.write(|tx| create_in(tx, ctx, request))
}

/// What [`create`] refuses whatever the database holds.
fn check_create(ctx: &Context<'_>, request: &CreateRole) -> Result<()> {
    refuse_builtin(request.name.as_str(), "created")?;
    if request.permissions.is_empty() {
        return Err(Error::invalid("a role needs at least one `--permission`"));
    }
    if let Some(description) = &request.description {
        check_free_text("the description", description)?;
    }
    ctx.refuse_escalation("create this role", &request.permissions)
}

/// [`create`] inside the caller's transaction (`sa apply` makes many changes in one).
pub(crate) fn create_in(tx: &Tx<'_>, ctx: &Context<'_>, request: &CreateRole) -> Result<Role> {
    check_create(ctx, request)?;
    let name = request.name.as_str();
    let org = ctx.org.as_str();
    if tx.custom_role(org, name)?.is_some() {
        return Err(Error::Refused(format!(
            "the role `{name}` already exists in organization `{org}`"
        )));
    }
    tx.ensure_org(org, ctx.now)?;
    tx.insert_role(org, name, request.description.as_deref(), ctx.now)?;
    let mut written = Vec::new();
    for permission in &request.permissions {
        let text = permission.to_string();
        if tx.add_role_permission(org, name, &text)? {
            written.push(text);
        }
    }
    let mut details = vec![("permissions", written.join(","))];
    if let Some(description) = &request.description {
        details.push(("description", description.clone()));
    }
    audit::record(tx, ctx, "role.create", name, None, &details)?;
    role(tx, ctx, name)
}

/// `sa role update`: `None` leaves a field as it is; a description of `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct UpdateRole {
    pub add: Vec<Permission>,
    pub remove: Vec<Permission>,
    pub description: Option<Option<String>>,
    pub name: Option<RoleName>,
}

/// A role as the command left it, and whether it changed anything.
#[derive(Debug, Clone)]
pub struct Updated {
    pub role: Role,
    pub changed: bool,
}

pub fn update(
    store: &mut Store,
    ctx: &Context<'_>,
    name: &RoleName,
    request: &UpdateRole,
) -> Result<Updated> {
    check_update(ctx, request)?;
    store.write(|tx| update_in(tx, ctx, name, request))
}

/// What [`update`] refuses whatever the database holds.
fn check_update(ctx: &Context<'_>, request: &UpdateRole) -> Result<()> {
    if request.add.is_empty()
        && request.remove.is_empty()
        && request.description.is_none()
        && request.name.is_none()
    {
        return Err(Error::invalid(
            "nothing to update: give `--add`, `--remove`, `--description` or `--name`",
        ));
    }
    if let Some(both) = request.add.iter().find(|p| request.remove.contains(p)) {
        return Err(Error::invalid(format!(
            "`{both}` is given to both `--add` and `--remove`"
        )));
    }
    if let Some(Some(description)) = &request.description {
        check_free_text("the description", description)?;
    }
    ctx.refuse_escalation("add these permissions", &request.add)
}

/// [`update`] inside the caller's transaction.
pub(crate) fn update_in(
    tx: &Tx<'_>,
    ctx: &Context<'_>,
    name: &RoleName,
    request: &UpdateRole,
) -> Result<Updated> {
    check_update(ctx, request)?;
    let org = ctx.org.as_str();
    let current = role(tx, ctx, name.as_str())?;
    refuse_builtin(name.as_str(), "changed")?;
    let mut details = Vec::new();
    let mut added = Vec::new();
    for permission in &request.add {
        let text = permission.to_string();
        if tx.add_role_permission(org, name.as_str(), &text)? {
            added.push(text);
        }
    }
    let mut removed = Vec::new();
    for permission in &request.remove {
        let text = permission.to_string();
        if tx.remove_role_permission(org, name.as_str(), &text)? {
            removed.push(text);
        }
    }
    if tx.custom_role_permissions(org, name.as_str())?.is_some_and(|p| p.is_empty()) {
        return Err(Error::Refused(format!(
            "the role `{name}` would hold no permission; delete it with `sa role delete {name}` instead"
        )));
    }
    if !added.is_empty() {
        details.push(("added", added.join(",")));
    }
    if !removed.is_empty() {
        details.push(("removed", removed.join(",")));
    }
    if let Some(description) = request
        .description
        .as_ref()
        .filter(|d| **d != current.description)
    {
        tx.set_role_description(org, name.as_str(), description.as_deref())?;
        details.push(("description", description.clone().unwrap_or_default()));
    }
    let mut now_named = name.as_str().to_string();
    if let Some(new) = request.name.as_ref().filter(|n| *n != name) {
        refuse_builtin(new.as_str(), "taken as a custom role's name")?;
        if tx.custom_role(org, new.as_str())?.is_some() {
            return Err(Error::Refused(format!(
                "the role `{new}` already exists in organization `{org}`"
            )));
        }
        tx.rename_role(org, name.as_str(), new.as_str())?;
        details.push(("old_name", name.to_string()));
        details.push(("new_name", new.to_string()));
        now_named = new.to_string();
    }
    let changed = !details.is_empty();
    if changed {
        audit::record(tx, ctx, "role.update", &now_named, None, &details)?;
    }
    Ok(Updated {
        role: role(tx, ctx, &now_named)?,
        changed,
    })
}

/// How many accounts would lose a role if it were deleted, deleted (restorable) ones
/// included: what `role delete` asks about. Refuses a built-in role and fails on an unknown
/// one, so nothing is asked in vain.
pub fn deletable(store: &mut Store, ctx: &Context<'_>, name: &RoleName) -> Result<u64> {
    refuse_builtin(name.as_str(), "deleted")?;
    store.read(|tx| {
        role(tx, ctx, name.as_str())?;
        tx.count_role_holders(ctx.org.as_str(), name.as_str(), true)
    })
}

/// An account's effective permissions: the union of its roles'.
pub fn of_account(store: &mut Store, account: &crate::store::Account) -> Result<Vec<Permission>> {
    store.read(|tx| account_permissions(tx, &account.org, &account.roles))
}

/// What a token may do now, and which of its scopes its account does not fully hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPermissions {
    /// Its account's permissions, narrowed to its scopes.
    pub effective: Vec<Permission>,
    /// Scopes that no permission of the account covers whole: a token minted with them, or
    /// one whose account has since lost a role, holds less than its scopes say.
    pub scopes_not_held: Vec<Permission>,
}

pub fn of_token(
    store: &mut Store,
    ctx: &Context<'_>,
    token: &crate::store::Token,
) -> Result<TokenPermissions> {
    store.read(|tx| {
        let account = accounts::find_any(tx, ctx, &AccountRef::Id(token.account_id))?;
        let held = account_permissions(tx, &account.org, &account.roles)?;
        let scopes = permissions::stored_scopes(&token.scopes);
        Ok(TokenPermissions {
            effective: scopes.narrow(&held),
            scopes_not_held: scopes
                .list()
                .iter()
                .filter(|s| !permissions::allows(&held, s))
                .cloned()
                .collect(),
        })
    })
}

/// Deletes a custom role and its grants; returns it as it was, and how many grants went.
pub fn delete(store: &mut Store, ctx: &Context<'_>, name: &RoleName) -> Result<(Role, u64)> {
    refuse_builtin(name.as_str(), "deleted")?;
    store.write(|tx| delete_in(tx, ctx, name))
}

/// [`delete`] inside the caller's transaction.
pub(crate) fn delete_in(tx: &Tx<'_>, ctx: &Context<'_>, name: &RoleName) -> Result<(Role, u64)> {
    refuse_builtin(name.as_str(), "deleted")?;
    let found = role(tx, ctx, name.as_str())?;
    let grants = tx.delete_role(ctx.org.as_str(), name.as_str())?;
    let details = [
        (
            "permissions",
            found
                .permissions
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
        ),
        ("grants_removed", grants.to_string()),
    ];
    audit::record(tx, ctx, "role.delete", name.as_str(), None, &details)?;
    Ok((found, grants))
}

/// Gives or takes a role; per account, its name and whether anything changed.
fn regrant(
    store: &mut Store,
    ctx: &Context<'_>,
    role_name: &RoleName,
    accounts: &[AccountRef],
    give: bool,
) -> Result<Vec<(String, bool)>> {
    store.write(|tx| regrant_in(tx, ctx, role_name, accounts, give))
}

/// Gives (`give`) or takes a role inside the caller's transaction.
pub(crate) fn regrant_in(
    tx: &Tx<'_>,
    ctx: &Context<'_>,
    role_name: &RoleName,
    accounts: &[AccountRef],
    give: bool,
) -> Result<Vec<(String, bool)>> {
    let granted = role(tx, ctx, role_name.as_str())?;
    if give {
        ctx.refuse_escalation(&format!("grant `{role_name}`"), &granted.permissions)?;
    }
    let mut out = Vec::new();
    for reference in accounts {
        let account = accounts::find(tx, ctx, reference)?;
        let changed = if give {
            tx.grant_role(account.id, role_name.as_str())?
        } else {
            tx.revoke_role(account.id, role_name.as_str())?
        };
        // Granting a role held, or revoking one not held, changes nothing: no event.
        if changed {
            let action = if give { "role.grant" } else { "role.revoke" };
            let details = [("role", role_name.to_string())];
            audit::record(tx, ctx, action, &account.name, Some(account.id), &details)?;
        }
        out.push((account.name, changed));
    }
    Ok(out)
}

pub fn grant(
    store: &mut Store,
    ctx: &Context<'_>,
    role_name: &RoleName,
    accounts: &[AccountRef],
) -> Result<Vec<(String, bool)>> {
    regrant(store, ctx, role_name, accounts, true)
}

pub fn revoke(
    store: &mut Store,
    ctx: &Context<'_>,
    role_name: &RoleName,
    accounts: &[AccountRef],
) -> Result<Vec<(String, bool)>> {
    regrant(store, ctx, role_name, accounts, false)
}

/// The answer of `sa can`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub allowed: bool,
    pub account: String,
    pub permission: Permission,
    /// The token asked about, if one was.
    pub token_id: Option<String>,
    /// The account's grants that cover the permission: (permission, role).
    pub granted_by: Vec<(Permission, String)>,
    /// The token's scopes (empty: unscoped, or no token).
    pub scopes: Vec<Permission>,
    /// Why not, in words, when not allowed.
    pub reason: Option<String>,
}

/// Whether an account (or one of its tokens, scopes applied) holds `permission`, and which
/// roles grant it: the question an access review asks, as `kubectl auth can-i` answers it.
pub fn can(
    store: &mut Store,
    ctx: &Context<'_>,
    account: &AccountRef,
    permission: &Permission,
    token: Option<&TokenId>,
) -> Result<Answer> {
    store.read(|tx| {
        let found = accounts::find(tx, ctx, account)?;
        let granted_by: Vec<(Permission, String)> = grants(tx, ctx.org.as_str(), &found.roles)?
            .into_iter()
            .filter(|(p, _)| p.covers(permission))
            .collect();
        let mut answer = Answer {
            allowed: !granted_by.is_empty(),
            account: found.name.clone(),
            permission: permission.clone(),
            token_id: None,
            granted_by,
            scopes: Vec::new(),
            reason: None,
        };
        if !answer.allowed {
            answer.reason = Some(format!("no role of account `{}` grants it", found.name));
        }
        if found.status == crate::store::AccountStatus::Disabled {
            answer.allowed = false;
            answer.reason = Some(format!("account `{}` is disabled", found.name));
        }
        let Some(id) = token else {
            return Ok(answer);
        };
        let token = tx
            .find_token(ctx.org.as_str(), id.as_str())?
            .filter(|t| t.account_id == found.id)
            .ok_or_else(|| {
                Error::Refused(format!(
                    "token `{id}` is not a token of account `{}`",
                    found.name
                ))
            })?;
        answer.token_id = Some(token.id.clone());
        let scopes = permissions::stored_scopes(&token.scopes);
        answer.scopes = scopes.list().to_vec();
        let scoped_out = match &scopes {
            Scopes::List(list) => !list.is_empty() && !permissions::allows(list, permission),
            Scopes::Nothing => true,
        };
        let status = status_of(&token, ctx.now);
        if answer.allowed && scoped_out {
            answer.allowed = false;
            answer.reason = Some(format!("token `{id}` is not scoped to it"));
        }
        if status != TokenStatus::Active {
            answer.allowed = false;
            answer.reason = Some(format!("token `{id}` is {}", status.as_str()));
        }
        Ok(answer)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::domain::accounts::{CreateAccount, create as create_account};
    use crate::domain::names::{AccountName, OrgName};
    use crate::time::now;

    fn ctx(config: &Config) -> Context<'_> {
        Context {
            org: OrgName::default(),
            actor: "t".into(),
            now: now(),
            config,
            acting: None,
        }
    }

    fn perm(text: &str) -> Permission {
        Permission::parse(text).unwrap()
    }

    #[test]
    fn a_custom_role_grants_and_answers_why() {
        let config = Config::with_db_path(":memory:");
        let ctx = ctx(&config);
        let mut store = Store::open_in_memory().unwrap();
        create_account(
            &mut store,
            &ctx,
            &CreateAccount {
                name: AccountName::parse("bot").unwrap(),
                description: None,
                roles: vec![],
            },
        )
        .unwrap();
        let deployer = RoleName::parse("deployer").unwrap();
        create(
            &mut store,
            &ctx,
            &CreateRole {
                name: deployer.clone(),
                permissions: vec![perm("deploys:write"), perm("*:read")],
                description: None,
            },
        )
        .unwrap();
        let bot = AccountRef::parse("bot").unwrap();
        let asked = |store: &mut Store, p: &str| can(store, &ctx, &bot, &perm(p), None).unwrap();
        assert!(!asked(&mut store, "deploys:write").allowed);
        let once = std::slice::from_ref(&bot);
        assert!(grant(&mut store, &ctx, &deployer, once).unwrap()[0].1);
        assert!(
            !grant(&mut store, &ctx, &deployer, once).unwrap()[0].1,
            "held: unchanged"
        );
        let yes = asked(&mut store, "deploys:write");
        assert!(yes.allowed);
        assert_eq!(
            yes.granted_by,
            vec![(perm("deploys:write"), "deployer".into())]
        );
        assert!(!asked(&mut store, "deploys:delete").allowed);
        update(
            &mut store,
            &ctx,
            &deployer,
            &UpdateRole {
                remove: vec![perm("deploys:write")],
                ..Default::default()
            },
        )
        .unwrap();
        assert!(
            !asked(&mut store, "deploys:write").allowed,
            "narrowed at once"
        );
        let renamed = update(
            &mut store,
            &ctx,
            &deployer,
            &UpdateRole {
                name: Some(RoleName::parse("shipper").unwrap()),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(renamed.role.holders, 1, "grants follow a rename");
        let (gone, grants) =
            delete(&mut store, &ctx, &RoleName::parse("shipper").unwrap()).unwrap();
        assert_eq!((gone.name.as_str(), grants), ("shipper", 1));
        assert!(!asked(&mut store, "logs:read").allowed);
    }

    #[test]
    fn built_in_roles_cannot_be_changed() {
        let config = Config::with_db_path(":memory:");
        let ctx = ctx(&config);
        let mut store = Store::open_in_memory().unwrap();
        let admin = RoleName::parse("admin").unwrap();
        for err in [
            delete(&mut store, &ctx, &admin).unwrap_err(),
            update(
                &mut store,
                &ctx,
                &admin,
                &UpdateRole {
                    add: vec![perm("x:y")],
                    ..Default::default()
                },
            )
            .unwrap_err(),
        ] {
            assert_eq!(err.exit_code(), 1, "{err}");
            assert!(err.to_string().contains("built-in"), "{err}");
        }
    }
}
