//! The rules of `sa`: names, permissions, the token format, minting, verifying, and what every
//! change writes to the audit trail. No terminal, no SQL: reads and writes go through
//! [`crate::store::Tx`], and each operation here owns its one transaction.

pub mod accounts;
pub mod audit;
pub mod database;
pub mod hashing;
pub mod names;
pub mod permissions;
pub mod token_format;
pub mod tokens;

use chrono::{DateTime, Utc};

use crate::config::Config;
use names::OrgName;

/// Who is acting, where, and when: passed to every operation.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    pub org: OrgName,
    /// Recorded as `actor` in audit events and as `created_by`/`revoked_by`.
    pub actor: String,
    /// One clock reading per command, so that a command's rows and events agree.
    pub now: DateTime<Utc>,
    pub config: &'a Config,
}
