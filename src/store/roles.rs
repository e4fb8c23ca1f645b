//! Rows of custom `roles` and `role_permissions`, and who holds a role (`account_roles`).
//!
//! Built-in roles live in code (`domain::permissions::builtin_role`); only their grants are
//! stored. A grant names its role by name, so renaming or deleting a custom role carries its
//! grants along here, inside the caller's transaction. Who holds a role is found through the
//! grants (index `account_roles_role`), then each account by id: the `CROSS JOIN` keeps
//! SQLite from reading all of the organization's accounts first.

use chrono::{DateTime, Utc};
use super::Tx;
use super::sql::params;
use crate::error::Result;
use crate::time::{format_timestamp, parse_timestamp};

/// A custom role as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRow {
    pub name: String,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Sorted.
    pub permissions: Vec<String>,
}

impl Tx<'_> {
    /// The custom roles of `org`, by name.
    pub fn custom_roles(&self, org: &str) -> Result<Vec<RoleRow>> {
        let rows = self.tx.query_all(
            "SELECT /* report: roles */ r.name, r.description, r.created_at,
                (SELECT string_agg(permission, '\u{1f}' ORDER BY permission)
                   FROM role_permissions p WHERE p.org = r.org AND p.role = r.name)
             FROM roles r WHERE r.org = ?1 ORDER BY r.name",
            params![org],
            |r| {
                Ok((
                    r.get::<String>(0)?,
                    r.get::<Option<String>>(1)?,
                    r.get::<String>(2)?,
                    r.get::<Option<String>>(3)?,
                ))
            },
        )?;
        rows.into_iter()
            .map(|(name, description, created_at, permissions)| {
                Ok(RoleRow {
                    name,
                    description,
                    created_at: parse_timestamp(&created_at)?,
                    permissions: permissions
                        .map(|p| p.split('\u{1f}').map(str::to_string).collect())
                        .unwrap_or_default(),
                })
            })
            .collect()
    }

    /// One custom role of `org`.
    pub fn custom_role(&self, org: &str, name: &str) -> Result<Option<RoleRow>> {
        let row = self.tx.query_opt(
            "SELECT description, created_at FROM roles WHERE org = ?1 AND name = ?2",
            params![org, name],
            |r| Ok((r.get::<Option<String>>(0)?, r.get::<String>(1)?)),
        )?;
        let Some((description, created_at)) = row else {
            return Ok(None);
        };
        let permissions = self.custom_role_permissions(org, name)?.unwrap_or_default();
        Ok(Some(RoleRow {
            name: name.to_string(),
            description,
            created_at: parse_timestamp(&created_at)?,
            permissions,
        }))
    }

    pub fn insert_role(
        &self,
        org: &str,
        name: &str,
        description: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.tx.execute(
            "INSERT INTO roles (org, name, description, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![org, name, description, format_timestamp(at)],
        )?;
        Ok(())
    }

    /// Adds a permission to a custom role; whether it was not there yet.
    pub fn add_role_permission(&self, org: &str, role: &str, permission: &str) -> Result<bool> {
        Ok(self.tx.execute(
            "INSERT INTO role_permissions (org, role, permission) VALUES (?1, ?2, ?3)
             ON CONFLICT DO NOTHING",
            params![org, role, permission],
        )? == 1)
    }

    /// Removes a permission from a custom role; whether it was there.
    pub fn remove_role_permission(&self, org: &str, role: &str, permission: &str) -> Result<bool> {
        Ok(self.tx.execute(
            "DELETE FROM role_permissions WHERE org = ?1 AND role = ?2 AND permission = ?3",
            params![org, role, permission],
        )? == 1)
    }

    pub fn set_role_description(
        &self,
        org: &str,
        role: &str,
        description: Option<&str>,
    ) -> Result<()> {
        self.tx.execute(
            "UPDATE roles SET description = ?3 WHERE org = ?1 AND name = ?2",
            params![org, role, description],
        )?;
        Ok(())
    }

    /// Renames a custom role, its permissions and its grants with it.
    pub fn rename_role(&self, org: &str, old: &str, new: &str) -> Result<()> {
        self.tx.execute(
            "INSERT INTO roles (org, name, description, created_at)
             SELECT org, ?3, description, created_at FROM roles WHERE org = ?1 AND name = ?2",
            params![org, old, new],
        )?;
        self.tx.execute(
            "UPDATE role_permissions SET role = ?3 WHERE org = ?1 AND role = ?2",
            params![org, old, new],
        )?;
        self.tx.execute(
            "UPDATE account_roles SET role = ?3
             WHERE role = ?2 AND account_id IN (SELECT account_id FROM account_roles r
                 CROSS JOIN accounts a ON a.id = r.account_id WHERE r.role = ?2 AND a.org = ?1)",
            params![org, old, new],
        )?;
        self.tx.execute(
            "DELETE FROM roles WHERE org = ?1 AND name = ?2",
            params![org, old],
        )?;
        Ok(())
    }

    /// Deletes a custom role with its permissions and its grants; how many grants went.
    pub fn delete_role(&self, org: &str, name: &str) -> Result<u64> {
        let grants = self.tx.execute(
            "DELETE FROM account_roles WHERE role = ?2 AND account_id IN
                (SELECT r.account_id FROM account_roles r CROSS JOIN accounts a ON a.id = r.account_id
                 WHERE r.role = ?2 AND a.org = ?1)",
            params![org, name],
        )?;
        self.tx.execute(
            "DELETE FROM roles WHERE org = ?1 AND name = ?2",
            params![org, name],
        )?;
        Ok(u64::try_from(grants).unwrap_or(0))
    }

    /// The names of the accounts of `org` (deleted ones aside) that hold `role`, by name; the
    /// first `limit` of them when given.
    pub fn role_holders(&self, org: &str, role: &str, limit: Option<u64>) -> Result<Vec<String>> {
        self.tx.query_all(
            "SELECT a.name FROM account_roles r CROSS JOIN accounts a ON a.id = r.account_id
             WHERE r.role = ?2 AND a.org = ?1 AND a.status != 'deleted' ORDER BY a.name LIMIT ?3",
            params![org, role, super::sql_limit(limit)],
            |r| r.get(0),
        )
    }

    /// How many accounts of `org` hold `role`: deleted (still restorable) ones too, or not.
    pub fn count_role_holders(&self, org: &str, role: &str, with_deleted: bool) -> Result<u64> {
        let n: i64 = self.tx.query_row(
            "SELECT count(*) FROM account_roles r CROSS JOIN accounts a ON a.id = r.account_id
             WHERE r.role = ?2 AND a.org = ?1 AND (?3 OR a.status != 'deleted')",
            params![org, role, with_deleted],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Gives `role` to an account; whether it did not hold it yet.
    pub fn grant_role(&self, account_id: i64, role: &str) -> Result<bool> {
        Ok(self.tx.execute(
            "INSERT INTO account_roles (account_id, role) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            params![account_id, role],
        )? == 1)
    }

    /// The permissions of a custom role, or `None` when `org` has no such role.
    pub fn custom_role_permissions(&self, org: &str, role: &str) -> Result<Option<Vec<String>>> {
        if !self.tx.exists(
            "SELECT 1 FROM roles WHERE org = ?1 AND name = ?2",
            params![org, role],
        )? {
            return Ok(None);
        }
        let permissions = self.tx.query_all(
            "SELECT permission FROM role_permissions WHERE org = ?1 AND role = ?2 ORDER BY permission",
            params![org, role],
            |r| r.get(0),
        )?;
        Ok(Some(permissions))
    }

    /// Takes `role` from an account; whether it held it.
    pub fn revoke_role(&self, account_id: i64, role: &str) -> Result<bool> {
        Ok(self.tx.execute(
            "DELETE FROM account_roles WHERE account_id = ?1 AND role = ?2",
            params![account_id, role],
        )? == 1)
    }
}
