//! `sa db check` and `sa db backup`: looking at a database without changing it, and copying
//! it while other processes use it.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::header::{self, FileState, RefusalKind};
use super::sql::params;
use super::{Store, Tx, connect, refuse_newer};
use crate::error::{Error, Result};

/// What the file's bytes say, before any check opens it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// The schema version, when the header could be read.
    pub version: Option<i64>,
    /// Why the file cannot be used as it is, if it cannot.
    pub damage: Option<String>,
    /// A `-wal` file was there but could not be read with it (the file was read as it stands).
    pub wal_unread: bool,
    /// A PostgreSQL database (its own schema versions; no file, pages or foreign keys for sa
    /// to check).
    pub postgres: bool,
}

/// Percent-encodes a path for an SQLite `file:` URI.
fn uri_path(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = String::new();
    for &byte in absolute.as_os_str().as_bytes() {
        if byte.is_ascii_alphanumeric() || b"/-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

impl Store {
    /// Opens an existing sa database for reading only, without migrating it and without
    /// applying the retention: for `sa db check`. A damaged file is opened as immutable, so
    /// that not even a `-shm` file is made beside it.
    ///
    /// A PostgreSQL database has no file to look at: its schema is checked as every open
    /// checks it (never created or migrated here), and the rest is the server's business.
    pub fn open_for_check(path: &Path) -> Result<(Self, FileReport)> {
        #[cfg(feature = "postgres")]
        if super::is_url(path) {
            let (store, version) = Self::open_postgres_as(path, false, false)?;
            return Ok((
                store,
                FileReport {
                    version: Some(version),
                    damage: None,
                    wal_unread: false,
                    postgres: true,
                },
            ));
        }
        let report = match header::inspect(path)? {
            FileState::Missing => return Err(Error::NoDatabase(path.to_path_buf())),
            FileState::Refused(RefusalKind::Foreign(why)) => {
                return Err(Error::ForeignDatabase {
                    path: path.to_path_buf(),
                    why,
                });
            }
            FileState::Refused(RefusalKind::Damaged(why)) => FileReport {
                version: None,
                damage: Some(why),
                wal_unread: false,
                postgres: false,
            },
            FileState::Blank => FileReport {
                version: Some(0),
                damage: None,
                wal_unread: false,
                postgres: false,
            },
            FileState::Ours { version } => {
                refuse_newer(path, version)?;
                FileReport {
                    version: Some(version),
                    damage: None,
                    wal_unread: false,
                    postgres: false,
                }
            }
        };
        // SQLite reads a WAL-mode file only through a `-shm` beside it, which it creates;
        // where it cannot (the directory or the file is not writable), and for a damaged
        // file, the file is opened as immutable: read as it stands, nothing made beside it.
        // Otherwise as any command opens it (never migrated), so its -wal and -shm go when
        // it closes.
        let writable = |p: &Path| rustix::fs::access(p, rustix::fs::Access::WRITE_OK).is_ok();
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let immutable = report.damage.is_some() || !writable(path) || !writable(dir);
        let conn = if immutable {
            Connection::open_with_flags(
                format!("file:{}?immutable=1", uri_path(path)),
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_URI
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| super::open_error(path, e))?
        } else {
            connect(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?
        };
        let report = FileReport {
            wal_unread: immutable
                && std::fs::metadata(super::sidecar(path, "-wal")).is_ok_and(|m| m.len() > 0),
            ..report
        };
        Ok((
            Store {
                backend: super::Backend::Sqlite(conn),
                path: path.to_path_buf(),
                created: false,
                light: false,
            },
            report,
        ))
    }

    /// Copies the database into `copy` (an empty file the caller made, and places) with
    /// SQLite's online backup, in one step under one read transaction: a consistent snapshot
    /// of everything committed before it began, while other processes go on writing. Then
    /// runs SQLite's quick check on the copy, so a damaged database is not backed up as if it
    /// were sound. Returns the copy's size in bytes.
    pub fn backup_into(&self, copy: &Path) -> Result<u64> {
        if self.is_postgres() {
            return Err(Error::Refused(format!(
                "`{}` is a PostgreSQL database: back it up with pg_dump, or copy it into an SQLite file with `sa db copy --to PATH`",
                self.path.display()
            )));
        }
        let in_copy = |e: rusqlite::Error| Error::Database {
            message: format!("`{}`: {e}", copy.display()),
            source: Some(Box::new(e)),
        };
        {
            let mut dest = Connection::open(copy).map_err(in_copy)?;
            // The copy is a temporary file until it is complete: no journal beside it.
            let _: String = dest
                .query_row("PRAGMA journal_mode = OFF", [], |r| r.get(0))
                .map_err(in_copy)?;
            let backup = rusqlite::backup::Backup::new(self.sqlite()?, &mut dest)
                .map_err(|e| super::at_path(&self.path, e.into()))?;
            backup
                .step(-1)
                .map_err(|e| super::at_path(&self.path, e.into()))?;
        }
        // Immutable: nobody else has the copy yet, and a WAL-mode file opened any other way
        // would get -wal and -shm files beside it.
        let check = Connection::open_with_flags(
            format!("file:{}?immutable=1", uri_path(copy)),
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_URI
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(in_copy)?;
        let verdict: String = check
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .unwrap_or_else(|e| e.to_string());
        if verdict != "ok" {
            return Err(Error::Damaged {
                path: self.path.clone(),
                why: format!("its copy fails SQLite's quick check: {verdict}"),
            });
        }
        std::fs::metadata(copy)
            .map(|m| m.len())
            .map_err(|e| Error::io(format!("cannot read `{}`", copy.display()), e))
    }
}

impl Tx<'_> {
    /// `PRAGMA integrity_check`: SQLite's own problems with the file, at most `limit`.
    ///
    /// PostgreSQL checks its own pages (and has no such pragma): nothing to report there.
    pub fn integrity_problems(&self, limit: u32) -> Result<Vec<String>> {
        if self.tx.is_postgres() {
            return Ok(Vec::new());
        }
        let rows = self.tx.query_all(
            &format!("PRAGMA integrity_check({limit})"),
            params![],
            |r| r.get::<String>(0),
        )?;
        Ok(rows.into_iter().filter(|row| row != "ok").collect())
    }

    /// `PRAGMA foreign_key_check`: rows that point at a row that does not exist.
    ///
    /// PostgreSQL enforces foreign keys always: nothing can point at a missing row there.
    pub fn foreign_key_problems(&self) -> Result<Vec<String>> {
        if self.tx.is_postgres() {
            return Ok(Vec::new());
        }
        self.tx
            .query_all("PRAGMA foreign_key_check", params![], |r| {
                Ok(format!(
                    "{} row {} refers to a missing row of {}",
                    r.get::<String>(0)?,
                    r.get::<Option<i64>>(1)?
                        .map_or_else(|| "?".into(), |id| id.to_string()),
                    r.get::<String>(2)?
                ))
            })
    }

    /// Tokens whose account row does not exist: (token id, account id).
    pub fn tokens_without_account(&self) -> Result<Vec<(String, i64)>> {
        self.tx.query_all(
            "SELECT /* report: token invariants */ t.id, t.account_id FROM tokens t
             WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = t.account_id)",
            params![],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    /// Tokens whose dates contradict themselves: expiring before they were made, or revoked
    /// with no time of revocation. (id, what is wrong)
    pub fn tokens_with_bad_dates(&self) -> Result<Vec<(String, &'static str)>> {
        self.tx.query_all(
            "SELECT /* report: token invariants */ id,
                    expires_at IS NOT NULL AND expires_at <= created_at
             FROM tokens
             WHERE (expires_at IS NOT NULL AND expires_at <= created_at)
                OR (status = 'revoked' AND revoked_at IS NULL)",
            params![],
            |r| {
                let why = if r.get::<bool>(1)? {
                    "expires before it was created"
                } else {
                    "is revoked without a time of revocation"
                };
                Ok((r.get(0)?, why))
            },
        )
    }

    /// Calls `each` with every token's id and stored hash, streaming; returns how many.
    pub fn for_each_token_hash(&self, mut each: impl FnMut(&str, &str)) -> Result<u64> {
        let mut count = 0;
        self.tx.for_each(
            "SELECT /* report: token invariants */ id, hash FROM tokens",
            params![],
            |row| {
                let id: Option<String> = row.get(0).ok();
                let hash: Option<String> = row.get(1).ok();
                each(id.as_deref().unwrap_or("?"), hash.as_deref().unwrap_or(""));
                count += 1;
                Ok(())
            },
        )?;
        Ok(count)
    }
}
