//! `sa audit`, `sa audit verify` and `sa audit prune`.

use crate::cli::args::{AuditArgs, AuditCommand, AuditPruneArgs};
use crate::cli::output::{AUDIT_COLUMNS, AuditEventView, audit_row, print_chain_report};
use crate::cli::{Outcome, Session, prompt};
use crate::domain::audit::{self, AuditQuery, list};
use crate::error::Result;
use crate::time::format_timestamp;

/// How many events `sa audit` shows on a terminal without `--limit`.
const TERMINAL_DEFAULT_LIMIT: u64 = 100;

pub fn run(session: &Session<'_>, args: AuditArgs) -> Result<Outcome> {
    match args.command {
        Some(AuditCommand::Verify) => return verify(session),
        Some(AuditCommand::Prune(prune)) => return prune_events(session, &prune),
        None => {}
    }
    let mut store = session.open_store()?;
    // A person at a terminal wants the recent events, not a trail of years scrolling past;
    // a pipe or a file gets everything asked for.
    let at_terminal = args.limit.is_none()
        && !session.printer.is_json()
        && std::io::IsTerminal::is_terminal(&std::io::stdout());
    let limit = args.limit.or(at_terminal.then_some(TERMINAL_DEFAULT_LIMIT));
    let query = AuditQuery {
        account: args.account,
        action: args.action,
        since: args.since,
        limit,
    };
    let mut events = session.printer.list(AUDIT_COLUMNS);
    list(&mut store, &session.ctx, &query, &mut |event| {
        events.push(|| AuditEventView::from(&event), || audit_row(&event))
    })?;
    let shown = events.finish()?;
    if at_terminal && shown as u64 == TERMINAL_DEFAULT_LIMIT {
        session.printer.note(&format!(
            "the newest {TERMINAL_DEFAULT_LIMIT} events; `--limit N` shows more, and a pipe gets them all"
        ));
    }
    Ok(Outcome::Success)
}

fn verify(session: &Session<'_>) -> Result<Outcome> {
    let mut store = session.open_store()?;
    let report = audit::verify_chain(&mut store, &session.ctx)?;
    print_chain_report(session.printer, session.ctx.org.as_str(), &report)?;
    Ok(match &report.problem {
        None => Outcome::Success,
        Some((id, _)) => {
            session.printer.note(&format!(
                "the audit trail of `{}` fails its check at event {id}",
                session.ctx.org
            ));
            Outcome::Failure
        }
    })
}

fn prune_events(session: &Session<'_>, args: &AuditPruneArgs) -> Result<Outcome> {
    let ctx = &session.ctx;
    let mut store = session.open_store()?;
    let before = format_timestamp(args.before.resolve(ctx.now));
    let count = audit::prunable(&mut store, ctx, &args.before)?;
    if count > 0 {
        prompt::confirm(
            &format!(
                "remove {count} audit event(s) of `{}` from before {before}",
                ctx.org
            ),
            args.yes,
        )?;
    }
    let removed = audit::prune(&mut store, ctx, &args.before)?;
    session.printer.note(&if removed == 0 {
        format!("no event of `{}` is from before {before}; nothing was removed", ctx.org)
    } else {
        format!(
            "removed {removed} audit event(s) of `{}` from before {before}; `sa audit verify` checks the rest from where they were cut",
            ctx.org
        )
    });
    if session.printer.is_json() {
        session.printer.json(&serde_json::json!({
            "org": ctx.org.as_str(),
            "before": before,
            "removed": removed,
        }))?;
    }
    Ok(Outcome::Success)
}
