//! Questions on the terminal. They are asked on the terminal itself (`/dev/tty`), and only
//! when stdin is one: a script (stdin a pipe or a file) is never asked, and a destructive
//! command then needs `--yes`, failing with exit 2 before changing anything. With stderr
//! redirected (`2>log`) the question still reaches the person at the terminal.
//!
//! Answers are read a key at a time with the terminal's echo and signals off, so that:
//! nothing but the Enter key submits (typing `maybe` is not a `y`, and `yes⏎` leaves no `es`
//! behind in the shell); a secret is never echoed; Ctrl-C restores the terminal, prints a
//! newline and exits 130, never leaving echo off; Ctrl-D answers "no".
//!
//! The [`Picker`] lets a person choose a name the command line left out from a list filtered
//! as they type, drawn below its line on the terminal and cleared after; it is offered only
//! when stderr is a terminal too.

use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Read, Write};
use std::os::fd::AsRawFd;
use std::sync::Once;
use std::sync::atomic::{AtomicI32, Ordering};

use unicode_width::UnicodeWidthStr;
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
        crate::cli::cleanup::restore_terminal_on_signal(fd, &self.saved);
        Ok(())
    }

    /// The terminal as it was; `TCSANOW`, so that keys typed ahead reach the shell.
    fn suspend(&self) {
        RAW_FD.store(-1, Ordering::SeqCst);
        crate::cli::cleanup::release_terminal();
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

/// One key, as the prompts see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Char(char),
    Enter,
    Backspace,
    /// Ctrl-U.
    ClearLine,
    /// Ctrl-W.
    DeleteWord,
    /// The Up arrow, or Ctrl-P.
    Up,
    /// The Down arrow, or Ctrl-N.
    Down,
    /// Esc alone, not the start of an arrow key's sequence.
    Escape,
    /// Ctrl-C.
    Interrupt,
    /// Ctrl-Z.
    Suspend,
    /// Ctrl-D.
    EndOfInput,
    /// The terminal is gone (a read of nothing).
    Closed,
    /// Any other control key or escape sequence (Left, Home, Delete, F1, Alt-x…), whole.
    Other,
}

/// How long the rest of an escape sequence may take after its Esc: a terminal sends an arrow
/// key's bytes together, so an Esc with nothing behind it is the Esc key itself.
const ESCAPE_WAIT_MS: i32 = 50;

/// The longest escape sequence read before giving up on its final byte.
const MAX_ESCAPE: usize = 32;

/// One byte from the terminal; `None` when it is gone.
fn read_byte(mut tty: &File) -> std::io::Result<Option<u8>> {
    let mut byte = [0u8; 1];
    loop {
        match tty.read(&mut byte) {
            Ok(0) => return Ok(None),
            Ok(_) => return Ok(Some(byte[0])),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Whether a byte arrives within `ms` milliseconds (0: is one waiting already).
fn input_within(tty: &File, ms: i32) -> bool {
    let mut poll = libc::pollfd {
        fd: tty.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for an open fd, and its count.
    unsafe { libc::poll(&mut poll, 1, ms) > 0 }
}

/// Reads one key: control keys by their byte, arrow keys and other escape sequences whole
/// (`ESC [ … final` or `ESC O final`), text a whole UTF-8 character at a time (a byte that
/// cannot start or continue one is dropped, not kept to spoil the next keys).
fn read_key(tty: &File) -> std::io::Result<Key> {
    let Some(byte) = read_byte(tty)? else {
        return Ok(Key::Closed);
    };
    Ok(match byte {
        b'\r' | b'\n' => Key::Enter,
        0x03 => Key::Interrupt,
        0x04 => Key::EndOfInput,
        0x0e => Key::Down,
        0x10 => Key::Up,
        0x15 => Key::ClearLine,
        0x17 => Key::DeleteWord,
        0x1a => Key::Suspend,
        0x7f | 0x08 => Key::Backspace,
        0x1b if !input_within(tty, ESCAPE_WAIT_MS) => Key::Escape,
        0x1b => match read_byte(tty)? {
            Some(b'[' | b'O') => {
                // Parameters (`1;5` in Ctrl-Up's `ESC [ 1 ; 5 A`), then the final byte.
                let mut key = Key::Other;
                for _ in 0..MAX_ESCAPE {
                    match read_byte(tty)? {
                        Some(b'A') => key = Key::Up,
                        Some(b'B') => key = Key::Down,
                        Some(0x40..=0x7e) | None => {}
                        Some(_) => continue,
                    }
                    break;
                }
                key
            }
            // Alt and a key: the key is not text.
            _ => Key::Other,
        },
        b if b < 0x20 => Key::Other,
        b if b.is_ascii() => Key::Char(char::from(b)),
        b => {
            let len = match b {
                0xc2..=0xdf => 2,
                0xe0..=0xef => 3,
                0xf0..=0xf4 => 4,
                _ => return Ok(Key::Other),
            };
            let mut bytes = [b, 0, 0, 0];
            for slot in &mut bytes[1..len] {
                match read_byte(tty)? {
                    Some(next @ 0x80..=0xbf) => *slot = next,
                    _ => return Ok(Key::Other),
                }
            }
            std::str::from_utf8(&bytes[..len])
                .ok()
                .and_then(|text| text.chars().next())
                .map_or(Key::Other, Key::Char)
        }
    })
}

/// Ctrl-Z: stops as the shell expects, the terminal as it was; raw again on `fg`.
fn stop(raw: &RawMode<'_>) -> std::io::Result<()> {
    raw.suspend();
    // SAFETY: raise(3) with a valid signal number.
    unsafe {
        libc::raise(libc::SIGTSTP);
    }
    raw.resume()
}

/// Writes `text` on the terminal; a prompt that cannot be shown is still answered.
fn show(mut tty: &File, text: &str) {
    let _ = tty.write_all(text.as_bytes());
    let _ = tty.flush();
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
    show(tty, prompt);
    let raw = RawMode::enter(tty).map_err(io)?;
    let mut line = Zeroizing::new(String::with_capacity(MAX_ANSWER));
    let echo = |text: &str| {
        if !secret {
            show(tty, text);
        }
    };
    let outcome = loop {
        let key = match read_key(tty) {
            Ok(key) => key,
            Err(e) => break Err(io(e)),
        };
        match key {
            Key::Enter => break Ok(Typed::Line(std::mem::take(&mut line))),
            Key::Interrupt => break Err(Error::Interrupted),
            Key::Closed => break Ok(Typed::End),
            Key::EndOfInput if line.is_empty() => break Ok(Typed::End),
            Key::Suspend => {
                show(tty, "\n");
                if let Err(e) = stop(&raw) {
                    break Err(io(e));
                }
                show(tty, prompt);
                echo(&line);
            }
            Key::Backspace => {
                if line.pop().is_some() {
                    echo("\x08 \x08");
                }
            }
            // Ctrl-U: the whole line; Ctrl-W: the last word.
            Key::ClearLine | Key::DeleteWord => {
                let keep = if key == Key::DeleteWord {
                    line.trim_end().rfind(' ').map_or(0, |i| i + 1)
                } else {
                    0
                };
                while line.len() > keep {
                    line.pop();
                    echo("\x08 \x08");
                }
            }
            Key::Char(c) => {
                if line.len() + c.len_utf8() <= MAX_ANSWER {
                    line.push(c);
                    echo(c.encode_utf8(&mut [0; 4]));
                }
            }
            Key::EndOfInput | Key::Up | Key::Down | Key::Escape | Key::Other => {}
        }
    };
    drop(raw);
    // End the line the answer was typed on, whatever ended it.
    show(
        tty,
        if matches!(outcome, Err(Error::Interrupted)) {
            "^C\n"
        } else {
            "\n"
        },
    );
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

/// How many candidates the picker shows at once (fewer on a short terminal).
const PICK_ROWS: usize = 10;

/// The longest filter taken: an account name is at most 64 characters, so a longer filter
/// matches nothing.
const MAX_FILTER: usize = 64;

/// The picker's terminal: where a required name missing from the command line may be picked
/// from a list instead. Offered only when stdin and stderr are both terminals: a script, or
/// a command whose messages go to a file (`2>log`), gets the usage error it always got.
pub struct Picker {
    tty: File,
}

impl Picker {
    /// The terminal, when a person is at it; `None` otherwise.
    pub fn open() -> Option<Picker> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        terminal().map(|tty| Picker { tty })
    }

    /// Shows `names` (in the order given) under a `label: ` line where typing filters them,
    /// best matches first ([`rank`]); Up and Down (or Ctrl-P and Ctrl-N) move the selection,
    /// Enter picks it. Esc or Ctrl-D is [`Error::Cancelled`], Ctrl-C [`Error::Interrupted`];
    /// Ctrl-Z suspends as usual. The list is drawn below the line, redrawn in place and
    /// cleared at the end, whatever ended it, and fits the terminal's width (a long name is
    /// cut with `…`), so nothing wraps.
    pub fn pick<'n>(&self, label: &str, names: &'n [String]) -> Result<&'n str> {
        let io = |e| Error::io("cannot read the answer from the terminal", e);
        let tty = &self.tty;
        let raw = RawMode::enter(tty).map_err(io)?;
        let mut list = Listing {
            query: String::new(),
            matches: (0..names.len()).collect(),
            filtered: true,
            selected: 0,
            top: 0,
        };
        let outcome = loop {
            // Keys typed or pasted ahead are taken before the list is filtered and drawn.
            if !input_within(tty, 0) {
                list.filter(names);
                self.draw(label, names, &mut list);
            }
            let key = match read_key(tty) {
                Ok(key) => key,
                Err(e) => break Err(io(e)),
            };
            match key {
                Key::Char(c) if !c.is_control() && list.query.chars().count() < MAX_FILTER => {
                    list.edit(|query| query.push(c));
                }
                Key::Backspace => list.edit(|query| {
                    query.pop();
                }),
                Key::ClearLine => list.edit(String::clear),
                Key::DeleteWord => list.edit(|query| {
                    let trimmed = query.trim_end_matches(|c: char| !c.is_alphanumeric());
                    let keep = trimmed
                        .rfind(|c: char| !c.is_alphanumeric())
                        .map_or(0, |i| i + 1);
                    query.truncate(keep);
                }),
                Key::Up => {
                    list.filter(names);
                    list.selected = list.selected.saturating_sub(1);
                }
                Key::Down => {
                    list.filter(names);
                    if list.selected + 1 < list.matches.len() {
                        list.selected += 1;
                    }
                }
                Key::Enter => {
                    list.filter(names);
                    if let Some(&picked) = list.matches.get(list.selected) {
                        break Ok(names[picked].as_str());
                    }
                }
                Key::Escape | Key::EndOfInput | Key::Closed => break Err(Error::Cancelled),
                Key::Interrupt => break Err(Error::Interrupted),
                Key::Suspend => {
                    // The shell's prompt, and the job's `fg`, go where the list was.
                    show(tty, "\r\x1b[J");
                    if let Err(e) = stop(&raw) {
                        break Err(io(e));
                    }
                }
                Key::Char(_) | Key::Other => {}
            }
        };
        // The list goes; after Ctrl-C the line stays, ended as the other prompts end theirs.
        show(tty, "\r\x1b[J");
        if matches!(outcome, Err(Error::Interrupted)) {
            let width = size(tty).0.saturating_sub(3).max(1);
            show(tty, &format!("{}^C\r\n", list.query_line(label, width)));
        }
        drop(raw);
        outcome
    }

    /// Draws the filter line and the visible part of the list below it, and leaves the cursor
    /// at the end of the filter.
    fn draw(&self, label: &str, names: &[String], list: &mut Listing) {
        let (width, height) = size(&self.tty);
        // The last column stays empty: writing into it wraps on some terminals.
        let width = width.saturating_sub(1).max(1);
        let rows = PICK_ROWS.min(height.saturating_sub(2)).max(1);
        if list.selected < list.top {
            list.top = list.selected;
        } else if list.selected >= list.top + rows {
            list.top = list.selected + 1 - rows;
        }
        let line = list.query_line(label, width);
        let mut frame = format!("\r\x1b[J{line}");
        let shown = list.matches.iter().enumerate().skip(list.top).take(rows);
        let mut below = 0;
        for (at, &index) in shown {
            let name: String = names[index]
                .chars()
                .map(|c| if c.is_control() { '?' } else { c })
                .collect();
            let entry = fit(&format!("  {name}"), width);
            if at == list.selected {
                // Marked without colour as well (NO_COLOR, a monochrome terminal).
                let entry = entry.strip_prefix("  ").unwrap_or(&entry);
                frame.push_str(&format!("\r\n\x1b[7m> {entry}\x1b[0m"));
            } else {
                frame.push_str(&format!("\r\n{entry}"));
            }
            below += 1;
        }
        let status = if list.matches.is_empty() {
            format!("  no match among {}", names.len())
        } else {
            format!(
                "  {} of {}: type to filter, ↑/↓ to move, Enter to pick, Esc to cancel",
                list.matches.len(),
                names.len()
            )
        };
        frame.push_str(&format!("\r\n{}", fit(&status, width)));
        below += 1;
        frame.push_str(&format!("\x1b[{below}A\r"));
        let column = line.width();
        if column > 0 {
            frame.push_str(&format!("\x1b[{column}C"));
        }
        show(&self.tty, &frame);
    }
}

/// The picker's state: the filter typed, the matching names best first, which is selected,
/// and the first one shown.
struct Listing {
    query: String,
    /// Indexes into the names.
    matches: Vec<usize>,
    /// Whether `matches` are those of `query`; filtering waits until no key is pending.
    filtered: bool,
    selected: usize,
    top: usize,
}

impl Listing {
    fn edit(&mut self, change: impl FnOnce(&mut String)) {
        change(&mut self.query);
        self.filtered = false;
    }

    fn filter(&mut self, names: &[String]) {
        if self.filtered {
            return;
        }
        self.matches = best_first(names, &self.query);
        self.filtered = true;
        self.selected = 0;
        self.top = 0;
    }

    /// `label: filter` in `width` columns; when too long, the filter's start gives way, so
    /// that what was typed last stays in view.
    fn query_line(&self, label: &str, width: usize) -> String {
        let line = format!("{label}: {}", self.query);
        if line.width() <= width {
            return line;
        }
        let room = width.saturating_sub(label.width() + 3);
        let mut tail = String::new();
        for c in self.query.chars().rev() {
            if tail.width() + c.to_string().width() > room {
                break;
            }
            tail.insert(0, c);
        }
        fit(&format!("{label}: …{tail}"), width)
    }
}

/// `text` in at most `width` columns, cut with `…`.
fn fit(text: &str, width: usize) -> String {
    crate::cli::table::cut_to(text, width).into_owned()
}

/// The terminal's width and height, in columns and rows; 80×24 when it does not say.
fn size(tty: &File) -> (usize, usize) {
    // SAFETY: a zeroed winsize is a valid out-parameter for TIOCGWINSZ on an open fd; the
    // call fails (checked) on anything but a terminal.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    let known = unsafe { libc::ioctl(tty.as_raw_fd(), libc::TIOCGWINSZ, &mut size) } == 0;
    let or = |value: u16, default: usize| {
        if known && value > 0 {
            usize::from(value)
        } else {
            default
        }
    };
    (or(size.ws_col, 80), or(size.ws_row, 24))
}

/// The indexes of the names matching `query`, best first ([`rank`]); names that rank
/// equally keep their order. Every name, in order, for an empty query.
fn best_first(names: &[String], query: &str) -> Vec<usize> {
    if query.is_empty() {
        return (0..names.len()).collect();
    }
    let query = query.to_lowercase();
    let mut ranked: Vec<(Rank, usize)> = names
        .iter()
        .enumerate()
        .filter_map(|(index, name)| rank(name, &query).map(|rank| (rank, index)))
        .collect();
    // Stable: names that rank equally stay in the order given (by name).
    ranked.sort_by_key(|&(rank, _)| rank);
    ranked.into_iter().map(|(_, index)| index).collect()
}

/// How well a name matches a filter; the lower, the better (fields compared in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Rank {
    /// 0 the whole name; 1 its start; 2 the start of a word in it (after `-`, `_`, `.`);
    /// 3 elsewhere in one piece; 4 spread out.
    class: u8,
    /// How many characters of the name the match covers: the tighter, the better.
    span: usize,
    /// Where it starts: the earlier, the better.
    start: usize,
    /// The name's length: the shorter, the closer.
    length: usize,
}

/// How `name` matches `query` (lowercase): `None` unless the query's characters all occur
/// in the name in order, case-insensitively (a fuzzy subsequence match, as fzf's). Of the
/// ways it occurs, the best [`Rank`] counts.
fn rank(name: &str, query: &str) -> Option<Rank> {
    let fold = |c: char| c.to_lowercase().next().unwrap_or(c);
    let mut wanted = query.chars();
    let first = wanted.next()?;
    let query_length = query.chars().count();
    let length = name.chars().count();
    let mut best: Option<Rank> = None;
    let mut before: Option<char> = None;
    for (start, (at, c)) in name.char_indices().enumerate() {
        let previous = before.replace(c);
        if fold(c) != first {
            continue;
        }
        // The tightest match from here: each next query character at its first occurrence.
        let mut rest = wanted.clone().peekable();
        let mut span = 1;
        for (offset, c) in name[at..].chars().enumerate().skip(1) {
            let Some(&next) = rest.peek() else { break };
            if fold(c) == next {
                rest.next();
                span = offset + 1;
            }
        }
        if rest.peek().is_some() {
            // Not from here, so not from any later start either.
            break;
        }
        let whole = span == query_length;
        let class = match previous {
            _ if !whole => 4,
            None if span == length => 0,
            None => 1,
            Some(p) if !p.is_alphanumeric() => 2,
            Some(_) => 3,
        };
        let candidate = Rank {
            class,
            span,
            start,
            length,
        };
        best = Some(best.map_or(candidate, |b| b.min(candidate)));
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names matching `query`, best first.
    fn picked<'a>(names: &[&'a str], query: &str) -> Vec<&'a str> {
        let owned: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        best_first(&owned, query)
            .into_iter()
            .map(|i| names[i])
            .collect()
    }

    #[test]
    fn a_filter_matches_its_characters_in_order_whatever_their_case() {
        let names = ["billing-api", "ci-bot", "deploy-bot", "robot"];
        assert_eq!(picked(&names, "cbt"), ["ci-bot"]);
        assert_eq!(picked(&names, "CI"), ["ci-bot"]);
        assert_eq!(picked(&names, "tb"), Vec::<&str>::new(), "in order only");
        assert_eq!(picked(&names, "xyz"), Vec::<&str>::new());
        assert_eq!(picked(&names, ""), names, "no filter: all, in order");
        assert_eq!(picked(&names, "ci-bot-and-more"), Vec::<&str>::new());
    }

    #[test]
    fn whole_name_then_start_then_word_then_inside_then_spread() {
        let names = ["a-bxoxt", "abot", "bot", "bot-2", "my-bot", "robot"];
        assert_eq!(
            picked(&names, "bot"),
            ["bot", "bot-2", "my-bot", "abot", "robot", "a-bxoxt"]
        );
    }

    #[test]
    fn a_tighter_spread_ranks_before_a_looser_one() {
        let names = ["c-x-x-x-b", "ci-bot", "cxb"];
        // `cxb` holds `cb` spread over 3 characters, `ci-bot` over 4, `c-x-x-x-b` over 9.
        assert_eq!(picked(&names, "cb"), ["cxb", "ci-bot", "c-x-x-x-b"]);
        // The tightest occurrence counts, not the first: `c…b` late in the name.
        assert_eq!(
            picked(&["cxxxxxb-cb", "cxxb"], "cb"),
            ["cxxxxxb-cb", "cxxb"]
        );
    }

    #[test]
    fn equal_matches_rank_the_earlier_then_the_shorter_then_keep_their_order() {
        let names = ["ab-ci", "b-ci", "x-ci", "xx-ci"];
        assert_eq!(picked(&names, "ci"), ["b-ci", "x-ci", "ab-ci", "xx-ci"]);
        let names = ["bot-b", "bot-a"];
        assert_eq!(picked(&names, "bot"), ["bot-b", "bot-a"], "order kept");
    }

    #[test]
    fn any_text_ranks_without_panicking() {
        let names = ["日本語-bot", "émile", "a\u{301}b"];
        assert_eq!(picked(&names, "本b"), ["日本語-bot"]);
        assert_eq!(picked(&names, "ÉM"), ["émile"]);
        assert_eq!(picked(&names, "\u{301}"), ["a\u{301}b"]);
    }

    #[test]
    fn a_hundred_thousand_names_filter_at_once() {
        let names: Vec<String> = (0..100_000).map(|n| format!("svc-{n:06}-bot")).collect();
        let started = std::time::Instant::now();
        let found = best_first(&names, "9999");
        // In one piece, earliest, first; then spread out (`svc-099099-bot`).
        assert_eq!(names[found[0]], "svc-099990-bot");
        assert_eq!(found.len(), 46, "numbers with four 9s among five digits");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
}
