//! `sa audit`

use crate::cli::args::AuditArgs;
use crate::cli::output::{AUDIT_COLUMNS, AuditEventView, audit_row};
use crate::cli::{Outcome, Session};
use crate::domain::audit::{AuditQuery, list};
use crate::error::Result;

pub fn run(session: &Session<'_>, args: AuditArgs) -> Result<Outcome> {
    let mut store = session.open_store()?;
    let query = AuditQuery {
        account: args.account,
        action: args.action,
        since: args.since,
        limit: args.limit,
    };
    let mut events = session.printer.list(AUDIT_COLUMNS);
    list(&mut store, &session.ctx, &query, &mut |event| {
        events.push(|| AuditEventView::from(&event), || audit_row(&event))
    })?;
    events.finish()?;
    Ok(Outcome::Success)
}
