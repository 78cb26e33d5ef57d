//! Quiet hours: a daily window, in the company's time zone, in which Otto sends no
//! automatic text or AI call; work that falls inside waits for the window's end.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::validation::InvalidField;

/// A daily quiet window from `start` to `end` local time (across midnight when
/// `end` is earlier than `start`, as in 21:00-08:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    /// When quiet begins.
    pub start: NaiveTime,
    /// When quiet ends.
    pub end: NaiveTime,
    /// The company's IANA time zone.
    pub time_zone: Tz,
}

fn time(field: &'static str, text: &str) -> Result<NaiveTime, InvalidField> {
    NaiveTime::parse_from_str(text, "%H:%M")
        .map_err(|_| InvalidField::new(field, "must be a local time as HH:MM, such as 21:00"))
}

impl QuietHours {
    /// Parses `HH:MM` times and an IANA zone name, naming every invalid field
    /// (`quiet_hours.start`, `quiet_hours.end`, `quiet_hours.time_zone`).
    pub fn parse(start: &str, end: &str, time_zone: &str) -> Result<Self, Vec<InvalidField>> {
        let start = time("quiet_hours.start", start);
        let end = time("quiet_hours.end", end);
        let zone = time_zone.parse::<Tz>().map_err(|_| {
            InvalidField::new(
                "quiet_hours.time_zone",
                "must be an IANA time zone, such as America/New_York",
            )
        });
        match (start, end, zone) {
            (Ok(start), Ok(end), Ok(_)) if start == end => Err(vec![InvalidField::new(
                "quiet_hours.end",
                "must differ from the start",
            )]),
            (Ok(start), Ok(end), Ok(time_zone)) => Ok(QuietHours {
                start,
                end,
                time_zone,
            }),
            (start, end, zone) => Err([start.err(), end.err(), zone.err()]
                .into_iter()
                .flatten()
                .collect()),
        }
    }

    /// `HH:MM` form of a bound.
    pub fn format(time: NaiveTime) -> String {
        time.format("%H:%M").to_string()
    }

    /// The zone's name.
    pub fn zone_name(&self) -> &'static str {
        self.time_zone.name()
    }

    /// When quiet ends if `now` is inside the window, else `None` (send now).
    pub fn resume_at(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = now.with_timezone(&self.time_zone);
        let clock = local.time();
        let today = local.date_naive();
        let end_date = if self.start < self.end {
            // Same-day window: quiet in [start, end).
            (self.start <= clock && clock < self.end).then_some(today)?
        } else if clock >= self.start {
            // Overnight window, evening part: quiet until tomorrow's end.
            today.checked_add_days(Days::new(1))?
        } else if clock < self.end {
            // Overnight window, morning part.
            today
        } else {
            return None;
        };
        Some(self.instant(end_date, self.end))
    }

    /// `time` on `date` in the zone as an instant. A local time skipped by a DST
    /// change is taken an hour later; a repeated one at its first occurrence.
    fn instant(&self, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
        let local = date.and_time(time);
        self.time_zone
            .from_local_datetime(&local)
            .earliest()
            .or_else(|| {
                self.time_zone
                    .from_local_datetime(&(local + chrono::Duration::hours(1)))
                    .earliest()
            })
            .map_or_else(|| local.and_utc(), |instant| instant.with_timezone(&Utc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).expect("valid").to_utc()
    }

    fn overnight() -> QuietHours {
        QuietHours::parse("21:00", "08:00", "America/New_York").expect("valid")
    }

    #[test]
    fn an_overnight_window_holds_work_until_the_morning_in_the_companys_zone() {
        let quiet = overnight();
        // 22:30 in New York (EST, UTC-5) is quiet until 08:00 the next day.
        assert_eq!(
            quiet.resume_at(at("2026-11-26T03:30:00Z")),
            Some(at("2026-11-26T13:00:00Z"))
        );
        // 06:00 local: quiet until 08:00 the same day.
        assert_eq!(
            quiet.resume_at(at("2026-11-26T11:00:00Z")),
            Some(at("2026-11-26T13:00:00Z"))
        );
        // 08:00 and noon local are not quiet; 21:00 is.
        assert_eq!(quiet.resume_at(at("2026-11-26T13:00:00Z")), None);
        assert_eq!(quiet.resume_at(at("2026-11-26T17:00:00Z")), None);
        assert!(quiet.resume_at(at("2026-11-27T02:00:00Z")).is_some());
    }

    #[test]
    fn a_same_day_window_and_daylight_saving_are_honoured() {
        let lunch = QuietHours::parse("12:00", "13:00", "Europe/Berlin").expect("valid");
        // 12:30 in Berlin in July (CEST, UTC+2).
        assert_eq!(
            lunch.resume_at(at("2026-07-01T10:30:00Z")),
            Some(at("2026-07-01T11:00:00Z"))
        );
        assert_eq!(lunch.resume_at(at("2026-07-01T11:00:00Z")), None);
        // The night DST starts in New York (2026-03-08, 02:00 skipped), 08:00 is EDT.
        assert_eq!(
            overnight().resume_at(at("2026-03-08T04:00:00Z")),
            Some(at("2026-03-08T12:00:00Z"))
        );
    }

    #[test]
    fn bad_bounds_and_zones_name_their_fields() {
        let fields = |result: Result<QuietHours, Vec<InvalidField>>| -> Vec<&'static str> {
            result
                .expect_err("invalid")
                .iter()
                .map(|invalid| invalid.field)
                .collect()
        };
        assert_eq!(
            fields(QuietHours::parse("25:00", "8am", "Mars/Olympus")),
            [
                "quiet_hours.start",
                "quiet_hours.end",
                "quiet_hours.time_zone"
            ]
        );
        assert_eq!(
            fields(QuietHours::parse("08:00", "08:00", "UTC")),
            ["quiet_hours.end"]
        );
        assert_eq!(overnight().zone_name(), "America/New_York");
        assert_eq!(QuietHours::format(overnight().start), "21:00");
    }
}
