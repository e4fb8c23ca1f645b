//! `--jq EXPR`: a command's JSON output filtered as `sa … --json | jq EXPR` would be, results
//! one per line, strings raw; a bad expression refused before the command runs; a failing one
//! exit 1 on one line; the command's own exit code kept.

use crate::support::{Run, TestEnv};
use crate::tokens::{secret_part, token_id};
use crate::verify::verify;

/// Runs `sa ARGS --jq EXPR`.
fn jq(env: &TestEnv, args: &[&str], expr: &str) -> Run {
    let mut all = args.to_vec();
    all.extend(["--jq", expr]);
    env.run(&all)
}

/// JSON text without the whitespace between its tokens: what `jq -c .` makes of it.
fn compact(json: &str) -> String {
    let mut out = String::new();
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if !c.is_whitespace() {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

/// An organization with two accounts, a custom role, tokens (one used) and their events.
fn populated() -> (TestEnv, String) {
    let env = TestEnv::new();
    env.create("alpha");
    env.json(&["create", "--name", "beta", "--role", "viewer"]);
    env.run(&[
        "role",
        "create",
        "deployer",
        "--permission",
        "deploys:write",
    ])
    .ok();
    let token = env.add_token("alpha", &["--name", "ci"]);
    env.add_token("beta", &[]);
    verify(&env, &token, &[]).ok();
    (env, token)
}

#[test]
fn every_command_prints_what_jq_would_make_of_its_json() {
    let (env, token) = populated();
    let id = token_id(&token);
    let lists: &[&[&str]] = &[
        &["list"],
        &["account", "list", "--status", "all"],
        &["token", "list"],
        &["token", "list", "--usage"],
        &["token", "prune", "--older-than", "1d", "--dry-run"],
        &["role", "list"],
        &["audit"],
        &["org", "list"],
        &["config", "show"],
        &["usage"],
        &["usage", "alpha"],
    ];
    let documents: &[&[&str]] = &[
        &["show", "alpha"],
        &["token", "show", id],
        &["role", "show", "deployer"],
        &["can", "alpha", "deploys:write"],
        &["audit", "verify"],
        &["db", "check"],
        &["config", "path"],
    ];
    for args in lists.iter().chain(documents) {
        let mut json = args.to_vec();
        json.push("--json");
        let plain = env.run(&json);
        let filtered = jq(&env, args, ".");
        assert_eq!(filtered.code, plain.code, "{args:?}\n{filtered}");
        // Keys in the order sa writes them, as jq keeps them.
        assert_eq!(
            filtered.stdout,
            format!("{}\n", compact(&plain.stdout)),
            "{args:?}"
        );
    }
    for args in lists {
        let expected = env.run(&[args, &["--json"][..]].concat()).json();
        // A list's elements, or a report's keys (`config show`, `usage`).
        let count = match expected {
            serde_json::Value::Array(items) => items.len(),
            serde_json::Value::Object(keys) => keys.len(),
            other => panic!("{args:?} printed {other}"),
        };
        let run = jq(&env, args, "length").ok();
        assert_eq!(run.stdout, format!("{count}\n"), "{args:?}");
    }
}

#[test]
fn strings_print_raw_and_other_values_as_compact_json_one_per_line() {
    let (env, _) = populated();
    let show = |expr: &str| jq(&env, &["show", "beta"], expr).ok().stdout;
    assert_eq!(show(".name"), "beta\n");
    assert_eq!(show(".id"), "2\n");
    assert_eq!(show(".roles"), "[\"viewer\"]\n");
    assert_eq!(
        show("{name, roles}"),
        "{\"name\":\"beta\",\"roles\":[\"viewer\"]}\n"
    );
    assert_eq!(
        show(".name, .id, .email"),
        "beta\n2\nbeta@default.sa.local\n"
    );
    assert_eq!(show(".no_such_field"), "null\n");
    assert_eq!(show(".description"), "null\n");
    assert_eq!(show("empty"), "");
    assert_eq!(
        show(".name | \"line one\\nline two\""),
        "line one\nline two\n"
    );
    let list = |expr: &str| jq(&env, &["list"], expr).ok().stdout;
    assert_eq!(list(".[].name"), "alpha\nbeta\n");
    assert_eq!(list("map(.id)"), "[1,2]\n");
    assert_eq!(
        list("map(select(.roles | index(\"viewer\"))) | .[].name"),
        "beta\n"
    );
    assert_eq!(list("map(.name) | join(\",\")"), "alpha,beta\n");
    assert_eq!(list(".[] | [.id, .name] | @tsv"), "1\talpha\n2\tbeta\n");
    assert_eq!(
        list(".[] | [.id, .name] | @csv"),
        "1,\"alpha\"\n2,\"beta\"\n"
    );
    assert_eq!(list(".[0] | to_entries | .[1].key"), "org\n");
    assert_eq!(list("[.[].active_tokens] | add"), "2\n");
}

#[test]
fn jq_implies_json_and_goes_with_json_or_output_json() {
    let (env, _) = populated();
    let alone = jq(&env, &["token", "list"], ".[].account").ok();
    assert_eq!(alone.stdout, "alpha\nbeta\n");
    for format in [&["--json"][..], &["-o", "json"], &["--output", "json"]] {
        let run = jq(&env, &[&["token", "list"], format].concat(), ".[].account").ok();
        assert_eq!(run.stdout, alone.stdout, "{format:?}");
    }
    // A global flag, before the subcommand too.
    let before = env.run(&["--jq", ".[].account", "token", "list"]).ok();
    assert_eq!(before.stdout, alone.stdout);
}

#[test]
fn jq_with_a_table_or_names_is_a_usage_error() {
    let (env, _) = populated();
    for format in [
        &["-o", "table"][..],
        &["-o", "name"],
        &["--output", "table"],
    ] {
        let run = jq(&env, &[&["list"], format].concat(), ".[].name")
            .code(2)
            .error_contains("`--jq` and `-o ");
        assert_eq!(run.stdout, "", "{run}");
    }
}

#[test]
fn a_bad_expression_is_refused_before_the_command_runs() {
    let env = TestEnv::new();
    // Not even the database is created.
    let run = jq(&env, &["create", "--name", "xbot"], ".[")
        .code(2)
        .error_contains("error: invalid --jq expression: expected a closing bracket");
    assert_eq!(run.stdout, "");
    assert!(!env.db_path().exists(), "{run}");
    env.create("bot");
    let events = env.json(&["audit"]).as_array().map(Vec::len);
    for (args, expr) in [
        (&["create", "--name", "xbot"][..], ".["),
        (&["token", "add", "bot"], ".["),
        (&["token", "add", "bot"], "no_such_function"),
        (&["token", "add", "bot", "--json"], "$undefined"),
        (&["delete", "bot", "--yes"], "{"),
        (&["list"], ".name |"),
    ] {
        let run = jq(&env, args, expr)
            .code(2)
            .error_contains("error: invalid --jq expression: ");
        assert_eq!(run.stdout, "", "{run}");
        assert_eq!(run.stderr.lines().count(), 1, "{run}");
    }
    assert_eq!(
        env.json(&["token", "list"]),
        serde_json::json!([]),
        "no token minted"
    );
    let names = jq(&env, &["list", "--status", "all"], ".[].name").ok();
    assert_eq!(names.stdout, "bot\n", "nothing created or deleted");
    assert_eq!(env.json(&["audit"]).as_array().map(Vec::len), events);
}

#[test]
fn a_failing_expression_is_exit_1_on_one_line() {
    let (env, _) = populated();
    let run = jq(&env, &["list"], ".foo")
        .code(1)
        .error_contains("error: --jq: cannot index");
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr.lines().count(), 1, "{run}");
    // However long the value it failed on, the line stays short.
    assert!(run.stderr.len() < 300, "{run}");
    let run = jq(&env, &["show", "alpha"], "error(\"stop here\")")
        .code(1)
        .error_contains("error: --jq: stop here");
    assert_eq!(run.stdout, "");
    // What came out before the failure is printed, as jq prints it.
    let run = jq(&env, &["list"], ".[0].name, error(\"late\")").code(1);
    assert_eq!(run.stdout, "alpha\n", "{run}");
    assert_eq!(run.stderr, "error: --jq: late\n");
    // The command itself has done its work by then: the account exists.
    jq(&env, &["create", "--name", "gamma", "-q"], ".name.first")
        .code(1)
        .error_contains("--jq: cannot index");
    env.run(&["show", "gamma"]).ok();
}

#[test]
fn token_add_and_rotate_print_the_raw_token_under_jq() {
    let (env, _) = populated();
    let run = jq(&env, &["token", "add", "alpha"], ".token").ok();
    let token = run.stdout.trim_end();
    assert_eq!(run.stdout.lines().count(), 1, "{run}");
    assert!(token.starts_with("sa_"), "{run}");
    verify(&env, token, &[]).ok();
    let run = jq(&env, &["token", "rotate", token_id(token)], ".token").ok();
    let rotated = run.stdout.trim_end();
    assert_ne!(rotated, token);
    verify(&env, rotated, &[]).ok();
    let run = jq(&env, &["token", "add", "alpha"], "{id, status}").ok();
    assert!(run.stdout.ends_with(",\"status\":\"active\"}\n"), "{run}");
}

#[test]
fn a_failing_expression_on_a_new_token_says_to_revoke_it_and_shows_no_secret() {
    let (env, _) = populated();
    let before = env.json(&["token", "list"]).as_array().map(Vec::len);
    let run = jq(&env, &["token", "add", "alpha", "-q"], ".token | error");
    // The token is stored and was not delivered: the storage-side failure of SPEC §2.
    let run = run
        .code(3)
        .error_contains("could not be printed (revoke it with");
    assert_eq!(run.stdout, "");
    let tokens = env.json(&["token", "list"]);
    let minted = tokens.as_array().expect("a list");
    assert_eq!(Some(minted.len()), before.map(|n| n + 1));
    let id = minted
        .iter()
        .filter_map(|t| t["id"].as_str())
        .find(|id| run.stderr.contains(&format!("sa token revoke {id}")))
        .expect("the message names the new token");
    assert!(run.stderr.contains(&format!("sa_{id}_***")), "{run}");
    assert!(!run.stderr.contains("_***_"), "{run}");
}

#[test]
fn the_secret_in_an_error_about_another_value_is_masked() {
    let (env, token) = populated();
    // `error` with the whole minted document: the message quotes the token.
    let run = jq(&env, &["token", "add", "alpha"], "error").code(3);
    assert!(!run.stderr.contains(secret_part(&token)), "{run}");
    let secret_like = run
        .stderr
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| word.len() >= 32)
        .count();
    assert_eq!(secret_like, 0, "{run}");
}

#[test]
fn exit_codes_stay_the_commands_own() {
    let env = TestEnv::new();
    env.create("bot");
    env.add_token("bot", &[]);
    let soon = env.add_token("bot", &["--expires", "4h"]);
    let args = ["token", "list", "--expiring-within", "1d", "--exit-code"];
    let run = jq(&env, &args, ".[].id").code(1);
    assert_eq!(run.stdout, format!("{}\n", token_id(&soon)));
    assert_eq!(run.stderr, "");
    let args = ["token", "list", "--expiring-within", "1h", "--exit-code"];
    let run = jq(&env, &args, ".[].id").ok();
    assert_eq!(run.stdout, "");
    // `can` answers no with exit 1, filtered or not.
    let run = jq(&env, &["can", "bot", "deploys:write"], ".allowed").code(1);
    assert_eq!(run.stdout, "false\n");
    let run = verify(&env, "sa_notatoken", &["--jq", ".valid, .reason"]).code(1);
    assert_eq!(run.stdout, "false\nmalformed\n");
}
