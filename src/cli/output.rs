//! The Printer: data to stdout as a table or JSON, messages to stderr; and the `*View` structs
//! whose JSON field names are a compatibility promise (documented in the README).
//!
//! Domain types are not `Serialize`: each view is a deliberate, stable shape.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};

use chrono::{DateTime, Utc};
use comfy_table::{Cell, Color, ContentArrangement, Table, presets};
use serde::Serialize;

use crate::cli::jq::Jq;
use crate::cli::table::{Column, Field, GAP_WIDTH, List, MIN_CUT_WIDTH, Tone, cut, keep};
use crate::domain::database::CheckReport;
use crate::domain::permissions::Permission;
use crate::domain::roles::{Answer, Role, TokenPermissions};
use crate::domain::tokens::{Identity, TokenStatus, status_of};
use crate::error::{Error, Result};
use crate::store::{Account, AccountStatus, AuditEvent, OrgSummary, Token};
use crate::time::format_timestamp;

/// Table or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    /// A table with every column, nothing cut, and times in full.
    Wide,
    Json,
    /// Each listed row's handle, one per line.
    Name,
}

/// How a command's output is to look, from the global flags.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub format: Format,
    pub headers: bool,
    pub quiet: bool,
    pub color: crate::cli::args::ColorChoice,
}

/// All output of a command goes through here.
pub struct Printer {
    pub format: Format,
    /// Colour on stdout (tables) and on stderr (the `warning:` label), each decided once:
    /// only on a terminal, never with `NO_COLOR`.
    color: bool,
    color_stderr: bool,
    /// The width tables fit in: `$COLUMNS`, else the terminal's; `None` when neither says.
    width: Option<usize>,
    /// Whether tables print their header row (`--no-headers`).
    headers: bool,
    /// `--quiet`: no notes or warnings.
    quiet: bool,
    /// `--jq`: what JSON output goes through before it is printed.
    jq: Option<Jq>,
}

pub(crate) fn write_err(err: std::io::Error) -> Error {
    Error::io("cannot write to stdout", err)
}

pub(crate) fn encode_err(err: serde_json::Error) -> Error {
    Error::io("cannot encode JSON", std::io::Error::other(err))
}

impl Printer {
    pub fn new(style: Style, jq: Option<Jq>) -> Self {
        use crate::cli::args::ColorChoice;
        let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty() && v != "0");
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        // NO_COLOR and TERM=dumb win over a terminal; CLICOLOR_FORCE over a pipe; the flag
        // over all.
        let colour = |is_terminal: bool| match style.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => !no_color && (set("CLICOLOR_FORCE") || (is_terminal && !dumb)),
        };
        // A width of 0 — `COLUMNS=0`, or a pty that reports no size — would squeeze every
        // column to nothing: ignored.
        let width = std::env::var("COLUMNS")
            .ok()
            .and_then(|c| c.parse::<u16>().ok())
            .filter(|w| *w > 0)
            .or_else(|| Table::new().width().filter(|w| *w > 0))
            .map(usize::from);
        Printer {
            format: style.format,
            color: colour(std::io::stdout().is_terminal()),
            color_stderr: colour(std::io::stderr().is_terminal()),
            width,
            headers: style.headers,
            quiet: style.quiet,
            jq,
        }
    }

    /// Whether tables are coloured (a terminal, no `NO_COLOR`).
    pub fn colors(&self) -> bool {
        self.color
    }

    /// The width tables fit in, if known; none with `-o wide`, which shows every cell whole.
    pub fn width(&self) -> Option<usize> {
        self.width.filter(|_| !self.is_wide())
    }

    /// A list, streamed: JSON array or table, by the format.
    pub fn list(&self, columns: &'static [Column]) -> List<'_> {
        List::new(self, columns)
    }

    /// A small table of rows already at hand (never JSON).
    pub fn table(&self, columns: &'static [Column], rows: Vec<Vec<Field>>) -> Result<()> {
        let as_table = Printer {
            format: match self.format {
                Format::Json => Format::Table,
                other => other,
            },
            jq: None,
            ..*self
        };
        let mut list = List::new(&as_table, columns);
        for row in rows {
            list.push(|| (), || row)?;
        }
        list.finish().map(drop)
    }

    /// `--quiet`: no notes, no warnings, and no news that nothing happened.
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    pub fn is_json(&self) -> bool {
        self.format == Format::Json
    }

    /// `-o wide`: tables show every column, nothing cut, and times in full.
    pub fn is_wide(&self) -> bool {
        self.format == Format::Wide
    }

    /// `-o name`: lists print each row's handle only.
    pub fn names_only(&self) -> bool {
        self.format == Format::Name
    }

    /// Whether tables print their header row.
    pub fn headers(&self) -> bool {
        self.headers
    }

    /// One JSON document on stdout (through `--jq`'s filter, if given).
    pub fn json<T: Serialize + ?Sized>(&self, value: &T) -> Result<()> {
        if self.jq.is_some() {
            let text = serde_json::to_vec(value).map_err(encode_err)?;
            return self.print_filtered(&text);
        }
        let text = serde_json::to_string_pretty(value).map_err(encode_err)?;
        self.stdout_line(&text)
    }

    /// Whether JSON output goes through `--jq` (and lists are collected for it).
    pub(crate) fn filters(&self) -> bool {
        self.jq.is_some()
    }

    /// A whole JSON document (compact, as serde_json writes it) through `--jq`'s filter onto
    /// stdout: the one place the filter is applied, for lists and single documents alike.
    /// Without `--jq`, the document as it is.
    pub(crate) fn print_filtered(&self, json: &[u8]) -> Result<()> {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        let ran = match &self.jq {
            Some(jq) => jq.run(json, &mut out),
            None => out
                .write_all(json)
                .and_then(|()| out.write_all(b"\n"))
                .map_err(write_err),
        };
        // Results printed before a failure are kept, as jq keeps them.
        let flushed = out.flush().map_err(write_err);
        ran.and(flushed)
    }

    /// A raw line of data on stdout.
    pub fn stdout_line(&self, text: &str) -> Result<()> {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{text}")
            .and_then(|()| out.flush())
            .map_err(write_err)
    }

    /// Bytes on stdout as they are (a generated script).
    pub fn stdout_bytes(&self, bytes: &[u8]) -> Result<()> {
        let mut out = std::io::stdout().lock();
        out.write_all(bytes)
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
        if !self.quiet {
            let _ = writeln!(std::io::stderr(), "{text}");
        }
    }

    pub fn warn(&self, text: &str) {
        if !self.quiet {
            self.alert(text);
        }
    }

    /// A warning `--quiet` does not hide: something is already broken for someone (a token
    /// file gone), and a quiet cron job is exactly who must say so.
    pub fn alert(&self, text: &str) {
        let label = if self.color_stderr {
            "\x1b[33mwarning\x1b[0m"
        } else {
            "warning"
        };
        let _ = writeln!(std::io::stderr(), "{label}: {text}");
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
        if let Some(width) = self.width().and_then(|w| u16::try_from(w).ok()) {
            // A long value wraps inside its own column, under itself, at a word: the keys
            // stay a clean column. (Lists never wrap; a record is read, not parsed.)
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
        match Tone::of(status) {
            Tone::Good => cell.fg(Color::Green),
            Tone::Warning => cell.fg(Color::Yellow),
            Tone::Bad => cell.fg(Color::Red),
        }
    }
}

/// How tables show a time: to the minute, with its zone (always UTC).
pub fn short_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// How the audit table shows when an event happened: to the second, with its zone.
fn event_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// How far `at` is from `now`, to two units: `in 3h59m`, `2d ago`, `now`.
pub fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (at - now).num_seconds();
    // Past a minute, seconds are noise: `3m ago`, not `3m24s ago`.
    let abs = match secs.saturating_abs() {
        abs @ 0..60 => abs,
        abs => abs - abs % 60,
    };
    let span = crate::time::Duration::from_secs(abs).compact();
    match secs {
        0 => "now".into(),
        1.. => format!("in {span}"),
        _ => format!("{span} ago"),
    }
}

/// A time read against the present (an expiry, a last use) in a table cell: how far it is
/// (`in 3h59m`), which is what a reader scanning a list wants; `-o wide` adds the time itself.
pub fn time_cell(
    printer: &Printer,
    at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    none: &str,
) -> String {
    match at {
        None => none.to_string(),
        Some(at) if printer.is_wide() => format!("{} ({})", short_time(at), relative(at, now)),
        Some(at) => relative(at, now),
    }
}

/// A time read against the present in a record: in full, with how far it is.
fn full_time(at: Option<DateTime<Utc>>, now: DateTime<Utc>, none: &str) -> String {
    at.map_or_else(
        || none.to_string(),
        |at| format!("{} ({})", format_timestamp(at), relative(at, now)),
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

/// One account as commands about one account print it: with its effective permissions.
#[derive(Debug, Serialize)]
pub struct AccountDetailView {
    #[serde(flatten)]
    pub account: AccountView,
    /// The union of its roles' permissions.
    pub permissions: Vec<String>,
}

fn texts(permissions: &[Permission]) -> Vec<String> {
    permissions.iter().map(ToString::to_string).collect()
}

/// A list of permissions in a table cell.
fn joined(permissions: &[Permission], none: &str) -> String {
    if permissions.is_empty() {
        none.to_string()
    } else {
        texts(permissions).join(", ")
    }
}

pub fn print_account(
    printer: &Printer,
    account: &Account,
    permissions: &[Permission],
) -> Result<()> {
    if printer.is_json() {
        return printer.json(&AccountDetailView {
            account: AccountView::from(account),
            permissions: texts(permissions),
        });
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
            text(account.description.as_deref().unwrap_or(NONE)),
        ),
        ("roles", text(&list_cell(&account.roles))),
        (
            "permissions",
            text(&match account.status {
                AccountStatus::Active => joined(permissions, "- (none)"),
                status => format!(
                    "{} (none in effect while the account is {})",
                    joined(permissions, NONE),
                    status.as_str()
                ),
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

/// The columns of `sa list`.
pub const ACCOUNT_COLUMNS: &[Column] = &[
    keep("id"),
    cut("name").handle(),
    keep("status"),
    cut("roles"),
    keep("tokens"),
    keep("created"),
    keep("email").wide(),
    cut("reason").wide(),
    cut("description"),
];

/// One account as a row of `sa list`.
pub fn account_row(printer: &Printer, a: &Account) -> Vec<Field> {
    vec![
        Field::new(a.id.to_string()),
        Field::new(a.name.as_str()),
        Field::status(printer, a.status.as_str()),
        Field::new(list_cell(&a.roles)),
        Field::new(a.active_tokens.to_string()),
        Field::new(short_time(a.created_at)),
        Field::new(a.email.as_str()),
        Field::new(a.disabled_reason.as_deref().unwrap_or(NONE)),
        // Why an account is disabled matters more than what it is for; the prefix keeps the
        // two apart under one header. `-o wide` has a column for each.
        Field::new(match (&a.status, &a.disabled_reason) {
            (AccountStatus::Disabled, Some(reason)) if !printer.is_wide() => {
                format!("disabled: {reason}")
            }
            _ => a.description.clone().unwrap_or_else(|| NONE.into()),
        }),
    ]
}

/// What every table shows in a cell with nothing in it.
pub const NONE: &str = "-";

/// A list of names in a table cell, separated as everywhere: `editor, viewer`, or `-`.
pub fn list_cell<S: AsRef<str>>(items: &[S]) -> String {
    if items.is_empty() {
        return NONE.into();
    }
    items
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(", ")
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
    pub paused_at: Option<String>,
    pub paused_by: Option<String>,
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
            paused_at: ts(t.paused_at),
            paused_by: t.paused_by.clone(),
        }
    }
}

/// One token as `sa token show` prints it: with what it may do now.
#[derive(Debug, Serialize)]
pub struct TokenDetailView {
    #[serde(flatten)]
    pub token: TokenView,
    /// Its account's permissions, narrowed to its scopes.
    pub permissions: Vec<String>,
    /// Scopes its account's roles do not fully cover at the moment.
    pub scopes_not_held: Vec<String>,
}

pub fn print_token(
    printer: &Printer,
    token: &Token,
    held: &TokenPermissions,
    now: DateTime<Utc>,
) -> Result<()> {
    if printer.is_json() {
        return printer.json(&TokenDetailView {
            token: TokenView::new(token, now),
            permissions: texts(&held.effective),
            scopes_not_held: texts(&held.scopes_not_held),
        });
    }
    let text = |s: &str| Cell::new(s);
    let opt = |s: &Option<String>| Cell::new(s.as_deref().unwrap_or(NONE));
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
    ];
    if !held.scopes_not_held.is_empty() {
        pairs.push((
            "scopes not held",
            text(&format!(
                "{} (its account's roles do not grant them)",
                joined(&held.scopes_not_held, NONE)
            )),
        ));
    }
    pairs.extend([
        (
            "permissions",
            text(&match (status, token.account_status) {
                (TokenStatus::Active, AccountStatus::Active) => joined(&held.effective, "- (none)"),
                (TokenStatus::Active, account_status) => format!(
                    "{} (none in effect while its account is {})",
                    joined(&held.effective, NONE),
                    account_status.as_str()
                ),
                (status, _) => format!(
                    "{} (none in effect: the token is {})",
                    joined(&held.effective, NONE),
                    status.as_str()
                ),
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
        ("expires", text(&full_time(token.expires_at, now, "never"))),
    ]);
    if let (Some(at), TokenStatus::Disabled) = (token.paused_at, status) {
        pairs.push((
            "paused",
            text(&format!(
                "{} by {}",
                format_timestamp(at),
                token.paused_by.as_deref().unwrap_or(NONE)
            )),
        ));
    }
    if status == TokenStatus::Revoked {
        pairs.push((
            "revoked",
            text(&format!(
                "{} by {}",
                ts(token.revoked_at).unwrap_or_default(),
                token.revoked_by.as_deref().unwrap_or(NONE)
            )),
        ));
    }
    pairs.extend([
        ("replaces", opt(&token.replaces)),
        ("replaced by", opt(&token.replaced_by)),
        (
            "last used",
            text(&full_time(token.last_used_at, now, "never")),
        ),
        ("last used from", opt(&token.last_used_source)),
        ("use count", Cell::new(token.use_count)),
    ]);
    printer.record(pairs)
}

/// The columns of `sa token list --usage`; without `--usage`, the first seven.
pub const TOKEN_USAGE_COLUMNS: &[Column] = &[
    keep("id").handle(),
    cut("account"),
    cut("name"),
    keep("status"),
    cut("scopes"),
    keep("created").wide(),
    keep("expires"),
    keep("last used"),
    keep("uses"),
    cut("source"),
];
pub const TOKEN_COLUMNS: &[Column] = TOKEN_USAGE_COLUMNS.split_at(7).0;

/// One token as a row of `sa token list`.
pub fn token_row(printer: &Printer, t: &Token, usage: bool, now: DateTime<Utc>) -> Vec<Field> {
    let status = status_of(t, now);
    let expires = time_cell(printer, t.expires_at, now, "never");
    let mut row = vec![
        Field::new(t.id.as_str()),
        Field::new(t.account.as_str()),
        Field::new(t.name.as_deref().unwrap_or(NONE)),
        Field::status(printer, status.as_str()),
        Field::new(list_cell(&t.scopes)),
        Field::new(short_time(t.created_at)),
        // A rotated token still in its grace period: its end is the rotation's.
        Field::new(match (&t.replaced_by, status) {
            (Some(_), TokenStatus::Active | TokenStatus::Disabled) => {
                format!("{expires} (rotated)")
            }
            _ => expires,
        }),
    ];
    if usage {
        row.extend([
            Field::new(time_cell(printer, t.last_used_at, now, "never")),
            Field::new(t.use_count.to_string()),
            Field::new(t.last_used_source.as_deref().unwrap_or(NONE)),
        ]);
    }
    row
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
    /// Typed for JSON by [`typed_detail`]; stored (and hashed) as text.
    pub details: BTreeMap<String, serde_json::Value>,
}

/// A detail's value as JSON: lists (roles, scopes, permissions, token ids) as arrays, counts
/// and ids as numbers, `bulk` as a boolean, the rest as text. Stored as text, as the chain
/// hashes it; a value that does not read as its type stays text rather than being lost.
fn typed_detail(action: &str, key: &str, value: &str) -> serde_json::Value {
    use serde_json::Value;
    let list = matches!(key, "roles" | "scopes" | "permissions" | "token_ids")
        || (action.starts_with("role.") && matches!(key, "added" | "removed"));
    let number = matches!(
        key,
        "id" | "cut_id"
            | "removed"
            | "removed_total"
            | "grants_removed"
            | "revoked_tokens"
            | "tokens"
    ) || (action == "apply" && matches!(key, "added" | "changed" | "deleted"));
    if list {
        Value::Array(
            value
                .split(',')
                .filter(|item| !item.is_empty())
                .map(|item| Value::String(item.to_string()))
                .collect(),
        )
    } else if let (true, Ok(n)) = (number, value.parse::<u64>()) {
        Value::from(n)
    } else if key == "bulk" && matches!(value, "true" | "false") {
        Value::Bool(value == "true")
    } else {
        Value::String(value.to_string())
    }
}

impl From<&AuditEvent> for AuditEventView {
    fn from(e: &AuditEvent) -> Self {
        AuditEventView {
            id: e.id,
            at: format_timestamp(e.at),
            actor: e.actor.clone(),
            action: e.action.clone(),
            org: e.org.clone(),
            target: e.target.clone(),
            account_id: e.account_id,
            details: e
                .details
                .iter()
                .map(|(key, value)| (key.clone(), typed_detail(&e.action, key, value)))
                .collect(),
        }
    }
}

/// The columns of `sa audit`.
pub const AUDIT_COLUMNS: &[Column] = &[
    keep("id").handle(),
    keep("at"),
    cut("actor"),
    keep("action"),
    cut("target"),
    cut("details"),
];

/// One event as a row of `sa audit`.
pub fn audit_row(e: &AuditEvent) -> Vec<Field> {
    let details: Vec<String> = e.details.iter().map(|(k, v)| format!("{k}={v}")).collect();
    vec![
        Field::new(e.id.to_string()),
        Field::new(event_time(e.at)),
        Field::new(e.actor.as_str()),
        Field::new(e.action.as_str()),
        Field::new(e.target.as_str()),
        Field::new(details.join(" ")),
    ]
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
    const COLUMNS: &[Column] = &[
        cut("org"),
        keep("active"),
        keep("disabled"),
        keep("deleted"),
        keep("created"),
    ];
    let rows = orgs
        .iter()
        .map(|o| {
            vec![
                Field::new(o.name.as_str()),
                Field::new(o.active_accounts.to_string()),
                Field::new(o.disabled_accounts.to_string()),
                Field::new(o.deleted_accounts.to_string()),
                Field::new(short_time(o.created_at)),
            ]
        })
        .collect();
    printer.table(COLUMNS, rows)
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

/// `database` as sa prints it (`Config::database_display`: a URL's password masked).
pub fn print_check_report(printer: &Printer, database: &str, report: &CheckReport) -> Result<()> {
    if printer.is_json() {
        return printer.json(&CheckReportView {
            database: database.to_string(),
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
    const COLUMNS: &[Column] = &[keep("check"), keep("result"), cut("details")];
    let mut rows = Vec::new();
    for check in &report.checks {
        if check.passed() {
            rows.push(vec![
                Field::new(check.name),
                Field::status(printer, "ok"),
                Field::new(check.summary.as_str()),
            ]);
        }
        for (n, problem) in check.problems.iter().enumerate() {
            rows.push(vec![
                Field::new(if n == 0 { check.name } else { "" }),
                Field::status(printer, if n == 0 { "problem" } else { "" }),
                Field::new(problem.as_str()),
            ]);
        }
    }
    printer.table(COLUMNS, rows)
}

#[derive(Debug, Serialize)]
pub struct RoleView {
    pub name: String,
    pub builtin: bool,
    pub description: Option<String>,
    pub permissions: Vec<String>,
    /// Accounts of the organization holding it (deleted ones aside).
    pub account_count: u64,
}

impl From<&Role> for RoleView {
    fn from(role: &Role) -> Self {
        RoleView {
            name: role.name.clone(),
            builtin: role.builtin,
            description: role.description.clone(),
            permissions: texts(&role.permissions),
            account_count: role.holders,
        }
    }
}

/// `sa role show`: the role and the names of the accounts holding it.
#[derive(Debug, Serialize)]
pub struct RoleDetailView {
    #[serde(flatten)]
    pub role: RoleView,
    pub accounts: Vec<String>,
}

fn role_kind(role: &Role) -> &'static str {
    if role.builtin { "built-in" } else { "custom" }
}

/// The columns of `sa role list`.
pub const ROLE_COLUMNS: &[Column] = &[
    cut("name").handle(),
    keep("type"),
    keep("accounts"),
    cut("permissions"),
    cut("description"),
];

pub fn role_row(role: &Role) -> Vec<Field> {
    vec![
        Field::new(role.name.as_str()),
        Field::new(role_kind(role)),
        Field::new(role.holders.to_string()),
        Field::new(list_cell(&texts(&role.permissions))),
        Field::new(role.description.as_deref().unwrap_or(NONE)),
    ]
}

/// How many holders `sa role show` names in its table; JSON names them all.
pub const HOLDERS_SHOWN: usize = 20;

/// One role; with `holders`, the accounts that hold it too (`sa role show`).
pub fn print_role(printer: &Printer, role: &Role, holders: Option<&[String]>) -> Result<()> {
    if printer.is_json() {
        let view = RoleView::from(role);
        return match holders {
            Some(names) => printer.json(&RoleDetailView {
                role: view,
                accounts: names.to_vec(),
            }),
            None => printer.json(&view),
        };
    }
    let text = |s: &str| Cell::new(s);
    let mut pairs = vec![
        ("name", text(&role.name)),
        ("type", text(role_kind(role))),
        (
            "description",
            text(role.description.as_deref().unwrap_or(NONE)),
        ),
        ("permissions", text(&joined(&role.permissions, NONE))),
        ("accounts", Cell::new(role.holders)),
    ];
    if let Some(names) = holders.filter(|n| !n.is_empty()) {
        let mut shown = names.join(", ");
        let more = role.holders.saturating_sub(names.len() as u64);
        if more > 0 {
            shown.push_str(&format!(
                ", … and {more} more (`sa list --role {}` lists them all)",
                role.name
            ));
        }
        pairs.push(("held by", text(&shown)));
    }
    printer.record(pairs)
}

/// `sa role grant|revoke --json`: one per account named.
#[derive(Debug, Serialize)]
pub struct GrantView {
    pub account: String,
    pub role: String,
    /// False when the account already held (or did not hold) the role.
    pub changed: bool,
}

#[derive(Debug, Serialize)]
pub struct GrantedByView {
    pub role: String,
    pub permission: String,
}

/// `sa can --json`.
#[derive(Debug, Serialize)]
pub struct CanView {
    pub allowed: bool,
    pub account: String,
    pub permission: String,
    pub token_id: Option<String>,
    /// The token's scopes; empty when unscoped or no token was asked about.
    pub scopes: Vec<String>,
    /// The account's grants that cover the permission.
    pub granted_by: Vec<GrantedByView>,
    /// Why not, when not allowed.
    pub reason: Option<String>,
}

/// `yes` or `no` on the first line (as `kubectl auth can-i`), then why.
pub fn print_answer(printer: &Printer, answer: &Answer) -> Result<()> {
    let granted_by = answer
        .granted_by
        .iter()
        .map(|(permission, role)| GrantedByView {
            role: role.clone(),
            permission: permission.to_string(),
        })
        .collect::<Vec<_>>();
    if printer.is_json() {
        return printer.json(&CanView {
            allowed: answer.allowed,
            account: answer.account.clone(),
            permission: answer.permission.to_string(),
            token_id: answer.token_id.clone(),
            scopes: texts(&answer.scopes),
            granted_by,
            reason: answer.reason.clone(),
        });
    }
    printer.stdout_line(if answer.allowed { "yes" } else { "no" })?;
    let text = |s: &str| Cell::new(s);
    let mut pairs = vec![
        ("account", text(&answer.account)),
        ("permission", text(&answer.permission.to_string())),
    ];
    if let Some(id) = &answer.token_id {
        pairs.push(("token", text(id)));
        pairs.push((
            "scopes",
            text(&joined(&answer.scopes, "- (all of the account's)")),
        ));
    }
    let roles = granted_by
        .iter()
        .map(|g| format!("{} ({})", g.role, g.permission))
        .collect::<Vec<_>>();
    pairs.push(("granted by", text(&list_cell(&roles))));
    if let Some(reason) = &answer.reason {
        pairs.push(("reason", text(reason)));
    }
    printer.record(pairs)
}

#[derive(Debug, Serialize)]
pub struct CheckpointView {
    pub last_removed_id: i64,
    pub last_removed_hash: String,
    pub removed: u64,
    pub at: String,
    pub by: String,
}

#[derive(Debug, Serialize)]
pub struct ChainProblemView {
    pub event_id: i64,
    pub reason: String,
}

/// `sa audit verify --json`.
#[derive(Debug, Serialize)]
pub struct ChainReportView {
    pub org: String,
    pub ok: bool,
    pub events_checked: u64,
    pub head_hash: String,
    pub checkpoint: Option<CheckpointView>,
    pub problem: Option<ChainProblemView>,
}

pub fn print_chain_report(
    printer: &Printer,
    org: &str,
    report: &crate::domain::audit::ChainReport,
) -> Result<()> {
    let checkpoint = report.checkpoint.as_ref().map(|c| CheckpointView {
        last_removed_id: c.last_removed_id,
        last_removed_hash: c.last_removed_hash.clone(),
        removed: c.removed,
        at: format_timestamp(c.at),
        by: c.by.clone(),
    });
    let problem = report
        .problem
        .as_ref()
        .map(|(id, reason)| ChainProblemView {
            event_id: *id,
            reason: reason.clone(),
        });
    if printer.is_json() {
        return printer.json(&ChainReportView {
            org: org.to_string(),
            ok: problem.is_none(),
            events_checked: report.checked,
            head_hash: report.head.clone(),
            checkpoint,
            problem,
        });
    }
    let text = |s: &str| Cell::new(s);
    let mut pairs = vec![
        (
            "result",
            printer.status(if problem.is_none() { "ok" } else { "tampered" }),
        ),
        ("org", text(org)),
        ("checked", text(&format!("{} event(s)", report.checked))),
    ];
    if problem.is_none() {
        pairs.push((
            "head",
            text(if report.head.is_empty() {
                NONE
            } else {
                &report.head
            }),
        ));
    }
    if let Some(c) = &checkpoint {
        pairs.push((
            "pruned",
            text(&format!(
                "{} event(s), up to event {}, last at {} by {}",
                c.removed, c.last_removed_id, c.at, c.by
            )),
        ));
    }
    if let Some(p) = &problem {
        pairs.push((
            "problem",
            text(&format!("event {}: {}", p.event_id, p.reason)),
        ));
    }
    printer.record(pairs)
}

#[derive(Debug, Serialize)]
pub struct AccountCountsView {
    pub active: u64,
    pub disabled: u64,
    pub deleted: u64,
    /// `limits.max_accounts`; deleted accounts count against it while restorable.
    pub limit: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct TokenCountsView {
    pub active: u64,
    pub disabled: u64,
    pub expired: u64,
    pub revoked: u64,
}

#[derive(Debug, Serialize)]
pub struct ExpiringView {
    pub within: String,
    pub tokens: u64,
}

#[derive(Debug, Serialize)]
pub struct StaleView {
    pub unused_for: String,
    pub tokens: u64,
    pub accounts: u64,
}

#[derive(Debug, Serialize)]
pub struct VerificationsView {
    pub last_1d: u64,
    pub last_7d: u64,
    pub last_30d: u64,
}

#[derive(Debug, Serialize)]
pub struct DriftView {
    pub tokens_over_max_ttl: u64,
    pub max_ttl: String,
    /// Counted only while `tokens.require_expiry` is on.
    pub tokens_without_expiry: u64,
    pub require_expiry: bool,
    pub accounts_over_token_limit: u64,
    pub max_tokens_per_account: u64,
    pub total: u64,
}

/// `sa usage --json`.
#[derive(Debug, Serialize)]
pub struct OrgUsageView {
    pub org: String,
    pub accounts: AccountCountsView,
    pub tokens: TokenCountsView,
    pub expiring: ExpiringView,
    pub never_used: u64,
    pub stale: StaleView,
    pub auto_disabled: u64,
    pub verifications: VerificationsView,
    pub drift: DriftView,
    pub needs_attention: bool,
}

impl From<&crate::domain::usage::OrgUsage> for OrgUsageView {
    fn from(u: &crate::domain::usage::OrgUsage) -> Self {
        let c = &u.counts;
        OrgUsageView {
            org: u.org.clone(),
            accounts: AccountCountsView {
                active: c.accounts_active,
                disabled: c.accounts_disabled,
                deleted: c.accounts_deleted,
                limit: u.max_accounts,
            },
            tokens: TokenCountsView {
                active: c.tokens_active,
                disabled: c.tokens_disabled,
                expired: c.tokens_expired,
                revoked: c.tokens_revoked,
            },
            expiring: ExpiringView {
                within: u.expiring_within.to_string(),
                tokens: c.tokens_expiring,
            },
            never_used: c.tokens_never_used,
            stale: StaleView {
                unused_for: u.stale.to_string(),
                tokens: c.tokens_stale,
                accounts: c.accounts_stale,
            },
            auto_disabled: c.tokens_auto_disabled,
            verifications: VerificationsView {
                last_1d: c.verifications[0],
                last_7d: c.verifications[1],
                last_30d: c.verifications[2],
            },
            drift: DriftView {
                tokens_over_max_ttl: c.tokens_over_max_ttl,
                max_ttl: u.max_ttl.to_string(),
                tokens_without_expiry: u.tokens_without_expiry_drift(),
                require_expiry: u.require_expiry,
                accounts_over_token_limit: c.accounts_over_token_limit,
                max_tokens_per_account: u.max_tokens_per_account,
                total: u.drift(),
            },
            needs_attention: u.needs_attention(),
        }
    }
}

/// The organization's report: one line per question, with the command that lists what a
/// line counts when it needs attention.
pub fn print_org_usage(printer: &Printer, usage: &crate::domain::usage::OrgUsage) -> Result<()> {
    let view = OrgUsageView::from(usage);
    if printer.is_json() {
        return printer.json(&view);
    }
    let text = |s: &str| Cell::new(s);
    // A line that needs attention, in yellow on a terminal.
    let flag = |n: u64, line: String| {
        let cell = Cell::new(line);
        if n > 0 && printer.colors() {
            cell.fg(Color::Yellow)
        } else {
            cell
        }
    };
    let limit = view
        .accounts
        .limit
        .map_or_else(String::new, |l| format!(" (limit {l})"));
    let t = &view.tokens;
    let drift = &view.drift;
    let pairs = vec![
        (
            "status",
            printer.status(if view.needs_attention {
                "attention"
            } else {
                "ok"
            }),
        ),
        ("org", text(&view.org)),
        (
            "accounts",
            text(&format!(
                "{} active, {} disabled, {} deleted{limit}",
                view.accounts.active, view.accounts.disabled, view.accounts.deleted
            )),
        ),
        (
            "tokens",
            text(&format!(
                "{} active, {} disabled, {} expired, {} revoked",
                t.active, t.disabled, t.expired, t.revoked
            )),
        ),
        (
            "expiring",
            flag(
                view.expiring.tokens,
                format!(
                    "{} within {}{}",
                    view.expiring.tokens,
                    view.expiring.within,
                    hint(
                        view.expiring.tokens,
                        &format!("sa token list --expiring-within {}", view.expiring.within)
                    )
                ),
            ),
        ),
        ("never used", text(&format!("{} token(s)", view.never_used))),
        (
            "stale",
            flag(
                view.stale.tokens + view.stale.accounts,
                format!(
                    "{} token(s), {} account(s) unused for {}{}",
                    view.stale.tokens,
                    view.stale.accounts,
                    view.stale.unused_for,
                    hint(
                        view.stale.tokens,
                        &format!(
                            "sa token list --unused-for {} --status active",
                            view.stale.unused_for
                        )
                    )
                ),
            ),
        ),
        (
            "auto-disabled",
            text(&format!(
                "{} token(s){}",
                view.auto_disabled,
                hint(view.auto_disabled, "sa token list --status disabled")
            )),
        ),
        (
            "verifications",
            text(&format!(
                "{} today, {} in 7 days, {} in 30 days",
                view.verifications.last_1d, view.verifications.last_7d, view.verifications.last_30d
            )),
        ),
        // Policy drift: existing tokens against today's policy, one line per rule, so that no
        // line outgrows an 80-column terminal.
        (
            "over max_ttl",
            flag(
                drift.tokens_over_max_ttl,
                format!(
                    "{} token(s) living longer than {}",
                    drift.tokens_over_max_ttl, drift.max_ttl
                ),
            ),
        ),
        (
            "no expiry",
            flag(
                drift.tokens_without_expiry,
                format!(
                    "{} token(s) never expiring{}",
                    drift.tokens_without_expiry,
                    if drift.require_expiry {
                        ""
                    } else {
                        " (allowed: require_expiry is off)"
                    },
                ),
            ),
        ),
        (
            "over limit",
            flag(
                drift.accounts_over_token_limit,
                format!(
                    "{} account(s) with over {} active tokens",
                    drift.accounts_over_token_limit, drift.max_tokens_per_account
                ),
            ),
        ),
    ];
    printer.record(pairs)
}

/// `  (sa token list …)` after a count that is not zero.
fn hint(count: u64, command: &str) -> String {
    if count == 0 {
        String::new()
    } else {
        format!("  ({command})")
    }
}

#[derive(Debug, Serialize)]
pub struct DayCountView {
    pub day: String,
    pub count: u64,
}

#[derive(Debug, Serialize)]
pub struct TokenUsageView {
    pub id: String,
    pub name: Option<String>,
    pub status: &'static str,
    pub use_count: u64,
    pub last_used_at: Option<String>,
    pub last_used_source: Option<String>,
    /// Verifications within the window.
    pub in_window: u64,
    pub series: Vec<DayCountView>,
}

/// `sa usage ACCOUNT --json`.
#[derive(Debug, Serialize)]
pub struct AccountUsageView {
    pub account: String,
    pub account_id: i64,
    pub org: String,
    pub days: u32,
    pub from: String,
    pub to: String,
    pub tokens: Vec<TokenUsageView>,
}

/// The characters of a sparkline, lowest first; a day without any use is `·`.
const SPARKS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
/// The widest a sparkline gets: longer series are summed into this many buckets.
const SPARK_WIDTH: usize = 30;

/// One character per day (or per bucket of days, past `width`), scaled to the busiest.
pub fn sparkline(counts: &[u64], width: usize) -> String {
    let per = counts.len().div_ceil(width.max(1)).max(1);
    let buckets: Vec<u64> = counts.chunks(per).map(|c| c.iter().sum()).collect();
    let max = buckets.iter().copied().max().unwrap_or(0);
    buckets
        .iter()
        .map(|&n| {
            if n == 0 {
                '·'
            } else {
                // 1..=8, rounding up so that any use shows.
                let level = (n * 8).div_ceil(max.max(1)).clamp(1, 8);
                SPARKS[usize::try_from(level - 1).unwrap_or(0)]
            }
        })
        .collect()
}

pub fn print_account_usage(
    printer: &Printer,
    report: &crate::domain::usage::AccountUsage,
    days: u32,
) -> Result<()> {
    let (account, tokens, now) = (&report.account, &report.tokens, report.at);
    let (from, to) = (report.from.to_string(), report.to.to_string());
    if printer.is_json() {
        return printer.json(&AccountUsageView {
            account: account.name.clone(),
            account_id: account.id,
            org: account.org.clone(),
            days,
            from,
            to,
            tokens: tokens
                .iter()
                .map(|u| TokenUsageView {
                    id: u.token.id.clone(),
                    name: u.token.name.clone(),
                    status: status_of(&u.token, now).as_str(),
                    use_count: u.token.use_count,
                    last_used_at: ts(u.token.last_used_at),
                    last_used_source: u.token.last_used_source.clone(),
                    in_window: u.in_window(),
                    series: u
                        .series
                        .iter()
                        .map(|(day, count)| DayCountView {
                            day: day.to_string(),
                            count: *count,
                        })
                        .collect(),
                })
                .collect(),
        });
    }
    const COLUMNS: &[Column] = &[
        keep("id"),
        cut("name"),
        keep("status"),
        keep("uses"),
        keep("window"),
        keep("last used"),
        cut("source"),
        keep("per day"),
    ];
    let rows: Vec<(Vec<Field>, Vec<u64>)> = tokens
        .iter()
        .map(|u| {
            let fields = vec![
                Field::new(u.token.id.as_str()),
                Field::new(u.token.name.as_deref().unwrap_or(NONE)),
                Field::status(printer, status_of(&u.token, now).as_str()),
                Field::new(u.token.use_count.to_string()),
                Field::new(u.in_window().to_string()),
                Field::new(time_cell(printer, u.token.last_used_at, now, "never")),
                Field::new(u.token.last_used_source.as_deref().unwrap_or(NONE)),
            ];
            (fields, u.series.iter().map(|(_, n)| *n).collect())
        })
        .collect();
    // The sparkline takes what the other columns leave of a known width (free text cut to
    // its narrowest), between a week's and SPARK_WIDTH characters: never wider than the
    // terminal, never a wrapped row.
    let spark_width = printer.width().map_or(SPARK_WIDTH, |width| {
        let others: usize = COLUMNS[..COLUMNS.len() - 1]
            .iter()
            .enumerate()
            .map(|(i, column)| {
                let widest = rows
                    .iter()
                    .map(|(fields, _)| fields[i].width())
                    .chain([column.header.len()])
                    .max()
                    .unwrap_or(0);
                if column.cut {
                    widest.min(MIN_CUT_WIDTH)
                } else {
                    widest
                }
            })
            .sum::<usize>()
            + GAP_WIDTH * (COLUMNS.len() - 1);
        width.saturating_sub(others).clamp(7, SPARK_WIDTH)
    });
    let per = (days as usize).div_ceil(spark_width).max(1);
    printer.note(&format!(
        "account `{}` (id {}): verifications per UTC day, {from} to {to}, oldest on the left{}",
        account.name,
        account.id,
        if per > 1 {
            format!(" ({per} days a character)")
        } else {
            String::new()
        }
    ));
    let rows = rows
        .into_iter()
        .map(|(mut fields, counts)| {
            fields.push(Field::new(sparkline(&counts, spark_width)));
            fields
        })
        .collect();
    printer.table(COLUMNS, rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;

    #[test]
    fn relative_times_read_as_distances_to_the_minute() {
        let now = DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z")
            .unwrap()
            .to_utc();
        let at = |secs: i64| now + TimeDelta::seconds(secs);
        assert_eq!(relative(now, now), "now");
        assert_eq!(relative(at(4 * 3600 - 1), now), "in 3h59m");
        assert_eq!(relative(at(4 * 3600), now), "in 4h");
        assert_eq!(relative(at(-45), now), "45s ago");
        assert_eq!(relative(at(-(3 * 60 + 24)), now), "3m ago");
        assert_eq!(relative(at(-2 * 86_400), now), "2d ago");
        assert_eq!(relative(at(-(2 * 86_400 + 3 * 3600 + 59)), now), "2d3h ago");
        assert_eq!(relative(at(400 * 86_400), now), "in 400d");
    }

    #[test]
    fn list_cells_share_one_separator_and_one_empty_mark() {
        assert_eq!(list_cell::<&str>(&[]), NONE);
        assert_eq!(list_cell(&["editor", "viewer"]), "editor, viewer");
    }
}

/// `sa export`: one organization as `sa apply` reads it. JSON has every key (`null` and `[]`
/// for nothing); TOML, which has no null, leaves out what is absent or empty, as a person
/// writing the file would.
#[derive(Debug, Serialize)]
pub struct ExportView {
    /// JSON only: a TOML file of one organization applies to the one `--org` names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<ExportRoleView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounts: Option<Vec<ExportAccountView>>,
}

#[derive(Debug, Serialize)]
pub struct ExportRoleView {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Option<String>>,
    pub permissions: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ExportAccountView {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Vec<ExportTokenView>>,
}

#[derive(Debug, Serialize)]
pub struct ExportTokenView {
    pub label: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// RFC 3339, or `never`: what `expires` takes, so the file applies as it is.
    pub expires: String,
    /// In TOML only when `disabled`: a file that does not say leaves a pause alone, so an
    /// export applied from cron does not undo an administrator's `sa token disable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
}

impl ExportView {
    /// `toml`: leave out what is absent or empty.
    pub fn new(exported: &crate::domain::apply::Exported, toml: bool) -> Self {
        // In JSON every key is there; in TOML only a value.
        fn kept<T>(value: T, empty: bool, toml: bool) -> Option<T> {
            (!(toml && empty)).then_some(value)
        }
        let text = |value: &Option<String>| kept(value.clone(), value.is_none(), toml);
        let roles = exported
            .roles
            .iter()
            .map(|role| ExportRoleView {
                name: role.name.clone(),
                description: text(&role.description),
                permissions: role.permissions.clone(),
            })
            .collect();
        let accounts = exported
            .accounts
            .iter()
            .map(|(account, tokens)| ExportAccountView {
                name: account.name.clone(),
                description: text(&account.description),
                roles: kept(account.roles.clone(), account.roles.is_empty(), toml),
                status: account.status.as_str(),
                disabled_reason: text(&account.disabled_reason),
                tokens: kept(
                    tokens
                        .iter()
                        .map(|token| ExportTokenView {
                            label: token.name.clone().unwrap_or_default(),
                            scopes: kept(token.scopes.clone(), token.scopes.is_empty(), toml),
                            expires: token
                                .expires_at
                                .map_or_else(|| "never".into(), format_timestamp),
                            status: kept(
                                token.status.as_str(),
                                token.status == crate::store::StoredStatus::Active,
                                toml,
                            ),
                        })
                        .collect(),
                    tokens.is_empty(),
                    toml,
                ),
            })
            .collect::<Vec<_>>();
        ExportView {
            org: (!toml).then(|| exported.org.clone()),
            roles: kept(roles, exported.roles.is_empty(), toml),
            accounts: kept(accounts, exported.accounts.is_empty(), toml),
        }
    }
}

/// `sa apply --json`: the plan, or what was applied.
#[derive(Debug, Serialize)]
pub struct PlanView {
    pub dry_run: bool,
    pub changes: Vec<ChangeView>,
    /// How many changes add (`+`), change (`~`) and delete (`-`) something.
    pub add: usize,
    pub change: usize,
    pub delete: usize,
    /// The token files written, one per minted token.
    pub token_files: Vec<TokenFileView>,
}

/// A token `sa apply` minted, and the file its secret went to.
#[derive(Debug, Serialize)]
pub struct TokenFileView {
    pub org: String,
    pub account: String,
    pub label: String,
    pub token_id: String,
    pub path: String,
}

#[derive(Debug, Serialize)]
pub struct ChangeView {
    pub org: String,
    /// `create`, `update`, `delete`, `mint`, `rotate`, `disable`, `enable`.
    pub op: &'static str,
    /// `role`, `account` or `token`.
    pub kind: &'static str,
    /// A role's or account's name; a token's `ACCOUNT/LABEL`.
    pub name: String,
    pub details: Vec<String>,
}

impl From<&crate::domain::apply::Change> for ChangeView {
    fn from(change: &crate::domain::apply::Change) -> Self {
        ChangeView {
            org: change.org.to_string(),
            op: change.op.as_str(),
            kind: change.kind.as_str(),
            name: change.name.clone(),
            details: change.details.clone(),
        }
    }
}

/// A plan's line: `+ create account ci-bot: +deployer, description`, its sign coloured on a
/// terminal. `qualified`: names carry their organization (a file of several).
pub fn plan_line(
    printer: &Printer,
    change: &crate::domain::apply::Change,
    qualified: bool,
) -> String {
    let sign = change.op.sign();
    let sign = if printer.colors() {
        let color = match sign {
            '+' => "32",
            '-' => "31",
            _ => "33",
        };
        format!("\x1b[{color}m{sign}\x1b[0m")
    } else {
        sign.to_string()
    };
    let name = if qualified {
        format!("{}/{}", change.org, change.name)
    } else {
        change.name.clone()
    };
    let mut line = format!(
        "{sign} {} {} {name}",
        change.op.as_str(),
        change.kind.as_str()
    );
    if !change.details.is_empty() {
        line.push_str(": ");
        line.push_str(&change.details.join(", "));
    }
    line
}
