//! `sa config show` and `sa config path`. Neither creates the database; `show` reads the
//! argon2 cost an existing one records, since that, not the config's, is in force.

use comfy_table::Cell;
use serde_json::{Map, Value as Json, json};

use crate::cli::args::ConfigCommand;
use crate::cli::table::{Column, Field, cut, keep};
use crate::cli::{Outcome, Session};
use crate::config::Value;
use crate::error::Result;

fn to_json(value: &Value) -> Json {
    match value {
        Value::Text(s) => Json::String(s.clone()),
        Value::Integer(n) => json!(n),
        Value::Bool(b) => Json::Bool(*b),
        Value::Unset(_) => Json::Null,
    }
}

pub fn run(session: &Session<'_>, command: ConfigCommand) -> Result<Outcome> {
    let printer = session.printer;
    let config = session.config;
    match command {
        ConfigCommand::Show => {
            if let Some(warning) = config.weak_argon2_warning() {
                printer.warn(&warning);
            }
            let mut entries = config.entries();
            if let Some(recorded) = recorded_argon2(session) {
                for entry in &mut entries {
                    let (in_force, configured) = match entry.key {
                        "argon2.memory_kib" => (recorded.memory_kib, config.argon2.memory_kib),
                        "argon2.iterations" => (recorded.iterations, config.argon2.iterations),
                        "argon2.parallelism" => (recorded.parallelism, config.argon2.parallelism),
                        _ => continue,
                    };
                    if in_force != configured {
                        entry.value = Value::Integer(u64::from(in_force));
                        entry.source = crate::config::Source::Database { configured };
                    }
                }
            }
            if printer.is_json() {
                // Shaped like the file (`.tokens.max_ttl`), with each key's source beside it.
                let mut root = Map::new();
                let mut sources = Map::new();
                for entry in &entries {
                    match entry.key.split_once('.') {
                        Some((section, key)) => {
                            let table = root
                                .entry(section)
                                .or_insert_with(|| Json::Object(Map::new()));
                            if let Json::Object(table) = table {
                                table.insert(key.to_string(), to_json(&entry.value));
                            }
                        }
                        None => {
                            root.insert(entry.key.to_string(), to_json(&entry.value));
                        }
                    }
                    sources.insert(
                        entry.key.to_string(),
                        Json::String(entry.source.to_string()),
                    );
                }
                root.insert("sources".into(), Json::Object(sources));
                printer.json(&root)?;
            } else {
                // Paths are whole or useless: nothing here is cut.
                const COLUMNS: &[Column] = &[keep("key"), cut("value"), cut("source")];
                let rows = entries
                    .iter()
                    .map(|e| {
                        let value = match &e.value {
                            Value::Text(s) => s.clone(),
                            Value::Integer(n) => n.to_string(),
                            Value::Bool(b) => b.to_string(),
                            Value::Unset(meaning) => format!("({meaning})"),
                        };
                        vec![
                            Field::new(e.key),
                            Field::new(value),
                            Field::new(e.source.to_string()),
                        ]
                    })
                    .collect();
                printer.table(COLUMNS, rows)?;
            }
        }
        ConfigCommand::Path => {
            let config_file = config.file.display().to_string();
            let database = config.database_display();
            let database_exists = crate::store::database_exists(&config.db_path);
            if printer.is_json() {
                printer.json(&json!({
                    "config": config_file,
                    "config_exists": config.file_found,
                    "database": database,
                    "database_exists": database_exists,
                }))?;
            } else {
                let exists = |found: bool| if found { "" } else { " (not found)" };
                printer.record(vec![
                    (
                        "config",
                        Cell::new(format!("{config_file}{}", exists(config.file_found))),
                    ),
                    (
                        "database",
                        Cell::new(format!("{database}{}", exists(database_exists))),
                    ),
                ])?;
            }
        }
    }
    Ok(Outcome::Success)
}

/// The argon2 cost an existing database records; none when there is no database (`config
/// show` is how one finds out which file that would be) or it cannot be read.
fn recorded_argon2(session: &Session<'_>) -> Option<crate::config::Argon2Cost> {
    let mut store = crate::store::Store::open_existing(&session.config.db_path).ok()?;
    crate::domain::tokens::recorded_argon2_cost(&mut store)
        .ok()
        .flatten()
}
