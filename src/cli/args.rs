//! Every clap type of `sa`. The `///` comments are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use clap_complete::engine::ArgValueCandidates;

use crate::cli::complete;

use crate::domain::names::{AccountName, AccountRef, OrgName, RoleName};
use crate::domain::permissions::Permission;
use crate::domain::token_format::TokenId;
use crate::time::{Duration, ExpiryRequest, Since};

/// Administer service accounts and their API tokens over a local SQLite database.
#[derive(Debug, Parser)]
#[command(name = "sa", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    // $SA_DB and $SA_CONFIG are read by config.rs, not clap (an empty one means unset, and
    // `sa config show` names where a value came from); the help names them as clap would.
    /// Database file [default: `db_path`, $XDG_DATA_HOME/sa/sa.db] [env: SA_DB]
    #[arg(long, global = true, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Config file [default: $XDG_CONFIG_HOME/sa/config.toml] [env: SA_CONFIG]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Organization [default: `default`; under a token, the token's]
    #[arg(long, global = true, env = "SA_ORG", hide_env_values = true, value_name = "NAME", value_parser = org_or_default)]
    pub org: Option<OrgArg>,
    /// Who acts, for the audit trail [default: the OS user; under a token, `sa:ACCOUNT`]
    #[arg(
        long,
        global = true,
        env = "SA_ACTOR",
        hide_env_values = true,
        value_name = "NAME"
    )]
    pub actor: Option<String>,
    /// Act as the service account whose token is in PATH, as $SA_TOKEN does
    #[arg(long, global = true, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// Print JSON (same as `-o json`)
    #[arg(long, global = true)]
    pub json: bool,
    /// Output: table, wide (every column, nothing cut), json, or name (each row's handle, for xargs)
    #[arg(
        short = 'o',
        long,
        global = true,
        value_enum,
        value_name = "FORMAT",
        hide_possible_values = true
    )]
    pub output: Option<OutputFormat>,
    /// Filter JSON output with a jq expression (implies `--json`)
    #[arg(long, global = true, value_name = "EXPR")]
    pub jq: Option<String>,
    /// Tables without their header row
    #[arg(long, global = true)]
    pub no_headers: bool,
    /// No notes or warnings on stderr (errors still)
    #[arg(short = 'q', long, global = true)]
    pub quiet: bool,
    /// Colour: auto (a terminal; not with NO_COLOR or TERM=dumb), always, never
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "WHEN",
        default_value_t = ColorChoice::Auto,
        hide_possible_values = true,
        hide_default_value = true
    )]
    pub color: ColorChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Wide,
    Json,
    Name,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    #[command(flatten)]
    Account(AccountCommand),
    /// Service accounts (the same commands as the top-level `create`, `list` and the rest)
    #[command(name = "account", subcommand)]
    AccountGroup(AccountCommand),
    /// Mint, list, rotate, revoke and verify API tokens
    #[command(subcommand)]
    Token(TokenCommand),
    /// Find tokens in files, directories or stdin; exit 1 when a live one is found
    ///
    /// Tokens are found by their pattern and confirmed by their checksum, so nothing else
    /// matches; each is reported with its file, line, column, token id (never its secret),
    /// account and status: live, expired, revoked, paused, or unknown to this database.
    Scan(ScanArgs),
    /// Organizations
    #[command(subcommand)]
    Org(OrgCommand),
    /// The effective configuration
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Roles: named sets of `resource:action` permissions, granted to accounts
    #[command(subcommand)]
    Role(RoleCommand),
    /// Whether an account (or token) holds a permission, and which roles grant it
    Can(CanArgs),
    /// What the organization's tokens are doing; or one account's, day by day
    Usage(UsageArgs),
    /// Read the audit trail, oldest first; `verify` its hash chain; `prune` old events
    Audit(AuditArgs),
    /// Print the organization as a file that `sa apply` reads
    ///
    /// TOML by default (`--json` for JSON), in a stable order so that exports diff well: custom
    /// roles; active and disabled accounts with their roles; and each account's live tokens by
    /// label (never a secret or a hash). Tokens without a label are left out, and counted on
    /// stderr.
    Export(ExportArgs),
    /// Make the organization match a file: roles, accounts, token policy
    ///
    /// Prints the plan (`+` create or mint, `~` change, `-` delete) and makes every change in
    /// one transaction, with an audit event each and an `apply` event naming the file's
    /// SHA-256. Accounts and roles the file leaves out are deleted only with `--prune`. A token
    /// the file leaves out is left alone; a declared one is minted when missing and rotated
    /// when its remaining life is under `rotate_before` (or its scopes changed), the new
    /// secrets written to `--token-dir`.
    ///
    /// The file's keys: `[[roles]]` name, description, permissions; `[[accounts]]` name,
    /// description, roles, status (`active`, `disabled`), disabled_reason; and under an
    /// account, `[[accounts.tokens]]` label, scopes (none: unscoped), expires (as
    /// `--expires`), rotate_before, grace, status. `[orgs.NAME]` tables hold several
    /// organizations.
    Apply(ApplyArgs),
    /// Check the database file, or copy it while it is in use
    #[command(subcommand)]
    Db(DbCommand),
    /// Create the database (`create` and `role create` do too; other commands never do)
    Init,
    /// Print a shell's completion script (names and token ids come from the database)
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Every organization, each under `[orgs.NAME]` (`--org` is then not used)
    #[arg(long)]
    pub all_orgs: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The file to apply (TOML, as `sa export` writes it); `-` reads stdin
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: PathBuf,
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Also delete the accounts and custom roles the file does not declare (asks first)
    #[arg(long)]
    pub prune: bool,
    /// Exit 1 when the plan is not empty (with `--dry-run`: drift detection)
    #[arg(long)]
    pub exit_code: bool,
    /// Where the secrets of minted and rotated tokens go: `DIR/ACCOUNT/LABEL` (`DIR/ORG/ACCOUNT/LABEL`
    /// for a file of several organizations; a label's other characters than letters,
    /// digits, `.`, `_`, `-` as `%XX`), mode 0600, written atomically after the commit.
    /// Without it, a plan that mints is refused
    #[arg(long, value_name = "DIR")]
    pub token_dir: Option<PathBuf>,
    /// Do not ask for confirmation of `--prune`'s deletions
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(crate::cli::generate::SHELLS))]
    pub shell: String,
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Check the database without changing it: SQLite's integrity check, foreign keys, the
    /// schema version, and that every token has an account and an argon2id hash. Exit 1 when
    /// anything is wrong
    Check,
    /// Copy the database into a new file (mode 0600) with SQLite's online backup: a
    /// consistent snapshot, safe while other sa processes write. Never replaces a file
    Backup(DbBackupArgs),
    /// Copy every row (ids, hashes, usage counters, the audit chain) into another, empty sa
    /// database: a PostgreSQL URL, or a new file. One snapshot read, one transaction written
    Copy(DbCopyArgs),
}

#[derive(Debug, Args)]
pub struct DbCopyArgs {
    /// The target: `postgresql://...` (its schema `sa` missing or empty), or a file path that
    /// does not exist yet
    #[arg(long, value_name = "URL|PATH")]
    pub to: PathBuf,
}

#[derive(Debug, Args)]
pub struct DbBackupArgs {
    /// Where to write the copy; must not exist yet
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Create a service account
    Create(CreateArgs),
    /// List service accounts
    #[command(alias = "ls")]
    List(ListArgs),
    /// Show one service account
    Show(AccountArg),
    /// Rename an account or change its description (its id and email never change)
    Update(UpdateArgs),
    /// Disable an account: all its tokens are rejected until it is enabled again
    Disable(DisableArgs),
    /// Enable a disabled account
    Enable(AccountArg),
    /// Delete an account and revoke its tokens (restorable unless --purge)
    #[command(alias = "rm")]
    ///
    /// Its tokens are revoked at once; `sa undelete` restores the account for
    /// `retention.deleted_accounts`, unless --purge removes it for good now.
    Delete(DeleteArgs),
    /// Restore a deleted account with its id, email and roles (and no live tokens)
    Undelete(UndeleteArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Account name: 3 to 64 lowercase letters, digits, `-`, `_`, `.`, starting with a letter
    #[arg(long, value_parser = AccountName::parse)]
    pub name: AccountName,
    /// What the account is for
    #[arg(long)]
    pub description: Option<String>,
    /// Grant a role (repeatable): viewer, editor, admin or a custom role
    #[arg(long = "role", value_name = "ROLE", value_parser = RoleName::parse, add = ArgValueCandidates::new(complete::roles))]
    pub roles: Vec<RoleName>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AccountStatusArg {
    Active,
    Disabled,
    Deleted,
    /// Every account, deleted ones too
    All,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Which accounts to list [default: active and disabled]
    #[arg(long, value_enum)]
    pub status: Option<AccountStatusArg>,
    /// Only accounts holding this role
    #[arg(long, value_parser = RoleName::parse, add = ArgValueCandidates::new(complete::roles))]
    pub role: Option<RoleName>,
    /// Only accounts whose name, description or email contains TEXT (case-insensitive)
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
    #[command(flatten)]
    pub limit: LimitArg,
}

/// `--limit N` of the lists.
#[derive(Debug, Args)]
pub struct LimitArg {
    /// At most N rows: the first N in the list's order
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
}

impl LimitArg {
    /// How many rows to keep of a list read whole.
    pub fn rows(&self) -> usize {
        self.limit
            .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX))
    }
}

#[derive(Debug, Args)]
pub struct AccountArg {
    /// Account name or id
    #[arg(value_parser = AccountRef::parse, add = ArgValueCandidates::new(complete::accounts))]
    pub account: AccountRef,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Account name or id
    #[arg(value_parser = AccountRef::parse, add = ArgValueCandidates::new(complete::accounts))]
    pub account: AccountRef,
    /// New name (the email keeps the name it was created with)
    #[arg(long, value_parser = AccountName::parse)]
    pub name: Option<AccountName>,
    /// New description (an empty string clears it)
    #[arg(long)]
    pub description: Option<String>,
}

#[derive(Debug, Args)]
pub struct DisableArgs {
    /// Account name or id
    #[arg(value_parser = AccountRef::parse, add = ArgValueCandidates::new(complete::accounts))]
    pub account: AccountRef,
    /// Why, e.g. "key exposed in a public repository"; shown by `sa show` and audited
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Account name or id
    #[arg(value_parser = AccountRef::parse, add = ArgValueCandidates::new(complete::accounts))]
    pub account: AccountRef,
    /// Remove the record for good now (it cannot be undeleted)
    #[arg(long)]
    pub purge: bool,
    /// Do not ask for confirmation
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct UndeleteArgs {
    /// The deleted account: its name, or its id when several deleted accounts had that name
    /// (`sa list --status deleted` shows both)
    #[arg(value_name = "ACCOUNT", value_parser = AccountRef::parse, add = ArgValueCandidates::new(complete::deleted_accounts))]
    pub account: AccountRef,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Mint a token; prints it once on stdout (only the token, so
    /// `TOKEN=$(sa token add bot)` works)
    #[command(alias = "create")]
    Add(TokenAddArgs),
    /// List tokens, of one account or of the whole organization
    #[command(alias = "ls")]
    List(TokenListArgs),
    /// Show one token's metadata (never its secret)
    Show(TokenIdArg),
    /// Revoke tokens, for good
    #[command(alias = "rm")]
    Revoke(TokenRevokeArgs),
    /// Mint a successor with the same name and scopes, and retire the old token
    Rotate(TokenRotateArgs),
    /// Check a token read from stdin: exit 0 if valid, 1 if not
    Verify(TokenVerifyArgs),
    /// Pause a token (reversible with `sa token enable`)
    Disable(TokenIdArg),
    /// Resume a paused token
    Enable(TokenIdArg),
    /// Remove for good the tokens that were revoked, or expired, more than DUR ago, with their
    /// scopes and per-day counts (their audit events stay)
    Prune(TokenPruneArgs),
}

#[derive(Debug, Args)]
pub struct TokenPruneArgs {
    /// How long ago a token must have ended (e.g. 90d)
    #[arg(long, value_name = "DUR", value_parser = Duration::parse, allow_hyphen_values = true)]
    pub older_than: Duration,
    /// List what would be removed, and remove nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct TokenAddArgs {
    /// Account name or id
    #[arg(value_parser = AccountRef::parse, add = ArgValueCandidates::new(complete::accounts))]
    pub account: AccountRef,
    /// A label for the token, e.g. where it is deployed
    #[arg(long, value_name = "LABEL")]
    pub name: Option<String>,
    /// Expiry: a duration (30m, 4h, 7d, 2w), an RFC 3339 time, a date (end of that day, UTC),
    /// or `never` [default: `tokens.default_ttl`]
    #[arg(long, value_name = "WHEN", value_parser = ExpiryRequest::parse, allow_hyphen_values = true)]
    pub expires: Option<ExpiryRequest>,
    /// Narrow the token to a permission (repeatable); it holds only what both its scopes and
    /// its account's roles allow
    #[arg(long = "scope", value_name = "PERMISSION", value_parser = Permission::parse)]
    pub scopes: Vec<Permission>,
    /// Write the token to PATH (mode 0600, replaced atomically) instead of stdout
    #[arg(long, value_name = "PATH")]
    pub output_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokenStatusArg {
    Active,
    Disabled,
    Expired,
    Revoked,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokenSortArg {
    Created,
    LastUsed,
    Expires,
    Uses,
}

#[derive(Debug, Args)]
pub struct TokenListArgs {
    /// Only this account's tokens (name or id)
    #[arg(value_parser = AccountRef::parse, add = ArgValueCandidates::new(complete::accounts))]
    pub account: Option<AccountRef>,
    /// Which tokens [default: those that could still verify: active and disabled]
    #[arg(long, value_enum)]
    pub status: Option<TokenStatusArg>,
    /// Only live tokens that expire within DUR (e.g. 14d)
    #[arg(long, value_name = "DUR", value_parser = Duration::parse, allow_hyphen_values = true)]
    pub expiring_within: Option<Duration>,
    /// Only tokens idle for DUR (e.g. 30d): not used, enabled again, or created within it
    #[arg(long, value_name = "DUR", value_parser = Duration::parse, allow_hyphen_values = true)]
    pub unused_for: Option<Duration>,
    /// Order: created (oldest first), last-used (never used, then longest unused, first),
    /// expires (soonest first), uses (fewest first) [default: created]
    #[arg(long, value_enum, value_name = "KEY")]
    pub sort: Option<TokenSortArg>,
    /// Add the columns LAST USED, USES and SOURCE (last_used_at, use_count, last_used_source)
    #[arg(long)]
    pub usage: bool,
    /// Exit 1 when the list is not empty (for cron and monitoring checks)
    #[arg(long)]
    pub exit_code: bool,
    #[command(flatten)]
    pub limit: LimitArg,
}

#[derive(Debug, Args)]
pub struct TokenIdArg {
    /// Token id (12 characters, as `sa token list` shows)
    #[arg(value_name = "TOKEN_ID", value_parser = TokenId::parse, add = ArgValueCandidates::new(complete::tokens))]
    pub id: TokenId,
}

#[derive(Debug, Args)]
pub struct TokenRevokeArgs {
    /// Token ids to revoke
    #[arg(value_name = "TOKEN_ID", value_parser = TokenId::parse, required_unless_present_any = ["all", "account"], add = ArgValueCandidates::new(complete::tokens))]
    pub ids: Vec<TokenId>,
    /// With --all: the account whose tokens to revoke
    #[arg(long, value_parser = AccountRef::parse, conflicts_with = "ids", add = ArgValueCandidates::new(complete::accounts))]
    pub account: Option<AccountRef>,
    /// Revoke every token of --account
    #[arg(long, requires = "account")]
    pub all: bool,
    /// Do not ask for confirmation (bulk revocation asks)
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct TokenRotateArgs {
    /// Token id of the token to replace
    #[arg(value_name = "TOKEN_ID", value_parser = TokenId::parse, add = ArgValueCandidates::new(complete::tokens))]
    pub id: TokenId,
    /// Expiry of the new token [default: `tokens.default_ttl`]
    #[arg(long, value_name = "WHEN", value_parser = ExpiryRequest::parse, allow_hyphen_values = true)]
    pub expires: Option<ExpiryRequest>,
    /// Keep the old token working for DUR (e.g. 1h) instead of revoking it at once
    #[arg(long, value_name = "DUR", value_parser = Duration::parse, allow_hyphen_values = true)]
    pub grace: Option<Duration>,
    /// Write the new token to PATH (mode 0600, replaced atomically) instead of stdout
    #[arg(long, value_name = "PATH")]
    pub output_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct TokenVerifyArgs {
    /// Also require this permission (e.g. dashboards:read)
    #[arg(long, value_name = "PERMISSION", value_parser = Permission::parse)]
    pub permission: Option<Permission>,
    /// Recorded as the token's last_used_source (e.g. the service asking)
    #[arg(long, value_name = "LABEL")]
    pub source: Option<String>,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Files and directories to scan (directories recursively, in parallel, honouring
    /// .gitignore and .ignore, binary files skipped); `-` or none: stdin. With --git: which
    /// staged paths to scan
    #[arg(value_name = "PATH", value_hint = clap::ValueHint::AnyPath)]
    pub paths: Vec<PathBuf>,
    /// Scan the lines the staged changes add (`git diff --cached`), for a pre-commit hook
    #[arg(long)]
    pub git: bool,
    /// Also scan the files .gitignore, .ignore and git's excludes leave out
    #[arg(long, conflicts_with = "git")]
    pub no_ignore: bool,
    /// Revoke every live token found, in one transaction, each audited as leaked with where it
    /// was found
    #[arg(long)]
    pub revoke: bool,
    /// Do not ask for confirmation (with --revoke)
    #[arg(long, short = 'y', requires = "revoke")]
    pub yes: bool,
}

#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Create a custom role in the organization
    Create(RoleCreateArgs),
    /// List the built-in and custom roles, with how many accounts hold each
    #[command(alias = "ls")]
    List(LimitArg),
    /// Show a role's permissions and the accounts that hold it
    Show(RoleArg),
    /// Add or remove permissions, change the description, or rename a custom role; every
    /// token of every account holding it follows at once
    Update(RoleUpdateArgs),
    /// Delete a custom role; the accounts holding it lose it (asks first when any do)
    Delete(RoleDeleteArgs),
    /// Give a role to accounts (a role already held is left as it is)
    Grant(RoleGrantArgs),
    /// Take a role from accounts (a role not held is left as it is)
    Revoke(RoleGrantArgs),
}

#[derive(Debug, Args)]
pub struct RoleCreateArgs {
    /// Role name: 2 to 64 lowercase letters, digits, `-`, `_`, `.`, starting with a letter
    #[arg(value_parser = RoleName::parse, add = ArgValueCandidates::new(complete::roles))]
    pub name: RoleName,
    /// A permission the role grants (repeatable): `resource:action`, `*` matching any part
    #[arg(long = "permission", value_name = "PERMISSION", value_parser = Permission::parse, required = true)]
    pub permissions: Vec<Permission>,
    /// What the role is for
    #[arg(long)]
    pub description: Option<String>,
}

#[derive(Debug, Args)]
pub struct RoleArg {
    /// Role name
    #[arg(value_parser = RoleName::parse, add = ArgValueCandidates::new(complete::roles))]
    pub name: RoleName,
}

#[derive(Debug, Args)]
pub struct RoleUpdateArgs {
    /// Role name
    #[arg(value_parser = RoleName::parse, add = ArgValueCandidates::new(complete::roles))]
    pub role: RoleName,
    /// Add a permission (repeatable)
    #[arg(long, value_name = "PERMISSION", value_parser = Permission::parse)]
    pub add: Vec<Permission>,
    /// Remove a permission (repeatable)
    #[arg(long, value_name = "PERMISSION", value_parser = Permission::parse)]
    pub remove: Vec<Permission>,
    /// New description (an empty string clears it)
    #[arg(long)]
    pub description: Option<String>,
    /// New name; the accounts holding the role keep it
    #[arg(long, value_parser = RoleName::parse)]
    pub name: Option<RoleName>,
}

#[derive(Debug, Args)]
pub struct RoleDeleteArgs {
    /// Role name
    #[arg(value_parser = RoleName::parse, add = ArgValueCandidates::new(complete::roles))]
    pub name: RoleName,
    /// Do not ask for confirmation (asked only while accounts hold the role)
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct RoleGrantArgs {
    /// Role name
    #[arg(value_parser = RoleName::parse, add = ArgValueCandidates::new(complete::roles))]
    pub role: RoleName,
    /// Account names or ids
    #[arg(value_name = "ACCOUNT", value_parser = AccountRef::parse, required = true, add = ArgValueCandidates::new(complete::accounts))]
    pub accounts: Vec<AccountRef>,
}

#[derive(Debug, Args)]
pub struct CanArgs {
    /// Account name or id
    #[arg(value_parser = AccountRef::parse, add = ArgValueCandidates::new(complete::accounts))]
    pub account: AccountRef,
    /// The permission asked about, e.g. deploys:write
    #[arg(value_parser = Permission::parse)]
    pub permission: Permission,
    /// Ask about one of the account's tokens instead, its scopes applied
    #[arg(long, value_name = "TOKEN_ID", value_parser = TokenId::parse, add = ArgValueCandidates::new(complete::tokens))]
    pub token: Option<TokenId>,
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// List organizations with their account counts
    #[command(alias = "ls")]
    List(LimitArg),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective config and where each value came from
    Show,
    /// Print the config file and database paths in use
    Path,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
    /// Only events about this account (name or id; followed through renames)
    #[arg(long, value_parser = AccountRef::parse)]
    pub account: Option<AccountRef>,
    /// Only this action (e.g. account.create), or a family ending in `.` (e.g. token.)
    #[arg(long, value_name = "ACTION")]
    pub action: Option<String>,
    /// Only events since DUR ago (e.g. 7d), or since a date or RFC 3339 time
    #[arg(long, value_name = "WHEN", value_parser = Since::parse, allow_hyphen_values = true)]
    pub since: Option<Since>,
    /// At most N events (the newest) [default on a terminal: 100; piped: all]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
}

#[derive(Debug, Args)]
pub struct UsageArgs {
    /// An account (name or id): its tokens with their verifications per day
    #[arg(value_parser = AccountRef::parse, add = ArgValueCandidates::new(complete::accounts))]
    pub account: Option<AccountRef>,
    /// Count the live tokens that expire within DUR [default: `tokens.warn_before`]
    #[arg(long, value_name = "DUR", value_parser = Duration::parse, allow_hyphen_values = true, conflicts_with = "account")]
    pub expiring_within: Option<Duration>,
    /// Count tokens idle for DUR (not used, enabled again, or created within it), and accounts
    /// none of whose tokens was used within it, as stale [default: 30d]
    #[arg(long, value_name = "DUR", value_parser = Duration::parse, allow_hyphen_values = true, conflicts_with = "account")]
    pub stale: Option<Duration>,
    /// Exit 1 when anything needs attention: tokens expiring, stale tokens or accounts,
    /// policy drift (for cron and monitoring checks)
    #[arg(long, conflicts_with = "account")]
    pub exit_code: bool,
    /// With ACCOUNT: how many UTC days the per-day series covers, today included [default: 30]
    #[arg(long, value_name = "N", requires = "account", value_parser = clap::value_parser!(u32).range(1..=400))]
    pub days: Option<u32>,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the organization's hash chain: exit 0 with the number of events checked, or 1
    /// naming the first event that was altered, removed or inserted
    Verify,
    /// Remove the organization's events older than WHEN; the chain stays verifiable from
    /// where it was cut
    Prune(AuditPruneArgs),
}

#[derive(Debug, Args)]
pub struct AuditPruneArgs {
    /// Remove events before this: a date (its start, UTC), an RFC 3339 time, or a duration
    /// ago (e.g. 400d)
    #[arg(long, value_name = "WHEN", value_parser = Since::parse, allow_hyphen_values = true)]
    pub before: Since,
    /// Do not ask for confirmation
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// `--org`/`$SA_ORG`: an organization, or `None` when given empty.
#[derive(Debug, Clone)]
pub struct OrgArg(pub Option<OrgName>);

/// An empty `$SA_ORG` (or `--org ""`) means unset, as an empty `$SA_DB`, `$SA_CONFIG` or
/// `$SA_ACTOR` does: the default organization, or the token's under `$SA_TOKEN`.
fn org_or_default(text: &str) -> Result<OrgArg, crate::error::Error> {
    if text.is_empty() {
        return Ok(OrgArg(None));
    }
    OrgName::parse(text).map(|org| OrgArg(Some(org)))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_tree_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
