//! Wiring: from a [`Config`] to running adapters and the application state.

use std::sync::Arc;
use std::time::Duration;

use otto_adapters::database::{self, DatabaseProbe, PoolSettings};
use otto_adapters::redis::{self as redis_adapter, RedisProbe};
use otto_core::ports::ReadinessProbe;
use sea_orm::DatabaseConnection;

use crate::config::Config;
use crate::state::{AppState, Readiness};
use crate::telemetry::metrics::Metrics;

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Database(#[from] database::DatabaseError),
    /// Redis is misconfigured.
    #[error("redis: {0}")]
    Redis(#[from] redis_adapter::RedisConfigError),
}

/// Live connections of a running process.
#[derive(Debug, Clone)]
pub struct Connections {
    /// The database pool.
    pub database: DatabaseConnection,
    /// The Redis client, when configured.
    pub redis: Option<fred::prelude::Client>,
}

/// Opens the database (creating and migrating the embedded SQLite file when that is
/// the configuration) and starts connecting to Redis.
pub async fn connect(config: &Config) -> Result<Connections, StartupError> {
    let database =
        database::connect(config.database_url.expose(), &PoolSettings::default()).await?;
    if config.migrate_on_start {
        database::migrate_up(&database).await?;
    }
    let redis = match &config.redis_url {
        Some(url) => Some(redis_adapter::connect(
            url.expose(),
            Duration::from_secs(2),
        )?),
        None => None,
    };
    Ok(Connections { database, redis })
}

/// The application state over live connections.
pub fn state(config: Config, connections: &Connections) -> AppState {
    let mut probes: Vec<Arc<dyn ReadinessProbe>> =
        vec![Arc::new(DatabaseProbe::new(connections.database.clone()))];
    let mut not_configured = Vec::new();
    match &connections.redis {
        Some(client) => probes.push(Arc::new(RedisProbe::new(client.clone()))),
        None => not_configured.push("redis"),
    }
    let readiness = Readiness::new(probes, not_configured, config.ready_timeout);
    AppState {
        config: Arc::new(config),
        metrics: Arc::new(Metrics::new()),
        readiness: Arc::new(readiness),
    }
}
