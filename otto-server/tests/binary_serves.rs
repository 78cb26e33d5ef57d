//! The real binary on a real socket: the embedded default starts with no
//! configuration, serves, logs JSON lines, and stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    port: u16,
    /// The operators' listener (OTTO_METRICS_ADDR).
    metrics_port: u16,
    data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn start() -> Server {
    start_with(&[])
}

fn start_with(env: &[(&str, &str)]) -> Server {
    let data = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let metrics_port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_otto-server"))
        .current_dir(data.path())
        .env_clear()
        .env("PORT", port.to_string())
        .env("OTTO_METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))
        .env("OTEL_TRACES_EXPORTER", "none")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("otto-server starts");
    let server = Server {
        child,
        port,
        metrics_port,
        data,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "otto-server did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

/// Sends one raw HTTP/1.1 request and returns (status line, headers, body).
fn request(port: u16, head: &str) -> (String, String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        stream,
        "{head}\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("head and body");
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    (
        status.to_owned(),
        headers.to_ascii_lowercase(),
        body.to_owned(),
    )
}

#[test]
fn metrics_are_served_on_the_operators_listener_only_and_its_token_is_required() {
    let token = "metrics-token-0123456789abcdef"; // pragma: allowlist secret
    let server = start_with(&[("OTTO_METRICS_TOKEN", token)]);
    let (status, headers, body) = request(server.port, "GET /metrics HTTP/1.1");
    assert!(
        status.contains("404"),
        "the public port has no /metrics: {status}"
    );
    assert!(headers.contains("application/problem+json"), "{headers}");
    assert!(!body.contains("tenant_id"), "{body}");

    let (status, headers, _) = request(server.metrics_port, "GET /metrics HTTP/1.1");
    assert!(status.contains("401"), "no token: {status}");
    assert!(headers.contains("www-authenticate: bearer"), "{headers}");
    let (status, _, _) = request(
        server.metrics_port,
        "GET /metrics HTTP/1.1\r\nAuthorization: Bearer metrics-token-0123456789abcdeX",
    );
    assert!(status.contains("401"), "a wrong token: {status}");
    let (status, headers, body) = request(
        server.metrics_port,
        &format!("GET /metrics HTTP/1.1\r\nAuthorization: Bearer {token}"),
    );
    assert!(status.contains("200"), "{status}");
    assert!(
        headers.contains("application/openmetrics-text"),
        "{headers}"
    );
    assert!(body.contains("# TYPE http_requests counter"), "{body}");
    assert!(body.trim_end().ends_with("# EOF"), "{body}");
    let (status, _, body) = request(server.metrics_port, "GET /health HTTP/1.1");
    assert!(status.contains("200"), "probes need no token: {status}");
    assert!(body.contains("\"healthy\""), "{body}");
}

#[test]
fn the_embedded_default_serves_and_stops_cleanly() {
    let mut server = start();
    let (status, headers, body) =
        request(server.port, "GET /health HTTP/1.1\r\nX-Request-Id: e2e-1");
    assert!(status.contains("200"), "{status}");
    assert!(headers.contains("x-request-id: e2e-1"), "{headers}");
    assert!(body.contains("\"trace_id\":\"e2e-1\""), "{body}");

    let (status, _, body) = request(server.port, "GET /ready HTTP/1.1");
    assert!(status.contains("200"), "{status} {body}");
    assert!(body.contains("\"redis\":\"not_configured\""), "{body}");

    let preflight = "OPTIONS /health HTTP/1.1\r\nOrigin: http://localhost:3000\r\nAccess-Control-Request-Method: GET";
    let (status, headers, _) = request(server.port, preflight);
    assert!(
        status.contains("204"),
        "the development default allows a local frontend: {status}"
    );
    assert!(
        headers.contains("access-control-allow-origin: http://localhost:3000"),
        "{headers}"
    );

    let (status, headers, body) = request(server.port, "GET /nope HTTP/1.1");
    assert!(status.contains("404"), "{status}");
    assert!(
        headers.contains("content-type: application/problem+json"),
        "{headers}"
    );
    assert!(body.contains("\"instance\":\"/nope\""), "{body}");

    // SIGTERM: graceful stop with exit code 0.
    let terminated = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(terminated.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "otto-server did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));

    let stdout = BufReader::new(server.child.stdout.take().expect("stdout"));
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| {
            serde_json::from_str(&line.expect("line"))
                .expect("every stdout line is one JSON object")
        })
        .collect();
    assert!(lines.iter().any(|line| {
        line["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("twilio: not configured"))
    }));
    let access: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|line| line["message"] == "request completed")
        .collect();
    // The successful probes (GET /health, GET /ready) log at DEBUG, below the default
    // LOG_LEVEL; the preflight and the 404 are logged.
    let routes: Vec<&str> = access
        .iter()
        .filter_map(|line| line["path"].as_str())
        .collect();
    assert_eq!(routes, ["/health", "/nope"], "{access:?}");
    assert_eq!(access[0]["method"], "OPTIONS");
}

/// Runs an `otto-server` command in `dir` with no other configuration.
fn otto_in(dir: &std::path::Path, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_otto-server"))
        .current_dir(dir)
        .env_clear()
        .args(args)
        .output()
        .expect("otto-server runs");
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

#[test]
fn a_token_issued_by_the_cli_authenticates_against_the_embedded_default() {
    let server = start();
    let token = otto_in(
        server.data.path(),
        &[
            "token",
            "issue",
            "--tenant",
            "org_demo",
            "--user",
            "user_demo",
            "--role",
            "admin",
        ],
    );
    let (status, _, body) = request(
        server.port,
        &format!("GET /api/v1/me HTTP/1.1\r\nAuthorization: Bearer {token}"),
    );
    assert!(status.contains("200"), "{status} {body}");
    assert!(
        body.contains("\"tenant_id\":\"org_demo\"")
            && body.contains("\"credential\":\"api_token\""),
        "{body}"
    );

    let read_only = otto_in(
        server.data.path(),
        &[
            "token",
            "attenuate",
            "--read-only",
            "--expires-in",
            "10m",
            &token,
        ],
    );
    let (status, _, _) = request(
        server.port,
        &format!("GET /api/v1/me HTTP/1.1\r\nAuthorization: Bearer {read_only}"),
    );
    assert!(
        status.contains("200"),
        "a read-only token still reads: {status}"
    );

    let (status, headers, body) = request(server.port, "GET /api/v1/me HTTP/1.1");
    assert!(status.contains("403"), "{status}");
    assert!(headers.contains("www-authenticate: bearer"), "{headers}");
    assert!(body.contains("/problems/missing_token"), "{body}");
}

#[test]
fn keygen_prints_a_key_that_issue_accepts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let printed = otto_in(dir.path(), &["token", "keygen"]);
    let private_key = printed
        .lines()
        .find_map(|line| line.strip_prefix("OTTO_BISCUIT_PRIVATE_KEY="))
        .expect("the private key line");
    assert!(private_key.starts_with("ed25519-private/"), "{printed}");
    assert!(printed.contains("# public key: ed25519/"), "{printed}");
    let output = Command::new(env!("CARGO_BIN_EXE_otto-server"))
        .current_dir(dir.path())
        .env_clear()
        .env("OTTO_BISCUIT_PRIVATE_KEY", private_key)
        .args([
            "token", "issue", "--tenant", "org_1", "--user", "user_1", "--ttl", "15m",
        ])
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !dir.path().join("data/api-token.key").exists(),
        "an explicit key needs no development key file"
    );
    let bad_ttl = Command::new(env!("CARGO_BIN_EXE_otto-server"))
        .current_dir(dir.path())
        .env_clear()
        .args([
            "token", "issue", "--tenant", "org_1", "--user", "user_1", "--ttl", "forever",
        ])
        .output()
        .expect("runs");
    assert_eq!(bad_ttl.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad_ttl.stderr).contains("forever"));
}

/// A lifetime that parses but ends past the last representable date is an error
/// that names it, for issuing and for attenuating, never a crash.
#[test]
fn a_token_lifetime_beyond_the_calendar_is_refused_not_a_crash() {
    let dir = tempfile::tempdir().expect("temp dir");
    let token = otto_in(
        dir.path(),
        &["token", "issue", "--tenant", "org_1", "--user", "user_1"],
    );
    for args in [
        vec![
            "token",
            "issue",
            "--tenant",
            "org_1",
            "--user",
            "user_1",
            "--ttl",
            "100000000d",
        ],
        vec![
            "token",
            "attenuate",
            token.trim(),
            "--expires-in",
            "100000000d",
        ],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_otto-server"))
            .current_dir(dir.path())
            .env_clear()
            .args(&args)
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains("beyond the calendar"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[tokio::test]
async fn on_postgres_the_server_serves_tenant_routes_through_row_level_security() {
    let Some(database) = otto_adapters::test_support::TestDatabase::create().await else {
        return;
    };
    let server = start_with(&[("DATABASE_URL", database.url.as_str())]);
    let token = otto_in(
        server.data.path(),
        &["token", "issue", "--tenant", "org_pg", "--user", "user_pg"],
    );
    for path in ["/api/v1/calls", "/api/v1/company"] {
        let (status, _, body) = request(
            server.port,
            &format!("GET {path} HTTP/1.1\r\nAuthorization: Bearer {token}"),
        );
        assert!(status.contains("200"), "{path}: {status} {body}");
    }
    let (_, _, body) = request(
        server.port,
        &format!("GET /api/v1/calls HTTP/1.1\r\nAuthorization: Bearer {token}"),
    );
    assert!(body.contains("\"items\":[]"), "{body}");
    drop(server);
    database.drop_database().await;
}

#[test]
fn sigterm_turns_readiness_false_first_and_serves_while_draining() {
    let mut server = start_with(&[
        ("OTTO_SHUTDOWN_DRAIN_SECONDS", "3"),
        ("OTTO_SHUTDOWN_GRACE_SECONDS", "5"),
    ]);
    let (status, _, body) = request(server.port, "GET /ready HTTP/1.1");
    assert!(status.contains("200"), "{status} {body}");
    assert!(body.contains("\"draining\":false"), "{body}");
    let signalled = Instant::now();
    let terminated = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(terminated.success());
    // The signal is handled asynchronously: poll until readiness flips.
    let (status, body) = loop {
        let (status, _, body) = request(server.port, "GET /ready HTTP/1.1");
        if !status.contains("200") || signalled.elapsed() > Duration::from_secs(2) {
            break (status, body);
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        status.contains("503"),
        "not ready while draining: {status} {body}"
    );
    assert!(body.contains("\"draining\":true"), "{body}");
    let (status, _, _) = request(server.port, "GET /health HTTP/1.1");
    assert!(
        status.contains("200"),
        "still serving while draining: {status}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(exit) = server.child.try_wait().expect("wait") {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "otto-server did not stop after draining"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(exit.code(), Some(0));
    assert!(
        signalled.elapsed() >= Duration::from_secs(3),
        "it stopped accepting only after the drain"
    );
    assert!(
        TcpStream::connect(("127.0.0.1", server.port)).is_err(),
        "nothing listens after the stop"
    );
}
