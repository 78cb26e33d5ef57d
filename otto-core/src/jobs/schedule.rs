//! Scheduled work: a daily slot becomes one job whose unique key names the slot, so
//! however many workers enqueue it, the slot runs once; and a worker starting after a
//! missed slot enqueues that slot, so it runs late rather than never.

use chrono::{DateTime, Days, NaiveTime, Utc};
use serde_json::json;

use super::{JobKind, NewJob};

/// A time of day, in UTC, at which something runs daily.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailySchedule {
    at: NaiveTime,
}

/// Why a schedule was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a time of day such as 02:00 (24-hour HH:MM, UTC)")]
pub struct InvalidSchedule(String);

impl DailySchedule {
    /// Daily at `at` UTC.
    pub fn at(at: NaiveTime) -> Self {
        DailySchedule { at }
    }

    /// Parses `HH:MM`.
    pub fn parse(text: &str) -> Result<Self, InvalidSchedule> {
        NaiveTime::parse_from_str(text.trim(), "%H:%M")
            .map(DailySchedule::at)
            .map_err(|_| InvalidSchedule(text.chars().take(32).collect()))
    }

    /// The time of day.
    pub fn time(&self) -> NaiveTime {
        self.at
    }

    /// The most recent slot at or before `now`.
    pub fn latest_slot(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let today = now.date_naive().and_time(self.at).and_utc();
        if today <= now {
            today
        } else {
            today
                .checked_sub_days(Days::new(1))
                .unwrap_or(DateTime::<Utc>::MIN_UTC)
        }
    }

    /// The first slot after `now`.
    pub fn next_slot(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.latest_slot(now)
            .checked_add_days(Days::new(1))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

/// The job of `kind` for the slot `slot`: platform-wide, due at the slot, keyed by it.
pub fn slot_job(kind: JobKind, slot: DateTime<Utc>) -> NewJob {
    let slot_text = slot.format("%Y-%m-%dT%H:%MZ").to_string();
    NewJob {
        kind,
        tenant_id: None,
        unique_key: format!("{kind}:slot:{slot_text}"),
        payload: json!({ "slot": slot_text }),
        run_at: slot,
        trace_context: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("valid")
            .with_timezone(&Utc)
    }

    #[test]
    fn the_latest_slot_is_today_after_the_time_and_yesterday_before_it() {
        let schedule = DailySchedule::parse("02:00").expect("valid");
        assert_eq!(
            schedule.latest_slot(at("2026-11-26T01:59:59Z")),
            at("2026-11-25T02:00:00Z")
        );
        assert_eq!(
            schedule.latest_slot(at("2026-11-26T02:00:00Z")),
            at("2026-11-26T02:00:00Z")
        );
        assert_eq!(
            schedule.latest_slot(at("2026-11-26T23:00:00Z")),
            at("2026-11-26T02:00:00Z")
        );
        assert_eq!(
            schedule.next_slot(at("2026-11-26T02:00:00Z")),
            at("2026-11-27T02:00:00Z")
        );
    }

    #[test]
    fn every_worker_derives_the_same_key_for_a_slot() {
        let schedule = DailySchedule::parse("02:00").expect("valid");
        let early = slot_job(
            JobKind::WebhookPurge,
            schedule.latest_slot(at("2026-11-26T02:00:01Z")),
        );
        let late = slot_job(
            JobKind::WebhookPurge,
            schedule.latest_slot(at("2026-11-26T17:30:00Z")),
        );
        assert_eq!(early.unique_key, "webhook_purge:slot:2026-11-26T02:00Z");
        assert_eq!(early, late);
        let tomorrow = slot_job(
            JobKind::WebhookPurge,
            schedule.latest_slot(at("2026-11-27T02:00:00Z")),
        );
        assert_ne!(early.unique_key, tomorrow.unique_key);
    }

    #[test]
    fn bad_times_of_day_are_refused() {
        for bad in ["", "2", "24:00", "02:60", "2am", "02:00:00"] {
            assert!(DailySchedule::parse(bad).is_err(), "{bad}");
        }
        assert!(DailySchedule::parse(" 23:59 ").is_ok());
    }
}
