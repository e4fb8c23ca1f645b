//! `sa` administers service accounts and their API tokens over one local SQLite file.
//!
//! The same crate is the `sa` command-line tool and a library, so a Rust service can check the
//! tokens presented to it in-process, with the code the CLI uses, against the same database.
//! The library is one type, [`Verifier`], and what it answers with: [`Identity`],
//! [`Rejection`], [`Error`], [`TokenId`] and [`Permission`]. Depend on it with
//! `default-features = false` to leave out the terminal front end:
//!
//! ```toml
//! [dependencies]
//! sa = { path = "…", default-features = false }
//!
//! # Without these, a debug build's verification takes about a second instead of 20 ms.
//! [profile.dev.package.argon2]
//! opt-level = 3
//! [profile.dev.package.blake2]
//! opt-level = 3
//! ```
//!
//! The example below is also the README's (`tests/cli/readme.rs` keeps the two the same):
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("sa.db");
//! # let token = sa::testing::mint_for_doc(&path, "ci-bot", "editor")?;
//! # let again = token.clone();
//! use std::sync::Arc;
//! use sa::{Error, Rejection, Verifier};
//!
//! // `Verifier::from_env()` opens the database and [verify] settings `sa` itself uses
//! // ($SA_CONFIG, $SA_DB, XDG paths); `open` takes a path. A missing database is refused.
//! let verifier = Arc::new(Verifier::open(&path)?.with_source("billing-api")?);
//!
//! // One verifier for every worker, without a mutex. A check blocks (argon2, SQLite): async
//! // code runs it with `tokio::task::spawn_blocking`, as this runs it on a thread.
//! let shared = Arc::clone(&verifier);
//! let answer = std::thread::spawn(move || shared.verify(&token, Some("invoices:read")));
//! match answer.join().expect("the verifying thread") {
//!     Ok(identity) => println!("request by {}", identity.account),
//!     Err(Error::Rejected(Rejection::Forbidden { account, .. })) => println!("403: {account}"),
//!     Err(Error::Rejected(reason)) => println!("401: {reason}"), // unknown, expired, revoked…
//!     Err(other) => return Err(other.into()), // storage, with its source: a 500
//! }
//! # assert_eq!(verifier.verify(&again, Some("invoices:read"))?.account, "ci-bot");
//! # assert!(matches!(
//! #     verifier.verify(&again, Some("billing:admin")),
//! #     Err(Error::Rejected(Rejection::Forbidden { account, .. })) if account == "ci-bot"
//! # ));
//! # assert!(matches!(
//! #     verifier.verify("sa_not-a-token", None),
//! #     Err(Error::Rejected(Rejection::Malformed))
//! # ));
//! # Ok(())
//! # }
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used))]
#![warn(missing_docs)]
// Without the CLI, the administration (accounts, roles, minting, reports) is compiled but
// only verifying is reachable: that is the library build, not code to remove.
#![cfg_attr(not(feature = "cli"), allow(dead_code))]

// The floors below the API are the crate's own: a service that could reach `store` could
// revoke a token without an audit event. The `internals` feature (this crate's tests,
// benches and doc examples only) makes them public, undocumented and unstable.
/// Declares the crate's own floors: private, or with `internals` public and hidden.
macro_rules! internal_modules {
    ($($name:ident),*) => {$(
        #[cfg(feature = "internals")]
        #[doc(hidden)]
        #[allow(missing_docs)]
        pub mod $name;
        #[cfg(not(feature = "internals"))]
        mod $name;
    )*};
}
internal_modules!(config, domain, store, time);
#[cfg(feature = "internals")]
#[doc(hidden)]
#[allow(missing_docs)]
pub mod testing;

mod error;
mod verifier;

/// The terminal front end (cargo feature `cli`): the `sa` binary's `main`.
#[cfg(feature = "cli")]
#[doc(hidden)]
#[allow(missing_docs)]
pub mod cli;

pub use domain::permissions::Permission;
pub use domain::token_format::TokenId;
pub use domain::tokens::Identity;
pub use error::Rejection;
pub use verifier::{Error, Verifier};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verifier_is_shared_across_threads_without_a_lock() {
        fn shared<T: Send + Sync>() {}
        shared::<Verifier>();
        shared::<Identity>();
        shared::<Error>();
    }
}
