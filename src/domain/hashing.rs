//! argon2id hashing of token secrets, with the cost from `[argon2]` in the config.

use argon2::password_hash::PasswordHasher;
use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};

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
        .map_err(|e| Error::database(format!("cannot hash the token secret: {e}")))?;
    Ok(phc.to_string())
}

/// Whether `secret` matches `phc`, using the parameters recorded in `phc`.
/// A malformed stored hash is a mismatch, never a panic; `Err` only when no memory could be
/// had for the computation.
///
/// The same computation as `Argon2::verify_password`, but in memory that [`Blocks`] maps
/// straight from the kernel, already zero and in huge pages where the kernel allows: about
/// ten page faults for argon2's 19 MiB instead of ~4,900, and kept (in a small pool) for the
/// next verification of a long-lived verifier. The result is identical; the comparison is
/// constant-time.
pub fn verify(phc: &str, secret: &str) -> Result<bool> {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return Ok(false);
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return Ok(false);
    };
    let Ok(algorithm) = Algorithm::new(parsed.algorithm.as_str()) else {
        return Ok(false);
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return Ok(false),
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return Ok(false);
    };
    let mut computed = zeroize::Zeroizing::new(vec![0u8; expected.len()]);
    let mut memory = Blocks::take(params.block_count())?;
    let argon2 = Argon2::new(algorithm, version, params);
    let computed_ok = argon2
        .hash_password_into_with_memory(
            secret.as_bytes(),
            salt.as_ref(),
            &mut computed,
            memory.as_mut_slice(),
        )
        .is_ok();
    memory.give_back();
    if !computed_ok {
        return Ok(false);
    }
    let expected = expected.as_bytes();
    // Every byte compared, whatever the first difference: timing tells nothing.
    Ok(computed.len() == expected.len()
        && computed
            .iter()
            .zip(expected)
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0)
}

/// Argon2's working memory, mapped from the kernel.
///
/// A fresh anonymous mapping is already zero, so unlike `alloc_zeroed` on a heap that may
/// reuse memory there is never a `memset` of 19 MiB; asking for transparent huge pages
/// (2 MiB each, where `/sys/kernel/mm/transparent_hugepage/enabled` allows `madvise`) turns
/// the ~4,900 faults of 4 KiB pages into about ten. Both are requests the kernel may decline;
/// the computation is the same either way.
struct Blocks {
    mapping: *mut std::ffi::c_void,
    mapping_len: usize,
    blocks: *mut Block,
    count: usize,
}

const HUGE_PAGE: usize = 2 << 20;

/// Mappings kept for the next verifications: a service verifying on every request maps and
/// faults its memory once per concurrent verification, not per request. At most one per CPU
/// is kept; more (a burst on a large thread pool) are unmapped after use. (Argon2 writes every
/// block before it reads it, so what an earlier run left in a mapping does not matter.)
static POOL: std::sync::Mutex<Vec<Blocks>> = std::sync::Mutex::new(Vec::new());

fn pool_size() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}

// SAFETY: a `Blocks` owns its mapping outright (no other pointer into it survives a use), so
// moving it to another thread, as the pool does, is like moving a `Vec`.
unsafe impl Send for Blocks {}

impl Blocks {
    /// A mapping of `count` blocks from the pool, or a new one.
    fn take(count: usize) -> Result<Self> {
        let pooled = POOL.lock().ok().and_then(|mut pool| {
            let at = pool.iter().position(|b| b.count == count)?;
            Some(pool.swap_remove(at))
        });
        match pooled {
            Some(blocks) => Ok(blocks),
            None => Blocks::new(count).ok_or_else(|| {
                Error::io(
                    "cannot map memory for argon2",
                    std::io::Error::last_os_error(),
                )
            }),
        }
    }

    /// Back to the pool, or unmapped when the pool is full.
    fn give_back(self) {
        if let Ok(mut pool) = POOL.lock()
            && pool.len() < pool_size()
        {
            pool.push(self);
        }
    }

    fn new(count: usize) -> Option<Self> {
        use rustix::mm::{Advice, MapFlags, ProtFlags, madvise, mmap_anonymous};
        let len = count.checked_mul(std::mem::size_of::<Block>())?;
        if len == 0 {
            return None;
        }
        // One huge page more than needed, so the blocks can start on a huge-page boundary.
        let mapping_len = len.checked_add(HUGE_PAGE)?;
        // SAFETY: a new private anonymous mapping; nothing else refers to that memory.
        let mapping = unsafe {
            mmap_anonymous(
                std::ptr::null_mut(),
                mapping_len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE,
            )
        }
        .ok()?;
        let offset = (HUGE_PAGE - (mapping as usize % HUGE_PAGE)) % HUGE_PAGE;
        // SAFETY: `offset < HUGE_PAGE`, so `offset + len <= mapping_len`: inside the mapping.
        let start = unsafe { mapping.cast::<u8>().add(offset) };
        // SAFETY: ranges inside our own mapping; advice only changes how it is backed: huge
        // pages where the kernel allows, and never in a core dump, since the blocks are
        // derived from secrets.
        let _ = unsafe { madvise(start.cast(), len, Advice::LinuxHugepage) };
        let _ = unsafe { madvise(mapping, mapping_len, Advice::LinuxDontDump) };
        Some(Blocks {
            mapping,
            mapping_len,
            blocks: start.cast(),
            count,
        })
    }

    fn as_mut_slice(&mut self) -> &mut [Block] {
        // SAFETY: `blocks` is 2 MiB-aligned (Block needs 64), inside the mapping, and points
        // to `count` blocks of initialized memory (zero from the kernel, or what an earlier
        // run left), and any bit pattern is a valid `Block` (128 u64s); the mapping lives as
        // long as `self`, and `&mut self` makes the slice unique.
        unsafe { std::slice::from_raw_parts_mut(self.blocks, self.count) }
    }
}

impl Drop for Blocks {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `new` made, which no slice outlives.
        let _ = unsafe { rustix::mm::munmap(self.mapping, self.mapping_len) };
    }
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
/// `cost` is the database's recorded one (`tokens::argon2_cost`), in both directions: stored
/// hashes converge to it, which keeps the decoy for unknown ids (made at that cost) as slow
/// as a real check. Keeping stronger hashes instead would let timing tell which ids exist.
/// Since every verifier of a database reads the cost from it, none re-hashes another's.
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
        assert!(verify(&phc, "s3cret").unwrap());
        assert!(!verify(&phc, "s3cre7").unwrap());
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
        assert!(!verify("not a hash", "s3cret").unwrap());
    }

    #[test]
    fn verifying_in_mapped_memory_agrees_with_the_argon2_crate() {
        use argon2::password_hash::PasswordVerifier;
        let reference = |phc: &str, secret: &str| {
            Argon2::default()
                .verify_password(secret.as_bytes(), &PasswordHash::new(phc).unwrap())
                .is_ok()
        };
        let mut hashes = vec![hash(CHEAP, "s3cret").unwrap()];
        for (algorithm, version, lanes) in [
            (Algorithm::Argon2i, Version::V0x13, 1),
            (Algorithm::Argon2d, Version::V0x10, 1),
            (Algorithm::Argon2id, Version::V0x13, 4),
        ] {
            let params = Params::new(128, 2, lanes, Some(24)).unwrap();
            let phc = Argon2::new(algorithm, version, params)
                .hash_password(b"s3cret")
                .unwrap()
                .to_string();
            hashes.push(phc);
        }
        for phc in &hashes {
            for secret in ["s3cret", "s3cre7", ""] {
                assert_eq!(
                    verify(phc, secret).unwrap(),
                    reference(phc, secret),
                    "{phc} with {secret:?}"
                );
            }
            assert!(verify(phc, "s3cret").unwrap(), "{phc}");
        }
        // A stored hash cut short, or with its output removed, matches nothing.
        let phc = &hashes[0];
        assert!(!verify(&phc[..phc.len() - 4], "s3cret").unwrap());
        assert!(!verify(phc.rsplit_once('$').unwrap().0, "s3cret").unwrap());
    }

    #[test]
    fn the_decoy_is_well_formed_and_matches_nothing() {
        let decoy = decoy(CHEAP);
        assert!(PasswordHash::new(&decoy).is_ok(), "{decoy}");
        assert!(!needs_rehash(&decoy, CHEAP));
        assert!(!verify(&decoy, "").unwrap());
        assert!(!verify(&decoy, "anything").unwrap());
    }
}
