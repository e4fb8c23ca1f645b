//! The audit trail (SPEC §6): every account change writes one event with its action, target,
//! actor, org and details; `sa audit` filters by account, action, time and count; refused
//! commands write nothing; organizations do not see each other's events.

use serde_json::{Value, json};

use crate::support::TestEnv;

/// `sa audit ARGS --json` as an array.
pub(crate) fn events(env: &TestEnv, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["audit"];
    all.extend_from_slice(args);
    env.json(&all).as_array().expect("a JSON array").clone()
}

pub(crate) fn actions(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["action"].as_str().expect("an action").to_string())
        .collect()
}

/// The one event of `action`.
#[track_caller]
pub(crate) fn only(env: &TestEnv, action: &str) -> Value {
    let found = events(env, &["--action", action]);
    assert_eq!(found.len(), 1, "expected one {action} event: {found:?}");
    found[0].clone()
}

/// Rewrites when an event happened, straight in the database (there is no clock to fake).
fn backdate(env: &TestEnv, event_id: i64, at: &str) {
    let changed = env.sql().execute(
        "UPDATE audit_events SET at = ?1 WHERE id = ?2",
        &[at.into(), event_id.into()],
    );
    assert_eq!(changed, 1);
}

fn id_of(value: &Value) -> i64 {
    value["id"].as_i64().expect("a numeric id")
}

#[test]
fn create_writes_an_account_create_event() {
    let env = TestEnv::new();
    let created = env.json(&[
        "create",
        "--name",
        "ci-bot",
        "--description",
        "Runs CI",
        "--role",
        "viewer",
    ]);
    let event = only(&env, "account.create");
    assert_eq!(event["target"], "ci-bot");
    assert_eq!(event["actor"], "tester");
    assert_eq!(event["org"], "default");
    assert_eq!(event["account_id"], created["id"]);
    assert_eq!(event["details"]["email"], "ci-bot@default.sa.local");
    assert_eq!(event["details"]["description"], "Runs CI");
    assert_eq!(event["details"]["roles"], serde_json::json!(["viewer"]));
    assert!(event["details"].is_object());
    let at = event["at"].as_str().expect("a time");
    assert!(at.ends_with('Z'), "{at}");
    assert!(event["id"].is_i64());
}

#[test]
fn update_writes_an_event_with_old_and_new_name() {
    let env = TestEnv::new();
    env.create("old-name");
    env.run(&["update", "old-name", "--name", "new-name"]).ok();
    let event = only(&env, "account.update");
    assert_eq!(event["target"], "new-name");
    assert_eq!(event["details"]["old_name"], "old-name");
    assert_eq!(event["details"]["new_name"], "new-name");
}

#[test]
fn update_of_the_description_records_it() {
    let env = TestEnv::new();
    env.create("ci-bot");
    env.run(&["update", "ci-bot", "--description", "Runs CI"])
        .ok();
    let event = only(&env, "account.update");
    assert_eq!(event["details"], json!({"description": "Runs CI"}));
}

#[test]
fn update_that_changes_nothing_writes_no_event() {
    let env = TestEnv::new();
    env.json(&["create", "--name", "ci-bot", "--description", "same"]);
    env.run(&["update", "ci-bot", "--description", "same"]).ok();
    env.run(&["update", "ci-bot", "--name", "ci-bot"]).ok();
    assert!(events(&env, &["--action", "account.update"]).is_empty());
}

#[test]
fn disable_writes_an_event_with_the_reason() {
    let env = TestEnv::new();
    env.create("ci-bot");
    env.run(&["disable", "ci-bot", "--reason", "key exposed"])
        .ok();
    let event = only(&env, "account.disable");
    assert_eq!(event["target"], "ci-bot");
    assert_eq!(event["details"]["reason"], "key exposed");
}

#[test]
fn enable_writes_an_event() {
    let env = TestEnv::new();
    env.create("ci-bot");
    env.run(&["disable", "ci-bot"]).ok();
    env.run(&["enable", "ci-bot"]).ok();
    let event = only(&env, "account.enable");
    assert_eq!(event["target"], "ci-bot");
    assert_eq!(event["details"], json!({}));
}

#[test]
fn enabling_an_active_account_writes_no_event() {
    let env = TestEnv::new();
    env.create("ci-bot");
    env.run(&["enable", "ci-bot"]).ok();
    assert!(events(&env, &["--action", "account.enable"]).is_empty());
}

#[test]
fn delete_and_undelete_write_events() {
    let env = TestEnv::new();
    let id = id_of(&env.create("ci-bot"));
    env.run(&["delete", "ci-bot", "--yes"]).ok();
    env.run(&["undelete", &id.to_string()]).ok();
    let deleted = only(&env, "account.delete");
    assert_eq!(deleted["target"], "ci-bot");
    assert_eq!(deleted["account_id"], id);
    assert_eq!(deleted["details"]["revoked_tokens"], 0);
    let undeleted = only(&env, "account.undelete");
    assert_eq!(undeleted["account_id"], id);
    assert_eq!(
        actions(&events(&env, &[])),
        ["account.create", "account.delete", "account.undelete"]
    );
}

#[test]
fn purge_writes_delete_then_purge_and_the_history_survives() {
    let env = TestEnv::new();
    let id = id_of(&env.create("ci-bot"));
    env.run(&["delete", "ci-bot", "--purge", "--yes"]).ok();
    let purged = only(&env, "account.purge");
    assert_eq!(purged["target"], "ci-bot");
    assert_eq!(purged["account_id"], id);
    assert_eq!(purged["details"]["reason"], "requested");
    assert_eq!(
        actions(&events(&env, &["--account", &id.to_string()])),
        ["account.create", "account.delete", "account.purge"]
    );
}

#[test]
fn retention_purge_writes_an_event_with_its_reason() {
    let env = TestEnv::new();
    env.create("ci-bot");
    env.run(&["delete", "ci-bot", "--yes"]).ok();
    env.write_config("[retention]\ndeleted_accounts = \"0s\"\n");
    let purged = only(&env, "account.purge");
    assert_eq!(purged["details"]["reason"], "retention ended");
    assert_eq!(purged["target"], "ci-bot");
    // The policy acted; the user whose command applied it is only noted.
    assert_eq!(purged["actor"], "sa:retention");
    assert_eq!(purged["details"]["triggered_by"], "tester");
}

#[test]
fn refused_delete_without_yes_writes_no_event() {
    let env = TestEnv::new();
    env.create("ci-bot");
    env.run(&["delete", "ci-bot"]).code(2);
    assert_eq!(actions(&events(&env, &[])), ["account.create"]);
}

#[test]
fn actor_is_the_os_user_by_default() {
    let env = TestEnv::new();
    env.create("ci-bot");
    assert_eq!(only(&env, "account.create")["actor"], "tester");
    assert_eq!(env.json(&["show", "ci-bot"])["created_by"], "tester");
}

#[test]
fn actor_flag_overrides_the_os_user() {
    let env = TestEnv::new();
    env.json(&["create", "--name", "ci-bot", "--actor", "alice"]);
    assert_eq!(only(&env, "account.create")["actor"], "alice");
    assert_eq!(env.json(&["show", "ci-bot"])["created_by"], "alice");
}

#[test]
fn sa_actor_env_overrides_the_os_user() {
    let env = TestEnv::new();
    let output = env
        .command()
        .env("SA_ACTOR", "bob")
        .args(["create", "--name", "ci-bot"])
        .output()
        .expect("run sa");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(only(&env, "account.create")["actor"], "bob");
}

#[test]
fn actor_flag_beats_sa_actor_env() {
    let env = TestEnv::new();
    let output = env
        .command()
        .env("SA_ACTOR", "bob")
        .args(["create", "--name", "ci-bot", "--actor", "alice"])
        .output()
        .expect("run sa");
    assert!(output.status.success(), "{output:?}");
    assert_eq!(only(&env, "account.create")["actor"], "alice");
}

#[test]
fn events_are_listed_oldest_first() {
    let env = TestEnv::new();
    env.create("first-bot");
    env.create("second-bot");
    env.run(&["disable", "first-bot"]).ok();
    let all = events(&env, &[]);
    let targets: Vec<&str> = all
        .iter()
        .map(|e| e["target"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(targets, ["first-bot", "second-bot", "first-bot"]);
    let ids: Vec<i64> = all.iter().map(id_of).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
}

#[test]
fn audit_table_shows_one_row_per_event() {
    let env = TestEnv::new();
    env.create("ci-bot");
    env.run(&["disable", "ci-bot", "--reason", "leak"]).ok();
    let run = env.run(&["audit"]).ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{run}");
    assert!(
        lines[0].contains("ACTION") && lines[0].contains("ACTOR"),
        "{run}"
    );
    assert!(lines[1].contains("account.create"), "{run}");
    assert!(lines[2].contains("account.disable") && lines[2].contains("reason=leak"));
}

#[test]
fn account_filter_by_name_follows_renames() {
    let env = TestEnv::new();
    env.create("old-name");
    env.create("bystander");
    env.run(&["update", "old-name", "--name", "new-name"]).ok();
    env.run(&["disable", "new-name"]).ok();
    let found = events(&env, &["--account", "new-name"]);
    assert_eq!(
        actions(&found),
        ["account.create", "account.update", "account.disable"]
    );
    assert_eq!(found[0]["target"], "old-name");
}

#[test]
fn account_filter_by_id_matches_the_name_filter() {
    let env = TestEnv::new();
    let id = id_of(&env.create("ci-bot"));
    env.create("bystander");
    env.run(&["disable", "ci-bot"]).ok();
    assert_eq!(
        events(&env, &["--account", &id.to_string()]),
        events(&env, &["--account", "ci-bot"])
    );
    assert_eq!(events(&env, &["--account", "ci-bot"]).len(), 2);
}

#[test]
fn account_filter_finds_a_purged_account_by_its_last_name() {
    let env = TestEnv::new();
    env.create("gone-bot");
    env.create("bystander");
    env.run(&["delete", "gone-bot", "--purge", "--yes"]).ok();
    assert_eq!(
        actions(&events(&env, &["--account", "gone-bot"])),
        ["account.create", "account.delete", "account.purge"]
    );
}

#[test]
fn account_filter_of_an_unknown_account_is_empty() {
    let env = TestEnv::new();
    env.create("ci-bot");
    assert!(events(&env, &["--account", "never-existed"]).is_empty());
    assert!(events(&env, &["--account", "999"]).is_empty());
}

#[test]
fn action_filter_is_exact() {
    let env = TestEnv::new();
    env.create("ci-bot");
    env.run(&["disable", "ci-bot"]).ok();
    env.run(&["enable", "ci-bot"]).ok();
    assert_eq!(
        actions(&events(&env, &["--action", "account.disable"])),
        ["account.disable"]
    );
    // Not a prefix match without the trailing dot.
    assert!(events(&env, &["--action", "account"]).is_empty());
    assert!(events(&env, &["--action", "account.dis"]).is_empty());
}

#[test]
fn action_filter_ending_in_a_dot_is_a_family() {
    let env = TestEnv::new();
    env.create("ci-bot");
    env.run(&["disable", "ci-bot"]).ok();
    assert_eq!(
        actions(&events(&env, &["--action", "account."])),
        ["account.create", "account.disable"]
    );
    assert!(events(&env, &["--action", "token."]).is_empty());
}

#[test]
fn action_family_is_matched_literally() {
    let env = TestEnv::new();
    env.create("ci-bot");
    // Neither case-folded nor a LIKE pattern: `_` and `%` are plain characters.
    assert!(events(&env, &["--action", "ACCOUNT."]).is_empty());
    assert!(events(&env, &["--action", "acc_unt."]).is_empty());
    assert!(events(&env, &["--action", "%."]).is_empty());
}

#[test]
fn since_a_duration_excludes_older_events() {
    let env = TestEnv::new();
    let old = env.create("old-bot");
    env.create("new-bot");
    let old_event = events(&env, &["--account", "old-bot"]);
    backdate(&env, id_of(&old_event[0]), "2001-01-01T00:00:00Z");
    let recent = events(&env, &["--since", "1h"]);
    assert_eq!(recent.len(), 1, "{recent:?}");
    assert_eq!(recent[0]["target"], "new-bot");
    assert_ne!(recent[0]["account_id"], old["id"]);
}

#[test]
fn since_a_date_includes_events_from_that_day_on() {
    let env = TestEnv::new();
    env.create("old-bot");
    env.create("new-bot");
    let old_event = events(&env, &["--account", "old-bot"]);
    backdate(&env, id_of(&old_event[0]), "2001-06-15T12:00:00Z");
    assert_eq!(events(&env, &["--since", "2000-01-01"]).len(), 2);
    assert_eq!(events(&env, &["--since", "2001-06-15"]).len(), 2);
    assert_eq!(events(&env, &["--since", "2001-06-16"]).len(), 1);
    assert_eq!(events(&env, &["--since", "2001-06-15T12:00:01Z"]).len(), 1);
    assert!(events(&env, &["--since", "2999-01-01"]).is_empty());
}

#[test]
fn since_with_a_bad_value_is_a_usage_error() {
    let env = TestEnv::new();
    env.run(&["audit", "--since", "last tuesday"])
        .code(2)
        .error_contains("last tuesday");
}

#[test]
fn limit_keeps_the_newest_events_oldest_first() {
    let env = TestEnv::new();
    for name in ["bot-one", "bot-two", "bot-three", "bot-four"] {
        env.create(name);
    }
    let last_two = events(&env, &["--limit", "2"]);
    let targets: Vec<&str> = last_two
        .iter()
        .map(|e| e["target"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(targets, ["bot-three", "bot-four"]);
    assert_eq!(events(&env, &["--limit", "10"]).len(), 4);
}

#[test]
fn limit_applies_after_the_other_filters() {
    let env = TestEnv::new();
    env.create("ci-bot");
    env.run(&["disable", "ci-bot"]).ok();
    env.create("other-bot");
    let found = events(&env, &["--account", "ci-bot", "--limit", "1"]);
    assert_eq!(actions(&found), ["account.disable"]);
}

#[test]
fn limit_that_is_not_a_number_is_a_usage_error() {
    let env = TestEnv::new();
    env.run(&["audit", "--limit", "many"])
        .code(2)
        .error_contains("many");
    env.run(&["audit", "--limit", "-1"])
        .code(2)
        .error_contains("-1");
}

#[test]
fn taken_name_writes_no_event() {
    let env = TestEnv::new();
    env.create("ci-bot");
    env.run(&["create", "--name", "ci-bot"]).code(1);
    assert_eq!(actions(&events(&env, &[])), ["account.create"]);
}

#[test]
fn account_limit_refusal_writes_no_event() {
    let env = TestEnv::new();
    env.write_config("[limits]\nmax_accounts = 1\n");
    env.create("one-bot");
    env.run(&["create", "--name", "two-bot"]).code(1);
    assert_eq!(actions(&events(&env, &[])), ["account.create"]);
}

#[test]
fn refused_rename_writes_no_event() {
    let env = TestEnv::new();
    env.create("first-bot");
    env.create("second-bot");
    env.run(&["update", "first-bot", "--name", "second-bot"])
        .code(1);
    assert!(events(&env, &["--action", "account.update"]).is_empty());
}

#[test]
fn unknown_role_refusal_writes_no_event() {
    let env = TestEnv::new();
    env.run(&["create", "--name", "ci-bot", "--role", "superuser"])
        .code(1);
    assert!(events(&env, &[]).is_empty());
}

#[test]
fn events_of_one_org_are_not_shown_in_another() {
    let env = TestEnv::new();
    env.json(&["create", "--name", "acme-bot", "--org", "acme"]);
    env.create("default-bot");
    let acme = events(&env, &["--org", "acme"]);
    assert_eq!(acme.len(), 1);
    assert_eq!(acme[0]["target"], "acme-bot");
    assert_eq!(acme[0]["org"], "acme");
    let default = events(&env, &[]);
    assert_eq!(default.len(), 1);
    assert_eq!(default[0]["target"], "default-bot");
    assert!(events(&env, &["--org", "globex"]).is_empty());
}

#[test]
fn account_filter_by_id_does_not_reach_into_another_org() {
    let env = TestEnv::new();
    let id = id_of(&env.json(&["create", "--name", "acme-bot", "--org", "acme"]));
    assert!(events(&env, &["--account", &id.to_string()]).is_empty());
}

#[test]
fn account_filter_follows_a_purged_account_through_its_renames() {
    let env = TestEnv::new();
    env.create("old-name");
    env.run(&["update", "old-name", "--name", "new-name"]).ok();
    env.run(&["delete", "new-name", "--purge", "--yes"]).ok();
    let history = actions(&events(&env, &["--account", "old-name"]));
    assert_eq!(
        history,
        [
            "account.create",
            "account.update",
            "account.delete",
            "account.purge"
        ]
    );
    assert_eq!(history, actions(&events(&env, &["--account", "new-name"])));
}

// ---- the hash chain: `sa audit verify` and `sa audit prune` --------------------------------

/// `sa audit verify --json`, whatever its exit code.
fn chain(env: &TestEnv, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["audit", "verify", "--json"];
    all.extend_from_slice(args);
    let run = env.run(&all);
    let report = run.json();
    (run.code, report)
}

/// Creates accounts through the library with the clock set to `at` (RFC 3339).
pub(crate) fn create_as_of(env: &TestEnv, at: &str, names: &[&str]) {
    crate::support::as_of(env, at, |store, ctx| {
        for name in names {
            sa::domain::accounts::create(
                store,
                ctx,
                &sa::domain::accounts::CreateAccount {
                    name: sa::domain::names::AccountName::parse(name).unwrap(),
                    description: None,
                    roles: vec![],
                },
            )
            .unwrap();
        }
    });
}

fn sql(env: &TestEnv, statement: &str) {
    env.sql().tamper(statement);
}

/// Five events in `default`: three creates, an update and a disable.
fn five_events() -> TestEnv {
    let env = TestEnv::new();
    for name in ["alpha", "beta", "gamma"] {
        env.create(name);
    }
    env.run(&["update", "beta", "--description", "b"]).ok();
    env.run(&["disable", "gamma"]).ok();
    env
}

#[test]
fn an_untouched_trail_verifies_with_its_count_and_head() {
    let env = five_events();
    let (code, report) = chain(&env, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["ok"], true);
    assert_eq!(report["events_checked"], 5);
    assert_eq!(report["org"], "default");
    assert_eq!(report["head_hash"].as_str().map(str::len), Some(64));
    assert_eq!(report["problem"], Value::Null);
    let table = env.run(&["audit", "verify"]).ok();
    assert!(table.stdout.contains("5 event(s)"), "{table}");
    // An organization's chain is its own.
    env.json(&["--org", "acme", "create", "--name", "other"]);
    assert_eq!(chain(&env, &["--org", "acme"]).1["events_checked"], 1);
}

#[test]
fn each_kind_of_tampering_with_one_row_is_caught_and_named() {
    let cases: [(&str, i64, &str); 6] = [
        (
            "UPDATE audit_events SET actor = 'mallory' WHERE id = 3",
            3,
            "altered",
        ),
        (
            "UPDATE audit_details SET value = 'x' WHERE event_id = 2 AND position = 0",
            2,
            "altered",
        ),
        ("DELETE FROM audit_details WHERE event_id = 4", 4, "altered"),
        (
            "DELETE FROM audit_details WHERE event_id = 3; DELETE FROM audit_events WHERE id = 3",
            4,
            "removed",
        ),
        // Moved to the end, as if it happened last.
        (
            "UPDATE audit_details SET event_id = 99 WHERE event_id = 2; UPDATE audit_events SET id = 99 WHERE id = 2",
            3,
            "does not link to event 1",
        ),
        (
            "INSERT INTO audit_events (id, at, actor, action, org, target) VALUES (50, '2026-01-01T00:00:00Z', 'x', 'account.create', 'default', 'ghost')",
            50,
            "inserted by hand",
        ),
    ];
    for (tamper, id, why) in cases {
        let env = five_events();
        sql(&env, tamper);
        let (code, report) = chain(&env, &[]);
        assert_eq!(code, 1, "{tamper}: {report}");
        assert_eq!(report["ok"], false);
        assert_eq!(report["problem"]["event_id"], id, "{tamper}: {report}");
        let reason = report["problem"]["reason"].as_str().unwrap();
        assert!(reason.contains(why), "{tamper}: {reason}");
        let run = env.run(&["audit", "verify"]).code(1);
        assert!(run.stdout.contains(&format!("event {id}")), "{run}");
        assert!(
            run.stderr
                .contains(&format!("fails its check at event {id}")),
            "{run}"
        );
    }
}

#[test]
fn a_prune_keeps_the_chain_verifiable_and_later_edits_caught() {
    let env = TestEnv::new();
    // Three events a year ago, through the library with the clock set back.
    create_as_of(&env, "2025-11-01T10:00:00Z", &["old-a", "old-b", "old-c"]);
    env.create("new-a");
    env.create("new-b");
    assert_eq!(chain(&env, &[]).1["events_checked"], 5);
    env.run(&["audit", "prune", "--before", "2026-01-01"])
        .code(2)
        .error_contains("needs confirmation");
    assert_eq!(events(&env, &[]).len(), 5, "nothing removed without --yes");
    let pruned = env
        .run(&[
            "audit",
            "prune",
            "--before",
            "2026-01-01",
            "--yes",
            "--json",
        ])
        .ok();
    assert_eq!(pruned.json()["removed"], 3);
    let left = events(&env, &[]);
    assert_eq!(
        actions(&left),
        ["account.create", "account.create", "audit.prune"]
    );
    let prune_event = only(&env, "audit.prune");
    assert_eq!(prune_event["details"]["removed"], 3);
    let (code, report) = chain(&env, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["events_checked"], 3);
    assert_eq!(report["checkpoint"]["last_removed_id"], 3);
    assert_eq!(report["checkpoint"]["removed"], 3);
    // Edits to what remains are still caught, the first remaining event included.
    sql(&env, "UPDATE audit_events SET target = 'x' WHERE id = 4");
    let (code, report) = chain(&env, &[]);
    assert_eq!((code, report["problem"]["event_id"].as_i64()), (1, Some(4)));
    // And a trail that fails its check is not pruned, which would hide it.
    env.run(&["audit", "prune", "--before", "2030-01-01", "--yes"])
        .code(1)
        .error_contains("fails its check at event 4");
    assert_eq!(events(&env, &[]).len(), 3);
}

#[test]
fn a_prune_with_nothing_that_old_changes_nothing() {
    let env = five_events();
    let run = env.run(&["audit", "prune", "--before", "2020-01-01"]).ok();
    assert!(run.stderr.contains("nothing was removed"), "{run}");
    assert_eq!(events(&env, &[]).len(), 5);
    assert_eq!(chain(&env, &[]).1["checkpoint"], Value::Null);
}

#[test]
fn oldest_events_removed_behind_a_hand_written_checkpoint_are_caught() {
    // No prune ever ran: removing the first events and writing the checkpoint a prune would
    // have left needs no hash recomputed, only a copied one. The missing `audit.prune` event
    // gives it away.
    let env = five_events();
    sql(
        &env,
        "DELETE FROM audit_details WHERE event_id IN (1, 2); DELETE FROM audit_events WHERE id IN (1, 2);
         INSERT INTO audit_checkpoints VALUES ('default', 2,
             (SELECT prev_hash FROM audit_events WHERE id = 3), 2, '2026-12-01T00:00:00Z', 'admin')",
    );
    let (code, report) = chain(&env, &[]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["problem"]["event_id"], 2, "{report}");
    let reason = report["problem"]["reason"].as_str().unwrap();
    assert!(reason.contains("no `audit.prune` event"), "{reason}");
    env.run(&["db", "check"]).code(1);
}

#[test]
fn a_checkpoint_changed_after_a_real_prune_is_caught() {
    let tampers = [
        // One more event removed than the prune removed, the checkpoint moved to match.
        "DELETE FROM audit_details WHERE event_id = 3; DELETE FROM audit_events WHERE id = 3;
         UPDATE audit_checkpoints SET last_removed_id = 3,
             last_removed_hash = (SELECT prev_hash FROM audit_events WHERE id = 4)",
        "UPDATE audit_checkpoints SET removed = 1",
        "UPDATE audit_checkpoints SET by = 'someone-else'",
        "UPDATE audit_checkpoints SET at = '2020-01-01T00:00:00Z'",
    ];
    for tamper in tampers {
        let env = TestEnv::new();
        // Events 1 and 2 a year ago; 3 and 4 now; the prune's own event is 5.
        create_as_of(&env, "2025-01-01T10:00:00Z", &["old-a", "old-b"]);
        env.create("new-a");
        env.create("new-b");
        env.run(&["audit", "prune", "--before", "2026-01-01", "--yes"])
            .ok();
        assert_eq!(chain(&env, &[]).0, 0, "a real prune verifies");
        let prune_event = only(&env, "audit.prune");
        assert_eq!(prune_event["details"]["cut_id"], 2);
        sql(&env, tamper);
        let (code, report) = chain(&env, &[]);
        assert_eq!(code, 1, "{tamper}: {report}");
        let reason = report["problem"]["reason"].as_str().unwrap();
        assert!(reason.contains("changed by hand"), "{tamper}: {reason}");
    }
}
