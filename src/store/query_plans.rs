//! Tidy: no statement the store runs reads a whole table to find a few rows.
//!
//! Every domain operation runs once against a small database while SQLite's trace hook
//! records each statement with its parameters expanded; each statement is then put through
//! `EXPLAIN QUERY PLAN`. A `SCAN` of a table that grows with use (accounts, tokens, usage
//! counters, the audit trail), or a search of one by organization alone (which reads the
//! whole organization), fails the test unless the statement is one of the whole-table reports
//! below, marked in its SQL with `/* report: NAME */`.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use rusqlite::trace::{TraceEvent, TraceEventCodes};

use crate::config::{Argon2Cost, Config};
use crate::domain::Context;
use crate::domain::names::{AccountName, AccountRef, OrgName, RoleName};
use crate::domain::permissions::Permission;
use crate::domain::{accounts, audit, roles, tokens, usage};
use crate::store::{Store, TokenFilter, TokenSort};
use crate::time::{Duration, Since};

/// The whole-table reports: statements that answer for a whole organization or database,
/// and so may read all of it.
const REPORTS: &[&str] = &[
    "organizations",     // sa org list: counts per organization
    "accounts",          // sa list: every account of the organization
    "account names",     // completion and the account picker: every name of the organization
    "tokens",            // sa token list without an account
    "audit trail",       // sa audit without --account or --limit
    "token invariants",  // sa db check
    "expired deletions", // the retention purge: every row it reads, it removes
    "audit chain",       // sa audit verify: walks the organization's whole chain
    "audit prune",       // sa audit prune: the organization's oldest events, to remove them
    "usage",             // sa usage: counts over the organization's accounts and tokens
    "stale tokens",      // the stale-token policy: every token it reads, it pauses
    "token prune",       // sa token prune: tokens that ended long ago, to remove them
];

/// Tables that grow with use.
const GROWING: &[&str] = &[
    "accounts",
    "account_emails",
    "tokens",
    "token_usage_daily",
    "audit_events",
    "audit_details",
    "account_roles",
    "token_scopes",
];

/// `(alias, table)` pairs of the growing tables a statement reads.
fn aliases(sql: &str) -> Vec<(String, String)> {
    let words: Vec<&str> = sql
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    let mut pairs = Vec::new();
    for (i, word) in words.iter().enumerate() {
        if !GROWING.contains(word) {
            continue;
        }
        pairs.push((word.to_string(), word.to_string()));
        let next = words.get(i + 1).copied().unwrap_or("");
        let alias = if next.eq_ignore_ascii_case("AS") {
            words.get(i + 2).copied().unwrap_or("")
        } else {
            next
        };
        let keyword = [
            "WHERE", "JOIN", "ON", "SET", "VALUES", "ORDER", "LEFT", "INNER", "GROUP",
        ]
        .iter()
        .any(|k| alias.eq_ignore_ascii_case(k));
        if !alias.is_empty()
            && !keyword
            && alias.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            pairs.push((alias.to_string(), word.to_string()));
        }
    }
    pairs
}

/// One line of `EXPLAIN QUERY PLAN`: its id, its parent's id, and what it says.
type PlanLine = (i64, i64, String);

/// Whether a SEARCH pins only the organization (`(org=?)`, or `(org=? AND at>?)` and other
/// ranges): it reads the whole organization, or a slice of it as large.
fn by_org_alone(line: &str) -> bool {
    let Some(constraints) = line
        .rsplit_once('(')
        .and_then(|(_, rest)| rest.strip_suffix(')'))
    else {
        return false;
    };
    let equalities: Vec<&str> = constraints
        .split(" AND ")
        .filter(|c| c.ends_with("=?") && !c.ends_with("<=?") && !c.ends_with(">=?"))
        .collect();
    equalities == ["org=?"]
}

/// Whether a SEARCH is an open range (`(expires_at>?)`): everything on one side of a value,
/// which can be most of the table.
fn open_range(line: &str) -> bool {
    let Some(constraints) = line
        .rsplit_once('(')
        .and_then(|(_, rest)| rest.strip_suffix(')'))
    else {
        return false;
    };
    let parts: Vec<&str> = constraints.split(" AND ").collect();
    let equality = parts
        .iter()
        .any(|c| c.ends_with("=?") && !c.ends_with("<=?") && !c.ends_with(">=?"));
    let below = parts.iter().any(|c| c.contains('<'));
    let above = parts.iter().any(|c| c.contains('>'));
    !equality && below != above
}

/// What is wrong with one statement's plan, if anything.
fn violations(sql: &str, plan: &[PlanLine]) -> Vec<String> {
    let report = REPORTS
        .iter()
        .any(|name| sql.contains(&format!("/* report: {name} */")));
    if report {
        return Vec::new();
    }
    let names = aliases(sql);
    let table_of = |name: &str| {
        names
            .iter()
            .find(|(alias, _)| alias == name)
            .map(|(_, table)| table.clone())
    };
    let mut found = Vec::new();
    for (_, parent, line) in plan {
        let mut words = line.split_whitespace();
        let (Some(kind), Some(name)) = (words.next(), words.next()) else {
            continue;
        };
        let Some(table) = table_of(name) else {
            continue;
        };
        // A walk of the organization's index that a LIMIT ends early reads only a page:
        // unless the rows must be sorted first (a temp b-tree beside it), which reads all.
        let sorted_first = plan
            .iter()
            .any(|(_, p, l)| p == parent && l.contains("TEMP B-TREE"));
        let bounded = sql.contains("LIMIT") && !sorted_first;
        let wide = by_org_alone(line) || open_range(line);
        if kind == "SCAN" || line.contains("AUTOMATIC") || (kind == "SEARCH" && wide && !bounded) {
            found.push(format!("{line}   [{table}]"));
        }
    }
    found
}

fn workload(store: &mut Store, config: &Config) {
    let ctx = Context {
        org: OrgName::default(),
        actor: "tidy".into(),
        now: crate::time::now(),
        config,
        acting: None,
    };
    tokens::record_argon2_cost(store, &ctx).unwrap();
    let name = |n: &str| AccountName::parse(n).unwrap();
    let reference = |n: &str| AccountRef::parse(n).unwrap();
    for n in ["alpha", "beta", "gamma", "delta"] {
        accounts::create(
            store,
            &ctx,
            &accounts::CreateAccount {
                name: name(n),
                description: Some(format!("{n} bot")),
                roles: vec![RoleName::parse("editor").unwrap()],
            },
        )
        .unwrap();
    }
    let mint = |store: &mut Store, account: &str| {
        tokens::mint(
            store,
            &ctx,
            &tokens::MintRequest {
                account: reference(account),
                name: Some("deploy".into()),
                expires: None,
                scopes: vec![Permission::parse("dashboards:read").unwrap()],
            },
        )
        .unwrap()
    };
    let first = mint(store, "alpha");
    let second = mint(store, "alpha");
    mint(store, "beta");
    let id = |m: &tokens::Minted| m.token.id.parse().unwrap();
    accounts::show(store, &ctx, &reference("alpha")).unwrap();
    accounts::show(store, &ctx, &AccountRef::Id(first.token.account_id)).unwrap();
    let mut ignore = |_| Ok(());
    accounts::list(store, &ctx, &accounts::ListAccounts::default(), &mut |_| {
        Ok(())
    })
    .unwrap();
    accounts::names(store, &ctx, false, &mut |_, _| Ok(())).unwrap();
    accounts::names(store, &ctx, true, &mut |_, _| Ok(())).unwrap();
    let query = accounts::ListAccounts {
        role: Some(RoleName::parse("editor").unwrap()),
        search: Some("bot".into()),
        ..Default::default()
    };
    accounts::list(store, &ctx, &query, &mut |_| Ok(())).unwrap();
    accounts::update(
        store,
        &ctx,
        &reference("gamma"),
        &accounts::UpdateAccount {
            name: Some(name("gamma2")),
            description: Some(None),
        },
    )
    .unwrap();
    accounts::disable(store, &ctx, &reference("beta"), Some("leak")).unwrap();
    accounts::enable(store, &ctx, &reference("beta")).unwrap();
    for status in [
        TokenFilter::Live,
        TokenFilter::Active,
        TokenFilter::Disabled,
        TokenFilter::Expired,
        TokenFilter::Revoked,
        TokenFilter::All,
    ] {
        for account in [None, Some(reference("alpha"))] {
            let query = tokens::TokenQuery {
                account,
                status,
                expiring_within: None,
                unused_for: None,
                sort: TokenSort::Created,
                limit: None,
            };
            tokens::list(store, &ctx, &query, &mut ignore).unwrap();
        }
    }
    for account in [None, Some(reference("alpha"))] {
        for sort in [
            TokenSort::Created,
            TokenSort::LastUsed,
            TokenSort::Expires,
            TokenSort::Uses,
        ] {
            let query = tokens::TokenQuery {
                account: account.clone(),
                status: TokenFilter::Live,
                expiring_within: None,
                unused_for: Some(Duration::from_days(30)),
                sort,
                limit: Some(10),
            };
            tokens::list(store, &ctx, &query, &mut ignore).unwrap();
        }
    }
    for account in [Some(reference("alpha")), None] {
        for status in [
            TokenFilter::Live,
            TokenFilter::Active,
            TokenFilter::Disabled,
        ] {
            let query = tokens::TokenQuery {
                account: account.clone(),
                status,
                expiring_within: Some(Duration::from_days(40)),
                unused_for: None,
                sort: TokenSort::Created,
                limit: None,
            };
            tokens::list(store, &ctx, &query, &mut ignore).unwrap();
        }
    }
    let deployer = RoleName::parse("deployer").unwrap();
    let perm = |p: &str| Permission::parse(p).unwrap();
    roles::create(
        store,
        &ctx,
        &roles::CreateRole {
            name: deployer.clone(),
            permissions: vec![perm("deploys:write"), perm("*:read")],
            description: None,
        },
    )
    .unwrap();
    roles::grant(
        store,
        &ctx,
        &deployer,
        &[reference("alpha"), reference("beta")],
    )
    .unwrap();
    roles::list(store, &ctx).unwrap();
    roles::show(store, &ctx, &deployer, None).unwrap();
    roles::show(store, &ctx, &deployer, Some(20)).unwrap();
    roles::deletable(store, &ctx, &deployer).unwrap();
    roles::can(
        store,
        &ctx,
        &reference("alpha"),
        &perm("deploys:write"),
        Some(&id(&first)),
    )
    .unwrap();
    let alpha = accounts::show(store, &ctx, &reference("alpha")).unwrap();
    roles::of_account(store, &alpha).unwrap();
    let token = tokens::show(store, &ctx, &id(&first)).unwrap();
    roles::of_token(store, &ctx, &token).unwrap();
    roles::update(
        store,
        &ctx,
        &deployer,
        &roles::UpdateRole {
            add: vec![perm("releases:write")],
            remove: vec![perm("*:read")],
            description: Some(Some("ships".into())),
            name: Some(RoleName::parse("shipper").unwrap()),
        },
    )
    .unwrap();
    let shipper = RoleName::parse("shipper").unwrap();
    roles::revoke(store, &ctx, &shipper, &[reference("beta")]).unwrap();
    let acting = tokens::authenticate(
        store,
        &ctx,
        &tokens::parse_presented(first.secret.expose()).unwrap(),
        Some("default"),
        Some(&perm("dashboards:read")),
        "run the plan check",
    )
    .unwrap();
    assert_eq!(acting.account, "alpha");
    roles::delete(store, &ctx, &shipper).unwrap();
    audit::verify_chain(store, &ctx).unwrap();
    usage::report(store, &ctx, &usage::UsageQuery::default()).unwrap();
    usage::account_report(store, &ctx, &reference("alpha"), 30).unwrap();
    tokens::show(store, &ctx, &id(&first)).unwrap();
    tokens::set_paused(store, &ctx, &id(&first), true).unwrap();
    tokens::set_paused(store, &ctx, &id(&first), false).unwrap();
    let presented = tokens::parse_presented(first.secret.expose()).unwrap();
    tokens::verify(
        store,
        &ctx,
        &tokens::VerifyRequest {
            token: &presented,
            permission: Some(&Permission::parse("dashboards:read").unwrap()),
            source: Some("tidy"),
        },
    )
    .unwrap();
    // What a `sa::Verifier` writes for the hits its cache answered.
    tokens::record_cached_uses(
        store,
        &[tokens::CachedUses {
            token_id: id(&first),
            count: 3,
            last_at: ctx.now,
        }],
        Some("tidy"),
    )
    .unwrap();
    tokens::rotate(
        store,
        &ctx,
        &id(&first),
        None,
        Some(Duration::from_secs(3600)),
    )
    .unwrap();
    tokens::revoke(store, &ctx, &[id(&second)]).unwrap();
    tokens::revoke_all(store, &ctx, &reference("beta")).unwrap();
    accounts::delete(store, &ctx, &reference("delta"), false).unwrap();
    accounts::undelete(store, &ctx, &reference("delta")).unwrap();
    accounts::delete(store, &ctx, &reference("delta"), true).unwrap();
    accounts::delete(store, &ctx, &reference("gamma2"), false).unwrap();
    let later = Context {
        now: ctx.now + chrono::TimeDelta::days(60),
        ..ctx.clone()
    };
    accounts::purge_expired(store, &later).unwrap();
    let mut stale_policy = config.clone();
    stale_policy.tokens.disable_unused_after = Some(Duration::from_days(10));
    stale_policy.retention.usage_days = 30;
    // Within the tokens' 30 days, past the policy's 10.
    let policed = Context {
        config: &stale_policy,
        now: ctx.now + chrono::TimeDelta::days(20),
        ..ctx.clone()
    };
    assert!(tokens::disable_unused(store, &policed).unwrap() > 0);
    let much_later = Context {
        now: ctx.now + chrono::TimeDelta::days(90),
        ..policed.clone()
    };
    assert!(usage::purge_old_counters(store, &much_later).unwrap() > 0);
    accounts::list_orgs(store).unwrap();
    for query in [
        audit::AuditQuery::default(),
        audit::AuditQuery {
            limit: Some(10),
            ..Default::default()
        },
        audit::AuditQuery {
            account: Some(reference("alpha")),
            ..Default::default()
        },
        audit::AuditQuery {
            account: Some(reference("delta")), // purged: found by name in the trail
            limit: Some(5),
            ..Default::default()
        },
        audit::AuditQuery {
            action: Some("token.".into()),
            limit: Some(10),
            ..Default::default()
        },
        audit::AuditQuery {
            action: Some("account.create".into()),
            since: Some(Since::parse("1d").unwrap()),
            ..Default::default()
        },
        audit::AuditQuery {
            account: Some(reference("alpha")),
            action: Some("token.".into()),
            limit: Some(5),
            ..Default::default()
        },
        audit::AuditQuery {
            account: Some(reference("alpha")),
            action: Some("token.add".into()),
            ..Default::default()
        },
        audit::AuditQuery {
            account: Some(reference("alpha")),
            since: Some(Since::parse("400d").unwrap()),
            ..Default::default()
        },
        audit::AuditQuery {
            account: Some(reference("delta")),
            action: Some("account.".into()),
            since: Some(Since::parse("1d").unwrap()),
            ..Default::default()
        },
        audit::AuditQuery {
            since: Some(Since::parse("1d").unwrap()),
            limit: Some(10),
            ..Default::default()
        },
    ] {
        audit::list(store, &ctx, &query, &mut |_| Ok(())).unwrap();
    }
    // Last, since it removes the trail read above: everything up to a minute from now.
    let everything = Since::At(ctx.now + chrono::TimeDelta::minutes(1));
    assert!(audit::prunable(store, &ctx, &everything).unwrap() > 0);
    assert!(audit::prune(store, &ctx, &everything).unwrap() > 0);
    audit::verify_chain(store, &ctx).unwrap();
    // Last too: every token ends within the year.
    tokens::prunable(store, &ctx, Duration::from_days(1), &mut |_| Ok(())).unwrap();
    let year_on = Context {
        now: ctx.now + chrono::TimeDelta::days(400),
        ..ctx.clone()
    };
    assert!(
        tokens::prune(store, &year_on, Duration::from_days(1))
            .unwrap()
            .tokens
            > 0
    );
}

#[test]
fn no_statement_scans_a_growing_table_outside_the_reports() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::with_db_path(dir.path().join("sa.db"));
    config.argon2 = Argon2Cost {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };
    config.limits.max_accounts = Some(100);
    let mut store = Store::open(&config.db_path).unwrap();
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = Arc::clone(&seen);
    store
        .sqlite_mut()
        .trace_v2(
            TraceEventCodes::SQLITE_TRACE_STMT,
            Some(move |event: TraceEvent<'_>| {
                if let TraceEvent::Stmt(stmt, _) = event
                    && let Some(sql) = stmt.expanded_sql()
                {
                    sink.lock().unwrap().push(sql);
                }
            }),
        )
        .unwrap();
    workload(&mut store, &config);
    store
        .sqlite_mut()
        .trace_v2(TraceEventCodes::empty(), None::<fn(TraceEvent<'_>)>)
        .unwrap();
    crate::domain::database::check(&config.db_path).unwrap();

    let statements: BTreeSet<String> = seen.lock().unwrap().iter().cloned().collect();
    let mut failures = Vec::new();
    let mut explained = 0;
    for sql in &statements {
        let head = sql.trim_start().to_ascii_uppercase();
        if [
            "BEGIN",
            "COMMIT",
            "ROLLBACK",
            "PRAGMA",
            "--",
            "SAVEPOINT",
            "RELEASE",
        ]
        .iter()
        .any(|k| head.starts_with(k))
        {
            continue;
        }
        let mut stmt = store
            .sqlite()
            .unwrap()
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap_or_else(|e| panic!("{e}: {sql}"));
        let plan: Vec<PlanLine> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(3)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        explained += 1;

        let found = violations(sql, &plan);
        if !found.is_empty() {
            failures.push(format!("{sql}\n    {}", found.join("\n    ")));
        }
    }
    assert!(
        explained > 40,
        "the workload ran only {explained} statements"
    );
    assert!(
        failures.is_empty(),
        "statements that read a whole table (add an index, or mark a whole-table report):\n\n{}",
        failures.join("\n\n")
    );
}

#[test]
fn the_plan_check_sees_a_scan_and_a_whole_organization() {
    let line = |id, parent, text: &str| (id, parent, text.to_string());
    let sql = "SELECT * FROM tokens t JOIN accounts a ON a.id = t.account_id WHERE a.org = 'x'";
    let plan = [
        line(2, 0, "SCAN t"),
        line(3, 0, "SEARCH a USING INTEGER PRIMARY KEY (rowid=?)"),
    ];
    assert_eq!(violations(sql, &plan).len(), 1);
    let plan = [line(
        2,
        0,
        "SEARCH a USING INDEX sqlite_autoindex_accounts_1 (org=?)",
    )];
    assert_eq!(violations(sql, &plan).len(), 1);
    let paged = format!("{sql} ORDER BY a.id DESC LIMIT 10");
    assert!(
        violations(&paged, &plan).is_empty(),
        "a LIMIT ends the walk"
    );
    let sorted = [
        line(
            2,
            0,
            "SEARCH a USING INDEX sqlite_autoindex_accounts_1 (org=?)",
        ),
        line(5, 0, "USE TEMP B-TREE FOR ORDER BY"),
    ];
    assert_eq!(violations(&paged, &sorted).len(), 1, "sorting reads it all");
    let reported = format!("{sql} /* report: tokens */");
    assert!(violations(&reported, &[line(2, 0, "SCAN t")]).is_empty());
    let unknown = format!("{sql} /* report: anything */");
    assert_eq!(violations(&unknown, &[line(2, 0, "SCAN t")]).len(), 1);
}
