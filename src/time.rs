//! Time for every floor: durations (`30m`, `4h`, `7d`, `2w`, `1d12h`) and points in time (`--expires`, `--since`).
//!
//! Written by hand rather than with humantime because the accepted grammar is deliberately
//! small (no months, whose length varies, and no `m`/`M` ambiguity) and every refusal has to
//! say what is accepted. All times are UTC.

use chrono::{DateTime, NaiveDate, NaiveTime, SecondsFormat, TimeDelta, Timelike, Utc};

use crate::error::{Error, Result};

const DURATION_RULE: &str = "a duration is a number and a unit, e.g. `30m`, `4h`, `7d`, `2w` or `1d12h` (units: s, m, h, d, w)";

/// A non-negative length of time, in whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(i64);

impl Duration {
    pub const fn from_secs(secs: i64) -> Self {
        Duration(secs)
    }

    pub const fn from_days(days: i64) -> Self {
        Duration(days * 86_400)
    }

    pub fn as_secs(self) -> i64 {
        self.0
    }

    pub fn to_delta(self) -> TimeDelta {
        TimeDelta::seconds(self.0)
    }

    /// Parses `30m`, `4h`, `7d`, `2w`, `1d12h`, … Zero is allowed (`0s`).
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || Error::invalid(format!("invalid duration `{text}`: {DURATION_RULE}"));
        refuse_sign(text)?;
        let mut total: i64 = 0;
        let mut digits = String::new();
        let mut parts = 0;
        for c in text.trim().chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let unit: i64 = match c {
                's' => 1,
                'm' => 60,
                'h' => 3_600,
                'd' => 86_400,
                'w' => 604_800,
                _ => return Err(bad()),
            };
            let n: i64 = match digits.parse() {
                Ok(n) => n,
                Err(_) if !digits.is_empty() => i64::MAX, // too many digits: too long, below
                Err(_) => return Err(bad()),
            };
            total = n
                .checked_mul(unit)
                .and_then(|secs| total.checked_add(secs))
                // Keep far below chrono's limits so adding it to "now" cannot overflow.
                .filter(|secs| *secs <= 100 * 365 * 86_400)
                .ok_or_else(|| {
                    Error::invalid(format!("invalid duration `{text}`: longer than 100 years"))
                })?;
            digits.clear();
            parts += 1;
        }
        if parts == 0 || !digits.is_empty() {
            return Err(bad());
        }
        Ok(Duration(total))
    }
}

impl Duration {
    /// Its units, largest first: all of them (`1d 0h 30m` is `["1d", "30m"]`), or only the
    /// largest and the one just below it when not zero.
    fn units(self, all: bool) -> Vec<String> {
        let units = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
        let mut secs = self.0;
        let Some(first) = units.iter().position(|&(unit, _)| secs >= unit) else {
            return vec!["0s".into()];
        };
        let mut out = Vec::new();
        for &(unit, name) in units.iter().skip(first).take(if all { 4 } else { 2 }) {
            if secs >= unit {
                out.push(format!("{}{name}", secs / unit));
                secs %= unit;
            }
        }
        out
    }

    /// Roughly, for a table cell: the largest unit and the next one down, without a space
    /// (`3h59m`, `2d`), the rest dropped.
    pub fn compact(self) -> String {
        self.units(false).concat()
    }
}

impl std::fmt::Display for Duration {
    /// Exactly, as it parses back: `30d`, `4h`, `1d 12h`, `1d 30m`, `2m 5s`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.units(true).join(" "))
    }
}

impl std::str::FromStr for Duration {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self> {
        Self::parse(text)
    }
}

/// What `--expires` asks for, before the policy of the config is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryRequest {
    /// `--expires 4h`: that long from now.
    In(Duration),
    /// `--expires 2026-12-31` or an RFC 3339 time.
    At(DateTime<Utc>),
    /// `--expires never`.
    Never,
}

impl ExpiryRequest {
    /// Parses a duration, an RFC 3339 time, a date (end of that day, UTC) or `never`.
    pub fn parse(text: &str) -> Result<Self> {
        if text == "never" {
            return Ok(ExpiryRequest::Never);
        }
        refuse_sign(text)?;
        match Duration::parse(text) {
            Ok(duration) => return Ok(ExpiryRequest::In(duration)),
            // Digits and units only, yet refused: say why (e.g. longer than 100 years).
            Err(err)
                if text
                    .chars()
                    .all(|c| c.is_ascii_digit() || "smhdw".contains(c)) =>
            {
                return Err(err);
            }
            Err(_) => {}
        }
        parse_instant(text).map(ExpiryRequest::At).map_err(|_| {
            Error::invalid(format!(
                "invalid expiry `{text}`: give a duration (`30m`, `4h`, `7d`, `2w`), an RFC 3339 time, a date (`2026-12-31`) or `never`"
            ))
        })
    }
}

impl std::str::FromStr for ExpiryRequest {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self> {
        Self::parse(text)
    }
}

/// A point in time given on the command line: RFC 3339, or a date meaning the end of that
/// day UTC.
pub fn parse_instant(text: &str) -> Result<DateTime<Utc>> {
    if let Some(at) = parse_rfc3339(text) {
        return Ok(at);
    }
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let end = NaiveTime::from_hms_opt(23, 59, 59).expect("23:59:59 is a valid time");
        return Ok(date.and_time(end).and_utc());
    }
    Err(Error::invalid(format!(
        "invalid time `{text}`: give an RFC 3339 time or a date"
    )))
}

/// `--since`: a duration back from now, or a point in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    Ago(Duration),
    At(DateTime<Utc>),
}

/// An RFC 3339 time in whole seconds, as everything is stored. A leap second (`23:59:60`),
/// which chrono keeps but most readers of our RFC 3339 output reject, becomes the next one.
fn parse_rfc3339(text: &str) -> Option<DateTime<Utc>> {
    let at = DateTime::parse_from_rfc3339(text).ok()?;
    let leap = i64::from(at.nanosecond() >= 1_000_000_000);
    DateTime::from_timestamp(at.timestamp() + leap, 0)
}

/// Durations and times given on the command line count forward from year 0; a leading `-`
/// is a mistake, or a flag where a value was missing (`--expires --json`), and says which.
fn refuse_sign(text: &str) -> Result<()> {
    let text = text.trim_start();
    if text.starts_with("--") {
        return Err(Error::invalid(format!(
            "a value is missing (`{text}` is a flag)"
        )));
    }
    if text.starts_with('-') {
        return Err(Error::invalid(format!(
            "`{text}` is negative: durations and times count forward"
        )));
    }
    Ok(())
}

impl Since {
    pub fn parse(text: &str) -> Result<Self> {
        refuse_sign(text)?;
        if let Ok(duration) = Duration::parse(text) {
            return Ok(Since::Ago(duration));
        }
        if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            // A date as a lower bound means the start of that day.
            return Ok(Since::At(date.and_time(NaiveTime::MIN).and_utc()));
        }
        parse_rfc3339(text).map(Since::At).ok_or_else(|| {
            Error::invalid(format!(
                "invalid `--since` value `{text}`: give a duration (`7d`), a date or an RFC 3339 time"
            ))
        })
    }

    pub fn resolve(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Since::Ago(duration) => now - duration.to_delta(),
            Since::At(at) => at,
        }
    }
}

impl std::str::FromStr for Since {
    type Err = Error;
    fn from_str(text: &str) -> Result<Self> {
        Self::parse(text)
    }
}

/// The one timestamp format stored and printed: RFC 3339, UTC, whole seconds (`…Z`).
/// Fixed width, so stored timestamps compare correctly as text.
pub fn format_timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Reads back a stored timestamp.
pub fn parse_timestamp(text: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| Error::database(format!("stored timestamp `{text}` is not RFC 3339")))
}

/// Now, truncated to whole seconds so that what is stored and what is compared agree.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(text: &str) -> i64 {
        Duration::parse(text).unwrap().as_secs()
    }

    #[test]
    fn durations_parse() {
        assert_eq!(secs("30m"), 1_800);
        assert_eq!(secs("4h"), 14_400);
        assert_eq!(secs("7d"), 604_800);
        assert_eq!(secs("2w"), 1_209_600);
        assert_eq!(secs("90d"), 7_776_000);
        assert_eq!(secs("1d12h"), 129_600);
        assert_eq!(secs("0s"), 0);
    }

    #[test]
    fn bad_durations_are_usage_errors() {
        for bad in [
            "",
            "4",
            "h",
            "4x",
            "-4h",
            "4 h",
            "4h3",
            "1M",
            "99999999999999999999d",
            "5300w",
            "5000w300w",
        ] {
            let err = Duration::parse(bad).unwrap_err();
            assert_eq!(err.exit_code(), 2, "{bad}");
        }
        let huge = Duration::parse("99999999999999999999d")
            .unwrap_err()
            .to_string();
        assert!(huge.contains("100 years"), "{huge}");
        for negative in ["-1h", " -1h", "-2026-01-01"] {
            let expiry = ExpiryRequest::parse(negative).unwrap_err().to_string();
            assert!(expiry.contains("negative"), "{expiry}");
            let since = Since::parse(negative).unwrap_err().to_string();
            assert!(since.contains("negative"), "{since}");
        }
        let flag = ExpiryRequest::parse("--json").unwrap_err().to_string();
        assert!(flag.contains("value is missing"), "{flag}");
        let Since::At(leap) = Since::parse("2026-12-31T23:59:60Z").unwrap() else {
            panic!("a time")
        };
        assert_eq!(format_timestamp(leap), "2027-01-01T00:00:00Z");
        // A date is digits and dashes too, and must still parse as a date.
        assert!(matches!(
            ExpiryRequest::parse("2030-01-01"),
            Ok(ExpiryRequest::At(_))
        ));
    }

    #[test]
    fn durations_display_two_largest_units() {
        assert_eq!(Duration::parse("1d12h").unwrap().to_string(), "1d 12h");
        assert_eq!(Duration::parse("30d").unwrap().to_string(), "30d");
        assert_eq!(Duration::parse("90s").unwrap().to_string(), "1m 30s");
        // Exact, for JSON, the audit trail and config; compact for a table cell.
        assert_eq!(Duration::from_secs(3 * 3600 + 30).to_string(), "3h 30s");
        assert_eq!(Duration::from_secs(86_400 + 1800).to_string(), "1d 30m");
        assert_eq!(
            Duration::from_secs(86_400 + 3723).to_string(),
            "1d 1h 2m 3s"
        );
        assert_eq!(Duration::from_secs(0).to_string(), "0s");
        assert_eq!(Duration::from_secs(4 * 3600 - 60).compact(), "3h59m");
        assert_eq!(Duration::from_secs(3 * 3600 + 30).compact(), "3h");
        assert_eq!(Duration::from_secs(86_400 + 1800).compact(), "1d");
    }

    #[test]
    fn expiry_forms() {
        assert_eq!(ExpiryRequest::parse("never").unwrap(), ExpiryRequest::Never);
        assert!(matches!(
            ExpiryRequest::parse("4h").unwrap(),
            ExpiryRequest::In(_)
        ));
        let ExpiryRequest::At(end) = ExpiryRequest::parse("2026-12-31").unwrap() else {
            panic!("a date is a point in time")
        };
        assert_eq!(format_timestamp(end), "2026-12-31T23:59:59Z");
        let ExpiryRequest::At(at) = ExpiryRequest::parse("2026-12-31T10:00:00+02:00").unwrap()
        else {
            panic!("RFC 3339 is a point in time")
        };
        assert_eq!(format_timestamp(at), "2026-12-31T08:00:00Z");
        assert!(ExpiryRequest::parse("tomorrow").is_err());
        let too_long = ExpiryRequest::parse("5300w").unwrap_err().to_string();
        assert!(too_long.contains("100 years"), "{too_long}");
        assert!(ExpiryRequest::parse("2026-13-01").is_err());
        let ExpiryRequest::At(leap) = ExpiryRequest::parse("2026-12-31T23:59:60Z").unwrap() else {
            panic!("a time")
        };
        assert_eq!(format_timestamp(leap), "2027-01-01T00:00:00Z");
        let ExpiryRequest::At(part) = ExpiryRequest::parse("2026-12-31T10:00:00.75Z").unwrap()
        else {
            panic!("a time")
        };
        assert_eq!(part.timestamp_subsec_nanos(), 0);
    }

    #[test]
    fn stored_timestamps_round_trip() {
        let at = now();
        assert_eq!(parse_timestamp(&format_timestamp(at)).unwrap(), at);
    }

    proptest::proptest! {
        #[test]
        fn duration_parsing_never_panics(text in "\\PC{0,24}") {
            let _ = Duration::parse(&text);
            let _ = ExpiryRequest::parse(&text);
            let _ = Since::parse(&text);
        }

        #[test]
        fn displayed_durations_parse_back(secs in 0i64..(100 * 365 * 86_400)) {
            let shown = Duration::from_secs(secs).to_string().replace(' ', "");
            let back = Duration::parse(&shown).unwrap();
            // Exact: what JSON, the audit trail and `config show` say is what was used.
            proptest::prop_assert_eq!(back.as_secs(), secs);
        }
    }
}
