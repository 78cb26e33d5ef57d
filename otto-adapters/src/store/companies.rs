//! [`CompanyDirectory`] over SQL.

use async_trait::async_trait;
use chrono::Utc;
use otto_core::ports::{Company, CompanyDirectory, StoreError};
use otto_core::tenancy::TenantScope;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, EntityTrait};

use super::entities::tenants;
use super::{SqlStore, store_error, stored_time};

#[async_trait]
impl CompanyDirectory for SqlStore {
    async fn company(&self, scope: &TenantScope) -> Result<Option<Company>, StoreError> {
        let transaction = self.begin(scope).await?;
        let row = tenants::Entity::find_by_id(scope.tenant_id().as_str().to_owned())
            .one(&transaction)
            .await
            .map_err(store_error)?;
        transaction.commit().await.map_err(store_error)?;
        Ok(row.map(|row| Company {
            name: row.name,
            slug: row.slug,
        }))
    }

    async fn save_company(&self, scope: &TenantScope, company: &Company) -> Result<(), StoreError> {
        let transaction = self.begin(scope).await?;
        let now = stored_time(Utc::now());
        let row = tenants::ActiveModel {
            id: Set(scope.tenant_id().as_str().to_owned()),
            name: Set(company.name.clone()),
            slug: Set(company.slug.clone()),
            created_at: Set(now),
            updated_at: Set(now),
        };
        tenants::Entity::insert(row)
            .on_conflict(
                OnConflict::column(tenants::Column::Id)
                    .update_columns([
                        tenants::Column::Name,
                        tenants::Column::Slug,
                        tenants::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&transaction)
            .await
            .map_err(store_error)?;
        transaction.commit().await.map_err(store_error)?;
        Ok(())
    }
}
