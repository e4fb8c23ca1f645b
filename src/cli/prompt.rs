//! Confirmations. Without a terminal on both stdin and stderr nothing is asked: a destructive
//! command then needs `--yes`, and fails with exit 2 before changing anything.

use std::io::IsTerminal;

use crate::error::{Error, Result};

fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Asks "`question` [y/N]" unless `yes`; a "no" is [`Error::Cancelled`].
pub fn confirm(question: &str, yes: bool) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !interactive() {
        return Err(Error::ConfirmationRequired {
            action: question.to_string(),
        });
    }
    let answer = dialoguer::Confirm::new()
        .with_prompt(format!("{question}?"))
        .default(false)
        .interact()
        .map_err(|e| Error::io("cannot read the answer", std::io::Error::other(e)))?;
    if answer {
        Ok(())
    } else {
        Err(Error::Cancelled)
    }
}

/// Reads a token hidden from the screen when stdin is a terminal.
pub fn read_secret(prompt: &str) -> Result<Option<String>> {
    if !interactive() {
        return Ok(None);
    }
    dialoguer::Password::new()
        .with_prompt(prompt)
        .interact()
        .map(Some)
        .map_err(|e| Error::io("cannot read the token", std::io::Error::other(e)))
}
