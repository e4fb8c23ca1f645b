//! The rules of `sa`: names, permissions, the token format, minting, verifying, and what every
//! change writes to the audit trail. No terminal, no SQL: reads and writes go through
//! [`crate::store::Tx`], and each operation here owns its one transaction.

pub mod accounts;
pub mod apply;
pub mod audit;
pub mod database;
pub mod hashing;
pub mod manifest;
pub mod names;
pub mod permissions;
pub mod roles;
// Only `sa scan` uses it, and its memchr comes with the `cli` feature.
#[cfg(feature = "cli")]
pub mod scan;
pub mod token_format;
pub mod tokens;
pub mod usage;

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
    /// The service account acting through `$SA_TOKEN`, when one is: what it may do bounds
    /// what it may hand out (no escalation), and its events name it and its token.
    pub acting: Option<Acting>,
}

impl<'a> Context<'a> {
    /// A context for reading and verifying, not for changes: no actor, no acting token, the
    /// clock read now.
    pub fn reader(org: OrgName, config: &'a Config) -> Self {
        Context {
            org,
            actor: String::new(),
            now: crate::time::now(),
            config,
            acting: None,
        }
    }
}

/// A service account acting through one of its tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acting {
    pub account: String,
    pub account_id: i64,
    pub token_id: String,
    /// The token's effective permissions.
    pub permissions: Vec<permissions::Permission>,
}

impl Context<'_> {
    /// Who ran the command that triggered a policy's change (a retention purge, the stale
    /// policy) in organization `org`, as its event records it. A service account acts in its
    /// own organization only: another's trail is not told its name.
    pub fn triggered_by(&self, org: &str) -> String {
        if self.acting.is_some() && org != self.org.as_str() {
            "a service account of another organization".to_string()
        } else {
            self.actor.clone()
        }
    }

    /// Refuses (exit 1) when a service account acting through a token would hand out, with
    /// `what`, permissions it does not hold itself. An administrator (no token) may.
    pub fn refuse_escalation(
        &self,
        what: &str,
        wanted: &[permissions::Permission],
    ) -> crate::error::Result<()> {
        let Some(acting) = &self.acting else {
            return Ok(());
        };
        let lacking: Vec<String> = wanted
            .iter()
            .filter(|w| !permissions::allows(&acting.permissions, w))
            .map(|w| format!("`{w}`"))
            .collect();
        if lacking.is_empty() {
            return Ok(());
        }
        Err(crate::error::Error::Refused(format!(
            "account `{}` may not {what}: that hands out {}, which it does not hold itself",
            acting.account,
            lacking.join(", ")
        )))
    }
}
