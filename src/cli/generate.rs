//! What is generated from the clap definitions: the examples in `--help`, the shell
//! completion scripts (`completions/`, `sa completions SHELL`) and the man pages (`man/`).
//! One table of examples serves `--help` and the man pages' EXAMPLES sections alike;
//! `tests/cli/generated.rs` fails when the committed files differ from what this makes.

use std::io::Write;

use clap::{Command, CommandFactory};
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, roman};

use crate::cli::args::Cli;

/// Each command's examples, by its path below `sa` (`""` is `sa` itself): what it does, then
/// the command line.
const EXAMPLES: &[(&str, &[(&str, &str)])] = &[
    (
        "",
        &[
            (
                "Create an account, mint a token, check it",
                "sa create --name ci-bot --role editor",
            ),
            ("", "TOKEN=$(sa token add ci-bot --expires 4h)"),
            (
                "",
                "printf '%s\\n' \"$TOKEN\" | sa token verify --permission deploys:write",
            ),
            (
                "Revoke an account's tokens unused for 30 days",
                "sa token list ci-bot --unused-for 30d -o name | xargs -r sa token revoke --yes",
            ),
        ],
    ),
    (
        "create",
        &[(
            "A deploy bot that may write",
            "sa create --name deploy-bot --role editor --description \"CD pipeline\"",
        )],
    ),
    (
        "list",
        &[
            ("Accounts holding a role", "sa list --role admin"),
            (
                "Deleted accounts that can still be restored",
                "sa list --status deleted",
            ),
            (
                "Search names, descriptions and emails",
                "sa list --search deploy --json",
            ),
        ],
    ),
    (
        "show",
        &[(
            "One account, with its effective permissions",
            "sa show ci-bot",
        )],
    ),
    (
        "update",
        &[
            (
                "Rename an account (its id and email stay)",
                "sa update ci-bot --name build-bot",
            ),
            (
                "Change the description",
                "sa update ci-bot --description \"nightly builds\"",
            ),
        ],
    ),
    (
        "disable",
        &[(
            "Stop every token of an account at once",
            "sa disable ci-bot --reason \"key leaked\"",
        )],
    ),
    (
        "enable",
        &[("Let its tokens work again", "sa enable ci-bot")],
    ),
    (
        "delete",
        &[
            (
                "Delete (restorable until the retention ends)",
                "sa delete ci-bot",
            ),
            ("In a script, without asking", "sa delete ci-bot --yes"),
        ],
    ),
    (
        "undelete",
        &[(
            "Restore a deleted account by its id",
            "sa list --status deleted && sa undelete 7",
        )],
    ),
    (
        "token",
        &[("Mint, list, rotate", "sa token add ci-bot --expires 30d")],
    ),
    (
        "token add",
        &[
            (
                "A token for four hours, into a variable",
                "TOKEN=$(sa token add ci-bot --expires 4h)",
            ),
            (
                "Narrowed to one permission, written to a file",
                "sa token add ci-bot --scope deploys:write --output-file /run/secrets/ci",
            ),
        ],
    ),
    (
        "token list",
        &[
            (
                "One account's tokens with their usage",
                "sa token list ci-bot --usage",
            ),
            (
                "A cron check: exit 1 when anything lapses within 14 days",
                "sa token list --expiring-within 14d --exit-code",
            ),
            (
                "What nobody used for 30 days, stalest first",
                "sa token list --unused-for 30d --sort last-used",
            ),
            (
                "Their ids and accounts, tab-separated (`--jq` filters the JSON)",
                "sa token list --unused-for 30d --jq '.[] | [.id, .account] | @tsv'",
            ),
        ],
    ),
    (
        "token show",
        &[(
            "One token's metadata (never its secret)",
            "sa token show Ab3dE6gH9jK2",
        )],
    ),
    (
        "token revoke",
        &[
            (
                "Revoke two tokens",
                "sa token revoke Ab3dE6gH9jK2 Xy7wV5uT3sR1",
            ),
            (
                "Revoke every token of an account",
                "sa token revoke --account ci-bot --all --yes",
            ),
        ],
    ),
    (
        "token rotate",
        &[(
            "A successor, the old token working one more hour",
            "sa token rotate Ab3dE6gH9jK2 --grace 1h",
        )],
    ),
    (
        "token verify",
        &[
            (
                "Check a token from a variable (never on the command line)",
                "printf '%s\\n' \"$TOKEN\" | sa token verify --permission deploys:write",
            ),
            ("The answer as JSON", "sa token verify --json < token.txt"),
        ],
    ),
    (
        "token disable",
        &[("Pause a token", "sa token disable Ab3dE6gH9jK2")],
    ),
    (
        "token enable",
        &[("Resume it", "sa token enable Ab3dE6gH9jK2")],
    ),
    (
        "token prune",
        &[
            (
                "See, then remove, tokens that ended over 90 days ago",
                "sa token prune --older-than 90d --dry-run",
            ),
            ("", "sa token prune --older-than 90d --yes"),
        ],
    ),
    (
        "scan",
        &[
            (
                "A CI gate: exit 1 when the tree holds a live token",
                "sa scan .",
            ),
            (
                "A pre-commit hook: the lines the staged changes add",
                "sa scan --git",
            ),
            (
                "Revoke the live ones found in a log, each audited as leaked",
                "sa scan --revoke --yes < build.log",
            ),
            (
                "One `file:line token status` a finding",
                "sa scan . --jq '.[] | \"\\(.file):\\(.line) \\(.token_id) \\(.status)\"'",
            ),
        ],
    ),
    (
        "org",
        &[("Every organization with its account counts", "sa org list")],
    ),
    ("org list", &[("As JSON", "sa org list --json")]),
    ("config", &[("Where sa reads and writes", "sa config path")]),
    (
        "config show",
        &[("Every value and where it came from", "sa config show")],
    ),
    (
        "config path",
        &[(
            "The config file and database in use",
            "sa config path --json",
        )],
    ),
    (
        "role",
        &[("The roles and how many accounts hold each", "sa role list")],
    ),
    (
        "role create",
        &[(
            "A role for deploys",
            "sa role create deployer --permission deploys:write --permission logs:read",
        )],
    ),
    ("role list", &[("As JSON", "sa role list --json")]),
    (
        "role show",
        &[("A role's permissions and holders", "sa role show deployer")],
    ),
    (
        "role update",
        &[(
            "Add and remove permissions; every holder's tokens follow",
            "sa role update deployer --add builds:read --remove logs:read",
        )],
    ),
    (
        "role delete",
        &[("Delete a custom role", "sa role delete deployer --yes")],
    ),
    (
        "role grant",
        &[(
            "Give a role to two accounts",
            "sa role grant deployer ci-bot cd-bot",
        )],
    ),
    (
        "role revoke",
        &[("Take it back", "sa role revoke deployer ci-bot")],
    ),
    (
        "can",
        &[
            (
                "Whether an account may write deploys, and why",
                "sa can ci-bot deploys:write",
            ),
            (
                "For one of its tokens, scopes applied",
                "sa can ci-bot deploys:write --token Ab3dE6gH9jK2",
            ),
        ],
    ),
    (
        "usage",
        &[
            ("The organization at a glance", "sa usage"),
            (
                "A cron check: exit 1 when anything needs attention",
                "sa usage --exit-code > /dev/null",
            ),
            (
                "One account's tokens, day by day over a week",
                "sa usage ci-bot --days 7",
            ),
        ],
    ),
    (
        "audit",
        &[
            (
                "The last 20 events about an account",
                "sa audit --account ci-bot --limit 20",
            ),
            (
                "Token events of the last week",
                "sa audit --action token. --since 7d",
            ),
        ],
    ),
    (
        "audit verify",
        &[(
            "Check the hash chain; keep the head hash elsewhere",
            "sa audit verify --json",
        )],
    ),
    (
        "audit prune",
        &[(
            "Remove events from before this year",
            "sa audit prune --before 2026-01-01 --yes",
        )],
    ),
    ("db", &[("Check the file", "sa db check")]),
    (
        "db check",
        &[(
            "Check a copy before restoring it",
            "sa db check --db /backups/sa.db",
        )],
    ),
    (
        "db backup",
        &[(
            "A consistent copy while others write",
            "sa db backup /backups/sa-$(date +%F).db",
        )],
    ),
    (
        "db copy",
        &[
            (
                "Move the SQLite file onto a PostgreSQL server",
                "sa db copy --to 'postgresql://sa@db.internal/sa?sslmode=verify-full&sslrootcert=system'",
            ),
            (
                "A PostgreSQL store back into an SQLite file",
                "sa --db postgresql:///sa?host=/run/postgresql db copy --to sa.db",
            ),
        ],
    ),
    (
        "export",
        &[
            (
                "Keep the organization in a reviewed file",
                "sa export > accounts.toml",
            ),
            ("Every organization, as JSON", "sa export --all-orgs --json"),
        ],
    ),
    (
        "apply",
        &[
            (
                "What applying the file would change",
                "sa apply -f accounts.toml --dry-run",
            ),
            (
                "Drift check in CI: exit 1 when the database differs",
                "sa apply -f accounts.toml --dry-run --exit-code",
            ),
            (
                "From cron: mint and rotate the declared tokens into files",
                "sa apply -f accounts.toml --token-dir /run/sa-tokens",
            ),
        ],
    ),
    (
        "init",
        &[("Create the database where the config says", "sa init")],
    ),
    (
        "completions",
        &[
            (
                "Bash, for the current shell",
                "source <(sa completions bash)",
            ),
            ("zsh, installed", "sa completions zsh > \"${fpath[1]}/_sa\""),
            (
                "fish",
                "sa completions fish > ~/.config/fish/completions/sa.fish",
            ),
        ],
    ),
];

/// The shells `sa completions` knows, as clap_complete names them.
pub const SHELLS: &[&str] = &["bash", "zsh", "fish", "elvish", "powershell"];

/// The file each shell's script is committed as, in `completions/`.
pub fn completion_file_name(shell: &str) -> String {
    match shell {
        "powershell" => "sa.ps1".into(),
        other => format!("sa.{other}"),
    }
}

fn examples_of(path: &str) -> &'static [(&'static str, &'static str)] {
    // `sa account create` is `sa create`.
    let path = path.strip_prefix("account ").unwrap_or(path);
    let path = if path == "account" { "" } else { path };
    EXAMPLES
        .iter()
        .find(|(p, _)| *p == path)
        .map_or(&[], |(_, examples)| examples)
}

/// `sa`'s clap command with every command's examples after its help.
pub fn command() -> Command {
    add_examples(Cli::command(), "")
}

fn add_examples(mut command: Command, path: &str) -> Command {
    let examples = examples_of(path);
    if !examples.is_empty() {
        let mut text = String::from("Examples:");
        for (what, line) in examples {
            if !what.is_empty() {
                text.push_str(&format!("\n  # {what}"));
            }
            text.push_str(&format!("\n  {line}"));
        }
        command = command.after_help(text);
    }
    let names: Vec<String> = command
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in names {
        let sub_path = if path.is_empty() {
            name.clone()
        } else {
            format!("{path} {name}")
        };
        command = command.mut_subcommand(&name, |sub| add_examples(sub, &sub_path));
    }
    command
}

/// The completion script for `shell` (one of [`SHELLS`]): it asks `sa` itself, so account
/// names, role names and token ids come from the database.
pub fn completion_script(shell: &str) -> Option<Vec<u8>> {
    let shells = clap_complete::env::Shells::builtins();
    let completer = shells.completer(shell)?;
    let mut script = Vec::new();
    completer
        .write_registration("COMPLETE", "sa", "sa", "sa", &mut script)
        .ok()?;
    if shell == "zsh" {
        // Installed as `_sa` in $fpath, the file is autoloaded as the completion function
        // itself on the first Tab, which would only register the completer and offer
        // nothing until a second Tab: complete at once when run that way.
        script.extend_from_slice(
            b"if [[ \"${funcstack[1]}\" = \"_sa\" ]]; then\n    _clap_dynamic_completer_sa \"$@\"\nfi\n",
        );
    }
    Some(script)
}

/// Every man page: `sa.1`, and one per subcommand (`sa-token-add.1`), by file name.
pub fn man_pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let mut root = command().disable_help_subcommand(true);
    // Sets each subcommand's full name (`sa token add`) and page name (`sa-token-add`).
    root.build();
    let mut pages = Vec::new();
    man_page(&root, "", &mut pages)?;
    Ok(pages)
}

fn man_page(
    command: &Command,
    path: &str,
    pages: &mut Vec<(String, Vec<u8>)>,
) -> std::io::Result<()> {
    let man = Man::new(command.clone())
        .manual("sa manual")
        .source(concat!("sa ", env!("CARGO_PKG_VERSION")));
    let mut page = Vec::new();
    man.render_title(&mut page)?;
    man.render_name_section(&mut page)?;
    man.render_synopsis_section(&mut page)?;
    man.render_description_section(&mut page)?;
    if command.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut page)?;
    }
    if command.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(&mut page)?;
    }
    let examples = examples_of(path);
    if !examples.is_empty() {
        let mut roff = Roff::default();
        roff.control("SH", ["EXAMPLES"]);
        for (what, line) in examples {
            if !what.is_empty() {
                roff.control("PP", []);
                roff.text([roman(*what)]);
            }
            roff.control("RS", ["4"]);
            roff.text([bold(*line)]);
            roff.control("RE", []);
        }
        roff.to_writer(&mut page)?;
    }
    if path.is_empty() {
        page.write_all(
            b".SH \"SEE ALSO\"\nThe README and docs/ of the sa repository; \\fBsa help COMMAND\\fR.\n",
        )?;
    }
    pages.push((man.get_filename(), page));
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let sub_path = if path.is_empty() {
            sub.get_name().to_string()
        } else {
            format!("{path} {}", sub.get_name())
        };
        man_page(sub, &sub_path, pages)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every example is of a command that exists, and every command has examples.
    #[test]
    fn every_command_has_examples_and_every_example_a_command() {
        fn paths(command: &Command, path: &str, out: &mut Vec<String>) {
            out.push(path.to_string());
            for sub in command.get_subcommands() {
                let sub_path = if path.is_empty() {
                    sub.get_name().to_string()
                } else {
                    format!("{path} {}", sub.get_name())
                };
                paths(sub, &sub_path, out);
            }
        }
        let mut all = Vec::new();
        paths(&Cli::command(), "", &mut all);
        for path in &all {
            assert!(!examples_of(path).is_empty(), "`sa {path}` has no examples");
        }
        for (path, _) in EXAMPLES {
            assert!(
                all.iter().any(|p| p == path),
                "examples of `sa {path}`, which does not exist"
            );
        }
    }
}
