//! Rate limiters: the contract on the in-process and Redis adapters, atomicity under
//! concurrency, one round trip per decision, key expiry, and degradation.

use std::sync::Arc;
use std::time::Duration;

use fred::prelude::{ClientLike, KeysInterface, LuaInterface};
use otto_adapters::rate_limit::{InProcessLimiter, RedisLimiter, ResilientLimiter};
use otto_adapters::redis as redis_adapter;
use otto_adapters::test_support;
use otto_core::ports::Clock;
use otto_core::rate_limit::{Quotas, RateLimiter};
use otto_testkit::ManualClock;
use otto_testkit::contracts::{bucket_keys, rate_limiter_contract};

fn clock() -> ManualClock {
    ManualClock::at("2026-11-25T12:00:00Z")
}

fn fresh_tenant() -> String {
    format!("org_{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn the_in_process_limiter_honours_the_contract() {
    let clock = clock();
    let limiter = InProcessLimiter::new(10_000, Arc::new(clock.clone()));
    rate_limiter_contract(&limiter, &clock, &fresh_tenant()).await;
}

#[tokio::test]
async fn the_redis_limiter_honours_the_contract() {
    let Some(client) = test_support::connected_redis().await else {
        return;
    };
    let clock = clock();
    let limiter = RedisLimiter::new(client, "otto-test:rl:", Arc::new(clock.clone()));
    rate_limiter_contract(&limiter, &clock, &fresh_tenant()).await;
}

/// How many of 200 simultaneous decisions for one user (limit 50) are allowed.
async fn allowed_of_200_concurrent(limiter: Arc<dyn RateLimiter>) -> usize {
    let keys = bucket_keys(&fresh_tenant(), "user_1");
    let quotas = Quotas {
        user: "50/minute".parse().expect("rate"),
        tenant: "1000/minute".parse().expect("rate"),
    };
    let mut decisions = tokio::task::JoinSet::new();
    for _ in 0..200 {
        let (limiter, keys) = (limiter.clone(), keys.clone());
        decisions.spawn(async move {
            limiter
                .check(&keys, &quotas)
                .await
                .expect("decides")
                .allowed
        });
    }
    let mut allowed = 0;
    while let Some(result) = decisions.join_next().await {
        allowed += usize::from(result.expect("task"));
    }
    allowed
}

#[tokio::test]
async fn redis_allows_exactly_the_limit_under_concurrency() {
    let Some(client) = test_support::connected_redis().await else {
        return;
    };
    let limiter = Arc::new(RedisLimiter::new(
        client,
        "otto-test:rl:",
        Arc::new(clock()),
    ));
    assert_eq!(
        allowed_of_200_concurrent(limiter).await,
        50,
        "exactly the limit"
    );
}

#[tokio::test]
async fn the_in_process_limiter_allows_exactly_the_limit_under_concurrency() {
    let limiter = Arc::new(InProcessLimiter::new(10_000, Arc::new(clock())));
    assert_eq!(
        allowed_of_200_concurrent(limiter).await,
        50,
        "exactly the limit"
    );
}

/// A private redis-server on a free port, so that command statistics count only
/// this test's commands. Stopped on drop.
struct PrivateRedis {
    child: std::process::Child,
    url: String,
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn private_redis() -> Option<PrivateRedis> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    private_redis_on(port)
}

fn private_redis_on(port: u16) -> Option<PrivateRedis> {
    let spawned = std::process::Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(std::process::Stdio::null())
        .spawn();
    match spawned {
        Ok(child) => {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            Some(PrivateRedis {
                child,
                url: format!("redis://127.0.0.1:{port}"),
            })
        }
        Err(error) => {
            test_support::service_unavailable("redis-server", &error.to_string());
            None
        }
    }
}

fn stat(info: &str, command: &str) -> i64 {
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("cmdstat_{command}:calls=")))
        .and_then(|rest| rest.split(',').next())
        .and_then(|calls| calls.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_redis_decision_is_one_evalsha_and_survives_a_script_flush() {
    let Some(server) = private_redis() else {
        return;
    };
    let client = redis_adapter::connect(&server.url, Duration::from_secs(2)).expect("client");
    redis_adapter::wait_until_connected(&client, Duration::from_secs(10))
        .await
        .expect("private redis starts");
    let limiter = RedisLimiter::new(client.clone(), "otto-test:rl:", Arc::new(clock()));
    let keys = bucket_keys(&fresh_tenant(), "user_1");
    let quotas = Quotas {
        user: "100/minute".parse().expect("rate"),
        tenant: "1000/minute".parse().expect("rate"),
    };
    let _: () = client.script_flush(false).await.expect("flush");
    assert!(
        limiter
            .check(&keys, &quotas)
            .await
            .expect("reloads after NOSCRIPT")
            .allowed
    );
    let reset = fred::types::CustomCommand::new_static("CONFIG", None, false);
    let _: String = client
        .custom(reset, vec!["RESETSTAT".to_owned()])
        .await
        .expect("resetstat");
    for _ in 0..10 {
        limiter.check(&keys, &quotas).await.expect("decides");
    }
    let info: String = client
        .info(Some(fred::types::InfoKind::CommandStats))
        .await
        .expect("info");
    assert_eq!(
        stat(&info, "evalsha"),
        10,
        "one EVALSHA per decision:\n{info}"
    );
    for other in ["eval", "script|load", "multi", "exec"] {
        assert_eq!(stat(&info, other), 0, "no {other}:\n{info}");
    }
}

#[tokio::test]
async fn redis_bucket_keys_expire_when_idle() {
    let Some(client) = test_support::connected_redis().await else {
        return;
    };
    let limiter = RedisLimiter::new(client.clone(), "otto-test:rl:", Arc::new(clock()));
    let keys = bucket_keys(&fresh_tenant(), "user_1");
    let quotas = Quotas {
        user: "60/minute".parse().expect("rate"),
        tenant: "600/minute".parse().expect("rate"),
    };
    limiter.check(&keys, &quotas).await.expect("decides");
    let user_ttl: i64 = client
        .pttl(format!("otto-test:rl:{}", keys.user))
        .await
        .expect("pttl");
    let tenant_ttl: i64 = client
        .pttl(format!("otto-test:rl:{}", keys.tenant))
        .await
        .expect("pttl");
    assert!(
        (1..=1_000).contains(&user_ttl),
        "the user key lives one interval (1 s): {user_ttl}"
    );
    assert!(
        (1..=100).contains(&tenant_ttl),
        "the tenant key lives one interval (100 ms): {tenant_ttl}"
    );
}

#[tokio::test]
async fn without_redis_the_resilient_limiter_decides_in_process() {
    let clock = clock();
    let closed =
        redis_adapter::connect("redis://127.0.0.1:1", Duration::from_millis(100)).expect("client");
    let limiter = ResilientLimiter::new(
        RedisLimiter::new(closed, "otto-test:rl:", Arc::new(clock.clone())),
        InProcessLimiter::new(1_000, Arc::new(clock.clone())),
        Duration::from_millis(50),
    );
    let keys = bucket_keys(&fresh_tenant(), "user_1");
    let quotas = Quotas {
        user: "2/minute".parse().expect("rate"),
        tenant: "10/minute".parse().expect("rate"),
    };
    let first = limiter.check(&keys, &quotas).await.expect("never fails");
    assert!(first.allowed && first.degraded);
    assert!(
        limiter
            .check(&keys, &quotas)
            .await
            .expect("decides")
            .allowed
    );
    let third = limiter.check(&keys, &quotas).await.expect("decides");
    assert!(!third.allowed, "the fallback still limits");
}

#[tokio::test]
async fn with_redis_the_resilient_limiter_is_not_degraded() {
    let Some(client) = test_support::connected_redis().await else {
        return;
    };
    let clock = clock();
    let limiter = ResilientLimiter::new(
        RedisLimiter::new(client, "otto-test:rl:", Arc::new(clock.clone())),
        InProcessLimiter::new(1_000, Arc::new(clock)),
        Duration::from_millis(50),
    );
    let decision = limiter
        .check(
            &bucket_keys(&fresh_tenant(), "u"),
            &Quotas {
                user: "5/minute".parse().expect("rate"),
                tenant: "5/minute".parse().expect("rate"),
            },
        )
        .await
        .expect("decides");
    assert!(decision.allowed && !decision.degraded);
}

#[test]
fn the_in_process_limiter_drops_idle_buckets() {
    let clock = clock();
    let limiter = InProcessLimiter::new(64, Arc::new(clock.clone()));
    let quotas = Quotas {
        user: "60/minute".parse().expect("rate"),
        tenant: "600/minute".parse().expect("rate"),
    };
    for n in 0..1_000 {
        let keys = bucket_keys(&format!("org_{n}"), "u");
        limiter.decide_at(clock.now().timestamp_micros(), &keys, &quotas);
    }
    assert!(
        limiter.len() <= 64 + 32 * 2,
        "bounded: {} buckets",
        limiter.len()
    );
    clock.advance(Duration::from_secs(2));
    limiter.sweep();
    assert!(limiter.is_empty(), "idle buckets are dropped");
}

#[tokio::test]
async fn the_resilient_limiter_returns_to_redis_when_it_recovers() {
    let Some(server) = private_redis() else {
        return;
    };
    let port: u16 = server
        .url
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .expect("port");
    let client = redis_adapter::connect(&server.url, Duration::from_millis(200)).expect("client");
    redis_adapter::wait_until_connected(&client, Duration::from_secs(10))
        .await
        .expect("connects");
    let clock = clock();
    let limiter = ResilientLimiter::new(
        RedisLimiter::new(client.clone(), "otto-test:rl:", Arc::new(clock.clone())),
        InProcessLimiter::new(1_000, Arc::new(clock)),
        Duration::from_millis(50),
    );
    let keys = bucket_keys(&fresh_tenant(), "user_1");
    let quotas = Quotas {
        user: "1000/minute".parse().expect("rate"),
        tenant: "1000/minute".parse().expect("rate"),
    };
    assert!(
        !limiter
            .check(&keys, &quotas)
            .await
            .expect("decides")
            .degraded,
        "Redis decides while up"
    );

    drop(server);
    let mut degraded = false;
    for _ in 0..50 {
        let decision = limiter
            .check(&keys, &quotas)
            .await
            .expect("never fails while Redis is down");
        assert!(decision.allowed);
        if decision.degraded {
            degraded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(degraded, "decisions move in-process once Redis is gone");

    let _restarted = private_redis_on(port).expect("redis restarts on the same port");
    let mut recovered = false;
    for _ in 0..300 {
        if !limiter
            .check(&keys, &quotas)
            .await
            .expect("decides")
            .degraded
        {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(recovered, "decisions return to Redis by themselves");
}
