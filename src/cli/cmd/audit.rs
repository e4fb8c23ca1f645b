//! `sa audit`

use crate::cli::args::AuditArgs;
use crate::cli::output::print_audit;
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
    print_audit(session.printer, &list(&mut store, &session.ctx, &query)?)?;
    Ok(Outcome::Success)
}
