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
    assert!(!env.database_exists(), "{run}");
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
fn jq_is_refused_where_it_could_lose_a_new_token() {
    // A token is shown once: a filter that leaves it out, fails or never ends would lose it
    // after it was stored. Refused before anything is minted.
    let (env, token) = populated();
    let before = env.json(&["token", "list"]);
    for args in [
        &["token", "add", "alpha"][..],
        &["token", "rotate", token_id(&token)],
    ] {
        for expression in [".token", ".id", "empty", "def f: 1 + f; f"] {
            jq(&env, args, expression)
                .code(2)
                .error_contains("shown only once");
        }
    }
    assert_eq!(
        env.json(&["token", "list"]),
        before,
        "nothing minted or rotated"
    );
    // `--json` still gives the token to a pipeline.
    let minted = env.json(&["token", "add", "alpha"]);
    verify(&env, minted["token"].as_str().expect("the token"), &[]).ok();
}

#[test]
fn a_token_in_a_jq_message_is_masked() {
    let (env, token) = populated();
    // At run time: a message the expression builds from a token.
    let run = jq(&env, &["list"], &format!("error(\"leaked {token} here\")")).code(1);
    assert!(!run.stderr.contains(secret_part(&token)), "{run}");
    assert!(
        run.stderr.contains(&format!("sa_{}_***", token_id(&token))),
        "{run}"
    );
    // At compile time: the text a parse error quotes, cut short after it is masked.
    let run = jq(&env, &["list"], &format!(". {token}")).code(2);
    assert!(!run.stderr.contains(&secret_part(&token)[..8]), "{run}");
}

#[test]
fn deep_expressions_run_and_results_that_are_not_json_are_refused() {
    let env = TestEnv::new();
    env.create("bot");
    // jaq recurses; sa runs on a deep stack, so a thousand levels are fine.
    let nested = format!("{}1{}", "[".repeat(1000), "]".repeat(1000));
    let run = jq(&env, &["list"], &nested).ok();
    assert!(run.stdout.starts_with("[[[["), "{run}");
    let run = jq(
        &env,
        &["list"],
        "def f(n): if n == 0 then 0 else 1 + f(n - 1) end; f(1000)",
    )
    .ok();
    assert_eq!(run.stdout, "1000\n");
    for expression in ["nan", "infinite", "{(1): 2}"] {
        jq(&env, &["list"], expression)
            .code(1)
            .error_contains("not JSON");
    }
    // The environment may hold $SA_TOKEN: `env` is empty.
    let run = jq(&env, &["list"], "env").ok();
    assert_eq!(run.stdout, "{}\n");
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
