//! Rate-limiter benchmark: decisions per second and latency of the in-process and
//! Redis limiters, and Redis commands per decision from `INFO commandstats`.
//!
//! `make bench` runs it (release build). Figures, not assertions. Redis is taken from
//! OTTO_BENCH_REDIS_URL (default `redis://127.0.0.1:6379`); its command statistics are
//! reset, so point it at a Redis that nothing else is using.

#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use fred::prelude::ClientLike;
use otto_adapters::rate_limit::{InProcessLimiter, RedisLimiter};
use otto_adapters::redis as redis_adapter;
use otto_adapters::system::SystemClock;
use otto_core::rate_limit::{BucketKeys, Quotas, RateLimiter};

const CONCURRENCY: usize = 32;
const DECISIONS_PER_TASK: usize = 2_000;

struct Figures {
    decisions: usize,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

async fn measure(limiter: Arc<dyn RateLimiter>, tenants: usize) -> Figures {
    let quotas = Quotas {
        user: "1000000/second".parse().expect("rate"),
        tenant: "1000000/second".parse().expect("rate"),
    };
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..CONCURRENCY {
        let limiter = limiter.clone();
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(DECISIONS_PER_TASK);
            for n in 0..DECISIONS_PER_TASK {
                let keys = BucketKeys {
                    user: format!("tenant:{{bench{}}}:user:u{task}", n % tenants),
                    tenant: format!("tenant:{{bench{}}}", n % tenants),
                };
                let began = Instant::now();
                limiter.check(&keys, &quotas).await.expect("decision");
                latencies.push(began.elapsed());
            }
            latencies
        });
    }
    let mut latencies = Vec::new();
    while let Some(task) = tasks.join_next().await {
        latencies.extend(task.expect("task"));
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    Figures {
        decisions: latencies.len(),
        elapsed,
        p50: at(0.50),
        p99: at(0.99),
    }
}

fn row(name: &str, figures: &Figures, extra: &str) {
    println!(
        "| {name} | {} | {:.0} | {:.1} | {:.1} | {extra} |",
        figures.decisions,
        figures.decisions as f64 / figures.elapsed.as_secs_f64(),
        figures.p50.as_secs_f64() * 1e6,
        figures.p99.as_secs_f64() * 1e6,
    );
}

fn calls(info: &str, command: &str) -> u64 {
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("cmdstat_{command}:calls=")))
        .and_then(|rest| rest.split(',').next())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    println!(
        "### Rate limiter ({CONCURRENCY} concurrent tasks × {DECISIONS_PER_TASK} decisions)\n"
    );
    println!(
        "| limiter | decisions | decisions/s | p50 µs | p99 µs | Redis commands per decision |"
    );
    println!("|---|---|---|---|---|---|");
    let in_process: Arc<dyn RateLimiter> =
        Arc::new(InProcessLimiter::new(100_000, Arc::new(SystemClock)));
    // Warm-up run, discarded.
    measure(in_process.clone(), 100).await;
    row("in-process", &measure(in_process, 100).await, "—");

    let url = std::env::var("OTTO_BENCH_REDIS_URL")
        .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let client = redis_adapter::connect(&url, Duration::from_secs(2)).expect("valid Redis URL");
    if let Err(error) = redis_adapter::wait_until_connected(&client, Duration::from_secs(3)).await {
        println!("| redis | — | — | — | — | Redis unreachable at {url}: {error} |");
        return;
    }
    let limiter = Arc::new(RedisLimiter::new(
        client.clone(),
        "otto-bench:rl:",
        Arc::new(SystemClock),
    ));
    limiter.load_script().await.expect("script loads");
    measure(limiter.clone(), 100).await;
    let reset = fred::types::CustomCommand::new_static("CONFIG", None, false);
    let _: String = client
        .custom(reset, vec!["RESETSTAT".to_owned()])
        .await
        .expect("CONFIG RESETSTAT");
    let figures = measure(limiter, 100).await;
    let info: String = client
        .info(Some(fred::types::InfoKind::CommandStats))
        .await
        .expect("INFO");
    let evalsha = calls(&info, "evalsha");
    let per_decision = evalsha as f64 / figures.decisions as f64;
    let inside = (calls(&info, "get") + calls(&info, "set")) as f64 / figures.decisions as f64;
    row(
        "redis (EVALSHA)",
        &figures,
        &format!("{per_decision:.2} round trip (EVALSHA); {inside:.1} GET/SET inside the script"),
    );
}
