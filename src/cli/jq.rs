//! `--jq EXPR`: a command's JSON output filtered by a jq expression, as `gh --jq` and
//! `glab --jq` do, with jaq (a jq implementation in Rust) so no jq binary is needed.
//!
//! The expression is compiled once, before the command runs, so a mistyped one is a usage
//! error and the command does nothing. It then sees the command's whole JSON document (a
//! list's whole array), exactly as `sa … --json | jq EXPR` would; each result is printed on
//! its own line, strings raw (like `jq -r`), anything else as compact JSON.

use std::io::Write;

use jaq_core::data::JustLut;
use jaq_core::load::{Arena, File, Loader, lex, parse};
use jaq_core::{Compiler, Ctx, Vars, compile};
use jaq_json::Val;

use crate::cli::output::write_err;
use crate::error::{Error, Result};

/// The longest a runtime error's message is shown: jaq's messages quote the value they
/// failed on, which may be a whole list.
const MESSAGE_LIMIT: usize = 200;

type Data = JustLut<Val>;

/// jq's `@csv` and `@tsv`, which jaq's standard library leaves out: an array to one line,
/// strings quoted (CSV) or escaped (TSV), numbers and booleans as they are, `null` empty.
/// `env` is empty too: the environment may hold `$SA_TOKEN`, which sa never prints.
const FORMATS: &str = r#"
def env: {};
def @csv:
  if type != "array" then error("@csv needs an array, not \(type)") end
  | map(if type == "string" then "\"" + (split("\"") | join("\"\"")) + "\""
        elif type == "number" or type == "boolean" then tostring
        elif . == null then ""
        else error("\(type) is not valid in a CSV row") end)
  | join(",");
def @tsv:
  if type != "array" then error("@tsv needs an array, not \(type)") end
  | map(if type == "string"
          then split("\\") | join("\\\\") | split("\t") | join("\\t")
             | split("\n") | join("\\n") | split("\r") | join("\\r")
        elif type == "number" or type == "boolean" then tostring
        elif . == null then ""
        else error("\(type) is not valid in a TSV row") end)
  | join("\t");
"#;

/// A compiled `--jq` expression.
pub struct Jq {
    filter: jaq_core::Filter<Data>,
}

impl Jq {
    /// Parses and compiles `code` with jq's standard library (`map`, `select`, `@csv`, …).
    /// The error is one line, without the `invalid --jq expression` lead.
    pub fn compile(code: &str) -> Result<Self, String> {
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs())
            .chain(
                jaq_core::load::parse(FORMATS, |p| p.defs())
                    .expect("sa's own jq definitions parse (a unit test runs them)"),
            );
        let funs = jaq_core::funs()
            .chain(jaq_std::funs())
            .chain(jaq_json::funs());
        let arena = Arena::default();
        // The loader reads no modules: `import`/`include` are refused, not looked up on disk.
        let modules = Loader::new(defs)
            .load(&arena, File { code, path: () })
            .map_err(|errors| {
                describe(errors.iter().flat_map(|(_, error)| load_error(code, error)))
            })?;
        // Nor data files (`import "x" as $x`).
        jaq_core::load::import(&modules, |_| Err(String::new())).map_err(|errors| {
            describe(errors.iter().flat_map(|(_, error)| load_error(code, error)))
        })?;
        let filter = Compiler::default()
            .with_funs(funs)
            .compile(modules)
            .map_err(|errors| {
                describe(
                    errors
                        .iter()
                        .flat_map(|(_, undefined)| undefined.iter().map(undefined_error)),
                )
            })?;
        Ok(Jq { filter })
    }

    /// Runs the filter over one JSON document (`json`, as serde_json wrote it) and writes
    /// each result to `out` on its own line. A runtime error of the expression is
    /// [`Error::Jq`]; what was printed before it stays printed, as with jq.
    pub fn run(&self, json: &[u8], out: &mut dyn Write) -> Result<()> {
        let input = jaq_json::read::parse_single(json).map_err(|err| {
            Error::io(
                "cannot read back the JSON sa wrote",
                std::io::Error::other(err.to_string()),
            )
        })?;
        let ctx = Ctx::<Data>::new(&self.filter.lut, Vars::new([]));
        for result in self.filter.id.run((ctx, input)) {
            let value = match result {
                Ok(value) => value,
                Err(exception) => match exception.get_err() {
                    Ok(err) => return Err(Error::Jq(short(&message(err)))),
                    // `halt` ends the output; `halt(N)`/`halt_error` with another code is a
                    // failure. (jaq's own `unwrap_valr` would exit the process here.)
                    Err(exception) => match exception.get_halt() {
                        Ok(0) => break,
                        Ok(code) => {
                            return Err(Error::Jq(format!(
                                "the expression halted with exit code {code}"
                            )));
                        }
                        Err(_) => return Err(Error::Jq("the expression failed".into())),
                    },
                },
            };
            let line = render(&value)?;
            out.write_all(&line).map_err(write_err)?;
        }
        Ok(())
    }
}

/// One result: a string raw, anything else as compact JSON; then a newline. jaq also has
/// values JSON has not (NaN, infinities, objects with non-string keys): those are an error
/// rather than a line no JSON reader takes.
fn render(value: &Val) -> Result<Vec<u8>> {
    let mut line = Vec::new();
    match value {
        Val::TStr(text) | Val::BStr(text) => line.extend_from_slice(text),
        other => {
            jaq_json::write::write(&mut line, &jaq_json::write::Pp::default(), 0, other)
                .map_err(write_err)?;
            if serde_json::from_slice::<serde::de::IgnoredAny>(&line).is_err() {
                return Err(Error::Jq(short(&format!(
                    "the result is not JSON (NaN, an infinite number or a non-string key): {}",
                    String::from_utf8_lossy(&line)
                ))));
            }
        }
    }
    line.push(b'\n');
    Ok(line)
}

/// What `error(…)` was given: a string as it is (as jq prints it), anything else as JSON.
fn message(err: jaq_json::Error) -> String {
    match err.into_val() {
        Val::TStr(text) | Val::BStr(text) => String::from_utf8_lossy(&text).into_owned(),
        other => other.to_string(),
    }
}

/// A runtime error's message: tokens in it masked before it is cut (a cut token would no
/// longer be recognised), on one line, at most [`MESSAGE_LIMIT`] characters.
fn short(message: &str) -> String {
    let message = crate::domain::token_format::redact(message);
    let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if message.chars().count() <= MESSAGE_LIMIT {
        return message;
    }
    let cut: String = message.chars().take(MESSAGE_LIMIT - 1).collect();
    format!("{cut}…")
}

/// Up to three distinct problems, on one line.
fn describe(problems: impl Iterator<Item = String>) -> String {
    let mut shown: Vec<String> = Vec::new();
    for problem in problems {
        if !shown.contains(&problem) {
            shown.push(problem);
        }
    }
    let more = shown.len().saturating_sub(3);
    shown.truncate(3);
    let mut text = shown.join("; ");
    if text.is_empty() {
        text = "cannot be parsed".into();
    }
    if more > 0 {
        text.push_str(&format!(" (and {more} more)"));
    }
    text
}

/// The text a problem was found at, or `end of the expression`.
fn found(text: &str) -> String {
    // Masked before it is cut: a token cut short is no longer recognised as one.
    let text = crate::domain::token_format::redact(text.trim());
    if text.is_empty() {
        return "the end of the expression".into();
    }
    let mut shown: String = text.chars().take(30).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    format!("`{shown}`")
}

fn load_error(code: &str, error: &jaq_core::load::Error<&str>) -> Vec<String> {
    use jaq_core::load::Error as Load;
    match error {
        Load::Io(errors) => errors
            .iter()
            .map(|(path, _)| {
                format!("cannot import `{path}`: modules and data files are not supported")
            })
            .collect(),
        Load::Lex(errors) => errors
            .iter()
            .map(|(expected, rest)| lex_error(code, expected, rest))
            .collect(),
        Load::Parse(errors) => errors
            .iter()
            .map(|(expected, at)| match expected {
                parse::Expect::Nothing => format!("unexpected {}", found(at)),
                expected => format!("expected {}, found {}", parse_expected(expected), found(at)),
            })
            .collect(),
    }
}

/// A lexer error: what was expected, and where (`rest` is what was left of the input).
fn lex_error(code: &str, expected: &lex::Expect<&str>, rest: &str) -> String {
    let what = match expected {
        lex::Expect::Digit => "a digit",
        lex::Expect::Ident => "a name",
        lex::Expect::Delim("(") => "a closing parenthesis",
        lex::Expect::Delim("[") => "a closing bracket",
        lex::Expect::Delim("{") => "a closing brace",
        lex::Expect::Delim(_) => "a closing quote",
        lex::Expect::Escape => "a string escape sequence",
        lex::Expect::Unicode => "4 hexadecimal digits",
        _ => "a token",
    };
    // `rest` is a suffix of `code` (the lexer only ever advances through it).
    let at = code.len().saturating_sub(rest.len());
    let rest = code.get(at..).unwrap_or_default();
    format!("expected {what}, found {}", found(rest))
}

fn parse_expected(expected: &parse::Expect<&str>) -> String {
    use parse::Expect;
    match expected {
        Expect::Just(token) => format!("`{token}`"),
        Expect::Term => "a value or filter".into(),
        Expect::ElseOrEnd => "`else` or `end`".into(),
        Expect::CommaOrRBrack => "`,` or `]`".into(),
        Expect::CommaOrRBrace => "`,` or `}`".into(),
        Expect::SemicolonOrRParen => "`;` or `)`".into(),
        Expect::Ident => "a name".into(),
        other => format!("a {}", other.as_str()),
    }
}

fn undefined_error((name, undefined): &compile::Error<&str>) -> String {
    match undefined {
        compile::Undefined::Filter(arity) => format!("undefined function `{name}/{arity}`"),
        other => format!("undefined {} `{name}`", other.as_str()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(code: &str, json: &str) -> Result<String, String> {
        let jq = Jq::compile(code).map_err(|e| format!("compile: {e}"))?;
        let mut out = Vec::new();
        jq.run(json.as_bytes(), &mut out)
            .map_err(|e| e.to_string())?;
        Ok(String::from_utf8(out).expect("utf-8"))
    }

    #[test]
    fn strings_are_raw_and_other_values_compact_one_per_line() {
        let list = r#"[{"id":"a1","n":1,"tags":["x","y"]},{"id":"b2","n":2,"tags":[]}]"#;
        assert_eq!(run(".[].id", list).unwrap(), "a1\nb2\n");
        assert_eq!(run(".[].n", list).unwrap(), "1\n2\n");
        assert_eq!(run(".[0].tags", list).unwrap(), "[\"x\",\"y\"]\n");
        assert_eq!(
            run(".[1]", list).unwrap(),
            "{\"id\":\"b2\",\"n\":2,\"tags\":[]}\n"
        );
        assert_eq!(run(".[0].missing", list).unwrap(), "null\n");
        assert_eq!(run("empty", list).unwrap(), "");
    }

    #[test]
    fn keys_keep_the_order_sa_wrote_them_in() {
        assert_eq!(run(".", r#"{"z":1,"a":2}"#).unwrap(), "{\"z\":1,\"a\":2}\n");
        assert_eq!(
            run("keys_unsorted", r#"{"z":1,"a":2}"#).unwrap(),
            "[\"z\",\"a\"]\n"
        );
    }

    #[test]
    fn the_standard_library_is_loaded() {
        let list = r#"[{"id":"a","n":3},{"id":"b","n":1}]"#;
        assert_eq!(run("map(select(.n > 2)) | length", list).unwrap(), "1\n");
        assert_eq!(run("map(.id) | join(\",\")", list).unwrap(), "a,b\n");
        assert_eq!(run("[.[].n] | add", list).unwrap(), "4\n");
        assert_eq!(run(".[0] | keys", list).unwrap(), "[\"id\",\"n\"]\n");
        assert_eq!(
            run(".[0] | to_entries | .[0]", list).unwrap(),
            "{\"key\":\"id\",\"value\":\"a\"}\n"
        );
        assert_eq!(
            run(".[] | [.id, .n] | @csv", list).unwrap(),
            "\"a\",3\n\"b\",1\n"
        );
        assert_eq!(run(".[] | [.id, .n] | @tsv", list).unwrap(), "a\t3\nb\t1\n");
        let odd = r#"["say \"hi\"", "a\tb\\c", 1.5, true, null]"#;
        assert_eq!(
            run("@csv", odd).unwrap(),
            "\"say \"\"hi\"\"\",\"a\tb\\c\",1.5,true,\n"
        );
        assert_eq!(
            run("@tsv", odd).unwrap(),
            "say \"hi\"\ta\\tb\\\\c\t1.5\ttrue\t\n"
        );
        assert!(
            run("[{}] | @csv", "null")
                .unwrap_err()
                .contains("not valid in a CSV row")
        );
        assert!(run("@tsv", "{}").unwrap_err().contains("needs an array"));
        assert_eq!(run("sort_by(.n) | .[0].id", list).unwrap(), "b\n");
        assert_eq!(run(".[0].id | test(\"^a\")", list).unwrap(), "true\n");
        assert_eq!(
            run("\"2025-01-02T03:04:05Z\" | fromdateiso8601", "null").unwrap(),
            "1735787045\n"
        );
    }

    #[test]
    fn a_bad_expression_is_one_line_saying_what_is_wrong() {
        for (code, says) in [
            (".[", "closing bracket"),
            (".foo |", "the end of the expression"),
            ("map(", "closing parenthesis"),
            ("nosuchfunction", "undefined function `nosuchfunction/0`"),
            ("$nope", "undefined variable"),
            ("import \"x\" as x; .", "not supported"),
            ("import \"x\" as $x; $x", "not supported"),
            ("include \"x\"; .", "not supported"),
            ("\"abc", "closing quote"),
            ("", "the end of the expression"),
        ] {
            let Err(message) = Jq::compile(code) else {
                panic!("`{code}` compiled");
            };
            assert!(!message.contains('\n'), "{code}: {message}");
            assert!(message.contains(says), "{code}: {message}");
        }
    }

    #[test]
    fn a_runtime_error_is_a_short_one_line_failure() {
        let long = format!("[{}]", vec!["\"some text\""; 1000].join(","));
        let err = run(".foo", &long).unwrap_err();
        assert!(err.starts_with("--jq: cannot index"), "{err}");
        assert!(err.chars().count() < MESSAGE_LIMIT + 10, "{err}");
        assert_eq!(run("error(\"x\\ny\")", "null").unwrap_err(), "--jq: x y");
    }

    #[test]
    fn halt_ends_the_output_and_a_failing_halt_is_an_error() {
        assert_eq!(run("1, halt, 2", "null").unwrap(), "1\n");
        assert!(
            run("halt_error", "null")
                .unwrap_err()
                .contains("exit code 5")
        );
    }

    proptest::proptest! {
        #[test]
        fn any_expression_compiles_or_is_refused_without_panicking(code in "\\PC{0,40}") {
            if let Err(message) = Jq::compile(&code) {
                proptest::prop_assert!(!message.contains('\n'));
            }
        }

        #[test]
        fn jq_punctuation_soup_never_panics(code in "[.\\[\\]{}()|,:;\"\\\\$@a-z0-9 ?+*/%=<>!-]{0,30}") {
            let _ = Jq::compile(&code);
        }
    }
}
