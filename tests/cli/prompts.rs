//! The prompts in a pseudo-terminal, as a person meets them: only Enter submits, `maybe` is
//! not a yes, `sa delete` wants the account's name typed back, Ctrl-C restores the terminal
//! and exits 130, and a token typed at `sa token verify` is never echoed — even with stderr
//! sent elsewhere.

use std::os::fd::AsRawFd;
use std::process::Command;

use nix::sys::wait::WaitStatus;
use rexpect::session::{PtySession, spawn_command};

use crate::support::TestEnv;

/// `sa ARGS` in a pseudo-terminal, with the terminal's echo on as a shell leaves it (rexpect
/// turns it off before it starts the program); `redirect` is appended to the shell line.
pub(crate) fn spawn(env: &TestEnv, args: &[&str], redirect: &str) -> PtySession {
    let sa = env.command();
    let mut shell = Command::new("sh");
    shell
        .arg("-c")
        .arg(format!(r#"stty echo && exec "$0" "$@" {redirect}"#))
        .arg(sa.get_program())
        .args(args);
    for (key, value) in sa.get_envs() {
        match value {
            Some(value) => shell.env(key, value),
            None => shell.env_remove(key),
        };
    }
    shell.current_dir(env.root()).env("TERM", "xterm");
    spawn_command(shell, Some(10_000)).expect("a pty")
}

/// Waits for `text`, then types `keys` (no newline of its own).
pub(crate) fn answer(session: &mut PtySession, text: &str, keys: &str) {
    session.exp_string(text).expect(text);
    session.send(keys).expect("type");
    session.flush().expect("flush");
}

/// The rest of the output and the exit status.
pub(crate) fn finish(mut session: PtySession) -> (String, WaitStatus, bool) {
    let rest = session.exp_eof().unwrap_or_default();
    let status = session.process().wait().expect("wait");
    let echo = echo_on(&session);
    (rest, status, echo)
}

/// Whether the terminal echoes: what sa must leave it as, however it ends.
fn echo_on(session: &PtySession) -> bool {
    let master = session.process().get_file_handle().expect("the pty");
    // SAFETY: tcgetattr fills a zeroed termios for an open terminal fd.
    let mut settings: libc::termios = unsafe { std::mem::zeroed() };
    assert_eq!(
        unsafe { libc::tcgetattr(master.as_raw_fd(), &mut settings) },
        0
    );
    settings.c_lflag & libc::ECHO != 0 && settings.c_lflag & libc::ICANON != 0
}

pub(crate) fn exited(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        _ => None,
    }
}

#[test]
fn typing_maybe_at_the_delete_prompt_deletes_nothing() {
    let env = TestEnv::new();
    env.create("ci-bot");
    let mut session = spawn(&env, &["delete", "ci-bot"], "");
    answer(&mut session, "Type `ci-bot` to confirm", "maybe\r");
    let (rest, status, echo) = finish(session);
    assert_eq!(exited(status), Some(1), "{rest}");
    assert!(rest.contains("cancelled"), "{rest}");
    assert!(echo, "the terminal echoes again");
    assert_eq!(env.json(&["show", "ci-bot"])["status"], "active");
    // `y` alone is not the name either.
    let mut session = spawn(&env, &["delete", "ci-bot"], "");
    answer(&mut session, "to confirm", "y\r");
    assert_eq!(exited(finish(session).1), Some(1));
    assert_eq!(env.json(&["show", "ci-bot"])["status"], "active");
}

#[test]
fn typing_the_name_back_deletes() {
    let env = TestEnv::new();
    env.create("ci-bot");
    let mut session = spawn(&env, &["delete", "ci-bot"], "");
    answer(&mut session, "to confirm", "ci-bot\r");
    let (rest, status, _) = finish(session);
    assert_eq!(exited(status), Some(0), "{rest}");
    env.run(&["show", "ci-bot"])
        .code(1)
        .error_contains("is deleted");
}

#[test]
fn a_yes_no_question_takes_only_yes_then_enter() {
    let env = TestEnv::new();
    env.create("ci-bot");
    env.add_token("ci-bot", &[]);
    env.add_token("ci-bot", &[]);
    let revoke_all = ["token", "revoke", "--account", "ci-bot", "--all"];
    // `maybe` holds a `y`; it is still not a yes.
    let mut session = spawn(&env, &revoke_all, "");
    answer(&mut session, "[y/N]", "maybe\r");
    let (rest, status, _) = finish(session);
    assert_eq!(exited(status), Some(1), "{rest}");
    assert_eq!(env.json(&["token", "list"]).as_array().unwrap().len(), 2);
    // Nothing is decided before Enter: `y` then Backspace then `n` is a no.
    let mut session = spawn(&env, &revoke_all, "");
    answer(&mut session, "[y/N]", "y\x7fn\r");
    assert_eq!(exited(finish(session).1), Some(1));
    assert_eq!(env.json(&["token", "list"]).as_array().unwrap().len(), 2);
    let mut session = spawn(&env, &revoke_all, "");
    answer(&mut session, "[y/N]", "yes\r");
    let (rest, status, echo) = finish(session);
    assert_eq!(exited(status), Some(0), "{rest}");
    assert!(echo);
    assert!(env.json(&["token", "list"]).as_array().unwrap().is_empty());
}

#[test]
fn ctrl_c_at_a_prompt_restores_the_terminal_and_exits_130() {
    let env = TestEnv::new();
    env.create("ci-bot");
    for args in [&["delete", "ci-bot"][..], &["token", "verify"][..]] {
        let mut session = spawn(&env, args, "");
        answer(&mut session, ": ", "half");
        std::thread::sleep(std::time::Duration::from_millis(100));
        session.send_control('c').expect("^C");
        let (rest, status, echo) = finish(session);
        assert_eq!(exited(status), Some(130), "{args:?}: {rest:?}");
        assert!(echo, "{args:?}: echo and line editing are back");
        assert!(rest.ends_with("\r\n") || rest.ends_with('\n'), "{rest:?}");
        assert!(!rest.contains("error:"), "{rest:?}");
    }
    assert_eq!(env.json(&["show", "ci-bot"])["status"], "active");
}

#[test]
fn a_terminating_signal_at_a_prompt_leaves_the_terminal_echoing() {
    use nix::sys::signal::Signal;
    let env = TestEnv::new();
    env.create("ci-bot");
    for signal in [Signal::SIGTERM, Signal::SIGHUP, Signal::SIGINT] {
        let mut session = spawn(&env, &["delete", "ci-bot"], "");
        answer(&mut session, "to confirm", "ci-");
        std::thread::sleep(std::time::Duration::from_millis(100));
        session.process_mut().signal(signal).expect("kill");
        let (rest, status, echo) = finish(session);
        assert!(
            matches!(status, WaitStatus::Signaled(_, got, _) if got == signal),
            "{signal}: {status:?} {rest:?}"
        );
        assert!(echo, "{signal}: echo and line editing are back");
    }
    assert_eq!(env.json(&["show", "ci-bot"])["status"], "active");
}

#[test]
fn a_token_typed_at_verify_is_never_echoed_even_with_stderr_elsewhere() {
    let env = TestEnv::new();
    env.create("ci-bot");
    let token = env.add_token("ci-bot", &[]);
    let secret = token.rsplit('_').next().unwrap().to_string();
    let mut session = spawn(&env, &["token", "verify"], "2>/dev/null");
    answer(&mut session, "(not shown): ", &format!("{token}\r"));
    let (rest, status, echo) = finish(session);
    assert_eq!(exited(status), Some(0), "{rest:?}");
    assert!(!rest.contains(&secret), "the secret was echoed: {rest:?}");
    assert!(rest.contains("valid"), "{rest:?}");
    assert!(echo);
}

#[test]
fn audit_on_a_terminal_shows_the_newest_hundred_and_says_so() {
    let env = TestEnv::new();
    let names: Vec<String> = (0..101).map(|n| format!("bot-{n:03}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    crate::audit::create_as_of(&env, "2026-11-01T10:00:00Z", &names);
    let session = spawn(&env, &["audit"], "");
    let (rest, status, _) = finish(session);
    assert_eq!(exited(status), Some(0), "{rest}");
    assert!(rest.contains("the newest 100 events"), "{rest}");
    assert!(!rest.contains("bot-000"), "the oldest is left out: {rest}");
    assert!(rest.contains("bot-100"), "{rest}");
    // Piped, everything.
    let piped = env.run(&["audit"]).ok();
    assert_eq!(piped.stdout.lines().count(), 102, "header and 101 events");
    assert!(!piped.stderr.contains("newest"), "{piped}");
}

#[test]
fn arrow_keys_put_nothing_into_the_answer() {
    let env = TestEnv::new();
    env.create("ci-bot");
    let mut session = spawn(&env, &["delete", "ci-bot"], "");
    // Left, Right, Home, Delete: whole escape sequences, ignored.
    answer(
        &mut session,
        "to confirm",
        "ci\x1b[D\x1b[C\x1bOH\x1b[3~-bot\r",
    );
    let (rest, status, _) = finish(session);
    assert_eq!(exited(status), Some(0), "{rest:?}");
    env.run(&["show", "ci-bot"]).code(1);
}

#[test]
fn a_stop_and_continue_at_the_secret_prompt_never_shows_the_rest() {
    let env = TestEnv::new();
    env.create("ci-bot");
    let token = env.add_token("ci-bot", &[]);
    let (head, tail) = token.split_at(20);
    let mut session = spawn(&env, &["token", "verify"], "");
    answer(&mut session, "(not shown): ", head);
    std::thread::sleep(std::time::Duration::from_millis(100));
    // Stopped from outside, its terminal set back to echo (as a shell does for `fg`), then
    // continued: sa must turn echo off again before reading on.
    session
        .process_mut()
        .signal(nix::sys::signal::Signal::SIGSTOP)
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(100));
    let master = session.process().get_file_handle().expect("the pty");
    // SAFETY: tcgetattr/tcsetattr on an open terminal fd with a termios read from it.
    unsafe {
        let mut settings: libc::termios = std::mem::zeroed();
        assert_eq!(libc::tcgetattr(master.as_raw_fd(), &mut settings), 0);
        settings.c_lflag |= libc::ECHO | libc::ICANON;
        assert_eq!(
            libc::tcsetattr(master.as_raw_fd(), libc::TCSANOW, &settings),
            0
        );
    }
    session
        .process_mut()
        .signal(nix::sys::signal::Signal::SIGCONT)
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    session.send(&format!("{tail}\r")).unwrap();
    session.flush().unwrap();
    let (rest, status, echo) = finish(session);
    assert_eq!(exited(status), Some(0), "{rest:?}");
    let secret_tail = &tail[tail.len() - 20..];
    assert!(
        !rest.contains(secret_tail),
        "echoed after continuing: {rest:?}"
    );
    assert!(echo);
}

/// Three accounts, listed by name: billing-api, ci-bot, deploy-bot.
fn three_accounts() -> TestEnv {
    let env = TestEnv::new();
    for name in ["ci-bot", "deploy-bot", "billing-api"] {
        env.create(name);
    }
    env
}

#[test]
fn a_missing_account_is_picked_by_typing_part_of_its_name() {
    let env = three_accounts();
    let mut session = spawn(&env, &["show"], "");
    answer(&mut session, "3 of 3", "dep");
    answer(&mut session, "> deploy-bot", "");
    answer(&mut session, "1 of 3", "\r");
    let (rest, status, echo) = finish(session);
    assert_eq!(exited(status), Some(0), "{rest:?}");
    assert!(
        rest.contains("account: deploy-bot"),
        "the pick is noted: {rest:?}"
    );
    assert!(
        rest.contains("deploy-bot@"),
        "the account is shown: {rest:?}"
    );
    assert!(echo);
}

#[test]
fn arrow_keys_move_the_selection_and_enter_picks_it() {
    let env = three_accounts();
    let mut session = spawn(&env, &["show", "--json"], "");
    // Down, Down (as an application-mode terminal sends it), then Ctrl-P back up: the second.
    answer(&mut session, "3 of 3", "\x1b[B\x1bOB\x10\r");
    let (rest, status, _) = finish(session);
    assert_eq!(exited(status), Some(0), "{rest:?}");
    assert!(rest.contains("account: ci-bot"), "{rest:?}");
    assert!(rest.contains(r#""name": "ci-bot""#), "{rest:?}");
}

#[test]
fn ctrl_c_at_the_picker_exits_130_and_changes_nothing() {
    let env = three_accounts();
    let mut session = spawn(&env, &["disable"], "");
    answer(&mut session, "3 of 3", "ci");
    session.exp_string("1 of 3").expect("filtered");
    session.send_control('c').expect("^C");
    let (rest, status, echo) = finish(session);
    assert_eq!(exited(status), Some(130), "{rest:?}");
    assert!(echo, "echo and line editing are back");
    assert!(rest.contains("account: ci^C"), "{rest:?}");
    assert!(!rest.contains("error:"), "{rest:?}");
    // Esc cancels too, as a refused confirmation does.
    let mut session = spawn(&env, &["disable"], "");
    answer(&mut session, "3 of 3", "\x1b");
    let (rest, status, echo) = finish(session);
    assert_eq!(exited(status), Some(1), "{rest:?}");
    assert!(rest.contains("cancelled; nothing was changed"), "{rest:?}");
    assert!(echo);
    for account in env.json(&["list"]).as_array().unwrap() {
        assert_eq!(account["status"], "active");
    }
}

#[test]
fn every_command_missing_its_account_offers_the_pick() {
    let env = three_accounts();
    env.run(&["delete", "--yes", "billing-api"]).ok();
    // `sa undelete` offers the deleted accounts only.
    let mut session = spawn(&env, &["undelete"], "");
    answer(&mut session, "1 of 1", "\r");
    let (rest, status, _) = finish(session);
    assert_eq!(exited(status), Some(0), "{rest:?}");
    assert!(rest.contains("account: billing-api"), "{rest:?}");
    // ACCOUNT after another positional, and with a flag after it.
    let mut session = spawn(&env, &["role", "grant", "editor", "--org", "default"], "");
    answer(&mut session, "3 of 3", "ci-b\r");
    let (rest, status, _) = finish(session);
    assert_eq!(exited(status), Some(0), "{rest:?}");
    assert_eq!(env.json(&["show", "ci-bot"])["roles"][0], "editor");
}

#[test]
fn a_missing_account_without_a_terminal_is_a_usage_error() {
    let env = three_accounts();
    env.run(&["show"])
        .code(2)
        .error_contains("required arguments were not provided");
    // stdin from elsewhere, or stderr: no picker either.
    for redirect in ["</dev/null", "2>/dev/null"] {
        let session = spawn(&env, &["disable"], redirect);
        let (rest, status, _) = finish(session);
        assert_eq!(exited(status), Some(2), "{redirect}: {rest:?}");
        assert!(!rest.contains("3 of 3"), "{redirect}: {rest:?}");
    }
    // Under a token, whose permissions decide what may be listed.
    let session = spawn(&env, &["show", "--token-file", "/nonexistent"], "");
    let (rest, status, _) = finish(session);
    assert_eq!(exited(status), Some(2), "{rest:?}");
}

#[test]
fn nothing_to_pick_from_is_the_usage_error_with_a_hint() {
    let env = TestEnv::new();
    // No database: exit 3 as the command, and none is created.
    let (rest, status, _) = finish(spawn(&env, &["show"], ""));
    assert_eq!(exited(status), Some(3), "{rest:?}");
    assert!(!env.database_exists());
    env.init_db();
    let (rest, status, _) = finish(spawn(&env, &["show"], ""));
    assert_eq!(exited(status), Some(2), "{rest:?}");
    assert!(
        rest.contains(
            "hint: organization `default` has no accounts; create one with `sa create --name NAME`"
        ),
        "{rest:?}"
    );
    env.create("ci-bot");
    let (rest, status, _) = finish(spawn(&env, &["undelete"], ""));
    assert_eq!(exited(status), Some(2), "{rest:?}");
    assert!(rest.contains("has no deleted accounts"), "{rest:?}");
}
