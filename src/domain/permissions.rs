//! Permissions (`resource:action`, with `*` matching any part) and the built-in roles.

use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Part {
    Any,
    Name(String),
}

impl Part {
    fn parse(text: &str) -> Option<Part> {
        if text == "*" {
            return Some(Part::Any);
        }
        let ok = text.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && text.len() <= 64
            && text.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.')
            });
        ok.then(|| Part::Name(text.to_string()))
    }

    fn covers(&self, other: &Part) -> bool {
        match (self, other) {
            (Part::Any, _) => true,
            (Part::Name(a), Part::Name(b)) => a == b,
            (Part::Name(_), Part::Any) => false,
        }
    }

    fn intersect(&self, other: &Part) -> Option<Part> {
        match (self, other) {
            (Part::Any, x) | (x, Part::Any) => Some(x.clone()),
            (Part::Name(a), Part::Name(b)) => (a == b).then(|| self.clone()),
        }
    }
}

/// `resource:action`; `*` alone means `*:*`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Permission {
    resource: Part,
    action: Part,
}

impl Permission {
    /// Parses `resource:action` (the library's API is `str::parse`, through `FromStr`).
    pub(crate) fn parse(text: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(format!(
                "invalid permission `{text}`: a permission is `resource:action` in lowercase letters, digits, `-`, `_`, `.`, where `*` matches any part (e.g. `dashboards:read`, `dashboards:*`, `*`)"
            ))
        };
        if text == "*" {
            return Ok(Permission {
                resource: Part::Any,
                action: Part::Any,
            });
        }
        let (resource, action) = text.split_once(':').ok_or_else(bad)?;
        Ok(Permission {
            resource: Part::parse(resource).ok_or_else(bad)?,
            action: Part::parse(action).ok_or_else(bad)?,
        })
    }

    /// Whether holding `self` grants `wanted` (`dashboards:*` covers `dashboards:read`).
    pub fn covers(&self, wanted: &Permission) -> bool {
        self.resource.covers(&wanted.resource) && self.action.covers(&wanted.action)
    }

    /// What both grant: `dashboards:*` ∩ `*:read` = `dashboards:read`.
    pub(crate) fn intersect(&self, other: &Permission) -> Option<Permission> {
        Some(Permission {
            resource: self.resource.intersect(&other.resource)?,
            action: self.action.intersect(&other.action)?,
        })
    }
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let part = |p: &Part| match p {
            Part::Any => "*".to_string(),
            Part::Name(n) => n.clone(),
        };
        match (&self.resource, &self.action) {
            (Part::Any, Part::Any) => f.write_str("*"),
            (r, a) => write!(f, "{}:{}", part(r), part(a)),
        }
    }
}

/// The permissions of a built-in role, or `None` for any other name.
pub fn builtin_role(name: &str) -> Option<Vec<Permission>> {
    let perms: &[&str] = match name {
        "viewer" => &["*:read"],
        "editor" => &["*:read", "*:write"],
        "admin" => &["*"],
        _ => return None,
    };
    Some(
        perms
            .iter()
            .filter_map(|p| Permission::parse(p).ok())
            .collect(),
    )
}

/// A token's stored scopes, parsed. A stored scope that no longer parses grants nothing, as an
/// unparseable role permission does; it never makes the token unscoped.
pub fn stored_scopes(stored: &[String]) -> Scopes {
    let parsed: Vec<Permission> = stored
        .iter()
        .filter_map(|s| Permission::parse(s).ok())
        .collect();
    if parsed.is_empty() && !stored.is_empty() {
        Scopes::Nothing
    } else {
        Scopes::List(parsed)
    }
}

/// A token's scopes as judged: a list (empty: unscoped), or nothing usable at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scopes {
    List(Vec<Permission>),
    Nothing,
}

impl Scopes {
    /// No scopes: the token holds all its account holds.
    pub const UNSCOPED: Scopes = Scopes::List(Vec::new());

    /// What a token with these scopes holds of its account's permissions.
    pub fn narrow(&self, account: &[Permission]) -> Vec<Permission> {
        match self {
            Scopes::List(scopes) => effective(account, scopes),
            Scopes::Nothing => Vec::new(),
        }
    }

    /// The scopes themselves (none for `Nothing`).
    pub fn list(&self) -> &[Permission] {
        match self {
            Scopes::List(scopes) => scopes,
            Scopes::Nothing => &[],
        }
    }
}

/// What a token may do: its account's permissions, narrowed to its scopes if it has any.
pub fn effective(account: &[Permission], scopes: &[Permission]) -> Vec<Permission> {
    let mut out: Vec<Permission> = if scopes.is_empty() {
        account.to_vec()
    } else {
        scopes
            .iter()
            .flat_map(|s| account.iter().filter_map(move |a| s.intersect(a)))
            .collect()
    };
    out.sort();
    out.dedup();
    // Drop what another entry already covers, so the list reads as the user would write it.
    let all = out.clone();
    out.retain(|p| !all.iter().any(|q| q != p && q.covers(p)));
    out
}

/// Whether any of `held` covers `wanted`.
pub fn allows(held: &[Permission], wanted: &Permission) -> bool {
    held.iter().any(|p| p.covers(wanted))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Permission {
        Permission::parse(text).unwrap()
    }

    #[test]
    fn parsing() {
        for good in [
            "dashboards:read",
            "*",
            "*:read",
            "dashboards:*",
            "a.b-c_d:x1",
        ] {
            assert_eq!(p(good).to_string(), good);
        }
        for bad in [
            "",
            "dashboards",
            "Dash:read",
            "a:b:c",
            ":read",
            "a:",
            "a :b",
            "**",
        ] {
            assert!(Permission::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn wildcards_cover() {
        assert!(p("*").covers(&p("dashboards:read")));
        assert!(p("*:read").covers(&p("dashboards:read")));
        assert!(p("dashboards:*").covers(&p("dashboards:write")));
        assert!(!p("dashboards:read").covers(&p("dashboards:*")));
        assert!(!p("*:read").covers(&p("dashboards:write")));
    }

    #[test]
    fn scopes_narrow_to_the_intersection() {
        let editor = builtin_role("editor").unwrap();
        assert_eq!(
            effective(&editor, &[p("dashboards:*")]),
            vec![p("dashboards:read"), p("dashboards:write")]
        );
        assert_eq!(effective(&editor, &[]), editor);
        let viewer = builtin_role("viewer").unwrap();
        assert!(effective(&viewer, &[p("users:write")]).is_empty());
        assert_eq!(effective(&[p("*")], &[p("a:b"), p("a:*")]), vec![p("a:*")]);
    }

    #[test]
    fn stored_scopes_that_no_longer_parse_grant_nothing() {
        let held = [p("*")];
        let stored =
            |list: &[&str]| stored_scopes(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(stored(&[]).narrow(&held), vec![p("*")], "unscoped");
        assert_eq!(
            stored(&["Bad Scope"]).narrow(&held),
            Vec::<Permission>::new()
        );
        assert_eq!(
            stored(&["Bad Scope", "logs:read"]).narrow(&held),
            vec![p("logs:read")]
        );
    }
}
