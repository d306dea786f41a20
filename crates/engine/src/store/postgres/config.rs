//! `PgStoreConfig`: how `PgStore` reaches its database and how it behaves
//! there. The server maps `store.postgres_url` / `STOWAGE_STORE_POSTGRES_URL`
//! onto `url`.

use serde::{Deserialize, Serialize};

/// The SQL dialect and isolation the store runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// Single-primary PostgreSQL: READ COMMITTED plus conditional updates,
    /// `SKIP LOCKED` (when enabled) to keep concurrent receivers apart.
    Postgres,
    /// Distributed PostgreSQL-compatible engines (YugabyteDB and the like):
    /// SERIALIZABLE, `SKIP LOCKED` never used; conflicts surface as
    /// serialization failures and are retried.
    Distributed,
}

/// Fault injection, for tests of the retry and ambiguous-commit paths
/// without a distributed database. Off (all zero) in production.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Per mille of statements that fail with an injected serialization
    /// failure (`40001`) before they run. Default: 0.
    pub serialization_permille: u32,
    /// Per mille of statements and commits that lose their connection: the
    /// server-side session is terminated before the statement runs, or (for
    /// a commit) right after it succeeded, so that the caller cannot know
    /// the outcome. Default: 0.
    pub disconnect_permille: u32,
}

/// `PgStore` settings. Every field's doc ends with its default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PgStoreConfig {
    /// libpq-style connection string or URL
    /// (`postgres://user:password@host:port/db`; several hosts with
    /// `target_session_attrs=read-write` for failover). Default: empty
    /// (required when the backend is `postgres`).
    pub url: String,
    /// Connections in the pool (besides the two for LISTEN / NOTIFY).
    /// Default: 16.
    pub pool_size: usize,
    /// `postgres` or `distributed` (see [`Dialect`]). Default: `postgres`.
    pub dialect: Dialect,
    /// Use `FOR UPDATE SKIP LOCKED` when picking messages to receive (only
    /// reduces contention; ignored by the `distributed` dialect).
    /// Default: true.
    pub skip_locked: bool,
    /// Times a transaction is retried after a serialization failure,
    /// deadlock or a connection lost before its commit. Default: 8.
    pub max_retries: u32,
    /// Longest wait for a pooled connection or a new one, ms. Default: 5000.
    pub connect_timeout_ms: u64,
    /// Server-side `statement_timeout`, ms (0: none). Default: 30000.
    pub statement_timeout_ms: u64,
    /// Wake long polls on other nodes with LISTEN/NOTIFY (channel
    /// `stowage_wake`, payload = queue id). Default: true.
    pub notify: bool,
    /// Least time between two retention / expiry passes of `sweep`, ms.
    /// Default: 1000.
    pub sweep_interval_ms: u64,
    /// Fault injection (tests only). Default: off.
    pub faults: FaultConfig,
}

impl Default for PgStoreConfig {
    fn default() -> Self {
        PgStoreConfig {
            url: String::new(),
            pool_size: 16,
            dialect: Dialect::Postgres,
            skip_locked: true,
            max_retries: 8,
            connect_timeout_ms: 5_000,
            statement_timeout_ms: 30_000,
            notify: true,
            sweep_interval_ms: 1_000,
            faults: FaultConfig::default(),
        }
    }
}

impl PgStoreConfig {
    /// Checks what can be checked without connecting: a URL is given and
    /// parses, the pool has a connection. The error says what is wrong
    /// (never the URL itself: it may hold a password).
    pub fn check(&self) -> Result<(), String> {
        if self.url.is_empty() {
            return Err("no PostgreSQL URL given".into());
        }
        if let Err(e) = self.url.parse::<tokio_postgres::Config>() {
            return Err(format!("the PostgreSQL URL is invalid: {e}"));
        }
        if self.pool_size == 0 {
            return Err("the pool needs at least 1 connection".into());
        }
        Ok(())
    }

    /// Whether receives use `SKIP LOCKED`.
    pub(super) fn use_skip_locked(&self) -> bool {
        self.skip_locked && self.dialect == Dialect::Postgres
    }

    /// The session options every connection starts with.
    pub(super) fn session_options(&self) -> String {
        let isolation = match self.dialect {
            Dialect::Postgres => "read\\ committed",
            Dialect::Distributed => "serializable",
        };
        format!(
            "-c default_transaction_isolation={isolation} -c statement_timeout={}",
            self.statement_timeout_ms
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_and_typos_are_errors() {
        let text = serde_json::to_string(&PgStoreConfig::default()).unwrap();
        let back: PgStoreConfig = serde_json::from_str(&text).unwrap();
        assert_eq!(back, PgStoreConfig::default());
        let partial: PgStoreConfig =
            serde_json::from_str(r#"{"url":"postgres://x/y","dialect":"distributed"}"#).unwrap();
        assert_eq!(partial.dialect, Dialect::Distributed);
        assert!(!partial.use_skip_locked());
        assert_eq!(partial.pool_size, 16);
        assert!(serde_json::from_str::<PgStoreConfig>(r#"{"pool_sise":3}"#).is_err());
    }

    #[test]
    fn check_refuses_a_missing_or_malformed_url_and_an_empty_pool() {
        let config = |url: &str, pool_size| PgStoreConfig {
            url: url.into(),
            pool_size,
            ..PgStoreConfig::default()
        };
        assert!(config("postgres://u:secret@127.0.0.1:5432/db", 4)
            .check()
            .is_ok());
        assert!(config("host=127.0.0.1 dbname=db", 4).check().is_ok());
        assert!(config("", 4)
            .check()
            .unwrap_err()
            .contains("no PostgreSQL URL"));
        let bad = config("postgres://u:secret@127.0.0.1:notaport/db", 4)
            .check()
            .unwrap_err();
        assert!(bad.contains("invalid"), "{bad}");
        assert!(!bad.contains("secret"), "{bad}");
        assert!(config("postgres://127.0.0.1/db", 0)
            .check()
            .unwrap_err()
            .contains("at least 1"));
    }
}
