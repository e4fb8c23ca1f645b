//! `sa db check` and `sa db backup`. Neither creates a database that is not there, nor runs
//! the retention of deleted accounts: they look at the file as it is.

use comfy_table::Cell;
use serde_json::json;

use crate::cli::args::DbCommand;
use crate::cli::output::print_check_report;
use crate::cli::token_file::{protected_by, refuse_if_protected};
use crate::cli::{Outcome, Session};
use crate::domain::database;
use crate::error::{Error, Result};

pub fn run(session: &Session<'_>, command: DbCommand) -> Result<Outcome> {
    let printer = session.printer;
    let db = &session.config.db_path;
    match command {
        DbCommand::Check => {
            let report = database::check(db)?;
            print_check_report(printer, db, &report)?;
            if !report.passed() {
                let problems: usize = report.checks.iter().map(|c| c.problems.len()).sum();
                printer.note(&format!(
                    "`{}` failed the check ({problems} problem(s)); restore a copy made with `sa db backup`",
                    db.display()
                ));
                return Ok(Outcome::Failure);
            }
        }
        DbCommand::Backup(args) => {
            if std::fs::symlink_metadata(&args.path).is_ok() {
                return Err(Error::Refused(format!(
                    "`{}` exists; `sa db backup` writes a new file and never replaces one",
                    args.path.display()
                )));
            }
            refuse_if_protected(&args.path, &protected_by(session.config))?;
            let size = database::backup(db, &args.path)?;
            printer.note(&format!(
                "backed up `{}` to `{}` ({size} bytes, mode 0600)",
                db.display(),
                args.path.display()
            ));
            if printer.is_json() {
                printer.json(&json!({
                    "database": db.display().to_string(),
                    "backup": args.path.display().to_string(),
                    "bytes": size,
                }))?;
            } else {
                printer.record(vec![
                    ("database", Cell::new(db.display())),
                    ("backup", Cell::new(args.path.display())),
                    ("bytes", Cell::new(size)),
                ])?;
            }
        }
    }
    Ok(Outcome::Success)
}
