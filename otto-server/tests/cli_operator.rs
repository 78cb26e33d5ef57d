//! Operator commands of the binary against a SQLite database: `jobs list|retry|
//! cancel` and `callrail sync` (against a stub of CallRail's API).

use std::process::{Command, Output};
use std::sync::Arc;

use otto_adapters::store::SqlStore;
use otto_adapters::system::UuidV7Ids;
use otto_core::jobs::{Finish, JobKind, NewJob};
use otto_core::ports::{CallRepository, JobQueue};
use otto_core::tenancy::{TenantId, TenantScope};
use serde_json::json;
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn otto(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_otto-server"));
    command.args(args).env_clear();
    if let Ok(path) = std::env::var("PATH") {
        command.env("PATH", path);
    }
    command.envs(env.iter().copied());
    command.output().expect("otto-server runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

async fn store(url: &str) -> SqlStore {
    let connection = otto_adapters::database::connect(url, &Default::default())
        .await
        .expect("connects");
    otto_adapters::database::migrate_up(&connection)
        .await
        .expect("migrates");
    SqlStore::new(connection, Arc::new(UuidV7Ids))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_list_retry_and_cancel_jobs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/otto.db", dir.path().display());
    let store = store(&url).await;
    let now = chrono::Utc::now();
    let id = store
        .enqueue(
            NewJob {
                kind: JobKind::Transcription,
                tenant_id: Some(TenantId::parse("org_ops").expect("valid")),
                unique_key: "transcription:org_ops:twilio:RE1".into(),
                payload: json!({}),
                run_at: now,
                trace_context: None,
            },
            now,
        )
        .await
        .expect("enqueues")
        .id();
    let leased = store
        .lease(
            &[JobKind::Transcription],
            now,
            std::time::Duration::from_secs(60),
            1,
        )
        .await
        .expect("leases")
        .pop()
        .expect("leased");
    store
        .finish(
            &leased,
            Finish::Dead {
                error: "deepgram refused the audio".into(),
            },
            now,
        )
        .await
        .expect("finishes");
    let env = [("DATABASE_URL", url.as_str())];
    let id_text = id.to_string();

    let dead = otto(&["jobs", "list", "--status", "dead"], &env);
    assert_eq!(dead.status.code(), Some(0), "{}", stderr(&dead));
    let listed = stdout(&dead);
    assert!(listed.contains(&id_text), "{listed}");
    assert!(listed.contains("deepgram refused the audio"), "{listed}");

    let retried = otto(&["jobs", "retry", &id_text], &env);
    assert_eq!(retried.status.code(), Some(0), "{}", stderr(&retried));
    assert!(stdout(&retried).contains("queued again"));
    let again = otto(&["jobs", "retry", &id_text], &env);
    assert_ne!(again.status.code(), Some(0));
    assert!(stderr(&again).contains("is queued"), "{}", stderr(&again));

    let cancelled = otto(&["jobs", "cancel", &id_text], &env);
    assert_eq!(cancelled.status.code(), Some(0), "{}", stderr(&cancelled));
    let queued = stdout(&otto(&["jobs", "list", "--status", "queued"], &env));
    assert!(!queued.contains(&id_text), "cancelled jobs are not queued");

    for bad in [
        vec!["jobs", "retry", "not-a-uuid"],
        vec!["jobs", "list", "--status", "exploded"],
    ] {
        let refused = otto(&bad, &env);
        assert_ne!(refused.status.code(), Some(0), "{bad:?}");
        assert!(!stderr(&refused).is_empty(), "{bad:?} says why");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callrail_sync_copies_a_companys_calls_into_the_tenant() {
    let server = MockServer::start().await;
    let calls: Vec<serde_json::Value> = (0..3)
        .map(|n| {
            json!({
                "id": 700 + n, "answered": true, "direction": "inbound",
                "customer_phone_number": "+12148654559", "duration": 30,
                "start_time": format!("2026-11-26T09:0{n}:00-05:00"),
            })
        })
        .collect();
    Mock::given(method("GET"))
        .and(path("/v3/a/ACC1/calls.json"))
        .and(query_param("company_id", "COM1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "page": 1, "per_page": 100, "total_pages": 1, "total_records": 3, "calls": calls,
        })))
        .mount(&server)
        .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/otto.db", dir.path().display());
    let store = store(&url).await;
    let base = server.uri();
    let env = [
        ("DATABASE_URL", url.as_str()),
        ("CALLRAIL_API_KEY", "callrail-cli-key"),
        ("CALLRAIL_ACCOUNT_ID", "ACC1"),
        ("CALLRAIL_BASE_URL", base.as_str()),
    ];
    let unlinked = otto(&["callrail", "sync", "--tenant", "org_cr"], &env);
    assert_ne!(unlinked.status.code(), Some(0));
    assert!(stderr(&unlinked).contains("no CallRail company is linked"));

    for _ in 0..2 {
        let synced = otto(
            &[
                "callrail",
                "sync",
                "--tenant",
                "org_cr",
                "--company",
                "COM1",
            ],
            &env,
        );
        assert_eq!(synced.status.code(), Some(0), "{}", stderr(&synced));
        assert!(stdout(&synced).contains("company COM1: 3 call(s) from 1 page(s)"));
    }
    let scope = TenantScope::for_job(TenantId::parse("org_cr").expect("valid"));
    let page = store
        .list(&scope, &otto_core::calls::CallFilter::default(), None, 10)
        .await
        .expect("lists");
    assert_eq!(page.items.len(), 3, "each call once");

    let unconfigured = otto(
        &["callrail", "sync", "--tenant", "org_cr"],
        &[("DATABASE_URL", url.as_str())],
    );
    assert!(stderr(&unconfigured).contains("CALLRAIL_API_KEY"));
}
