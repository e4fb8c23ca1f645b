//! `sa usage` (SPEC §6, issue 10): the organization's report against a scripted history, its
//! `--exit-code`, and one account's tokens with their per-day series.

use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};

use crate::support::{TestEnv, as_of};
use crate::tokens::{expire, token_id};

/// RFC 3339 for `days` ago (negative: in the future), at the current time of day.
fn days_ago(days: i64) -> String {
    (Utc::now() - TimeDelta::days(days)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Through the library, `days` ago: mints a token for `account` expiring `ttl_days` later.
pub(crate) fn mint_then(env: &TestEnv, days: i64, account: &str, ttl_days: i64) -> String {
    as_of(env, &days_ago(days), |store, ctx| {
        sa::domain::tokens::mint(
            store,
            ctx,
            &sa::domain::tokens::MintRequest {
                account: sa::domain::names::AccountRef::parse(account).unwrap(),
                name: None,
                expires: Some(sa::time::ExpiryRequest::In(sa::time::Duration::from_days(
                    ttl_days,
                ))),
                scopes: vec![],
            },
        )
        .unwrap()
        .secret
        .expose()
        .to_string()
    })
}

/// Through the library, `days` ago: `times` successful verifications of `token`.
fn verify_then(env: &TestEnv, days: i64, token: &str, times: usize) {
    as_of(env, &days_ago(days), |store, ctx| {
        let parsed = sa::domain::tokens::parse_presented(token).unwrap();
        for _ in 0..times {
            sa::domain::tokens::verify(
                store,
                ctx,
                &sa::domain::tokens::VerifyRequest {
                    token: &parsed,
                    permission: None,
                    source: Some("deployer"),
                },
            )
            .unwrap();
        }
    });
}

/// The history the report is checked against (see the expected numbers in the test).
fn scripted_history() -> (TestEnv, String) {
    let env = TestEnv::new();
    env.write_config("[tokens]\nrequire_expiry = false\n");
    env.json(&["create", "--name", "ci-bot", "--role", "editor"]);
    as_of(&env, &days_ago(60), |store, ctx| {
        sa::domain::accounts::create(
            store,
            ctx,
            &sa::domain::accounts::CreateAccount {
                name: sa::domain::names::AccountName::parse("idle-bot").unwrap(),
                description: None,
                roles: vec![],
            },
        )
        .unwrap();
    });
    env.create("off-bot");
    env.create("gone-bot");
    // A: minted 25 days ago for 200 days; used 20 and 3 days ago, and today.
    let a = mint_then(&env, 25, "ci-bot", 200);
    verify_then(&env, 20, &a, 4);
    verify_then(&env, 3, &a, 3);
    for _ in 0..2 {
        env.run_with_stdin(&["token", "verify"], &format!("{a}\n"))
            .ok();
    }
    // B: expires in two days, never used.
    env.add_token("ci-bot", &["--expires", "2d"]);
    // C: idle-bot's, minted 60 days ago, never used.
    mint_then(&env, 60, "idle-bot", 365);
    // D revoked, E expired.
    let d = env.add_token("ci-bot", &[]);
    env.run(&["token", "revoke", token_id(&d)]).ok();
    let e = env.add_token("ci-bot", &[]);
    expire(&env, token_id(&e));
    // F: of an account disabled since.
    env.add_token("off-bot", &[]);
    env.run(&["disable", "off-bot"]).ok();
    // G: never expires (allowed when it was minted).
    env.add_token("ci-bot", &["--expires", "never"]);
    // H: of an account deleted since (left out of every count).
    env.add_token("gone-bot", &[]);
    env.run(&["delete", "gone-bot", "--yes"]).ok();
    // Then the policy tightens.
    env.write_config(
        "[tokens]\nrequire_expiry = true\nmax_ttl = \"90d\"\n[limits]\nmax_tokens_per_account = 2\n",
    );
    (env, a)
}

#[test]
fn the_report_counts_a_scripted_history() {
    let (env, _) = scripted_history();
    let report = env.json(&["usage"]);
    assert_eq!(
        report,
        json!({
            "org": "default",
            "accounts": {"active": 2, "disabled": 1, "deleted": 1, "limit": null},
            "tokens": {"active": 4, "disabled": 1, "expired": 1, "revoked": 1},
            "expiring": {"within": "7d", "tokens": 1},
            "never_used": 4,
            "stale": {"unused_for": "30d", "tokens": 1, "accounts": 1},
            "auto_disabled": 0,
            "verifications": {"last_1d": 2, "last_7d": 5, "last_30d": 9},
            "drift": {
                "tokens_over_max_ttl": 2,
                "max_ttl": "90d",
                "tokens_without_expiry": 1,
                "require_expiry": true,
                "accounts_over_token_limit": 1,
                "max_tokens_per_account": 2,
                "total": 4,
            },
            "needs_attention": true,
        })
    );
    env.run(&["usage", "--exit-code"]).code(1);
    // Wider and narrower windows move the counts that depend on them.
    let wide = env.json(&["usage", "--expiring-within", "40d", "--stale", "90d"]);
    // B only: F lapses within 40 days too, but its account is disabled, so it verifies
    // nothing now and needs no rotation.
    assert_eq!(wide["expiring"]["tokens"], 1, "{wide}");
    assert_eq!(
        wide["stale"],
        json!({"unused_for": "90d", "tokens": 0, "accounts": 0})
    );
    let table = env.run(&["usage"]).ok();
    assert!(
        table.stdout.contains("2 active, 1 disabled, 1 deleted"),
        "{table}"
    );
    assert!(
        table.stdout.contains("sa token list --expiring-within 7d"),
        "{table}"
    );
}

#[test]
fn a_quiet_organization_needs_no_attention() {
    let env = TestEnv::new();
    env.create("ci-bot");
    let token = env.add_token("ci-bot", &[]);
    env.run_with_stdin(&["token", "verify"], &format!("{token}\n"))
        .ok();
    let report = env.json(&["usage"]);
    assert_eq!(report["needs_attention"], false, "{report}");
    env.run(&["usage", "--exit-code"]).ok();
    let empty = env.json(&["--org", "nobody", "usage"]);
    assert_eq!(
        empty["tokens"],
        json!({"active": 0, "disabled": 0, "expired": 0, "revoked": 0})
    );
}

#[test]
fn an_accounts_tokens_come_with_a_zero_filled_series() {
    let (env, a) = scripted_history();
    let report = env.json(&["usage", "ci-bot"]);
    assert_eq!(report["account"], "ci-bot");
    assert_eq!(report["days"], 30);
    let tokens = report["tokens"].as_array().unwrap();
    // A, B, D (revoked today) and G; E expired long before the window.
    assert_eq!(tokens.len(), 4, "{report}");
    let first = tokens.iter().find(|t| t["id"] == token_id(&a)).unwrap();
    let series = first["series"].as_array().unwrap();
    assert_eq!(series.len(), 30);
    let count_on = |days: i64| {
        let day = (Utc::now() - TimeDelta::days(days))
            .format("%Y-%m-%d")
            .to_string();
        series
            .iter()
            .find(|d| d["day"] == day)
            .map(|d| d["count"].clone())
    };
    assert_eq!(count_on(20), Some(json!(4)));
    assert_eq!(count_on(3), Some(json!(3)));
    assert_eq!(count_on(0), Some(json!(2)));
    assert_eq!(count_on(1), Some(json!(0)));
    assert_eq!(first["in_window"], 9);
    assert_eq!(first["use_count"], 9);
    assert_eq!(
        first["last_used_source"],
        Value::Null,
        "the CLI's verify gave no source"
    );
    // A shorter window holds only the recent days.
    let week = env.json(&["usage", "ci-bot", "--days", "7"]);
    let a_week = &week["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == token_id(&a))
        .unwrap()
        .clone();
    assert_eq!(a_week["in_window"], 5);
    let table = env.run(&["usage", "ci-bot"]).ok();
    assert!(table.stdout.contains("PER DAY"), "{table}");
    assert!(table.stdout.contains('█'), "{table}");
    env.run(&["usage", "ci-bot", "--days", "0"]).code(2);
    env.run(&["usage", "ci-bot", "--stale", "3d"]).code(2);
    env.run(&["usage", "nobody-bot"])
        .code(1)
        .error_contains("nobody-bot");
    // A deleted account is reported as deleted, as `sa show` does, not as an empty report.
    env.run(&["usage", "gone-bot"])
        .code(1)
        .error_contains("is deleted");
}

#[test]
fn the_account_table_fits_an_80_column_terminal() {
    let (env, _) = scripted_history();
    for days in ["7", "30", "400"] {
        let out = env
            .command()
            .args(["usage", "ci-bot", "--days", days])
            .env("COLUMNS", "80")
            .output()
            .unwrap();
        assert!(out.status.success());
        let stdout = String::from_utf8(out.stdout).unwrap();
        for line in stdout.lines() {
            assert!(
                line.chars().count() <= 80,
                "--days {days}: {} columns: {line}",
                line.chars().count()
            );
        }
    }
    let report = env
        .command()
        .arg("usage")
        .env("COLUMNS", "80")
        .output()
        .unwrap();
    let stdout = String::from_utf8(report.stdout).unwrap();
    assert!(stdout.lines().all(|l| l.chars().count() <= 80), "{stdout}");
}

#[test]
fn the_sparkline_scales_to_the_busiest_day() {
    let (env, _) = scripted_history();
    let table = env.run(&["usage", "ci-bot"]).ok();
    let line = table
        .stdout
        .lines()
        .find(|l| l.contains('█'))
        .expect("a sparkline");
    let spark: String = line
        .chars()
        .rev()
        .take(30)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    assert_eq!(spark.chars().filter(|c| *c != '·').count(), 3, "{spark}");
}

/// The ids `sa token list ARGS --json` prints, in order.
fn listed(env: &TestEnv, args: &[&str]) -> Vec<String> {
    let mut all = vec!["token", "list"];
    all.extend_from_slice(args);
    env.json(&all)
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn token_list_finds_what_is_stale_and_sorts_by_it() {
    let (env, a) = scripted_history();
    let a = token_id(&a).to_string();
    let stale = env.json(&["token", "list", "--unused-for", "30d"]);
    let stale = stale.as_array().unwrap();
    assert_eq!(stale.len(), 1, "only idle-bot's token: {stale:?}");
    assert_eq!(stale[0]["account"], "idle-bot");
    assert!(listed(&env, &["--unused-for", "90d"]).is_empty());

    let by_use = listed(&env, &["--sort", "last-used"]);
    assert_eq!(by_use.len(), 5, "the live tokens");
    assert_eq!(by_use.last(), Some(&a), "the one used today comes last");
    let by_uses = listed(&env, &["--sort", "uses"]);
    assert_eq!(by_uses.last(), Some(&a), "the most used last");
    let by_expiry = env.json(&["token", "list", "--sort", "expires"]);
    let expiries: Vec<&Value> = by_expiry
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["expires_at"])
        .collect();
    assert_eq!(
        *expiries.last().unwrap(),
        &Value::Null,
        "never expiring last"
    );
    let dated: Vec<&str> = expiries.iter().filter_map(|e| e.as_str()).collect();
    assert!(dated.windows(2).all(|w| w[0] <= w[1]), "{dated:?}");
    env.run(&["token", "list", "--sort", "name"]).code(2);
    env.run(&["token", "list", "--unused-for", "soon"]).code(2);
}

// ---- the stale-token policy and the retention of per-day counters --------------------------

#[test]
fn the_stale_policy_pauses_exactly_the_idle_tokens_and_audits_each() {
    let env = TestEnv::new();
    env.create("ci-bot");
    env.json(&["--org", "acme", "create", "--name", "far-bot"]);
    let idle = mint_then(&env, 60, "ci-bot", 365);
    let used_lately = mint_then(&env, 60, "ci-bot", 365);
    verify_then(&env, 10, &used_lately, 1);
    let used_long_ago = mint_then(&env, 60, "ci-bot", 365);
    verify_then(&env, 40, &used_long_ago, 2);
    mint_then(&env, 60, "ci-bot", 30); // expired by now: left alone
    let fresh = env.add_token("ci-bot", &[]);
    let far = as_of(&env, &days_ago(60), |store, ctx| {
        let ctx = sa::domain::Context {
            org: sa::domain::names::OrgName::parse("acme").unwrap(),
            ..ctx.clone()
        };
        sa::domain::tokens::mint(
            store,
            &ctx,
            &sa::domain::tokens::MintRequest {
                account: sa::domain::names::AccountRef::parse("far-bot").unwrap(),
                name: None,
                expires: Some(sa::time::ExpiryRequest::In(sa::time::Duration::from_days(
                    365,
                ))),
                scopes: vec![],
            },
        )
        .unwrap()
        .token
        .id
    });
    env.write_config("[tokens]\ndisable_unused_after = \"30d\"\n");
    // Reads never pause anything.
    env.run(&["list"]).ok();
    env.json(&["usage"]);
    assert_eq!(
        env.json(&["token", "list", "--status", "disabled"]),
        json!([])
    );
    // A write that is refused or cancelled changes nothing, the policy's pauses included.
    env.run(&["create", "--name", "ci-bot"]).code(1);
    env.run(&["delete", "ci-bot"]).code(2);
    env.run(&["token", "add", "ci-bot", "--expires", "999d"])
        .code(1);
    assert_eq!(
        env.json(&["token", "list", "--status", "disabled"]),
        json!([])
    );
    assert!(crate::audit::events(&env, &["--action", "token.auto_disable"]).is_empty());
    // The first write that succeeds does, once it has done its own work.
    let write = env.run(&["create", "--name", "next-bot"]).ok();
    assert!(
        write.stdout.contains("next-bot"),
        "the command's own output comes first: {write}"
    );
    assert!(
        write.stderr.contains("paused 3 token(s) unused for 30d"),
        "{write}"
    );
    let paused: Vec<String> = env
        .json(&["token", "list", "--status", "disabled"])
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();
    let mut expected = vec![
        token_id(&idle).to_string(),
        token_id(&used_long_ago).to_string(),
    ];
    expected.sort();
    let mut paused_sorted = paused.clone();
    paused_sorted.sort();
    assert_eq!(paused_sorted, expected);
    for id in [token_id(&used_lately), token_id(&fresh)] {
        assert_eq!(env.json(&["token", "show", id])["status"], "active");
    }
    let shown = env.json(&["token", "show", token_id(&idle)]);
    assert_eq!(shown["paused_by"], "sa:policy");
    let events = crate::audit::events(&env, &["--action", "token.auto_disable"]);
    assert_eq!(events.len(), 2);
    let of_idle = events
        .iter()
        .find(|e| e["details"]["token_id"] == token_id(&idle))
        .unwrap();
    assert_eq!(of_idle["actor"], "sa:policy");
    assert_eq!(of_idle["target"], "ci-bot");
    assert_eq!(of_idle["details"]["last_used_at"], "never");
    assert_eq!(of_idle["details"]["unused_for"], "30d");
    assert_eq!(of_idle["details"]["triggered_by"], "tester");
    // Every organization's: acme's token too, in acme's own trail.
    let acme = crate::audit::events(&env, &["--org", "acme", "--action", "token.auto_disable"]);
    assert_eq!(acme.len(), 1);
    assert_eq!(acme[0]["details"]["token_id"], far);
    // Paused, they are no longer stale (the policy did its job): the cron check goes quiet.
    let report = env.json(&["usage"]);
    assert_eq!(report["auto_disabled"], 2, "{report}");
    assert_eq!(report["stale"]["tokens"], 0, "{report}");
    // Listed as unused still (the list filters, whatever the status), but none active.
    assert_eq!(listed(&env, &["--unused-for", "30d"]).len(), 2);
    assert!(listed(&env, &["--unused-for", "30d", "--status", "active"]).is_empty());
    // A paused token is rejected; enabling it brings it back and restarts its clock, so the
    // next write does not pause it again.
    let rejected = env.run_with_stdin(&["token", "verify", "--json"], &format!("{idle}\n"));
    assert_eq!(rejected.code(1).json()["reason"], "disabled");
    env.run(&["token", "enable", token_id(&idle)]).ok();
    env.run(&["create", "--name", "later-bot"]).ok();
    assert_eq!(
        env.json(&["token", "show", token_id(&idle)])["status"],
        "active"
    );
    assert_eq!(env.json(&["usage"])["auto_disabled"], 1);
    // Enabled again, it is idle for less than 30 days: neither stale nor listed as unused.
    assert_eq!(env.json(&["usage"])["stale"]["tokens"], 0);
    assert_eq!(
        listed(&env, &["--unused-for", "30d"]),
        vec![token_id(&used_long_ago).to_string()]
    );
}

#[test]
fn the_stale_policy_is_off_by_default_and_checked_in_the_config() {
    let env = TestEnv::new();
    env.create("ci-bot");
    mint_then(&env, 300, "ci-bot", 365);
    env.create("other-bot");
    assert_eq!(
        env.json(&["token", "list", "--status", "disabled"]),
        json!([])
    );
    env.write_config("[tokens]\ndisable_unused_after = \"1h\"\n");
    env.run(&["list"])
        .code(3)
        .error_contains("tokens.disable_unused_after");
}

#[test]
fn per_day_counters_older_than_the_retention_are_removed() {
    let env = TestEnv::new();
    env.create("ci-bot");
    let token = mint_then(&env, 100, "ci-bot", 365);
    verify_then(&env, 90, &token, 1);
    verify_then(&env, 20, &token, 1);
    let days = || -> i64 { env.sql().int("SELECT count(*) FROM token_usage_daily", &[]) };
    assert_eq!(days(), 2);
    env.run(&["list"]).ok();
    assert_eq!(days(), 2, "400 days by default");
    env.write_config("[retention]\nusage_days = 60\n");
    env.run(&["list"]).ok();
    assert_eq!(days(), 1, "the one of 90 days ago went");
    assert_eq!(
        env.json(&["token", "show", token_id(&token)])["use_count"],
        2,
        "totals stay"
    );
    env.write_config("[retention]\nusage_days = 7\n");
    env.run(&["list"])
        .code(3)
        .error_contains("retention.usage_days");
}

// ---- sa token prune ---------------------------------------------------------------------------

/// Through the library, `days` ago: revokes `token`.
fn revoke_then(env: &TestEnv, days: i64, token: &str, org: &str) {
    as_of(env, &days_ago(days), |store, ctx| {
        let ctx = sa::domain::Context {
            org: sa::domain::names::OrgName::parse(org).unwrap(),
            ..ctx.clone()
        };
        let id: sa::TokenId = token_id(token).parse().unwrap();
        sa::domain::tokens::revoke(store, &ctx, &[id]).unwrap();
    });
}

#[test]
fn prune_removes_only_what_ended_long_enough_ago_after_a_look() {
    let env = TestEnv::new();
    env.create("ci-bot");
    let revoked_long_ago = mint_then(&env, 120, "ci-bot", 365);
    verify_then(&env, 110, &revoked_long_ago, 3);
    revoke_then(&env, 100, &revoked_long_ago, "default");
    let expired_long_ago = mint_then(&env, 130, "ci-bot", 30);
    let expired_lately = mint_then(&env, 40, "ci-bot", 30);
    let revoked_today = env.add_token("ci-bot", &["--scope", "logs:read"]);
    env.run(&["token", "revoke", token_id(&revoked_today)]).ok();
    let live = env.add_token("ci-bot", &[]);
    env.json(&["--org", "acme", "create", "--name", "far-bot"]);
    let elsewhere = env.add_token("far-bot", &["--org", "acme"]);
    revoke_then(&env, 0, &elsewhere, "acme");
    env.sql().execute(
        "UPDATE tokens SET revoked_at = '2020-01-01T00:00:00Z' WHERE id = ?1",
        &[token_id(&elsewhere).into()],
    );

    let look = env
        .run(&[
            "token",
            "prune",
            "--older-than",
            "90d",
            "--dry-run",
            "--json",
        ])
        .ok();
    let mut would: Vec<String> = look
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();
    would.sort();
    let mut expected = vec![
        token_id(&revoked_long_ago).to_string(),
        token_id(&expired_long_ago).to_string(),
    ];
    expected.sort();
    assert_eq!(would, expected);
    assert!(look.stderr.contains("nothing was removed"), "{look}");
    env.run(&["token", "prune", "--older-than", "90d"])
        .code(2)
        .error_contains("needs confirmation");
    let count = |sql: &str| -> i64 { env.sql().int(sql, &[token_id(&revoked_long_ago).into()]) };
    assert_eq!(
        count("SELECT count(*) FROM token_usage_daily WHERE token_id = ?1"),
        1
    );

    let pruned = env
        .run(&["token", "prune", "--older-than", "90d", "--yes", "--json"])
        .ok()
        .json();
    assert_eq!(pruned["removed"], 2);
    assert_eq!(pruned["accounts"], 1);
    env.run(&["token", "show", token_id(&revoked_long_ago)])
        .code(1);
    assert_eq!(
        count("SELECT count(*) FROM token_usage_daily WHERE token_id = ?1"),
        0
    );
    assert_eq!(count("SELECT count(*) FROM tokens WHERE id = ?1"), 0);
    for kept in [&expired_lately, &revoked_today, &live] {
        env.run(&["token", "show", token_id(kept)]).ok();
    }
    env.run(&["--org", "acme", "token", "show", token_id(&elsewhere)])
        .ok();
    let event = crate::audit::only(&env, "token.prune");
    assert_eq!(event["target"], "ci-bot");
    assert_eq!(event["details"]["tokens"], 2);
    assert_eq!(event["details"]["older_than"], "90d");
    assert!(
        event["details"]["token_ids"]
            .as_array()
            .unwrap()
            .contains(&Value::from(token_id(&expired_long_ago)))
    );
    // The token's own history stays in the trail, which still verifies.
    let history = crate::audit::events(&env, &["--action", "token.revoke"]);
    assert!(
        history
            .iter()
            .any(|e| e["details"]["token_id"] == token_id(&revoked_long_ago))
    );
    env.run(&["audit", "verify"]).ok();
    // Nothing that old left: nothing to ask, nothing removed.
    let again = env.run(&["token", "prune", "--older-than", "90d"]).ok();
    assert!(again.stderr.contains("removed 0 token(s)"), "{again}");
}
