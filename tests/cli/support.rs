//! `TestEnv`: an isolated world for one test, and `Run`, the result of one `sa` invocation.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

/// The config every test starts from: a cheap argon2 cost, so hashing stays real but fast.
pub const BASE_CONFIG: &str = "[argon2]\nmemory_kib = 64\niterations = 1\nparallelism = 1\n";

/// The permission bits of a file (`0o600`, …).
pub fn file_mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o777
}

/// A path as a command-line argument (the tests' paths are UTF-8).
pub fn arg(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// `path` with `suffix` appended: where SQLite keeps `-wal`, `-shm` and `-journal`.
pub fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    name.into()
}

/// The files in `dir` whose names start with `prefix` (sa's temporary files).
pub fn temp_files(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .collect()
}

pub struct TestEnv {
    dir: tempfile::TempDir,
}

/// What one `sa` run left behind.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Runs `command` (its stdin already given) and keeps what it left.
    pub fn of(command: &mut Command) -> Run {
        let output = command.output().expect("run sa");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Asserts exit 0 and returns self.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "expected success\n{self}");
        self
    }

    /// Asserts the exit code.
    #[track_caller]
    pub fn code(self, code: i32) -> Self {
        assert_eq!(self.code, code, "expected exit {code}\n{self}");
        self
    }

    /// Asserts a one-line `error: …` (plus at most a `hint: …`) on stderr containing `text`.
    #[track_caller]
    pub fn error_contains(self, text: &str) -> Self {
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert!(
            !lines.is_empty() && lines.len() <= 2,
            "expected one error line and an optional hint\n{self}"
        );
        assert!(lines[0].starts_with("error: "), "{self}");
        if let Some(hint) = lines.get(1) {
            assert!(hint.starts_with("hint: "), "{self}");
        }
        assert!(self.stderr.contains(text), "stderr lacks {text:?}\n{self}");
        assert!(!self.stderr.contains("panicked"), "{self}");
        self
    }

    /// stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e})\n{self}"))
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "[exit status: {}]\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl TestEnv {
    pub fn new() -> Self {
        let env = TestEnv {
            dir: tempfile::tempdir().expect("a temp dir"),
        };
        std::fs::create_dir_all(env.home()).expect("HOME");
        env.write_config("");
        env
    }

    /// Creates the database, so that a test's first command does not print the
    /// "created a new sa database" note.
    pub fn init_db(&self) {
        self.run(&["init"]).ok();
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn home(&self) -> PathBuf {
        self.root().join("home")
    }

    pub fn db_path(&self) -> PathBuf {
        self.root().join("data/sa.db")
    }

    pub fn config_path(&self) -> PathBuf {
        self.root().join("config.toml")
    }

    /// Replaces the config with [`BASE_CONFIG`] plus `extra` (TOML appended after it).
    pub fn write_config(&self, extra: &str) {
        std::fs::write(self.config_path(), format!("{BASE_CONFIG}{extra}")).expect("write config");
    }

    /// `sa` with an environment that touches nothing outside the temp dir.
    pub fn command(&self) -> Command {
        let mut cmd = Command::cargo_bin("sa").expect("the sa binary");
        for var in [
            "SA_ORG",
            "SA_ACTOR",
            "SA_TOKEN",
            "SA_DB",
            "SA_CONFIG",
            "XDG_CONFIG_HOME",
            "XDG_DATA_HOME",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("SA_DB", self.db_path())
            .env("SA_CONFIG", self.config_path())
            .env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.root().join("xdg-config"))
            .env("XDG_DATA_HOME", self.root().join("xdg-data"))
            .env("USER", "tester")
            .env("NO_COLOR", "1")
            .env("COLUMNS", "200")
            .env("RUST_BACKTRACE", "0")
            .current_dir(self.root());
        cmd
    }

    /// Runs `sa ARGS` with empty stdin.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, "")
    }

    /// Runs `sa ARGS` with `stdin` as its standard input.
    pub fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Run {
        Run::of(self.command().args(args).write_stdin(stdin))
    }

    /// Runs `sa ARGS --json`, asserts success, returns the parsed stdout.
    #[track_caller]
    pub fn json(&self, args: &[&str]) -> Value {
        let mut args = args.to_vec();
        args.push("--json");
        self.run(&args).ok().json()
    }

    /// Creates an account; returns its JSON.
    #[track_caller]
    pub fn create(&self, name: &str) -> Value {
        self.json(&["create", "--name", name])
    }

    /// Mints a token for `account` with extra args; returns the token (stdout, trimmed).
    #[track_caller]
    pub fn add_token(&self, account: &str, extra: &[&str]) -> String {
        let mut args = vec!["token", "add", account];
        args.extend_from_slice(extra);
        self.run(&args).ok().stdout.trim_end().to_string()
    }
}

/// Runs `work` through the library against the test database as if the clock read `when`
/// (RFC 3339): how tests write a history that happened in the past (events, verifications
/// on known days) with the code that writes it, since the binary has no clock to fake.
#[track_caller]
pub fn as_of<T>(
    env: &TestEnv,
    when: &str,
    work: impl FnOnce(&mut sa::store::Store, &sa::domain::Context<'_>) -> T,
) -> T {
    let mut config = sa::config::Config::with_db_path(env.db_path());
    config.argon2.memory_kib = 64;
    config.argon2.iterations = 1;
    config.argon2.parallelism = 1;
    let ctx = sa::domain::Context {
        org: sa::domain::names::OrgName::default(),
        actor: "tester".into(),
        now: chrono::DateTime::parse_from_rfc3339(when)
            .expect("an RFC 3339 time")
            .with_timezone(&chrono::Utc),
        config: &config,
        acting: None,
    };
    let mut store = sa::store::Store::open(&env.db_path()).expect("open the test database");
    work(&mut store, &ctx)
}

/// Whether `program` runs (`program --version`). A test that needs a missing one is skipped,
/// saying so, unless `$SA_TEST_TOOLS_REQUIRED` is set (`.ci/run` sets it, having installed
/// them), where a skip would pass a test that never ran.
pub fn have_tool(program: &str) -> bool {
    let found = std::process::Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("SA_TEST_TOOLS_REQUIRED").is_none(),
            "`{program}` is not installed, and $SA_TEST_TOOLS_REQUIRED says every test must run"
        );
        eprintln!("skipped: `{program}` is not installed");
    }
    found
}

/// Removes ANSI escape sequences (`ESC [ … letter`).
pub fn strip_escapes(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
