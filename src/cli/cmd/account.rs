//! `sa create|list|show|update|disable|enable|delete|undelete` (also under `sa account`).

use crate::cli::args::{AccountCommand, AccountStatusArg};
use crate::cli::output::{ACCOUNT_COLUMNS, AccountView, account_row, print_account};
use crate::cli::{Outcome, Session, prompt};
use crate::domain::accounts::{self, CreateAccount, ListAccounts, UpdateAccount};
use crate::domain::names::OrgName;
use crate::domain::roles;
use crate::error::Result;
use crate::store::{Account, AccountStatus, Store};

pub fn run(session: &Session<'_>, command: AccountCommand) -> Result<Outcome> {
    let printer = session.printer;
    let ctx = &session.ctx;
    match command {
        AccountCommand::Create(args) => {
            let mut store = session.open_store()?;
            let request = CreateAccount {
                name: args.name,
                description: args.description.and_then(super::unless_blank),
                roles: args.roles,
            };
            let account = accounts::create(&mut store, ctx, &request)?;
            printer.note(&format!(
                "created account `{}` (id {}) in `{}`",
                account.name, account.id, account.org
            ));
            show(session, &mut store, &account)?;
        }
        AccountCommand::List(args) => {
            let mut store = session.open_store()?;
            let status = match args.status {
                None | Some(AccountStatusArg::All) => None,
                Some(AccountStatusArg::Active) => Some(AccountStatus::Active),
                Some(AccountStatusArg::Disabled) => Some(AccountStatus::Disabled),
                Some(AccountStatusArg::Deleted) => Some(AccountStatus::Deleted),
            };
            let query = ListAccounts {
                status,
                include_deleted: args.status == Some(AccountStatusArg::All),
                role: args.role,
                search: args.search,
                limit: args.limit.limit,
            };
            let mut list = printer.list(ACCOUNT_COLUMNS);
            accounts::list(&mut store, ctx, &query, &mut |account| {
                list.push(
                    || AccountView::from(&account),
                    || account_row(printer, &account),
                )
            })?;
            if list.finish()? == 0 && ctx.org != OrgName::default() {
                // An empty list of a mistyped --org looks like an empty organization. Only a
                // note: if the lookup fails, the list printed is still the answer.
                let known = accounts::list_orgs(&mut store).unwrap_or_default();
                if !known.is_empty() && !known.iter().any(|o| o.name == ctx.org.as_str()) {
                    printer.note(&format!(
                        "organization `{}` has no accounts and never had any (`sa org list` shows those that do)",
                        ctx.org
                    ));
                }
            }
        }
        AccountCommand::Show(args) => {
            let mut store = session.open_store()?;
            let account = accounts::show(&mut store, ctx, &args.account)?;
            show(session, &mut store, &account)?;
        }
        AccountCommand::Update(args) => {
            let mut store = session.open_store()?;
            let request = UpdateAccount {
                name: args.name,
                description: args.description.map(super::unless_blank),
            };
            let outcome = accounts::update(&mut store, ctx, &args.account, &request)?;
            printer.note(&if outcome.changed {
                format!(
                    "updated account `{}` (id {})",
                    outcome.account.name, outcome.account.id
                )
            } else {
                format!(
                    "account `{}` already looks like that; nothing changed",
                    outcome.account.name
                )
            });
            show(session, &mut store, &outcome.account)?;
        }
        AccountCommand::Disable(args) => {
            let mut store = session.open_store()?;
            let outcome =
                accounts::disable(&mut store, ctx, &args.account, args.reason.as_deref())?;
            let name = &outcome.account.name;
            printer.note(&if outcome.changed {
                format!(
                    "disabled account `{name}`: its tokens are rejected until `sa enable {name}`"
                )
            } else {
                format!("account `{name}` was already disabled")
            });
            show(session, &mut store, &outcome.account)?;
        }
        AccountCommand::Enable(args) => {
            let mut store = session.open_store()?;
            let outcome = accounts::enable(&mut store, ctx, &args.account)?;
            let name = &outcome.account.name;
            printer.note(&if outcome.changed {
                format!("enabled account `{name}`")
            } else {
                format!("account `{name}` was already active")
            });
            show(session, &mut store, &outcome.account)?;
        }
        AccountCommand::Delete(args) => {
            let mut store = session.open_store()?;
            // Resolve first, so the question names the account and a typo fails before asking.
            let account = if args.purge {
                store.read(|tx| accounts::find_any(tx, ctx, &args.account))?
            } else {
                accounts::show(&mut store, ctx, &args.account)?
            };
            let what = if args.purge {
                "permanently delete"
            } else {
                "delete"
            };
            prompt::confirm_by_typing(
                &format!(
                    "{what} account `{}` (id {}) and revoke its tokens",
                    account.name, account.id
                ),
                &account.name,
                args.yes,
            )?;
            let deletion = accounts::delete(&mut store, ctx, &args.account, args.purge)?;
            let account = &deletion.account;
            let revoked = deletion.revoked_tokens.len();
            if deletion.purged {
                printer.note(&format!(
                    "purged account `{}` (id {}); {revoked} token(s) revoked",
                    account.name, account.id
                ));
            } else {
                let retention = ctx.config.retention.deleted_accounts;
                printer.note(&format!(
                    "deleted account `{}` (id {}); {revoked} token(s) revoked; restorable for {retention} with `sa undelete {}`",
                    account.name, account.id, account.id
                ));
            }
            show(session, &mut store, account)?;
        }
        AccountCommand::Undelete(args) => {
            let mut store = session.open_store()?;
            let account = accounts::undelete(&mut store, ctx, &args.account)?;
            printer.note(&format!(
                "restored account `{}` (id {}); mint new tokens with `sa token add`",
                account.name, account.id
            ));
            show(session, &mut store, &account)?;
        }
    }
    Ok(Outcome::Success)
}

/// Prints one account with its effective permissions.
fn show(session: &Session<'_>, store: &mut Store, account: &Account) -> Result<()> {
    let permissions = roles::of_account(store, account)?;
    print_account(session.printer, account, &permissions)
}
