//! Connecting to PostgreSQL over TCP as libpq would: `sslmode` from `require` to
//! `verify-full`, the password from the URL, `$PGPASSWORD` or `~/.pgpass`, and never printed.
//! Needs the TLS listener `scripts/pg-cluster.sh` starts (`$SA_TEST_PG_TLS`: a CA of its own
//! signs a certificate for `localhost`; TCP connections must use TLS; the role `sa_pw` must
//! give its password). Without it these tests say so and return.

use crate::support::TestEnv;

const PASSWORD: &str = "sa-test-password";

/// `$SA_TEST_PG_TLS`: `postgresql://localhost:PORT/postgres?user=sa&sslrootcert=CA`.
fn tls_url() -> Option<String> {
    let url = std::env::var("SA_TEST_PG_TLS")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        // On the PostgreSQL run of .ci/run the listener must be there: a skip would pass
        // tests that never ran.
        assert!(
            !(crate::support::on_postgres()
                && std::env::var_os("SA_TEST_TOOLS_REQUIRED").is_some()),
            "no TLS listener on the PostgreSQL run ($SA_TEST_PG_TLS; is openssl installed?)"
        );
        eprintln!("skipped: no TLS listener ($SA_TEST_PG_TLS; scripts/test sets it)");
    }
    url
}

/// The listener's port and the CA's path, from the URL.
fn parts(url: &str) -> (String, String) {
    let port = url
        .split("localhost:")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("a port")
        .to_string();
    let ca = url
        .split("sslrootcert=")
        .nth(1)
        .and_then(|rest| rest.split('&').next())
        .expect("a CA")
        .to_string();
    (port, ca)
}

/// `sa list` on the `postgres` database, which holds no schema `sa`: "no sa database" (exit
/// 3) means the connection itself succeeded.
fn connects(env: &TestEnv, url: &str, extra_env: &[(&str, &str)]) -> Result<(), String> {
    let mut cmd = env.command();
    cmd.args(["--db", url, "list"]);
    for (key, value) in extra_env {
        cmd.env(key, value);
    }
    let run = crate::support::Run::of(&mut cmd);
    assert_eq!(run.code, 3, "{run}");
    assert!(!run.stderr.contains(PASSWORD), "a password printed: {run}");
    if run.stderr.contains("there is no sa database") {
        Ok(())
    } else {
        Err(run.stderr)
    }
}

#[test]
fn each_sslmode_checks_what_libpq_checks() {
    let Some(url) = tls_url() else { return };
    let env = TestEnv::new();
    let (port, ca) = parts(&url);
    let at =
        |host: &str, query: &str| format!("postgresql://{host}:{port}/postgres?user=sa&{query}");
    // The chain and the name.
    connects(
        &env,
        &at(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        ),
        &[],
    )
    .unwrap();
    let wrong_name = connects(
        &env,
        &at(
            "127.0.0.1",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        ),
        &[],
    )
    .unwrap_err();
    assert!(wrong_name.contains("not valid for name"), "{wrong_name}");
    // The chain only.
    connects(
        &env,
        &at("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={ca}")),
        &[],
    )
    .unwrap();
    // Checking with nothing to check against is refused, not done against the web's roots...
    let rootless = connects(&env, &at("localhost", "sslmode=verify-ca"), &[]).unwrap_err();
    assert!(rootless.contains("need a root certificate"), "{rootless}");
    // ...which, asked for, do not know the test CA.
    let unknown = connects(&env, &at("localhost", "sslrootcert=system"), &[]).unwrap_err();
    assert!(unknown.contains("UnknownIssuer"), "{unknown}");
    // `require` with a root certificate checks the chain, as libpq's does.
    connects(
        &env,
        &at("127.0.0.1", &format!("sslmode=require&sslrootcert={ca}")),
        &[],
    )
    .unwrap();
    // $PGSSLROOTCERT stands for sslrootcert, as in libpq.
    connects(
        &env,
        &at("localhost", "sslmode=verify-full"),
        &[("PGSSLROOTCERT", ca.as_str())],
    )
    .unwrap();
    // Encrypted, nothing checked; the listener refuses plain TCP, so this was TLS.
    connects(&env, &at("localhost", "sslmode=require"), &[]).unwrap();
    connects(&env, &at("localhost", "sslmode=prefer"), &[]).unwrap();
    let plain = connects(&env, &at("localhost", "sslmode=disable"), &[]).unwrap_err();
    assert!(plain.contains("no encryption"), "{plain}");
    let bad = env.run(&[
        "--db",
        &at("localhost", "sslmode=verify-everything"),
        "list",
    ]);
    assert_eq!(bad.code, 3, "{bad}");
    assert!(bad.stderr.contains("unknown sslmode"), "{bad}");
}

#[test]
fn the_password_comes_from_the_url_pgpassword_or_pgpass_and_is_never_printed() {
    let Some(url) = tls_url() else { return };
    let env = TestEnv::new();
    let (port, _) = parts(&url);
    let bare = format!("postgresql://sa_pw@localhost:{port}/postgres?sslmode=require");
    let missing = connects(&env, &bare, &[]).unwrap_err();
    assert!(missing.contains("password missing"), "{missing}");
    // In the URL: used, and masked in what sa prints.
    let with = format!("postgresql://sa_pw:{PASSWORD}@localhost:{port}/postgres?sslmode=require");
    connects(&env, &with, &[]).unwrap();
    let wrong = format!("postgresql://sa_pw:not-it@localhost:{port}/postgres?sslmode=require");
    let refused = connects(&env, &wrong, &[]).unwrap_err();
    assert!(refused.contains("sa_pw:***@"), "{refused}");
    assert!(!refused.contains("not-it"), "{refused}");
    let shown = env.run(&["--db", &with, "config", "show"]).ok();
    assert!(!shown.stdout.contains(PASSWORD), "{shown}");
    assert!(shown.stdout.contains("sa_pw:***@"), "{shown}");
    // From $PGPASSWORD.
    connects(&env, &bare, &[("PGPASSWORD", PASSWORD)]).unwrap();
    // From ~/.pgpass, as libpq reads it: only when no one else can read the file.
    let pgpass = env.home().join(".pgpass");
    std::fs::write(
        &pgpass,
        format!("# host:port:db:user:password\nlocalhost:{port}:*:sa_pw:{PASSWORD}\n"),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert!(
        connects(&env, &bare, &[]).is_err(),
        "a readable .pgpass is ignored"
    );
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    connects(&env, &bare, &[]).unwrap();
}
