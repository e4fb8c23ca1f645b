//! `sa usage` and `sa usage ACCOUNT`.

use crate::cli::args::UsageArgs;
use crate::cli::output::{print_account_usage, print_org_usage};
use crate::cli::{Outcome, Session};
use crate::domain::usage::{self, UsageQuery};
use crate::error::Result;

/// The per-day series `sa usage ACCOUNT` shows unless `--days` says.
const DEFAULT_DAYS: u32 = 30;

pub fn run(session: &Session<'_>, args: UsageArgs) -> Result<Outcome> {
    let ctx = &session.ctx;
    let mut store = session.open_store()?;
    if let Some(account) = args.account {
        let days = args.days.unwrap_or(DEFAULT_DAYS);
        let report = usage::account_report(&mut store, ctx, &account, days)?;
        print_account_usage(session.printer, &report, days)?;
        return Ok(Outcome::Success);
    }
    let query = UsageQuery {
        expiring_within: args.expiring_within,
        stale: args.stale,
    };
    let report = usage::report(&mut store, ctx, &query)?;
    print_org_usage(session.printer, &report)?;
    Ok(if args.exit_code && report.needs_attention() {
        Outcome::Failure
    } else {
        Outcome::Success
    })
}
