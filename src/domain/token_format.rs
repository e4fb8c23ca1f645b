//! The token format: `PREFIX` + token id + `_` + secret + checksum.
//!
//! ```text
//! sa_3kT9xQ2mPz7L_f8Kd02LmQw9XnB4vR7tYc1ZsE5uJ0hGaNp3D1x2qA
//! └┬┘└────┬─────┘ └──────────────┬───────────────┘└─┬──┘
//! prefix  token id (12)     secret (32, ~190 bits)   checksum (6)
//! ```
//!
//! All of id, secret and checksum are base62 (`0-9A-Za-z`). The checksum is CRC32 of
//! everything before it, base62-encoded to six characters, so a mistyped or truncated token is
//! refused without a database lookup and a secret scanner can match
//! `sa_[0-9A-Za-z]{12}_[0-9A-Za-z]{38}` and confirm hits offline. Only the secret part is
//! hashed and stored (as an argon2id PHC string).

use rand::TryRng;
use rand::rngs::SysRng;
use zeroize::Zeroizing;

use crate::config::valid_prefix;
use crate::error::{Error, Result};

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
pub const ID_LEN: usize = 12;
pub const SECRET_LEN: usize = 32;
pub const CHECKSUM_LEN: usize = 6;

/// The public token id: what lists show and what `revoke` takes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenId(String);

impl TokenId {
    /// Parses a token id given on the command line. A whole token is refused, so that a
    /// secret never has to be put on argv.
    pub(crate) fn parse(text: &str) -> Result<Self> {
        if text.len() == ID_LEN && text.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Ok(TokenId(text.to_string()));
        }
        if text.len() > ID_LEN + SECRET_LEN && text.contains('_') {
            return Err(Error::invalid(
                "that looks like a whole token; give only its 12-character token id (secrets are never taken on the command line)",
            ));
        }
        Err(Error::invalid(format!(
            "invalid token id `{text}`: a token id is 12 letters and digits, as `sa token list` shows"
        )))
    }

    /// The 12 characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TokenId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A secret in memory: never printed by `Debug`, wiped when dropped.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// The secret text, for hashing or for printing it the one time it is shown.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A freshly minted token: its id, the secret part (hashed), and the whole token (shown once).
#[derive(Debug)]
pub struct NewToken {
    pub id: TokenId,
    pub secret: Secret,
    pub token: Secret,
}

/// A token that passed the format and checksum check.
#[derive(Debug)]
pub struct ParsedToken {
    pub id: TokenId,
    pub secret: Secret,
}

fn random_base62(len: usize) -> Result<String> {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        SysRng.try_fill_bytes(&mut buf).map_err(|e| {
            Error::io(
                "cannot read the OS random number generator",
                std::io::Error::other(e.to_string()),
            )
        })?;
        // Rejection sampling: 248 = 4 × 62, so every character is equally likely.
        for b in buf.iter().filter(|b| **b < 248) {
            if out.len() == len {
                break;
            }
            out.push(char::from(ALPHABET[usize::from(*b % 62)]));
        }
    }
    buf.fill(0);
    Ok(out)
}

/// CRC32 of `body` as six base62 digits, most significant first.
fn checksum_digits(body: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut n = u64::from(crc32fast::hash(body));
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    out
}

fn checksum(body: &str) -> String {
    checksum_digits(body.as_bytes())
        .iter()
        .map(|b| char::from(*b))
        .collect()
}

/// Whether `sum` is the checksum of `body` (a token without its last six characters): how
/// `sa scan` confirms a token-shaped run of bytes, which need not be UTF-8 around it.
#[cfg(feature = "cli")]
pub fn checksum_matches(body: &[u8], sum: &[u8]) -> bool {
    checksum_digits(body) == sum
}

/// Mints a new token with the OS CSPRNG.
pub fn generate(prefix: &str) -> Result<NewToken> {
    let id = random_base62(ID_LEN)?;
    let secret = Zeroizing::new(random_base62(SECRET_LEN)?);
    let body = Zeroizing::new(format!("{prefix}{id}_{}", secret.as_str()));
    let token = Zeroizing::new(format!("{}{}", body.as_str(), checksum(&body)));
    Ok(NewToken {
        id: TokenId(id),
        secret: Secret(secret),
        token: Secret(token),
    })
}

/// The part after the prefix: token id, `_`, secret, checksum.
const TAIL_LEN: usize = ID_LEN + 1 + SECRET_LEN + CHECKSUM_LEN;

/// Checks the shape and checksum of a presented token; touches nothing else.
///
/// Any well-formed prefix is accepted (the checksum covers it), so changing `tokens.prefix`
/// changes the tokens minted from then on without breaking those already issued.
pub fn parse(text: &str) -> Option<ParsedToken> {
    // ASCII first: every index below is then a character boundary.
    if !text.is_ascii() || text.len() <= TAIL_LEN {
        return None;
    }
    let (prefix, rest) = text.split_at(text.len() - TAIL_LEN);
    let (id, tail) = rest.split_at(ID_LEN);
    let tail = tail.strip_prefix('_')?;
    let (secret, sum) = tail.split_at(SECRET_LEN);
    let base62 = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric());
    if !valid_prefix(prefix) || !base62(id) || !base62(secret) || !base62(sum) {
        return None;
    }
    if checksum(&text[..text.len() - CHECKSUM_LEN]) != sum {
        return None;
    }
    Some(ParsedToken {
        id: TokenId(id.to_string()),
        secret: Secret(Zeroizing::new(secret.to_string())),
    })
}

/// The runs of ASCII letters and digits in `text`, each with the length of the run before it
/// when the two are joined by exactly one `_` (a token's id before its secret): calls `each`
/// with (start, end, id-like run length or 0).
fn alnum_runs(text: &str, mut each: impl FnMut(usize, usize, usize)) {
    let bytes = text.as_bytes();
    let mut start = None;
    let mut before_underscore = 0;
    let mut previous: Option<(usize, usize)> = None;
    for (at, &b) in bytes.iter().chain(std::iter::once(&b' ')).enumerate() {
        if b.is_ascii_alphanumeric() {
            start.get_or_insert(at);
            continue;
        }
        if let Some(begin) = start.take() {
            let joined = previous.is_some_and(|(_, end)| end + 1 == begin && bytes[end] == b'_');
            let id_len = if joined { before_underscore } else { 0 };
            each(begin, at, id_len);
            before_underscore = at - begin;
            previous = Some((begin, at));
        }
    }
}

/// What the letters of a run are made of.
fn classes(run: &[u8]) -> (bool, bool, bool) {
    (
        run.iter().any(u8::is_ascii_uppercase),
        run.iter().any(u8::is_ascii_lowercase),
        run.iter().any(u8::is_ascii_digit),
    )
}

/// Whether a run of letters and digits could be (part of) a token secret, strictly enough to
/// refuse it in stored text: 16 or more mixed characters right after an id-like run and `_`,
/// or 24 or more with both capitals and small letters, as random base62 has (a 32-character
/// secret lacks one of the two with a chance of about 1 in 10^7). Hex digests (no capitals),
/// words, and names like `ProductionDatabase2024` pass.
fn secret_like(run: &[u8], id_len: usize) -> bool {
    let (upper, lower, digit) = classes(run);
    let mixed = usize::from(upper) + usize::from(lower) + usize::from(digit) >= 2;
    (id_len >= ID_LEN && run.len() >= 16 && mixed) || (run.len() >= 24 && upper && lower)
}

/// Whether `text` contains what could be a token or a piece of its secret: a whole token,
/// with or without its prefix, its `_` replaced, its checksum cut, or just the secret. Such
/// text is refused wherever it would be stored or audited, e.g. a token pasted into
/// `--description`, so a secret is never kept in the clear.
pub fn contains_token(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut found = false;
    alnum_runs(text, |start, end, id_len| {
        found |= secret_like(&bytes[start..end], id_len);
    });
    found
}

/// `text` with anything that could be a token's secret replaced by `***`, for messages that
/// echo what was typed, so that a token put on argv by mistake (whole, cut, extended, or
/// without its prefix) does not reach logs. Masked: what [`contains_token`] refuses, a run of
/// 16 or more right after `_` and 4 or more letters or digits (a token's id, maybe cut), and
/// any run of 30 or more with a digit or a capital. A token's prefix and id stay readable;
/// ordinary names and paths are left alone.
pub fn redact(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    alnum_runs(text, |start, end, id_len| {
        let run = &bytes[start..end];
        let (upper, _, digit) = classes(run);
        let masked = secret_like(run, id_len)
            || (id_len >= 4 && run.len() >= 16)
            || (run.len() >= 30 && (upper || digit));
        if masked {
            out.push_str(&text[copied..start]);
            out.push_str("***");
            copied = end;
        }
    });
    out.push_str(&text[copied..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_of_a_token_are_refused_and_ordinary_text_is_not() {
        for _ in 0..200 {
            let new = generate("sa_").unwrap();
            let token = new.token.expose();
            let (id, rest) = token[3..].split_at(ID_LEN);
            let secret = &rest[1..1 + SECRET_LEN];
            let checksum = &rest[1 + SECRET_LEN..];
            for piece in [
                token.to_string(),
                token[..token.len() - 1].to_string(), // the checksum cut short
                format!("{secret}{checksum}"),
                format!("{id}{secret}{checksum}"),
                token.replace('_', " "),
                secret.to_string(),
                format!("leaked {}", &token[..40]),
            ] {
                assert!(contains_token(&piece), "{piece}");
                assert!(!redact(&piece).contains(&secret[..16]), "{piece}");
            }
        }
        for text in [
            "GitHub Actions deploys to production (eu-west-1)",
            "deployed from 3f1c9a0b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a", // a git commit
            "ProductionDatabase2024 and SomethingLongName2024x",
            "rotate_everyeveningatmidnight",
            "/var/lib/sa/tokens/ci-bot.token",
        ] {
            assert!(!contains_token(text), "{text}");
        }
    }

    #[test]
    fn redact_hides_the_secret_of_token_shaped_words() {
        let new = generate("acme_").unwrap();
        let token = new.token.expose();
        let message = format!("unexpected argument '{token}' found");
        let redacted = redact(&message);
        assert_eq!(
            redacted,
            format!("unexpected argument 'acme_{}_***' found", new.id)
        );
        assert!(!redacted.contains(new.secret.expose()));
        let plain = "invalid token id `short`: é ok_then sa_abc, pass `--yes` non-interactively";
        assert_eq!(redact(plain), plain);
        let names =
            "`/tmp/my_ProductionDatabase2024.db` or `SomethingLongName2024x` in AcmeCorp2024";
        assert_eq!(redact(names), names);
        // Cut, extended or prefix-less tokens are masked too.
        for mangled in [&token[..token.len() - 5], &format!("{token}x"), &token[5..]] {
            let redacted = redact(&format!("invalid value '{mangled}'"));
            assert!(!redacted.contains(&new.secret.expose()[..16]), "{redacted}");
        }
    }

    #[test]
    fn whole_tokens_are_found_in_text() {
        let new = generate("sa_").unwrap();
        assert!(contains_token(&format!(
            "deployed with {} today",
            new.token.expose()
        )));
        assert!(!contains_token(&format!("token {} rotated", new.id)));
        let token = new.token.expose();
        for hidden in [
            format!("SA_TOKEN_{token}"),
            format!("key={token}x"),
            token[3..].to_string(),
        ] {
            assert!(contains_token(&hidden), "{hidden}");
        }
        assert!(!contains_token(
            "commit 3f2a9c1b7e4d5a6b8c9d0e1f2a3b4c5d6e7f8a9b"
        ));
    }

    #[test]
    fn generated_tokens_parse_back() {
        let new = generate("sa_").unwrap();
        let token = new.token.expose();
        assert_eq!(token.len(), 3 + ID_LEN + 1 + SECRET_LEN + CHECKSUM_LEN);
        let parsed = parse(token).unwrap();
        assert_eq!(parsed.id, new.id);
        assert_eq!(parsed.secret.expose(), new.secret.expose());
        let other_prefix = token.replacen("sa_", "xy_", 1);
        assert!(
            parse(&other_prefix).is_none(),
            "the checksum covers the prefix"
        );
        let acme = generate("acme2_").unwrap();
        assert_eq!(
            parse(acme.token.expose()).unwrap().id,
            acme.id,
            "any valid prefix parses"
        );
    }

    #[test]
    fn every_single_character_change_is_caught() {
        let new = generate("sa_").unwrap();
        let token = new.token.expose().to_string();
        for i in 0..token.len() {
            for replacement in ['0', 'a', 'Z', '_', '-'] {
                let mut bytes = token.clone().into_bytes();
                if bytes[i] == replacement as u8 {
                    continue;
                }
                bytes[i] = replacement as u8;
                let changed = String::from_utf8(bytes).unwrap();
                assert!(parse(&changed).is_none(), "{changed}");
            }
        }
        assert!(parse(&token[..token.len() - 1]).is_none());
        assert!(parse(&format!("{token}x")).is_none());
        assert!(parse("").is_none());
        assert!(parse("sa_ééééééééééééééééééééééééééééééééééééééééééééééééééééé").is_none());
        // Multi-byte characters where the secret ends once made slicing panic.
        let crafted = format!("sa_{}_{}é{}", "A".repeat(12), "A".repeat(31), "A".repeat(5));
        assert!(parse(&crafted).is_none());
    }

    #[test]
    fn secrets_do_not_show_in_debug() {
        let new = generate("sa_").unwrap();
        let debug = format!("{new:?}");
        assert!(!debug.contains(new.secret.expose()));
        assert!(debug.contains("Secret(***)"));
    }

    #[test]
    fn token_ids_refuse_whole_tokens() {
        let new = generate("sa_").unwrap();
        assert!(TokenId::parse(new.id.as_str()).is_ok());
        let err = TokenId::parse(new.token.expose()).unwrap_err();
        assert!(err.to_string().contains("whole token"));
        assert!(TokenId::parse("short").is_err());
    }

    #[test]
    fn checksum_is_six_base62_characters() {
        assert_eq!(checksum("").len(), CHECKSUM_LEN);
        assert_eq!(checksum("sa_abc"), checksum("sa_abc"));
        assert_ne!(checksum("sa_abc"), checksum("sa_abd"));
    }

    proptest::proptest! {
        #[test]
        fn token_shaped_text_with_any_characters_never_panics(tail in "\\PC{38}") {
            let _ = parse(&format!("sa_AAAAAAAAAAAA_{tail}"));
        }

        #[test]
        fn parsing_arbitrary_text_never_panics(text in "\\PC{0,80}") {
            let _ = parse(&text);
            let _ = redact(&text);
            let _ = TokenId::parse(&text);
        }

        #[test]
        fn truncated_tokens_are_malformed(cut in 0usize..49, extra in "[0-9A-Za-z_]{0,3}") {
            let new = generate("sa_").unwrap();
            let token = new.token.expose();
            let mangled = format!("{}{extra}", &token[..cut]);
            proptest::prop_assert!(parse(&mangled).is_none());
        }
    }
}
