//! One file per noun. Each handler turns arguments into a domain request, calls the domain,
//! and hands the result to the Printer.

pub mod account;
pub mod apply;
pub mod audit;
pub mod config;
pub mod db;
pub mod org;
pub mod role;
pub mod scan;
pub mod token;
pub mod usage;

/// `sa completions SHELL`: the script, on stdout.
pub fn completions(
    session: &crate::cli::Session<'_>,
    shell: &str,
) -> crate::error::Result<crate::cli::Outcome> {
    let script = crate::cli::generate::completion_script(shell)
        .ok_or_else(|| crate::error::Error::invalid(format!("no completion for `{shell}`")))?;
    session.printer.stdout_bytes(&script)?;
    Ok(crate::cli::Outcome::Success)
}

/// A free-text flag given as nothing (`--description ""`, `--name "  "`): no value, stored as
/// none and shown as `-`, rather than an empty string that looks like a value.
pub fn unless_blank(text: String) -> Option<String> {
    Some(text).filter(|t| !t.trim().is_empty())
}
