//! Set-up for the crate's doc examples, tests and benches (feature `internals`): what an
//! administrator would do with the CLI, done through the library. Not part of the API.

use std::path::Path;

use crate::config::{Argon2Cost, Config};
use crate::domain::Context;
use crate::domain::accounts::{CreateAccount, create};
use crate::domain::names::{AccountName, AccountRef, OrgName, RoleName};
use crate::domain::tokens::{MintRequest, mint, record_argon2_cost};
use crate::error::Result;
use crate::store::Store;

/// An argon2 cost far below OWASP's, so that examples and tests hash in microseconds.
pub const CHEAP: Argon2Cost = Argon2Cost {
    memory_kib: 64,
    iterations: 1,
    parallelism: 1,
};

/// [`mint_at_cost`] at the [`CHEAP`] cost.
pub fn mint_for_doc(path: &Path, account: &str, role: &str) -> Result<String> {
    mint_at_cost(path, CHEAP, account, role)
}

/// As `sa create --name ACCOUNT --role ROLE` and `sa token add ACCOUNT` would with `cost` in
/// `[argon2]`: the database at `path` (created if missing) records `cost`, gets the account
/// and a token for it. Returns the token.
pub fn mint_at_cost(path: &Path, cost: Argon2Cost, account: &str, role: &str) -> Result<String> {
    let mut config = Config::with_db_path(path);
    config.argon2 = cost;
    let mut store = Store::open(path)?;
    let ctx = Context {
        org: OrgName::default(),
        actor: "doc".into(),
        now: crate::time::now(),
        config: &config,
        acting: None,
    };
    record_argon2_cost(&mut store, &ctx)?;
    create(
        &mut store,
        &ctx,
        &CreateAccount {
            name: AccountName::parse(account)?,
            description: None,
            roles: vec![RoleName::parse(role)?],
        },
    )?;
    let minted = mint(
        &mut store,
        &ctx,
        &MintRequest {
            account: AccountRef::parse(account)?,
            name: None,
            expires: None,
            scopes: vec![],
        },
    )?;
    Ok(minted.secret.expose().to_string())
}
