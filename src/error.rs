//! The one error type of the library and its mapping to the exit codes of SPEC §2.
//!
//! Every failure is a value until `cli::main`, which prints it as one `error: …` line (plus an
//! optional `hint: …`) and exits with [`Error::exit_code`]. Variants carry what their message
//! needs, so the message is written once, here.

use std::path::PathBuf;

use crate::domain::permissions::Permission;
use crate::domain::token_format::TokenId;

/// Why a token check said no. The names ([`Rejection::as_str`]) are the `reason` values of
/// `sa token verify --json`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// Not a token of this format, or its checksum does not match (no database access).
    Malformed,
    /// Well-formed, but no such token in this organization, or the secret does not match.
    Unknown,
    /// Past its `expires_at`.
    Expired,
    /// Revoked (also every token of a deleted account).
    Revoked,
    /// The token is paused, or its account is disabled.
    Disabled,
    /// Valid, but it does not hold the permission that was asked for. Not counted as a use.
    Forbidden {
        /// The account the token belongs to: whose request was refused.
        account: String,
        /// The token's public id.
        token_id: TokenId,
        /// The permission asked for, which the token does not hold.
        permission: Permission,
    },
}

impl Rejection {
    /// The stable lowercase name used in JSON and messages.
    pub fn as_str(&self) -> &'static str {
        match self {
            Rejection::Malformed => "malformed",
            Rejection::Unknown => "unknown",
            Rejection::Expired => "expired",
            Rejection::Revoked => "revoked",
            Rejection::Disabled => "disabled",
            Rejection::Forbidden { .. } => "forbidden",
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for Rejection {}

/// The error under a storage failure, kept for [`std::error::Error::source`].
pub type BoxedSource = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Everything that can go wrong in `sa`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // ---- exit 2: the request itself is malformed --------------------------------------------
    /// A value on the command line broke a rule (name, duration, permission, …).
    #[error("{0}")]
    InvalidInput(String),
    /// A destructive command without a terminal to confirm on, and without `--yes`.
    #[error("{action} needs confirmation, and there is no terminal to ask on")]
    ConfirmationRequired { action: String },

    // ---- exit 1: understood, but refused or failed ------------------------------------------
    #[error("account `{account}` not found in organization `{org}`")]
    AccountNotFound { org: String, account: String },
    #[error("account `{name}` (id {id}) is deleted")]
    AccountDeleted { name: String, id: i64 },
    #[error("the name `{name}` is already taken in organization `{org}`")]
    NameTaken {
        org: String,
        name: String,
        deleted_id: Option<i64>,
    },
    #[error("{what} limit reached: {limit} (`{key}` in the config)")]
    LimitReached {
        what: &'static str,
        limit: u64,
        key: &'static str,
    },
    #[error("{0}")]
    Refused(String),
    #[error("token `{0}` not found")]
    TokenNotFound(String),
    #[error("token `{token}` not found: its account `{account}` (id {account_id}) is deleted")]
    TokenOfDeletedAccount {
        token: String,
        account: String,
        account_id: i64,
    },
    #[error("role `{0}` does not exist")]
    RoleNotFound(String),
    #[error("token rejected: {0}")]
    Rejected(Rejection),
    /// The token a command was to run under (`$SA_TOKEN`, `--token-file`) did not verify.
    #[error("the token in {source_name} was rejected ({reason}); nothing was done")]
    ActingTokenRejected {
        source_name: String,
        reason: Rejection,
    },
    #[error("cancelled; nothing was changed")]
    Cancelled,
    /// The `--jq` expression failed on the command's output (the command itself succeeded).
    #[error("--jq: {0}")]
    Jq(String),
    /// Ctrl-C at a prompt: exit 130, as a shell reports a process ended by SIGINT.
    #[error("interrupted; nothing was changed")]
    Interrupted,

    // ---- exit 3: storage, config, environment ------------------------------------------------
    #[error("`{path}` is not an sa database ({why}); it was left untouched")]
    ForeignDatabase { path: PathBuf, why: String },
    #[error(
        "`{path}` was written by a newer sa (schema version {found}, this sa knows up to {supported}); it was left untouched"
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    /// A command that only reads (or copies) found no database to read.
    #[error("there is no sa database at `{0}`")]
    NoDatabase(PathBuf),
    /// An sa database that SQLite cannot use as it is (cut short, or corrupt inside).
    #[error("`{path}` is a damaged sa database ({why})")]
    Damaged { path: PathBuf, why: String },
    #[error("config `{path}`: {message}")]
    Config { path: PathBuf, message: String },
    /// SQLite (or sa's own reading of what it stored) failed; `source` is SQLite's error.
    #[error("database error: {message}")]
    Database {
        message: String,
        source: Option<BoxedSource>,
    },
    /// Another process held the database lock past the busy timeout.
    #[error("database error: {message}")]
    Busy {
        message: String,
        source: Option<BoxedSource>,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

/// Shorthand used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The process exit code of SPEC §2: 1 refused, 2 usage, 3 storage/config/environment.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::InvalidInput(_) | Error::ConfirmationRequired { .. } => 2,
            Error::AccountNotFound { .. }
            | Error::AccountDeleted { .. }
            | Error::NameTaken { .. }
            | Error::LimitReached { .. }
            | Error::Refused(_)
            | Error::TokenNotFound(_)
            | Error::TokenOfDeletedAccount { .. }
            | Error::RoleNotFound(_)
            | Error::Rejected(_)
            | Error::ActingTokenRejected { .. }
            | Error::Cancelled
            | Error::Jq(_) => 1,
            Error::Interrupted => 130,
            Error::ForeignDatabase { .. }
            | Error::NewerSchema { .. }
            | Error::Damaged { .. }
            | Error::NoDatabase(_)
            | Error::Config { .. }
            | Error::Database { .. }
            | Error::Busy { .. }
            | Error::Io { .. } => 3,
        }
    }

    /// A next step for the user, printed as `hint: …` under the error.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::ConfirmationRequired { .. } => {
                Some("pass `--yes` to confirm non-interactively".into())
            }
            Error::AccountDeleted { id, .. } => Some(format!(
                "it can be restored with `sa undelete {id}` until its retention ends"
            )),
            Error::TokenOfDeletedAccount { account_id, .. } => Some(format!(
                "the account can be restored with `sa undelete {account_id}` until its retention ends (its tokens stay revoked)"
            )),
            Error::NameTaken {
                deleted_id: Some(id),
                ..
            } => Some(format!(
                "a deleted account (id {id}) still holds the name; restore it with `sa undelete {id}` or remove it with `sa delete --purge {id}`"
            )),
            Error::NewerSchema { .. } => Some("upgrade sa to open this database".into()),
            Error::Damaged { path, .. } => Some(format!(
                "`sa db check --db {}` lists what is wrong; restore a copy made with `sa db backup`",
                shell_quoted(path)
            )),
            Error::NoDatabase(_) => Some(
                "check `--db`, $SA_DB and `db_path` (`sa config path` shows which is used)".into(),
            ),
            Error::Busy { .. } => {
                Some("another sa process held the database too long; try again".into())
            }
            _ => None,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::InvalidInput(message.into())
    }

    /// A database failure with no underlying error to keep (a value sa itself cannot read).
    pub(crate) fn database(message: impl Into<String>) -> Self {
        Error::Database {
            message: message.into(),
            source: None,
        }
    }
}

/// `path` as it would be typed in a shell command to copy from a hint: quoted when it holds
/// anything but plain path characters.
pub(crate) fn shell_quoted(path: &std::path::Path) -> String {
    let text = path.display().to_string();
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+=:,@%".contains(c));
    if plain {
        text
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_spec() {
        assert_eq!(Error::invalid("bad").exit_code(), 2);
        assert_eq!(Error::Rejected(Rejection::Expired).exit_code(), 1);
        assert_eq!(Error::database("x").exit_code(), 3);
        let limit = Error::LimitReached {
            what: "account",
            limit: 2,
            key: "limits.max_accounts",
        };
        assert_eq!(limit.exit_code(), 1);
        assert!(limit.to_string().contains("limits.max_accounts"));
    }

    #[test]
    fn hints_quote_paths_for_the_shell() {
        assert_eq!(
            shell_quoted(std::path::Path::new("/var/lib/sa.db")),
            "/var/lib/sa.db"
        );
        assert_eq!(
            shell_quoted(std::path::Path::new("/tmp/my db's.db")),
            "'/tmp/my db'\\''s.db'"
        );
    }

    #[test]
    fn deleted_account_hint_names_undelete_and_the_id() {
        let err = Error::AccountDeleted {
            name: "bot".into(),
            id: 7,
        };
        assert_eq!(err.exit_code(), 1);
        assert!(err.hint().is_some_and(|h| h.contains("sa undelete 7")));
    }
}
