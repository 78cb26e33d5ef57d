//! [`CompanyDirectory`] over SQL.

use async_trait::async_trait;
use chrono::Utc;
use otto_core::ports::{Company, CompanyDirectory, Member, StoreError};
use otto_core::tenancy::{Role, TenantScope, UserId};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, EntityTrait};

use super::entities::tenants;
use super::{SqlStore, store_error, stored_time};

#[async_trait]
impl CompanyDirectory for SqlStore {
    async fn company(&self, scope: &TenantScope) -> Result<Option<Company>, StoreError> {
        let transaction = self.begin_read(scope).await?;
        let row = tenants::Entity::find_by_id(scope.tenant_id().as_str().to_owned())
            .one(&*transaction)
            .await
            .map_err(store_error)?;
        transaction.finish_read();
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
            .exec_without_returning(&*transaction)
            .await
            .map_err(store_error)?;
        transaction.commit().await.map_err(store_error)?;
        Ok(())
    }

    async fn members(&self, scope: &TenantScope) -> Result<Vec<Member>, StoreError> {
        let rows = self
            .scoped_query(
                scope,
                "SELECT m.user_id, m.role, u.email, u.name FROM memberships m \
                 LEFT JOIN users u ON u.id = m.user_id \
                 WHERE m.tenant_id = $1 ORDER BY m.user_id",
                vec![scope.tenant_id().as_str().into()],
            )
            .await?;
        rows.iter()
            .map(|row| {
                let user: String = super::sql::column(row, "user_id")?;
                let role: String = super::sql::column(row, "role")?;
                Ok(Member {
                    user_id: UserId::parse(&user)
                        .map_err(|error| StoreError::Internal(error.to_string()))?,
                    email: super::sql::column(row, "email")?,
                    name: super::sql::column(row, "name")?,
                    role: Role::parse(&role)
                        .map_err(|error| StoreError::Internal(error.to_string()))?,
                })
            })
            .collect()
    }
}
