//! [`DashboardQueries`] over SQL: one pass over the range's calls and one count of
//! its messages.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use otto_core::dashboard::DashboardSummary;
use otto_core::ports::{DashboardQueries, StoreError};
use otto_core::tenancy::TenantScope;

use super::sql::column;
use super::{SqlStore, stored_time};

/// `$1` tenant, `$2`/`$3` the range, `$4` false and `$5` true (booleans are bound,
/// since SQLite and PostgreSQL spell them differently). The calls are read once, from
/// the covering index `calls_tenant_started_counts` (migration 14: an index-only scan
/// on PostgreSQL), where four counting subqueries read the range four times; the
/// outbound SMS is looked up only for the range's missed calls.
pub(super) const SUMMARY: &str = "SELECT \
    COUNT(*) AS calls, \
    COALESCE(SUM(CASE WHEN c.direction = 'inbound' AND c.answered = $4 \
      THEN 1 ELSE 0 END), 0) AS missed, \
    COALESCE(SUM(CASE WHEN c.direction = 'inbound' AND c.answered = $4 \
      AND EXISTS (SELECT 1 FROM outbound_actions o WHERE o.tenant_id = c.tenant_id \
        AND o.call_id = c.id AND o.kind = 'sms' AND o.completed_at IS NOT NULL) \
      THEN 1 ELSE 0 END), 0) AS recovered_by_sms, \
    COALESCE(SUM(CASE WHEN c.booked = $5 THEN 1 ELSE 0 END), 0) AS booked, \
    (SELECT COUNT(*) FROM messages m WHERE m.tenant_id = $1 \
       AND m.sent_at >= $2 AND m.sent_at < $3) AS messages \
    FROM calls c WHERE c.tenant_id = $1 AND c.started_at >= $2 AND c.started_at < $3";

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

#[async_trait]
impl DashboardQueries for SqlStore {
    async fn summary(
        &self,
        scope: &TenantScope,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<DashboardSummary, StoreError> {
        let rows = self
            .scoped_query(scope, SUMMARY, summary_values(scope, from, to))
            .await?;
        let row = rows
            .first()
            .ok_or_else(|| StoreError::Internal("the summary query returned no row".into()))?;
        let count =
            |name: &str| column::<i64>(row, name).map(|value| u64::try_from(value).unwrap_or(0));
        Ok(DashboardSummary {
            calls: count("calls")?,
            missed: count("missed")?,
            recovered_by_sms: count("recovered_by_sms")?,
            booked: count("booked")?,
            messages: count("messages")?,
        })
    }
}
