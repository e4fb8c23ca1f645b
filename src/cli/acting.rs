//! `sa` acting as a service account: with `$SA_TOKEN` (or `--token-file PATH`) set, every
//! command first verifies that token, as `sa token verify` would (counted, source `sa-cli`),
//! and runs only if the token's effective permissions cover what the command needs.
//!
//! This bounds what a pipeline holding a token can do and names it in the audit trail; it is
//! not a wall against whoever can write the database file, who may simply unset the variable.
//! The file's permissions stay the boundary (docs/decisions.md).

use std::io::Read;
use std::path::Path;

use zeroize::Zeroizing;

use crate::cli::args::{
    AccountCommand, AuditCommand, Command, ConfigCommand, DbCommand, RoleCommand, TokenCommand,
};
use crate::config::Config;
use crate::domain::names::OrgName;
use crate::domain::permissions::Permission;
use crate::domain::{Acting, Context, tokens};
use crate::error::{Error, Result};
use crate::store::Store;

/// The longest token input read; a token is under 100 bytes.
const MAX_TOKEN_INPUT: u64 = 4096;

/// What running a command under a token takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement {
    /// The command as typed, for messages (`sa token rotate`).
    pub command: &'static str,
    pub permission: &'static str,
}

/// How a command treats a token presented to act under.
const WHOLE_DATABASE: &str = "the whole database, every organization's data";
const WHOLE_ORGANIZATION: &str =
    "whole organizations at once (a file may name several, and grant anything)";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Runs if the token verifies and holds the permission.
    Needs(Requirement),
    /// Never runs under a token: whole-database work spans every organization, and a token
    /// acts in its own only.
    Refused(&'static str, &'static str),
    /// Does not use one: `token verify` checks a token of its own, and `config show|path`
    /// read no account data and must work while the database is unreachable, to diagnose it.
    Ignored,
}

impl Use {
    /// Whether the command changes accounts, tokens, roles or the trail: the permission it
    /// needs is a `…:write` one.
    pub fn writes(self) -> bool {
        matches!(self, Use::Needs(r) if r.permission.ends_with(":write"))
    }
}

/// The permission each command needs under a token (the table in the README).
pub fn requirement(command: &Command) -> Use {
    let needs = |command, permission| {
        Use::Needs(Requirement {
            command,
            permission,
        })
    };
    match command {
        Command::Account(c) | Command::AccountGroup(c) => match c {
            AccountCommand::List(_) => needs("sa list", "accounts:read"),
            AccountCommand::Show(_) => needs("sa show", "accounts:read"),
            AccountCommand::Create(_) => needs("sa create", "accounts:write"),
            AccountCommand::Update(_) => needs("sa update", "accounts:write"),
            AccountCommand::Disable(_) => needs("sa disable", "accounts:write"),
            AccountCommand::Enable(_) => needs("sa enable", "accounts:write"),
            AccountCommand::Delete(_) => needs("sa delete", "accounts:write"),
            AccountCommand::Undelete(_) => needs("sa undelete", "accounts:write"),
        },
        Command::Token(c) => match c {
            TokenCommand::Verify(_) => Use::Ignored,
            TokenCommand::List(_) => needs("sa token list", "tokens:read"),
            TokenCommand::Show(_) => needs("sa token show", "tokens:read"),
            TokenCommand::Add(_) => needs("sa token add", "tokens:write"),
            TokenCommand::Revoke(_) => needs("sa token revoke", "tokens:write"),
            TokenCommand::Rotate(_) => needs("sa token rotate", "tokens:write"),
            TokenCommand::Disable(_) => needs("sa token disable", "tokens:write"),
            TokenCommand::Enable(_) => needs("sa token enable", "tokens:write"),
            TokenCommand::Prune(a) if a.dry_run => needs("sa token prune --dry-run", "tokens:read"),
            TokenCommand::Prune(_) => needs("sa token prune", "tokens:write"),
        },
        Command::Scan(args) if args.revoke => needs("sa scan --revoke", "tokens:write"),
        Command::Scan(_) => needs("sa scan", "tokens:read"),
        Command::Role(c) => match c {
            RoleCommand::List(_) => needs("sa role list", "roles:read"),
            RoleCommand::Show(_) => needs("sa role show", "roles:read"),
            RoleCommand::Create(_) => needs("sa role create", "roles:write"),
            RoleCommand::Update(_) => needs("sa role update", "roles:write"),
            RoleCommand::Delete(_) => needs("sa role delete", "roles:write"),
            RoleCommand::Grant(_) => needs("sa role grant", "roles:write"),
            RoleCommand::Revoke(_) => needs("sa role revoke", "roles:write"),
        },
        Command::Can(_) => needs("sa can", "roles:read"),
        Command::Usage(_) => needs("sa usage", "usage:read"),
        Command::Org(_) => needs("sa org list", "accounts:read"),
        Command::Audit(args) => match args.command {
            None => needs("sa audit", "audit:read"),
            Some(AuditCommand::Verify) => needs("sa audit verify", "audit:read"),
            Some(AuditCommand::Prune(_)) => needs("sa audit prune", "audit:write"),
        },
        Command::Init => Use::Refused("sa init", WHOLE_DATABASE),
        // A file may name several organizations, and its plan every kind of permission.
        Command::Export(_) => Use::Refused("sa export", WHOLE_ORGANIZATION),
        Command::Apply(_) => Use::Refused("sa apply", WHOLE_ORGANIZATION),
        Command::Db(DbCommand::Check) => Use::Refused("sa db check", WHOLE_DATABASE),
        Command::Db(DbCommand::Backup(_)) => Use::Refused("sa db backup", WHOLE_DATABASE),
        Command::Db(DbCommand::Copy(_)) => Use::Refused("sa db copy", WHOLE_DATABASE),
        Command::Config(ConfigCommand::Show | ConfigCommand::Path) | Command::Completions(_) => {
            Use::Ignored
        }
    }
}

/// A token presented for the command to run under, and where it came from.
pub struct Presented {
    /// `$SA_TOKEN` or `` `PATH` ``, for messages.
    pub source_name: String,
    pub text: Zeroizing<String>,
}

/// Whether a token is presented (`--token-file`, or a `$SA_TOKEN` that is not empty), without
/// reading it: a `--token-file <(…)` can be read only once.
pub fn any_presented(token_file: Option<&Path>) -> bool {
    token_file.is_some() || std::env::var_os("SA_TOKEN").is_some_and(|t| !t.is_empty())
}

/// The token of `--token-file`, else of `$SA_TOKEN` (empty means unset); `None` without one.
pub fn presented(token_file: Option<&Path>) -> Result<Option<Presented>> {
    if let Some(path) = token_file {
        let source_name = format!("`{}`", path.display());
        // Any readable file, a pipe too (`--token-file <(vault read …)`), but bounded.
        let file = std::fs::File::open(path)
            .map_err(|e| Error::io(format!("cannot read the token file {source_name}"), e))?;
        let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_TOKEN_INPUT as usize + 1));
        file.take(MAX_TOKEN_INPUT + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(format!("cannot read the token file {source_name}"), e))?;
        // Too long or not UTF-8: not a token, so `malformed` when it is parsed.
        let text = match std::str::from_utf8(&bytes) {
            Ok(text) if bytes.len() as u64 <= MAX_TOKEN_INPUT => text.to_string(),
            _ => String::new(),
        };
        return Ok(Some(Presented {
            source_name,
            text: Zeroizing::new(text),
        }));
    }
    let Some(value) = std::env::var_os("SA_TOKEN").filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    // Bytes that are not UTF-8 are no token: presented (and rejected as malformed), never
    // taken for an unset variable, which would run the command as the administrator.
    Ok(Some(Presented {
        source_name: "$SA_TOKEN".into(),
        text: Zeroizing::new(value.into_string().unwrap_or_default()),
    }))
}

/// Verifies the presented token for `requirement`, in the token's own organization, which
/// must be `org` when one was asked for (`--org`, `$SA_ORG`). Returns the organization to act
/// in and who acts.
pub fn authenticate(
    config: &Config,
    presented: &Presented,
    requirement: Requirement,
    org: Option<&OrgName>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(OrgName, Acting)> {
    let rejected = |reason| Error::ActingTokenRejected {
        source_name: presented.source_name.clone(),
        reason,
    };
    let token = tokens::parse_presented(&presented.text).map_err(|err| match err {
        Error::Rejected(reason) => rejected(reason),
        other => other,
    })?;
    // No database, no token that could verify: say that, rather than create an empty one.
    let mut store = Store::open_existing(&config.db_path)?;
    let ctx = Context {
        org: org.cloned().unwrap_or_default(),
        actor: String::new(),
        now,
        config,
        acting: None,
    };
    let needed = Permission::parse(requirement.permission)?;
    let identity = tokens::authenticate(
        &mut store,
        &ctx,
        &token,
        org.map(OrgName::as_str),
        Some(&needed),
        &format!("run `{}`", requirement.command),
    )
    .map_err(|err| match err {
        Error::Rejected(reason) => rejected(reason),
        other => other,
    })?;
    let acting = Acting {
        account: identity.account.clone(),
        account_id: identity.account_id,
        token_id: identity.token_id.to_string(),
        permissions: identity.permissions.clone(),
    };
    Ok((OrgName::parse(&identity.org)?, acting))
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::args::Cli;

    fn needed(line: &str) -> Option<&'static str> {
        let cli = Cli::try_parse_from(line.split_whitespace()).unwrap();
        match requirement(&cli.command) {
            Use::Needs(requirement) => Some(requirement.permission),
            Use::Refused(..) | Use::Ignored => None,
        }
    }

    #[test]
    fn each_command_needs_what_the_readme_table_says() {
        assert_eq!(needed("sa create --name bot"), Some("accounts:write"));
        assert_eq!(needed("sa account list"), Some("accounts:read"));
        assert_eq!(needed("sa token rotate abcdefghijkl"), Some("tokens:write"));
        assert_eq!(needed("sa token list"), Some("tokens:read"));
        assert_eq!(needed("sa role grant admin bot"), Some("roles:write"));
        assert_eq!(needed("sa can bot x:y"), Some("roles:read"));
        assert_eq!(needed("sa audit"), Some("audit:read"));
        assert_eq!(needed("sa scan ."), Some("tokens:read"));
        assert_eq!(needed("sa scan . --revoke"), Some("tokens:write"));
        let uses = |line: &str| {
            requirement(
                &Cli::try_parse_from(line.split_whitespace())
                    .unwrap()
                    .command,
            )
        };
        assert_eq!(
            uses("sa token verify"),
            Use::Ignored,
            "verify never runs under a token"
        );
        assert_eq!(uses("sa config path"), Use::Ignored);
        assert!(matches!(uses("sa db backup x"), Use::Refused(..)));
    }

    #[test]
    fn every_named_permission_parses() {
        for line in [
            "sa list",
            "sa create --name bot",
            "sa token add bot",
            "sa role list",
            "sa org list",
            "sa audit",
        ] {
            let permission = needed(line).unwrap();
            Permission::parse(permission).unwrap();
        }
    }
}
