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
    /// The test's own PostgreSQL database, when the suite runs on PostgreSQL.
    postgres: Option<PgDatabase>,
    /// More databases on that server, dropped with the test.
    more: std::sync::Mutex<Vec<PgDatabase>>,
}

/// `$SA_TEST_PG`: the URL of a PostgreSQL database on a server where the tests may create
/// databases (`scripts/pg-cluster.sh start` prints one). Set, every [`TestEnv`] gets a fresh
/// database of its own there, and `sa` is pointed at it instead of a file.
pub fn postgres_server() -> Option<String> {
    std::env::var("SA_TEST_PG")
        .ok()
        .filter(|url| !url.is_empty())
}

/// Whether the suite runs on PostgreSQL.
pub fn on_postgres() -> bool {
    postgres_server().is_some()
}

/// Ends a test that is about SQLite's file (its bytes, its `-wal`, its locks) when the suite
/// runs on PostgreSQL, saying so: there is no file there to test.
#[macro_export]
macro_rules! sqlite_only {
    () => {
        if $crate::support::on_postgres() {
            eprintln!("skipped on PostgreSQL: this test is about the SQLite file");
            return;
        }
    };
}

/// A database created for one test, dropped with it.
struct PgDatabase {
    server: String,
    name: String,
    url: String,
}

impl PgDatabase {
    fn create(server: &str) -> Self {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "sa_test_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        );
        let mut client =
            postgres::Client::connect(server, postgres::NoTls).expect("connect to $SA_TEST_PG");
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create a test database");
        PgDatabase {
            server: server.to_string(),
            url: with_database(server, &name),
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.server, postgres::NoTls) {
            let _ = client.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// `url` with its database name replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (before, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let (scheme, rest) = before.split_once("://").expect("a URL");
    let authority = rest.split('/').next().unwrap_or("");
    format!("{scheme}://{authority}/{name}{query}")
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
            postgres: postgres_server().map(|server| PgDatabase::create(&server)),
            more: Default::default(),
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

    /// Where the test's database is: a file in the temp dir, or the URL of its own
    /// PostgreSQL database.
    pub fn db_path(&self) -> PathBuf {
        match &self.postgres {
            Some(db) => PathBuf::from(&db.url),
            None => self.root().join("data/sa.db"),
        }
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
            // libpq's, which sa reads too: only a test sets them.
            "PGPASSWORD",
            "PGPASSFILE",
            "PGUSER",
            "PGHOST",
            "PGPORT",
            "PGDATABASE",
            "PGSSLMODE",
            "PGSSLROOTCERT",
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

/// A value bound to a placeholder of [`Sql`].
#[derive(Debug, Clone)]
pub enum Arg {
    Int(i64),
    Text(String),
}

impl From<i64> for Arg {
    fn from(n: i64) -> Self {
        Arg::Int(n)
    }
}

impl From<&str> for Arg {
    fn from(s: &str) -> Self {
        Arg::Text(s.to_string())
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Self {
        Arg::Text(s)
    }
}

impl From<&String> for Arg {
    fn from(s: &String) -> Self {
        Arg::Text(s.clone())
    }
}

/// A connection straight to the test's database, as another program would open it: how a
/// test tampers with rows or reads what sa stored, on SQLite or PostgreSQL alike. Statements
/// use `?N` placeholders and SQL both read.
pub enum Sql {
    Sqlite(rusqlite::Connection),
    Postgres(postgres::Client),
}

impl Sql {
    /// `?N` as PostgreSQL's `$N`.
    fn postgres_text(sql: &str) -> String {
        let mut out = String::with_capacity(sql.len());
        let mut quoted = false;
        for c in sql.chars() {
            if c == '\'' {
                quoted = !quoted;
            }
            out.push(if c == '?' && !quoted { '$' } else { c });
        }
        out
    }

    fn pg_args(args: &[Arg]) -> Vec<Box<dyn postgres::types::ToSql + Sync>> {
        args.iter()
            .map(|a| -> Box<dyn postgres::types::ToSql + Sync> {
                match a {
                    Arg::Int(n) => Box::new(*n),
                    Arg::Text(s) => Box::new(s.clone()),
                }
            })
            .collect()
    }

    fn sqlite_args(args: &[Arg]) -> Vec<rusqlite::types::Value> {
        args.iter()
            .map(|a| match a {
                Arg::Int(n) => rusqlite::types::Value::Integer(*n),
                Arg::Text(s) => rusqlite::types::Value::Text(s.clone()),
            })
            .collect()
    }

    /// Runs `work` with `args` as the postgres crate's parameters.
    fn with_pg_args<T>(
        args: &[Arg],
        work: impl FnOnce(&[&(dyn postgres::types::ToSql + Sync)]) -> T,
    ) -> T {
        let values = Self::pg_args(args);
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
            values.iter().map(|b| b.as_ref()).collect();
        work(&refs)
    }

    /// Runs one statement; how many rows it changed.
    #[track_caller]
    pub fn execute(&mut self, sql: &str, args: &[Arg]) -> u64 {
        match self {
            Sql::Sqlite(conn) => conn
                .execute(sql, rusqlite::params_from_iter(Self::sqlite_args(args)))
                .unwrap_or_else(|e| panic!("{sql}: {e}")) as u64,
            Sql::Postgres(client) => Self::with_pg_args(args, |params| {
                client
                    .execute(&Self::postgres_text(sql), params)
                    .unwrap_or_else(|e| panic!("{sql}: {e}"))
            }),
        }
    }

    /// Runs statements without parameters; foreign keys are not enforced while they run, so
    /// a test can leave a row pointing nowhere (as a hand edit of the file could).
    #[track_caller]
    pub fn tamper(&mut self, statements: &str) {
        match self {
            Sql::Sqlite(conn) => conn
                .execute_batch(&format!("PRAGMA foreign_keys = OFF; {statements}"))
                .unwrap_or_else(|e| panic!("{statements}: {e}")),
            Sql::Postgres(client) => client
                .batch_execute(&format!(
                    "SET session_replication_role = replica; {statements}; SET session_replication_role = DEFAULT"
                ))
                .unwrap_or_else(|e| panic!("{statements}: {e}")),
        }
    }

    /// The first column of the first row.
    #[track_caller]
    fn first<T>(&mut self, sql: &str, args: &[Arg]) -> T
    where
        T: rusqlite::types::FromSql + for<'r> postgres::types::FromSql<'r>,
    {
        match self {
            Sql::Sqlite(conn) => conn
                .query_row(
                    sql,
                    rusqlite::params_from_iter(Self::sqlite_args(args)),
                    |r| r.get(0),
                )
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
            Sql::Postgres(client) => Self::with_pg_args(args, |params| {
                client
                    .query_one(&Self::postgres_text(sql), params)
                    .unwrap_or_else(|e| panic!("{sql}: {e}"))
                    .get(0)
            }),
        }
    }

    /// The first column of the first row, as an integer (NULL is 0).
    #[track_caller]
    pub fn int(&mut self, sql: &str, args: &[Arg]) -> i64 {
        self.first::<Option<i64>>(sql, args).unwrap_or(0)
    }

    /// The first column of the first row, as text.
    #[track_caller]
    pub fn text(&mut self, sql: &str, args: &[Arg]) -> String {
        self.first(sql, args)
    }

    /// Every row of every table of a PostgreSQL database as text, a table at a time: what a
    /// file's bytes are on SQLite, for a search of what is stored.
    #[track_caller]
    pub fn dump(&mut self) -> Vec<(String, Vec<u8>)> {
        let Sql::Postgres(client) = self else {
            panic!("dump reads a PostgreSQL database");
        };
        let tables: Vec<String> = client
            .query(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'sa' ORDER BY 1",
                &[],
            )
            .expect("tables")
            .iter()
            .map(|r| r.get(0))
            .collect();
        tables
            .into_iter()
            .map(|table| {
                let text: Option<String> = client
                    .query_one(
                        &format!("SELECT string_agg(t::text, E'\\n') FROM sa.{table} t"),
                        &[],
                    )
                    .expect("rows")
                    .get(0);
                (table, text.unwrap_or_default().into_bytes())
            })
            .collect()
    }
}

/// Holds the database's writer lock until dropped: a write command started meanwhile waits.
pub struct WriteLock {
    _holder: Sql,
}

impl TestEnv {
    /// Whether sa's database is there: the file, or on PostgreSQL the schema `sa` in the
    /// test's database (which itself always exists).
    pub fn database_exists(&self) -> bool {
        match &self.postgres {
            Some(_) => {
                self.sql().int(
                    "SELECT count(*) FROM pg_namespace WHERE nspname = 'sa'",
                    &[],
                ) > 0
            }
            None => self.db_path().exists(),
        }
    }

    /// The URL of another, empty PostgreSQL database on `$SA_TEST_PG`'s server.
    pub fn another_postgres_database(&self) -> String {
        let server = postgres_server().expect("$SA_TEST_PG");
        let db = PgDatabase::create(&server);
        let url = db.url.clone();
        self.more.lock().expect("a list").push(db);
        url
    }

    /// A connection straight to the test's database (see [`Sql`]).
    pub fn sql(&self) -> Sql {
        match &self.postgres {
            Some(db) => {
                let mut client = postgres::Client::connect(&db.url, postgres::NoTls)
                    .expect("connect to the test database");
                client
                    .batch_execute("SET search_path = sa")
                    .expect("search_path");
                Sql::Postgres(client)
            }
            None => Sql::Sqlite(
                rusqlite::Connection::open(self.db_path()).expect("open the test database"),
            ),
        }
    }

    /// Takes the writers' lock as another `sa` would, and holds it (see [`WriteLock`]).
    pub fn hold_write_lock(&self) -> WriteLock {
        match self.sql() {
            Sql::Sqlite(conn) => {
                conn.execute_batch("BEGIN IMMEDIATE").expect("lock");
                WriteLock {
                    _holder: Sql::Sqlite(conn),
                }
            }
            Sql::Postgres(mut client) => {
                client
                    .batch_execute("BEGIN; SELECT pg_advisory_xact_lock(1935736833)")
                    .expect("lock");
                WriteLock {
                    _holder: Sql::Postgres(client),
                }
            }
        }
    }
}
