//! The file `sa apply -f` reads: the roles, accounts and token policy an organization should
//! have. Parsed from TOML with each value's position kept, so that every mistake is named by
//! the line it is on; nothing here reads the database (`domain::apply` compares).
//!
//! Two shapes, the ones `sa export` writes: top-level `[[roles]]` and `[[accounts]]` for the
//! organization of `--org`, or `[orgs.NAME]` tables holding them, one per organization.

use std::collections::HashSet;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::domain::names::{AccountName, OrgName, RoleName, check_free_text};
use crate::domain::permissions::{Permission, builtin_role};
use crate::error::{Error, Result};
use crate::time::{Duration, ExpiryRequest};

/// A parsed file: one or more organizations' declared state.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// Where it came from, as messages name it (`accounts.toml`, `<stdin>`).
    pub source: String,
    /// `[orgs.NAME]` tables: every name shown is qualified by its organization.
    pub multi_org: bool,
    pub orgs: Vec<OrgSpec>,
}

/// What one organization should hold.
#[derive(Debug, Clone)]
pub struct OrgSpec {
    /// `None`: the organization of the command (`--org`, `$SA_ORG`).
    pub org: Option<OrgName>,
    pub roles: Vec<RoleSpec>,
    pub accounts: Vec<AccountSpec>,
    /// Whether it says anything at all (a `roles` or `accounts` key, even `accounts = []`): an
    /// empty file applied with `--prune` would delete everything, and must mean to.
    pub declared: bool,
}

#[derive(Debug, Clone)]
pub struct RoleSpec {
    pub name: RoleName,
    pub description: Option<String>,
    /// Sorted, without duplicates.
    pub permissions: Vec<Permission>,
}

#[derive(Debug, Clone)]
pub struct AccountSpec {
    pub line: usize,
    pub name: AccountName,
    pub description: Option<String>,
    /// Sorted, without duplicates; each with the line that names it.
    pub roles: Vec<(RoleName, usize)>,
    /// `Some(reason)` when the account is to be disabled (`status = "disabled"`).
    pub disabled: Option<Option<String>>,
    pub tokens: Vec<TokenSpec>,
}

/// A token an account should hold, known by its label.
#[derive(Debug, Clone)]
pub struct TokenSpec {
    pub line: usize,
    pub label: String,
    /// Sorted, without duplicates; empty: unscoped.
    pub scopes: Vec<Permission>,
    /// The lifetime of a token minted for it; `None`: `tokens.default_ttl`.
    pub expires: Option<ExpiryRequest>,
    /// Rotate the token once it has less than this left to live.
    pub rotate_before: Option<Duration>,
    /// How long a rotated token keeps working beside its successor.
    pub grace: Option<Duration>,
    /// `status`: `Some(true)` disabled, `Some(false)` active, `None` (no `status`) as it is, so
    /// a file that does not say leaves a pause (a person's, or the stale-token policy's) alone.
    pub disabled: Option<bool>,
}

/// Parses `text`, which messages call `source`.
pub fn parse(source: &str, text: &str) -> Result<Manifest> {
    let file = File {
        source,
        text,
        line_starts: std::iter::once(0)
            .chain(text.match_indices('\n').map(|(at, _)| at + 1))
            .collect(),
    };
    let root = DeTable::parse(text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start);
        file.error(at, format!("invalid TOML: {}", one_line(e.message())))
    })?;
    let root = root.into_inner();
    let mut orgs = Vec::new();
    let mut single = OrgSpec {
        org: None,
        roles: Vec::new(),
        accounts: Vec::new(),
        declared: false,
    };
    let mut multi_org = false;
    let mut has_single = false;
    for (key, value) in &root {
        match key.get_ref().as_ref() {
            "roles" => {
                has_single = true;
                single.roles = file.roles(value)?;
            }
            "accounts" => {
                has_single = true;
                single.accounts = file.accounts(value)?;
            }
            "orgs" => {
                multi_org = true;
                let DeValue::Table(table) = value.get_ref() else {
                    return Err(file.error(value.span().start, "`orgs` must be a table of organizations ([orgs.NAME])".into()));
                };
                for (name, org) in table {
                    let org_name = OrgName::parse(name.get_ref())
                        .map_err(|e| file.error(name.span().start, e.to_string()))?;
                    orgs.push(file.org(Some(org_name), org)?);
                }
            }
            other => return Err(file.unknown(key, other, "the file", &["roles", "accounts", "orgs"])),
        }
    }
    if multi_org && has_single {
        return Err(file.error(
            0,
            "give either top-level `roles` and `accounts` (one organization) or `[orgs.NAME]` tables, not both".into(),
        ));
    }
    if !multi_org {
        single.declared = has_single;
        orgs.push(single);
    }
    Ok(Manifest {
        source: source.to_string(),
        multi_org,
        orgs,
    })
}

/// The first line of a message (toml's may carry a snippet of the file).
fn one_line(message: &str) -> String {
    message.lines().next().unwrap_or_default().trim().to_string()
}

struct File<'a> {
    source: &'a str,
    text: &'a str,
    /// Where each line begins, so that a position's line is a binary search, not a count.
    line_starts: Vec<usize>,
}

type Table<'i> = DeTable<'i>;

impl File<'_> {
    /// The 1-based line of byte `at`.
    fn line(&self, at: usize) -> usize {
        let at = at.min(self.text.len());
        self.line_starts.partition_point(|start| *start <= at)
    }

    fn error(&self, at: usize, message: String) -> Error {
        Error::invalid(format!("{}:{}: {message}", self.source, self.line(at)))
    }

    fn unknown(&self, key: &Spanned<toml::de::DeString<'_>>, name: &str, in_what: &str, known: &[&str]) -> Error {
        let known: Vec<String> = known.iter().map(|k| format!("`{k}`")).collect();
        self.error(
            key.span().start,
            format!("unknown key `{name}` in {in_what} (known: {})", known.join(", ")),
        )
    }

    fn org(&self, org: Option<OrgName>, value: &Spanned<DeValue<'_>>) -> Result<OrgSpec> {
        let DeValue::Table(table) = value.get_ref() else {
            return Err(self.error(value.span().start, "an organization is a table ([orgs.NAME])".into()));
        };
        let mut spec = OrgSpec {
            org,
            roles: Vec::new(),
            accounts: Vec::new(),
            declared: false,
        };
        for (key, value) in table {
            spec.declared = true;
            match key.get_ref().as_ref() {
                "roles" => spec.roles = self.roles(value)?,
                "accounts" => spec.accounts = self.accounts(value)?,
                other => return Err(self.unknown(key, other, "an organization", &["roles", "accounts"])),
            }
        }
        Ok(spec)
    }

    /// An array of tables (`[[roles]]`), each with its span.
    fn tables<'v, 'i>(
        &self,
        value: &'v Spanned<DeValue<'i>>,
        what: &str,
    ) -> Result<Vec<(&'v Table<'i>, Range<usize>)>> {
        let DeValue::Array(items) = value.get_ref() else {
            return Err(self.error(
                value.span().start,
                format!("`{what}` must be an array of tables (`[[{what}]]`); a `[[{what}.…]]` table belongs after the `[[{what}]]` it is part of"),
            ));
        };
        items
            .iter()
            .map(|item| match item.get_ref() {
                DeValue::Table(table) => Ok((table, item.span())),
                _ => Err(self.error(item.span().start, format!("each of `{what}` must be a table"))),
            })
            .collect()
    }

    fn string(&self, value: &Spanned<DeValue<'_>>, key: &str) -> Result<String> {
        match value.get_ref() {
            DeValue::String(s) => Ok(s.to_string()),
            _ => Err(self.error(value.span().start, format!("`{key}` must be a string"))),
        }
    }

    /// A free-text value (a description, a reason, a label), with the rules of the CLI.
    fn text(&self, value: &Spanned<DeValue<'_>>, key: &str) -> Result<String> {
        let text = self.string(value, key)?;
        check_free_text(&format!("`{key}`"), &text)
            .map_err(|e| self.error(value.span().start, e.to_string()))?;
        Ok(text)
    }

    /// A free-text value that may be blank: blank is none, as `--description ""` is.
    fn optional_text(&self, value: &Spanned<DeValue<'_>>, key: &str) -> Result<Option<String>> {
        let text = self.text(value, key)?;
        Ok(Some(text).filter(|t| !t.trim().is_empty()))
    }

    /// An array of strings, each parsed by `parse`, sorted and without duplicates.
    fn list<T: Ord>(
        &self,
        value: &Spanned<DeValue<'_>>,
        key: &str,
        parse: impl Fn(&str) -> Result<T>,
    ) -> Result<Vec<(T, usize)>> {
        let DeValue::Array(items) = value.get_ref() else {
            return Err(self.error(value.span().start, format!("`{key}` must be an array of strings")));
        };
        let mut out = Vec::new();
        for item in items {
            let text = self.string(item, key)?;
            let parsed = parse(&text).map_err(|e| self.error(item.span().start, e.to_string()))?;
            out.push((parsed, self.line(item.span().start)));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out.dedup_by(|a, b| a.0 == b.0);
        Ok(out)
    }

    fn parsed<T>(
        &self,
        value: &Spanned<DeValue<'_>>,
        key: &str,
        parse: impl Fn(&str) -> Result<T>,
    ) -> Result<T> {
        let text = self.string(value, key)?;
        parse(&text).map_err(|e| self.error(value.span().start, e.to_string()))
    }

    fn required<'v, 'i>(
        &self,
        found: Option<&'v Spanned<DeValue<'i>>>,
        key: &str,
        span: &Range<usize>,
        what: &str,
    ) -> Result<&'v Spanned<DeValue<'i>>> {
        found.ok_or_else(|| self.error(span.start, format!("{what} needs `{key}`")))
    }

    fn roles(&self, value: &Spanned<DeValue<'_>>) -> Result<Vec<RoleSpec>> {
        let mut roles: Vec<RoleSpec> = Vec::new();
        let mut seen = HashSet::new();
        for (table, span) in self.tables(value, "roles")? {
            let (mut name, mut description, mut permissions) = (None, None, None);
            for (key, value) in table {
                match key.get_ref().as_ref() {
                    "name" => name = Some(value),
                    "description" => description = self.optional_text(value, "description")?,
                    "permissions" => permissions = Some(value),
                    other => {
                        return Err(self.unknown(key, other, "a role", &["name", "description", "permissions"]));
                    }
                }
            }
            let name_value = self.required(name, "name", &span, "a role")?;
            let name = self.parsed(name_value, "name", RoleName::parse)?;
            let at = name_value.span().start;
            if builtin_role(name.as_str()).is_some() {
                return Err(self.error(at, format!("`{name}` is a built-in role; it cannot be declared")));
            }
            if !seen.insert(name.clone()) {
                return Err(self.error(at, format!("the role `{name}` is declared twice")));
            }
            let permissions_value = self.required(permissions, "permissions", &span, "a role")?;
            let permissions: Vec<Permission> = self
                .list(permissions_value, "permissions", Permission::parse)?
                .into_iter()
                .map(|(p, _)| p)
                .collect();
            if permissions.is_empty() {
                return Err(self.error(
                    permissions_value.span().start,
                    format!("the role `{name}` needs at least one permission"),
                ));
            }
            roles.push(RoleSpec {
                name,
                description,
                permissions,
            });
        }
        Ok(roles)
    }

    fn accounts(&self, value: &Spanned<DeValue<'_>>) -> Result<Vec<AccountSpec>> {
        let mut accounts: Vec<AccountSpec> = Vec::new();
        let mut seen = HashSet::new();
        for (table, span) in self.tables(value, "accounts")? {
            let (mut name, mut description, mut roles, mut status, mut reason, mut tokens) =
                (None, None, Vec::new(), None, None, Vec::new());
            for (key, value) in table {
                match key.get_ref().as_ref() {
                    "name" => name = Some(value),
                    "description" => description = self.optional_text(value, "description")?,
                    "roles" => roles = self.list(value, "roles", RoleName::parse)?,
                    "status" => status = Some(value),
                    "disabled_reason" => {
                        reason = Some((self.optional_text(value, "disabled_reason")?, value.span().start));
                    }
                    "tokens" => tokens = self.tokens(value)?,
                    other => {
                        return Err(self.unknown(
                            key,
                            other,
                            "an account",
                            &["name", "description", "roles", "status", "disabled_reason", "tokens"],
                        ));
                    }
                }
            }
            let name_value = self.required(name, "name", &span, "an account")?;
            let name = self.parsed(name_value, "name", AccountName::parse)?;
            let at = name_value.span().start;
            if !seen.insert(name.clone()) {
                return Err(self.error(at, format!("the account `{name}` is declared twice")));
            }
            let disabled = match status.map(|s| (self.string(s, "status"), s.span().start)) {
                None => false,
                Some((Ok(s), _)) if s == "active" => false,
                Some((Ok(s), _)) if s == "disabled" => true,
                Some((Ok(s), at)) => {
                    return Err(self.error(
                        at,
                        format!("invalid status `{s}`: an account in the file is `active` or `disabled` (delete one by leaving it out and passing `--prune`)"),
                    ));
                }
                Some((Err(e), _)) => return Err(e),
            };
            let disabled = match (disabled, reason) {
                (true, reason) => Some(reason.and_then(|(r, _)| r)),
                (false, None) => None,
                (false, Some((_, at))) => {
                    return Err(self.error(at, "`disabled_reason` is for an account with `status = \"disabled\"`".into()));
                }
            };
            accounts.push(AccountSpec {
                line: self.line(at),
                name,
                description,
                roles,
                disabled,
                tokens,
            });
        }
        Ok(accounts)
    }

    fn tokens(&self, value: &Spanned<DeValue<'_>>) -> Result<Vec<TokenSpec>> {
        let mut tokens: Vec<TokenSpec> = Vec::new();
        for (table, span) in self.tables(value, "tokens")? {
            let mut spec = TokenSpec {
                line: self.line(span.start),
                label: String::new(),
                scopes: Vec::new(),
                expires: None,
                rotate_before: None,
                grace: None,
                disabled: None,
            };
            let (mut label, mut rotate_at) = (None, 0);
            for (key, value) in table {
                match key.get_ref().as_ref() {
                    "label" => label = Some(value),
                    "scopes" => {
                        spec.scopes = self
                            .list(value, "scopes", Permission::parse)?
                            .into_iter()
                            .map(|(p, _)| p)
                            .collect();
                    }
                    "expires" => {
                        // A TOML date or time, unquoted, means what its text means quoted.
                        spec.expires = Some(match value.get_ref() {
                            DeValue::Datetime(at) => ExpiryRequest::parse(&at.to_string())
                                .map_err(|e| self.error(value.span().start, e.to_string()))?,
                            _ => self.parsed(value, "expires", ExpiryRequest::parse)?,
                        });
                    }
                    "rotate_before" => {
                        rotate_at = value.span().start;
                        spec.rotate_before = Some(self.parsed(value, "rotate_before", Duration::parse)?);
                    }
                    "grace" => spec.grace = Some(self.parsed(value, "grace", Duration::parse)?),
                    "status" => {
                        spec.disabled = match self.string(value, "status")?.as_str() {
                            "active" => Some(false),
                            "disabled" => Some(true),
                            other => {
                                return Err(self.error(
                                    value.span().start,
                                    format!("invalid status `{other}`: a token in the file is `active` or `disabled`"),
                                ));
                            }
                        };
                    }
                    other => {
                        return Err(self.unknown(
                            key,
                            other,
                            "a token",
                            &["label", "scopes", "expires", "rotate_before", "grace", "status"],
                        ));
                    }
                }
            }
            let label_value = self.required(label, "label", &span, "a token")?;
            spec.label = self.text(label_value, "label")?;
            spec.line = self.line(label_value.span().start);
            if spec.label.is_empty() {
                return Err(self.error(label_value.span().start, "a token's `label` is empty".into()));
            }
            if tokens.iter().any(|t| t.label == spec.label) {
                return Err(self.error(
                    label_value.span().start,
                    format!("the token label `{}` is declared twice for this account", spec.label),
                ));
            }
            if let Some(before) = spec.rotate_before {
                match spec.expires {
                    Some(ExpiryRequest::At(_) | ExpiryRequest::Never) => {
                        return Err(self.error(
                            rotate_at,
                            "`rotate_before` needs `expires` as a duration: a successor of a token with a fixed end, or none, would not live longer".into(),
                        ));
                    }
                    Some(ExpiryRequest::In(life)) if before >= life => {
                        return Err(self.error(
                            rotate_at,
                            format!("`rotate_before` ({before}) must be shorter than `expires` ({life}), or every apply would rotate the token"),
                        ));
                    }
                    _ => {}
                }
            }
            tokens.push(spec);
        }
        Ok(tokens)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> String {
        parse("f.toml", text).expect_err("refused").to_string()
    }

    #[test]
    fn both_shapes_parse_to_organizations() {
        let one = parse(
            "f.toml",
            "[[roles]]\nname = \"deployer\"\npermissions = [\"deploys:write\", \"deploys:write\"]\n\n[[accounts]]\nname = \"ci-bot\"\nroles = [\"deployer\"]\n[[accounts.tokens]]\nlabel = \"deploy\"\nexpires = \"7d\"\nrotate_before = \"1d\"\n",
        )
        .expect("parses");
        assert!(!one.multi_org);
        assert_eq!(one.orgs.len(), 1);
        assert_eq!(one.orgs[0].roles[0].permissions.len(), 1);
        assert_eq!(one.orgs[0].accounts[0].tokens[0].line, 9);
        let many = parse(
            "f.toml",
            "[orgs.alpha]\n[[orgs.alpha.accounts]]\nname = \"bot-a\"\n[orgs.beta]\n",
        )
        .expect("parses");
        assert!(many.multi_org);
        assert_eq!(many.orgs.len(), 2);
    }

    #[test]
    fn every_mistake_names_its_line() {
        assert!(message("[[accounts]]\nname = \"ci-bot\"\ncolour = 1\n").starts_with("f.toml:3: unknown key `colour`"));
        assert!(message("[[accounts]]\nname = \"Bad Name\"\n").starts_with("f.toml:2: invalid account name"));
        assert!(message("\n[[roles]]\nname = \"viewer\"\npermissions = [\"*\"]\n").starts_with("f.toml:3:"));
        assert!(message("[[roles]]\nname = \"r1\"\npermissions = [\n\"ok:read\",\n\"bad\"]\n").starts_with("f.toml:5: invalid permission"));
        assert!(message("[[accounts]]\nname = \"ci-bot\"\n[[accounts.tokens]]\nlabel = \"x\"\nexpires = \"soon\"\n").starts_with("f.toml:5: invalid expiry"));
        assert!(message("[[accounts]]\nname = \"ci-bot\"\n[[accounts]]\nname = \"ci-bot\"\n").starts_with("f.toml:4: the account `ci-bot` is declared twice"));
        assert!(message("[[accounts]]\nname = \"ci-bot\"\nstatus = \"deleted\"\n").starts_with("f.toml:3: invalid status"));
        assert!(message("[[accounts]]\nname = \"ci-bot\"\ndisabled_reason = \"x\"\n").starts_with("f.toml:3:"));
        assert!(message("x = [\n").starts_with("f.toml:"));
        assert!(message("[[accounts]]\nname = \"ci-bot\"\n[[accounts.tokens]]\nlabel = \"x\"\nexpires = \"1d\"\nrotate_before = \"2d\"\n").starts_with("f.toml:6: `rotate_before` (2d) must be shorter"));
        assert!(message("[[accounts]]\ndescription = \"no name\"\n").starts_with("f.toml:1: an account needs `name`"));
        assert!(message("roles = []\n[orgs.a]\n").contains("not both"));
    }

    #[test]
    fn a_token_in_a_description_is_refused_like_on_the_command_line() {
        let token = crate::domain::token_format::generate("sa_")
            .expect("a token")
            .token
            .expose()
            .to_string();
        let m = message(&format!("[[accounts]]\nname = \"ci-bot\"\ndescription = \"{token}\"\n"));
        assert!(m.starts_with("f.toml:3:"), "{m}");
        assert!(!m.contains(&token), "{m}");
    }
}
