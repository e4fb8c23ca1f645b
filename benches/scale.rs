//! Scale: what `sa` costs on a database of 100,000 accounts, 1,000,000 tokens and 1,100,000
//! audit events, as ratios to the same commands on a database of 100 accounts, measured
//! interleaved in one run; plus list memory, list speed against the `sqlite3` shell, and a whole-process
//! `sa token verify` against one in-process argon2 verification and Debian's `argon2` CLI.
//!
//! ```text
//! cargo bench --bench scale                 # about 6 minutes here, building included
//! SA_BENCH_RUNS=41 cargo bench --bench scale
//! cargo bench --bench scale -- --keep DIR   # leave the databases in DIR to poke at
//! ```
//!
//! Rows are inserted with SQL (one real argon2id hash, of the one real token, reused; an
//! `account.create` event per account and a `token.add` event per token, hash-chained with the
//! library's `event_hash` so that `sa audit verify` walks a valid chain), so the large
//! database takes well under two minutes to build. Every command runs as a process with the default
//! (OWASP) argon2 cost, as a user would run it; each case alternates large and small runs and
//! takes the median of each. Figures and the machine are in docs/benchmarks.md.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rusqlite::Connection;

#[path = "common/mod.rs"]
mod common;
use common::{Db, SA, argon2_once, build, median, run, time_as, time_once};

/// Peak resident memory of one run, in KiB, through GNU time.
fn peak_rss_kib(db: &Db, args: &[&str]) -> Option<u64> {
    let report = db.dir.join("time.out");
    let mut cmd = Command::new("/usr/bin/time");
    cmd.arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&report)
        .arg(SA)
        .args(args);
    let inner = db.command(args);
    for (key, value) in inner.get_envs() {
        if let Some(value) = value {
            cmd.env(key, value);
        }
    }
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    let status = cmd.status().ok()?;
    if !status.success() {
        return None;
    }
    std::fs::read_to_string(&report).ok()?.trim().parse().ok()
}

fn runs() -> usize {
    std::env::var("SA_BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(21)
}

/// The per-account and per-token commands compared across the two databases.
#[derive(Clone, Copy)]
enum Case {
    Verify,
    Show,
    TokenShow,
    TokenList,
    AuditPage,
    AuditAccount,
    AuditAccountFamily,
    AuditFamilyPage,
    Expiring,
    Create,
    TokenAdd,
    RoleList,
    Can,
    RoleGrant,
    ActingShow,
    UsageAccount,
    TokenListUsage,
    AuditPage50,
    Usage,
    AuditVerify,
}

const CASES: [Case; 20] = [
    Case::Verify,
    Case::Show,
    Case::TokenShow,
    Case::TokenList,
    Case::AuditPage,
    Case::AuditAccount,
    Case::AuditAccountFamily,
    Case::AuditFamilyPage,
    Case::Expiring,
    Case::Create,
    Case::TokenAdd,
    Case::RoleList,
    Case::Can,
    Case::RoleGrant,
    Case::ActingShow,
    Case::UsageAccount,
    Case::TokenListUsage,
    Case::AuditPage50,
    Case::Usage,
    Case::AuditVerify,
];

impl Case {
    fn name(self) -> &'static str {
        match self {
            Case::Verify => "token verify",
            Case::Show => "show NAME",
            Case::TokenShow => "token show ID",
            Case::TokenList => "token list ACCOUNT",
            Case::AuditPage => "audit --limit 10",
            Case::AuditAccount => "audit --account NAME",
            Case::AuditAccountFamily => "audit --account NAME --action account.",
            Case::AuditFamilyPage => "audit --action account. --limit 10",
            Case::Expiring => "token list --expiring-within 14d",
            Case::Create => "create",
            Case::TokenAdd => "token add",
            Case::RoleList => "role list (counts every grant of viewer: a report)",
            Case::Can => "can NAME logs:read",
            Case::RoleGrant => "role grant|revoke editor NAME (alternating)",
            Case::ActingShow => "show NAME under $SA_TOKEN",
            Case::UsageAccount => "usage NAME",
            Case::TokenListUsage => "token list NAME --usage",
            Case::AuditPage50 => "audit --limit 50",
            Case::Usage => "usage (a report: every token of the organization)",
            Case::AuditVerify => "audit verify (a report: the whole chain)",
        }
    }

    /// The arguments of run number `run` (creates and adds need a fresh name or account).
    fn args(self, db: &Db, run: usize) -> Vec<String> {
        let owned = |args: &[&str]| args.iter().map(|a| a.to_string()).collect();
        match self {
            Case::Verify => owned(&["token", "verify"]),
            Case::Show => owned(&["show", &db.account]),
            Case::TokenShow => owned(&["token", "show", &db.token_id]),
            Case::TokenList => owned(&["token", "list", &db.account]),
            Case::AuditPage => owned(&["audit", "--limit", "10"]),
            Case::AuditAccount => owned(&["audit", "--account", &db.account]),
            Case::AuditAccountFamily => {
                owned(&["audit", "--account", &db.account, "--action", "account."])
            }
            Case::AuditFamilyPage => owned(&["audit", "--action", "account.", "--limit", "10"]),
            Case::Expiring => owned(&["token", "list", "--expiring-within", "14d"]),
            Case::Create => owned(&["create", "--name", &format!("new-{run:05}")]),
            // Ten tokens an account (`limits.max_tokens_per_account`).
            Case::TokenAdd => owned(&["token", "add", &format!("adder-{:04}", run / 10)]),
            Case::RoleList => owned(&["role", "list"]),
            Case::Can => owned(&["can", &db.account, "logs:read"]),
            Case::RoleGrant if run.is_multiple_of(2) => {
                owned(&["role", "grant", "editor", &db.account])
            }
            Case::RoleGrant => owned(&["role", "revoke", "editor", &db.account]),
            Case::ActingShow => owned(&["show", &db.account]),
            Case::UsageAccount => owned(&["usage", &db.account]),
            Case::TokenListUsage => owned(&["token", "list", &db.account, "--usage"]),
            Case::AuditPage50 => owned(&["audit", "--limit", "50"]),
            Case::Usage => owned(&["usage"]),
            Case::AuditVerify => owned(&["audit", "verify"]),
        }
    }

    /// What the command reads from stdin, and the `$SA_TOKEN` it runs under.
    fn input_and_token(self, db: &Db) -> (Option<&str>, Option<&str>) {
        match self {
            Case::Verify => (Some(db.token.as_str()), None),
            Case::ActingShow => (None, Some(db.token.as_str())),
            _ => (None, None),
        }
    }
}

/// Accounts without tokens, for `token add` runs.
fn adders() -> usize {
    runs() / 10 + 1
}

struct Row {
    case: String,
    large: Duration,
    small: Duration,
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let keep = args
        .iter()
        .position(|a| a == "--keep")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from);
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let temp = tempfile::tempdir().expect("temp dir");
    let root = keep.clone().unwrap_or_else(|| temp.path().to_path_buf());

    let started = Instant::now();
    let large = build(&root.join("large"), 100_000, 10, adders());
    let built_large = started.elapsed();
    let small = build(&root.join("small"), 100, 10, adders());
    let medium = build(&root.join("medium"), 10_000, 10, 0);
    println!(
        "built: large ({} accounts, {} tokens) in {:.1} s; small ({} accounts); medium ({} accounts)",
        large.accounts + adders() + 1,
        large.accounts * 10 + 1,
        built_large.as_secs_f64(),
        small.accounts + adders() + 1,
        medium.accounts + 1
    );

    let n = runs();
    let mut rows = Vec::new();
    for case in CASES {
        let mut l = Vec::with_capacity(n);
        let mut s = Vec::with_capacity(n);
        for run in 0..n {
            for (db, samples) in [(&large, &mut l), (&small, &mut s)] {
                let args = case.args(db, run);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let (input, token) = case.input_and_token(db);
                samples.push(time_as(db, &args, input, token));
            }
        }
        rows.push(Row {
            case: case.name().to_string(),
            large: median(l),
            small: median(s),
        });
    }

    println!(
        "\n### Large (100k accounts, 1M tokens) against small (100 accounts), median of {n}\n"
    );
    println!("| command | large | small | large / small |");
    println!("|---|---|---|---|");
    for row in &rows {
        println!(
            "| `sa {}` | {} | {} | {:.2} |",
            row.case,
            ms(row.large),
            ms(row.small),
            row.large.as_secs_f64() / row.small.as_secs_f64()
        );
    }

    println!("\n### Peak memory of whole lists (GNU time, max RSS)\n");
    println!("| command | large | small | medium (10k accounts) |");
    println!("|---|---|---|---|");
    for args in [
        &["list", "--json"][..],
        &["token", "list", "--json"],
        &["list"],
        &["token", "list"],
    ] {
        let kib = |db: &Db| {
            peak_rss_kib(db, args).map_or("?".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
        };
        println!(
            "| `sa {}` | {} | {} | {} |",
            args.join(" "),
            kib(&large),
            kib(&small),
            kib(&medium)
        );
    }

    println!(
        "\n### Lists of 10,000 accounts against the sqlite3 shell reading the same rows, median of {n}\n"
    );
    let sqlite3 = which("sqlite3");
    let query = "SELECT a.id, a.org, a.name, a.description, a.email, a.status, a.disabled_reason, \
        (SELECT group_concat(role) FROM account_roles r WHERE r.account_id = a.id), \
        (SELECT count(*) FROM tokens t WHERE t.account_id = a.id AND t.status = 'active'), \
        a.created_at, a.created_by, a.updated_at, a.deleted_at \
        FROM accounts a WHERE a.org = 'default' AND a.status != 'deleted' ORDER BY a.name";
    println!("| command | sa | sqlite3 | sa / sqlite3 |");
    println!("|---|---|---|---|");
    for (sa_args, mode) in [(&["list", "--json"][..], "-json"), (&["list"], "-table")] {
        let Some(sqlite3) = &sqlite3 else {
            println!("| `sa {}` | sqlite3 not installed | | |", sa_args.join(" "));
            continue;
        };
        let mut a = Vec::new();
        let mut b = Vec::new();
        for _ in 0..n {
            a.push(time_once(&medium, sa_args, None));
            let started = Instant::now();
            let out = Command::new(sqlite3)
                .arg(mode)
                .arg(medium.path())
                .arg(query)
                .stdout(Stdio::null())
                .status()
                .expect("sqlite3");
            b.push(started.elapsed());
            assert!(out.success());
        }
        let (a, b) = (median(a), median(b));
        println!(
            "| `sa {}` vs `sqlite3 {mode}` | {} | {} | {:.2} |",
            sa_args.join(" "),
            ms(a),
            ms(b),
            a.as_secs_f64() / b.as_secs_f64()
        );
    }

    println!(
        "\n### `sa token verify` as a process against one argon2id verification, median of {n}\n"
    );
    let secret = &small.token[16..48];
    let hash: String = Connection::open(small.path())
        .expect("open")
        .query_row("SELECT hash FROM tokens WHERE account_id = 1", [], |r| {
            r.get(0)
        })
        .expect("hash");
    // Interleaved, so that the machine's load drifts over both alike.
    let mut in_process = Vec::with_capacity(n);
    let mut process = Vec::with_capacity(n);
    for _ in 0..n {
        in_process.push(argon2_once(&hash, secret));
        process.push(time_once(&small, &["token", "verify"], Some(&small.token)));
    }
    let (in_process, process) = (median(in_process), median(process));
    // The same verification back to back, as a criterion loop measures it: its memory stays
    // mapped and cached from one run to the next, which no new process has.
    let warm = median((0..n).map(|_| argon2_once(&hash, secret)).collect());
    println!("| what | median | ratio to in-process argon2 |");
    println!("|---|---|---|");
    println!(
        "| one in-process argon2id verification (argon2 crate), interleaved with the processes | {} | 1.00 |",
        ms(in_process)
    );
    println!(
        "| `sa token verify`, whole process (interleaved with the row above) | {} | {:.2} |",
        ms(process),
        process.as_secs_f64() / in_process.as_secs_f64()
    );
    println!(
        "| one in-process verification, back to back (warm memory) | {} | {:.2} |",
        ms(warm),
        warm.as_secs_f64() / in_process.as_secs_f64()
    );
    println!(
        "| `sa token verify` against the back-to-back figure | | {:.2} |",
        process.as_secs_f64() / warm.as_secs_f64()
    );
    match which("argon2") {
        Some(cli) => {
            let debian = median(
                (0..n)
                    .map(|_| {
                        let mut cmd = Command::new(&cli);
                        cmd.args([
                            "saltsaltsalt",
                            "-id",
                            "-t",
                            "2",
                            "-k",
                            "19456",
                            "-p",
                            "1",
                            "-l",
                            "32",
                            "-r",
                        ]);
                        let started = Instant::now();
                        let (ok, _, _) = run(cmd, Some(secret));
                        assert!(ok);
                        started.elapsed()
                    })
                    .collect(),
            );
            println!(
                "| Debian's `argon2` CLI, same cost, whole process | {} | {:.2} |",
                ms(debian),
                debian.as_secs_f64() / in_process.as_secs_f64()
            );
        }
        None => println!("| Debian's `argon2` CLI | not installed (`apt install argon2`) | |"),
    }
    if keep.is_some() {
        println!("\ndatabases kept in {}", root.display());
        std::mem::forget(temp);
    }
    let _ = std::io::stdout().flush();
}

/// One in-process argon2id verification of `secret` against `hash`, with the argon2 crate.
fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    })
}
