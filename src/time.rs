//! Instants on both time axes: microsecond UTC timestamps, RFC 3339 in and out, and the clock.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{
    DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, Timelike, Utc,
};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The end of [`Timestamp::parse`]'s message for an instant outside the years 0001–9999.
pub(crate) const OUTSIDE_YEARS: &str = "is outside the years 0001-9999 (in UTC)";

/// A UTC instant with microsecond precision (microseconds since the Unix epoch).
///
/// Both time axes use it: valid time (`valid_from`, `valid_to`) and transaction time
/// (`created_at`, `transaction_time_start`, ...). It renders as RFC 3339 with six fractional
/// digits and a `+00:00` offset, the format of the Aurra REST contract.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The earliest representable instant (used as an open lower bound).
    pub const MIN: Timestamp = Timestamp(i64::MIN);
    /// The latest representable instant (used as an open upper bound: "never").
    pub const MAX: Timestamp = Timestamp(i64::MAX);

    /// An instant from microseconds since the Unix epoch.
    pub const fn from_micros(micros: i64) -> Self {
        Timestamp(micros)
    }

    /// Microseconds since the Unix epoch.
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// The current wall-clock time, truncated to microseconds.
    pub fn now() -> Self {
        Timestamp(Utc::now().timestamp_micros())
    }

    /// Parses an ISO 8601 date-time, normalised to UTC:
    /// - with any offset (`Z`, `+00:00`, `-07:00`, ...), `T` or a space between date and time;
    /// - without an offset (as Python's `datetime.isoformat()` writes naive values): read as
    ///   UTC;
    /// - a bare date (`2026-05-05`): midnight UTC.
    ///
    /// Sub-microsecond digits are truncated. Anything else is [`Error::InvalidArgument`], and
    /// so is an instant outside the years 0001–9999 once in UTC (`0000-01-01`, or
    /// `0001-01-01T00:00:00+01:00`): clients cannot read such an instant back (Python's
    /// `datetime` stops at those years).
    pub fn parse(text: &str) -> Result<Self> {
        let text = text.trim();
        let utc = DateTime::parse_from_rfc3339(text)
            .map(|dt| dt.with_timezone(&Utc))
            .or_else(|_| {
                NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                    .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f"))
                    .map(|naive| naive.and_utc())
            })
            .or_else(|_| {
                NaiveDate::parse_from_str(text, "%Y-%m-%d")
                    .map(|date| date.and_time(NaiveTime::MIN).and_utc())
            })
            .map_err(|_| Error::InvalidArgument(format!("not an ISO 8601 timestamp: {text:?}")))?;
        if !(1..=9999).contains(&utc.year()) {
            return Err(Error::InvalidArgument(format!("{text:?} {OUTSIDE_YEARS}")));
        }
        Ok(Timestamp(utc.timestamp_micros()))
    }

    /// This instant as a chrono date-time, or `None` outside chrono's range.
    pub fn to_datetime(self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp_micros(self.0)
    }

    /// Adds (or with a negative value subtracts) microseconds, saturating at the bounds.
    pub const fn saturating_add_micros(self, micros: i64) -> Self {
        Timestamp(self.0.saturating_add(micros))
    }

    /// The next representable instant (saturating).
    pub const fn next(self) -> Self {
        self.saturating_add_micros(1)
    }

    /// The UTC date, `2026-05-05` (the start of the `Display` rendering), for prompts and
    /// "As of <date>" phrasing.
    pub(crate) fn date(self) -> String {
        self.to_string().chars().take(10).collect()
    }
}

impl fmt::Display for Timestamp {
    /// `2026-05-05T23:09:59.063114+00:00`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_datetime() {
            Some(dt) if (0..=9999).contains(&dt.year()) => f.write_str(render(&dt, &mut [0; 32])),
            Some(dt) => f.write_str(&dt.to_rfc3339_opts(SecondsFormat::Micros, false)),
            None => write!(f, "@{}us", self.0),
        }
    }
}

impl Timestamp {
    /// The contract's rendering as fixed-size ASCII bytes, for years 0000–9999 (`None`
    /// outside them; `Display` handles every instant).
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    pub(crate) fn rendered(self) -> Option<[u8; 32]> {
        let dt = self.to_datetime()?;
        if !(0..=9999).contains(&dt.year()) {
            return None;
        }
        let mut buf = [0; 32];
        render(&dt, &mut buf);
        Some(buf)
    }
}

/// `2026-05-05T23:09:59.063114+00:00` into `buf`, digit by digit: this runs for every
/// timestamp of every response, and `core::fmt` for seven integers costs several times more.
fn render<'b>(dt: &DateTime<Utc>, buf: &'b mut [u8; 32]) -> &'b str {
    fn digits(buf: &mut [u8], mut value: u32) {
        for slot in buf.iter_mut().rev() {
            *slot = b'0' + (value % 10) as u8;
            value /= 10;
        }
    }
    *buf = *b"0000-00-00T00:00:00.000000+00:00";
    digits(&mut buf[0..4], dt.year() as u32);
    digits(&mut buf[5..7], dt.month());
    digits(&mut buf[8..10], dt.day());
    digits(&mut buf[11..13], dt.hour());
    digits(&mut buf[14..16], dt.minute());
    digits(&mut buf[17..19], dt.second());
    digits(&mut buf[20..26], dt.timestamp_subsec_micros());
    // Every byte written above is an ASCII digit or one of the template's ASCII separators.
    std::str::from_utf8(buf).unwrap_or("")
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Where a [`Store`](crate::Store) reads "now" from.
///
/// The store never trusts it blindly: transaction times are forced to strictly increase from
/// commit to commit, so a clock that steps backwards cannot reorder history.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The wall clock ([`Timestamp::now`]).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that only moves when told to: for tests, simulations and reproducible imports.
///
/// Clones share the same instant.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: Timestamp) -> Self {
        ManualClock(Arc::new(AtomicI64::new(start.as_micros())))
    }

    /// Moves the clock to `to` (which may be earlier: the store still keeps transaction time
    /// increasing).
    pub fn set(&self, to: Timestamp) {
        self.0.store(to.as_micros(), Ordering::SeqCst);
    }

    /// Moves the clock forward by `micros`.
    pub fn advance(&self, micros: i64) {
        self.0.fetch_add(micros, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_any_offset_and_renders_utc_micros() {
        let a = Timestamp::parse("2026-05-05T23:09:59.063114Z").unwrap();
        let b = Timestamp::parse("2026-05-05T23:09:59.063114+00:00").unwrap();
        let c = Timestamp::parse("2026-05-06T01:09:59.063114+02:00").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a.to_string(), "2026-05-05T23:09:59.063114+00:00");
        let whole = Timestamp::parse("2026-05-05T23:09:59Z").unwrap();
        assert_eq!(whole.to_string(), "2026-05-05T23:09:59.000000+00:00");
        let naive = Timestamp::parse("2026-05-05T23:09:59.063114").unwrap();
        assert_eq!(naive, a);
        assert_eq!(Timestamp::parse("2026-05-05 23:09:59.063114").unwrap(), a);
        let day = Timestamp::parse("2026-05-05").unwrap();
        assert_eq!(day.to_string(), "2026-05-05T00:00:00.000000+00:00");
    }

    #[test]
    fn rejects_non_iso_text() {
        for bad in [
            "",
            "yesterday",
            "2026-05-05T25:00:00",
            "1714000000",
            "2026-05-05T10:00:00+25:00",
            "2026-13-01T00:00:00Z",
            "12:00",
        ] {
            assert!(
                matches!(Timestamp::parse(bad), Err(Error::InvalidArgument(_))),
                "{bad:?} was accepted"
            );
        }
    }

    #[test]
    fn round_trips_through_text() {
        for micros in [0, 1, -1, 1_777_000_000_123_456, -62_000_000_000_000_000] {
            let t = Timestamp::from_micros(micros);
            assert_eq!(Timestamp::parse(&t.to_string()).unwrap(), t);
        }
    }

    #[test]
    fn rendering_matches_chrono_rfc3339() {
        let mut x: i64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..10_000 {
            // xorshift over years 0000–9999.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let micros = x.rem_euclid(253_402_300_799_999_999 + 62_167_219_200_000_000)
                - 62_167_219_200_000_000;
            let t = Timestamp::from_micros(micros);
            let dt = t.to_datetime().unwrap();
            assert_eq!(
                t.to_string(),
                dt.to_rfc3339_opts(SecondsFormat::Micros, false)
            );
        }
    }

    #[test]
    fn manual_clock_is_shared_between_clones() {
        let clock = ManualClock::new(Timestamp::from_micros(10));
        let other = clock.clone();
        clock.advance(5);
        assert_eq!(other.now(), Timestamp::from_micros(15));
    }
}
