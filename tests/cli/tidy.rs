//! Architecture invariants a grep can check (ARCHITECTURE.md lists them): the lower floors do
//! not know about terminals, only the store speaks SQL, only `cli::main` picks an exit code.

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Lines of `file` containing `needle`, outside `//` comments.
fn offending_lines(file: &Path, needle: &str) -> Vec<String> {
    let text = std::fs::read_to_string(file).expect("read source");
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            let code = line.split("//").next().unwrap_or("");
            code.contains(needle)
        })
        .map(|(n, line)| format!("{}:{}: {}", file.display(), n + 1, line.trim()))
        .collect()
}

fn assert_absent(dirs: &[&str], needles: &[&str], why: &str) {
    let mut found = Vec::new();
    for dir in dirs {
        for file in rust_files(&src().join(dir)) {
            for needle in needles {
                found.extend(offending_lines(&file, needle));
            }
        }
    }
    assert!(found.is_empty(), "{why}:\n{}", found.join("\n"));
}

#[test]
fn domain_and_store_know_nothing_of_terminals_or_json() {
    assert_absent(
        &["domain", "store"],
        &[
            "clap",
            "comfy_table",
            "clap_complete",
            "jaq_",
            "/dev/tty",
            "serde_json",
            "println!",
            "eprintln!",
            "print!(",
            "std::io::stdout",
            "std::io::stderr",
        ],
        "domain/ and store/ never print nor import the CLI's crates",
    );
}

#[test]
fn only_the_store_speaks_sql() {
    let mut found = Vec::new();
    for file in rust_files(&src()) {
        if file.starts_with(src().join("store")) {
            continue;
        }
        found.extend(offending_lines(&file, "rusqlite"));
    }
    assert!(
        found.is_empty(),
        "rusqlite outside src/store:\n{}",
        found.join("\n")
    );
}

#[test]
fn only_cli_main_chooses_an_exit_code() {
    let mut found = Vec::new();
    for file in rust_files(&src()) {
        found.extend(offending_lines(&file, "process::exit"));
        if !file.ends_with("cli/mod.rs") && !file.ends_with("main.rs") {
            found.extend(offending_lines(&file, "ExitCode"));
        }
    }
    assert!(
        found.is_empty(),
        "exit codes chosen outside cli::main:\n{}",
        found.join("\n")
    );
}
