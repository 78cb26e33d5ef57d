//! The real readiness probes honour the same contract as the fake.

use std::time::Duration;

use otto_adapters::database::{self, DatabaseProbe, PoolSettings};
use otto_adapters::redis::{self as redis_adapter, RedisProbe};
use otto_adapters::test_support::{self, TestDatabase};
use otto_testkit::contracts;

#[tokio::test]
async fn sqlite_probe_honours_the_readiness_contract() {
    let connection = database::connect("sqlite::memory:", &PoolSettings::default())
        .await
        .expect("opens");
    let probe = DatabaseProbe::new(connection.clone());
    contracts::readiness_probe_of_reachable_dependency(&probe).await;
    connection.close_by_ref().await.expect("close");
    contracts::readiness_probe_of_unreachable_dependency(&probe).await;
}

#[tokio::test]
async fn postgres_probe_honours_the_readiness_contract() {
    let Some(test_database) = TestDatabase::create().await else {
        return;
    };
    let connection = database::connect(&test_database.url, &PoolSettings::default())
        .await
        .expect("opens");
    let probe = DatabaseProbe::new(connection.clone());
    contracts::readiness_probe_of_reachable_dependency(&probe).await;
    connection.close_by_ref().await.expect("close");
    contracts::readiness_probe_of_unreachable_dependency(&probe).await;
    test_database.drop_database().await;
}

#[tokio::test]
async fn redis_probe_honours_the_readiness_contract() {
    let client = redis_adapter::connect(&test_support::redis_url(), Duration::from_secs(2))
        .expect("valid url");
    if let Err(error) = redis_adapter::wait_until_connected(&client, Duration::from_secs(3)).await {
        test_support::service_unavailable("Redis", &error);
        return;
    }
    contracts::readiness_probe_of_reachable_dependency(&RedisProbe::new(client)).await;
}

#[tokio::test]
async fn redis_probe_of_a_closed_port_reports_unavailable() {
    // Port 1 on loopback: nothing listens there, so the connection is refused.
    let client = redis_adapter::connect("redis://127.0.0.1:1", Duration::from_millis(200))
        .expect("valid url");
    contracts::readiness_probe_of_unreachable_dependency(&RedisProbe::new(client)).await;
}
