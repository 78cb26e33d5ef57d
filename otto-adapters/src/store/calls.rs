//! [`CallRepository`] over SQL.

use async_trait::async_trait;
use chrono::Utc;
use otto_core::calls::{
    Call, CallCursor, CallFilter, CallOutcome, Direction, NewCall, OutcomeChange, Page,
};
use otto_core::live;
use otto_core::ports::{CallRepository, StoreError};
use otto_core::tenancy::{TenantId, TenantScope, UserId};
use sea_orm::sea_query::{Alias, Condition, Expr, ExprTrait, Order, Query};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, DatabaseBackend, DbErr, EntityTrait, FromQueryResult, Iterable, QueryFilter,
    QueryOrder, QueryResult, QuerySelect,
};
use uuid::Uuid;

use super::entities::calls;
use super::{Planning, SqlStore, search_terms, store_error, stored_time};

fn to_domain(row: calls::Model) -> Result<Call, StoreError> {
    Ok(Call {
        id: row.id,
        tenant_id: TenantId::parse(&row.tenant_id)
            .map_err(|error| StoreError::Internal(error.to_string()))?,
        direction: Direction::parse(&row.direction).ok_or_else(|| {
            StoreError::Internal(format!("unknown call direction `{}`", row.direction))
        })?,
        provider: row.provider,
        external_id: row.external_id,
        customer_name: row.customer_name,
        customer_number: row.customer_number,
        answered: row.answered,
        duration_seconds: row.duration_seconds,
        started_at: row.started_at,
        outcome: CallOutcome {
            booked: row.booked,
            appointment_at: row.appointment_at,
            notes: row.notes,
            assigned_rep: row
                .assigned_rep
                .map(|rep| UserId::parse(&rep))
                .transpose()
                .map_err(|error| StoreError::Internal(error.to_string()))?,
        },
    })
}

/// A `calls` row read by column position. `Entity::find()` selects the columns in
/// `calls::Column` order; reading by name formatted and looked up every column's name
/// again for every row, which was a tenth of a page of calls.
struct CallRow(calls::Model);

fn position(column: calls::Column) -> usize {
    calls::Column::iter()
        .position(|listed| std::mem::discriminant(&listed) == std::mem::discriminant(&column))
        .unwrap_or(usize::MAX)
}

impl FromQueryResult for CallRow {
    fn from_query_result(row: &QueryResult, _prefix: &str) -> Result<Self, DbErr> {
        use calls::Column;
        let at = |column| position(column);
        Ok(CallRow(calls::Model {
            id: row.try_get_by_index(at(Column::Id))?,
            tenant_id: row.try_get_by_index(at(Column::TenantId))?,
            provider: row.try_get_by_index(at(Column::Provider))?,
            external_id: row.try_get_by_index(at(Column::ExternalId))?,
            direction: row.try_get_by_index(at(Column::Direction))?,
            customer_name: row.try_get_by_index(at(Column::CustomerName))?,
            customer_number: row.try_get_by_index(at(Column::CustomerNumber))?,
            answered: row.try_get_by_index(at(Column::Answered))?,
            duration_seconds: row.try_get_by_index(at(Column::DurationSeconds))?,
            started_at: row.try_get_by_index(at(Column::StartedAt))?,
            booked: row.try_get_by_index(at(Column::Booked))?,
            appointment_at: row.try_get_by_index(at(Column::AppointmentAt))?,
            notes: row.try_get_by_index(at(Column::Notes))?,
            assigned_rep: row.try_get_by_index(at(Column::AssignedRep))?,
            created_at: row.try_get_by_index(at(Column::CreatedAt))?,
            updated_at: row.try_get_by_index(at(Column::UpdatedAt))?,
        }))
    }
}

/// `filter` as a condition on `tenant`'s `calls` rows.
/// (Its time range is the page's: see [`NewestFirst::window`].)
fn filter_condition(tenant: &str, filter: &CallFilter) -> Condition {
    let mut condition = Condition::all();
    if let Some(direction) = filter.direction {
        condition = condition.add(calls::Column::Direction.eq(direction.as_str()));
    }
    if let Some(answered) = filter.answered {
        condition = condition.add(calls::Column::Answered.eq(answered));
    }
    if let Some(rep) = &filter.assigned_to {
        condition = condition.add(calls::Column::AssignedRep.eq(rep.as_str()));
    }
    if let Some(wanted) = filter.has_recording {
        let recorded = Expr::exists(
            Query::select()
                .expr(Expr::val(1))
                .from(Alias::new("recordings"))
                .and_where(
                    Expr::col((Alias::new("recordings"), Alias::new("call_id")))
                        .equals((calls::Entity, calls::Column::Id)),
                )
                .to_owned(),
        );
        condition = condition.add(if wanted { recorded } else { recorded.not() });
    }
    if let Some(search) = &filter.search {
        condition = condition.add(search_terms::matching(tenant, search));
    }
    condition
}

/// How every page of calls is cut and ordered, newest first, on the columns of the
/// table that chooses the page (`calls`, or `call_search_terms` for a search): written
/// once, so that both ways of choosing a page agree on the time range's ends, the
/// cursor and the order.
pub(super) struct NewestFirst {
    pub started_at: Expr,
    pub id: Expr,
}

impl NewestFirst {
    fn of_calls() -> Self {
        NewestFirst {
            started_at: Expr::col((calls::Entity, calls::Column::StartedAt)),
            id: Expr::col((calls::Entity, calls::Column::Id)),
        }
    }

    /// The rows from `filter`'s start (inclusive) to its end (exclusive), after
    /// `cursor`.
    pub(super) fn window(&self, filter: &CallFilter, cursor: Option<CallCursor>) -> Condition {
        let mut condition = Condition::all();
        if let Some(from) = filter.started_from {
            condition = condition.add(self.started_at.clone().gte(stored_time(from)));
        }
        if let Some(before) = filter.started_before {
            condition = condition.add(self.started_at.clone().lt(stored_time(before)));
        }
        if let Some(cursor) = cursor {
            // A row comparison, which both databases seek with an index on (…, start,
            // id); the equivalent `a < x OR (a = x AND b < y)` was applied as a filter
            // after scanning the tenant's rows, so page N cost as much as all before.
            condition = condition.add(Expr::tuple([self.started_at.clone(), self.id.clone()]).lt(
                Expr::tuple([
                    Expr::value(stored_time(cursor.started_at)),
                    Expr::value(cursor.id),
                ]),
            ));
        }
        condition
    }

    /// Newest first, ties by id.
    pub(super) fn order(&self) -> [(Expr, Order); 2] {
        [
            (self.started_at.clone(), Order::Desc),
            (self.id.clone(), Order::Desc),
        ]
    }
}

/// `query` in [`NewestFirst::of_calls`]'s order.
fn newest_first(query: sea_orm::Select<calls::Entity>) -> sea_orm::Select<calls::Entity> {
    NewestFirst::of_calls()
        .order()
        .into_iter()
        .fold(query, |query, (column, order)| {
            query.order_by(column, order)
        })
}

/// The query of one page of `scope`'s calls after `cursor`, newest first (one row more
/// than `limit`, to know whether another page follows).
pub(super) fn list_query(
    backend: DatabaseBackend,
    scope: &TenantScope,
    filter: &CallFilter,
    cursor: Option<CallCursor>,
    limit: u32,
) -> sea_orm::Select<calls::Entity> {
    let tenant = scope.tenant_id().as_str();
    let calls = calls::Entity::find().filter(calls::Column::TenantId.eq(tenant));
    if let Some(page) = search_terms::page_of_matches(backend, tenant, filter, cursor, limit) {
        // A search: the page's ids come from the terms, then only its calls are read.
        return newest_first(calls.filter(page));
    }
    newest_first(
        calls
            .filter(filter_condition(tenant, filter))
            .filter(NewestFirst::of_calls().window(filter, cursor)),
    )
    .limit(u64::from(limit) + 1)
}

/// How a page of calls with `filter` is planned. An unfiltered page (the first, or
/// any page by cursor) has one best plan whatever its values: a seek on the tenant's
/// newest-first index. PostgreSQL, planning it again for each request's tenant and
/// cursor, spent longer planning than reading the page, so it is planned once per
/// connection. Any filter keeps a plan per execution: a rep's calls, a time range or
/// a search are best found by an index that only the values (and their statistics)
/// choose; so does a filter field added later, until someone shows otherwise.
pub(super) fn list_planning(filter: &CallFilter) -> Planning {
    if *filter == CallFilter::default() {
        Planning::Generic
    } else {
        Planning::PerExecution
    }
}

#[async_trait]
impl CallRepository for SqlStore {
    async fn record(&self, scope: &TenantScope, call: NewCall) -> Result<Call, StoreError> {
        let transaction = self.begin(scope).await?;
        let tenant = scope.tenant_id().as_str();
        let now = stored_time(Utc::now());
        let row = calls::ActiveModel {
            id: Set(self.new_id()),
            tenant_id: Set(tenant.to_owned()),
            provider: Set(call.provider.clone()),
            external_id: Set(call.external_id.clone()),
            direction: Set(call.direction.as_str().to_owned()),
            customer_name: Set(call.customer_name),
            customer_number: Set(call.customer_number),
            answered: Set(call.answered),
            duration_seconds: Set(call.duration_seconds),
            started_at: Set(stored_time(call.started_at)),
            booked: NotSet,
            appointment_at: NotSet,
            notes: NotSet,
            assigned_rep: NotSet,
            created_at: Set(now),
            updated_at: Set(now),
        };
        let inserted = calls::Entity::insert(row)
            .on_conflict_do_nothing_on([
                calls::Column::TenantId,
                calls::Column::Provider,
                calls::Column::ExternalId,
            ])
            .exec_without_returning(&*transaction)
            .await
            .map_err(store_error)?;
        let stored = calls::Entity::find()
            .filter(calls::Column::TenantId.eq(tenant))
            .filter(calls::Column::Provider.eq(call.provider.as_str()))
            .filter(calls::Column::ExternalId.eq(call.external_id.as_str()))
            .one(&*transaction)
            .await
            .map_err(store_error)?
            .ok_or_else(|| {
                StoreError::Internal("the recorded call cannot be read back".to_owned())
            })?;
        let stored = to_domain(stored)?;
        let created = matches!(inserted, sea_orm::TryInsertResult::Inserted(rows) if rows > 0);
        if created {
            search_terms::index_new_call(
                &transaction,
                tenant,
                search_terms::TermedCall {
                    id: stored.id,
                    started_at: stored.started_at,
                    name: stored.customer_name.as_deref(),
                    number: stored.customer_number.as_deref(),
                },
            )
            .await?;
        }
        let events: Vec<_> = created
            .then(|| live::call_created(stored.id, stored.outcome.assigned_rep.clone()))
            .into_iter()
            .collect();
        self.commit_with_events(transaction, scope.tenant_id(), &events)
            .await?;
        Ok(stored)
    }

    async fn list(
        &self,
        scope: &TenantScope,
        filter: &CallFilter,
        cursor: Option<CallCursor>,
        limit: u32,
    ) -> Result<Page<Call, CallCursor>, StoreError> {
        let limit = limit.clamp(1, otto_core::calls::MAX_PAGE_SIZE);
        let transaction = self
            .begin_read_planned(scope, list_planning(filter))
            .await?;
        let rows = list_query(self.db.get_database_backend(), scope, filter, cursor, limit)
            .into_model::<CallRow>()
            .all(&*transaction)
            .await
            .map_err(store_error)?;
        transaction.finish_read();
        let has_more = rows.len() > limit as usize;
        let items: Vec<Call> = rows
            .into_iter()
            .take(limit as usize)
            .map(|row| to_domain(row.0))
            .collect::<Result<_, _>>()?;
        let next = if has_more {
            items.last().map(CallCursor::after)
        } else {
            None
        };
        Ok(Page { items, next })
    }

    async fn get(&self, scope: &TenantScope, id: Uuid) -> Result<Option<Call>, StoreError> {
        let transaction = self.begin_read(scope).await?;
        let row = calls::Entity::find_by_id(id)
            .filter(calls::Column::TenantId.eq(scope.tenant_id().as_str()))
            .one(&*transaction)
            .await
            .map_err(store_error)?;
        transaction.finish_read();
        row.map(to_domain).transpose()
    }

    async fn update_outcome(
        &self,
        scope: &TenantScope,
        id: Uuid,
        change: &OutcomeChange,
    ) -> Result<Option<Call>, StoreError> {
        let transaction = self.begin(scope).await?;
        let tenant = scope.tenant_id().as_str();
        let mut update = calls::Entity::update_many()
            .col_expr(
                calls::Column::UpdatedAt,
                Expr::value(stored_time(Utc::now())),
            )
            .filter(calls::Column::Id.eq(id))
            .filter(calls::Column::TenantId.eq(tenant));
        if let Some(booked) = change.booked {
            update = update.col_expr(calls::Column::Booked, Expr::value(booked));
        }
        if let Some(appointment_at) = change.appointment_at {
            update = update.col_expr(
                calls::Column::AppointmentAt,
                Expr::value(appointment_at.map(stored_time)),
            );
        }
        if let Some(notes) = &change.notes {
            update = update.col_expr(calls::Column::Notes, Expr::value(notes.clone()));
        }
        if let Some(rep) = &change.assigned_rep {
            update = update.col_expr(
                calls::Column::AssignedRep,
                Expr::value(rep.as_ref().map(|rep| rep.as_str().to_owned())),
            );
        }
        // Written first, read after: a SQLite write transaction must start with its
        // write, and the row read back is the one this transaction changed.
        let changed = update.exec(&*transaction).await.map_err(store_error)?;
        if changed.rows_affected == 0 {
            transaction.commit().await.map_err(store_error)?;
            return Ok(None);
        }
        let row = calls::Entity::find_by_id(id)
            .filter(calls::Column::TenantId.eq(tenant))
            .one(&*transaction)
            .await
            .map_err(store_error)?
            .map(to_domain)
            .transpose()?;
        let events: Vec<_> = row
            .iter()
            .map(|call| {
                live::call_updated(
                    call.id,
                    call.outcome.assigned_rep.clone(),
                    &change.changed(),
                )
            })
            .collect();
        self.commit_with_events(transaction, scope.tenant_id(), &events)
            .await?;
        Ok(row)
    }
}

impl SqlStore {
    /// The call `external_id` of `provider` in the scope's tenant.
    pub(super) async fn find_call(
        &self,
        scope: &TenantScope,
        provider: &str,
        external_id: &str,
    ) -> Result<Option<Call>, StoreError> {
        let transaction = self.begin_read(scope).await?;
        let row = calls::Entity::find()
            .filter(calls::Column::TenantId.eq(scope.tenant_id().as_str()))
            .filter(calls::Column::Provider.eq(provider))
            .filter(calls::Column::ExternalId.eq(external_id))
            .one(&*transaction)
            .await
            .map_err(store_error)?;
        transaction.finish_read();
        row.map(to_domain).transpose()
    }
}

#[cfg(test)]
mod tests {
    use otto_core::calls::{CallSearch, Direction};
    use otto_core::tenancy::UserId;

    use super::*;

    #[test]
    fn only_an_unfiltered_page_is_planned_once_for_any_values() {
        assert_eq!(list_planning(&CallFilter::default()), Planning::Generic);
        let at = Utc::now();
        let filtered = [
            CallFilter {
                started_from: Some(at),
                ..CallFilter::default()
            },
            CallFilter {
                started_before: Some(at),
                ..CallFilter::default()
            },
            CallFilter {
                direction: Some(Direction::Inbound),
                ..CallFilter::default()
            },
            CallFilter {
                answered: Some(false),
                ..CallFilter::default()
            },
            CallFilter {
                has_recording: Some(true),
                ..CallFilter::default()
            },
            CallFilter {
                search: CallSearch::parse("smith"),
                ..CallFilter::default()
            },
            CallFilter {
                assigned_to: Some(UserId::parse("user_rep").expect("a user id")),
                ..CallFilter::default()
            },
        ];
        for filter in filtered {
            assert_eq!(list_planning(&filter), Planning::PerExecution, "{filter:?}");
        }
    }
}
