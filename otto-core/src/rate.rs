//! Rates such as `60/minute`: the unit of every rate limit Otto enforces.

use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

/// The accepted spelling of a rate, shown in every parse error.
pub const RATE_FORMAT: &str = "N/second, N/minute, N/hour or N/day (N a positive integer)";

/// The period a [`Rate`] is counted over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RatePeriod {
    /// One second.
    Second,
    /// Sixty seconds.
    Minute,
    /// 3,600 seconds.
    Hour,
    /// 86,400 seconds.
    Day,
}

impl RatePeriod {
    /// The period as a duration.
    pub fn duration(self) -> Duration {
        Duration::from_secs(match self {
            RatePeriod::Second => 1,
            RatePeriod::Minute => 60,
            RatePeriod::Hour => 3_600,
            RatePeriod::Day => 86_400,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            RatePeriod::Second => "second",
            RatePeriod::Minute => "minute",
            RatePeriod::Hour => "hour",
            RatePeriod::Day => "day",
        }
    }
}

/// A number of events allowed per period, written `N/unit` (`60/minute`).
///
/// ```
/// use otto_core::{Rate, RatePeriod};
///
/// let rate: Rate = "60/minute".parse().unwrap();
/// assert_eq!(rate.count(), 60);
/// assert_eq!(rate.period(), RatePeriod::Minute);
/// assert_eq!(rate.to_string(), "60/minute");
/// assert!("60 per minute".parse::<Rate>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rate {
    count: NonZeroU32,
    period: RatePeriod,
}

/// Why a rate could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateError {
    /// The text is not of the form `N/unit`.
    #[error("`{0}` is not a rate; expected {RATE_FORMAT}")]
    Malformed(String),
    /// The count is zero, negative or too large.
    #[error("`{0}` has an invalid count; expected {RATE_FORMAT}")]
    InvalidCount(String),
    /// The unit is not one of second, minute, hour, day.
    #[error("`{0}` has an unknown unit; expected {RATE_FORMAT}")]
    UnknownUnit(String),
}

impl Rate {
    /// A rate of `count` per `period`.
    pub fn new(count: NonZeroU32, period: RatePeriod) -> Self {
        Rate { count, period }
    }

    /// Events allowed per period.
    pub fn count(&self) -> u32 {
        self.count.get()
    }

    /// The period the count applies to.
    pub fn period(&self) -> RatePeriod {
        self.period
    }

    /// The steady spacing between events that this rate allows (period / count).
    pub fn emission_interval(&self) -> Duration {
        self.period.duration() / self.count.get()
    }
}

impl FromStr for Rate {
    type Err = RateError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let (count, unit) = trimmed
            .split_once('/')
            .ok_or_else(|| RateError::Malformed(text.to_owned()))?;
        let count: u32 = count
            .trim()
            .parse()
            .map_err(|_| RateError::InvalidCount(text.to_owned()))?;
        let count =
            NonZeroU32::new(count).ok_or_else(|| RateError::InvalidCount(text.to_owned()))?;
        // Plural units are accepted because people write them ("100/minutes" is clear).
        let period = match unit.trim().to_ascii_lowercase().as_str() {
            "second" | "seconds" | "s" => RatePeriod::Second,
            "minute" | "minutes" | "m" => RatePeriod::Minute,
            "hour" | "hours" | "h" => RatePeriod::Hour,
            "day" | "days" | "d" => RatePeriod::Day,
            _ => return Err(RateError::UnknownUnit(text.to_owned())),
        };
        Ok(Rate { count, period })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.count, self.period.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_unit_parses() {
        for (text, period) in [
            ("1/second", RatePeriod::Second),
            ("60/minute", RatePeriod::Minute),
            ("1000/hour", RatePeriod::Hour),
            ("10000/day", RatePeriod::Day),
        ] {
            let rate: Rate = text.parse().expect(text);
            assert_eq!(rate.period(), period);
            assert_eq!(rate.to_string(), text);
        }
    }

    #[test]
    fn surrounding_whitespace_and_case_are_tolerated() {
        let rate: Rate = " 20 / Minute ".parse().expect("lenient spacing");
        assert_eq!(rate.to_string(), "20/minute");
    }

    #[test]
    fn malformed_rates_are_refused_with_the_accepted_form() {
        for (text, expected) in [
            ("60", RateError::Malformed("60".into())),
            ("", RateError::Malformed(String::new())),
            ("0/minute", RateError::InvalidCount("0/minute".into())),
            ("-5/minute", RateError::InvalidCount("-5/minute".into())),
            ("ten/minute", RateError::InvalidCount("ten/minute".into())),
            (
                "99999999999/minute",
                RateError::InvalidCount("99999999999/minute".into()),
            ),
            (
                "60/fortnight",
                RateError::UnknownUnit("60/fortnight".into()),
            ),
            ("60/", RateError::UnknownUnit("60/".into())),
        ] {
            let error = text.parse::<Rate>().expect_err(text);
            assert_eq!(error, expected);
            assert!(error.to_string().contains("N/minute"), "{error}");
        }
    }

    #[test]
    fn emission_interval_spreads_the_period_over_the_count() {
        let rate: Rate = "60/minute".parse().expect("valid");
        assert_eq!(rate.emission_interval(), Duration::from_secs(1));
        let rate: Rate = "4/second".parse().expect("valid");
        assert_eq!(rate.emission_interval(), Duration::from_millis(250));
    }
}
