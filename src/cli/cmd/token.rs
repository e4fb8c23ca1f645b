//! `sa token add|list|show|revoke|rotate|verify|disable|enable`

use std::io::Read;
use std::path::Path;

use crate::cli::args::{TokenCommand, TokenSortArg, TokenStatusArg};
use crate::cli::output::{
    IdentityView, MintedView, TOKEN_COLUMNS, TOKEN_USAGE_COLUMNS, TokenView, VerifyView,
    print_token, token_row,
};
use crate::cli::token_file::{TokenFile, protected_by};
use crate::cli::{Outcome, Session, prompt};
use crate::domain::tokens::{self, MintRequest, Minted, TokenQuery, TokenStatus, VerifyRequest};
use crate::domain::{accounts, roles};
use crate::error::{Error, Result};
use crate::store::{TokenFilter, TokenSort};
use crate::time::{Duration, format_timestamp};

/// The longest input `token verify` reads; a token is under 100 bytes.
const MAX_TOKEN_INPUT: u64 = 4096;

pub fn run(session: &Session<'_>, command: TokenCommand) -> Result<Outcome> {
    let printer = session.printer;
    let ctx = &session.ctx;
    match command {
        TokenCommand::Add(args) => {
            let target = prepare_delivery(session, args.output_file.as_deref())?;
            let mut store = session.open_store()?;
            let request = MintRequest {
                account: args.account,
                name: args.name.and_then(super::unless_blank),
                expires: args.expires,
                scopes: args.scopes,
            };
            let minted = tokens::mint(&mut store, ctx, &request)?;
            deliver(session, &minted, target)?;
        }
        TokenCommand::Rotate(args) => {
            let target = prepare_delivery(session, args.output_file.as_deref())?;
            let mut store = session.open_store()?;
            let rotated = tokens::rotate(&mut store, ctx, &args.id, args.expires, args.grace)?;
            let old_fate = match (
                tokens::status_of(&rotated.old, ctx.now),
                rotated.old.expires_at,
            ) {
                (TokenStatus::Active, Some(at)) => {
                    format!("keeps working until {}", format_timestamp(at))
                }
                (TokenStatus::Disabled, Some(at)) => {
                    format!("stays paused and expires at {}", format_timestamp(at))
                }
                (status, _) => format!("is {}", status.as_str()),
            };
            printer.note(&format!(
                "rotated token `{}`: the old token {old_fate}",
                args.id
            ));
            deliver(session, &rotated.minted, target)?;
        }
        TokenCommand::List(args) => {
            let mut store = session.open_store()?;
            let status = match args.status {
                None => TokenFilter::Live,
                Some(TokenStatusArg::Active) => TokenFilter::Active,
                Some(TokenStatusArg::Disabled) => TokenFilter::Disabled,
                Some(TokenStatusArg::Expired) => TokenFilter::Expired,
                Some(TokenStatusArg::Revoked) => TokenFilter::Revoked,
                Some(TokenStatusArg::All) => TokenFilter::All,
            };
            let query = TokenQuery {
                account: args.account,
                status,
                expiring_within: args.expiring_within,
                unused_for: args.unused_for,
                sort: match args.sort {
                    None | Some(TokenSortArg::Created) => TokenSort::Created,
                    Some(TokenSortArg::LastUsed) => TokenSort::LastUsed,
                    Some(TokenSortArg::Expires) => TokenSort::Expires,
                    Some(TokenSortArg::Uses) => TokenSort::Uses,
                },
                limit: args.limit.limit,
            };
            let columns = if args.usage {
                TOKEN_USAGE_COLUMNS
            } else {
                TOKEN_COLUMNS
            };
            let mut list = printer.list(columns);
            // A passing `--exit-code` check prints no table header: cron mails any output.
            if args.exit_code {
                list = list.quiet_when_empty();
            }
            tokens::list(&mut store, ctx, &query, &mut |token| {
                list.push(
                    || TokenView::new(&token, ctx.now),
                    || token_row(printer, &token, args.usage, ctx.now),
                )
            })?;
            if list.finish()? > 0 && args.exit_code {
                return Ok(Outcome::Failure);
            }
        }
        TokenCommand::Show(args) => {
            let mut store = session.open_store()?;
            let token = tokens::show(&mut store, ctx, &args.id)?;
            let held = roles::of_token(&mut store, ctx, &token)?;
            print_token(printer, &token, &held, ctx.now)?;
        }
        TokenCommand::Revoke(args) => {
            if args.account.is_some() && !args.all {
                return Err(Error::invalid(
                    "`--account` names the account whose tokens `--all` revokes: add `--all` to revoke every token of it, or give token ids instead",
                ));
            }
            let mut store = session.open_store()?;
            if let Some(account) = args.account.filter(|_| args.all) {
                let found = accounts::show(&mut store, ctx, &account)?;
                prompt::confirm(
                    &format!("revoke every token of account `{}`", found.name),
                    args.yes,
                )?;
                let revoked = tokens::revoke_all(&mut store, ctx, &account)?;
                printer.note(&format!(
                    "revoked {} token(s) of account `{}`",
                    revoked.len(),
                    found.name
                ));
                if printer.is_json() {
                    let views: Vec<_> =
                        revoked.iter().map(|t| TokenView::new(t, ctx.now)).collect();
                    printer.json(&views)?;
                }
            } else {
                let mut ids = args.ids;
                let mut seen = std::collections::HashSet::new();
                ids.retain(|id| seen.insert(id.clone()));
                if ids.len() > 1 {
                    prompt::confirm(&format!("revoke {} tokens", ids.len()), args.yes)?;
                }
                let revoked = tokens::revoke(&mut store, ctx, &ids)?;
                for (token, changed) in &revoked {
                    printer.note(&if *changed {
                        format!(
                            "revoked token `{}` of account `{}`",
                            token.id, token.account
                        )
                    } else {
                        format!("token `{}` was already revoked", token.id)
                    });
                }
                if printer.is_json() {
                    let views: Vec<_> = revoked
                        .iter()
                        .map(|(t, _)| TokenView::new(t, ctx.now))
                        .collect();
                    printer.json(&views)?;
                }
            }
        }
        TokenCommand::Disable(args) => pause(session, &args.id, true)?,
        TokenCommand::Enable(args) => pause(session, &args.id, false)?,
        TokenCommand::Verify(args) => return verify(session, args),
        TokenCommand::Prune(args) => prune(session, &args)?,
    }
    Ok(Outcome::Success)
}

fn prune(session: &Session<'_>, args: &crate::cli::args::TokenPruneArgs) -> Result<()> {
    let printer = session.printer;
    let ctx = &session.ctx;
    let mut store = session.open_store()?;
    let cutoff = format_timestamp(ctx.now - args.older_than.to_delta());
    if args.dry_run {
        let mut list = printer.list(TOKEN_COLUMNS);
        tokens::prunable(&mut store, ctx, args.older_than, &mut |token| {
            list.push(
                || TokenView::new(&token, ctx.now),
                || token_row(printer, &token, false, ctx.now),
            )
        })?;
        let count = list.finish()?;
        printer.note(&format!(
            "{count} token(s) of `{}` ended before {cutoff} and would be removed; nothing was removed (--dry-run)",
            ctx.org
        ));
        return Ok(());
    }
    let mut count = 0u64;
    tokens::prunable(&mut store, ctx, args.older_than, &mut |_| {
        count += 1;
        Ok(())
    })?;
    if count > 0 {
        prompt::confirm(
            &format!(
                "remove for good {count} token(s) of `{}` that were revoked or expired before {cutoff}",
                ctx.org
            ),
            args.yes,
        )?;
    }
    let pruned = tokens::prune(&mut store, ctx, args.older_than)?;
    printer.note(&format!(
        "removed {} token(s) of {} account(s) that ended before {cutoff}",
        pruned.tokens, pruned.accounts
    ));
    if printer.is_json() {
        printer.json(&serde_json::json!({
            "org": ctx.org.as_str(),
            "older_than": args.older_than.to_string(),
            "ended_before": cutoff,
            "removed": pruned.tokens,
            "accounts": pruned.accounts,
        }))?;
    }
    Ok(())
}

fn pause(
    session: &Session<'_>,
    id: &crate::domain::token_format::TokenId,
    paused: bool,
) -> Result<()> {
    let mut store = session.open_store()?;
    let (token, changed) = tokens::set_paused(&mut store, &session.ctx, id, paused)?;
    let verb = if paused { "disabled" } else { "enabled" };
    session.printer.note(&if changed {
        format!("{verb} token `{id}`")
    } else {
        format!("token `{id}` was already {verb}")
    });
    let held = roles::of_token(&mut store, &session.ctx, &token)?;
    print_token(session.printer, &token, &held, session.ctx.now)
}

fn verify(session: &Session<'_>, args: crate::cli::args::TokenVerifyArgs) -> Result<Outcome> {
    let printer = session.printer;
    let ctx = &session.ctx;
    let input = match prompt::read_secret("token")? {
        Some(typed) => zeroize::Zeroizing::new(typed.as_bytes().to_vec()),
        None => {
            // Sized up front so that no reallocation leaves a copy of the token behind.
            let mut buf = zeroize::Zeroizing::new(Vec::with_capacity(MAX_TOKEN_INPUT as usize + 1));
            std::io::stdin()
                .take(MAX_TOKEN_INPUT)
                .read_to_end(&mut buf)
                .map_err(|e| Error::io("cannot read the token from stdin", e))?;
            buf
        }
    };
    // Bytes that are not UTF-8 are not a token: `malformed`, like any other garbage. A
    // malformed token is answered without opening (or creating) the database.
    let text = std::str::from_utf8(&input).unwrap_or("");
    let verdict = tokens::parse_presented(text).and_then(|token| {
        let mut store = session.open_store()?;
        store.count_uses_lightly()?;
        let request = VerifyRequest {
            token: &token,
            permission: args.permission.as_ref(),
            source: args.source.as_deref(),
        };
        tokens::verify(&mut store, ctx, &request)
    });
    match verdict {
        Ok(identity) => {
            if let Some(at) = identity.expires_at
                && let Some(left) = identity.expiry_warning(ctx.now, ctx.config.tokens.warn_before)
            {
                let next_step = match &identity.replaced_by {
                    Some(successor) => format!("it was rotated: switch to token `{successor}`"),
                    None => format!("rotate it with `sa token rotate {}`", identity.token_id),
                };
                printer.warn(&format!(
                    "token `{}` of account `{}` expires in {} (at {}); {next_step}",
                    identity.token_id,
                    identity.account,
                    Duration::from_secs(left.num_seconds()),
                    format_timestamp(at),
                ));
            }
            let view = IdentityView::new(&identity, ctx.now);
            if printer.is_json() {
                printer.json(&VerifyView {
                    valid: true,
                    reason: None,
                    identity: Some(view),
                })?;
            } else {
                printer.record(vec![
                    ("result", printer.status("valid")),
                    ("account", comfy_table::Cell::new(&view.account)),
                    ("org", comfy_table::Cell::new(&view.org)),
                    ("token id", comfy_table::Cell::new(&view.token_id)),
                    (
                        "permissions",
                        comfy_table::Cell::new(view.permissions.join(", ")),
                    ),
                    (
                        "expires",
                        comfy_table::Cell::new(view.expires_at.as_deref().unwrap_or("never")),
                    ),
                ])?;
            }
            Ok(Outcome::Success)
        }
        Err(Error::Rejected(reason)) if printer.is_json() => {
            printer.json(&VerifyView {
                valid: false,
                reason: Some(reason.as_str()),
                identity: None,
            })?;
            Ok(Outcome::Failure)
        }
        Err(err) => Err(err),
    }
}

/// Checks, before anything is minted, that the token will have somewhere to go.
fn prepare_delivery(
    session: &Session<'_>,
    output_file: Option<&Path>,
) -> Result<Option<TokenFile>> {
    if output_file.is_none() && session.printer.stdout_is_discarded() {
        return Err(Error::InvalidInput(
            "standard output is /dev/null or closed, so the new token would be lost; \
             nothing was stored (write it with `--output-file PATH` instead)"
                .into(),
        ));
    }
    let protected = protected_by(session.config);
    output_file
        .map(|path| TokenFile::prepare(path, &protected))
        .transpose()
}

/// Shows a freshly minted token: on stdout alone (or into `--output-file`), with its id and
/// expiry on stderr. Called only after the minting transaction committed.
fn deliver(session: &Session<'_>, minted: &Minted, target: Option<TokenFile>) -> Result<()> {
    let printer = session.printer;
    let token = &minted.token;
    let expires = token
        .expires_at
        .map_or_else(|| "never".to_string(), format_timestamp);
    // The id first: if the token cannot be delivered, the user knows which one to revoke.
    printer.note(&format!(
        "token id `{}` for account `{}`, expires {expires}",
        token.id, token.account
    ));
    let mut resolved = None;
    let mut mode = 0o600;
    let written_to = match target {
        Some(file) => {
            resolved = file.resolved_target().map(Path::to_path_buf);
            mode = file.mode();
            Some(file.commit(minted.secret.expose(), &token.id)?)
        }
        None => None,
    };
    let shown = if printer.is_json() {
        let view = MintedView {
            metadata: TokenView::new(token, session.ctx.now),
            token: written_to.is_none().then(|| minted.secret.expose()),
            output_file: written_to.as_ref().map(|p| p.display().to_string()),
        };
        printer.json(&view)
    } else if written_to.is_none() {
        printer.stdout_line(minted.secret.expose())
    } else {
        Ok(())
    };
    // Not even a closed pipe is quiet here: a stored token that nobody received must be
    // revoked, so this is an error (exit 3) that says so.
    shown.map_err(|err| Error::Io {
        context: format!(
            "token `{}` was stored but could not be printed (revoke it with `sa token revoke {}`)",
            token.id, token.id
        ),
        source: std::io::Error::other(err.to_string()),
    })?;
    match written_to {
        Some(path) => {
            let through = resolved.map_or_else(String::new, |real| {
                format!(" (the file `{}`)", real.display())
            });
            printer.note(&format!(
                "token written to {}{through}, mode {mode:04o}",
                path.display()
            ));
            if mode & 0o004 != 0 {
                // Kept as it was, since the file's readers rely on it; but say so.
                printer.warn(&format!(
                    "`{}` keeps its mode {mode:04o}: every user of this machine can read the \
                     token (`chmod o-rwx` it)",
                    path.display()
                ));
            }
        }
        None => printer.note("store it now: it will not be shown again"),
    }
    if let Some(warning) = session.config.weak_argon2_warning() {
        printer.warn(&warning);
    }
    Ok(())
}
