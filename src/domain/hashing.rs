//! argon2id hashing of token secrets, with the cost from `[argon2]` in the config.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::config::Argon2Cost;
use crate::error::{Error, Result};

fn hasher(cost: Argon2Cost) -> Result<Argon2<'static>> {
    let params =
        Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None).map_err(|e| {
            Error::Config {
                path: "[argon2]".into(),
                message: e.to_string(),
            }
        })?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// The PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`) of `secret`, with a random salt.
pub fn hash(cost: Argon2Cost, secret: &str) -> Result<String> {
    let phc = hasher(cost)?
        .hash_password(secret.as_bytes())
        .map_err(|e| Error::Database(format!("cannot hash the token secret: {e}")))?;
    Ok(phc.to_string())
}

/// Whether `secret` matches `phc`, using the parameters recorded in `phc`.
/// A malformed stored hash is a mismatch, never a panic.
pub fn verify(phc: &str, secret: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default()
        .verify_password(secret.as_bytes(), &parsed)
        .is_ok()
}

/// Whether `phc` is a well-formed argon2id PHC string (what every stored hash must be).
pub fn is_argon2id_phc(phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| {
        parsed.algorithm.as_str() == "argon2id"
            && parsed.hash.is_some()
            && Params::try_from(&parsed).is_ok()
    })
}

/// Whether `phc` was made with parameters other than `cost` (so it is re-hashed on success).
///
/// The config is the one source of the cost, in both directions: stored hashes converge to
/// it, which keeps the decoy for unknown ids (made at the config's cost) as slow as a real
/// check. Keeping stronger hashes instead would let timing tell which ids exist. Every
/// process verifying against one database should therefore share one `[argon2]` config.
pub fn needs_rehash(phc: &str, cost: Argon2Cost) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return true;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return true;
    };
    parsed.algorithm.as_str() != "argon2id"
        || params.m_cost() != cost.memory_kib
        || params.t_cost() != cost.iterations
        || params.p_cost() != cost.parallelism
}

/// A well-formed PHC string at `cost` that no secret matches: verifying an unknown token id
/// against it costs the same argon2 work as verifying a known one, so timing does not tell
/// which ids exist. It is a fixed salt and an all-zero output, so building it costs nothing.
pub fn decoy(cost: Argon2Cost) -> String {
    format!(
        "$argon2id$v=19$m={},t={},p={}$c2EtZGVjb3ktc2FsdA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        cost.memory_kib, cost.iterations, cost.parallelism
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: Argon2Cost = Argon2Cost {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    #[test]
    fn hashes_verify_and_carry_their_parameters() {
        let phc = hash(CHEAP, "s3cret").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        assert!(verify(&phc, "s3cret"));
        assert!(!verify(&phc, "s3cre7"));
        assert!(!needs_rehash(&phc, CHEAP));
        assert!(needs_rehash(
            &phc,
            Argon2Cost {
                memory_kib: 128,
                ..CHEAP
            }
        ));
        let cheaper = hash(
            Argon2Cost {
                memory_kib: 32,
                ..CHEAP
            },
            "s3cret",
        )
        .unwrap();
        assert!(needs_rehash(&cheaper, CHEAP));
        let costlier = hash(
            Argon2Cost {
                iterations: 2,
                ..CHEAP
            },
            "s3cret",
        )
        .unwrap();
        assert!(
            needs_rehash(&costlier, CHEAP),
            "hashes converge to the config's cost"
        );
        assert!(!verify("not a hash", "s3cret"));
    }

    #[test]
    fn the_decoy_is_well_formed_and_matches_nothing() {
        let decoy = decoy(CHEAP);
        assert!(PasswordHash::new(&decoy).is_ok(), "{decoy}");
        assert!(!needs_rehash(&decoy, CHEAP));
        assert!(!verify(&decoy, ""));
        assert!(!verify(&decoy, "anything"));
    }
}
