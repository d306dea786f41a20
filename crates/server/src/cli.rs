//! The operator subcommands of the `stowage` binary (`queues`, `peek`,
//! `purge`, `redrive`, `export`, `import`, `backup`), one file each. Each runs either
//! **offline** — it opens the data directory itself when no server holds it —
//! or **online**, against a running server's admin endpoint
//! (`POST /_stowage/admin/v1`, signed with the API's credentials). Both go
//! through [`crate::admin::ops`], so they behave the same.
//!
//! Which one: `--endpoint URL` → online; `--offline` → offline; otherwise
//! offline when the configured data directory exists and is not locked by a
//! running server, else online at the configured `listen` address. With
//! `store.backend = "postgres"` and no `--endpoint`, the command acts on the
//! database directly, as one more node (running servers need not stop).
//!
//! `backup` is an operator action like the others (the process holding the
//! data directory copies it). `check` (offline verification of a stopped
//! broker's data directory) and `restore` (offline: puts a backup in place)
//! are storage-level and stand apart: see [`check`] and [`restore`].

pub mod backup;
pub mod check;
pub mod client;
pub mod export;
pub mod import;
pub mod peek;
pub mod purge;
pub mod queues;
pub mod redrive;
pub mod restore;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use engine::{Engine, SystemClock};
use serde::de::DeserializeOwned;
use storage::StorageError;

use crate::admin::ops::{self, Request, Scope};
use crate::config::{Config, ConfigError, Overrides};
use client::Client;

/// How to reach the broker (flags shared by every operator subcommand).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Connect {
    /// Talk to the server at this URL (e.g. http://127.0.0.1:9324) instead of
    /// opening the data directory. Credentials: AWS_ACCESS_KEY_ID /
    /// AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN), else the first
    /// [[auth.credentials]] of the configuration; none: unsigned.
    #[arg(long, value_name = "URL", global = true)]
    pub endpoint: Option<String>,
    /// Open the data directory; fail if a server holds it.
    #[arg(long, global = true, conflicts_with = "endpoint")]
    pub offline: bool,
}

/// Why a subcommand failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The configuration is invalid.
    #[error("configuration error: {0}")]
    Config(#[from] ConfigError),
    /// Bad command-line input.
    #[error("{0}")]
    Usage(String),
    /// The data directory could not be opened.
    #[error("cannot open data directory {path}: {source}")]
    Storage {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: StorageError,
    },
    /// The PostgreSQL store could not be reached or migrated.
    #[error("cannot open the PostgreSQL store: {0}")]
    Store(engine::store::StoreError),
    /// The engine failed (offline).
    #[error(transparent)]
    Engine(#[from] engine::EngineError),
    /// An operator action failed (offline).
    #[error(transparent)]
    Admin(#[from] crate::admin::AdminError),
    /// The server answered with an error.
    #[error("{code}: {message}")]
    Server {
        /// Error code.
        code: String,
        /// Message.
        message: String,
    },
    /// The server could not be reached or answered nonsense.
    #[error("{0}")]
    Connection(String),
    /// Reading or writing a file or stdout failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// An answer or input line could not be decoded.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
}

impl CliError {
    fn exit_code(&self) -> u8 {
        match self {
            CliError::Config(_) | CliError::Usage(_) => 2,
            _ => 1,
        }
    }
}

/// Where the actions run.
pub enum Target {
    /// The data directory (or the PostgreSQL database), opened in this
    /// process.
    Offline {
        /// The engine on it.
        engine: Engine,
        /// Its background task (move tasks, timers).
        background: tokio::task::JoinHandle<()>,
    },
    /// A running server.
    Online(Box<Client>),
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Offline { .. } => f.write_str("Target::Offline"),
            Target::Online(c) => write!(f, "Target::Online({})", c.endpoint()),
        }
    }
}

impl Target {
    /// Opens the data directory or connects, per [`Connect`] and the rule in
    /// the module docs.
    pub async fn open(config: &Config, connect: &Connect) -> Result<Target, CliError> {
        if let Some(endpoint) = &connect.endpoint {
            return Ok(Target::Online(Box::new(Client::new(endpoint, config)?)));
        }
        if config.store.backend == crate::store::StoreBackend::Postgres {
            let engine = crate::store::open_postgres(config)
                .await
                .map_err(CliError::Store)?;
            let background = engine.spawn_background();
            return Ok(Target::Offline { engine, background });
        }
        let dir = &config.data_dir;
        if !connect.offline && !dir.is_dir() {
            return Ok(Target::Online(Box::new(Client::new(
                &client::listen_url(config),
                config,
            )?)));
        }
        match storage::Storage::open(dir, &config.storage) {
            Ok((storage, _)) => {
                let engine =
                    Engine::open(storage, Arc::new(SystemClock), config.engine.clone()).await?;
                let background = engine.spawn_background();
                Ok(Target::Offline { engine, background })
            }
            Err(StorageError::Locked(_)) if !connect.offline => Ok(Target::Online(Box::new(
                Client::new(&client::listen_url(config), config)?,
            ))),
            Err(source) => Err(CliError::Storage {
                path: dir.clone(),
                source,
            }),
        }
    }

    /// Runs one operator action and decodes its answer.
    pub async fn call<T: DeserializeOwned>(&self, request: Request) -> Result<T, CliError> {
        let value = match self {
            Target::Offline { engine, .. } => ops::execute(engine, &Scope::All, request).await?,
            Target::Online(client) => client.call(&request).await?,
        };
        Ok(serde_json::from_value(value)?)
    }

    /// Flushes and closes the data directory (offline).
    pub async fn close(self) -> Result<(), CliError> {
        if let Target::Offline { engine, background } = self {
            engine.shutdown().await?;
            background.abort();
            if let Some(storage) = engine.storage() {
                storage.close().await.map_err(engine::EngineError::from)?;
            }
        }
        Ok(())
    }
}

/// An operator subcommand.
pub trait Run {
    /// Its connection flags.
    fn connect(&self) -> &Connect;
    /// Runs it; output goes to `out` (stdout).
    fn run(
        self,
        target: &Target,
        out: &mut dyn Write,
    ) -> impl std::future::Future<Output = Result<(), CliError>>;
}

/// Entry point of an operator subcommand: loads the configuration (same
/// layers as `serve`), opens the target, runs, closes. Exit status 0, 1 on
/// failure, 2 on configuration or usage errors.
pub fn main<R: Run>(command: R, config_file: Option<&Path>, overrides: &Overrides) -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let result = (|| {
        let config = Config::load(config_file, std::env::vars(), overrides)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            let target = Target::open(&config, command.connect()).await?;
            let mut out = std::io::stdout().lock();
            let result = command.run(&target, &mut out).await;
            let flushed = out.flush();
            let closed = target.close().await;
            result?;
            flushed?;
            closed
        })
    })();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stowage: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
