//! Several hosts at once on one store: separate `sa` processes, each with its own connection,
//! minting, verifying, rotating and revoking concurrently. On PostgreSQL (`$SA_TEST_PG`) this
//! is the multi-host case of issue 14; on SQLite the same invariants hold through the file's
//! one writer. Afterwards: counts exact, limits held, no token verified after its revocation
//! committed, at most one successor per rotated token, and every audit chain verifies.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Instant;

use serde_json::Value;

use crate::support::TestEnv;
use crate::tokens::token_id;

const ACCOUNTS: usize = 3;
const TOKEN_LIMIT: usize = 3;

/// What the workers saw, each with when its process started and when it had exited.
#[derive(Default)]
struct Seen {
    minted: Vec<String>,
    refused_for_limit: usize,
    /// (token, started, succeeded)
    verifications: Vec<(String, Instant, bool)>,
    /// (token id, exited): the revocation had committed by then.
    revoked: Vec<(String, Instant)>,
    /// (old token id, new token) for every rotation that succeeded.
    rotated: Vec<(String, String)>,
    accounts_created: usize,
}

#[test]
fn several_hosts_mint_verify_rotate_and_revoke_at_once() {
    let env = TestEnv::new();
    env.write_config(&format!(
        "[limits]\nmax_tokens_per_account = {TOKEN_LIMIT}\nmax_accounts = {}\n",
        ACCOUNTS + 4
    ));
    for n in 0..ACCOUNTS {
        env.create(&format!("bot-{n}"));
    }
    // A first token each, which the verifiers and revokers start from.
    let seen = Mutex::new(Seen::default());
    let mut first = Vec::new();
    for n in 0..ACCOUNTS {
        let token = env.add_token(&format!("bot-{n}"), &[]);
        seen.lock().unwrap().minted.push(token.clone());
        first.push(token);
    }
    let pick = |round: usize, worker: usize| (round * 7 + worker * 3) % ACCOUNTS;

    std::thread::scope(|scope| {
        // Minters: more tokens than the limit allows, from two hosts per account at once.
        for worker in 0..2 {
            let (env, seen) = (&env, &seen);
            scope.spawn(move || {
                for round in 0..6 {
                    let account = format!("bot-{}", pick(round, worker));
                    let run = env.run(&["token", "add", &account]);
                    let mut seen = seen.lock().unwrap();
                    match run.code {
                        0 => seen.minted.push(run.stdout.trim_end().to_string()),
                        1 if run.stderr.contains("limits.max_tokens_per_account") => {
                            seen.refused_for_limit += 1;
                        }
                        _ => panic!("token add: {run}"),
                    }
                }
            });
        }
        // Verifiers: every token minted so far, over and over.
        for worker in 0..2 {
            let (env, seen) = (&env, &seen);
            scope.spawn(move || {
                for round in 0..10 {
                    let tokens = seen.lock().unwrap().minted.clone();
                    let token = tokens[(round * 5 + worker) % tokens.len()].clone();
                    let started = Instant::now();
                    let run = env.run_with_stdin(&["token", "verify", "-q"], &format!("{token}\n"));
                    assert!(run.code == 0 || run.code == 1, "token verify: {run}");
                    seen.lock()
                        .unwrap()
                        .verifications
                        .push((token, started, run.code == 0));
                }
            });
        }
        // Two rotators racing each other for the same first tokens, and a revoker.
        {
            let (env, seen, first) = (&env, &seen, &first);
            for _ in 0..2 {
                scope.spawn(move || {
                    for token in first {
                        let run = env.run(&["token", "rotate", token_id(token), "--grace", "1h"]);
                        if run.code == 0 {
                            let new = run.stdout.trim_end().to_string();
                            let mut seen = seen.lock().unwrap();
                            seen.rotated
                                .push((token_id(token).to_string(), new.clone()));
                            seen.minted.push(new);
                        }
                    }
                });
            }
            scope.spawn(move || {
                for token in first.iter().rev() {
                    let run = env.run(&["token", "revoke", token_id(token), "--yes"]);
                    let exited = Instant::now();
                    if run.code == 0 {
                        seen.lock()
                            .unwrap()
                            .revoked
                            .push((token_id(token).to_string(), exited));
                    }
                }
            });
        }
        // Account creation racing for the last places under max_accounts.
        for worker in 0..3 {
            let (env, seen) = (&env, &seen);
            scope.spawn(move || {
                for n in 0..3 {
                    let run = env.run(&["create", "--name", &format!("new-{worker}-{n}")]);
                    match run.code {
                        0 => seen.lock().unwrap().accounts_created += 1,
                        1 if run.stderr.contains("limits.max_accounts") => {}
                        _ => panic!("create: {run}"),
                    }
                }
            });
        }
    });

    let seen = seen.into_inner().unwrap();
    let tokens: Vec<Value> = env
        .json(&["token", "list", "--status", "all"])
        .as_array()
        .expect("a list")
        .clone();
    let by_id: BTreeMap<&str, &Value> = tokens
        .iter()
        .map(|t| (t["id"].as_str().expect("an id"), t))
        .collect();

    // Every mint that said so is stored; none beyond the limit is active at once.
    assert_eq!(
        by_id.len(),
        seen.minted.len(),
        "every minted token, and no other"
    );
    for n in 0..ACCOUNTS {
        let account = format!("bot-{n}");
        let active = tokens
            .iter()
            .filter(|t| t["account"] == account.as_str() && t["status"] == "active")
            .count();
        assert!(
            active <= TOKEN_LIMIT,
            "{account} has {active} active tokens"
        );
    }
    assert!(
        seen.refused_for_limit > 0,
        "the minters did reach the limit"
    );

    // Use counts are exact: one per successful verification.
    let mut successes: BTreeMap<&str, u64> = BTreeMap::new();
    for (token, _, ok) in &seen.verifications {
        if *ok {
            *successes.entry(token_id(token)).or_default() += 1;
        }
    }
    for (id, token) in &by_id {
        assert_eq!(
            token["use_count"].as_u64(),
            Some(successes.get(id).copied().unwrap_or(0)),
            "use count of {id}"
        );
    }

    // No verification that began after a revocation had committed succeeded.
    for (id, revoked_at) in &seen.revoked {
        for (token, started, ok) in &seen.verifications {
            assert!(
                !(token_id(token) == id && started > revoked_at && *ok),
                "{id} verified after its revocation committed"
            );
        }
    }

    // A token is rotated once: never two successors.
    let olds: Vec<&String> = seen.rotated.iter().map(|(old, _)| old).collect();
    let distinct: BTreeSet<&String> = olds.iter().copied().collect();
    assert_eq!(
        olds.len(),
        distinct.len(),
        "a token rotated twice: {olds:?}"
    );

    // The account limit held.
    let accounts = env.json(&["list"]).as_array().expect("a list").len();
    assert!(accounts <= ACCOUNTS + 4, "{accounts} accounts");
    assert_eq!(accounts, ACCOUNTS + seen.accounts_created);

    // Each change has its one event, and the chain verifies.
    let events = env.json(&["audit", "--action", "token.add"]);
    assert_eq!(
        events.as_array().map(Vec::len),
        Some(seen.minted.len() - seen.rotated.len())
    );
    env.run(&["audit", "verify"]).ok();
    env.run(&["db", "check"]).ok();
}
