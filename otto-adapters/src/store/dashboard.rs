//! [`DashboardQueries`] over SQL, in time bounded by the range's days rather than its
//! calls.
//!
//! A range is cut at UTC day boundaries. Its whole days that ended at least two days
//! ago ("settled") are read from `dashboard_days` (migration 15), one row per day;
//! the partial first day and the recent days are counted from the calls, which
//! are few. A settled day not yet in the table, or marked stale by a late write
//! (the table's triggers bump its `generation`), is counted from its calls and stored
//! with the generation seen *before* counting: a write that lands meanwhile bumps the
//! generation, and the stale counts are not kept (see [`STORE_DAYS`]).

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use otto_core::dashboard::DashboardSummary;
use otto_core::ports::{DashboardQueries, StoreError};
use otto_core::tenancy::TenantScope;
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseTransaction};

use super::sql::{self, column};
use super::{SqlStore, store_error, stored_time};

/// The figures counted over calls `c` (`$4` false, `$5` true), one definition for a
/// range ([`SUMMARY`]) and per day ([`per_day_calls`]): a missed call is recovered
/// when a text of it completed.
macro_rules! call_figures {
    () => {
        "COUNT(*) AS calls, \
        COALESCE(SUM(CASE WHEN c.direction = 'inbound' AND c.answered = $4 \
          THEN 1 ELSE 0 END), 0) AS missed, \
        COALESCE(SUM(CASE WHEN c.direction = 'inbound' AND c.answered = $4 \
          AND EXISTS (SELECT 1 FROM outbound_actions o WHERE o.tenant_id = c.tenant_id \
            AND o.call_id = c.id AND o.kind = 'sms' AND o.completed_at IS NOT NULL) \
          THEN 1 ELSE 0 END), 0) AS recovered_by_sms, \
        COALESCE(SUM(CASE WHEN c.booked = $5 THEN 1 ELSE 0 END), 0) AS booked"
    };
}

/// `$1` tenant, `$2`/`$3` the range, `$4` false and `$5` true (booleans are bound,
/// since SQLite and PostgreSQL spell them differently). The calls are read once, from
/// the covering index `calls_tenant_started_counts` (migration 14: an index-only scan
/// on PostgreSQL), where four counting subqueries read the range four times; the
/// outbound SMS is looked up only for the range's missed calls.
pub(super) const SUMMARY: &str = concat!(
    "SELECT ",
    call_figures!(),
    ", (SELECT COUNT(*) FROM messages m WHERE m.tenant_id = $1 \
       AND m.sent_at >= $2 AND m.sent_at < $3) AS messages \
    FROM calls c WHERE c.tenant_id = $1 AND c.started_at >= $2 AND c.started_at < $3"
);

/// The settled days of `$1` in `[$2, $3)` (days as `YYYY-MM-DD`) kept and counted
/// (`$4` true): how many, and their figures summed. When every day of the range is
/// among them, which is the rule once a range was asked for, this one row is all a
/// summary reads of them.
pub(super) const KEPT_TOTAL: &str = "SELECT COUNT(*) AS kept, \
    CAST(COALESCE(SUM(calls), 0) AS BIGINT) AS calls, \
    CAST(COALESCE(SUM(missed), 0) AS BIGINT) AS missed, \
    CAST(COALESCE(SUM(recovered_by_sms), 0) AS BIGINT) AS recovered_by_sms, \
    CAST(COALESCE(SUM(booked), 0) AS BIGINT) AS booked, \
    CAST(COALESCE(SUM(messages), 0) AS BIGINT) AS messages \
    FROM dashboard_days WHERE tenant_id = $1 AND day >= $2 AND day < $3 AND counted = $4";

/// The settled days of `$1` in `[$2, $3)` (days as `YYYY-MM-DD`) kept so far.
pub(super) const KEPT_DAYS: &str = "SELECT day, generation, counted, calls, missed, \
    recovered_by_sms, booked, messages FROM dashboard_days \
    WHERE tenant_id = $1 AND day >= $2 AND day < $3";

/// A day's figures as [`SUMMARY`] counts them, per UTC day of `[$2, $3)`; `{day}` is
/// the backend's expression for the UTC day of `{column}`.
pub(super) fn per_day_calls(backend: DatabaseBackend) -> String {
    format!(
        "SELECT {day} AS day, {figures} \
         FROM calls c WHERE c.tenant_id = $1 AND c.started_at >= $2 AND c.started_at < $3 \
         GROUP BY {day}",
        day = utc_day(backend, "c.started_at"),
        figures = call_figures!(),
    )
}

/// The messages per UTC day of `[$2, $3)`.
pub(super) fn per_day_messages(backend: DatabaseBackend) -> String {
    format!(
        "SELECT {day} AS day, COUNT(*) AS messages FROM messages m \
         WHERE m.tenant_id = $1 AND m.sent_at >= $2 AND m.sent_at < $3 GROUP BY {day}",
        day = utc_day(backend, "m.sent_at")
    )
}

/// The UTC day of a time column as `YYYY-MM-DD`, as the triggers of migration 15
/// spell it (SQLite stores times as RFC 3339 text in UTC).
fn utc_day(backend: DatabaseBackend, column: &str) -> String {
    match backend {
        DatabaseBackend::Postgres => format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"),
        _ => format!("substr({column}, 1, 10)"),
    }
}

/// Stores counted days: `$1` tenant, then per day its key, the generation seen before
/// counting, and its figures. A day whose generation moved on since (a write marked
/// it stale meanwhile) keeps its mark, and is counted again next time.
pub(super) const STORE_DAYS: &str = "INSERT INTO dashboard_days (tenant_id, day, generation, \
    counted, calls, missed, recovered_by_sms, booked, messages) VALUES {rows} \
    ON CONFLICT (tenant_id, day) DO UPDATE SET counted = excluded.counted, \
    calls = excluded.calls, missed = excluded.missed, \
    recovered_by_sms = excluded.recovered_by_sms, booked = excluded.booked, \
    messages = excluded.messages \
    WHERE dashboard_days.generation = excluded.generation";

/// Days stored per statement (eight parameters each).
const DAYS_PER_STATEMENT: usize = 200;

/// Days that ended at least this many days before today are settled. The triggers
/// watch days that ended before yesterday on the database's clock; one day more here
/// keeps every day this process stores inside what they watch, with clocks a day
/// apart.
const SETTLED_AFTER_DAYS: i64 = 3;

/// The parameters of [`SUMMARY`] for `scope`'s range `[from, to)`.
pub(super) fn summary_values(
    scope: &TenantScope,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<sea_orm::Value> {
    vec![
        scope.tenant_id().as_str().into(),
        stored_time(from).into(),
        stored_time(to).into(),
        false.into(),
        true.into(),
    ]
}

/// One day's figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Figures {
    calls: i64,
    missed: i64,
    recovered_by_sms: i64,
    booked: i64,
    messages: i64,
}

impl Figures {
    fn add(&mut self, other: Figures) {
        self.calls += other.calls;
        self.missed += other.missed;
        self.recovered_by_sms += other.recovered_by_sms;
        self.booked += other.booked;
        self.messages += other.messages;
    }

    /// The figures of a row with every column.
    fn of_row(row: &sea_orm::QueryResult) -> Result<Self, StoreError> {
        Ok(Figures {
            messages: column(row, "messages")?,
            ..Figures::of_calls_row(row)?
        })
    }

    /// The figures of a row with `call_figures!`' columns (no messages).
    fn of_calls_row(row: &sea_orm::QueryResult) -> Result<Self, StoreError> {
        Ok(Figures {
            calls: column(row, "calls")?,
            missed: column(row, "missed")?,
            recovered_by_sms: column(row, "recovered_by_sms")?,
            booked: column(row, "booked")?,
            messages: 0,
        })
    }

    fn summary(self) -> DashboardSummary {
        let count = |value: i64| u64::try_from(value).unwrap_or(0);
        DashboardSummary {
            calls: count(self.calls),
            missed: count(self.missed),
            recovered_by_sms: count(self.recovered_by_sms),
            booked: count(self.booked),
            messages: count(self.messages),
        }
    }
}

/// A settled day that must be counted: its key and the generation seen before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Uncounted {
    day: NaiveDate,
    generation: i64,
}

fn start_of(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc()
}

fn key(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// How `[from, to)` divides: counted from calls before `days.0`, from the kept days
/// in `[days.0, days.1)`, from calls again from `days.1`.
fn divide(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    today: NaiveDate,
) -> Option<(NaiveDate, NaiveDate)> {
    let first = if start_of(from.date_naive()) == from {
        from.date_naive()
    } else {
        from.date_naive().succ_opt()?
    };
    let settled_end = today - Duration::days(SETTLED_AFTER_DAYS - 1);
    let end = to.date_naive().min(settled_end);
    (first < end).then_some((first, end))
}

impl SqlStore {
    /// `[from, to)` counted from the calls and messages themselves.
    async fn count_range(
        transaction: &DatabaseTransaction,
        scope: &TenantScope,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Figures, StoreError> {
        if from >= to {
            return Ok(Figures::default());
        }
        let rows = sql::query(transaction, SUMMARY, summary_values(scope, from, to)).await?;
        let row = rows
            .first()
            .ok_or_else(|| StoreError::Internal("the summary query returned no row".into()))?;
        Figures::of_row(row)
    }

    /// The kept days of `[first, end)`: their summed figures, and the days that must
    /// be counted.
    async fn kept_days(
        transaction: &DatabaseTransaction,
        scope: &TenantScope,
        first: NaiveDate,
        end: NaiveDate,
    ) -> Result<(Figures, Vec<Uncounted>), StoreError> {
        let range: Vec<sea_orm::Value> = vec![
            scope.tenant_id().as_str().into(),
            key(first).into(),
            key(end).into(),
        ];
        let mut with_counted = range.clone();
        with_counted.push(true.into());
        let totals = sql::query(transaction, KEPT_TOTAL, with_counted).await?;
        let totals = totals
            .first()
            .ok_or_else(|| StoreError::Internal("the kept days' total returned no row".into()))?;
        let kept: i64 = column(totals, "kept")?;
        if kept == (end - first).num_days() {
            return Ok((Figures::of_row(totals)?, Vec::new()));
        }
        let rows = sql::query(transaction, KEPT_DAYS, range).await?;
        let mut seen: HashMap<String, (i64, bool, Figures)> = HashMap::new();
        for row in &rows {
            seen.insert(
                column(row, "day")?,
                (
                    column(row, "generation")?,
                    column(row, "counted")?,
                    Figures::of_row(row)?,
                ),
            );
        }
        let mut total = Figures::default();
        let mut uncounted = Vec::new();
        for day in first.iter_days().take_while(|day| *day < end) {
            match seen.get(&key(day)) {
                Some((_, true, figures)) => total.add(*figures),
                Some((generation, false, _)) => uncounted.push(Uncounted {
                    day,
                    generation: *generation,
                }),
                None => uncounted.push(Uncounted { day, generation: 0 }),
            }
        }
        Ok((total, uncounted))
    }

    /// Each of `days` counted from its calls and messages, by day.
    async fn count_days(
        transaction: &DatabaseTransaction,
        scope: &TenantScope,
        days: &[Uncounted],
    ) -> Result<HashMap<NaiveDate, Figures>, StoreError> {
        let (Some(first), Some(last)) = (days.first(), days.last()) else {
            return Ok(HashMap::new());
        };
        let backend = transaction.get_database_backend();
        let span = summary_values(
            scope,
            start_of(first.day),
            start_of(last.day + Duration::days(1)),
        );
        let mut counted: HashMap<NaiveDate, Figures> = days
            .iter()
            .map(|day| (day.day, Figures::default()))
            .collect();
        let day_of = |row: &sea_orm::QueryResult| -> Result<Option<NaiveDate>, StoreError> {
            let text: String = column(row, "day")?;
            Ok(NaiveDate::parse_from_str(&text, "%Y-%m-%d").ok())
        };
        for row in sql::query(transaction, &per_day_calls(backend), span.clone()).await? {
            if let Some(figures) = day_of(&row)?.and_then(|day| counted.get_mut(&day)) {
                *figures = Figures::of_calls_row(&row)?;
            }
        }
        for row in sql::query(transaction, &per_day_messages(backend), span[..3].to_vec()).await? {
            if let Some(figures) = day_of(&row)?.and_then(|day| counted.get_mut(&day)) {
                figures.messages = column(&row, "messages")?;
            }
        }
        Ok(counted)
    }

    /// Keeps `counted` for the days whose generation is still the one seen.
    async fn keep_days(
        &self,
        scope: &TenantScope,
        days: &[Uncounted],
        counted: &HashMap<NaiveDate, Figures>,
    ) -> Result<(), StoreError> {
        let transaction = self.begin(scope).await?;
        if transaction.get_database_backend() == DatabaseBackend::Postgres {
            // Keeping is optional: rather than wait behind a writer's lock on a day's
            // row (or deadlock with one marking two days), give up and count again
            // next time.
            sql::execute(&transaction, "SET LOCAL lock_timeout = '100ms'", Vec::new()).await?;
        }
        for chunk in days.chunks(DAYS_PER_STATEMENT) {
            let mut values: Vec<sea_orm::Value> = vec![scope.tenant_id().as_str().into()];
            let mut rows = Vec::with_capacity(chunk.len());
            for day in chunk {
                let figures = counted.get(&day.day).copied().unwrap_or_default();
                let at = values.len();
                rows.push(format!("($1, {})", sql::placeholders(at + 1, 8)));
                values.extend([
                    key(day.day).into(),
                    day.generation.into(),
                    true.into(),
                    figures.calls.into(),
                    figures.missed.into(),
                    figures.recovered_by_sms.into(),
                    figures.booked.into(),
                    figures.messages.into(),
                ]);
            }
            sql::execute(
                &transaction,
                &STORE_DAYS.replace("{rows}", &rows.join(", ")),
                values,
            )
            .await?;
        }
        transaction.commit().await.map_err(store_error)
    }

    /// The summary of `[from, to)` as of `today` (UTC).
    async fn summary_as_of(
        &self,
        scope: &TenantScope,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        today: NaiveDate,
    ) -> Result<DashboardSummary, StoreError> {
        let transaction = self.begin_read(scope).await?;
        let Some((first, end)) = divide(from, to, today) else {
            let figures = Self::count_range(&transaction, scope, from, to).await?;
            transaction.commit().await.map_err(store_error)?;
            return Ok(figures.summary());
        };
        let mut total = Self::count_range(&transaction, scope, from, start_of(first)).await?;
        total.add(Self::count_range(&transaction, scope, start_of(end), to).await?);
        let (kept, uncounted) = Self::kept_days(&transaction, scope, first, end).await?;
        total.add(kept);
        let counted = Self::count_days(&transaction, scope, &uncounted).await?;
        transaction.commit().await.map_err(store_error)?;
        for figures in counted.values() {
            total.add(*figures);
        }
        if !uncounted.is_empty() {
            // Keeping is an optimisation: a summary is right without it.
            if let Err(error) = self.keep_days(scope, &uncounted, &counted).await {
                tracing::warn!(error = %error, "dashboard days not kept; counted again next time");
            }
        }
        Ok(total.summary())
    }
}

#[async_trait]
impl DashboardQueries for SqlStore {
    async fn summary(
        &self,
        scope: &TenantScope,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<DashboardSummary, StoreError> {
        self.summary_as_of(scope, from, to, Utc::now().date_naive())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("a time")
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().expect("a day")
    }

    #[test]
    fn a_range_keeps_its_whole_settled_days_and_counts_the_rest() {
        let today = day("2026-12-06");
        // Partial first day, whole days to the settled end (Dec 4 is not settled).
        assert_eq!(
            divide(
                at("2026-11-01T10:00:00Z"),
                at("2026-12-06T09:00:00Z"),
                today
            ),
            Some((day("2026-11-02"), day("2026-12-04")))
        );
        // Day-aligned ends: the first day itself is whole, the last ends at `to`.
        assert_eq!(
            divide(
                at("2026-11-01T00:00:00Z"),
                at("2026-11-10T00:00:00Z"),
                today
            ),
            Some((day("2026-11-01"), day("2026-11-10")))
        );
        // Within one day, or only recent days: counted from the calls.
        assert_eq!(
            divide(
                at("2026-11-01T01:00:00Z"),
                at("2026-11-01T23:00:00Z"),
                today
            ),
            None
        );
        assert_eq!(
            divide(
                at("2026-12-04T00:00:00Z"),
                at("2026-12-06T12:00:00Z"),
                today
            ),
            None
        );
    }

    mod on_sqlite {
        use std::sync::Arc;

        use otto_core::calls::{Direction, NewCall};
        use otto_core::ports::CallRepository;
        use otto_core::tenancy::TenantId;

        use super::*;
        use crate::database::{self, PoolSettings};
        use crate::system::UuidV7Ids;

        async fn store(directory: &tempfile::TempDir) -> SqlStore {
            let url = format!("sqlite://{}/otto.db", directory.path().display());
            let connection = database::connect(&url, &PoolSettings::default())
                .await
                .expect("connects");
            database::migrate_up(&connection).await.expect("migrates");
            SqlStore::new(connection, Arc::new(UuidV7Ids))
        }

        fn call(id: &str, started_at: DateTime<Utc>) -> NewCall {
            NewCall {
                provider: "callrail".into(),
                external_id: id.into(),
                direction: Direction::Inbound,
                customer_name: None,
                customer_number: None,
                answered: false,
                duration_seconds: 0,
                started_at,
            }
        }

        #[tokio::test]
        async fn counts_from_before_a_late_write_are_never_kept() {
            let directory = tempfile::tempdir().expect("a directory");
            let store = store(&directory).await;
            let scope = TenantScope::for_job(TenantId::parse("org_acme").expect("a tenant"));
            let today = Utc::now().date_naive();
            let settled = today - Duration::days(30);
            let (from, to) = (start_of(settled), start_of(settled + Duration::days(1)));
            store
                .record(&scope, call("CAL1", from + Duration::hours(9)))
                .await
                .expect("records");

            // A summary counts the day (one call) from a snapshot taken now...
            let transaction = store.begin_read(&scope).await.expect("reads");
            let (_, uncounted) =
                SqlStore::kept_days(&transaction, &scope, settled, settled + Duration::days(1))
                    .await
                    .expect("kept days");
            let counted = SqlStore::count_days(&transaction, &scope, &uncounted)
                .await
                .expect("counts");
            transaction.commit().await.expect("ends");
            assert_eq!(counted[&settled].calls, 1);

            // ...a late call lands on that day before the counts are kept...
            store
                .record(&scope, call("CAL2", from + Duration::hours(10)))
                .await
                .expect("records");
            store
                .keep_days(&scope, &uncounted, &counted)
                .await
                .expect("keeps what it may");

            // ...and the one-call counts were not kept: both calls are counted.
            let summary = store
                .summary_as_of(&scope, from, to, today)
                .await
                .expect("a summary");
            assert_eq!(summary.calls, 2);
            assert_eq!(summary.missed, 2);
            // Kept now, and read back as kept.
            let transaction = store.begin_read(&scope).await.expect("reads");
            let (kept, uncounted) =
                SqlStore::kept_days(&transaction, &scope, settled, settled + Duration::days(1))
                    .await
                    .expect("kept days");
            transaction.commit().await.expect("ends");
            assert!(uncounted.is_empty(), "the day is kept");
            assert_eq!(kept.calls, 2);
        }

        #[tokio::test]
        async fn recent_days_are_never_kept_and_settled_ones_are() {
            let directory = tempfile::tempdir().expect("a directory");
            let store = store(&directory).await;
            let scope = TenantScope::for_job(TenantId::parse("org_acme").expect("a tenant"));
            let now = Utc::now();
            for (id, days_ago) in [("NEW", 0), ("YESTERDAY", 1), ("OLD", 10)] {
                store
                    .record(&scope, call(id, now - Duration::days(days_ago)))
                    .await
                    .expect("records");
            }
            let summary = store
                .summary(&scope, now - Duration::days(20), now + Duration::hours(1))
                .await
                .expect("a summary");
            assert_eq!(summary.calls, 3);
            let rows = store
                .scoped_query(
                    &scope,
                    "SELECT day FROM dashboard_days WHERE counted = $1 ORDER BY day DESC",
                    vec![true.into()],
                )
                .await
                .expect("reads");
            let newest: String = column(&rows[0], "day").expect("a day");
            assert_eq!(
                newest,
                key(now.date_naive() - Duration::days(SETTLED_AFTER_DAYS)),
                "the newest kept day is the newest settled one"
            );
            // An outcome change that leaves the counted columns as they were keeps the
            // day: only a change of what is counted marks it.
            let old_call = store
                .list(&scope, &otto_core::calls::CallFilter::default(), None, 10)
                .await
                .expect("lists")
                .items
                .into_iter()
                .find(|call| call.external_id == "OLD")
                .expect("the old call");
            store
                .update_outcome(
                    &scope,
                    old_call.id,
                    &otto_core::calls::OutcomeChange {
                        notes: Some(Some("called back".into())),
                        ..otto_core::calls::OutcomeChange::default()
                    },
                )
                .await
                .expect("updates");
            let old_day = key((now - Duration::days(10)).date_naive());
            let kept = store
                .scoped_query(
                    &scope,
                    "SELECT counted FROM dashboard_days WHERE day = $1",
                    vec![old_day.clone().into()],
                )
                .await
                .expect("reads");
            assert!(
                column::<bool>(&kept[0], "counted").expect("a flag"),
                "notes alone leave {old_day} kept"
            );
            // A late call on the kept old day is counted at once.
            store
                .record(&scope, call("LATE", now - Duration::days(10)))
                .await
                .expect("records");
            let summary = store
                .summary(&scope, now - Duration::days(20), now + Duration::hours(1))
                .await
                .expect("a summary");
            assert_eq!(summary.calls, 4);
        }
    }
}
