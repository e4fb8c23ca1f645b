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
    let store = crate::store::Store::open(db)?;
    if store.was_created() {
        session
            .printer
            .note(&format!("created a new sa database at `{}`", db.display()));
    } else {
        session
            .printer
            .note(&format!("`{}` is already an sa database", db.display()));
    }
    Ok(Outcome::Success)
}

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
            let size = backup(session, &args.path)?;
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

/// `sa db backup PATH`: the copy is made in a temporary file beside PATH (mode 0600, held and
/// guarded like a token file's) and hard-linked into place only when complete and checked, so
/// PATH never exists half-written, and a file already at PATH is never replaced.
fn backup(session: &Session<'_>, dest: &Path) -> Result<u64> {
    let refused = |why: String| Error::Refused(format!("`{}` {why}", dest.display()));
    if std::fs::symlink_metadata(dest).is_ok() {
        return Err(refused(
            "exists; `sa db backup` writes a new file and never replaces one".into(),
        ));
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
    let size = database::backup(&session.config.db_path, &dir_path.join(temp.name()))?;
    let failed = |e: std::io::Error| Error::io(format!("cannot write `{}`", dest.display()), e);
    temp.file().sync_all().map_err(failed)?;
    // A link, not a rename: it fails rather than replace a file that appeared meanwhile.
    match rustix::fs::linkat(&dir, temp.name(), &dir, name, AtFlags::empty()) {
        Ok(()) => {}
        Err(rustix::io::Errno::EXIST) => {
            return Err(refused(
                "exists; `sa db backup` writes a new file and never replaces one".into(),
            ));
        }
        Err(errno) => return Err(failed(errno.into())),
    }
    // The copy now has its name; the temporary one goes (drop unlinks it).
    drop(temp);
    rustix::fs::fsync(&dir).map_err(|e| failed(e.into()))?;
    Ok(size)
}

/// Temporary copies `sa db backup` makes beside their destination.
const TEMP_PREFIX: &str = ".sa-backup-";
