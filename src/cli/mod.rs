//! The terminal front end: parse, load the config, open the store once, dispatch, and map an
//! [`Error`] to its exit code. This is the only place that chooses an exit code.

mod acting;
pub mod args;
mod cleanup;
mod cmd;
mod complete;
pub mod generate;
mod jq;
pub mod output;
mod prompt;
pub mod table;
mod token_file;

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use clap::{FromArgMatches, ValueEnum};

use crate::config::{Config, Overrides};
use crate::domain::Context;
use crate::error::Error;
use crate::store::Store;
use acting::Use;
use args::{Cli, Command, OutputFormat};
use output::{Format, Printer, Style};

/// What a command that did not fail asks the process to exit with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// Exit 1 without an error message: `token list --exit-code` with results, a rejected
    /// `token verify --json` (whose answer is on stdout).
    Failure,
}

/// Everything a command needs.
pub struct Session<'a> {
    pub printer: &'a Printer,
    pub config: &'a Config,
    pub ctx: Context<'a>,
    /// Whether the command changes anything (its permission under a token is `…:write`):
    /// the stale-token policy runs after those only.
    pub writes: bool,
    /// Whether the command may create a missing database: only those that can put something
    /// in an empty one (`create`, `role create`, `init`). Any other command on a missing
    /// database could only fail with "not found", or report an empty result as news.
    pub creates: bool,
}

fn creates_the_database(command: &Command) -> bool {
    matches!(
        command,
        Command::Account(args::AccountCommand::Create(_))
            | Command::AccountGroup(args::AccountCommand::Create(_))
            | Command::Role(args::RoleCommand::Create(_))
            | Command::Init
    ) || matches!(command, Command::Apply(args) if !args.dry_run)
}

impl Session<'_> {
    /// Opens the database and applies the lazy retention of deleted accounts and of per-day
    /// counters. Only a command that can fill an empty database creates a missing one; any
    /// other is exit 3 on it.
    pub fn open_store(&self) -> Result<Store, Error> {
        let path = &self.config.db_path;
        let mut store = if self.creates {
            Store::open(path)?
        } else {
            Store::open_existing(path)?
        };
        if store.was_created() {
            // A mistyped --db or $SA_DB otherwise looks like an empty database.
            self.printer.note(&format!(
                "created a new sa database at `{}`",
                self.config.database_display()
            ));
        }
        crate::domain::accounts::purge_expired(&mut store, &self.ctx)?;
        crate::domain::usage::purge_old_counters(&mut store, &self.ctx)?;
        // The administrator's `[argon2]` becomes the database's, which every verifier uses
        // (`sa token verify` and `$SA_TOKEN` included); a token cannot change it.
        if (self.writes || self.creates) && self.ctx.acting.is_none() {
            crate::domain::tokens::record_argon2_cost(&mut store, &self.ctx)?;
        }
        Ok(store)
    }

    /// The stale-token policy, after a write command succeeded: a command that is refused,
    /// cancelled or fails changes nothing, the policy's pauses included. The command's work
    /// is done and printed by then, so a failure here is a warning, not the command's exit.
    fn apply_stale_policy(&self) {
        let Some(after) = self.config.tokens.disable_unused_after else {
            return;
        };
        let paused = Store::open(&self.config.db_path)
            .and_then(|mut store| crate::domain::tokens::disable_unused(&mut store, &self.ctx));
        match paused {
            Ok(0) => {}
            Ok(paused) => self.printer.note(&format!(
                "the stale-token policy paused {paused} token(s) unused for {after} (`tokens.disable_unused_after`; `sa token list --status disabled` lists them)"
            )),
            Err(err) => self.printer.warn(&format!(
                "the stale-token policy did not run: {err}"
            )),
        }
    }
}

/// The stack sa runs on. jaq evaluates a `--jq` expression by recursion and has no depth
/// limit: the 8 MiB of a main thread end in an abort at a thousand nested brackets or a
/// recursive `def` a thousand deep. Reserved, not used: only pages touched are memory.
const STACK_BYTES: usize = 256 << 20;

/// The `sa` command: runs it on a thread with a deep stack, and returns its exit code.
pub fn main() -> ExitCode {
    let on_a_deep_stack = std::thread::Builder::new()
        .name("sa".into())
        .stack_size(STACK_BYTES)
        .spawn(run_command_line);
    match on_a_deep_stack {
        // A panic has printed its message; 101 is what it would exit with on the main thread.
        Ok(thread) => thread.join().unwrap_or(ExitCode::from(101)),
        Err(_) => run_command_line(),
    }
}

fn run_command_line() -> ExitCode {
    // A shell asking for completions (`COMPLETE=bash sa -- …`) is answered here, and exits.
    clap_complete::CompleteEnv::with_factory(generate::command).complete();
    let mut argv: Vec<OsString> = std::env::args_os().collect();
    let cli = match parse(&argv) {
        Ok(cli) => cli,
        Err(err) => match missing_account(&err, &argv) {
            Ok(Missing::Picked(name)) => {
                argv.push(name.into());
                match parse(&argv) {
                    Ok(cli) => cli,
                    Err(err) => return usage_error(&err, None),
                }
            }
            Ok(Missing::Unpicked(hint)) => return usage_error(&err, hint),
            Ok(Missing::BadFlags(message)) => return flag_error(&message),
            Err(err) => return failed(&err),
        },
    };
    let (format, jq) = match output_format(&cli.global) {
        Ok(chosen) => chosen,
        Err(message) => return flag_error(&message),
    };
    if let Err(message) = check_format_for(&cli.command, format, jq.is_some()) {
        return flag_error(&message);
    }
    let printer = Printer::new(
        Style {
            format,
            headers: !cli.global.no_headers,
            quiet: cli.global.quiet,
            color: cli.global.color,
        },
        jq,
    );
    match run(cli, &printer) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Failure) => ExitCode::from(1),
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => {
            // `sa list | head -1`: the reader has what it wanted.
            ExitCode::SUCCESS
        }
        Err(err) => failed(&err),
    }
}

/// The output format the global flags ask for, and `--jq`'s expression compiled: checked
/// before anything runs (a mistyped expression must not cost a minted token). The error is
/// the one line of a usage error.
fn output_format(global: &args::GlobalArgs) -> Result<(Format, Option<jq::Jq>), String> {
    // `--jq` filters JSON, so it asks for JSON as `--json` does.
    let json_flag = if global.json {
        Some("`--json`")
    } else {
        global.jq.as_ref().map(|_| "`--jq`")
    };
    let format = match (json_flag, global.output) {
        (None, None | Some(OutputFormat::Table)) => Format::Table,
        (Some(_), None | Some(OutputFormat::Json)) | (None, Some(OutputFormat::Json)) => {
            Format::Json
        }
        (None, Some(OutputFormat::Name)) => Format::Name,
        (None, Some(OutputFormat::Wide)) => Format::Wide,
        (Some(flag), Some(other)) => {
            let other = other
                .to_possible_value()
                .map(|v| v.get_name().to_string())
                .unwrap_or_default();
            return Err(format!(
                "{flag} and `-o {other}` ask for two formats; give one"
            ));
        }
    };
    let jq = global
        .jq
        .as_deref()
        .map(jq::Jq::compile)
        .transpose()
        .map_err(|message| one_line(&format!("invalid --jq expression: {message}")))?;
    Ok((format, jq))
}

/// Whether `command` can print `format`: `-o name` needs a list, JSON a command that prints
/// some, and `--jq` a command whose output it cannot lose.
fn check_format_for(command: &Command, format: Format, jq: bool) -> Result<(), String> {
    use args::TokenCommand;
    if format == Format::Name && !prints_a_list(command) {
        return Err(
            "`-o name` prints the handles of a list's rows; this command prints no list (use `-o json` or a table)"
                .into(),
        );
    }
    if format == Format::Json && matches!(command, Command::Completions(_) | Command::Init) {
        return Err("this command prints no JSON; leave out `--json`, `-o json` and `--jq`".into());
    }
    // A new token is shown once: a filter that leaves it out, fails or never ends would lose
    // it after it was stored.
    if jq
        && matches!(
            command,
            Command::Token(TokenCommand::Add(_) | TokenCommand::Rotate(_))
        )
    {
        return Err(
            "`--jq` could drop the new token, which is shown only once; use `--json` (and filter it afterwards) or `--output-file PATH`"
                .into(),
        );
    }
    Ok(())
}

/// `--color WHEN` on the command line, as clap's own colour choice.
fn color_flag(args: impl Iterator<Item = std::ffi::OsString>) -> Option<clap::ColorChoice> {
    let mut choice = None;
    let mut args = args.take_while(|a| a != "--");
    while let Some(arg) = args.next() {
        let value = match arg.to_str() {
            Some("--color") => args.next(),
            Some(other) => other.strip_prefix("--color=").map(Into::into),
            None => None,
        };
        choice = match value.as_ref().and_then(|v| v.to_str()) {
            Some("never") => Some(clap::ColorChoice::Never),
            Some("always") => Some(clap::ColorChoice::Always),
            Some("auto") => Some(clap::ColorChoice::Auto),
            _ => choice,
        };
    }
    choice
}

fn parse(argv: &[OsString]) -> Result<Cli, clap::Error> {
    let mut command = generate::command();
    // clap prints help and its errors before `--color` is parsed: look for it first.
    if let Some(choice) = color_flag(argv.iter().skip(1).cloned()) {
        command = command.color(choice);
    }
    command
        .try_get_matches_from(argv)
        .and_then(|matches| Cli::from_arg_matches(&matches))
}

/// The exit of a command that failed: an `error:` line (and a `hint:`) and the error's code.
fn failed(err: &Error) -> ExitCode {
    // Ctrl-C at a prompt: the prompt already ended its line on the terminal.
    if matches!(err, Error::Interrupted) {
        return ExitCode::from(130);
    }
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "error: {}", one_line(&err.to_string()));
    if let Some(hint) = err.hint() {
        let _ = writeln!(stderr, "hint: {}", one_line(&hint));
    }
    ExitCode::from(err.exit_code())
}

/// What became of a required ACCOUNT missing from the command line.
enum Missing {
    /// Picked at the terminal: the name to put where it was missing.
    Picked(String),
    /// Not picked: the usage error as ever, with this hint, when there is one, instead of
    /// the usage line (there was no account to pick).
    Unpicked(Option<String>),
    /// Not asked for: the output flags are wrong whatever the account (`--jq '.['`).
    BadFlags(String),
}

/// A required ACCOUNT positional left out (`sa show`, `sa token add`, `sa role grant ROLE`)
/// by a person at a terminal is picked from the organization's accounts (the deleted ones
/// for `sa undelete`); the command line is then parsed again with the name appended, and runs
/// exactly as if it had been typed.
///
/// The argument stays required in clap, so `--help`, the usage line, the man pages and the
/// completions still say `<ACCOUNT>`, and every command with one gets the picker without a
/// line of its own. Appending puts the name where it was missing: ACCOUNT is the last
/// positional of each such command (`sa can ACCOUNT PERMISSION` misses both, and is not
/// picked for), and a flag still waiting for its value would have been another error.
///
/// Not offered, so the usage error (exit 2) stands: without a terminal on stdin and stderr,
/// and under a token (`$SA_TOKEN`, `--token-file`), whose organization and permissions decide
/// what may be listed. The database must exist (else exit 3, as the command would be), and
/// an organization without accounts to pick from gets a hint saying so.
fn missing_account(err: &clap::Error, argv: &[OsString]) -> Result<Missing, Error> {
    let unpicked = Ok(Missing::Unpicked(None));
    if !account_alone(err) {
        return unpicked;
    }
    let Some(picker) = prompt::Picker::open() else {
        return unpicked;
    };
    let Some((global, deleted)) = parsed_without_account(argv) else {
        return unpicked;
    };
    if acting::any_presented(global.token_file.as_deref()) {
        return unpicked;
    }
    if let Err(message) = output_format(&global) {
        return Ok(Missing::BadFlags(message));
    }
    let config = Config::load(&Overrides::from_env(global.config, global.db))?;
    let ctx = Context::reader(
        global.org.and_then(|org| org.0).unwrap_or_default(),
        &config,
    );
    let mut names = Vec::new();
    let mut store = Store::open_existing(&config.db_path)?;
    // What the command will do first anyway: an account past its retention is no longer
    // there to pick (for `sa undelete`).
    crate::domain::accounts::purge_expired(&mut store, &ctx)?;
    crate::domain::accounts::names(&mut store, &ctx, deleted, &mut |name, _| {
        names.push(name);
        Ok(())
    })?;
    drop(store);
    if names.is_empty() {
        return Ok(Missing::Unpicked(Some(if deleted {
            format!("organization `{}` has no deleted accounts", ctx.org)
        } else {
            format!(
                "organization `{}` has no accounts; create one with `sa create --name NAME`",
                ctx.org
            )
        })));
    }
    let name = picker.pick("account", &names)?.to_string();
    // What was picked stays in the terminal's scrollback, as if typed.
    if !global.quiet {
        let _ = writeln!(std::io::stderr(), "account: {name}");
    }
    Ok(Missing::Picked(name))
}

/// A usage error found after parsing: one line, exit 2, nothing done.
fn flag_error(message: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "error: {message}");
    ExitCode::from(2)
}

/// Whether the command prints a list of rows (what `-o name` applies to).
fn prints_a_list(command: &Command) -> bool {
    use args::{AccountCommand, ConfigCommand, OrgCommand, RoleCommand, TokenCommand};
    match command {
        Command::Account(c) | Command::AccountGroup(c) => matches!(c, AccountCommand::List(_)),
        Command::Token(TokenCommand::List(_)) => true,
        Command::Scan(_) => true,
        Command::Token(TokenCommand::Prune(args)) => args.dry_run,
        Command::Role(RoleCommand::List(_)) => true,
        Command::Org(OrgCommand::List(_)) => true,
        Command::Config(ConfigCommand::Show) => true,
        Command::Audit(args) => args.command.is_none(),
        Command::Usage(args) => args.account.is_some(),
        _ => false,
    }
}

/// A message on one line, with any token the user typed reduced to its public part.
fn one_line(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    crate::domain::token_format::redact(&lines.join(" "))
}

/// Prints help and version as clap does; any other parse error as one `error:` line (and a
/// `hint:`: `hint` when given, else clap's suggestion or usage line), exit 2.
fn usage_error(err: &clap::Error, hint: Option<String>) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        let _ = err.print();
        return ExitCode::SUCCESS;
    }
    if err.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        let _ = err.print();
        return ExitCode::from(2);
    }
    let rendered = err.render().to_string();
    let lines: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let is_trailer =
        |l: &&str| l.starts_with("Usage: ") || l.starts_with("tip: ") || l.starts_with("For more");
    let message: Vec<&str> = lines
        .iter()
        .take_while(|l| !is_trailer(l))
        .copied()
        .collect();
    let message = message.join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "error: {}", one_line(message));
    // clap suggests by spelling alone: `--verbose` is not a misspelt `--version`, and
    // `--help`/`--version` are never what someone typing another word meant.
    let tip = lines.iter().find_map(|l| l.strip_prefix("tip: "));
    let typed = message.split('\'').nth(1).unwrap_or_default();
    let misleading = tip.is_some_and(|tip| {
        ["--version", "--help"]
            .iter()
            .any(|flag| tip.contains(&format!("'{flag}'")) && !flag.starts_with(typed))
    });
    if let Some(hint) = hint {
        let _ = writeln!(stderr, "hint: {}", one_line(&hint));
    } else if misleading {
        // The usage line clap prints then is built around the wrong suggestion too; its
        // command words still say whose options to list.
        let command = lines
            .iter()
            .find_map(|l| l.strip_prefix("Usage: "))
            .map(|usage| {
                usage
                    .split_whitespace()
                    .take_while(|w| !w.starts_with(['[', '<', '-']))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| "sa".into());
        let _ = writeln!(stderr, "hint: `{command} --help` lists the options");
    } else if let Some(tip) = tip {
        let _ = writeln!(stderr, "hint: {}", one_line(tip));
    } else if let Some(usage) = lines.iter().find_map(|l| l.strip_prefix("Usage: ")) {
        let _ = writeln!(stderr, "hint: usage: {usage}");
    }
    ExitCode::from(2)
}

/// Whether what clap found missing is one ACCOUNT positional and nothing else (not
/// `--account`, nor ACCOUNT and PERMISSION both).
fn account_alone(err: &clap::Error) -> bool {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    err.kind() == ErrorKind::MissingRequiredArgument
        && matches!(
            err.get(ContextKind::InvalidArg),
            Some(ContextValue::Strings(missing))
                if matches!(missing.as_slice(), [one] if one == "<ACCOUNT>" || one == "<ACCOUNT>...")
        )
}

/// The global options, and whether the command names a deleted account (`undelete`), from
/// a parse that lets the missing argument pass.
fn parsed_without_account(argv: &[OsString]) -> Option<(args::GlobalArgs, bool)> {
    let matches = generate::command()
        .ignore_errors(true)
        .try_get_matches_from(argv)
        .ok()?;
    let global = args::GlobalArgs::from_arg_matches(&matches).ok()?;
    let mut leaf = ("", &matches);
    while let Some(sub) = leaf.1.subcommand() {
        leaf = sub;
    }
    Some((global, leaf.0 == "undelete"))
}

/// The actor recorded in the audit trail: `--actor`/`$SA_ACTOR`, else the OS user.
fn actor(flag: Option<String>) -> String {
    flag.filter(|a| !a.trim().is_empty())
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .or_else(|| std::env::var("LOGNAME").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(os_user)
}

/// An actor typed in (`--actor`, `$SA_ACTOR`, `$USER`): free text, and not passing for sa
/// itself (`sa:retention`) or a service account acting through a token (`sa:NAME`), however
/// spelled (case, spaces, full-width letters).
fn check_actor(actor: &str) -> Result<(), Error> {
    crate::domain::names::check_free_text("the actor", actor)?;
    let folded: String = actor
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match u32::from(c) {
            // Full-width ASCII (U+FF01..=U+FF5E) as the ASCII it imitates.
            code @ 0xff01..=0xff5e => char::from_u32(code - 0xff01 + 0x21).unwrap_or(c),
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .take(3)
        .collect();
    if folded == "sa:" {
        return Err(Error::invalid(format!(
            "the actor `{actor}` starts with `sa:`, which is kept for sa itself and for service accounts acting through $SA_TOKEN"
        )));
    }
    Ok(())
}

/// The name of the process's uid from /etc/passwd (containers and cron often have no $USER).
fn os_user() -> String {
    use std::os::unix::fs::MetadataExt;
    let Ok(uid) = std::fs::metadata("/proc/self").map(|m| m.uid()) else {
        return "unknown".into();
    };
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    passwd
        .lines()
        .find_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            (fields.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
        })
        .unwrap_or_else(|| format!("uid:{uid}"))
}

fn run(cli: Cli, printer: &Printer) -> Result<Outcome, Error> {
    let overrides = Overrides::from_env(cli.global.config.clone(), cli.global.db.clone());
    let config = Config::load(&overrides)?;
    let claimed_actor = cli.global.actor.clone().filter(|a| !a.trim().is_empty());
    let explicit_org = cli.global.org.clone().and_then(|o| o.0);
    let now = crate::time::now();
    let mut ctx = Context {
        org: explicit_org.clone().unwrap_or_default(),
        actor: String::new(),
        now,
        config: &config,
        acting: None,
    };
    let token_use = acting::requirement(&cli.command);
    let presented = match token_use {
        Use::Ignored => None,
        Use::Needs(_) | Use::Refused(..) => acting::presented(cli.global.token_file.as_deref())?,
    };
    if token_use == Use::Ignored && cli.global.token_file.is_some() {
        return Err(Error::invalid(
            if matches!(cli.command, Command::Token(args::TokenCommand::Verify(_))) {
                "`--token-file` names a token to act as, and `sa token verify` acts as no one: it checks the token on its stdin (`sa token verify < FILE`)"
            } else {
                "`--token-file` names a token to act as, and this command acts as no one: it reads no account data"
            },
        ));
    }
    match (token_use, presented) {
        (Use::Needs(requirement), Some(token)) => {
            let (org, acting) =
                acting::authenticate(&config, &token, requirement, explicit_org.as_ref(), now)?;
            // The token says who acts; a name given besides could only disguise it.
            if claimed_actor.is_some() {
                printer.note(&format!(
                    "acting as `sa:{}` through {}; `--actor`/$SA_ACTOR is not used",
                    acting.account, token.source_name
                ));
            }
            ctx.org = org;
            ctx.actor = format!("sa:{}", acting.account);
            ctx.acting = Some(acting);
        }
        (Use::Refused(command, scope), Some(token)) => {
            return Err(Error::Refused(format!(
                "`{command}` works on {scope}, so it never runs under a token (from {}); run it as the administrator",
                token.source_name
            )));
        }
        _ => {
            ctx.actor = actor(claimed_actor.map(|a| a.trim().to_string()));
            if let Err(err) = check_actor(&ctx.actor) {
                // `token verify` and `config` record no actor of their own (a retention purge
                // they trigger names who ran them): a stray $SA_ACTOR must not fail them.
                if token_use != Use::Ignored {
                    return Err(err);
                }
                ctx.actor = os_user();
            }
        }
    }
    let session = Session {
        printer,
        config: &config,
        ctx,
        // `sa apply` never runs under a token, yet writes: the stale-token policy follows it.
        writes: token_use.writes() || matches!(&cli.command, Command::Apply(args) if !args.dry_run),
        creates: creates_the_database(&cli.command),
    };
    let outcome = match cli.command {
        Command::Account(command) | Command::AccountGroup(command) => {
            cmd::account::run(&session, command)
        }
        Command::Token(command) => cmd::token::run(&session, command),
        Command::Scan(args) => cmd::scan::run(&session, &args),
        Command::Org(args::OrgCommand::List(limit)) => cmd::org::list(&session, &limit),
        Command::Config(command) => cmd::config::run(&session, command),
        Command::Role(command) => cmd::role::run(&session, command),
        Command::Can(args) => cmd::role::can(&session, args),
        Command::Audit(args) => cmd::audit::run(&session, args),
        Command::Usage(args) => cmd::usage::run(&session, args),
        Command::Export(args) => cmd::apply::export(&session, &args),
        Command::Apply(args) => cmd::apply::run(&session, &args),
        Command::Db(command) => cmd::db::run(&session, command),
        Command::Init => cmd::db::init(&session),
        Command::Completions(args) => cmd::completions(&session, &args.shell),
    }?;
    if session.writes {
        session.apply_stale_policy();
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_color_flag_is_found_before_clap_parses() {
        let args = |list: &[&str]| {
            list.iter()
                .map(std::ffi::OsString::from)
                .collect::<Vec<_>>()
        };
        let found = |list: &[&str]| color_flag(args(list).into_iter());
        assert_eq!(
            found(&["--color", "never", "--help"]),
            Some(clap::ColorChoice::Never)
        );
        assert_eq!(
            found(&["list", "--color=always"]),
            Some(clap::ColorChoice::Always)
        );
        assert_eq!(found(&["list"]), None);
        assert_eq!(found(&["create", "--", "--color", "never"]), None);
        assert_eq!(found(&["--color", "sometimes"]), None);
    }

    fn argv(line: &str) -> Vec<OsString> {
        line.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn a_missing_account_is_recognised_and_appending_it_completes_the_line() {
        for line in [
            "sa show",
            "sa account show",
            "sa update --name new-name",
            "sa disable --reason leaked",
            "sa enable",
            "sa delete --yes --",
            "sa undelete",
            "sa token add --name deploy --scope x:read",
            "sa role grant editor",
            "sa role revoke editor --org acme",
        ] {
            let err = parse(&argv(line)).expect_err(line);
            assert!(account_alone(&err), "{line}: {err}");
            let mut completed = argv(line);
            completed.push("ci-bot".into());
            parse(&completed).unwrap_or_else(|e| panic!("{line}: {e}"));
        }
        // ACCOUNT and something else missing, or `--account`: not a pick.
        for line in [
            "sa can",
            "sa role grant",
            "sa token revoke --all",
            "sa create",
        ] {
            let err = parse(&argv(line)).expect_err(line);
            assert!(!account_alone(&err), "{line}: {err}");
        }
    }

    #[test]
    fn the_options_before_and_after_a_missing_account_are_read() {
        let (global, deleted) =
            parsed_without_account(&argv("sa --db /x/sa.db token add --org acme -q")).unwrap();
        assert_eq!(global.db, Some("/x/sa.db".into()));
        assert_eq!(global.org.and_then(|o| o.0).unwrap().as_str(), "acme");
        assert!(global.quiet);
        assert!(!deleted);
        assert!(
            parsed_without_account(&argv("sa account undelete"))
                .unwrap()
                .1
        );
    }
}
