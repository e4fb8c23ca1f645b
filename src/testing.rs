//! Helpers for the crate's doc examples; not part of the API.

use crate::config::Config;
use crate::domain::Context;
use crate::domain::accounts::{CreateAccount, create};
use crate::domain::names::{AccountName, AccountRef, OrgName, RoleName};
use crate::domain::tokens::{MintRequest, mint};
use crate::error::Result;
use crate::store::Store;

/// Creates an account with one role and mints a token for it; returns the token.
pub fn mint_for_doc(config: &Config, account: &str, role: &str) -> Result<String> {
    let mut store = Store::open(&config.db_path)?;
    let ctx = Context {
        org: OrgName::default(),
        actor: "doc".into(),
        now: crate::time::now(),
        config,
        acting: None,
    };
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
