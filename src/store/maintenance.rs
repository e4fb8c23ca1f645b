//! `sa db check` and `sa db backup`: looking at a database without changing it, and copying
//! it while other processes use it.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::header::{self, FileState, RefusalKind};
use super::{Store, Tx, connect, refuse_newer};
use crate::error::{Error, Result};

/// What the file's bytes say, before any check opens it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// The schema version, when the header could be read.
    pub version: Option<i64>,
    /// Why the file cannot be used as it is, if it cannot.
    pub damage: Option<String>,
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
    pub fn open_for_check(path: &Path) -> Result<(Self, FileReport)> {
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
            },
            FileState::Blank => FileReport {
                version: Some(0),
                damage: None,
            },
            FileState::Ours { version } => {
                refuse_newer(path, version)?;
                FileReport {
                    version: Some(version),
                    damage: None,
                }
            }
        };
        let conn = if report.damage.is_some() {
            Connection::open_with_flags(
                format!("file:{}?immutable=1", uri_path(path)),
                OpenFlags::SQLITE_OPEN_READ_ONLY
                    | OpenFlags::SQLITE_OPEN_URI
                    | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .map_err(|e| super::open_error(path, e))?
        } else {
            connect(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?
        };
        Ok((
            Store {
                conn,
                path: path.to_path_buf(),
                created: false,
            },
            report,
        ))
    }

    /// Copies the database into a new file at `dest` with SQLite's online backup, in one
    /// step under one read transaction: a consistent snapshot of everything committed
    /// before it began, while other processes go on writing. The copy is made beside `dest`
    /// as a 0600 temporary file and linked into place only when complete, so `dest` never
    /// exists half-written, and an existing `dest` is never replaced. Returns its size.
    pub fn backup_to(&self, dest: &Path) -> Result<u64> {
        let dir = match dest.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let failed = |e: std::io::Error| Error::io(format!("cannot write `{}`", dest.display()), e);
        let temp = tempfile::Builder::new()
            .prefix(".sa-backup-")
            .permissions(
                <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o600),
            )
            .tempfile_in(&dir)
            .map_err(|e| {
                // tempfile names the temporary file that never came to be; the OS error is
                // the news.
                let text = e.to_string();
                let text = text.split(" at path ").next().unwrap_or(&text).to_string();
                Error::io(
                    format!("cannot create a file in `{}`", dir.display()),
                    std::io::Error::new(e.kind(), text),
                )
            })?;
        {
            let mut copy = Connection::open(temp.path())
                .map_err(|e| Error::Database(format!("`{}`: {e}", dest.display())))?;
            let backup = rusqlite::backup::Backup::new(&self.conn, &mut copy)
                .map_err(|e| super::at_path(&self.path, e.into()))?;
            backup
                .step(-1)
                .map_err(|e| super::at_path(&self.path, e.into()))?;
        }
        let file = temp.as_file();
        file.sync_all().map_err(failed)?;
        let size = file.metadata().map_err(failed)?.len();
        // A hard link never replaces: if `dest` appeared meanwhile, this fails and the
        // temporary file goes with `temp`.
        std::fs::hard_link(temp.path(), dest).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Error::Refused(format!(
                    "`{}` exists; `sa db backup` writes a new file and never replaces one",
                    dest.display()
                ))
            } else {
                failed(e)
            }
        })?;
        drop(temp);
        std::fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(failed)?;
        Ok(size)
    }
}

impl Tx<'_> {
    /// `PRAGMA integrity_check`: SQLite's own problems with the file, at most `limit`.
    pub fn integrity_problems(&self, limit: u32) -> Result<Vec<String>> {
        let mut stmt = self
            .tx
            .prepare(&format!("PRAGMA integrity_check({limit})"))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows.into_iter().filter(|row| row != "ok").collect())
    }

    /// `PRAGMA foreign_key_check`: rows that point at a row that does not exist.
    pub fn foreign_key_problems(&self) -> Result<Vec<String>> {
        let mut stmt = self.tx.prepare("PRAGMA foreign_key_check")?;
        let rows = stmt
            .query_map([], |r| {
                Ok(format!(
                    "{} row {} refers to a missing row of {}",
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<i64>>(1)?
                        .map_or_else(|| "?".into(), |id| id.to_string()),
                    r.get::<_, String>(2)?
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Tokens whose account row does not exist: (token id, account id).
    pub fn tokens_without_account(&self) -> Result<Vec<(String, i64)>> {
        let mut stmt = self.tx.prepare(
            "SELECT /* report: token invariants */ t.id, t.account_id FROM tokens t
             WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = t.account_id)",
        )?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Calls `each` with every token's id and stored hash, streaming; returns how many.
    pub fn for_each_token_hash(&self, mut each: impl FnMut(&str, &str)) -> Result<u64> {
        let mut stmt = self
            .tx
            .prepare("SELECT /* report: token invariants */ id, hash FROM tokens")?;
        let mut rows = stmt.query([])?;
        let mut count = 0;
        while let Some(row) = rows.next()? {
            let id = row.get_ref(0)?.as_str().unwrap_or("?");
            let hash = row.get_ref(1)?.as_str().unwrap_or("");
            each(id, hash);
            count += 1;
        }
        Ok(count)
    }
}
