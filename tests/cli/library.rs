//! The library as a service uses it: `sa::Verifier` shared by threads, its verify cache (the
//! same answers, the bounds of what it may not see, exact use counts), and the argon2 cost it
//! takes from the database. The administration is done with the `sa` binary, as an operator
//! would; only the public API is used to verify.

use std::time::{Duration, Instant};

use sa::{Error, Identity, Rejection, TokenId, Verifier};

use crate::support::TestEnv;
use crate::tokens::{show, token_id};

/// An env with account `bot` (role editor) and one token for it.
fn with_token(extra: &[&str]) -> (TestEnv, String) {
    let env = TestEnv::new();
    env.json(&["create", "--name", "bot", "--role", "editor"]);
    let token = env.add_token("bot", extra);
    (env, token)
}

/// `token` (`sa_`, 12-character id, `_`, 32-character secret, 6-character checksum) with
/// another secret and the checksum made again (CRC32 of the rest, six base62 digits).
fn with_secret(token: &str, secret: &str) -> String {
    const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let body = format!("{}{secret}", &token[..16]);
    let mut n = u64::from(crc32fast::hash(body.as_bytes()));
    let mut sum = [b'0'; 6];
    for slot in sum.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    format!("{body}{}", String::from_utf8_lossy(&sum))
}

fn use_count(env: &TestEnv, token: &str) -> u64 {
    show(env, token_id(token))["use_count"]
        .as_u64()
        .expect("a use count")
}

#[track_caller]
fn rejection(answer: Result<Identity, Error>) -> Rejection {
    match answer {
        Err(Error::Rejected(reason)) => reason,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[test]
fn a_cached_answer_is_the_identity_an_uncached_verification_gives() {
    let (env, token) = with_token(&["--scope", "dashboards:read"]);
    let uncached = Verifier::open(env.db_path())
        .and_then(|v| v.with_cache(Duration::ZERO, 0))
        .unwrap();
    let cached = Verifier::open(env.db_path()).unwrap();
    let fresh = uncached.verify(&token, Some("dashboards:read")).unwrap();
    let first = cached.verify(&token, Some("dashboards:read")).unwrap();
    let hit = cached.verify(&format!("  {token}\n"), None).unwrap();
    assert_eq!(first, fresh);
    assert_eq!(hit, fresh);
    assert_eq!(hit.account, "bot");
    assert_eq!(hit.token_id, token_id(&token).parse::<TokenId>().unwrap());
    assert_eq!(hit.permissions, vec!["dashboards:read".parse().unwrap()]);
    drop((uncached, cached));
    assert_eq!(use_count(&env, &token), 3);
}

#[test]
fn a_cached_token_is_still_asked_for_its_permission_and_a_refusal_says_whose_it_was() {
    let (env, token) = with_token(&["--scope", "dashboards:read"]);
    let verifier = Verifier::open(env.db_path()).unwrap();
    for _ in 0..2 {
        // The first refusal comes from the database, the second from the cached identity.
        let refused = rejection(verifier.verify(&token, Some("dashboards:write")));
        assert_eq!(
            refused,
            Rejection::Forbidden {
                account: "bot".into(),
                token_id: token_id(&token).parse().unwrap(),
                permission: "dashboards:write".parse().unwrap(),
            }
        );
        assert_eq!(refused.to_string(), "forbidden");
        verifier.verify(&token, Some("dashboards:read")).unwrap();
    }
    // A rejection is an error a service can pass on with `?`.
    let _: &dyn std::error::Error = &refused_malformed();
    drop(verifier);
    assert_eq!(use_count(&env, &token), 2, "refusals are not uses");
}

fn refused_malformed() -> Rejection {
    Rejection::Malformed
}

#[test]
fn a_failed_verification_is_never_cached() {
    let (env, token) = with_token(&[]);
    let verifier = Verifier::open(env.db_path()).unwrap();
    env.run(&["disable", "bot"]).ok();
    assert_eq!(
        rejection(verifier.verify(&token, None)),
        Rejection::Disabled
    );
    env.run(&["enable", "bot"]).ok();
    verifier
        .verify(&token, None)
        .expect("enabled again: the refusal was not remembered");
    // Another secret under the same id is another key, and unknown, however often it comes.
    let wrong = with_secret(&token, "0123456789ABCDEFGHIJabcdefghij01");
    for _ in 0..2 {
        assert_eq!(rejection(verifier.verify(&wrong, None)), Rejection::Unknown);
    }
    assert_eq!(
        rejection(verifier.verify("sa_not-a-token", None)),
        Rejection::Malformed
    );
    verifier.verify(&token, None).unwrap();
    drop(verifier);
    assert_eq!(use_count(&env, &token), 2);
}

#[test]
fn a_revoked_token_is_refused_once_the_ttl_has_passed() {
    let (env, token) = with_token(&[]);
    let ttl = Duration::from_secs(3);
    let verifier = Verifier::open(env.db_path())
        .and_then(|v| v.with_cache(ttl, 100))
        .unwrap();
    let began = Instant::now();
    verifier.verify(&token, None).unwrap();
    env.run(&["token", "revoke", token_id(&token)]).ok();
    // Within the TTL the cache may still answer: that is its documented bound.
    let answer = verifier.verify(&token, None);
    if began.elapsed() < ttl - Duration::from_millis(500) {
        answer.expect("answered from the cache within the TTL");
    }
    std::thread::sleep(
        (began + ttl + Duration::from_millis(50)).saturating_duration_since(Instant::now()),
    );
    assert_eq!(rejection(verifier.verify(&token, None)), Rejection::Revoked);
    assert_eq!(rejection(verifier.verify(&token, None)), Rejection::Revoked);
    drop(verifier);
    // The hit answered before the TTL ran out was a success, and is counted.
    assert_eq!(use_count(&env, &token), 2);
}

#[test]
fn a_cached_token_is_never_accepted_past_its_expiry() {
    let (env, token) = with_token(&["--expires", "3s"]);
    let expires_at = show(&env, token_id(&token))["expires_at"]
        .as_str()
        .expect("an expiry")
        .parse::<chrono::DateTime<chrono::Utc>>()
        .expect("RFC 3339");
    // A TTL far longer than the token's life: only its expiry can end the cached answer.
    let verifier = Verifier::open(env.db_path())
        .and_then(|v| v.with_cache(Duration::from_secs(3600), 100))
        .unwrap();
    let identity = verifier.verify(&token, None).unwrap();
    assert_eq!(identity.expires_at, Some(expires_at));
    let mut successes = 1;
    loop {
        let asked_at = chrono::Utc::now();
        match verifier.verify(&token, None) {
            Ok(_) => {
                assert!(
                    asked_at < expires_at,
                    "accepted at {asked_at}, expired at {expires_at}"
                );
                successes += 1;
            }
            Err(err) => {
                assert!(chrono::Utc::now() >= expires_at, "{err}");
                assert_eq!(rejection(Err(err)), Rejection::Expired);
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(verifier);
    assert_eq!(use_count(&env, &token), successes);
}

#[test]
fn use_counts_stay_exact_after_ten_thousand_cached_hits_from_four_threads() {
    let (env, token) = with_token(&[]);
    let verifier = std::sync::Arc::new(
        Verifier::open(env.db_path())
            .and_then(|v| v.with_source("billing-api"))
            .unwrap(),
    );
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let verifier = std::sync::Arc::clone(&verifier);
            let token = token.clone();
            std::thread::spawn(move || {
                for _ in 0..2_500 {
                    verifier.verify(&token, Some("invoices:read")).unwrap();
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().unwrap();
    }
    verifier.flush().unwrap();
    assert_eq!(use_count(&env, &token), 10_000);
    drop(verifier);
    assert_eq!(use_count(&env, &token), 10_000, "nothing counted twice");
    let shown = show(&env, token_id(&token));
    assert_eq!(shown["last_used_source"], "billing-api");
    let per_day = env.sql().int(
        "SELECT CAST(sum(count) AS BIGINT) FROM token_usage_daily WHERE token_id = ?1",
        &[token_id(&token).into()],
    );
    assert_eq!(per_day, 10_000);
}

#[test]
fn a_verifier_uses_the_argon2_cost_of_the_database_not_its_own() {
    // The tests' config (m = 64 KiB) was recorded by `sa create`; a verifier opened with
    // the built-in defaults (19456 KiB) leaves the token's hash as it is.
    let (env, token) = with_token(&[]);
    let hash = || {
        env.sql().text(
            "SELECT hash FROM tokens WHERE id = ?1",
            &[token_id(&token).into()],
        )
    };
    let verifier = Verifier::open(env.db_path())
        .and_then(|v| v.with_cache(Duration::ZERO, 0))
        .unwrap();
    verifier.verify(&token, None).unwrap();
    assert!(hash().contains("$m=64,t=1,p=1$"), "{}", hash());
    // The administrator raises the cost: the database records it, and the verifier follows
    // on its next verification.
    std::fs::write(
        env.config_path(),
        "[argon2]\nmemory_kib = 128\niterations = 1\nparallelism = 1\n",
    )
    .unwrap();
    env.run(&["update", "bot", "--description", "billing"]).ok();
    verifier.verify(&token, None).unwrap();
    assert!(hash().contains("$m=128,t=1,p=1$"), "{}", hash());
}

#[test]
fn a_verifier_refuses_a_missing_database_and_tokens_of_other_organizations() {
    let (env, token) = with_token(&[]);
    let missing = env.root().join("nowhere/sa.db");
    assert!(matches!(
        Verifier::open(&missing),
        Err(Error::NoDatabase(_))
    ));
    assert!(!missing.parent().unwrap().exists());
    let acme = Verifier::open(env.db_path())
        .and_then(|v| v.with_org("acme"))
        .unwrap();
    assert_eq!(rejection(acme.verify(&token, None)), Rejection::Unknown);
    // What was cached in one organization is not answered in another.
    let moved = Verifier::open(env.db_path()).unwrap();
    moved.verify(&token, None).unwrap();
    let moved = moved.with_org("acme").unwrap();
    assert_eq!(rejection(moved.verify(&token, None)), Rejection::Unknown);
    let bad = Verifier::open(env.db_path()).unwrap();
    assert!(matches!(
        bad.verify(&token, Some("not a permission")),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        Verifier::open(env.db_path()).and_then(|v| v.with_source(&token)),
        Err(Error::InvalidInput(_))
    ));
}

#[test]
fn many_threads_verifying_while_the_cli_writes_leave_the_database_whole() {
    // The pool opens connections as threads need them; opening one once looked at the file
    // with std::fs, whose close dropped the other connections' POSIX locks, and a CLI writing
    // meanwhile corrupted the database (32 threads: 956 of 960 checks failed).
    let env = TestEnv::new();
    env.json(&["create", "--name", "seed"]);
    let tokens: Vec<String> = (0..4).map(|_| env.add_token("seed", &[])).collect();
    let verifier = std::sync::Arc::new(
        Verifier::open(env.db_path())
            .and_then(|v| v.with_cache(Duration::ZERO, 0))
            .unwrap(),
    );
    let failures = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..16)
        .map(|n| {
            let verifier = std::sync::Arc::clone(&verifier);
            let token = tokens[n % tokens.len()].clone();
            let failures = std::sync::Arc::clone(&failures);
            std::thread::spawn(move || {
                for _ in 0..15 {
                    if let Err(err) = verifier.verify(&token, None) {
                        failures.lock().unwrap().push(err.to_string());
                    }
                }
            })
        })
        .collect();
    for n in 0..8 {
        env.run(&["create", "--name", &format!("writer-{n}"), "-q"])
            .ok();
    }
    for worker in workers {
        worker.join().unwrap();
    }
    drop(verifier);
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
    env.run(&["db", "check"]).ok();
    assert_eq!(env.json(&["list"]).as_array().map(Vec::len), Some(9));
    let uses: u64 = tokens.iter().map(|t| use_count(&env, t)).sum();
    assert_eq!(uses, 16 * 15);
}
