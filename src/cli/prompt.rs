//! Questions on the terminal. They are asked on the terminal itself (`/dev/tty`), and only
//! when stdin is one: a script (stdin a pipe or a file) is never asked, and a destructive
//! command then needs `--yes`, failing with exit 2 before changing anything. With stderr
//! redirected (`2>log`) the question still reaches the person at the terminal.
//!
//! Answers are read a key at a time with the terminal's echo and signals off, so that:
//! nothing but the Enter key submits (typing `maybe` is not a `y`, and `yes⏎` leaves no `es`
//! behind in the shell); a secret is never echoed; Ctrl-C restores the terminal, prints a
//! newline and exits 130, never leaving echo off; Ctrl-D answers "no".

use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Read, Write};
use std::os::fd::AsRawFd;
use std::sync::Once;
use std::sync::atomic::{AtomicI32, Ordering};

use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The terminal, when a person is at it: stdin is a terminal and `/dev/tty` opens.
fn terminal() -> Option<File> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()
}

/// The fd of the terminal while a prompt holds it in raw mode, else -1: what the SIGCONT
/// handler puts back into raw mode after something else (`kill -TSTP`, then `fg`) stopped sa
/// and the shell restored the terminal's usual settings, which would echo a secret.
static RAW_FD: AtomicI32 = AtomicI32::new(-1);
static SIGCONT_HANDLER: Once = Once::new();

/// The settings a prompt reads under: echo, line editing and signal keys off.
fn raw_of(mut settings: libc::termios) -> libc::termios {
    settings.c_lflag &= !(libc::ECHO | libc::ICANON | libc::ISIG | libc::IEXTEN);
    settings.c_cc[libc::VMIN] = 1;
    settings.c_cc[libc::VTIME] = 0;
    settings
}

fn install_sigcont_handler() {
    // SAFETY: the action loads an atomic and calls tcgetattr/tcsetattr, which are
    // async-signal-safe; it allocates nothing and takes no lock. SIGCONT continues the
    // process whatever its handler does.
    let _ = unsafe {
        signal_hook::low_level::register(libc::SIGCONT, || {
            let fd = RAW_FD.load(Ordering::SeqCst);
            if fd >= 0 {
                let mut settings: libc::termios = std::mem::zeroed();
                if libc::tcgetattr(fd, &mut settings) == 0 {
                    libc::tcsetattr(fd, libc::TCSANOW, &raw_of(settings));
                }
            }
        })
    };
}

/// The terminal's settings, put back when dropped: on every return, error or panic.
struct RawMode<'a> {
    tty: &'a File,
    saved: libc::termios,
}

impl<'a> RawMode<'a> {
    fn enter(tty: &'a File) -> std::io::Result<Self> {
        let fd = tty.as_raw_fd();
        // SAFETY: a zeroed termios is a valid out-parameter; tcgetattr fills it for an open
        // terminal fd, and fails (checked) otherwise.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        SIGCONT_HANDLER.call_once(install_sigcont_handler);
        let mode = RawMode { tty, saved };
        mode.resume()?;
        Ok(mode)
    }

    /// Raw again, after [`RawMode::suspend`].
    fn resume(&self) -> std::io::Result<()> {
        let fd = self.tty.as_raw_fd();
        // SAFETY: settings read from this fd, with flags cleared.
        if unsafe { libc::tcsetattr(fd, libc::TCSAFLUSH, &raw_of(self.saved)) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        RAW_FD.store(fd, Ordering::SeqCst);
        Ok(())
    }

    /// The terminal as it was; `TCSANOW`, so that keys typed ahead reach the shell.
    fn suspend(&self) {
        RAW_FD.store(-1, Ordering::SeqCst);
        // SAFETY: puts back the settings read from the same fd in `enter`.
        unsafe {
            libc::tcsetattr(self.tty.as_raw_fd(), libc::TCSANOW, &self.saved);
        }
    }
}

impl Drop for RawMode<'_> {
    fn drop(&mut self) {
        self.suspend();
    }
}

/// What a person typed at a prompt.
enum Typed {
    Line(Zeroizing<String>),
    /// Ctrl-D on an empty line.
    End,
}

/// The longest answer taken: a token is about 60 bytes, a name 64. The line is sized to it
/// up front, so that no reallocation leaves a copy of a secret behind.
const MAX_ANSWER: usize = 1024;

/// Writes `prompt`, then reads one line a key at a time: echoed unless `secret` (then
/// nothing at all is shown), with Backspace, Ctrl-U and Ctrl-W; arrow and other escape keys
/// are ignored whole; Enter submits; Ctrl-Z suspends as usual and the prompt comes back on
/// `fg`; Ctrl-C is [`Error::Interrupted`], after the terminal is restored and the line ended.
fn read_line(tty: &File, prompt: &str, secret: bool) -> Result<Typed> {
    let io = |e| Error::io("cannot read the answer from the terminal", e);
    let show = |text: &str| {
        let mut out = tty;
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    };
    show(prompt);
    let raw = RawMode::enter(tty).map_err(io)?;
    let mut line = Zeroizing::new(String::with_capacity(MAX_ANSWER));
    let mut pending = Vec::with_capacity(4);
    // 0: text; 1: after ESC; 2: inside a control sequence (ESC [ … or ESC O …).
    let mut escape = 0u8;
    let mut input = tty;
    let echo = |text: &str| {
        if !secret {
            show(text);
        }
    };
    let outcome = loop {
        let mut byte = [0u8; 1];
        match input.read(&mut byte) {
            Ok(0) => break Ok(Typed::End),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(io(e)),
        }
        let b = byte[0];
        match escape {
            1 => {
                escape = if b == b'[' || b == b'O' { 2 } else { 0 };
                continue;
            }
            2 => {
                if (0x40..=0x7e).contains(&b) {
                    escape = 0;
                }
                continue;
            }
            _ => {}
        }
        match b {
            b'\r' | b'\n' => break Ok(Typed::Line(std::mem::take(&mut line))),
            0x03 => break Err(Error::Interrupted),
            0x04 if line.is_empty() => break Ok(Typed::End),
            0x1b => escape = 1,
            // Ctrl-Z: stop as the shell expects, the terminal as it was; raw again on `fg`.
            0x1a => {
                raw.suspend();
                show("\n");
                // SAFETY: raise(3) with a valid signal number.
                unsafe {
                    libc::raise(libc::SIGTSTP);
                }
                raw.resume().map_err(io)?;
                show(prompt);
                echo(&line);
            }
            0x7f | 0x08 => {
                if line.pop().is_some() {
                    echo("\x08 \x08");
                }
            }
            // Ctrl-U: the whole line; Ctrl-W: the last word.
            0x15 | 0x17 => {
                let keep = if b == 0x17 {
                    line.trim_end().rfind(' ').map_or(0, |i| i + 1)
                } else {
                    0
                };
                while line.len() > keep {
                    line.pop();
                    echo("\x08 \x08");
                }
            }
            b if b < 0x20 => {}
            b => {
                pending.push(b);
                match std::str::from_utf8(&pending) {
                    Ok(text) => {
                        if line.len() + text.len() <= MAX_ANSWER {
                            line.push_str(text);
                            echo(text);
                        }
                        pending.clear();
                    }
                    // Not UTF-8 (rather than not yet complete): dropped, not kept to spoil
                    // the next keys.
                    Err(e) if e.error_len().is_some() => pending.clear(),
                    Err(_) => {}
                }
            }
        }
    };
    drop(raw);
    // End the line the answer was typed on, whatever ended it.
    show(if matches!(outcome, Err(Error::Interrupted)) {
        "^C\n"
    } else {
        "\n"
    });
    outcome
}

/// Asks "`question`? [y/N]" unless `yes`; only `y` or `yes` then Enter confirms, anything else
/// is [`Error::Cancelled`].
pub fn confirm(question: &str, yes: bool) -> Result<()> {
    if yes {
        return Ok(());
    }
    let Some(tty) = terminal() else {
        return Err(Error::ConfirmationRequired {
            action: question.to_string(),
        });
    };
    match read_line(&tty, &format!("{question}? [y/N] "), false)? {
        Typed::Line(answer) if matches!(answer.trim().to_lowercase().as_str(), "y" | "yes") => {
            Ok(())
        }
        _ => Err(Error::Cancelled),
    }
}

/// Asks for `expected` to be typed back (as `gh repo delete` asks for the repository's
/// name) unless `yes`: for what cannot be taken back lightly.
pub fn confirm_by_typing(question: &str, expected: &str, yes: bool) -> Result<()> {
    if yes {
        return Ok(());
    }
    let Some(tty) = terminal() else {
        return Err(Error::ConfirmationRequired {
            action: question.to_string(),
        });
    };
    match read_line(
        &tty,
        &format!("{question}? Type `{expected}` to confirm: "),
        false,
    )? {
        Typed::Line(answer) if answer.trim() == expected => Ok(()),
        _ => Err(Error::Cancelled),
    }
}

/// Reads a token on the terminal, not shown, when a person is at one; `None` otherwise (the
/// token is then read from stdin).
pub fn read_secret(what: &str) -> Result<Option<Zeroizing<String>>> {
    let Some(tty) = terminal() else {
        return Ok(None);
    };
    match read_line(&tty, &format!("{what} (not shown): "), true)? {
        Typed::Line(line) => Ok(Some(line)),
        Typed::End => Ok(Some(Zeroizing::new(String::new()))),
    }
}
