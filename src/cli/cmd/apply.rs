//! `sa export` and `sa apply -f FILE`: an organization as a file, and a file made true.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::cli::args::{ApplyArgs, ExportArgs};
use crate::cli::output::{ChangeView, ExportView, PlanView, TokenFileView, plan_line};
use crate::cli::token_file::{TokenFile, protected_by};
use crate::cli::{Outcome, Session, prompt};
use crate::domain::apply::{self, Options, Plan};
use crate::domain::names::OrgName;
use crate::domain::{Context, accounts, manifest, tokens};
use crate::error::{Error, Result};

/// `sa export [--all-orgs]`
pub fn export(session: &Session<'_>, args: &ExportArgs) -> Result<Outcome> {
    let printer = session.printer;
    let mut store = session.open_store()?;
    let known = accounts::list_orgs(&mut store)?;
    let orgs = if args.all_orgs {
        known
            .iter()
            .map(|o| OrgName::parse(&o.name))
            .collect::<Result<Vec<_>>>()?
    } else {
        // An empty export of a mistyped organization, applied with `--prune`, would empty
        // the organization it is applied to.
        let org = &session.ctx.org;
        if *org != OrgName::default() && !known.iter().any(|o| o.name == org.as_str()) {
            return Err(Error::Refused(format!(
                "organization `{org}` does not exist in this database (`sa org list` lists them)"
            )));
        }
        vec![org.clone()]
    };
    let toml = !printer.is_json();
    let mut views = BTreeMap::new();
    let mut unlabelled = 0;
    for org in orgs {
        let ctx = Context {
            org,
            ..session.ctx.clone()
        };
        let exported = apply::export(&mut store, &ctx)?;
        unlabelled += exported.unlabelled_tokens;
        views.insert(exported.org.clone(), ExportView::new(&exported, toml));
    }
    if unlabelled > 0 {
        printer.note(&format!(
            "{unlabelled} live token(s) without a label are not in the export: a file names tokens by label"
        ));
    }
    if !toml {
        return if args.all_orgs {
            printer.json(&views.into_values().collect::<Vec<_>>())
        } else {
            printer.json(&views.into_values().next())
        }
        .map(|()| Outcome::Success);
    }
    #[derive(Serialize)]
    struct AllOrgs {
        orgs: BTreeMap<String, ExportView>,
    }
    let (header, body) = if args.all_orgs {
        (
            "# sa export --all-orgs: `sa apply -f FILE` makes each organization match it."
                .to_string(),
            toml::to_string(&AllOrgs { orgs: views }),
        )
    } else {
        let (org, view) = views.into_iter().next().unzip();
        (
            format!(
                "# sa export of organization `{}`: `sa apply -f FILE` makes an organization (`--org`) match it.",
                org.unwrap_or_default()
            ),
            toml::to_string(&view),
        )
    };
    let body = body.map_err(|e| Error::invalid(format!("cannot write the export as TOML: {e}")))?;
    let newline = if body.ends_with('\n') { "" } else { "\n" };
    printer.stdout_bytes(format!("{header}\n\n{body}{newline}").as_bytes())?;
    Ok(Outcome::Success)
}

/// The file's name as messages give it, and its text.
fn read_manifest(path: &Path) -> Result<(String, String)> {
    if path.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("cannot read the file from stdin", e))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::invalid("<stdin>: the file is not UTF-8 text"))?;
        return Ok(("<stdin>".into(), text));
    }
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::invalid(format!("`{shown}` does not exist")),
        _ => Error::io(format!("cannot read `{shown}`"), e),
    })?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::invalid(format!("{shown}: the file is not UTF-8 text")))?;
    Ok((shown, text))
}

/// A label as a file name: letters, digits, `.`, `_` and `-` as they are, every other byte
/// (and a leading dot, so no label names a hidden file, `.` or `..`) as `%XX`.
fn file_name_of(label: &str) -> String {
    let mut name = String::with_capacity(label.len());
    for (i, byte) in label.bytes().enumerate() {
        let plain =
            byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-') || (byte == b'.' && i > 0);
        if plain {
            name.push(char::from(byte));
        } else {
            name.push_str(&format!("%{byte:02X}"));
        }
    }
    name
}

/// The longest file name Linux file systems take (`NAME_MAX`), in bytes.
const NAME_MAX: usize = 255;

/// Where a token is written: `DIR/ACCOUNT/LABEL`, under `ORG/` for a file of several
/// organizations.
fn token_path(dir: &Path, org: &OrgName, account: &str, label: &str, qualified: bool) -> PathBuf {
    let mut path = dir.to_path_buf();
    if qualified {
        path.push(org.as_str());
    }
    path.push(account);
    path.push(file_name_of(label));
    path
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn print_plan(session: &Session<'_>, plan: &Plan, qualified: bool) -> Result<()> {
    let printer = session.printer;
    if printer.is_json() {
        return Ok(());
    }
    for change in &plan.changes {
        printer.stdout_line(&plan_line(printer, change, qualified))?;
    }
    Ok(())
}

fn print_summary(
    session: &Session<'_>,
    plan: &Plan,
    dry_run: bool,
    source: &str,
    token_files: Vec<TokenFileView>,
) -> Result<()> {
    let printer = session.printer;
    let (add, change, delete) = plan.counts();
    if printer.is_json() {
        return printer.json(&PlanView {
            dry_run,
            changes: plan.changes.iter().map(ChangeView::from).collect(),
            add,
            change,
            delete,
            token_files,
        });
    }
    // `--quiet` from cron: an apply with nothing to do says nothing.
    if plan.is_empty() && printer.is_quiet() {
        return Ok(());
    }
    let line = if plan.is_empty() {
        format!("No changes: the database matches {source}.")
    } else if dry_run {
        format!("Plan: {add} to add, {change} to change, {delete} to delete.")
    } else {
        format!("Applied: {add} added, {change} changed, {delete} deleted.")
    };
    printer.stdout_line(&line)
}

/// How a declared token whose secret is lost gets a new one into its file: revoked, it is
/// missing, and the next apply mints it (also for a disabled account, where `sa token rotate`
/// refuses).
fn remint_advice(org: &OrgName, id: &str) -> String {
    let org_flag = if *org == OrgName::default() {
        String::new()
    } else {
        format!("--org {org} ")
    };
    format!("`sa {org_flag}token revoke {id}`, then `sa apply` again, mints a new one into it")
}

fn no_token_dir() -> Error {
    Error::invalid(
        "the plan mints tokens, whose secrets need somewhere to go: give `--token-dir DIR`; nothing was changed",
    )
}

/// `sa apply -f FILE`
pub fn run(session: &Session<'_>, args: &ApplyArgs) -> Result<Outcome> {
    let printer = session.printer;
    let ctx = &session.ctx;
    let (source, text) = read_manifest(&args.file)?;
    let manifest = manifest::parse(&source, &text)?;
    let shown_source = if source == "<stdin>" {
        "the file from stdin".to_string()
    } else {
        format!("`{source}`")
    };
    // An empty file applied with `--prune` deletes everything: it must say so.
    if args.prune
        && let Some(spec) = manifest.orgs.iter().find(|o| !o.declared)
    {
        let org = spec.org.as_ref().unwrap_or(&ctx.org);
        return Err(Error::invalid(format!(
            "{source} declares nothing for organization `{org}`, so `--prune` would delete all its accounts and roles; write `accounts = []` to mean that"
        )));
    }
    // On a database yet to be created every declared token is a mint: refused before the
    // database is made, as it would be after.
    let declares_tokens = manifest
        .orgs
        .iter()
        .flat_map(|o| &o.accounts)
        .any(|a| !a.tokens.is_empty());
    let exists = crate::store::database_exists(&session.config.db_path);
    if declares_tokens && args.token_dir.is_none() && !args.dry_run && !exists {
        return Err(no_token_dir());
    }
    let mut store = if args.dry_run && !exists {
        // What a first apply would do, without making the database a dry run must not make.
        printer.note(&format!(
            "there is no sa database at `{}` yet: the plan is against an empty one",
            session.config.database_display()
        ));
        crate::store::Store::open_in_memory()?
    } else {
        session.open_store()?
    };
    let options = Options { prune: args.prune };
    let plan = apply::plan(&mut store, ctx, &manifest, options)?;
    let drift = if args.exit_code && !plan.is_empty() {
        Outcome::Failure
    } else {
        Outcome::Success
    };
    print_plan(session, &plan, manifest.multi_org)?;
    for warning in &plan.warnings {
        printer.warn(warning);
    }
    // A label no file may be named after fails the apply: the dry run says so too.
    for change in &plan.changes {
        if let Some((_, label)) = change.token() {
            let name = file_name_of(label).len();
            if name > NAME_MAX {
                return Err(Error::invalid(format!(
                    "the label of token `{}` makes a file name of {name} bytes under `--token-dir`, longer than a file name may be ({NAME_MAX}); shorten the label; nothing was changed",
                    change.name.chars().take(40).collect::<String>()
                )));
            }
        }
    }
    if let Some(dir) = &args.token_dir {
        // A token file gone (a tmpfs after a reboot, a clean-up) while its token lives: sa
        // cannot write a secret it never kept, but a service is about to miss it.
        for kept in &plan.kept {
            let path = token_path(
                dir,
                &kept.org,
                &kept.account,
                &kept.label,
                manifest.multi_org,
            );
            if !path.exists() {
                printer.alert(&format!(
                    "token `{}` ({}/{}) has no file at `{}`, and sa keeps no secret to write again; {}",
                    kept.token_id,
                    kept.account,
                    kept.label,
                    path.display(),
                    remint_advice(&kept.org, &kept.token_id)
                ));
            }
        }
    }
    if args.dry_run || plan.is_empty() {
        print_summary(session, &plan, args.dry_run, &shown_source, Vec::new())?;
        return Ok(drift);
    }

    let paths: Vec<PathBuf> = match &args.token_dir {
        Some(dir) => plan
            .changes
            .iter()
            .filter_map(|c| {
                let (account, label) = c.token()?;
                Some(token_path(dir, &c.org, account, label, manifest.multi_org))
            })
            .collect(),
        None if plan.mints() > 0 => return Err(no_token_dir()),
        None => Vec::new(),
    };
    let deletions: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| c.op.sign() == '-')
        .map(|c| format!("{} `{}`", c.kind.as_str(), c.name))
        .collect();
    if !deletions.is_empty() {
        let shown = if deletions.len() > 3 {
            format!(
                "{} and {} more",
                deletions[..3].join(", "),
                deletions.len() - 3
            )
        } else {
            deletions.join(", ")
        };
        prompt::confirm(&format!("delete {shown}"), args.yes)?;
    }
    // Every token file is checked, as `--output-file` is, before anything is minted.
    let protected = protected_by(session.config);
    for path in &paths {
        if let Some(parent) = path.parent() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|e| Error::io(format!("cannot create `{}`", parent.display()), e))?;
        }
        drop(TokenFile::prepare(path, &protected)?);
    }
    let prepared = tokens::prepare(&mut store, ctx, plan.mints())?;
    let minted = apply::apply(
        &mut store,
        ctx,
        &manifest,
        options,
        &plan,
        prepared,
        &sha256_hex(&text),
    )?;
    let (written, failed) = match &args.token_dir {
        Some(dir) => write_token_files(session, dir, &minted, manifest.multi_org),
        None => (Vec::new(), None),
    };
    print_summary(session, &plan, false, &shown_source, written)?;
    match failed {
        Some(err) => Err(err),
        None => Ok(drift),
    }
}

/// After the commit: each secret to its file. A failure leaves the others written; the first
/// is returned (the command's error), any more are warnings. Each names the stored token and
/// the rotation that gives it a file, since its secret is gone with this process.
fn write_token_files(
    session: &Session<'_>,
    dir: &Path,
    minted: &[apply::MintedToken],
    qualified: bool,
) -> (Vec<TokenFileView>, Option<Error>) {
    let printer = session.printer;
    let protected = protected_by(session.config);
    let mut written = Vec::new();
    let mut failed = None;
    for token in minted {
        let id = &token.minted.token.id;
        let path = token_path(dir, &token.org, &token.account, &token.label, qualified);
        let result = TokenFile::prepare(&path, &protected)
            .and_then(|file| file.commit(token.minted.secret.expose(), id));
        match result {
            Ok(path) => {
                printer.note(&format!(
                    "token `{id}` for `{}` ({}) written to `{}`",
                    token.account,
                    token.label,
                    path.display()
                ));
                written.push(TokenFileView {
                    org: token.org.to_string(),
                    account: token.account.clone(),
                    label: token.label.clone(),
                    token_id: id.clone(),
                    path: path.display().to_string(),
                });
            }
            Err(err) => {
                let cause = match &err {
                    Error::Io { source, .. } => source.to_string(),
                    other => other.to_string(),
                };
                let err = Error::Io {
                    context: format!(
                        "token `{id}` ({}/{}) was stored but its file `{}` could not be written; {}",
                        token.account,
                        token.label,
                        path.display(),
                        remint_advice(&token.org, id)
                    ),
                    source: std::io::Error::other(cause),
                };
                match failed {
                    None => failed = Some(err),
                    Some(_) => printer.warn(&err.to_string()),
                }
            }
        }
    }
    (written, failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_becomes_a_file_name_that_names_nothing_else() {
        assert_eq!(file_name_of("deploy"), "deploy");
        assert_eq!(file_name_of("ci.main-2_x"), "ci.main-2_x");
        assert_eq!(file_name_of("GitHub deploy"), "GitHub%20deploy");
        assert_eq!(file_name_of("../etc"), "%2E.%2Fetc");
        assert_eq!(file_name_of(".."), "%2E.");
        assert_eq!(file_name_of("a/b"), "a%2Fb");
        assert_eq!(file_name_of("100%"), "100%25");
    }
}
