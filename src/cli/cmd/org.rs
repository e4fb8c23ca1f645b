//! `sa org list`

use crate::cli::output::print_orgs;
use crate::cli::{Outcome, Session};
use crate::error::Result;

pub fn list(session: &Session<'_>) -> Result<Outcome> {
    let mut store = session.open_store()?;
    let orgs = crate::domain::accounts::list_orgs(&mut store)?;
    print_orgs(session.printer, &orgs)?;
    Ok(Outcome::Success)
}
