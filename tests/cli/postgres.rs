//! What the SQLite file's own tests (tests/cli/storage.rs) check, for a PostgreSQL database:
//! sa sets up and uses only its own schema `sa`, refuses another program's or a newer one
//! untouched, never creates one for a command that only reads, and migrates once however
//! many first uses race. On the SQLite run these say so and return.

use crate::support::{Sql, TestEnv, on_postgres};

/// Ends a test that needs the PostgreSQL run.
macro_rules! postgres_only {
    () => {
        if !on_postgres() {
            eprintln!("skipped: this test is about a PostgreSQL database ($SA_TEST_PG)");
            return;
        }
    };
}

/// The names of the schemas of the test's database that are not PostgreSQL's own.
fn schemas(sql: &mut Sql) -> Vec<String> {
    let Sql::Postgres(client) = sql else {
        panic!("a PostgreSQL test");
    };
    client
        .query(
            "SELECT nspname FROM pg_namespace
             WHERE nspname NOT LIKE 'pg\\_%' AND nspname != 'information_schema'
             ORDER BY 1",
            &[],
        )
        .expect("schemas")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Every table of `schema` with its row count.
fn tables(sql: &mut Sql, schema: &str) -> Vec<(String, i64)> {
    let Sql::Postgres(client) = sql else {
        panic!("a PostgreSQL test");
    };
    let names: Vec<String> = client
        .query(
            "SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY 1",
            &[&schema],
        )
        .expect("tables")
        .iter()
        .map(|r| r.get(0))
        .collect();
    names
        .into_iter()
        .map(|t| {
            let n: i64 = client
                .query_one(&format!("SELECT count(*) FROM {schema}.{t}"), &[])
                .expect("count")
                .get(0);
            (t, n)
        })
        .collect()
}

#[test]
fn sa_makes_and_uses_only_its_own_schema() {
    postgres_only!();
    let env = TestEnv::new();
    let mut sql = env.sql();
    sql.tamper("CREATE TABLE public.theirs (x int); INSERT INTO public.theirs VALUES (1)");
    let before = schemas(&mut sql);
    // A command that only reads creates nothing.
    env.run(&["list"])
        .code(3)
        .error_contains("there is no sa database");
    assert_eq!(schemas(&mut sql), before);
    let run = env.run(&["init"]).ok();
    assert!(run.stderr.contains("created a new sa database"), "{run}");
    env.create("ci-bot");
    let mut after = before.clone();
    after.push("sa".into());
    after.sort();
    assert_eq!(schemas(&mut sql), after);
    assert_eq!(tables(&mut sql, "public"), [("theirs".to_string(), 1)]);
    // Once set up, `init` says so, and nothing moves.
    let again = env.run(&["init"]).ok();
    assert!(again.stderr.contains("already an sa database"), "{again}");
}

#[test]
fn another_programs_schema_named_sa_is_refused_untouched() {
    postgres_only!();
    let env = TestEnv::new();
    let mut sql = env.sql();
    sql.tamper(
        "CREATE SCHEMA sa; CREATE TABLE sa.orders (id int); INSERT INTO sa.orders VALUES (7)",
    );
    for args in [&["list"][..], &["init"], &["create", "--name", "ci-bot"]] {
        env.run(args)
            .code(3)
            .error_contains("holds tables that sa did not make");
    }
    assert_eq!(tables(&mut sql, "sa"), [("orders".to_string(), 1)]);
    // A meta row of another program's is refused too.
    sql.tamper(
        "CREATE TABLE sa.meta (application_id bigint, schema_version bigint);
         INSERT INTO sa.meta VALUES (42, 1)",
    );
    env.run(&["list"])
        .code(3)
        .error_contains("belongs to another program");
}

#[test]
fn a_newer_schema_is_refused_untouched() {
    postgres_only!();
    let env = TestEnv::new();
    env.create("ci-bot");
    let mut sql = env.sql();
    let version = sa::store::POSTGRES_SCHEMA_VERSION;
    sql.execute(
        "UPDATE meta SET schema_version = ?1",
        &[(version + 1).into()],
    );
    let before = tables(&mut sql, "sa");
    for args in [
        &["list"][..],
        &["create", "--name", "new-bot"],
        &["db", "check"],
    ] {
        env.run(args)
            .code(3)
            .error_contains("written by a newer sa");
    }
    assert_eq!(tables(&mut sql, "sa"), before);
}

#[test]
fn racing_first_uses_set_the_schema_up_once() {
    postgres_only!();
    let env = TestEnv::new();
    let runs: Vec<_> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..6)
            .map(|n| {
                let env = &env;
                scope.spawn(move || env.run(&["create", "--name", &format!("bot-{n}")]))
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a run"))
            .collect()
    });
    let created = runs
        .iter()
        .filter(|run| run.stderr.contains("created a new sa database"))
        .count();
    for run in &runs {
        assert_eq!(run.code, 0, "{run}");
    }
    assert_eq!(created, 1, "exactly one first use set the schema up");
    assert_eq!(env.json(&["list"]).as_array().map(Vec::len), Some(6));
    env.run(&["audit", "verify"]).ok();
}

#[test]
fn an_unreachable_server_is_one_line_exit_3() {
    let env = TestEnv::new();
    let dir = env.root().join("no-server");
    std::fs::create_dir_all(&dir).expect("a dir");
    let url = format!("postgresql:///sa?host={}&user=sa", dir.display());
    for args in [&["list"][..], &["create", "--name", "ci-bot"]] {
        let mut all = vec!["--db", url.as_str()];
        all.extend_from_slice(args);
        let run = env.run(&all).code(3);
        assert!(run.stderr.contains("cannot connect"), "{run}");
        assert_eq!(run.stderr.trim_end().lines().count(), 1, "{run}");
    }
}

#[test]
fn a_backup_of_a_postgresql_store_is_an_sqlite_file_holding_all_of_it() {
    postgres_only!();
    let env = TestEnv::new();
    env.create("ci-bot");
    let token = env.add_token("ci-bot", &["--expires", "30d"]);
    env.run_with_stdin(&["token", "verify", "-q"], &format!("{token}\n"))
        .ok();
    let before = env.run(&["export"]).ok().stdout;
    let tokens = env.json(&["token", "list"]);
    let file = env.root().join("backup.db");
    let run = env.run(&["db", "backup", crate::support::arg(&file)]).ok();
    assert!(run.stderr.contains("backed up"), "{run}");
    let on_file = |args: &[&str]| {
        let mut all = vec!["--db", crate::support::arg(&file)];
        all.extend_from_slice(args);
        env.run(&all).ok()
    };
    assert_eq!(on_file(&["export"]).stdout, before);
    assert_eq!(on_file(&["token", "list", "--json"]).json(), tokens);
    on_file(&["audit", "verify"]);
    on_file(&["db", "check"]);
    // A backup never replaces a file.
    env.run(&["db", "backup", crate::support::arg(&file)])
        .code(1)
        .error_contains("never replaces");
}
