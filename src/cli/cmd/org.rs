//! `sa org list`

use crate::cli::args::LimitArg;
use crate::cli::output::print_orgs;
use crate::cli::{Outcome, Session};
use crate::error::Result;

pub fn list(session: &Session<'_>, limit: &LimitArg) -> Result<Outcome> {
    let mut store = session.open_store()?;
    let mut orgs = crate::domain::accounts::list_orgs(&mut store)?;
    // A token acts in its own organization only, and sees no other.
    if session.ctx.acting.is_some() {
        orgs.retain(|o| o.name == session.ctx.org.as_str());
    }
    orgs.truncate(limit.rows());
    print_orgs(session.printer, &orgs)?;
    Ok(Outcome::Success)
}
