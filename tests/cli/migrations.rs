//! Upgrading databases written by older versions of sa: every older schema version is built
//! here from its own released migration files, filled as that version would have filled it,
//! and opened by this sa.

use rusqlite::{Connection, params};

use crate::support::TestEnv;

const V1: &str = include_str!("../../src/store/migrations/0001_init.sql");
const APPLICATION_ID: i32 = 0x7361_0001;

/// A schema-version-1 database as sa 0.1 left it, including its email bug: `alpha` (id 1)
/// was renamed to `alpha2` and a new `alpha` (id 2) got the same email; `beta` (id 3) was
/// purged, so only its `account.create` event remembers its email.
pub(crate) fn version_1_database(env: &TestEnv) {
    std::fs::create_dir_all(env.db_path().parent().expect("a parent")).expect("mkdir");
    let conn = Connection::open(env.db_path()).expect("open");
    let _: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .expect("wal");
    conn.execute_batch(V1).expect("schema 1");
    conn.pragma_update(None, "application_id", APPLICATION_ID)
        .expect("application id");
    conn.pragma_update(None, "user_version", 1)
        .expect("version");
    let at = "2026-11-01T00:00:00Z";
    conn.execute("INSERT INTO orgs VALUES ('default', ?1)", [at])
        .expect("org");
    conn.execute("INSERT INTO orgs VALUES ('acme', ?1)", [at])
        .expect("org");
    // (id, org, name, email): the accounts as sa 0.1 left them.
    let accounts = [
        (1, "default", "alpha2", "alpha@default.sa.local"),
        (2, "default", "alpha", "alpha@default.sa.local"),
        (4, "default", "gamma", "gamma@default.sa.local"),
        // `delta` was renamed, a new `delta` took its email; `delta-2@` belonged to the
        // purged account 5, so the new one must skip it.
        (6, "default", "delta-old", "delta@default.sa.local"),
        (8, "default", "delta", "delta@default.sa.local"),
        // In acme, `svc-2` is a real account with its own natural email, created after
        // the account that shares `svc@`: it keeps it, and the sharer gets `svc-3@`.
        (9, "acme", "svc-old", "svc@acme.sa.local"),
        (10, "acme", "svc", "svc@acme.sa.local"),
        (11, "acme", "svc-2", "svc-2@acme.sa.local"),
    ];
    for (id, org, name, email) in accounts {
        conn.execute(
            "INSERT INTO accounts (id, org, name, email, status, created_at, created_by, updated_at)
             VALUES (?1, ?2, ?3, ?4, 'active', ?5, 'old-sa', ?5)",
            params![id, org, name, email, at],
        )
        .expect("account");
    }
    // (account, org, name at creation, email) of every account.create event, in order;
    // accounts 3 (`beta`) and 5 were purged since.
    let created = [
        (1, "default", "alpha", "alpha@default.sa.local"),
        (3, "default", "beta", "beta@default.sa.local"),
        (2, "default", "alpha", "alpha@default.sa.local"),
        (4, "default", "gamma", "gamma@default.sa.local"),
        (5, "default", "delta-2", "delta-2@default.sa.local"),
        (6, "default", "delta", "delta@default.sa.local"),
        (8, "default", "delta", "delta@default.sa.local"),
        (9, "acme", "svc", "svc@acme.sa.local"),
        (10, "acme", "svc", "svc@acme.sa.local"),
        (11, "acme", "svc-2", "svc-2@acme.sa.local"),
    ];
    for (event, (account, org, target, email)) in (1..).zip(created) {
        conn.execute(
            "INSERT INTO audit_events (id, at, actor, action, org, target, account_id)
             VALUES (?1, ?2, 'old-sa', 'account.create', ?3, ?4, ?5)",
            params![event, at, org, target, account],
        )
        .expect("event");
        conn.execute(
            "INSERT INTO audit_details (event_id, position, key, value) VALUES (?1, 0, 'email', ?2)",
            params![event, email],
        )
        .expect("details");
    }
}

#[test]
fn version_1_upgrades_and_an_email_shared_by_two_accounts_is_made_unique() {
    crate::sqlite_only!();
    let env = TestEnv::new();
    version_1_database(&env);
    let accounts = env.json(&["list"]);
    let email_of = |name: &str| {
        accounts
            .as_array()
            .expect("array")
            .iter()
            .find(|a| a["name"] == name)
            .map(|a| a["email"].as_str().expect("email").to_string())
            .expect("listed")
    };
    assert_eq!(
        email_of("alpha2"),
        "alpha@default.sa.local",
        "the first holder keeps it"
    );
    assert_eq!(email_of("alpha"), "alpha-2@default.sa.local");
    assert_eq!(email_of("gamma"), "gamma@default.sa.local");
    assert_eq!(email_of("delta-old"), "delta@default.sa.local");
    assert_eq!(
        email_of("delta"),
        "delta-3@default.sa.local",
        "delta-2@ is the purged account 5's"
    );
    let acme = env.json(&["list", "--org", "acme"]);
    let acme_email = |name: &str| {
        acme.as_array()
            .expect("array")
            .iter()
            .find(|a| a["name"] == name)
            .map(|a| a["email"].as_str().expect("email").to_string())
            .expect("listed")
    };
    assert_eq!(acme_email("svc-old"), "svc@acme.sa.local");
    assert_eq!(acme_email("svc"), "svc-3@acme.sa.local");
    assert_eq!(
        acme_email("svc-2"),
        "svc-2@acme.sa.local",
        "never re-emailed"
    );
    let events = env.json(&["audit", "--action", "account.update"]);
    assert_eq!(
        events.as_array().map(Vec::len),
        Some(2),
        "alpha and delta: {events}"
    );
    let event = &events.as_array().expect("array")[0];
    assert_eq!(event["actor"], "sa:migration");
    assert_eq!(event["target"], "alpha");
    assert_eq!(event["details"]["old_email"], "alpha@default.sa.local");
    assert_eq!(event["details"]["new_email"], "alpha-2@default.sa.local");
    // The purged beta's email stays reserved.
    let beta = env.create("beta");
    assert_eq!(beta["email"], "beta-2@default.sa.local");
    let conn = Connection::open(env.db_path()).expect("open");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(version, sa::store::SCHEMA_VERSION);
    let duplicate = conn.execute(
        "UPDATE accounts SET email = 'alpha@default.sa.local' WHERE name = 'gamma'",
        [],
    );
    assert!(duplicate.is_err(), "a unique index guards emails");
}

#[test]
fn a_renamed_or_purged_accounts_email_is_never_given_out_again() {
    let env = TestEnv::new();
    env.create("alpha");
    env.run(&["update", "alpha", "--name", "alpha2"]).ok();
    let second = env.create("alpha");
    assert_eq!(second["email"], "alpha-2@default.sa.local");
    env.run(&["delete", "alpha", "--purge", "--yes"]).ok();
    let third = env.create("alpha");
    assert_eq!(third["email"], "alpha-3@default.sa.local");
    // Another organization has its own emails.
    let elsewhere = env.json(&["create", "--name", "alpha", "--org", "acme"]);
    assert_eq!(elsewhere["email"], "alpha@acme.sa.local");
}

#[test]
fn the_account_count_of_an_upgraded_database_holds_the_account_limit() {
    crate::sqlite_only!();
    // Schema 3 counts accounts per organization in `orgs`: filled in by the upgrade, kept
    // up by creates and purges.
    let env = TestEnv::new();
    version_1_database(&env);
    env.write_config("[limits]\nmax_accounts = 6\n");
    env.create("epsilon"); // the sixth in `default`
    env.run(&["create", "--name", "zeta"])
        .code(1)
        .error_contains("limits.max_accounts");
    env.run(&["delete", "epsilon", "--purge", "--yes"]).ok();
    env.create("zeta");
    // In acme, three of six.
    for name in ["one", "two", "three"] {
        env.json(&["create", "--name", name, "--org", "acme"]);
    }
    env.run(&["create", "--name", "four", "--org", "acme"])
        .code(1)
        .error_contains("limits.max_accounts");
}

#[test]
fn an_upgraded_database_gets_a_verifiable_hash_chain() {
    crate::sqlite_only!();
    let env = TestEnv::new();
    version_1_database(&env);
    let default = env.run(&["audit", "verify", "--json"]).ok().json();
    // Seven creates of sa 0.1 and the two re-emails of the upgrade.
    assert_eq!(default["events_checked"], 9, "{default}");
    let acme = env
        .run(&["--org", "acme", "audit", "verify", "--json"])
        .ok()
        .json();
    assert_eq!(acme["events_checked"], 4, "{acme}");
    env.create("after-upgrade");
    assert_eq!(
        env.run(&["audit", "verify", "--json"]).ok().json()["events_checked"],
        10
    );
}
