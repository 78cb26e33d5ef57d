//! Rate limits on a real Redis Cluster: three masters and three replicas started on
//! loopback by the test itself (`redis-server --cluster-enabled yes`, then
//! `redis-cli --cluster create`), reached with a `redis-cluster://` URL as
//! REDIS_URL would give it. A decision is one EVALSHA on the shard that owns the
//! tenant's hash tag, two processes together allow exactly the limit, and losing the
//! tenant's master degrades decisions as a Redis outage does (in-process, marked
//! degraded) without failing one, until the replica has taken over.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use otto_adapters::rate_limit::{InProcessLimiter, RedisLimiter, ResilientLimiter};
use otto_adapters::redis as redis_adapter;
use otto_adapters::test_support;
use otto_core::rate_limit::{Quotas, RateLimiter};
use otto_testkit::ManualClock;
use otto_testkit::contracts::bucket_keys;

/// How long a node may be unreachable before the cluster fails it over: short where
/// the test kills a master, long elsewhere, so a node slowed by a busy machine is not
/// failed over by mistake (the tests of this file also run one at a time:
/// `.config/nextest.toml`).
const FAILOVER_NODE_TIMEOUT_MS: u64 = 1_000;
const STEADY_NODE_TIMEOUT_MS: u64 = 5_000;

/// Six redis-server processes in cluster mode, stopped on drop.
struct LocalCluster {
    nodes: Vec<(u16, Child)>,
    _dir: tempfile::TempDir,
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for (_, child) in &mut self.nodes {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A port that is free, whose cluster bus port (+10000) is free too, and that neither
/// is one of `taken` nor `taken`'s bus ports.
fn free_port_pair(taken: &[u16]) -> u16 {
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let clashes = taken.iter().any(|other| {
            [*other, other + 10_000].contains(&port)
                || [*other, other + 10_000].contains(&(port + 10_000))
        });
        if port < 55_000 && !clashes && TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

fn redis_cli(port: u16, args: &[&str]) -> String {
    let output = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

impl LocalCluster {
    /// Starts the nodes and forms the cluster; `None` (a skip, or a failure in CI)
    /// when redis-server is not installed.
    fn start(node_timeout_ms: u64) -> Option<Self> {
        if let Err(error) = Command::new("redis-server").arg("--version").output() {
            test_support::service_unavailable("redis-server", &error.to_string());
            return None;
        }
        // Every node joins `cluster` as soon as it is spawned, so a panic on the way
        // stops those already started.
        let mut cluster = LocalCluster {
            nodes: Vec::new(),
            _dir: tempfile::tempdir().expect("temp dir"),
        };
        for _ in 0..6 {
            let port = free_port_pair(&cluster.ports());
            let node_dir = cluster._dir.path().join(port.to_string());
            std::fs::create_dir_all(&node_dir).expect("node dir");
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--cluster-enabled", "yes"])
                .args(["--cluster-node-timeout", &node_timeout_ms.to_string()])
                .args(["--save", "", "--appendonly", "no"])
                // A replica syncs at once (the default waits 5 s for more replicas):
                // a replica that never synced refuses to take over from its master.
                .args(["--repl-diskless-sync-delay", "0"])
                .arg("--dir")
                .arg(&node_dir)
                .stdout(Stdio::null())
                .spawn()
                .expect("redis-server starts");
            cluster.nodes.push((port, child));
        }
        for port in cluster.ports() {
            wait_for(Duration::from_secs(10), || {
                redis_cli(port, &["PING"]).trim() == "PONG"
            });
        }
        let addresses: Vec<String> = cluster
            .ports()
            .iter()
            .map(|port| format!("127.0.0.1:{port}"))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .expect("redis-cli --cluster create runs");
        assert!(
            created.status.success(),
            "cluster created: {}",
            String::from_utf8_lossy(&created.stdout)
        );
        for port in cluster.ports() {
            wait_for(Duration::from_secs(20), || {
                redis_cli(port, &["CLUSTER", "INFO"]).contains("cluster_state:ok")
            });
            wait_for(Duration::from_secs(20), || {
                let replication = redis_cli(port, &["INFO", "replication"]);
                replication.contains("role:master") || replication.contains("master_link_status:up")
            });
        }
        Some(cluster)
    }

    fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|(port, _)| *port).collect()
    }

    /// REDIS_URL for the cluster: one seed node, the others as `node=` hints.
    fn url(&self) -> String {
        let ports = self.ports();
        let others: Vec<String> = ports[1..]
            .iter()
            .map(|port| format!("node=127.0.0.1:{port}"))
            .collect();
        format!(
            "redis-cluster://127.0.0.1:{}?{}",
            ports[0],
            others.join("&")
        )
    }

    /// `args` answered by the first node that answers (a killed node does not).
    fn ask(&self, args: &[&str]) -> String {
        self.ports()
            .into_iter()
            .map(|port| redis_cli(port, args))
            .find(|answer| !answer.trim().is_empty())
            .unwrap_or_default()
    }

    /// The port of the master that owns `key`'s slot now, if one does.
    fn master_of(&self, key: &str) -> Option<u16> {
        let slot: u16 = self.ask(&["CLUSTER", "KEYSLOT", key]).trim().parse().ok()?;
        self.ask(&["CLUSTER", "NODES"])
            .lines()
            .filter(|line| line.contains("master") && !line.contains("fail"))
            .find_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let owns = fields
                    .get(8..)?
                    .iter()
                    .any(|range| match range.split_once('-') {
                        Some((low, high)) => (low.parse::<u16>().unwrap_or(u16::MAX)
                            ..=high.parse().unwrap_or(0))
                            .contains(&slot),
                        None => range.parse::<u16>().ok() == Some(slot),
                    });
                let port = fields[1].split(['@', ':']).nth(1)?.parse().ok()?;
                owns.then_some(port)
            })
    }

    fn kill(&mut self, port: u16) {
        let (_, child) = self
            .nodes
            .iter_mut()
            .find(|(node, _)| *node == port)
            .expect("a node of the cluster");
        child.kill().expect("killed");
        child.wait().expect("reaped");
    }
}

fn wait_for(limit: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "not ready within {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn evalsha_calls(port: u16) -> i64 {
    redis_cli(port, &["INFO", "commandstats"])
        .lines()
        .find_map(|line| line.strip_prefix("cmdstat_evalsha:calls="))
        .and_then(|rest| rest.split(',').next())
        .and_then(|calls| calls.trim().parse().ok())
        .unwrap_or(0)
}

async fn cluster_client(cluster: &LocalCluster) -> fred::prelude::Client {
    let client = redis_adapter::connect(&cluster.url(), Duration::from_secs(2))
        .expect("a redis-cluster:// URL is accepted");
    redis_adapter::wait_until_connected(&client, Duration::from_secs(10))
        .await
        .expect("connects to the cluster");
    client
}

fn quotas() -> Quotas {
    Quotas {
        user: "50/minute".parse().expect("rate"),
        tenant: "1000/minute".parse().expect("rate"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_a_decision_is_one_evalsha_on_the_tenants_shard_and_exact_across_processes() {
    let Some(cluster) = LocalCluster::start(STEADY_NODE_TIMEOUT_MS) else {
        return;
    };
    let clock = Arc::new(ManualClock::at("2026-11-25T12:00:00Z"));
    let prefix = "otto-test:rl:";
    // Two processes: two clients, two limiters, one cluster.
    let mut limiters: Vec<Arc<dyn RateLimiter>> = Vec::new();
    for _ in 0..2 {
        let limiter = RedisLimiter::new(cluster_client(&cluster).await, prefix, clock.clone());
        limiter.load_script().await.expect("script loaded");
        limiters.push(Arc::new(limiter));
    }
    let keys = bucket_keys("org_cluster", "user_1");
    let (user_key, tenant_key) = (
        format!("{prefix}{}", keys.user),
        format!("{prefix}{}", keys.tenant),
    );
    let slot = |key: &str| cluster.ask(&["CLUSTER", "KEYSLOT", key]);
    assert_eq!(
        slot(&user_key),
        slot(&tenant_key),
        "user and tenant share a slot"
    );
    let owner = cluster
        .master_of(&tenant_key)
        .expect("a master owns the slot");
    for port in cluster.ports() {
        redis_cli(port, &["CONFIG", "RESETSTAT"]);
    }

    let mut decisions = tokio::task::JoinSet::new();
    for decision in 0..200 {
        let (limiter, keys) = (limiters[decision % 2].clone(), keys.clone());
        decisions.spawn(async move { limiter.check(&keys, &quotas()).await });
    }
    let mut allowed = 0;
    while let Some(decided) = decisions.join_next().await {
        let decision = decided.expect("task").expect("decided by the cluster");
        assert!(!decision.degraded, "decided by Redis, not in-process");
        allowed += usize::from(decision.allowed);
    }
    assert_eq!(allowed, 50, "exactly the limit across both processes");

    let per_node: Vec<(u16, i64)> = cluster
        .ports()
        .into_iter()
        .map(|port| (port, evalsha_calls(port)))
        .collect();
    let total: i64 = per_node.iter().map(|(_, calls)| calls).sum();
    assert_eq!(total, 200, "one EVALSHA per decision: {per_node:?}");
    assert!(
        per_node
            .iter()
            .all(|(port, calls)| *calls == 0 || *port == owner),
        "every EVALSHA ran on the shard of the tenant's slot ({owner}): {per_node:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_tenants_master_degrades_decisions_until_its_replica_takes_over() {
    let Some(mut cluster) = LocalCluster::start(FAILOVER_NODE_TIMEOUT_MS) else {
        return;
    };
    let clock = Arc::new(ManualClock::at("2026-11-25T12:00:00Z"));
    let primary = RedisLimiter::new(
        cluster_client(&cluster).await,
        "otto-test:rl:",
        clock.clone(),
    );
    let limiter = ResilientLimiter::new(
        primary,
        InProcessLimiter::new(10_000, clock.clone()),
        Duration::from_millis(50),
    );
    let keys = bucket_keys("org_failover", "user_1");
    let quotas = Quotas {
        user: "100000/minute".parse().expect("rate"),
        tenant: "100000/minute".parse().expect("rate"),
    };
    let before = limiter.check(&keys, &quotas).await.expect("decides");
    assert!(!before.degraded, "the cluster decides while it is whole");

    let owner = cluster
        .master_of(&format!("otto-test:rl:{}", keys.tenant))
        .expect("a master owns the slot");
    cluster.kill(owner);
    let killed_at = Instant::now();
    let (mut degraded, mut decided) = (0, 0);
    let mut recovered_after = None;
    while killed_at.elapsed() < Duration::from_secs(30) {
        let decision = limiter
            .check(&keys, &quotas)
            .await
            .expect("a decision never fails, whatever the cluster is doing");
        decided += 1;
        if decision.degraded {
            degraded += 1;
        } else if degraded > 0 {
            recovered_after = Some(killed_at.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        degraded > 0,
        "losing the master is an outage for its slots ({decided} decisions)"
    );
    let recovered_after = recovered_after.unwrap_or_else(|| {
        panic!("decisions return to the cluster once the replica is master ({degraded} of {decided} degraded)")
    });
    println!(
        "master killed: {degraded} of {decided} decisions degraded, back on the cluster after {recovered_after:?}"
    );
}

/// A `redis://` URL naming one node of a cluster reaches only that node's shard: the
/// other shards' tenants get `MOVED`, so their decisions would all be in-process. It
/// is recognised (the server logs it at start) and a cluster URL or a lone Redis is
/// not mistaken for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_url_to_one_node_of_a_cluster_is_recognised() {
    let Some(cluster) = LocalCluster::start(STEADY_NODE_TIMEOUT_MS) else {
        return;
    };
    let seed = cluster.ports()[0];
    let single =
        redis_adapter::connect(&format!("redis://127.0.0.1:{seed}"), Duration::from_secs(2))
            .expect("valid url");
    redis_adapter::wait_until_connected(&single, Duration::from_secs(5))
        .await
        .expect("connects to the node");
    assert_eq!(
        redis_adapter::names_one_node_of_a_cluster(&single).await,
        Ok(true)
    );
    assert_eq!(
        redis_adapter::names_one_node_of_a_cluster(&cluster_client(&cluster).await).await,
        Ok(false)
    );

    let clock = Arc::new(ManualClock::at("2026-11-25T12:00:00Z"));
    let limiter = RedisLimiter::new(single, "otto-test:rl:", clock);
    let elsewhere = (0..100)
        .map(|tenant| bucket_keys(&format!("org_shard{tenant}"), "user_1"))
        .find(|keys| cluster.master_of(&format!("otto-test:rl:{}", keys.tenant)) != Some(seed))
        .expect("a tenant on another shard");
    let refused = limiter.check(&elsewhere, &quotas()).await;
    assert!(
        matches!(&refused, Err(error) if error.0.contains("MOVED")),
        "another shard's tenant is refused with MOVED: {refused:?}"
    );

    let Some(lone) = test_support::connected_redis().await else {
        return;
    };
    assert_eq!(
        redis_adapter::names_one_node_of_a_cluster(&lone).await,
        Ok(false)
    );
}
