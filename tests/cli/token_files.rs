//! Token files (`--output-file`): what they may never replace, how they replace what they
//! may, and that an interrupted write leaves no secret behind.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::storage::std_command;
use crate::support::{TestEnv, arg, file_mode, on_postgres, temp_files};

fn with_bot() -> TestEnv {
    let env = TestEnv::new();
    env.json(&["create", "--name", "bot", "--role", "editor"]);
    env
}

fn token_count(env: &TestEnv) -> usize {
    env.json(&["token", "list", "--status", "all"])
        .as_array()
        .map_or(0, Vec::len)
}

#[test]
fn the_database_its_sidecars_and_the_config_are_never_replaced() {
    crate::sqlite_only!();
    let env = with_bot();
    let db = env.db_path();
    let link = env.root().join("innocent.token");
    std::os::unix::fs::symlink(&db, &link).expect("symlink");
    let config_before = std::fs::read(env.config_path()).expect("read config");
    let mut wal = db.clone().into_os_string();
    wal.push("-wal");
    let targets = [
        db.clone(),
        PathBuf::from(wal),
        env.root().join("data/../data/sa.db-shm"),
        env.root().join("data/sa.db-journal"),
        link.clone(),
        env.config_path(),
    ];
    for target in &targets {
        for command in [
            &["token", "add", "bot"][..],
            &["token", "add", "bot", "--json"],
        ] {
            let mut args = command.to_vec();
            args.extend(["--output-file", arg(target)]);
            env.run(&args)
                .code(2)
                .error_contains("sa never writes over it");
        }
    }
    let token = env.add_token("bot", &[]);
    let id = &token[3..15];
    env.run(&["token", "rotate", id, "--output-file", arg(&db)])
        .code(2)
        .error_contains("the sa database");
    assert_eq!(
        std::fs::read(env.config_path()).expect("read"),
        config_before
    );
    assert!(
        std::fs::symlink_metadata(&link)
            .expect("link")
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        token_count(&env),
        1,
        "only the token minted to stdout exists"
    );
    env.run(&["list"]).ok();
}

#[test]
fn paths_inside_dev_proc_and_sys_are_refused_before_minting() {
    let env = with_bot();
    for target in [
        "/dev/stdout",
        "/dev/null",
        "/dev/shm/sa-test.token",
        "/proc/self/fd/1",
    ] {
        env.run(&["token", "add", "bot", "--output-file", target])
            .code(2)
            .error_contains("/dev, /proc or /sys");
    }
    assert!(
        std::fs::symlink_metadata("/dev/stdout")
            .expect("/dev/stdout")
            .file_type()
            .is_symlink(),
        "/dev/stdout is still the system's symlink"
    );
    assert!(!Path::new("/dev/shm/sa-test.token").exists());
    // A symlink elsewhere that leads into /dev is followed, then refused.
    let link = env.root().join("tty.token");
    std::os::unix::fs::symlink("/dev/null", &link).expect("symlink");
    env.run(&["token", "add", "bot", "--output-file", arg(&link)])
        .code(2);
    assert_eq!(token_count(&env), 0);
}

#[test]
fn a_symlink_to_a_regular_file_is_followed_and_the_links_stay() {
    // The layout Kubernetes gives a mounted secret: token -> ..data/token,
    // ..data -> ..2026_12_01, and the file itself in the versioned directory.
    let env = with_bot();
    let secret = env.root().join("secret");
    let versioned = secret.join("..2026_12_01");
    std::fs::create_dir_all(&versioned).expect("mkdir");
    std::fs::write(versioned.join("token"), "old\n").expect("write");
    std::os::unix::fs::symlink("..2026_12_01", secret.join("..data")).expect("symlink");
    std::os::unix::fs::symlink("..data/token", secret.join("token")).expect("symlink");
    let run = env
        .run(&[
            "token",
            "add",
            "bot",
            "--output-file",
            arg(&secret.join("token")),
        ])
        .ok();
    assert!(run.stderr.contains("..2026_12_01/token"), "{run}");
    for link in ["token", "..data"] {
        assert!(
            std::fs::symlink_metadata(secret.join(link))
                .expect("link")
                .file_type()
                .is_symlink(),
            "{link} is still a symlink"
        );
    }
    let written = std::fs::read_to_string(secret.join("token")).expect("read through the link");
    assert!(
        written.starts_with("sa_") && written.ends_with('\n'),
        "{written:?}"
    );
    assert!(
        temp_files(&versioned, ".sa-token-").is_empty()
            && temp_files(&secret, ".sa-token-").is_empty()
    );
}

#[test]
fn a_symlink_to_nothing_is_refused() {
    let env = with_bot();
    let link = env.root().join("svc.token");
    std::os::unix::fs::symlink(env.root().join("elsewhere/token"), &link).expect("symlink");
    env.run(&["token", "add", "bot", "--output-file", arg(&link)])
        .code(2)
        .error_contains("does not exist");
    assert_eq!(token_count(&env), 0);
    assert!(!env.root().join("elsewhere").exists());
}

#[test]
fn replacing_a_file_keeps_its_owner_group_and_mode() {
    let env = with_bot();
    let path = env.root().join("svc.token");
    std::fs::write(&path, "old\n").expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    // As root, hand the file to `nobody`, as a service running as nobody would have it.
    let is_root = std::fs::metadata("/proc/self").expect("proc").uid() == 0;
    if is_root {
        std::os::unix::fs::chown(&path, Some(65534), Some(65534)).expect("chown");
    }
    let before = std::fs::metadata(&path).expect("meta");
    env.run(&["token", "add", "bot", "--output-file", arg(&path)])
        .ok();
    let after = std::fs::metadata(&path).expect("meta");
    assert_ne!(
        before.ino(),
        after.ino(),
        "replaced, not rewritten in place"
    );
    assert_eq!((after.uid(), after.gid()), (before.uid(), before.gid()));
    assert_eq!(file_mode(&path), 0o640);
    // A new file is 0600 and the caller's.
    env.run(&["token", "add", "bot", "--output-file", "new.token"])
        .ok();
    assert_eq!(file_mode(&env.root().join("new.token")), 0o600);
}

/// Holds the database's write lock, so that a `token add` started now waits (after it has
/// prepared its token file, before it stores anything) until the lock is dropped.
fn hold_write_lock(env: &TestEnv) -> crate::support::WriteLock {
    env.hold_write_lock()
}

fn spawn_add(env: &TestEnv, target: &str, named_temp: bool) -> Child {
    let mut cmd = std_command(env);
    cmd.args(["token", "add", "bot", "--output-file", target]);
    if named_temp {
        cmd.env("SA_TOKEN_FILE_NO_TMPFILE", "1");
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn sa")
}

fn signal(child: &Child, name: &str) {
    let status = std::process::Command::new("kill")
        .args(["-s", name, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// Whether the process `child` has `path` open.
fn has_open(child: &Child, path: &Path) -> bool {
    let Ok(fds) = std::fs::read_dir(format!("/proc/{}/fd", child.id())) else {
        return false;
    };
    fds.flatten()
        .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|target| target == path))
}

/// Waits until `ready` holds, or fails the test after 20 s.
fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_named_temp_file_is_removed_when_a_signal_ends_the_write() {
    let env = with_bot();
    for name in ["TERM", "INT", "HUP"] {
        let lock = hold_write_lock(&env);
        let mut child = spawn_add(&env, "svc.token", true);
        wait_for("the temp file", || {
            !temp_files(env.root(), ".sa-token-").is_empty()
        });
        signal(&child, name);
        let status = child.wait().expect("wait");
        assert!(!status.success(), "SIG{name} ended it");
        drop(lock);
        assert!(
            temp_files(env.root(), ".sa-token-").is_empty(),
            "SIG{name}: {:?}",
            temp_files(env.root(), ".sa-token-")
        );
        assert!(!env.root().join("svc.token").exists());
    }
    assert_eq!(token_count(&env), 0);
}

#[test]
fn an_unnamed_temp_file_leaves_nothing_even_after_sigkill() {
    let env = with_bot();
    let lock = hold_write_lock(&env);
    let mut child = spawn_add(&env, "svc.token", false);
    // It opens the database only after preparing its file: once it has, it is waiting on
    // the lock with its (unnamed) file made.
    wait_for("sa to open the database", || {
        if on_postgres() {
            env.sql().int(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
                   AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                &[],
            ) > 0
        } else {
            has_open(&child, &env.db_path())
        }
    });
    assert!(
        temp_files(env.root(), ".sa-token-").is_empty(),
        "O_TMPFILE has no name"
    );
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
    drop(lock);
    assert!(temp_files(env.root(), ".sa-token-").is_empty());
    assert_eq!(token_count(&env), 0);
}

#[test]
fn temp_files_a_killed_writer_left_over_a_minute_ago_are_removed_by_the_next_write() {
    let env = with_bot();
    let old = env.root().join(".sa-token-00000000deadbeef");
    let young = env.root().join(".sa-token-00000000feedface");
    // Not a name sa gives its files: someone else's, whatever its age.
    let notes = env.root().join(".sa-token-notes");
    for path in [&old, &young, &notes] {
        std::fs::write(path, "sa_leftover\n").expect("write");
    }
    let two_minutes_ago = std::time::SystemTime::now() - Duration::from_secs(120);
    for path in [&old, &notes] {
        std::fs::File::options()
            .write(true)
            .open(path)
            .and_then(|f| f.set_modified(two_minutes_ago))
            .expect("age the file");
    }
    env.run(&["token", "add", "bot", "--output-file", "svc.token"])
        .ok();
    assert!(!old.exists(), "the stale temp file was removed");
    assert!(young.exists(), "a writer still at work keeps its file");
    assert!(notes.exists(), "a file sa did not name is never removed");
}

#[test]
fn the_real_wal_of_a_symlinked_database_is_never_replaced() {
    crate::sqlite_only!();
    let env = with_bot();
    let link = env.root().join("alias.db");
    std::os::unix::fs::symlink(env.db_path(), &link).expect("symlink");
    let mut real_wal = env.db_path().into_os_string();
    real_wal.push("-wal");
    env.run(&[
        "token",
        "add",
        "bot",
        "--db",
        arg(&link),
        "--output-file",
        real_wal.to_str().expect("utf-8"),
    ])
    .code(2)
    .error_contains("sa never writes over it");
    assert_eq!(token_count(&env), 0);
}

#[test]
fn an_ignored_hangup_is_left_ignored() {
    // `nohup sa …`, or a job a shell started with `&`: the signal was ignored, so sa must not
    // start dying of it just because it guards a temporary file.
    let env = with_bot();
    let lock = hold_write_lock(&env);
    let template = std_command(&env);
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg("trap '' HUP; exec \"$0\" \"$@\"")
        .arg(template.get_program())
        .args(["token", "add", "bot", "--output-file", "svc.token"])
        .env("SA_TOKEN_FILE_NO_TMPFILE", "1")
        .current_dir(env.root());
    for (key, value) in template.get_envs() {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    wait_for("the temp file", || {
        !temp_files(env.root(), ".sa-token-").is_empty()
    });
    signal(&child, "HUP");
    std::thread::sleep(Duration::from_millis(200));
    drop(lock);
    let status = child.wait().expect("wait");
    assert!(
        status.success(),
        "a hangup it was told to ignore ended it: {status}"
    );
    assert!(env.root().join("svc.token").exists());
    assert!(temp_files(env.root(), ".sa-token-").is_empty());
}

#[test]
fn a_world_readable_token_file_keeps_its_mode_with_a_warning() {
    let env = with_bot();
    let path = env.root().join("svc.token");
    std::fs::write(&path, "old\n").expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let run = env
        .run(&["token", "add", "bot", "--output-file", arg(&path)])
        .ok();
    assert_eq!(file_mode(&path), 0o644);
    assert!(
        run.stderr.contains("warning:") && run.stderr.contains("every user"),
        "{run}"
    );
}

#[test]
fn a_temp_file_whose_writer_still_waits_is_not_taken_for_a_leftover() {
    let env = with_bot();
    let busy = env.root().join(".sa-token-0123456789abcdef");
    std::fs::write(&busy, "").expect("write");
    let file = std::fs::File::open(&busy).expect("open");
    rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive).expect("flock");
    let old = std::time::SystemTime::now() - Duration::from_secs(120);
    std::fs::File::options()
        .write(true)
        .open(&busy)
        .and_then(|f| f.set_modified(old))
        .expect("age it");
    env.run(&["token", "add", "bot", "--output-file", "svc.token"])
        .ok();
    assert!(
        busy.exists(),
        "a held file is a writer at work, however old"
    );
    drop(file);
    env.run(&["token", "add", "bot", "--output-file", "svc.token"])
        .ok();
    assert!(!busy.exists(), "released and old: a leftover");
}

#[test]
fn a_symlink_the_kernel_would_not_follow_is_refused() {
    // fs.protected_symlinks: in a sticky world-writable directory (as /tmp), a symlink owned
    // by someone else is not followed, not even for root; resolving it by hand must not
    // follow it either.
    // Planting a link owned by another user needs root (lchown); sa applies the rule
    // itself, whatever `fs.protected_symlinks` says.
    if std::fs::metadata("/proc/self").expect("proc").uid() != 0 {
        return;
    }
    let env = with_bot();
    let shared = env.root().join("shared");
    std::fs::create_dir(&shared).expect("mkdir");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).expect("chmod");
    let victim = env.root().join("victim.conf");
    std::fs::write(&victim, "precious\n").expect("write");
    let link = shared.join("app.token");
    std::os::unix::fs::symlink(&victim, &link).expect("symlink");
    std::os::unix::fs::lchown(&link, Some(65534), Some(65534)).expect("lchown");
    env.run(&["token", "add", "bot", "--output-file", arg(&link)])
        .code(2)
        .error_contains("does not follow it");
    assert_eq!(
        std::fs::read_to_string(&victim).expect("read"),
        "precious\n"
    );
    assert_eq!(token_count(&env), 0);
}

#[test]
fn a_chain_of_links_through_dev_or_proc_is_refused() {
    // `link -> /dev/stdout` ends at whatever stdout is (a log file, say): writing the token
    // there would replace the log. So would `dir -> /proc/self/fd` with `dir/1`.
    let env = with_bot();
    let log = env.root().join("out.log");
    std::fs::write(&log, "important log line\n").expect("write");
    let so = env.root().join("so");
    std::os::unix::fs::symlink("/dev/stdout", &so).expect("symlink");
    let fd_dir = env.root().join("procdir");
    std::os::unix::fs::symlink("/proc/self/fd", &fd_dir).expect("symlink");
    for target in [so.clone(), fd_dir.join("1")] {
        let mut cmd = std_command(&env);
        cmd.args(["token", "add", "bot", "--output-file", arg(&target)]);
        let output = cmd
            .stdin(Stdio::null())
            .stdout(
                std::fs::File::options()
                    .append(true)
                    .open(&log)
                    .expect("log"),
            )
            .output()
            .expect("run sa");
        assert_eq!(output.status.code(), Some(2), "{output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("/dev, /proc or /sys"), "{stderr}");
    }
    assert_eq!(
        std::fs::read_to_string(&log).expect("read"),
        "important log line\n"
    );
    assert_eq!(token_count(&env), 0);
}

#[test]
fn a_symlink_loop_is_named_as_one() {
    let env = with_bot();
    let (a, b) = (env.root().join("loop-a"), env.root().join("loop-b"));
    std::os::unix::fs::symlink(&b, &a).expect("symlink");
    std::os::unix::fs::symlink(&a, &b).expect("symlink");
    env.run(&["token", "add", "bot", "--output-file", arg(&a)])
        .code(2)
        .error_contains("symlink loop");
}
