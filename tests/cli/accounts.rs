//! Service accounts: create, list, show, update, disable/enable, delete/undelete/purge, the
//! naming rule, the account limit and organizations (SPEC §1, §3).

use serde_json::Value;

use crate::support::TestEnv;

/// The names of the accounts in a `--json` list, in order.
fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a JSON array")
        .iter()
        .map(|a| a["name"].as_str().expect("a name").to_string())
        .collect()
}

/// `sa list ARGS --json`, as names.
fn listed(env: &TestEnv, args: &[&str]) -> Vec<String> {
    let mut all = vec!["list"];
    all.extend_from_slice(args);
    names(&env.json(&all))
}

fn id_of(account: &Value) -> String {
    account["id"].as_i64().expect("a numeric id").to_string()
}

#[test]
fn create_then_list_as_table_and_json() {
    let env = TestEnv::new();
    let created = env.create("ci-bot");
    assert_eq!(created["email"], "ci-bot@default.sa.local");
    let table = env.run(&["list"]).ok();
    assert!(table.stdout.contains("ci-bot"), "{table}");
    let list = env.json(&["list"]);
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    for key in [
        "id",
        "org",
        "name",
        "description",
        "email",
        "status",
        "roles",
        "created_at",
        "created_by",
        "updated_at",
    ] {
        assert!(list[0].get(key).is_some(), "missing {key}");
    }
    assert_eq!(list[0]["created_by"], "tester");
}

#[test]
fn create_records_description_and_roles() {
    let env = TestEnv::new();
    let created = env.json(&[
        "create",
        "--name",
        "deploy-bot",
        "--description",
        "Deploys the web app",
        "--role",
        "viewer",
        "--role",
        "editor",
        "--role",
        "admin",
    ]);
    assert_eq!(created["description"], "Deploys the web app");
    assert_eq!(created["status"], "active");
    assert_eq!(created["org"], "default");
    assert_eq!(
        created["roles"],
        serde_json::json!(["admin", "editor", "viewer"])
    );
    let shown = env.json(&["show", "deploy-bot"]);
    assert_eq!(shown["roles"], created["roles"]);
    assert_eq!(shown["description"], created["description"]);
}

#[test]
fn create_without_description_has_null_description() {
    let env = TestEnv::new();
    let created = env.create("plain-bot");
    assert_eq!(created["description"], Value::Null);
    assert_eq!(created["roles"], serde_json::json!([]));
}

#[test]
fn create_with_unknown_role_is_refused_and_creates_nothing() {
    let env = TestEnv::new();
    env.init_db();
    env.run(&["create", "--name", "ci-bot", "--role", "superuser"])
        .code(1)
        .error_contains("superuser");
    assert!(listed(&env, &[]).is_empty());
}

#[test]
fn account_create_alias_creates_the_same_kind_of_account() {
    let env = TestEnv::new();
    let created = env.json(&["account", "create", "--name", "alias-bot"]);
    assert_eq!(created["name"], "alias-bot");
    assert_eq!(listed(&env, &[]), ["alias-bot"]);
    assert_eq!(names(&env.json(&["account", "list"])), ["alias-bot"]);
}

#[test]
fn create_prints_a_note_on_stderr_and_the_record_on_stdout() {
    let env = TestEnv::new();
    let run = env.run(&["create", "--name", "ci-bot"]).ok();
    assert!(run.stdout.contains("ci-bot@default.sa.local"), "{run}");
    assert!(run.stderr.contains("created account `ci-bot`"), "{run}");
}

#[test]
fn list_table_has_a_header_and_one_row_per_account() {
    let env = TestEnv::new();
    env.create("alpha-bot");
    env.create("beta-bot");
    let run = env.run(&["list"]).ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{run}");
    assert!(lines[0].starts_with("ID"), "{run}");
    assert!(
        lines[0].contains("NAME") && lines[0].contains("STATUS"),
        "{run}"
    );
    assert!(lines[1].contains("alpha-bot") && lines[2].contains("beta-bot"));
}

#[test]
fn list_json_of_an_empty_database_is_an_empty_array() {
    let env = TestEnv::new();
    env.init_db();
    assert_eq!(env.json(&["list"]), serde_json::json!([]));
}

#[test]
fn list_json_timestamps_are_rfc3339_utc() {
    let env = TestEnv::new();
    env.create("ci-bot");
    let list = env.json(&["list"]);
    for key in ["created_at", "updated_at"] {
        let at = list[0][key].as_str().expect("a string");
        assert!(at.ends_with('Z') && at.contains('T'), "{key} = {at}");
    }
}

#[test]
fn list_status_filter_separates_active_disabled_and_deleted() {
    let env = TestEnv::new();
    env.create("active-bot");
    env.create("disabled-bot");
    env.create("deleted-bot");
    env.run(&["disable", "disabled-bot"]).ok();
    env.run(&["delete", "deleted-bot", "--yes"]).ok();
    assert_eq!(listed(&env, &["--status", "active"]), ["active-bot"]);
    assert_eq!(listed(&env, &["--status", "disabled"]), ["disabled-bot"]);
    assert_eq!(listed(&env, &["--status", "deleted"]), ["deleted-bot"]);
    // `all` is all, as `token list --status all` includes revoked tokens; the default is
    // what is not deleted.
    assert_eq!(
        listed(&env, &["--status", "all"]),
        ["active-bot", "deleted-bot", "disabled-bot"]
    );
    assert_eq!(listed(&env, &[]), ["active-bot", "disabled-bot"]);
}

#[test]
fn list_with_unknown_status_is_a_usage_error() {
    let env = TestEnv::new();
    env.run(&["list", "--status", "sleeping"])
        .code(2)
        .error_contains("sleeping");
}

#[test]
fn list_role_filter_keeps_only_holders_of_the_role() {
    let env = TestEnv::new();
    env.json(&["create", "--name", "reader", "--role", "viewer"]);
    env.json(&["create", "--name", "writer", "--role", "editor"]);
    env.create("nobody");
    assert_eq!(listed(&env, &["--role", "viewer"]), ["reader"]);
    assert_eq!(listed(&env, &["--role", "editor"]), ["writer"]);
    assert!(listed(&env, &["--role", "admin"]).is_empty());
}

#[test]
fn list_search_matches_name_description_and_email_case_insensitively() {
    let env = TestEnv::new();
    env.json(&[
        "create",
        "--name",
        "deploy-bot",
        "--description",
        "Ships the WebApp",
    ]);
    env.create("backup-job");
    assert_eq!(listed(&env, &["--search", "DEPLOY"]), ["deploy-bot"]);
    assert_eq!(listed(&env, &["--search", "webapp"]), ["deploy-bot"]);
    assert_eq!(
        listed(&env, &["--search", "@default.sa"]),
        ["backup-job", "deploy-bot"]
    );
    assert!(listed(&env, &["--search", "nothing-like-it"]).is_empty());
}

#[test]
fn list_search_treats_underscore_and_percent_literally() {
    let env = TestEnv::new();
    env.create("ci_bot");
    env.create("cixbot");
    assert_eq!(listed(&env, &["--search", "ci_"]), ["ci_bot"]);
    assert!(listed(&env, &["--search", "%"]).is_empty());
}

#[test]
fn show_finds_an_account_by_name_and_by_id() {
    let env = TestEnv::new();
    let created = env.create("ci-bot");
    let by_name = env.json(&["show", "ci-bot"]);
    let by_id = env.json(&["show", &id_of(&created)]);
    assert_eq!(by_name, by_id);
    assert_eq!(by_name["id"], created["id"]);
}

#[test]
fn show_table_lists_the_fields() {
    let env = TestEnv::new();
    env.json(&[
        "create",
        "--name",
        "ci-bot",
        "--description",
        "Runs CI",
        "--role",
        "viewer",
    ]);
    let run = env.run(&["show", "ci-bot"]).ok();
    for text in ["ci-bot@default.sa.local", "Runs CI", "viewer", "active"] {
        assert!(run.stdout.contains(text), "lacks {text}\n{run}");
    }
}

#[test]
fn show_of_an_unknown_account_is_not_found() {
    let env = TestEnv::new();
    env.init_db();
    env.run(&["show", "ghost-bot"])
        .code(1)
        .error_contains("`ghost-bot` not found");
    env.run(&["show", "999"])
        .code(1)
        .error_contains("not found");
}

#[test]
fn show_with_an_invalid_reference_is_a_usage_error() {
    let env = TestEnv::new();
    env.run(&["show", "Not A Name"])
        .code(2)
        .error_contains("neither an account id nor a valid account name");
}

#[test]
fn rename_keeps_id_and_email() {
    let env = TestEnv::new();
    let created = env.create("old-name");
    let run = env
        .run(&["update", "old-name", "--name", "new-name", "--json"])
        .ok();
    assert!(run.stderr.contains("updated account `new-name`"), "{run}");
    let renamed = run.json();
    assert_eq!(renamed["name"], "new-name");
    assert_eq!(renamed["id"], created["id"]);
    assert_eq!(renamed["email"], "old-name@default.sa.local");
}

#[test]
fn renamed_account_is_found_by_id_and_new_name_not_old_name() {
    let env = TestEnv::new();
    let created = env.create("old-name");
    env.run(&["update", "old-name", "--name", "new-name"]).ok();
    assert_eq!(env.json(&["show", &id_of(&created)])["name"], "new-name");
    assert_eq!(env.json(&["show", "new-name"])["id"], created["id"]);
    env.run(&["show", "old-name"])
        .code(1)
        .error_contains("not found");
}

#[test]
fn rename_frees_the_old_name() {
    let env = TestEnv::new();
    let first = env.create("shared-name");
    env.run(&["update", "shared-name", "--name", "moved-away"])
        .ok();
    let second = env.create("shared-name");
    assert_ne!(second["id"], first["id"]);
}

#[test]
fn rename_to_a_taken_name_is_refused_and_changes_nothing() {
    let env = TestEnv::new();
    env.create("first-bot");
    env.create("second-bot");
    env.run(&["update", "first-bot", "--name", "second-bot"])
        .code(1)
        .error_contains("already taken");
    assert_eq!(listed(&env, &[]), ["first-bot", "second-bot"]);
}

#[test]
fn rename_to_an_invalid_name_is_a_usage_error() {
    let env = TestEnv::new();
    env.create("ci-bot");
    env.run(&["update", "ci-bot", "--name", "Bad Name"])
        .code(2)
        .error_contains("starting with a letter");
    assert_eq!(listed(&env, &[]), ["ci-bot"]);
}

#[test]
fn update_description_sets_and_empty_string_clears_it() {
    let env = TestEnv::new();
    env.create("ci-bot");
    let updated = env.json(&["update", "ci-bot", "--description", "Runs CI"]);
    assert_eq!(updated["description"], "Runs CI");
    let cleared = env.json(&["update", "ci-bot", "--description", ""]);
    assert_eq!(cleared["description"], Value::Null);
}

#[test]
fn update_without_changes_is_a_usage_error() {
    let env = TestEnv::new();
    env.create("ci-bot");
    env.run(&["update", "ci-bot"])
        .code(2)
        .error_contains("nothing to update");
}

#[test]
fn update_of_an_unknown_account_is_not_found() {
    let env = TestEnv::new();
    env.init_db();
    env.run(&["update", "ghost-bot", "--description", "x"])
        .code(1)
        .error_contains("not found");
}

#[test]
fn disable_reason_is_shown_in_table_and_json() {
    let env = TestEnv::new();
    env.create("ci-bot");
    let disabled = env.json(&[
        "disable",
        "ci-bot",
        "--reason",
        "key exposed in a public repository",
    ]);
    assert_eq!(disabled["status"], "disabled");
    assert_eq!(
        disabled["disabled_reason"],
        "key exposed in a public repository"
    );
    let shown = env.json(&["show", "ci-bot"]);
    assert_eq!(
        shown["disabled_reason"],
        "key exposed in a public repository"
    );
    let table = env.run(&["show", "ci-bot"]).ok();
    assert!(
        table.stdout.contains("key exposed in a public repository"),
        "{table}"
    );
}

#[test]
fn enable_restores_active_and_clears_the_reason() {
    let env = TestEnv::new();
    env.create("ci-bot");
    env.run(&["disable", "ci-bot", "--reason", "leak"]).ok();
    let enabled = env.json(&["enable", "ci-bot"]);
    assert_eq!(enabled["status"], "active");
    assert_eq!(enabled["disabled_reason"], Value::Null);
}

#[test]
fn enable_of_an_active_account_changes_nothing_and_succeeds() {
    let env = TestEnv::new();
    env.create("ci-bot");
    let run = env.run(&["enable", "ci-bot"]).ok();
    assert!(run.stderr.contains("already active"), "{run}");
}

#[test]
fn delete_without_tty_and_without_yes_is_refused() {
    let env = TestEnv::new();
    env.create("ci-bot");
    let run = env
        .run(&["delete", "ci-bot"])
        .code(2)
        .error_contains("needs confirmation");
    assert!(run.stderr.contains("--yes"), "{run}");
    assert!(run.stdout.is_empty(), "{run}");
    assert_eq!(env.json(&["show", "ci-bot"])["status"], "active");
    assert!(listed(&env, &["--status", "deleted"]).is_empty());
}

#[test]
fn purge_without_tty_and_without_yes_is_refused() {
    let env = TestEnv::new();
    env.create("ci-bot");
    env.run(&["delete", "ci-bot", "--purge"])
        .code(2)
        .error_contains("needs confirmation");
    assert_eq!(env.json(&["show", "ci-bot"])["status"], "active");
}

#[test]
fn deleted_account_leaves_the_list_and_is_listed_as_deleted() {
    let env = TestEnv::new();
    env.create("ci-bot");
    env.create("other-bot");
    let deleted = env.json(&["delete", "ci-bot", "--yes"]);
    assert_eq!(deleted["status"], "deleted");
    assert!(deleted["deleted_at"].is_string());
    assert_eq!(listed(&env, &[]), ["other-bot"]);
    assert_eq!(listed(&env, &["--status", "deleted"]), ["ci-bot"]);
}

#[test]
fn show_of_a_deleted_account_hints_at_undelete_with_its_id() {
    let env = TestEnv::new();
    let id = id_of(&env.create("ci-bot"));
    env.run(&["delete", "ci-bot", "--yes"]).ok();
    for reference in ["ci-bot", id.as_str()] {
        env.run(&["show", reference])
            .code(1)
            .error_contains(&format!("sa undelete {id}"));
    }
}

#[test]
fn other_commands_on_a_deleted_account_are_not_found_with_the_hint() {
    let env = TestEnv::new();
    let id = id_of(&env.create("ci-bot"));
    env.run(&["delete", "ci-bot", "--yes"]).ok();
    for args in [
        &["update", "ci-bot", "--description", "x"][..],
        &["disable", "ci-bot"],
        &["enable", "ci-bot"],
        &["delete", "ci-bot", "--yes"],
    ] {
        env.run(args)
            .code(1)
            .error_contains(&format!("sa undelete {id}"));
    }
}

#[test]
fn deleted_account_keeps_its_name_reserved() {
    let env = TestEnv::new();
    let id = id_of(&env.create("ci-bot"));
    env.run(&["delete", "ci-bot", "--yes"]).ok();
    env.run(&["create", "--name", "ci-bot"])
        .code(1)
        .error_contains(&format!("sa undelete {id}"));
    assert_eq!(listed(&env, &["--status", "deleted"]), ["ci-bot"]);
}

#[test]
fn undelete_restores_id_email_and_roles() {
    let env = TestEnv::new();
    let created = env.json(&["create", "--name", "ci-bot", "--role", "editor"]);
    env.run(&["delete", "ci-bot", "--yes"]).ok();
    let restored = env.json(&["undelete", &id_of(&created)]);
    assert_eq!(restored["id"], created["id"]);
    assert_eq!(restored["email"], created["email"]);
    assert_eq!(restored["status"], "active");
    assert_eq!(restored["roles"], serde_json::json!(["editor"]));
    assert_eq!(restored["deleted_at"], Value::Null);
    assert_eq!(listed(&env, &[]), ["ci-bot"]);
}

#[test]
fn undelete_of_an_account_that_is_not_deleted_is_refused() {
    let env = TestEnv::new();
    let id = id_of(&env.create("ci-bot"));
    env.run(&["undelete", &id])
        .code(1)
        .error_contains("not deleted");
}

#[test]
fn purge_removes_the_account_for_good() {
    let env = TestEnv::new();
    let id = id_of(&env.create("ci-bot"));
    env.run(&["delete", "ci-bot", "--purge", "--yes"]).ok();
    let run = env.run(&["show", &id]).code(1).error_contains("not found");
    assert!(!run.stderr.contains("undelete"), "{run}");
    assert!(listed(&env, &["--status", "deleted"]).is_empty());
    env.run(&["undelete", &id])
        .code(1)
        .error_contains("not found");
}

#[test]
fn purge_of_an_already_deleted_account_by_id_works() {
    let env = TestEnv::new();
    let id = id_of(&env.create("ci-bot"));
    env.run(&["delete", "ci-bot", "--yes"]).ok();
    env.run(&["delete", &id, "--purge", "--yes"]).ok();
    assert!(listed(&env, &["--status", "deleted"]).is_empty());
    env.create("ci-bot");
}

#[test]
fn purged_id_is_never_reused() {
    let env = TestEnv::new();
    env.create("first-bot");
    let last = env.create("second-bot");
    env.run(&["delete", "second-bot", "--purge", "--yes"]).ok();
    let next = env.create("third-bot");
    assert!(
        next["id"].as_i64() > last["id"].as_i64(),
        "{next} reuses {last}"
    );
}

#[test]
fn purge_frees_the_name() {
    let env = TestEnv::new();
    let first = env.create("ci-bot");
    env.run(&["delete", "ci-bot", "--purge", "--yes"]).ok();
    let second = env.create("ci-bot");
    assert_ne!(second["id"], first["id"]);
}

#[test]
fn expired_retention_purges_deleted_accounts_on_the_next_command() {
    let env = TestEnv::new();
    let id = id_of(&env.create("ci-bot"));
    env.run(&["delete", "ci-bot", "--yes"]).ok();
    env.write_config("[retention]\ndeleted_accounts = \"0s\"\n");
    assert!(listed(&env, &["--status", "deleted"]).is_empty());
    let run = env.run(&["show", &id]).code(1).error_contains("not found");
    assert!(!run.stderr.contains("undelete"), "{run}");
    env.create("ci-bot");
}

#[test]
fn retention_keeps_deleted_accounts_while_it_lasts() {
    let env = TestEnv::new();
    env.write_config("[retention]\ndeleted_accounts = \"1h\"\n");
    env.create("ci-bot");
    env.run(&["delete", "ci-bot", "--yes"]).ok();
    assert_eq!(listed(&env, &["--status", "deleted"]), ["ci-bot"]);
}

#[test]
fn invalid_names_are_usage_errors_that_state_the_rule() {
    let env = TestEnv::new();
    env.init_db();
    let too_long = "a".repeat(65);
    for name in [
        "Bad Name!",
        "ab",
        too_long.as_str(),
        "9bot",
        "CI-BOT",
        "-bot",
    ] {
        // `--name=VALUE`, so that `-bot` is a value and not a flag.
        let run = env
            .run(&["create", &format!("--name={name}")])
            .code(2)
            .error_contains("starting with a letter");
        assert!(run.stderr.contains("3–64 characters"), "{run}");
    }
    assert!(listed(&env, &[]).is_empty());
}

#[test]
fn names_at_the_length_limits_are_accepted() {
    let env = TestEnv::new();
    let longest = "a".repeat(64);
    env.create("abc");
    env.create(&longest);
    env.create("a.b_c-9");
    assert_eq!(listed(&env, &[]).len(), 3);
}

#[test]
fn taken_name_is_refused() {
    let env = TestEnv::new();
    env.create("ci-bot");
    let run = env
        .run(&["create", "--name", "ci-bot"])
        .code(1)
        .error_contains("already taken");
    assert!(run.stdout.is_empty(), "{run}");
    assert_eq!(listed(&env, &[]), ["ci-bot"]);
}

#[test]
fn account_limit_from_the_config_is_enforced_with_the_key_in_the_message() {
    let env = TestEnv::new();
    env.write_config("[limits]\nmax_accounts = 2\n");
    env.create("one-bot");
    env.create("two-bot");
    env.run(&["create", "--name", "three-bot"])
        .code(1)
        .error_contains("limits.max_accounts")
        .error_contains(": 2");
    assert_eq!(listed(&env, &[]), ["one-bot", "two-bot"]);
}

#[test]
fn account_limit_counts_deleted_accounts_until_purged() {
    let env = TestEnv::new();
    env.write_config("[limits]\nmax_accounts = 1\n");
    env.create("one-bot");
    env.run(&["delete", "one-bot", "--yes"]).ok();
    env.run(&["create", "--name", "two-bot"])
        .code(1)
        .error_contains("limits.max_accounts");
    env.run(&["delete", "one-bot", "--purge", "--yes"]).ok();
    env.create("two-bot");
}

#[test]
fn account_limit_applies_per_organization() {
    let env = TestEnv::new();
    env.write_config("[limits]\nmax_accounts = 1\n");
    env.create("one-bot");
    env.json(&["create", "--name", "one-bot", "--org", "acme"]);
}

#[test]
fn org_flag_creates_in_that_org_with_its_email() {
    let env = TestEnv::new();
    let created = env.json(&["create", "--name", "ci-bot", "--org", "acme"]);
    assert_eq!(created["org"], "acme");
    assert_eq!(created["email"], "ci-bot@acme.sa.local");
    assert!(listed(&env, &[]).is_empty());
    assert_eq!(listed(&env, &["--org", "acme"]), ["ci-bot"]);
}

/// `sa create --name ci-bot --json ARGS` with `$SA_ORG` set to `sa_org`; the created account.
fn create_with_sa_org(env: &TestEnv, sa_org: &str, args: &[&str]) -> Value {
    let output = env
        .command()
        .env("SA_ORG", sa_org)
        .args(["create", "--name", "ci-bot", "--json"])
        .args(args)
        .output()
        .expect("run sa");
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).expect("JSON")
}

#[test]
fn sa_org_env_selects_the_org() {
    let env = TestEnv::new();
    let created = create_with_sa_org(&env, "acme", &[]);
    assert_eq!(created["org"], "acme");
    assert_eq!(listed(&env, &["--org", "acme"]), ["ci-bot"]);
    assert!(listed(&env, &[]).is_empty());
}

#[test]
fn an_empty_sa_org_means_the_default_org() {
    let env = TestEnv::new();
    let created = create_with_sa_org(&env, "", &[]);
    assert_eq!(created["org"], "default");
}

#[test]
fn org_flag_beats_sa_org_env() {
    let env = TestEnv::new();
    let created = create_with_sa_org(&env, "acme", &["--org", "globex"]);
    assert_eq!(created["org"], "globex");
}

#[test]
fn listing_an_org_that_never_had_accounts_says_so_on_stderr() {
    let env = TestEnv::new();
    env.create("ci-bot");
    let run = env.run(&["list", "--org", "acmee", "--json"]).ok();
    assert_eq!(run.json(), serde_json::json!([]));
    assert!(run.stderr.contains("`acmee` has no accounts"), "{run}");
    // An existing organization with nothing matching is just an empty list.
    env.run(&["create", "--name", "ci-bot", "--org", "acme"])
        .ok();
    let run = env
        .run(&["list", "--org", "acme", "--status", "deleted"])
        .ok();
    assert_eq!(run.stderr, "", "{run}");
}

#[test]
fn invalid_org_name_is_a_usage_error() {
    let env = TestEnv::new();
    env.run(&["list", "--org", "Acme Corp"])
        .code(2)
        .error_contains("organization");
}

#[test]
fn the_same_name_may_exist_in_two_orgs() {
    let env = TestEnv::new();
    let default = env.create("ci-bot");
    let acme = env.json(&["create", "--name", "ci-bot", "--org", "acme"]);
    assert_ne!(default["id"], acme["id"]);
    assert_ne!(default["email"], acme["email"]);
}

#[test]
fn an_account_of_another_org_is_not_found() {
    let env = TestEnv::new();
    let id = id_of(&env.json(&["create", "--name", "acme-bot", "--org", "acme"]));
    env.run(&["show", "acme-bot"])
        .code(1)
        .error_contains("not found");
    env.run(&["show", &id]).code(1).error_contains("not found");
    env.run(&["disable", &id])
        .code(1)
        .error_contains("not found");
    env.run(&["delete", &id, "--purge", "--yes"])
        .code(1)
        .error_contains("not found");
    assert_eq!(
        env.json(&["show", "acme-bot", "--org", "acme"])["status"],
        "active"
    );
}

#[test]
fn undelete_in_another_org_is_not_found() {
    let env = TestEnv::new();
    let id = id_of(&env.json(&["create", "--name", "acme-bot", "--org", "acme"]));
    env.run(&["delete", "acme-bot", "--org", "acme", "--yes"])
        .ok();
    env.run(&["undelete", &id])
        .code(1)
        .error_contains("not found");
    env.json(&["undelete", &id, "--org", "acme"]);
}

#[test]
fn org_list_shows_each_org_with_its_counts_as_table_and_json() {
    let env = TestEnv::new();
    env.create("ci-bot");
    env.json(&["create", "--name", "one-bot", "--org", "acme"]);
    env.json(&["create", "--name", "two-bot", "--org", "acme"]);
    env.run(&["disable", "two-bot", "--org", "acme"]).ok();
    let orgs = env.json(&["org", "list"]);
    let orgs = orgs.as_array().expect("an array");
    assert_eq!(orgs.len(), 2);
    assert_eq!(orgs[0]["name"], "acme");
    assert_eq!(orgs[0]["active_accounts"], 1);
    assert_eq!(orgs[0]["disabled_accounts"], 1);
    assert_eq!(orgs[0]["deleted_accounts"], 0);
    assert_eq!(orgs[1]["name"], "default");
    assert_eq!(orgs[1]["active_accounts"], 1);
    assert!(orgs[1]["created_at"].is_string());
    let table = env.run(&["org", "list"]).ok();
    assert_eq!(table.stdout.lines().count(), 3, "{table}");
    assert!(table.stdout.contains("acme") && table.stdout.contains("default"));
}

#[test]
fn org_list_of_an_empty_database_is_empty() {
    let env = TestEnv::new();
    env.init_db();
    assert_eq!(env.json(&["org", "list"]), serde_json::json!([]));
}

#[test]
fn an_empty_disable_reason_is_no_reason() {
    let env = TestEnv::new();
    env.create("ci-bot");
    let account = env.json(&["disable", "ci-bot", "--reason", ""]);
    assert_eq!(account["disabled_reason"], Value::Null);
}

#[test]
fn list_by_a_role_that_does_not_exist_is_refused() {
    let env = TestEnv::new();
    env.create("ci-bot");
    env.run(&["list", "--role", "no-such-role"])
        .code(1)
        .error_contains("role `no-such-role` does not exist");
}

#[test]
fn disabling_again_without_a_reason_keeps_the_reason() {
    let env = TestEnv::new();
    env.create("ci-bot");
    env.run(&[
        "disable",
        "ci-bot",
        "--reason",
        "key exposed in a public repository",
    ])
    .ok();
    let again = env.json(&["disable", "ci-bot"]);
    assert_eq!(
        again["disabled_reason"],
        "key exposed in a public repository"
    );
}

#[test]
fn free_text_with_control_characters_is_refused_and_changes_nothing() {
    let env = TestEnv::new();
    env.init_db();
    env.run(&[
        "create",
        "--name",
        "ci-bot",
        "--description",
        "evil\u{1b}[31mred",
    ])
    .code(2)
    .error_contains("control characters");
    env.create("ci-bot");
    env.run(&["disable", "ci-bot", "--reason", "line\nbreak"])
        .code(2)
        .error_contains("control characters");
    assert_eq!(env.json(&["show", "ci-bot"])["status"], "active");
    env.run(&["update", "ci-bot", "--description", &"x".repeat(1001)])
        .code(2)
        .error_contains("longer than 1000");
}

#[test]
fn a_purged_account_is_printed_as_deleted() {
    let env = TestEnv::new();
    env.create("ci-bot");
    let purged = env.json(&["delete", "ci-bot", "--purge", "--yes"]);
    assert_eq!(purged["status"], "deleted");
    assert!(purged["deleted_at"].is_string(), "{purged}");
}

#[test]
fn an_empty_description_at_creation_is_no_description() {
    let env = TestEnv::new();
    let created = env.json(&["create", "--name", "ci-bot", "--description", ""]);
    assert_eq!(created["description"], Value::Null);
}

#[test]
fn a_search_longer_than_sqlites_like_limit_is_answered() {
    let env = TestEnv::new();
    env.create("ci-bot");
    let long = "x".repeat(60_000);
    let run = env.run(&["list", "--search", &long, "--json"]).ok();
    assert_eq!(run.json(), serde_json::json!([]));
    // Wildcards of LIKE mean nothing in a search.
    assert_eq!(env.json(&["list", "--search", "%"]), serde_json::json!([]));
    assert_eq!(
        env.json(&["list", "--search", "I-B"])
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[test]
fn bidirectional_override_characters_are_refused_in_free_text() {
    let env = TestEnv::new();
    env.init_db();
    for text in ["deploys\u{202e}toor", "a\u{2066}b\u{2069}"] {
        env.run(&["create", "--name", "ci-bot", "--description", text])
            .code(2)
            .error_contains("bidirectional");
    }
    env.create("ci-bot");
    env.run(&["disable", "ci-bot", "--reason", "\u{202d}leak"])
        .code(2)
        .error_contains("bidirectional");
}
