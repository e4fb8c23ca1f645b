//! Output conventions (SPEC §2): `--json` and `-o json|table`, no colour with NO_COLOR or off a
//! terminal, tables that keep their shape on odd terminals, one-line errors on stderr with
//! nothing on stdout, clap's usage errors in the same format, a quiet broken pipe, and the
//! help text (snapshotted).

use std::io::Read;
use std::process::{Command, Stdio};

use crate::storage::std_command;
use crate::support::{Run, TestEnv, strip_escapes};

/// Runs `sa ARGS` on a pseudo-terminal through util-linux `script`, `cols` columns wide (0:
/// a pty that reports no size), with `vars` set and `unset` removed. `None` when `script` is
/// not installed.
fn run_on_a_terminal(
    env: &TestEnv,
    args: &str,
    cols: u16,
    vars: &[(&str, &str)],
    unset: &[&str],
) -> Option<String> {
    if !crate::support::have_tool("script") {
        return None;
    }
    let template = env.command();
    let sa = template
        .get_program()
        .to_str()
        .expect("utf-8 path")
        .to_string();
    let mut cmd = Command::new("script");
    for (key, value) in template.get_envs() {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    for (key, value) in vars {
        cmd.env(key, value);
    }
    for key in unset {
        cmd.env_remove(key);
    }
    let shell = format!("stty cols {cols} rows 50 2>/dev/null; exec '{sa}' {args}");
    let output = cmd
        .args(["-qec", &shell, "/dev/null"])
        .current_dir(env.root())
        .stdin(Stdio::null())
        .output()
        .expect("run script");
    assert!(output.status.success(), "{output:?}");
    Some(String::from_utf8_lossy(&output.stdout).replace('\r', ""))
}

/// Asserts a failed run printed nothing on stdout and one `error:` line (plus a hint) on stderr.
#[track_caller]
fn assert_one_line_error(run: Run, code: i32, text: &str) {
    let run = run.code(code).error_contains(text);
    assert!(run.stdout.is_empty(), "stdout is not empty\n{run}");
    assert!(!run.stderr.contains("Usage:"), "{run}");
}

/// An account with a long description, so that `sa list` prints far more than a pipe holds.
fn create_many_long_accounts(env: &TestEnv, count: usize) {
    let description = "lorem ipsum dolor sit amet ".repeat(35);
    for i in 0..count {
        env.run(&[
            "create",
            "--name",
            &format!("bot-{i:03}"),
            "--description",
            &description,
        ])
        .ok();
    }
}

#[test]
fn json_flag_and_output_json_print_the_same() {
    let env = TestEnv::new();
    env.json(&["create", "--name", "ci-bot", "--role", "viewer"]);
    for args in [
        &["list"][..],
        &["show", "ci-bot"],
        &["audit"],
        &["org", "list"],
        &["config", "show"],
        &["config", "path"],
    ] {
        let mut json = args.to_vec();
        json.push("--json");
        let mut dash_o = args.to_vec();
        dash_o.extend(["-o", "json"]);
        let mut long_o = args.to_vec();
        long_o.extend(["--output", "json"]);
        let by_flag = env.run(&json).ok();
        by_flag.json();
        assert_eq!(by_flag.stdout, env.run(&dash_o).ok().stdout, "{args:?}");
        assert_eq!(by_flag.stdout, env.run(&long_o).ok().stdout, "{args:?}");
    }
}

#[test]
fn json_flag_works_before_the_subcommand() {
    let env = TestEnv::new();
    env.create("ci-bot");
    let before = env.run(&["--json", "list"]).ok();
    let after = env.run(&["list", "--json"]).ok();
    assert_eq!(before.stdout, after.stdout);
}

#[test]
fn table_is_the_default_output() {
    let env = TestEnv::new();
    env.create("ci-bot");
    for args in [
        &["list"][..],
        &["show", "ci-bot"],
        &["audit"],
        &["org", "list"],
    ] {
        let default = env.run(args).ok();
        let mut table = args.to_vec();
        table.extend(["-o", "table"]);
        assert_eq!(default.stdout, env.run(&table).ok().stdout, "{args:?}");
        assert!(
            serde_json::from_str::<serde_json::Value>(&default.stdout).is_err(),
            "{default}"
        );
    }
}

#[test]
fn unknown_output_format_is_a_usage_error() {
    let env = TestEnv::new();
    assert_one_line_error(env.run(&["list", "-o", "yaml"]), 2, "yaml");
}

#[test]
fn json_keys_are_snake_case_and_absent_values_are_null() {
    let env = TestEnv::new();
    let account = env.create("ci-bot");
    let object = account.as_object().expect("an object");
    for key in object.keys() {
        assert!(
            key.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{key}"
        );
    }
    assert_eq!(account["disabled_reason"], serde_json::Value::Null);
    assert_eq!(account["deleted_at"], serde_json::Value::Null);
}

#[test]
fn piped_output_has_no_escape_bytes_even_without_no_color() {
    let env = TestEnv::new();
    env.create("ci-bot");
    env.run(&["disable", "ci-bot", "--reason", "leak"]).ok();
    let output = env
        .command()
        .env_remove("NO_COLOR")
        .args(["list"])
        .output()
        .expect("run sa");
    assert!(output.status.success());
    assert!(!output.stdout.contains(&0x1b), "{output:?}");
    assert!(!output.stderr.contains(&0x1b), "{output:?}");
}

#[test]
fn a_terminal_gets_colour_without_no_color() {
    let env = TestEnv::new();
    env.create("ci-bot");
    let Some(out) = run_on_a_terminal(&env, "list", 120, &[], &["NO_COLOR"]) else {
        return;
    };
    assert!(out.contains('\x1b'), "{out:?}");
}

#[test]
fn no_color_on_a_terminal_prints_no_escape_bytes() {
    let env = TestEnv::new();
    env.create("ci-bot");
    env.run(&["disable", "ci-bot", "--reason", "leak"]).ok();
    for args in ["list", "show ci-bot", "audit", "org list", "config show"] {
        let Some(out) = run_on_a_terminal(&env, args, 120, &[("NO_COLOR", "1")], &[]) else {
            return;
        };
        assert!(out.lines().count() >= 2, "{args}: {out}");
        assert!(!out.contains('\x1b'), "{args}: {out:?}");
    }
}

#[test]
fn no_color_does_not_change_the_table_layout_on_a_terminal() {
    let env = TestEnv::new();
    env.run(&[
        "create",
        "--name",
        "a-rather-long-account-name",
        "--description",
        "a description long enough to need wrapping on a narrow terminal",
    ])
    .ok();
    let unset = ["NO_COLOR", "COLUMNS"];
    let Some(colour) = run_on_a_terminal(&env, "list", 80, &[], &unset) else {
        return;
    };
    let plain = run_on_a_terminal(&env, "list", 80, &[("NO_COLOR", "1")], &["COLUMNS"])
        .expect("script was available a moment ago");
    let colour = strip_escapes(&colour);
    let strip_ends = |s: &str| s.lines().map(str::trim_end).collect::<Vec<_>>().join("\n");
    assert_eq!(strip_ends(&plain), strip_ends(&colour));
    for line in plain.lines() {
        assert!(
            line.chars().count() <= 80,
            "wider than the terminal: {line:?}"
        );
    }
}

#[test]
fn a_terminal_that_reports_no_size_keeps_whole_column_headers() {
    let env = TestEnv::new();
    env.create("ci-bot");
    let Some(out) = run_on_a_terminal(&env, "list", 0, &[("NO_COLOR", "1")], &["COLUMNS"]) else {
        return;
    };
    let header = out.lines().next().unwrap_or_default();
    assert!(
        header.contains("NAME") && header.contains("STATUS"),
        "{out}"
    );
    assert!(out.contains("ci-bot"), "{out}");
}

#[test]
fn columns_of_zero_does_not_squeeze_the_table() {
    let env = TestEnv::new();
    env.create("ci-bot");
    let output = env
        .command()
        .env("COLUMNS", "0")
        .args(["list"])
        .output()
        .expect("run sa");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    assert!(
        stdout.contains("NAME") && stdout.contains("ci-bot"),
        "{stdout}"
    );
}

#[test]
fn table_fits_in_columns() {
    let env = TestEnv::new();
    env.run(&[
        "create",
        "--name",
        "ci-bot",
        "--description",
        &"word ".repeat(60),
    ])
    .ok();
    let output = env
        .command()
        .env("COLUMNS", "80")
        .args(["list"])
        .output()
        .expect("run sa");
    let stdout = String::from_utf8_lossy(&output.stdout);
    // Cut, not wrapped: one line per account, the description ending in `…`.
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    for line in stdout.lines() {
        assert!(line.chars().count() <= 80, "{line:?}");
    }
    assert!(
        stdout.contains("ci-bot") && stdout.trim_end().ends_with('…'),
        "{stdout}"
    );
}

#[test]
fn refusals_are_one_error_line_with_nothing_on_stdout() {
    let env = TestEnv::new();
    env.create("ci-bot");
    assert_one_line_error(env.run(&["show", "ghost-bot"]), 1, "not found");
    assert_one_line_error(env.run(&["create", "--name", "ci-bot"]), 1, "taken");
    assert_one_line_error(env.run(&["delete", "ci-bot"]), 2, "confirmation");
}

#[test]
fn errors_stay_on_stderr_with_json() {
    let env = TestEnv::new();
    env.init_db();
    assert_one_line_error(env.run(&["show", "ghost-bot", "--json"]), 1, "not found");
    assert_one_line_error(env.run(&["update", "ghost-bot", "--json"]), 2, "nothing");
}

#[test]
fn storage_errors_are_one_line() {
    crate::sqlite_only!();
    let env = TestEnv::new();
    std::fs::create_dir_all(env.root().join("data")).expect("data dir");
    std::fs::write(env.db_path(), "not a database\nsecond line\n").expect("write");
    assert_one_line_error(env.run(&["list"]), 3, "not an sa database");
}

#[test]
fn config_errors_are_one_line() {
    let env = TestEnv::new();
    env.write_config("[tokens\nmax_ttl = \n\"x\"\n");
    assert_one_line_error(env.run(&["list"]), 3, "invalid TOML");
}

#[test]
fn unknown_flag_is_a_one_line_usage_error() {
    let env = TestEnv::new();
    assert_one_line_error(env.run(&["list", "--bogus"]), 2, "--bogus");
}

#[test]
fn missing_required_flag_is_a_one_line_usage_error() {
    let env = TestEnv::new();
    assert_one_line_error(env.run(&["create"]), 2, "--name");
    assert!(!env.database_exists(), "a usage error opened the database");
}

#[test]
fn missing_positional_argument_is_a_one_line_usage_error() {
    let env = TestEnv::new();
    assert_one_line_error(env.run(&["show"]), 2, "ACCOUNT");
}

#[test]
fn unknown_subcommand_is_a_one_line_usage_error() {
    let env = TestEnv::new();
    assert_one_line_error(env.run(&["frobnicate"]), 2, "frobnicate");
}

#[test]
fn misspelt_subcommand_hints_at_the_right_one() {
    let env = TestEnv::new();
    let run = env.run(&["lsit"]).code(2).error_contains("lsit");
    assert!(
        run.stderr.contains("hint: ") && run.stderr.contains("list"),
        "{run}"
    );
}

#[test]
fn bad_value_from_a_value_parser_is_a_one_line_usage_error() {
    let env = TestEnv::new();
    assert_one_line_error(env.run(&["create", "--name", "ab"]), 2, "3–64 characters");
    assert_one_line_error(env.run(&["audit", "--since", "soon"]), 2, "soon");
}

#[test]
fn no_subcommand_prints_help_on_stderr_and_exits_2() {
    let env = TestEnv::new();
    let run = env.run(&[]).code(2);
    assert!(run.stdout.is_empty(), "{run}");
    assert!(run.stderr.contains("Usage: sa"), "{run}");
}

#[test]
fn help_and_version_exit_0_on_stdout() {
    let env = TestEnv::new();
    let help = env.run(&["--help"]).ok();
    assert!(
        help.stdout.starts_with("Administer service accounts"),
        "{help}"
    );
    assert!(help.stderr.is_empty(), "{help}");
    let version = env.run(&["--version"]).ok();
    assert_eq!(
        version.stdout,
        format!("sa {}\n", env!("CARGO_PKG_VERSION"))
    );
    env.run(&["-V"]).ok();
    env.run(&["create", "--help"]).ok();
    env.run(&["help", "create"]).ok();
    assert!(!env.database_exists(), "help opened the database");
}

#[test]
fn help_subcommand_matches_the_help_flag() {
    let env = TestEnv::new();
    assert_eq!(
        env.run(&["help", "create"]).ok().stdout,
        env.run(&["create", "--help"]).ok().stdout
    );
}

#[test]
fn help_text_of_sa() {
    let env = TestEnv::new();
    insta::assert_snapshot!(env.run(&["--help"]).ok().stdout);
}

#[test]
fn help_text_of_sa_create() {
    let env = TestEnv::new();
    insta::assert_snapshot!(env.run(&["create", "--help"]).ok().stdout);
}

/// Snapshots what a user reads, with the values that change from run to run masked.
pub(crate) fn assert_user_output(name: &str, run: &Run) {
    insta::with_settings!({filters => vec![
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[TIMESTAMP]"),
        (r"\d{4}-\d\d-\d\d \d\d:\d\d", "[TIME]"),
        // Token ids: 12 base62 characters at the start of a table row.
        (r"(?m)^[0-9A-Za-z]{12}\b", "[TOKEN_ID]"),
    ]}, {
        insta::assert_snapshot!(name, run.to_string());
    });
}

#[test]
fn account_table_and_json_as_users_read_them() {
    let env = TestEnv::new();
    env.json(&[
        "create",
        "--name",
        "ci-bot",
        "--role",
        "editor",
        "--description",
        "deploys",
    ]);
    env.json(&["create", "--name", "backup-bot", "--role", "viewer"]);
    env.run(&["disable", "backup-bot", "--reason", "key exposed"])
        .ok();
    assert_user_output("list_table", &env.run(&["list"]));
    assert_user_output("show_json", &env.run(&["show", "ci-bot", "--json"]));
    assert_user_output("show_unknown", &env.run(&["show", "nobody-bot"]));
}

#[test]
fn token_table_as_users_read_it() {
    let env = TestEnv::new();
    env.json(&["create", "--name", "ci-bot", "--role", "editor"]);
    // Minted and listed within one second, so that its 30 days left show as `in 30d`: stored
    // times are whole seconds, and one more second would show `in 29d23h`.
    while std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_millis())
        > 100
    {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    env.add_token(
        "ci-bot",
        &["--name", "deploy", "--scope", "dashboards:read"],
    );
    assert_user_output("token_list_usage", &env.run(&["token", "list", "--usage"]));
}

#[test]
fn broken_pipe_after_the_first_line_is_quiet() {
    let env = TestEnv::new();
    create_many_long_accounts(&env, 80);
    for format in ["table", "json"] {
        let mut child = std_command(&env)
            .args(["list", "-o", format])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn sa");
        let mut stdout = child.stdout.take().expect("piped stdout");
        let mut first = [0u8; 64];
        stdout
            .read_exact(&mut first)
            .expect("the start of the list");
        // `| head -1`: the reader goes away while sa still has most of the list to write.
        drop(stdout);
        let output = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{format}: {stderr}");
        assert!(!stderr.contains("error"), "{format}: {stderr}");
        assert_eq!(output.status.code(), Some(0), "{format}: {stderr}");
    }
}

#[test]
fn broken_pipe_before_any_output_is_quiet() {
    let env = TestEnv::new();
    env.create("ci-bot");
    let mut child = std_command(&env)
        .args(["list"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sa");
    drop(child.stdout.take());
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}

#[test]
fn nothing_waits_on_stdin_that_was_not_asked_for() {
    let env = TestEnv::new();
    env.create("ci-bot");
    // stdin is a pipe that is never written to nor closed: any read would hang.
    let mut child = std_command(&env)
        .args(["delete", "ci-bot"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn sa");
    let stdin = child.stdin.take();
    let (done, finished) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let output = child.wait_with_output().expect("wait");
        let _ = done.send(());
        output
    });
    let waited = finished.recv_timeout(std::time::Duration::from_secs(30));
    // Closing stdin lets a reading sa finish, so the test fails instead of hanging.
    drop(stdin);
    let output = waiter.join().expect("the waiting thread");
    assert!(waited.is_ok(), "sa read stdin: {output:?}");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
}

#[test]
fn help_does_not_echo_environment_values() {
    let env = TestEnv::new();
    let output = env
        .command()
        .env("SA_ACTOR", "alice-from-env")
        .env("SA_ORG", "acme")
        .arg("--help")
        .output()
        .expect("run sa");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout.contains("SA_ACTOR]"), "{stdout}");
    assert!(!stdout.contains("alice-from-env"), "{stdout}");
    assert!(!stdout.contains("SA_ORG=acme"), "{stdout}");
}

/// Accounts `bot-0000`, `bot-0001`, … with the ids and descriptions given, written straight
/// into the database: more than the thousand rows a table is measured on, in a moment.
fn insert_accounts<'a>(env: &TestEnv, accounts: impl Iterator<Item = (i64, &'a str)>) {
    env.init_db();
    let mut sql = env.sql();
    sql.execute(
        "INSERT INTO orgs (name, created_at) VALUES ('default', '2026-11-01T00:00:00Z')
         ON CONFLICT DO NOTHING",
        &[],
    );
    for (n, (id, description)) in accounts.enumerate() {
        sql.execute(
            "INSERT INTO accounts (id, org, name, description, email, status, created_at,
                                   created_by, updated_at)
             VALUES (?1, 'default', ?2, ?3, ?2 || '@default.sa.local', 'active',
                     '2026-11-01T00:00:00Z', 't', '2026-11-01T00:00:00Z')",
            &[id.into(), format!("bot-{n:04}").into(), description.into()],
        );
    }
}

#[test]
fn piped_tables_past_the_measured_rows_cut_nothing() {
    // Column widths come from the first 1000 rows; piped, with no width given, a longer cell
    // further down is printed whole (its row pushed out), never cut.
    let env = TestEnv::new();
    let long = "a description far longer than any of the thousand before it";
    insert_accounts(
        &env,
        (0..1001).map(|i| (i + 1, if i == 1000 { long } else { "short" })),
    );
    let output = env
        .command()
        .env_remove("COLUMNS")
        .args(["list"])
        .output()
        .expect("run sa");
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.lines().count(), 1002, "a header and every account");
    let last = stdout.lines().last().expect("a last row");
    assert!(last.contains("bot-1000") && last.ends_with(long), "{last}");
}

// ---- output for scripts: -o name, --no-headers, --quiet, --color (issue 11) ---------------

#[test]
fn o_name_prints_each_rows_handle_for_xargs() {
    let env = TestEnv::new();
    env.create("ci-bot");
    env.create("cd-bot");
    let a = env.add_token("ci-bot", &["--name", "a label with spaces"]);
    let b = env.add_token("ci-bot", &[]);
    let ids = env.run(&["token", "list", "ci-bot", "-o", "name"]).ok();
    assert_eq!(
        ids.stdout,
        format!(
            "{}\n{}\n",
            crate::tokens::token_id(&a),
            crate::tokens::token_id(&b)
        )
    );
    assert_eq!(
        env.run(&["list", "-o", "name"]).ok().stdout,
        "cd-bot\nci-bot\n"
    );
    let roles = env.run(&["role", "list", "-o", "name"]).ok().stdout;
    assert!(roles.lines().any(|l| l == "viewer"), "{roles}");
    let events = env.run(&["audit", "-o", "name"]).ok().stdout;
    assert!(events.lines().all(|l| l.parse::<u64>().is_ok()), "{events}");
    assert_eq!(
        env.run(&["org", "list", "-o", "name"]).ok().stdout,
        "default\n"
    );
    // What it is for: the ids straight into another command.
    for id in ids.stdout.lines() {
        env.run(&["token", "revoke", id]).ok();
    }
    assert_eq!(env.run(&["token", "list", "-o", "name"]).ok().stdout, "");
    // A command that prints no list has no handles to print: refused before it runs.
    env.run(&["create", "--name", "other-bot", "-o", "name"])
        .code(2)
        .error_contains("-o name");
    env.run(&["show", "other-bot"]).code(1);
}

#[test]
fn two_formats_at_once_are_a_usage_error() {
    let env = TestEnv::new();
    env.create("ci-bot");
    for args in [
        &["list", "--json", "-o", "table"][..],
        &["list", "--json", "-o", "name"][..],
    ] {
        env.run(args).code(2).error_contains("two formats");
    }
    // The same format twice is fine.
    env.run(&["list", "--json", "-o", "json"]).ok();
}

#[test]
fn no_headers_leaves_only_the_rows() {
    let env = TestEnv::new();
    env.create("ci-bot");
    env.create("cd-bot");
    let with = env.run(&["list"]).ok().stdout;
    let without = env.run(&["list", "--no-headers"]).ok().stdout;
    assert_eq!(with.lines().count(), 3);
    assert_eq!(without.lines().count(), 2);
    assert!(without.lines().all(|l| l.contains("-bot")), "{without}");
    assert!(!without.contains("NAME"));
}

#[test]
fn quiet_silences_notes_and_warnings_not_errors() {
    let env = TestEnv::new();
    let created = env.run(&["create", "--name", "ci-bot", "-q"]).ok();
    assert_eq!(created.stderr, "", "{created}");
    let refused = env.run(&["show", "nobody", "--quiet"]).code(1);
    assert!(refused.stderr.starts_with("error: "), "{refused}");
}

#[test]
fn colour_follows_the_flag_then_no_color_term_and_clicolor_force() {
    let env = TestEnv::new();
    env.create("ci-bot");
    let coloured = |args: &[&str], vars: &[(&str, &str)]| {
        let mut cmd = env.command();
        cmd.env_remove("NO_COLOR").args(args);
        for (key, value) in vars {
            cmd.env(key, value);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap().contains('\x1b')
    };
    // Piped: none by default, forced by the flag or CLICOLOR_FORCE.
    assert!(!coloured(&["list"], &[]));
    assert!(coloured(&["list", "--color", "always"], &[]));
    assert!(coloured(&["list"], &[("CLICOLOR_FORCE", "1")]));
    assert!(!coloured(&["list"], &[("CLICOLOR_FORCE", "0")]));
    assert!(!coloured(
        &["list"],
        &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]
    ));
    assert!(!coloured(
        &["list", "--color", "never"],
        &[("CLICOLOR_FORCE", "1")]
    ));
    env.run(&["list", "--color", "sometimes"]).code(2);
}

#[test]
fn aliases_where_users_reach_for_them() {
    let env = TestEnv::new();
    env.create("ci-bot");
    assert_eq!(env.run(&["ls", "-o", "name"]).ok().stdout, "ci-bot\n");
    let token = env.add_token("ci-bot", &[]);
    let id = crate::tokens::token_id(&token);
    assert_eq!(
        env.run(&["token", "ls", "-o", "name"]).ok().stdout,
        format!("{id}\n")
    );
    env.run(&["token", "rm", id]).ok();
    assert_eq!(env.json(&["token", "show", id])["status"], "revoked");
    let minted = env.run(&["token", "create", "ci-bot"]).ok();
    assert!(minted.stdout.starts_with("sa_"), "{minted}");
    env.run(&["rm", "ci-bot", "--yes"]).ok();
    env.run(&["show", "ci-bot"]).code(1);
    assert!(env.run(&["role", "ls"]).ok().stdout.contains("viewer"));
}

#[test]
fn usage_errors_do_not_mislead() {
    let env = TestEnv::new();
    // `--verbose` is not a misspelt `--version`.
    let verbose = env.run(&["--verbose"]).code(2);
    assert!(!verbose.stderr.contains("--version"), "{verbose}");
    assert!(verbose.stderr.contains("sa --help"), "{verbose}");
    // Under a subcommand, the hint names that subcommand's help.
    let deeper = env.run(&["token", "add", "bot", "--verbos"]).code(2);
    assert!(deeper.stderr.contains("`sa token add --help`"), "{deeper}");
    // A real misspelling still gets its suggestion.
    let versio = env.run(&["--versio"]).code(2);
    assert!(versio.stderr.contains("'--version'"), "{versio}");
    // `--account` without `--all` says what is missing, not that ids and --all both are.
    let revoke = env.run(&["token", "revoke", "--account", "ci-bot"]).code(2);
    assert!(revoke.stderr.contains("add `--all`"), "{revoke}");
    assert!(!revoke.stderr.contains("TOKEN_ID"), "{revoke}");
    assert_eq!(revoke.stderr.lines().count(), 1, "{revoke}");
}

#[test]
fn wide_output_shows_every_column_whole_and_times_in_full() {
    let env = TestEnv::new();
    let description = "word ".repeat(30);
    env.run(&["create", "--name", "ci-bot", "--description", &description])
        .ok();
    env.add_token("ci-bot", &[]);
    let run = |args: &[&str]| {
        let out = env
            .command()
            .env("COLUMNS", "60")
            .args(args)
            .output()
            .expect("run sa");
        assert!(out.status.success(), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let narrow = run(&["list"]);
    assert!(!narrow.contains("EMAIL"), "{narrow}");
    assert!(narrow.contains('…'), "{narrow}");
    let wide = run(&["list", "-o", "wide"]);
    assert!(wide.contains("EMAIL") && wide.contains("ci-bot@"), "{wide}");
    assert!(wide.contains(description.trim_end()), "cut: {wide}");
    // Tokens: a relative expiry by default; the created column and the times in full,
    // with their zone, wide.
    let tokens = run(&["token", "list", "--usage"]);
    assert!(!tokens.contains("CREATED"), "{tokens}");
    assert!(
        tokens.contains("in 29d23h") || tokens.contains("in 30d"),
        "{tokens}"
    );
    assert!(tokens.contains("never"), "never used: {tokens}");
    let wide = run(&["token", "list", "--usage", "-o", "wide"]);
    assert!(wide.contains("CREATED"), "{wide}");
    assert!(wide.contains(" UTC (in "), "{wide}");
    // `--json` with `-o wide` is two formats.
    assert_one_line_error(env.run(&["list", "--json", "-o", "wide"]), 2, "two formats");
}

#[test]
fn every_table_marks_an_empty_cell_and_separates_a_list_the_same_way() {
    let env = TestEnv::new();
    env.run(&["create", "--name", "bare-bot"]).ok();
    env.run(&[
        "create", "--name", "ci-bot", "--role", "viewer", "--role", "editor",
    ])
    .ok();
    env.run(&[
        "token", "add", "bare-bot", "--scope", "a:read", "--scope", "b:read",
    ])
    .ok();
    let list = env.run(&["list"]).ok().stdout;
    let bare = list.lines().find(|l| l.contains("bare-bot")).unwrap();
    assert!(bare.ends_with("  -"), "no description: {list}");
    assert!(
        list.contains("editor, viewer") || list.contains("viewer, editor"),
        "{list}"
    );
    let tokens = env.run(&["token", "list", "--usage"]).ok().stdout;
    assert!(tokens.contains("a:read, b:read"), "{tokens}");
    let row: Vec<&str> = tokens.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(row[row.len() - 3..], ["never", "0", "-"], "{tokens}");
}

#[test]
fn every_list_takes_a_limit_of_its_first_rows() {
    let env = TestEnv::new();
    for name in ["c-bot", "a-bot", "b-bot"] {
        env.run(&["create", "--name", name]).ok();
    }
    let first = env.add_token("a-bot", &["--expires", "3d"]);
    env.add_token("b-bot", &["--expires", "1d"]);
    env.add_token("c-bot", &["--expires", "2d"]);
    let names = |args: &[&str]| -> Vec<String> {
        env.run(args)
            .ok()
            .stdout
            .lines()
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        names(&["list", "--limit", "2", "-o", "name"]),
        ["a-bot", "b-bot"]
    );
    // The first in the order asked for, not the first stored.
    let created = names(&["token", "list", "--limit", "1", "-o", "name"]);
    assert_eq!(created.len(), 1);
    assert!(first.contains(&created[0]), "oldest first: {created:?}");
    let by_expiry = env.json(&["token", "list", "--sort", "expires", "--limit", "1"]);
    assert_eq!(by_expiry.as_array().unwrap().len(), 1);
    assert_eq!(by_expiry[0]["account"], "b-bot");
    assert_eq!(
        names(&["role", "list", "--limit", "1", "-o", "name"]).len(),
        1
    );
    assert_eq!(
        names(&["org", "list", "--limit", "1", "-o", "name"]),
        ["default"]
    );
    assert_eq!(names(&["audit", "--limit", "2", "-o", "name"]).len(), 2);
    // A table's header is not a row.
    assert_eq!(names(&["list", "--limit", "1"]).len(), 2);
    for args in [
        &["list", "--limit", "0"][..],
        &["token", "list", "--limit", "-1"],
        &["audit", "--limit", "0"],
        &["role", "list", "--limit", "x"],
    ] {
        env.run(args).code(2);
    }
}

#[test]
fn color_never_reaches_the_help_text_on_a_terminal() {
    let env = TestEnv::new();
    let unset = ["NO_COLOR"];
    let Some(plain) = run_on_a_terminal(&env, "--color never token --help", 80, &[], &unset) else {
        return;
    };
    assert!(!plain.contains('\x1b'), "{plain:?}");
    assert!(plain.contains("Usage: sa token"), "{plain}");
    let coloured = run_on_a_terminal(&env, "token --help", 80, &[], &unset)
        .expect("script was available a moment ago");
    assert!(
        coloured.contains('\x1b'),
        "a terminal colours help: {coloured:?}"
    );
}

#[test]
fn every_list_takes_o_name_no_headers_and_jq() {
    let env = TestEnv::new();
    env.create("ci-bot");
    env.add_token("ci-bot", &[]);
    let lists: [&[&str]; 8] = [
        &["list"],
        &["token", "list"],
        &["token", "prune", "--older-than", "0s", "--dry-run"],
        &["role", "list"],
        &["org", "list"],
        &["config", "show"],
        &["audit"],
        &["usage", "ci-bot"],
    ];
    for list in lists {
        let with = |extra: &[&str]| {
            let mut args = list.to_vec();
            args.extend_from_slice(extra);
            env.run(&args).ok().stdout
        };
        let table = with(&[]);
        let header = table.lines().next().unwrap_or_default();
        // The header is upper case; a row never is all upper case.
        let header_like = |l: &str| l.chars().any(char::is_alphabetic) && l == l.to_uppercase();
        assert!(header_like(header), "{list:?}: {table}");
        let bare = with(&["--no-headers"]);
        assert!(!bare.lines().any(header_like), "{list:?}: {bare}");
        assert_eq!(
            bare.lines().count() + 1,
            table.lines().count(),
            "{list:?}: {bare}"
        );
        let names = with(&["-o", "name"]);
        assert_eq!(
            names.lines().count(),
            bare.lines().count(),
            "{list:?}: {names}"
        );
        assert!(
            names.lines().all(|l| !l.is_empty() && !l.contains("  ")),
            "{list:?}: {names}"
        );
        // The rows: an array's elements, an account's tokens, the config's keys.
        let rows = "if type == \"array\" then length elif has(\"account\") then .tokens | length \
                    else .sources | length end";
        let count = with(&["--jq", rows]);
        assert_eq!(
            count.trim().parse::<usize>().ok(),
            Some(names.lines().count()),
            "{list:?}: {count}"
        );
    }
}

#[test]
fn a_fitted_row_past_the_measured_ones_still_fits() {
    // Widths come from the first 1000 rows; a later account with a longer id takes the room
    // from its own description, never from the terminal's edge.
    let env = TestEnv::new();
    let description = "words enough to be cut at eighty columns ".repeat(3);
    insert_accounts(
        &env,
        (0..1001).map(|i| {
            (
                if i == 1000 { 1_000_000 } else { i + 1 },
                description.as_str(),
            )
        }),
    );
    let output = env
        .command()
        .env("COLUMNS", "80")
        .args(["list"])
        .output()
        .expect("run sa");
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let last = stdout.lines().last().expect("a last row");
    assert!(last.starts_with("1000000 "), "{last}");
    for line in stdout.lines() {
        assert!(line.chars().count() <= 80, "{line}");
    }
}

#[test]
fn no_json_where_none_is_printed_blank_names_are_none_and_wide_has_the_reason() {
    let env = TestEnv::new();
    // Commands that print no JSON refuse it, as `-o name` is refused where there is no list.
    env.run(&["init", "--json"])
        .code(2)
        .error_contains("prints no JSON");
    env.run(&["completions", "bash", "--jq", "."])
        .code(2)
        .error_contains("prints no JSON");
    // A blank name is no name: `-` in a table, null in JSON.
    env.run(&["create", "--name", "ci-bot", "--description", "deploys"])
        .ok();
    let minted = env.json(&["token", "add", "ci-bot", "--name", "  "]);
    assert_eq!(minted["name"], serde_json::Value::Null, "{minted}");
    // `-o wide` gives a disabled account's reason and its description each a column.
    env.run(&["disable", "ci-bot", "--reason", "key leaked"])
        .ok();
    let wide = env.run(&["list", "-o", "wide"]).ok().stdout;
    assert!(wide.contains("REASON"), "{wide}");
    assert!(
        wide.contains("key leaked") && wide.contains("deploys"),
        "{wide}"
    );
    let narrow = env.run(&["list"]).ok().stdout;
    assert!(narrow.contains("disabled: key leaked"), "{narrow}");
}
