//! [`CallRepository`] over SQL.

use async_trait::async_trait;
use chrono::Utc;
use otto_core::calls::{Call, CallCursor, Direction, NewCall, Page};
use otto_core::ports::{CallRepository, StoreError};
use otto_core::tenancy::{TenantId, TenantScope};
use sea_orm::sea_query::Condition;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::entities::calls;
use super::{SqlStore, store_error, stored_time};

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
    })
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
            created_at: Set(now),
            updated_at: Set(now),
        };
        calls::Entity::insert(row)
            .on_conflict_do_nothing_on([
                calls::Column::TenantId,
                calls::Column::Provider,
                calls::Column::ExternalId,
            ])
            .exec_without_returning(&transaction)
            .await
            .map_err(store_error)?;
        let stored = calls::Entity::find()
            .filter(calls::Column::TenantId.eq(tenant))
            .filter(calls::Column::Provider.eq(call.provider.as_str()))
            .filter(calls::Column::ExternalId.eq(call.external_id.as_str()))
            .one(&transaction)
            .await
            .map_err(store_error)?
            .ok_or_else(|| {
                StoreError::Internal("the recorded call cannot be read back".to_owned())
            })?;
        transaction.commit().await.map_err(store_error)?;
        to_domain(stored)
    }

    async fn list(
        &self,
        scope: &TenantScope,
        cursor: Option<CallCursor>,
        limit: u32,
    ) -> Result<Page<Call, CallCursor>, StoreError> {
        let limit = limit.clamp(1, otto_core::calls::MAX_PAGE_SIZE);
        let transaction = self.begin(scope).await?;
        let mut query =
            calls::Entity::find().filter(calls::Column::TenantId.eq(scope.tenant_id().as_str()));
        if let Some(cursor) = cursor {
            query = query.filter(
                Condition::any()
                    .add(calls::Column::StartedAt.lt(cursor.started_at))
                    .add(
                        Condition::all()
                            .add(calls::Column::StartedAt.eq(cursor.started_at))
                            .add(calls::Column::Id.lt(cursor.id)),
                    ),
            );
        }
        let rows = query
            .order_by_desc(calls::Column::StartedAt)
            .order_by_desc(calls::Column::Id)
            .limit(u64::from(limit) + 1)
            .all(&transaction)
            .await
            .map_err(store_error)?;
        transaction.commit().await.map_err(store_error)?;
        let has_more = rows.len() > limit as usize;
        let items: Vec<Call> = rows
            .into_iter()
            .take(limit as usize)
            .map(to_domain)
            .collect::<Result<_, _>>()?;
        let next = if has_more {
            items.last().map(CallCursor::after)
        } else {
            None
        };
        Ok(Page { items, next })
    }

    async fn get(&self, scope: &TenantScope, id: Uuid) -> Result<Option<Call>, StoreError> {
        let transaction = self.begin(scope).await?;
        let row = calls::Entity::find_by_id(id)
            .filter(calls::Column::TenantId.eq(scope.tenant_id().as_str()))
            .one(&transaction)
            .await
            .map_err(store_error)?;
        transaction.commit().await.map_err(store_error)?;
        row.map(to_domain).transpose()
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
        let transaction = self.begin(scope).await?;
        let row = calls::Entity::find()
            .filter(calls::Column::TenantId.eq(scope.tenant_id().as_str()))
            .filter(calls::Column::Provider.eq(provider))
            .filter(calls::Column::ExternalId.eq(external_id))
            .one(&transaction)
            .await
            .map_err(store_error)?;
        transaction.commit().await.map_err(store_error)?;
        row.map(to_domain).transpose()
    }
}
