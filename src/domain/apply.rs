//! `sa apply` and `sa export`: an organization compared with a file that declares it, the
//! changes that make them match (the plan), and those changes made in one transaction.
//!
//! A plan is made twice: once to show or to know what will be minted (before the argon2 work
//! and the token files are prepared, neither of which may hold the write lock), and again
//! inside the write transaction, where it must come out the same or nothing is done.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use crate::domain::manifest::{AccountSpec, Manifest, OrgSpec, TokenSpec};
use crate::domain::names::{AccountName, AccountRef, OrgName, RoleName, check_free_text};
use crate::domain::permissions::{Permission, builtin_role};
use crate::domain::roles::{CreateRole, UpdateRole};
use crate::domain::token_format::TokenId;
use crate::domain::tokens::{MintRequest, Minted, Prepared, Rotation, TokenStatus};
use crate::domain::{Context, accounts, audit, roles, tokens};
use crate::error::{Error, Result};
use crate::store::{
    Account, AccountFilter, AccountKey, AccountStatus, RoleRow, Store, StoredStatus, Token,
    TokenFilter, TokenSelection, Tx,
};
use crate::time::{Duration, ExpiryRequest};

/// What a change does; its sign in a plan is `+`, `~` or `-`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create,
    Update,
    Delete,
    Mint,
    Rotate,
    Disable,
    Enable,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Create => "create",
            Op::Update => "update",
            Op::Delete => "delete",
            Op::Mint => "mint",
            Op::Rotate => "rotate",
            Op::Disable => "disable",
            Op::Enable => "enable",
        }
    }

    /// `+` adds something, `-` takes something away, `~` changes what is there.
    pub fn sign(self) -> char {
        match self {
            Op::Create | Op::Mint => '+',
            Op::Delete => '-',
            Op::Update | Op::Rotate | Op::Disable | Op::Enable => '~',
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Role,
    Account,
    Token,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Role => "role",
            Kind::Account => "account",
            Kind::Token => "token",
        }
    }
}

/// One step of a plan.
#[derive(Debug, Clone)]
pub struct Change {
    pub org: OrgName,
    pub op: Op,
    pub kind: Kind,
    /// A role's or account's name; a token's is `ACCOUNT/LABEL`.
    pub name: String,
    /// What changes, one item each (`+deploys:delete`, `description`, `replaces TOKEN_ID`).
    pub details: Vec<String>,
    action: Action,
}

impl Change {
    /// Whether the change mints a token (whose secret then needs somewhere to go).
    pub fn mints(&self) -> bool {
        matches!(self.action, Action::Mint { .. } | Action::Rotate { .. })
    }

    /// For a token change: the account and the label.
    pub fn token(&self) -> Option<(&str, &str)> {
        match &self.action {
            Action::Mint { account, label, .. } | Action::Rotate { account, label, .. } => {
                Some((account.as_str(), label.as_str()))
            }
            _ => None,
        }
    }

    fn shown(&self) -> (&OrgName, Op, Kind, &str, &[String]) {
        (&self.org, self.op, self.kind, &self.name, &self.details)
    }
}

#[derive(Debug, Clone)]
enum Action {
    CreateRole(CreateRole),
    UpdateRole(RoleName, UpdateRole),
    DeleteRole(RoleName),
    CreateAccount {
        request: accounts::CreateAccount,
        disabled: Option<Option<String>>,
    },
    UpdateAccount {
        name: AccountName,
        description: Option<Option<String>>,
        grant: Vec<RoleName>,
        revoke: Vec<RoleName>,
        /// `Some(Some(reason))`: disable (with that reason, `None` for none); `Some(None)`:
        /// enable.
        status: Option<Option<Option<String>>>,
    },
    DeleteAccount(AccountName),
    Mint {
        account: AccountName,
        label: String,
        request: MintRequest,
        disabled: bool,
    },
    Rotate {
        account: AccountName,
        label: String,
        id: TokenId,
        rotation: Rotation,
    },
    Pause(TokenId, bool),
}

/// What `--prune` and the like change about a plan.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Delete the accounts and custom roles the file does not declare.
    pub prune: bool,
}

/// The changes that make the database match a file.
#[derive(Debug, Clone)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// Declared tokens that exist and that the plan does not mint again: their secrets are
    /// wherever an earlier apply (or a person) put them.
    pub kept: Vec<KeptToken>,
    /// What the plan leaves alone on purpose but an administrator should know: a paused token
    /// whose scopes differ from the file's, one the stale-token policy paused.
    pub warnings: Vec<String>,
}

/// A declared token the plan leaves as it is.
#[derive(Debug, Clone)]
pub struct KeptToken {
    pub org: OrgName,
    pub account: String,
    pub label: String,
    pub token_id: String,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// How many tokens it mints (new ones and successors).
    pub fn mints(&self) -> usize {
        self.changes.iter().filter(|c| c.mints()).count()
    }

    /// How many changes add, change and take away something.
    pub fn counts(&self) -> (usize, usize, usize) {
        let count = |sign| self.changes.iter().filter(|c| c.op.sign() == sign).count();
        (count('+'), count('~'), count('-'))
    }

    fn same_as(&self, other: &Plan) -> bool {
        self.changes.len() == other.changes.len()
            && self
                .changes
                .iter()
                .zip(&other.changes)
                .all(|(a, b)| a.shown() == b.shown())
    }
}

/// A token `apply` minted, to be written to its file once the transaction has committed.
#[derive(Debug)]
pub struct MintedToken {
    pub org: OrgName,
    pub account: String,
    pub label: String,
    pub minted: Minted,
}

/// The context for one organization of the file.
fn org_context<'a>(ctx: &Context<'a>, spec: &OrgSpec) -> Context<'a> {
    Context {
        org: spec.org.clone().unwrap_or_else(|| ctx.org.clone()),
        ..ctx.clone()
    }
}

/// What `manifest` would change, read in one transaction.
pub fn plan(
    store: &mut Store,
    ctx: &Context<'_>,
    manifest: &Manifest,
    options: Options,
) -> Result<Plan> {
    store.read(|tx| plan_in(tx, ctx, manifest, options))
}

fn plan_in(tx: &Tx<'_>, ctx: &Context<'_>, manifest: &Manifest, options: Options) -> Result<Plan> {
    let mut plan = Plan {
        changes: Vec::new(),
        kept: Vec::new(),
        warnings: Vec::new(),
    };
    for spec in &manifest.orgs {
        let ctx = org_context(ctx, spec);
        plan_org(tx, &ctx, &manifest.source, spec, options, &mut plan)?;
    }
    Ok(plan)
}

/// Makes the changes of `planned`, all in one transaction: the plan is made again inside it
/// and must be the same (else nothing is done). `prepared` holds a token for each mint.
/// One audit event per change, and one `apply` event per organization naming the file's
/// SHA-256, `digest`.
pub fn apply(
    store: &mut Store,
    ctx: &Context<'_>,
    manifest: &Manifest,
    options: Options,
    planned: &Plan,
    prepared: Vec<Prepared>,
    digest: &str,
) -> Result<Vec<MintedToken>> {
    store.write(|tx| {
        let plan = plan_in(tx, ctx, manifest, options)?;
        if !plan.same_as(planned) {
            return Err(Error::Refused(
                "the database changed while the plan was made; nothing was changed (run `sa apply` again)".into(),
            ));
        }
        let mut prepared = prepared.into_iter();
        let mut minted = Vec::new();
        for change in &plan.changes {
            let ctx = Context {
                org: change.org.clone(),
                ..ctx.clone()
            };
            let token = execute(tx, &ctx, &change.action, &mut prepared)?;
            if let (Some(token), Some((account, label))) = (token, change.token()) {
                minted.push(MintedToken {
                    org: change.org.clone(),
                    account: account.to_string(),
                    label: label.to_string(),
                    minted: token,
                });
            }
        }
        let orgs: BTreeSet<&OrgName> = plan.changes.iter().map(|c| &c.org).collect();
        let target = if check_free_text("the file name", &manifest.source).is_ok() {
            manifest.source.as_str()
        } else {
            "-"
        };
        for org in orgs {
            let ctx = Context {
                org: org.clone(),
                ..ctx.clone()
            };
            let count = |sign| {
                plan.changes
                    .iter()
                    .filter(|c| &c.org == org && c.op.sign() == sign)
                    .count()
                    .to_string()
            };
            let details = [
                ("sha256", digest.to_string()),
                ("added", count('+')),
                ("changed", count('~')),
                ("deleted", count('-')),
            ];
            audit::record(tx, &ctx, "apply", target, None, &details)?;
        }
        Ok(minted)
    })
}

fn next_prepared(prepared: &mut impl Iterator<Item = Prepared>) -> Result<Prepared> {
    prepared.next().ok_or_else(|| {
        Error::Refused(
            "the database changed while the plan was made; nothing was changed (run `sa apply` again)"
                .into(),
        )
    })
}

fn execute(
    tx: &Tx<'_>,
    ctx: &Context<'_>,
    action: &Action,
    prepared: &mut impl Iterator<Item = Prepared>,
) -> Result<Option<Minted>> {
    match action {
        Action::CreateRole(request) => {
            roles::create_in(tx, ctx, request)?;
        }
        Action::UpdateRole(name, request) => {
            roles::update_in(tx, ctx, name, request)?;
        }
        Action::DeleteRole(name) => {
            roles::delete_in(tx, ctx, name)?;
        }
        Action::CreateAccount { request, disabled } => {
            accounts::create_in(tx, ctx, request)?;
            if let Some(reason) = disabled {
                let reference = AccountRef::Name(request.name.clone());
                accounts::disable_in(tx, ctx, &reference, Some(reason.as_deref().unwrap_or("")))?;
            }
        }
        Action::UpdateAccount {
            name,
            description,
            grant,
            revoke,
            status,
        } => {
            let reference = AccountRef::Name(name.clone());
            if let Some(description) = description {
                let request = accounts::UpdateAccount {
                    name: None,
                    description: Some(description.clone()),
                };
                accounts::update_in(tx, ctx, &reference, &request)?;
            }
            let one = std::slice::from_ref(&reference);
            for role in grant {
                roles::regrant_in(tx, ctx, role, one, true)?;
            }
            for role in revoke {
                roles::regrant_in(tx, ctx, role, one, false)?;
            }
            match status {
                None => {}
                Some(Some(reason)) => {
                    let reason = reason.as_deref().unwrap_or("");
                    accounts::disable_in(tx, ctx, &reference, Some(reason))?;
                }
                Some(None) => {
                    accounts::enable_in(tx, ctx, &reference)?;
                }
            }
        }
        Action::DeleteAccount(name) => {
            accounts::delete_in(tx, ctx, &AccountRef::Name(name.clone()), false)?;
        }
        Action::Mint {
            request, disabled, ..
        } => {
            let minted = tokens::mint_in(tx, ctx, request, next_prepared(prepared)?, true)?;
            if *disabled {
                let id = TokenId::parse(&minted.token.id)?;
                tokens::set_paused_in(tx, ctx, &id, true)?;
            }
            return Ok(Some(minted));
        }
        Action::Rotate { id, rotation, .. } => {
            let rotated = tokens::rotate_in(tx, ctx, id, rotation, next_prepared(prepared)?)?;
            return Ok(Some(rotated.minted));
        }
        Action::Pause(id, paused) => {
            tokens::set_paused_in(tx, ctx, id, *paused)?;
        }
    }
    Ok(None)
}

/// An account's live tokens as a file names them. Vectors, not maps: an account holds a
/// few tokens (`limits.max_tokens_per_account`), and a map per account cost an export of
/// 100,000 accounts half a gigabyte.
#[derive(Debug, Default)]
struct Labelled {
    /// Per label, the newest that could still verify and is not on its way out after a
    /// rotation: the token the file's entry is about.
    current: Vec<Token>,
    /// Rotated tokens still working out their grace period.
    outgoing: Vec<Token>,
    /// Live tokens without a label, which a file cannot name.
    unlabelled: u64,
}

impl Labelled {
    fn current(&self, label: &str) -> Option<&Token> {
        self.current.iter().find(|t| t.name.as_deref() == Some(label))
    }

    fn outgoing(&self, label: &str) -> impl Iterator<Item = &Token> {
        self.outgoing
            .iter()
            .filter(move |t| t.name.as_deref() == Some(label))
    }
}

/// [`Labelled`] tokens by account id: the organization's in one read (`account_id: None`;
/// one query per account cost 25 times as much for an export of 20,000 accounts), or one
/// account's.
fn labelled_tokens(
    tx: &Tx<'_>,
    ctx: &Context<'_>,
    account_id: Option<i64>,
) -> Result<HashMap<i64, Labelled>> {
    let selection = TokenSelection {
        account_id,
        filter: TokenFilter::Live,
        expiring_before: None,
        unused_before: None,
        sort: Default::default(),
        limit: None,
    };
    let mut by_account: HashMap<i64, Labelled> = HashMap::new();
    tx.for_each_token(ctx.org.as_str(), &selection, ctx.now, &mut |token| {
        let labelled = by_account.entry(token.account_id).or_default();
        if token.name.is_none() {
            if token.replaced_by.is_none() {
                labelled.unlabelled += 1;
            }
            return Ok(());
        }
        if token.replaced_by.is_some() {
            labelled.outgoing.push(token);
            return Ok(());
        }
        match labelled.current.iter_mut().find(|held| held.name == token.name) {
            Some(held) if (token.created_at, &token.id) > (held.created_at, &held.id) => {
                *held = token;
            }
            Some(_) => {}
            None => labelled.current.push(token),
        }
        Ok(())
    })?;
    Ok(by_account)
}

/// Past this many accounts in a file, the plan reads the whole organization at once rather
/// than each account by its name.
const WHOLE_ORG_ABOVE: usize = 1000;

/// The organization's active and disabled accounts, by name: what a file declares.
fn live_accounts(tx: &Tx<'_>, ctx: &Context<'_>) -> Result<Vec<Account>> {
    let everyone = AccountFilter {
        status: None,
        include_deleted: false,
        role: None,
        search: None,
        limit: None,
    };
    let mut accounts = Vec::new();
    tx.for_each_account(ctx.org.as_str(), &everyone, ctx.now, &mut |account| {
        accounts.push(account);
        Ok(())
    })?;
    Ok(accounts)
}

fn error_at(source: &str, line: usize, message: String) -> Error {
    Error::Refused(format!("{source}:{line}: {message}"))
}

/// `err` with the file's line in front, its kind (and so its exit code) kept: a value the
/// command line would refuse as a usage error is one in a file too.
fn at_line(source: &str, line: usize, err: Error) -> Error {
    match err {
        Error::InvalidInput(message) => Error::InvalidInput(format!("{source}:{line}: {message}")),
        Error::Refused(message) => error_at(source, line, message),
        other => other,
    }
}

fn permissions_text(permissions: &[Permission]) -> BTreeSet<String> {
    permissions.iter().map(Permission::to_string).collect()
}

fn plan_org(
    tx: &Tx<'_>,
    ctx: &Context<'_>,
    source: &str,
    spec: &OrgSpec,
    options: Options,
    plan: &mut Plan,
) -> Result<()> {
    let org = ctx.org.as_str();
    let changes = &mut plan.changes;
    let change = |op, kind, name: String, details, action| Change {
        org: ctx.org.clone(),
        op,
        kind,
        name,
        details,
        action,
    };
    let current_roles: BTreeMap<String, RoleRow> = tx
        .custom_roles(org)?
        .into_iter()
        .map(|r| (r.name.clone(), r))
        .collect();
    let mut roles_spec = spec.roles.clone();
    roles_spec.sort_by(|a, b| a.name.cmp(&b.name));
    for role in &roles_spec {
        let wanted = permissions_text(&role.permissions);
        match current_roles.get(role.name.as_str()) {
            None => {
                let mut details: Vec<String> = wanted.iter().cloned().collect();
                if role.description.is_some() {
                    details.push("description".into());
                }
                let action = Action::CreateRole(CreateRole {
                    name: role.name.clone(),
                    permissions: role.permissions.clone(),
                    description: role.description.clone(),
                });
                changes.push(change(Op::Create, Kind::Role, role.name.to_string(), details, action));
            }
            Some(held) => {
                let have: BTreeSet<String> = held.permissions.iter().cloned().collect();
                let add: Vec<Permission> = role
                    .permissions
                    .iter()
                    .filter(|p| !have.contains(&p.to_string()))
                    .cloned()
                    .collect();
                let remove: Vec<Permission> = held
                    .permissions
                    .iter()
                    .filter(|p| !wanted.contains(*p))
                    .filter_map(|p| Permission::parse(p).ok())
                    .collect();
                let description = (held.description != role.description).then(|| role.description.clone());
                let mut details: Vec<String> = add.iter().map(|p| format!("+{p}")).collect();
                details.extend(remove.iter().map(|p| format!("-{p}")));
                if description.is_some() {
                    details.push("description".into());
                }
                if !details.is_empty() {
                    let action = Action::UpdateRole(
                        role.name.clone(),
                        UpdateRole {
                            add,
                            remove,
                            description,
                            name: None,
                        },
                    );
                    changes.push(change(Op::Update, Kind::Role, role.name.to_string(), details, action));
                }
            }
        }
    }
    let declared_roles: BTreeSet<&str> = spec.roles.iter().map(|r| r.name.as_str()).collect();

    // A file of a few accounts, without `--prune`, reads those accounts (by index), not the
    // organization: a cron line for one service stays fast beside 100,000 other accounts.
    let whole_org = options.prune || spec.accounts.len() > WHOLE_ORG_ABOVE;
    let mut current_accounts: BTreeMap<String, Account> = BTreeMap::new();
    if whole_org {
        for account in live_accounts(tx, ctx)? {
            current_accounts.insert(account.name.clone(), account);
        }
    } else {
        for declared in &spec.accounts {
            let key = AccountKey::Name(declared.name.as_str());
            if let Some(account) = tx.find_account(org, key, ctx.now)?
                && account.status != AccountStatus::Deleted
            {
                current_accounts.insert(account.name.clone(), account);
            }
        }
    }

    let mut accounts_spec = spec.accounts.clone();
    accounts_spec.sort_by(|a, b| a.name.cmp(&b.name));
    let mut all_tokens = HashMap::new();
    if whole_org && spec.accounts.iter().any(|a| !a.tokens.is_empty()) {
        all_tokens = labelled_tokens(tx, ctx, None)?;
    } else {
        for declared in spec.accounts.iter().filter(|a| !a.tokens.is_empty()) {
            if let Some(held) = current_accounts.get(declared.name.as_str()) {
                all_tokens.extend(labelled_tokens(tx, ctx, Some(held.id))?);
            }
        }
    }
    // `limits.max_accounts` counts every account ever made and not purged (deleted ones too),
    // so the plan can tell which line would reach it.
    let mut room = match ctx.config.limits.max_accounts {
        Some(limit) => Some(limit.saturating_sub(tx.count_accounts(org)?)),
        None => None,
    };
    for account in &accounts_spec {
        for (role, line) in &account.roles {
            let name = role.as_str();
            if builtin_role(name).is_some() || declared_roles.contains(name) {
                continue;
            }
            if current_roles.contains_key(name) {
                if options.prune {
                    return Err(error_at(
                        source,
                        *line,
                        format!("the role `{name}` is not declared in the file, so `--prune` would delete it; declare it"),
                    ));
                }
                continue;
            }
            return Err(error_at(
                source,
                *line,
                format!("the role `{name}` does not exist in organization `{org}`, and the file does not declare it"),
            ));
        }
        match current_accounts.get(account.name.as_str()) {
            Some(held) => plan_account_update(ctx, account, held, changes),
            None => {
                if let Some(holder) = tx.find_account(org, AccountKey::Name(account.name.as_str()), ctx.now)? {
                    return Err(error_at(
                        source,
                        account.line,
                        format!(
                            "the account `{}` is deleted (id {}); restore it with `sa undelete {}` or remove it for good with `sa delete --purge {}`",
                            holder.name, holder.id, holder.id, holder.id
                        ),
                    ));
                }
                if let Some(left) = room.as_mut() {
                    if *left == 0 {
                        let limit = Error::LimitReached {
                            what: "account",
                            limit: ctx.config.limits.max_accounts.unwrap_or(0),
                            key: "limits.max_accounts",
                        };
                        return Err(error_at(source, account.line, limit.to_string()));
                    }
                    *left -= 1;
                }
                let roles: Vec<RoleName> = account.roles.iter().map(|(r, _)| r.clone()).collect();
                let mut details: Vec<String> = roles.iter().map(|r| format!("+{r}")).collect();
                if account.description.is_some() {
                    details.push("description".into());
                }
                if let Some(reason) = &account.disabled {
                    details.push(disabled_detail(reason.as_deref()));
                }
                let action = Action::CreateAccount {
                    request: accounts::CreateAccount {
                        name: account.name.clone(),
                        description: account.description.clone(),
                        roles,
                    },
                    disabled: account.disabled.clone(),
                };
                changes.push(change(Op::Create, Kind::Account, account.name.to_string(), details, action));
            }
        }
        let none = Labelled::default();
        let held = current_accounts.get(account.name.as_str());
        let held_tokens = held
            .and_then(|held| all_tokens.get(&held.id))
            .unwrap_or(&none);
        let mut room = TokenRoom {
            active: held.map_or(0, |h| h.active_tokens),
            limit: ctx.config.limits.max_tokens_per_account,
            warnings: Vec::new(),
        };
        for token in &account.tokens {
            let current = held_tokens.current(&token.label);
            let before = changes.len();
            plan_token(ctx, source, account, token, held_tokens, &mut room, changes)?;
            if let Some(held) = current
                && !changes[before..].iter().any(Change::mints)
            {
                plan.kept.push(KeptToken {
                    org: ctx.org.clone(),
                    account: account.name.to_string(),
                    label: token.label.clone(),
                    token_id: held.id.clone(),
                });
            }
        }
        plan.warnings.append(&mut room.warnings);
    }

    if options.prune {
        let declared: BTreeSet<&str> = spec.accounts.iter().map(|a| a.name.as_str()).collect();
        for (name, held) in &current_accounts {
            if declared.contains(name.as_str()) {
                continue;
            }
            let mut details = Vec::new();
            if held.active_tokens > 0 {
                details.push(format!("revokes {} live token(s)", held.active_tokens));
            }
            let account_name = AccountName::parse(name)?;
            changes.push(change(Op::Delete, Kind::Account, name.clone(), details, Action::DeleteAccount(account_name)));
        }
        for name in current_roles.keys() {
            if declared_roles.contains(name.as_str()) {
                continue;
            }
            let holders = tx.count_role_holders(org, name, true)?;
            let details = if holders > 0 {
                vec![format!("taken from {holders} account(s)")]
            } else {
                Vec::new()
            };
            let role_name = RoleName::parse(name)?;
            changes.push(change(Op::Delete, Kind::Role, name.clone(), details, Action::DeleteRole(role_name)));
        }
    }
    Ok(())
}

fn disabled_detail(reason: Option<&str>) -> String {
    match reason {
        Some(reason) => format!("disabled ({reason})"),
        None => "disabled".into(),
    }
}

fn plan_account_update(ctx: &Context<'_>, account: &AccountSpec, held: &Account, changes: &mut Vec<Change>) {
    let mut details = Vec::new();
    let description = (held.description != account.description).then(|| account.description.clone());
    if description.is_some() {
        details.push("description".into());
    }
    let wanted: BTreeSet<&str> = account.roles.iter().map(|(r, _)| r.as_str()).collect();
    let grant: Vec<RoleName> = account
        .roles
        .iter()
        .map(|(r, _)| r)
        .filter(|r| !held.roles.iter().any(|h| h == r.as_str()))
        .cloned()
        .collect();
    let revoke: Vec<RoleName> = held
        .roles
        .iter()
        .filter(|r| !wanted.contains(r.as_str()))
        .filter_map(|r| RoleName::parse(r).ok())
        .collect();
    details.extend(grant.iter().map(|r| format!("+{r}")));
    details.extend(revoke.iter().map(|r| format!("-{r}")));
    let status = match (&account.disabled, held.status) {
        (None, AccountStatus::Disabled) => {
            details.push("enabled".into());
            Some(None)
        }
        (Some(reason), AccountStatus::Active) => {
            details.push(disabled_detail(reason.as_deref()));
            Some(Some(reason.clone()))
        }
        (Some(reason), AccountStatus::Disabled) if *reason != held.disabled_reason => {
            details.push(match reason {
                Some(reason) => format!("disabled_reason ({reason})"),
                None => "disabled_reason removed".into(),
            });
            Some(Some(reason.clone()))
        }
        _ => None,
    };
    if details.is_empty() {
        return;
    }
    changes.push(Change {
        org: ctx.org.clone(),
        op: Op::Update,
        kind: Kind::Account,
        name: account.name.to_string(),
        details,
        action: Action::UpdateAccount {
            name: account.name.clone(),
            description,
            grant,
            revoke,
            status,
        },
    });
}

/// The lifetime a token minted for `token` gets, checked against the config's policy now, so
/// that a refusal names the file's line.
fn lifetime(ctx: &Context<'_>, source: &str, token: &TokenSpec) -> Result<Option<DateTime<Utc>>> {
    let at = tokens::resolve_expiry(ctx, token.expires).map_err(|e| at_line(source, token.line, e))?;
    if let (Some(before), None) = (token.rotate_before, token.expires) {
        let life = ctx.config.tokens.default_ttl;
        if before >= life {
            return Err(at_line(
                source,
                token.line,
                Error::invalid(format!("`rotate_before` ({before}) must be shorter than the token's life, `tokens.default_ttl` ({life}); give `expires`")),
            ));
        }
    }
    Ok(at)
}

/// An account's active tokens as the plan goes, against `limits.max_tokens_per_account`, so
/// that a plan the transaction would refuse is refused at its line (the checks mirror
/// `tokens::mint_in`, `rotate_in` and `set_paused_in`).
struct TokenRoom {
    active: u64,
    limit: u64,
    /// For [`Plan::warnings`].
    warnings: Vec<String>,
}

impl TokenRoom {
    /// One more active token, when `after` (those it counts besides the new one) allows.
    fn take(&mut self, after: u64, source: &str, line: usize) -> Result<()> {
        if after >= self.limit {
            let limit = Error::LimitReached {
                what: "active token",
                limit: self.limit,
                key: "limits.max_tokens_per_account",
            };
            return Err(error_at(source, line, limit.to_string()));
        }
        self.active += 1;
        Ok(())
    }
}

fn plan_token(
    ctx: &Context<'_>,
    source: &str,
    account: &AccountSpec,
    token: &TokenSpec,
    labelled: &Labelled,
    room: &mut TokenRoom,
    changes: &mut Vec<Change>,
) -> Result<()> {
    let held = labelled.current(&token.label);
    let name = format!("{}/{}", account.name, token.label);
    let change = |op, details, action| Change {
        org: ctx.org.clone(),
        op,
        kind: Kind::Token,
        name: name.clone(),
        details,
        action,
    };
    let scopes_text: Vec<String> = token.scopes.iter().map(Permission::to_string).collect();
    if token.disabled == Some(true) {
        // Any predecessor still in its grace period stops too, whether or not the token the
        // entry names is still there: a token the file stops must stop now, whichever of its
        // generations a service holds.
        for old in labelled
            .outgoing(&token.label)
            .filter(|t| t.status == StoredStatus::Active)
        {
            room.active = room.active.saturating_sub(1);
            let old_id = TokenId::parse(&old.id)?;
            let details = vec![old.id.clone(), "in its grace period".into()];
            changes.push(change(Op::Disable, details, Action::Pause(old_id, true)));
        }
    }
    let Some(held) = held else {
        // A fixed end already past (an exported token that has since expired): the token the
        // file names has lived its life, and there is nothing to mint.
        if matches!(token.expires, Some(ExpiryRequest::At(at)) if at <= ctx.now) {
            return Ok(());
        }
        let at = lifetime(ctx, source, token)?;
        room.take(room.active, source, token.line)?;
        let disabled = token.disabled == Some(true);
        if disabled {
            room.active = room.active.saturating_sub(1);
        }
        let mut details = vec![expiry_detail(ctx, at)];
        if !scopes_text.is_empty() {
            details.push(format!("scopes {}", scopes_text.join(",")));
        }
        if disabled {
            details.push("disabled".into());
        }
        // Tokens of an account the file disables are minted too (rejected until it is
        // enabled): the file says they exist.
        let action = Action::Mint {
            account: account.name.clone(),
            label: token.label.clone(),
            request: MintRequest {
                account: AccountRef::Name(account.name.clone()),
                name: Some(token.label.clone()),
                expires: token.expires,
                scopes: token.scopes.clone(),
            },
            disabled,
        };
        changes.push(change(Op::Mint, details, action));
        return Ok(());
    };
    let id = TokenId::parse(&held.id)?;
    let paused = held.status == StoredStatus::Disabled;
    if token.disabled == Some(true) {
        if !paused {
            room.active = room.active.saturating_sub(1);
            changes.push(change(Op::Disable, vec![held.id.clone()], Action::Pause(id, true)));
        }
        return Ok(());
    }
    let mut held_scopes = held.scopes.clone();
    held_scopes.sort();
    let mut wanted_scopes = scopes_text.clone();
    wanted_scopes.sort();
    // A paused token stays as it is unless the file says `active`; and one the stale-token
    // policy paused stays paused even then: the config's policy is the administrator's too,
    // and `sa token enable` (which restarts its clock) the way back. Either is said, not
    // hidden, when the file would change it.
    let policy = held.paused_by.as_deref() == Some("sa:policy");
    if paused && (token.disabled.is_none() || policy) {
        let differs = held_scopes != wanted_scopes;
        let shown = format!("token `{}` ({name})", held.id);
        if policy && token.disabled == Some(false) {
            room.warnings.push(format!(
                "{shown} was paused by the stale-token policy and stays paused; `sa token enable {}` resumes it",
                held.id
            ));
        } else if differs {
            room.warnings.push(format!(
                "{shown} is paused, and its scopes differ from the file's; it is left as it is until the file says `status = \"active\"`"
            ));
        }
        return Ok(());
    }
    let why = if held_scopes != wanted_scopes {
        let shown = |s: &[String]| if s.is_empty() { "(none)".to_string() } else { s.join(",") };
        Some(format!("scopes {} → {}", shown(&held_scopes), shown(&wanted_scopes)))
    } else {
        match (token.rotate_before, held.expires_at) {
            (Some(before), Some(at)) if at - ctx.now < before.to_delta() => Some(format!(
                "expires in {}, under rotate_before {before}",
                Duration::from_secs((at - ctx.now).num_seconds().max(0)).compact()
            )),
            _ => None,
        }
    };
    match why {
        Some(why) => {
            let at = lifetime(ctx, source, token)?;
            // As `tokens::rotate_in` counts: an active token (of an active account) rotated
            // without grace leaves as its successor comes; otherwise the limit is checked
            // without the old token, and a grace-less rotation then revokes it.
            // The account's status is the file's by then: its update runs before its tokens.
            let frees_its_place = token.grace.is_none()
                && account.disabled.is_none()
                && tokens::status_of(held, ctx.now) != TokenStatus::Expired
                && held.status == StoredStatus::Active;
            if !frees_its_place {
                let counted = u64::from(held.status == StoredStatus::Active);
                room.take(room.active.saturating_sub(counted), source, token.line)?;
                if token.grace.is_none() {
                    room.active = room.active.saturating_sub(counted);
                }
            }
            let mut details = vec![why, format!("replaces {}", held.id), expiry_detail(ctx, at)];
            if let Some(grace) = token.grace {
                details.push(format!("grace {grace}"));
            }
            let action = Action::Rotate {
                account: account.name.clone(),
                label: token.label.clone(),
                id,
                rotation: Rotation {
                    expires: token.expires,
                    grace: token.grace,
                    scopes: Some(token.scopes.clone()),
                    while_disabled: true,
                },
            };
            changes.push(change(Op::Rotate, details, action));
        }
        None if paused => {
            room.take(room.active, source, token.line)?;
            changes.push(change(Op::Enable, vec![held.id.clone()], Action::Pause(id, false)));
        }
        None => {}
    }
    Ok(())
}

fn expiry_detail(ctx: &Context<'_>, at: Option<DateTime<Utc>>) -> String {
    match at {
        None => "never expires".into(),
        Some(at) => format!(
            "expires in {}",
            Duration::from_secs((at - ctx.now).num_seconds().max(0)).compact()
        ),
    }
}

/// An organization as `sa export` writes it.
#[derive(Debug, Clone)]
pub struct Exported {
    pub org: String,
    /// Custom roles, by name.
    pub roles: Vec<RoleRow>,
    /// Active and disabled accounts by name, each with its labelled tokens (see
    /// [`labelled_tokens`]), by label.
    pub accounts: Vec<(Account, Vec<Token>)>,
    /// Live tokens without a label, which a file cannot name and the export leaves out.
    pub unlabelled_tokens: u64,
}

/// Reads one organization as a file would declare it, in one transaction.
pub fn export(store: &mut Store, ctx: &Context<'_>) -> Result<Exported> {
    store.read(|tx| {
        let org = ctx.org.as_str();
        let roles = tx.custom_roles(org)?;
        let held = live_accounts(tx, ctx)?;
        let mut tokens = labelled_tokens(tx, ctx, None)?;
        let mut accounts = Vec::with_capacity(held.len());
        let mut unlabelled_tokens = 0;
        for account in held {
            let labelled = tokens.remove(&account.id).unwrap_or_default();
            unlabelled_tokens += labelled.unlabelled;
            let mut current = labelled.current;
            current.sort_by(|a, b| a.name.cmp(&b.name));
            accounts.push((account, current));
        }
        Ok(Exported {
            org: org.to_string(),
            roles,
            accounts,
            unlabelled_tokens,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::domain::manifest;

    fn config() -> Config {
        Config::cheap_for_tests(":memory:")
    }

    fn context(config: &Config) -> Context<'_> {
        Context {
            org: OrgName::default(),
            actor: "t".into(),
            now: crate::time::now(),
            config,
            acting: None,
        }
    }

    fn names(store: &mut Store, ctx: &Context<'_>) -> Vec<String> {
        let mut names = Vec::new();
        accounts::names(store, ctx, false, &mut |name, _| {
            names.push(name);
            Ok(())
        })
        .unwrap();
        names
    }

    const FILE: &str = "[[accounts]]\nname = \"a-bot\"\n[[accounts]]\nname = \"b-bot\"\n[[accounts.tokens]]\nlabel = \"api\"\n";

    #[test]
    fn a_plan_the_database_has_moved_away_from_is_refused_and_nothing_changes() {
        let config = config();
        let ctx = context(&config);
        let mut store = Store::open_in_memory().unwrap();
        let manifest = manifest::parse("f.toml", FILE).unwrap();
        let plan = plan(&mut store, &ctx, &manifest, Options::default()).unwrap();
        assert_eq!(plan.changes.len(), 3);
        // Another process creates `a-bot` between the plan and the apply.
        let request = accounts::CreateAccount {
            name: AccountName::parse("a-bot").unwrap(),
            description: Some("by hand".into()),
            roles: Vec::new(),
        };
        accounts::create(&mut store, &ctx, &request).unwrap();
        let prepared = tokens::prepare(&mut store, &ctx, plan.mints()).unwrap();
        let err = apply(&mut store, &ctx, &manifest, Options::default(), &plan, prepared, "x")
            .unwrap_err();
        assert!(err.to_string().contains("the database changed"), "{err}");
        assert_eq!(names(&mut store, &ctx), ["a-bot"]);
    }

    #[test]
    fn a_failure_after_some_changes_were_made_takes_them_all_back() {
        let config = config();
        let ctx = context(&config);
        let mut store = Store::open_in_memory().unwrap();
        let manifest = manifest::parse("f.toml", FILE).unwrap();
        let plan = plan(&mut store, &ctx, &manifest, Options::default()).unwrap();
        // The token for `b-bot/api` is missing: both accounts are created before it is needed.
        let err = apply(&mut store, &ctx, &manifest, Options::default(), &plan, Vec::new(), "x")
            .unwrap_err();
        assert!(err.to_string().contains("nothing was changed"), "{err}");
        assert!(names(&mut store, &ctx).is_empty());
        let mut events = 0;
        audit::list(&mut store, &ctx, &Default::default(), &mut |_| {
            events += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(events, 0);
    }
}
