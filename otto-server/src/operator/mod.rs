//! Operator commands over the database: provider-account links, replay of
//! unroutable deliveries, and the idempotency purge. Each returns the text to print
//! or the error to report.

use std::sync::Arc;

use otto_adapters::store::SqlStore;
use otto_core::jobs::{Job, JobStatus};
use otto_core::ports::{JobQueue, ProviderAccounts};
use otto_core::tenancy::TenantId;
use otto_core::webhooks::{AccountRef, signing_key};

mod webhooks;

pub use webhooks::webhooks;

use crate::cli::{CallRailAction, JobsAction, TenantAction};
use crate::config::Config;
use crate::startup;

async fn store(config: &Config) -> Result<SqlStore, String> {
    let connections = startup::connect(config)
        .await
        .map_err(|error| format!("cannot open the database: {error}"))?;
    Ok(connections.store)
}

fn account(provider: &str, account: &str) -> Result<AccountRef, String> {
    AccountRef::parse(provider, account).map_err(|error| error.to_string())
}

/// `otto-server tenant ...`
pub async fn tenant(config: &Config, action: TenantAction) -> Result<String, String> {
    let store = store(config).await?;
    match action {
        TenantAction::Link {
            provider,
            account: account_id,
            tenant,
            signing_key_stdin,
        } => {
            let account = account(&provider, &account_id)?;
            let tenant = TenantId::parse(&tenant).map_err(|error| error.to_string())?;
            // Read before linking, so that a bad key changes nothing.
            let key = if signing_key_stdin {
                let mut key = String::new();
                std::io::stdin()
                    .read_line(&mut key)
                    .map_err(|error| format!("cannot read the signing key: {error}"))?;
                Some(signing_key(key.trim()).map_err(|error| error.to_string())?)
            } else {
                None
            };
            store
                .link(&account, &tenant)
                .await
                .map_err(|error| error.to_string())?;
            if let Some(key) = &key {
                store
                    .set_signing_key(&account, Some(key))
                    .await
                    .map_err(|error| error.to_string())?;
            }
            Ok(format!(
                "linked {}:{} to {tenant}{}; replay waiting deliveries with `otto-server webhooks replay`",
                account.provider,
                account.account_id,
                if key.is_some() {
                    " with its signing key"
                } else {
                    ""
                }
            ))
        }
        TenantAction::Unlink {
            provider,
            account: account_id,
        } => {
            let account = account(&provider, &account_id)?;
            if store
                .unlink(&account)
                .await
                .map_err(|error| error.to_string())?
            {
                Ok(format!(
                    "unlinked {}:{}",
                    account.provider, account.account_id
                ))
            } else {
                Err(format!(
                    "{}:{} is not linked",
                    account.provider, account.account_id
                ))
            }
        }
        TenantAction::List => {
            let links = store.links().await.map_err(|error| error.to_string())?;
            Ok(links
                .iter()
                .map(|link| {
                    format!(
                        "{}\t{}\t{}{}",
                        link.account.provider,
                        link.account.account_id,
                        link.tenant_id,
                        if link.has_signing_key {
                            "\tsigning key"
                        } else {
                            ""
                        }
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"))
        }
    }
}

/// `otto-server purge`
pub async fn purge(config: &Config, batch: u32) -> Result<String, String> {
    let store = Arc::new(store(config).await?);
    let ingestion = crate::state::webhook_ingestion(config, store.clone());
    let ttl = chrono::Duration::days(i64::from(config.idempotency_ttl_days));
    let purged = ingestion
        .purge(ttl, batch)
        .await
        .map_err(|error| error.to_string())?;
    tracing::info!(
        purged,
        ttl_days = config.idempotency_ttl_days,
        "webhook idempotency keys purged"
    );
    let retention_days = config.webhooks.log_retention_days;
    let logged = ingestion
        .purge_log(chrono::Duration::days(i64::from(retention_days)), batch)
        .await
        .map_err(|error| error.to_string())?;
    tracing::info!(purged = logged, retention_days, "webhook deliveries purged");
    Ok(format!(
        "purged {purged} idempotency key(s) last seen more than {} day(s) ago and {logged} \
         logged deliveries received more than {retention_days} day(s) ago",
        config.idempotency_ttl_days
    ))
}

fn job_id(text: &str) -> Result<uuid::Uuid, String> {
    uuid::Uuid::parse_str(text.trim()).map_err(|_| format!("`{text}` is not a job id (a UUID)"))
}

fn job_line(job: &Job) -> String {
    format!(
        "{}\t{}\t{}\t{}\tattempts={}\trun_at={}\t{}\t{}",
        job.id,
        job.status,
        job.kind,
        job.tenant_id.as_ref().map_or("-", |tenant| tenant.as_str()),
        job.attempts,
        job.run_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        job.unique_key,
        job.last_error.as_deref().unwrap_or(""),
    )
}

/// `otto-server jobs ...`
pub async fn jobs(config: &Config, action: JobsAction) -> Result<String, String> {
    let store = store(config).await?;
    let now = chrono::Utc::now();
    match action {
        JobsAction::List { status, limit } => {
            let status = status
                .map(|status| {
                    JobStatus::parse(&status.to_ascii_lowercase()).ok_or_else(|| {
                        format!(
                            "unknown status `{status}`: expected queued, running, succeeded, \
                             skipped, dead or cancelled"
                        )
                    })
                })
                .transpose()?;
            let jobs = store
                .jobs(status, limit.clamp(1, 10_000))
                .await
                .map_err(|error| error.to_string())?;
            Ok(jobs.iter().map(job_line).collect::<Vec<_>>().join("\n"))
        }
        JobsAction::Retry { id } => {
            let id = job_id(&id)?;
            if store
                .retry(id, now)
                .await
                .map_err(|error| error.to_string())?
            {
                tracing::info!(job_id = %id, "job queued again by an operator");
                Ok(format!("job {id} queued again"))
            } else {
                Err(not_changed(
                    &store,
                    id,
                    "only dead, skipped or cancelled jobs can be retried",
                )
                .await)
            }
        }
        JobsAction::Cancel { id } => {
            let id = job_id(&id)?;
            if store
                .cancel(id, now)
                .await
                .map_err(|error| error.to_string())?
            {
                tracing::info!(job_id = %id, "job cancelled by an operator");
                Ok(format!("job {id} cancelled"))
            } else {
                Err(not_changed(&store, id, "only queued jobs can be cancelled").await)
            }
        }
    }
}

async fn not_changed(store: &SqlStore, id: uuid::Uuid, rule: &str) -> String {
    match store.job(id).await {
        Ok(Some(job)) => format!("job {id} is {}: {rule}", job.status),
        Ok(None) => format!("no job {id}"),
        Err(error) => error.to_string(),
    }
}

/// `otto-server callrail ...`
pub async fn callrail(config: &Config, action: CallRailAction) -> Result<String, String> {
    let CallRailAction::Sync {
        tenant,
        company,
        pages,
    } = action;
    let tenant = TenantId::parse(&tenant).map_err(|error| error.to_string())?;
    let tracking = startup::call_tracking(config)?
        .ok_or("CallRail's API is not configured: set CALLRAIL_API_KEY and CALLRAIL_ACCOUNT_ID")?;
    let store = store(config).await?;
    let companies: Vec<String> = match company {
        Some(company) => vec![company],
        None => otto_core::callrail::linked_companies(&store, &tenant)
            .await
            .map_err(|error| error.to_string())?,
    };
    if companies.is_empty() {
        return Err(format!(
            "no CallRail company is linked to {tenant}: pass --company or link one with \
             `otto-server tenant link --provider callrail`"
        ));
    }
    let scope = otto_core::tenancy::TenantScope::for_job(tenant.clone());
    let mut lines = Vec::new();
    for company in companies {
        let report = otto_core::backfill::backfill_calls(
            tracking.as_ref(),
            &store,
            &scope,
            "callrail",
            Some(&company),
            pages.max(1),
        )
        .await
        .map_err(|error| format!("company {company}: {error}"))?;
        tracing::info!(
            tenant_id = %tenant,
            company = %company,
            pages = report.pages,
            calls = report.calls,
            more = report.more,
            "CallRail calls backfilled"
        );
        lines.push(format!(
            "company {company}: {} call(s) from {} page(s){}",
            report.calls,
            report.pages,
            if report.more {
                "; more remain, run again with a higher --pages"
            } else {
                ""
            }
        ));
    }
    Ok(lines.join("\n"))
}
