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
    pub fn parse(text: &str) -> Result<Self> {
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

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TokenId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for TokenId {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self> {
        Self::parse(text)
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

fn checksum(body: &str) -> String {
    let mut n = u64::from(crc32fast::hash(body.as_bytes()));
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    out.iter().map(|b| char::from(*b)).collect()
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

/// Checks the shape and checksum of a presented token; touches nothing else.
pub fn parse(prefix: &str, text: &str) -> Option<ParsedToken> {
    let rest = text.strip_prefix(prefix)?;
    let base62 = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric());
    if rest.len() != ID_LEN + 1 + SECRET_LEN + CHECKSUM_LEN || !rest.is_char_boundary(ID_LEN) {
        return None;
    }
    let (id, tail) = rest.split_at(ID_LEN);
    let tail = tail.strip_prefix('_')?;
    let (secret, sum) = tail.split_at(SECRET_LEN);
    if !base62(id) || !base62(secret) || !base62(sum) {
        return None;
    }
    let body_len = text.len() - CHECKSUM_LEN;
    if checksum(&text[..body_len]) != sum {
        return None;
    }
    Some(ParsedToken {
        id: TokenId(id.to_string()),
        secret: Secret(Zeroizing::new(secret.to_string())),
    })
}

/// `text` with the secret and checksum of every token-shaped word (any prefix) replaced by
/// `***`, for messages that echo what was typed, e.g. a token put on argv by mistake.
pub fn redact(text: &str) -> String {
    let tail_len = ID_LEN + 1 + SECRET_LEN + CHECKSUM_LEN;
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::with_capacity(text.len());
    for segment in text.split_inclusive(|c: char| !is_word(c)) {
        let end = segment.trim_end_matches(|c: char| !is_word(c)).len();
        let (word, rest) = segment.split_at(end);
        let tail = word.len().checked_sub(tail_len).map(|at| word.split_at(at));
        let token_shaped = tail.is_some_and(|(prefix, tail)| {
            let (id, secret) = tail.split_at(ID_LEN);
            prefix.len() > 1
                && prefix.ends_with('_')
                && !id.contains('_')
                && secret.starts_with('_')
                && !secret[1..].contains('_')
        });
        if token_shaped {
            out.push_str(&word[..word.len() - SECRET_LEN - CHECKSUM_LEN]);
            out.push_str("***");
        } else {
            out.push_str(word);
        }
        out.push_str(rest);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let plain = "invalid token id `short`: é ok_then sa_abc";
        assert_eq!(redact(plain), plain);
    }

    #[test]
    fn generated_tokens_parse_back() {
        let new = generate("sa_").unwrap();
        let token = new.token.expose();
        assert_eq!(token.len(), 3 + ID_LEN + 1 + SECRET_LEN + CHECKSUM_LEN);
        let parsed = parse("sa_", token).unwrap();
        assert_eq!(parsed.id, new.id);
        assert_eq!(parsed.secret.expose(), new.secret.expose());
        assert!(
            parse("xy_", token).is_none(),
            "another prefix is another format"
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
                assert!(parse("sa_", &changed).is_none(), "{changed}");
            }
        }
        assert!(parse("sa_", &token[..token.len() - 1]).is_none());
        assert!(parse("sa_", &format!("{token}x")).is_none());
        assert!(parse("sa_", "").is_none());
        assert!(
            parse(
                "sa_",
                "sa_ééééééééééééééééééééééééééééééééééééééééééééééééééééé"
            )
            .is_none()
        );
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
        fn parsing_arbitrary_text_never_panics(text in "\\PC{0,80}") {
            let _ = parse("sa_", &text);
            let _ = TokenId::parse(&text);
        }

        #[test]
        fn truncated_tokens_are_malformed(cut in 0usize..49, extra in "[0-9A-Za-z_]{0,3}") {
            let new = generate("sa_").unwrap();
            let token = new.token.expose();
            let mangled = format!("{}{extra}", &token[..cut]);
            proptest::prop_assert!(parse("sa_", &mangled).is_none());
        }
    }
}
