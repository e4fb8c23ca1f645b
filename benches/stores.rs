//! SQLite against PostgreSQL (issue 14), in one run on one machine: `sa token verify` as a
//! whole process and in-process; in-process verifications per second from 1, 2 and 8 threads
//! with and without the verify cache; `sa token list ACCOUNT` and `sa usage` at 100,000
//! accounts and 1,000,000 tokens. Every figure is beside its SQLite twin and one bare argon2id
//! verification measured in the same run. The PostgreSQL databases are `sa db copy`s of the
//! SQLite ones (that copy is timed too).
//!
//! ```text
//! scripts/pg-bench.sh            # starts a throwaway cluster, runs this, stops it
//! SA_BENCH_PG=postgresql:///postgres?host=/tmp/x&user=sa cargo bench --bench stores
//! ```
//!
//! `$SA_BENCH_PG` names a database on a server where the bench may create and drop others.
//! Without it, the bench says so and measures nothing. Figures: docs/benchmarks.md.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use sa::Verifier;

#[path = "common/mod.rs"]
mod common;
use common::{Db, argon2_once, build, median, time_once};

fn runs() -> usize {
    std::env::var("SA_BENCH_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(11)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// A new database on the bench server; its URL.
fn new_database(server: &str, name: &str) -> String {
    let mut client = postgres::Client::connect(server, postgres::NoTls).expect("connect");
    // One statement each: several in one batch would run as one transaction, which
    // CREATE DATABASE refuses.
    for statement in [
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name}"),
    ] {
        client.batch_execute(&statement).expect("create database");
    }
    let (before, query) = server.split_once('?').unwrap_or((server, ""));
    let (scheme, rest) = before.split_once("://").expect("a URL");
    let authority = rest.split('/').next().unwrap_or("");
    format!("{scheme}://{authority}/{name}?{query}")
}

/// Verifications per second from `threads` threads sharing one `Verifier` for `window`.
fn throughput(verifier: &Verifier, token: &str, threads: usize, window: Duration) -> f64 {
    let done = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    verifier.verify(token, None).expect("valid");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        std::thread::sleep(window);
        stop.store(true, Ordering::Relaxed);
    });
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let Some(server) = std::env::var("SA_BENCH_PG").ok().filter(|s| !s.is_empty()) else {
        eprintln!(
            "benches/stores.rs: set $SA_BENCH_PG (or run scripts/pg-bench.sh); nothing measured"
        );
        return;
    };
    let n = runs();
    let temp = tempfile::tempdir().expect("a temp dir");

    // ---- verification: a small database, the default (OWASP) argon2 cost -------------------
    let small = build(&temp.path().join("small"), 100, 10, 0);
    let small_pg = small.copied_to(&new_database(&server, "sa_bench_small"));
    let stores: [(&str, &Db); 2] = [("SQLite", &small), ("PostgreSQL", &small_pg)];
    let secret = &small.token[16..48];
    let hash: String = Connection::open(small.path())
        .expect("open")
        .query_row(
            "SELECT hash FROM tokens WHERE id = ?1",
            [&small.token[3..15]],
            |r| r.get(0),
        )
        .expect("the hash");
    let (mut bare, mut process) = (Vec::new(), [Vec::new(), Vec::new()]);
    for _ in 0..n {
        bare.push(argon2_once(&hash, secret));
        for (i, (_, db)) in stores.iter().enumerate() {
            process[i].push(time_once(db, &["token", "verify"], Some(&small.token)));
        }
    }
    let bare = median(bare);
    let store_url = |db: &Db| {
        db.store
            .clone()
            .unwrap_or_else(|| db.path().display().to_string())
    };
    let uncached: Vec<Verifier> = stores
        .iter()
        .map(|(_, db)| {
            Verifier::open(store_url(db))
                .and_then(|v| v.with_cache(Duration::ZERO, 0))
                .expect("a verifier")
        })
        .collect();
    let mut in_process = [Vec::new(), Vec::new()];
    for _ in 0..n {
        for (i, verifier) in uncached.iter().enumerate() {
            let started = Instant::now();
            verifier.verify(&small.token, None).expect("valid");
            in_process[i].push(started.elapsed());
        }
    }
    println!(
        "\n### One verification, median of {n} (one bare argon2id verification: {})\n",
        ms(bare)
    );
    println!(
        "| store | `sa token verify` (whole process) | / argon2 | in-process `Verifier`, no cache | / argon2 |"
    );
    println!("|---|---|---|---|---|");
    for (i, (name, _)) in stores.iter().enumerate() {
        let (p, v) = (median(process[i].clone()), median(in_process[i].clone()));
        println!(
            "| {name} | {} | {:.2} | {} | {:.2} |",
            ms(p),
            p.as_secs_f64() / bare.as_secs_f64(),
            ms(v),
            v.as_secs_f64() / bare.as_secs_f64()
        );
    }

    let window = Duration::from_millis(
        std::env::var("SA_BENCH_WINDOW_MS")
            .ok()
            .and_then(|w| w.parse().ok())
            .unwrap_or(3000),
    );
    println!(
        "\n### In-process verifications per second, {} s per cell ({} cores)\n",
        window.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |p| p.get())
    );
    println!("| store | cache | 1 thread | 2 threads | 8 threads |");
    println!("|---|---|---|---|---|");
    for (i, (name, db)) in stores.iter().enumerate() {
        let cached = Verifier::open(store_url(db))
            .and_then(|v| v.with_cache(Duration::from_secs(60), 10_000))
            .expect("a verifier");
        for (label, verifier) in [("off", &uncached[i]), ("on", &cached)] {
            let cells: Vec<String> = [1, 2, 8]
                .iter()
                .map(|&t| format!("{:.0}/s", throughput(verifier, &small.token, t, window)))
                .collect();
            println!("| {name} | {label} | {} |", cells.join(" | "));
        }
        cached.flush().expect("flush");
    }
    drop(uncached);

    // ---- scale: 100,000 accounts, 1,000,000 tokens --------------------------------------
    let started = Instant::now();
    let large = build(&temp.path().join("large"), 100_000, 10, 0);
    let built = started.elapsed();
    let started = Instant::now();
    let large_pg = large.copied_to(&new_database(&server, "sa_bench_large"));
    let copied = started.elapsed();
    println!("\n### 100,000 accounts, 1,000,000 tokens, 1,000,000 audit events: median of {n}\n");
    println!(
        "(built on SQLite in {:.0} s; `sa db copy` into PostgreSQL took {:.0} s)\n",
        built.as_secs_f64(),
        copied.as_secs_f64()
    );
    let cases: [(&str, Vec<&str>); 2] = [
        (
            "`sa token list ACCOUNT`",
            vec!["token", "list", &large.account],
        ),
        ("`sa usage`", vec!["usage"]),
    ];
    println!("| command | SQLite | PostgreSQL | PostgreSQL / SQLite |");
    println!("|---|---|---|---|");
    for (label, args) in &cases {
        let (mut lite, mut pg) = (Vec::new(), Vec::new());
        for _ in 0..n {
            lite.push(time_once(&large, args, None));
            pg.push(time_once(&large_pg, args, None));
        }
        let (lite, pg) = (median(lite), median(pg));
        println!(
            "| {label} | {} | {} | {:.2} |",
            ms(lite),
            ms(pg),
            pg.as_secs_f64() / lite.as_secs_f64()
        );
    }
    for name in ["sa_bench_small", "sa_bench_large"] {
        if let Ok(mut client) = postgres::Client::connect(&server, postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}
