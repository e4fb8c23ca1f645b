//! `sa scan`: tokens found in trees, files, stdin and staged changes by pattern and checksum,
//! with their statuses; `.gitignore` honoured, binary files skipped; `--revoke` revoking the
//! live ones, each audited with where it leaked; the secret never shown.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::support::{Run, TestEnv};
use crate::tokens::expire;

/// A token's id: what stands between its prefix's `_` and the next.
fn id_of(token: &str) -> &str {
    token.split('_').nth(1).expect("a token has an id")
}

/// A token's secret and checksum: what must never be shown.
fn secret_of(token: &str) -> &str {
    token.rsplit('_').next().expect("a token has a secret")
}

/// Writes `text` to `root/relative`, creating directories.
fn plant(root: &Path, relative: &str, text: impl AsRef<[u8]>) -> PathBuf {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
    std::fs::write(&path, text).expect("write");
    path
}

/// An environment with account `ci-bot` and a directory `tree` to plant files in.
fn world() -> (TestEnv, PathBuf) {
    let env = TestEnv::new();
    env.create("ci-bot");
    let tree = env.root().join("tree");
    std::fs::create_dir_all(&tree).expect("tree");
    (env, tree)
}

fn scan(env: &TestEnv, args: &[&str]) -> Run {
    let mut all = vec!["scan"];
    all.extend_from_slice(args);
    env.run(&all)
}

/// `sa scan ARGS --json`: exits 0 or 1, never anything else; the findings.
#[track_caller]
fn findings(env: &TestEnv, args: &[&str]) -> Vec<Value> {
    let mut all = args.to_vec();
    all.push("--json");
    let run = scan(env, &all);
    assert!(run.code == 0 || run.code == 1, "{run}");
    run.json().as_array().expect("an array").clone()
}

/// (file relative to the test root, line, column, token id, status) of each finding.
fn places(found: &[Value]) -> Vec<(String, u64, u64, String, String)> {
    found
        .iter()
        .map(|f| {
            (
                f["file"].as_str().expect("file").to_string(),
                f["line"].as_u64().expect("line"),
                f["column"].as_u64().expect("column"),
                f["token_id"].as_str().expect("token_id").to_string(),
                f["status"].as_str().expect("status").to_string(),
            )
        })
        .collect()
}

fn place(
    file: &str,
    line: u64,
    column: u64,
    token: &str,
    status: &str,
) -> (String, u64, u64, String, String) {
    (
        file.into(),
        line,
        column,
        id_of(token).into(),
        status.into(),
    )
}

#[test]
fn planted_tokens_are_found_in_text_json_a_minified_line_file_edges_and_a_dotenv() {
    let (env, tree) = world();
    let tokens: Vec<String> = (0..5).map(|_| env.add_token("ci-bot", &[])).collect();
    let [text, json, minified, edges, dotenv] = &tokens[..] else {
        unreachable!()
    };
    plant(
        &tree,
        "notes.txt",
        format!("deploy notes\n\nthe bot uses {text} for now\n"),
    );
    plant(
        &tree,
        "config/app.json",
        format!("{{\n  \"name\": \"app\",\n  \"token\": \"{json}\"\n}}\n"),
    );
    let filler = "var a=1;".repeat(40_000);
    plant(
        &tree,
        "dist/app.min.js",
        format!("{filler}const t=\"{minified}\";{filler}"),
    );
    // The first bytes of the file, and its last with no newline after.
    plant(&tree, "edges.txt", format!("{edges}\nmiddle\n{edges}"));
    plant(&tree, ".env", format!("SA_TOKEN={dotenv}\n"));

    let found = findings(&env, &["tree"]);
    assert_eq!(
        places(&found),
        [
            place("tree/.env", 1, 10, dotenv, "live"),
            place("tree/config/app.json", 3, 13, json, "live"),
            place(
                "tree/dist/app.min.js",
                1,
                filler.len() as u64 + 10,
                minified,
                "live"
            ),
            place("tree/edges.txt", 1, 1, edges, "live"),
            place("tree/edges.txt", 3, 1, edges, "live"),
            place("tree/notes.txt", 3, 14, text, "live"),
        ]
    );
    let first = &found[0];
    assert_eq!(first["masked"], format!("sa_{}_***", id_of(dotenv)));
    assert_eq!(first["account"], "ci-bot");
    assert_eq!(first["org"], "default");
    assert_eq!(first["revoked"], false);
    assert!(first["account_id"].is_number());

    let run = scan(&env, &["tree"]).code(1);
    assert!(run.stdout.starts_with("FILE"), "a table by default\n{run}");
    assert!(
        run.stdout.contains(&format!("sa_{}_***", id_of(text))),
        "{run}"
    );
    assert!(
        run.stderr.contains("6 finding(s), 5 live token(s)"),
        "{run}"
    );
}

#[test]
fn a_token_with_one_wrong_character_is_no_finding() {
    let (env, tree) = world();
    let token = env.add_token("ci-bot", &[]);
    let mut text = String::new();
    for at in [0, 3, 9, 16, 30, token.len() - 1] {
        let mut bytes = token.clone().into_bytes();
        bytes[at] = if bytes[at] == b'Q' { b'R' } else { b'Q' };
        text.push_str(&format!(
            "key = {}\n",
            String::from_utf8(bytes).expect("ascii")
        ));
    }
    text.push_str(&format!("cut = {}\n", &token[..token.len() - 1]));
    text.push_str(&format!("longer = {token}x\n"));
    text.push_str(&format!(
        "shaped = sa_{}_{}\n",
        "Ab1".repeat(4),
        "Cd2".repeat(12) + "xy"
    ));
    plant(&tree, "near-misses.txt", text);
    let run = scan(&env, &["tree"]).ok();
    assert_eq!(run.stdout, "", "nothing found prints no table\n{run}");
    assert!(run.stderr.contains("no tokens found"), "{run}");
    assert_eq!(findings(&env, &["tree"]), Vec::<Value>::new());
}

#[test]
fn what_gitignore_and_ignore_exclude_is_skipped_and_dot_git_never_read() {
    let (env, tree) = world();
    let token = env.add_token("ci-bot", &[]);
    plant(&tree, ".gitignore", "secrets/\n*.log\n");
    plant(&tree, "sub/.ignore", "fixtures/\n");
    plant(&tree, "secrets/prod.env", &token);
    plant(&tree, "build.log", &token);
    plant(&tree, "sub/fixtures/token.txt", &token);
    plant(&tree, ".git/COMMIT_EDITMSG", &token);
    plant(&tree, "sub/kept.txt", &token);
    let found = places(&findings(&env, &["tree"]));
    assert_eq!(found, [place("tree/sub/kept.txt", 1, 1, &token, "live")]);

    // Named on the command line, an ignored file is scanned, as ripgrep does.
    let named = places(&findings(&env, &["tree/build.log"]));
    assert_eq!(named, [place("tree/build.log", 1, 1, &token, "live")]);

    // --no-ignore: everything but `.git`.
    let all: Vec<String> = places(&findings(&env, &["tree", "--no-ignore"]))
        .into_iter()
        .map(|p| p.0)
        .collect();
    assert_eq!(
        all,
        [
            "tree/build.log",
            "tree/secrets/prod.env",
            "tree/sub/fixtures/token.txt",
            "tree/sub/kept.txt"
        ]
    );
}

#[test]
fn each_finding_has_its_status() {
    let (env, tree) = world();
    env.create("paused-bot");
    env.create("gone-bot");
    let live = env.add_token("ci-bot", &[]);
    let expired = env.add_token("ci-bot", &[]);
    expire(&env, id_of(&expired));
    let revoked = env.add_token("ci-bot", &[]);
    env.run(&["token", "revoke", id_of(&revoked)]).ok();
    let paused = env.add_token("ci-bot", &[]);
    env.run(&["token", "disable", id_of(&paused)]).ok();
    let of_disabled = env.add_token("paused-bot", &[]);
    env.run(&["disable", "paused-bot"]).ok();
    let of_deleted = env.add_token("gone-bot", &[]);
    env.run(&["delete", "gone-bot", "--yes"]).ok();
    env.run(&["create", "--name", "acme-bot", "--org", "acme"])
        .ok();
    let other_org = env
        .run(&["token", "add", "acme-bot", "--org", "acme"])
        .ok()
        .stdout;
    // Another database's token, with another prefix: well-formed, unknown here.
    let elsewhere = TestEnv::new();
    elsewhere.write_config("[tokens]\nprefix = \"acme2_\"\n");
    elsewhere.create("far-bot");
    let foreign = elsewhere.add_token("far-bot", &[]);

    let lines: [&str; 8] = [
        &live,
        &expired,
        &revoked,
        &paused,
        &of_disabled,
        &of_deleted,
        other_org.trim(),
        &foreign,
    ];
    plant(&tree, "all.txt", lines.map(|t| format!("t={t}\n")).concat());
    let found = findings(&env, &["tree"]);
    let statuses: Vec<&str> = found
        .iter()
        .map(|f| f["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "live", "expired", "revoked", "paused", "paused", "revoked", "unknown", "unknown"
        ]
    );
    assert_eq!(found[7]["masked"], format!("acme2_{}_***", id_of(&foreign)));
    assert_eq!(found[7]["account"], Value::Null);
    assert_eq!(found[7]["org"], Value::Null);
    assert_eq!(found[4]["account"], "paused-bot");

    // Without the live one, nothing gates: exit 0.
    std::fs::write(
        tree.join("all.txt"),
        lines[1..]
            .iter()
            .map(|t| format!("{t}\n"))
            .collect::<String>(),
    )
    .expect("rewrite");
    let run = scan(&env, &["tree"]).ok();
    assert!(run.stderr.contains("7 finding(s), none live"), "{run}");
    // In the table, the unknown account is `-`.
    assert!(
        run.stdout
            .lines()
            .any(|l| l.contains(id_of(&foreign)) && l.contains(" - ") && l.ends_with("unknown")),
        "{run}"
    );
}

/// `token.revoke` events, as JSON.
fn revoke_events(env: &TestEnv) -> Vec<Value> {
    env.json(&["audit", "--action", "token.revoke"])
        .as_array()
        .expect("events")
        .clone()
}

#[test]
fn revoke_revokes_only_the_live_tokens_and_audits_each_with_where_it_leaked() {
    let (env, tree) = world();
    let live = env.add_token("ci-bot", &[]);
    let also_live = env.add_token("ci-bot", &[]);
    let paused = env.add_token("ci-bot", &[]);
    env.run(&["token", "disable", id_of(&paused)]).ok();
    let expired = env.add_token("ci-bot", &[]);
    expire(&env, id_of(&expired));
    plant(
        &tree,
        "a.env",
        format!("A={live}\nB={paused}\nC={expired}\n"),
    );
    plant(
        &tree,
        "b/c.txt",
        format!("\n\n  {also_live} and again {live}\n"),
    );

    let run = scan(&env, &["tree", "--revoke", "--yes", "--json"]).code(1);
    let found = run.json();
    let revoked: Vec<(&str, bool)> = found
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["status"].as_str().unwrap(),
                f["revoked"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        revoked,
        [
            ("live", true),
            ("paused", false),
            ("expired", false),
            ("live", true),
            ("live", true)
        ],
        "statuses are as found; `revoked` says what this scan did"
    );
    assert!(
        run.stderr.contains(&format!(
            "revoked token `{}` of account `ci-bot` (leaked at tree/a.env:1)",
            id_of(&live)
        )),
        "{run}"
    );
    let status = |token: &str| env.json(&["token", "show", id_of(token)])["status"].clone();
    assert_eq!(status(&live), "revoked");
    assert_eq!(status(&also_live), "revoked");
    assert_eq!(status(&paused), "disabled");
    assert_eq!(status(&expired), "expired");

    let events = revoke_events(&env);
    let details: Vec<(String, String, String)> = events
        .iter()
        .map(|e| {
            let d = &e["details"];
            (
                d["token_id"].as_str().unwrap().to_string(),
                d["reason"].as_str().unwrap().to_string(),
                d["location"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        details,
        [
            (
                id_of(&live).to_string(),
                "leaked".into(),
                "tree/a.env:1".into()
            ),
            (
                id_of(&also_live).to_string(),
                "leaked".into(),
                "tree/b/c.txt:3".into()
            ),
        ]
    );
    assert_eq!(events[0]["target"], "ci-bot");

    // The leak is history now: the same scan finds nothing live.
    scan(&env, &["tree", "--revoke", "--yes"]).ok();
    assert_eq!(revoke_events(&env).len(), 2);
}

#[test]
fn revoke_without_a_terminal_and_without_yes_changes_nothing() {
    let (env, tree) = world();
    let live = env.add_token("ci-bot", &[]);
    plant(&tree, "x.txt", &live);
    scan(&env, &["tree", "--revoke"])
        .code(2)
        .error_contains("needs confirmation");
    assert_eq!(
        env.json(&["token", "show", id_of(&live)])["status"],
        "active"
    );
    assert!(revoke_events(&env).is_empty());
    // `--yes` belongs to `--revoke`.
    scan(&env, &["tree", "--yes"]).code(2);
}

#[test]
fn the_secret_never_appears_in_any_output() {
    let (env, tree) = world();
    let token = env.add_token("ci-bot", &[]);
    let secret = secret_of(&token);
    plant(&tree, "leak.txt", format!("{token}\n"));
    // A file named after the token: its name is shown with the secret masked.
    plant(&tree, &format!("named-{token}.txt"), &token);
    for args in [
        &["tree"][..],
        &["tree", "--json"],
        &["tree", "-o", "wide"],
        &["tree", "-o", "name"],
        &["tree", "--revoke"],
        &["tree", "--revoke", "--yes"],
        &["tree", "--revoke", "--yes", "--json"],
    ] {
        let run = scan(&env, args);
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "{args:?}\n{run}"
        );
    }
    let audit = env.run(&["audit", "--json"]).ok();
    assert!(!audit.stdout.contains(secret), "{audit}");
    let files: Vec<String> = places(&findings(&env, &["tree"]))
        .into_iter()
        .map(|p| p.0)
        .collect();
    assert_eq!(
        files,
        [
            "tree/leak.txt".to_string(),
            format!("tree/named-sa_{}_***.txt", id_of(&token))
        ]
    );
}

#[test]
fn stdin_is_scanned_without_a_path_or_with_a_dash() {
    let (env, _) = world();
    let token = env.add_token("ci-bot", &[]);
    let log = format!("step 1 ok\nexport TOKEN='{token}'\n");
    for args in [&["scan", "--json"][..], &["scan", "-", "--json"]] {
        let run = env.run_with_stdin(args, &log).code(1);
        let found = places(run.json().as_array().unwrap());
        assert_eq!(found, [place("<stdin>", 2, 15, &token, "live")]);
    }
    let ids = env.run_with_stdin(&["scan", "-o", "name"], &log).code(1);
    assert_eq!(ids.stdout, format!("{}\n", id_of(&token)));
    env.run_with_stdin(&["scan"], "no tokens here\n").ok();
}

#[test]
fn binary_files_are_skipped_and_a_named_one_says_so() {
    let (env, tree) = world();
    let token = env.add_token("ci-bot", &[]);
    let mut binary = b"\x7fELF\0\0".to_vec();
    binary.extend_from_slice(token.as_bytes());
    plant(&tree, "app.bin", &binary);
    let run = scan(&env, &["tree"]).ok();
    assert!(run.stderr.contains("(1 binary, skipped)"), "{run}");
    let named = scan(&env, &["tree/app.bin"]).ok();
    assert!(named.stderr.contains("binary file"), "{named}");
}

#[test]
fn odd_inputs_do_not_stop_the_scan() {
    use std::os::unix::ffi::OsStrExt;
    let (env, tree) = world();
    let token = env.add_token("ci-bot", &[]);
    // A file name and content that are not UTF-8, a long line, a symlink loop in the tree.
    let odd = tree.join(std::ffi::OsStr::from_bytes(b"caf\xe9.txt"));
    let mut content = b"\xff\xfe latin-1 \xe9 ".to_vec();
    content.extend_from_slice(token.as_bytes());
    std::fs::write(&odd, &content).expect("write");
    plant(
        &tree,
        "long.txt",
        format!("{}{token}", "a ".repeat(3_000_000)),
    );
    std::os::unix::fs::symlink("loop", tree.join("loop")).expect("symlink");
    std::os::unix::fs::symlink("..", tree.join("up")).expect("symlink");
    let found = places(&findings(&env, &["tree"]));
    assert_eq!(
        found,
        [
            place("tree/caf\u{fffd}.txt", 1, 14, &token, "live"),
            place("tree/long.txt", 1, 6_000_001, &token, "live"),
        ]
    );
    // A path that cannot be read is named, the rest still scanned, and the scan is not a
    // pass: exit 3 when nothing live was found, 1 when something was.
    let missing = scan(&env, &["tree/long.txt", "no-such-file"]).code(1);
    assert!(missing.stderr.contains("no-such-file"), "{missing}");
    plant(&tree, "clean/a.txt", "nothing\n");
    let run = scan(&env, &["tree/clean", "no-such-file", "tree/loop"]).code(3);
    assert!(
        run.stderr.contains("warning: ") && run.stderr.contains("no-such-file"),
        "{run}"
    );
    assert!(run.stderr.contains("tree/loop"), "{run}");
    assert!(
        run.stderr
            .contains("error: the scan is incomplete: 2 path(s) could not be read"),
        "{run}"
    );
    assert!(!run.stderr.contains("panicked"), "{run}");
}

#[test]
fn a_missing_database_is_exit_3_and_no_paths_on_a_terminal_is_not_a_wait() {
    use crate::prompts::{exited, finish, spawn};
    let env = TestEnv::new();
    let run = env.run(&["scan", "."]).code(3);
    assert!(run.stderr.contains("no sa database"), "{run}");
    assert!(!env.database_exists(), "scan creates no database");
    // Stdin a terminal and no PATH: a usage error at once, not a wait for typed text.
    let (rest, status, _) = finish(spawn(&env, &["scan"], ""));
    assert_eq!(exited(status), Some(2), "{rest}");
    assert!(rest.contains("scans stdin, which is a terminal"), "{rest}");
}

#[test]
fn a_read_token_may_scan_and_only_a_write_token_may_revoke() {
    let (env, tree) = world();
    env.create("reader-bot");
    env.run(&["role", "grant", "viewer", "reader-bot"]).ok();
    let reader = env.add_token("reader-bot", &[]);
    let live = env.add_token("ci-bot", &[]);
    plant(&tree, "x.txt", &live);
    let as_reader = |args: &[&str]| Run::of(env.command().args(args).env("SA_TOKEN", &reader));
    as_reader(&["scan", "tree"]).code(1);
    as_reader(&["scan", "tree", "--revoke", "--yes"])
        .code(1)
        .error_contains("tokens:write");
    assert_eq!(
        env.json(&["token", "show", id_of(&live)])["status"],
        "active"
    );
}

/// `git` in `dir`, as a user with an identity and no global config.
fn git(env: &TestEnv, dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("HOME", env.home())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .status()
        .expect("git");
    assert!(status.success(), "git {args:?}");
}

#[test]
fn git_mode_scans_the_lines_the_staged_changes_add() {
    if !crate::support::have_tool("git") {
        return;
    }
    let (env, repo) = world();
    let committed = env.add_token("ci-bot", &[]);
    let staged = env.add_token("ci-bot", &[]);
    let unstaged = env.add_token("ci-bot", &[]);
    git(&env, &repo, &["init", "-q"]);
    plant(&repo, "app.env", format!("A=1\nOLD={committed}\nB=2\n"));
    git(&env, &repo, &["add", "."]);
    git(&env, &repo, &["commit", "-qm", "first"]);
    // Staged: the old token removed, a new one added on line 3 of the new file; in a new
    // file with an odd name too. Unstaged: another token, which the commit would not take.
    plant(&repo, "app.env", format!("A=1\nB=2\nNEW={staged}\n"));
    plant(&repo, "dir/new file.txt", format!("{staged}\n"));
    git(&env, &repo, &["add", "."]);
    plant(
        &repo,
        "app.env",
        format!("A=1\nB=2\nNEW={staged}\nLATER={unstaged}\n"),
    );

    let run_in = |args: &[&str]| {
        let mut all = vec!["scan"];
        all.extend_from_slice(args);
        Run::of(env.command().args(&all).current_dir(&repo))
    };
    let run = run_in(&["--git", "--json"]).code(1);
    assert_eq!(
        places(run.json().as_array().unwrap()),
        [
            place("app.env", 3, 5, &staged, "live"),
            place("dir/new file.txt", 1, 1, &staged, "live"),
        ]
    );
    assert!(
        run.stderr.contains("staged changes add to 2 file(s)"),
        "{run}"
    );
    // Pathspecs narrow it.
    let narrowed = run_in(&["--git", "--json", "dir"]).code(1);
    assert_eq!(narrowed.json().as_array().unwrap().len(), 1);
    // Nothing staged: a pass.
    git(&env, &repo, &["commit", "-qm", "second"]);
    run_in(&["--git"]).ok();

    // Outside a work tree: an environment failure, not a pass.
    let outside = env.root().join("not-a-repo");
    std::fs::create_dir_all(&outside).expect("dir");
    Run::of(env.command().args(["scan", "--git"]).current_dir(&outside))
        .code(3)
        .error_contains("not in a git work tree");
}

#[test]
fn revoke_on_a_terminal_asks_naming_the_tokens_and_only_yes_revokes() {
    use crate::prompts::{answer, exited, finish, spawn};
    let (env, tree) = world();
    let live = env.add_token("ci-bot", &[]);
    plant(&tree, "x.env", format!("T={live}\n"));
    let question = format!(
        "revoke 1 live token(s) found by the scan (`{}` of `ci-bot` at tree/x.env:1)? [y/N]",
        id_of(&live)
    );
    let mut session = spawn(&env, &["scan", "tree", "--revoke"], "");
    answer(&mut session, &question, "n\r");
    let (rest, status, echo) = finish(session);
    assert_eq!(exited(status), Some(1), "{rest}");
    assert!(rest.contains("cancelled"), "{rest}");
    assert!(echo);
    assert_eq!(
        env.json(&["token", "show", id_of(&live)])["status"],
        "active"
    );

    let mut session = spawn(&env, &["scan", "tree", "--revoke"], "");
    answer(&mut session, &question, "y\r");
    let (rest, status, _) = finish(session);
    assert_eq!(exited(status), Some(1), "a live token was found\n{rest}");
    assert!(rest.contains("live (revoked now)"), "{rest}");
    assert_eq!(
        env.json(&["token", "show", id_of(&live)])["status"],
        "revoked"
    );
}
