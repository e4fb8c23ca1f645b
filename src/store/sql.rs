//! One way to run a statement, whichever database is behind the transaction.
//!
//! Every typed query in `store/` is written once, in the SQL both SQLite and PostgreSQL
//! accept, with `?N` placeholders (and `:name` ones in statements built from filters, bound
//! positionally by [`bind_names`]). The few constructs only SQLite reads — planner hints
//! such as a unary `+` on a column or `CROSS JOIN … ON` — are taken out for PostgreSQL by its
//! backend, which sees the same text. Values cross as [`Value`]s and columns come back
//! through [`Column`], so a query reads the same whichever backend ran it.

use crate::error::{Error, Result};

/// A bound parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Value<'a> {
    Null,
    Int(i64),
    Bool(bool),
    Text(&'a str),
}

/// What can be bound to a placeholder.
pub(crate) trait Param {
    fn value(&self) -> Value<'_>;
}

impl Param for i64 {
    fn value(&self) -> Value<'_> {
        Value::Int(*self)
    }
}

impl Param for u32 {
    fn value(&self) -> Value<'_> {
        Value::Int(i64::from(*self))
    }
}

impl Param for bool {
    fn value(&self) -> Value<'_> {
        Value::Bool(*self)
    }
}

impl Param for str {
    fn value(&self) -> Value<'_> {
        Value::Text(self)
    }
}

impl Param for String {
    fn value(&self) -> Value<'_> {
        Value::Text(self)
    }
}

impl<T: Param + ?Sized> Param for &T {
    fn value(&self) -> Value<'_> {
        (**self).value()
    }
}

impl<T: Param> Param for Option<T> {
    fn value(&self) -> Value<'_> {
        self.as_ref().map_or(Value::Null, Param::value)
    }
}

impl Param for Value<'_> {
    fn value(&self) -> Value<'_> {
        *self
    }
}

/// An owned parameter, for statements whose parameters are gathered as they are built.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Owned {
    Int(i64),
    Text(String),
}

impl Param for Owned {
    fn value(&self) -> Value<'_> {
        match self {
            Owned::Int(n) => Value::Int(*n),
            Owned::Text(s) => Value::Text(s),
        }
    }
}

/// `params![a, b, …]`: the positional parameters `?1`, `?2`, … of one statement.
macro_rules! params {
    () => { &[] as &[&dyn $crate::store::sql::Param] };
    ($($value:expr),+ $(,)?) => { &[$(&$value as &dyn $crate::store::sql::Param),+] as &[&dyn $crate::store::sql::Param] };
}
pub(crate) use params;

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match *self {
            Value::Null => ValueRef::Null,
            Value::Int(n) => ValueRef::Integer(n),
            Value::Bool(b) => ValueRef::Integer(i64::from(b)),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
        }))
    }
}

/// A column's value as the backend handed it over, before it is read as a Rust type.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Cell<'r> {
    Null,
    Int(i64),
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))] // Only PostgreSQL has booleans.
    Bool(bool),
    Text(&'r str),
    /// A value of a type `sa` never stores (a float, a blob): named in the error.
    Other(&'static str),
}

/// What a column can be read as.
pub(crate) trait Column: Sized {
    fn from_cell(cell: Cell<'_>) -> std::result::Result<Self, String>;
}

impl Column for i64 {
    fn from_cell(cell: Cell<'_>) -> std::result::Result<Self, String> {
        match cell {
            Cell::Int(n) => Ok(n),
            Cell::Bool(b) => Ok(i64::from(b)),
            other => Err(format!("expected an integer, found {}", other.kind())),
        }
    }
}

impl Column for bool {
    fn from_cell(cell: Cell<'_>) -> std::result::Result<Self, String> {
        match cell {
            Cell::Bool(b) => Ok(b),
            Cell::Int(n) => Ok(n != 0),
            other => Err(format!("expected a boolean, found {}", other.kind())),
        }
    }
}

impl Column for String {
    fn from_cell(cell: Cell<'_>) -> std::result::Result<Self, String> {
        match cell {
            Cell::Text(s) => Ok(s.to_string()),
            other => Err(format!("expected text, found {}", other.kind())),
        }
    }
}

impl<T: Column> Column for Option<T> {
    fn from_cell(cell: Cell<'_>) -> std::result::Result<Self, String> {
        match cell {
            Cell::Null => Ok(None),
            cell => T::from_cell(cell).map(Some),
        }
    }
}

impl Cell<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Cell::Null => "NULL",
            Cell::Int(_) => "an integer",
            Cell::Bool(_) => "a boolean",
            Cell::Text(_) => "text",
            Cell::Other(kind) => kind,
        }
    }
}

/// One row of a result, from either backend.
pub(crate) enum Row<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    #[cfg(feature = "postgres")]
    Pg(&'r postgres::Row),
}

impl Row<'_> {
    /// Column `index` (from 0) as a `T`.
    pub(crate) fn get<T: Column>(&self, index: usize) -> Result<T> {
        let wrong = |why: String| Error::database(format!("column {index}: {why}"));
        match self {
            Row::Sqlite(row) => {
                use rusqlite::types::ValueRef;
                let cell = match row.get_ref(index)? {
                    ValueRef::Null => Cell::Null,
                    ValueRef::Integer(n) => Cell::Int(n),
                    ValueRef::Text(bytes) => Cell::Text(
                        std::str::from_utf8(bytes).map_err(|e| wrong(e.to_string()))?,
                    ),
                    ValueRef::Real(_) => Cell::Other("a real number"),
                    ValueRef::Blob(_) => Cell::Other("a blob"),
                };
                T::from_cell(cell).map_err(wrong)
            }
            #[cfg(feature = "postgres")]
            Row::Pg(row) => super::pg::get(row, index),
        }
    }
}

/// The statement runner of one open transaction.
pub(crate) enum Db<'conn> {
    Sqlite(rusqlite::Transaction<'conn>),
    #[cfg(feature = "postgres")]
    Pg(super::pg::PgTx<'conn>),
}

fn sqlite_params<'a>(params: &'a [&'a dyn Param]) -> impl Iterator<Item = Value<'a>> + 'a {
    params.iter().map(|p| p.value())
}

impl Db<'_> {
    /// Runs a statement that returns no rows; how many rows it changed.
    pub(crate) fn execute(&self, sql: &str, params: &[&dyn Param]) -> Result<usize> {
        match self {
            Db::Sqlite(tx) => Ok(tx
                .prepare_cached(sql)?
                .execute(rusqlite::params_from_iter(sqlite_params(params)))?),
            #[cfg(feature = "postgres")]
            Db::Pg(tx) => Ok(usize::try_from(tx.run(sql, params, |_| Ok(()))?).unwrap_or(usize::MAX)),
        }
    }

    /// Calls `each` with every row, as they are read. `each` must not run statements itself.
    pub(crate) fn for_each(
        &self,
        sql: &str,
        params: &[&dyn Param],
        mut each: impl FnMut(&Row<'_>) -> Result<()>,
    ) -> Result<()> {
        match self {
            Db::Sqlite(tx) => {
                let mut stmt = tx.prepare_cached(sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(sqlite_params(params)))?;
                while let Some(row) = rows.next()? {
                    each(&Row::Sqlite(row))?;
                }
                Ok(())
            }
            #[cfg(feature = "postgres")]
            Db::Pg(tx) => tx.run(sql, params, |row| each(&Row::Pg(row))).map(drop),
        }
    }

    /// Every row, each read by `read`.
    pub(crate) fn query_all<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        mut read: impl FnMut(&Row<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut all = Vec::new();
        self.for_each(sql, params, |row| {
            all.push(read(row)?);
            Ok(())
        })?;
        Ok(all)
    }

    /// The first row, read by `read`, if there is one.
    pub(crate) fn query_opt<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        read: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        let mut read = Some(read);
        let mut first = None;
        self.for_each(sql, params, |row| {
            if let Some(read) = read.take() {
                first = Some(read(row)?);
            }
            Ok(())
        })?;
        Ok(first)
    }

    /// The first row, which must exist (an aggregate's, say).
    pub(crate) fn query_row<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        read: impl FnOnce(&Row<'_>) -> Result<T>,
    ) -> Result<T> {
        self.query_opt(sql, params, read)?
            .ok_or_else(|| Error::database("a query that always returns a row returned none"))
    }

    /// Whether the statement returns any row.
    pub(crate) fn exists(&self, sql: &str, params: &[&dyn Param]) -> Result<bool> {
        Ok(self.query_opt(sql, params, |_| Ok(()))?.is_some())
    }

    /// Runs several statements without parameters (a migration).
    pub(crate) fn execute_batch(&self, sql: &str) -> Result<()> {
        match self {
            Db::Sqlite(tx) => Ok(tx.execute_batch(sql)?),
            #[cfg(feature = "postgres")]
            Db::Pg(tx) => tx.batch(sql),
        }
    }

    /// Ends the transaction: commits it, or rolls it back (a read's, which wrote nothing).
    pub(crate) fn finish(self, commit: bool) -> Result<()> {
        match self {
            Db::Sqlite(tx) if commit => Ok(tx.commit()?),
            Db::Sqlite(tx) => Ok(tx.rollback()?),
            #[cfg(feature = "postgres")]
            Db::Pg(tx) if commit => Ok(tx.tx.into_inner().commit()?),
            #[cfg(feature = "postgres")]
            Db::Pg(tx) => Ok(tx.tx.into_inner().rollback()?),
        }
    }

    /// Whether this is a PostgreSQL transaction.
    pub(crate) fn is_postgres(&self) -> bool {
        !matches!(self, Db::Sqlite(_))
    }
}

/// Rewrites the `:name` placeholders of `sql` as `?1`, `?2`, … in the order of their first
/// use, and returns the parameters in that order: both backends then bind by position. Quoted
/// strings and comments are left alone; a `:name` that `named` does not hold is an error.
pub(crate) fn bind_names<'p>(
    sql: &str,
    named: &[(&str, &'p dyn Param)],
) -> Result<(String, Vec<&'p dyn Param>)> {
    let mut out = String::with_capacity(sql.len());
    let mut used: Vec<usize> = Vec::new();
    let mut rest = sql;
    while let Some(at) = rest.find([':', '\'', '/']) {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        match rest.as_bytes()[at] {
            b'\'' => {
                // A string literal ends at the next quote ('' inside it is two literals).
                let len = after.find('\'').map_or(after.len(), |end| end + 1);
                out.push('\'');
                out.push_str(&after[..len]);
                rest = &after[len..];
            }
            b'/' if after.starts_with('*') => {
                let len = after.find("*/").map_or(after.len(), |end| end + 2);
                out.push('/');
                out.push_str(&after[..len]);
                rest = &after[len..];
            }
            b':' if after.starts_with(|c: char| c.is_ascii_alphabetic()) => {
                let len = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                let name = &after[..len];
                let Some(index) = named
                    .iter()
                    .position(|(n, _)| n.strip_prefix(':') == Some(name))
                else {
                    return Err(Error::database(format!(
                        "statement names `:{name}`, which was not bound"
                    )));
                };
                let position = match used.iter().position(|&u| u == index) {
                    Some(p) => p,
                    None => {
                        used.push(index);
                        used.len() - 1
                    }
                };
                out.push_str(&format!("?{}", position + 1));
                rest = &after[len..];
            }
            other => {
                out.push(char::from(other));
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok((out, used.into_iter().map(|i| named[i].1).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_positions_in_order_of_first_use() {
        let org = "acme".to_string();
        let limit = 5i64;
        let (sql, params) = bind_names(
            "SELECT /* report: x */ 1 WHERE a = :org AND b < :limit AND c = :org AND d = 'sa:p'",
            &[(":limit", &limit), (":org", &org)],
        )
        .unwrap();
        assert_eq!(
            sql,
            "SELECT /* report: x */ 1 WHERE a = ?1 AND b < ?2 AND c = ?1 AND d = 'sa:p'"
        );
        let values: Vec<Value<'_>> = params.iter().map(|p| p.value()).collect();
        assert_eq!(values, [Value::Text("acme"), Value::Int(5)]);
        assert!(bind_names("SELECT :nope", &[]).is_err());
    }

    #[test]
    fn columns_read_either_backends_representation() {
        assert_eq!(bool::from_cell(Cell::Int(1)), Ok(true));
        assert_eq!(i64::from_cell(Cell::Bool(true)), Ok(1));
        assert_eq!(Option::<String>::from_cell(Cell::Null), Ok(None));
        assert!(String::from_cell(Cell::Int(3)).is_err());
        assert!(i64::from_cell(Cell::Other("a blob")).is_err());
    }
}
