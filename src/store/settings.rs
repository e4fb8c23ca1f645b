//! The row of `argon2_cost`: the cost this database's token hashes are made and verified at.

use chrono::{DateTime, Utc};
use super::Tx;
use super::sql::params;
use crate::config::Argon2Cost;
use crate::error::{Error, Result};
use crate::time::format_timestamp;

impl Tx<'_> {
    /// The argon2 cost recorded for this database; `None` until an administrator's write
    /// command records one.
    pub fn argon2_cost(&self) -> Result<Option<Argon2Cost>> {
        let row = self.tx.query_opt(
            "SELECT memory_kib, iterations, parallelism FROM argon2_cost WHERE id = 1",
            params![],
            |r| Ok((r.get::<i64>(0)?, r.get::<i64>(1)?, r.get::<i64>(2)?)),
        )?;
        let Some((memory, iterations, parallelism)) = row else {
            return Ok(None);
        };
        // The table's CHECKs bound every value; a file edited past them is not ours to guess.
        let number = |n: i64| {
            u32::try_from(n)
                .map_err(|_| Error::database(format!("stored argon2 cost `{n}` is out of range")))
        };
        Ok(Some(Argon2Cost {
            memory_kib: number(memory)?,
            iterations: number(iterations)?,
            parallelism: number(parallelism)?,
        }))
    }

    /// Records `cost` as the database's argon2 cost.
    pub fn set_argon2_cost(&self, cost: Argon2Cost, at: DateTime<Utc>, by: &str) -> Result<()> {
        self.tx.execute(
            "INSERT INTO argon2_cost (id, memory_kib, iterations, parallelism, set_at, set_by)
             VALUES (1, ?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO UPDATE SET memory_kib = ?1, iterations = ?2, parallelism = ?3,
                set_at = ?4, set_by = ?5",
            params![
                cost.memory_kib,
                cost.iterations,
                cost.parallelism,
                format_timestamp(at),
                by
            ],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Argon2Cost;
    use crate::store::Store;

    #[test]
    fn the_cost_is_none_until_recorded_then_replaced() {
        let mut store = Store::open_in_memory().unwrap();
        assert_eq!(store.read(|tx| tx.argon2_cost()).unwrap(), None);
        let cost = Argon2Cost {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        };
        let now = crate::time::now();
        store
            .write(|tx| tx.set_argon2_cost(cost, now, "t"))
            .unwrap();
        assert_eq!(store.read(|tx| tx.argon2_cost()).unwrap(), Some(cost));
        let stronger = Argon2Cost {
            memory_kib: 128,
            ..cost
        };
        store
            .write(|tx| tx.set_argon2_cost(stronger, now, "t"))
            .unwrap();
        assert_eq!(store.read(|tx| tx.argon2_cost()).unwrap(), Some(stronger));
        // Below argon2's own minimum: refused by the table, never stored.
        let bad = Argon2Cost {
            memory_kib: 4,
            ..cost
        };
        assert!(store.write(|tx| tx.set_argon2_cost(bad, now, "t")).is_err());
    }
}
