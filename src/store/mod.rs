//! The only module that speaks SQL: opening the database file, checking that it is ours,
//! migrating it, and typed reads and writes inside transactions.
//!
//! A write runs in one `BEGIN IMMEDIATE` transaction ([`Store::write`]): the domain does its
//! work and its audit event through the same [`Tx`], and the closure's `Ok` commits once. Every
//! value is bound as a parameter, never formatted into SQL.

mod accounts;
mod audit;
mod copy;
mod header;
mod maintenance;
#[cfg(feature = "postgres")]
pub(crate) mod pg;
mod pool;

#[cfg(test)]
mod query_plans;
mod roles;
mod settings;
pub(crate) mod sql;
mod tokens;
mod usage;

use std::fs::OpenOptions;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration as StdDuration;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, TransactionBehavior};

pub use accounts::{Account, AccountFilter, AccountKey, AccountStatus, NewAccount, OrgSummary};
/// For benches/scale.rs, which chains a million events as the store would.
#[cfg(feature = "internals")]
pub use audit::event_hash;
pub use audit::{AuditCheckpoint, AuditEvent, AuditFilter, ChainedEvent, NewAuditEvent};
pub use copy::CopyCounts;
pub use pool::Pool;
pub use roles::RoleRow;
pub use tokens::{
    NewToken, StoredStatus, Token, TokenFilter, TokenForVerify, TokenSelection, TokenSort,
};
pub use usage::{UsageBounds, UsageCounts};

use crate::error::{Error, Result};
use header::FileState;
pub(crate) use header::sidecar;

/// `PRAGMA application_id` of every sa database: "sa" and a format byte, so `file(1)` and we
/// can tell an sa database from any other SQLite file.
pub const APPLICATION_ID: i32 = 0x7361_0001;

/// One schema change: SQL, then (rarely) a step that fixes existing rows in code.
struct Migration {
    sql: &'static str,
    then: Option<fn(&Tx<'_>) -> Result<()>>,
}

/// The migrations, in order; the schema version is the number applied.
const MIGRATIONS: &[Migration] = &[
    Migration {
        sql: include_str!("migrations/0001_init.sql"),
        then: None,
    },
    Migration {
        sql: include_str!("migrations/0002_account_emails.sql"),
        then: Some(accounts::reserve_existing_emails),
    },
    Migration {
        sql: include_str!("migrations/0003_indexes.sql"),
        then: None,
    },
    Migration {
        sql: include_str!("migrations/0004_roles.sql"),
        then: None,
    },
    Migration {
        sql: include_str!("migrations/0005_usage_and_chain.sql"),
        then: Some(audit::chain_existing_events),
    },
    Migration {
        sql: include_str!("migrations/0006_argon2_cost.sql"),
        then: None,
    },
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The schema version this build writes to PostgreSQL (its own migrations).
#[cfg(all(feature = "postgres", feature = "internals"))]
pub const POSTGRES_SCHEMA_VERSION: i64 = pg::PG_SCHEMA_VERSION;

/// How long a process waits for another one's write lock before giving up.
pub(crate) const BUSY_TIMEOUT: StdDuration = StdDuration::from_secs(30);

impl From<rusqlite::Error> for Error {
    fn from(err: rusqlite::Error) -> Self {
        match err.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                Error::Busy {
                    message: err.to_string(),
                    source: Some(Box::new(err)),
                }
            }
            // The path is filled in by `at_path`, which every Store entry point applies.
            Some(rusqlite::ErrorCode::DatabaseCorrupt) => Error::Damaged {
                path: PathBuf::new(),
                why: err.to_string(),
            },
            _ => Error::Database {
                message: err.to_string(),
                source: Some(Box::new(err)),
            },
        }
    }
}

/// An open sa database.
pub struct Store {
    backend: Backend,
    /// The file, or the URL with its password masked: what errors name.
    path: PathBuf,
    created: bool,
    /// Set by [`Store::count_uses_lightly`]: closes without a checkpoint, bounding the WAL
    /// itself (see `Drop`).
    light: bool,
}

/// The connection behind a [`Store`].
enum Backend {
    Sqlite(Connection),
    // Boxed: a PostgreSQL client with its statement cache is three times an SQLite handle.
    #[cfg(feature = "postgres")]
    Pg(Box<pg::Conn>),
}

impl Backend {
    fn sqlite(&self) -> Option<&Connection> {
        match self {
            Backend::Sqlite(conn) => Some(conn),
            #[cfg(feature = "postgres")]
            Backend::Pg(_) => None,
        }
    }

    fn sqlite_mut(&mut self) -> Option<&mut Connection> {
        match self {
            Backend::Sqlite(conn) => Some(conn),
            #[cfg(feature = "postgres")]
            Backend::Pg(_) => None,
        }
    }
}

pub use crate::config::{display_database as display_location, is_database_url as is_url};

/// Whether there is an sa database at `location` (a file, or a schema `sa` on a server; a
/// server that cannot be reached counts as one, so that opening it says why).
pub fn database_exists(location: &Path) -> bool {
    if !is_url(location) {
        return location.exists();
    }
    // Looked at, never migrated: `config path` and a dry run change nothing.
    #[cfg(feature = "postgres")]
    return !matches!(
        Store::open_postgres_as(location, false, false),
        Err(Error::NoDatabase(_))
    );
    #[cfg(not(feature = "postgres"))]
    true
}

/// A WAL larger than this is checkpointed and truncated when a light connection closes.
const LIGHT_WAL_LIMIT: u64 = 512 * 1024;

impl Drop for Store {
    /// A light connection leaves the WAL to a later checkpoint, but the next process to open
    /// the file alone rebuilds the WAL index from the WAL and cannot tell what was already
    /// checkpointed: left alone, a WAL written only by verifications would never restart and
    /// every open would reread all of it. So once it passes [`LIGHT_WAL_LIMIT`], the closing
    /// connection checkpoints it and truncates it to nothing — without waiting: if another
    /// process is reading, the next close tries again.
    fn drop(&mut self) {
        let Some(conn) = self.backend.sqlite() else {
            return;
        };
        if !self.light {
            return;
        }
        let wal = sidecar(&self.path, "-wal");
        if std::fs::metadata(&wal).is_ok_and(|m| m.len() > LIGHT_WAL_LIMIT) {
            let _ = conn.busy_timeout(StdDuration::ZERO);
            let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        }
    }
}

/// What runs a verification's transactions: a [`Store`] itself, or a [`Pool`] that lends one
/// of its connections for each. A verification takes two short transactions, a read and then
/// a write, with argon2 between them; through a pool, no connection is held while it runs.
pub trait Transactions {
    /// As [`Store::read`].
    fn read<T>(&mut self, work: impl FnOnce(&Tx<'_>) -> Result<T>) -> Result<T>;
    /// As [`Store::write`].
    fn write<T>(&mut self, work: impl FnOnce(&Tx<'_>) -> Result<T>) -> Result<T>;
}

impl Transactions for Store {
    fn read<T>(&mut self, work: impl FnOnce(&Tx<'_>) -> Result<T>) -> Result<T> {
        Store::read(self, work)
    }

    fn write<T>(&mut self, work: impl FnOnce(&Tx<'_>) -> Result<T>) -> Result<T> {
        Store::write(self, work)
    }
}

/// A transaction: the only handle through which the domain reads and writes.
pub struct Tx<'conn> {
    tx: sql::Db<'conn>,
}

impl Store {
    /// Opens (creating if needed) the database at `path`.
    ///
    /// A file that is not SQLite, is another program's SQLite database, is a damaged sa
    /// database, or was written by a newer sa is refused before SQLite opens it, so nothing
    /// (not even a `-wal` or `-shm` file beside it) is written.
    pub fn open(path: &Path) -> Result<Self> {
        if is_url(path) {
            return Self::open_postgres(path, true);
        }
        match header::inspect(path)? {
            FileState::Ours { version } => {
                refuse_newer(path, version)?;
                Self::open_checked(path)
            }
            FileState::Refused(kind) => Err(kind.into_error(path)),
            FileState::Missing => {
                create_file(path)?;
                Self::open_first_use(path)
            }
            FileState::Blank => Self::open_first_use(path),
        }
    }

    /// [`Store::open`] for commands that only read: a missing file is
    /// [`Error::NoDatabase`], not a new empty database, so that a mistyped path is not
    /// answered with an empty list that looks like an all-clear.
    pub fn open_existing(path: &Path) -> Result<Self> {
        if is_url(path) {
            return Self::open_postgres(path, false);
        }
        match header::inspect(path)? {
            // A blank file is a first use killed before it began (or `touch`): adopted, as
            // by any command, so that a kill never leaves a file reads cannot open.
            FileState::Missing => Err(Error::NoDatabase(path.to_path_buf())),
            _ => Self::open(path),
        }
    }

    /// One more connection to a database this process already has open and has checked
    /// (a pool's): straight through SQLite, with no look at the file's bytes and no
    /// migration. [`Store::open`] reads the header with `std::fs`, and on POSIX closing any
    /// descriptor of a file drops every lock the process holds on it — the open connections'
    /// too — which let another process write under them (SQLite's "How To Corrupt Your
    /// Database Files", §2.2).
    pub fn open_another(path: &Path) -> Result<Self> {
        if is_url(path) {
            return Self::open_postgres(path, false);
        }
        let conn = connect(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(|e| open_error(path, e))?;
        Ok(Store {
            backend: Backend::Sqlite(conn),
            path: path.to_path_buf(),
            created: false,
            light: false,
        })
    }

    /// A missing or blank file, or one whose first use was killed halfway. Racing first uses
    /// need no lock: the journal switch waits out the others, and the migration re-checks
    /// the marks under the write lock, so exactly one racer sets the file up.
    fn open_first_use(path: &Path) -> Result<Self> {
        switch_to_wal(path)?;
        Self::open_checked(path)
    }

    /// Opens a file already known to be ours or blank, and migrates it.
    fn open_checked(path: &Path) -> Result<Self> {
        let conn = connect(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(|e| open_error(path, e))?;
        // Until the schema is known to be ours, closing must not checkpoint: a newer sa's
        // change still in the -wal file would otherwise be written into the file we refuse.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)
            .map_err(|e| open_error(path, e))?;
        let mut store = Store {
            backend: Backend::Sqlite(conn),
            path: path.to_path_buf(),
            created: false,
            light: false,
        };
        store.created = store.migrate().map_err(|err| at_path(path, err))? == Some(0);
        store
            .sqlite()?
            .set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, false)
            .map_err(|e| open_error(path, e))?;
        Ok(store)
    }

    /// Connects to the PostgreSQL database at `url`, and sets up or upgrades its schema
    /// `sa`. Without `create`, a database with no schema `sa` is [`Error::NoDatabase`].
    #[cfg(feature = "postgres")]
    fn open_postgres(url: &Path, create: bool) -> Result<Self> {
        Self::open_postgres_as(url, create, true).map(|(store, _)| store)
    }

    /// [`Store::open_postgres`], migrating only when `migrate` (else the schema is left as it
    /// is, for `sa db check`); also returns the schema version found.
    #[cfg(feature = "postgres")]
    fn open_postgres_as(url: &Path, create: bool, migrate: bool) -> Result<(Self, i64)> {
        let masked = PathBuf::from(display_location(url));
        let Some(url) = url.to_str() else {
            return Err(Error::database("a database URL must be UTF-8"));
        };
        let mut client = pg::connect(url)?;
        let found = pg::inspect(&mut client, url)?;
        let version = match found {
            pg::Found::Missing if !create => return Err(Error::NoDatabase(masked)),
            pg::Found::Ours { version } => version,
            _ => 0,
        };
        // Current already (every open but the first): no second look, no transaction.
        let current = found
            == pg::Found::Ours {
                version: pg::PG_SCHEMA_VERSION,
            };
        let created = migrate && !current && pg::migrate(&mut client, url)? == Some(0);
        Ok(Store {
            backend: Backend::Pg(Box::new(pg::Conn {
                client,
                statements: Default::default(),
                url: url.into(),
            })),
            path: masked,
            created,
            light: false,
        })
        .map(|store| (store, version))
    }

    #[cfg(not(feature = "postgres"))]
    fn open_postgres(url: &Path, _create: bool) -> Result<Self> {
        Err(Error::database(format!(
            "`{}`: this sa was built without PostgreSQL support (cargo feature `postgres`)",
            display_location(url)
        )))
    }

    /// The SQLite connection, for what only SQLite has (its file, pragmas, backup API).
    fn sqlite(&self) -> Result<&Connection> {
        self.backend.sqlite().ok_or_else(|| {
            Error::database(format!(
                "`{}`: not possible on PostgreSQL",
                self.path.display()
            ))
        })
    }

    /// The SQLite connection itself, for the query-plan test's trace hook.
    #[cfg(test)]
    fn sqlite_mut(&mut self) -> &mut Connection {
        self.backend
            .sqlite_mut()
            .expect("a test of SQLite's plans opened an SQLite database")
    }

    /// Whether this store is a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        self.backend.sqlite().is_none()
    }

    /// Opens a private in-memory database: for unit tests and embedding.
    pub fn open_in_memory() -> Result<Self> {
        let conn = Connection::open_in_memory()?;
        conn.pragma_update(None, "foreign_keys", true)?;
        let mut store = Store {
            backend: Backend::Sqlite(conn),
            path: PathBuf::from(":memory:"),
            created: true,
            light: false,
        };
        store.migrate()?;
        Ok(store)
    }

    /// For a connection that only counts token uses (`sa token verify`, [`crate::Verifier`]):
    /// its commits skip the fsync (`PRAGMA synchronous = NORMAL`), and closing it skips the
    /// checkpoint (the next other command's close, or the WAL growing past
    /// [`LIGHT_WAL_LIMIT`], checkpoints it): two fsyncs and a `-wal`/`-shm` created and removed
    /// less per verification. In WAL mode the database stays consistent; a power failure can
    /// lose at most the last uses counted. Every other command's commits stay fully durable —
    /// they sync the whole WAL, these frames too — so a revocation is never undone by a crash.
    ///
    /// On PostgreSQL the same trade-off is `synchronous_commit = off` for the session, and a
    /// light connection's writes (which only count uses) do not take the writers' lock.
    pub fn count_uses_lightly(&mut self) -> Result<()> {
        match &mut self.backend {
            Backend::Sqlite(conn) => {
                let light = || -> rusqlite::Result<()> {
                    conn.pragma_update(None, "synchronous", "NORMAL")?;
                    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
                    Ok(())
                };
                light().map_err(|e| at_path(&self.path, e.into()))?;
            }
            #[cfg(feature = "postgres")]
            Backend::Pg(pg) => pg
                .client
                .batch_execute("SET synchronous_commit = off")
                .map_err(|e| pg::at(&pg.url, e))?,
        }
        self.light = true;
        Ok(())
    }

    /// Whether this open set the database up (migrated it from blank). Exactly one of
    /// several racing first uses sees `true`.
    pub fn was_created(&self) -> bool {
        self.created
    }

    /// Runs `work` in one write transaction, committed only if it returns `Ok`: on SQLite
    /// `BEGIN IMMEDIATE`, the file's one writer; on PostgreSQL a transaction that first
    /// takes the writers' advisory lock (see [`pg`]), unless this connection only counts
    /// uses. A storage error names the database.
    pub fn write<T>(&mut self, work: impl FnOnce(&Tx<'_>) -> Result<T>) -> Result<T> {
        self.transaction(true, work)
    }

    /// Runs `work` against one consistent snapshot; never writes.
    pub fn read<T>(&mut self, work: impl FnOnce(&Tx<'_>) -> Result<T>) -> Result<T> {
        // Nothing was written; ending the read transaction cannot lose anything.
        self.transaction(false, work)
    }

    fn transaction<T>(
        &mut self,
        write: bool,
        work: impl FnOnce(&Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        #[cfg(feature = "postgres")]
        let light = self.light;
        let result = (|| {
            let tx = Tx {
                tx: match &mut self.backend {
                    Backend::Sqlite(conn) => sql::Db::Sqlite(conn.transaction_with_behavior(
                        if write {
                            TransactionBehavior::Immediate
                        } else {
                            TransactionBehavior::Deferred
                        },
                    )?),
                    #[cfg(feature = "postgres")]
                    Backend::Pg(pg) => sql::Db::Pg(pg::begin(pg, write, light)?),
                },
            };
            let value = work(&tx)?;
            tx.tx.finish(write)?;
            Ok(value)
        })();
        result.map_err(|err| at_path(&self.path, err))
    }

    /// Applies the missing migrations atomically. The version is read first without the
    /// write lock, so a current database that is read-only can still be read; it is read
    /// again under the lock, so concurrent first uses migrate once.
    /// Returns the version migrated from, or `None` when the schema was current.
    fn migrate(&mut self) -> Result<Option<i64>> {
        let path = self.path.clone();
        // PostgreSQL was migrated by `pg::migrate` when it was opened.
        let Some(conn) = self.backend.sqlite_mut() else {
            return Ok(None);
        };
        if schema_version(conn, &path)? == SCHEMA_VERSION {
            return Ok(None);
        }
        let txn = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version = schema_version(&txn, &path)?;
        if version == SCHEMA_VERSION {
            return Ok(None);
        }
        let tx = Tx {
            tx: sql::Db::Sqlite(txn),
        };
        for (applied, migration) in MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(version).unwrap_or(0))
        {
            // SQLite's message alone: the statement itself would be a screenful of SQL.
            let failed = |err: Error| Error::Database {
                message: format!(
                    "cannot upgrade the schema from version {version} (step {} of {SCHEMA_VERSION}): {err}",
                    applied + 1
                ),
                source: Some(Box::new(err)),
            };
            tx.tx.execute_batch(migration.sql).map_err(failed)?;
            if let Some(step) = migration.then {
                step(&tx).map_err(failed)?;
            }
        }
        tx.tx.execute_batch(&format!(
            "PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION};"
        ))?;
        tx.tx.finish(true)?;
        Ok(Some(version))
    }
}

/// What a database says about itself, read through SQLite (so a change still in the -wal
/// file counts): `Blank` or `Ours`, or the refusal `header::judge` gives its marks.
///
/// The application id, the schema version and whether any table exists are read in one
/// statement, so in one snapshot: read one at a time, a racer's migration committing in
/// between would make our own half-set-up file look like another program's.
fn classify(conn: &Connection, path: &Path) -> Result<FileState> {
    let (application_id, version, tables): (i32, i64, i64) = conn
        .query_row(
            "SELECT (SELECT application_id FROM pragma_application_id()), \
                    (SELECT user_version FROM pragma_user_version()), \
                    (SELECT count(*) FROM sqlite_master)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => open_error(path, e),
            _ => Error::from(e),
        })?;
    match header::judge(application_id as u32, version, tables > 0) {
        FileState::Refused(kind) => Err(kind.into_error(path)),
        state => Ok(state),
    }
}

/// The schema version of an sa database (0 for a blank one); refuses anything else.
fn schema_version(conn: &Connection, path: &Path) -> Result<i64> {
    match classify(conn, path)? {
        FileState::Ours { version } => {
            refuse_newer(path, version)?;
            Ok(version)
        }
        _ => Ok(0),
    }
}

fn refuse_newer(path: &Path, version: i64) -> Result<()> {
    if version > SCHEMA_VERSION {
        return Err(Error::NewerSchema {
            path: path.to_path_buf(),
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}

/// A connection that waits up to the busy timeout for other processes' locks.
fn connect(path: &Path, mode: OpenFlags) -> Result<Connection> {
    let conn = Connection::open_with_flags(path, mode | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(|e| open_error(path, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| open_error(path, e))?;
    Ok(conn)
}

/// Puts a blank file in WAL mode before anything is written to it.
///
/// The switch writes page 1 (the journal-mode bytes of the header). Done under a rollback
/// journal, a process killed in the middle would leave a hot journal beside a half-made file
/// (sa 0.1 did); with the journal off, a kill finds the one page written or not — a power
/// failure could tear it, which would leave a damaged blank file, nothing lost. Changing the
/// journal mode needs the file to itself, and SQLite reports a conflict at once instead of
/// waiting, so a first use racing others retries until the busy timeout.
fn switch_to_wal(path: &Path) -> Result<()> {
    let conn = connect(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    let mut pause = StdDuration::from_millis(1);
    loop {
        let attempt = (|| -> Result<String> {
            // The first read rolls back a hot journal; the marks are then read again, as
            // the file may have changed since its bytes were judged (a racer set it up, or
            // another program was still creating it): only a blank file is touched.
            match classify(&conn, path)? {
                FileState::Blank => {}
                _ => return Ok("wal".into()),
            }
            let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
            if mode.eq_ignore_ascii_case("wal") {
                // A racer got there first.
                return Ok(mode);
            }
            make_private(path)?;
            conn.pragma_update_and_check(None, "journal_mode", "OFF", |r| r.get::<_, String>(0))?;
            Ok(conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?)
        })();
        let err = match attempt {
            Ok(mode) if mode.eq_ignore_ascii_case("wal") => return Ok(()),
            // The old mode back without an error: this file system or VFS cannot do WAL.
            Ok(mode) => {
                return Err(Error::database(format!(
                    "`{}`: cannot use the WAL journal here (SQLite kept `{mode}`)",
                    path.display()
                )));
            }
            Err(err) => at_path(path, err),
        };
        if !matches!(err, Error::Busy { .. }) || std::time::Instant::now() >= deadline {
            return Err(err);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(StdDuration::from_millis(50));
    }
}

/// Names the file in a database error that does not yet.
fn at_path(path: &Path, err: Error) -> Error {
    let prefix = format!("`{}`: ", path.display());
    let named = |message: String| {
        if message.starts_with(&prefix) {
            message
        } else {
            format!("{prefix}{message}")
        }
    };
    match err {
        Error::Database { message, source } => Error::Database {
            message: named(message),
            source,
        },
        Error::Busy { message, source } => Error::Busy {
            message: named(message),
            source,
        },
        Error::Damaged { path: p, why } if p.as_os_str().is_empty() => Error::Damaged {
            path: path.to_path_buf(),
            why,
        },
        other => other,
    }
}

/// SQLite's own "file is not a database" means foreign; anything else (locked, no
/// permission, I/O) is about opening our file, and keeps its hint.
fn open_error(path: &Path, err: rusqlite::Error) -> Error {
    match err.sqlite_error_code() {
        Some(rusqlite::ErrorCode::NotADatabase) => Error::ForeignDatabase {
            path: path.to_path_buf(),
            why: err.to_string(),
        },
        _ => at_path(path, Error::from(err)),
    }
}

/// An adopted blank file is about to hold token hashes: make it 0600 like a created one.
fn make_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|e| {
        Error::io(
            format!("cannot restrict `{}` to mode 0600", path.display()),
            e,
        )
    })
}

/// Creates the missing database file with mode 0600 (and its directory with 0700) before
/// SQLite opens it; SQLite gives its -wal and -shm files the same mode. Not exclusive: a
/// racer may have created it since, and a dangling symlink is followed, as SQLite would.
fn create_file(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::io(format!("cannot create `{}`", dir.display()), e))?;
    }
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map(drop)
        .map_err(|err| Error::io(format!("cannot create `{}`", path.display()), err))
}

/// `LIMIT ?`'s value: no limit is the largest one, which both SQLite and PostgreSQL read
/// (SQLite's `-1` is an error to PostgreSQL, and `NULL` one to SQLite).
pub(crate) fn sql_limit(limit: Option<u64>) -> i64 {
    limit.map_or(i64::MAX, |n| i64::try_from(n).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_is_created_private_and_migrated() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/sa.db");
        Store::open(&path).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        assert_eq!(
            header::inspect(&path).unwrap(),
            FileState::Ours {
                version: SCHEMA_VERSION
            }
        );
        // Opening again is a no-op migration.
        Store::open(&path).unwrap();
    }

    #[test]
    fn foreign_files_are_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("x.png");
        let bytes = b"\x89PNG\r\n\x1a\nnot a database at all".to_vec();
        std::fs::write(&png, &bytes).unwrap();
        assert!(matches!(
            Store::open(&png),
            Err(Error::ForeignDatabase { .. })
        ));
        assert_eq!(std::fs::read(&png).unwrap(), bytes);

        let other = dir.path().join("other.db");
        let conn = Connection::open(&other).unwrap();
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
        drop(conn);
        let before = std::fs::read(&other).unwrap();
        let err = Store::open(&other).err().unwrap();
        assert_eq!(err.exit_code(), 3);
        assert_eq!(std::fs::read(&other).unwrap(), before);
    }

    #[test]
    fn only_sqlites_not_a_database_means_foreign() {
        let path = Path::new("/tmp/sa.db");
        let failure = |code| rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), None);
        assert!(matches!(
            open_error(path, failure(rusqlite::ffi::SQLITE_NOTADB)),
            Error::ForeignDatabase { .. }
        ));
        // A lock held too long is about our own file, and keeps its "try again" hint.
        let busy = open_error(path, failure(rusqlite::ffi::SQLITE_BUSY));
        assert!(matches!(busy, Error::Busy { .. }), "{busy}");
        assert!(
            std::error::Error::source(&busy).is_some(),
            "SQLite's error is kept as the source"
        );
        assert!(busy.hint().is_some_and(|h| h.contains("try again")));
        assert!(busy.to_string().contains("/tmp/sa.db"), "{busy}");
    }

    #[test]
    fn storage_errors_name_the_database_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sa.db");
        drop(Store::open(&path).unwrap());
        // A read-only handle, as on a read-only mount: the write fails, naming the file.
        let mut store = Store {
            backend: Backend::Sqlite(connect(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()),
            path: path.clone(),
            created: false,
            light: false,
        };
        let err = store
            .write(|tx| tx.ensure_org("acme", crate::time::now()))
            .unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
        assert!(err.to_string().contains("readonly"), "{err}");
    }

    #[test]
    fn a_newer_schema_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sa.db");
        drop(Store::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        conn.pragma_update(None, "journal_mode", "DELETE").unwrap();
        drop(conn);
        let before = std::fs::read(&path).unwrap();
        assert!(matches!(Store::open(&path), Err(Error::NewerSchema { .. })));
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }
}
