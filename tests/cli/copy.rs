//! `sa db copy`: a store with every kind of row, copied to the other store and back. On the
//! PostgreSQL run (`$SA_TEST_PG`) that is PostgreSQL → SQLite → PostgreSQL → SQLite; on the
//! SQLite run, file to file. After each copy: `sa export` is what it was, every chain
//! verifies, `sa db check` passes, ids and counters are kept, and every live token verifies
//! (and every revoked one is still rejected).

use std::path::Path;

use serde_json::Value;

use crate::support::{TestEnv, arg, postgres_server};
use crate::tokens::token_id;

/// A store holding a row of every table: accounts active, disabled and deleted in two
/// organizations, a custom role granted, tokens active, scoped, paused, revoked, rotated
/// in grace, used (counters per day), pruned audit events behind a checkpoint, and the
/// recorded argon2 cost.
fn every_kind_of_row(env: &TestEnv) -> (Vec<(&'static str, String)>, Vec<String>) {
    env.create("ci-bot");
    env.run(&[
        "create",
        "--name",
        "nightly-bot",
        "--description",
        "nightly jobs",
    ])
    .ok();
    env.run(&["create", "--name", "old-bot"]).ok();
    env.run(&["--org", "acme", "create", "--name", "far-bot"])
        .ok();
    env.run(&[
        "role",
        "create",
        "deployer",
        "--permission",
        "deploys:write",
        "--description",
        "CI deploys",
    ])
    .ok();
    env.run(&["role", "grant", "deployer", "ci-bot"]).ok();
    let used = env.add_token("ci-bot", &["--scope", "deploys:write", "--name", "deploy"]);
    let paused = env.add_token("nightly-bot", &["--expires", "30d"]);
    let revoked = env.add_token("nightly-bot", &[]);
    let rotated = env.add_token("ci-bot", &[]);
    let far = env.add_token("far-bot", &["--org", "acme"]);
    for (org, token) in [
        ("default", &used),
        ("default", &used),
        ("default", &rotated),
        ("acme", &far),
    ] {
        env.run_with_stdin(
            &["--org", org, "token", "verify", "-q"],
            &format!("{token}\n"),
        )
        .ok();
    }
    env.run(&["token", "disable", token_id(&paused)]).ok();
    env.run(&["token", "revoke", token_id(&revoked), "--yes"])
        .ok();
    let successor = env
        .run(&["token", "rotate", token_id(&rotated), "--grace", "1h"])
        .ok()
        .stdout
        .trim_end()
        .to_string();
    env.run(&[
        "disable",
        "nightly-bot",
        "--reason",
        "paused for the copy test",
    ])
    .ok();
    env.run(&["delete", "old-bot", "--yes"]).ok();
    // Prune the oldest events: the chain then starts at a checkpoint.
    env.run(&["audit", "prune", "--before", "2999-01-01", "--yes"])
        .ok();
    env.run(&["create", "--name", "late-bot"]).ok();
    let live = vec![
        ("default", used),
        ("default", rotated),
        ("default", successor),
        ("acme", far),
    ];
    let dead = vec![revoked];
    let _ = paused;
    (live, dead)
}

/// What a copy must keep, read through `sa` from `db`.
fn snapshot(env: &TestEnv, db: &Path) -> Value {
    let db = arg(db);
    let json = |args: &[&str]| -> Value {
        let mut all = vec!["--db", db];
        all.extend_from_slice(args);
        env.json(&all)
    };
    let export = env.run(&["--db", db, "export", "--all-orgs"]).ok().stdout;
    serde_json::json!({
        "export": export,
        "accounts": json(&["list"]),
        "deleted": json(&["list", "--status", "deleted"]),
        "acme": json(&["--org", "acme", "list"]),
        "tokens": json(&["token", "list", "--status", "all"]),
        "acme_tokens": json(&["--org", "acme", "token", "list", "--status", "all"]),
        "roles": json(&["role", "list"]),
        "orgs": json(&["org", "list"]),
    })
}

/// Everything a copy at `db` must pass; `before` is what the source held.
fn assert_whole(env: &TestEnv, db: &Path, before: &Value) {
    let shown = arg(db);
    assert_eq!(&snapshot(env, db), before, "the copy at {shown} differs");
    for org in ["default", "acme"] {
        env.run(&["--db", shown, "--org", org, "audit", "verify"])
            .ok();
    }
    env.run(&["--db", shown, "db", "check"]).ok();
    let copied = env.json(&["--db", shown, "audit", "--action", "db.copy"]);
    assert!(
        !copied.as_array().expect("events").is_empty(),
        "the copy is recorded"
    );
}

#[test]
fn a_copy_round_trips_every_kind_of_row_and_every_token_verifies() {
    let env = TestEnv::new();
    let (live, dead) = every_kind_of_row(&env);
    // The newest account removed behind sa's back: its id stays handed out (the store's
    // high-water mark, not the largest id left), and no copy may hand it out again.
    let removed = env
        .sql()
        .execute("DELETE FROM accounts WHERE name = 'late-bot'", &[]);
    assert_eq!(removed, 1);
    let source = env.db_path();
    let before = snapshot(&env, &source);

    // Into a new file, which may not exist yet.
    let file = env.root().join("copy.db");
    let run = env.run(&["db", "copy", "--to", arg(&file)]).ok();
    assert!(run.stderr.contains("copied"), "{run}");
    let chain = vec![file.clone()];
    let mut chain = chain;
    // On the PostgreSQL run: back into a fresh PostgreSQL database too, then a file again.
    let extra = postgres_server().map(|_| env.another_postgres_database());
    if let Some(url) = &extra {
        env.run(&["--db", arg(&file), "db", "copy", "--to", url])
            .ok();
        let again = env.root().join("again.db");
        env.run(&["--db", url, "db", "copy", "--to", arg(&again)])
            .ok();
        chain.push(url.into());
        chain.push(again);
    }
    for db in &chain {
        assert_whole(&env, db, &before);
    }
    for db in &chain {
        for (org, token) in &live {
            env.run_with_stdin(
                &["--db", arg(db), "--org", org, "token", "verify", "-q"],
                &format!("{token}\n"),
            )
            .ok();
        }
        for token in &dead {
            env.run_with_stdin(
                &["--db", arg(db), "token", "verify", "-q"],
                &format!("{token}\n"),
            )
            .code(1);
        }
    }
    // The source was only read.
    assert_eq!(snapshot(&env, &source), before);
    // Every copy hands out ids after the source's high-water mark: late-bot was id 5.
    for db in &chain {
        let account = env.json(&["--db", arg(db), "create", "--name", "after-copy"]);
        assert_eq!(account["id"], 6, "{}: {account}", arg(db));
    }
}

#[test]
fn a_copy_never_lands_on_a_database_that_holds_anything() {
    let env = TestEnv::new();
    env.create("ci-bot");
    let file = env.root().join("copy.db");
    env.run(&["db", "copy", "--to", arg(&file)]).ok();
    // An existing file is never replaced...
    env.run(&["db", "copy", "--to", arg(&file)])
        .code(1)
        .error_contains("never replaces");
    // ...nor is the database copied onto itself...
    env.run(&["db", "copy", "--to", arg(&env.db_path())])
        .code(1)
        .error_contains("being copied");
    // ...and a PostgreSQL target must be empty.
    if postgres_server().is_some() {
        let url = env.another_postgres_database();
        env.run(&["--db", &url, "create", "--name", "already-here"])
            .ok();
        env.run(&["db", "copy", "--to", &url])
            .code(1)
            .error_contains("not empty");
        let listed = env.json(&["--db", &url, "list"]);
        assert_eq!(
            listed.as_array().map(Vec::len),
            Some(1),
            "nothing was copied"
        );
    }
}
