//! Stowage's SQS API over HTTP. The only crate that knows HTTP, JSON, XML,
//! SigV4 and SQS error codes.
//!
//! - [`run`]: what the `stowage` binary does (start, print `listening on
//!   ADDR`, serve until SIGTERM/SIGINT, shut down gracefully).
//! - [`start`]: start in-process and get a [`RunningServer`] (bound address +
//!   shutdown handle), for tests and embedders.
//! - [`router`]: the axum router over an [`AppState`].

mod access_log;
mod actions;
pub mod admin;
pub mod auth;
mod body_budget;
pub mod cli;
pub mod config;
pub mod console;
pub mod declared;
pub mod error;
mod handler;
mod health;
pub mod metrics;
pub mod protocol;
mod queue_url;
mod serve;
pub mod shutdown;
pub mod store;
#[cfg(test)]
mod tests;

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use engine::{Engine, EngineError};
use storage::StorageError;

pub use config::Config;
pub use error::SqsError;

use crate::config::LimitsConfig;
use crate::shutdown::Trigger;

/// How long shutdown waits for open connections to finish their requests.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Shared state of the API handlers.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<StateInner>,
}

struct StateInner {
    engine: Engine,
    auth: auth::AuthConfig,
    public_base_url: Option<String>,
    limits: LimitsConfig,
    /// Request bodies being read or processed, across all connections.
    body_budget: body_budget::BodyBudget,
    /// The bound API address, for queue URLs when a request has no Host.
    listen: String,
    /// Admin and reset endpoints.
    admin: config::AdminConfig,
    ready: AtomicBool,
}

impl AppState {
    /// State for `engine` under `config`; `listen` is the bound API address.
    /// Ready from the start (recovery is finished once an engine exists).
    pub fn new(engine: Engine, config: &Config, listen: SocketAddr) -> AppState {
        AppState {
            inner: Arc::new(StateInner {
                engine,
                auth: config.auth.clone(),
                public_base_url: config.public_base_url.clone(),
                limits: config.limits.clone(),
                body_budget: body_budget::BodyBudget::new(
                    config.limits.request_body_budget_bytes,
                    Duration::from_millis(config.limits.request_body_budget_wait_ms),
                ),
                listen: listen.to_string(),
                admin: config.admin.clone(),
                ready: AtomicBool::new(true),
            }),
        }
    }

    /// Marks the server (not) ready for `/health/ready`.
    pub fn set_ready(&self, ready: bool) {
        self.inner.ready.store(ready, Ordering::Release);
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }
}

/// The HTTP routes: health checks, and the SQS API on every other path
/// (`POST /`, `POST /<account>/<queue>`, `GET /?Action=…`).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .merge(admin::routes())
        .fallback(handler::api)
        .with_state(state)
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The data directory could not be opened or recovered.
    #[error("cannot open data directory: {0}")]
    Storage(#[from] StorageError),
    /// The engine could not rebuild its state.
    #[error("cannot start the engine: {0}")]
    Engine(#[from] EngineError),
    /// The PostgreSQL store could not be reached or migrated.
    #[error("cannot open the PostgreSQL store: {0}")]
    Store(engine::store::StoreError),
    /// The data directory path names something that is not a directory.
    #[error(
        "data directory {0} is not a directory (it is a file); point --data-dir at a directory"
    )]
    DataDirNotADirectory(std::path::PathBuf),
    /// A queue declared in the configuration cannot be created or converged.
    #[error("configuration error: {0}")]
    Declared(#[from] declared::DeclarationError),
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

impl StartError {
    /// The process exit status for this failure: 2 for configuration
    /// errors (including declared queues), 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            StartError::Config(_) | StartError::Declared(_) => 2,
            StartError::Storage(_)
            | StartError::Engine(_)
            | StartError::Store(_)
            | StartError::DataDirNotADirectory(_)
            | StartError::Bind { .. } => 1,
        }
    }
}

/// A server started with [`start`].
pub struct RunningServer {
    addr: SocketAddr,
    metrics_addr: Option<SocketAddr>,
    console_addr: Option<SocketAddr>,
    engine: Engine,
    stop: Trigger,
    task: tokio::task::JoinHandle<Result<(), EngineError>>,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("addr", &self.addr)
            .field("metrics_addr", &self.metrics_addr)
            .field("console_addr", &self.console_addr)
            .finish_non_exhaustive()
    }
}

impl RunningServer {
    /// The bound API address (the real port when configured with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound metrics address, when a separate metrics listener runs.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// The bound address of the console's own listener (`console.listen`).
    pub fn console_addr(&self) -> Option<SocketAddr> {
        self.console_addr
    }

    /// The engine behind the server.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Shuts down gracefully: stop accepting, answer long polls, let
    /// in-flight requests finish, flush the log.
    pub async fn shutdown(self) -> Result<(), EngineError> {
        self.stop.fire();
        self.wait().await
    }

    /// Waits until the server has stopped (after a shutdown was requested).
    pub async fn wait(self) -> Result<(), EngineError> {
        match self.task.await {
            Ok(result) => result,
            Err(e) => Err(EngineError::Storage(StorageError::Index(format!(
                "server task failed: {e}"
            )))),
        }
    }
}

/// Opens the store (the data directory, recovered; or PostgreSQL), starts
/// background work, binds the API (and metrics) listener and serves in the
/// background.
pub async fn start(config: Config) -> Result<RunningServer, StartError> {
    config.validate()?;
    let engine = store::open_engine(&config).await?;
    declared::apply(&engine, &config.queues, &config.auth, &config.engine.region).await?;
    let background = engine.spawn_background();

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.listen.to_string(),
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.listen.to_string(),
        source,
    })?;
    let stop = Trigger::new();

    let mut metrics_addr = None;
    let mut metrics_task = None;
    if !config.metrics.listen.is_empty() {
        let metrics_listener = tokio::net::TcpListener::bind(&config.metrics.listen)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.metrics.listen.clone(),
                source,
            })?;
        metrics_addr = metrics_listener.local_addr().ok();
        let stop = stop.clone();
        let engine = engine.clone();
        metrics_task = Some(tokio::spawn(async move {
            if let Err(e) =
                metrics::serve(metrics_listener, engine, async move { stop.wait().await }).await
            {
                tracing::error!(error = %e, "metrics listener failed");
            }
        }));
    }

    let state = AppState::new(engine.clone(), &config, addr);
    // --- metrics on the API port (observability) ---
    let mut app = router(state);
    if config.metrics.serve_on_api_port {
        app = app.merge(metrics::metrics_router(engine.clone()));
    } else {
        // Not an SQS request either: a plain 404, not a MissingAction.
        app = app.route("/metrics", axum::routing::any(metrics_not_here));
    }
    // --- web console: on the API port, or on its own listener ---
    let console = config
        .console
        .enabled
        .then(|| console::Console::new(engine.clone(), &config));
    let sampler = console.as_ref().map(console::Console::spawn_sampler);
    let mut console_addr = None;
    let mut console_task = None;
    if let Some(console) = &console {
        match config.console.listen_addr() {
            None => app = app.merge(console.router()),
            Some(listen) => {
                let console_listener =
                    tokio::net::TcpListener::bind(listen)
                        .await
                        .map_err(|source| StartError::Bind {
                            addr: listen.to_string(),
                            source,
                        })?;
                console_addr = console_listener.local_addr().ok();
                let mut console_app = console.router();
                if config.log.requests {
                    console_app =
                        console_app.layer(axum::middleware::from_fn(access_log::log_request));
                }
                console_task = Some(tokio::spawn(serve::serve(
                    console_listener,
                    console_app,
                    config.limits.clone(),
                    stop.clone(),
                    DRAIN_TIMEOUT,
                )));
            }
        }
    }
    if config.log.requests {
        app = app.layer(axum::middleware::from_fn(access_log::log_request));
    }

    let task = {
        let engine = engine.clone();
        let stop = stop.clone();
        let limits = config.limits.clone();
        tokio::spawn(async move {
            let serving = tokio::spawn(serve::serve(
                listener,
                app,
                limits,
                stop.clone(),
                DRAIN_TIMEOUT,
            ));
            stop.wait().await;
            // Long polls answer now; background work stops (the store stays
            // open for the requests being drained).
            engine.stop();
            let _ = serving.await;
            if let Some(t) = metrics_task {
                let _ = t.await;
            }
            if let Some(t) = console_task {
                let _ = t.await;
            }
            if let Some(t) = sampler {
                t.abort();
            }
            // Flush whatever the last requests appended; close the store.
            let last = engine.shutdown().await;
            background.abort();
            tracing::info!("shut down");
            last
        })
    };
    Ok(RunningServer {
        addr,
        metrics_addr,
        console_addr,
        engine,
        stop,
        task,
    })
}

/// `/metrics` on the API port without `metrics.serve_on_api_port`.
async fn metrics_not_here() -> (axum::http::StatusCode, &'static str) {
    (
        axum::http::StatusCode::NOT_FOUND,
        "metrics are served on the metrics listener (metrics.listen), not on the API port\n",
    )
}

/// Runs the server as the `stowage` binary does: start, print exactly one
/// line `listening on ADDR` to stdout, serve until SIGTERM/SIGINT, shut down.
pub async fn run(config: Config) -> Result<(), StartError> {
    let server = start(config).await?;
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on {}", server.addr());
        let _ = out.flush();
    }
    tracing::info!(addr = %server.addr(), metrics = ?server.metrics_addr(), "listening");
    shutdown::signal().await;
    server.shutdown().await?;
    Ok(())
}
