//! The crash test: `sa` killed with SIGKILL at random instants of its work, then checked as
//! the next user would find things. After every kill the database opens and passes
//! `sa db check`, what a command printed (or wrote to a token file) before it died is a token
//! that verifies, and no `.sa-token-*` temporary file is left holding a secret past the next
//! write beside it.
//!
//! CI runs `SA_CRASH_KILLS` kills per kind of command (default 40, so 200 in all);
//! `scripts/crash-test.sh` runs the full-length version against a release build and prints the
//! tallies that `docs/reliability.md` records. `SA_CRASH_SEED` replays one run.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use crate::storage::std_command;
use crate::support::{TestEnv, arg, temp_files};

/// xorshift64*: a seeded, dependency-free source of kill instants.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A delay in `[0, max)`.
    fn delay(&mut self, max: Duration) -> Duration {
        let nanos = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX).max(1);
        Duration::from_nanos(self.next() % nanos)
    }

    /// A kill instant within `window`: mostly after the process has started (a kill while
    /// it is still loading tests nothing), a few before.
    fn instant(&mut self, window: &Window) -> Duration {
        if self.next().is_multiple_of(10) {
            return self.delay(window.startup);
        }
        window.startup
            + self.delay(
                window
                    .work
                    .saturating_sub(window.startup)
                    .max(Duration::from_micros(100)),
            )
    }
}

fn kills_per_kind() -> usize {
    std::env::var("SA_CRASH_KILLS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(40)
}

fn seed() -> u64 {
    std::env::var("SA_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(1, |d| {
                    u64::try_from(d.as_nanos() % u128::from(u64::MAX)).unwrap_or(1)
                })
                | 1
        })
}

/// What one killed run left: whether it finished before the kill, and its stdout.
struct Killed {
    finished: bool,
    stdout: String,
}

/// Starts `cmd`, kills it with SIGKILL after `delay` (unless it is done by then).
fn run_and_kill(mut cmd: Command, stdin: Option<&str>, delay: Duration) -> Killed {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("spawn sa");
    if let Some(input) = stdin {
        use std::io::Write;
        let mut pipe = child.stdin.take().expect("stdin");
        // The child may die before reading: a broken pipe is fine.
        let _ = pipe.write_all(input.as_bytes());
    }
    let started = Instant::now();
    let mut finished = false;
    while started.elapsed() < delay {
        if child.try_wait().expect("try_wait").is_some() {
            finished = true;
            break;
        }
        std::thread::sleep(Duration::from_micros(200).min(delay));
    }
    if !finished {
        let _ = child.kill();
    }
    let status = child.wait().expect("wait");
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut stdout);
    }
    Killed {
        finished: finished && status.success(),
        stdout,
    }
}

/// When to kill: a process is loaded by `startup`, and done by `work` (the command's usual
/// time here, and a little more).
struct Window {
    startup: Duration,
    work: Duration,
}

/// Measures the kill window of `sa ARGS` on this machine.
fn window(env: &TestEnv, args: &[&str], stdin: Option<&str>) -> Window {
    let time = |args: &[&str], stdin: Option<&str>| {
        let started = Instant::now();
        match stdin {
            Some(input) => env.run_with_stdin(args, input).ok(),
            None => env.run(args).ok(),
        };
        started.elapsed()
    };
    let startup = (0..3)
        .map(|_| time(&["--version"], None))
        .min()
        .unwrap_or_default();
    Window {
        startup,
        work: time(args, stdin) * 3 / 2,
    }
}

/// The database opens and passes `sa db check`.
#[track_caller]
fn assert_sound(env: &TestEnv, db: &Path, context: &str) {
    let check = env.run(&["db", "check", "--db", arg(db)]);
    assert_eq!(check.code, 0, "{context}: db check failed\n{check}");
    let list = env.run(&["list", "--db", arg(db)]);
    assert_eq!(
        list.code, 0,
        "{context}: the database does not open\n{list}"
    );
}

/// A token that must verify.
#[track_caller]
fn assert_verifies(env: &TestEnv, token: &str, context: &str) {
    let run = env.run_with_stdin(&["token", "verify"], token);
    assert_eq!(
        run.code, 0,
        "{context}: a delivered token does not verify\n{run}"
    );
}

/// Tallies printed with `--nocapture` (and recorded in docs/reliability.md).
#[derive(Default, Debug)]
struct Tally {
    kills: usize,
    finished_first: usize,
    tokens_delivered: usize,
    temps_left: usize,
    temps_with_a_token: usize,
    /// Of those, left by runs that used `O_TMPFILE` (the others used a named temp file).
    temps_from_unnamed: usize,
}

impl Tally {
    fn report(&self, kind: &str) {
        eprintln!(
            "crash test {kind}: {} runs, {} killed mid-work, {} finished first, {} tokens delivered",
            self.kills,
            self.kills - self.finished_first,
            self.finished_first,
            self.tokens_delivered,
        );
        if self.temps_left > 0 {
            eprintln!(
                "crash test {kind}: {} temp files left by SIGKILL, {} of them holding a token, {} from O_TMPFILE runs; each 0600 and removed by the next write a minute on",
                self.temps_left, self.temps_with_a_token, self.temps_from_unnamed
            );
        }
    }
}

#[test]
fn kills_during_first_use_never_leave_an_unopenable_database() {
    let mut rng = Rng(seed());
    let env = TestEnv::new();
    let probe = env.root().join("probe/sa.db");
    let limit = window(
        &env,
        &["create", "--name", "bot", "--db", arg(&probe)],
        None,
    );
    let mut tally = Tally::default();
    for n in 0..kills_per_kind() {
        let db = env.root().join(format!("first-{n}/sa.db"));
        let mut cmd = std_command(&env);
        cmd.args(["create", "--name", "bot", "--db", arg(&db)]);
        let killed = run_and_kill(cmd, None, rng.instant(&limit));
        tally.kills += 1;
        tally.finished_first += usize::from(killed.finished);
        if db.exists() {
            assert_sound(&env, &db, &format!("first use {n}"));
            // The next command adopts whatever is there and works.
            env.run(&["create", "--name", "next", "--db", arg(&db)])
                .ok();
        }
    }
    tally.report("first use");
}

#[test]
fn kills_during_create_and_delete_leave_a_sound_database() {
    let mut rng = Rng(seed() ^ 0x5a5a);
    let env = TestEnv::new();
    env.create("warm-up");
    let create_limit = window(&env, &["create", "--name", "probe"], None);
    let mut tally = Tally::default();
    for n in 0..kills_per_kind() {
        let name = format!("c-{n}");
        let mut cmd = std_command(&env);
        cmd.args(["create", "--name", &name]);
        let killed = run_and_kill(cmd, None, rng.instant(&create_limit));
        tally.kills += 1;
        tally.finished_first += usize::from(killed.finished);
        assert_sound(&env, &env.db_path(), &format!("create {n}"));
    }
    tally.report("create");

    // delete: an account with tokens is either deleted with every token revoked, or
    // untouched with every token live.
    let mut tally = Tally::default();
    let delete_limit = {
        env.create("d-probe");
        window(&env, &["delete", "d-probe", "--yes"], None)
    };
    for n in 0..kills_per_kind() {
        let name = format!("d-{n}");
        env.create(&name);
        let tokens: Vec<String> = (0..2).map(|_| env.add_token(&name, &[])).collect();
        let mut cmd = std_command(&env);
        cmd.args(["delete", &name, "--yes"]);
        let killed = run_and_kill(cmd, None, rng.instant(&delete_limit));
        tally.kills += 1;
        tally.finished_first += usize::from(killed.finished);
        assert_sound(&env, &env.db_path(), &format!("delete {n}"));
        let deleted = env.run(&["show", &name]).code != 0;
        for token in &tokens {
            let verified = env.run_with_stdin(&["token", "verify"], token).code == 0;
            assert_eq!(
                verified, !deleted,
                "delete {n}: deleted={deleted} but a token verified={verified}"
            );
        }
    }
    tally.report("delete");
}

#[test]
fn kills_during_token_add_with_output_file_leave_no_secret_behind() {
    let mut rng = Rng(seed() ^ 0xa5a5);
    let env = TestEnv::new();
    env.create("bot");
    // Revoked as we go, so the account never reaches its token limit.
    let files = env.root().join("tokens");
    std::fs::create_dir_all(&files).expect("mkdir");
    let probe = files.join("probe.token");
    let limit = window(
        &env,
        &["token", "add", "bot", "--output-file", arg(&probe)],
        None,
    );
    let mut tally = Tally::default();
    let mut seen = std::collections::HashSet::new();
    for n in 0..kills_per_kind() {
        // Every other run replaces an existing file (the rotation case), half of those
        // through the named-temp-file path a file system without O_TMPFILE takes.
        let target = files.join(format!("svc-{}.token", n % 4));
        let mut cmd = std_command(&env);
        cmd.args(["token", "add", "bot", "--output-file", arg(&target)]);
        if n % 2 == 1 {
            cmd.env("SA_TOKEN_FILE_NO_TMPFILE", "1");
        }
        let before = std::fs::read_to_string(&target).ok();
        let killed = run_and_kill(cmd, None, rng.instant(&limit));
        tally.kills += 1;
        tally.finished_first += usize::from(killed.finished);
        assert_sound(&env, &env.db_path(), &format!("token add {n}"));
        let after = std::fs::read_to_string(&target).ok();
        if after != before {
            let token = after.as_deref().expect("a token file");
            assert!(
                token.ends_with('\n') && token.starts_with("sa_"),
                "token add {n}: a partial token file: {token:?}"
            );
            assert_verifies(&env, token.trim_end(), &format!("token add {n}"));
            tally.tokens_delivered += 1;
        }
        for temp in temp_files(&files, ".sa-token-") {
            if !seen.insert(temp.clone()) {
                continue;
            }
            // A SIGKILL runs no cleanup: what it leaves must be private, and must go with
            // the next write beside it once a minute old.
            assert_eq!(
                std::fs::metadata(&temp).expect("meta").permissions().mode() & 0o777,
                0o600,
                "{}",
                temp.display()
            );
            tally.temps_left += 1;
            tally.temps_from_unnamed += usize::from(n % 2 == 0);
            tally.temps_with_a_token += usize::from(
                std::fs::read_to_string(&temp).is_ok_and(|text| text.starts_with("sa_")),
            );
            std::fs::File::options()
                .write(true)
                .open(&temp)
                .and_then(|f| f.set_modified(SystemTime::now() - Duration::from_secs(120)))
                .expect("age the temp file");
        }
        env.run(&["token", "revoke", "--account", "bot", "--all", "--yes"])
            .ok();
    }
    env.run(&["token", "add", "bot", "--output-file", arg(&probe)])
        .ok();
    assert!(
        temp_files(&files, ".sa-token-").is_empty(),
        "{:?}",
        temp_files(&files, ".sa-token-")
    );
    tally.report("token add --output-file");
}

#[test]
fn kills_during_token_add_to_stdout_never_print_a_token_that_was_not_stored() {
    let mut rng = Rng(seed() ^ 0x3c3c);
    let env = TestEnv::new();
    env.create("bot");
    let limit = window(&env, &["token", "add", "bot"], None);
    let mut tally = Tally::default();
    for n in 0..kills_per_kind() {
        let mut cmd = std_command(&env);
        cmd.args(["token", "add", "bot"]);
        let killed = run_and_kill(cmd, None, rng.instant(&limit));
        tally.kills += 1;
        tally.finished_first += usize::from(killed.finished);
        assert_sound(&env, &env.db_path(), &format!("token add {n}"));
        if let Some(token) = killed.stdout.strip_suffix('\n') {
            assert_verifies(&env, token, &format!("token add {n}"));
            tally.tokens_delivered += 1;
        }
        env.run(&["token", "revoke", "--account", "bot", "--all", "--yes"])
            .ok();
    }
    tally.report("token add");
}

#[test]
fn kills_during_verify_keep_every_count_consistent() {
    let mut rng = Rng(seed() ^ 0xc3c3);
    let env = TestEnv::new();
    env.create("bot");
    let token = env.add_token("bot", &[]);
    let limit = window(&env, &["token", "verify"], Some(&token));
    let mut tally = Tally::default();
    for n in 0..kills_per_kind() {
        let mut cmd = std_command(&env);
        cmd.args(["token", "verify", "--source", "crash"]);
        let killed = run_and_kill(cmd, Some(&token), rng.instant(&limit));
        tally.kills += 1;
        tally.finished_first += usize::from(killed.finished);
        assert_sound(&env, &env.db_path(), &format!("verify {n}"));
    }
    // Every counted use is in both counters: they are updated in one transaction.
    let mut sql = env.sql();
    let uses = sql.int("SELECT CAST(sum(use_count) AS BIGINT) FROM tokens", &[]);
    let daily = sql.int(
        "SELECT CAST(sum(count) AS BIGINT) FROM token_usage_daily",
        &[],
    );
    assert_eq!(uses, daily);
    assert!(usize::try_from(uses).expect("count") >= tally.finished_first);
    tally.report("verify");
}
