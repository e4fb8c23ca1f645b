//! The README's shell examples, run as written, so that the README cannot drift from the
//! binary (issue 11). Each ```sh block runs through bash in a fresh world with this build's
//! `sa` first on PATH, after a set-up its section needs; a block right after a
//! `<!-- not run by tests/cli/readme.rs: REASON -->` line is skipped. A command may fail only
//! with the exit code its own comment names (`# exit 1 if …`). The tour's transcript, with
//! times, ids and secrets filtered, is a snapshot; and run on an 80-column pseudo-terminal,
//! its tables keep every id whole.

use std::collections::HashMap;
use std::process::{Command, Stdio};

use regex::Regex;

use crate::support::{TestEnv, strip_escapes};

const README: &str = include_str!("../../README.md");
const SKIP_MARK: &str = "<!-- not run by tests/cli/readme.rs:";

/// One ```sh block of the README.
struct Block {
    /// The heading it sits under.
    section: String,
    /// Its first line's number in README.md.
    line: usize,
    text: String,
}

fn sh_blocks() -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut section = String::new();
    let mut lines = README.lines().enumerate().peekable();
    let mut previous = "";
    while let Some((n, line)) = lines.next() {
        if line.starts_with('#') {
            section = line.trim_start_matches('#').trim().to_string();
        }
        if line.starts_with("```") && line.trim() != "```" {
            let skipped = previous.starts_with(SKIP_MARK);
            let mut text = String::new();
            for (_, body) in lines.by_ref() {
                if body.starts_with("```") {
                    break;
                }
                text.push_str(body);
                text.push('\n');
            }
            if line.trim() == "```sh" && !skipped {
                blocks.push(Block {
                    section: section.clone(),
                    line: n + 2,
                    text,
                });
            }
            previous = "```";
            continue;
        }
        previous = line;
    }
    blocks
}

/// The files a section shows: each ```toml block whose first line is `# NAME`, by name, so
/// that the section's commands read the very file the reader sees.
fn files_of(section: &str) -> Vec<(&'static str, String)> {
    let mut files = Vec::new();
    let mut current = "";
    let mut lines = README.lines();
    while let Some(line) = lines.next() {
        if line.starts_with('#') {
            current = line.trim_start_matches('#').trim();
        }
        if line.trim() != "```toml" || current != section {
            continue;
        }
        let body: Vec<&str> = lines
            .by_ref()
            .take_while(|l| !l.starts_with("```"))
            .collect();
        if let Some(name) = body.first().and_then(|l| l.strip_prefix("# ")) {
            files.push((name.trim(), body.join("\n") + "\n"));
        }
    }
    files
}

/// Splits a block into the commands a reader would type one by one: lines joined until bash
/// finds them complete (a loop spans lines), blank and comment-only lines dropped.
fn commands(block: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut pending = String::new();
    for line in block.lines() {
        if pending.is_empty() && (line.trim().is_empty() || line.trim_start().starts_with('#')) {
            continue;
        }
        pending.push_str(line);
        pending.push('\n');
        let complete = Command::new("bash")
            .args(["-n", "-c", &pending])
            .stderr(Stdio::null())
            .status()
            .expect("bash")
            .success();
        if complete {
            commands.push(std::mem::take(&mut pending));
        }
    }
    assert!(pending.is_empty(), "an incomplete command: {pending}");
    commands
}

/// The exit code other than 0 a command's comment allows (`# exit 1 if anything lapses`).
fn allowed_failure(command: &str) -> Option<i32> {
    let exit = Regex::new(r"#.*\bexit ([1-9])\b").unwrap();
    exit.captures(command).map(|c| c[1].parse().unwrap())
}

/// What a section's block needs to exist first (run before it, not part of it).
fn set_up(section: &str) -> &'static str {
    match section {
        "A tour" => "",
        "Pipelines" => {
            "sa create --name ci-bot --role editor
             sa create --name nightly-bot
             sa role create deployer --permission deploys:write
             sa role grant deployer ci-bot
             sa token add ci-bot --expires 7d | sa token verify --source ci
             sa token add nightly-bot --expires 7d --output-file nightly.token"
        }
        "Scanning for leaked tokens" => {
            "sa create --name ci-bot
             sa token add ci-bot --output-file ci.token
             printf 'step 1: ok\\nexport TOKEN=%s\\n' \"$(cat ci.token)\" > build.log"
        }
        "Roles and permissions" => {
            "sa create --name ci-bot
             sa create --name nightly-bot"
        }
        "Declarative accounts: `sa export` and `sa apply`" => {
            "sa create --name legacy-bot
             sa create --name old-bot"
        }
        "Output for scripts" => {
            "sa create --name ci-bot && sa token add ci-bot --output-file ci.token"
        }
        other => panic!(
            "README section `{other}` has a ```sh block this test has no set-up for: add one \
             here, or mark the block `{SKIP_MARK} REASON -->`"
        ),
    }
}

/// One command's run.
struct Step {
    command: String,
    code: i32,
    output: String,
}

/// Separates the steps in the shell's output (a byte no command prints).
const MARK: char = '\u{1e}';

/// A bash for `env`'s world, with this build's `sa` first on PATH.
fn bash(env: &TestEnv) -> Command {
    let template = env.command();
    let sa = std::path::Path::new(template.get_program());
    let path = format!(
        "{}:{}",
        sa.parent().expect("a directory").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    for (key, value) in template.get_envs() {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    // Piped and no width given: tables come out whole, as a script sees them.
    cmd.env_remove("COLUMNS")
        .env("PATH", path)
        .current_dir(env.root());
    cmd
}

/// Runs `block`'s commands in order in one shell (variables carry over, as they do for a
/// reader), each one's stderr and stdout together.
fn run_block(env: &TestEnv, block: &Block) -> Vec<Step> {
    for (name, text) in files_of(&block.section) {
        std::fs::write(env.root().join(name), text).expect("write the README's file");
    }
    let prelude = set_up(&block.section);
    let set_up = bash(env)
        .args(["-ec", prelude])
        .stdin(Stdio::null())
        .output()
        .expect("bash");
    assert!(
        set_up.status.success(),
        "set-up for `{}` failed: {}",
        block.section,
        String::from_utf8_lossy(&set_up.stderr)
    );
    let commands = commands(&block.text);
    let mut script = String::from("exec 2>&1\n");
    for command in &commands {
        script.push_str(command);
        script.push_str(&format!("printf '{MARK}%d\\n' $?\n"));
    }
    let output = bash(env)
        .args(["-c", &script])
        .stdin(Stdio::null())
        .output()
        .expect("bash");
    let text = String::from_utf8_lossy(&output.stdout);
    let mut steps = Vec::new();
    let mut rest = text.as_ref();
    for command in commands {
        let at = rest.find(MARK).unwrap_or_else(|| {
            panic!(
                "README line {}: the shell stopped at {command}{rest}",
                block.line
            )
        });
        let (out, after) = rest.split_at(at);
        let after = &after[MARK.len_utf8()..];
        let (code, after) = after.split_once('\n').unwrap_or((after, ""));
        steps.push(Step {
            command,
            code: code.parse().expect("an exit code"),
            output: out.to_string(),
        });
        rest = after;
    }
    steps
}

/// Asserts each command exited 0, or with the code its comment allows, and printed no
/// error unless so allowed: inside a pipe (`sa list -o name | while …`) a failing `sa` does
/// not decide the exit code, but its `error:` line still shows.
fn assert_as_documented(block: &Block, steps: &[Step]) {
    for step in steps {
        let allowed = allowed_failure(&step.command);
        let errors = step.output.lines().any(|l| l.starts_with("error:"));
        assert!(
            (step.code == 0 && !errors) || (allowed.is_some() && Some(step.code) == allowed),
            "README line {} ({}): exit {} from\n{}{}",
            block.line,
            block.section,
            step.code,
            step.command,
            step.output
        );
        assert!(!step.output.contains("panicked"), "{}", step.output);
    }
}

/// The transcript with what changes from run to run replaced: the temp dir, secrets, ids
/// (numbered in order of appearance), hashes, times and sizes; and runs of spaces made two,
/// since a relative time's width moves the columns after it.
fn filtered(env: &TestEnv, steps: &[Step]) -> String {
    let mut text = String::new();
    for step in steps {
        for (n, line) in step.command.lines().enumerate() {
            text.push_str(if n == 0 { "$ " } else { "> " });
            text.push_str(line);
            text.push('\n');
        }
        for line in step.output.lines() {
            // The tests' cheap argon2 cost is not what a reader sees.
            if !line.starts_with("warning: `argon2.memory_kib`") {
                text.push_str(line);
                text.push('\n');
            }
        }
        if step.code != 0 {
            text.push_str(&format!("[exit {}]\n", step.code));
        }
    }
    let root = env.root().display().to_string();
    let mut text = text.replace(&root, "[DIR]");
    let replacements = [
        (
            r"\b[a-z][a-z0-9]{0,15}_[0-9A-Za-z]{12}_[0-9A-Za-z]{38}\b",
            "[TOKEN]",
        ),
        (r"\b[0-9a-f]{64}\b", "[HASH]"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[TIME]"),
        (r"\d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)? UTC", "[TIME]"),
        (r"\d{4}-\d\d-\d\d", "[DATE]"),
        (r"\bin \d+[dhms](\d+[hms])?\b", "in [SPAN]"),
        (r"\b\d+[dhms](\d+[hms])? ago\b", "[SPAN] ago"),
        (r"(?m)  now(  |$)", "  [SPAN] ago$1"),
        (r#""expires_in_s": \d+"#, r#""expires_in_s": [SECS]"#),
        (r"\d+ bytes", "[N] bytes"),
        (r"(?m)^bytes +\d+", "bytes  [N]"),
    ];
    for (pattern, with) in replacements {
        text = Regex::new(pattern)
            .unwrap()
            .replace_all(&text, with)
            .into_owned();
    }
    // Token ids: 12 base62 characters between non-alphanumerics (`sa_ID_***` masked too),
    // not all small letters (`organization` is a word).
    let id = Regex::new(r"(^|[^0-9A-Za-z])([0-9A-Za-z]{12})([^0-9A-Za-z]|$)").unwrap();
    let mut names: HashMap<String, String> = HashMap::new();
    text = id
        .replace_all(&text, |c: &regex::Captures<'_>| {
            let found = &c[2];
            let named = if found.chars().all(|ch| ch.is_ascii_lowercase()) {
                found.to_string()
            } else {
                let next = names.len() + 1;
                names
                    .entry(found.to_string())
                    .or_insert_with(|| format!("[ID{next}]"))
                    .clone()
            };
            format!("{}{named}{}", &c[1], &c[3])
        })
        .into_owned();
    Regex::new(" {2,}")
        .unwrap()
        .replace_all(&text, "  ")
        .into_owned()
}

fn block(section: &str) -> Block {
    sh_blocks()
        .into_iter()
        .find(|b| b.section == section)
        .unwrap_or_else(|| panic!("README has no ```sh block under `{section}`"))
}

#[test]
fn every_readme_example_runs_as_documented() {
    // The transcripts show the SQLite file (its path, `db check`'s lines, a scan that walks
    // past it): on PostgreSQL they would differ by design.
    crate::sqlite_only!();
    let blocks = sh_blocks();
    assert!(blocks.len() >= 4, "found {} blocks", blocks.len());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for block in &blocks {
        let env = TestEnv::new();
        let steps = run_block(&env, block);
        assert!(!steps.is_empty(), "README line {}: no commands", block.line);
        assert_as_documented(block, &steps);
        if block.section == "A tour" {
            continue; // its own test below
        }
        // What each prints is a snapshot too: a loop that prints nothing has failed.
        let slug: String = block
            .section
            .to_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        let n = seen.entry(slug.clone()).or_default();
        *n += 1;
        insta::assert_snapshot!(format!("readme_{slug}_{n}"), filtered(&env, &steps));
    }
}

/// The lines of the first fenced block opened by exactly `fence` (```` ```rust ````, or a
/// bare ```` ``` ````) in `text`.
fn fenced<'a>(text: impl Iterator<Item = &'a str>, fence: &str) -> Vec<&'a str> {
    let mut opened: Option<&str> = None;
    let mut lines = Vec::new();
    for line in text {
        match opened {
            None if line.starts_with("```") => opened = Some(line.trim_end()),
            None => {}
            Some(_) if line.starts_with("```") => {
                if opened == Some(fence) {
                    return lines;
                }
                opened = None;
            }
            Some(open) if open == fence => lines.push(line),
            Some(_) => {}
        }
    }
    lines
}

#[test]
fn the_readme_library_example_is_the_crate_doc_example_cargo_test_runs() {
    let readme = fenced(README.lines(), "```rust");
    assert!(!readme.is_empty(), "README has no ```rust block");
    // The crate documentation's first Rust example, without the doctest's hidden lines.
    let docs = include_str!("../../src/lib.rs")
        .lines()
        .filter_map(|line| line.strip_prefix("//!"))
        .map(|line| line.strip_prefix(' ').unwrap_or(line));
    let example: Vec<&str> = fenced(docs, "```")
        .into_iter()
        .filter(|line| *line != "#" && !line.starts_with("# "))
        .collect();
    assert_eq!(
        readme.join("\n"),
        example.join("\n"),
        "README.md's ```rust block and src/lib.rs's doc example differ"
    );
}

#[test]
fn the_readme_tour_prints_what_it_says() {
    crate::sqlite_only!();
    let env = TestEnv::new();
    let tour = block("A tour");
    let steps = run_block(&env, &tour);
    assert_as_documented(&tour, &steps);
    insta::assert_snapshot!("readme_tour", filtered(&env, &steps));
}

#[test]
fn the_tour_keeps_every_id_whole_on_an_80_column_terminal() {
    if !crate::support::have_tool("script") {
        return;
    }
    let env = TestEnv::new();
    let tour = block("A tour");
    let script_path = env.root().join("tour.sh");
    std::fs::write(&script_path, &tour.text).expect("write the tour");
    let shell = format!(
        "stty cols 80 rows 50 2>/dev/null; bash '{}'",
        script_path.display()
    );
    let output = bash(&env)
        .env_remove("NO_COLOR")
        .env("TERM", "xterm")
        .args(["-c", "exec script -qec \"$0\" /dev/null", &shell])
        .stdin(Stdio::null())
        .output()
        .expect("script");
    let screen = String::from_utf8_lossy(&output.stdout).replace('\r', "");
    // Every token id the tour made, from the audit trail (the purge took the tokens).
    let events = env.json(&["audit"]);
    let ids: Vec<String> = events
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["details"]["token_id"].as_str().map(str::to_string))
        .collect();
    assert!(ids.len() >= 2, "{events}");
    let mut seen = 0;
    for id in &ids {
        if screen.contains(id.as_str()) {
            seen += 1;
        }
        // In an id column, never cut; inside free text (an audit event's details, `-o wide`
        // shows them whole) it may be, after its `token_id=`. A cut id starts a cell, so
        // only a stub at a word's start counts, and one of three characters or more: "e…"
        // ending "deployer, e…" is a cut role name, whatever letter an id begins with.
        for cut in 3..id.len() {
            let stub = format!("{}…", &id[..cut]);
            for (at, _) in screen.match_indices(&stub) {
                let before = screen[..at].chars().next_back();
                assert!(
                    !before.is_none_or(char::is_whitespace),
                    "id {id} cut in a table: {}",
                    screen
                        .lines()
                        .find(|l| l.contains(&stub))
                        .unwrap_or_default()
                );
            }
        }
    }
    assert!(seen >= 2, "the tour's tables show its ids: {screen}");
    for line in screen.lines() {
        let plain = strip_escapes(line);
        let table_row = ids.iter().any(|id| plain.starts_with(id.as_str()));
        if table_row {
            assert!(
                plain.chars().count() <= 80,
                "a row wider than the terminal: {plain}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loop_is_one_command_and_comments_are_none() {
        let block = "# a comment\nsa list\n\nfor x in a b; do\n  echo $x\ndone | sort\n";
        assert_eq!(
            commands(block),
            ["sa list\n", "for x in a b; do\n  echo $x\ndone | sort\n"]
        );
    }

    #[test]
    fn a_failing_command_is_seen_with_its_exit_code() {
        let env = TestEnv::new();
        let block = Block {
            section: "A tour".into(),
            line: 1,
            text: "sa init\nsa show nobody-bot\nsa list --limit 0  # exit 2 on purpose\n".into(),
        };
        let steps = run_block(&env, &block);
        let codes: Vec<i32> = steps.iter().map(|s| s.code).collect();
        assert_eq!(codes, [0, 1, 2]);
        assert!(
            steps[1].output.contains("nobody-bot"),
            "{}",
            steps[1].output
        );
        let fails = std::panic::catch_unwind(|| assert_as_documented(&block, &steps[..2]));
        assert!(
            fails.is_err(),
            "exit 1 without a comment allowing it must fail"
        );
        assert_as_documented(&block, &steps[2..]);
        // Inside a pipe the exit code is the last command's; the error still shows.
        let piped = Block {
            text: "sa lst | sort\n".into(),
            ..block
        };
        let steps = run_block(&env, &piped);
        assert_eq!(steps[0].code, 0);
        let fails = std::panic::catch_unwind(|| assert_as_documented(&piped, &steps));
        assert!(fails.is_err(), "an error inside a pipe must fail");
    }

    #[test]
    fn only_a_commented_exit_code_may_fail() {
        assert_eq!(
            allowed_failure("sa usage --exit-code   # exit 1 if …"),
            Some(1)
        );
        assert_eq!(allowed_failure("sa list"), None);
        assert_eq!(allowed_failure("sa list --exit-code"), None);
    }
}
