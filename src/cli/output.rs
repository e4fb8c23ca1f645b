//! The Printer: data to stdout as a table or JSON, messages to stderr; and the `*View` structs
//! whose JSON field names are a compatibility promise (documented in the README).
//!
//! Domain types are not `Serialize`: each view is a deliberate, stable shape.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};

use chrono::{DateTime, Utc};
use comfy_table::{Cell, Color, ContentArrangement, Table, presets};
use serde::Serialize;

use crate::domain::database::CheckReport;
use crate::domain::tokens::{Identity, TokenStatus, status_of};
use crate::error::{Error, Result};
use crate::store::{Account, AccountStatus, AuditEvent, OrgSummary, Token};
use crate::time::format_timestamp;

/// Table or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
}

/// All output of a command goes through here.
pub struct Printer {
    pub format: Format,
    /// Colour on stdout (tables) and on stderr (the `warning:` label), each decided once:
    /// only on a terminal, never with `NO_COLOR`.
    color: bool,
    color_stderr: bool,
}

fn write_err(err: std::io::Error) -> Error {
    Error::io("cannot write to stdout", err)
}

impl Printer {
    pub fn new(format: Format) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Printer {
            format,
            color: !no_color && std::io::stdout().is_terminal(),
            color_stderr: !no_color && std::io::stderr().is_terminal(),
        }
    }

    pub fn is_json(&self) -> bool {
        self.format == Format::Json
    }

    /// One JSON document on stdout.
    pub fn json<T: Serialize + ?Sized>(&self, value: &T) -> Result<()> {
        let text = serde_json::to_string_pretty(value)
            .map_err(|e| Error::io("cannot encode JSON", std::io::Error::other(e)))?;
        self.stdout_line(&text)
    }

    /// A raw line of data on stdout.
    pub fn stdout_line(&self, text: &str) -> Result<()> {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{text}")
            .and_then(|()| out.flush())
            .map_err(write_err)
    }

    /// Whether stdout leads nowhere: `/dev/null`, or closed (`>&-`), which std reopens as
    /// `/dev/null` at startup. Fine for a listing; a token shown only once would be lost.
    pub fn stdout_is_discarded(&self) -> bool {
        use std::os::fd::AsFd;
        use std::os::unix::fs::MetadataExt;
        let Ok(stdout) = std::io::stdout().as_fd().try_clone_to_owned() else {
            return true;
        };
        let (Ok(out), Ok(null)) = (
            std::fs::File::from(stdout).metadata(),
            std::fs::metadata("/dev/null"),
        ) else {
            return false;
        };
        out.dev() == null.dev() && out.ino() == null.ino()
    }

    /// A message for the human on stderr (never data).
    pub fn note(&self, text: &str) {
        let _ = writeln!(std::io::stderr(), "{text}");
    }

    pub fn warn(&self, text: &str) {
        let label = if self.color_stderr {
            "\x1b[33mwarning\x1b[0m"
        } else {
            "warning"
        };
        let _ = writeln!(std::io::stderr(), "{label}: {text}");
    }

    /// A table with a header row, sized to the terminal.
    pub fn table(&self, header: &[&str], rows: Vec<Vec<Cell>>) -> Result<()> {
        let mut table = self.new_table();
        table.set_header(header.iter().map(|h| {
            let cell = Cell::new(h.to_uppercase());
            if self.color {
                cell.add_attribute(comfy_table::Attribute::Bold)
            } else {
                cell
            }
        }));
        for row in rows {
            table.add_row(row);
        }
        self.print_table(&table)
    }

    /// A vertical key/value table for one thing.
    pub fn record(&self, pairs: Vec<(&str, Cell)>) -> Result<()> {
        let mut table = self.new_table();
        for (key, value) in pairs {
            table.add_row(vec![Cell::new(key), value]);
        }
        self.print_table(&table)
    }

    fn new_table(&self) -> Table {
        let mut table = Table::new();
        table.load_style(presets::NOTHING);
        // `$COLUMNS`, else the terminal's width (asked before `force_no_tty` hides the
        // terminal, so NO_COLOR does not change the layout). A width of 0 — `COLUMNS=0`, or a
        // pty that reports no size — would squeeze every column to one character: ignored.
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse::<u16>().ok())
            .filter(|w| *w > 0)
            .or_else(|| table.width().filter(|w| *w > 0));
        if let Some(width) = width {
            table.set_content_arrangement(ContentArrangement::Dynamic);
            table.set_width(width);
        }
        if !self.color {
            table.force_no_tty();
        }
        table
    }

    fn print_table(&self, table: &Table) -> Result<()> {
        // Columns separated by two spaces, none at the edges: easy to read, `awk` and `cut`.
        let mut table = table.clone();
        for column in table.column_iter_mut() {
            column.set_padding((0, 2));
        }
        let mut out = std::io::stdout().lock();
        for line in table.lines() {
            writeln!(out, "{}", line.trim_end()).map_err(write_err)?;
        }
        out.flush().map_err(write_err)
    }

    /// A status cell, coloured on a terminal.
    pub fn status(&self, status: &str) -> Cell {
        let cell = Cell::new(status);
        if !self.color {
            return cell;
        }
        match status {
            "active" | "valid" | "ok" => cell.fg(Color::Green),
            "disabled" | "expiring" => cell.fg(Color::Yellow),
            _ => cell.fg(Color::Red),
        }
    }
}

/// How tables show a time: UTC to the minute.
pub fn short_time(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(
        || "-".to_string(),
        |at| at.format("%Y-%m-%d %H:%M").to_string(),
    )
}

fn ts(at: Option<DateTime<Utc>>) -> Option<String> {
    at.map(format_timestamp)
}

#[derive(Debug, Serialize)]
pub struct AccountView {
    pub id: i64,
    pub org: String,
    pub name: String,
    pub description: Option<String>,
    pub email: String,
    pub status: &'static str,
    pub disabled_reason: Option<String>,
    pub roles: Vec<String>,
    pub active_tokens: u64,
    pub created_at: String,
    pub created_by: String,
    pub updated_at: String,
    pub deleted_at: Option<String>,
}

impl From<&Account> for AccountView {
    fn from(a: &Account) -> Self {
        AccountView {
            id: a.id,
            org: a.org.clone(),
            name: a.name.clone(),
            description: a.description.clone(),
            email: a.email.clone(),
            status: a.status.as_str(),
            disabled_reason: a.disabled_reason.clone(),
            roles: a.roles.clone(),
            active_tokens: a.active_tokens,
            created_at: format_timestamp(a.created_at),
            created_by: a.created_by.clone(),
            updated_at: format_timestamp(a.updated_at),
            deleted_at: ts(a.deleted_at),
        }
    }
}

pub fn print_account(printer: &Printer, account: &Account) -> Result<()> {
    if printer.is_json() {
        return printer.json(&AccountView::from(account));
    }
    let text = |s: &str| Cell::new(s);
    let mut pairs = vec![
        ("id", Cell::new(account.id)),
        ("name", text(&account.name)),
        ("org", text(&account.org)),
        ("email", text(&account.email)),
        ("status", printer.status(account.status.as_str())),
    ];
    if let Some(reason) = &account.disabled_reason {
        pairs.push(("disabled reason", text(reason)));
    }
    pairs.extend([
        (
            "description",
            text(account.description.as_deref().unwrap_or("-")),
        ),
        (
            "roles",
            text(&if account.roles.is_empty() {
                "-".into()
            } else {
                account.roles.join(", ")
            }),
        ),
        ("active tokens", Cell::new(account.active_tokens)),
        (
            "created",
            text(&format!(
                "{} by {}",
                format_timestamp(account.created_at),
                account.created_by
            )),
        ),
        ("updated", text(&format_timestamp(account.updated_at))),
    ]);
    if let Some(at) = account.deleted_at {
        pairs.push(("deleted", text(&format_timestamp(at))));
    }
    printer.record(pairs)
}

pub fn print_accounts(printer: &Printer, accounts: &[Account]) -> Result<()> {
    if printer.is_json() {
        return printer.json(&accounts.iter().map(AccountView::from).collect::<Vec<_>>());
    }
    let rows = accounts
        .iter()
        .map(|a| {
            vec![
                Cell::new(a.id),
                Cell::new(&a.name),
                printer.status(a.status.as_str()),
                Cell::new(if a.roles.is_empty() {
                    "-".into()
                } else {
                    a.roles.join(",")
                }),
                Cell::new(a.active_tokens),
                Cell::new(short_time(Some(a.created_at))),
                // Why an account is disabled matters more than what it is for; the prefix
                // keeps the two apart under one header.
                Cell::new(match (&a.status, &a.disabled_reason) {
                    (AccountStatus::Disabled, Some(reason)) => format!("disabled: {reason}"),
                    _ => a.description.clone().unwrap_or_default(),
                }),
            ]
        })
        .collect();
    printer.table(
        &[
            "id",
            "name",
            "status",
            "roles",
            "tokens",
            "created",
            "description",
        ],
        rows,
    )
}

#[derive(Debug, Serialize)]
pub struct TokenView {
    pub id: String,
    pub account: String,
    pub account_id: i64,
    pub org: String,
    pub name: Option<String>,
    pub scopes: Vec<String>,
    pub status: &'static str,
    pub created_at: String,
    pub created_by: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
    pub revoked_by: Option<String>,
    pub replaces: Option<String>,
    pub replaced_by: Option<String>,
    pub last_used_at: Option<String>,
    pub last_used_source: Option<String>,
    pub use_count: u64,
}

impl TokenView {
    pub fn new(t: &Token, now: DateTime<Utc>) -> Self {
        TokenView {
            id: t.id.clone(),
            account: t.account.clone(),
            account_id: t.account_id,
            org: t.org.clone(),
            name: t.name.clone(),
            scopes: t.scopes.clone(),
            status: status_of(t, now).as_str(),
            created_at: format_timestamp(t.created_at),
            created_by: t.created_by.clone(),
            expires_at: ts(t.expires_at),
            revoked_at: ts(t.revoked_at),
            revoked_by: t.revoked_by.clone(),
            replaces: t.replaces.clone(),
            replaced_by: t.replaced_by.clone(),
            last_used_at: ts(t.last_used_at),
            last_used_source: t.last_used_source.clone(),
            use_count: t.use_count,
        }
    }
}

pub fn print_token(printer: &Printer, token: &Token, now: DateTime<Utc>) -> Result<()> {
    if printer.is_json() {
        return printer.json(&TokenView::new(token, now));
    }
    let text = |s: &str| Cell::new(s);
    let opt = |s: &Option<String>| Cell::new(s.as_deref().unwrap_or("-"));
    let status = status_of(token, now);
    let mut pairs = vec![
        ("id", text(&token.id)),
        (
            "account",
            text(&format!("{} (id {})", token.account, token.account_id)),
        ),
        ("org", text(&token.org)),
        ("name", opt(&token.name)),
        ("status", printer.status(status.as_str())),
        (
            "scopes",
            text(&if token.scopes.is_empty() {
                "- (all of the account's)".into()
            } else {
                token.scopes.join(", ")
            }),
        ),
        (
            "created",
            text(&format!(
                "{} by {}",
                format_timestamp(token.created_at),
                token.created_by
            )),
        ),
        (
            "expires",
            text(&ts(token.expires_at).unwrap_or_else(|| "never".into())),
        ),
    ];
    if status == TokenStatus::Revoked {
        pairs.push((
            "revoked",
            text(&format!(
                "{} by {}",
                ts(token.revoked_at).unwrap_or_default(),
                token.revoked_by.as_deref().unwrap_or("-")
            )),
        ));
    }
    pairs.extend([
        ("replaces", opt(&token.replaces)),
        ("replaced by", opt(&token.replaced_by)),
        (
            "last used",
            text(&ts(token.last_used_at).unwrap_or_else(|| "never".into())),
        ),
        ("last used from", opt(&token.last_used_source)),
        ("use count", Cell::new(token.use_count)),
    ]);
    printer.record(pairs)
}

pub fn print_tokens(
    printer: &Printer,
    tokens: &[Token],
    usage: bool,
    now: DateTime<Utc>,
) -> Result<()> {
    if printer.is_json() {
        return printer.json(
            &tokens
                .iter()
                .map(|t| TokenView::new(t, now))
                .collect::<Vec<_>>(),
        );
    }
    let mut header = vec!["id", "account", "name", "status", "scopes", "expires"];
    if usage {
        header.extend(["last_used_at", "use_count", "last_used_source"]);
    }
    let rows = tokens
        .iter()
        .map(|t| {
            let mut row = vec![
                Cell::new(&t.id),
                Cell::new(&t.account),
                Cell::new(t.name.as_deref().unwrap_or("-")),
                printer.status(status_of(t, now).as_str()),
                Cell::new(if t.scopes.is_empty() {
                    "-".into()
                } else {
                    t.scopes.join(",")
                }),
                Cell::new({
                    let expires = t
                        .expires_at
                        .map_or_else(|| "never".into(), |at| short_time(Some(at)));
                    // A rotated token still in its grace period: its end is the rotation's.
                    match (&t.replaced_by, status_of(t, now)) {
                        (Some(_), TokenStatus::Active | TokenStatus::Disabled) => {
                            format!("{expires} (rotated)")
                        }
                        _ => expires,
                    }
                }),
            ];
            if usage {
                row.extend([
                    Cell::new(short_time(t.last_used_at)),
                    Cell::new(t.use_count),
                    Cell::new(t.last_used_source.as_deref().unwrap_or("-")),
                ]);
            }
            row
        })
        .collect();
    printer.table(&header, rows)
}

/// `sa token add --json` and `rotate --json`: the token's metadata plus the token itself
/// (`null` when it went to `--output-file`).
#[derive(Debug, Serialize)]
pub struct MintedView<'a> {
    #[serde(flatten)]
    pub metadata: TokenView,
    pub token: Option<&'a str>,
    pub output_file: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct VerifyView {
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'static str>,
    #[serde(flatten)]
    pub identity: Option<IdentityView>,
}

#[derive(Debug, Serialize)]
pub struct IdentityView {
    pub account: String,
    pub account_id: i64,
    pub org: String,
    pub token_id: String,
    pub permissions: Vec<String>,
    pub expires_at: Option<String>,
    pub expires_in_s: Option<i64>,
}

impl IdentityView {
    pub fn new(identity: &Identity, now: DateTime<Utc>) -> Self {
        IdentityView {
            account: identity.account.clone(),
            account_id: identity.account_id,
            org: identity.org.clone(),
            token_id: identity.token_id.to_string(),
            permissions: identity
                .permissions
                .iter()
                .map(ToString::to_string)
                .collect(),
            expires_at: ts(identity.expires_at),
            expires_in_s: identity.expires_at.map(|at| (at - now).num_seconds()),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct AuditEventView {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub org: String,
    pub target: String,
    pub account_id: Option<i64>,
    pub details: BTreeMap<String, String>,
}

pub fn print_audit(printer: &Printer, events: &[AuditEvent]) -> Result<()> {
    if printer.is_json() {
        let views: Vec<_> = events
            .iter()
            .map(|e| AuditEventView {
                id: e.id,
                at: format_timestamp(e.at),
                actor: e.actor.clone(),
                action: e.action.clone(),
                org: e.org.clone(),
                target: e.target.clone(),
                account_id: e.account_id,
                details: e.details.iter().cloned().collect(),
            })
            .collect();
        return printer.json(&views);
    }
    let rows = events
        .iter()
        .map(|e| {
            let details: Vec<String> = e.details.iter().map(|(k, v)| format!("{k}={v}")).collect();
            vec![
                Cell::new(e.id),
                Cell::new(format_timestamp(e.at)),
                Cell::new(&e.actor),
                Cell::new(&e.action),
                Cell::new(&e.target),
                Cell::new(details.join(" ")),
            ]
        })
        .collect();
    printer.table(&["id", "at", "actor", "action", "target", "details"], rows)
}

#[derive(Debug, Serialize)]
pub struct OrgView {
    pub name: String,
    pub created_at: String,
    pub active_accounts: u64,
    pub disabled_accounts: u64,
    pub deleted_accounts: u64,
}

pub fn print_orgs(printer: &Printer, orgs: &[OrgSummary]) -> Result<()> {
    if printer.is_json() {
        let views: Vec<_> = orgs
            .iter()
            .map(|o| OrgView {
                name: o.name.clone(),
                created_at: format_timestamp(o.created_at),
                active_accounts: o.active_accounts,
                disabled_accounts: o.disabled_accounts,
                deleted_accounts: o.deleted_accounts,
            })
            .collect();
        return printer.json(&views);
    }
    let rows = orgs
        .iter()
        .map(|o| {
            vec![
                Cell::new(&o.name),
                Cell::new(o.active_accounts),
                Cell::new(o.disabled_accounts),
                Cell::new(o.deleted_accounts),
                Cell::new(short_time(Some(o.created_at))),
            ]
        })
        .collect();
    printer.table(&["org", "active", "disabled", "deleted", "created"], rows)
}

#[derive(Debug, Serialize)]
pub struct CheckView {
    pub name: &'static str,
    pub ok: bool,
    pub summary: String,
    pub problems: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct CheckReportView {
    pub database: String,
    pub schema_version: Option<i64>,
    pub ok: bool,
    pub checks: Vec<CheckView>,
}

pub fn print_check_report(
    printer: &Printer,
    database: &std::path::Path,
    report: &CheckReport,
) -> Result<()> {
    if printer.is_json() {
        return printer.json(&CheckReportView {
            database: database.display().to_string(),
            schema_version: report.schema_version,
            ok: report.passed(),
            checks: report
                .checks
                .iter()
                .map(|c| CheckView {
                    name: c.name,
                    ok: c.passed(),
                    summary: c.summary.clone(),
                    problems: c.problems.clone(),
                })
                .collect(),
        });
    }
    let mut rows = Vec::new();
    for check in &report.checks {
        if check.passed() {
            rows.push(vec![
                Cell::new(check.name),
                printer.status("ok"),
                Cell::new(&check.summary),
            ]);
        }
        for (n, problem) in check.problems.iter().enumerate() {
            rows.push(vec![
                Cell::new(if n == 0 { check.name } else { "" }),
                printer.status(if n == 0 { "problem" } else { "" }),
                Cell::new(problem),
            ]);
        }
    }
    printer.table(&["check", "result", "details"], rows)
}
