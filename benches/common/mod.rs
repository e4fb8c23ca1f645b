//! What the benches share: a database of N accounts built fast with SQL, and timing `sa` runs.
// Each bench that includes this module uses part of it.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};

pub const SA: &str = env!("CARGO_BIN_EXE_sa");

pub struct Db {
    pub dir: PathBuf,
    pub accounts: usize,
    pub token: String,
    /// A token id of an account in the middle of the table.
    pub token_id: String,
    pub account: String,
    /// Where `sa` finds the database: the file in `dir`, or a PostgreSQL URL (a copy).
    pub store: Option<String>,
}

impl Db {
    /// The same database copied to `url` (`sa db copy --to URL`), which `sa` then uses.
    pub fn copied_to(&self, url: &str) -> Db {
        self.run(&["db", "copy", "--to", url], None);
        Db {
            dir: self.dir.clone(),
            accounts: self.accounts,
            token: self.token.clone(),
            token_id: self.token_id.clone(),
            account: self.account.clone(),
            store: Some(url.to_string()),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join("sa.db")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(SA);
        cmd.args(args)
            .env_clear()
            .env(
                "SA_DB",
                self.store
                    .clone()
                    .map_or_else(|| self.path().into_os_string(), Into::into),
            )
            .env("SA_CONFIG", self.dir.join("config.toml"))
            .env("HOME", &self.dir)
            .env("USER", "bench")
            .env("PATH", std::env::var_os("PATH").unwrap_or_default());
        cmd
    }

    /// Runs `sa ARGS` (stdin `input`), asserts success, returns stdout.
    pub fn run(&self, args: &[&str], input: Option<&str>) -> String {
        let (ok, out, err) = run(self.command(args), input);
        assert!(ok, "sa {args:?} failed: {err}");
        out
    }
}

pub fn run(mut cmd: Command, input: Option<&str>) -> (bool, String, String) {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    if let Some(input) = input {
        stdin.write_all(input.as_bytes()).expect("write stdin");
    }
    drop(stdin);
    let out = child.wait_with_output().expect("wait");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A token id from a counter: 12 base62 digits.
pub fn token_id(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    // Spread the counter over the id space, as random ids are.
    n = n.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5bd1_e995;
    let mut id = [b'0'; 12];
    for slot in id.iter_mut().rev() {
        *slot = DIGITS[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(id.to_vec()).expect("ascii")
}

/// Builds a database of `accounts` accounts with `tokens_each` tokens each, one `account.create`
/// event per account, and `adders` accounts without tokens for `token add` runs.
pub fn build(dir: &Path, accounts: usize, tokens_each: usize, adders: usize) -> Db {
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::write(dir.join("config.toml"), "").expect("config");
    let mut db = Db {
        dir: dir.to_path_buf(),
        accounts,
        token: String::new(),
        token_id: String::new(),
        account: String::new(),
        store: None,
    };
    db.run(
        &["create", "--name", "bench-real", "--role", "editor"],
        None,
    );
    db.token = db
        .run(&["token", "add", "bench-real"], None)
        .trim()
        .to_string();
    let mut conn = Connection::open(db.path()).expect("open");
    let hash: String = conn
        .query_row("SELECT hash FROM tokens", [], |r| r.get(0))
        .expect("the real hash");
    let at = "2026-11-01T00:00:00Z";
    let expires = "2027-06-01T00:00:00Z";
    let tx = conn.transaction().expect("tx");
    {
        let mut account = tx
            .prepare(
                "INSERT INTO accounts (id, org, name, description, email, status, created_at, created_by, updated_at)
                 VALUES (?1, 'default', ?2, ?3, ?4, 'active', ?5, 'bench', ?5)",
            )
            .expect("prepare");
        let mut email = tx
            .prepare(
                "INSERT INTO account_emails (org, email, account_id) VALUES ('default', ?1, ?2)",
            )
            .expect("prepare");
        let mut role = tx
            .prepare("INSERT INTO account_roles (account_id, role) VALUES (?1, 'viewer')")
            .expect("prepare");
        let mut token = tx
            .prepare(
                "INSERT INTO tokens (id, account_id, name, hash, status, created_at, created_by, expires_at)
                 VALUES (?1, ?2, ?3, ?4, 'active', ?5, 'bench', ?6)",
            )
            .expect("prepare");
        let mut event = tx
            .prepare(
                "INSERT INTO audit_events (id, at, actor, action, org, target, account_id, prev_hash, hash)
                 VALUES (?1, ?2, 'bench', ?3, 'default', ?4, ?5, ?6, ?7)",
            )
            .expect("prepare");
        // The chain goes on from the events the real commands above wrote.
        let (mut event_id, mut chain_head): (i64, String) = tx
            .query_row(
                "SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("the chain head");
        let at_time = chrono::DateTime::parse_from_rfc3339(at)
            .expect("a time")
            .with_timezone(&chrono::Utc);
        let mut detail = tx
            .prepare(
                "INSERT INTO audit_details (event_id, position, key, value) VALUES (?1, ?2, ?3, ?4)",
            )
            .expect("prepare");
        let mut counter = 0u64;
        let total = accounts + adders;
        for i in 0..total {
            let id = i64::try_from(i + 2).expect("id");
            let name = if i < accounts {
                format!("acct-{i:06}")
            } else {
                format!("adder-{:04}", i - accounts)
            };
            let mail = format!("{name}@default.sa.local");
            account
                .execute(params![id, name, "made by benches/scale.rs", mail, at])
                .expect("account");
            email.execute(params![mail, id]).expect("email");
            role.execute(params![id]).expect("role");
            let mut chained = |action: &str, details: Vec<(String, String)>| {
                event_id += 1;
                let stored = sa::store::AuditEvent {
                    id: event_id,
                    at: at_time,
                    actor: "bench".into(),
                    action: action.into(),
                    org: "default".into(),
                    target: name.clone(),
                    account_id: Some(id),
                    details,
                };
                let link = sa::store::event_hash(&chain_head, &stored);
                event
                    .execute(params![event_id, at, action, name, id, chain_head, link])
                    .expect("event");
                for (position, (key, value)) in stored.details.iter().enumerate() {
                    detail
                        .execute(params![event_id, position as i64, key, value])
                        .expect("detail");
                }
                chain_head = link;
            };
            chained(
                "account.create",
                vec![
                    ("id".into(), id.to_string()),
                    ("email".into(), mail.clone()),
                ],
            );
            if i >= accounts {
                continue;
            }
            for t in 0..tokens_each {
                let tid = token_id(counter);
                counter += 1;
                token
                    .execute(params![tid, id, format!("deploy-{t}"), hash, at, expires])
                    .expect("token");
                chained(
                    "token.add",
                    vec![
                        ("token_id".into(), tid.clone()),
                        ("expires_at".into(), expires.to_string()),
                    ],
                );
                if i == accounts / 2 && t == tokens_each / 2 {
                    db.token_id = tid;
                    db.account = name.clone();
                }
            }
        }
    }
    tx.commit().expect("commit");
    drop(conn);
    // As a long-used database would be: checkpointed, with the planner's statistics.
    let conn = Connection::open(db.path()).expect("open");
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .expect("checkpoint");
    db
}

pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

pub fn time_once(db: &Db, args: &[&str], input: Option<&str>) -> Duration {
    time_as(db, args, input, None)
}

/// One run, under `$SA_TOKEN` when `token` is given.
pub fn time_as(db: &Db, args: &[&str], input: Option<&str>, token: Option<&str>) -> Duration {
    let mut cmd = db.command(args);
    if let Some(token) = token {
        cmd.env("SA_TOKEN", token);
    }
    let started = Instant::now();
    let (ok, _, err) = run(cmd, input);
    let took = started.elapsed();
    assert!(ok, "sa {args:?} failed: {err}");
    took
}

pub fn argon2_once(hash: &str, secret: &str) -> Duration {
    use argon2::password_hash::PasswordVerifier;
    let parsed = argon2::password_hash::phc::PasswordHash::new(hash).expect("phc");
    let started = Instant::now();
    argon2::Argon2::default()
        .verify_password(secret.as_bytes(), &parsed)
        .expect("verifies");
    started.elapsed()
}
