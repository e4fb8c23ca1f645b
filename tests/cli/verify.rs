//! `sa token verify`: the token comes on stdin (never argv), the answer is the exit code and,
//! with `--json`, `{"valid": …}` with the identity or the reason. Covers every rejection
//! reason, permissions and scopes, organizations and prefixes, usage counting (also under
//! concurrent verifiers), the expiry warning, and the argon2 hash that is stored and re-hashed.

use argon2::password_hash::phc::PasswordHash;
use argon2::{Argon2, PasswordVerifier};
use serde_json::{Value, json};

use crate::support::{BASE_CONFIG, Run, TestEnv};
use crate::tokens::{expire, looks_like_token, secret_part, show, time, token_id};

/// An env with account `bot` (role editor).
fn with_bot() -> TestEnv {
    let env = TestEnv::new();
    env.json(&["create", "--name", "bot", "--role", "editor"]);
    env
}

/// `printf '%s\n' TOKEN | sa token verify ARGS`.
pub(crate) fn verify(env: &TestEnv, token: &str, args: &[&str]) -> Run {
    let mut all = vec!["token", "verify"];
    all.extend_from_slice(args);
    env.run_with_stdin(&all, &format!("{token}\n"))
}

/// `sa token verify --json ARGS`, asserting exit 0 and `"valid": true`.
#[track_caller]
pub(crate) fn valid(env: &TestEnv, token: &str, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let answer = verify(env, token, &all).ok().json();
    assert_eq!(answer["valid"], true, "{answer}");
    answer
}

/// `sa token verify --json ARGS`, asserting exit 1 and `{"valid": false, "reason": …}` only;
/// returns the reason.
#[track_caller]
pub(crate) fn rejected(env: &TestEnv, token: &str, args: &[&str]) -> String {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let run = verify(env, token, &all).code(1);
    let answer = run.json();
    let object = answer.as_object().expect("an object");
    assert_eq!(object.len(), 2, "only valid and reason\n{run}");
    assert_eq!(answer["valid"], false, "{run}");
    answer["reason"].as_str().expect("a reason").to_string()
}

/// The stored argon2 hash of a token.
fn stored_hash(env: &TestEnv, token: &str) -> String {
    env.sql().text(
        "SELECT hash FROM tokens WHERE id = ?1",
        &[token_id(token).into()],
    )
}

// ---- valid tokens --------------------------------------------------------------------------

#[test]
fn a_valid_token_verifies_with_its_identity_as_json() {
    let env = with_bot();
    let token = env.add_token("bot", &[]);
    let answer = valid(&env, &token, &[]);
    assert_eq!(answer["account"], "bot");
    assert_eq!(answer["org"], "default");
    assert_eq!(answer["token_id"], token_id(&token));
    assert_eq!(answer["permissions"], json!(["*:read", "*:write"]));
    let expires_at = time(&answer["expires_at"]);
    assert_eq!(
        answer["expires_at"],
        show(&env, token_id(&token))["expires_at"]
    );
    let left = answer["expires_in_s"].as_i64().expect("expires_in_s");
    assert!(
        (30 * 86_400 - 60..=30 * 86_400).contains(&left),
        "{left} s until {expires_at}"
    );
}

#[test]
fn a_valid_token_without_json_exits_zero_and_never_echoes_the_secret() {
    let env = with_bot();
    let token = env.add_token("bot", &[]);
    let run = verify(&env, &token, &[]).ok();
    let first = run.stdout.lines().next().unwrap_or_default();
    assert_eq!(
        first.split_whitespace().collect::<Vec<_>>(),
        ["result", "valid"],
        "{run}"
    );
    assert!(run.stdout.contains(token_id(&token)), "{run}");
    assert!(!run.stdout.contains(secret_part(&token)), "{run}");
    assert_eq!(run.stderr, "", "{run}");
}

#[test]
fn a_rejection_without_json_is_one_error_line_with_the_reason() {
    let env = with_bot();
    let token = env.add_token("bot", &[]);
    env.run(&["token", "revoke", token_id(&token)]).ok();
    let run = verify(&env, &token, &[]).code(1).error_contains("revoked");
    assert_eq!(run.stdout, "");
}

// ---- malformed -----------------------------------------------------------------------------

#[test]
fn a_one_character_change_is_malformed() {
    let env = with_bot();
    let token = env.add_token("bot", &[]);
    for i in [0, 5, 20, token.len() - 1] {
        let mut bytes = token.clone().into_bytes();
        bytes[i] = if bytes[i] == b'x' { b'y' } else { b'x' };
        let changed = String::from_utf8(bytes).expect("ascii");
        assert_eq!(rejected(&env, &changed, &[]), "malformed", "{changed}");
    }
    let truncated = &token[..token.len() - 1];
    assert_eq!(rejected(&env, truncated, &[]), "malformed");
}

#[test]
fn a_malformed_token_is_rejected_without_opening_the_database() {
    let token = format!("sa_{}_{}", "A".repeat(12), "B".repeat(38));
    // Not a database at all: opening it would fail with exit 3. (A file: on PostgreSQL the
    // second half shows the same.)
    if !crate::support::on_postgres() {
        let env = TestEnv::new();
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR not a database";
        std::fs::create_dir_all(env.db_path().parent().expect("a data dir")).expect("mkdir");
        std::fs::write(env.db_path(), png).expect("write");
        assert_eq!(rejected(&env, &token, &[]), "malformed");
        assert_eq!(rejected(&env, "", &[]), "malformed");
        assert_eq!(std::fs::read(env.db_path()).expect("read"), png);
    }
    let other = TestEnv::new();
    assert_eq!(rejected(&other, &token, &[]), "malformed");
    assert!(
        !other.database_exists(),
        "verifying a malformed token created the database"
    );
}

#[test]
fn empty_stdin_is_malformed() {
    let env = with_bot();
    let run = env.run(&["token", "verify", "--json"]).code(1);
    assert_eq!(run.json(), json!({"valid": false, "reason": "malformed"}));
}

#[test]
fn the_token_is_never_taken_from_argv() {
    let env = with_bot();
    let token = env.add_token("bot", &[]);
    let run = env.run(&["token", "verify", &token]).code(2);
    assert!(run.stderr.starts_with("error: "), "{run}");
    assert!(
        !run.stderr.contains(secret_part(&token)),
        "the error repeats the secret\n{run}"
    );
    assert_eq!(show(&env, token_id(&token))["use_count"], 0);
}

// ---- rejection reasons ---------------------------------------------------------------------

#[test]
fn a_well_formed_token_of_another_database_is_unknown() {
    let env = with_bot();
    let elsewhere = with_bot();
    let token = elsewhere.add_token("bot", &[]);
    assert!(looks_like_token(&token));
    assert_eq!(rejected(&env, &token, &[]), "unknown");
}

#[test]
fn a_revoked_token_is_revoked() {
    let env = with_bot();
    let token = env.add_token("bot", &[]);
    env.run(&["token", "revoke", token_id(&token)]).ok();
    assert_eq!(rejected(&env, &token, &[]), "revoked");
}

#[test]
fn an_expired_token_is_expired() {
    let env = with_bot();
    let token = env.add_token("bot", &[]);
    expire(&env, token_id(&token));
    assert_eq!(rejected(&env, &token, &[]), "expired");
}

#[test]
fn a_token_of_a_disabled_account_is_disabled_until_the_account_is_enabled() {
    let env = with_bot();
    let token = env.add_token("bot", &[]);
    env.run(&["disable", "bot", "--reason", "key exposed"]).ok();
    assert_eq!(rejected(&env, &token, &[]), "disabled");
    env.run(&["enable", "bot"]).ok();
    valid(&env, &token, &[]);
}

#[test]
fn a_token_of_a_deleted_account_is_revoked() {
    let env = with_bot();
    let token = env.add_token("bot", &[]);
    env.run(&["delete", "bot", "--yes"]).ok();
    assert_eq!(rejected(&env, &token, &[]), "revoked");
}

// ---- permissions ---------------------------------------------------------------------------

#[test]
fn a_permission_the_account_holds_is_valid_and_one_it_lacks_is_forbidden() {
    let env = with_bot();
    let token = env.add_token("bot", &[]);
    valid(&env, &token, &["--permission", "dashboards:read"]);
    valid(&env, &token, &["--permission", "dashboards:write"]);
    assert_eq!(
        rejected(&env, &token, &["--permission", "users:admin"]),
        "forbidden"
    );
    verify(&env, &token, &["--permission", "users:admin"])
        .code(1)
        .error_contains("forbidden");
}

#[test]
fn a_scoped_token_holds_only_its_scopes() {
    let env = with_bot();
    let token = env.add_token("bot", &["--scope", "dashboards:read"]);
    let answer = valid(&env, &token, &["--permission", "dashboards:read"]);
    assert_eq!(answer["permissions"], json!(["dashboards:read"]));
    assert_eq!(
        rejected(&env, &token, &["--permission", "dashboards:write"]),
        "forbidden"
    );
}

// ---- organizations and prefixes ------------------------------------------------------------

#[test]
fn a_token_only_verifies_in_its_own_organization() {
    let env = TestEnv::new();
    env.json(&[
        "--org", "acme", "create", "--name", "bot", "--role", "editor",
    ]);
    env.json(&["create", "--name", "bot", "--role", "editor"]);
    let token = env.add_token("bot", &["--org", "acme"]);
    assert_eq!(rejected(&env, &token, &[]), "unknown");
    let answer = valid(&env, &token, &["--org", "acme"]);
    assert_eq!(answer["org"], "acme");
}

#[test]
fn a_configured_prefix_is_used_for_minting_and_verifying() {
    let env = with_bot();
    let default_prefix = env.add_token("bot", &[]);
    env.write_config("[tokens]\nprefix = \"acme_\"\n");
    let token = env.add_token("bot", &[]);
    assert!(token.starts_with("acme_"), "{token}");
    assert_eq!(token.len(), default_prefix.len() + 2);
    let answer = valid(&env, &token, &[]);
    assert_eq!(answer["token_id"], &token[5..17]);
    // Changing the prefix changes new tokens only: those already issued keep working.
    valid(&env, &default_prefix, &[]);
}

// ---- usage ---------------------------------------------------------------------------------

#[test]
fn the_source_is_recorded_as_last_used_source() {
    let env = with_bot();
    let token = env.add_token("bot", &[]);
    valid(&env, &token, &["--source", "ci"]);
    let shown = show(&env, token_id(&token));
    assert_eq!(shown["last_used_source"], "ci");
    assert!(!shown["last_used_at"].is_null(), "{shown}");
    assert_eq!(shown["use_count"], 1);
}

#[test]
fn only_successful_verifications_are_counted() {
    let env = with_bot();
    let token = env.add_token("bot", &[]);
    valid(&env, &token, &[]);
    valid(&env, &token, &["--source", "job"]);
    assert_eq!(
        rejected(
            &env,
            &token,
            &["--permission", "users:admin", "--source", "bad"]
        ),
        "forbidden"
    );
    env.run(&["token", "disable", token_id(&token)]).ok();
    assert_eq!(rejected(&env, &token, &["--source", "bad"]), "disabled");
    let shown = show(&env, token_id(&token));
    assert_eq!(shown["use_count"], 2);
    assert_eq!(shown["last_used_source"], "job");
}

#[test]
fn concurrent_verifiers_never_lose_a_count() {
    const PROCESSES: usize = 8;
    const ROUNDS: usize = 5;
    let env = with_bot();
    let token = env.add_token("bot", &[]);
    let stdin = format!("{token}\n");
    let successes: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..PROCESSES)
            .map(|_| {
                scope.spawn(|| {
                    (0..ROUNDS)
                        .filter(|_| {
                            let run =
                                env.run_with_stdin(&["token", "verify", "--source", "p"], &stdin);
                            assert_eq!(run.code, 0, "{run}");
                            run.code == 0
                        })
                        .count()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a verifier thread"))
            .sum()
    });
    assert_eq!(successes, PROCESSES * ROUNDS);
    let list = env.json(&["token", "list", "--usage"]);
    assert_eq!(list[0]["use_count"], PROCESSES * ROUNDS);
    assert_eq!(list[0]["last_used_source"], "p");
}

#[test]
fn a_token_expiring_within_warn_before_gets_one_warning_line() {
    let env = with_bot();
    // Minted 10 days ago for 12: 2 days left, within 7 days and the last quarter.
    let token = crate::usage::mint_then(&env, 10, "bot", 12);
    let run = verify(&env, &token, &["--json"]).ok();
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning: "))
        .collect();
    assert_eq!(warnings.len(), 1, "{run}");
    assert_eq!(run.stderr.lines().count(), 1, "{run}");
    assert!(warnings[0].contains("expires"), "{run}");
    assert!(warnings[0].contains(token_id(&token)), "{run}");
    assert_eq!(run.json()["valid"], true);
}

#[test]
fn a_token_young_for_its_kind_gets_no_warning() {
    let env = with_bot();
    // The README tour's 4h token: within warn_before (7d) from its first check, but with
    // three quarters of its life ahead it is no news.
    let short = env.add_token("bot", &["--expires", "4h"]);
    assert_eq!(verify(&env, &short, &[]).ok().stderr, "");
    // Two days of two: young too.
    let two_days = env.add_token("bot", &["--expires", "2d"]);
    assert_eq!(verify(&env, &two_days, &[]).ok().stderr, "");
}

#[test]
fn a_token_expiring_later_than_warn_before_gets_no_warning() {
    let env = with_bot();
    let token = env.add_token("bot", &["--expires", "30d"]);
    let run = verify(&env, &token, &[]).ok();
    assert_eq!(run.stderr, "", "{run}");
    // Minted 50 days ago for 60: 10 days left, past the default 7 days' warning...
    let older = crate::usage::mint_then(&env, 50, "bot", 60);
    assert_eq!(verify(&env, &older, &[]).ok().stderr, "");
    // ...but within a verifier's policy that warns a month ahead.
    env.write_config("[tokens]\ndefault_ttl = \"60d\"\nwarn_before = \"31d\"\n");
    let run = verify(&env, &older, &[]).ok();
    assert!(run.stderr.starts_with("warning: "), "{run}");
}

// ---- the stored hash -----------------------------------------------------------------------

#[test]
fn the_stored_hash_is_a_standard_argon2id_phc_string_of_the_secret_part() {
    let env = with_bot();
    let token = env.add_token("bot", &[]);
    let hash = stored_hash(&env, &token);
    assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{hash}");
    let parsed = PasswordHash::new(&hash).expect("a PHC string");
    let argon2 = Argon2::default();
    assert!(
        argon2
            .verify_password(secret_part(&token).as_bytes(), &parsed)
            .is_ok(),
        "the hash is not of the secret part"
    );
    assert!(argon2.verify_password(token.as_bytes(), &parsed).is_err());
}

#[test]
fn a_hash_made_with_other_argon2_parameters_is_rehashed_on_success() {
    let env = with_bot();
    let token = env.add_token("bot", &[]);
    assert!(stored_hash(&env, &token).contains("$m=64,"));
    let stronger = BASE_CONFIG.replace("memory_kib = 64", "memory_kib = 128");
    assert_ne!(stronger, BASE_CONFIG);
    std::fs::write(env.config_path(), stronger).expect("write config");
    // A verifier follows the database's cost, not its own config: no re-hash yet, so a
    // service with another config and the CLI never re-hash each other's tokens.
    valid(&env, &token, &[]);
    assert!(stored_hash(&env, &token).contains("$m=64,"));
    // An administrator's write command records the config's cost, audited.
    env.run(&["update", "bot", "--description", "billing"]).ok();
    let events = env.json(&["audit", "--action", "settings.argon2"]);
    assert_eq!(events.as_array().map(Vec::len), Some(1), "{events}");
    assert_eq!(events[0]["details"]["from"], "m=64,t=1,p=1", "{events}");
    assert_eq!(events[0]["details"]["to"], "m=128,t=1,p=1", "{events}");
    valid(&env, &token, &[]);
    let hash = stored_hash(&env, &token);
    assert!(hash.starts_with("$argon2id$v=19$m=128,t=1,p=1$"), "{hash}");
    let parsed = PasswordHash::new(&hash).expect("a PHC string");
    assert!(
        Argon2::default()
            .verify_password(secret_part(&token).as_bytes(), &parsed)
            .is_ok()
    );
    valid(&env, &token, &[]);
    assert_eq!(show(&env, token_id(&token))["use_count"], 3);
}

#[test]
fn a_crafted_token_with_a_multibyte_character_is_malformed_not_a_panic() {
    let env = with_bot();
    let crafted = format!("sa_{}_{}é{}", "A".repeat(12), "A".repeat(31), "A".repeat(5));
    let run = verify(&env, &crafted, &["--json"]).code(1);
    assert_eq!(run.json()["reason"], "malformed");
    assert!(!run.stderr.contains("panicked"), "{run}");
}

#[test]
fn stdin_that_is_not_utf8_is_malformed() {
    let env = with_bot();
    let output = env
        .command()
        .args(["token", "verify", "--json"])
        .write_stdin(b"\xff\xfesa_\x80\n".to_vec())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(answer["reason"], "malformed");
}

#[test]
fn a_source_holding_a_token_is_refused_and_not_stored() {
    let env = with_bot();
    let token = env.add_token("bot", &[]);
    let run = verify(&env, &token, &["--source", &token]).code(2);
    assert!(!run.stderr.contains(secret_part(&token)), "{run}");
    assert_eq!(show(&env, token_id(&token))["use_count"], 0);
}

#[test]
fn the_wal_stays_bounded_when_only_verifications_write() {
    crate::sqlite_only!();
    // A verification closes without a checkpoint; the next process, alone on the file,
    // cannot tell what was checkpointed, so without a bound a WAL written only by
    // verifications would grow forever and be reread on every open.
    let env = with_bot();
    let token = env.add_token("bot", &[]);
    let wal = crate::support::sidecar(&env.db_path(), "-wal");
    let mut largest = 0;
    for _ in 0..220 {
        verify(&env, &token, &[]).ok();
        largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
    }
    // Each verification adds about 8 KiB: 220 of them would be 1.7 MiB unbounded.
    assert!(
        largest > 64 * 1024,
        "the WAL was left to grow between checkpoints: {largest}"
    );
    assert!(largest < 1024 * 1024, "the WAL reached {largest} bytes");
    // And every use was counted.
    let listed = env.json(&["token", "list", "--usage"]);
    assert_eq!(listed[0]["use_count"], 220);
}

#[test]
fn the_library_verifier_on_a_missing_database_creates_nothing() {
    let env = TestEnv::new();
    let path = env.root().join("nowhere/sa.db");
    let opened = sa::Verifier::open(&path);
    assert!(
        matches!(opened, Err(sa::Error::NoDatabase(_))),
        "{:?}",
        opened.err()
    );
    assert!(!path.parent().unwrap().exists());
}
