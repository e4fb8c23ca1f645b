//! The generated files (`completions/`, `man/`) match the clap definitions, the scripts load
//! in their shells, completion reads the database, and every man page renders cleanly.
//!
//! Regenerate after changing a command: `SA_REGENERATE=1 cargo test --test cli generated`.

use std::path::{Path, PathBuf};
use std::process::Command;

use sa::cli::generate;

use crate::support::TestEnv;
use crate::tokens::token_id;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every generated file, by its path in the repository.
fn expected() -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for shell in generate::SHELLS {
        let script = generate::completion_script(shell).expect("a script");
        files.push((
            Path::new("completions").join(generate::completion_file_name(shell)),
            script,
        ));
    }
    for (name, page) in generate::man_pages().expect("man pages") {
        files.push((Path::new("man").join(name), page));
    }
    files
}

#[test]
fn generated_files_match_the_code() {
    let regenerate = std::env::var_os("SA_REGENERATE").is_some_and(|v| v == "1");
    let files = expected();
    let mut stale = Vec::new();
    for (path, content) in &files {
        let full = repo().join(path);
        if regenerate {
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(&full, content).unwrap();
        } else if std::fs::read(&full).ok().as_deref() != Some(content.as_slice()) {
            stale.push(path.display().to_string());
        }
    }
    // A page of a command that no longer exists is stale too.
    for dir in ["completions", "man"] {
        for entry in std::fs::read_dir(repo().join(dir)).unwrap() {
            let path = Path::new(dir).join(entry.unwrap().file_name());
            if !files.iter().any(|(p, _)| *p == path) {
                if regenerate {
                    std::fs::remove_file(repo().join(&path)).unwrap();
                } else {
                    stale.push(format!("{} (no longer generated)", path.display()));
                }
            }
        }
    }
    assert!(
        stale.is_empty(),
        "generated files differ from the code; run `SA_REGENERATE=1 cargo test --test cli generated`: {stale:?}"
    );
    assert!(files.len() > 40, "a page per command: {}", files.len());
}

#[test]
fn sa_completions_prints_the_committed_script() {
    let env = TestEnv::new();
    for shell in generate::SHELLS {
        let run = env.run(&["completions", shell]).ok();
        let committed = std::fs::read_to_string(
            repo()
                .join("completions")
                .join(generate::completion_file_name(shell)),
        )
        .unwrap();
        assert_eq!(run.stdout, committed, "{shell}");
    }
    env.run(&["completions", "tcsh"]).code(2);
    assert!(!env.database_exists(), "completions need no database");
}

/// A directory holding the built `sa`, to put first on a shell's PATH as the scripts call
/// `sa` by name.
fn path_with_sa(env: &TestEnv) -> String {
    let bin = env.root().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let link = bin.join("sa");
    if !link.exists() {
        std::os::unix::fs::symlink(assert_cmd::cargo::cargo_bin("sa"), &link).unwrap();
    }
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn bash_completes_token_ids_account_names_and_roles_from_the_database() {
    let env = TestEnv::new();
    env.create("ci-bot");
    env.create("cd-bot");
    let token = env.add_token("ci-bot", &["--name", "deploy"]);
    let script = repo().join("completions/sa.bash");
    // `words` as bash splits them, the last one the word being completed (`''`: a new one).
    let complete = |words: &str, current: usize| -> Vec<String> {
        let program = format!(
            "source {}; complete -p sa >/dev/null || exit 9; COMP_WORDS=({words}); COMP_CWORD={current}; COMP_LINE=\"${{COMP_WORDS[*]}}\"; COMP_POINT=${{#COMP_LINE}}; COMP_TYPE=9; _clap_complete_sa sa \"${{COMP_WORDS[$COMP_CWORD]}}\" \"${{COMP_WORDS[$COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let out = Command::new("bash")
            .args(["--norc", "--noprofile", "-c", &program])
            .env("PATH", path_with_sa(&env))
            .env("SA_DB", env.db_path())
            .env("SA_CONFIG", env.config_path())
            .env("HOME", env.home())
            .env_remove("SA_ORG")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            // Values only: an empty word is offered the flags too.
            .filter(|l| !l.is_empty() && !l.starts_with('-'))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(complete("sa token rotate ''", 3), [token_id(&token)]);
    let mut accounts = complete("sa show ''", 2);
    accounts.sort();
    assert_eq!(accounts, ["cd-bot", "ci-bot"]);
    let roles = complete("sa role grant ''", 3);
    assert!(roles.contains(&"viewer".to_string()), "{roles:?}");
    let commands = complete("sa tok", 1);
    assert_eq!(commands, ["token"]);
    // `undelete` offers the deleted accounts, and only those.
    env.run(&["delete", "cd-bot", "--yes"]).ok();
    assert_eq!(complete("sa undelete ''", 2), ["cd-bot"]);
}

#[test]
fn completion_on_a_missing_database_offers_nothing_and_creates_nothing() {
    let env = TestEnv::new();
    let out = env
        .command()
        .env("COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", "3")
        .args(["--", "sa", "token", "revoke", ""])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        !String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| !l.starts_with('-')),
        "{out:?}"
    );
    assert!(out.stderr.is_empty(), "{out:?}");
    assert!(!env.database_exists());
}

#[test]
fn every_man_page_renders_without_warnings() {
    let dir = repo().join("man");
    let mut pages = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let out = Command::new("man")
            .args(["--warnings", "-l"])
            .arg(&path)
            .env("MANWIDTH", "80")
            // A locale that is installed everywhere and reads UTF-8, so that man itself has
            // nothing to warn about.
            .env("LC_ALL", "C.UTF-8")
            .env("MANPAGER", "cat")
            .env("PAGER", "cat")
            .output()
            .expect("man (man-db; .ci/run installs it)");
        assert!(out.status.success(), "{}: {out:?}", path.display());
        assert!(
            out.stderr.is_empty(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("NAME"), "{}", path.display());
        let source = std::fs::read_to_string(&path).unwrap();
        assert!(
            source.is_ascii(),
            "{}: plain ASCII renders in any locale",
            path.display()
        );
        pages += 1;
    }
    assert!(pages > 40, "{pages}");
    let top = std::fs::read_to_string(dir.join("sa.1")).unwrap();
    assert!(top.contains("EXAMPLES"));
    let add = std::fs::read_to_string(dir.join("sa-token-add.1")).unwrap();
    assert!(
        add.contains("EXAMPLES") && add.contains("expires 4h"),
        "{add}"
    );
}

#[test]
fn every_help_ends_with_examples() {
    let env = TestEnv::new();
    for args in [
        vec!["--help"],
        vec!["token", "add", "--help"],
        vec!["account", "create", "--help"],
        vec!["audit", "verify", "--help"],
        vec!["delete", "--help"],
    ] {
        let run = env.run(&args).ok();
        assert!(run.stdout.contains("\nExamples:\n"), "{args:?}: {run}");
    }
}
