//! The verify cache: successful verifications kept in memory for a short while, so that a
//! service checking the same token on every request runs argon2 once per TTL, not per request.
//!
//! - **Key**: BLAKE2b-256 of the whole presented token, keyed with 32 random bytes drawn when
//!   the cache is made. The token itself is never kept, and a key means nothing outside this
//!   process (or to this process once it is gone).
//! - **Fresh** while both hold: less than the TTL has passed since the verification began
//!   (a monotonic clock, so a wall-clock step cannot stretch it), and the token's
//!   `expires_at` has not come (the wall clock, as the database's check uses). Within that
//!   window a revocation, a pause, a disabled account or a role change is not seen; after it,
//!   the next check goes to the database again.
//! - **Bounded**: at most `max_entries` identities, spread over up to 16 shards (each with its
//!   own lock, so threads checking different tokens rarely meet); a full shard first drops its
//!   stale entries, then its oldest.
//! - **Counted**: a hit adds one to its entry's pending count (an atomic, under the shard's
//!   read lock). [`Cache::due`] hands out every pending count at most once per TTL, and
//!   [`Cache::drain`] all of them (on flush and drop); counts of entries that were dropped or
//!   replaced wait in `orphans` for the next hand-out, and a batch that could not be written
//!   comes back there ([`Cache::put_back`]), so no success goes uncounted.
//! - Only successes are cached; a rejection removes the token's entry.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use blake2::Blake2bMac;
use blake2::digest::consts::U32;
use blake2::digest::{FixedOutput, KeyInit, Update};
use chrono::{DateTime, Utc};
use rand::TryRng;
use rand::rngs::SysRng;
use zeroize::Zeroizing;

use crate::domain::token_format::TokenId;
use crate::domain::tokens::{CachedUses, Identity};
use crate::error::{Error, Rejection, Result};

/// What a presented token is cached under.
pub type Key = [u8; 32];

const MAX_SHARDS: usize = 16;

struct Entry {
    identity: Identity,
    /// When the verification that filled it began: the oldest goes first when a shard is full.
    verified_at: Instant,
    /// `verified_at` + the TTL.
    fresh_until: Instant,
    /// Hits not yet written to the database.
    pending: AtomicU64,
    /// The last counted hit, in Unix seconds.
    last_hit: AtomicI64,
}

impl Entry {
    fn is_fresh(&self, now: Instant, wall: DateTime<Utc>) -> bool {
        now < self.fresh_until && self.identity.expires_at.is_none_or(|at| wall < at)
    }

    /// Its pending hits, taken (the count is left at zero).
    fn take_pending(&self) -> Option<CachedUses> {
        let count = self.pending.swap(0, Ordering::AcqRel);
        (count > 0).then(|| CachedUses {
            token_id: self.identity.token_id.clone(),
            count,
            last_at: DateTime::from_timestamp(self.last_hit.load(Ordering::Acquire), 0)
                .unwrap_or_else(crate::time::now),
        })
    }
}

/// What the cache says about a presented token.
pub enum Answer {
    /// A fresh identity, counted as one more use.
    Hit(Identity),
    /// A fresh identity that does not hold the permission asked for: refused, not counted.
    Refused(Rejection),
    /// Nothing fresh: verify against the database.
    Miss,
}

/// See the module documentation.
pub struct Cache {
    mac_key: Zeroizing<[u8; 32]>,
    ttl: Duration,
    per_shard: usize,
    shards: Vec<RwLock<HashMap<Key, Entry>>>,
    /// Pending counts of entries no longer in the map, waiting for the next hand-out.
    orphans: Mutex<Vec<CachedUses>>,
    /// When the cache was made: the origin of `next_due`.
    started: Instant,
    /// Milliseconds after `started` from which [`Cache::due`] hands out the pending counts.
    next_due: AtomicU64,
}

impl Cache {
    /// A cache of at most `max_entries` identities, each fresh for at most `ttl`; `None` when
    /// either is zero (no cache).
    pub fn new(ttl: Duration, max_entries: usize) -> Result<Option<Self>> {
        if ttl.is_zero() || max_entries == 0 {
            return Ok(None);
        }
        let mut mac_key = Zeroizing::new([0u8; 32]);
        SysRng.try_fill_bytes(mac_key.as_mut()).map_err(|e| {
            Error::io(
                "cannot read the OS random number generator",
                std::io::Error::other(e.to_string()),
            )
        })?;
        // As many shards as fit whole in the bound, so that the bound holds exactly.
        let shards = max_entries.min(MAX_SHARDS);
        Ok(Some(Cache {
            mac_key,
            ttl,
            per_shard: max_entries / shards,
            shards: (0..shards).map(|_| RwLock::new(HashMap::new())).collect(),
            orphans: Mutex::new(Vec::new()),
            started: Instant::now(),
            next_due: AtomicU64::new(millis(ttl)),
        }))
    }

    /// The key of a presented token (the whole of it, as presented, trimmed).
    pub fn key(&self, token: &str) -> Key {
        let mut mac = <Blake2bMac<U32> as KeyInit>::new_from_slice(self.mac_key.as_ref())
            .expect("a 32-byte key fits BLAKE2b's 64-byte maximum");
        mac.update(token.as_bytes());
        mac.finalize_fixed().into()
    }

    fn shard(&self, key: &Key) -> &RwLock<HashMap<Key, Entry>> {
        &self.shards[usize::from(key[0]) % self.shards.len()]
    }

    /// Answers a presented token from the cache if it can: `id` is the token id parsed from
    /// it (checked against the cached identity's, belt and braces), `allow` refuses an
    /// identity that lacks the permission asked for.
    pub fn answer(
        &self,
        key: &Key,
        id: &TokenId,
        now: Instant,
        wall: DateTime<Utc>,
        allow: impl FnOnce(&Identity) -> Option<Rejection>,
    ) -> Answer {
        let shard = self
            .shard(key)
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(entry) = shard.get(key) else {
            return Answer::Miss;
        };
        if !entry.is_fresh(now, wall) || entry.identity.token_id != *id {
            return Answer::Miss;
        }
        if let Some(refusal) = allow(&entry.identity) {
            return Answer::Refused(refusal);
        }
        entry.pending.fetch_add(1, Ordering::AcqRel);
        entry.last_hit.fetch_max(wall.timestamp(), Ordering::AcqRel);
        Answer::Hit(entry.identity.clone())
    }

    /// Keeps `identity`, verified (and counted in the database) by a check that began at
    /// `began`. An entry it replaces hands its pending hits on.
    pub fn insert(&self, key: Key, identity: Identity, began: Instant) {
        let entry = Entry {
            identity,
            verified_at: began,
            fresh_until: began + self.ttl,
            pending: AtomicU64::new(0),
            last_hit: AtomicI64::new(0),
        };
        let mut dropped = Vec::new();
        {
            let mut shard = self
                .shard(&key)
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(old) = shard.get(&key) {
                // Under the write lock no hit is adding to it: nothing is lost in between.
                entry
                    .pending
                    .store(old.pending.load(Ordering::Acquire), Ordering::Release);
                entry
                    .last_hit
                    .store(old.last_hit.load(Ordering::Acquire), Ordering::Release);
            } else if shard.len() >= self.per_shard {
                let now = Instant::now();
                let wall = Utc::now();
                let stale: Vec<Key> = shard
                    .iter()
                    .filter(|(_, e)| !e.is_fresh(now, wall))
                    .map(|(k, _)| *k)
                    .collect();
                for k in stale {
                    dropped.extend(shard.remove(&k).and_then(|e| e.take_pending()));
                }
                if shard.len() >= self.per_shard
                    && let Some(oldest) = shard
                        .iter()
                        .min_by_key(|(_, e)| e.verified_at)
                        .map(|(k, _)| *k)
                {
                    dropped.extend(shard.remove(&oldest).and_then(|e| e.take_pending()));
                }
            }
            shard.insert(key, entry);
        }
        self.put_back(dropped);
    }

    /// Forgets a token that was just refused; its pending hits (successes from before) stay
    /// to be counted.
    pub fn remove(&self, key: &Key) {
        let removed = self
            .shard(key)
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
        self.put_back(removed.and_then(|e| e.take_pending()).into_iter().collect());
    }

    /// Counts that could not be written (or whose entry went), for the next hand-out.
    pub fn put_back(&self, uses: Vec<CachedUses>) {
        if uses.is_empty() {
            return;
        }
        self.orphans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(uses);
    }

    /// Every pending count, taken, if a TTL has passed since the last hand-out (to one caller
    /// only); stale entries are dropped on the way.
    pub fn due(&self, now: Instant) -> Option<Vec<CachedUses>> {
        let at = millis(now.saturating_duration_since(self.started));
        let due = self.next_due.load(Ordering::Acquire);
        if at < due {
            return None;
        }
        self.next_due
            .compare_exchange(
                due,
                at + millis(self.ttl),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .ok()?;
        Some(self.take(Some(now)))
    }

    /// Every pending count, taken, now.
    pub fn drain(&self) -> Vec<CachedUses> {
        self.take(None)
    }

    /// Forgets every entry; their pending counts wait for the next hand-out.
    pub fn clear(&self) {
        let mut dropped = Vec::new();
        for shard in &self.shards {
            let mut shard = shard.write().unwrap_or_else(PoisonError::into_inner);
            dropped.extend(shard.drain().filter_map(|(_, e)| e.take_pending()));
        }
        self.put_back(dropped);
    }

    /// Takes the pending counts of every entry and the orphans, one per token; with `now`,
    /// also drops the entries that are no longer fresh.
    fn take(&self, now: Option<Instant>) -> Vec<CachedUses> {
        let mut all: Vec<CachedUses> =
            std::mem::take(&mut *self.orphans.lock().unwrap_or_else(PoisonError::into_inner));
        let wall = Utc::now();
        for shard in &self.shards {
            let mut shard = shard.write().unwrap_or_else(PoisonError::into_inner);
            all.extend(shard.values().filter_map(Entry::take_pending));
            if let Some(now) = now {
                shard.retain(|_, e| e.is_fresh(now, wall));
            }
        }
        // One row per token: two keys can name one token (a prefix is not part of its hash).
        let mut by_token: BTreeMap<TokenId, CachedUses> = BTreeMap::new();
        for uses in all {
            by_token
                .entry(uses.token_id.clone())
                .and_modify(|sum| {
                    sum.count += uses.count;
                    sum.last_at = sum.last_at.max(uses.last_at);
                })
                .or_insert(uses);
        }
        by_token.into_values().collect()
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::permissions::Permission;

    fn identity(id: &str, expires_at: Option<DateTime<Utc>>) -> Identity {
        Identity {
            account: "bot".into(),
            account_id: 1,
            org: "default".into(),
            token_id: TokenId::parse(id).unwrap(),
            permissions: vec![Permission::parse("*:read").unwrap()],
            expires_at,
            replaced_by: None,
            created_at: crate::time::now(),
        }
    }

    fn cache(ttl_ms: u64, entries: usize) -> Cache {
        Cache::new(Duration::from_millis(ttl_ms), entries)
            .unwrap()
            .unwrap()
    }

    fn hit(cache: &Cache, key: &Key, id: &str, now: Instant, wall: DateTime<Utc>) -> bool {
        matches!(
            cache.answer(key, &TokenId::parse(id).unwrap(), now, wall, |_| None),
            Answer::Hit(_)
        )
    }

    const ID: &str = "AAAAAAAAAAAA";

    #[test]
    fn off_when_the_ttl_or_the_size_is_zero() {
        assert!(Cache::new(Duration::ZERO, 10).unwrap().is_none());
        assert!(Cache::new(Duration::from_secs(5), 0).unwrap().is_none());
    }

    #[test]
    fn keys_are_keyed_hashes_of_the_whole_token() {
        let one = cache(1000, 10);
        let other = cache(1000, 10);
        assert_eq!(one.key("sa_x"), one.key("sa_x"));
        assert_ne!(one.key("sa_x"), one.key("sa_y"));
        assert_ne!(
            one.key("sa_x"),
            other.key("sa_x"),
            "a key per process (per cache)"
        );
    }

    #[test]
    fn an_entry_is_fresh_for_the_ttl_and_never_past_its_expiry() {
        let cache = cache(5_000, 10);
        let key = cache.key("t");
        let began = Instant::now();
        let wall = Utc::now();
        cache.insert(key, identity(ID, None), began);
        assert!(hit(&cache, &key, ID, began, wall));
        assert!(hit(
            &cache,
            &key,
            ID,
            began + Duration::from_millis(4_999),
            wall
        ));
        assert!(!hit(&cache, &key, ID, began + Duration::from_secs(5), wall));

        let expires = wall + chrono::TimeDelta::seconds(2);
        let key = cache.key("expiring");
        cache.insert(key, identity(ID, Some(expires)), began);
        assert!(hit(
            &cache,
            &key,
            ID,
            began,
            expires - chrono::TimeDelta::milliseconds(1)
        ));
        assert!(
            !hit(&cache, &key, ID, began, expires),
            "the TTL is longer, expiry wins"
        );
    }

    #[test]
    fn a_key_answers_only_for_its_own_token_id() {
        let cache = cache(5_000, 10);
        let key = cache.key("t");
        cache.insert(key, identity(ID, None), Instant::now());
        assert!(!hit(
            &cache,
            &key,
            "BBBBBBBBBBBB",
            Instant::now(),
            Utc::now()
        ));
    }

    #[test]
    fn a_refused_permission_is_not_counted() {
        let cache = cache(5_000, 10);
        let key = cache.key("t");
        cache.insert(key, identity(ID, None), Instant::now());
        let wanted = Permission::parse("x:write").unwrap();
        let answer = cache.answer(
            &key,
            &TokenId::parse(ID).unwrap(),
            Instant::now(),
            Utc::now(),
            |i| (!i.allows(&wanted)).then(|| i.forbidden(&wanted)),
        );
        assert!(matches!(
            answer,
            Answer::Refused(Rejection::Forbidden { .. })
        ));
        assert!(cache.drain().is_empty());
    }

    #[test]
    fn hits_are_handed_out_once_per_ttl_and_none_is_lost() {
        let cache = cache(1_000, 10);
        let key = cache.key("t");
        let began = Instant::now();
        cache.insert(key, identity(ID, None), began);
        for _ in 0..3 {
            assert!(hit(&cache, &key, ID, began, Utc::now()));
        }
        assert!(cache.due(began).is_none(), "not a TTL yet");
        let due = cache.due(began + Duration::from_millis(1_000)).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].count, 3);
        assert!(
            cache.due(began + Duration::from_millis(1_500)).is_none(),
            "once per TTL"
        );
        // The hand-out dropped the entry that was no longer fresh.
        assert_eq!(cache.len(), 0);
        // A batch that could not be written comes back, and a replaced entry's hits follow it.
        cache.put_back(due);
        cache.insert(key, identity(ID, None), Instant::now());
        assert!(hit(&cache, &key, ID, Instant::now(), Utc::now()));
        cache.insert(key, identity(ID, None), Instant::now());
        assert!(hit(&cache, &key, ID, Instant::now(), Utc::now()));
        let all = cache.drain();
        assert_eq!(all.len(), 1, "one row per token");
        assert_eq!(all[0].count, 5);
        assert!(cache.drain().is_empty());
    }

    #[test]
    fn the_size_is_bounded_and_dropped_entries_keep_their_counts() {
        let cache = cache(60_000, 3);
        let ids = [
            "AAAAAAAAAAAA",
            "BBBBBBBBBBBB",
            "CCCCCCCCCCCC",
            "DDDDDDDDDDDD",
            "EEEEEEEEEEEE",
        ];
        let began = Instant::now();
        for (n, id) in ids.iter().enumerate() {
            let key = cache.key(id);
            cache.insert(
                key,
                identity(id, None),
                began + Duration::from_millis(n as u64),
            );
            assert!(hit(&cache, &key, id, began, Utc::now()));
            assert!(cache.len() <= 3, "{}", cache.len());
        }
        let counted: u64 = cache.drain().iter().map(|u| u.count).sum();
        assert_eq!(counted, 5);
        // The newest is always kept. Which others went depends on the shards their keys
        // fall in (random per cache): within a shard, the oldest goes first.
        assert!(hit(&cache, &cache.key(ids[4]), ids[4], began, Utc::now()));
        let single = self::cache(60_000, 1);
        for (n, id) in ids.iter().enumerate() {
            let key = single.key(id);
            single.insert(
                key,
                identity(id, None),
                began + Duration::from_millis(n as u64),
            );
        }
        assert_eq!(single.len(), 1);
        assert!(!hit(
            &single,
            &single.key(ids[0]),
            ids[0],
            began,
            Utc::now()
        ));
        assert!(hit(&single, &single.key(ids[4]), ids[4], began, Utc::now()));
    }

    #[test]
    fn a_removed_entry_keeps_its_counts() {
        let cache = cache(60_000, 10);
        let key = cache.key("t");
        cache.insert(key, identity(ID, None), Instant::now());
        assert!(hit(&cache, &key, ID, Instant::now(), Utc::now()));
        cache.remove(&key);
        assert!(!hit(&cache, &key, ID, Instant::now(), Utc::now()));
        assert_eq!(cache.drain()[0].count, 1);
    }
}
