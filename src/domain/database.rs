//! `sa db check` and `sa db backup`: whether a database is sound, and a consistent copy.

use std::path::Path;

use crate::domain::hashing;
use crate::error::{Error, Result};
use crate::domain::Context;
use crate::store::{CopyCounts, NewAuditEvent, SCHEMA_VERSION, Store};

/// The most problems one check lists; the rest are counted.
const LISTED: usize = 20;

/// One check and what it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: &'static str,
    /// What was looked at, when all is well (`1000 tokens`).
    pub summary: String,
    /// What is wrong; empty when the check passed.
    pub problems: Vec<String>,
}

impl Check {
    fn new(name: &'static str, summary: String, mut problems: Vec<String>) -> Self {
        if problems.len() > LISTED {
            let more = problems.len() - LISTED;
            problems.truncate(LISTED);
            problems.push(format!("… and {more} more"));
        }
        Check {
            name,
            summary,
            problems,
        }
    }

    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

/// What `sa db check` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// The schema version from the file's header (`None` when it could not be read).
    pub schema_version: Option<i64>,
    pub checks: Vec<Check>,
}

impl CheckReport {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(Check::passed)
    }
}

/// Checks the database at `path` without changing it: the file itself, SQLite's integrity
/// check, foreign keys, and that every token has an account and an argon2id hash. A file
/// that is not an sa database, or from a newer sa, is an error (exit 3) as everywhere; a
/// damaged sa database is a report of what is wrong.
pub fn check(path: &Path) -> Result<CheckReport> {
    let (mut store, file) = Store::open_for_check(path)?;
    if file.version == Some(0) && file.damage.is_none() {
        // Empty, or a first use that was interrupted: nothing to check, nothing wrong.
        return Ok(CheckReport {
            schema_version: Some(0),
            checks: vec![Check::new(
                "file",
                "blank: the next command that opens it sets it up".into(),
                vec![],
            )],
        });
    }
    let mut checks = Vec::new();
    if file.postgres {
        return Ok(check_postgres(&mut store, file.version));
    }
    let version_note = match file.version {
        Some(v) if v < SCHEMA_VERSION => format!(
            "schema version {v}; the next command that opens it upgrades it to {SCHEMA_VERSION}"
        ),
        Some(v) => format!("schema version {v}"),
        None => "schema version unknown".into(),
    };
    let unread = if file.wal_unread {
        " (read without its -wal file, which this user cannot open beside it)"
    } else {
        ""
    };
    checks.push(Check::new(
        "file",
        format!("sa database, {version_note}{unread}"),
        file.damage.into_iter().collect(),
    ));
    // Each check reports its own failure instead of ending the command: a damaged file is
    // what this command exists to describe.
    let problems_or_error = |found: Result<Vec<String>>| match found {
        Ok(problems) => problems,
        Err(err) => vec![err.to_string()],
    };
    let integrity = store.read(|tx| tx.integrity_problems(100));
    checks.push(Check::new(
        "integrity",
        "SQLite's integrity check".into(),
        problems_or_error(integrity),
    ));
    let foreign_keys = store.read(|tx| tx.foreign_key_problems());
    checks.push(Check::new(
        "foreign keys",
        "every reference leads to a row".into(),
        problems_or_error(foreign_keys),
    ));
    checks.push(token_invariants(&mut store));
    if file.version.is_some_and(|v| v >= CHAINED_SINCE) {
        checks.push(audit_chains(&mut store));
    }
    Ok(CheckReport {
        schema_version: file.version,
        checks,
    })
}

/// `check` of a PostgreSQL database: the same five checks, of which the server itself keeps
/// two (its pages are its own, and it enforces foreign keys always).
fn check_postgres(store: &mut Store, version: Option<i64>) -> CheckReport {
    let summary = match version {
        Some(0) => "sa's schema `sa` on PostgreSQL, blank: the next command sets it up".into(),
        Some(v) => format!("sa's schema `sa` on PostgreSQL, schema version {v}"),
        None => "sa's schema `sa` on PostgreSQL".into(),
    };
    let mut checks = vec![
        Check::new("file", summary, vec![]),
        Check::new(
            "integrity",
            "kept by the PostgreSQL server (its own checksums and WAL)".into(),
            vec![],
        ),
        Check::new(
            "foreign keys",
            "enforced by PostgreSQL on every write".into(),
            vec![],
        ),
    ];
    if version.is_some_and(|v| v > 0) {
        checks.push(token_invariants(store));
        checks.push(audit_chains(store));
    }
    CheckReport {
        schema_version: version,
        checks,
    }
}

/// Every token has an account, an argon2id hash and dates that agree.
fn token_invariants(store: &mut Store) -> Check {
    let mut problems = Vec::new();
    let tokens = store.read(|tx| {
        for (token, account) in tx.tokens_without_account()? {
            problems.push(format!(
                "token `{token}` belongs to account {account}, which does not exist"
            ));
        }
        for (token, why) in tx.tokens_with_bad_dates()? {
            problems.push(format!("token `{token}` {why}"));
        }
        tx.for_each_token_hash(|id, hash| {
            if !hashing::is_argon2id_phc(hash) {
                problems.push(format!("token `{id}` has no argon2id PHC hash"));
            }
        })
    });
    let summary = match &tokens {
        Ok(count) => {
            format!("{count} tokens, each with an account, an argon2id hash and dates that agree")
        }
        Err(_) => "tokens".into(),
    };
    if let Err(err) = tokens {
        problems.push(err.to_string());
    }
    Check::new("tokens", summary, problems)
}

/// The schema version from which audit events are hash-chained.
const CHAINED_SINCE: i64 = 5;

/// Every organization's audit chain, as `sa audit verify` walks it.
fn audit_chains(store: &mut Store) -> Check {
    let walked = store.read(|tx| {
        let mut events = 0;
        let mut problems = Vec::new();
        let orgs = tx.audit_orgs()?;
        for org in &orgs {
            let report = crate::domain::audit::walk_chain(tx, org)?;
            events += report.checked;
            if let Some((id, why)) = report.problem {
                problems.push(format!("organization `{org}`, event {id}: {why}"));
            }
        }
        Ok((orgs.len(), events, problems))
    });
    match walked {
        Ok((orgs, events, problems)) => Check::new(
            "audit chain",
            format!("{events} events of {orgs} organization(s), each linked to the one before"),
            problems,
        ),
        Err(err) => Check::new("audit chain", "audit chain".into(), vec![err.to_string()]),
    }
}

/// Copies the database at `path` into `copy` (an empty file the caller made and will put in
/// place); returns the copy's size in bytes. The database is opened as `check` opens it — not
/// migrated, so a backup taken before an upgrade is of the old schema — and a damaged one is
/// refused rather than copied. A PostgreSQL database is copied row by row into `copy` as an
/// SQLite database (what `sa db copy --to PATH` makes), in one snapshot.
pub fn backup(path: &Path, copy: &Path) -> Result<u64> {
    let (mut store, file) = Store::open_for_check(path)?;
    if let Some(why) = file.damage {
        return Err(Error::Damaged {
            path: path.to_path_buf(),
            why,
        });
    }
    if file.postgres {
        let mut target = Store::open(copy)?;
        store.copy_into(&mut target, |_, _| Ok(()))?;
        drop(target);
        return std::fs::metadata(copy)
            .map(|m| m.len())
            .map_err(|e| Error::io(format!("cannot read `{}`", copy.display()), e));
    }
    store.backup_into(copy)
}

/// `sa db copy --to TARGET`: every row of `source` into the empty database at `target` (a
/// file or a URL), in one transaction there, with one `db.copy` event appended to each
/// organization's audit chain in the copy. The source is only read.
pub fn copy(source: &mut Store, ctx: &Context<'_>, target: &Path) -> Result<CopyCounts> {
    let from = ctx.config.database_display();
    let mut into = Store::open(target)?;
    source.copy_into(&mut into, |tx, counts| {
        for org in tx.audit_orgs()? {
            tx.insert_audit_event(&NewAuditEvent {
                at: ctx.now,
                actor: &ctx.actor,
                action: "db.copy",
                org: &org,
                target: "database",
                account_id: None,
                details: &[
                    ("from", from.clone()),
                    ("accounts", counts.of("accounts").to_string()),
                    ("tokens", counts.of("tokens").to_string()),
                    ("audit_events", counts.of("audit_events").to_string()),
                ],
            })?;
        }
        Ok(())
    })
}
