//! The database file (SPEC §1): where it is, how it is created, and that a file which is not
//! an sa database of this version is refused with exit 3 and left byte-for-byte untouched.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;

use crate::support::{BASE_CONFIG, TestEnv, file_mode as mode, sidecar};

/// `env.command()` as a `std::process::Command`, which (unlike assert_cmd's) can `spawn`.
pub(crate) fn std_command(env: &TestEnv) -> std::process::Command {
    let template = env.command();
    let mut cmd = std::process::Command::new(template.get_program());
    cmd.args(template.get_args());
    for (key, value) in template.get_envs() {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    if let Some(dir) = template.get_current_dir() {
        cmd.current_dir(dir);
    }
    cmd
}

/// A config whose top-level `db_path` comes before the tables of the base config.
fn write_config_with_db_path(env: &TestEnv, db_path: &str) {
    std::fs::write(
        env.config_path(),
        format!("db_path = \"{db_path}\"\n{BASE_CONFIG}"),
    )
    .expect("write config");
}

/// Writes `bytes` as the database file and returns them, for comparing afterwards.
fn plant_db(env: &TestEnv, bytes: &[u8]) -> Vec<u8> {
    let path = env.db_path();
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("data dir");
    std::fs::write(&path, bytes).expect("write db");
    bytes.to_vec()
}

/// Sets the database's `user_version` and takes it out of WAL mode, so that the whole
/// database is in the main file and nothing is pending.
fn set_schema_version_in_the_main_file(env: &TestEnv, version: i64) {
    let conn = rusqlite::Connection::open(env.db_path()).expect("open");
    conn.pragma_update(None, "user_version", version)
        .expect("user_version");
    let _: String = conn
        .query_row("PRAGMA journal_mode=DELETE", [], |r| r.get(0))
        .expect("journal_mode");
}

/// Asserts that both a reading and a writing command refuse the database with exit 3 and
/// `text` in the message, and that the file is unchanged.
#[track_caller]
fn assert_refused_untouched(env: &TestEnv, before: &[u8], text: &str) {
    for args in [&["list"][..], &["create", "--name", "ci-bot"]] {
        let run = env.run(args).code(3).error_contains(text);
        assert!(run.stdout.is_empty(), "{run}");
    }
    // `assert!`, not `assert_eq!`: a failure should not print every byte of the file.
    assert!(
        std::fs::read(env.db_path()).expect("read db") == before,
        "the file was modified"
    );
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut side = env.db_path().into_os_string();
        side.push(suffix);
        assert!(!Path::new(&side).exists(), "{suffix} file was created");
    }
}

#[test]
fn database_is_created_on_first_use_with_private_modes() {
    crate::sqlite_only!();
    let env = TestEnv::new();
    assert!(!env.db_path().exists());
    env.create("ci-bot");
    assert!(env.db_path().exists());
    assert_eq!(mode(&env.db_path()), 0o600);
    assert_eq!(mode(env.db_path().parent().expect("a parent")), 0o700);
}

#[test]
fn creating_a_database_is_said_once_on_stderr() {
    let env = TestEnv::new();
    let first = env.run(&["create", "--name", "ci-bot"]).ok();
    let note = format!("created a new sa database at `{}`", env.db_path().display());
    assert!(first.stderr.contains(&note), "{first}");
    let second = env.run(&["list", "--json"]).ok();
    assert!(!second.stderr.contains("created"), "{second}");
    // A mistyped --db: a command that needs data already there (any but `create`, `role
    // create` and `init`) is exit 3 and creates nothing, writes included.
    let typo = env.root().join("typo.db");
    let typo_arg = typo.to_str().expect("utf-8");
    for args in [
        &["update", "ci-bot", "--description", "x"][..],
        &["token", "prune", "--older-than", "1d", "--yes"][..],
        &["token", "add", "ci-bot"][..],
        &["role", "grant", "viewer", "ci-bot"][..],
        &["audit", "prune", "--before", "2020-01-01", "--yes"][..],
    ] {
        let mut all = args.to_vec();
        all.extend(["--db", typo_arg]);
        let failed = env.run(&all).code(3);
        assert!(
            failed.stderr.contains("there is no sa database"),
            "{failed}"
        );
        assert!(!typo.exists(), "{args:?} created it");
    }
    // The note gives a mistyped --db away when a create makes it.
    let made = env
        .run(&["create", "--name", "x-bot", "--db", typo_arg])
        .ok();
    assert!(
        made.stderr
            .contains(&format!("created a new sa database at `{typo_arg}`")),
        "{made}"
    );
}

#[test]
fn sa_init_creates_the_database_and_says_so_once() {
    crate::sqlite_only!();
    let env = TestEnv::new();
    let first = env.run(&["init"]).ok();
    assert!(
        first.stderr.contains("created a new sa database"),
        "{first}"
    );
    assert_eq!(mode(&env.db_path()), 0o600);
    let again = env.run(&["init"]).ok();
    assert!(again.stderr.contains("already an sa database"), "{again}");
    assert_eq!(env.json(&["list"]), serde_json::json!([]));
}

#[test]
fn database_uses_the_wal_journal() {
    crate::sqlite_only!();
    let env = TestEnv::new();
    env.create("ci-bot");
    let conn = rusqlite::Connection::open(env.db_path()).expect("open");
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("journal_mode");
    assert_eq!(mode, "wal");
}

#[test]
fn a_read_only_command_on_a_missing_database_is_exit_3_and_creates_nothing() {
    crate::sqlite_only!();
    // `SA_DB=typo sa token list --expiring-within 14d --exit-code` must not report all clear.
    let env = TestEnv::new();
    let reads: &[&[&str]] = &[
        &["list"],
        &["show", "ci-bot"],
        &["token", "list", "--expiring-within", "14d", "--exit-code"],
        &["token", "show", "AAAAAAAAAAAA"],
        &["audit"],
        &["audit", "verify"],
        &["usage"],
        &["usage", "--exit-code"],
        &["org", "list"],
        &["role", "list"],
        &["can", "ci-bot", "x:read"],
        &["token", "prune", "--older-than", "1d", "--dry-run"],
    ];
    for args in reads {
        let run = env.run(args).code(3);
        assert!(
            run.stderr.contains("there is no sa database at"),
            "{args:?}: {run}"
        );
        assert!(run.stderr.contains("hint:"), "{args:?}: {run}");
        assert!(!env.db_path().exists(), "{args:?} created the database");
        assert!(
            !env.db_path().parent().unwrap().exists(),
            "{args:?} created its directory"
        );
    }
    // A well-formed token, minted elsewhere: checking it needs the database.
    let elsewhere = TestEnv::new();
    elsewhere.create("ci-bot");
    let token = elsewhere.add_token("ci-bot", &[]);
    env.run_with_stdin(&["token", "verify"], &format!("{token}\n"))
        .code(3);
    assert!(!env.db_path().exists());
    // `config` still works, to diagnose the path.
    env.run(&["config", "path"]).ok();
    // A write creates it.
    env.create("ci-bot");
    assert_eq!(mode(&env.db_path()), 0o600);
}

#[test]
fn a_png_file_is_refused_untouched() {
    crate::sqlite_only!();
    let env = TestEnv::new();
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.extend((0..200u8).map(|i| i.wrapping_mul(37)));
    let before = plant_db(&env, &png);
    assert_refused_untouched(&env, &before, "not an sa database");
}

#[test]
fn a_text_file_is_refused_untouched() {
    crate::sqlite_only!();
    let env = TestEnv::new();
    let before = plant_db(&env, b"these are my notes, not a database\n");
    assert_refused_untouched(&env, &before, "not a SQLite file");
}

#[test]
fn a_truncated_sqlite_header_is_refused_untouched() {
    crate::sqlite_only!();
    let env = TestEnv::new();
    let before = plant_db(&env, b"SQLite format 3\0short");
    assert_refused_untouched(&env, &before, "not an sa database");
}

#[test]
fn another_programs_sqlite_database_is_refused_untouched() {
    crate::sqlite_only!();
    let env = TestEnv::new();
    std::fs::create_dir_all(env.root().join("data")).expect("data dir");
    let conn = rusqlite::Connection::open(env.db_path()).expect("open");
    conn.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hi');")
        .expect("a foreign table");
    drop(conn);
    let before = std::fs::read(env.db_path()).expect("read");
    assert_refused_untouched(&env, &before, "another program's SQLite database");
}

#[test]
fn a_sqlite_file_with_another_application_id_is_refused_untouched() {
    crate::sqlite_only!();
    let env = TestEnv::new();
    std::fs::create_dir_all(env.root().join("data")).expect("data dir");
    let conn = rusqlite::Connection::open(env.db_path()).expect("open");
    conn.pragma_update(None, "application_id", 0x1234_5678)
        .expect("application_id");
    drop(conn);
    let before = std::fs::read(env.db_path()).expect("read");
    assert_refused_untouched(&env, &before, "application id");
}

#[test]
fn a_newer_schema_is_refused_untouched() {
    crate::sqlite_only!();
    let env = TestEnv::new();
    env.create("ci-bot");
    set_schema_version_in_the_main_file(&env, 99);
    let before = std::fs::read(env.db_path()).expect("read");
    assert_refused_untouched(&env, &before, "newer");
    let run = env.run(&["list"]);
    assert!(run.stderr.contains("schema version 99"), "{run}");
    assert!(run.stderr.contains("hint: "), "{run}");
}

#[test]
fn an_empty_file_is_adopted_as_a_new_database() {
    crate::sqlite_only!();
    let env = TestEnv::new();
    plant_db(&env, b"");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(env.db_path(), std::fs::Permissions::from_mode(0o644)).unwrap();
    env.create("ci-bot");
    assert_eq!(env.json(&["list"]).as_array().map(Vec::len), Some(1));
    // It now holds token hashes: private like a database sa created itself.
    let mode = std::fs::metadata(env.db_path())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn an_empty_sqlite_database_is_adopted() {
    crate::sqlite_only!();
    let env = TestEnv::new();
    std::fs::create_dir_all(env.root().join("data")).expect("data dir");
    let conn = rusqlite::Connection::open(env.db_path()).expect("open");
    conn.pragma_update(None, "page_size", 4096)
        .expect("page_size");
    conn.execute_batch("VACUUM").expect("write a header");
    drop(conn);
    env.create("ci-bot");
    assert_eq!(env.json(&["list"]).as_array().map(Vec::len), Some(1));
}

#[test]
fn db_flag_beats_sa_db() {
    let env = TestEnv::new();
    let other = env.root().join("other/flag.db");
    let other_arg = other.to_str().expect("utf-8 path");
    env.json(&["create", "--name", "flag-bot", "--db", other_arg]);
    assert!(other.exists());
    assert!(!env.db_path().exists(), "SA_DB was used despite --db");
    assert_eq!(
        env.json(&["list", "--db", other_arg])
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    env.run(&["list"]).code(3);
}

#[test]
fn sa_db_beats_db_path_in_the_config() {
    crate::sqlite_only!();
    let env = TestEnv::new();
    write_config_with_db_path(&env, "from-config.db");
    env.create("ci-bot");
    assert!(env.db_path().exists());
    assert!(!env.root().join("from-config.db").exists());
}

#[test]
fn db_path_in_the_config_is_relative_to_the_config_file() {
    let env = TestEnv::new();
    write_config_with_db_path(&env, "from-config.db");
    let output = env
        .command()
        .env_remove("SA_DB")
        .current_dir(env.home())
        .args(["create", "--name", "ci-bot"])
        .output()
        .expect("run sa");
    assert!(output.status.success(), "{output:?}");
    assert!(env.root().join("from-config.db").exists());
    assert!(!env.home().join("from-config.db").exists());
}

#[test]
fn default_database_is_under_xdg_data_home() {
    let env = TestEnv::new();
    let output = env
        .command()
        .env_remove("SA_DB")
        .args(["create", "--name", "ci-bot"])
        .output()
        .expect("run sa");
    assert!(output.status.success(), "{output:?}");
    let path = env.root().join("xdg-data/sa/sa.db");
    assert!(path.exists());
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().expect("a parent")), 0o700);
    assert!(!env.db_path().exists());
}

#[test]
fn default_database_falls_back_to_home_without_xdg_data_home() {
    let env = TestEnv::new();
    let output = env
        .command()
        .env_remove("SA_DB")
        .env_remove("XDG_DATA_HOME")
        .args(["create", "--name", "ci-bot"])
        .output()
        .expect("run sa");
    assert!(output.status.success(), "{output:?}");
    assert!(env.home().join(".local/share/sa/sa.db").exists());
}

#[test]
fn a_directory_as_database_is_a_storage_error() {
    crate::sqlite_only!();
    let env = TestEnv::new();
    std::fs::create_dir_all(env.db_path()).expect("a directory where the db goes");
    let run = env.run(&["list"]).code(3).error_contains("sa.db");
    assert!(run.stdout.is_empty(), "{run}");
}

#[test]
fn an_unreadable_database_is_a_storage_error() {
    crate::sqlite_only!();
    let env = TestEnv::new();
    env.create("ci-bot");
    std::fs::set_permissions(env.db_path(), std::fs::Permissions::from_mode(0o000)).expect("chmod");
    if std::fs::read(env.db_path()).is_ok() {
        // Running as root: permissions do not stop reads, so there is nothing to test.
        std::fs::set_permissions(env.db_path(), std::fs::Permissions::from_mode(0o600))
            .expect("chmod");
        return;
    }
    let run = env.run(&["list"]);
    std::fs::set_permissions(env.db_path(), std::fs::Permissions::from_mode(0o600)).expect("chmod");
    run.code(3).error_contains("sa.db");
}

#[test]
fn a_fifo_or_device_as_the_database_is_refused_at_once_and_left_alone() {
    let env = TestEnv::new();
    let fifo = env.root().join("sa.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(made.success());
    for db in [fifo.as_path(), Path::new("/dev/null")] {
        let before = std::fs::metadata(db).expect("exists").permissions().mode();
        // Opening a FIFO to read its header would block: the timeout catches a regression.
        let output = env
            .command()
            .args(["list", "--db", db.to_str().expect("utf-8")])
            .timeout(std::time::Duration::from_secs(20))
            .output()
            .expect("run sa");
        assert_eq!(output.status.code(), Some(3), "{output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("not a regular file"), "{stderr}");
        let after = std::fs::metadata(db).expect("exists").permissions().mode();
        assert_eq!(before, after, "{}", db.display());
    }
}

#[test]
fn a_database_under_a_regular_file_is_a_storage_error() {
    let env = TestEnv::new();
    let blocker = env.root().join("blocker");
    std::fs::write(&blocker, b"a file, not a directory").expect("write");
    let db = blocker.join("sa.db");
    env.run(&["list", "--db", db.to_str().expect("utf-8")])
        .code(3)
        .error_contains("cannot");
}

/// Runs `sa create --name bot-I` for I in 0..count as simultaneous processes, the odd ones
/// through `--db ALIAS` when given; all must succeed. Returns how many said they created
/// the database.
fn create_concurrently(env: &TestEnv, count: usize, alias: Option<&Path>) -> usize {
    let children: Vec<_> = (0..count)
        .map(|i| {
            let mut cmd = std_command(env);
            cmd.args(["create", "--name", &format!("bot-{i}")]);
            if let Some(alias) = alias.filter(|_| i % 2 == 1) {
                cmd.arg("--db").arg(alias);
            }
            cmd.stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn sa")
        })
        .collect();
    let mut created = 0;
    for child in children {
        let output = child.wait_with_output().expect("wait");
        assert!(output.status.success(), "{output:?}");
        created += usize::from(String::from_utf8_lossy(&output.stderr).contains("created a new"));
    }
    created
}

#[test]
fn concurrent_creates_from_several_processes_all_succeed() {
    let env = TestEnv::new();
    // The first use creates and migrates the file; the racers then contend only for writes.
    // (A separate test races the very first use.)
    env.init_db();
    assert_eq!(create_concurrently(&env, 8, None), 0);
    assert_eq!(env.json(&["list"]).as_array().map(Vec::len), Some(8));
}

#[test]
fn concurrent_first_uses_create_and_migrate_the_database_once() {
    crate::sqlite_only!();
    // One round loses a race only now and then (about one in twenty, before the marks were
    // read in one snapshot and the journal switch retried), so race a fresh database many
    // times; every other round, half the racers reach the file through a symlink.
    for round in 0..20 {
        let env = TestEnv::new();
        let alias = (round % 2 == 1).then(|| {
            let dir = env.db_path().parent().expect("a parent").to_path_buf();
            std::fs::create_dir_all(&dir).expect("mkdir");
            let link = env.root().join("alias.db");
            std::os::unix::fs::symlink(env.db_path(), &link).expect("symlink");
            link
        });
        let created = create_concurrently(&env, 8, alias.as_deref());
        assert_eq!(
            created, 1,
            "round {round}: exactly one racer sets the file up"
        );
        let list = env.json(&["list"]);
        let mut ids: Vec<i64> = list
            .as_array()
            .expect("array")
            .iter()
            .map(|a| a["id"].as_i64().expect("id"))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 8, "{list}");
        let conn = rusqlite::Connection::open(env.db_path()).expect("open");
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .expect("journal mode");
        assert_eq!(mode, "wal");
    }
}

#[test]
fn a_newer_schema_still_in_the_wal_is_refused_untouched() {
    crate::sqlite_only!();
    let env = TestEnv::new();
    env.create("ci-bot");
    // A newer sa that changed the schema and was stopped before its WAL was checkpointed:
    // copy the database and its -wal file while the change exists only in the -wal.
    let conn = rusqlite::Connection::open(env.db_path()).expect("open");
    conn.pragma_update(None, "wal_autocheckpoint", 0)
        .expect("wal_autocheckpoint");
    conn.pragma_update(None, "user_version", 99)
        .expect("user_version");
    let copy = env.root().join("copy");
    std::fs::create_dir_all(&copy).expect("copy dir");
    std::fs::copy(env.db_path(), copy.join("sa.db")).expect("copy db");
    let mut wal = env.db_path().into_os_string();
    wal.push("-wal");
    std::fs::copy(&wal, copy.join("sa.db-wal")).expect("copy wal");
    drop(conn);
    let read = |name: &str| std::fs::read(copy.join(name)).expect("read");
    let (db_before, wal_before) = (read("sa.db"), read("sa.db-wal"));
    let db_arg = copy.join("sa.db");
    env.run(&["list", "--db", db_arg.to_str().expect("utf-8")])
        .code(3)
        .error_contains("newer");
    assert!(read("sa.db") == db_before, "the database file was modified");
    assert!(
        read("sa.db-wal") == wal_before,
        "the -wal file was modified"
    );
    assert!(
        !copy.join("sa.db-shm").exists(),
        "a -shm file was created beside a refused file"
    );
}

#[test]
fn a_first_use_killed_halfway_by_an_older_sa_is_recovered() {
    crate::sqlite_only!();
    // sa 0.1 switched a new file to WAL under a rollback journal; killed in that instant, it
    // left a 4096-byte file and a hot -journal that every later command refused (exit 3,
    // "attempt to write a readonly database"). The fixture is such a pair.
    let env = TestEnv::new();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    std::fs::create_dir_all(env.root().join("data")).expect("data dir");
    for suffix in ["", "-journal"] {
        std::fs::copy(
            sidecar(&fixtures.join("first-use-killed-by-sa-0.1.db"), suffix),
            sidecar(&env.db_path(), suffix),
        )
        .expect("copy fixture");
    }
    let run = env.run(&["list", "--json"]).ok();
    assert!(run.stderr.contains("created a new sa database"), "{run}");
    assert!(!sidecar(&env.db_path(), "-journal").exists());
    env.create("ci-bot");
    assert_eq!(env.json(&["list"]).as_array().map(Vec::len), Some(1));
}

#[test]
fn a_foreign_database_in_wal_mode_is_refused_without_sidecar_files() {
    crate::sqlite_only!();
    let env = TestEnv::new();
    std::fs::create_dir_all(env.root().join("data")).expect("data dir");
    let conn = rusqlite::Connection::open(env.db_path()).expect("open");
    let _: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .expect("wal");
    conn.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hi');")
        .expect("a foreign table");
    drop(conn);
    let before = std::fs::read(env.db_path()).expect("read");
    assert_refused_untouched(&env, &before, "another program's SQLite database");
}

#[test]
fn a_foreign_database_whose_tables_are_only_in_its_wal_is_refused_untouched() {
    crate::sqlite_only!();
    let env = TestEnv::new();
    let live = env.root().join("live.db");
    let conn = rusqlite::Connection::open(&live).expect("open");
    let _: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .expect("wal");
    conn.pragma_update(None, "wal_autocheckpoint", 0)
        .expect("no checkpoint");
    conn.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hi');")
        .expect("a foreign table");
    // The main file still looks blank; only the -wal file says it is someone's database.
    std::fs::create_dir_all(env.root().join("data")).expect("data dir");
    std::fs::copy(&live, env.db_path()).expect("copy db");
    std::fs::copy(sidecar(&live, "-wal"), sidecar(&env.db_path(), "-wal")).expect("copy wal");
    drop(conn);
    let read = |suffix| std::fs::read(sidecar(&env.db_path(), suffix)).expect("read");
    let (db, wal) = (read(""), read("-wal"));
    for args in [&["list"][..], &["create", "--name", "ci-bot"]] {
        env.run(args)
            .code(3)
            .error_contains("another program's SQLite database");
    }
    assert!(read("") == db, "the database file was modified");
    assert!(read("-wal") == wal, "the -wal file was modified");
    assert!(
        !sidecar(&env.db_path(), "-shm").exists(),
        "a -shm file was created"
    );
}

#[test]
fn a_truncated_sa_database_is_reported_as_damaged_and_left_untouched() {
    crate::sqlite_only!();
    let env = TestEnv::new();
    for i in 0..40 {
        env.create(&format!("bot-{i}"));
    }
    let bytes = std::fs::read(env.db_path()).expect("read");
    assert!(bytes.len() > 8192, "the database spans several pages");
    for cut in [bytes.len() - 1000, bytes.len() / 4096 / 2 * 4096] {
        let before = plant_db(&env, &bytes[..cut]);
        let run = env
            .run(&["list"])
            .code(3)
            .error_contains("damaged sa database");
        assert!(run.stderr.contains("cut short"), "{run}");
        assert!(run.stderr.contains("hint: `sa db check"), "{run}");
        assert_refused_untouched(&env, &before, "damaged");
    }
}

#[test]
fn an_sa_database_with_tables_and_no_schema_version_gets_one_line() {
    crate::sqlite_only!();
    let env = TestEnv::new();
    env.create("ci-bot");
    set_schema_version_in_the_main_file(&env, 0);
    let before = std::fs::read(env.db_path()).expect("read");
    let run = env
        .run(&["list"])
        .code(3)
        .error_contains("no schema version");
    assert!(run.stderr.len() < 400, "{run}");
    assert_refused_untouched(&env, &before, "no schema version");
}

#[test]
fn relative_xdg_paths_are_ignored_as_the_xdg_spec_says() {
    let env = TestEnv::new();
    let output = env
        .command()
        .env_remove("SA_DB")
        .env_remove("SA_CONFIG")
        .env("XDG_DATA_HOME", "relative-data")
        .env("XDG_CONFIG_HOME", "relative-config")
        .args(["config", "path", "--json"])
        .output()
        .expect("run sa");
    assert!(output.status.success(), "{output:?}");
    let paths: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let home = env.home();
    assert_eq!(
        paths["database"],
        home.join(".local/share/sa/sa.db").to_str().expect("utf-8")
    );
    assert_eq!(
        paths["config"],
        home.join(".config/sa/config.toml").to_str().expect("utf-8")
    );
}

#[test]
fn a_foreign_database_reached_through_a_symlink_is_judged_by_its_real_files() {
    // SQLite keeps -wal and -shm beside the file a symlink leads to, so that is where the
    // tables of a foreign database still only in its WAL are.
    let env = TestEnv::new();
    let real_dir = env.root().join("real");
    std::fs::create_dir_all(&real_dir).expect("mkdir");
    let live = env.root().join("live.db");
    let conn = rusqlite::Connection::open(&live).expect("open");
    let _: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .expect("wal");
    conn.pragma_update(None, "wal_autocheckpoint", 0)
        .expect("no checkpoint");
    conn.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('hi');")
        .expect("a foreign table");
    let real = real_dir.join("other.db");
    std::fs::copy(&live, &real).expect("copy db");
    std::fs::copy(sidecar(&live, "-wal"), sidecar(&real, "-wal")).expect("copy wal");
    drop(conn);
    let link = env.root().join("alias.db");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    let read = |suffix| std::fs::read(sidecar(&real, suffix)).expect("read");
    let (db, wal) = (read(""), read("-wal"));
    let mode = std::fs::metadata(&real).expect("meta").permissions().mode();
    env.run(&[
        "create",
        "--name",
        "ci-bot",
        "--db",
        link.to_str().expect("utf-8"),
    ])
    .code(3)
    .error_contains("another program's SQLite database");
    assert!(read("") == db, "the database file was modified");
    assert!(read("-wal") == wal, "the -wal file was modified");
    assert!(!sidecar(&real, "-shm").exists(), "a -shm file was created");
    assert_eq!(
        std::fs::metadata(&real).expect("meta").permissions().mode(),
        mode
    );
}
