//! `sa db copy`: every row of one sa database into another, empty one — SQLite to
//! PostgreSQL or back — with ids, hashes, counters and the audit chain as they are.

use super::sql::{Column, Param, Value, params};
use super::{Store, Tx};
use crate::error::{Error, Result};

/// A column's value, owned: what passes from the source's row to the target's insert.
#[derive(Debug, Clone, PartialEq)]
enum Field {
    Null,
    Int(i64),
    Text(String),
}

impl Column for Field {
    fn from_cell(cell: super::sql::Cell<'_>) -> std::result::Result<Self, String> {
        use super::sql::Cell;
        match cell {
            Cell::Null => Ok(Field::Null),
            Cell::Int(n) => Ok(Field::Int(n)),
            Cell::Bool(b) => Ok(Field::Int(i64::from(b))),
            Cell::Text(s) => Ok(Field::Text(s.to_string())),
            Cell::Other(kind) => Err(format!("cannot copy {kind}")),
        }
    }
}

impl Param for Field {
    fn value(&self) -> Value<'_> {
        match self {
            Field::Null => Value::Null,
            Field::Int(n) => Value::Int(*n),
            Field::Text(s) => Value::Text(s),
        }
    }
}

/// The tables, parents before children, each with the columns copied and the order rows are
/// read in. `tokens` is read in insertion order and gets the target's own `rowid` in that
/// order, which keeps lists' tie-breaks. `orgs.account_count` is left to the target's
/// triggers, which count the accounts as they arrive.
const TABLES: &[(&str, &str, &str)] = &[
    ("orgs", "name, created_at", "name"),
    (
        "accounts",
        "id, org, name, description, email, status, disabled_reason, created_at, created_by, \
         updated_at, deleted_at",
        "id",
    ),
    ("account_emails", "org, email, account_id", "org, email"),
    ("roles", "org, name, description, created_at", "org, name"),
    ("role_permissions", "org, role, permission", "org, role, permission"),
    ("account_roles", "account_id, role", "account_id, role"),
    (
        "tokens",
        "id, account_id, name, hash, status, created_at, created_by, expires_at, revoked_at, \
         revoked_by, replaces, replaced_by, last_used_at, last_used_source, use_count, \
         paused_at, paused_by, idle_since",
        "rowid",
    ),
    ("token_scopes", "token_id, permission", "token_id, permission"),
    ("token_usage_daily", "token_id, day, count", "token_id, day"),
    (
        "audit_events",
        "id, at, actor, action, org, target, account_id, prev_hash, hash",
        "id",
    ),
    ("audit_details", "event_id, position, key, value", "event_id, position"),
    (
        "audit_checkpoints",
        "org, last_removed_id, last_removed_hash, removed, at, \"by\"",
        "org",
    ),
    (
        "argon2_cost",
        "id, memory_kib, iterations, parallelism, set_at, set_by",
        "id",
    ),
];

/// How many rows of each table were copied, in [`TABLES`] order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyCounts {
    pub tables: Vec<(&'static str, u64)>,
}

impl CopyCounts {
    /// The rows copied of `table`.
    pub fn of(&self, table: &str) -> u64 {
        self.tables
            .iter()
            .find(|(t, _)| *t == table)
            .map_or(0, |(_, n)| *n)
    }
}

/// The ids a table hands out next must stay above every id the source ever handed out (an
/// id is never reused, even after a purge): the source's high-water marks.
const COUNTERS: &[(&str, &str)] = &[("accounts", "id"), ("audit_events", "id")];

/// Rows per `INSERT` of a copy: one round trip per row made a million-token copy into
/// PostgreSQL take minutes. 18 columns × 256 rows stay well under either engine's limit on
/// parameters (SQLite 32,766; PostgreSQL 65,535).
const BATCH_ROWS: usize = 256;

/// Inserts `fields` (whole rows of `width` columns, in order) into `table` in one statement.
fn insert_rows(
    target: &Tx<'_>,
    table: &str,
    columns: &str,
    width: usize,
    fields: &[Field],
) -> Result<()> {
    let rows: Vec<String> = (0..fields.len() / width)
        .map(|r| {
            let row: Vec<String> = (1..=width).map(|c| format!("?{}", r * width + c)).collect();
            format!("({})", row.join(", "))
        })
        .collect();
    let insert = format!("INSERT INTO {table} ({columns}) VALUES {}", rows.join(", "));
    let values: Vec<&dyn Param> = fields.iter().map(|f| f as &dyn Param).collect();
    target.tx.execute(&insert, &values)?;
    Ok(())
}

impl Tx<'_> {
    /// Whether the database holds no row at all: a copy's target must not.
    pub fn is_empty(&self) -> Result<bool> {
        for (table, _, _) in TABLES {
            if self
                .tx
                .exists(&format!("SELECT 1 FROM {table} LIMIT 1"), params![])?
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// The largest id `table` ever handed out (SQLite's `sqlite_sequence`, PostgreSQL's
    /// identity sequence), or the largest there is, whichever is higher.
    fn high_water(&self, table: &str, column: &str) -> Result<i64> {
        let max: i64 = self.tx.query_row(
            &format!("SELECT coalesce(max({column}), 0) FROM {table}"),
            params![],
            |r| r.get(0),
        )?;
        let handed_out: i64 = if self.tx.is_postgres() {
            // `last_value` is NULL until the sequence first hands one out.
            self.tx.query_row(
                "SELECT s.last_value FROM pg_sequences s
                 WHERE format('%I.%I', s.schemaname, s.sequencename)
                       = pg_get_serial_sequence('sa.' || ?1, ?2)",
                params![table, column],
                |r| r.get::<Option<i64>>(0),
            )?
        } else {
            self.tx
                .query_opt(
                    "SELECT seq FROM sqlite_sequence WHERE name = ?1",
                    params![table],
                    |r| r.get::<Option<i64>>(0),
                )?
                .flatten()
        }
        .unwrap_or(0)
        .max(0);
        Ok(max.max(handed_out))
    }

    /// Makes `table` hand out ids above `mark` from now on.
    fn raise_high_water(&self, table: &str, column: &str, mark: i64) -> Result<()> {
        if mark <= 0 {
            return Ok(());
        }
        if self.tx.is_postgres() {
            self.tx.query_row(
                "SELECT setval(pg_get_serial_sequence('sa.' || ?1, ?2), ?3)",
                params![table, column, mark],
                |_| Ok(()),
            )?;
        } else {
            // AUTOINCREMENT keeps its mark in sqlite_sequence: one row per table.
            self.tx.execute(
                "DELETE FROM sqlite_sequence WHERE name = ?1",
                params![table],
            )?;
            self.tx.execute(
                "INSERT INTO sqlite_sequence (name, seq) VALUES (?1, ?2)",
                params![table, mark],
            )?;
        }
        Ok(())
    }

    /// Copies every row of this (the source's) transaction into `target`'s, which must be
    /// empty; rows stream from one to the other. Returns how many of each table went.
    pub fn copy_into(&self, target: &Tx<'_>) -> Result<CopyCounts> {
        if !target.is_empty()? {
            return Err(Error::Refused(
                "the target database is not empty: `sa db copy` only fills an empty one; nothing was copied"
                    .into(),
            ));
        }
        let mut tables = Vec::new();
        for (table, columns, order) in TABLES {
            let width = columns.split(',').count();
            let mut batch: Vec<Field> = Vec::with_capacity(width * BATCH_ROWS);
            let mut copied = 0u64;
            self.tx.for_each(
                &format!("SELECT {columns} FROM {table} ORDER BY {order}"),
                params![],
                |row| {
                    for i in 0..width {
                        batch.push(row.get::<Field>(i)?);
                    }
                    copied += 1;
                    if batch.len() == width * BATCH_ROWS {
                        insert_rows(target, table, columns, width, &batch)?;
                        batch.clear();
                    }
                    Ok(())
                },
            )?;
            if !batch.is_empty() {
                insert_rows(target, table, columns, width, &batch)?;
            }
            tables.push((*table, copied));
        }
        for (table, column) in COUNTERS {
            target.raise_high_water(table, column, self.high_water(table, column)?)?;
        }
        // The counts the triggers kept must be the source's: a check that the copy is whole.
        let counts = |tx: &Tx<'_>| {
            tx.tx.query_all(
                "SELECT name, account_count FROM orgs ORDER BY name",
                params![],
                |r| Ok((r.get::<String>(0)?, r.get::<i64>(1)?)),
            )
        };
        if counts(self)? != counts(target)? {
            return Err(Error::database(
                "the copy's account counts differ from the source's; nothing was copied",
            ));
        }
        // A bulk load leaves PostgreSQL's planner without statistics until autovacuum comes
        // round, and it then plans a million-row table as if it were empty.
        if target.tx.is_postgres() {
            let tables: Vec<&str> = TABLES.iter().map(|(table, _, _)| *table).collect();
            target
                .tx
                .execute_batch(&format!("ANALYZE {}", tables.join(", ")))?;
        }
        Ok(CopyCounts { tables })
    }
}

impl Store {
    /// `sa db copy`: reads this database in one snapshot and writes it into `target` in one
    /// transaction (all of it, or nothing), in which `then` runs last (to record the copy).
    pub fn copy_into(
        &mut self,
        target: &mut Store,
        then: impl FnOnce(&Tx<'_>, &CopyCounts) -> Result<()>,
    ) -> Result<CopyCounts> {
        self.read(|source| {
            target.write(|into| {
                let counts = source.copy_into(into)?;
                then(into, &counts)?;
                Ok(counts)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewAccount;
    use crate::time::now;

    #[test]
    fn rows_past_one_batch_are_all_copied_in_order() {
        let mut source = Store::open_in_memory().unwrap();
        let names: Vec<String> = (0..BATCH_ROWS * 2 + 7).map(|n| format!("bot-{n:04}")).collect();
        source
            .write(|tx| {
                tx.ensure_org("default", now())?;
                for name in &names {
                    tx.insert_account(&NewAccount {
                        org: "default",
                        name,
                        description: Some("batched"),
                        email: name,
                        at: now(),
                        by: "t",
                    })?;
                }
                Ok(())
            })
            .unwrap();
        let mut target = Store::open_in_memory().unwrap();
        let counts = source.copy_into(&mut target, |_, _| Ok(())).unwrap();
        assert_eq!(counts.of("accounts"), names.len() as u64);
        let listed = |store: &mut Store| {
            store
                .read(|tx| {
                    tx.list_accounts("default", &Default::default(), now())
                        .map(|all| all.into_iter().map(|a| (a.id, a.name)).collect::<Vec<_>>())
                })
                .unwrap()
        };
        assert_eq!(listed(&mut target), listed(&mut source));
    }

    #[test]
    fn a_copy_keeps_ids_and_the_ids_never_handed_out_again() {
        let mut source = Store::open_in_memory().unwrap();
        source
            .write(|tx| {
                tx.ensure_org("default", now())?;
                for name in ["a", "b", "c"] {
                    tx.insert_account(&NewAccount {
                        org: "default",
                        name,
                        description: None,
                        email: name,
                        at: now(),
                        by: "t",
                    })?;
                }
                // A purge leaves a gap that must not be filled again.
                tx.purge_account(3)
            })
            .unwrap();
        let mut target = Store::open_in_memory().unwrap();
        let counts = source.copy_into(&mut target, |_, _| Ok(())).unwrap();
        assert_eq!(counts.of("accounts"), 2);
        let next = target
            .write(|tx| {
                tx.insert_account(&NewAccount {
                    org: "default",
                    name: "d",
                    description: None,
                    email: "d",
                    at: now(),
                    by: "t",
                })
            })
            .unwrap();
        assert_eq!(next, 4, "id 3 was handed out once already");
        // A second copy into a target that now holds rows is refused.
        let err = source.copy_into(&mut target, |_, _| Ok(())).unwrap_err();
        assert!(err.to_string().contains("not empty"), "{err}");
    }
}
