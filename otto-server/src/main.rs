//! The `otto-server` binary: `serve`, `worker`, `jobs`, `migrate`, `openapi`,
//! `check-config`, `token`, `tenant`, `webhooks`, `purge`.

use std::process::ExitCode;
use std::sync::Arc;

use otto_adapters::system::SystemClock;

use clap::Parser;
use otto_server::cli::{Cli, Command, MigrateAction, TokenAction, exit_code};
use otto_server::config::{self, Config, Environment};
use otto_server::telemetry::{self, LogDestination, Service};
use otto_server::worker::WorkerPool;
use otto_server::{http, operator, startup};

/// mimalloc instead of glibc's malloc: a request allocates and frees many small
/// objects across two worker threads, where glibc's arenas spent about a quarter of the
/// server's CPU (docs/benchmarks.md, "Where a read's CPU goes").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // One TLS crypto provider for the whole process (see docs/architecture.md).
    otto_adapters::tls::ensure_crypto_provider();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            return ExitCode::from(exit_code::FAILURE as u8);
        }
    };
    let code = runtime.block_on(run(cli.command.unwrap_or(Command::Serve)));
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// Loads the configuration, or prints one line per problem and returns the exit code.
fn load_config() -> Result<(Config, Environment), i32> {
    let env = Environment::from_process();
    match Config::load(&env) {
        Ok(config) => Ok((config, env)),
        Err(errors) => {
            eprintln!("{errors}");
            Err(exit_code::CONFIG)
        }
    }
}

async fn run(command: Command) -> i32 {
    // The document describes the code, not a deployment: no configuration is read.
    let command = match command {
        Command::Openapi { output } => return openapi(output),
        command => command,
    };
    let (config, env) = match load_config() {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    match command {
        Command::Serve => serve(config).await,
        Command::Worker => worker(config).await,
        Command::Callrail { action } => {
            operator_command(&config, |config| operator::callrail(config, action)).await
        }
        Command::Jobs { action } => {
            operator_command(&config, |config| operator::jobs(config, action)).await
        }
        Command::Migrate { action } => migrate(config, action).await,
        Command::Openapi { output } => openapi(output),
        Command::CheckConfig => check_config(&config, &env),
        Command::Token { action } => token(&config, action),
        Command::Tenant { action } => {
            operator_command(&config, |config| operator::tenant(config, action)).await
        }
        Command::Webhooks { action } => {
            operator_command(&config, |config| operator::webhooks(config, action)).await
        }
        Command::Purge { batch } => {
            operator_command(&config, |config| operator::purge(config, batch)).await
        }
    }
}

/// Runs an operator command with logs on stderr, printing its result on stdout.
async fn operator_command<'a, F, Fut>(config: &'a Config, command: F) -> i32
where
    F: FnOnce(&'a Config) -> Fut,
    Fut: std::future::Future<Output = Result<String, String>>,
{
    let _telemetry = telemetry::init(config, Service::Api, LogDestination::Stderr);
    match command(config).await {
        Ok(report) => {
            write_stdout(&report);
            0
        }
        Err(error) => {
            eprintln!("{error}");
            exit_code::FAILURE
        }
    }
}

async fn serve(config: Config) -> i32 {
    let _telemetry = match telemetry::init(&config, Service::Api, LogDestination::Stdout) {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("configuration error: {error}");
            return exit_code::CONFIG;
        }
    };
    for note in config::unconfigured_components(&config) {
        tracing::info!("{note}");
    }
    let connections = match startup::connect(&config).await {
        Ok(connections) => connections,
        Err(error) => {
            tracing::error!(error = %error, "startup failed");
            return if error.is_configuration() {
                exit_code::CONFIG
            } else {
                exit_code::FAILURE
            };
        }
    };
    let authenticator = match startup::authenticator(&config, Arc::new(SystemClock)) {
        Ok(authenticator) => authenticator,
        Err(error) => {
            eprintln!("configuration error: {error}");
            return exit_code::CONFIG;
        }
    };
    let address = config.bind_address();
    let grace = config.shutdown_grace;
    let drain = config.shutdown_drain;
    let idle_timeout = config.idle_timeout;
    let runs_jobs = config.worker.serve_runs_jobs(config.database_is_embedded);
    let state = match startup::state(config, &connections, authenticator) {
        Ok(state) => state,
        Err(error) => {
            eprintln!("configuration error: {error}");
            return exit_code::CONFIG;
        }
    };
    let app = http::app(&state);
    let pool = match runs_jobs
        .then(|| {
            worker_pool(
                &state.config,
                &connections,
                state.metrics.clone(),
                Some(state.live.clone()),
            )
        })
        .transpose()
    {
        Ok(pool) => pool,
        Err(error) => {
            eprintln!("configuration error: {error}");
            return exit_code::CONFIG;
        }
    };
    let (stop, stopped) = shutdown_broadcast(Some((state.readiness.clone(), drain)));
    let operator_port =
        match operator_listener(&state.config, state.metrics.clone(), stopped.clone()).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::error!(error = %error, "the metrics listener could not start");
                return exit_code::FAILURE;
            }
        };
    let in_process_worker =
        pool.map(|pool| tokio::spawn(pool.run(wait_for(stopped.clone()), grace)));
    let live_listener = (!state.config.database_is_embedded
        && otto_adapters::database::Backend::of(state.config.database_url.expose()).ok()
            == Some(otto_adapters::database::Backend::Postgres))
    .then(|| {
        tokio::spawn(listen_for_live_events(
            state.config.database_url.expose().to_owned(),
            state.live.clone(),
        ))
    });
    // Streams end (each told `shutdown`) when the server stops accepting, so that
    // the graceful shutdown does not wait on them and clients reconnect elsewhere.
    let live = state.live.clone();
    let streams_stopped = stopped.clone();
    tokio::spawn(async move {
        wait_for(streams_stopped).await;
        live.shut_down();
    });
    let listener = poem::listener::TcpListener::bind(address.clone());
    tracing::info!(address = %address, in_process_worker = runs_jobs, "otto-server listening");
    let result = poem::Server::new(listener)
        .idle_timeout(idle_timeout)
        .run_with_graceful_shutdown(app, wait_for(stopped), Some(grace))
        .await;
    // The HTTP server can also stop on its own (a bind failure): stop the worker too.
    stop.send_replace(true);
    if let Some(worker) = in_process_worker {
        worker.await.ok();
    }
    operator_port.await.ok();
    if let Some(listener) = live_listener {
        listener.abort();
    }
    connections.database.close().await.ok();
    match result {
        Ok(()) => {
            tracing::info!("otto-server stopped");
            0
        }
        Err(error) => {
            tracing::error!(error = %error, address = %address, "server failed");
            exit_code::FAILURE
        }
    }
}

/// Wakes this process's live-event streams on other processes' commits
/// (PostgreSQL `LISTEN`), connecting again while it cannot; the streams also re-read
/// every few seconds, so an outage of the listener delays events, never loses them.
async fn listen_for_live_events(url: String, hub: Arc<otto_server::live::hub::LiveHub>) {
    loop {
        if let Err(error) = otto_adapters::live_listener::listen(url.clone(), hub.clone()).await {
            tracing::warn!(error = %error, "live events of other processes arrive by polling until the listener connects");
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        }
    }
}

/// Starts `serve`'s operators' listener (`/metrics`, `/health`) on OTTO_METRICS_ADDR,
/// until `stopped`. Bound before it returns, so that a taken port stops startup.
async fn operator_listener(
    config: &Config,
    metrics: Arc<otto_server::telemetry::metrics::Metrics>,
    stopped: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<tokio::task::JoinHandle<std::io::Result<()>>> {
    use poem::listener::{Acceptor, Listener};
    let address = config.metrics.address;
    let acceptor = poem::listener::TcpListener::bind(address)
        .into_acceptor()
        .await
        .map_err(|error| std::io::Error::new(error.kind(), format!("{address}: {error}")))?;
    let bound = acceptor
        .local_addr()
        .first()
        .map_or_else(|| address.to_string(), ToString::to_string);
    let token = config.metrics.token();
    http::operator_port::warn_if_exposed(Some(address.ip()), &bound, token);
    tracing::info!(address = %bound, token_required = token.is_some(), "metrics and health listening");
    let routes = http::operator_port::routes(metrics, &config.service_name_api, token);
    Ok(tokio::spawn(
        poem::Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
            routes,
            wait_for(stopped),
            Some(std::time::Duration::from_secs(1)),
        ),
    ))
}

/// A stop flag set by Ctrl-C or SIGTERM (or by the caller), which every part of the
/// process waits on. With `draining`, the signal first turns readiness false and waits
/// that long (requests are still served) before the flag is set.
fn shutdown_broadcast(
    draining: Option<(Arc<otto_server::state::Readiness>, std::time::Duration)>,
) -> (
    Arc<tokio::sync::watch::Sender<bool>>,
    tokio::sync::watch::Receiver<bool>,
) {
    let (sender, receiver) = tokio::sync::watch::channel(false);
    let sender = Arc::new(sender);
    let on_signal = sender.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        if let Some((readiness, drain)) = draining {
            readiness.drain();
            if !drain.is_zero() {
                tracing::info!(
                    drain_seconds = drain.as_secs(),
                    "draining: /ready answers 503 while requests are still served"
                );
                tokio::time::sleep(drain).await;
            }
        }
        on_signal.send_replace(true);
    });
    (sender, receiver)
}

async fn wait_for(mut stopped: tokio::sync::watch::Receiver<bool>) {
    let _ = stopped.wait_for(|stopped| *stopped).await;
}

fn worker_pool(
    config: &Config,
    connections: &startup::Connections,
    metrics: Arc<otto_server::telemetry::metrics::Metrics>,
    notifier: Option<Arc<dyn otto_core::ports::EventNotifier>>,
) -> Result<WorkerPool, String> {
    let store = connections.store.clone();
    // In `serve`, the jobs' events wake this process's streams at once.
    let store = Arc::new(match notifier {
        Some(notifier) => store.with_notifier(notifier),
        None => store,
    });
    Ok(WorkerPool::new(
        startup::job_runner(config, store, metrics.clone())?,
        Arc::new(SystemClock),
        config.worker.clone(),
        metrics,
    ))
}

async fn worker(config: Config) -> i32 {
    let _telemetry = match telemetry::init(&config, Service::Worker, LogDestination::Stdout) {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("configuration error: {error}");
            return exit_code::CONFIG;
        }
    };
    let connections = match startup::connect(&config).await {
        Ok(connections) => connections,
        Err(error) => {
            tracing::error!(error = %error, "startup failed");
            return if error.is_configuration() {
                exit_code::CONFIG
            } else {
                exit_code::FAILURE
            };
        }
    };
    let metrics = Arc::new(otto_server::telemetry::metrics::Metrics::new());
    let pool = match worker_pool(&config, &connections, metrics.clone(), None) {
        Ok(pool) => pool,
        Err(error) => {
            eprintln!("configuration error: {error}");
            return exit_code::CONFIG;
        }
    };
    let address = format!("{}:{}", config.host, config.worker.port);
    http::operator_port::warn_if_exposed(
        config.host.parse().ok(),
        &address,
        config.metrics.token(),
    );
    let (stop, stopped) = shutdown_broadcast(None);
    let endpoints = poem::Server::new(poem::listener::TcpListener::bind(address.clone()))
        .run_with_graceful_shutdown(
            http::operator_port::routes(
                metrics.clone(),
                &config.service_name_worker,
                config.metrics.token(),
            ),
            wait_for(stopped.clone()),
            Some(std::time::Duration::from_secs(1)),
        );
    let endpoints = tokio::spawn(endpoints);
    tracing::info!(address = %address, "worker health and metrics listening");
    pool.run(wait_for(stopped), config.shutdown_grace).await;
    stop.send_replace(true);
    let served = endpoints.await;
    connections.database.close().await.ok();
    match served {
        Ok(Ok(())) => 0,
        Ok(Err(error)) => {
            tracing::error!(error = %error, address = %address, "worker endpoints failed");
            exit_code::FAILURE
        }
        Err(error) => {
            tracing::error!(error = %error, "worker endpoints panicked");
            exit_code::FAILURE
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}

async fn migrate(config: Config, action: MigrateAction) -> i32 {
    let _telemetry = telemetry::init(&config, Service::Api, LogDestination::Stderr);
    // Migrations are the schema owner's work: OTTO_MIGRATION_DATABASE_URL when set.
    let connection = match otto_adapters::database::connect(
        config.migration_url().expose(),
        &Default::default(),
    )
    .await
    {
        Ok(connection) => connection,
        Err(error) => {
            eprintln!("cannot open the database: {error}");
            return exit_code::FAILURE;
        }
    };
    let outcome = match action {
        MigrateAction::Up => startup::migrate(&config)
            .await
            .map(|()| "migrations applied".to_owned())
            .map_err(|error| error.to_string()),
        MigrateAction::Down { steps } => otto_adapters::database::migrate_down(&connection, steps)
            .await
            .map(|()| format!("{steps} migration(s) reverted"))
            .map_err(|error| error.to_string()),
        MigrateAction::Status => otto_adapters::database::migration_status(&connection)
            .await
            .map(|states| {
                states
                    .iter()
                    .map(|state| {
                        format!(
                            "{}  {}",
                            if state.applied { "applied" } else { "pending" },
                            state.name
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .map_err(|error| error.to_string()),
    };
    match outcome {
        Ok(report) => {
            write_stdout(&report);
            0
        }
        Err(error) => {
            eprintln!("migration failed: {error}");
            exit_code::FAILURE
        }
    }
}

fn openapi(output: Option<std::path::PathBuf>) -> i32 {
    let document = http::openapi_document();
    match output {
        Some(path) => match std::fs::write(&path, format!("{document}\n")) {
            Ok(()) => 0,
            Err(error) => {
                eprintln!("cannot write {}: {error}", path.display());
                exit_code::FAILURE
            }
        },
        None => {
            write_stdout(&document);
            0
        }
    }
}

fn check_config(config: &Config, env: &Environment) -> i32 {
    let mut lines: Vec<String> = config::effective_settings(config, env)
        .into_iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    let notes = config::unconfigured_components(config);
    if !notes.is_empty() {
        lines.push(String::new());
        lines.extend(notes.into_iter().map(|note| format!("# {note}")));
    }
    lines.push(String::new());
    lines.push("# configuration is valid".to_owned());
    write_stdout(&lines.join("\n"));
    0
}

fn token(config: &Config, action: TokenAction) -> i32 {
    use otto_adapters::api_tokens::{self, Restriction};
    use otto_core::tenancy::{CredentialKind, Principal, Role, TenantId, UserId};
    let outcome: Result<String, String> = match action {
        TokenAction::Keygen => {
            let keys = api_tokens::generate_keys();
            Ok(format!(
                "OTTO_BISCUIT_PRIVATE_KEY={}\n# public key: {}",
                keys.private_key, keys.public_key
            ))
        }
        TokenAction::Issue {
            tenant,
            user,
            role,
            ttl,
            platform_admin,
        } => (|| {
            let principal = Principal {
                tenant_id: TenantId::parse(&tenant).map_err(|error| error.to_string())?,
                user_id: UserId::parse(&user).map_err(|error| error.to_string())?,
                role: Role::parse(&role).map_err(|error| error.to_string())?,
                credential: CredentialKind::ApiToken,
                platform_admin,
            };
            let ttl = api_tokens::parse_ttl(&ttl)?;
            let authority = startup::api_tokens(config, Arc::new(SystemClock))
                .map_err(|error| error.to_string())?
                .ok_or("API tokens are not configured: set OTTO_BISCUIT_PRIVATE_KEY")?;
            authority
                .issue(&principal, ttl)
                .map_err(|error| error.to_string())
        })(),
        TokenAction::Attenuate {
            token,
            read_only,
            expires_in,
        } => (|| {
            if !read_only && expires_in.is_none() {
                return Err("nothing to restrict: pass --read-only and/or --expires-in".to_owned());
            }
            let mut token = token;
            if read_only {
                token = api_tokens::attenuate(&token, Restriction::ReadOnly)
                    .map_err(|error| error.to_string())?;
            }
            if let Some(expires_in) = expires_in {
                let lifetime = api_tokens::parse_ttl(&expires_in)?;
                let expiry = chrono::Duration::from_std(lifetime)
                    .ok()
                    .and_then(|lifetime| chrono::Utc::now().checked_add_signed(lifetime))
                    .ok_or_else(|| format!("--expires-in {expires_in} ends beyond the calendar"))?;
                token = api_tokens::attenuate(&token, Restriction::ExpiresAt(expiry))
                    .map_err(|error| error.to_string())?;
            }
            Ok(token)
        })(),
    };
    match outcome {
        Ok(text) => {
            write_stdout(&text);
            0
        }
        Err(error) => {
            eprintln!("token: {error}");
            exit_code::FAILURE
        }
    }
}

/// Writes a command's result to stdout (the one place the binary prints results).
#[allow(clippy::print_stdout)]
fn write_stdout(text: &str) {
    println!("{text}");
}
