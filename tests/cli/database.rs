//! `sa db check` and `sa db backup`.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::support::{TestEnv, arg, file_mode, on_postgres, sidecar};

fn sidecars(path: &Path) -> Vec<String> {
    ["-wal", "-shm", "-journal"]
        .iter()
        .filter(|suffix| sidecar(path, suffix).exists())
        .map(|s| s.to_string())
        .collect()
}

#[test]
fn check_passes_a_sound_database() {
    let env = TestEnv::new();
    env.create("ci-bot");
    env.add_token("ci-bot", &[]);
    let report = env.json(&["db", "check"]);
    assert_eq!(report["ok"], true, "{report}");
    let version = if on_postgres() {
        sa::store::POSTGRES_SCHEMA_VERSION
    } else {
        sa::store::SCHEMA_VERSION
    };
    assert_eq!(report["schema_version"], version);
    let names: Vec<_> = report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        ["file", "integrity", "foreign keys", "tokens", "audit chain"]
    );
    let table = env.run(&["db", "check"]).ok();
    assert!(
        table.stdout.contains("1 tokens, each with an account"),
        "{table}"
    );
}

#[test]
fn check_reports_a_token_without_an_account_and_a_hash_that_is_not_argon2id() {
    let env = TestEnv::new();
    env.create("ci-bot");
    let token = env.add_token("ci-bot", &[]);
    let mut sql = env.sql();
    sql.execute("UPDATE tokens SET hash = 'plain-md5'", &[]);
    env.add_token("ci-bot", &[]);
    sql.execute(
        "UPDATE tokens SET expires_at = '2000-01-01T00:00:00Z' WHERE hash != 'plain-md5'",
        &[],
    );
    sql.tamper(
        "INSERT INTO tokens (id, account_id, hash, status, created_at, created_by)
         VALUES ('AAAAAAAAAAAA', 99, '$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA', 'active', '2026-01-01T00:00:00Z', 't')",
    );
    drop(sql);
    let run = env.run(&["db", "check", "--json"]).code(1);
    let report = run.json();
    assert_eq!(report["ok"], false);
    let problems = report["checks"].to_string();
    assert!(problems.contains("belongs to account 99"), "{problems}");
    assert!(
        problems.contains(&format!(
            "token `{}` has no argon2id PHC hash",
            &token[3..15]
        )),
        "{problems}"
    );
    assert!(
        problems.contains("expires before it was created"),
        "{problems}"
    );
    assert!(run.stderr.contains("failed the check"), "{run}");
}

#[test]
fn check_describes_a_truncated_database_without_touching_it() {
    crate::sqlite_only!();
    let env = TestEnv::new();
    for i in 0..30 {
        env.create(&format!("bot-{i}"));
    }
    let bytes = std::fs::read(env.db_path()).expect("read");
    std::fs::write(env.db_path(), &bytes[..bytes.len() - 5000]).expect("truncate");
    let before = std::fs::read(env.db_path()).expect("read");
    let run = env.run(&["db", "check"]).code(1);
    assert!(run.stdout.contains("cut short"), "{run}");
    assert!(std::fs::read(env.db_path()).expect("read") == before);
    assert!(
        sidecars(&env.db_path()).is_empty(),
        "{:?}",
        sidecars(&env.db_path())
    );
}

#[test]
fn check_and_backup_of_a_missing_database_create_nothing() {
    let env = TestEnv::new();
    env.run(&["db", "check"])
        .code(3)
        .error_contains("no sa database");
    env.run(&["db", "backup", "copy.db"])
        .code(3)
        .error_contains("no sa database");
    assert!(!env.database_exists());
    assert!(!env.root().join("copy.db").exists());
}

#[test]
fn backup_writes_a_new_private_file_that_passes_check() {
    crate::sqlite_only!();
    let env = TestEnv::new();
    env.create("ci-bot");
    let token = env.add_token("ci-bot", &[]);
    let copy = env.root().join("backups/sa-copy.db");
    std::fs::create_dir_all(copy.parent().expect("a parent")).expect("mkdir");
    let run = env.run(&["db", "backup", arg(&copy)]).ok();
    assert!(run.stderr.contains("backed up"), "{run}");
    assert_eq!(file_mode(&copy), 0o600);
    let leftovers: Vec<_> = std::fs::read_dir(copy.parent().expect("a parent"))
        .expect("read dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(leftovers, ["sa-copy.db"]);
    env.run(&["db", "check", "--db", arg(&copy)]).ok();
    // The copy is a working database: the token verifies against it.
    env.run_with_stdin(&["token", "verify", "--db", arg(&copy)], &token)
        .ok();
}

#[test]
fn backup_never_replaces_a_file_nor_lands_on_the_databases_files() {
    crate::sqlite_only!();
    let env = TestEnv::new();
    env.create("ci-bot");
    let existing = env.root().join("old.db");
    std::fs::write(&existing, "precious").expect("write");
    env.run(&["db", "backup", arg(&existing)])
        .code(1)
        .error_contains("never replaces");
    assert_eq!(std::fs::read(&existing).expect("read"), b"precious");
    env.run(&["db", "backup", arg(&env.db_path())])
        .code(1)
        .error_contains("never replaces");
    for suffix in ["-wal", "-journal"] {
        let mut side = env.db_path().into_os_string();
        side.push(suffix);
        let side = std::path::PathBuf::from(side);
        env.run(&["db", "backup", arg(&side)])
            .code(1)
            .error_contains("sa never writes over it");
        assert!(!side.exists());
    }
    env.run(&["list"]).ok();
}

#[test]
fn backup_taken_while_four_processes_write_holds_everything_committed_before_it() {
    crate::sqlite_only!();
    let env = Arc::new(TestEnv::new());
    env.create("first");
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (env, stop) = (Arc::clone(&env), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    env.run(&["create", "--name", &format!("w{w}-{n}")]).ok();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let listed = |db: Option<&Path>| -> Vec<String> {
        let mut args = vec!["list"];
        if let Some(db) = db {
            args.extend(["--db", arg(db)]);
        }
        let mut names: Vec<String> = env
            .json(&args)
            .as_array()
            .expect("array")
            .iter()
            .map(|a| a["name"].as_str().expect("name").to_string())
            .collect();
        names.sort();
        names
    };
    while listed(None).len() < 12 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let committed_before = listed(None);
    let copy = env.root().join("copy.db");
    env.run(&["db", "backup", arg(&copy)]).ok();
    stop.store(true, Ordering::SeqCst);
    let written: usize = writers.into_iter().map(|w| w.join().expect("writer")).sum();
    env.run(&["db", "check", "--db", arg(&copy)]).ok();
    let in_copy = listed(Some(&copy));
    for name in &committed_before {
        assert!(in_copy.contains(name), "{name} is missing from the backup");
    }
    assert!(written > 0, "the writers wrote while the backup ran");
}

#[test]
fn check_leaves_nothing_beside_a_sound_database() {
    let env = TestEnv::new();
    env.create("ci-bot");
    assert!(sidecars(&env.db_path()).is_empty());
    env.run(&["db", "check"]).ok();
    assert!(
        sidecars(&env.db_path()).is_empty(),
        "{:?}",
        sidecars(&env.db_path())
    );
}

#[test]
fn backup_of_a_database_with_a_damaged_page_fails_and_leaves_no_copy() {
    crate::sqlite_only!();
    let env = TestEnv::new();
    for i in 0..40 {
        env.create(&format!("bot-{i}"));
    }
    let mut bytes = std::fs::read(env.db_path()).expect("read");
    let page = 4096;
    assert!(bytes.len() > 6 * page);
    bytes[4 * page..5 * page].fill(0);
    std::fs::write(env.db_path(), &bytes).expect("damage a page");
    let copy = env.root().join("copy.db");
    env.run(&["db", "backup", arg(&copy)])
        .code(3)
        .error_contains("quick check");
    assert!(!copy.exists());
    let leftovers: Vec<_> = std::fs::read_dir(env.root())
        .expect("read dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with(".sa-backup-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn backup_copies_an_older_schema_as_it_is() {
    crate::sqlite_only!();
    // "Back up before upgrading" must leave a copy of the old version: backup does not
    // migrate the database it copies.
    let env = TestEnv::new();
    crate::migrations::version_1_database(&env);
    let copy = env.root().join("v1-copy.db");
    env.run(&["db", "backup", arg(&copy)]).ok();
    let version = |db: &Path| -> i64 {
        rusqlite::Connection::open(db)
            .expect("open")
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version")
    };
    assert_eq!(
        version(&env.db_path()),
        1,
        "the live database was not upgraded"
    );
    assert_eq!(version(&copy), 1);
}

#[test]
fn check_walks_every_organizations_audit_chain() {
    let env = TestEnv::new();
    env.create("ci-bot");
    env.json(&["--org", "acme", "create", "--name", "far-bot"]);
    let report = env.json(&["db", "check"]);
    let chain = &report["checks"][4];
    assert_eq!(chain["name"], "audit chain");
    assert_eq!(
        chain["summary"],
        "2 events of 2 organization(s), each linked to the one before"
    );
    env.sql().execute(
        "UPDATE audit_events SET actor = 'mallory' WHERE org = 'acme'",
        &[],
    );
    let run = env.run(&["db", "check", "--json"]).code(1);
    let report = run.json();
    assert_eq!(report["ok"], false);
    let problems = report["checks"][4]["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{report}");
    assert!(
        problems[0]
            .as_str()
            .unwrap()
            .starts_with("organization `acme`, event 2:"),
        "{report}"
    );
}
