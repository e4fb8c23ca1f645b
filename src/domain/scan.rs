//! `sa scan`: tokens found in text by their shape and confirmed by their checksum, what each
//! one found is now (live, expired, revoked, paused, or unknown to this database), and the
//! revocation of the live ones as leaked.
//!
//! The matcher looks for the `_` between a token's prefix and its id (memchr, SIMD), checks
//! the fixed layout around it (12 letters or digits, `_`, 38 more), then the CRC32 checksum
//! over prefix, id, `_` and secret. The checksum covers the prefix, so any syntactically
//! valid prefix is tried, and every prefix `tokens.prefix` has ever had is recognised without
//! a list of them; a run that merely looks like a token fails the checksum (1 chance in
//! 62^6 ≈ 5.7 × 10^10). Nothing found keeps the secret: a [`Found`] holds the prefix and the
//! token id, and the bytes it was read from belong to the caller's buffer.
//!
//! Input is read in chunks into one reused buffer, keeping only the bytes a token starting
//! near the end of a chunk could need, so a huge file or a minified line of any length takes
//! flat memory. Lines are counted from 1; a column is the byte offset of the token's first
//! character in its line, from 1.

use std::collections::BTreeMap;
use std::io::{self, Read};

use chrono::{DateTime, Utc};

use crate::domain::token_format::{CHECKSUM_LEN, ID_LEN, SECRET_LEN, TokenId, checksum_matches};
use crate::domain::{Context, tokens};
use crate::error::Result;
use crate::store::{AccountStatus, Store, StoredStatus, Token};

/// The longest prefix body before its `_` (`tokens.prefix` is 1–16 characters and `_`).
const MAX_PREFIX: usize = 16;
/// From the prefix's `_` to the token's end: `_`, id, `_`, secret, checksum.
const AFTER_ANCHOR: usize = 1 + ID_LEN + 1 + SECRET_LEN + CHECKSUM_LEN;
/// How much is read at a time.
pub const CHUNK: usize = 256 * 1024;
/// A file with a NUL byte in its first 8 KiB is binary and skipped, as ripgrep does.
pub const BINARY_PROBE: usize = 8 * 1024;

/// A token found in text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// From 1.
    pub line: u64,
    /// The byte offset of the token's first character in its line, from 1.
    pub column: u64,
    /// The token's prefix, with its `_` (`sa_`).
    pub prefix: String,
    pub id: TokenId,
}

impl Found {
    /// The token as it may be shown: prefix and id, the secret masked (`sa_3kT9xQ2mPz7L_***`),
    /// as error messages mask a token typed by mistake.
    pub fn masked(&self) -> String {
        format!("{}{}_***", self.prefix, self.id)
    }
}

/// What a scanned stream turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scanned {
    Text,
    /// A NUL byte in the first [`BINARY_PROBE`] bytes: not searched.
    Binary,
}

/// Letters and digits, the characters of a token's id, secret and checksum.
const fn alnum_table() -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    table
}
static ALNUM: [bool; 256] = alnum_table();

fn prefix_char(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// A token whose prefix's `_` is at `buf[u]`: where it starts, or `None`. The caller makes
/// sure `buf` goes on one byte past the token, unless it ends at the end of the input.
///
/// Layout after `u`: id, `_`, secret and checksum, and then no letter or digit (a longer run
/// is something else). Before `u`: the prefix, 1–16 small letters and digits starting with a
/// letter. Whatever stands before the prefix does not matter (`SA_TOKEN_sa_…` and `xsa_…` hold
/// the token `sa_…`): each prefix the run before `u` could end with is tried, the longest
/// first, and the checksum decides.
fn token_at(buf: &[u8], u: usize) -> Option<usize> {
    let end = u + AFTER_ANCHOR;
    if end > buf.len() || buf[u + 1 + ID_LEN] != b'_' {
        return None;
    }
    let alnum = |range: std::ops::Range<usize>| buf[range].iter().all(|&b| ALNUM[usize::from(b)]);
    if !alnum(u + 1..u + 1 + ID_LEN) || !alnum(u + 2 + ID_LEN..end) {
        return None;
    }
    if buf.get(end).is_some_and(|&b| ALNUM[usize::from(b)]) {
        return None;
    }
    let run = buf[u.saturating_sub(MAX_PREFIX)..u]
        .iter()
        .rev()
        .take_while(|&&b| prefix_char(b))
        .count();
    let sum_at = end - CHECKSUM_LEN;
    (1..=run)
        .rev()
        .map(|len| u - len)
        .filter(|&start| buf[start].is_ascii_lowercase())
        .find(|&start| checksum_matches(&buf[start..sum_at], &buf[sum_at..end]))
}

/// Calls `each(start, anchor)` for the tokens whose prefix's `_` lies in `buf[from..limit]`;
/// returns where the next search starts (past the last token found, else `limit`).
fn find_tokens(buf: &[u8], from: usize, limit: usize, each: &mut dyn FnMut(usize, usize)) -> usize {
    let mut at = from;
    while at < limit {
        let Some(offset) = memchr::memchr(b'_', &buf[at..limit]) else {
            return limit;
        };
        let u = at + offset;
        match token_at(buf, u) {
            Some(start) => {
                each(start, u);
                at = u + AFTER_ANCHOR;
            }
            None => at = u + 1,
        }
    }
    at
}

/// The [`Found`] for a token starting at `buf[start]` with its prefix's `_` at `buf[u]`.
fn found_at(buf: &[u8], start: usize, u: usize, line: u64, column: u64) -> Found {
    // The matcher accepted only ASCII letters, digits and `_` here.
    let text = |range: std::ops::Range<usize>| String::from_utf8_lossy(&buf[range]).into_owned();
    Found {
        line,
        column,
        prefix: text(start..u + 1),
        id: TokenId::parse(&text(u + 1..u + 1 + ID_LEN))
            .expect("the matcher accepted 12 letters and digits as the id"),
    }
}

/// Reads until `buf[..want]` is full or the input ends; returns how much `buf` holds.
fn fill(reader: &mut dyn Read, buf: &mut [u8], mut len: usize, want: usize) -> io::Result<usize> {
    while len < want {
        match reader.read(&mut buf[len..want]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(len)
}

/// Where a stream's lines are: newlines counted up to a point, lazily (only a token's
/// position needs its line).
struct Lines {
    /// Newlines before `counted`.
    newlines: u64,
    /// The stream offset of the current line's first byte.
    line_start: u64,
    /// Up to where, in the buffer, newlines are counted.
    counted: usize,
}

impl Lines {
    /// Counts the newlines of `buf[self.counted..to]` (`base`: the stream offset of `buf[0]`).
    fn count_to(&mut self, buf: &[u8], base: u64, to: usize) {
        if to <= self.counted {
            return;
        }
        for at in memchr::memchr_iter(b'\n', &buf[self.counted..to]) {
            self.newlines += 1;
            self.line_start = base + (self.counted + at + 1) as u64;
        }
        self.counted = to;
    }
}

/// Scans a stream: calls `each` with every token in it, in order. `buf` is reused between
/// calls (one per thread), so scanning many files allocates once.
pub fn scan_reader(
    reader: &mut dyn Read,
    buf: &mut Vec<u8>,
    each: &mut dyn FnMut(Found),
) -> io::Result<Scanned> {
    // Room for a chunk after the bytes kept from the one before (at most a token's worth).
    let room = CHUNK + MAX_PREFIX + AFTER_ANCHOR + 1;
    if buf.len() < room {
        buf.resize(room, 0);
    }
    let mut len = fill(reader, buf, 0, BINARY_PROBE)?;
    if memchr::memchr(0, &buf[..len]).is_some() {
        return Ok(Scanned::Binary);
    }
    let mut base = 0u64;
    let mut from = 0usize;
    let mut lines = Lines {
        newlines: 0,
        line_start: 0,
        counted: 0,
    };
    loop {
        len = fill(reader, buf, len, room)?;
        // `fill` stops short of `room` only at the end of the input.
        let at_end = len < room;
        // A token anchored before `limit` is judged whole, with the byte after it, or the
        // input has ended.
        let limit = if at_end {
            len
        } else {
            len.saturating_sub(AFTER_ANCHOR)
        };
        let found = &mut |start: usize, u: usize| {
            lines.count_to(buf, base, start);
            let column = (base + start as u64).saturating_sub(lines.line_start) + 1;
            each(found_at(buf, start, u, lines.newlines + 1, column));
        };
        from = find_tokens(buf, from, limit, found).max(from);
        if at_end {
            return Ok(Scanned::Text);
        }
        // Keep what a token anchored at `from` or later may need before it (its prefix).
        let keep = from.saturating_sub(MAX_PREFIX).min(len);
        lines.count_to(buf, base, keep);
        buf.copy_within(keep..len, 0);
        len -= keep;
        from -= keep;
        lines.counted -= keep;
        base += keep as u64;
    }
}

/// Scans one line already in memory (an added line of a diff), numbered `number`.
fn scan_line(line: &[u8], number: u64, each: &mut dyn FnMut(Found)) {
    find_tokens(line, 0, line.len(), &mut |start, u| {
        each(found_at(line, start, u, number, start as u64 + 1));
    });
}

/// `text` with the secret of every token in it masked (`sa_3kT9xQ2mPz7L_***`): for what a
/// scan shows besides its findings, such as a file named after a token.
pub fn mask_tokens(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    find_tokens(bytes, 0, bytes.len(), &mut |_, u| {
        let secret = u + 2 + ID_LEN;
        // Tokens are ASCII, so these are character boundaries.
        out.push_str(&text[copied..secret]);
        out.push_str("***");
        copied = u + AFTER_ANCHOR;
    });
    out.push_str(&text[copied..]);
    out
}

/// Scans the lines a unified diff adds (`git diff --cached -U0`): calls `each` with each
/// token found, the path of its file (as the diff names it, `b/` taken off) and its line
/// number in the new version. Removed and context lines are not scanned: a commit that
/// removes a token does not leak it. Returns how many files the diff adds to or creates.
pub fn scan_diff(diff: &[u8], each: &mut dyn FnMut(&[u8], Found)) -> u64 {
    let mut files = 0;
    let mut path: Option<Vec<u8>> = None;
    let mut in_hunk = false;
    let mut next_line = 0u64;
    for line in diff.split(|&b| b == b'\n') {
        if line.starts_with(b"diff ") {
            in_hunk = false;
            path = None;
        } else if line.starts_with(b"@@ ") {
            in_hunk = true;
            next_line = hunk_new_start(line).unwrap_or(1);
        } else if !in_hunk {
            if let Some(name) = line.strip_prefix(b"+++ ") {
                path = diff_path(name);
                files += u64::from(path.is_some());
            }
        } else {
            match line.first() {
                Some(b'+') => {
                    if let Some(path) = &path {
                        scan_line(&line[1..], next_line, &mut |found| each(path, found));
                    }
                    next_line += 1;
                }
                Some(b' ') => next_line += 1,
                _ => {}
            }
        }
    }
    files
}

/// The new version's first line in a hunk header: `@@ -3,2 +5,4 @@` → 5.
fn hunk_new_start(header: &[u8]) -> Option<u64> {
    let at = header.windows(2).position(|w| w == b" +")? + 2;
    let digits: Vec<u8> = header[at..]
        .iter()
        .copied()
        .take_while(u8::is_ascii_digit)
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

/// The path of a diff's `+++` line: `b/src/x.rs` → `src/x.rs`, a C-quoted one unquoted
/// (`"b/a\tb"`), `/dev/null` (a deleted file) none.
fn diff_path(name: &[u8]) -> Option<Vec<u8>> {
    let name = match name.strip_suffix(b"\r") {
        Some(trimmed) => trimmed,
        None => name,
    };
    // Git ends a name that holds a space with a tab, quoted or not (a name that itself ends
    // in a tab is quoted, the tab escaped).
    let name = name.strip_suffix(b"\t").unwrap_or(name);
    let name = if name.first() == Some(&b'"') {
        unquote(name)?
    } else {
        name.to_vec()
    };
    name.strip_prefix(b"b/").map(<[u8]>::to_vec)
}

/// Git's C-style quoting of unusual paths: `\t`, `\n`, `\"`, `\\`, and octal `\303\251`.
fn unquote(quoted: &[u8]) -> Option<Vec<u8>> {
    let inner = quoted.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    let mut out = Vec::with_capacity(inner.len());
    let mut bytes = inner.iter().copied();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let escaped = bytes.next()?;
        out.push(match escaped {
            b'a' => 7,
            b'b' => 8,
            b't' => b'\t',
            b'n' => b'\n',
            b'v' => 11,
            b'f' => 12,
            b'r' => b'\r',
            b'0'..=b'3' => {
                let mut value = u32::from(escaped - b'0');
                for _ in 0..2 {
                    let digit = bytes.next().filter(|d| (b'0'..=b'7').contains(d))?;
                    value = value * 8 + u32::from(digit - b'0');
                }
                u8::try_from(value).ok()?
            }
            other => other,
        });
    }
    Some(out)
}

/// What a token found in a scan is, as of now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LeakStatus {
    /// It would verify now: active, unexpired, its account active.
    Live,
    Expired,
    /// Revoked, or its account deleted.
    Revoked,
    /// Paused (`sa token disable`), or its account disabled: it can work again.
    Paused,
    /// Not a token of this database's organization: another database's, another
    /// organization's, pruned, or never minted.
    Unknown,
}

impl LeakStatus {
    /// The stable name in `sa scan`'s output.
    pub fn as_str(self) -> &'static str {
        match self {
            LeakStatus::Live => "live",
            LeakStatus::Expired => "expired",
            LeakStatus::Revoked => "revoked",
            LeakStatus::Paused => "paused",
            LeakStatus::Unknown => "unknown",
        }
    }
}

/// The status of a found token, `None` when the organization has no such token; judged in
/// the order `sa token verify` gives its reasons (revoked, expired, then paused).
pub fn leak_status(token: Option<&Token>, now: DateTime<Utc>) -> LeakStatus {
    let Some(token) = token else {
        return LeakStatus::Unknown;
    };
    if token.status == StoredStatus::Revoked || token.account_status == AccountStatus::Deleted {
        LeakStatus::Revoked
    } else if token.expires_at.is_some_and(|at| at <= now) {
        LeakStatus::Expired
    } else if token.status == StoredStatus::Disabled
        || token.account_status == AccountStatus::Disabled
    {
        LeakStatus::Paused
    } else {
        LeakStatus::Live
    }
}

/// The organization's tokens among `ids`, read in one transaction, each by its primary key
/// (so a scan costs O(k log n) for k tokens found); an id the organization does not have is
/// left out. The secret is not checked against the stored hash: the token id and checksum say
/// which token leaked, and whether its secret is the right one changes nothing about what to
/// do (docs/decisions.md).
pub fn look_up(
    store: &mut Store,
    ctx: &Context<'_>,
    ids: &[TokenId],
) -> Result<BTreeMap<TokenId, Token>> {
    store.read(|tx| {
        let mut known = BTreeMap::new();
        for id in ids {
            if let Some(token) = tx.find_token(ctx.org.as_str(), id.as_str())? {
                known.insert(id.clone(), token);
            }
        }
        Ok(known)
    })
}

/// A live token found by a scan, and where (`FILE:LINE`, its first place).
#[derive(Debug, Clone)]
pub struct Leak {
    pub id: TokenId,
    pub location: String,
}

/// The longest location kept in an audit event.
const MAX_LOCATION: usize = 500;

/// A location as an audit event may hold it: control characters escaped, anything shaped
/// like a secret masked (a file named after a token), bounded.
fn audit_safe(location: &str) -> String {
    let escaped: String = location
        .chars()
        .flat_map(|c| {
            let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
            let shown: Vec<char> = if c.is_control() || bidi {
                c.escape_unicode().collect()
            } else {
                vec![c]
            };
            shown
        })
        .collect();
    let masked = if crate::domain::token_format::contains_token(&escaped) {
        crate::domain::token_format::redact(&escaped)
    } else {
        escaped
    };
    if masked.chars().count() <= MAX_LOCATION {
        return masked;
    }
    let cut: String = masked.chars().take(MAX_LOCATION - 1).collect();
    format!("{cut}…")
}

/// Revokes, in one transaction, each of `leaks` that is still live in it, each with a
/// `token.revoke` event whose details say `reason=leaked` and `location=FILE:LINE`. A token
/// that stopped being live since the scan looked (revoked, paused or expired meanwhile) is
/// left as it is. Returns the tokens revoked, as they are now.
pub fn revoke_leaked(store: &mut Store, ctx: &Context<'_>, leaks: &[Leak]) -> Result<Vec<Token>> {
    store.write(|tx| {
        let mut revoked = Vec::new();
        for leak in leaks {
            let Some(token) = tx.find_token(ctx.org.as_str(), leak.id.as_str())? else {
                continue;
            };
            if leak_status(Some(&token), ctx.now) != LeakStatus::Live {
                continue;
            }
            let details = [
                ("reason", "leaked".to_string()),
                ("location", audit_safe(&leak.location)),
            ];
            tokens::revoke_in(tx, ctx, &token, &details)?;
            if let Some(now) = tx.find_token(ctx.org.as_str(), leak.id.as_str())? {
                revoked.push(now);
            }
        }
        Ok(revoked)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::token_format::generate;

    /// Every token in `text`, as (line, column, masked).
    fn scan(text: &[u8]) -> Vec<(u64, u64, String)> {
        let mut out = Vec::new();
        let mut buf = Vec::new();
        let kind = scan_reader(&mut &text[..], &mut buf, &mut |f| {
            out.push((f.line, f.column, f.masked()))
        })
        .unwrap();
        assert_eq!(kind, Scanned::Text);
        out
    }

    fn token(prefix: &str) -> (String, String) {
        let new = generate(prefix).unwrap();
        (
            new.token.expose().to_string(),
            format!("{prefix}{}_***", new.id),
        )
    }

    #[test]
    fn a_token_is_found_where_it_stands() {
        let (t, masked) = token("sa_");
        for text in [
            t.clone(),                                          // alone, no newline
            format!("{t}\n"),                                   // file start
            format!("x\ny\nTOKEN={t}"),                         // file end, no newline
            format!("export SA_TOKEN=\"{t}\"\n"),               // a .env line
            format!("{{\"a\":1,\"token\":\"{t}\",\"b\":[2]}}"), // minified JSON
            format!("\tkey: '{t}' # comment\r\n"),
            format!("é\n\né{t}é"),   // columns count bytes
            format!("SA_TOKEN_{t}"), // glued after other text
            format!("url?t={t}&x=1"),
        ] {
            let at = text.find(&t).unwrap();
            let line = text[..at].matches('\n').count() as u64 + 1;
            let column = (at - text[..at].rfind('\n').map_or(0, |n| n + 1)) as u64 + 1;
            assert_eq!(
                scan(text.as_bytes()),
                [(line, column, masked.clone())],
                "{text}"
            );
        }
        assert_eq!(scan(format!("é\n\né{t}").as_bytes()), [(3, 3, masked)]);
    }

    #[test]
    fn any_valid_prefix_is_recognised_and_nothing_else() {
        for prefix in ["a_", "sa_", "acme2_", "abcdefghijklmnop_"] {
            let (t, masked) = token(prefix);
            assert_eq!(scan(t.as_bytes()), [(1, 1, masked.clone())], "{t}");
            // Letters and digits glued before the prefix: the checksum finds where it starts.
            assert_eq!(scan(format!("xy9{t}").as_bytes()), [(1, 4, masked)]);
        }
    }

    #[test]
    fn one_wrong_character_anywhere_is_no_token() {
        let (t, _) = token("sa_");
        for i in 0..t.len() {
            for replacement in [b'0', b'a', b'Z', b'_', b'-', b' '] {
                let mut bytes = t.clone().into_bytes();
                if bytes[i] == replacement {
                    continue;
                }
                bytes[i] = replacement;
                assert!(
                    scan(&bytes).is_empty(),
                    "{}",
                    String::from_utf8_lossy(&bytes)
                );
            }
        }
        // Cut short, or longer than a token.
        assert!(scan(&t.as_bytes()[..t.len() - 1]).is_empty());
        assert!(scan(format!("{t}x").as_bytes()).is_empty());
        assert!(scan(format!("{t}9").as_bytes()).is_empty());
    }

    #[test]
    fn token_shaped_text_without_a_checksum_is_ignored() {
        let shaped = format!("sa_{}_{}", "A1".repeat(6), "b2".repeat(19));
        assert!(scan(shaped.as_bytes()).is_empty());
        assert!(scan(b"snake_case_names_and__double___underscores_").is_empty());
        assert!(scan(b"").is_empty());
        assert!(scan(b"_").is_empty());
    }

    #[test]
    fn tokens_across_chunk_boundaries_and_huge_lines_are_found_once() {
        let (t, masked) = token("sa_");
        // Every position of the token around the first chunk boundary, on one huge line.
        for shift in 0..=t.len() + 20 {
            let at = CHUNK + MAX_PREFIX + AFTER_ANCHOR + 1 - shift;
            let mut text = vec![b'x'; at];
            text[0] = b' ';
            *text.last_mut().unwrap() = b' ';
            text.extend_from_slice(t.as_bytes());
            text.extend_from_slice(b" tail");
            assert_eq!(
                scan(&text),
                [(1, at as u64 + 1, masked.clone())],
                "shift {shift}"
            );
        }
        // Many tokens and lines over several chunks: lines and columns still right.
        let mut text = Vec::new();
        let mut expected = Vec::new();
        for n in 0..2000u64 {
            let (t, masked) = token("sa_");
            let pad = "lorem ipsum dolor ".repeat((n % 40) as usize);
            text.extend_from_slice(format!("{pad}{t}\n{}\n", "z".repeat(300)).as_bytes());
            expected.push((2 * n + 1, pad.len() as u64 + 1, masked));
        }
        assert_eq!(scan(&text), expected);
    }

    #[test]
    fn a_reader_that_gives_a_byte_at_a_time_finds_the_same() {
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let Some((&first, rest)) = self.0.split_first() else {
                    return Ok(0);
                };
                out[0] = first;
                self.0 = rest;
                Ok(1)
            }
        }
        let (t, masked) = token("sa_");
        let text = format!("a\nb {t}\n{t}");
        let mut found = Vec::new();
        scan_reader(&mut Trickle(text.as_bytes()), &mut Vec::new(), &mut |f| {
            found.push((f.line, f.column, f.masked()))
        })
        .unwrap();
        assert_eq!(found, [(2, 3, masked.clone()), (3, 1, masked)]);
    }

    #[test]
    fn binary_input_is_skipped() {
        let (t, _) = token("sa_");
        let text = format!("{t}\0");
        let kind = scan_reader(&mut text.as_bytes(), &mut Vec::new(), &mut |_| {
            panic!("binary input is not searched")
        })
        .unwrap();
        assert_eq!(kind, Scanned::Binary);
        // A NUL past the first 8 KiB: text, as ripgrep judges it.
        let late = format!("{}{t}\0", " ".repeat(BINARY_PROBE));
        let mut found = 0;
        scan_reader(&mut late.as_bytes(), &mut Vec::new(), &mut |_| found += 1).unwrap();
        assert_eq!(found, 1);
    }

    #[test]
    fn a_diff_is_scanned_in_its_added_lines_only() {
        let (added, masked) = token("sa_");
        let (removed, _) = token("sa_");
        let (context, _) = token("sa_");
        let diff = format!(
            "diff --git a/app.env b/app.env\n\
             index 1..2 100644\n\
             --- a/app.env\n\
             +++ b/app.env\n\
             @@ -3 +3,2 @@ heading\n\
             -OLD={removed}\n\
             +NEW={added}\n\
             +++{added}\n\
             \\ No newline at end of file\n\
             diff --git a/gone b/gone\n\
             --- a/gone\n\
             +++ /dev/null\n\
             @@ -1 +0,0 @@\n\
             -{removed}\n\
             diff --git \"a/we\\tird\\303\\251\" \"b/we\\tird\\303\\251\"\n\
             --- \"a/we\\tird\\303\\251\"\n\
             +++ \"b/we\\tird\\303\\251\"\n\
             @@ -10,0 +11 @@\n \
             {context}\n\
             +  {added}\n"
        );
        let mut found = Vec::new();
        let files = scan_diff(diff.as_bytes(), &mut |path, f| {
            found.push((
                String::from_utf8_lossy(path).into_owned(),
                f.line,
                f.column,
                f.masked(),
            ));
        });
        assert_eq!(
            found,
            [
                ("app.env".to_string(), 3, 5, masked.clone()),
                ("app.env".to_string(), 4, 3, masked.clone()),
                ("we\tirdé".to_string(), 12, 3, masked),
            ]
        );
        assert_eq!(files, 2, "a deleted file adds nothing");
    }

    #[test]
    fn hunk_headers_and_quoted_paths_parse() {
        assert_eq!(hunk_new_start(b"@@ -3,2 +5,4 @@"), Some(5));
        assert_eq!(hunk_new_start(b"@@ -0,0 +1 @@ fn x()"), Some(1));
        assert_eq!(hunk_new_start(b"@@ garbage"), None);
        assert_eq!(diff_path(b"b/src/x.rs"), Some(b"src/x.rs".to_vec()));
        assert_eq!(diff_path(b"/dev/null"), None);
        assert_eq!(diff_path(b"b/a b.txt\t"), Some(b"a b.txt".to_vec()));
        assert_eq!(diff_path(b"\"b/a\\\"b\\\\c\""), Some(b"a\"b\\c".to_vec()));
        // A quoted name that holds a space ends in a tab after its closing quote.
        assert_eq!(
            diff_path(b"\"b/say \\\"hi\\\" there.txt\"\t"),
            Some(b"say \"hi\" there.txt".to_vec())
        );
        assert_eq!(
            diff_path(b"\"b/back\\\\slash x\"\t"),
            Some(b"back\\slash x".to_vec())
        );
        assert_eq!(diff_path(b"\"b/odd\\9\""), Some(b"odd9".to_vec()));
        assert_eq!(diff_path(b"\"b/short\\30\""), None);
        assert_eq!(diff_path(b"\"b/cut\\"), None);
    }

    #[test]
    fn tokens_in_other_text_are_masked() {
        let (t, masked) = token("sa_");
        assert_eq!(
            mask_tokens(&format!("dir/é-{t}.txt and {t}")),
            format!("dir/é-{masked}.txt and {masked}")
        );
        assert_eq!(mask_tokens("plain_text é"), "plain_text é");
    }

    #[test]
    fn locations_in_audit_events_are_safe() {
        let (t, _) = token("sa_");
        let location = format!("dir/{t}.txt:3");
        let safe = audit_safe(&location);
        assert!(!safe.contains(&t[16..]), "{safe}");
        assert_eq!(audit_safe("a\nb\u{202e}:1"), "a\\u{a}b\\u{202e}:1");
        assert_eq!(audit_safe(&"x".repeat(900)).chars().count(), MAX_LOCATION);
        assert!(crate::domain::names::check_free_text("l", &audit_safe(&location)).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(text in proptest::collection::vec(
            proptest::sample::select(b"_aZ9\n\0 x".to_vec()), 0..400)) {
            let _ = scan_reader(&mut &text[..], &mut Vec::new(), &mut |_| {});
            let _ = scan_diff(&text, &mut |_, _| {});
        }

        #[test]
        fn a_token_in_any_text_is_found(before in "[ -~\n]{0,100}", after in "[^0-9A-Za-z\x00][ -~\n]{0,100}") {
            let (t, masked) = token("sa_");
            let text = format!("{before}{t}{after}");
            let found = scan(text.as_bytes());
            proptest::prop_assert!(found.iter().any(|(_, _, m)| *m == masked), "{}", text);
        }
    }
}
