//! Redis through fred: the shared client and its readiness probe.

use std::time::Duration;

use async_trait::async_trait;
use fred::prelude::{Builder, Client, ClientLike, Config, ReconnectPolicy};
use otto_core::ports::{ProbeError, ReadinessProbe};

/// Why a Redis client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("invalid REDIS_URL: {0}")]
pub struct RedisConfigError(String);

/// Builds a client for `url` and starts connecting in the background. The client
/// reconnects on its own with exponential backoff, so a Redis that is down at start
/// or restarts later is picked up without restarting Otto.
pub fn connect(url: &str, command_timeout: Duration) -> Result<Client, RedisConfigError> {
    let config = Config::from_url(url).map_err(|error| RedisConfigError(error.to_string()))?;
    let client = Builder::from_config(config)
        .with_connection_config(|connection| {
            connection.connection_timeout = command_timeout;
            connection.internal_command_timeout = command_timeout;
        })
        .with_performance_config(|performance| {
            performance.default_command_timeout = command_timeout;
        })
        .set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2))
        .build()
        .map_err(|error| RedisConfigError(error.to_string()))?;
    // The handle is not awaited: the connection task lives as long as the client.
    drop(client.connect());
    Ok(client)
}

/// Readiness of Redis: one `PING`.
#[derive(Debug, Clone)]
pub struct RedisProbe {
    client: Client,
}

impl RedisProbe {
    /// A probe over a connected (or connecting) client.
    pub fn new(client: Client) -> Self {
        RedisProbe { client }
    }
}

#[async_trait]
impl ReadinessProbe for RedisProbe {
    fn component(&self) -> &'static str {
        "redis"
    }

    async fn check(&self) -> Result<(), ProbeError> {
        if !self.client.is_connected() {
            return Err(ProbeError::Unavailable("not connected".to_owned()));
        }
        self.client
            .ping::<String>(None)
            .await
            .map(drop)
            .map_err(|error| ProbeError::Unavailable(error.to_string()))
    }
}

/// Waits up to `timeout` for the client's first connection.
pub async fn wait_until_connected(client: &Client, timeout: Duration) -> Result<(), String> {
    match tokio::time::timeout(timeout, client.wait_for_connect()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no connection within {timeout:?}")),
    }
}

/// Whether `client` was given one node of a Redis Cluster as a plain Redis
/// (`redis://` instead of `redis-cluster://`): that node answers `MOVED` for every key
/// of the other shards, so their tenants' decisions would all be made in-process.
pub async fn names_one_node_of_a_cluster(client: &Client) -> Result<bool, String> {
    if client.is_clustered() {
        return Ok(false);
    }
    let info: String = client
        .info(Some(fred::types::InfoKind::Cluster))
        .await
        .map_err(|error| error.to_string())?;
    Ok(info.lines().any(|line| line.trim() == "cluster_enabled:1"))
}
