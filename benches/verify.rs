//! What `sa token verify` costs, as a ratio to one bare argon2id verification measured in the
//! same run (team rule: performance is reported as ratios against a baseline from the same
//! run, never asserted as wall-clock limits in tests).
//!
//! ```text
//! cargo bench --bench verify
//! ```
//!
//! Everything runs at the default (OWASP) argon2id cost, m=19456 KiB, t=2, p=1:
//!
//! | bench                            | what one iteration is                                                |
//! |----------------------------------|----------------------------------------------------------------------|
//! | `verify/argon2id_bare`           | `Argon2::verify_password` of a 32-char secret against its PHC string |
//! | `verify/in_process_known`        | `sa::Verifier::verify(token, None)`, the token in the database       |
//! | `verify/in_process_unknown`      | the same with a well-formed token whose id is not stored             |
//! | `verify/in_process_wrong_secret` | the same with the stored id and another secret                       |
//! | `verify/in_process_malformed`    | the same with a token whose checksum is wrong                        |
//! | `verify/process_known`           | spawn `sa token verify`, token on stdin, wait for exit 0             |
//! | `verify/process_unknown`         | the same with the unknown token (exit 1)                             |
//! | `verify/process_malformed`       | the same with the malformed token (exit 1)                           |
//! | `verify/cached_hit_1_thread`     | 10,000 `verify(token, Some("invoices:read"))` of one hot token, cached |
//! | `verify/cached_hit_2_threads`    | the same 10,000 split over 2 threads sharing one `&Verifier`         |
//!
//! The `in_process_*` cases run with the verify cache off, so each is a real verification;
//! the `cached_*` ones with the default cache (5 s, so a run re-verifies the token against
//! the database, with argon2, once every 5 s, and writes the counted hits as often), and are
//! reported as verifications per second beside the bare argon2id verification's rate.
//!
//! The database holds [`FILLER`] other tokens (minted at a cheap argon2 cost, since their hash
//! cost does not matter to a lookup by id) besides the one being verified, which is minted at
//! the default cost so that verifying it never triggers a re-hash.
//!
//! The `process_*` cases run with no other connection to the database open, as when a script
//! runs `sa token verify`.
//!
//! After criterion has run, `main` reads back the estimates this run wrote
//! (`<target>/criterion/verify/*/new/estimates.json`) and prints the ratios as a Markdown
//! table; estimates left over from an earlier run are never mixed in. A full run (no filter,
//! not `--test`) then prints an interleaved cross-check of the same ratios ([`interleaved`]),
//! which drift in the machine's load cannot skew. See docs/benchmarks.md for the figures.

use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use criterion::{Criterion, SamplingMode, Throughput};
use sa::config::{Argon2Cost, Config};
use sa::domain::Context;
use sa::domain::accounts::{CreateAccount, create};
use sa::domain::names::{AccountName, AccountRef, OrgName, RoleName};
use sa::domain::tokens::{MintRequest, mint};
use sa::store::Store;
use sa::{Error, Rejection, Verifier};

/// Tokens in the database besides the one verified.
const FILLER: usize = 1000;
/// Verifications in one iteration of a `cached_*` case.
const BATCH: usize = 10_000;
const GROUP: &str = "verify";
const BASELINE: &str = "argon2id_bare";

/// The fixture: a database with `FILLER + 1` tokens, and the tokens to present.
struct Fixture {
    _dir: tempfile::TempDir,
    db: PathBuf,
    config_file: PathBuf,
    known: String,
    unknown: String,
    /// The known token's id with another secret (and a valid checksum).
    wrong_secret: String,
    malformed: String,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("sa.db");
    let config_file = dir.path().join("config.toml");
    let cost = Argon2Cost::default();
    std::fs::write(
        &config_file,
        format!(
            "[argon2]\nmemory_kib = {}\niterations = {}\nparallelism = {}\n",
            cost.memory_kib, cost.iterations, cost.parallelism
        ),
    )
    .expect("write config");

    // The filler: FILLER tokens over FILLER / 10 accounts, at a cheap cost.
    let mut cheap = Config::with_db_path(&db);
    cheap.argon2 = Argon2Cost {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };
    let mut store = Store::open(&db).expect("open the database");
    let ctx = Context {
        org: OrgName::default(),
        actor: "bench".into(),
        now: sa::time::now(),
        config: &cheap,
        acting: None,
    };
    let per_account = usize::try_from(cheap.limits.max_tokens_per_account).unwrap_or(10);
    for n in 0..FILLER {
        let account = format!("filler-{}", n / per_account);
        if n % per_account == 0 {
            create(
                &mut store,
                &ctx,
                &CreateAccount {
                    name: AccountName::parse(&account).expect("account name"),
                    description: None,
                    roles: vec![RoleName::parse("viewer").expect("role")],
                },
            )
            .expect("create a filler account");
        }
        mint(
            &mut store,
            &ctx,
            &MintRequest {
                account: AccountRef::parse(&account).expect("account ref"),
                name: None,
                expires: None,
                scopes: vec![],
            },
        )
        .expect("mint a filler token");
    }
    drop(store);

    // The token under test, at the default (OWASP) cost, which the database then records as
    // `sa` run with that config would, and every verifier uses.
    let known = sa::testing::mint_at_cost(&db, Argon2Cost::default(), "bench-bot", "editor")
        .expect("mint the token under test");
    let unknown = sa::domain::token_format::generate("sa_")
        .expect("generate a token")
        .token
        .expose()
        .to_string();
    let malformed = corrupt_checksum(&known);
    let wrong_secret = with_secret(&known, "0123456789ABCDEFGHIJabcdefghij01");
    Fixture {
        _dir: dir,
        db,
        config_file,
        known,
        unknown,
        wrong_secret,
        malformed,
    }
}

/// `token` (`sa_` + 12-char id + `_` + 32-char secret + 6-char checksum) with `secret` instead
/// of its own, and the checksum recomputed as `sa::domain::token_format` does (CRC32 of the
/// rest, six base62 digits), so it is well-formed.
fn with_secret(token: &str, secret: &str) -> String {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let body = format!("{}{secret}", &token[..3 + 12 + 1]);
    let mut n = u64::from(crc32fast::hash(body.as_bytes()));
    let mut sum = [b'0'; 6];
    for slot in sum.iter_mut().rev() {
        *slot = ALPHABET[usize::try_from(n % 62).expect("small")];
        n /= 62;
    }
    format!("{body}{}", String::from_utf8_lossy(&sum))
}

/// `token` with its last (checksum) character changed.
fn corrupt_checksum(token: &str) -> String {
    let mut out = token.to_string();
    let last = out.pop().expect("non-empty token");
    out.push(if last == '0' { '1' } else { '0' });
    out
}

/// Runs `sa token verify` on `token` as a service or script would, returning the exit code.
fn run_sa(fixture: &Fixture, token: &str) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sa"))
        .args(["token", "verify"])
        .env("SA_DB", &fixture.db)
        .env("SA_CONFIG", &fixture.config_file)
        .env_remove("SA_ORG")
        .env("SA_ACTOR", "bench")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sa");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        writeln!(stdin, "{token}").expect("write the token");
    }
    let out = child.wait_with_output().expect("wait for sa");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The baseline: argon2id at the default cost, a 32-character secret (like a token's) and its
/// PHC string.
struct Bare {
    argon2: Argon2<'static>,
    secret: &'static str,
    phc: String,
}

impl Bare {
    fn new() -> Self {
        let cost = Argon2Cost::default();
        let argon2 = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None).expect("params"),
        );
        let secret = "f8Kd02LmQw9XnB4vR7tYc1ZsE5uJ0hGa";
        let phc = argon2
            .hash_password(secret.as_bytes())
            .expect("hash")
            .to_string();
        Bare {
            argon2,
            secret,
            phc,
        }
    }

    fn verify(&self) -> bool {
        self.argon2
            .verify_password(
                black_box(self.secret.as_bytes()),
                black_box(self.phc.as_str()),
            )
            .is_ok()
    }
}

fn benches(c: &mut Criterion, fixture: &Fixture) {
    let bare = Bare::new();
    assert!(bare.verify());

    let verifier = uncached(&fixture.db);
    // Check every case once before timing it, so that no bench times an unexpected path.
    assert_eq!(
        verifier
            .verify(&fixture.known, None)
            .expect("the known token verifies")
            .account,
        "bench-bot"
    );
    let rejection = |verifier: &Verifier, token: &str| match verifier.verify(token, None) {
        Err(Error::Rejected(reason)) => reason,
        other => panic!("expected a rejection, got {other:?}"),
    };
    assert_eq!(rejection(&verifier, &fixture.unknown), Rejection::Unknown);
    assert_eq!(
        rejection(&verifier, &fixture.wrong_secret),
        Rejection::Unknown
    );
    assert_eq!(
        rejection(&verifier, &fixture.malformed),
        Rejection::Malformed
    );
    let (code, stderr) = run_sa(fixture, &fixture.known);
    assert_eq!(code, 0, "sa token verify (known): {stderr}");
    let (code, stderr) = run_sa(fixture, &fixture.unknown);
    assert!(
        code == 1 && stderr.contains("unknown"),
        "sa token verify (unknown): {stderr}"
    );
    let (code, stderr) = run_sa(fixture, &fixture.malformed);
    assert!(
        code == 1 && stderr.contains("malformed"),
        "sa token verify (malformed): {stderr}"
    );

    let mut group = c.benchmark_group(GROUP);
    let slow = |group: &mut criterion::BenchmarkGroup<'_, _>| {
        // Tens of milliseconds per iteration: flat sampling, few samples.
        group
            .sampling_mode(SamplingMode::Flat)
            .sample_size(25)
            .warm_up_time(Duration::from_secs(2))
            .measurement_time(Duration::from_secs(10));
    };
    slow(&mut group);
    group.bench_function(BASELINE, |b| b.iter(|| bare.verify()));
    group.bench_function("in_process_known", |b| {
        b.iter(|| verifier.verify(black_box(&fixture.known), None).is_ok())
    });
    group.bench_function("in_process_unknown", |b| {
        b.iter(|| verifier.verify(black_box(&fixture.unknown), None).is_err())
    });
    group.bench_function("in_process_wrong_secret", |b| {
        b.iter(|| {
            verifier
                .verify(black_box(&fixture.wrong_secret), None)
                .is_err()
        })
    });
    // Microseconds: the usual auto sampling.
    group
        .sampling_mode(SamplingMode::Auto)
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("in_process_malformed", |b| {
        b.iter(|| {
            verifier
                .verify(black_box(&fixture.malformed), None)
                .is_err()
        })
    });
    // Close the in-process connection, so that each `sa` process is the database's only user,
    // as when a script runs `sa token verify` (it then also checkpoints the WAL on exit).
    drop(verifier);
    slow(&mut group);
    group.bench_function("process_known", |b| {
        b.iter(|| run_sa(fixture, black_box(&fixture.known)).0)
    });
    group.bench_function("process_unknown", |b| {
        b.iter(|| run_sa(fixture, black_box(&fixture.unknown)).0)
    });
    group.bench_function("process_malformed", |b| {
        b.iter(|| run_sa(fixture, black_box(&fixture.malformed)).0)
    });

    // The hot token, cached: a service checking the token of every request.
    let cached = Verifier::open(&fixture.db)
        .expect("open verifier")
        .with_source("bench")
        .expect("source");
    let hot = |verifier: &Verifier, n: usize| {
        for _ in 0..n {
            let identity = verifier
                .verify(black_box(&fixture.known), Some("invoices:read"))
                .expect("the hot token verifies");
            black_box(identity);
        }
    };
    hot(&cached, 1);
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("cached_hit_1_thread", |b| b.iter(|| hot(&cached, BATCH)));
    group.bench_function("cached_hit_2_threads", |b| {
        b.iter(|| {
            std::thread::scope(|s| {
                for _ in 0..2 {
                    s.spawn(|| hot(&cached, BATCH / 2));
                }
            });
        })
    });
    group.finish();
    // Every hit was counted: the last ones are written as the verifier closes.
    cached.flush().expect("write the counted hits");
}

/// A verifier with the cache off: every verification is a real one.
fn uncached(db: &Path) -> Verifier {
    Verifier::open(db)
        .and_then(|v| v.with_cache(Duration::ZERO, 0))
        .expect("open verifier")
}

/// Where criterion writes its results: `$CRITERION_HOME`, else `<target dir>/criterion`,
/// found from this executable's path (`<target>/<profile>/deps/verify-HASH`).
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(target).join("criterion");
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("target"))
        .join("criterion")
}

/// One bench's estimates (ns), as criterion saved them.
struct Estimate {
    mean: f64,
    lower: f64,
    upper: f64,
    median: f64,
}

/// The estimates for `bench`, if this run measured it (older files are ignored).
fn estimate(dir: &Path, bench: &str, since: SystemTime) -> Option<Estimate> {
    let path = dir.join(GROUP).join(bench).join("new/estimates.json");
    let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
    if modified < since {
        return None;
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).ok()?).ok()?;
    Some(Estimate {
        mean: json["mean"]["point_estimate"].as_f64()?,
        lower: json["mean"]["confidence_interval"]["lower_bound"].as_f64()?,
        upper: json["mean"]["confidence_interval"]["upper_bound"].as_f64()?,
        median: json["median"]["point_estimate"].as_f64()?,
    })
}

fn human(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cpus} CPU(s), {model}")
}

fn report(since: SystemTime) {
    let dir = criterion_dir();
    let get = |bench: &str| estimate(&dir, bench, since);
    let Some(base) = get(BASELINE) else {
        println!(
            "\nNo estimates from this run under {} (test mode, or the baseline was filtered out): no ratios.",
            dir.display()
        );
        return;
    };
    let cost = Argon2Cost::default();
    println!("\n## sa token verify vs one bare argon2id verification (this run)\n");
    println!(
        "machine: {}; argon2id m={} KiB, t={}, p={}; {FILLER} other tokens in the database\n",
        machine(),
        cost.memory_kib,
        cost.iterations,
        cost.parallelism,
    );
    println!("| bench | mean | 95% CI of the mean | median | mean ÷ bare | median ÷ bare |");
    println!("|---|---:|---:|---:|---:|---:|");
    let benches = [
        BASELINE,
        "in_process_known",
        "in_process_unknown",
        "in_process_wrong_secret",
        "in_process_malformed",
        "process_known",
        "process_unknown",
        "process_malformed",
    ];
    for bench in benches {
        match get(bench) {
            Some(e) => println!(
                "| {bench} | {} | {} – {} | {} | {:.3} | {:.3} |",
                human(e.mean),
                human(e.lower),
                human(e.upper),
                human(e.median),
                e.mean / base.mean,
                e.median / base.median,
            ),
            None => println!("| {bench} | not measured in this run | | | | |"),
        }
    }
    println!("\n## A hot token, cached, vs one bare argon2id verification (this run)\n");
    println!("| case | per verification (mean) | verifications per second | × the bare rate |");
    println!("|---|---:|---:|---:|");
    let rate = |ns: f64| 1e9 / ns;
    println!(
        "| {BASELINE} | {} | {:.0} | 1 |",
        human(base.mean),
        rate(base.mean)
    );
    for bench in ["cached_hit_1_thread", "cached_hit_2_threads"] {
        match get(bench) {
            Some(e) => {
                let each = e.mean / BATCH as f64;
                println!(
                    "| {bench} | {} | {:.0} | {:.0} |",
                    human(each),
                    rate(each),
                    base.mean / each
                );
            }
            None => println!("| {bench} | not measured in this run | | |"),
        }
    }
    let mean = |bench: &str| get(bench).map(|e| e.mean);
    println!();
    if let (Some(unknown), Some(known)) = (mean("in_process_unknown"), mean("in_process_known")) {
        println!(
            "in-process unknown ÷ known: {:.3} (known − unknown = {})",
            unknown / known,
            signed(known - unknown)
        );
    }
    if let (Some(unknown), Some(wrong)) =
        (mean("in_process_unknown"), mean("in_process_wrong_secret"))
    {
        println!(
            "in-process unknown ÷ wrong secret: {:.3} (wrong secret − unknown = {})",
            unknown / wrong,
            signed(wrong - unknown)
        );
    }
    if let (Some(unknown), Some(known)) = (mean("process_unknown"), mean("process_known")) {
        println!(
            "whole-process unknown ÷ known: {:.3} (known − unknown = {})",
            unknown / known,
            signed(known - unknown)
        );
    }
    if let (Some(process), Some(in_process)) = (mean("process_known"), mean("in_process_known")) {
        println!(
            "whole process ÷ in-process: {:.3} (process − in-process = {})",
            process / in_process,
            signed(process - in_process)
        );
    }
}

fn signed(ns: f64) -> String {
    if ns < 0.0 {
        format!("−{}", human(-ns))
    } else {
        human(ns)
    }
}

/// Rounds of the interleaved cross-check.
const ROUNDS: usize = 50;

/// A cross-check of criterion's ratios that load drift cannot skew: criterion measures one case
/// after another, so a neighbour that starts compiling half-way moves the later cases only.
/// Here every round times each argon2-bound case once, back to back, and each is divided by
/// the bare verification of the same round; the table shows the medians over the rounds, and
/// each case's fastest round (on a shared machine, slow phases only ever add time, so the
/// fastest of many rounds is the closest to the intrinsic cost).
fn interleaved(fixture: &Fixture) {
    let bare = Bare::new();
    // Index 0 is the baseline; 1–3 run in-process, 4–5 as `sa` processes.
    let cases = [
        BASELINE,
        "in_process_known",
        "in_process_unknown",
        "in_process_wrong_secret",
        "process_known",
        "process_unknown",
    ];
    let timed = |work: &mut dyn FnMut()| {
        let start = Instant::now();
        work();
        start.elapsed().as_secs_f64() * 1e9
    };
    let in_process = |case: usize, verifier: &Verifier| match case {
        0 => timed(&mut || assert!(bare.verify())),
        1 => timed(&mut || assert!(verifier.verify(&fixture.known, None).is_ok())),
        2 => timed(&mut || assert!(verifier.verify(&fixture.unknown, None).is_err())),
        _ => timed(&mut || assert!(verifier.verify(&fixture.wrong_secret, None).is_err())),
    };
    let process = |case: usize| match case {
        4 => timed(&mut || assert_eq!(run_sa(fixture, &fixture.known).0, 0)),
        _ => timed(&mut || assert_eq!(run_sa(fixture, &fixture.unknown).0, 1)),
    };
    let mut times: Vec<Vec<f64>> = vec![Vec::with_capacity(ROUNDS); cases.len()];
    let mut ratios: Vec<Vec<f64>> = vec![Vec::with_capacity(ROUNDS); cases.len()];
    for round in 0..ROUNDS {
        let mut t = [0.0; 6];
        let verifier = uncached(&fixture.db);
        verifier.verify(&fixture.known, None).expect("warm-up"); // untimed
        // The order rotates from round to round, so that no case always comes first.
        for k in 0..4 {
            let case = (round + k) % 4;
            t[case] = in_process(case, &verifier);
        }
        // With the verifier closed, each `sa` is the database's only user, as in criterion's
        // `process_*` benches.
        drop(verifier);
        for k in 0..2 {
            let case = 4 + (round + k) % 2;
            t[case] = process(case);
        }
        for (case, ns) in t.into_iter().enumerate() {
            times[case].push(ns);
            ratios[case].push(ns / t[0]);
        }
    }
    println!(
        "\n### Interleaved cross-check ({ROUNDS} rounds, each case once per round in rotating order; medians)\n"
    );
    println!(
        "| case | median time | median of (case ÷ bare of the same round) | fastest | fastest ÷ fastest bare |"
    );
    println!("|---|---:|---:|---:|---:|");
    let fastest = |values: &[f64]| values.iter().copied().fold(f64::INFINITY, f64::min);
    let fastest_bare = fastest(&times[0]);
    for (case, name) in cases.iter().enumerate() {
        println!(
            "| {name} | {} | {:.3} | {} | {:.3} |",
            human(median(&mut times[case])),
            median(&mut ratios[case]),
            human(fastest(&times[case])),
            fastest(&times[case]) / fastest_bare
        );
    }
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

fn main() {
    let since = SystemTime::now();
    let started = Instant::now();
    let fixture = fixture();
    eprintln!(
        "fixture: {} tokens minted in {:.1?}",
        FILLER + 1,
        started.elapsed()
    );
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c, &fixture);
    c.final_summary();
    report(since);
    // Only in a full measuring run (`cargo bench` passes `--bench`): not under `cargo test`,
    // nor with a filter, `--test`, `--list` and the like.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.is_empty() && args.iter().all(|arg| arg == "--bench") {
        interleaved(&fixture);
    }
}
