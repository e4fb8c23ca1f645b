//! `sa scan [PATH...]`: tokens found in files, directories, stdin or the staged changes
//! (`--git`), each reported with where it is, its token id (the secret masked), its account
//! and its status; with `--revoke`, the live ones revoked as leaked. Exit 1 when a live token
//! was found, so the command can gate a pre-commit hook or a CI job.
//!
//! Directories are walked in parallel by the `ignore` crate (ripgrep's walker): .gitignore,
//! .ignore and git's excludes are honoured, in a git repository or not; hidden files are
//! scanned (`.env` is where tokens end up), `.git` directories are not; symbolic links are not
//! followed, except one named on the command line. The matching is `domain::scan`'s.

use std::collections::{BTreeMap, BTreeSet};
use std::io::IsTerminal;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use crate::cli::args::ScanArgs;
use crate::cli::output::NONE;
use crate::cli::table::{Column, Field, cut, keep};
use crate::cli::{Outcome, Session, prompt};
use crate::domain::scan::{self, Found, Leak, LeakStatus, Scanned};
use crate::domain::token_format::TokenId;
use crate::error::{Error, Result};
use crate::store::Token;

/// How stdin is named in the report.
const STDIN_NAME: &str = "<stdin>";

/// The live tokens a confirmation question names before "and N more".
const NAMED_IN_QUESTION: usize = 5;

/// The columns of `sa scan`: the file is what the reader acts on, so it is never cut.
const SCAN_COLUMNS: &[Column] = &[
    keep("file"),
    keep("line"),
    keep("col"),
    keep("token").handle(),
    cut("account"),
    keep("status"),
];

/// A token found, and in which file (its path's bytes, as the OS or git gave them).
struct Hit {
    file: Vec<u8>,
    found: Found,
}

impl Hit {
    /// The file's name as shown: invalid UTF-8 replaced, a token in it masked.
    fn file_name(&self) -> String {
        scan::mask_tokens(&String::from_utf8_lossy(&self.file))
    }
}

/// What a scan read, besides the tokens.
#[derive(Default)]
struct Tally {
    files: AtomicU64,
    binary: AtomicU64,
    /// Paths that could not be read, with why.
    unreadable: Mutex<Vec<String>>,
    /// Other trouble worth a warning (a bad pattern in an ignore file).
    warnings: Mutex<Vec<String>>,
}

/// One finding as `--json` prints it; the fields are documented in the README.
#[derive(Debug, Serialize)]
struct FindingView {
    file: String,
    line: u64,
    column: u64,
    token_id: String,
    masked: String,
    account: Option<String>,
    account_id: Option<i64>,
    org: Option<String>,
    status: &'static str,
    /// Whether this scan revoked it (`--revoke`).
    revoked: bool,
}

fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A visitor thread that panicked leaves data that is still whole.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub fn run(session: &Session<'_>, args: &ScanArgs) -> Result<Outcome> {
    let printer = session.printer;
    let ctx = &session.ctx;
    if args.paths.is_empty() && !args.git && std::io::stdin().is_terminal() {
        return Err(Error::invalid(
            "`sa scan` without a PATH scans stdin, which is a terminal: name files or directories (`sa scan .`), pipe text in, or use `--git`",
        ));
    }
    // The database first: a mistyped `--db` fails before a long walk.
    let mut store = session.open_store()?;
    let tally = Tally::default();
    let mut hits = if args.git {
        scan_staged(&args.paths, &tally)?
    } else {
        scan_inputs(&args.paths, args.no_ignore, &tally)
    };
    hits.sort_by(|a, b| {
        (&a.file, a.found.line, a.found.column).cmp(&(&b.file, b.found.line, b.found.column))
    });
    let mut warnings = std::mem::take(&mut *locked(&tally.warnings));
    warnings.sort();
    for warning in &warnings {
        printer.warn(&scan::mask_tokens(warning));
    }
    let mut unreadable = std::mem::take(&mut *locked(&tally.unreadable));
    unreadable.sort();
    for problem in &unreadable {
        printer.warn(&scan::mask_tokens(problem));
    }

    let ids: Vec<TokenId> = hits
        .iter()
        .map(|h| h.found.id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let known = scan::look_up(&mut store, ctx, &ids)?;
    let status_of = |id: &TokenId| scan::leak_status(known.get(id), ctx.now);
    let mut leaks: Vec<Leak> = Vec::new();
    let mut seen = BTreeSet::new();
    for hit in &hits {
        let id = &hit.found.id;
        if status_of(id) == LeakStatus::Live && seen.insert(id) {
            leaks.push(Leak {
                id: id.clone(),
                location: format!("{}:{}", hit.file_name(), hit.found.line),
            });
        }
    }

    let mut revoked: BTreeMap<String, Token> = BTreeMap::new();
    if args.revoke && !leaks.is_empty() {
        prompt::confirm(&revoke_question(&leaks, &known), args.yes)?;
        for token in scan::revoke_leaked(&mut store, ctx, &leaks)? {
            revoked.insert(token.id.clone(), token);
        }
    }

    let mut list = printer.list(SCAN_COLUMNS).quiet_when_empty();
    for hit in &hits {
        let id = &hit.found.id;
        let token = known.get(id);
        let status = status_of(id);
        let was_revoked = revoked.contains_key(id.as_str());
        list.push(
            || FindingView {
                file: hit.file_name(),
                line: hit.found.line,
                column: hit.found.column,
                token_id: id.to_string(),
                masked: hit.found.masked(),
                account: token.map(|t| t.account.clone()),
                account_id: token.map(|t| t.account_id),
                org: token.map(|t| t.org.clone()),
                status: status.as_str(),
                revoked: was_revoked,
            },
            || {
                let status_cell = match (status, was_revoked) {
                    (LeakStatus::Live, true) => Field::status(printer, "live (revoked now)"),
                    (LeakStatus::Live, false) => Field::status(printer, "live"),
                    // Harmless now: not coloured as an alarm.
                    (other, _) => Field::new(other.as_str()),
                };
                vec![
                    Field::new(hit.file_name()),
                    Field::new(hit.found.line.to_string()),
                    Field::new(hit.found.column.to_string()),
                    // `-o name` prints token ids, for `xargs sa token revoke`.
                    Field::new(if printer.names_only() {
                        id.to_string()
                    } else {
                        hit.found.masked()
                    }),
                    Field::new(token.map_or(NONE, |t| t.account.as_str())),
                    status_cell,
                ]
            },
        )?;
    }
    list.finish()?;

    for leak in &leaks {
        if let Some(token) = revoked.get(leak.id.as_str()) {
            printer.note(&format!(
                "revoked token `{}` of account `{}` (leaked at {})",
                token.id, token.account, leak.location
            ));
        } else if args.revoke {
            printer.note(&format!(
                "token `{}` stopped being live while the scan ran; not revoked",
                leak.id
            ));
        }
    }
    printer.note(&summary(args.git, &tally, hits.len(), leaks.len()));
    if !leaks.is_empty() {
        return Ok(Outcome::Failure);
    }
    if !unreadable.is_empty() {
        return Err(Error::io(
            "the scan is incomplete",
            std::io::Error::other(format!(
                "{} path(s) could not be read (named above)",
                unreadable.len()
            )),
        ));
    }
    Ok(Outcome::Success)
}

/// The confirmation question of `--revoke`, naming the first few tokens: off a terminal it is
/// also the error that says what was not done.
fn revoke_question(leaks: &[Leak], known: &BTreeMap<TokenId, Token>) -> String {
    let named: Vec<String> = leaks
        .iter()
        .take(NAMED_IN_QUESTION)
        .map(|leak| {
            let account = known.get(&leak.id).map_or("?", |t| t.account.as_str());
            format!("`{}` of `{account}` at {}", leak.id, leak.location)
        })
        .collect();
    let more = leaks.len().saturating_sub(NAMED_IN_QUESTION);
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    format!(
        "revoke {} live token(s) found by the scan ({}{more})",
        leaks.len(),
        named.join(", ")
    )
}

/// The closing note: what was read and what was found.
fn summary(git: bool, tally: &Tally, found: usize, live: usize) -> String {
    let files = tally.files.load(Ordering::Relaxed);
    let binary = tally.binary.load(Ordering::Relaxed);
    let what = if git {
        format!("scanned the lines the staged changes add to {files} file(s)")
    } else if binary > 0 {
        format!("scanned {files} file(s) ({binary} binary, skipped)")
    } else {
        format!("scanned {files} file(s)")
    };
    match (found, live) {
        (0, _) => format!("{what}: no tokens found"),
        (_, 0) => format!("{what}: {found} finding(s), none live"),
        _ => format!("{what}: {found} finding(s), {live} live token(s)"),
    }
}

/// Scans the lines the staged changes add (`git diff --cached`), limited to `paths` if any.
fn scan_staged(paths: &[PathBuf], tally: &Tally) -> Result<Vec<Hit>> {
    // Outside a repository `git diff` compares files instead (and knows no `--cached`).
    let inside = std::process::Command::new("git")
        .args(["rev-parse", "--is-inside-work-tree"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(|e| Error::io("cannot run `git` for `--git`", e))?;
    if !inside.success() {
        return Err(Error::io(
            "cannot read the staged changes",
            std::io::Error::other(
                "the current directory is not in a git work tree (`--git` scans what `git diff --cached` shows there)",
            ),
        ));
    }
    let output = std::process::Command::new("git")
        // Paths as bytes (only the oddest quoted), whatever the user's diff settings say.
        .args(["-c", "core.quotePath=false", "diff", "--cached", "-U0"])
        .args(["--no-color", "--no-ext-diff", "--no-textconv"])
        .args(["--src-prefix=a/", "--dst-prefix=b/", "--"])
        .args(paths)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Error::io("cannot run `git diff --cached` for `--git`", e))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let why = stderr
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map_or_else(|| output.status.to_string(), str::to_string);
        return Err(Error::io(
            "cannot read the staged changes (`git diff --cached`)",
            std::io::Error::other(why),
        ));
    }
    let mut hits = Vec::new();
    let files = scan::scan_diff(&output.stdout, &mut |path, found| {
        hits.push(Hit {
            file: path.to_vec(),
            found,
        });
    });
    tally.files.store(files, Ordering::Relaxed);
    Ok(hits)
}

/// Scans stdin (no path, or `-`) and the files and directories named.
fn scan_inputs(paths: &[PathBuf], no_ignore: bool, tally: &Tally) -> Vec<Hit> {
    let hits = Mutex::new(Vec::new());
    let (stdin, walked): (Vec<&PathBuf>, Vec<&PathBuf>) = paths
        .iter()
        .partition(|p| p.as_os_str() == std::ffi::OsStr::new("-"));
    if paths.is_empty() || !stdin.is_empty() {
        let mut buf = Vec::new();
        scan_one(
            &mut std::io::stdin().lock(),
            STDIN_NAME.as_bytes(),
            &mut buf,
            true,
            &hits,
            tally,
        );
    }
    if let Some((first, rest)) = walked.split_first() {
        walk(first, rest, no_ignore, &hits, tally);
    }
    hits.into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Walks the named paths in parallel, scanning each file.
fn walk(first: &Path, rest: &[&PathBuf], no_ignore: bool, hits: &Mutex<Vec<Hit>>, tally: &Tally) {
    let mut builder = ignore::WalkBuilder::new(first);
    for path in rest {
        builder.add(path);
    }
    let honour = !no_ignore;
    builder
        .hidden(false)
        .parents(honour)
        .ignore(honour)
        .git_ignore(honour)
        .git_global(honour)
        .git_exclude(honour)
        // A .gitignore means the same in a tarball or a CI workspace without `.git`.
        .require_git(false)
        .follow_links(false)
        .filter_entry(|entry| entry.file_name() != ".git");
    builder.build_parallel().run(|| {
        let mut buf = Vec::new();
        Box::new(move |entry| {
            match entry {
                Ok(entry) => visit(&entry, &mut buf, hits, tally),
                Err(err) if err.io_error().is_some() => {
                    locked(&tally.unreadable).push(err.to_string())
                }
                Err(err) => locked(&tally.warnings).push(err.to_string()),
            }
            ignore::WalkState::Continue
        })
    });
}

/// Scans one entry of the walk if it is a file: a regular file found in a directory, or any
/// non-directory named on the command line (a symbolic link to a file, `<(…)`).
fn visit(entry: &ignore::DirEntry, buf: &mut Vec<u8>, hits: &Mutex<Vec<Hit>>, tally: &Tally) {
    let named = entry.depth() == 0;
    let regular = entry.file_type().is_some_and(|t| t.is_file());
    let wanted = regular || (named && !entry.path().is_dir());
    if !wanted {
        return;
    }
    let path = entry.path();
    match std::fs::File::open(path) {
        Ok(mut file) => scan_one(
            &mut file,
            path.as_os_str().as_bytes(),
            buf,
            named,
            hits,
            tally,
        ),
        Err(err) => {
            locked(&tally.unreadable).push(format!("cannot read `{}`: {err}", path.display()))
        }
    }
}

/// Scans one stream; a failed read keeps what was found before it and names the file.
fn scan_one(
    reader: &mut dyn std::io::Read,
    name: &[u8],
    buf: &mut Vec<u8>,
    named: bool,
    hits: &Mutex<Vec<Hit>>,
    tally: &Tally,
) {
    let mut found = Vec::new();
    let scanned = scan::scan_reader(reader, buf, &mut |f| found.push(f));
    let shown = || String::from_utf8_lossy(name).into_owned();
    match scanned {
        Ok(Scanned::Text) => {
            tally.files.fetch_add(1, Ordering::Relaxed);
        }
        Ok(Scanned::Binary) => {
            tally.binary.fetch_add(1, Ordering::Relaxed);
            if named {
                locked(&tally.warnings).push(format!(
                    "`{}` is a binary file (a NUL byte in its first 8 KiB); not scanned",
                    shown()
                ));
            }
        }
        Err(err) => locked(&tally.unreadable).push(format!("cannot read `{}`: {err}", shown())),
    }
    if !found.is_empty() {
        locked(hits).extend(found.into_iter().map(|found| Hit {
            file: name.to_vec(),
            found,
        }));
    }
}
