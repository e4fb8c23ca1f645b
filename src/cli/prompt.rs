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

/// The terminal's settings, put back when dropped: on every return, error or panic.
struct RawMode<'a> {
    tty: &'a File,
    saved: libc::termios,
}

impl<'a> RawMode<'a> {
    /// Echo, line editing and signal keys off: sa reads each key and decides.
    fn enter(tty: &'a File) -> std::io::Result<Self> {
        let fd = tty.as_raw_fd();
        // SAFETY: a zeroed termios is a valid out-parameter; tcgetattr fills it for an open
        // terminal fd, and fails (checked) otherwise.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut raw = saved;
        raw.c_lflag &= !(libc::ECHO | libc::ICANON | libc::ISIG | libc::IEXTEN);
        raw.c_cc[libc::VMIN] = 1;
        raw.c_cc[libc::VTIME] = 0;
        // SAFETY: `raw` is a termios read from this fd, with flags cleared.
        if unsafe { libc::tcsetattr(fd, libc::TCSAFLUSH, &raw) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(RawMode { tty, saved })
    }
}

impl Drop for RawMode<'_> {
    fn drop(&mut self) {
        // SAFETY: puts back the settings read from the same fd in `enter`.
        unsafe {
            libc::tcsetattr(self.tty.as_raw_fd(), libc::TCSAFLUSH, &self.saved);
        }
    }
}

/// What a person typed at a prompt.
enum Typed {
    Line(Zeroizing<String>),
    /// Ctrl-D on an empty line.
    End,
}

/// Writes `prompt`, then reads one line a key at a time: echoed unless `secret` (then
/// nothing at all is shown), with Backspace, Ctrl-U and Ctrl-W; Enter submits; Ctrl-C is
/// [`Error::Interrupted`], after the terminal is restored and the line ended.
fn read_line(tty: &File, prompt: &str, secret: bool) -> Result<Typed> {
    let io = |e| Error::io("cannot read the answer from the terminal", e);
    let mut out = tty;
    out.write_all(prompt.as_bytes()).map_err(io)?;
    out.flush().map_err(io)?;
    let raw = RawMode::enter(tty).map_err(io)?;
    let mut line = Zeroizing::new(String::new());
    let mut pending = Vec::with_capacity(4);
    let mut input = tty;
    let outcome = loop {
        let mut byte = [0u8; 1];
        match input.read(&mut byte) {
            Ok(0) => break Ok(Typed::End),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(io(e)),
        }
        let echo = |text: &str| {
            if !secret {
                let mut out = tty;
                let _ = out.write_all(text.as_bytes());
                let _ = out.flush();
            }
        };
        match byte[0] {
            b'\r' | b'\n' => break Ok(Typed::Line(std::mem::take(&mut line))),
            0x03 => break Err(Error::Interrupted),
            0x04 if line.is_empty() => break Ok(Typed::End),
            0x7f | 0x08 => {
                if line.pop().is_some() {
                    echo("\x08 \x08");
                }
            }
            // Ctrl-U: the whole line; Ctrl-W: the last word.
            0x15 | 0x17 => {
                let keep = if byte[0] == 0x17 {
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
                if let Ok(text) = std::str::from_utf8(&pending) {
                    line.push_str(text);
                    echo(text);
                    pending.clear();
                } else if pending.len() >= 4 {
                    pending.clear();
                }
            }
        }
    };
    drop(raw);
    // End the line the answer was typed on, whatever ended it.
    let _ = out.write_all(if matches!(outcome, Err(Error::Interrupted)) {
        b"^C\n"
    } else {
        b"\n"
    });
    let _ = out.flush();
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
