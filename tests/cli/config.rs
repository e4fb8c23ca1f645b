//! The config file (SPEC §1): which file is read, `sa config show` and `sa config path`, and
//! that unknown keys and bad values are refused with exit 3, naming the key and the file.

use serde_json::Value;

use crate::support::{BASE_CONFIG, TestEnv, on_postgres};

/// Runs `sa ARGS` with `SA_CONFIG` removed, so the default config location applies.
fn run_without_sa_config(env: &TestEnv, args: &[&str]) -> std::process::Output {
    env.command()
        .env_remove("SA_CONFIG")
        .args(args)
        .output()
        .expect("run sa")
}

fn stdout_json(output: &std::process::Output) -> Value {
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).expect("stdout is JSON")
}

fn config_arg(env: &TestEnv) -> String {
    env.config_path().to_str().expect("utf-8 path").to_string()
}

#[test]
fn config_show_json_is_shaped_like_the_file() {
    let env = TestEnv::new();
    let shown = env.json(&["config", "show"]);
    assert_eq!(shown["tokens"]["max_ttl"], "365d");
    assert_eq!(shown["tokens"]["default_ttl"], "30d");
    assert_eq!(shown["tokens"]["prefix"], "sa_");
    assert_eq!(shown["tokens"]["require_expiry"], true);
    assert_eq!(shown["limits"]["max_accounts"], Value::Null);
    assert_eq!(shown["limits"]["max_tokens_per_account"], 10);
    assert_eq!(shown["retention"]["deleted_accounts"], "30d");
    assert_eq!(shown["argon2"]["memory_kib"], 64);
    assert_eq!(shown["email_domain"], "sa.local");
}

#[test]
fn config_show_json_names_the_source_of_each_key() {
    let env = TestEnv::new();
    env.write_config("[tokens]\nmax_ttl = \"90d\"\n");
    let shown = env.json(&["config", "show"]);
    let file = format!("file {}", env.config_path().display());
    assert_eq!(shown["tokens"]["max_ttl"], "90d");
    assert_eq!(shown["sources"]["tokens.max_ttl"], file.as_str());
    assert_eq!(shown["sources"]["argon2.memory_kib"], file.as_str());
    assert_eq!(shown["sources"]["tokens.default_ttl"], "default");
    assert_eq!(shown["sources"]["limits.max_accounts"], "default");
    assert_eq!(shown["sources"]["db_path"], "env $SA_DB");
}

#[test]
fn config_show_sources_the_database_to_the_db_flag() {
    let env = TestEnv::new();
    let db = env.root().join("flag.db");
    let shown = env.json(&["config", "show", "--db", db.to_str().expect("utf-8")]);
    assert_eq!(shown["sources"]["db_path"], "flag --db");
    assert_eq!(shown["db_path"], db.to_str().expect("utf-8"));
}

#[test]
fn config_show_sources_the_database_to_the_default() {
    let env = TestEnv::new();
    let output = env
        .command()
        .env_remove("SA_DB")
        .args(["config", "show", "--json"])
        .output()
        .expect("run sa");
    let shown = stdout_json(&output);
    assert_eq!(shown["sources"]["db_path"], "default");
    let expected = env.root().join("xdg-data/sa/sa.db");
    assert_eq!(shown["db_path"], expected.to_str().expect("utf-8"));
}

#[test]
fn config_show_table_lists_key_value_and_source() {
    let env = TestEnv::new();
    env.write_config("[limits]\nmax_accounts = 5\n");
    let run = env.run(&["config", "show"]).ok();
    let header = run.stdout.lines().next().expect("a header");
    assert!(
        header.contains("KEY") && header.contains("VALUE") && header.contains("SOURCE"),
        "{run}"
    );
    let line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("limits.max_accounts"))
        .unwrap_or_else(|| panic!("no limits.max_accounts row\n{run}"));
    assert!(line.contains('5') && line.contains("file "), "{line}");
    let ttl = run
        .stdout
        .lines()
        .find(|l| l.starts_with("tokens.default_ttl"))
        .unwrap_or_else(|| panic!("no tokens.default_ttl row\n{run}"));
    assert!(ttl.contains("30d") && ttl.contains("default"), "{ttl}");
}

#[test]
fn config_show_does_not_create_the_database() {
    let env = TestEnv::new();
    env.run(&["config", "show"]).ok();
    env.run(&["config", "path"]).ok();
    assert!(!env.database_exists());
}

#[test]
fn config_path_json_names_both_files_and_whether_they_exist() {
    let env = TestEnv::new();
    let paths = env.json(&["config", "path"]);
    assert_eq!(paths["config"], env.config_path().to_str().expect("utf-8"));
    assert_eq!(paths["config_exists"], true);
    assert_eq!(paths["database"], env.db_path().to_str().expect("utf-8"));
    assert_eq!(paths["database_exists"], false);
    env.create("ci-bot");
    assert_eq!(env.json(&["config", "path"])["database_exists"], true);
}

#[test]
fn config_path_table_marks_missing_files() {
    let env = TestEnv::new();
    let run = env.run(&["config", "path"]).ok();
    let config_line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("config"))
        .unwrap_or_else(|| panic!("no config row\n{run}"));
    assert!(
        config_line.contains(env.config_path().to_str().expect("utf-8")),
        "{run}"
    );
    assert!(!config_line.contains("not found"), "{run}");
    let db_line = run
        .stdout
        .lines()
        .find(|l| l.starts_with("database"))
        .unwrap_or_else(|| panic!("no database row\n{run}"));
    assert!(db_line.contains("(not found)"), "{run}");
}

#[test]
fn unknown_key_names_the_dotted_key_and_the_file() {
    let env = TestEnv::new();
    env.write_config("[limits]\nmax_acounts = 2\n");
    env.run(&["list"])
        .code(3)
        .error_contains("limits.max_acounts")
        .error_contains(env.config_path().to_str().expect("utf-8"));
}

#[test]
fn unknown_top_level_key_is_refused() {
    let env = TestEnv::new();
    env.write_config("[colours]\nenabled = true\n");
    env.run(&["list"])
        .code(3)
        .error_contains("unknown key `colours`");
}

#[test]
fn bad_values_are_refused_naming_the_key() {
    let env = TestEnv::new();
    for (toml, key) in [
        ("[limits]\nmax_accounts = -1\n", "limits.max_accounts"),
        ("[limits]\nmax_accounts = \"2\"\n", "limits.max_accounts"),
        (
            "[limits]\nmax_tokens_per_account = 0\n",
            "limits.max_tokens_per_account",
        ),
        ("[tokens]\nmax_ttl = \"forever\"\n", "tokens.max_ttl"),
        ("[tokens]\nmax_ttl = 30\n", "tokens.max_ttl"),
        ("[tokens]\ndefault_ttl = \"400d\"\n", "tokens.default_ttl"),
        (
            "[tokens]\nrequire_expiry = \"yes\"\n",
            "tokens.require_expiry",
        ),
        ("[tokens]\nprefix = \"SA-\"\n", "tokens.prefix"),
        ("[tokens]\nprefix = \"sa\"\n", "tokens.prefix"),
        (
            "[retention]\ndeleted_accounts = \"a month\"\n",
            "retention.deleted_accounts",
        ),
        ("email_domain = \"Not A Domain\"\n", "email_domain"),
    ] {
        // Top-level keys must come before the tables of the base config.
        std::fs::write(env.config_path(), format!("{toml}{BASE_CONFIG}")).expect("write");
        env.run(&["list"])
            .code(3)
            .error_contains(key)
            .error_contains(env.config_path().to_str().expect("utf-8"));
    }
}

#[test]
fn bad_argon2_cost_is_refused_naming_the_key() {
    let env = TestEnv::new();
    std::fs::write(
        env.config_path(),
        "[argon2]\nmemory_kib = 4\niterations = 1\nparallelism = 1\n",
    )
    .expect("write");
    env.run(&["list"])
        .code(3)
        .error_contains("argon2.memory_kib");
}

#[test]
fn a_section_that_is_not_a_table_is_refused() {
    let env = TestEnv::new();
    std::fs::write(env.config_path(), format!("limits = 3\n{BASE_CONFIG}")).expect("write");
    env.run(&["list"]).code(3).error_contains("[limits]");
}

#[test]
fn invalid_toml_is_one_error_line_with_the_line_number() {
    let env = TestEnv::new();
    env.write_config("[limits\nmax_accounts = 2\n");
    let run = env.run(&["list"]).code(3).error_contains("invalid TOML");
    // The base config takes four lines, `[limits]` the fifth.
    assert!(run.stderr.contains("line 5"), "{run}");
    assert!(run.stdout.is_empty(), "{run}");
}

#[test]
fn config_flag_pointing_to_a_missing_file_is_refused() {
    let env = TestEnv::new();
    let missing = env.root().join("nope.toml");
    env.run(&["list", "--config", missing.to_str().expect("utf-8")])
        .code(3)
        .error_contains("nope.toml")
        .error_contains("named by --config");
    assert!(!env.database_exists());
}

#[test]
fn sa_config_pointing_to_a_missing_file_is_refused() {
    let env = TestEnv::new();
    std::fs::remove_file(env.config_path()).expect("remove config");
    env.run(&["list"])
        .code(3)
        .error_contains("config.toml")
        .error_contains("named by $SA_CONFIG");
}

#[test]
fn a_missing_default_config_file_means_defaults() {
    let env = TestEnv::new();
    let output = run_without_sa_config(&env, &["config", "show", "--json"]);
    let shown = stdout_json(&output);
    assert_eq!(shown["argon2"]["memory_kib"], 19_456);
    assert_eq!(shown["sources"]["argon2.memory_kib"], "default");
    let paths = stdout_json(&run_without_sa_config(&env, &["config", "path", "--json"]));
    let expected = env.root().join("xdg-config/sa/config.toml");
    assert_eq!(paths["config"], expected.to_str().expect("utf-8"));
    assert_eq!(paths["config_exists"], false);
}

#[test]
fn the_default_config_file_is_read_from_xdg_config_home() {
    let env = TestEnv::new();
    let dir = env.root().join("xdg-config/sa");
    std::fs::create_dir_all(&dir).expect("config dir");
    std::fs::write(
        dir.join("config.toml"),
        format!("{BASE_CONFIG}[limits]\nmax_accounts = 7\n"),
    )
    .expect("write");
    let shown = stdout_json(&run_without_sa_config(&env, &["config", "show", "--json"]));
    assert_eq!(shown["limits"]["max_accounts"], 7);
}

#[test]
fn config_flag_beats_sa_config() {
    let env = TestEnv::new();
    env.write_config("[limits]\nmax_accounts = 1\n");
    let other = env.root().join("other.toml");
    std::fs::write(&other, format!("{BASE_CONFIG}[limits]\nmax_accounts = 3\n")).expect("write");
    let other = other.to_str().expect("utf-8");
    let shown = env.json(&["config", "show", "--config", other]);
    assert_eq!(shown["limits"]["max_accounts"], 3);
    env.create("one-bot");
    env.run(&["create", "--name", "two-bot", "--config", other])
        .ok();
}

#[test]
fn the_config_file_sets_limits_that_commands_obey() {
    let env = TestEnv::new();
    env.write_config("[limits]\nmax_accounts = 1\n");
    env.create("one-bot");
    env.run(&["create", "--name", "two-bot"])
        .code(1)
        .error_contains("limits.max_accounts");
    let config = config_arg(&env);
    assert_eq!(
        env.json(&["config", "show", "--config", &config])["limits"]["max_accounts"],
        1
    );
}

#[test]
fn a_bad_config_changes_nothing_in_the_database() {
    let env = TestEnv::new();
    env.create("ci-bot");
    let events_before = env.json(&["audit"]);
    // On PostgreSQL there is no file to compare: what it holds is compared below.
    let db_before = (!on_postgres()).then(|| std::fs::read(env.db_path()).expect("read db"));
    env.write_config("[limits]\nmax_acounts = 2\n");
    for args in [
        &["create", "--name", "new-bot"][..],
        &["disable", "ci-bot"],
        &["delete", "ci-bot", "--yes"],
    ] {
        env.run(args).code(3).error_contains("limits.max_acounts");
    }
    assert!(
        (!on_postgres()).then(|| std::fs::read(env.db_path()).expect("read db")) == db_before,
        "the database file was modified"
    );
    env.write_config("");
    let list = env.json(&["list"]);
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(list[0]["status"], "active");
    assert_eq!(env.json(&["audit"]), events_before);
}

#[test]
fn email_domain_from_the_config_shapes_new_emails() {
    let env = TestEnv::new();
    std::fs::write(
        env.config_path(),
        format!("email_domain = \"svc.example.com\"\n{BASE_CONFIG}"),
    )
    .expect("write");
    assert_eq!(
        env.create("ci-bot")["email"],
        "ci-bot@default.svc.example.com"
    );
}

#[test]
fn an_empty_db_path_is_refused_naming_the_key() {
    let env = TestEnv::new();
    std::fs::write(env.config_path(), "db_path = \"\"\n").unwrap();
    env.run(&["list"]).code(3).error_contains("`db_path`");
}

#[test]
fn a_fifo_as_the_config_file_is_refused_at_once() {
    let env = TestEnv::new();
    let fifo = env.root().join("config.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(made.success());
    // Reading a FIFO with no writer blocks forever: the timeout catches a regression.
    let output = env
        .command()
        .env("SA_CONFIG", &fifo)
        .args(["list"])
        .timeout(std::time::Duration::from_secs(20))
        .output()
        .expect("run sa");
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not a regular file"), "{stderr}");
    assert!(!env.database_exists());
}

#[test]
fn warn_before_as_long_as_a_token_lifetime_is_refused_naming_the_keys() {
    let env = TestEnv::new();
    env.write_config("[tokens]\nmax_ttl = \"20d\"\nwarn_before = \"20d\"\n");
    env.run(&["list"])
        .code(3)
        .error_contains("`tokens.warn_before` must be shorter than `tokens.max_ttl`");
    // As long as the default lifetime: every token minted without --expires would warn.
    env.write_config("[tokens]\nwarn_before = \"30d\"\n");
    env.run(&["list"])
        .code(3)
        .error_contains("`tokens.warn_before` must be shorter than `tokens.default_ttl`");
    // Left to its default, it is lowered to fit short lifetimes instead.
    env.write_config("[tokens]\nmax_ttl = \"1d\"\n");
    let config = env.json(&["config", "show"]);
    assert_eq!(config["tokens"]["warn_before"], "4h48m");
    assert_eq!(
        config["sources"]["tokens.warn_before"],
        "default, lowered to fit tokens.max_ttl"
    );
}

#[test]
fn an_out_of_range_integer_names_its_key_and_line() {
    let env = TestEnv::new();
    env.write_config("[limits]\nmax_accounts = 99999999999999999999\n");
    let run = env
        .run(&["list"])
        .code(3)
        .error_contains("`limits.max_accounts`");
    // The base config takes four lines, `[limits]` the fifth.
    assert!(run.stderr.contains("line 6"), "{run}");
}

#[test]
fn argon2_below_the_owasp_minimum_is_warned_about_when_hashing() {
    let env = TestEnv::new();
    env.create("ci-bot");
    // The tests' own config lowers the cost on purpose, so it warns.
    let weak = env.run(&["token", "add", "ci-bot"]).ok();
    assert!(
        weak.stderr
            .contains("warning: `argon2.memory_kib` = 64 with `argon2.iterations` = 1"),
        "{weak}"
    );
    assert!(weak.stderr.contains("OWASP"), "{weak}");
    let shown = env.run(&["config", "show"]).ok();
    assert!(shown.stderr.contains("below OWASP's minimum"), "{shown}");
    // The defaults (OWASP's own) do not; nor does an equivalent trade of memory for time.
    for config in ["", "memory_kib = 7168\niterations = 5\n"] {
        std::fs::write(env.config_path(), format!("[argon2]\n{config}")).expect("config");
        let strong = env.run(&["token", "add", "ci-bot"]).ok();
        assert!(!strong.stderr.contains("warning"), "{strong}");
    }
}

#[test]
fn config_show_gives_the_argon2_cost_the_database_records_while_it_differs() {
    let env = TestEnv::new();
    env.run(&["create", "--name", "ci-bot"]).ok(); // records the config's cost (64 KiB)
    let cheap = BASE_CONFIG.replace("memory_kib = 64", "memory_kib = 128");
    std::fs::write(env.config_path(), cheap).unwrap();
    let shown = env.json(&["config", "show"]);
    assert_eq!(shown["argon2"]["memory_kib"], 64, "{shown}");
    let source = shown["sources"]["argon2.memory_kib"].as_str().unwrap();
    assert!(
        source.contains("recorded in the database") && source.contains("128"),
        "{source}"
    );
    assert_eq!(
        shown["argon2"]["iterations"], 1,
        "the same in both: the config's"
    );
    // The next administrator's write command records the config's cost.
    env.run(&["create", "--name", "cd-bot"]).ok();
    let shown = env.json(&["config", "show"]);
    assert_eq!(shown["argon2"]["memory_kib"], 128, "{shown}");
    // No database: the config alone, and none is created.
    let missing = env.root().join("none.db");
    let out = env
        .command()
        .env("SA_DB", &missing)
        .args(["config", "show", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(!missing.exists());
}
