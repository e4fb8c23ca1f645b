//! The effective configuration: TOML file, environment and flags, with where each value came
//! from (`sa config show`).
//!
//! The file is walked key by key instead of deserialized with serde so that every refusal can
//! name the full dotted key (`tokens.max_ttl`) and the file; unknown keys are errors, because a
//! misspelt limit that silently falls back to its default is a security bug.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::time::Duration;

/// Where a value of the effective configuration came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Default,
    /// The default, lowered to fit the key named (`tokens.max_ttl`).
    DefaultCappedBy(&'static str),
    File(PathBuf),
    Env(&'static str),
    Flag(&'static str),
    /// The cost the database records (argon2), in force whatever the config says; with the
    /// value the config gives, which the next administrator's write command records.
    Database { configured: u32 },
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::DefaultCappedBy(key) => write!(f, "default, lowered to fit {key}"),
            Source::File(path) => write!(f, "file {}", path.display()),
            Source::Env(var) => write!(f, "env ${var}"),
            Source::Flag(flag) => write!(f, "flag {flag}"),
            Source::Database { configured } => write!(
                f,
                "recorded in the database (the config's {configured} is recorded by the next write command)"
            ),
        }
    }
}

/// `[limits]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Accounts per organization (deleted ones still count while restorable); `None` = no cap.
    pub max_accounts: Option<u64>,
    /// Active tokens per account.
    pub max_tokens_per_account: u64,
}

/// `[retention]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retention {
    /// How long a deleted account can be restored with `sa undelete`.
    pub deleted_accounts: Duration,
    /// How many UTC days of per-day verification counters are kept.
    pub usage_days: u64,
}

/// `[tokens]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPolicy {
    pub prefix: String,
    pub default_ttl: Duration,
    pub max_ttl: Duration,
    pub require_expiry: bool,
    pub warn_before: Duration,
    /// The stale-token policy: active tokens idle this long are paused after the next write
    /// command (never-used ones count from their creation); `None` = off.
    pub disable_unused_after: Option<Duration>,
}

/// `[verify]`: the library `Verifier`'s cache of successful verifications (`sa token verify`,
/// one process per check, has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyCache {
    /// How long a success is answered from memory; zero = no cache.
    pub cache_ttl: Duration,
    /// At most this many tokens cached.
    pub cache_entries: u64,
}

/// The longest `verify.cache_ttl`: a revocation must reach a running service within minutes.
pub const MAX_CACHE_TTL_SECS: i64 = 3_600;
/// The most `verify.cache_entries` (each is a few hundred bytes).
pub const MAX_CACHE_ENTRIES: u64 = 1_000_000;

/// `[argon2]`: the cost of hashing a token secret (OWASP's argon2id recommendation by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Cost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for Argon2Cost {
    fn default() -> Self {
        Argon2Cost {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// The effective configuration.
#[derive(Clone)]
pub struct Config {
    /// The config file that was (or would have been) read.
    pub file: PathBuf,
    /// Whether that file exists; a missing file means defaults.
    pub file_found: bool,
    /// The database in use.
    pub db_path: PathBuf,
    /// Domain of generated account emails: `NAME@ORG.<email_domain>`.
    pub email_domain: String,
    pub limits: Limits,
    pub retention: Retention,
    pub tokens: TokenPolicy,
    pub argon2: Argon2Cost,
    pub verify: VerifyCache,
    sources: BTreeMap<&'static str, Source>,
}

/// By hand: a database URL's password must not reach a log through `{:?}`.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("file", &self.file)
            .field("file_found", &self.file_found)
            .field("db_path", &self.database_display())
            .field("email_domain", &self.email_domain)
            .field("limits", &self.limits)
            .field("retention", &self.retention)
            .field("tokens", &self.tokens)
            .field("argon2", &self.argon2)
            .field("verify", &self.verify)
            .field("sources", &self.sources)
            .finish()
    }
}

/// OWASP's argon2id configurations (memory KiB, iterations), each as strong as the others:
/// a cost weaker than all of them is below the recommended minimum.
const OWASP_ARGON2ID: [(u32, u32); 5] = [
    (47_104, 1),
    (19_456, 2),
    (12_288, 3),
    (9_216, 4),
    (7_168, 5),
];

impl Argon2Cost {
    /// Whether this cost is below every configuration OWASP recommends for argon2id.
    pub fn below_owasp_minimum(&self) -> bool {
        !OWASP_ARGON2ID
            .iter()
            .any(|&(memory, iterations)| self.memory_kib >= memory && self.iterations >= iterations)
    }
}

/// A value as `sa config show` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Text(String),
    Integer(u64),
    Bool(bool),
    /// Left out: what that means for this key (`unlimited`, `off`).
    Unset(&'static str),
}

/// One line of `sa config show`.
#[derive(Debug, Clone)]
pub struct Entry {
    pub key: &'static str,
    pub value: Value,
    pub source: Source,
}

/// What the process was started with; `cli` fills it from flags and the environment.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub config_flag: Option<PathBuf>,
    pub config_env: Option<PathBuf>,
    pub db_flag: Option<PathBuf>,
    pub db_env: Option<PathBuf>,
    pub xdg_config_home: Option<PathBuf>,
    pub xdg_data_home: Option<PathBuf>,
    pub home: Option<PathBuf>,
}

impl Overrides {
    /// Reads `$SA_CONFIG`, `$SA_DB`, `$XDG_*` and `$HOME`; empty values count as unset.
    pub fn from_env(config_flag: Option<PathBuf>, db_flag: Option<PathBuf>) -> Self {
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        // The XDG base directory spec: a relative path in these variables is invalid and
        // is ignored, so a stray `XDG_DATA_HOME=data` does not scatter databases about.
        let xdg = |name: &str| var(name).filter(|p| p.is_absolute());
        Overrides {
            config_flag,
            config_env: var("SA_CONFIG"),
            db_flag,
            db_env: var("SA_DB"),
            xdg_config_home: xdg("XDG_CONFIG_HOME"),
            xdg_data_home: xdg("XDG_DATA_HOME"),
            // A relative $HOME would make the database depend on the working directory.
            home: xdg("HOME"),
        }
    }
}

const KEYS: &[(&str, &[&str])] = &[
    ("", &["db_path", "email_domain"]),
    ("limits", &["max_accounts", "max_tokens_per_account"]),
    ("retention", &["deleted_accounts", "usage_days"]),
    (
        "tokens",
        &[
            "prefix",
            "default_ttl",
            "max_ttl",
            "require_expiry",
            "warn_before",
            "disable_unused_after",
        ],
    ),
    ("argon2", &["memory_kib", "iterations", "parallelism"]),
    ("verify", &["cache_ttl", "cache_entries"]),
];

impl Config {
    /// Defaults only, with the database at `db_path`: for tests and embedding.
    /// Defaults over `path`, with an argon2 cost that hashes in microseconds: for unit tests.
    #[cfg(test)]
    pub(crate) fn cheap_for_tests(path: impl Into<std::path::PathBuf>) -> Self {
        let mut config = Config::with_db_path(path);
        config.argon2 = Argon2Cost {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        };
        config
    }

    pub fn with_db_path(db_path: impl Into<PathBuf>) -> Self {
        Config {
            file: PathBuf::new(),
            file_found: false,
            db_path: db_path.into(),
            email_domain: "sa.local".into(),
            limits: Limits {
                max_accounts: None,
                max_tokens_per_account: 10,
            },
            retention: Retention {
                deleted_accounts: Duration::from_days(30),
                usage_days: 400,
            },
            tokens: TokenPolicy {
                prefix: "sa_".into(),
                default_ttl: Duration::from_days(30),
                max_ttl: Duration::from_days(365),
                require_expiry: true,
                warn_before: Duration::from_days(7),
                disable_unused_after: None,
            },
            argon2: Argon2Cost::default(),
            verify: VerifyCache {
                cache_ttl: Duration::from_secs(5),
                cache_entries: 10_000,
            },
            sources: BTreeMap::new(),
        }
    }

    /// Finds, reads and checks the config, then settles the database path.
    pub fn load(overrides: &Overrides) -> Result<Self> {
        // Which setting named the file, for an explicit one: it must exist.
        let (file, named_by) = if let Some(path) = &overrides.config_flag {
            (path.clone(), Some("--config"))
        } else if let Some(path) = &overrides.config_env {
            (path.clone(), Some("$SA_CONFIG"))
        } else {
            let base = overrides
                .xdg_config_home
                .clone()
                .or_else(|| overrides.home.as_ref().map(|home| home.join(".config")))
                .ok_or_else(|| Error::Config {
                    path: PathBuf::from("$XDG_CONFIG_HOME"),
                    message: "neither $XDG_CONFIG_HOME nor $HOME is set".into(),
                })?;
            (base.join("sa").join("config.toml"), None)
        };
        let text = match (read_regular_file(&file), named_by) {
            (Ok(text), _) => Some(text),
            (Err(err), None) if err.kind() == std::io::ErrorKind::NotFound => None,
            (Err(err), named_by) => {
                let by = named_by.map_or_else(String::new, |by| format!(" (named by {by})"));
                return Err(Error::Config {
                    path: file,
                    message: format!("cannot read{by}: {err}"),
                });
            }
        };
        let mut config = Config::with_db_path(PathBuf::new());
        config.file_found = text.is_some();
        config.file = file;
        let mut file_db_path = None;
        if let Some(text) = text {
            file_db_path = config.apply_file(&text)?;
        }
        config.settle_db_path(overrides, file_db_path)?;
        Ok(config)
    }

    /// A warning when `[argon2]` is below OWASP's minimum, naming the keys and where they
    /// were set: hashes made at this cost are cheaper to attack if the database leaks.
    pub fn weak_argon2_warning(&self) -> Option<String> {
        if !self.argon2.below_owasp_minimum() {
            return None;
        }
        Some(format!(
            "`argon2.memory_kib` = {} with `argon2.iterations` = {} ({}) is below OWASP's minimum \
             for argon2id (19456 KiB with 2 iterations, or an equivalent such as 47104 with 1): \
             token hashes are cheaper to attack",
            self.argon2.memory_kib,
            self.argon2.iterations,
            self.source("argon2.memory_kib")
        ))
    }

    /// The database as messages print it: the path, or the URL with its password masked.
    pub fn database_display(&self) -> String {
        display_database(&self.db_path)
    }

    /// Where a key's value came from.
    pub fn source(&self, key: &str) -> Source {
        self.sources.get(key).cloned().unwrap_or(Source::Default)
    }

    /// Every key with its effective value and source, in file order.
    pub fn entries(&self) -> Vec<Entry> {
        let text = |s: &str| Value::Text(s.to_string());
        let duration = |d: Duration| Value::Text(d.to_string().replace(' ', ""));
        let values: Vec<(&'static str, Value)> = vec![
            ("db_path", text(&self.database_display())),
            ("email_domain", text(&self.email_domain)),
            (
                "limits.max_accounts",
                self.limits
                    .max_accounts
                    .map_or(Value::Unset("unlimited"), Value::Integer),
            ),
            (
                "limits.max_tokens_per_account",
                Value::Integer(self.limits.max_tokens_per_account),
            ),
            (
                "retention.deleted_accounts",
                duration(self.retention.deleted_accounts),
            ),
            (
                "retention.usage_days",
                Value::Integer(self.retention.usage_days),
            ),
            ("tokens.prefix", text(&self.tokens.prefix)),
            ("tokens.default_ttl", duration(self.tokens.default_ttl)),
            ("tokens.max_ttl", duration(self.tokens.max_ttl)),
            (
                "tokens.require_expiry",
                Value::Bool(self.tokens.require_expiry),
            ),
            ("tokens.warn_before", duration(self.tokens.warn_before)),
            (
                "tokens.disable_unused_after",
                self.tokens
                    .disable_unused_after
                    .map_or(Value::Unset("off"), duration),
            ),
            (
                "argon2.memory_kib",
                Value::Integer(self.argon2.memory_kib.into()),
            ),
            (
                "argon2.iterations",
                Value::Integer(self.argon2.iterations.into()),
            ),
            (
                "argon2.parallelism",
                Value::Integer(self.argon2.parallelism.into()),
            ),
            ("verify.cache_ttl", duration(self.verify.cache_ttl)),
            (
                "verify.cache_entries",
                Value::Integer(self.verify.cache_entries),
            ),
        ];
        values
            .into_iter()
            .map(|(key, value)| Entry {
                key,
                value,
                source: self.source(key),
            })
            .collect()
    }

    fn settle_db_path(
        &mut self,
        overrides: &Overrides,
        file_db_path: Option<PathBuf>,
    ) -> Result<()> {
        let (path, source) = if let Some(path) = &overrides.db_flag {
            (path.clone(), Source::Flag("--db"))
        } else if let Some(path) = &overrides.db_env {
            (path.clone(), Source::Env("SA_DB"))
        } else if let Some(path) = file_db_path {
            (path, Source::File(self.file.clone()))
        } else if let Some(data) = &overrides.xdg_data_home {
            (data.join("sa").join("sa.db"), Source::Default)
        } else if let Some(home) = &overrides.home {
            (home.join(".local/share/sa/sa.db"), Source::Default)
        } else {
            return Err(Error::Config {
                path: self.file.clone(),
                message: "no database path: set `--db`, $SA_DB, `db_path`, $XDG_DATA_HOME or $HOME"
                    .into(),
            });
        };
        self.db_path = path;
        self.sources.insert("db_path", source);
        Ok(())
    }

    /// Applies a config file; returns its `db_path`, which the flag and env may still override.
    fn apply_file(&mut self, text: &str) -> Result<Option<PathBuf>> {
        let path = self.file.clone();
        let err = |message: String| Error::Config {
            path: path.clone(),
            message,
        };
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            let line = e.span().map(|span| {
                text.get(..span.start)
                    .unwrap_or(text)
                    .lines()
                    .count()
                    .max(1)
            });
            let message = e.message().trim().replace('\n', " ");
            // The TOML reader's own words for a number past 64 bits name a Rust type.
            let message = if message.contains("as i128") {
                "the number is too large".to_string()
            } else {
                message
            };
            match line {
                Some(line) => {
                    let key = key_at_line(text, line)
                        .map_or_else(String::new, |key| format!(" (`{key}`)"));
                    err(format!("invalid TOML at line {line}{key}: {message}"))
                }
                None => err(format!("invalid TOML: {message}")),
            }
        })?;

        // Unknown sections and keys first, so a typo is reported as a typo.
        for (key, value) in &table {
            let section = KEYS.iter().find(|(section, _)| section == key);
            match (section, value) {
                (Some((name, keys)), toml::Value::Table(inner)) => {
                    if let Some(unknown) = inner.keys().find(|k| !keys.contains(&k.as_str())) {
                        return Err(err(format!(
                            "unknown key `{name}.{unknown}` (known keys in [{name}]: {})",
                            keys.join(", ")
                        )));
                    }
                }
                (Some((name, _)), _) => {
                    return Err(err(format!("`{name}` must be a table (`[{name}]`)")));
                }
                (None, _) if KEYS[0].1.contains(&key.as_str()) => {}
                (None, _) => return Err(err(format!("unknown key `{key}`"))),
            }
        }

        let mut reader = FileReader {
            table: &table,
            file: &path,
            sources: &mut self.sources,
        };
        let db_path = reader.string("db_path")?;
        if db_path.as_deref().is_some_and(|p| p.trim().is_empty()) {
            return Err(reader.bad("db_path", "a file path"));
        }
        let db_path = db_path.map(|p| {
            let p = PathBuf::from(p);
            // A relative db_path is relative to the config file, not to wherever sa runs; a
            // URL is no path at all.
            match path.parent() {
                Some(dir) if p.is_relative() && !is_database_url(&p) => dir.join(p),
                _ => p,
            }
        });
        if let Some(domain) = reader.string("email_domain")? {
            let valid = !domain.is_empty()
                && domain.len() <= 200
                && !domain.starts_with(['.', '-'])
                && domain
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
            if !valid {
                return Err(reader.bad("email_domain", "a lowercase DNS domain like `sa.local`"));
            }
            self.email_domain = domain;
        }
        if let Some(n) = reader.integer("limits.max_accounts", 1)? {
            self.limits.max_accounts = Some(n);
        }
        if let Some(n) = reader.integer("limits.max_tokens_per_account", 1)? {
            self.limits.max_tokens_per_account = n;
        }
        if let Some(d) = reader.duration("retention.deleted_accounts")? {
            self.retention.deleted_accounts = d;
        }
        if let Some(n) = reader.integer("retention.usage_days", 30)? {
            // `sa usage` reports 30 days; fewer kept would make it report less than it says.
            if n > 36_500 {
                return Err(reader.bad("retention.usage_days", "a whole number from 30 to 36500"));
            }
            self.retention.usage_days = n;
        }
        if let Some(prefix) = reader.string("tokens.prefix")? {
            if !valid_prefix(&prefix) {
                return Err(reader.bad(
                    "tokens.prefix",
                    "1–16 lowercase letters or digits starting with a letter, then `_` (e.g. `sa_`)",
                ));
            }
            self.tokens.prefix = prefix;
        }
        let default_ttl = reader.duration("tokens.default_ttl")?;
        if let Some(d) = default_ttl {
            self.tokens.default_ttl = d;
        }
        if let Some(d) = reader.duration("tokens.max_ttl")? {
            if d.as_secs() == 0 {
                return Err(reader.bad("tokens.max_ttl", "a duration of more than zero"));
            }
            self.tokens.max_ttl = d;
            // `max_ttl = "1d"` alone means tokens live at most a day, not "also set
            // default_ttl": the built-in default shrinks to fit.
            if default_ttl.is_none() && self.tokens.default_ttl > d {
                self.tokens.default_ttl = d;
                reader.sources.insert(
                    "tokens.default_ttl",
                    Source::DefaultCappedBy("tokens.max_ttl"),
                );
            }
        }
        if let Some(b) = reader.boolean("tokens.require_expiry")? {
            self.tokens.require_expiry = b;
        }
        if let Some(d) = reader.duration("tokens.disable_unused_after")? {
            // Shorter than a day would pause tokens between a deploy and its first use.
            if d.as_secs() < 86_400 {
                return Err(reader.bad("tokens.disable_unused_after", "a duration of at least 1d"));
            }
            self.tokens.disable_unused_after = Some(d);
        }
        if let Some(d) = reader.duration("tokens.warn_before")? {
            let (lifetime, key) = if self.tokens.default_ttl < self.tokens.max_ttl {
                (self.tokens.default_ttl, "tokens.default_ttl")
            } else {
                (self.tokens.max_ttl, "tokens.max_ttl")
            };
            if d >= lifetime {
                return Err(reader.bad(
                    "tokens.warn_before",
                    &format!(
                        "shorter than `{key}` ({lifetime}), or every token minted with it \
                         would warn from its first use"
                    ),
                ));
            }
            self.tokens.warn_before = d;
        } else {
            // The built-in 7 days would make every short-lived token warn from its first
            // use: lowered to a fifth of the shortest lifetime when it does not fit.
            let lifetime = self.tokens.default_ttl.min(self.tokens.max_ttl);
            if self.tokens.warn_before >= lifetime {
                self.tokens.warn_before = Duration::from_secs(lifetime.as_secs() / 5);
                let key = if self.tokens.default_ttl < self.tokens.max_ttl {
                    "tokens.default_ttl"
                } else {
                    "tokens.max_ttl"
                };
                reader
                    .sources
                    .insert("tokens.warn_before", Source::DefaultCappedBy(key));
            }
        }
        if self.tokens.default_ttl > self.tokens.max_ttl || self.tokens.default_ttl.as_secs() == 0 {
            return Err(err(format!(
                "`tokens.default_ttl` ({}) must be more than zero and at most `tokens.max_ttl` ({})",
                self.tokens.default_ttl, self.tokens.max_ttl
            )));
        }
        if let Some(n) = reader.integer("argon2.parallelism", 1)? {
            self.argon2.parallelism = u32::try_from(n)
                .ok()
                .filter(|p| *p <= 255)
                .ok_or_else(|| reader_bad(&path, "argon2.parallelism", "a number from 1 to 255"))?;
        }
        if let Some(n) = reader.integer("argon2.iterations", 1)? {
            self.argon2.iterations = u32::try_from(n)
                .ok()
                .filter(|t| *t <= 100)
                .ok_or_else(|| reader_bad(&path, "argon2.iterations", "a number from 1 to 100"))?;
        }
        if let Some(n) = reader.integer("argon2.memory_kib", 8)? {
            let min = 8 * u64::from(self.argon2.parallelism);
            self.argon2.memory_kib = u32::try_from(n)
                .ok()
                .filter(|m| u64::from(*m) >= min && *m <= 4 * 1024 * 1024)
                .ok_or_else(|| {
                    reader_bad(
                        &path,
                        "argon2.memory_kib",
                        &format!("a number of KiB from {min} (8 × parallelism) to 4194304"),
                    )
                })?;
        }
        if let Some(d) = reader.duration("verify.cache_ttl")? {
            if d.as_secs() > MAX_CACHE_TTL_SECS {
                return Err(reader.bad(
                    "verify.cache_ttl",
                    "a duration of at most 1h (`0s` turns the cache off): within it a revoked token is still accepted",
                ));
            }
            self.verify.cache_ttl = d;
        }
        if let Some(n) = reader.integer("verify.cache_entries", 1)? {
            if n > MAX_CACHE_ENTRIES {
                return Err(reader.bad("verify.cache_entries", "a whole number from 1 to 1000000"));
            }
            self.verify.cache_entries = n;
        }
        Ok(db_path)
    }
}

/// The dotted key assigned on line `line` (1-based) of a TOML text, if that line is a plain
/// `key = value` under a plain `[section]`: enough to name the key a value error is about.
/// Whether a database location (`--db`, `$SA_DB`, `db_path`) is a PostgreSQL URL rather than
/// a file path.
pub fn is_database_url(location: &Path) -> bool {
    location
        .to_str()
        .is_some_and(|s| s.starts_with("postgres://") || s.starts_with("postgresql://"))
}

/// A database location as sa prints it anywhere: a path as it is, a URL with its password
/// masked.
pub fn display_database(location: &Path) -> String {
    match location.to_str() {
        Some(url) if is_database_url(location) => mask_url(url),
        _ => location.display().to_string(),
    }
}

/// `url` with every password in it replaced by `***`: a `password=` parameter's value, and
/// the user part's after its `:`. The user part is taken to end at the last `@`, so a
/// password holding an unencoded `/`, `?` or `@` is still masked whole (at worst a little
/// more than the password is).
pub fn mask_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(at) = rest.find("password=") {
        let starts_param = at == 0 || matches!(rest.as_bytes()[at - 1], b'?' | b'&');
        let value = at + "password=".len();
        out.push_str(&rest[..value]);
        rest = &rest[value..];
        if starts_param {
            out.push_str("***");
            rest = &rest[rest.find('&').unwrap_or(rest.len())..];
        }
    }
    out.push_str(rest);
    let Some((scheme, after)) = out.split_once("://") else {
        return out;
    };
    match after.rfind('@') {
        Some(at) => match after[..at].split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***{}", &after[at..]),
            None => out.clone(),
        },
        None => out.clone(),
    }
}

fn key_at_line(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let (key, _) = lines.get(line.checked_sub(1)?)?.split_once('=')?;
    let key = key.trim();
    let plain = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    if !plain(key) {
        return None;
    }
    let section = lines[..line - 1].iter().rev().find_map(|l| {
        let l = l.trim();
        l.strip_prefix('[')?.strip_suffix(']').map(str::trim)
    });
    match section {
        Some(section) if plain(section) => Some(format!("{section}.{key}")),
        Some(_) => None,
        None => Some(key.to_string()),
    }
}

/// The text of a regular file. Opened without blocking and checked on the open descriptor, so
/// a FIFO or device (which would block the read, or feed it endless bytes) is refused, and
/// nothing can swap the file between the check and the read.
fn read_regular_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    Ok(text)
}

/// A token prefix: lowercase letters and digits, starting with a letter, ending with `_`.
pub fn valid_prefix(prefix: &str) -> bool {
    let Some(body) = prefix.strip_suffix('_') else {
        return false;
    };
    (1..=16).contains(&body.len())
        && body.starts_with(|c: char| c.is_ascii_lowercase())
        && body
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

fn reader_bad(file: &Path, key: &str, expected: &str) -> Error {
    Error::Config {
        path: file.to_path_buf(),
        message: format!("`{key}` must be {expected}"),
    }
}

struct FileReader<'a> {
    table: &'a toml::Table,
    file: &'a Path,
    sources: &'a mut BTreeMap<&'static str, Source>,
}

impl FileReader<'_> {
    fn get(&mut self, key: &'static str) -> Option<&toml::Value> {
        let value = match key.split_once('.') {
            Some((section, name)) => self.table.get(section)?.as_table()?.get(name)?,
            None => self.table.get(key)?,
        };
        self.sources
            .insert(key, Source::File(self.file.to_path_buf()));
        Some(value)
    }

    fn bad(&self, key: &str, expected: &str) -> Error {
        reader_bad(self.file, key, expected)
    }

    fn string(&mut self, key: &'static str) -> Result<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(self.bad(key, "a string")),
        }
    }

    fn integer(&mut self, key: &'static str, min: u64) -> Result<Option<u64>> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::Integer(n)) => u64::try_from(*n)
                .ok()
                .filter(|n| *n >= min)
                .map(Some)
                .ok_or_else(|| self.bad(key, &format!("a whole number of at least {min}"))),
            Some(_) => Err(self.bad(key, &format!("a whole number of at least {min}"))),
        }
    }

    fn boolean(&mut self, key: &'static str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::Boolean(b)) => Ok(Some(*b)),
            Some(_) => Err(self.bad(key, "`true` or `false`")),
        }
    }

    fn duration(&mut self, key: &'static str) -> Result<Option<Duration>> {
        match self.get(key) {
            None => Ok(None),
            Some(toml::Value::String(s)) => {
                let s = s.clone();
                Duration::parse(&s).map(Some).map_err(|err| {
                    // The parser says what is wrong (an unknown unit, over 100 years, …).
                    let why = err.to_string();
                    let why = why.split_once(": ").map_or(why.as_str(), |(_, w)| w);
                    self.bad(
                        key,
                        &format!("a duration like `30d` or `12h`, not `{s}` ({why})"),
                    )
                })
            }
            Some(_) => Err(self.bad(key, "a duration string like \"30d\"")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_password_in_a_url_is_masked() {
        for (url, shown) in [
            (
                "postgresql://sa:s3cret@db.example:5432/sa?sslmode=require",
                "postgresql://sa:***@db.example:5432/sa?sslmode=require",
            ),
            (
                "postgres:///sa?host=/run/postgresql&password=x&user=me",
                "postgres:///sa?host=/run/postgresql&password=***&user=me",
            ),
            ("postgresql://me@h/db", "postgresql://me@h/db"),
            ("postgresql://me:pa/ss?w@rd@h:5432/db", "postgresql://me:***@h:5432/db"),
            ("postgresql://h/db?password=a@b&user=me", "postgresql://h/db?password=***&user=me"),
            ("postgresql://h/db?mypassword=x", "postgresql://h/db?mypassword=x"),
        ] {
            assert_eq!(mask_url(url), shown, "{url}");
        }
        assert_eq!(
            display_database(Path::new("postgresql://u:pw@h/d")),
            "postgresql://u:***@h/d"
        );
        assert_eq!(display_database(Path::new("/var/lib/sa.db")), "/var/lib/sa.db");
    }

    fn load(text: &str) -> Result<Config> {
        let mut config = Config::with_db_path("/tmp/x.db");
        config.file = PathBuf::from("/etc/sa.toml");
        config.apply_file(text).map(|_| config)
    }

    fn message(text: &str) -> String {
        load(text).unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_the_spec_defaults() {
        let c = load("").unwrap();
        assert_eq!(c.tokens.default_ttl, Duration::from_days(30));
        assert_eq!(c.tokens.max_ttl, Duration::from_days(365));
        assert!(c.tokens.require_expiry);
        assert_eq!(c.limits.max_tokens_per_account, 10);
        assert_eq!(c.limits.max_accounts, None);
        assert_eq!(c.retention.deleted_accounts, Duration::from_days(30));
        assert_eq!(
            c.argon2,
            Argon2Cost {
                memory_kib: 19_456,
                iterations: 2,
                parallelism: 1
            }
        );
    }

    #[test]
    fn values_are_read_and_sourced() {
        let c = load("[limits]\nmax_accounts = 2\n[tokens]\nmax_ttl = \"90d\"\n").unwrap();
        assert_eq!(c.limits.max_accounts, Some(2));
        assert_eq!(c.tokens.max_ttl, Duration::from_days(90));
        assert_eq!(
            c.source("limits.max_accounts"),
            Source::File("/etc/sa.toml".into())
        );
        assert_eq!(c.source("tokens.default_ttl"), Source::Default);
    }

    #[test]
    fn a_max_ttl_below_the_built_in_default_ttl_lowers_it() {
        let c = load("[tokens]\nmax_ttl = \"1d\"\n").unwrap();
        assert_eq!(c.tokens.default_ttl, Duration::from_days(1));
        assert_eq!(
            c.source("tokens.default_ttl").to_string(),
            "default, lowered to fit tokens.max_ttl"
        );
        // Set explicitly, a default above the maximum is a contradiction to report.
        let m = message("[tokens]\ndefault_ttl = \"2d\"\nmax_ttl = \"1d\"\n");
        assert!(m.contains("tokens.default_ttl"), "{m}");
        // Zero is not "unlimited" (leaving the key out is); it is refused, not a freeze.
        let m = message("[limits]\nmax_accounts = 0\n");
        assert!(
            m.contains("limits.max_accounts") && m.contains("at least 1"),
            "{m}"
        );
        let m = message("[tokens]\nmax_ttl = \"0d\"\n");
        assert!(
            m.contains("tokens.max_ttl") && m.contains("more than zero"),
            "{m}"
        );
    }

    #[test]
    fn errors_name_the_key_and_the_file() {
        let m = message("[limits]\nmax_acounts = 2\n");
        assert!(
            m.contains("limits.max_acounts") && m.contains("/etc/sa.toml"),
            "{m}"
        );
        assert!(message("colour = true").contains("unknown key `colour`"));
        assert!(message("[tokens]\nmax_ttl = \"forever\"").contains("tokens.max_ttl"));
        assert!(message("[limits]\nmax_accounts = -1").contains("limits.max_accounts"));
        assert!(message("[limits]\nmax_accounts = \"2\"").contains("limits.max_accounts"));
        assert!(message("[tokens]\nprefix = \"SA-\"").contains("tokens.prefix"));
        assert!(message("[tokens]\ndefault_ttl = \"400d\"").contains("tokens.default_ttl"));
        assert!(message("[argon2]\nmemory_kib = 4").contains("argon2.memory_kib"));
        assert!(message("limits = 3").contains("[limits]"));
        assert!(message("[limits\n").contains("line 1"));
        let m = message("[limits]\nmax_accounts = 99999999999999999999\n");
        assert!(
            m.contains("line 2") && m.contains("`limits.max_accounts`"),
            "{m}"
        );
        let m = message("[tokens]\nwarn_before = \"400d\"\n");
        assert!(
            m.contains("tokens.warn_before") && m.contains("tokens.default_ttl"),
            "{m}"
        );
        let m = message("[tokens]\nmax_ttl = \"5000000d\"\n");
        assert!(m.contains("longer than 100 years"), "{m}");
    }

    #[test]
    fn warn_before_fits_the_lifetimes() {
        assert_eq!(load("").unwrap().tokens.warn_before, Duration::from_days(7));
        let c = load("[tokens]\nmax_ttl = \"1d\"\n").unwrap();
        assert_eq!(c.tokens.warn_before, Duration::from_secs(86_400 / 5));
        assert_eq!(
            c.source("tokens.warn_before").to_string(),
            "default, lowered to fit tokens.max_ttl"
        );
        let c = load("[tokens]\ndefault_ttl = \"2d\"\n").unwrap();
        assert_eq!(c.tokens.warn_before, Duration::from_secs(2 * 86_400 / 5));
        let c = load("[tokens]\nmax_ttl = \"1d\"\nwarn_before = \"1h\"\n").unwrap();
        assert_eq!(c.tokens.warn_before, Duration::from_secs(3_600));
    }

    #[test]
    fn the_verify_cache_is_bounded() {
        let c = load("").unwrap();
        assert_eq!(c.verify.cache_ttl, Duration::from_secs(5));
        assert_eq!(c.verify.cache_entries, 10_000);
        let c = load("[verify]\ncache_ttl = \"0s\"\ncache_entries = 50\n").unwrap();
        assert_eq!(c.verify.cache_ttl, Duration::from_secs(0));
        assert_eq!(c.verify.cache_entries, 50);
        assert_eq!(
            c.source("verify.cache_ttl"),
            Source::File("/etc/sa.toml".into())
        );
        let m = message("[verify]\ncache_ttl = \"2h\"\n");
        assert!(
            m.contains("verify.cache_ttl") && m.contains("at most 1h"),
            "{m}"
        );
        assert!(message("[verify]\ncache_entries = 0\n").contains("verify.cache_entries"));
        assert!(message("[verify]\ncache_entries = 2000000\n").contains("verify.cache_entries"));
        assert!(message("[verify]\ncache = 1\n").contains("unknown key `verify.cache`"));
    }

    #[test]
    fn owasp_minimum() {
        assert!(!Argon2Cost::default().below_owasp_minimum());
        for (memory_kib, iterations) in [(64, 1), (19_456, 1), (9_216, 3)] {
            let cost = Argon2Cost {
                memory_kib,
                iterations,
                parallelism: 1,
            };
            assert!(cost.below_owasp_minimum(), "{cost:?}");
        }
        let equivalent = Argon2Cost {
            memory_kib: 7_168,
            iterations: 5,
            parallelism: 1,
        };
        assert!(!equivalent.below_owasp_minimum());
    }

    #[test]
    fn prefixes() {
        assert!(valid_prefix("sa_"));
        assert!(valid_prefix("acme2_"));
        for bad in ["sa", "_", "Sa_", "2a_", "s-a_", "abcdefghijklmnopq_"] {
            assert!(!valid_prefix(bad), "{bad}");
        }
    }

    #[test]
    fn db_path_precedence() {
        let mut o = Overrides {
            home: Some("/home/u".into()),
            ..Overrides::default()
        };
        let mut c = Config::with_db_path("");
        c.settle_db_path(&o, None).unwrap();
        assert_eq!(c.db_path, PathBuf::from("/home/u/.local/share/sa/sa.db"));
        o.xdg_data_home = Some("/xdg".into());
        c.settle_db_path(&o, None).unwrap();
        assert_eq!(c.db_path, PathBuf::from("/xdg/sa/sa.db"));
        c.settle_db_path(&o, Some("/file.db".into())).unwrap();
        assert_eq!(c.db_path, PathBuf::from("/file.db"));
        o.db_env = Some("/env.db".into());
        c.settle_db_path(&o, Some("/file.db".into())).unwrap();
        assert_eq!(c.db_path, PathBuf::from("/env.db"));
        assert_eq!(c.source("db_path"), Source::Env("SA_DB"));
        o.db_flag = Some("/flag.db".into());
        c.settle_db_path(&o, None).unwrap();
        assert_eq!(c.db_path, PathBuf::from("/flag.db"));
    }
}
