//! `sa role create|list|show|update|delete|grant|revoke` and `sa can`.

use crate::cli::args::{CanArgs, RoleCommand};
use crate::cli::output::{
    GrantView, HOLDERS_SHOWN, ROLE_COLUMNS, RoleView, print_answer, print_role, role_row,
};
use crate::cli::{Outcome, Session, prompt};
use crate::domain::roles::{self, CreateRole, UpdateRole};
use crate::error::Result;

pub fn run(session: &Session<'_>, command: RoleCommand) -> Result<Outcome> {
    let printer = session.printer;
    let ctx = &session.ctx;
    match command {
        RoleCommand::Create(args) => {
            let mut store = session.open_store()?;
            let request = CreateRole {
                name: args.name,
                permissions: args.permissions,
                description: args.description.and_then(super::unless_blank),
            };
            let role = roles::create(&mut store, ctx, &request)?;
            printer.note(&format!(
                "created role `{}` in `{}`; give it with `sa role grant {} ACCOUNT`",
                role.name, ctx.org, role.name
            ));
            print_role(printer, &role, None)?;
        }
        RoleCommand::List(limit) => {
            let mut store = session.open_store()?;
            let mut list = printer.list(ROLE_COLUMNS);
            for role in roles::list(&mut store, ctx)?.into_iter().take(limit.rows()) {
                list.push(|| RoleView::from(&role), || role_row(&role))?;
            }
            list.finish()?;
        }
        RoleCommand::Show(args) => {
            let mut store = session.open_store()?;
            // A table names the first few holders; JSON names them all.
            let limit = (!printer.is_json()).then_some(HOLDERS_SHOWN as u64);
            let (role, holders) = roles::show(&mut store, ctx, &args.name, limit)?;
            print_role(printer, &role, Some(&holders))?;
        }
        RoleCommand::Update(args) => {
            let mut store = session.open_store()?;
            let request = UpdateRole {
                add: args.add,
                remove: args.remove,
                description: args.description.map(super::unless_blank),
                name: args.name,
            };
            let updated = roles::update(&mut store, ctx, &args.role, &request)?;
            let role = &updated.role;
            printer.note(&if updated.changed {
                format!(
                    "updated role `{}`; the {} account(s) holding it and their tokens have its permissions now",
                    role.name, role.holders
                )
            } else {
                format!("role `{}` already looks like that; nothing changed", role.name)
            });
            print_role(printer, role, None)?;
        }
        RoleCommand::Delete(args) => {
            let mut store = session.open_store()?;
            let holders = roles::deletable(&mut store, ctx, &args.name)?;
            if holders > 0 {
                prompt::confirm(
                    &format!(
                        "delete role `{}` from the {holders} account(s) holding it",
                        args.name
                    ),
                    args.yes,
                )?;
            }
            let (role, grants) = roles::delete(&mut store, ctx, &args.name)?;
            printer.note(&format!(
                "deleted role `{}`; {grants} account(s) lost it",
                role.name
            ));
            print_role(printer, &role, None)?;
        }
        RoleCommand::Grant(args) => {
            let mut store = session.open_store()?;
            let done = roles::grant(&mut store, ctx, &args.role, &args.accounts)?;
            report_grants(session, &args.role.to_string(), &done, true)?;
        }
        RoleCommand::Revoke(args) => {
            let mut store = session.open_store()?;
            let done = roles::revoke(&mut store, ctx, &args.role, &args.accounts)?;
            report_grants(session, &args.role.to_string(), &done, false)?;
        }
    }
    Ok(Outcome::Success)
}

/// A note per account, saying whether anything changed; the same as JSON on stdout.
fn report_grants(
    session: &Session<'_>,
    role: &str,
    done: &[(String, bool)],
    granted: bool,
) -> Result<()> {
    let printer = session.printer;
    for (account, changed) in done {
        printer.note(&match (granted, changed) {
            (true, true) => format!("granted `{role}` to `{account}`"),
            (true, false) => format!("`{account}` already holds `{role}`; nothing changed"),
            (false, true) => format!("revoked `{role}` from `{account}`"),
            (false, false) => format!("`{account}` does not hold `{role}`; nothing changed"),
        });
    }
    if printer.is_json() {
        let views: Vec<GrantView> = done
            .iter()
            .map(|(account, changed)| GrantView {
                account: account.clone(),
                role: role.to_string(),
                changed: *changed,
            })
            .collect();
        printer.json(&views)?;
    }
    Ok(())
}

/// `sa can`: the answer on stdout, exit 1 for `no` (no error line: the answer is the output).
pub fn can(session: &Session<'_>, args: CanArgs) -> Result<Outcome> {
    let mut store = session.open_store()?;
    let answer = roles::can(
        &mut store,
        &session.ctx,
        &args.account,
        &args.permission,
        args.token.as_ref(),
    )?;
    print_answer(session.printer, &answer)?;
    Ok(if answer.allowed {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}
