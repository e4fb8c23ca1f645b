//! The audit trail: what every change records, and how `sa audit` reads it back.

use crate::domain::Context;
use crate::domain::names::AccountRef;
use crate::error::Result;
use crate::store::{AccountKey, AuditEvent, AuditFilter, NewAuditEvent, Store, Tx};
use crate::time::Since;

/// Appends one event inside the caller's transaction, so the change and its record commit
/// together or not at all. `details` must never hold a secret.
pub fn record(
    tx: &Tx<'_>,
    ctx: &Context<'_>,
    action: &str,
    target: &str,
    account_id: Option<i64>,
    details: &[(&str, String)],
) -> Result<()> {
    // A service account acting through a token: which token, so a leaked one can be traced.
    let mut all = details.to_vec();
    if let Some(acting) = &ctx.acting {
        all.push(("via_token", acting.token_id.clone()));
    }
    tx.insert_audit_event(&NewAuditEvent {
        at: ctx.now,
        actor: &ctx.actor,
        action,
        org: ctx.org.as_str(),
        target,
        account_id,
        details: &all,
    })?;
    Ok(())
}

/// `sa audit` filters.
#[derive(Debug, Default)]
pub struct AuditQuery {
    pub account: Option<AccountRef>,
    pub action: Option<String>,
    pub since: Option<Since>,
    pub limit: Option<u64>,
}

/// Calls `each` with the events of the context's organization that `query` selects, oldest
/// first, as they are read.
pub fn list(
    store: &mut Store,
    ctx: &Context<'_>,
    query: &AuditQuery,
    each: &mut dyn FnMut(AuditEvent) -> Result<()>,
) -> Result<()> {
    store.read(|tx| {
        // An account is followed by id through renames and deletion; one purged for good is
        // found by the name it last had.
        let (account_id, target) = match &query.account {
            None => (None, None),
            Some(AccountRef::Id(id)) => (Some(*id), None),
            Some(AccountRef::Name(name)) => {
                match tx.find_account(ctx.org.as_str(), AccountKey::Name(name.as_str()), ctx.now)? {
                    Some(account) => (Some(account.id), None),
                    None => (None, Some(name.as_str())),
                }
            }
        };
        let filter = AuditFilter {
            org: ctx.org.as_str(),
            account_id,
            target,
            action: query.action.as_deref(),
            since: query.since.map(|s| s.resolve(ctx.now)),
            limit: query.limit,
        };
        tx.for_each_audit_event(&filter, each)
    })
}
