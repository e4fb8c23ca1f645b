//! The PostgreSQL backend: connecting by URL (libpq's syntax and password sources), its own
//! schema `sa` with append-only migrations, and running the shared SQL of `store/`.
//!
//! Connections use the synchronous `postgres` client. The SQL is the text the SQLite backend
//! runs, with `?N` placeholders as `$N` and SQLite's planner hints (`CROSS JOIN … ON`, a
//! unary `+` on a column) taken out: see [`translate`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use postgres::error::SqlState;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, Statement, Transaction};

use super::sql::{Cell, Column, Param, Value};
use crate::config::mask_url as mask;
use crate::error::{Error, Result};

/// libpq's `sslmode`, of which tokio-postgres knows only the first three.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// A parsed connection URL: the client's config and how to do TLS.
struct Target {
    config: postgres::Config,
    ssl: SslMode,
    root_cert: Option<Roots>,
}

/// What a server certificate must chain to: `sslrootcert`'s file, or with
/// `sslrootcert=system` the public web's roots (webpki-roots).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Roots {
    File(PathBuf),
    System,
}

fn percent_decode(text: &str) -> Result<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| Error::database("a database URL has a bad percent-encoding"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| Error::database("a database URL has a value that is not UTF-8 once decoded"))
}

/// Parses `url` as libpq would: the URL's own parts, then `$PGPASSWORD` or the password file
/// (`$PGPASSFILE`, else `~/.pgpass`) for a password the URL does not give, `$PGUSER` (else
/// the login name) for a user, and the Unix socket directory `/var/run/postgresql` for a host.
fn parse(url: &str) -> Result<Target> {
    let bad = |why: String| Error::database(format!("database URL `{}`: {why}", mask(url)));
    let (_, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("not a URL".into()))?;
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, q),
        None => (rest, ""),
    };
    let mut ssl = None;
    let mut root_cert = None;
    let mut passfile = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| bad(format!("parameter `{pair}` has no value")))?;
        let value = percent_decode(value)?;
        match key {
            "sslmode" => ssl = Some(ssl_mode(&value).map_err(&bad)?),
            "sslrootcert" => root_cert = Some(PathBuf::from(value)),
            "passfile" => passfile = Some(PathBuf::from(value)),
            _ => kept.push(pair.to_string()),
        }
    }
    // libpq's environment, for what the URL does not say.
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    if ssl.is_none()
        && let Some(mode) = env("PGSSLMODE")
    {
        ssl = Some(ssl_mode(&mode).map_err(&bad)?);
    }
    let root_cert = root_cert
        .or_else(|| env("PGSSLROOTCERT").map(PathBuf::from))
        .map(|path| {
            if path.as_os_str() == "system" {
                Roots::System
            } else {
                Roots::File(path)
            }
        })
        .or_else(|| {
            let default = Path::new(&env("HOME")?).join(".postgresql/root.crt");
            default.is_file().then_some(Roots::File(default))
        });
    let mut ssl = match (ssl, &root_cert) {
        // As libpq 16: the public roots are for checking the host name too.
        (None, Some(Roots::System)) => SslMode::VerifyFull,
        (None, _) => SslMode::Prefer,
        (Some(mode), _) => mode,
    };
    // tokio-postgres verifies nothing itself: sa's TLS connector does (see `tls`).
    kept.push(
        match ssl {
            SslMode::Disable => "sslmode=disable",
            SslMode::Prefer => "sslmode=prefer",
            _ => "sslmode=require",
        }
        .to_string(),
    );
    let rebuilt = format!("postgresql://{before_query}?{}", kept.join("&"));
    let mut config: postgres::Config = rebuilt.parse().map_err(|e| bad(format!("{e}")))?;
    if config.get_ports().is_empty()
        && let Some(port) = env("PGPORT")
    {
        config.port(
            port.parse()
                .map_err(|_| bad(format!("$PGPORT `{port}` is not a port")))?,
        );
    }

    if config.get_user().is_none() {
        let user = std::env::var("PGUSER")
            .ok()
            .filter(|u| !u.is_empty())
            .or_else(login_name)
            .ok_or_else(|| bad("no user given, and none found in $PGUSER".into()))?;
        config.user(&user);
    }
    if config.get_hosts().is_empty() {
        match std::env::var("PGHOST").ok().filter(|h| !h.is_empty()) {
            Some(host) => config.host(&host),
            None => config.host_path("/var/run/postgresql"),
        };
    }
    if config.get_dbname().is_none() {
        let db = std::env::var("PGDATABASE")
            .ok()
            .filter(|d| !d.is_empty())
            .or_else(|| config.get_user().map(str::to_string));
        if let Some(db) = db {
            config.dbname(&db);
        }
    }
    if config.get_password().is_none() {
        if let Some(password) = std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty()) {
            config.password(password);
        } else if let Some(password) = password_from_file(&config, passfile)? {
            config.password(password);
        }
    }
    // TLS never runs over a Unix socket (libpq ignores sslmode there, and so does sa).
    let only_sockets = config
        .get_hosts()
        .iter()
        .all(|h| matches!(h, postgres::config::Host::Unix(_)));
    if only_sockets {
        config.ssl_mode(postgres::config::SslMode::Disable);
        ssl = SslMode::Disable;
    }
    match (ssl, &root_cert) {
        // As libpq: `require` with a root certificate at hand checks the chain.
        (SslMode::Require, Some(Roots::File(_))) => ssl = SslMode::VerifyCa,
        (SslMode::VerifyCa | SslMode::VerifyFull, None) => {
            return Err(bad(
                "sslmode=verify-ca and verify-full need a root certificate to check the server's against: sslrootcert=FILE (or a file at ~/.postgresql/root.crt), or sslrootcert=system for the public web's roots".into(),
            ));
        }
        (mode, Some(Roots::System)) if mode != SslMode::VerifyFull && mode != SslMode::Disable => {
            return Err(bad(
                "sslrootcert=system checks the host name too: it needs sslmode=verify-full".into(),
            ));
        }
        _ => {}
    }
    // What `pg_stat_activity` shows for sa's sessions, unless the URL names something else.
    if config.get_application_name().is_none() {
        config.application_name("sa");
    }
    Ok(Target {
        config,
        ssl,
        root_cert,
    })
}

/// libpq's `sslmode` values.
fn ssl_mode(value: &str) -> std::result::Result<SslMode, String> {
    match value {
        "disable" => Ok(SslMode::Disable),
        "allow" | "prefer" => Ok(SslMode::Prefer),
        "require" => Ok(SslMode::Require),
        "verify-ca" => Ok(SslMode::VerifyCa),
        "verify-full" => Ok(SslMode::VerifyFull),
        other => Err(format!(
            "unknown sslmode `{other}` (disable, prefer, require, verify-ca or verify-full)"
        )),
    }
}

fn login_name() -> Option<String> {
    std::env::var("USER")
        .ok()
        .or_else(|| std::env::var("LOGNAME").ok())
        .filter(|u| !u.is_empty())
        .or_else(|| {
            // As libpq falls back to the user name of the process's uid.
            let uid = rustix::process::getuid().as_raw();
            std::fs::read_to_string("/etc/passwd").ok()?.lines().find_map(|line| {
                let mut fields = line.split(':');
                let name = fields.next()?;
                let id = fields.nth(1)?;
                (id == uid.to_string()).then(|| name.to_string())
            })
        })
}

/// The password of the first line of the password file that matches the connection, as
/// libpq reads it: `host:port:database:user:password`, `*` matching anything, `\` escaping.
/// A file others can read is ignored, as libpq ignores it.
fn password_from_file(config: &postgres::Config, file: Option<PathBuf>) -> Result<Option<String>> {
    use std::os::unix::fs::PermissionsExt;
    let file = match file.or_else(|| std::env::var_os("PGPASSFILE").map(PathBuf::from)) {
        Some(file) => file,
        None => match std::env::var_os("HOME") {
            Some(home) => Path::new(&home).join(".pgpass"),
            None => return Ok(None),
        },
    };
    let Ok(meta) = std::fs::metadata(&file) else {
        return Ok(None);
    };
    if !meta.is_file() || meta.permissions().mode() & 0o077 != 0 {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&file)
        .map_err(|e| Error::io(format!("cannot read `{}`", file.display()), e))?;
    let host = match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(host)) => host.clone(),
        // libpq matches a socket directory as `localhost` when it is the default one.
        Some(postgres::config::Host::Unix(dir)) => dir.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432).to_string();
    let db = config.get_dbname().unwrap_or_default();
    let user = config.get_user().unwrap_or_default();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_pgpass(line);
        let [h, p, d, u, password] = fields.as_slice() else {
            continue;
        };
        let matches = |pattern: &str, value: &str| pattern == "*" || pattern == value;
        let host_matches = matches(h, &host) || (h == "localhost" && host.starts_with('/'));
        if host_matches && matches(p, &port) && matches(d, db) && matches(u, user) {
            return Ok(Some(password.clone()));
        }
    }
    Ok(None)
}

fn split_pgpass(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(next) = chars.next() {
                    fields.last_mut().expect("one field").push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => fields.last_mut().expect("one field").push(c),
        }
    }
    fields
}

mod tls {
    //! rustls for tokio-postgres, with libpq's meanings: `prefer` and `require` encrypt
    //! without checking whom to, `verify-ca` checks the certificate chain, `verify-full`
    //! the chain and the host name.
    use std::sync::Arc;

    use rustls::client::WebPkiServerVerifier;
    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};

    use super::{Roots, SslMode};
    use crate::error::{Error, Result};

    /// libpq's `prefer`/`require` (no `chain`: any certificate will do) and `verify-ca` (the
    /// chain is checked against the roots, the host name is not). The handshake's signatures
    /// are checked either way: the connection is encrypted to whoever holds the key.
    #[derive(Debug)]
    struct Lenient {
        chain: Option<Arc<WebPkiServerVerifier>>,
        provider: Arc<rustls::crypto::CryptoProvider>,
    }

    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    impl ServerCertVerifier for Lenient {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            server_name: &ServerName<'_>,
            ocsp: &[u8],
            now: UnixTime,
        ) -> std::result::Result<ServerCertVerified, rustls::Error> {
            let Some(chain) = &self.chain else {
                return Ok(ServerCertVerified::assertion());
            };
            match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
                Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::NotValidForName
                    | rustls::CertificateError::NotValidForNameContext { .. },
                )) => Ok(ServerCertVerified::assertion()),
                other => other,
            }
        }
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }
        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.provider.signature_verification_algorithms,
            )
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.provider
                .signature_verification_algorithms
                .supported_schemes()
        }
    }

    /// The client config for `mode`, checking against `roots` where the mode checks.
    pub(super) fn config(mode: SslMode, roots: Option<&Roots>) -> Result<ClientConfig> {
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::database(format!("TLS: {e}")))?;
        if matches!(mode, SslMode::Prefer | SslMode::Require) {
            return Ok(builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Lenient {
                    chain: None,
                    provider: provider(),
                }))
                .with_no_client_auth());
        }
        let mut store = RootCertStore::empty();
        match roots {
            Some(Roots::File(path)) => {
                let bad = |why: String| {
                    Error::database(format!("sslrootcert `{}`: {why}", path.display()))
                };
                let certs = CertificateDer::pem_file_iter(path)
                    .map_err(|e| bad(e.to_string()))?
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| bad(e.to_string()))?;
                if certs.is_empty() {
                    return Err(bad("holds no certificate".into()));
                }
                for cert in certs {
                    store.add(cert).map_err(|e| bad(e.to_string()))?;
                }
            }
            Some(Roots::System) => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            // `parse` refuses a checking mode without roots.
            None => return Err(Error::database("TLS: no root certificate to check against")),
        }
        let roots = Arc::new(store);
        if mode == SslMode::VerifyFull {
            return Ok(builder.with_root_certificates(roots).with_no_client_auth());
        }
        let verifier = WebPkiServerVerifier::builder_with_provider(roots, provider())
            .build()
            .map_err(|e| Error::database(format!("TLS: {e}")))?;
        Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Lenient {
                chain: Some(verifier),
                provider: provider(),
            }))
            .with_no_client_auth())
    }
}

/// Opens a connection: `search_path` is sa's schema, and a lock is waited for at most as long
/// as SQLite's busy timeout (then `Error::Busy`).
pub(super) fn connect(url: &str) -> Result<Client> {
    let target = parse(url)?;
    let failed = |e: postgres::Error| Error::Database {
        message: format!("`{}`: cannot connect: {}", mask(url), describe(&e)),
        source: Some(Box::new(e)),
    };
    let mut client = if target.ssl == SslMode::Disable {
        target.config.connect(postgres::NoTls).map_err(failed)?
    } else {
        let tls = tls::config(target.ssl, target.root_cert.as_ref())?;
        let connector = tokio_postgres_rustls::MakeRustlsConnect::new(tls);
        target.config.connect(connector).map_err(failed)?
    };
    client
        .batch_execute(&format!(
            "SET search_path = {SCHEMA}; SET lock_timeout = '{}s'",
            super::BUSY_TIMEOUT.as_secs()
        ))
        .map_err(|e| at(url, e))?;
    Ok(client)
}

/// The schema every sa table lives in.
pub(super) const SCHEMA: &str = "sa";

/// The server's own message (and detail), without the client's "db error:" wrapping.
fn describe(err: &postgres::Error) -> String {
    match err.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_string(),
        },
        None => {
            let mut text = err.to_string();
            let mut source = std::error::Error::source(err);
            while let Some(inner) = source {
                text = format!("{text}: {inner}");
                source = inner.source();
            }
            text
        }
    }
}

impl From<postgres::Error> for Error {
    fn from(err: postgres::Error) -> Self {
        let busy = err.code().is_some_and(|code| {
            [
                SqlState::LOCK_NOT_AVAILABLE,
                SqlState::T_R_DEADLOCK_DETECTED,
                SqlState::T_R_SERIALIZATION_FAILURE,
                SqlState::QUERY_CANCELED,
            ]
            .contains(code)
        });
        let message = describe(&err);
        if busy {
            Error::Busy {
                message,
                source: Some(Box::new(err)),
            }
        } else {
            Error::Database {
                message,
                source: Some(Box::new(err)),
            }
        }
    }
}

/// A postgres error, naming the (masked) database.
pub(super) fn at(url: &str, err: postgres::Error) -> Error {
    super::at_path(Path::new(&mask(url)), err.into())
}

impl ToSql for Value<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        // The server infers each placeholder's type from the statement; the value is written
        // as that type (a bool compared with an integer column is 0 or 1, as in SQLite).
        match *self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(n) => match *ty {
                Type::INT8 => n.to_sql(ty, out),
                Type::INT4 => i32::try_from(n)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(n)?.to_sql(ty, out),
                Type::BOOL => (n != 0).to_sql(ty, out),
                _ => n.to_string().to_sql(ty, out),
            },
            Value::Bool(b) => match *ty {
                Type::BOOL => b.to_sql(ty, out),
                Type::INT8 => i64::from(b).to_sql(ty, out),
                Type::INT4 => i32::from(b).to_sql(ty, out),
                _ => Err(format!("cannot bind a boolean as {ty}").into()),
            },
            Value::Text(s) => s.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// Reads column `index` of a PostgreSQL row as a `T`.
pub(super) fn get<T: Column>(row: &postgres::Row, index: usize) -> Result<T> {
    let wrong = |why: String| Error::database(format!("column {index}: {why}"));
    let ty = row
        .columns()
        .get(index)
        .ok_or_else(|| wrong("no such column".into()))?
        .type_()
        .clone();
    let read = |e: postgres::Error| wrong(e.to_string());
    let cell = match ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(index).map_err(read)?.map(Cell::Int),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(index)
            .map_err(read)?
            .map(|n| Cell::Int(i64::from(n))),
        Type::BOOL => row.try_get::<_, Option<bool>>(index).map_err(read)?.map(Cell::Bool),
        Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR => {
            let text: Option<&str> = row.try_get(index).map_err(read)?;
            return T::from_cell(text.map_or(Cell::Null, Cell::Text)).map_err(wrong);
        }
        _ => Some(Cell::Other("a value of another type")),
    };
    T::from_cell(cell.unwrap_or(Cell::Null)).map_err(wrong)
}

/// Rewrites the shared SQL for PostgreSQL: `?N` as `$N`, `CROSS JOIN` as `JOIN`, and a unary
/// `+` (SQLite's "do not use an index for this column") dropped. Quoted strings, quoted
/// names and comments are copied as they are.
pub(crate) fn translate(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let chars: Vec<char> = sql.chars().collect();
    let mut i = 0;
    // What came before, for telling a unary `+` from addition.
    let mut prev_word = String::new();
    let mut prev_char = '(';
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' | '"' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&d| d == c)
                    .map_or(chars.len(), |p| i + 1 + p + 1);
                out.extend(&chars[i..end]);
                i = end;
                prev_char = c;
                prev_word.clear();
                continue;
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                let end = (i + 2..chars.len().saturating_sub(1))
                    .find(|&j| chars[j] == '*' && chars[j + 1] == '/')
                    .map_or(chars.len(), |j| j + 2);
                out.extend(&chars[i..end]);
                i = end;
                continue;
            }
            '?' => {
                out.push('$');
                i += 1;
                prev_char = '?';
                prev_word.clear();
                continue;
            }
            '+' => {
                let unary = matches!(prev_char, '(' | ',' | '=' | '<' | '>')
                    || matches!(
                        prev_word.to_ascii_uppercase().as_str(),
                        "AND" | "OR" | "NOT" | "WHERE" | "BY" | "ON" | "SELECT" | "THEN"
                            | "WHEN" | "ELSE"
                    );
                if !unary {
                    out.push('+');
                }
                i += 1;
                prev_char = '+';
                prev_word.clear();
                continue;
            }
            c if c.is_alphanumeric() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                if word == "CROSS" {
                    // `CROSS JOIN t ON …` is SQLite's join-order hint; PostgreSQL reads a
                    // cross join with ON as an error.
                    let mut j = i;
                    while j < chars.len() && chars[j].is_whitespace() {
                        j += 1;
                    }
                    if chars[j..].starts_with(&['J', 'O', 'I', 'N']) {
                        i = j;
                        continue;
                    }
                }
                out.push_str(&word);
                prev_char = 'a';
                prev_word = word;
                continue;
            }
            c if c.is_whitespace() => {
                out.push(c);
                i += 1;
                continue;
            }
            c => {
                out.push(c);
                i += 1;
                prev_char = c;
                prev_word.clear();
            }
        }
    }
    out
}

/// Prepared statements of one connection, by their shared SQL.
pub(super) type Statements = HashMap<String, Statement>;

/// A PostgreSQL transaction: the client's borrow, behind a `RefCell` because the domain
/// reads and writes through `&Tx`.
pub(crate) struct PgTx<'conn> {
    pub(super) tx: RefCell<Transaction<'conn>>,
    pub(super) statements: RefCell<&'conn mut Statements>,
}

impl PgTx<'_> {
    fn statement(&self, sql: &str) -> Result<Statement> {
        if let Some(statement) = self.statements.borrow().get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.tx.borrow_mut().prepare(&translate(sql))?;
        self.statements
            .borrow_mut()
            .insert(sql.to_string(), statement.clone());
        Ok(statement)
    }

    /// Runs `sql`, handing each row to `each` as it arrives; returns the rows changed.
    pub(super) fn run(
        &self,
        sql: &str,
        params: &[&dyn Param],
        mut each: impl FnMut(&postgres::Row) -> Result<()>,
    ) -> Result<u64> {
        use postgres::fallible_iterator::FallibleIterator;
        let statement = self.statement(sql)?;
        let values: Vec<Value<'_>> = params.iter().map(|p| p.value()).collect();
        let mut tx = self.tx.borrow_mut();
        let mut rows = tx.query_raw(&statement, values.iter())?;
        while let Some(row) = rows.next()? {
            each(&row)?;
        }
        Ok(rows.rows_affected().unwrap_or(0))
    }

    pub(super) fn batch(&self, sql: &str) -> Result<()> {
        Ok(self.tx.borrow_mut().batch_execute(sql)?)
    }
}

/// How a PostgreSQL database looks before sa uses it.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Found {
    /// No schema `sa`.
    Missing,
    /// Schema `sa` with nothing in it.
    Blank,
    Ours { version: i64 },
}

/// The schema version this build writes to PostgreSQL.
pub(super) const PG_SCHEMA_VERSION: i64 = PG_MIGRATIONS.len() as i64;

const PG_MIGRATIONS: &[&str] = &[include_str!("migrations/pg/0001_init.sql")];

/// Looks at the schema `sa`: missing, blank, or sa's at some version; anything else is
/// refused. One statement, so one snapshot.
pub(super) fn inspect(client: &mut impl postgres::GenericClient, url: &str) -> Result<Found> {
    let row = client
        .query_one(
            "SELECT to_regnamespace($1) IS NOT NULL,
                    (SELECT count(*) FROM pg_class WHERE relnamespace = to_regnamespace($1)),
                    to_regclass($1 || '.meta') IS NOT NULL",
            &[&SCHEMA],
        )
        .map_err(|e| at(url, e))?;
    let (exists, objects, has_meta): (bool, i64, bool) = (row.get(0), row.get(1), row.get(2));
    if !exists {
        return Ok(Found::Missing);
    }
    if !has_meta {
        if objects == 0 {
            return Ok(Found::Blank);
        }
        return Err(Error::ForeignDatabase {
            path: PathBuf::from(mask(url)),
            why: format!("its schema `{SCHEMA}` holds tables that sa did not make"),
        });
    }
    let marks = client
        .query(
            &format!("SELECT application_id, schema_version FROM {SCHEMA}.meta"),
            &[],
        )
        .map_err(|e| at(url, e))?;
    let [mark] = marks.as_slice() else {
        return Err(Error::ForeignDatabase {
            path: PathBuf::from(mask(url)),
            why: format!("`{SCHEMA}.meta` does not hold one row"),
        });
    };
    let (application_id, version): (i64, i64) = (mark.get(0), mark.get(1));
    if application_id != i64::from(super::APPLICATION_ID) {
        return Err(Error::ForeignDatabase {
            path: PathBuf::from(mask(url)),
            why: format!("its schema `{SCHEMA}` belongs to another program"),
        });
    }
    if version > PG_SCHEMA_VERSION {
        return Err(Error::NewerSchema {
            path: PathBuf::from(mask(url)),
            found: version,
            supported: PG_SCHEMA_VERSION,
        });
    }
    Ok(Found::Ours { version })
}

/// Creates or upgrades the schema under a transaction-scoped advisory lock, so that first
/// uses racing on several hosts migrate once. Returns the version migrated from, or `None`
/// when it was current.
pub(super) fn migrate(client: &mut Client, url: &str) -> Result<Option<i64>> {
    if inspect(client, url)? == (Found::Ours {
        version: PG_SCHEMA_VERSION,
    }) {
        return Ok(None);
    }
    let mut tx = client.transaction().map_err(|e| at(url, e))?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&i64::from(super::APPLICATION_ID)],
    )
    .map_err(|e| at(url, e))?;
    let version = match inspect(&mut tx, url)? {
        Found::Ours { version } if version == PG_SCHEMA_VERSION => return Ok(None),
        Found::Ours { version } => version,
        Found::Missing | Found::Blank => 0,
    };
    tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
        .map_err(|e| at(url, e))?;
    for (applied, sql) in PG_MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(version).unwrap_or(0))
    {
        tx.batch_execute(sql).map_err(|e| {
            let err = at(url, e);
            Error::Database {
                message: format!(
                    "cannot upgrade the schema from version {version} (step {} of {PG_SCHEMA_VERSION}): {err}",
                    applied + 1
                ),
                source: Some(Box::new(err)),
            }
        })?;
    }
    tx.batch_execute("DELETE FROM meta").map_err(|e| at(url, e))?;
    tx.execute(
        "INSERT INTO meta (application_id, schema_version) VALUES ($1, $2)",
        &[&i64::from(super::APPLICATION_ID), &PG_SCHEMA_VERSION],
    )
    .map_err(|e| at(url, e))?;
    tx.commit().map_err(|e| at(url, e))?;
    Ok(Some(version))
}

/// The advisory lock every administrator's write transaction takes first: SQLite's single
/// writer, across hosts. What an admin command checks (limits, names, a token not yet
/// rotated, the head of the audit chain) then still holds when it writes. Verifications do
/// not take it: their writes are single statements that hold by themselves (docs/decisions.md).
const WRITERS_LOCK: i64 = super::APPLICATION_ID as i64;

/// Begins a transaction on `conn`: a write takes the writers' lock unless `light`; a read
/// sees one snapshot throughout (repeatable read), as an SQLite read transaction does.
pub(super) fn begin(conn: &mut Conn, write: bool, light: bool) -> Result<PgTx<'_>> {
    let Conn {
        client, statements, ..
    } = conn;
    let mut tx = if write {
        client.transaction()?
    } else {
        client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .start()?
    };
    if write && !light {
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITERS_LOCK])?;
    }
    Ok(PgTx {
        tx: RefCell::new(tx),
        statements: RefCell::new(statements),
    })
}

/// One open PostgreSQL connection and its prepared statements.
pub(crate) struct Conn {
    pub(super) client: Client,
    pub(super) statements: Statements,
    pub(super) url: Arc<str>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_sql_becomes_postgresqls() {
        assert_eq!(
            translate(
                "SELECT a FROM r CROSS JOIN accounts a ON a.id = r.x WHERE +a.org = ?1 \
                 AND count = count + 1 AND (+e.at >= ?12) AND x = '?+' /* ?3 */"
            ),
            "SELECT a FROM r JOIN accounts a ON a.id = r.x WHERE a.org = $1 \
             AND count = count + 1 AND (e.at >= $12) AND x = '?+' /* ?3 */"
        );
        assert_eq!(
            translate("ORDER BY +t.created_at, t.use_count + ?4"),
            "ORDER BY t.created_at, t.use_count + $4"
        );
    }

    #[test]
    fn the_password_file_is_read_as_libpq_reads_it() {
        assert_eq!(
            split_pgpass(r"db\:1:*:sa:me:pa\:ss:word"),
            ["db:1", "*", "sa", "me", "pa:ss:word"]
        );
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pgpass");
        std::fs::write(
            &file,
            "# comment\nother:5432:*:me:no\ndb.example:5433:sa:me:yes\n*:*:*:*:fallback\n",
        )
        .unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let target = parse("postgresql://me@db.example:5433/sa?password=").unwrap();
        let mut config = target.config;
        config.password(b"");
        let found = password_from_file(&config, Some(file.clone())).unwrap();
        assert_eq!(found.as_deref(), Some("yes"));
        let other = parse("postgresql://you@elsewhere/x").unwrap().config;
        assert_eq!(
            password_from_file(&other, Some(file.clone())).unwrap().as_deref(),
            Some("fallback")
        );
        // Readable by others: ignored, as libpq ignores it.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(password_from_file(&other, Some(file)).unwrap(), None);
    }

    #[test]
    fn urls_are_read_as_libpq_reads_them() {
        let target = parse(
            "postgresql://me:pw@db.example:5433/sa?sslmode=verify-full&sslrootcert=/etc/ca.pem&application_name=x",
        )
        .unwrap();
        assert_eq!(target.ssl, SslMode::VerifyFull);
        assert_eq!(
            target.root_cert,
            Some(Roots::File(PathBuf::from("/etc/ca.pem")))
        );
        assert_eq!(target.config.get_user(), Some("me"));
        assert_eq!(target.config.get_password(), Some(&b"pw"[..]));
        assert_eq!(target.config.get_dbname(), Some("sa"));
        assert_eq!(target.config.get_ports(), [5433]);
        // tokio-postgres is asked to encrypt; sa's own verifier does the checking.
        assert_eq!(
            target.config.get_ssl_mode(),
            postgres::config::SslMode::Require
        );
        // As libpq: `require` with a root certificate checks the chain; the public roots
        // are only for checking the host name too.
        let checked = parse("postgresql://h/db?sslmode=require&sslrootcert=/etc/ca.pem").unwrap();
        assert_eq!(checked.ssl, SslMode::VerifyCa);
        let system = parse("postgresql://h/db?sslrootcert=system").unwrap();
        assert_eq!((system.ssl, system.root_cert), (SslMode::VerifyFull, Some(Roots::System)));
        assert!(parse("postgresql://h/db?sslmode=verify-ca&sslrootcert=system").is_err());
        // A Unix socket never uses TLS, whatever sslmode says.
        let socket = parse("postgresql:///sa?host=/run/postgresql&user=me&sslmode=require")
            .unwrap();
        assert_eq!(socket.ssl, SslMode::Disable);
        for bad in [
            "postgresql://h/db?sslmode=sometimes",
            "postgresql://h/db?sslmode",
            "postgresql://h/db?host=%zz",
        ] {
            let err = parse(bad).err().expect("refused");
            assert_eq!(err.exit_code(), 3, "{err}");
        }
        // A refusal never shows the password.
        let err = parse("postgresql://me:s3cret@h/db?sslmode=x").err().unwrap();
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }
}
