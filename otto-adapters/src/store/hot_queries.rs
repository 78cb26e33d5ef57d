//! The statements behind Otto's hot requests, built by the very functions the store
//! runs them with, so their plans can be checked on a database of production size
//! (`EXPLAIN`, PostgreSQL): a test fails when one of them scans a table, and an
//! operator can print them with their plans.

use std::time::Duration;

use chrono::{DateTime, Utc};
use otto_core::calls::{CallCursor, CallFilter, CallSearch, Direction};
use otto_core::jobs::JobKind;
use otto_core::ports::{DeliveryFilter, DeliveryOutcome, LogScope, StoreError};
use otto_core::tenancy::{TenantScope, UserId};
use otto_core::webhooks::Provider;
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseTransaction, QueryTrait, Statement};

use super::{Planning, SqlStore, calls, dashboard, delivery_log, jobs, messages, sql, store_error};

/// What the hot queries are asked about: a tenant (the biggest, to be meaningful), a
/// point deep in its calls' cursor chain, and a customer with a message thread.
#[derive(Debug, Clone)]
pub struct HotQuerySample {
    /// The tenant whose requests are planned.
    pub tenant: TenantScope,
    /// "Now" for ranges (the dashboard's last 30 and 365 days, the job lease).
    pub now: DateTime<Utc>,
    /// A cursor far down the tenant's calls (page 200, say).
    pub deep_call: CallCursor,
    /// A customer number of the tenant's messages.
    pub customer_number: String,
    /// A rep of the tenant with calls assigned.
    pub rep: UserId,
}

/// Where a hot query runs: a tenant's transaction (row-level security on), or the
/// platform's.
#[derive(Debug, Clone)]
pub enum HotQueryScope {
    /// As the tenant's requests run.
    Tenant(TenantScope),
    /// As the worker's lease runs.
    Platform,
}

/// One hot query: what it serves, where it runs and its statement.
#[derive(Debug, Clone)]
pub struct HotQuery {
    /// The request it serves (`calls: number search`).
    pub name: &'static str,
    /// The transaction it runs in.
    pub scope: HotQueryScope,
    /// The statement with its parameters, as the store sends it.
    pub statement: Statement,
    /// Whether the store has it planned once for any values (`force_generic_plan`),
    /// so that the plan to check is the generic one.
    pub generic_plan: bool,
}

/// Rows per page in the sampled list requests (the API's default page).
const PAGE: u32 = 50;

impl SqlStore {
    /// The statements of the hot requests for `sample`, as the store builds them.
    pub fn hot_queries(&self, sample: &HotQuerySample) -> Vec<HotQuery> {
        let backend = self.db.get_database_backend();
        let scope = &sample.tenant;
        let tenant = || HotQueryScope::Tenant(scope.clone());
        let calls_page = |name, filter: CallFilter, cursor| HotQuery {
            name,
            scope: tenant(),
            generic_plan: calls::list_planning(&filter) == Planning::Generic,
            statement: calls::list_query(backend, scope, &filter, cursor, PAGE).build(backend),
        };
        let raw = |name, scope, (sql, values): (String, Vec<sea_orm::Value>)| HotQuery {
            name,
            scope,
            statement: Statement::from_sql_and_values(backend, sql, values),
            generic_plan: false,
        };
        // The dashboard's reads, planned once per connection as the store runs them
        // (`Planning::Generic`).
        let planned_once = |name, query: (String, Vec<sea_orm::Value>)| HotQuery {
            generic_plan: true,
            ..raw(name, tenant(), query)
        };
        let days_ago = |days: i64| sample.now - chrono::Duration::days(days);
        // A grain's periods of the last `days` counted once, as `count_periods` binds
        // them: the calls with every value, the messages with the tenant and span.
        let calls_per = |grain, days| {
            (
                dashboard::per_period_calls(backend, grain),
                dashboard::summary_values(scope, days_ago(days), sample.now),
            )
        };
        let messages_per = |grain, days| {
            let mut values = dashboard::summary_values(scope, days_ago(days), sample.now);
            values.truncate(3);
            (dashboard::per_period_messages(backend, grain), values)
        };
        // A grain's kept periods of `[first, end)`.
        let kept = |grain: dashboard::Grain, first, end| {
            (
                dashboard::kept_periods(grain),
                vec![
                    scope.tenant_id().as_str().into(),
                    grain.key(first).into(),
                    grain.key(end).into(),
                ],
            )
        };
        // The 30-day range's first day (settled), whose whole hours the store reads.
        let first_day_start = days_ago(30)
            .date_naive()
            .and_time(chrono::NaiveTime::MIN)
            .and_utc();
        let summary_over = |days: i64| {
            let statement =
                dashboard::SummaryStatement::of(scope, days_ago(days), sample.now, sample.now);
            (statement.sql, statement.values)
        };
        let log = LogScope::Tenant(scope.clone());
        let log_page = |name, filter: DeliveryFilter| HotQuery {
            generic_plan: delivery_log::list_planning(&filter) == Planning::Generic,
            ..raw(
                name,
                tenant(),
                delivery_log::list_query(&log, &filter, None, PAGE),
            )
        };
        vec![
            calls_page("calls: first page", CallFilter::default(), None),
            calls_page(
                "calls: a page deep in the cursor chain",
                CallFilter::default(),
                Some(sample.deep_call),
            ),
            calls_page(
                "calls: missed inbound calls of the last 90 days",
                CallFilter {
                    direction: Some(Direction::Inbound),
                    answered: Some(false),
                    started_from: Some(sample.now - chrono::Duration::days(90)),
                    ..CallFilter::default()
                },
                None,
            ),
            calls_page(
                "calls: name search",
                CallFilter {
                    search: CallSearch::parse("smith"),
                    ..CallFilter::default()
                },
                None,
            ),
            calls_page(
                "calls: number search",
                CallFilter {
                    search: CallSearch::parse("4567"),
                    ..CallFilter::default()
                },
                None,
            ),
            calls_page(
                "calls: a rep's calls",
                CallFilter {
                    assigned_to: Some(sample.rep.clone()),
                    ..CallFilter::default()
                },
                None,
            ),
            planned_once("dashboard: 30 days in one statement", summary_over(30)),
            planned_once("dashboard: a year in one statement", summary_over(365)),
            planned_once(
                "dashboard: a year's kept days",
                kept(dashboard::Grain::Day, days_ago(365), sample.now),
            ),
            planned_once(
                "dashboard: a year's kept months",
                kept(dashboard::Grain::Month, days_ago(365), sample.now),
            ),
            planned_once(
                "dashboard: the recent kept hours",
                kept(dashboard::Grain::Hour, days_ago(3), sample.now),
            ),
            planned_once(
                "dashboard: a settled day's kept hours",
                kept(
                    dashboard::Grain::SettledHour,
                    first_day_start + chrono::Duration::hours(1),
                    first_day_start + chrono::Duration::days(1),
                ),
            ),
            planned_once(
                "dashboard: a settled day's generation",
                (
                    dashboard::day_generation_of_one_day(),
                    vec![
                        scope.tenant_id().as_str().into(),
                        dashboard::Grain::Day.key(days_ago(30)).into(),
                    ],
                ),
            ),
            planned_once(
                "dashboard: a year's days counted once, calls",
                calls_per(dashboard::Grain::Day, 365),
            ),
            planned_once(
                "dashboard: a year's days counted once, messages",
                messages_per(dashboard::Grain::Day, 365),
            ),
            planned_once(
                "dashboard: a year's months counted once, calls",
                calls_per(dashboard::Grain::Month, 365),
            ),
            planned_once(
                "dashboard: a year's months counted once, messages",
                messages_per(dashboard::Grain::Month, 365),
            ),
            planned_once(
                "dashboard: the recent hours counted once, calls",
                calls_per(dashboard::Grain::Hour, 3),
            ),
            raw(
                "messages: conversations",
                tenant(),
                messages::conversations_query(scope.tenant_id().as_str(), None, PAGE as usize),
            ),
            raw(
                "messages: one customer's thread",
                tenant(),
                messages::thread_query(
                    scope.tenant_id().as_str(),
                    &sample.customer_number,
                    None,
                    PAGE as usize,
                ),
            ),
            log_page("delivery log: first page", DeliveryFilter::default()),
            log_page(
                "delivery log: one provider",
                DeliveryFilter {
                    provider: Some(Provider::Twilio),
                    ..DeliveryFilter::default()
                },
            ),
            log_page(
                "delivery log: failed deliveries",
                DeliveryFilter {
                    outcome: Some(DeliveryOutcome::Failed),
                    ..DeliveryFilter::default()
                },
            ),
            raw(
                "jobs: lease",
                HotQueryScope::Platform,
                jobs::lease_query(
                    backend,
                    &JobKind::ALL,
                    sample.now,
                    Duration::from_secs(60),
                    10,
                ),
            ),
        ]
    }

    /// `query`'s plan as PostgreSQL executes it in its own scope (`EXPLAIN (ANALYZE,
    /// BUFFERS, FORMAT JSON)`), in a transaction that is rolled back, so a lease
    /// leases nothing; a query the store plans once for any values is prepared and its
    /// generic plan explained. PostgreSQL only.
    pub async fn explain(&self, query: &HotQuery) -> Result<serde_json::Value, StoreError> {
        if self.db.get_database_backend() != DatabaseBackend::Postgres {
            return Err(StoreError::Internal(
                "plans are explained on PostgreSQL only".to_owned(),
            ));
        }
        let planning = if query.generic_plan {
            Planning::Generic
        } else {
            Planning::PerExecution
        };
        let transaction = match &query.scope {
            HotQueryScope::Tenant(scope) => self.begin_read_planned(scope, planning).await?,
            HotQueryScope::Platform => self.begin_platform_read().await?,
        };
        let values = query
            .statement
            .values
            .clone()
            .map(|values| values.0)
            .unwrap_or_default();
        let plan = if query.generic_plan {
            Self::explain_generic(&transaction, &query.statement.sql, values).await?
        } else {
            Self::explain_statement(
                &transaction,
                Statement::from_sql_and_values(
                    DatabaseBackend::Postgres,
                    format!(
                        "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {}",
                        query.statement.sql
                    ),
                    values,
                ),
            )
            .await?
        };
        transaction.rollback().await.map_err(store_error)?;
        Ok(plan)
    }

    /// The generic plan of `sql` (as `Planning::Generic` runs it) for `values`: the
    /// statement is prepared, and `EXECUTE`'s arguments, which cannot be the outer
    /// statement's parameters, are written into it as literals.
    async fn explain_generic(
        transaction: &DatabaseTransaction,
        sql: &str,
        values: Vec<sea_orm::Value>,
    ) -> Result<serde_json::Value, StoreError> {
        // A name of this call's own: a prepared statement outlives the rollback.
        let name = format!("otto_hot_query_{}", uuid::Uuid::new_v4().simple());
        transaction
            .execute_unprepared(&format!("PREPARE {name} AS {sql}"))
            .await
            .map_err(store_error)?;
        let arguments = if values.is_empty() {
            String::new()
        } else {
            format!("({})", sql::placeholders(1, values.len()))
        };
        let execute = Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            format!("EXECUTE {name}{arguments}"),
            values,
        );
        let plan = Self::explain_statement(
            transaction,
            Statement::from_string(
                DatabaseBackend::Postgres,
                format!("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {execute}"),
            ),
        )
        .await?;
        // A failed EXPLAIN aborts the transaction, and the statement then stays with
        // the connection (hence a name of its own).
        transaction
            .execute_unprepared(&format!("DEALLOCATE {name}"))
            .await
            .map_err(store_error)?;
        Ok(plan)
    }

    /// The plan an `EXPLAIN … FORMAT JSON` statement returns.
    async fn explain_statement(
        transaction: &DatabaseTransaction,
        explain: Statement,
    ) -> Result<serde_json::Value, StoreError> {
        let row = transaction
            .query_one_raw(explain)
            .await
            .map_err(store_error)?
            .ok_or_else(|| StoreError::Internal("EXPLAIN returned no plan".to_owned()))?;
        sql::column::<serde_json::Value>(&row, "QUERY PLAN")
    }
}
