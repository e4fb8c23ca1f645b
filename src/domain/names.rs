//! Names with rules: account, organization and role names, parsed once at the edge.
//!
//! A value of these types is proof that the rule was checked, so nothing below the CLI
//! re-validates a name it is handed.

use crate::error::{Error, Result};

const NAME_RULE: &str =
    "3–64 characters: lowercase ASCII letters, digits, `-`, `_` or `.`, starting with a letter";

fn check_name(kind: &str, value: &str, min: usize) -> Result<()> {
    let len = value.chars().count();
    let mut chars = value.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok = value
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'));
    if (min..=64).contains(&len) && starts_with_letter && rest_ok {
        Ok(())
    } else {
        let rule = if min == 3 {
            NAME_RULE.to_string()
        } else {
            NAME_RULE.replacen("3–64", &format!("{min}–64"), 1)
        };
        Err(Error::invalid(format!(
            "invalid {kind} name `{value}`: use {rule}"
        )))
    }
}

macro_rules! name_type {
    ($(#[$doc:meta])* $ty:ident, $kind:literal, $min:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $ty(String);

        impl $ty {
            /// Checks the naming rule.
            pub fn parse(value: &str) -> Result<Self> {
                check_name($kind, value, $min)?;
                Ok(Self(value.to_string()))
            }

            /// The name as written.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $ty {
            type Err = Error;
            fn from_str(value: &str) -> Result<Self> {
                Self::parse(value)
            }
        }
    };
}

name_type!(
    /// A service account's name: unique within its organization.
    AccountName, "account", 3
);
name_type!(
    /// An organization's name (`default` unless `--org`/`$SA_ORG` says otherwise).
    OrgName, "organization", 1
);
name_type!(
    /// A role's name (`viewer`, `editor`, `admin`, or a custom role).
    RoleName, "role", 2
);

impl Default for OrgName {
    fn default() -> Self {
        OrgName("default".into())
    }
}

/// The longest free text (description, reason, token label, source, actor) that is stored.
pub const MAX_TEXT_CHARS: usize = 1000;

/// Checks free text before it is stored or audited: bounded, no control characters (they
/// would reach an admin's terminal through `sa list` or `sa audit`), and no whole token (a
/// secret pasted into `--description` would be stored and audited in the clear).
pub fn check_free_text(what: &str, value: &str) -> Result<()> {
    if value.chars().count() > MAX_TEXT_CHARS {
        return Err(Error::invalid(format!(
            "{what} is longer than {MAX_TEXT_CHARS} characters"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "{what} must not contain control characters (newlines, tabs, escapes)"
        )));
    }
    // Bidirectional overrides and isolates reorder what a terminal shows, so `sa list` could
    // display one name while another is stored (the "Trojan Source" trick).
    if value
        .chars()
        .any(|c| matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
    {
        return Err(Error::invalid(format!(
            "{what} must not contain bidirectional override characters (U+202A–U+202E, \
             U+2066–U+2069)"
        )));
    }
    if crate::domain::token_format::contains_token(value) {
        return Err(Error::invalid(format!(
            "{what} contains a token; secrets are never stored or audited (name a token by its id)"
        )));
    }
    Ok(())
}

/// How a command names an account: by its numeric id or by its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountRef {
    Id(i64),
    Name(AccountName),
}

impl AccountRef {
    /// Digits are an id (names start with a letter, so the two never collide).
    pub fn parse(value: &str) -> Result<Self> {
        if !value.is_empty() && value.chars().all(|c| c.is_ascii_digit()) {
            return value
                .parse()
                .map(AccountRef::Id)
                .map_err(|_| Error::invalid(format!("account id `{value}` is out of range")));
        }
        AccountName::parse(value)
            .map(AccountRef::Name)
            .map_err(|_| {
                Error::invalid(format!(
                    "`{value}` is neither an account id nor a valid account name"
                ))
            })
    }
}

impl std::fmt::Display for AccountRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccountRef::Id(id) => write!(f, "{id}"),
            AccountRef::Name(name) => write!(f, "{name}"),
        }
    }
}

impl std::str::FromStr for AccountRef {
    type Err = Error;
    fn from_str(value: &str) -> Result<Self> {
        Self::parse(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(name: &str) -> bool {
        AccountName::parse(name).is_ok()
    }

    #[test]
    fn account_names_follow_the_rule() {
        for good in ["ci-bot", "abc", "a.b_c-9", &"a".repeat(64)] {
            assert!(ok(good), "{good} should be accepted");
        }
        for bad in [
            "",
            "ab",
            "Bad Name!",
            "9bot",
            "-bot",
            "bot!",
            "CI-bot",
            "bøt",
            &"a".repeat(65),
        ] {
            assert!(!ok(bad), "{bad} should be refused");
        }
    }

    #[test]
    fn refusal_states_the_rule() {
        let err = AccountName::parse("Bad Name!").unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("starting with a letter"), "{err}");
    }

    #[test]
    fn account_refs_are_ids_or_names() {
        assert_eq!(AccountRef::parse("42").unwrap(), AccountRef::Id(42));
        assert!(matches!(
            AccountRef::parse("ci-bot").unwrap(),
            AccountRef::Name(_)
        ));
        assert!(AccountRef::parse("99999999999999999999999").is_err());
        assert!(AccountRef::parse("No Such").is_err());
    }

    #[test]
    fn free_text_refuses_control_characters_tokens_and_floods() {
        assert!(check_free_text("the description", "GitHub Actions: deploys (prod) é").is_ok());
        assert!(check_free_text("the description", "evil\u{1b}[31m").is_err());
        assert!(check_free_text("the description", "two\nlines").is_err());
        for bidi in ['\u{202a}', '\u{202e}', '\u{2066}', '\u{2069}'] {
            assert!(check_free_text("the description", &format!("abc{bidi}def")).is_err());
        }
        assert!(check_free_text("the description", "עברית and العربية").is_ok());
        assert!(check_free_text("the description", &"x".repeat(MAX_TEXT_CHARS + 1)).is_err());
        let token = crate::domain::token_format::generate("sa_").unwrap();
        let err = check_free_text("the token name", token.token.expose()).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(!err.to_string().contains(token.secret.expose()));
    }

    #[test]
    fn org_names_may_be_short() {
        assert!(OrgName::parse("a").is_ok());
        assert!(OrgName::parse("Acme").is_err());
        assert_eq!(OrgName::default().as_str(), "default");
    }
}
