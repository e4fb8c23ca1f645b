//! Roles (SPEC §5, issue 9): custom roles and their commands, effective permissions narrowing
//! tokens at once, `sa can`, and `sa` acting as a service account through `$SA_TOKEN` or
//! `--token-file`, with no escalation.

use serde_json::{Value, json};

use crate::audit::{actions, events, only};
use crate::output::assert_user_output;
use crate::support::{Run, TestEnv};
use crate::tokens::{expire, show as show_token, token_id};
use crate::verify::{rejected, valid};

/// An env with account `bot` holding the custom role `deployer` (`deploys:write`, `*:read`).
fn with_deployer() -> TestEnv {
    let env = TestEnv::new();
    env.create("bot");
    env.run(&[
        "role",
        "create",
        "deployer",
        "--permission",
        "deploys:write",
        "--permission",
        "*:read",
        "--description",
        "ships releases",
    ])
    .ok();
    env.run(&["role", "grant", "deployer", "bot"]).ok();
    env
}

/// In organization `acme`: a role `lister` (accounts:read) and an account `worker` holding it.
fn acme_worker(env: &TestEnv) {
    env.run(&[
        "--org",
        "acme",
        "role",
        "create",
        "lister",
        "--permission",
        "accounts:read",
    ])
    .ok();
    env.json(&[
        "--org", "acme", "create", "--name", "worker", "--role", "lister",
    ]);
}

/// `sa ARGS` under `$SA_TOKEN`.
fn run_as(env: &TestEnv, token: &str, args: &[&str]) -> Run {
    Run::of(
        env.command()
            .env("SA_TOKEN", token)
            .args(args)
            .write_stdin(""),
    )
}

/// A service account `name` holding a fresh custom role `name-role` with `permissions`, and a
/// token of it.
fn bot_with(env: &TestEnv, name: &str, permissions: &[&str]) -> String {
    let role = format!("{name}-role");
    let mut args = vec!["role", "create", role.as_str()];
    for permission in permissions {
        args.extend(["--permission", permission]);
    }
    env.run(&args).ok();
    env.json(&["create", "--name", name, "--role", &role]);
    env.add_token(name, &[])
}

fn count(env: &TestEnv, sql: &str) -> i64 {
    env.sql().int(sql, &[])
}

// ---- effective permissions at verify time ---------------------------------------------------

#[test]
fn a_custom_role_grants_its_permissions_and_wildcards_to_tokens() {
    let env = with_deployer();
    let token = env.add_token("bot", &[]);
    valid(&env, &token, &["--permission", "deploys:write"]);
    let answer = valid(&env, &token, &["--permission", "logs:read"]);
    assert_eq!(answer["permissions"], json!(["*:read", "deploys:write"]));
    assert_eq!(
        rejected(&env, &token, &["--permission", "deploys:delete"]),
        "forbidden"
    );
}

#[test]
fn a_scoped_token_lacks_what_its_account_holds_beyond_its_scopes() {
    let env = with_deployer();
    let token = env.add_token("bot", &["--scope", "logs:read"]);
    valid(&env, &token, &["--permission", "logs:read"]);
    assert_eq!(
        rejected(&env, &token, &["--permission", "deploys:write"]),
        "forbidden"
    );
}

#[test]
fn revoking_the_role_narrows_the_token_on_the_very_next_verify() {
    let env = with_deployer();
    let token = env.add_token("bot", &[]);
    valid(&env, &token, &["--permission", "deploys:write"]);
    env.run(&["role", "revoke", "deployer", "bot"]).ok();
    assert_eq!(
        rejected(&env, &token, &["--permission", "deploys:write"]),
        "forbidden"
    );
    assert_eq!(
        rejected(&env, &token, &["--permission", "logs:read"]),
        "forbidden"
    );
}

#[test]
fn removing_a_permission_from_the_role_narrows_every_holder_at_once() {
    let env = with_deployer();
    env.create("other-bot");
    env.run(&["role", "grant", "deployer", "other-bot"]).ok();
    let first = env.add_token("bot", &[]);
    let second = env.add_token("other-bot", &[]);
    env.run(&["role", "update", "deployer", "--remove", "deploys:write"])
        .ok();
    for token in [&first, &second] {
        assert_eq!(
            rejected(&env, token, &["--permission", "deploys:write"]),
            "forbidden"
        );
        valid(&env, token, &["--permission", "logs:read"]);
    }
    env.run(&["role", "update", "deployer", "--add", "deploys:*"])
        .ok();
    valid(&env, &first, &["--permission", "deploys:delete"]);
}

// ---- the role commands ----------------------------------------------------------------------

#[test]
fn role_list_shows_built_in_and_custom_roles_with_their_holders() {
    let env = with_deployer();
    env.json(&["create", "--name", "viewer-bot", "--role", "viewer"]);
    let roles = env.json(&["role", "list"]);
    let names: Vec<&str> = roles
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["viewer", "editor", "admin", "deployer"]);
    assert_eq!(
        roles[3],
        json!({
            "name": "deployer",
            "builtin": false,
            "description": "ships releases",
            "permissions": ["*:read", "deploys:write"],
            "account_count": 1,
        })
    );
    assert_eq!(roles[0]["builtin"], true);
    assert_eq!(roles[0]["account_count"], 1);
    assert_eq!(roles[0]["permissions"], json!(["*:read"]));
    assert_user_output("role_list_table", &env.run(&["role", "list"]));
}

#[test]
fn role_show_names_the_accounts_holding_it() {
    let env = with_deployer();
    env.create("another-bot");
    env.run(&["role", "grant", "deployer", "another-bot"]).ok();
    let role = env.json(&["role", "show", "deployer"]);
    assert_eq!(role["accounts"], json!(["another-bot", "bot"]));
    assert_eq!(role["account_count"], 2);
    assert_user_output(
        "role_show_json",
        &env.run(&["role", "show", "deployer", "--json"]),
    );
    let table = env.run(&["role", "show", "deployer"]).ok();
    assert!(table.stdout.contains("another-bot, bot"), "{table}");
    let admin = env.json(&["role", "show", "admin"]);
    assert_eq!(admin["builtin"], true);
    assert_eq!(admin["accounts"], json!([]));
    env.run(&["role", "show", "nope"])
        .code(1)
        .error_contains("role `nope` does not exist");
}

#[test]
fn bad_permissions_are_usage_errors_that_state_the_rule() {
    let env = TestEnv::new();
    for bad in [
        "deploys",
        "Deploys:write",
        "deploys:",
        ":write",
        "a:b:c",
        "dép:write",
        "a b:c",
    ] {
        env.run(&["role", "create", "r1", "--permission", bad])
            .code(2)
            .error_contains("`resource:action`");
        env.run(&["can", "bot", bad])
            .code(2)
            .error_contains("permission");
    }
    env.run(&["role", "create", "r1"])
        .code(2)
        .error_contains("--permission");
    assert!(
        !env.database_exists() || count(&env, "SELECT count(*) FROM roles") == 0,
        "nothing stored"
    );
}

#[test]
fn built_in_roles_are_never_created_changed_or_deleted() {
    let env = TestEnv::new();
    env.init_db();
    env.run(&["role", "create", "admin", "--permission", "x:y"])
        .code(1)
        .error_contains("built-in");
    env.run(&["role", "update", "viewer", "--add", "x:y"])
        .code(1)
        .error_contains("built-in");
    env.run(&["role", "delete", "editor", "--yes"])
        .code(1)
        .error_contains("built-in");
    env.run(&["role", "delete", "admin"])
        .code(1)
        .error_contains("built-in");
    assert!(events(&env, &[]).is_empty());
}

#[test]
fn deleting_a_granted_role_needs_confirmation_and_takes_the_grants_with_it() {
    let env = with_deployer();
    let token = env.add_token("bot", &[]);
    env.run(&["role", "delete", "deployer"])
        .code(2)
        .error_contains(
            "delete role `deployer` from the 1 account(s) holding it needs confirmation",
        );
    assert_eq!(env.json(&["role", "show", "deployer"])["account_count"], 1);
    assert_eq!(actions(&events(&env, &["--action", "role."])).len(), 2);

    let deleted = env
        .run(&["role", "delete", "deployer", "--yes", "--json"])
        .ok();
    assert_eq!(deleted.json()["name"], "deployer");
    assert!(deleted.stderr.contains("1 account(s) lost it"), "{deleted}");
    assert_eq!(env.json(&["show", "bot"])["roles"], json!([]));
    assert_eq!(
        rejected(&env, &token, &["--permission", "logs:read"]),
        "forbidden"
    );
    let event = only(&env, "role.delete");
    assert_eq!(event["details"]["grants_removed"], 1);
    assert_eq!(
        event["details"]["permissions"],
        serde_json::json!(["*:read", "deploys:write"])
    );
    env.run(&["role", "delete", "deployer", "--yes"])
        .code(1)
        .error_contains("does not exist");
}

#[test]
fn a_role_nobody_holds_is_deleted_without_asking() {
    let env = TestEnv::new();
    env.run(&["role", "create", "idle", "--permission", "x:read"])
        .ok();
    env.run(&["role", "delete", "idle"]).ok();
    assert_eq!(env.json(&["role", "list"]).as_array().unwrap().len(), 3);
}

#[test]
fn grant_and_revoke_are_idempotent_and_audit_only_changes() {
    let env = with_deployer();
    env.create("second-bot");
    let again = env
        .run(&["role", "grant", "deployer", "bot", "second-bot", "--json"])
        .ok();
    assert_eq!(
        again.json(),
        json!([
            {"account": "bot", "role": "deployer", "changed": false},
            {"account": "second-bot", "role": "deployer", "changed": true},
        ])
    );
    assert!(
        again
            .stderr
            .contains("`bot` already holds `deployer`; nothing changed"),
        "{again}"
    );
    let grants = events(&env, &["--action", "role.grant"]);
    assert_eq!(grants.len(), 2, "one for each real change: {grants:?}");
    assert_eq!(grants[1]["target"], "second-bot");
    assert_eq!(grants[1]["details"]["role"], "deployer");

    env.run(&["role", "revoke", "deployer", "second-bot"]).ok();
    let not_held = env.run(&["role", "revoke", "deployer", "second-bot"]).ok();
    assert!(
        not_held
            .stderr
            .contains("does not hold `deployer`; nothing changed"),
        "{not_held}"
    );
    assert_eq!(events(&env, &["--action", "role.revoke"]).len(), 1);
}

#[test]
fn a_grant_to_an_unknown_account_changes_nothing_for_the_others() {
    let env = with_deployer();
    env.create("second-bot");
    env.run(&["role", "grant", "deployer", "second-bot", "nobody-bot"])
        .code(1)
        .error_contains("nobody-bot");
    assert_eq!(env.json(&["show", "second-bot"])["roles"], json!([]));
    env.run(&["role", "grant", "ghost", "bot"])
        .code(1)
        .error_contains("role `ghost` does not exist");
    env.run(&["role", "grant", "deployer"]).code(2);
}

#[test]
fn role_update_adds_removes_describes_and_renames_with_its_grants() {
    let env = with_deployer();
    let token = env.add_token("bot", &[]);
    let updated = env.json(&[
        "role",
        "update",
        "deployer",
        "--add",
        "releases:write",
        "--remove",
        "*:read",
        "--description",
        "",
        "--name",
        "shipper",
    ]);
    assert_eq!(updated["name"], "shipper");
    assert_eq!(
        updated["permissions"],
        json!(["deploys:write", "releases:write"])
    );
    assert_eq!(updated["description"], Value::Null);
    assert_eq!(updated["account_count"], 1);
    assert_eq!(env.json(&["show", "bot"])["roles"], json!(["shipper"]));
    valid(&env, &token, &["--permission", "releases:write"]);
    let event = only(&env, "role.update");
    assert_eq!(event["target"], "shipper");
    assert_eq!(
        event["details"]["added"],
        serde_json::json!(["releases:write"])
    );
    assert_eq!(event["details"]["removed"], serde_json::json!(["*:read"]));
    assert_eq!(event["details"]["old_name"], "deployer");

    let same = env
        .run(&["role", "update", "shipper", "--add", "releases:write"])
        .ok();
    assert!(same.stderr.contains("nothing changed"), "{same}");
    assert_eq!(events(&env, &["--action", "role.update"]).len(), 1);
    env.run(&["role", "update", "shipper"])
        .code(2)
        .error_contains("nothing to update");
    env.run(&[
        "role", "update", "shipper", "--add", "x:y", "--remove", "x:y",
    ])
    .code(2)
    .error_contains("both `--add` and `--remove`");
    env.run(&[
        "role",
        "update",
        "shipper",
        "--remove",
        "deploys:write",
        "--remove",
        "releases:write",
    ])
    .code(1)
    .error_contains("no permission");
    env.run(&["role", "update", "shipper", "--name", "admin"])
        .code(1)
        .error_contains("built-in");
    env.run(&["role", "create", "other", "--permission", "x:y"])
        .ok();
    env.run(&["role", "update", "shipper", "--name", "other"])
        .code(1)
        .error_contains("already exists");
    assert_eq!(
        env.json(&["role", "show", "shipper"])["permissions"],
        json!(["deploys:write", "releases:write"]),
        "refused updates changed nothing"
    );
}

#[test]
fn every_role_change_is_audited_with_what_changed() {
    let env = with_deployer();
    let created = only(&env, "role.create");
    assert_eq!(created["target"], "deployer");
    assert_eq!(created["actor"], "tester");
    assert_eq!(
        created["details"]["permissions"],
        serde_json::json!(["deploys:write", "*:read"])
    );
    assert_eq!(created["details"]["description"], "ships releases");
    env.run(&["role", "create", "deployer", "--permission", "x:y"])
        .code(1)
        .error_contains("already exists");
    assert_eq!(events(&env, &["--action", "role.create"]).len(), 1);
}

#[test]
fn custom_roles_belong_to_one_organization() {
    let env = with_deployer();
    env.json(&["--org", "acme", "create", "--name", "bot"]);
    env.run(&["--org", "acme", "role", "grant", "deployer", "bot"])
        .code(1)
        .error_contains("role `deployer` does not exist");
    let acme = env.json(&["--org", "acme", "role", "list"]);
    assert_eq!(acme.as_array().unwrap().len(), 3);
    env.run(&[
        "--org", "acme", "create", "--name", "bot2", "--role", "deployer",
    ])
    .code(1);
}

// ---- what an account and a token may do -----------------------------------------------------

#[test]
fn show_prints_effective_permissions_and_scopes_not_held() {
    let env = with_deployer();
    assert_eq!(
        env.json(&["show", "bot"])["permissions"],
        json!(["*:read", "deploys:write"])
    );
    let table = env.run(&["show", "bot"]).ok();
    assert!(table.stdout.contains("*:read, deploys:write"), "{table}");

    let token = env.add_token(
        "bot",
        &["--scope", "deploys:write", "--scope", "admin:write"],
    );
    let shown = show_token(&env, token_id(&token));
    assert_eq!(shown["permissions"], json!(["deploys:write"]));
    assert_eq!(shown["scopes_not_held"], json!(["admin:write"]));
    let table = env.run(&["token", "show", token_id(&token)]).ok();
    assert!(table.stdout.contains("scopes not held"), "{table}");
    env.run(&["role", "revoke", "deployer", "bot"]).ok();
    let shown = show_token(&env, token_id(&token));
    assert_eq!(shown["permissions"], json!([]));
    assert_eq!(
        shown["scopes_not_held"],
        json!(["admin:write", "deploys:write"])
    );
}

#[test]
fn can_answers_yes_with_the_granting_role_and_no_with_the_reason() {
    let env = with_deployer();
    let yes = env.run(&["can", "bot", "deploys:write"]).ok();
    assert!(yes.stdout.starts_with("yes\n"), "{yes}");
    assert!(yes.stdout.contains("deployer (deploys:write)"), "{yes}");
    let no = env.run(&["can", "bot", "deploys:delete"]).code(1);
    assert!(no.stdout.starts_with("no\n"), "{no}");
    assert!(no.stderr.is_empty(), "{no}");

    let answer = env.run(&["can", "bot", "logs:read", "--json"]).ok().json();
    assert_eq!(
        answer,
        json!({
            "allowed": true,
            "account": "bot",
            "permission": "logs:read",
            "token_id": null,
            "scopes": [],
            "granted_by": [{"role": "deployer", "permission": "*:read"}],
            "reason": null,
        })
    );
    env.run(&["role", "grant", "viewer", "bot"]).ok();
    let both = env.run(&["can", "bot", "logs:read", "--json"]).ok().json();
    assert_eq!(both["granted_by"].as_array().unwrap().len(), 2, "{both}");
    assert_user_output("can_table", &env.run(&["can", "bot", "logs:read"]));
    let denied = env
        .run(&["can", "bot", "deploys:delete", "--json"])
        .code(1)
        .json();
    assert_eq!(denied["allowed"], false);
    assert_eq!(denied["granted_by"], json!([]));
    assert!(
        denied["reason"].as_str().unwrap().contains("no role"),
        "{denied}"
    );
    env.run(&["can", "nobody-bot", "x:y"])
        .code(1)
        .error_contains("nobody-bot");
}

#[test]
fn can_applies_a_tokens_scopes_and_status() {
    let env = with_deployer();
    let token = env.add_token("bot", &["--scope", "logs:read"]);
    let id = token_id(&token);
    let yes = env
        .run(&["can", "bot", "logs:read", "--token", id, "--json"])
        .ok()
        .json();
    assert_eq!(yes["token_id"], id);
    assert_eq!(yes["scopes"], json!(["logs:read"]));
    assert_eq!(yes["granted_by"][0]["role"], "deployer");
    let no = env
        .run(&["can", "bot", "deploys:write", "--token", id, "--json"])
        .code(1)
        .json();
    assert_eq!(no["allowed"], false);
    assert!(
        no["reason"].as_str().unwrap().contains("not scoped"),
        "{no}"
    );
    expire(&env, id);
    let expired = env
        .run(&["can", "bot", "logs:read", "--token", id, "--json"])
        .code(1)
        .json();
    assert!(
        expired["reason"].as_str().unwrap().contains("expired"),
        "{expired}"
    );
    env.create("stranger");
    env.run(&["can", "stranger", "logs:read", "--token", id])
        .code(1)
        .error_contains("not a token of account `stranger`");
}

#[test]
fn a_disabled_account_can_do_nothing() {
    let env = with_deployer();
    env.run(&["disable", "bot"]).ok();
    let no = env
        .run(&["can", "bot", "logs:read", "--json"])
        .code(1)
        .json();
    assert!(no["reason"].as_str().unwrap().contains("disabled"), "{no}");
}

// ---- sa acting as a service account ---------------------------------------------------------

#[test]
fn a_bot_with_tokens_write_rotates_another_accounts_token_and_is_named_in_the_audit() {
    let env = TestEnv::new();
    let rotator = bot_with(&env, "rotator", &["tokens:write", "tokens:read"]);
    env.create("app");
    let old = env.add_token("app", &[]);
    let rotated = run_as(&env, &rotator, &["token", "rotate", token_id(&old)]).ok();
    let new = rotated.stdout.trim();
    assert_ne!(token_id(new), token_id(&old));
    let event = only(&env, "token.rotate");
    assert_eq!(event["actor"], "sa:rotator");
    assert_eq!(event["details"]["via_token"], token_id(&rotator));
    // The acting token's use is counted like any verification, from `sa-cli`.
    let used = show_token(&env, token_id(&rotator));
    assert_eq!(used["use_count"], 1);
    assert_eq!(used["last_used_source"], "sa-cli");
    assert_eq!(show_token(&env, token_id(new))["created_by"], "sa:rotator");
}

#[test]
fn a_bot_without_the_permission_is_refused_and_nothing_changes() {
    let env = TestEnv::new();
    let reader = bot_with(&env, "reader", &["accounts:read"]);
    let before = events(&env, &[]).len();
    run_as(&env, &reader, &["create", "--name", "sneaky"])
        .code(1)
        .error_contains("needs `accounts:write`");
    run_as(&env, &reader, &["token", "add", "reader"])
        .code(1)
        .error_contains("needs `tokens:write`");
    run_as(&env, &reader, &["audit"])
        .code(1)
        .error_contains("needs `audit:read`");
    assert_eq!(count(&env, "SELECT count(*) FROM accounts"), 1);
    assert_eq!(events(&env, &[]).len(), before);
    // A refused command is not counted as a use of the token.
    assert_eq!(show_token(&env, token_id(&reader))["use_count"], 0);
    let listed = run_as(&env, &reader, &["list", "--json"]).ok().json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

#[test]
fn a_bot_cannot_grant_itself_more_than_it_holds() {
    let env = TestEnv::new();
    let bot = bot_with(&env, "climber", &["roles:write", "*:read"]);
    run_as(&env, &bot, &["role", "grant", "admin", "climber"])
        .code(1)
        .error_contains("`*`");
    run_as(&env, &bot, &["role", "grant", "editor", "climber"])
        .code(1)
        .error_contains("`*:write`");
    run_as(
        &env,
        &bot,
        &["role", "create", "wider", "--permission", "secrets:write"],
    )
    .code(1)
    .error_contains("`secrets:write`");
    run_as(
        &env,
        &bot,
        &["role", "update", "climber-role", "--add", "*"],
    )
    .code(1)
    .error_contains("`*`");
    assert_eq!(
        env.json(&["show", "climber"])["roles"],
        json!(["climber-role"])
    );
    // What it holds, it may hand on.
    run_as(&env, &bot, &["role", "grant", "viewer", "climber"]).ok();
    run_as(
        &env,
        &bot,
        &["role", "create", "reader", "--permission", "logs:read"],
    )
    .ok();
    assert_eq!(only(&env, "role.grant")["actor"], "sa:climber");
}

#[test]
fn a_bot_cannot_mint_a_token_wider_than_itself() {
    let env = TestEnv::new();
    let minter = bot_with(&env, "minter", &["tokens:write", "*:read"]);
    env.json(&["create", "--name", "admin-bot", "--role", "admin"]);
    env.json(&["create", "--name", "reader-bot", "--role", "viewer"]);
    run_as(&env, &minter, &["token", "add", "admin-bot"])
        .code(1)
        .error_contains("mint a token for `admin-bot`");
    // Narrowed by scopes to what the minter holds, it is allowed.
    let scoped = run_as(
        &env,
        &minter,
        &["token", "add", "admin-bot", "--scope", "logs:read"],
    )
    .ok();
    assert!(!scoped.stdout.trim().is_empty());
    run_as(&env, &minter, &["token", "add", "reader-bot"]).ok();
    let admin_token = env.add_token("admin-bot", &[]);
    run_as(&env, &minter, &["token", "rotate", token_id(&admin_token)])
        .code(1)
        .error_contains("rotate token");
    // A scope it does not hold is refused, even for an account that holds nothing yet.
    env.create("empty-bot");
    run_as(
        &env,
        &minter,
        &["token", "add", "empty-bot", "--scope", "*"],
    )
    .code(1)
    .error_contains("`*`");
    let accounts_bot = bot_with(&env, "maker", &["accounts:write"]);
    run_as(
        &env,
        &accounts_bot,
        &["create", "--name", "new-admin", "--role", "admin"],
    )
    .code(1)
    .error_contains("`*`");
}

#[test]
fn a_rejected_acting_token_is_refused_before_anything_runs() {
    let env = TestEnv::new();
    let bot = bot_with(&env, "worker", &["*"]);
    run_as(&env, "sa_notatoken", &["list"])
        .code(1)
        .error_contains("the token in $SA_TOKEN was rejected (malformed)");
    run_as(&env, &bot, &["token", "revoke", token_id(&bot)]).ok();
    run_as(&env, &bot, &["create", "--name", "late"])
        .code(1)
        .error_contains("rejected (revoked)");
    let expiring = env.add_token("worker", &[]);
    expire(&env, token_id(&expiring));
    run_as(&env, &expiring, &["list"])
        .code(1)
        .error_contains("rejected (expired)");
    assert_eq!(count(&env, "SELECT count(*) FROM accounts"), 1);
    // An empty $SA_TOKEN means unset: the OS user acts.
    run_as(&env, "", &["create", "--name", "by-admin"]).ok();
    let event = events(&env, &["--action", "account.create"]).pop().unwrap();
    assert_eq!(
        (event["target"].as_str(), event["actor"].as_str()),
        (Some("by-admin"), Some("tester"))
    );
}

#[test]
fn token_verify_and_config_never_use_the_acting_token() {
    let env = TestEnv::new();
    let bot = bot_with(&env, "worker", &["logs:read"]);
    let answer = run_as(&env, "garbage", &["token", "verify", "--json"]);
    // stdin is empty: verify checked that, not $SA_TOKEN.
    assert_eq!(answer.code(1).json()["reason"], "malformed");
    let output = env
        .command()
        .env("SA_TOKEN", "garbage")
        .args(["token", "verify", "--json"])
        .write_stdin(format!("{bot}\n"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    run_as(&env, "garbage", &["config", "path"]).ok();
    run_as(&env, "garbage", &["config", "show"]).ok();
}

#[test]
fn a_token_file_acts_like_sa_token_and_wins_over_it() {
    let env = TestEnv::new();
    let bot = bot_with(&env, "worker", &["accounts:read"]);
    let path = env.root().join("token");
    std::fs::write(&path, format!("{bot}\n")).unwrap();
    let file = path.to_str().unwrap();
    let listed = run_as(&env, "garbage", &["--token-file", file, "list", "--json"]).ok();
    assert_eq!(listed.json().as_array().unwrap().len(), 1);
    env.run(&["--token-file", file, "create", "--name", "nope"])
        .code(1)
        .error_contains("accounts:write");
    env.run(&["--token-file", "missing-file", "list"])
        .code(3)
        .error_contains("cannot read the token file");
    std::fs::write(&path, "x".repeat(10_000)).unwrap();
    env.run(&["--token-file", file, "list"])
        .code(1)
        .error_contains("malformed");
}

#[test]
fn an_acting_token_works_in_its_own_organization_only() {
    let env = TestEnv::new();
    acme_worker(&env);
    env.json(&["create", "--name", "default-bot"]);
    let bot = env.add_token("worker", &["--org", "acme"]);
    // Without --org, the token's organization.
    let listed = run_as(&env, &bot, &["list", "--json"]).ok().json();
    assert_eq!(listed[0]["name"], "worker");
    run_as(&env, &bot, &["--org", "acme", "list"]).ok();
    run_as(&env, &bot, &["--org", "default", "list"])
        .code(1)
        .error_contains("of organization `acme`, not `default`");
    let orgs = run_as(&env, &bot, &["org", "list", "--json"]).ok().json();
    assert_eq!(orgs.as_array().unwrap().len(), 1, "only its own: {orgs}");
}

#[test]
fn the_token_names_the_actor_whatever_actor_is_claimed() {
    let env = TestEnv::new();
    let bot = bot_with(&env, "worker", &["accounts:write"]);
    let run = run_as(
        &env,
        &bot,
        &["--actor", "alice", "create", "--name", "made-by-bot"],
    )
    .ok();
    assert!(
        run.stderr.contains("`--actor`/$SA_ACTOR is not used"),
        "{run}"
    );
    let event = events(&env, &["--action", "account.create"]).pop().unwrap();
    assert_eq!(event["actor"], "sa:worker");
    assert_eq!(
        env.json(&["show", "made-by-bot"])["created_by"],
        "sa:worker"
    );
}

#[test]
fn acting_with_no_database_does_not_create_one() {
    let env = TestEnv::new();
    let elsewhere = TestEnv::new();
    let bot = bot_with(&elsewhere, "worker", &["*"]);
    run_as(&env, &bot, &["list"])
        .code(3)
        .error_contains("there is no sa database");
    assert!(!env.database_exists());
}

#[test]
fn a_token_minted_under_a_token_never_grows_past_the_minter() {
    let env = TestEnv::new();
    let minter = bot_with(&env, "minter", &["tokens:write", "logs:read"]);
    env.create("empty-bot");
    let minted = run_as(&env, &minter, &["token", "add", "empty-bot"]).ok();
    let token = minted.stdout.trim();
    let shown = show_token(&env, token_id(token));
    assert_eq!(
        shown["scopes"],
        json!(["logs:read", "tokens:write"]),
        "{shown}"
    );
    // The account gains admin later: the token holds what the minter held, no more.
    env.run(&["role", "grant", "admin", "empty-bot"]).ok();
    valid(&env, token, &["--permission", "logs:read"]);
    assert_eq!(
        rejected(&env, token, &["--permission", "secrets:write"]),
        "forbidden"
    );
    // A rotation under a token narrows an unscoped token the same way, and says so.
    env.run(&["role", "revoke", "admin", "empty-bot"]).ok();
    let unscoped = env.add_token("empty-bot", &[]);
    let rotated = run_as(&env, &minter, &["token", "rotate", token_id(&unscoped)]).ok();
    let successor = show_token(&env, token_id(rotated.stdout.trim()));
    assert_eq!(successor["scopes"], json!(["logs:read", "tokens:write"]));
    let event = events(&env, &["--action", "token.rotate"]).pop().unwrap();
    assert_eq!(
        event["details"]["scopes"],
        serde_json::json!(["logs:read", "tokens:write"])
    );
}

#[test]
fn a_bot_cannot_switch_wider_credentials_back_on() {
    let env = TestEnv::new();
    let bot = bot_with(&env, "fixer", &["accounts:write", "tokens:write", "*:read"]);
    env.json(&["create", "--name", "admin-bot", "--role", "admin"]);
    let admin_token = env.add_token("admin-bot", &[]);
    env.run(&["token", "disable", token_id(&admin_token)]).ok();
    run_as(&env, &bot, &["token", "enable", token_id(&admin_token)])
        .code(1)
        .error_contains("enable token");
    env.run(&["disable", "admin-bot", "--reason", "key exposed"])
        .ok();
    run_as(&env, &bot, &["enable", "admin-bot"])
        .code(1)
        .error_contains("enable account `admin-bot`");
    env.run(&["delete", "admin-bot", "--yes"]).ok();
    run_as(&env, &bot, &["undelete", "admin-bot"])
        .code(1)
        .error_contains("restore account `admin-bot`");
    assert_eq!(
        env.json(&["list", "--status", "deleted"])[0]["name"],
        "admin-bot",
        "nothing changed"
    );
    // What it holds itself, it may switch back on.
    env.json(&["create", "--name", "reader-bot", "--role", "viewer"]);
    env.run(&["disable", "reader-bot"]).ok();
    run_as(&env, &bot, &["enable", "reader-bot"]).ok();
}

#[test]
fn whole_database_commands_never_run_under_a_token() {
    let env = TestEnv::new();
    let bot = bot_with(&env, "reader", &["*"]);
    let backup = env.root().join("copy.db");
    run_as(&env, &bot, &["db", "backup", backup.to_str().unwrap()])
        .code(1)
        .error_contains("never runs under a token");
    assert!(!backup.exists());
    run_as(&env, &bot, &["db", "check"])
        .code(1)
        .error_contains("never runs under a token");
    env.run(&["db", "check"]).ok();
}

#[test]
fn a_sa_token_that_is_not_utf8_is_malformed_not_unset() {
    use std::os::unix::ffi::OsStrExt;
    let env = TestEnv::new();
    env.init_db();
    let output = env
        .command()
        .env("SA_TOKEN", std::ffi::OsStr::from_bytes(b"\xff\xfe"))
        .args(["role", "create", "sneaky", "--permission", "*"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("malformed"),
        "{output:?}"
    );
    assert_eq!(env.json(&["role", "list"]).as_array().unwrap().len(), 3);
}

#[test]
fn a_refusal_for_another_organization_is_not_a_use() {
    let env = TestEnv::new();
    acme_worker(&env);
    let bot = env.add_token("worker", &["--org", "acme"]);
    run_as(&env, &bot, &["--org", "default", "list"]).code(1);
    let shown = env.json(&["--org", "acme", "token", "show", token_id(&bot)]);
    assert_eq!(shown["use_count"], 0);
}

#[test]
fn an_actor_may_not_pass_for_sa_or_a_service_account() {
    let env = TestEnv::new();
    env.init_db();
    for actor in ["sa:retention", "sa:admin-bot"] {
        env.run(&["--actor", actor, "create", "--name", "spoof"])
            .code(2)
            .error_contains("starts with `sa:`");
    }
    assert!(events(&env, &[]).is_empty());
}

#[test]
fn token_verify_refuses_a_token_file_instead_of_ignoring_it() {
    let env = TestEnv::new();
    let path = env.root().join("token");
    std::fs::write(&path, "whatever").unwrap();
    env.run(&["--token-file", path.to_str().unwrap(), "token", "verify"])
        .code(2)
        .error_contains("sa token verify < FILE");
}

#[test]
fn role_delete_counts_deleted_holders_too() {
    let env = with_deployer();
    env.run(&["delete", "bot", "--yes"]).ok();
    assert_eq!(env.json(&["role", "show", "deployer"])["account_count"], 0);
    env.run(&["role", "delete", "deployer"])
        .code(2)
        .error_contains("from the 1 account(s)");
}

#[test]
fn role_show_names_the_first_holders_in_a_table() {
    let env = with_deployer();
    for n in 0..30 {
        env.create(&format!("many-{n:02}"));
    }
    let names: Vec<String> = (0..30).map(|n| format!("many-{n:02}")).collect();
    let mut args = vec!["role", "grant", "deployer"];
    args.extend(names.iter().map(String::as_str));
    env.run(&args).ok();
    let table = env.run(&["role", "show", "deployer"]).ok();
    assert!(table.stdout.contains("many-18, … and 11"), "{table}");
    assert!(!table.stdout.contains("many-19"), "{table}");
    let all = env.json(&["role", "show", "deployer"]);
    assert_eq!(all["accounts"].as_array().unwrap().len(), 31);
}

#[test]
fn a_retention_purge_a_bot_triggers_does_not_name_it_in_another_organization() {
    let env = TestEnv::new();
    env.write_config("[retention]\ndeleted_accounts = \"1s\"\n");
    env.json(&["--org", "acme", "create", "--name", "victim"]);
    // The bot first: any command after the delete and past the retention would purge.
    let bot = bot_with(&env, "worker", &["accounts:read"]);
    env.run(&["--org", "acme", "delete", "victim", "--yes"])
        .ok();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    run_as(&env, &bot, &["list"]).ok();
    let purge = env.json(&["--org", "acme", "audit", "--action", "account.purge"]);
    let details = &purge[0]["details"];
    assert_eq!(purge[0]["actor"], "sa:retention");
    assert!(details.get("via_token").is_none(), "{purge}");
    assert_eq!(
        details["triggered_by"],
        "a service account of another organization"
    );
}

#[test]
fn a_bot_may_not_rename_an_account_that_can_do_more_and_take_its_name() {
    let env = TestEnv::new();
    let bot = bot_with(&env, "mover", &["accounts:write", "accounts:read"]);
    env.json(&["create", "--name", "boss", "--role", "admin"]);
    run_as(&env, &bot, &["update", "boss", "--name", "old-boss"])
        .code(1)
        .error_contains("rename account `boss`");
    run_as(
        &env,
        &bot,
        &["update", "boss", "--description", "still the boss"],
    )
    .ok();
    run_as(&env, &bot, &["update", "mover", "--name", "mover2"]).ok();
    assert_eq!(env.json(&["show", "boss"])["name"], "boss");
}

#[test]
fn a_stray_sa_actor_does_not_break_verify_or_config() {
    let env = TestEnv::new();
    let token = bot_with(&env, "worker", &["logs:read"]);
    let output = env
        .command()
        .env("SA_ACTOR", "sa:ci")
        .args(["token", "verify"])
        .write_stdin(format!("{token}\n"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let output = env
        .command()
        .env("SA_ACTOR", "sa:ci")
        .args(["config", "path"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
}

#[test]
fn an_actor_spelled_to_look_like_sa_is_refused_too() {
    let env = TestEnv::new();
    env.init_db();
    for actor in [" sa:x", "SA:x", "sa :x", "\u{ff53}a:x", "sa\u{ff1a}x"] {
        env.run(&["--actor", actor, "create", "--name", "spoof"])
            .code(2)
            .error_contains("starts with `sa:`");
    }
    env.run(&["--actor", "  alice  ", "create", "--name", "fine"])
        .ok();
    assert_eq!(only(&env, "account.create")["actor"], "alice");
}

#[test]
fn config_refuses_a_token_file_as_verify_does() {
    let env = TestEnv::new();
    env.run(&["--token-file", "/nonexistent", "config", "path"])
        .code(2)
        .error_contains("acts as no one");
}

#[test]
fn a_rotation_under_a_token_narrows_inherited_scopes_to_what_the_bot_holds() {
    let env = TestEnv::new();
    let bot = bot_with(&env, "rotator", &["tokens:write", "logs:read"]);
    env.run(&["role", "create", "logs-only", "--permission", "logs:read"])
        .ok();
    env.json(&["create", "--name", "small", "--role", "logs-only"]);
    let scoped = env.add_token("small", &["--scope", "*:read"]);
    let rotated = run_as(&env, &bot, &["token", "rotate", token_id(&scoped)]).ok();
    let successor = show_token(&env, token_id(rotated.stdout.trim()));
    assert_eq!(successor["scopes"], json!(["logs:read"]));
    valid(&env, rotated.stdout.trim(), &["--permission", "logs:read"]);
}

#[test]
fn a_token_whose_stored_scopes_no_longer_parse_holds_nothing() {
    let env = with_deployer();
    let token = env.add_token("bot", &["--scope", "logs:read"]);
    env.sql().execute(
        "UPDATE token_scopes SET permission = 'Not A Scope' WHERE token_id = ?1",
        &[token_id(&token).into()],
    );
    assert_eq!(
        rejected(&env, &token, &["--permission", "logs:read"]),
        "forbidden"
    );
    let answer = env
        .run(&[
            "can",
            "bot",
            "logs:read",
            "--token",
            token_id(&token),
            "--json",
        ])
        .code(1)
        .json();
    assert_eq!(answer["allowed"], false);
    assert_eq!(show_token(&env, token_id(&token))["permissions"], json!([]));
}
