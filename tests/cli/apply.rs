//! `sa export` and `sa apply -f` (issue 13): the plan for each kind of change, all or nothing,
//! errors naming the file's line, the round trip, idempotence, tokens as policy written to
//! `--token-dir`, and `--exit-code` for drift.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::audit::{actions, events};
use crate::support::{Run, TestEnv, file_mode};
use crate::verify::valid;

fn write(env: &TestEnv, name: &str, text: &str) -> PathBuf {
    let path = env.root().join(name);
    std::fs::write(&path, text).expect("write the file");
    path
}

/// `sa apply -f FILE ARGS`.
fn apply(env: &TestEnv, file: &Path, args: &[&str]) -> Run {
    let mut all = vec!["apply", "-f", file.to_str().expect("a UTF-8 path")];
    all.extend_from_slice(args);
    env.run(&all)
}

/// The plan's lines (stdout without its summary line).
fn plan_lines(run: &Run) -> Vec<String> {
    run.stdout
        .lines()
        .filter(|l| l.starts_with(['+', '~', '-']))
        .map(str::to_string)
        .collect()
}

/// A database after the README's start: a role, two accounts (one disabled), a token.
fn populated() -> TestEnv {
    let env = TestEnv::new();
    env.run(&[
        "role",
        "create",
        "deployer",
        "--permission",
        "deploys:write",
        "--description",
        "ships releases",
    ])
    .ok();
    env.run(&[
        "create",
        "--name",
        "ci-bot",
        "--role",
        "deployer",
        "--description",
        "CI",
    ])
    .ok();
    env.create("old-bot");
    env.run(&["disable", "old-bot", "--reason", "key exposed"])
        .ok();
    env.add_token("ci-bot", &["--name", "deploy", "--scope", "deploys:write"]);
    env
}

fn exported(env: &TestEnv) -> String {
    env.run(&["export"]).ok().stdout
}

#[test]
fn export_writes_roles_accounts_and_token_metadata_never_a_secret() {
    let env = populated();
    let token = env.add_token("ci-bot", &["--name", "nightly"]);
    let text = exported(&env);
    assert!(text.contains("[[roles]]\nname = \"deployer\"\ndescription = \"ships releases\"\npermissions = [\"deploys:write\"]"), "{text}");
    assert!(text.contains("[[accounts]]\nname = \"ci-bot\"\ndescription = \"CI\"\nroles = [\"deployer\"]\nstatus = \"active\""), "{text}");
    assert!(
        text.contains(
            "name = \"old-bot\"\nstatus = \"disabled\"\ndisabled_reason = \"key exposed\""
        ),
        "{text}"
    );
    assert!(
        text.contains("label = \"deploy\"\nscopes = [\"deploys:write\"]\nexpires = \"20"),
        "{text}"
    );
    assert!(text.contains("label = \"nightly\""), "{text}");
    assert!(
        !text.contains(&token[3..]) && !text.contains("argon2"),
        "{text}"
    );
    // Labels in order, accounts by name: the same database exports the same bytes.
    assert!(text.find("label = \"deploy\"") < text.find("label = \"nightly\""));
    assert_eq!(exported(&env), text);

    let json = env.json(&["export"]);
    assert_eq!(json["org"], "default");
    assert_eq!(json["accounts"][1]["description"], Value::Null);
    assert_eq!(json["accounts"][1]["roles"], serde_json::json!([]));
    assert_eq!(json["accounts"][0]["tokens"][0]["status"], "active");
}

#[test]
fn a_token_without_a_label_is_left_out_and_counted() {
    let env = populated();
    env.add_token("ci-bot", &[]);
    let run = env.run(&["export"]).ok();
    assert!(
        run.stderr.contains("1 live token(s) without a label"),
        "{run}"
    );
}

#[test]
fn the_export_plans_nothing_and_applying_it_twice_changes_nothing() {
    let env = populated();
    let file = write(&env, "org.toml", &exported(&env));
    let before = events(&env, &[]).len();
    let run = apply(&env, &file, &["--dry-run", "--exit-code"]).ok();
    assert!(plan_lines(&run).is_empty(), "{run}");
    assert!(run.stdout.contains("No changes"), "{run}");
    // Through stdin too, as `sa export | sa apply -f - --dry-run` runs.
    let text = std::fs::read_to_string(&file).expect("the file");
    let run = env
        .run_with_stdin(&["apply", "-f", "-", "--dry-run", "--exit-code"], &text)
        .ok();
    assert!(plan_lines(&run).is_empty(), "{run}");
    apply(&env, &file, &["--exit-code"]).ok();
    apply(&env, &file, &["--exit-code"]).ok();
    assert_eq!(
        events(&env, &[]).len(),
        before,
        "no audit event for nothing"
    );
    // From cron, with `--quiet`, nothing to do is nothing printed.
    let run = apply(&env, &file, &["--quiet"]).ok();
    assert_eq!(run.stdout, "", "{run}");
}

#[test]
fn applying_to_an_empty_database_then_exporting_gives_the_file_back() {
    let source = populated();
    let text = exported(&source);
    let env = TestEnv::new();
    let file = write(&env, "org.toml", &text);
    let dir = env.root().join("tokens");
    apply(&env, &file, &["--token-dir", dir.to_str().expect("utf-8")]).ok();
    let again = exported(&env);
    // Tokens aside: the new token has its own expiry.
    let without_expiry = |t: &str| {
        t.lines()
            .filter(|l| !l.starts_with("expires = "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(without_expiry(&again), without_expiry(&text));
    let second = apply(&env, &file, &["--dry-run", "--exit-code"]).ok();
    assert!(plan_lines(&second).is_empty(), "{second}");
}

#[test]
fn the_plan_shows_every_kind_of_change() {
    let env = populated();
    env.create("stray-bot");
    env.run(&["role", "create", "unused", "--permission", "x:read"])
        .ok();
    let file = write(
        &env,
        "want.toml",
        r#"
[[roles]]
name = "deployer"
description = "ships releases"
permissions = ["deploys:write", "deploys:delete"]

[[roles]]
name = "reader"
permissions = ["*:read"]

[[accounts]]
name = "ci-bot"
description = "CI pipeline"
roles = ["reader"]
status = "disabled"
disabled_reason = "rebuilding"

[[accounts]]
name = "old-bot"

[[accounts]]
name = "new-bot"
roles = ["deployer"]
"#,
    );
    let run = apply(&env, &file, &["--dry-run", "--prune", "--exit-code"]).code(1);
    assert_eq!(
        plan_lines(&run),
        [
            "~ update role deployer: +deploys:delete",
            "+ create role reader: *:read",
            "~ update account ci-bot: description, +reader, -deployer, disabled (rebuilding)",
            "+ create account new-bot: +deployer",
            "~ update account old-bot: enabled",
            "- delete account stray-bot",
            "- delete role unused",
        ],
        "{run}"
    );
    assert!(
        run.stdout
            .ends_with("Plan: 2 to add, 3 to change, 2 to delete.\n"),
        "{run}"
    );
    assert!(run.stderr.is_empty(), "{run}");
    // A dry run changed nothing.
    assert_eq!(env.json(&["show", "ci-bot"])["status"], "active");

    // Without --prune, nothing is deleted; the plan says so by leaving it out.
    let run = apply(&env, &file, &["--dry-run"]).ok();
    assert!(!run.stdout.contains("- delete"), "{run}");

    let json = env.json(&[
        "apply",
        "-f",
        file.to_str().expect("utf-8"),
        "--dry-run",
        "--prune",
    ]);
    assert_eq!(json["dry_run"], true);
    assert_eq!(json["add"], 2);
    assert_eq!(json["change"], 3);
    assert_eq!(json["delete"], 2);
    assert_eq!(json["changes"][0]["op"], "update");
    assert_eq!(json["changes"][0]["kind"], "role");
    assert_eq!(json["changes"][0]["details"][0], "+deploys:delete");

    let before = events(&env, &[]).len();
    let run = apply(&env, &file, &["--prune", "--yes"]).ok();
    assert!(
        run.stdout
            .ends_with("Applied: 2 added, 3 changed, 2 deleted.\n"),
        "{run}"
    );
    let ci = env.json(&["show", "ci-bot"]);
    assert_eq!(ci["status"], "disabled");
    assert_eq!(ci["disabled_reason"], "rebuilding");
    assert_eq!(ci["description"], "CI pipeline");
    assert_eq!(ci["roles"], serde_json::json!(["reader"]));
    assert_eq!(env.json(&["show", "old-bot"])["status"], "active");
    env.run(&["show", "stray-bot"]).code(1);
    env.run(&["role", "show", "unused"]).code(1);
    // One event per change, then the apply event naming the file's hash.
    let all = events(&env, &[]);
    let new: Vec<String> = actions(&all[before..]);
    assert_eq!(
        new,
        [
            "role.update",
            "role.create",
            "account.update",
            "role.grant",
            "role.revoke",
            "account.disable",
            "account.create",
            "account.enable",
            "account.delete",
            "role.delete",
            "apply",
        ]
    );
    let last = all.last().expect("the apply event");
    assert!(
        last["target"]
            .as_str()
            .is_some_and(|t| t.ends_with("/want.toml")),
        "{last}"
    );
    assert_eq!(last["details"]["sha256"].as_str().map(str::len), Some(64));
    assert_eq!(last["details"]["deleted"], 2);

    // Enabling with the file again, and the file is the truth: nothing left to do.
    let again = apply(&env, &file, &["--dry-run", "--prune", "--exit-code"]).ok();
    assert!(plan_lines(&again).is_empty(), "{again}");
}

#[test]
fn prune_deletes_only_after_confirmation() {
    let env = populated();
    let file = write(
        &env,
        "one.toml",
        &exported(&env).replace("old-bot", "older-bot"),
    );
    apply(&env, &file, &["--prune"])
        .code(2)
        .error_contains("delete account `old-bot` needs confirmation");
    assert_eq!(
        env.json(&["show", "old-bot"])["status"],
        "disabled",
        "nothing changed"
    );
    env.run(&["show", "older-bot"]).code(1);
}

#[test]
fn a_file_with_one_bad_entry_changes_nothing_and_names_the_line() {
    let env = populated();
    let before = events(&env, &[]).len();
    let cases: &[(&str, &str, i32)] = &[
        (
            "[[accounts]]\nname = \"fine-bot\"\n\n[[accounts]]\nname = \"Bad Name\"\n",
            "bad.toml:5: invalid account name `Bad Name`",
            2,
        ),
        (
            "[[accounts]]\nname = \"fine-bot\"\nroles = [\"viewer\",\n  \"no-such-role\"]\n",
            "bad.toml:4: the role `no-such-role` does not exist",
            1,
        ),
        (
            "[[accounts]]\nname = \"fine-bot\"\nrole = [\"viewer\"]\n",
            "bad.toml:3: unknown key `role` in an account",
            2,
        ),
        (
            "[[roles]]\nname = \"r2\"\npermissions = [\"ok:read\", \"not a permission\"]\n",
            "bad.toml:3: invalid permission",
            2,
        ),
        (
            "[[accounts]]\nname = \"fine-bot\"\n[[accounts.tokens]]\nlabel = \"x\"\nexpires = \"400d\"\n",
            "bad.toml:4: expiry",
            1,
        ),
        ("[[accounts]\nname = \"x\"\n", "bad.toml:1: invalid TOML", 2),
    ];
    for (text, message, code) in cases {
        let file = write(&env, "bad.toml", text);
        apply(&env, &file, &[]).code(*code).error_contains(message);
    }
    env.run(&["show", "fine-bot"]).code(1);
    assert_eq!(events(&env, &[]).len(), before);
}

#[test]
fn a_failure_halfway_through_the_apply_leaves_everything_as_it_was() {
    let env = populated();
    env.write_config("[limits]\nmax_tokens_per_account = 2\n");
    let file = write(
        &env,
        "many.toml",
        "[[accounts]]\nname = \"a-bot\"\n\n[[accounts]]\nname = \"ci-bot\"\ndescription = \"changed\"\nroles = [\"deployer\"]\n[[accounts.tokens]]\nlabel = \"deploy\"\nscopes = [\"deploys:write\"]\n[[accounts.tokens]]\nlabel = \"one\"\n[[accounts.tokens]]\nlabel = \"two\"\n",
    );
    let dir = env.root().join("secrets");
    // The plan is fine; the second mint reaches the limit inside the transaction.
    let run = apply(&env, &file, &["--token-dir", dir.to_str().expect("utf-8")]).code(1);
    // (Above the error, the warning that `deploy`, minted by hand, has no file there.)
    let last = run.stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: ") && last.contains("limits.max_tokens_per_account"),
        "{run}"
    );
    env.run(&["show", "a-bot"]).code(1);
    assert_eq!(env.json(&["show", "ci-bot"])["description"], "CI");
    assert_eq!(
        env.json(&["token", "list", "ci-bot"])
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert!(!dir.join("ci-bot/one").exists());
}

#[test]
fn the_account_limit_is_found_by_the_plan_at_its_line() {
    let env = populated();
    env.write_config("[limits]\nmax_accounts = 3\n");
    let file = write(
        &env,
        "many.toml",
        "[[accounts]]\nname = \"a-bot\"\n\n[[accounts]]\nname = \"b-bot\"\n",
    );
    apply(&env, &file, &["--dry-run"])
        .code(1)
        .error_contains("many.toml:5: account limit reached: 3 (`limits.max_accounts`");
}

#[test]
fn a_declared_account_that_is_deleted_is_refused_with_how_to_restore_it() {
    let env = populated();
    env.run(&["delete", "old-bot", "--yes"]).ok();
    let file = write(&env, "f.toml", "\n[[accounts]]\nname = \"old-bot\"\n");
    apply(&env, &file, &["--dry-run"]).code(1).error_contains(
        "f.toml:3: the account `old-bot` is deleted (id 2); restore it with `sa undelete 2`",
    );
}

#[test]
fn a_declared_token_is_minted_into_the_token_dir_and_verifies() {
    let env = populated();
    let file = write(
        &env,
        "tokens.toml",
        "[[accounts]]\nname = \"ci-bot\"\nroles = [\"deployer\"]\ndescription = \"CI\"\n\n[[accounts.tokens]]\nlabel = \"deploy\"\nscopes = [\"deploys:write\"]\n\n[[accounts.tokens]]\nlabel = \"release notes\"\nexpires = \"2d\"\n",
    );
    // Minting without somewhere for the secret to go is refused before anything changes.
    apply(&env, &file, &[])
        .code(2)
        .error_contains("--token-dir");
    let dir = env.root().join("secrets");
    let run = apply(&env, &file, &["--token-dir", dir.to_str().expect("utf-8")]).ok();
    assert_eq!(
        plan_lines(&run),
        ["+ mint token ci-bot/release notes: expires in 2d"],
        "{run}"
    );
    let path = dir.join("ci-bot").join("release%20notes");
    assert_eq!(file_mode(&path), 0o600);
    assert_eq!(file_mode(&dir.join("ci-bot")), 0o700);
    let token = std::fs::read_to_string(&path).expect("the token file");
    let answer = valid(&env, token.trim_end(), &[]);
    assert_eq!(answer["account"], "ci-bot");
    // The secret is only in the file: not in the output, not in the audit trail.
    assert!(!run.stdout.contains(token.trim_end()) && !run.stderr.contains(token.trim_end()));
    let trail = env.run(&["audit", "--json"]).ok().stdout;
    assert!(!trail.contains(&token.trim_end()[16..]));
    let listed = env.json(&["token", "list", "ci-bot"]);
    let minted = listed
        .as_array()
        .expect("tokens")
        .iter()
        .find(|t| t["name"] == "release notes")
        .expect("the minted token");
    assert_eq!(minted["created_by"], "tester");
    // Declared and present: nothing more to do.
    let again = apply(&env, &file, &["--dry-run", "--exit-code"]).ok();
    assert!(plan_lines(&again).is_empty(), "{again}");
    // A token file gone (a tmpfs after a reboot) is said, with how to make a new one; the
    // token minted by hand before the file existed (`deploy`) has none either.
    std::fs::remove_file(&path).expect("remove the token file");
    let run = apply(&env, &file, &["--token-dir", dir.to_str().expect("utf-8")]).ok();
    let warnings: Vec<&str> = run.stderr.lines().collect();
    assert_eq!(warnings.len(), 2, "{run}");
    assert!(
        warnings.iter().any(|w| w.starts_with("warning: token `")
            && w.contains("(ci-bot/release notes) has no file at")
            && w.contains("`sa token revoke ")),
        "{run}"
    );
    // Even `--quiet` says it: a cron job's silence would hide a broken service.
    let quiet = apply(
        &env,
        &file,
        &["--token-dir", dir.to_str().expect("utf-8"), "-q"],
    )
    .ok();
    assert_eq!(quiet.stderr.lines().count(), 2, "{quiet}");
    // The advice works: revoked, the token is missing, and the next apply mints it anew.
    let lost = minted["id"].as_str().expect("an id");
    env.run(&["token", "revoke", lost]).ok();
    let run = apply(&env, &file, &["--token-dir", dir.to_str().expect("utf-8")]).ok();
    assert_eq!(
        plan_lines(&run),
        ["+ mint token ci-bot/release notes: expires in 2d"],
        "{run}"
    );
    assert!(path.exists());
}

#[test]
fn a_token_is_rotated_once_its_life_left_drops_under_rotate_before() {
    let env = populated();
    let dir = env.root().join("secrets");
    let dir_arg = dir.to_str().expect("utf-8");
    let file = write(
        &env,
        "rotate.toml",
        "[[accounts]]\nname = \"bot-x\"\n[[accounts.tokens]]\nlabel = \"api\"\nexpires = \"1h\"\nrotate_before = \"59m40s\"\ngrace = \"5m\"\n",
    );
    apply(&env, &file, &["--token-dir", dir_arg]).ok();
    let path = dir.join("bot-x").join("api");
    let first = std::fs::read_to_string(&path).expect("the token file");
    // A fresh token has its whole hour: more than rotate_before (20 s of room for a slow
    // machine between the two applies).
    let run = apply(&env, &file, &["--token-dir", dir_arg, "--exit-code"]).ok();
    assert!(plan_lines(&run).is_empty(), "{run}");
    std::thread::sleep(std::time::Duration::from_secs(21));
    let run = apply(&env, &file, &["--token-dir", dir_arg]).ok();
    let lines = plan_lines(&run);
    assert_eq!(lines.len(), 1, "{run}");
    assert!(
        lines[0].starts_with("~ rotate token bot-x/api: expires in 59m"),
        "{run}"
    );
    assert!(
        lines[0].contains("under rotate_before 59m 40s") && lines[0].ends_with("grace 5m"),
        "{run}"
    );
    let second = std::fs::read_to_string(&path).expect("the token file");
    assert_ne!(first, second);
    assert_eq!(file_mode(&path), 0o600);
    // The old token keeps working for its grace period; the new one works.
    valid(&env, first.trim_end(), &[]);
    valid(&env, second.trim_end(), &[]);
    let rotated = crate::audit::only(&env, "token.rotate");
    assert_ne!(rotated["details"]["old_token_until"], "revoked");
}

#[test]
fn changed_scopes_replace_the_token_and_the_account_narrows_at_once() {
    let env = populated();
    let dir = env.root().join("secrets");
    let dir_arg = dir.to_str().expect("utf-8");
    let mut text = exported(&env);
    text = text.replace(
        "scopes = [\"deploys:write\"]",
        "scopes = [\"deploys:read\"]",
    );
    let file = write(&env, "scopes.toml", &text);
    let run = apply(&env, &file, &["--token-dir", dir_arg]).ok();
    let lines = plan_lines(&run);
    assert_eq!(lines.len(), 1, "{run}");
    assert!(
        lines[0].starts_with(
            "~ rotate token ci-bot/deploy: scopes deploys:write → deploys:read, replaces "
        ),
        "{run}"
    );
    let token = std::fs::read_to_string(dir.join("ci-bot/deploy")).expect("the token file");
    let answer = valid(&env, token.trim_end(), &[]);
    assert_eq!(answer["permissions"], serde_json::json!([]));
    // No `grace` in the file: the replaced token was revoked at once.
    let old = env.json(&["token", "list", "ci-bot", "--status", "revoked"]);
    assert_eq!(old.as_array().map(Vec::len), Some(1), "{old}");
    assert_eq!(old[0]["replaced_by"], answer["token_id"]);
    // The file keeps an `expires` in the past of the new token: not compared, nothing to do.
    let again = apply(&env, &file, &["--dry-run", "--exit-code"]).ok();
    assert!(plan_lines(&again).is_empty(), "{again}");
}

#[test]
fn exit_code_reports_drift_and_dry_run_needs_the_database() {
    let env = populated();
    let file = write(&env, "org.toml", &exported(&env));
    apply(&env, &file, &["--dry-run", "--exit-code"]).ok();
    env.run(&["update", "ci-bot", "--description", "edited by hand"])
        .ok();
    let run = apply(&env, &file, &["--dry-run", "--exit-code"]).code(1);
    assert_eq!(plan_lines(&run), ["~ update account ci-bot: description"]);
    assert!(run.stderr.is_empty(), "drift is no error: {run}");
    // Applying it puts the file back, and says so with --exit-code too.
    apply(&env, &file, &["--exit-code"]).code(1);
    apply(&env, &file, &["--dry-run", "--exit-code"]).ok();

    // Before the first apply, the dry run plans against an empty database and makes none.
    let empty = TestEnv::new();
    let file = write(&empty, "org.toml", "[[accounts]]\nname = \"ci-bot\"\n");
    let run = apply(&empty, &file, &["--dry-run", "--exit-code"]).code(1);
    assert_eq!(plan_lines(&run), ["+ create account ci-bot"], "{run}");
    assert!(
        run.stderr.contains("the plan is against an empty one"),
        "{run}"
    );
    assert!(!empty.database_exists());
}

#[test]
fn several_organizations_export_and_apply_under_orgs() {
    let env = populated();
    env.run(&["--org", "acme", "create", "--name", "acme-bot"])
        .ok();
    let text = env.run(&["export", "--all-orgs"]).ok().stdout;
    assert!(
        text.contains("[[orgs.acme.accounts]]\nname = \"acme-bot\""),
        "{text}"
    );
    assert!(
        text.contains("[[orgs.default.accounts]]\nname = \"ci-bot\""),
        "{text}"
    );
    let fresh = TestEnv::new();
    let file = write(&fresh, "all.toml", &text);
    // Tokens to mint and nowhere to put them: refused before the database is even made.
    apply(&fresh, &file, &[])
        .code(2)
        .error_contains("--token-dir");
    assert!(!fresh.database_exists());
    let dir = fresh.root().join("secrets");
    let run = apply(
        &fresh,
        &file,
        &["--token-dir", dir.to_str().expect("utf-8")],
    )
    .ok();
    assert!(
        run.stdout.contains("+ create account acme/acme-bot"),
        "{run}"
    );
    assert!(
        run.stdout.contains("+ mint token default/ci-bot/deploy"),
        "{run}"
    );
    assert!(dir.join("default/ci-bot/deploy").exists());
    assert_eq!(
        fresh.json(&["--org", "acme", "show", "acme-bot"])["org"],
        "acme"
    );
    let json = fresh.json(&["export", "--all-orgs"]);
    assert_eq!(json.as_array().map(Vec::len), Some(2));
}

#[test]
fn apply_and_export_never_run_under_a_token() {
    let env = populated();
    let token = env.add_token("ci-bot", &["--name", "acting"]);
    let file = write(&env, "org.toml", &exported(&env));
    for args in [
        vec!["export"],
        vec!["apply", "-f", file.to_str().expect("utf-8")],
    ] {
        Run::of(env.command().args(&args).env("SA_TOKEN", &token))
            .code(1)
            .error_contains("never runs under a token");
    }
}

#[test]
fn a_missing_or_binary_file_is_a_usage_error() {
    let env = populated();
    env.run(&["apply", "-f", "nowhere.toml"])
        .code(2)
        .error_contains("`nowhere.toml` does not exist");
    let file = env.root().join("binary.toml");
    std::fs::write(&file, [0xff, 0xfe, 0x00]).expect("write");
    apply(&env, &file, &[]).code(2).error_contains("not UTF-8");
}

#[test]
fn a_disabled_accounts_tokens_are_minted_too_so_its_export_round_trips() {
    let env = populated();
    env.run(&["enable", "old-bot"]).ok();
    env.add_token("old-bot", &["--name", "key"]);
    env.run(&["disable", "old-bot", "--reason", "key exposed"])
        .ok();
    let text = exported(&env);
    assert!(
        text.contains("disabled_reason = \"key exposed\"\n\n[[accounts.tokens]]\nlabel = \"key\""),
        "{text}"
    );
    let fresh = TestEnv::new();
    let file = write(&fresh, "org.toml", &text);
    let dir = fresh.root().join("secrets");
    let run = apply(
        &fresh,
        &file,
        &["--token-dir", dir.to_str().expect("utf-8")],
    )
    .ok();
    assert!(run.stdout.contains("+ mint token old-bot/key"), "{run}");
    let token = std::fs::read_to_string(dir.join("old-bot/key")).expect("the token file");
    // Minted, and rejected while its account is disabled.
    assert_eq!(
        crate::verify::rejected(&fresh, token.trim_end(), &[]),
        "disabled"
    );
    let strip = |t: &str| {
        t.lines()
            .filter(|l| !l.starts_with("expires = "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&exported(&fresh)), strip(&text));
}

#[test]
fn an_exported_token_that_has_since_expired_is_nothing_to_do() {
    let env = populated();
    let file = write(
        &env,
        "old.toml",
        "[[accounts]]\nname = \"ci-bot\"\ndescription = \"CI\"\nroles = [\"deployer\"]\n[[accounts.tokens]]\nlabel = \"deploy\"\nscopes = [\"deploys:write\"]\n[[accounts.tokens]]\nlabel = \"gone\"\nexpires = \"2020-01-01T00:00:00Z\"\n",
    );
    let run = apply(&env, &file, &["--dry-run", "--exit-code"]).ok();
    assert!(plan_lines(&run).is_empty(), "{run}");
    // A token to mint past `tokens.max_ttl` is refused (exit 1, as `token add` refuses it), at
    // its line.
    let file = write(
        &env,
        "bad.toml",
        "[[accounts]]\nname = \"ci-bot\"\n[[accounts.tokens]]\nlabel = \"new\"\nexpires = \"400d\"\nrotate_before = \"1d\"\n",
    );
    apply(&env, &file, &["--dry-run"])
        .code(1)
        .error_contains("bad.toml:4: expiry");
}

#[test]
fn a_label_too_long_for_a_file_name_is_refused_before_anything_is_minted() {
    let env = populated();
    let label = "ü".repeat(50);
    let file = write(
        &env,
        "long.toml",
        &format!("[[accounts]]\nname = \"app-bot\"\n[[accounts.tokens]]\nlabel = \"{label}\"\n"),
    );
    let dir = env.root().join("secrets");
    // The dry run, which CI runs, refuses it as the apply would.
    apply(&env, &file, &["--dry-run"])
        .code(2)
        .error_contains("longer than a file name may be (255)");
    apply(&env, &file, &["--token-dir", dir.to_str().expect("utf-8")])
        .code(2)
        .error_contains("longer than a file name may be (255)");
    env.run(&["show", "app-bot"]).code(1);
}

#[test]
fn disabling_a_declared_token_stops_its_predecessor_in_grace_too() {
    let env = populated();
    let old = env.add_token("ci-bot", &["--name", "api"]);
    let rotated = env
        .run(&["token", "rotate", &old[3..15], "--grace", "1h"])
        .ok()
        .stdout;
    let file = write(
        &env,
        "stop.toml",
        "[[roles]]\nname = \"deployer\"\ndescription = \"ships releases\"\npermissions = [\"deploys:write\"]\n[[accounts]]\nname = \"ci-bot\"\ndescription = \"CI\"\nroles = [\"deployer\"]\n[[accounts.tokens]]\nlabel = \"api\"\nstatus = \"disabled\"\n",
    );
    let run = apply(&env, &file, &[]).ok();
    let lines = plan_lines(&run);
    assert_eq!(lines.len(), 2, "{run}");
    assert!(lines[0].ends_with("in its grace period"), "{run}");
    crate::verify::rejected(&env, old.trim_end(), &[]);
    crate::verify::rejected(&env, rotated.trim_end(), &[]);
}

#[test]
fn export_of_an_unknown_organization_is_refused() {
    let env = populated();
    env.run(&["--org", "nosuch", "export"])
        .code(1)
        .error_contains("organization `nosuch` does not exist");
}

#[test]
fn a_blank_description_is_none_and_a_toml_datetime_is_an_expiry() {
    let env = populated();
    let file = write(
        &env,
        "blank.toml",
        "[[accounts]]\nname = \"blank-bot\"\ndescription = \"  \"\n[[accounts.tokens]]\nlabel = \"t\"\nexpires = 2099-01-01\n",
    );
    env.write_config("[tokens]\nmax_ttl = \"36500d\"\n");
    let dir = env.root().join("secrets");
    apply(&env, &file, &["--token-dir", dir.to_str().expect("utf-8")]).ok();
    assert_eq!(env.json(&["show", "blank-bot"])["description"], Value::Null);
    let tokens = env.json(&["token", "list", "blank-bot"]);
    assert_eq!(tokens[0]["expires_at"], "2099-01-01T23:59:59Z");
}

#[test]
fn prune_keeps_a_role_the_file_uses_only_if_the_file_declares_it() {
    let env = populated();
    let file = write(
        &env,
        "uses.toml",
        "[[accounts]]\nname = \"ci-bot\"\ndescription = \"CI\"\nroles = [\"deployer\"]\n",
    );
    apply(&env, &file, &["--dry-run"]).ok();
    apply(&env, &file, &["--dry-run", "--prune"])
        .code(1)
        .error_contains("uses.toml:4: the role `deployer` is not declared in the file, so `--prune` would delete it");
}

#[test]
fn an_empty_file_never_prunes_by_accident() {
    let env = populated();
    let empty = write(&env, "empty.toml", "# nothing yet\n");
    apply(&env, &empty, &["--dry-run", "--prune"])
        .code(2)
        .error_contains("declares nothing for organization `default`");
    env.run_with_stdin(&["apply", "-f", "-", "--prune", "--yes"], "")
        .code(2)
        .error_contains("declares nothing");
    assert_eq!(env.json(&["list"]).as_array().map(Vec::len), Some(2));
    // Said on purpose, it is what it says.
    let none = write(&env, "none.toml", "roles = []\naccounts = []\n");
    let run = apply(&env, &none, &["--dry-run", "--prune"]).ok();
    assert_eq!(plan_lines(&run).len(), 3, "{run}");
}

#[test]
fn a_token_declared_disabled_is_minted_paused_and_a_pause_the_file_does_not_mention_stays() {
    let env = populated();
    let dir = env.root().join("secrets");
    let dir_arg = dir.to_str().expect("utf-8");
    let text = "[[accounts]]\nname = \"ci-bot\"\ndescription = \"CI\"\nroles = [\"deployer\"]\n[[accounts.tokens]]\nlabel = \"spare\"\nstatus = \"disabled\"\n[[accounts.tokens]]\nlabel = \"deploy\"\nscopes = [\"deploys:write\"]\n";
    let file = write(&env, "paused.toml", text);
    let run = apply(&env, &file, &["--token-dir", dir_arg]).ok();
    assert_eq!(
        plan_lines(&run),
        ["+ mint token ci-bot/spare: expires in 30d, disabled"],
        "{run}"
    );
    let spare = std::fs::read_to_string(dir.join("ci-bot/spare")).expect("the token file");
    assert_eq!(
        crate::verify::rejected(&env, spare.trim_end(), &[]),
        "disabled"
    );
    assert_eq!(events(&env, &["--action", "token.add"]).len(), 2);
    // `deploy` paused by hand: the file does not say `status`, so it stays paused...
    let active = env.json(&["token", "list", "ci-bot", "--status", "active"]);
    let deploy = active[0]["id"].as_str().expect("an id").to_string();
    env.run(&["token", "disable", &deploy]).ok();
    let run = apply(&env, &file, &["--dry-run", "--exit-code"]).ok();
    assert!(plan_lines(&run).is_empty(), "{run}");
    // ...and `status = "active"` enables it.
    let said = text.replace(
        "scopes = [\"deploys:write\"]\n",
        "scopes = [\"deploys:write\"]\nstatus = \"active\"\n",
    );
    let file = write(&env, "active.toml", &said);
    let run = apply(&env, &file, &[]).ok();
    assert_eq!(
        plan_lines(&run),
        [format!("~ enable token ci-bot/deploy: {deploy}")],
        "{run}"
    );
}

#[test]
fn the_token_limit_is_found_by_the_plan_at_its_line() {
    let env = populated();
    env.write_config("[limits]\nmax_tokens_per_account = 2\n");
    let file = write(
        &env,
        "two.toml",
        "[[accounts]]\nname = \"ci-bot\"\ndescription = \"CI\"\nroles = [\"deployer\"]\n[[accounts.tokens]]\nlabel = \"one\"\n[[accounts.tokens]]\nlabel = \"two\"\n",
    );
    apply(&env, &file, &["--dry-run"])
        .code(1)
        .error_contains("two.toml:8: active token limit reached: 2");
}

#[test]
fn the_plan_counts_a_rotation_on_a_disabled_account_as_the_transaction_does() {
    let env = TestEnv::new();
    env.write_config("[limits]\nmax_tokens_per_account = 2\n");
    let dir = env.root().join("secrets");
    let dir_arg = dir.to_str().expect("utf-8");
    let base = "[[accounts]]\nname = \"bot-y\"\n";
    let tokens = |a: &str, b: &str| {
        format!("[[accounts.tokens]]\nlabel = \"a\"\n{a}[[accounts.tokens]]\nlabel = \"b\"\n{b}")
    };
    let file = write(&env, "f.toml", &format!("{base}{}", tokens("", "")));
    apply(&env, &file, &["--token-dir", dir_arg]).ok();
    // A rotation with grace at the limit is allowed, and leaves three active tokens.
    let grace = tokens("scopes = [\"x:read\"]\ngrace = \"1h\"\n", "");
    let file = write(&env, "f.toml", &format!("{base}{grace}"));
    apply(&env, &file, &["--token-dir", dir_arg]).ok();
    // Disabled, the account's tokens are not active, so a grace-less rotation no longer
    // frees its own place: the plan refuses it at its line, as the transaction would.
    let over = tokens("scopes = [\"x:read\"]\n", "scopes = [\"y:read\"]\n");
    let text = format!("{base}status = \"disabled\"\n{over}");
    let file = write(&env, "f.toml", &text);
    apply(&env, &file, &["--dry-run"])
        .code(1)
        .error_contains("f.toml:8: active token limit reached: 2");
}

#[test]
fn a_disabled_label_stops_its_predecessor_in_grace_even_when_the_current_token_is_gone() {
    let env = TestEnv::new();
    let dir = env.root().join("secrets");
    let dir_arg = dir.to_str().expect("utf-8");
    let head = "[[accounts]]\nname = \"bot-z\"\n[[accounts.tokens]]\nlabel = \"api\"\n";
    let file = write(&env, "f.toml", head);
    apply(&env, &file, &["--token-dir", dir_arg]).ok();
    let old = std::fs::read_to_string(dir.join("bot-z/api")).expect("the token file");
    let rotated = env
        .run(&["token", "rotate", &old[3..15], "--grace", "1h"])
        .ok()
        .stdout;
    env.run(&["token", "revoke", &rotated[3..15]]).ok();
    let file = write(&env, "f.toml", &format!("{head}status = \"disabled\"\n"));
    let run = apply(&env, &file, &["--token-dir", dir_arg]).ok();
    let lines = plan_lines(&run);
    assert_eq!(lines.len(), 2, "{run}");
    assert!(lines[0].ends_with("in its grace period"), "{run}");
    assert_eq!(
        crate::verify::rejected(&env, old.trim_end(), &[]),
        "disabled"
    );
    let again = apply(&env, &file, &["--dry-run", "--exit-code"]).ok();
    assert!(plan_lines(&again).is_empty(), "{again}");
}
