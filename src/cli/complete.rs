//! Completion of account names, role names and token ids from the database.
//!
//! The shell scripts in `completions/` call `sa` itself (`COMPLETE=bash sa -- WORDS…`,
//! clap_complete's dynamic engine), which calls these functions for the argument being
//! completed. They only read, never create a database, and answer nothing on any error: a
//! completion must never print an error into the user's command line.

use std::ffi::OsString;
use std::path::PathBuf;

use clap_complete::engine::CompletionCandidate;

use crate::config::{Config, Overrides};
use crate::domain::Context;
use crate::domain::accounts;
use crate::domain::names::OrgName;
use crate::domain::{roles, tokens};
use crate::store::{Store, TokenFilter, TokenSort};

/// `--db`, `--config` and `--org` as typed on the command line being completed (the words
/// after `--`), so that completion reads the database the command would use.
#[derive(Debug, Default, PartialEq, Eq)]
struct Typed {
    db: Option<PathBuf>,
    config: Option<PathBuf>,
    org: Option<String>,
}

fn typed(args: impl IntoIterator<Item = OsString>) -> Typed {
    let mut typed = Typed::default();
    let words: Vec<OsString> = args.into_iter().skip_while(|w| w != "--").skip(1).collect();
    // Bash hands the words over as typed: `--db=PATH` split at `=` into three words, quotes
    // and backslashes still in. Put them back together as the shell will pass them to sa.
    let mut joined: Vec<String> = Vec::new();
    for word in &words {
        let Some(text) = word.to_str() else {
            joined.push(String::new());
            continue;
        };
        match joined.last_mut() {
            Some(last) if text == "=" || last.ends_with('=') && last.starts_with("--") => {
                last.push_str(&unquote(text));
            }
            _ => joined.push(unquote(text)),
        }
    }
    let words: Vec<OsString> = joined.into_iter().map(OsString::from).collect();
    let mut words = words.iter().peekable();
    while let Some(word) = words.next() {
        let Some(text) = word.to_str() else { continue };
        for (flag, slot) in [("--db", 0), ("--config", 1), ("--org", 2)] {
            let value = if text == flag {
                words.peek().map(|v| PathBuf::from(v.as_os_str()))
            } else {
                text.strip_prefix(flag)
                    .and_then(|rest| rest.strip_prefix('='))
                    .map(PathBuf::from)
            };
            if let Some(value) = value {
                match slot {
                    0 => typed.db = Some(value),
                    1 => typed.config = Some(value),
                    _ => typed.org = value.to_str().map(str::to_string),
                }
            }
        }
    }
    typed
}

/// A word as the shell will pass it: quotes removed, backslash escapes resolved.
fn unquote(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut quote: Option<char> = None;
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None | Some('"'), '\\') => out.extend(chars.next()),
            (_, c) => out.push(c),
        }
    }
    out
}

/// Runs `each` against the database and organization the command line names; nothing on
/// any error (no database, a bad config, a locked file).
fn with_store(each: impl FnOnce(&mut Store, &Context<'_>) -> crate::error::Result<()>) {
    let typed = typed(std::env::args_os());
    let overrides = Overrides::from_env(typed.config, typed.db);
    let Ok(config) = Config::load(&overrides) else {
        return;
    };
    let org = typed
        .org
        .or_else(|| std::env::var("SA_ORG").ok())
        .filter(|o| !o.is_empty())
        .and_then(|o| OrgName::parse(&o).ok())
        .unwrap_or_default();
    let ctx = Context::reader(org, &config);
    if let Ok(mut store) = Store::open_existing(&config.db_path) {
        let _ = each(&mut store, &ctx);
    }
}

/// Account names (active and disabled), with their description.
pub fn accounts() -> Vec<CompletionCandidate> {
    account_names(false)
}

/// Deleted accounts' names, for `sa undelete`.
pub fn deleted_accounts() -> Vec<CompletionCandidate> {
    account_names(true)
}

fn account_names(deleted: bool) -> Vec<CompletionCandidate> {
    let mut found = Vec::new();
    with_store(|store, ctx| {
        accounts::names(store, ctx, deleted, &mut |name, description| {
            found.push(CompletionCandidate::new(name).help(description.map(Into::into)));
            Ok(())
        })
    });
    found
}

/// Role names, built-in and the organization's, with their description.
pub fn roles() -> Vec<CompletionCandidate> {
    let mut found = Vec::new();
    with_store(|store, ctx| {
        for role in roles::list(store, ctx)? {
            found.push(CompletionCandidate::new(role.name).help(role.description.map(Into::into)));
        }
        Ok(())
    });
    found
}

/// Ids of the tokens that could still verify, shown with their account and label: nobody
/// types a 12-character random id.
pub fn tokens() -> Vec<CompletionCandidate> {
    let mut found = Vec::new();
    with_store(|store, ctx| {
        let query = tokens::TokenQuery {
            account: None,
            status: TokenFilter::Live,
            expiring_within: None,
            unused_for: None,
            sort: TokenSort::Created,
            limit: None,
        };
        tokens::list(store, ctx, &query, &mut |token| {
            let help = match &token.name {
                Some(name) => format!("{} / {name}", token.account),
                None => token.account.clone(),
            };
            found.push(CompletionCandidate::new(token.id).help(Some(help.into())));
            Ok(())
        })
    });
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_database_flags_are_read_from_the_words_being_completed() {
        let args = words(&[
            "sa",
            "--",
            "sa",
            "--db",
            "/x/sa.db",
            "--org=acme",
            "token",
            "revoke",
            "",
        ]);
        assert_eq!(
            typed(args),
            Typed {
                db: Some("/x/sa.db".into()),
                config: None,
                org: Some("acme".into()),
            }
        );
        // Before `--` are sa's own arguments, not the command line's.
        assert_eq!(typed(words(&["sa", "--db", "/y"])), Typed::default());
        // As bash splits and quotes them.
        let split = words(&["sa", "--", "sa", "--db", "=", "/x/a.db", "show", ""]);
        assert_eq!(typed(split).db, Some("/x/a.db".into()));
        let quoted = words(&["sa", "--", "sa", "--db", "'/x/my dir/a.db'", "show", ""]);
        assert_eq!(typed(quoted).db, Some("/x/my dir/a.db".into()));
        let escaped = words(&["sa", "--", "sa", "--db", "/x/my\\ dir/a.db", "show"]);
        assert_eq!(typed(escaped).db, Some("/x/my dir/a.db".into()));
    }
}
