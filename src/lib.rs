//! `sa` administers service accounts and their API tokens over one local SQLite file.
//!
//! The same crate is the `sa` command-line tool and a library, so a Rust service can check the
//! tokens presented to it in-process, with the code the CLI uses, against the same database.
//! Depend on it with `default-features = false` to leave out the terminal front end.
//!
//! ```
//! # fn main() -> Result<(), sa::Error> {
//! # let dir = tempfile::tempdir().unwrap();
//! # let path = dir.path().join("sa.db");
//! use sa::{Config, Rejection, Verifier};
//!
//! let mut config = Config::with_db_path(&path); // or Config::load(&Overrides::from_env(None, None))
//! # config.argon2.memory_kib = 64; config.argon2.iterations = 1;
//! # let token = sa::testing::mint_for_doc(&config, "ci-bot", "editor")?;
//! let mut verifier = Verifier::open(config)?;
//!
//! // `token` is what a client presented, e.g. from an `Authorization: Bearer` header.
//! let identity = verifier.verify(&token, Some("dashboards:read"))?;
//! assert_eq!(identity.account, "ci-bot");
//!
//! match verifier.verify("sa_not-a-token", None) {
//!     Err(sa::Error::Rejected(Rejection::Malformed)) => {} // refused without a database lookup
//!     other => panic!("{other:?}"),
//! }
//! # Ok(())
//! # }
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used))]

pub mod config;
pub mod domain;
pub mod error;
pub mod store;
pub mod time;

#[cfg(feature = "cli")]
pub mod cli;

#[doc(hidden)]
pub mod testing;

pub use config::{Config, Overrides};
pub use domain::names::OrgName;
pub use domain::permissions::Permission;
pub use domain::tokens::Identity;
pub use error::{Error, Rejection, Result};
pub use store::Store;

use domain::Context;
use domain::tokens::VerifyRequest;

/// Verifies tokens against an sa database, counting each successful check as `sa token verify`
/// does.
pub struct Verifier {
    store: Store,
    config: Config,
    org: OrgName,
    source: Option<String>,
}

impl Verifier {
    /// Opens the database named by `config.db_path`, in the `default` organization. A
    /// missing database is [`Error::NoDatabase`]: a verifier only reads, and a mistyped path
    /// must not become an empty database that rejects every token.
    pub fn open(config: Config) -> Result<Self> {
        let mut store = Store::open_existing(&config.db_path)?;
        store.count_uses_lightly()?;
        Ok(Verifier {
            store,
            config,
            org: OrgName::default(),
            source: None,
        })
    }

    /// Accepts only tokens of accounts in `org`.
    pub fn with_org(mut self, org: &str) -> Result<Self> {
        self.org = OrgName::parse(org)?;
        Ok(self)
    }

    /// Recorded as each verified token's `last_used_source` (e.g. the service's name): at
    /// most 1000 characters, no control characters, no token.
    pub fn with_source(mut self, source: &str) -> Result<Self> {
        domain::names::check_free_text("the source", source)?;
        self.source = Some(source.to_string());
        Ok(self)
    }

    /// Checks `token` (and, if given, that it holds `permission`). A refusal is
    /// `Err(Error::Rejected(reason))`; an unparseable `permission` is
    /// `Err(Error::InvalidInput(_))`; anything else is a storage failure.
    pub fn verify(&mut self, token: &str, permission: Option<&str>) -> Result<Identity> {
        let permission = permission.map(Permission::parse).transpose()?;
        let ctx = Context {
            org: self.org.clone(),
            actor: String::new(),
            now: time::now(),
            config: &self.config,
            acting: None,
        };
        domain::tokens::verify(
            &mut self.store,
            &ctx,
            &VerifyRequest {
                token: &domain::tokens::parse_presented(token)?,
                permission: permission.as_ref(),
                source: self.source.as_deref(),
            },
        )
    }
}
