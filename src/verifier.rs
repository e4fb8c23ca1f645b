//! [`Verifier`], the library's API: one value a service shares across all its threads to
//! check the tokens presented to it, with the same code as `sa token verify`, and the
//! [`Error`] it answers with.

mod cache;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::config::{Config, Overrides};
use crate::domain::Context;
use crate::domain::names::{OrgName, check_free_text};
use crate::domain::permissions::Permission;
use crate::domain::token_format::{ParsedToken, TokenId};
use crate::domain::tokens::{self, Identity, VerifyRequest};
use crate::error::{Error as Failure, Rejection};
use crate::store::Pool;
use cache::{Answer, Cache};

/// Why [`Verifier::verify`] (or opening a verifier) gave no identity.
///
/// Match [`Error::Rejected`] for the token's own fault, and treat everything else as the
/// service's: a permission string that does not parse, or a database that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The token was refused; the reason is what `sa token verify --json` calls it.
    /// Answer [`Rejection::Forbidden`] with 403 and the others with 401.
    #[error("token rejected: {0}")]
    Rejected(Rejection),
    /// A value passed to the library broke its rule: a permission that is not
    /// `resource:action`, an organization name, a source label. The message says which.
    #[error("{0}")]
    InvalidInput(String),
    /// There is no sa database at this path. Nothing was created: a verifier only reads
    /// (and counts uses), and a mistyped path must not become an empty database.
    #[error("there is no sa database at `{}`", .0.display())]
    NoDatabase(PathBuf),
    /// The config file ([`Verifier::from_env`]) cannot be read or has a bad value.
    #[error("config `{}`: {message}", path.display())]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong, naming the key.
        message: String,
    },
    /// The database could not be used: not an sa database, written by a newer sa, damaged,
    /// locked by another process past the 30 s busy timeout, or an I/O error. `source` is
    /// the underlying error (SQLite's, or the operating system's) when there is one.
    #[error("{message}")]
    Storage {
        /// What failed, naming the database file.
        message: String,
        /// The error underneath.
        source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
    },
}

impl From<Failure> for Error {
    fn from(failure: Failure) -> Self {
        let message = failure.to_string();
        match failure {
            Failure::Rejected(reason) => Error::Rejected(reason),
            Failure::InvalidInput(message) => Error::InvalidInput(message),
            Failure::NoDatabase(path) => Error::NoDatabase(path),
            Failure::Config { path, message } => Error::Config { path, message },
            Failure::Database { source, .. } | Failure::Busy { source, .. } => {
                Error::Storage { message, source }
            }
            Failure::Io { source, .. } => Error::Storage {
                message,
                source: Some(Box::new(source)),
            },
            Failure::ForeignDatabase { .. }
            | Failure::NewerSchema { .. }
            | Failure::Damaged { .. } => Error::Storage {
                message,
                source: None,
            },
            // The administrator's refusals: nothing a verifier runs gives one, and were it to,
            // it would be the service's failure to report, not the token's.
            Failure::ConfirmationRequired { .. }
            | Failure::AccountNotFound { .. }
            | Failure::AccountDeleted { .. }
            | Failure::NameTaken { .. }
            | Failure::LimitReached { .. }
            | Failure::Refused(_)
            | Failure::TokenNotFound(_)
            | Failure::TokenOfDeletedAccount { .. }
            | Failure::RoleNotFound(_)
            | Failure::ActingTokenRejected { .. }
            | Failure::Cancelled
            | Failure::Jq(_)
            | Failure::Interrupted => Error::Storage {
                message,
                source: None,
            },
        }
    }
}

impl std::str::FromStr for Permission {
    type Err = Error;

    /// Parses `resource:action` (`dashboards:read`, `dashboards:*`, `*`).
    fn from_str(text: &str) -> Result<Self, Error> {
        Ok(Permission::parse(text)?)
    }
}

impl std::str::FromStr for TokenId {
    type Err = Error;

    /// Parses a 12-character token id (never a whole token).
    fn from_str(text: &str) -> Result<Self, Error> {
        Ok(TokenId::parse(text)?)
    }
}

/// Checks presented tokens against an sa database, counting each success as
/// `sa token verify` does. `Send + Sync`: share one (an `Arc<Verifier>`, or a `static`) among
/// all of a service's threads or tasks; there is nothing to lock around it.
///
/// **What a verification costs.** A token not in the cache costs one argon2id verification
/// at the database's cost (about 20 ms of one core at the default m = 19456 KiB, t = 2, on
/// the machine in docs/benchmarks.md), one read by primary key and, on success, one short
/// write of its use count. It runs with no lock held and no connection lent: the lookup and
/// the write each borrow one of a few pooled SQLite connections for their transaction only,
/// so threads verify in parallel. A token in the cache costs a keyed hash and a map lookup
/// (well under a microsecond; see docs/benchmarks.md).
///
/// **It blocks**: on argon2 and on SQLite (which waits up to 30 s for another process's
/// write lock). In async code call it through `tokio::task::spawn_blocking` (or your
/// runtime's equivalent), not on an executor thread.
///
/// **It writes**: every success is counted in the token's `use_count`, `last_used_at`,
/// `last_used_source` and the day's counter, as `sa usage` and `sa token list --usage`
/// report them. Hits answered from the cache are counted in memory and written in one
/// transaction at most once per cache TTL, by whichever call finds them due, and when the
/// verifier is dropped ([`Verifier::flush`] writes them now and reports a failure, which a
/// drop cannot). So `use_count` is exactly the number of successful checks once they are
/// written; a process that is killed loses the hits of its last TTL.
///
/// **The cache** (`verify.cache_ttl`, default 5 s; `verify.cache_entries`, default 10,000):
/// a success is remembered for the TTL, keyed by a keyed hash of the whole token (never the
/// token itself), so that a service checking the same token on every request runs argon2
/// once per TTL. The price is the bound: **within the TTL after a successful check, a
/// revocation, a pause, a disabled account or a narrowed role is not seen** — never longer
/// than the TTL, and never past the token's `expires_at`. Hits counted in memory are written
/// even if the token was revoked since (each was a success when it was answered). Failed
/// checks are never cached. The permission asked for is checked on every call, against the
/// cached identity's permissions. `with_cache(Duration::ZERO, 0)` (or `cache_ttl = "0s"`)
/// turns it off.
///
/// **The argon2 cost** is the database's own, which the `sa` administering it records from
/// its config; the verifier's `[argon2]` applies only to a database that records none yet.
/// So a verifier and the CLI never re-hash each other's tokens back and forth.
pub struct Verifier {
    pool: Pool,
    config: Config,
    org: OrgName,
    source: Option<String>,
    cache: Option<Cache>,
}

impl Verifier {
    /// Opens the sa database at `path`, in the `default` organization, with the default
    /// cache (5 s, 10,000 tokens). A missing database is [`Error::NoDatabase`]; nothing is
    /// created.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::with_config(Config::with_db_path(path.as_ref()))
    }

    /// Opens the database `sa` itself would use, with its config file's `[verify]` settings:
    /// the config from `$SA_CONFIG`, else `$XDG_CONFIG_HOME/sa/config.toml` (or
    /// `~/.config/sa/config.toml`); the database from `$SA_DB`, else the file's `db_path`,
    /// else `$XDG_DATA_HOME/sa/sa.db` (or `~/.local/share/sa/sa.db`). `$SA_ORG` is not read:
    /// use [`Verifier::with_org`].
    pub fn from_env() -> Result<Self, Error> {
        Self::with_config(Config::load(&Overrides::from_env(None, None))?)
    }

    pub(crate) fn with_config(config: Config) -> Result<Self, Error> {
        let pool = Pool::open(&config.db_path)?;
        let cache = Cache::new(
            Duration::from_secs(config.verify.cache_ttl.as_secs().unsigned_abs()),
            usize::try_from(config.verify.cache_entries).unwrap_or(usize::MAX),
        )?;
        Ok(Verifier {
            pool,
            config,
            org: OrgName::default(),
            source: None,
            cache,
        })
    }

    /// Accepts only tokens of accounts in `org` (any other token is `unknown`).
    pub fn with_org(mut self, org: &str) -> Result<Self, Error> {
        let org = OrgName::parse(org)?;
        self.flush()?;
        if let Some(cache) = &self.cache {
            // What was cached was verified in the other organization.
            cache.clear();
        }
        self.org = org;
        Ok(self)
    }

    /// Recorded as each verified token's `last_used_source` (e.g. the service's name): at
    /// most 1000 characters, no control characters, no token.
    pub fn with_source(mut self, source: &str) -> Result<Self, Error> {
        check_free_text("the source", source)?;
        self.flush()?;
        self.source = Some(source.to_string());
        Ok(self)
    }

    /// Keeps successful verifications for `ttl`, at most `max_entries` of them, instead of
    /// the config's `verify.cache_ttl` and `verify.cache_entries`; a zero `ttl` (or
    /// `max_entries`) turns the cache off. See [`Verifier`] for what a cache may not see.
    pub fn with_cache(mut self, ttl: Duration, max_entries: usize) -> Result<Self, Error> {
        self.flush()?;
        self.cache = Cache::new(ttl, max_entries)?;
        Ok(self)
    }

    /// Checks a presented `token` (surrounding whitespace is ignored) and, if given, that it
    /// holds `permission` (`resource:action`).
    ///
    /// `Ok` is who it speaks for; [`Error::Rejected`] says why not ([`Rejection::Forbidden`]
    /// names the account and token, and is not counted as a use); [`Error::InvalidInput`]
    /// is a `permission` that does not parse; anything else is a storage failure. A
    /// malformed token is refused without touching the database or running argon2.
    pub fn verify(&self, token: &str, permission: Option<&str>) -> Result<Identity, Error> {
        let began = Instant::now();
        let permission = permission.map(Permission::parse).transpose()?;
        let presented = token.trim();
        let parsed = tokens::parse_presented(presented)?;
        let Some(cache) = &self.cache else {
            return Ok(self.check(&parsed, permission.as_ref())?);
        };
        let key = cache.key(presented);
        let allow = |identity: &Identity| {
            let wanted = permission.as_ref()?;
            (!identity.allows(wanted)).then(|| identity.forbidden(wanted))
        };
        let answer = match cache.answer(&key, &parsed.id, began, chrono::Utc::now(), allow) {
            Answer::Hit(identity) => Ok(identity),
            Answer::Refused(reason) => Err(Error::Rejected(reason)),
            Answer::Miss => {
                let checked = self.check(&parsed, permission.as_ref());
                match &checked {
                    Ok(identity) => cache.insert(key, identity.clone(), began),
                    Err(_) => cache.remove(&key),
                }
                checked.map_err(Error::from)
            }
        };
        if let Some(due) = cache.due(Instant::now()) {
            // The answer stands either way: a batch that fails is kept for the next time.
            let _ = self.record(cache, due);
        }
        answer
    }

    /// Writes the use counts of cached hits now, instead of at the next due time or on drop.
    /// A failure is reported here; the counts are kept to be written the next time.
    pub fn flush(&self) -> Result<(), Error> {
        match &self.cache {
            Some(cache) => self.record(cache, cache.drain()),
            None => Ok(()),
        }
    }

    /// Writes `uses` in one transaction, or gives them back to the cache.
    fn record(&self, cache: &Cache, uses: Vec<tokens::CachedUses>) -> Result<(), Error> {
        let written = tokens::record_cached_uses(&mut &self.pool, &uses, self.source.as_deref());
        if written.is_err() {
            cache.put_back(uses);
        }
        Ok(written?)
    }

    /// One verification against the database (and argon2), counted there on success.
    fn check(
        &self,
        parsed: &ParsedToken,
        permission: Option<&Permission>,
    ) -> Result<Identity, Failure> {
        let ctx = Context::reader(self.org.clone(), &self.config);
        let request = VerifyRequest {
            token: parsed,
            permission,
            source: self.source.as_deref(),
        };
        tokens::verify(&mut &self.pool, &ctx, &request)
    }
}

impl Drop for Verifier {
    /// Writes the hits still counted in memory; a failure cannot be reported here (call
    /// [`Verifier::flush`] first to see it).
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("db_path", &self.config.database_display())
            .field("org", &self.org.as_str())
            .field("source", &self.source)
            .field("cached", &self.cache.is_some())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    #[test]
    fn storage_errors_keep_their_source() {
        let io = Failure::Io {
            context: "cannot read `/srv/sa.db`".into(),
            source: std::io::Error::other("disk gone"),
        };
        let err = Error::from(io);
        assert!(matches!(err, Error::Storage { .. }));
        assert_eq!(
            err.source().map(|s| s.to_string()).as_deref(),
            Some("disk gone")
        );
        let busy = Failure::Busy {
            message: "`/srv/sa.db`: database is locked".into(),
            source: Some(Box::new(std::io::Error::other("locked"))),
        };
        let err = Error::from(busy);
        assert!(err.to_string().contains("/srv/sa.db"), "{err}");
        assert!(err.source().is_some());
    }

    #[test]
    fn rejections_and_bad_input_keep_their_kind() {
        assert!(matches!(
            Error::from(Failure::Rejected(Rejection::Expired)),
            Error::Rejected(Rejection::Expired)
        ));
        let err = "not a permission".parse::<Permission>().unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err}");
        assert!("sa_3kT9xQ2mPz7L".parse::<TokenId>().is_err());
        assert_eq!(
            "3kT9xQ2mPz7L".parse::<TokenId>().unwrap().as_str(),
            "3kT9xQ2mPz7L"
        );
    }
}
