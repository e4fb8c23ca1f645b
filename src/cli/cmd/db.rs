//! `sa db check` and `sa db backup`. Neither creates a database that is not there, nor runs
//! the retention of deleted accounts: they look at the file as it is.

use comfy_table::Cell;
use serde_json::json;

use crate::cli::args::DbCommand;
use crate::cli::output::print_check_report;
use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{AtFlags, Mode, OFlags};

use crate::cli::cleanup;
use crate::cli::token_file::{protected_by, refuse_if_protected};
use crate::cli::{Outcome, Session};
use crate::domain::database;
use crate::error::{Error, Result};

/// `sa init`: creates the database where the config says, or says it is already there.
pub fn init(session: &Session<'_>) -> Result<Outcome> {
    let db = &session.config.db_path;
    let shown = session.config.database_display();
    let store = crate::store::Store::open(db)?;
    if store.was_created() {
        session
            .printer
            .note(&format!("created a new sa database at `{}`", shown));
    } else {
        session
            .printer
            .note(&format!("`{}` is already an sa database", shown));
    }
    Ok(Outcome::Success)
}

pub fn run(session: &Session<'_>, command: DbCommand) -> Result<Outcome> {
    let printer = session.printer;
    let db = &session.config.db_path;
    let shown = session.config.database_display();
    match command {
        DbCommand::Check => {
            let report = database::check(db)?;
            print_check_report(printer, &shown, &report)?;
            if !report.passed() {
                let problems: usize = report.checks.iter().map(|c| c.problems.len()).sum();
                printer.note(&format!(
                    "`{}` failed the check ({problems} problem(s)); restore a copy made with `sa db backup`",
                    shown
                ));
                return Ok(Outcome::Failure);
            }
        }
        DbCommand::Copy(args) => copy(session, &args.to)?,
        DbCommand::Backup(args) => {
            let size = new_file(session, &args.path, "sa db backup", |temp| {
                database::backup(&session.config.db_path, temp)
            })?;
            printer.note(&format!(
                "backed up `{}` to `{}` ({size} bytes, mode 0600)",
                shown,
                args.path.display()
            ));
            if printer.is_json() {
                printer.json(&json!({
                    "database": shown.to_string(),
                    "backup": args.path.display().to_string(),
                    "bytes": size,
                }))?;
            } else {
                printer.record(vec![
                    ("database", Cell::new(shown)),
                    ("backup", Cell::new(args.path.display())),
                    ("bytes", Cell::new(size)),
                ])?;
            }
        }
    }
    Ok(Outcome::Success)
}

/// `sa db copy --to URL|PATH`.
fn copy(session: &Session<'_>, to: &Path) -> Result<()> {
    let printer = session.printer;
    let from = session.config.database_display();
    let shown = crate::store::display_location(to);
    if to == session.config.db_path.as_path() {
        return Err(Error::Refused(format!(
            "`{shown}` is the database being copied; name another one"
        )));
    }
    let mut source = crate::store::Store::open_existing(&session.config.db_path)?;
    let counts = if crate::store::is_url(to) {
        database::copy(&mut source, &session.ctx, to)?
    } else {
        new_file(session, to, "sa db copy", |temp| {
            database::copy(&mut source, &session.ctx, temp)
        })?
    };
    printer.note(&format!(
        "copied `{from}` to `{shown}`: {} account(s), {} token(s), {} audit event(s)",
        counts.of("accounts"),
        counts.of("tokens"),
        counts.of("audit_events")
    ));
    if printer.is_json() {
        let rows: serde_json::Map<String, serde_json::Value> = counts
            .tables
            .iter()
            .map(|(table, n)| ((*table).to_string(), json!(n)))
            .collect();
        printer.json(&json!({ "from": from, "to": shown, "rows": rows }))?;
    } else {
        let mut record = vec![("from", Cell::new(&from)), ("to", Cell::new(&shown))];
        for (table, n) in &counts.tables {
            record.push((*table, Cell::new(n)));
        }
        printer.record(record)?;
    }
    Ok(())
}

/// A new file at `dest` filled by `fill` (`sa db backup PATH`, `sa db copy --to PATH`): made
/// as a temporary file beside it (mode 0600, held and guarded like a token file's) and
/// hard-linked into place only when complete and checked, so `dest` never exists
/// half-written, and a file already there is never replaced.
fn new_file<T>(
    session: &Session<'_>,
    dest: &Path,
    what: &str,
    fill: impl FnOnce(&Path) -> Result<T>,
) -> Result<T> {
    let refused = |why: String| Error::Refused(format!("`{}` {why}", dest.display()));
    let exists = || {
        refused(format!(
            "exists; `{what}` writes a new file and never replaces one"
        ))
    };
    if std::fs::symlink_metadata(dest).is_ok() {
        return Err(exists());
    }
    // The database's own files are refused like an existing file (exit 1), even where they
    // do not exist yet: SQLite would take a file by that name for its journal.
    refuse_if_protected(dest, &protected_by(session.config)).map_err(|err| match err {
        Error::InvalidInput(message) => Error::Refused(message),
        other => other,
    })?;
    let (Some(name), dir_path) = (
        dest.file_name(),
        dest.parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new(".")),
    ) else {
        return Err(refused("names no file".into()));
    };
    let cannot = |e: std::io::Error| {
        Error::io(
            format!("cannot create a file in `{}`", dir_path.display()),
            e,
        )
    };
    let dir: OwnedFd = rustix::fs::openat(
        rustix::fs::CWD,
        dir_path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| cannot(e.into()))?;
    cleanup::remove_stale(dir_path, TEMP_PREFIX);
    let temp = cleanup::TempFile::create(&dir, dir_path, TEMP_PREFIX).map_err(cannot)?;
    let filled = fill(&dir_path.join(temp.name()))?;
    let failed = |e: std::io::Error| Error::io(format!("cannot write `{}`", dest.display()), e);
    temp.file().sync_all().map_err(failed)?;
    // A link, not a rename: it fails rather than replace a file that appeared meanwhile.
    match rustix::fs::linkat(&dir, temp.name(), &dir, name, AtFlags::empty()) {
        Ok(()) => {}
        Err(rustix::io::Errno::EXIST) => return Err(exists()),
        Err(errno) => return Err(failed(errno.into())),
    }
    // The copy now has its name; the temporary one goes (drop unlinks it).
    drop(temp);
    rustix::fs::fsync(&dir).map_err(|e| failed(e.into()))?;
    Ok(filled)
}

/// Temporary copies `sa db backup` makes beside their destination.
const TEMP_PREFIX: &str = ".sa-backup-";
