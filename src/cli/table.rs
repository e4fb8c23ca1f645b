//! Lists, streamed: a JSON array or a table written row by row as the store reads them, so
//! `sa token list --json` over a million tokens holds one token in memory at a time.
//!
//! comfy-table lays a table out with every row in memory; for lists that would grow with the
//! database, so list tables use this small renderer with the same look (upper-case headers,
//! columns two spaces apart, no borders). Column widths are measured over the first
//! [`MEASURED_ROWS`] rows — more than a terminal shows — and kept for the rest; a later cell
//! that is longer pushes its row out rather than making anything wrap. Given a width (a
//! terminal, or `$COLUMNS`), free-text columns are cut with `…` to fit it; ids, times,
//! statuses and counts never are. A cell never wraps.
//!
//! The one list that is collected is one filtered by `--jq`: its expression sees the whole
//! array, as `sa … --json | jq EXPR` would.

use std::io::{BufWriter, Stdout, Write};

use serde::Serialize;
use unicode_width::UnicodeWidthStr;

use crate::cli::output::{Printer, encode_err, write_err};
use crate::error::{Error, Result};

/// Rows whose widths set the columns' widths.
pub const MEASURED_ROWS: usize = 1000;
/// The narrowest a free-text column is cut to (its header too, on a very narrow terminal).
pub const MIN_CUT_WIDTH: usize = 5;
const GAP: &str = "  ";
/// The space between two columns.
pub const GAP_WIDTH: usize = GAP.len();

/// One column of a list table.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub header: &'static str,
    /// Free text (names, labels, descriptions, sources…) that may be cut with `…` to fit a
    /// known width; ids, times, statuses and counts never are.
    pub cut: bool,
    /// What names the row to another command (an account's name, a token's id): what
    /// `-o name` prints. A table without one prints its first column.
    pub handle: bool,
    /// Shown only by `-o wide`.
    pub wide: bool,
}

/// A column that is never cut.
pub const fn keep(header: &'static str) -> Column {
    Column {
        header,
        cut: false,
        handle: false,
        wide: false,
    }
}

/// A free-text column, cut to fit.
pub const fn cut(header: &'static str) -> Column {
    Column {
        header,
        cut: true,
        handle: false,
        wide: false,
    }
}

impl Column {
    /// This column names the row (`-o name`).
    pub const fn handle(self) -> Column {
        Column {
            handle: true,
            ..self
        }
    }

    /// This column is shown only by `-o wide`.
    pub const fn wide(self) -> Column {
        Column { wide: true, ..self }
    }
}

/// How a status reads, for its colour in tables and records alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Green: active, valid, ok.
    Good,
    /// Yellow: paused or about to lapse.
    Warning,
    /// Red: the rest (revoked, expired, deleted, failed…).
    Bad,
}

impl Tone {
    pub fn of(status: &str) -> Tone {
        match status {
            "active" | "valid" | "ok" => Tone::Good,
            "disabled" | "expiring" => Tone::Warning,
            _ => Tone::Bad,
        }
    }
}

/// A table cell: its text, and a colour for statuses on a terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    text: String,
    color: Option<&'static str>,
}

impl Field {
    pub fn new(text: impl Into<String>) -> Self {
        Field {
            text: text.into(),
            color: None,
        }
    }

    /// A status, coloured when `printer` colours: green for good, yellow for paused or
    /// expiring, red for the rest.
    pub fn status(printer: &Printer, status: &str) -> Self {
        let color = match Tone::of(status) {
            _ if !printer.colors() || status.is_empty() => None,
            Tone::Good => Some("\x1b[32m"),
            Tone::Warning => Some("\x1b[33m"),
            Tone::Bad => Some("\x1b[31m"),
        };
        Field {
            text: status.to_string(),
            color,
        }
    }
}

impl Field {
    /// Its width on a terminal.
    pub fn width(&self) -> usize {
        self.text.width()
    }
}

impl From<String> for Field {
    fn from(text: String) -> Self {
        Field::new(text)
    }
}

impl From<&str> for Field {
    fn from(text: &str) -> Self {
        Field::new(text)
    }
}

/// Stdout behind a buffer: a list is many small writes.
fn buffered_stdout() -> BufWriter<Stdout> {
    BufWriter::with_capacity(64 * 1024, std::io::stdout())
}

/// A list being printed: push items as they are read, then `finish`.
pub struct List<'p> {
    kind: Kind<'p>,
    count: usize,
}

enum Kind<'p> {
    Json {
        out: BufWriter<Stdout>,
    },
    /// `--jq`: the array's compact JSON text, handed to the filter whole at the end.
    Filtered {
        printer: &'p Printer,
        array: Vec<u8>,
    },
    Table(TableStream<'p>),
    /// `-o name`: the handle column's text, whole, one per line.
    Names {
        out: BufWriter<Stdout>,
        column: usize,
    },
}

impl<'p> List<'p> {
    pub(crate) fn new(printer: &'p Printer, columns: &'static [Column]) -> Self {
        let kind = if printer.is_json() && printer.filters() {
            Kind::Filtered {
                printer,
                array: b"[".to_vec(),
            }
        } else if printer.is_json() {
            Kind::Json {
                out: buffered_stdout(),
            }
        } else if printer.names_only() {
            Kind::Names {
                out: buffered_stdout(),
                column: columns.iter().position(|c| c.handle).unwrap_or(0),
            }
        } else {
            Kind::Table(TableStream::new(printer, columns))
        };
        List { kind, count: 0 }
    }

    /// With no rows, print nothing at all rather than a lone header (JSON still prints
    /// `[]`): for `--exit-code` checks, whose any output cron mails.
    pub fn quiet_when_empty(mut self) -> Self {
        if let Kind::Table(table) = &mut self.kind {
            table.quiet_when_empty = true;
        }
        self
    }

    /// Adds one item: `view` is built for JSON, `row` for a table; only the one needed.
    pub fn push<V: Serialize>(
        &mut self,
        view: impl FnOnce() -> V,
        row: impl FnOnce() -> Vec<Field>,
    ) -> Result<()> {
        match &mut self.kind {
            Kind::Json { out } => {
                // Each element pretty-printed and indented one level: byte for byte what
                // `serde_json::to_string_pretty` makes of the whole array.
                let text = serde_json::to_string_pretty(&view())
                    .map_err(|e| Error::io("cannot encode JSON", std::io::Error::other(e)))?;
                let lead = if self.count == 0 { "[\n  " } else { ",\n  " };
                out.write_all(lead.as_bytes()).map_err(write_err)?;
                for (n, line) in text.split('\n').enumerate() {
                    if n > 0 {
                        out.write_all(b"\n  ").map_err(write_err)?;
                    }
                    out.write_all(line.as_bytes()).map_err(write_err)?;
                }
            }
            Kind::Filtered { array, .. } => {
                if self.count > 0 {
                    array.push(b',');
                }
                serde_json::to_writer(&mut *array, &view()).map_err(encode_err)?;
            }
            Kind::Table(table) => table.push(row())?,
            Kind::Names { out, column } => {
                if let Some(field) = row().get(*column) {
                    out.write_all(field.text.as_bytes())
                        .and_then(|()| out.write_all(b"\n"))
                        .map_err(write_err)?;
                }
            }
        }
        self.count += 1;
        Ok(())
    }

    /// Ends the list; returns how many items it held.
    pub fn finish(self) -> Result<usize> {
        match self.kind {
            Kind::Json { mut out } => {
                let end: &[u8] = if self.count == 0 { b"[]\n" } else { b"\n]\n" };
                out.write_all(end)
                    .and_then(|()| out.flush())
                    .map_err(write_err)?;
            }
            Kind::Filtered { printer, mut array } => {
                array.push(b']');
                printer.print_filtered(&array)?;
            }
            Kind::Table(table) => table.finish()?,
            Kind::Names { mut out, .. } => out.flush().map_err(write_err)?,
        }
        Ok(self.count)
    }
}

/// A table written as rows arrive; see the module comment.
struct TableStream<'p> {
    printer: &'p Printer,
    /// The columns shown: all of them with `-o wide`, else those not marked wide.
    columns: Vec<Column>,
    /// For each of the list's columns, whether it is shown.
    shown: Vec<bool>,
    pending: Vec<Vec<Field>>,
    widths: Option<Vec<usize>>,
    /// Whether a width was known and the columns fitted to it; only then is text cut.
    fitted: bool,
    out: BufWriter<Stdout>,
    quiet_when_empty: bool,
}

impl<'p> TableStream<'p> {
    fn new(printer: &'p Printer, columns: &'static [Column]) -> Self {
        let shown: Vec<bool> = columns
            .iter()
            .map(|c| !c.wide || printer.is_wide())
            .collect();
        TableStream {
            printer,
            columns: columns
                .iter()
                .copied()
                .filter(|c| !c.wide || printer.is_wide())
                .collect(),
            shown,
            pending: Vec::new(),
            widths: None,
            fitted: false,
            out: buffered_stdout(),
            quiet_when_empty: false,
        }
    }

    fn push(&mut self, row: Vec<Field>) -> Result<()> {
        let row: Vec<Field> = row
            .into_iter()
            .zip(&self.shown)
            .filter_map(|(field, shown)| shown.then_some(field))
            .collect();
        if self.widths.is_some() {
            return self.write_row(&row);
        }
        self.pending.push(row);
        if self.pending.len() == MEASURED_ROWS {
            self.lay_out()?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<()> {
        if self.widths.is_none() {
            if self.pending.is_empty() && self.quiet_when_empty {
                return Ok(());
            }
            self.lay_out()?;
        }
        self.out.flush().map_err(write_err)
    }

    /// Sets the widths from the rows so far, prints the header and those rows.
    fn lay_out(&mut self) -> Result<()> {
        let mut widths: Vec<usize> = self.columns.iter().map(|c| c.header.width()).collect();
        for row in &self.pending {
            for (width, field) in widths.iter_mut().zip(row) {
                *width = (*width).max(field.text.width());
            }
        }
        if let Some(limit) = self.printer.width() {
            fit(&mut widths, &self.columns, limit);
            self.fitted = true;
        }
        self.widths = Some(widths);
        let header: Vec<Field> = self
            .columns
            .iter()
            .map(|c| Field {
                text: c.header.to_uppercase(),
                color: self.printer.colors().then_some("\x1b[1m"),
            })
            .collect();
        if self.printer.headers() {
            self.write_row(&header)?;
        }
        for row in std::mem::take(&mut self.pending) {
            self.write_row(&row)?;
        }
        Ok(())
    }

    fn write_row(&mut self, row: &[Field]) -> Result<()> {
        let mut widths = std::borrow::Cow::Borrowed(self.widths.as_deref().unwrap_or_default());
        // A row past the measured ones with a wider id, count or time (account 100000 after
        // 99999) takes the room from this row's free text, so that it still fits.
        if self.fitted {
            let wider: Vec<(usize, usize)> = row
                .iter()
                .enumerate()
                .filter(|(i, field)| {
                    self.columns.get(*i).is_some_and(|c| !c.cut)
                        && field.width() > widths.get(*i).copied().unwrap_or(0)
                })
                .map(|(i, field)| (i, field.width()))
                .collect();
            if !wider.is_empty() {
                let widths = widths.to_mut();
                for (i, width) in wider {
                    widths[i] = width;
                }
                if let Some(limit) = self.printer.width() {
                    fit(widths, &self.columns, limit);
                }
            }
        }
        let mut line = String::new();
        let last = row.len().saturating_sub(1);
        for (i, field) in row.iter().enumerate() {
            let width = widths.get(i).copied().unwrap_or(0);
            // Piped with no width given, nothing is cut: a later, longer cell pushes its row
            // out instead of losing its end.
            let cuttable = self.fitted && self.columns.get(i).is_some_and(|c| c.cut);
            let text = if cuttable {
                cut_to(&field.text, width)
            } else {
                std::borrow::Cow::Borrowed(field.text.as_str())
            };
            let shown = text.width();
            match field.color {
                Some(color) => {
                    line.push_str(color);
                    line.push_str(&text);
                    line.push_str("\x1b[0m");
                }
                None => line.push_str(&text),
            }
            if i < last {
                line.extend(std::iter::repeat_n(' ', width.saturating_sub(shown)));
                line.push_str(GAP);
            }
        }
        let line = line.trim_end_matches(' ');
        self.out
            .write_all(line.as_bytes())
            .and_then(|()| self.out.write_all(b"\n"))
            .map_err(write_err)
    }
}

/// Narrows the free-text columns, widest first, until the row fits in `limit` (or they are
/// all as narrow as they go).
fn fit(widths: &mut [usize], columns: &[Column], limit: usize) {
    let total = |widths: &[usize]| {
        widths.iter().sum::<usize>() + GAP.len() * widths.len().saturating_sub(1)
    };
    while total(widths) > limit {
        let widest = (0..widths.len())
            .filter(|&i| columns[i].cut && widths[i] > MIN_CUT_WIDTH)
            .max_by_key(|&i| widths[i]);
        match widest {
            Some(i) => widths[i] -= 1,
            None => break,
        }
    }
}

/// `text` in at most `width` columns, ending in `…` when cut. Widths are measured on whole
/// prefixes, as the check is, so that sequences a character at a time would miscount (an
/// emoji with its variation selector) are measured the same way both times.
pub(crate) fn cut_to(text: &str, width: usize) -> std::borrow::Cow<'_, str> {
    if text.width() <= width {
        return std::borrow::Cow::Borrowed(text);
    }
    let room = width.saturating_sub(1);
    let ends: Vec<usize> = text
        .char_indices()
        .map(|(at, c)| at + c.len_utf8())
        .collect();
    // The longest prefix that fits: widths of prefixes grow with their length.
    let fits = ends.partition_point(|&end| text[..end].width() <= room);
    let end = if fits == 0 { 0 } else { ends[fits - 1] };
    std::borrow::Cow::Owned(format!("{}…", &text[..end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cutting_counts_display_columns() {
        assert_eq!(cut_to("deploys", 10), "deploys");
        assert_eq!(cut_to("deploys to production", 10), "deploys t…");
        assert_eq!(cut_to("日本語のテキスト", 7), "日本語…");
        assert_eq!(cut_to("deploys", 7), "deploys");
        let hearts = "❤️".repeat(20);
        let cut = cut_to(&hearts, 21);
        assert!(cut.width() <= 21, "{cut} is {} wide", cut.width());
    }

    #[test]
    fn only_free_text_columns_are_narrowed_and_not_below_their_floor() {
        const COLUMNS: [Column; 3] = [keep("id"), cut("description"), keep("created")];
        let mut widths = vec![12, 60, 16];
        fit(&mut widths, &COLUMNS, 50);
        assert_eq!(widths, vec![12, 50 - 12 - 16 - 4, 16]);
        let mut widths = vec![12, 60, 16];
        fit(&mut widths, &COLUMNS, 20);
        assert_eq!(widths, vec![12, MIN_CUT_WIDTH, 16], "never below the floor");
    }
}
