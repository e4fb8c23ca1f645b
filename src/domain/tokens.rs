//! Tokens: mint (shown once, stored as an argon2id hash), list, revoke, pause, rotate, and
//! verify with one indexed lookup and exactly one argon2 verification.

use chrono::{DateTime, Utc};

use crate::domain::Context;
use crate::domain::accounts;
use crate::domain::audit;
use crate::domain::hashing;
use crate::domain::names::{AccountRef, check_free_text};
use crate::domain::permissions::{self, Permission, Scopes};
use crate::domain::roles;
use crate::domain::token_format::{self, ParsedToken, Secret, TokenId};
use crate::error::{Error, Rejection, Result};
use crate::store::{
    AccountStatus, NewToken, Store, StoredStatus, Token, TokenFilter, TokenForVerify,
    TokenSelection, TokenSort, Transactions, Tx,
};
use crate::time::{Duration, ExpiryRequest, format_timestamp};

/// A token's status as users see it: what was decided, and what the clock says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenStatus {
    Active,
    Disabled,
    Expired,
    Revoked,
}

impl TokenStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenStatus::Active => "active",
            TokenStatus::Disabled => "disabled",
            TokenStatus::Expired => "expired",
            TokenStatus::Revoked => "revoked",
        }
    }
}

/// The status of `token` at `now`.
pub fn status_of(token: &Token, now: DateTime<Utc>) -> TokenStatus {
    match token.status {
        StoredStatus::Revoked => TokenStatus::Revoked,
        _ if token.expires_at.is_some_and(|at| at <= now) => TokenStatus::Expired,
        StoredStatus::Disabled => TokenStatus::Disabled,
        // A disabled account's tokens answer `disabled` until it is enabled, so show that.
        StoredStatus::Active if token.account_status == AccountStatus::Disabled => {
            TokenStatus::Disabled
        }
        StoredStatus::Active => TokenStatus::Active,
    }
}

/// `sa token add`
#[derive(Debug, Clone)]
pub struct MintRequest {
    pub account: AccountRef,
    pub name: Option<String>,
    /// `None`: `tokens.default_ttl`.
    pub expires: Option<ExpiryRequest>,
    pub scopes: Vec<Permission>,
}

/// A token that was just stored: its metadata and the whole token, to be shown once.
#[derive(Debug)]
pub struct Minted {
    pub token: Token,
    pub secret: Secret,
}

/// The result of a rotation.
#[derive(Debug)]
pub struct Rotated {
    pub minted: Minted,
    /// The old token as it is now (revoked, or expiring at the end of the grace period).
    pub old: Token,
}

/// Applies the expiry policy of `[tokens]` to what `--expires` asked for.
pub fn resolve_expiry(
    ctx: &Context<'_>,
    request: Option<ExpiryRequest>,
) -> Result<Option<DateTime<Utc>>> {
    let policy = &ctx.config.tokens;
    let at = match request.unwrap_or(ExpiryRequest::In(policy.default_ttl)) {
        ExpiryRequest::Never if policy.require_expiry => {
            return Err(Error::Refused(
                "tokens that never expire are not allowed (`tokens.require_expiry = true` in the config)".into(),
            ));
        }
        ExpiryRequest::Never => return Ok(None),
        ExpiryRequest::In(duration) => ctx.now + duration.to_delta(),
        ExpiryRequest::At(at) => at,
    };
    if at <= ctx.now {
        return Err(Error::invalid(format!(
            "expiry {} is not in the future",
            format_timestamp(at)
        )));
    }
    if at - ctx.now > policy.max_ttl.to_delta() {
        return Err(Error::Refused(format!(
            "expiry {} is further away than the longest allowed lifetime, {} (`tokens.max_ttl` in the config)",
            format_timestamp(at),
            policy.max_ttl
        )));
    }
    Ok(Some(at))
}

fn token_limit(
    tx: &Tx<'_>,
    ctx: &Context<'_>,
    account_id: i64,
    except: Option<&str>,
) -> Result<()> {
    let limit = ctx.config.limits.max_tokens_per_account;
    if tx.count_active_tokens(account_id, ctx.now, except)? >= limit {
        return Err(Error::LimitReached {
            what: "active token",
            limit,
            key: "limits.max_tokens_per_account",
        });
    }
    Ok(())
}

/// The scopes a token minted or rotated under a token (`$SA_TOKEN`) is stored with, so that it
/// holds no more than the acting token, now or later (permissions are computed at verify
/// time, and its account may gain roles). Scopes asked for with `--scope` must each be held by
/// the acting token. Otherwise (no scopes asked for, or a rotation's inherited ones) what the
/// new token could do today must be within the acting token's permissions, and it is scoped
/// to their intersection with the scopes it would have had.
fn scopes_under_token(
    tx: &Tx<'_>,
    ctx: &Context<'_>,
    acting: &crate::domain::Acting,
    account: &crate::store::Account,
    scopes: &Scopes,
    asked_for: bool,
    what: &str,
) -> Result<Vec<String>> {
    let bounded = match scopes {
        Scopes::List(list) if asked_for && !list.is_empty() => {
            ctx.refuse_escalation(what, list)?;
            list.clone()
        }
        Scopes::List(list) => {
            roles::refuse_wider(tx, ctx, what, &account.roles, scopes)?;
            permissions::effective(&acting.permissions, list)
        }
        Scopes::Nothing => Vec::new(),
    };
    if bounded.is_empty() {
        return Err(Error::Refused(format!(
            "account `{}` may not {what}: its scopes and the permissions of the acting token have nothing in common",
            acting.account
        )));
    }
    Ok(bounded.iter().map(Permission::to_string).collect())
}

fn refuse_disabled(account: &crate::store::Account) -> Result<()> {
    if account.status == AccountStatus::Disabled {
        return Err(Error::Refused(format!(
            "account `{}` is disabled; enable it before minting tokens for it",
            account.name
        )));
    }
    Ok(())
}

/// A token of the organization; one whose account is deleted is "not found" with the hint
/// that `sa undelete` names (SPEC §3), so an admin learns where it went.
fn find_token(tx: &Tx<'_>, ctx: &Context<'_>, id: &TokenId) -> Result<Token> {
    let token = tx
        .find_token(ctx.org.as_str(), id.as_str())?
        .ok_or_else(|| Error::TokenNotFound(id.to_string()))?;
    if token.account_status == AccountStatus::Deleted {
        return Err(Error::TokenOfDeletedAccount {
            token: token.id,
            account: token.account,
            account_id: token.account_id,
        });
    }
    Ok(token)
}

/// The argon2 cost hashes are made and verified at: the one the database records, else the
/// config's (docs/decisions.md: every program hashing for one database uses its cost).
pub fn argon2_cost(tx: &Tx<'_>, ctx: &Context<'_>) -> Result<crate::config::Argon2Cost> {
    Ok(tx.argon2_cost()?.unwrap_or(ctx.config.argon2))
}

/// Makes the config's `[argon2]` the database's cost, for an administrator's write command
/// (never `token verify`, never under `$SA_TOKEN`: a verifier follows the database, whatever
/// its own config says, so two programs never re-hash each other's tokens back and forth).
/// A database with no cost yet is given it silently, as part of its set-up; a change is
/// audited as `settings.argon2`, with the old cost and the new one.
/// The argon2 cost the database records, if any: what every hash and verification uses.
pub fn recorded_argon2_cost(store: &mut Store) -> Result<Option<crate::config::Argon2Cost>> {
    store.read(|tx| tx.argon2_cost())
}

pub fn record_argon2_cost(store: &mut Store, ctx: &Context<'_>) -> Result<()> {
    let wanted = ctx.config.argon2;
    if store.read(|tx| tx.argon2_cost())? == Some(wanted) {
        return Ok(());
    }
    store.write(|tx| {
        let recorded = tx.argon2_cost()?;
        if recorded == Some(wanted) {
            return Ok(());
        }
        tx.set_argon2_cost(wanted, ctx.now, &ctx.actor)?;
        if let Some(old) = recorded {
            let phc = |c: crate::config::Argon2Cost| {
                format!("m={},t={},p={}", c.memory_kib, c.iterations, c.parallelism)
            };
            audit::record(
                tx,
                ctx,
                "settings.argon2",
                "argon2",
                None,
                &[("from", phc(old)), ("to", phc(wanted))],
            )?;
        }
        Ok(())
    })
}

/// Successful checks that a verify cache answered without the database, for one token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedUses {
    pub token_id: TokenId,
    pub count: u64,
    /// When the last of them was answered.
    pub last_at: DateTime<Utc>,
}

/// Counts what a verify cache answered, in one write transaction: each token's `use_count`,
/// `last_used_at`, `last_used_source` and the day's counter move by its count, whatever the
/// token's status now (each check succeeded when it was answered).
pub fn record_cached_uses(
    store: &mut impl Transactions,
    uses: &[CachedUses],
    source: Option<&str>,
) -> Result<()> {
    if uses.is_empty() {
        return Ok(());
    }
    store.write(|tx| {
        for each in uses {
            tx.record_token_uses(each.token_id.as_str(), each.count, each.last_at, source)?;
        }
        Ok(())
    })
}

/// A token generated and hashed, not stored yet: the argon2 work of minting happens before
/// the write lock is taken.
#[derive(Debug)]
pub struct Prepared {
    new: token_format::NewToken,
    hash: String,
}

/// Generates `count` tokens and hashes them with the database's argon2 cost.
pub fn prepare(store: &mut Store, ctx: &Context<'_>, count: usize) -> Result<Vec<Prepared>> {
    let cost = store.read(|tx| argon2_cost(tx, ctx))?;
    (0..count).map(|_| prepare_at(ctx, cost)).collect()
}

fn prepare_one(store: &mut Store, ctx: &Context<'_>) -> Result<Prepared> {
    let cost = store.read(|tx| argon2_cost(tx, ctx))?;
    prepare_at(ctx, cost)
}

/// One token generated and hashed at `cost`.
fn prepare_at(ctx: &Context<'_>, cost: crate::config::Argon2Cost) -> Result<Prepared> {
    let new = token_format::generate(&ctx.config.tokens.prefix)?;
    let hash = hashing::hash(cost, new.secret.expose())?;
    Ok(Prepared { new, hash })
}

fn expiry_detail(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(|| "never".to_string(), format_timestamp)
}

/// Mints a token. The caller shows `Minted::secret` only after this returns, i.e. after the
/// transaction that stores its hash has committed.
pub fn mint(store: &mut Store, ctx: &Context<'_>, request: &MintRequest) -> Result<Minted> {
    // Refused before the argon2 work, not after it.
    if let Some(name) = &request.name {
        check_free_text("the token name", name)?;
    }
    resolve_expiry(ctx, request.expires)?;
    let prepared = prepare_one(store, ctx)?;
    store.write(|tx| mint_in(tx, ctx, request, prepared, false))
}

/// [`mint`] inside the caller's transaction, with a token [`prepare`]d before it began.
/// `while_disabled`: mint for a disabled account too (`sa apply`, whose file says the token
/// exists; it is rejected until the account is enabled), where `sa token add` refuses.
pub(crate) fn mint_in(
    tx: &Tx<'_>,
    ctx: &Context<'_>,
    request: &MintRequest,
    prepared: Prepared,
    while_disabled: bool,
) -> Result<Minted> {
    let Prepared { new, hash } = prepared;
    if let Some(name) = &request.name {
        check_free_text("the token name", name)?;
    }
    let expires_at = resolve_expiry(ctx, request.expires)?;
    let token = {
        let account = accounts::find(tx, ctx, &request.account)?;
        if !while_disabled {
            refuse_disabled(&account)?;
        }
        let scopes: Vec<String> = match &ctx.acting {
            None => request.scopes.iter().map(Permission::to_string).collect(),
            Some(acting) => {
                let what = format!("mint a token for `{}`", account.name);
                let asked = Scopes::List(request.scopes.clone());
                scopes_under_token(tx, ctx, acting, &account, &asked, true, &what)?
            }
        };
        token_limit(tx, ctx, account.id, None)?;
        tx.insert_token(&NewToken {
            id: new.id.as_str(),
            account_id: account.id,
            name: request.name.as_deref(),
            hash: &hash,
            scopes: &scopes,
            created_at: ctx.now,
            created_by: &ctx.actor,
            expires_at,
            replaces: None,
        })?;
        let mut details = vec![
            ("token_id", new.id.to_string()),
            ("expires_at", expiry_detail(expires_at)),
        ];
        if let Some(name) = &request.name {
            details.push(("name", name.clone()));
        }
        if !scopes.is_empty() {
            details.push(("scopes", scopes.join(",")));
        }
        audit::record(
            tx,
            ctx,
            "token.add",
            &account.name,
            Some(account.id),
            &details,
        )?;
        find_token(tx, ctx, &new.id)?
    };
    Ok(Minted {
        token,
        secret: new.token,
    })
}

/// `sa token list` filters.
#[derive(Debug, Clone)]
pub struct TokenQuery {
    pub account: Option<AccountRef>,
    pub status: TokenFilter,
    /// Only tokens that are live now and expire within this.
    pub expiring_within: Option<Duration>,
    /// Only tokens not used for this long (a token never used: since it was created).
    pub unused_for: Option<Duration>,
    pub sort: TokenSort,
    /// At most this many, the first in `sort`'s order.
    pub limit: Option<u64>,
}

/// Calls `each` with the tokens `query` selects, oldest first, as they are read.
pub fn list(
    store: &mut Store,
    ctx: &Context<'_>,
    query: &TokenQuery,
    each: &mut dyn FnMut(Token) -> Result<()>,
) -> Result<()> {
    store.read(|tx| {
        let account_id = match &query.account {
            Some(reference) => Some(accounts::find(tx, ctx, reference)?.id),
            None => None,
        };
        let (status, before) = match (query.expiring_within, query.status) {
            // "About to lapse" only makes sense for tokens that still work.
            (Some(_), TokenFilter::Expired | TokenFilter::Revoked) => {
                return Err(Error::invalid(
                    "`--expiring-within` lists tokens that still work; it does not combine with `--status expired` or `--status revoked`",
                ));
            }
            (Some(within), TokenFilter::All) => (TokenFilter::Live, Some(ctx.now + within.to_delta())),
            (Some(within), status) => (status, Some(ctx.now + within.to_delta())),
            (None, status) => (status, None),
        };
        let selection = TokenSelection {
            account_id,
            filter: status,
            expiring_before: before,
            unused_before: query.unused_for.map(|d| ctx.now - d.to_delta()),
            sort: query.sort,
            limit: query.limit,
        };
        tx.for_each_token(ctx.org.as_str(), &selection, ctx.now, each)
    })
}

pub fn show(store: &mut Store, ctx: &Context<'_>, id: &TokenId) -> Result<Token> {
    store.read(|tx| find_token(tx, ctx, id))
}

/// Revokes tokens by id, all or none: an unknown id fails the whole command. Tokens that are
/// already revoked are left as they are (`changed = false`).
pub fn revoke(store: &mut Store, ctx: &Context<'_>, ids: &[TokenId]) -> Result<Vec<(Token, bool)>> {
    store.write(|tx| {
        let mut out = Vec::new();
        for id in ids {
            let token = find_token(tx, ctx, id)?;
            let changed = token.status != StoredStatus::Revoked;
            if changed {
                revoke_in(tx, ctx, &token, &[])?;
            }
            out.push((find_token(tx, ctx, id)?, changed));
        }
        Ok(out)
    })
}

/// Revokes `token` inside `tx` with its `token.revoke` event: the token id, then `extra`
/// details (`sa scan --revoke` adds `reason` and `location`).
pub(crate) fn revoke_in(
    tx: &Tx<'_>,
    ctx: &Context<'_>,
    token: &Token,
    extra: &[(&str, String)],
) -> Result<()> {
    tx.revoke_token(&token.id, ctx.now, &ctx.actor)?;
    let mut details = vec![("token_id", token.id.clone())];
    details.extend_from_slice(extra);
    audit::record(
        tx,
        ctx,
        "token.revoke",
        &token.account,
        Some(token.account_id),
        &details,
    )
}

/// Revokes every token of an account that is not revoked yet; returns them.
pub fn revoke_all(
    store: &mut Store,
    ctx: &Context<'_>,
    account: &AccountRef,
) -> Result<Vec<Token>> {
    store.write(|tx| {
        let account = accounts::find(tx, ctx, account)?;
        let ids = tx.revoke_account_tokens(account.id, ctx.now, &ctx.actor)?;
        let mut revoked = Vec::with_capacity(ids.len());
        for id in &ids {
            let details = [("token_id", id.clone()), ("bulk", "true".to_string())];
            audit::record(
                tx,
                ctx,
                "token.revoke",
                &account.name,
                Some(account.id),
                &details,
            )?;
            revoked.push(find_token(tx, ctx, &TokenId::parse(id)?)?);
        }
        Ok(revoked)
    })
}

/// Pauses (`paused = true`) or resumes a token; a revoked token cannot be resumed.
pub fn set_paused(
    store: &mut Store,
    ctx: &Context<'_>,
    id: &TokenId,
    paused: bool,
) -> Result<(Token, bool)> {
    store.write(|tx| set_paused_in(tx, ctx, id, paused))
}

/// [`set_paused`] inside the caller's transaction.
pub(crate) fn set_paused_in(
    tx: &Tx<'_>,
    ctx: &Context<'_>,
    id: &TokenId,
    paused: bool,
) -> Result<(Token, bool)> {
    let token = find_token(tx, ctx, id)?;
    if token.status == StoredStatus::Revoked {
        return Err(Error::Refused(format!(
            "token `{id}` is revoked; revocation is permanent"
        )));
    }
    let target = if paused {
        StoredStatus::Disabled
    } else {
        StoredStatus::Active
    };
    if token.status == target {
        return Ok((token, false));
    }
    if !paused {
        // Pausing must not be a way around `limits.max_tokens_per_account`.
        token_limit(tx, ctx, token.account_id, Some(id.as_str()))?;
        let account = accounts::find_any(tx, ctx, &AccountRef::Id(token.account_id))?;
        let what = format!("enable token `{id}` of `{}`", account.name);
        let scopes = permissions::stored_scopes(&token.scopes);
        roles::refuse_wider(tx, ctx, &what, &account.roles, &scopes)?;
    }
    tx.set_token_paused(id.as_str(), paused, ctx.now, &ctx.actor)?;
    let action = if paused {
        "token.disable"
    } else {
        "token.enable"
    };
    audit::record(
        tx,
        ctx,
        action,
        &token.account,
        Some(token.account_id),
        &[("token_id", id.to_string())],
    )?;
    Ok((find_token(tx, ctx, id)?, true))
}

/// Mints a successor with the same name and scopes; the old token is revoked at once, or
/// with `grace` keeps working until then (and no longer than it would have anyway).
pub fn rotate(
    store: &mut Store,
    ctx: &Context<'_>,
    id: &TokenId,
    expires: Option<ExpiryRequest>,
    grace: Option<Duration>,
) -> Result<Rotated> {
    resolve_expiry(ctx, expires)?;
    let prepared = prepare_one(store, ctx)?;
    let rotation = Rotation {
        expires,
        grace,
        scopes: None,
        while_disabled: false,
    };
    store.write(|tx| rotate_in(tx, ctx, id, &rotation, prepared))
}

/// How a successor differs from the token it replaces.
#[derive(Debug, Clone, Default)]
pub struct Rotation {
    /// `None`: `tokens.default_ttl`.
    pub expires: Option<ExpiryRequest>,
    pub grace: Option<Duration>,
    /// `None`: the old token's scopes (`sa token rotate`); `sa apply` replaces a token whose
    /// declared scopes changed with one that has the new ones.
    pub scopes: Option<Vec<Permission>>,
    /// Rotate a disabled account's token too (`sa apply`; see [`mint_in`]).
    pub while_disabled: bool,
}

/// [`rotate`] inside the caller's transaction, with a token [`prepare`]d before it began.
pub(crate) fn rotate_in(
    tx: &Tx<'_>,
    ctx: &Context<'_>,
    id: &TokenId,
    rotation: &Rotation,
    prepared: Prepared,
) -> Result<Rotated> {
    let Prepared { new, hash } = prepared;
    let expires_at = resolve_expiry(ctx, rotation.expires)?;
    let grace = rotation.grace;
    let old = find_token(tx, ctx, id)?;
    let old_status = status_of(&old, ctx.now);
    if matches!(old_status, TokenStatus::Revoked | TokenStatus::Expired) {
        return Err(Error::Refused(format!(
            "token `{id}` is {}; mint a new one with `sa token add`",
            old_status.as_str()
        )));
    }
    if let Some(successor) = &old.replaced_by {
        return Err(Error::Refused(format!(
            "token `{id}` was already rotated to `{successor}`"
        )));
    }
    let account = accounts::find(tx, ctx, &AccountRef::Id(old.account_id))?;
    if !rotation.while_disabled {
        refuse_disabled(&account)?;
    }
    let scopes: Vec<String> = match (&ctx.acting, &rotation.scopes) {
        (None, None) => old.scopes.clone(),
        (None, Some(wanted)) => wanted.iter().map(Permission::to_string).collect(),
        (Some(acting), wanted) => {
            let what = format!("rotate token `{id}` of `{}`", account.name);
            let (asked, explicit) = match wanted {
                Some(wanted) => (Scopes::List(wanted.clone()), true),
                None => (permissions::stored_scopes(&old.scopes), false),
            };
            scopes_under_token(tx, ctx, acting, &account, &asked, explicit, &what)?
        }
    };
    // An active token rotated without a grace period goes as the new one comes, so the
    // count of active tokens stays; a grace period or a paused old token adds one.
    let frees_its_place = grace.is_none() && old_status == TokenStatus::Active;
    if !frees_its_place {
        token_limit(tx, ctx, account.id, Some(id.as_str()))?;
    }
    tx.insert_token(&NewToken {
        id: new.id.as_str(),
        account_id: account.id,
        name: old.name.as_deref(),
        hash: &hash,
        scopes: &scopes,
        created_at: ctx.now,
        created_by: &ctx.actor,
        expires_at,
        replaces: Some(id.as_str()),
    })?;
    // A grace period shortens the old token's life, never lengthens it.
    let grace_until = grace.map(|g| {
        let until = ctx.now + g.to_delta();
        old.expires_at.map_or(until, |at| at.min(until))
    });
    tx.mark_replaced(id.as_str(), new.id.as_str(), grace_until)?;
    if grace.is_none() {
        tx.revoke_token(id.as_str(), ctx.now, &ctx.actor)?;
    }
    let mut details = vec![
        ("token_id", id.to_string()),
        ("new_token_id", new.id.to_string()),
        ("expires_at", expiry_detail(expires_at)),
        (
            "old_token_until",
            grace_until.map_or_else(|| "revoked".to_string(), format_timestamp),
        ),
    ];
    if scopes != old.scopes {
        // New scopes (`sa apply`), or narrowed to the acting token's permissions.
        details.push(("scopes", scopes.join(",")));
    }
    audit::record(
        tx,
        ctx,
        "token.rotate",
        &account.name,
        Some(account.id),
        &details,
    )?;
    Ok(Rotated {
        minted: Minted {
            token: find_token(tx, ctx, &new.id)?,
            secret: new.token,
        },
        old: find_token(tx, ctx, id)?,
    })
}

/// Why a token whose secret matched is still refused, if it is: revoked (or its account
/// deleted), then expired, then paused (or its account disabled).
fn rejection_of(row: &TokenForVerify, now: DateTime<Utc>) -> Option<Rejection> {
    if row.status == StoredStatus::Revoked || row.account_status == AccountStatus::Deleted {
        Some(Rejection::Revoked)
    } else if row.expires_at.is_some_and(|at| at <= now) {
        Some(Rejection::Expired)
    } else if row.status == StoredStatus::Disabled || row.account_status == AccountStatus::Disabled
    {
        Some(Rejection::Disabled)
    } else {
        None
    }
}

/// Who a valid token speaks for, and what it may do: the answer of a successful
/// verification.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Identity {
    /// The name of the service account the token belongs to.
    pub account: String,
    /// The account's id, which never changes (a name can).
    pub account_id: i64,
    /// The account's organization.
    pub org: String,
    /// The token's public id (what `sa token list` shows and `sa token revoke` takes).
    pub token_id: TokenId,
    /// The token's effective permissions: its account's, narrowed to its scopes, as of the
    /// verification (or of the cached one it was answered from).
    pub permissions: Vec<Permission>,
    /// When the token expires; `None` for a token that never does.
    pub expires_at: Option<DateTime<Utc>>,
    /// The successor's token id, while a rotated token lives out its grace period.
    pub replaced_by: Option<String>,
    /// When the token was minted.
    pub created_at: DateTime<Utc>,
}

impl Identity {
    /// Whether the token holds `wanted` (`dashboards:*` holds `dashboards:read`).
    pub fn allows(&self, wanted: &Permission) -> bool {
        permissions::allows(&self.permissions, wanted)
    }

    /// The refusal of a request for `wanted`, which this token does not hold: says whose
    /// token it was.
    pub(crate) fn forbidden(&self, wanted: &Permission) -> Rejection {
        Rejection::Forbidden {
            account: self.account.clone(),
            token_id: self.token_id.clone(),
            permission: wanted.clone(),
        }
    }

    /// How long the token has left, when its holder should be told it is about to lapse:
    /// within `warn_before` and also within the last quarter of its lifetime, so that a
    /// token young for its kind (a 4h token checked in its first hours) never warns. A
    /// rotated token warns throughout its grace period: its holder should switch now.
    pub(crate) fn expiry_warning(
        &self,
        now: DateTime<Utc>,
        warn_before: Duration,
    ) -> Option<chrono::TimeDelta> {
        let expires_at = self.expires_at?;
        let left = expires_at - now;
        if self.replaced_by.is_some() {
            return Some(left);
        }
        let lifetime = expires_at - self.created_at;
        (left <= warn_before.to_delta() && left * 4 <= lifetime).then_some(left)
    }
}

/// Checks a presented token's shape and checksum, touching nothing else: a mistyped or
/// truncated token is `malformed` before any database is opened.
pub fn parse_presented(text: &str) -> Result<ParsedToken> {
    token_format::parse(text.trim()).ok_or(Error::Rejected(Rejection::Malformed))
}

/// One check of a presented token.
#[derive(Debug, Clone, Copy)]
pub struct VerifyRequest<'a> {
    /// From [`parse_presented`].
    pub token: &'a ParsedToken,
    pub permission: Option<&'a Permission>,
    /// Recorded as the token's `last_used_source` (e.g. the service that asked).
    pub source: Option<&'a str>,
}

/// Verifies a token: `Ok(identity)`, or `Err(Error::Rejected(reason))`.
///
/// The secret is checked before anything about the token is revealed, and an unknown id is
/// checked against a decoy hash of the same cost, so neither timing nor the reason tells an
/// attacker holding only a token id anything. A success is counted in its own short write
/// transaction, after the argon2 work, so verifiers do not hold the write lock while hashing.
pub fn verify(
    store: &mut impl Transactions,
    ctx: &Context<'_>,
    request: &VerifyRequest<'_>,
) -> Result<Identity> {
    check(
        store,
        ctx,
        request,
        Some(ctx.org.as_str()),
        |identity| match request.permission {
            Some(wanted) if !identity.allows(wanted) => {
                Some(Error::Rejected(identity.forbidden(wanted)))
            }
            _ => None,
        },
    )
}

/// Verifies the token a command runs under (`$SA_TOKEN`, `--token-file`), counted like any
/// check with the source `sa-cli`, in whichever organization the token is of. Refused, and
/// not counted, when it is of another organization than `org` (if given) or lacks `needed`;
/// `what` names the command for that refusal.
pub fn authenticate(
    store: &mut impl Transactions,
    ctx: &Context<'_>,
    token: &ParsedToken,
    org: Option<&str>,
    needed: Option<&Permission>,
    what: &str,
) -> Result<Identity> {
    let request = VerifyRequest {
        token,
        permission: needed,
        source: Some("sa-cli"),
    };
    check(store, ctx, &request, None, |identity| {
        if let Some(org) = org.filter(|org| *org != identity.org) {
            return Some(Error::Refused(format!(
                "the token is of organization `{}`, not `{org}` (from `--org` or $SA_ORG): a token acts only in its own organization; nothing was done",
                identity.org
            )));
        }
        let wanted = needed.filter(|wanted| !identity.allows(wanted))?;
        Some(Error::Refused(format!(
            "account `{}` (token `{}`) may not {what}: that needs `{wanted}`, which the token does not hold; nothing was done",
            identity.account, identity.token_id,
        )))
    })
}

/// The check behind [`verify`] and [`authenticate`]: `org` is the organization the token must
/// be of to be found at all (`None`: any); `refuse` judges a valid token before its use is
/// counted, so that a refused check is not a use.
fn check(
    store: &mut impl Transactions,
    ctx: &Context<'_>,
    request: &VerifyRequest<'_>,
    org: Option<&str>,
    refuse: impl FnOnce(&Identity) -> Option<Error>,
) -> Result<Identity> {
    if let Some(source) = request.source {
        check_free_text("the source", source)?;
    }
    let parsed = request.token;
    // The cost in the same snapshot as the token: a long-lived verifier follows a change.
    let (cost, found) = store.read(|tx| {
        let cost = argon2_cost(tx, ctx)?;
        let Some(row) = tx.token_for_verify(parsed.id.as_str())? else {
            return Ok((cost, None));
        };
        let granted: Vec<Permission> = roles::grants(tx, &row.org, &row.roles)?
            .into_iter()
            .map(|(permission, _)| permission)
            .collect();
        Ok((cost, Some((row, granted))))
    })?;

    let hash = found
        .as_ref()
        .map_or_else(|| hashing::decoy(cost), |(row, _)| row.hash.clone());
    let matches = hashing::verify(&hash, parsed.secret.expose())?;
    let Some((row, granted)) =
        found.filter(|(row, _)| matches && org.is_none_or(|org| row.org == org))
    else {
        return Err(Error::Rejected(Rejection::Unknown));
    };

    if let Some(reason) = rejection_of(&row, ctx.now) {
        return Err(Error::Rejected(reason));
    }
    let identity = Identity {
        account: row.account.clone(),
        account_id: row.account_id,
        org: row.org.clone(),
        token_id: parsed.id.clone(),
        permissions: permissions::stored_scopes(&row.scopes).narrow(&granted),
        expires_at: row.expires_at,
        replaced_by: row.replaced_by.clone(),
        created_at: row.created_at,
    };
    if let Some(refusal) = refuse(&identity) {
        return Err(refusal);
    }

    let rehash = if hashing::needs_rehash(&row.hash, cost) {
        Some(hashing::hash(cost, parsed.secret.expose())?)
    } else {
        None
    };
    store.write(|tx| {
        if !tx.record_token_use(&row.id, ctx.now, request.source)? {
            // Revoked, paused or disabled while argon2 ran: the later decision wins.
            let reason = tx
                .token_for_verify(&row.id)?
                .and_then(|now_row| rejection_of(&now_row, ctx.now))
                .unwrap_or(Rejection::Revoked);
            return Err(Error::Rejected(reason));
        }
        if let Some(new_hash) = &rehash {
            tx.replace_token_hash(&row.id, &row.hash, new_hash)?;
        }
        Ok(())
    })?;
    Ok(identity)
}

/// Calls `each` with the organization's tokens that ended (were revoked, or expired) more
/// than `older_than` ago: what `sa token prune` would remove.
pub fn prunable(
    store: &mut Store,
    ctx: &Context<'_>,
    older_than: Duration,
    each: &mut dyn FnMut(Token) -> Result<()>,
) -> Result<()> {
    let cutoff = ctx.now - older_than.to_delta();
    store.read(|tx| tx.for_each_prunable_token(ctx.org.as_str(), cutoff, each))
}

/// What `sa token prune` removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub tokens: u64,
    pub accounts: u64,
}

/// Removes, in one transaction, the organization's tokens that ended more than `older_than`
/// ago, with their scopes and per-day counters, and records one `token.prune` event per
/// account they belonged to (their ids in the details). Their earlier events stay.
pub fn prune(store: &mut Store, ctx: &Context<'_>, older_than: Duration) -> Result<Pruned> {
    let cutoff = ctx.now - older_than.to_delta();
    store.write(|tx| {
        let mut by_account: std::collections::BTreeMap<i64, (String, Vec<String>)> =
            std::collections::BTreeMap::new();
        tx.for_each_prunable_token(ctx.org.as_str(), cutoff, &mut |token| {
            by_account
                .entry(token.account_id)
                .or_insert_with(|| (token.account.clone(), Vec::new()))
                .1
                .push(token.id);
            Ok(())
        })?;
        let mut removed = 0;
        for (account_id, (account, ids)) in &by_account {
            for id in ids {
                tx.delete_token(id)?;
            }
            removed += ids.len() as u64;
            let details = [
                ("tokens", ids.len().to_string()),
                ("token_ids", ids.join(",")),
                ("older_than", older_than.to_string()),
            ];
            audit::record(tx, ctx, "token.prune", account, Some(*account_id), &details)?;
        }
        Ok(Pruned {
            tokens: removed,
            accounts: by_account.len() as u64,
        })
    })
}

/// The actor of the stale-token policy's pauses.
pub const POLICY_ACTOR: &str = "sa:policy";

/// The stale-token policy (`tokens.disable_unused_after`): pauses every active, unexpired
/// token, in every organization, idle for that long — not used since then, nor enabled, nor
/// created — each with a `token.auto_disable` event by `sa:policy`. Run after every write
/// command, as Kubernetes invalidates unused legacy tokens; `sa token enable` brings one
/// back, and restarts its clock. Returns how many it paused.
pub fn disable_unused(store: &mut Store, ctx: &Context<'_>) -> Result<usize> {
    let Some(after) = ctx.config.tokens.disable_unused_after else {
        return Ok(0);
    };
    let cutoff = ctx.now - after.to_delta();
    if !store.read(|tx| tx.any_idle_token(cutoff, ctx.now))? {
        return Ok(0);
    }
    store.write(|tx| {
        let idle = tx.idle_tokens(cutoff, ctx.now)?;
        let mut paused = 0;
        for token in &idle {
            if !tx.pause_idle_token(&token.id, cutoff, ctx.now, POLICY_ACTOR)? {
                continue;
            }
            paused += 1;
            let event_ctx = Context {
                org: crate::domain::names::OrgName::parse(&token.org)?,
                actor: POLICY_ACTOR.to_string(),
                acting: None,
                ..ctx.clone()
            };
            let details = [
                ("token_id", token.id.clone()),
                (
                    "last_used_at",
                    token
                        .last_used_at
                        .map_or_else(|| "never".to_string(), format_timestamp),
                ),
                ("unused_for", after.to_string()),
                ("triggered_by", ctx.triggered_by(&token.org)),
            ];
            audit::record(
                tx,
                &event_ctx,
                "token.auto_disable",
                &token.account,
                Some(token.account_id),
                &details,
            )?;
        }
        Ok(paused)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::domain::accounts::{CreateAccount, create};
    use crate::domain::names::{AccountName, OrgName, RoleName};
    use crate::time::now;

    fn config() -> Config {
        Config::cheap_for_tests(":memory:")
    }

    fn setup(config: &Config) -> (Store, Context<'_>) {
        let ctx = Context {
            org: OrgName::default(),
            actor: "t".into(),
            now: now(),
            config,
            acting: None,
        };
        let mut store = Store::open_in_memory().unwrap();
        create(
            &mut store,
            &ctx,
            &CreateAccount {
                name: AccountName::parse("bot").unwrap(),
                description: None,
                roles: vec![RoleName::parse("editor").unwrap()],
            },
        )
        .unwrap();
        (store, ctx)
    }

    fn mint_for_bot(store: &mut Store, ctx: &Context<'_>, scopes: &[&str]) -> Minted {
        let request = MintRequest {
            account: AccountRef::parse("bot").unwrap(),
            name: None,
            expires: None,
            scopes: scopes
                .iter()
                .map(|s| Permission::parse(s).unwrap())
                .collect(),
        };
        mint(store, ctx, &request).unwrap()
    }

    fn check(
        store: &mut Store,
        ctx: &Context<'_>,
        token: &str,
        permission: Option<&str>,
    ) -> Result<Identity> {
        let permission = permission.map(|p| Permission::parse(p).unwrap());
        verify(
            store,
            ctx,
            &VerifyRequest {
                token: &parse_presented(token)?,
                permission: permission.as_ref(),
                source: Some("test"),
            },
        )
    }

    fn reason(result: Result<Identity>) -> Rejection {
        match result {
            Err(Error::Rejected(reason)) => reason,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn minted_tokens_verify_and_are_counted() {
        let config = config();
        let (mut store, ctx) = setup(&config);
        let minted = mint_for_bot(&mut store, &ctx, &[]);
        assert_eq!(
            minted.token.expires_at,
            Some(ctx.now + chrono::TimeDelta::days(30))
        );
        let identity = check(
            &mut store,
            &ctx,
            minted.secret.expose(),
            Some("dashboards:write"),
        )
        .unwrap();
        assert_eq!(identity.account, "bot");
        check(&mut store, &ctx, minted.secret.expose(), None).unwrap();
        let token = show(&mut store, &ctx, &minted.token.id.parse().unwrap()).unwrap();
        assert_eq!(token.use_count, 2);
        assert_eq!(token.last_used_source.as_deref(), Some("test"));
    }

    #[test]
    fn rejections_have_their_reasons() {
        let config = config();
        let (mut store, ctx) = setup(&config);
        let minted = mint_for_bot(&mut store, &ctx, &["dashboards:read"]);
        let token = minted.secret.expose().to_string();
        // A forbidden request says whose token it was, and for what.
        assert_eq!(
            reason(check(&mut store, &ctx, &token, Some("dashboards:write"))),
            Rejection::Forbidden {
                account: "bot".into(),
                token_id: minted.token.id.parse().unwrap(),
                permission: Permission::parse("dashboards:write").unwrap(),
            }
        );
        assert_eq!(
            reason(check(&mut store, &ctx, "sa_nope", None)),
            Rejection::Malformed
        );
        let other = token_format::generate("sa_").unwrap();
        assert_eq!(
            reason(check(&mut store, &ctx, other.token.expose(), None)),
            Rejection::Unknown
        );
        let id: TokenId = minted.token.id.parse().unwrap();
        set_paused(&mut store, &ctx, &id, true).unwrap();
        assert_eq!(
            reason(check(&mut store, &ctx, &token, None)),
            Rejection::Disabled
        );
        set_paused(&mut store, &ctx, &id, false).unwrap();
        check(&mut store, &ctx, &token, None).unwrap();
        let later = Context {
            now: ctx.now + chrono::TimeDelta::days(31),
            ..ctx.clone()
        };
        assert_eq!(
            reason(check(&mut store, &later, &token, None)),
            Rejection::Expired
        );
        revoke(&mut store, &ctx, &[id]).unwrap();
        assert_eq!(
            reason(check(&mut store, &ctx, &token, None)),
            Rejection::Revoked
        );
        let acme = Context {
            org: OrgName::parse("acme").unwrap(),
            ..ctx.clone()
        };
        assert_eq!(
            reason(check(&mut store, &acme, &token, None)),
            Rejection::Unknown
        );
    }

    #[test]
    fn expiry_policy_names_its_key() {
        let mut config = config();
        let (_, ctx) = setup(&config);
        let too_long =
            resolve_expiry(&ctx, Some(ExpiryRequest::parse("400d").unwrap())).unwrap_err();
        assert!(too_long.to_string().contains("tokens.max_ttl"));
        let never = resolve_expiry(&ctx, Some(ExpiryRequest::Never)).unwrap_err();
        assert!(never.to_string().contains("tokens.require_expiry"));
        let past =
            resolve_expiry(&ctx, Some(ExpiryRequest::parse("2001-01-01").unwrap())).unwrap_err();
        assert_eq!(past.exit_code(), 2);
        let now = ctx.now;
        config.tokens.require_expiry = false;
        let ctx = Context {
            org: OrgName::default(),
            actor: "t".into(),
            now,
            config: &config,
            acting: None,
        };
        assert_eq!(
            resolve_expiry(&ctx, Some(ExpiryRequest::Never)).unwrap(),
            None
        );
    }

    #[test]
    fn old_hashes_are_rehashed_on_success() {
        let config = config();
        let (mut store, ctx) = setup(&config);
        let minted = mint_for_bot(&mut store, &ctx, &[]);
        let mut stronger = config.clone();
        stronger.argon2.memory_kib = 128;
        let ctx2 = Context {
            config: &stronger,
            ..ctx.clone()
        };
        check(&mut store, &ctx2, minted.secret.expose(), None).unwrap();
        let hash = store
            .read(|tx| Ok(tx.token_for_verify(minted.token.id.as_str())?.unwrap().hash))
            .unwrap();
        assert!(hash.contains("m=128"), "{hash}");
        check(&mut store, &ctx2, minted.secret.expose(), None).unwrap();
    }

    #[test]
    fn rotation_with_grace_keeps_both_tokens_valid() {
        let config = config();
        let (mut store, ctx) = setup(&config);
        let old = mint_for_bot(&mut store, &ctx, &["dashboards:read"]);
        let id: TokenId = old.token.id.parse().unwrap();
        let rotated = rotate(
            &mut store,
            &ctx,
            &id,
            None,
            Some(Duration::parse("1h").unwrap()),
        )
        .unwrap();
        assert_eq!(rotated.minted.token.scopes, vec!["dashboards:read"]);
        assert_eq!(rotated.minted.token.replaces.as_deref(), Some(id.as_str()));
        check(&mut store, &ctx, old.secret.expose(), None).unwrap();
        check(&mut store, &ctx, rotated.minted.secret.expose(), None).unwrap();
        assert!(
            rotate(&mut store, &ctx, &id, None, None).is_err(),
            "a rotated token is not rotated twice"
        );
        let later = Context {
            now: ctx.now + chrono::TimeDelta::hours(2),
            ..ctx.clone()
        };
        assert_eq!(
            reason(check(&mut store, &later, old.secret.expose(), None)),
            Rejection::Expired
        );
    }

    #[test]
    fn the_token_limit_counts_active_tokens() {
        let mut config = config();
        config.limits.max_tokens_per_account = 1;
        let (mut store, ctx) = setup(&config);
        let first = mint_for_bot(&mut store, &ctx, &[]);
        let request = MintRequest {
            account: AccountRef::parse("bot").unwrap(),
            name: None,
            expires: None,
            scopes: vec![],
        };
        assert!(matches!(
            mint(&mut store, &ctx, &request),
            Err(Error::LimitReached { .. })
        ));
        // Rotation replaces, so it is not refused by the limit.
        rotate(
            &mut store,
            &ctx,
            &first.token.id.parse().unwrap(),
            None,
            None,
        )
        .unwrap();
    }
}
