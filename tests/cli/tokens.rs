//! Token administration through the real binary: `sa token add|list|show|revoke|disable|
//! enable|rotate`, the expiry policy, `--output-file`, the audit trail, and the absence of
//! secrets from everything `sa` stores. Verification has its own module, `verify`.
//!
//! The helpers at the top are shared with `verify`.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use crate::support::{TestEnv, file_mode as mode, on_postgres};

/// The length of a default-prefix token: `sa_` + id (12) + `_` + secret (32) + checksum (6).
const TOKEN_LEN: usize = 3 + 12 + 1 + 32 + 6;

/// Whether `token` matches `^sa_[0-9A-Za-z]{12}_[0-9A-Za-z]{38}$` (the pattern the README
/// gives secret scanners).
pub(crate) fn looks_like_token(token: &str) -> bool {
    let alnum = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric());
    token.len() == TOKEN_LEN
        && token.starts_with("sa_")
        && alnum(&token[3..15])
        && &token[15..16] == "_"
        && alnum(&token[16..])
}

/// The public token id of a token with a 3-character prefix.
pub(crate) fn token_id(token: &str) -> &str {
    &token[3..15]
}

/// The 32-character secret part of a token with a 3-character prefix.
pub(crate) fn secret_part(token: &str) -> &str {
    &token[16..48]
}

/// Parses an RFC 3339 timestamp from JSON output.
#[track_caller]
pub(crate) fn time(value: &Value) -> DateTime<Utc> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a time: {value}"));
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("`{text}` is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

/// Makes a token expired without waiting: its `expires_at` moves to 2000.
pub(crate) fn expire(env: &TestEnv, id: &str) {
    let changed = env.sql().execute(
        "UPDATE tokens SET expires_at = '2000-01-01T00:00:00Z' WHERE id = ?1",
        &[id.into()],
    );
    assert_eq!(changed, 1, "no token {id}");
}

/// `sa token show ID --json`.
#[track_caller]
pub(crate) fn show(env: &TestEnv, id: &str) -> Value {
    env.json(&["token", "show", id])
}

/// The ids of `sa token list ARGS --json`, in list order.
#[track_caller]
fn listed(env: &TestEnv, args: &[&str]) -> Vec<String> {
    let mut all = vec!["token", "list"];
    all.extend_from_slice(args);
    env.json(&all)
        .as_array()
        .expect("a JSON array")
        .iter()
        .map(|t| t["id"].as_str().expect("an id").to_string())
        .collect()
}

/// `token add ACCOUNT --expires WHEN --json`: (created_at, expires_at).
#[track_caller]
fn expiry_of(env: &TestEnv, when: &str) -> (DateTime<Utc>, Option<DateTime<Utc>>) {
    let minted = env.json(&["token", "add", "bot", "--expires", when]);
    let expires = (!minted["expires_at"].is_null()).then(|| time(&minted["expires_at"]));
    (time(&minted["created_at"]), expires)
}

/// Temporary files `--output-file` may have left beside its target.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with(".sa-token-"))
        .collect()
}

/// An env with account `bot` (role editor).
fn with_bot() -> TestEnv {
    let env = TestEnv::new();
    env.json(&["create", "--name", "bot", "--role", "editor"]);
    env
}

// ---- token add: output ---------------------------------------------------------------------

#[test]
fn add_prints_only_the_token_on_stdout_and_the_note_on_stderr() {
    let env = with_bot();
    let run = env.run(&["token", "add", "bot"]).ok();
    let token = run.stdout.strip_suffix('\n').expect("a trailing newline");
    assert!(!token.contains('\n'), "{run}");
    assert!(looks_like_token(token), "{run}");
    assert!(run.stderr.contains(token_id(token)), "{run}");
    assert!(run.stderr.contains("expires 20"), "{run}");
    assert!(run.stderr.contains("will not be shown again"), "{run}");
    assert!(!run.stderr.contains(secret_part(token)), "{run}");
}

#[test]
fn add_json_is_one_object_with_the_metadata_and_the_token() {
    let env = with_bot();
    let minted = env.json(&["token", "add", "bot", "--name", "deploy"]);
    for key in [
        "id",
        "account",
        "org",
        "name",
        "scopes",
        "status",
        "created_at",
        "created_by",
        "expires_at",
        "revoked_at",
        "revoked_by",
        "replaces",
        "replaced_by",
        "last_used_at",
        "last_used_source",
        "use_count",
        "token",
    ] {
        assert!(minted.get(key).is_some(), "missing {key} in {minted}");
    }
    let token = minted["token"].as_str().expect("a token");
    assert!(looks_like_token(token), "{token}");
    assert_eq!(minted["id"], token_id(token));
    assert_eq!(minted["account"], "bot");
    assert_eq!(minted["org"], "default");
    assert_eq!(minted["name"], "deploy");
    assert_eq!(minted["status"], "active");
    assert_eq!(minted["created_by"], "tester");
    assert_eq!(minted["use_count"], 0);
    assert!(minted["revoked_at"].is_null() && minted["replaces"].is_null());
}

// ---- token add: expiry ---------------------------------------------------------------------

#[test]
fn add_expires_takes_durations() {
    let env = with_bot();
    for (when, secs) in [
        ("30m", 1_800),
        ("4h", 14_400),
        ("7d", 604_800),
        ("2w", 1_209_600),
    ] {
        let (created, expires) = expiry_of(&env, when);
        assert_eq!(
            expires.map(|at| (at - created).num_seconds()),
            Some(secs),
            "{when}"
        );
    }
}

#[test]
fn add_expires_takes_an_rfc3339_time_in_any_offset() {
    let env = with_bot();
    let at = Utc::now() + TimeDelta::days(10);
    let at = DateTime::from_timestamp(at.timestamp(), 0).expect("a time");
    let offset = chrono::FixedOffset::east_opt(2 * 3600).expect("+02:00");
    let text = at.with_timezone(&offset).to_rfc3339();
    assert!(text.ends_with("+02:00"), "{text}");
    let minted = env.json(&["token", "add", "bot", "--expires", &text]);
    assert_eq!(
        minted["expires_at"],
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
}

#[test]
fn add_expires_takes_a_date_meaning_the_end_of_that_day_utc() {
    let env = with_bot();
    let day = (Utc::now() + TimeDelta::days(10))
        .format("%Y-%m-%d")
        .to_string();
    let minted = env.json(&["token", "add", "bot", "--expires", &day]);
    assert_eq!(minted["expires_at"], format!("{day}T23:59:59Z"));
}

#[test]
fn add_expires_never_is_refused_by_default_naming_the_key() {
    let env = with_bot();
    env.run(&["token", "add", "bot", "--expires", "never"])
        .code(1)
        .error_contains("tokens.require_expiry");
    assert!(listed(&env, &["--status", "all"]).is_empty());
}

#[test]
fn add_expires_never_is_allowed_when_expiry_is_not_required() {
    let env = with_bot();
    env.write_config("[tokens]\nrequire_expiry = false\n");
    let minted = env.json(&["token", "add", "bot", "--expires", "never"]);
    assert!(minted["expires_at"].is_null(), "{minted}");
}

#[test]
fn add_without_expires_uses_the_default_ttl_of_30_days() {
    let env = with_bot();
    let minted = env.json(&["token", "add", "bot"]);
    let lifetime = time(&minted["expires_at"]) - time(&minted["created_at"]);
    assert_eq!(lifetime, TimeDelta::days(30));
}

#[test]
fn add_without_expires_uses_a_configured_default_ttl() {
    let env = with_bot();
    env.write_config("[tokens]\ndefault_ttl = \"2d\"\n");
    let minted = env.json(&["token", "add", "bot"]);
    let lifetime = time(&minted["expires_at"]) - time(&minted["created_at"]);
    assert_eq!(lifetime, TimeDelta::days(2));
}

#[test]
fn add_longer_than_max_ttl_is_refused_naming_the_key() {
    let env = with_bot();
    env.run(&["token", "add", "bot", "--expires", "366d"])
        .code(1)
        .error_contains("tokens.max_ttl");
    env.write_config("[tokens]\nmax_ttl = \"7d\"\ndefault_ttl = \"1d\"\n");
    env.run(&["token", "add", "bot", "--expires", "8d"])
        .code(1)
        .error_contains("tokens.max_ttl");
    assert!(listed(&env, &["--status", "all"]).is_empty());
}

#[test]
fn add_with_a_past_expiry_is_refused_and_stores_nothing() {
    let env = with_bot();
    env.run(&["token", "add", "bot", "--expires", "2001-01-01"])
        .code(2)
        .error_contains("not in the future");
    env.run(&["token", "add", "bot", "--expires", "2001-01-01T00:00:00Z"])
        .code(2)
        .error_contains("not in the future");
    assert!(listed(&env, &["--status", "all"]).is_empty());
}

#[test]
fn add_with_an_unparseable_expiry_is_a_usage_error() {
    let env = with_bot();
    env.run(&["token", "add", "bot", "--expires", "tomorrow"])
        .code(2)
        .error_contains("tomorrow");
    // A negative value reaches the parser rather than reading as an unknown flag.
    env.run(&["token", "add", "bot", "--expires", "-1h"])
        .code(2)
        .error_contains("negative");
    env.run(&["token", "list", "--expiring-within", "-1d"])
        .code(2)
        .error_contains("negative");
    assert!(listed(&env, &["--status", "all"]).is_empty());
}

// ---- token add: refusals -------------------------------------------------------------------

#[test]
fn add_beyond_max_tokens_per_account_is_refused_naming_the_key() {
    let env = with_bot();
    env.write_config("[limits]\nmax_tokens_per_account = 2\n");
    env.add_token("bot", &[]);
    env.add_token("bot", &[]);
    env.run(&["token", "add", "bot"])
        .code(1)
        .error_contains("limits.max_tokens_per_account");
    assert_eq!(listed(&env, &["--status", "all"]).len(), 2);
}

#[test]
fn an_account_at_its_token_limit_can_rotate_but_overlaps_only_one_grace() {
    let env = with_bot();
    env.write_config("[limits]\nmax_tokens_per_account = 2\n");
    let first = env.add_token("bot", &[]);
    let second = env.add_token("bot", &[]);
    env.run(&["token", "rotate", token_id(&first), "--grace", "1h"])
        .ok();
    env.run(&["token", "rotate", token_id(&second), "--grace", "1h"])
        .code(1)
        .error_contains("limits.max_tokens_per_account");
    // Without a grace period the old token goes at once, so the rotation fits...
    let third = env.run(&["token", "rotate", token_id(&second)]).ok().stdout;
    assert_eq!(listed(&env, &[]).len(), 3);
    // ...unless the old token was paused, when the new active one adds to the count.
    env.run(&["token", "disable", token_id(third.trim_end())])
        .ok();
    env.run(&["token", "rotate", token_id(third.trim_end())])
        .code(1)
        .error_contains("limits.max_tokens_per_account");
}

#[test]
fn add_for_a_disabled_account_is_refused() {
    let env = with_bot();
    env.run(&["disable", "bot"]).ok();
    env.run(&["token", "add", "bot"])
        .code(1)
        .error_contains("disabled");
    assert!(listed(&env, &["--status", "all"]).is_empty());
}

#[test]
fn add_for_an_unknown_account_is_refused() {
    let env = with_bot();
    env.run(&["token", "add", "nobody"])
        .code(1)
        .error_contains("nobody");
}

// ---- token add --output-file ---------------------------------------------------------------

#[test]
fn add_output_file_writes_the_token_with_mode_0600_and_leaves_stdout_empty() {
    let env = with_bot();
    let run = env
        .run(&["token", "add", "bot", "--output-file", "svc.token"])
        .ok();
    assert_eq!(run.stdout, "", "{run}");
    let path = env.root().join("svc.token");
    let written = std::fs::read_to_string(&path).expect("the token file");
    let token = written.strip_suffix('\n').expect("a trailing newline");
    assert!(looks_like_token(token), "{written:?}");
    assert_eq!(mode(&path), 0o600);
    assert!(!run.stderr.contains(secret_part(token)), "{run}");
    assert_eq!(listed(&env, &[]), vec![token_id(token).to_string()]);
    assert!(leftovers(env.root()).is_empty());
}

#[test]
fn add_output_file_replaces_an_existing_file_keeping_its_mode() {
    let env = with_bot();
    let path = env.root().join("svc.token");
    std::fs::write(&path, "old token\n").expect("write");
    // Group-readable on purpose (the service's group reads it): the new token stays so.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let run = env
        .run(&["token", "add", "bot", "--output-file", "svc.token"])
        .ok();
    assert!(run.stderr.contains("mode 0640"), "{run}");
    let written = std::fs::read_to_string(&path).expect("the token file");
    assert!(looks_like_token(written.trim_end()), "{written:?}");
    assert_eq!(mode(&path), 0o640);
    assert!(
        leftovers(env.root()).is_empty(),
        "{:?}",
        leftovers(env.root())
    );
}

#[test]
fn add_output_file_with_json_prints_the_metadata_and_no_token() {
    let env = with_bot();
    let minted = env.json(&["token", "add", "bot", "--output-file", "svc.token"]);
    assert!(minted["token"].is_null(), "{minted}");
    assert_eq!(minted["output_file"], "svc.token");
    let written = std::fs::read_to_string(env.root().join("svc.token")).expect("the file");
    assert_eq!(minted["id"], token_id(written.trim_end()));
}

#[test]
fn a_refused_add_leaves_the_output_file_as_it_was() {
    let env = with_bot();
    let path = env.root().join("svc.token");
    std::fs::write(&path, "old token\n").expect("write");
    env.run(&[
        "token",
        "add",
        "bot",
        "--expires",
        "never",
        "--output-file",
        "svc.token",
    ])
    .code(1)
    .error_contains("tokens.require_expiry");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "old token\n");
    assert!(
        leftovers(env.root()).is_empty(),
        "{:?}",
        leftovers(env.root())
    );
}

#[test]
fn add_output_file_that_is_a_directory_is_a_usage_error() {
    let env = with_bot();
    std::fs::create_dir(env.root().join("tokens")).expect("mkdir");
    env.run(&["token", "add", "bot", "--output-file", "tokens"])
        .code(2)
        .error_contains("directory");
    assert!(listed(&env, &["--status", "all"]).is_empty());
    assert!(leftovers(env.root()).is_empty());
}

#[test]
fn add_output_file_that_is_a_fifo_is_refused_and_left_in_place() {
    let env = with_bot();
    let fifo = env.root().join("svc.token");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(made.success());
    let fifo_arg = fifo.to_str().expect("utf-8");
    env.run(&["token", "add", "bot", "--output-file", fifo_arg])
        .code(2)
        .error_contains("not a regular file");
    let token = env.add_token("bot", &[]);
    env.run(&[
        "token",
        "rotate",
        token_id(&token),
        "--output-file",
        fifo_arg,
    ])
    .code(2)
    .error_contains("not a regular file");
    // A symlink to a FIFO (like /dev/stdout) is refused too, not replaced by a file.
    let link = env.root().join("link.token");
    std::os::unix::fs::symlink(&fifo, &link).expect("symlink");
    env.run(&[
        "token",
        "add",
        "bot",
        "--output-file",
        link.to_str().expect("utf-8"),
    ])
    .code(2)
    .error_contains("not a regular file");
    assert!(
        std::fs::symlink_metadata(&link)
            .expect("link")
            .file_type()
            .is_symlink()
    );
    assert_eq!(listed(&env, &["--status", "all"]).len(), 1);
    assert!(
        std::fs::symlink_metadata(&fifo)
            .expect("still there")
            .file_type()
            .is_fifo()
    );
}

#[test]
fn add_output_file_in_a_missing_directory_fails_before_storing_anything() {
    let env = with_bot();
    let run = env
        .run(&["token", "add", "bot", "--output-file", "missing/svc.token"])
        .code(3)
        .error_contains("missing");
    assert_eq!(run.stdout, "");
    assert!(
        !run.stderr.contains(".sa-token-"),
        "names no temp file: {run}"
    );
    assert!(listed(&env, &["--status", "all"]).is_empty());
    assert!(!env.root().join("missing").exists());
}

// ---- token list ----------------------------------------------------------------------------

#[test]
fn list_shows_tokens_as_a_table_and_as_json() {
    let env = with_bot();
    let first = env.add_token("bot", &["--name", "deploy"]);
    let second = env.add_token("bot", &["--scope", "dashboards:read"]);
    let table = env.run(&["token", "list"]).ok();
    let header = table.stdout.lines().next().unwrap_or_default();
    for column in ["ID", "ACCOUNT", "NAME", "STATUS", "SCOPES", "EXPIRES"] {
        assert!(header.contains(column), "{table}");
    }
    assert!(!header.contains("USES"), "{table}");
    for token in [&first, &second] {
        assert!(table.stdout.contains(token_id(token)), "{table}");
        assert!(!table.stdout.contains(secret_part(token)), "{table}");
    }
    assert!(table.stdout.contains("deploy") && table.stdout.contains("dashboards:read"));
    let list = env.json(&["token", "list"]);
    let list = list.as_array().expect("an array");
    assert_eq!(list.len(), 2);
    let scoped = list
        .iter()
        .find(|t| t["id"] == token_id(&second))
        .expect("the second token");
    assert_eq!(scoped["scopes"], serde_json::json!(["dashboards:read"]));
    assert!(list.iter().any(|t| t["id"] == token_id(&first)));
    assert!(list.iter().all(|t| t.get("token").is_none()));
}

#[test]
fn list_filters_by_account() {
    let env = with_bot();
    env.create("other");
    let mine = env.add_token("bot", &[]);
    let theirs = env.add_token("other", &[]);
    assert_eq!(listed(&env, &["bot"]), vec![token_id(&mine).to_string()]);
    assert_eq!(
        listed(&env, &["other"]),
        vec![token_id(&theirs).to_string()]
    );
    assert_eq!(listed(&env, &[]).len(), 2);
    env.run(&["token", "list", "nobody"])
        .code(1)
        .error_contains("nobody");
}

#[test]
fn list_filters_by_status_and_shows_live_tokens_by_default() {
    let env = with_bot();
    let [active, disabled, expired, revoked] =
        std::array::from_fn(|_| token_id(&env.add_token("bot", &[])).to_string());
    env.run(&["token", "disable", &disabled]).ok();
    expire(&env, &expired);
    env.run(&["token", "revoke", &revoked]).ok();
    let sorted = |mut ids: Vec<String>| {
        ids.sort();
        ids
    };
    assert_eq!(
        sorted(listed(&env, &[])),
        sorted(vec![active.clone(), disabled.clone()])
    );
    assert_eq!(listed(&env, &["--status", "active"]), vec![active.clone()]);
    assert_eq!(listed(&env, &["--status", "disabled"]), vec![disabled]);
    assert_eq!(
        listed(&env, &["--status", "expired"]),
        vec![expired.clone()]
    );
    assert_eq!(listed(&env, &["--status", "revoked"]), vec![revoked]);
    assert_eq!(listed(&env, &["--status", "all"]).len(), 4);
    assert_eq!(show(&env, &expired)["status"], "expired");
}

#[test]
fn list_usage_adds_the_usage_columns() {
    let env = with_bot();
    let token = env.add_token("bot", &[]);
    env.run_with_stdin(
        &["token", "verify", "--source", "ci"],
        &format!("{token}\n"),
    )
    .ok();
    let table = env.run(&["token", "list", "--usage"]).ok();
    let mut lines = table.stdout.lines();
    let header = lines.next().unwrap_or_default();
    for column in ["LAST USED", "USES", "SOURCE"] {
        assert!(header.contains(column), "{table}");
    }
    let row: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(row.last(), Some(&"ci"), "{table}");
    assert!(row.contains(&"1"), "{table}");
}

#[test]
fn list_expiring_within_with_exit_code_fails_when_a_token_lapses_soon() {
    let env = with_bot();
    env.add_token("bot", &[]);
    let soon = env.add_token("bot", &["--expires", "4h"]);
    let run = env
        .run(&["token", "list", "--expiring-within", "1d", "--exit-code"])
        .code(1);
    assert_eq!(run.stderr, "", "{run}");
    assert!(run.stdout.contains(token_id(&soon)), "{run}");
    assert_eq!(run.stdout.lines().count(), 2, "a header and one row\n{run}");
    assert_eq!(
        listed(&env, &["--expiring-within", "1d"]),
        vec![token_id(&soon).to_string()]
    );
}

#[test]
fn list_expiring_within_with_exit_code_succeeds_quietly_when_nothing_lapses() {
    let env = with_bot();
    env.add_token("bot", &[]);
    env.add_token("bot", &[]);
    let run = env
        .run(&["token", "list", "--expiring-within", "1d", "--exit-code"])
        .ok();
    // A cron job mails whatever it prints: a check that passes prints nothing.
    assert_eq!(run.stdout, "", "{run}");
    assert_eq!(run.stderr, "", "{run}");
    let json = env
        .run(&[
            "token",
            "list",
            "--expiring-within",
            "1d",
            "--exit-code",
            "--json",
        ])
        .ok();
    assert_eq!(json.json(), serde_json::json!([]));
}

// ---- token show ----------------------------------------------------------------------------

#[test]
fn show_prints_one_token_as_a_table_and_as_json() {
    let env = with_bot();
    let token = env.add_token("bot", &["--name", "deploy"]);
    let id = token_id(&token);
    let table = env.run(&["token", "show", id]).ok();
    for text in [id, "bot", "deploy", "active", "tester"] {
        assert!(table.stdout.contains(text), "{table}");
    }
    assert!(!table.stdout.contains(secret_part(&token)), "{table}");
    let json = show(&env, id);
    assert_eq!(json["id"], id);
    assert_eq!(json["name"], "deploy");
    assert_eq!(json["status"], "active");
    assert!(json.get("token").is_none(), "{json}");
}

#[test]
fn show_and_revoke_refuse_a_whole_token_as_a_usage_error() {
    let env = with_bot();
    let token = env.add_token("bot", &[]);
    for command in ["show", "revoke", "rotate", "disable"] {
        let run = env
            .run(&["token", command, &token])
            .code(2)
            .error_contains("secrets are never taken on the command line");
        assert!(
            !run.stderr.contains(secret_part(&token)),
            "the error repeats the secret\n{run}"
        );
    }
    assert_eq!(show(&env, token_id(&token))["status"], "active");
}

#[test]
fn show_of_an_unknown_id_is_not_found() {
    let env = with_bot();
    env.run(&["token", "show", "AAAAAAAAAAAA"])
        .code(1)
        .error_contains("AAAAAAAAAAAA");
}

// ---- token revoke --------------------------------------------------------------------------

#[test]
fn revoke_marks_the_token_revoked_by_the_actor() {
    let env = with_bot();
    let token = env.add_token("bot", &[]);
    let id = token_id(&token);
    env.run(&["token", "revoke", id]).ok();
    let shown = show(&env, id);
    assert_eq!(shown["status"], "revoked");
    assert_eq!(shown["revoked_by"], "tester");
    assert!(!shown["revoked_at"].is_null(), "{shown}");
    assert!(listed(&env, &[]).is_empty());
}

#[test]
fn revoke_of_several_ids_without_a_terminal_needs_yes() {
    let env = with_bot();
    let a = token_id(&env.add_token("bot", &[])).to_string();
    let b = token_id(&env.add_token("bot", &[])).to_string();
    env.run(&["token", "revoke", &a, &b])
        .code(2)
        .error_contains("--yes");
    assert_eq!(listed(&env, &["--status", "active"]).len(), 2);
    env.run(&["token", "revoke", &a, &b, "--yes"]).ok();
    assert_eq!(listed(&env, &["--status", "revoked"]).len(), 2);
}

#[test]
fn revoke_with_an_unknown_id_among_several_revokes_none() {
    let env = with_bot();
    let a = token_id(&env.add_token("bot", &[])).to_string();
    let b = token_id(&env.add_token("bot", &[])).to_string();
    env.run(&["token", "revoke", &a, "AAAAAAAAAAAA", &b, "--yes"])
        .code(1)
        .error_contains("AAAAAAAAAAAA");
    assert_eq!(listed(&env, &["--status", "active"]).len(), 2);
    assert!(listed(&env, &["--status", "revoked"]).is_empty());
}

#[test]
fn revoke_all_of_an_account_needs_yes_and_then_revokes_only_that_account() {
    let env = with_bot();
    env.create("other");
    env.add_token("bot", &[]);
    env.add_token("bot", &[]);
    let theirs = env.add_token("other", &[]);
    env.run(&["token", "revoke", "--account", "bot", "--all"])
        .code(2)
        .error_contains("--yes");
    assert_eq!(listed(&env, &["--status", "revoked"]).len(), 0);
    env.run(&["token", "revoke", "--account", "bot", "--all", "--yes"])
        .ok();
    assert_eq!(listed(&env, &["bot", "--status", "revoked"]).len(), 2);
    assert!(listed(&env, &["bot"]).is_empty());
    assert_eq!(listed(&env, &[]), vec![token_id(&theirs).to_string()]);
}

// ---- token disable / enable ----------------------------------------------------------------

#[test]
fn disable_pauses_a_token_and_enable_resumes_it() {
    let env = with_bot();
    let token = env.add_token("bot", &[]);
    let id = token_id(&token);
    let stdin = format!("{token}\n");
    env.run(&["token", "disable", id]).ok();
    assert_eq!(show(&env, id)["status"], "disabled");
    let paused = env
        .run_with_stdin(&["token", "verify", "--json"], &stdin)
        .code(1);
    assert_eq!(paused.json()["reason"], "disabled");
    env.run(&["token", "enable", id]).ok();
    assert_eq!(show(&env, id)["status"], "active");
    env.run_with_stdin(&["token", "verify"], &stdin).ok();
}

#[test]
fn a_revoked_token_cannot_be_enabled_again() {
    let env = with_bot();
    let id = token_id(&env.add_token("bot", &[])).to_string();
    env.run(&["token", "revoke", &id]).ok();
    env.run(&["token", "enable", &id])
        .code(1)
        .error_contains("revoked");
    assert_eq!(show(&env, &id)["status"], "revoked");
}

// ---- token rotate --------------------------------------------------------------------------

#[test]
fn rotate_mints_a_linked_successor_and_revokes_the_old_token_at_once() {
    let env = with_bot();
    let old = env.add_token("bot", &["--name", "deploy", "--scope", "dashboards:read"]);
    let old_id = token_id(&old);
    let run = env.run(&["token", "rotate", old_id]).ok();
    let new = run.stdout.strip_suffix('\n').expect("a trailing newline");
    assert!(looks_like_token(new), "{run}");
    assert_ne!(new, old);
    let new_id = token_id(new);
    let successor = show(&env, new_id);
    assert_eq!(successor["name"], "deploy");
    assert_eq!(successor["scopes"], serde_json::json!(["dashboards:read"]));
    assert_eq!(successor["replaces"], old_id);
    assert_eq!(successor["status"], "active");
    let retired = show(&env, old_id);
    assert_eq!(retired["replaced_by"], new_id);
    assert_eq!(retired["status"], "revoked");
    let verdict = env
        .run_with_stdin(&["token", "verify", "--json"], &format!("{old}\n"))
        .code(1);
    assert_eq!(verdict.json()["reason"], "revoked");
    env.run_with_stdin(&["token", "verify"], &format!("{new}\n"))
        .ok();
}

#[test]
fn rotate_with_grace_keeps_both_tokens_valid_and_writes_the_new_one_to_the_file() {
    let env = with_bot();
    let old = env.add_token("bot", &[]);
    let old_id = token_id(&old);
    let before = Utc::now();
    let run = env
        .run(&[
            "token",
            "rotate",
            old_id,
            "--grace",
            "1h",
            "--output-file",
            "svc.token",
        ])
        .ok();
    let after = Utc::now();
    assert_eq!(run.stdout, "", "{run}");
    let path = env.root().join("svc.token");
    let new = std::fs::read_to_string(&path).expect("the token file");
    let new = new.strip_suffix('\n').expect("a trailing newline");
    assert!(looks_like_token(new) && new != old, "{new}");
    assert_eq!(mode(&path), 0o600);
    assert!(leftovers(env.root()).is_empty());
    for token in [old.as_str(), new] {
        env.run_with_stdin(&["token", "verify"], &format!("{token}\n"))
            .ok();
    }
    let retired = show(&env, old_id);
    assert_eq!(retired["status"], "active");
    assert_eq!(retired["replaced_by"], token_id(new));
    let table = env.run(&["token", "list"]).ok().stdout;
    let row = |id: &str| {
        table
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_default()
    };
    assert!(row(old_id).ends_with("(rotated)"), "{table}");
    assert!(!row(token_id(new)).contains("rotated"), "{table}");
    let until = time(&retired["expires_at"]);
    // Timestamps are whole seconds, so allow one second either side.
    assert!(
        until >= before + TimeDelta::hours(1) - TimeDelta::seconds(1)
            && until <= after + TimeDelta::hours(1) + TimeDelta::seconds(1),
        "{until} not about an hour after {before}"
    );
}

#[test]
fn a_grace_period_never_outlives_the_old_token_and_the_audit_says_so() {
    let env = with_bot();
    let old = env.add_token("bot", &["--expires", "2h"]);
    let old_id = token_id(&old);
    let expires_at = show(&env, old_id)["expires_at"].clone();
    env.run(&["token", "rotate", old_id, "--grace", "5h"]).ok();
    assert_eq!(show(&env, old_id)["expires_at"], expires_at);
    let events = env.json(&["audit", "--action", "token.rotate"]);
    assert_eq!(
        events[0]["details"]["old_token_until"], expires_at,
        "{events}"
    );
}

#[test]
fn rotating_a_revoked_token_is_refused() {
    let env = with_bot();
    let id = token_id(&env.add_token("bot", &[])).to_string();
    env.run(&["token", "revoke", &id]).ok();
    env.run(&["token", "rotate", &id])
        .code(1)
        .error_contains("revoked");
    assert_eq!(listed(&env, &["--status", "all"]), vec![id]);
}

#[test]
fn rotating_the_same_token_twice_is_refused() {
    let env = with_bot();
    let id = token_id(&env.add_token("bot", &[])).to_string();
    // With a grace period the old token is still live, so only the lineage refuses.
    env.run(&["token", "rotate", &id, "--grace", "1h"]).ok();
    env.run(&["token", "rotate", &id, "--grace", "1h"])
        .code(1)
        .error_contains("already rotated");
    assert_eq!(listed(&env, &["--status", "all"]).len(), 2);
}

#[test]
fn rotating_an_expired_token_is_refused() {
    let env = with_bot();
    let id = token_id(&env.add_token("bot", &[])).to_string();
    expire(&env, &id);
    env.run(&["token", "rotate", &id])
        .code(1)
        .error_contains("expired");
    assert_eq!(listed(&env, &["--status", "all"]), vec![id]);
}

// ---- audit and secrecy ---------------------------------------------------------------------

#[test]
fn token_changes_are_audited_without_their_secrets() {
    let env = with_bot();
    let first = env.add_token("bot", &[]);
    let id = token_id(&first);
    env.run(&["token", "disable", id]).ok();
    env.run(&["token", "enable", id]).ok();
    let second = env.run(&["token", "rotate", id]).ok().stdout;
    let second = second.trim_end();
    env.run(&["token", "revoke", token_id(second)]).ok();
    let events = env.json(&["audit"]);
    let actions: Vec<&str> = events
        .as_array()
        .expect("an array")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    for action in [
        "token.add",
        "token.disable",
        "token.enable",
        "token.rotate",
        "token.revoke",
    ] {
        assert!(actions.contains(&action), "no {action} in {actions:?}");
    }
    let text = events.to_string();
    assert!(text.contains(id), "events name the token id");
    for token in [first.as_str(), second] {
        assert!(!text.contains(secret_part(token)), "a secret in {text}");
    }
    let table = env.run(&["audit"]).ok();
    for token in [first.as_str(), second] {
        assert!(!table.stdout.contains(secret_part(token)), "{table}");
    }
}

#[test]
fn the_database_files_never_hold_a_token_secret() {
    let env = with_bot();
    let first = env.add_token("bot", &[]);
    env.run_with_stdin(&["token", "verify"], &format!("{first}\n"))
        .ok();
    let second = env
        .run(&["token", "rotate", token_id(&first), "--grace", "1h"])
        .ok()
        .stdout;
    let second = second.trim_end().to_string();
    env.run_with_stdin(&["token", "verify"], &format!("{second}\n"))
        .ok();
    // What is stored: the file and its -wal and -shm, or each PostgreSQL table's rows.
    let stored: Vec<(String, Vec<u8>)> = if on_postgres() {
        env.sql().dump()
    } else {
        let dir = env.db_path().parent().expect("a data dir").to_path_buf();
        ["sa.db", "sa.db-wal", "sa.db-shm"]
            .into_iter()
            .filter_map(|name| Some((name.to_string(), std::fs::read(dir.join(name)).ok()?)))
            .collect()
    };
    let mut read = 0;
    let mut found_ids = 0;
    for (name, bytes) in stored {
        read += bytes.len();
        for token in [first.as_str(), second.as_str()] {
            for needle in [token, secret_part(token)] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                    "{name} holds a secret"
                );
            }
        }
        // The ids are stored in the clear: the search finds what is there.
        for token in [first.as_str(), second.as_str()] {
            let id = token_id(token).as_bytes();
            found_ids += usize::from(bytes.windows(id.len()).any(|w| w == id));
        }
    }
    assert!(read > 0, "nothing stored was read");
    assert!(
        found_ids >= 2,
        "the search does not even find the token ids"
    );
}

#[test]
fn a_token_pasted_into_a_token_name_is_refused_and_never_stored() {
    let env = TestEnv::new();
    env.create("bot");
    let token = env.add_token("bot", &[]);
    let run = env.run(&["token", "add", "bot", "--name", &token]).code(2);
    assert!(!run.stderr.contains(secret_part(&token)), "{run}");
    let audit = env.run(&["audit", "--json"]).ok();
    assert!(!audit.stdout.contains(secret_part(&token)));
}

#[test]
fn cut_or_extended_tokens_on_argv_are_not_echoed() {
    let env = TestEnv::new();
    env.create("bot");
    let token = env.add_token("bot", &[]);
    let secret = secret_part(&token);
    for mangled in [
        format!("{token}x"),
        token[..token.len() - 4].to_string(),
        token[3..].to_string(),
    ] {
        let run = env.run(&["token", "show", &mangled]).code(2);
        assert!(!run.stderr.contains(&secret[..16]), "{run}");
    }
}

#[test]
fn enabling_a_paused_token_respects_the_token_limit() {
    let env = TestEnv::new();
    env.write_config("[limits]\nmax_tokens_per_account = 1\n");
    env.create("bot");
    let paused = env.add_token("bot", &[]);
    env.run(&["token", "disable", token_id(&paused)]).ok();
    env.add_token("bot", &[]);
    env.run(&["token", "enable", token_id(&paused)])
        .code(1)
        .error_contains("limits.max_tokens_per_account");
    assert_eq!(show(&env, token_id(&paused))["status"], "disabled");
}

#[test]
fn tokens_of_a_disabled_account_are_listed_as_disabled() {
    let env = TestEnv::new();
    env.create("bot");
    let token = env.add_token("bot", &[]);
    env.run(&["disable", "bot"]).ok();
    assert_eq!(show(&env, token_id(&token))["status"], "disabled");
    assert!(listed(&env, &["--status", "active"]).is_empty());
    env.run(&["enable", "bot"]).ok();
    assert_eq!(show(&env, token_id(&token))["status"], "active");
}

#[test]
fn a_minted_token_that_cannot_be_printed_is_an_error_naming_it() {
    let env = TestEnv::new();
    env.create("bot");
    let output = crate::storage::std_command(&env)
        .args(["token", "add", "bot"])
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stored = env.json(&["token", "list"]);
    let id = stored[0]["id"].as_str().unwrap();
    assert!(
        stderr.contains(&format!("sa token revoke {id}")),
        "{stderr}"
    );
}

#[test]
fn revoking_all_of_an_account_prints_the_revoked_tokens_as_json() {
    let env = TestEnv::new();
    env.create("bot");
    let token = env.add_token("bot", &[]);
    let revoked = env.json(&["token", "revoke", "--account", "bot", "--all", "--yes"]);
    assert_eq!(revoked[0]["id"], token_id(&token));
    assert_eq!(revoked[0]["status"], "revoked");
}

#[test]
fn expiring_within_does_not_combine_with_revoked_or_expired() {
    let env = TestEnv::new();
    env.create("bot");
    env.run(&[
        "token",
        "list",
        "--expiring-within",
        "1d",
        "--status",
        "revoked",
    ])
    .code(2)
    .error_contains("--expiring-within");
}

#[test]
fn a_token_in_its_grace_period_is_not_reported_as_expiring() {
    let env = TestEnv::new();
    env.create("bot");
    let old = env.add_token("bot", &[]);
    let rotated = env
        .run(&["token", "rotate", token_id(&old), "--grace", "1h"])
        .ok();
    let new = rotated.stdout.trim_end();
    env.run(&["token", "list", "--expiring-within", "1d", "--exit-code"])
        .ok();
    // Verifying the old token warns with its successor's id, not a rotate that would fail.
    let run = env
        .run_with_stdin(&["token", "verify"], &format!("{old}\n"))
        .ok();
    assert!(run.stderr.contains(token_id(new)), "{run}");
    assert!(!run.stderr.contains("sa token rotate"), "{run}");
}

#[test]
fn a_token_without_its_prefix_in_a_description_is_refused() {
    let env = TestEnv::new();
    env.create("bot");
    let token = env.add_token("bot", &[]);
    for text in [
        format!("SA_TOKEN_{token}"),
        format!("key={token}x"),
        token[3..].to_string(),
    ] {
        let run = env.run(&["update", "bot", "--description", &text]).code(2);
        assert!(!run.stderr.contains(secret_part(&token)), "{run}");
    }
}

/// Runs `sa ARGS` with stdout sent nowhere: to `/dev/null`, or closed with `>&-`.
fn run_with_stdout_discarded(env: &TestEnv, args: &[&str], closed: bool) -> std::process::Output {
    let mut cmd = crate::storage::std_command(env);
    cmd.args(args).stdin(std::process::Stdio::null());
    if closed {
        let sa = cmd.get_program().to_owned();
        let mut shell = std::process::Command::new("sh");
        shell
            .arg("-c")
            .arg("exec \"$0\" \"$@\" >&-")
            .arg(sa)
            .args(cmd.get_args());
        for (key, value) in cmd.get_envs() {
            match value {
                Some(value) => shell.env(key, value),
                None => shell.env_remove(key),
            };
        }
        cmd = shell;
    } else {
        cmd.stdout(std::process::Stdio::null());
    }
    cmd.output().expect("run sa")
}

#[test]
fn a_token_bound_for_a_discarded_stdout_is_never_minted() {
    let env = TestEnv::new();
    env.create("bot");
    let old = env.add_token("bot", &[]);
    let old_id = token_id(&old);
    for closed in [false, true] {
        for args in [
            vec!["token", "add", "bot"],
            vec!["token", "add", "bot", "--json"],
            vec!["token", "add", "bot", "--jq", ".token"],
            vec!["token", "rotate", old_id],
        ] {
            let output = run_with_stdout_discarded(&env, &args, closed);
            assert_eq!(output.status.code(), Some(2), "{args:?} closed={closed}");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(stderr.contains("--output-file"), "{stderr}");
        }
    }
    let tokens = env.json(&["token", "list"]);
    assert_eq!(tokens.as_array().map(Vec::len), Some(1), "{tokens}");
    assert_eq!(tokens[0]["id"], old_id);
    // With --output-file, stdout does not matter.
    let file = env.root().join("bot.token");
    let file_arg = file.to_str().expect("utf-8");
    let output = run_with_stdout_discarded(
        &env,
        &["token", "add", "bot", "--output-file", file_arg],
        true,
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        std::fs::read_to_string(&file)
            .expect("token file")
            .starts_with("sa_")
    );
}

#[test]
fn token_commands_on_a_deleted_accounts_token_name_undelete() {
    let env = with_bot();
    let token = env.add_token("bot", &[]);
    let id = token_id(&token).to_string();
    let account_id = env.json(&["show", "bot"])["id"].as_i64().expect("id");
    env.run(&["delete", "bot", "--yes"]).ok();
    for command in [
        &["token", "show"][..],
        &["token", "revoke"],
        &["token", "rotate"],
        &["token", "disable"],
        &["token", "enable"],
    ] {
        let mut args = command.to_vec();
        args.push(&id);
        let run = env.run(&args).code(1).error_contains("its account `bot`");
        assert!(
            run.stderr.contains(&format!(
                "hint: the account can be restored with `sa undelete {account_id}`"
            )),
            "{run}"
        );
    }
}
