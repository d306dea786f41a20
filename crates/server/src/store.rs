//! `[store]`: where the queues live — the embedded store (write-ahead log
//! and index in `data_dir`, one node) or PostgreSQL (several stateless
//! nodes over one database) — and opening the engine over it.

use std::sync::Arc;

use engine::store::postgres::{Dialect, PgStore, PgStoreConfig};
use engine::store::StoreError;
use engine::{Clock, Engine, SystemClock};
use serde::{Deserialize, Serialize};

use crate::{Config, StartError};

/// Which store holds the queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// The write-ahead log and index in `data_dir` (one node). Default.
    #[default]
    Embedded,
    /// A PostgreSQL-protocol database shared by every node.
    Postgres,
}

/// `[store]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// `embedded` or `postgres`. Default: `embedded`.
    pub backend: StoreBackend,
    /// libpq URL or key=value string of the database (backend `postgres`;
    /// several hosts with `target_session_attrs=read-write` for failover).
    /// Default: empty.
    pub postgres_url: String,
    /// Connections per node in the pool (besides the two for LISTEN /
    /// NOTIFY). Default: 16.
    pub postgres_pool_size: usize,
    /// `postgres` (one primary) or `distributed` (YugabyteDB and other
    /// distributed PostgreSQL-compatible databases: serializable, no
    /// `SKIP LOCKED`). Default: `postgres`.
    pub postgres_dialect: Dialect,
}

impl Default for StoreConfig {
    fn default() -> Self {
        let pg = PgStoreConfig::default();
        StoreConfig {
            backend: StoreBackend::Embedded,
            postgres_url: String::new(),
            postgres_pool_size: pg.pool_size,
            postgres_dialect: pg.dialect,
        }
    }
}

impl StoreConfig {
    /// The PgStore settings this section gives (the rest at their defaults).
    pub fn postgres(&self) -> PgStoreConfig {
        PgStoreConfig {
            url: self.postgres_url.clone(),
            pool_size: self.postgres_pool_size,
            dialect: self.postgres_dialect,
            ..PgStoreConfig::default()
        }
    }

    /// Checks the PostgreSQL settings when that backend is chosen.
    pub fn validate(&self) -> Result<(), String> {
        if self.backend != StoreBackend::Postgres {
            return Ok(());
        }
        if self.postgres_url.is_empty() {
            return Err("store.backend = \"postgres\" needs store.postgres_url \
                 (or STOWAGE_STORE_POSTGRES_URL), e.g. postgres://stowage@db:5432/stowage"
                .into());
        }
        if self.postgres_pool_size == 0 {
            return Err("store.postgres_pool_size must be at least 1".into());
        }
        self.postgres()
            .check()
            .map_err(|e| format!("store.postgres_url: {e}"))
    }
}

/// Opens the configured store and the engine over it. The embedded store
/// opens (and recovers) the data directory; PostgreSQL connects and applies
/// the schema migrations, and nothing is opened in `data_dir`.
pub(crate) async fn open_engine(config: &Config) -> Result<Engine, StartError> {
    match config.store.backend {
        StoreBackend::Embedded => {
            if std::fs::metadata(&config.data_dir).is_ok_and(|m| !m.is_dir()) {
                return Err(StartError::DataDirNotADirectory(config.data_dir.clone()));
            }
            std::fs::create_dir_all(&config.data_dir).map_err(|source| {
                StartError::Storage(storage::StorageError::Io {
                    path: config.data_dir.clone(),
                    source,
                })
            })?;
            let (storage, recovered) = storage::Storage::open(&config.data_dir, &config.storage)?;
            tracing::info!(
                segments = recovered.segments,
                records = recovered.records,
                truncated_bytes = recovered.truncated_bytes,
                dropped_records = recovered.dropped_records,
                index_rebuilt = recovered.index_rebuilt,
                duration_ms = recovered.duration_ms,
                "recovered data directory {}",
                config.data_dir.display()
            );
            crate::metrics::record_recovery(&recovered);
            Ok(Engine::open(storage, Arc::new(SystemClock), config.engine.clone()).await?)
        }
        StoreBackend::Postgres => open_postgres(config).await.map_err(StartError::Store),
    }
}

/// The engine over PgStore (connects, applies the schema migrations): a
/// node, or an operator command acting on the database directly.
pub(crate) async fn open_postgres(config: &Config) -> Result<Engine, StoreError> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = PgStore::open(config.store.postgres(), clock.now_ms()).await?;
    tracing::info!(
        node = store.node_name(),
        dialect = ?config.store.postgres_dialect,
        pool_size = config.store.postgres_pool_size,
        "queues are in PostgreSQL (schema up to date)"
    );
    Ok(Engine::with_store(
        Arc::new(store),
        clock,
        config.engine.clone(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Overrides;

    fn load(vars: &[(&str, &str)]) -> Result<Config, crate::config::ConfigError> {
        let env = vars.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Config::load(None, env, &Overrides::default())
    }

    #[test]
    fn the_backend_and_url_come_from_the_environment() {
        let c = load(&[
            ("STOWAGE_STORE_BACKEND", "postgres"),
            (
                "STOWAGE_STORE_POSTGRES_URL",
                "postgres://s@127.0.0.1:5432/q",
            ),
            ("STOWAGE_STORE_POSTGRES_POOL_SIZE", "3"),
            ("STOWAGE_STORE_POSTGRES_DIALECT", "distributed"),
        ])
        .unwrap();
        assert_eq!(c.store.backend, StoreBackend::Postgres);
        let pg = c.store.postgres();
        assert_eq!(pg.url, "postgres://s@127.0.0.1:5432/q");
        assert_eq!(pg.pool_size, 3);
        assert_eq!(pg.dialect, Dialect::Distributed);
        assert_eq!(load(&[]).unwrap().store.backend, StoreBackend::Embedded);
    }

    #[test]
    fn bad_store_settings_name_what_is_wrong() {
        let err = load(&[("STOWAGE_STORE_BACKEND", "mysql")]).unwrap_err();
        assert!(err.to_string().contains("STOWAGE_STORE_BACKEND"), "{err}");
        let err = load(&[("STOWAGE_STORE_BACKEND", "postgres")]).unwrap_err();
        assert!(err.to_string().contains("store.postgres_url"), "{err}");
        let err = load(&[
            ("STOWAGE_STORE_BACKEND", "postgres"),
            ("STOWAGE_STORE_POSTGRES_URL", "postgres://u:pw@h:port/db"),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("store.postgres_url"), "{err}");
        assert!(!err.to_string().contains("pw"), "{err}");
        let err = load(&[
            ("STOWAGE_STORE_BACKEND", "postgres"),
            ("STOWAGE_STORE_POSTGRES_URL", "postgres://h/db"),
            ("STOWAGE_STORE_POSTGRES_POOL_SIZE", "0"),
        ])
        .unwrap_err();
        assert!(
            err.to_string().contains("store.postgres_pool_size"),
            "{err}"
        );
        // The embedded store ignores the PostgreSQL keys.
        assert!(load(&[("STOWAGE_STORE_POSTGRES_POOL_SIZE", "0")]).is_ok());
    }
}
