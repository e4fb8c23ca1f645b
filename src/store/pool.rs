//! A few connections to one database, each lent for one transaction at a time: what lets one
//! `sa::Verifier` serve every thread of a service behind `&self`, with argon2 running while
//! no connection (and no lock) is held.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use super::{Store, Transactions, Tx};
use crate::error::Result;

/// Connections to one database, opened as `sa token verify` opens its own: an existing
/// database only ([`Store::open_existing`]), use counts committed lightly
/// ([`Store::count_uses_lightly`]).
pub struct Pool {
    path: PathBuf,
    /// Connections not lent right now. A transaction that finds none opens another, so no
    /// caller ever waits for a connection; at most [`Pool::keep`] are kept once returned.
    idle: Mutex<Vec<Store>>,
    keep: usize,
}

impl Pool {
    /// Opens the first connection, which also checks (and if need be migrates) the database.
    pub fn open(path: &Path) -> Result<Self> {
        let first = Self::connect(path)?;
        // One connection per core that can run a verification at once, and never a crowd:
        // each holds a descriptor and up to SQLite's 2 MiB page cache.
        let keep = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8));
        Ok(Pool {
            path: path.to_path_buf(),
            idle: Mutex::new(vec![first]),
            keep,
        })
    }

    fn connect(path: &Path) -> Result<Store> {
        let mut store = Store::open_existing(path)?;
        store.count_uses_lightly()?;
        Ok(store)
    }

    /// Another connection while others are open: never [`Store::open_existing`] again, whose
    /// look at the file with `std::fs` would drop the open connections' locks.
    fn connect_another(path: &Path) -> Result<Store> {
        let mut store = Store::open_another(path)?;
        store.count_uses_lightly()?;
        Ok(store)
    }

    /// Runs `work` on a lent connection, which comes back to the pool afterwards.
    fn with<T>(&self, work: impl FnOnce(&mut Store) -> Result<T>) -> Result<T> {
        // The lock guards the list alone; a poisoned list is still a list of connections.
        let lent = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let mut store = match lent {
            Some(store) => store,
            None => Self::connect_another(&self.path)?,
        };
        let result = work(&mut store);
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.keep {
            idle.push(store);
        }
        result
    }

    /// [`Store::read`] on a lent connection.
    pub fn read<T>(&self, work: impl FnOnce(&Tx<'_>) -> Result<T>) -> Result<T> {
        self.with(|store| store.read(work))
    }

    /// [`Store::write`] on a lent connection.
    pub fn write<T>(&self, work: impl FnOnce(&Tx<'_>) -> Result<T>) -> Result<T> {
        self.with(|store| store.write(work))
    }
}

impl Transactions for &Pool {
    fn read<T>(&mut self, work: impl FnOnce(&Tx<'_>) -> Result<T>) -> Result<T> {
        Pool::read(self, work)
    }

    fn write<T>(&mut self, work: impl FnOnce(&Tx<'_>) -> Result<T>) -> Result<T> {
        Pool::write(self, work)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn a_missing_database_is_refused_and_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sa.db");
        assert!(matches!(Pool::open(&path), Err(Error::NoDatabase(_))));
        assert!(!path.exists());
    }

    #[test]
    fn connections_are_lent_one_transaction_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sa.db");
        drop(Store::open(&path).unwrap());
        let pool = Pool::open(&path).unwrap();
        // A transaction inside another needs a second connection: it gets one at once.
        let nested = pool.read(|_| pool.read(|tx| tx.argon2_cost())).unwrap();
        assert_eq!(nested, None);
        let idle = pool.idle.lock().unwrap().len();
        assert_eq!(idle, 2, "both came back");
    }
}
