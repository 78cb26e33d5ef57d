//! [`FollowUpStore`] over SQL: tenant settings, opt-outs and the outbound actions
//! (texts, AI calls) of follow-up jobs, each in a tenant-scoped transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use otto_core::calls::Call;
use otto_core::live;
use otto_core::ports::{
    FollowUpSettings, FollowUpStore, OutboundAction, OutboundClaim, OutboundKind, StoreError,
};
use otto_core::quiet_hours::QuietHours;
use otto_core::tenancy::TenantScope;
use sea_orm::QueryResult;

use super::sql::{self, column};
use super::{SqlStore, store_error, stored_time};

const OUTBOUND_COLUMNS: &str =
    "follow_up_key, call_id, to_number, from_number, body, started_at, provider_ref";

fn outbound_of(row: &QueryResult, kind: OutboundKind) -> Result<OutboundAction, StoreError> {
    Ok(OutboundAction {
        kind,
        key: column(row, "follow_up_key")?,
        call_id: column(row, "call_id")?,
        to: column(row, "to_number")?,
        from: column(row, "from_number")?,
        text: column(row, "body")?,
        started_at: column(row, "started_at")?,
        provider_ref: column(row, "provider_ref")?,
    })
}

/// The stored quiet hours of a settings row (all three columns, or none).
fn quiet_hours(row: &sea_orm::QueryResult) -> Result<Option<QuietHours>, StoreError> {
    let start: Option<String> = column(row, "quiet_hours_start")?;
    let end: Option<String> = column(row, "quiet_hours_end")?;
    let zone: Option<String> = column(row, "time_zone")?;
    match (start, end, zone) {
        (Some(start), Some(end), Some(zone)) => QuietHours::parse(&start, &end, &zone)
            .map(Some)
            .map_err(|_| {
                StoreError::Internal(format!(
                    "stored quiet hours `{start}-{end} {zone}` are invalid"
                ))
            }),
        _ => Ok(None),
    }
}

#[async_trait]
impl FollowUpStore for SqlStore {
    async fn call_by_external_id(
        &self,
        scope: &TenantScope,
        provider: &str,
        external_id: &str,
    ) -> Result<Option<Call>, StoreError> {
        self.find_call(scope, provider, external_id).await
    }

    async fn follow_up_settings(
        &self,
        scope: &TenantScope,
    ) -> Result<(FollowUpSettings, Option<String>), StoreError> {
        let tenant = scope.tenant_id().as_str();
        let transaction = self.begin_read(scope).await?;
        let settings = sql::query(
            &transaction,
            "SELECT missed_call_sms_enabled, missed_call_sms_template, sms_from_number, \
             ai_follow_up_enabled, quiet_hours_start, quiet_hours_end, time_zone \
             FROM tenant_settings WHERE tenant_id = $1",
            vec![tenant.into()],
        )
        .await?;
        let name = sql::query(
            &transaction,
            "SELECT name FROM tenants WHERE id = $1",
            vec![tenant.into()],
        )
        .await?;
        transaction.finish_read();
        let settings = match settings.first() {
            Some(row) => FollowUpSettings {
                missed_call_sms_enabled: column(row, "missed_call_sms_enabled")?,
                missed_call_sms_template: column(row, "missed_call_sms_template")?,
                sms_from_number: column(row, "sms_from_number")?,
                ai_follow_up_enabled: column(row, "ai_follow_up_enabled")?,
                quiet_hours: quiet_hours(row)?,
            },
            None => FollowUpSettings::default(),
        };
        let name = match name.first() {
            Some(row) => column::<Option<String>>(row, "name")?,
            None => None,
        };
        Ok((settings, name))
    }

    async fn save_follow_up_settings(
        &self,
        scope: &TenantScope,
        settings: &FollowUpSettings,
    ) -> Result<(), StoreError> {
        let quiet = settings.quiet_hours.as_ref();
        let transaction = self.begin(scope).await?;
        sql::execute(
            &transaction,
            "INSERT INTO tenant_settings (tenant_id, missed_call_sms_enabled, \
             missed_call_sms_template, sms_from_number, updated_at, ai_follow_up_enabled, \
             quiet_hours_start, quiet_hours_end, time_zone) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (tenant_id) DO UPDATE SET \
             missed_call_sms_enabled = excluded.missed_call_sms_enabled, \
             missed_call_sms_template = excluded.missed_call_sms_template, \
             sms_from_number = excluded.sms_from_number, updated_at = excluded.updated_at, \
             ai_follow_up_enabled = excluded.ai_follow_up_enabled, \
             quiet_hours_start = excluded.quiet_hours_start, \
             quiet_hours_end = excluded.quiet_hours_end, time_zone = excluded.time_zone",
            vec![
                scope.tenant_id().as_str().into(),
                settings.missed_call_sms_enabled.into(),
                settings.missed_call_sms_template.clone().into(),
                settings.sms_from_number.clone().into(),
                stored_time(Utc::now()).into(),
                settings.ai_follow_up_enabled.into(),
                quiet.map(|quiet| QuietHours::format(quiet.start)).into(),
                quiet.map(|quiet| QuietHours::format(quiet.end)).into(),
                quiet.map(|quiet| quiet.zone_name().to_owned()).into(),
            ],
        )
        .await?;
        transaction.commit().await.map_err(store_error)
    }

    async fn is_opted_out(&self, scope: &TenantScope, number: &str) -> Result<bool, StoreError> {
        let rows = self
            .scoped_query(
                scope,
                "SELECT 1 AS opted_out FROM opt_outs WHERE tenant_id = $1 AND customer_number = $2",
                vec![scope.tenant_id().as_str().into(), number.into()],
            )
            .await?;
        Ok(!rows.is_empty())
    }

    async fn begin_outbound(
        &self,
        scope: &TenantScope,
        action: &OutboundAction,
    ) -> Result<OutboundClaim, StoreError> {
        let tenant = scope.tenant_id().as_str();
        let transaction = self.begin(scope).await?;
        let inserted = sql::execute(
            &transaction,
            "INSERT INTO outbound_actions (id, tenant_id, kind, follow_up_key, call_id, \
             to_number, from_number, body, started_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (tenant_id, kind, follow_up_key) DO NOTHING",
            vec![
                self.new_id().into(),
                tenant.into(),
                action.kind.as_str().into(),
                action.key.clone().into(),
                action.call_id.into(),
                action.to.clone().into(),
                action.from.clone().into(),
                action.text.clone().into(),
                stored_time(action.started_at).into(),
            ],
        )
        .await?;
        let rows = sql::query(
            &transaction,
            &format!(
                "SELECT {OUTBOUND_COLUMNS} FROM outbound_actions \
                 WHERE tenant_id = $1 AND kind = $2 AND follow_up_key = $3"
            ),
            vec![
                tenant.into(),
                action.kind.as_str().into(),
                action.key.clone().into(),
            ],
        )
        .await?;
        transaction.commit().await.map_err(store_error)?;
        let recorded = outbound_of(
            rows.first().ok_or_else(|| {
                StoreError::Internal(format!("outbound action `{}` vanished", action.key))
            })?,
            action.kind,
        )?;
        Ok(if inserted == 1 {
            OutboundClaim::Fresh(recorded)
        } else {
            OutboundClaim::Earlier(recorded)
        })
    }

    async fn complete_outbound(
        &self,
        scope: &TenantScope,
        kind: OutboundKind,
        key: &str,
        provider_ref: &str,
        done_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let tenant = scope.tenant_id().as_str();
        let done_at = stored_time(done_at);
        let transaction = self.begin(scope).await?;
        let updated = sql::execute(
            &transaction,
            "UPDATE outbound_actions SET provider_ref = $1, completed_at = $2 \
             WHERE tenant_id = $3 AND kind = $4 AND follow_up_key = $5",
            vec![
                provider_ref.into(),
                done_at.into(),
                tenant.into(),
                kind.as_str().into(),
                key.into(),
            ],
        )
        .await?;
        if updated == 0 {
            return Err(StoreError::Internal(format!(
                "no outbound {} `{key}`",
                kind.as_str()
            )));
        }
        let keep = match kind {
            OutboundKind::Sms => {
                "INSERT INTO messages (id, tenant_id, call_id, provider, external_id, direction, \
                 customer_number, body, sent_at, created_at) \
                 SELECT $1, tenant_id, call_id, 'twilio', $2, 'outbound', to_number, body, $3, $3 \
                 FROM outbound_actions WHERE tenant_id = $4 AND kind = $5 AND follow_up_key = $6 \
                 ON CONFLICT (tenant_id, provider, external_id) DO NOTHING \
                 RETURNING id, customer_number"
            }
            OutboundKind::AiCall => {
                "INSERT INTO ai_calls (id, tenant_id, external_id, to_number, status, completed, \
                 created_at, updated_at) \
                 SELECT $1, tenant_id, $2, to_number, 'started', false, $3, $3 \
                 FROM outbound_actions WHERE tenant_id = $4 AND kind = $5 AND follow_up_key = $6 \
                 ON CONFLICT (tenant_id, external_id) DO NOTHING RETURNING id, to_number AS customer_number"
            }
        };
        let kept = sql::query(
            &transaction,
            keep,
            vec![
                self.new_id().into(),
                provider_ref.into(),
                done_at.into(),
                tenant.into(),
                kind.as_str().into(),
                key.into(),
            ],
        )
        .await?;
        // Kept before (a retried completion) is not news.
        let events = match kept.first() {
            Some(row) => {
                let number: Option<String> = column(row, "customer_number")?;
                live::outbound_completed(
                    kind,
                    key,
                    Some(column(row, "id")?),
                    number.as_deref().unwrap_or_default(),
                )
            }
            None => Vec::new(),
        };
        self.commit_with_events(transaction, scope.tenant_id(), &events)
            .await
    }
}
