//! The audit trail: what every change records, and how `sa audit` reads it back.

use crate::domain::Context;
use crate::domain::names::AccountRef;
use crate::error::{Error, Result};
use crate::store::{
    AccountKey, AuditCheckpoint, AuditEvent, AuditFilter, ChainedEvent, NewAuditEvent, Store, Tx,
};
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

/// What `sa audit verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// Events whose hash and link were checked (up to the first problem).
    pub checked: u64,
    /// The hash of the organization's newest event (what the next event will link to): keep
    /// it elsewhere to notice later that the newest events were removed or the whole chain
    /// rewritten.
    pub head: String,
    pub checkpoint: Option<AuditCheckpoint>,
    /// The first event that does not hold, and why.
    pub problem: Option<(i64, String)>,
}

/// Walks the organization's hash chain, oldest first, and stops at the first event that was
/// altered, or whose link shows an event before it was removed, inserted or moved.
pub fn verify_chain(store: &mut Store, ctx: &Context<'_>) -> Result<ChainReport> {
    store.read(|tx| walk_chain(tx, ctx.org.as_str()))
}

/// [`verify_chain`] inside a transaction the caller holds.
pub(crate) fn walk_chain(tx: &Tx<'_>, org: &str) -> Result<ChainReport> {
    {
        let checkpoint = tx.audit_checkpoint(org)?;
        let mut report = ChainReport {
            checked: 0,
            head: String::new(),
            checkpoint: checkpoint.clone(),
            problem: None,
        };
        let mut expected = checkpoint
            .as_ref()
            .map(|c| c.last_removed_hash.clone())
            .unwrap_or_default();
        let mut before: Option<i64> = None;
        // The newest `audit.prune` event: the checkpoint must be the one it recorded.
        let mut last_prune: Option<ChainedEvent> = None;
        tx.for_each_chained_event(org, 0, None, &mut |chained| {
            if report.problem.is_some() {
                return Ok(());
            }
            let id = chained.id;
            let (Some(prev), Some(hash)) = (&chained.prev_hash, &chained.hash) else {
                report.problem = Some((id, "it has no hash: it was inserted by hand".into()));
                return Ok(());
            };
            if let Some(cut) = checkpoint.as_ref().filter(|c| id <= c.last_removed_id) {
                report.problem = Some((
                    id,
                    format!(
                        "it comes before the last prune's cut (event {}): it was inserted or moved",
                        cut.last_removed_id
                    ),
                ));
                return Ok(());
            }
            if *prev != expected {
                let after = match before {
                    Some(b) => format!("event {b}"),
                    None if checkpoint.is_some() => "the last prune's cut".into(),
                    None => "the start of the trail".into(),
                };
                report.problem = Some((
                    id,
                    format!(
                        "it does not link to {after}: an event between them was removed, or one was inserted, moved or altered"
                    ),
                ));
                return Ok(());
            }
            if chained.expected_hash(prev) != *hash {
                report.problem = Some((
                    id,
                    "its content no longer matches its hash: it was altered".into(),
                ));
                return Ok(());
            }
            report.checked += 1;
            expected = hash.clone();
            before = Some(id);
            if chained.action == PRUNE_ACTION {
                last_prune = Some(chained);
            }
            Ok(())
        })?;
        report.head = expected;
        if report.problem.is_none()
            && let Some(checkpoint) = &checkpoint
            && let Some(why) = checkpoint_mismatch(checkpoint, last_prune.as_ref())
        {
            report.problem = Some((checkpoint.last_removed_id, why));
        }
        Ok(report)
    }
}

/// The action of the event a prune records.
const PRUNE_ACTION: &str = "audit.prune";

/// Why the checkpoint is not the one the newest `audit.prune` event recorded, if it is not.
/// The checkpoint sits outside the chain; tying it to a chained event means that removing
/// the oldest events and writing a checkpoint by hand shows, as any edit of a chained row
/// does.
fn checkpoint_mismatch(
    checkpoint: &AuditCheckpoint,
    last_prune: Option<&ChainedEvent>,
) -> Option<String> {
    let Some(event) = last_prune else {
        return Some(format!(
            "the trail starts after a cut at event {}, but no `audit.prune` event records a prune: events were removed by hand",
            checkpoint.last_removed_id
        ));
    };
    let detail = |key: &str| {
        event
            .details
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let recorded = (
        detail("cut_id"),
        detail("cut_hash"),
        detail("removed_total"),
    );
    let actual = (
        checkpoint.last_removed_id.to_string(),
        checkpoint.last_removed_hash.as_str(),
        checkpoint.removed.to_string(),
    );
    let matches = recorded.0 == Some(actual.0.as_str())
        && recorded.1 == Some(actual.1)
        && recorded.2 == Some(actual.2.as_str())
        && event.at == crate::time::format_timestamp(checkpoint.at)
        && event.actor == checkpoint.by;
    (!matches).then(|| {
        format!(
            "the checkpoint (a cut at event {}) is not the one `audit.prune` event {} recorded: it was changed by hand",
            checkpoint.last_removed_id, event.id
        )
    })
}

/// How many events `sa audit prune --before` would remove.
/// Refused, as [`prune`] is, when the trail fails its check.
pub fn prunable(store: &mut Store, ctx: &Context<'_>, before: &Since) -> Result<u64> {
    store.read(|tx| {
        refuse_broken_chain(tx, ctx.org.as_str())?;
        tx.count_prunable_audit_events(ctx.org.as_str(), before.resolve(ctx.now))
    })
}

/// Pruning a trail that fails its check would remove the evidence with the events.
fn refuse_broken_chain(tx: &Tx<'_>, org: &str) -> Result<()> {
    match walk_chain(tx, org)?.problem {
        None => Ok(()),
        Some((id, why)) => Err(Error::Refused(format!(
            "the audit trail of `{org}` fails its check at event {id} ({why}); pruning it would hide that, so nothing was removed"
        ))),
    }
}

/// Removes the organization's events older than `before` (the oldest ones, up to the first
/// that is not), keeping the chain verifiable from a checkpoint, and records an
/// `audit.prune` event, which starts the rest of the chain. Returns how many went.
pub fn prune(store: &mut Store, ctx: &Context<'_>, before: &Since) -> Result<u64> {
    let cutoff = before.resolve(ctx.now);
    store.write(|tx| {
        let org = ctx.org.as_str();
        refuse_broken_chain(tx, org)?;
        let removed = tx.prune_audit_events(org, cutoff, ctx.now, &ctx.actor)?;
        if removed > 0 {
            let checkpoint = tx
                .audit_checkpoint(org)?
                .ok_or_else(|| Error::database("a prune that removed events left no checkpoint"))?;
            // The checkpoint, in the chain: `walk_chain` holds one to the other.
            let details = [
                ("before", crate::time::format_timestamp(cutoff)),
                ("removed", removed.to_string()),
                ("cut_id", checkpoint.last_removed_id.to_string()),
                ("cut_hash", checkpoint.last_removed_hash),
                ("removed_total", checkpoint.removed.to_string()),
            ];
            record(tx, ctx, PRUNE_ACTION, org, None, &details)?;
        }
        Ok(removed)
    })
}
