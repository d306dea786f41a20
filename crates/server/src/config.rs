//! [`Config`]: the whole configuration, and its layers: built-in defaults
//! (= `config/stowage.toml`, embedded) ← `--config FILE` ← environment
//! (`STOWAGE_<SECTION>_<KEY>`, top-level keys `STOWAGE_<KEY>`) ← command-line
//! flags (applied by `main.rs` through [`Overrides`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::auth::AuthConfig;

/// The shipped, commented default configuration (every key present).
pub const DEFAULT_CONFIG_TOML: &str = include_str!("../../../config/stowage.toml");

/// Prefix of environment overrides.
pub const ENV_PREFIX: &str = "STOWAGE_";

/// Everything `stowage` can be configured with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address of the SQS API. Default: `127.0.0.1:9324`.
    pub listen: SocketAddr,
    /// Data directory (WAL segments and index). Default: `./data`.
    pub data_dir: PathBuf,
    /// Base of the queue URLs handed to clients (`http://host:port`); empty:
    /// taken from each request's Host header. Default: empty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_base_url: Option<String>,
    /// Logging.
    pub log: LogConfig,
    /// HTTP limits and timeouts.
    pub limits: LimitsConfig,
    /// Credentials and anonymous access.
    pub auth: AuthConfig,
    /// Prometheus metrics endpoint.
    pub metrics: MetricsConfig,
    /// Where the queues live: the embedded store or PostgreSQL.
    pub store: crate::store::StoreConfig,
    /// The write-ahead log (embedded store).
    pub storage: storage::StorageConfig,
    /// Queue semantics.
    pub engine: engine::EngineConfig,
    /// The web console.
    pub console: crate::console::ConsoleConfig,
    /// The admin endpoint (CLI) and the reset endpoint.
    pub admin: AdminConfig,
    /// Queues declared here are created at start and their attributes
    /// converged (`[[queues]]`). Default: none.
    pub queues: Vec<crate::declared::QueueDecl>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 9324)),
            data_dir: PathBuf::from("./data"),
            public_base_url: None,
            log: LogConfig::default(),
            limits: LimitsConfig::default(),
            auth: AuthConfig::default(),
            metrics: MetricsConfig::default(),
            store: crate::store::StoreConfig::default(),
            storage: storage::StorageConfig::default(),
            engine: engine::EngineConfig::default(),
            console: crate::console::ConsoleConfig::default(),
            admin: AdminConfig::default(),
            queues: Vec::new(),
        }
    }
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `tracing` filter directive (`info`, `debug`, `server=debug,info`, …).
    /// Default: `info`.
    pub level: String,
    /// `human` or `json`. Default: `human`.
    pub format: LogFormat,
    /// One log line per HTTP request (method, path, action, status,
    /// duration), at info level under the `stowage::access` target.
    /// Default: false.
    pub requests: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            level: "info".into(),
            format: LogFormat::Human,
            requests: false,
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines. Default.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// `[limits]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest accepted request body; larger → 413 before reading. Must hold a
    /// 1 MiB batch even percent-encoded. Default: 4194304 (4 MiB).
    pub max_request_bytes: u64,
    /// Maximum concurrent connections; further ones wait in the OS backlog.
    /// Default: 4096.
    pub max_connections: usize,
    /// Time allowed for a client to send the request headers; also closes
    /// idle HTTP/1 keep-alive connections waiting for their next request.
    /// Default: 30000.
    pub header_read_timeout_ms: u64,
    /// Time allowed for a client to send the whole body. Default: 30000.
    pub body_read_timeout_ms: u64,
    /// A connection with no request in progress for this long is closed,
    /// whatever bytes or frames arrive meanwhile (HTTP/2 PINGs and SETTINGS
    /// are not activity). A long poll is a request in progress. Default: 75000.
    pub idle_timeout_ms: u64,
    /// Bytes of request bodies that may be read or processed at once, across
    /// all connections (a request holds its body's size from before the
    /// first byte is read until it is answered). At least
    /// `max_request_bytes`. Default: 268435456 (256 MiB).
    pub request_body_budget_bytes: u64,
    /// How long a request waits for room in that budget before it is
    /// answered 503 `ServiceUnavailable` (SDKs retry it). Default: 1000.
    pub request_body_budget_wait_ms: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_request_bytes: 4 * 1024 * 1024,
            max_connections: 4096,
            header_read_timeout_ms: 30_000,
            body_read_timeout_ms: 30_000,
            idle_timeout_ms: 75_000,
            request_body_budget_bytes: 256 * 1024 * 1024,
            request_body_budget_wait_ms: 1_000,
        }
    }
}

/// `[metrics]` (filled in by the observability work).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Address of the Prometheus `/metrics` endpoint; empty string disables
    /// the separate listener. Default: `127.0.0.1:9325`.
    pub listen: String,
    /// Also serve `/metrics` on the API port. Default: false.
    pub serve_on_api_port: bool,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            listen: "127.0.0.1:9325".into(),
            serve_on_api_port: false,
        }
    }
}

/// `[admin]`: operator endpoints on the API port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Serve the admin endpoint (`POST /_stowage/admin/v1`) used by
    /// `stowage queues|peek|purge|redrive|export|import|backup` against a
    /// running server. It takes the API's credentials (SigV4); without
    /// credentials only loopback clients may use it. Default: true.
    pub enabled: bool,
    /// Serve `POST /_stowage/reset`, which deletes every queue and message
    /// (test fixtures). Same access rule as the admin endpoint. Default: false.
    pub reset_endpoint: bool,
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            enabled: true,
            reset_endpoint: false,
        }
    }
}

/// A configuration problem; the message names the key, file or variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The config file is not valid TOML or has unknown keys / bad values.
    #[error("invalid config file {path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong (names the key).
        message: String,
    },
    /// An environment variable has a bad value.
    #[error("invalid value for environment variable {var}: {message}")]
    Env {
        /// The variable.
        var: String,
        /// What is wrong.
        message: String,
    },
    /// A command-line flag has a bad value.
    #[error("invalid value for {flag}: {message}")]
    Flag {
        /// The flag.
        flag: String,
        /// What is wrong.
        message: String,
    },
    /// The combined configuration is inconsistent.
    #[error("{0}")]
    Invalid(String),
}

/// Command-line overrides (the top layer). `None` keeps the lower layers.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--metrics-listen`.
    pub metrics_listen: Option<String>,
    /// `--durability` (`always`, `interval`, `never`).
    pub durability: Option<String>,
    /// `--log-level`.
    pub log_level: Option<String>,
    /// `--log-format` (`human`, `json`).
    pub log_format: Option<String>,
    /// `--public-base-url`.
    pub public_base_url: Option<String>,
    /// `--allow-anonymous`.
    pub allow_anonymous: bool,
    /// `--dev`: `engine.strict_timing = false` and `storage.durability = never`.
    pub dev: bool,
}

impl Config {
    /// The built-in defaults, parsed from the embedded `config/stowage.toml`.
    pub fn builtin() -> Result<Config, ConfigError> {
        toml::from_str(DEFAULT_CONFIG_TOML).map_err(|e| ConfigError::File {
            path: PathBuf::from("<built-in config/stowage.toml>"),
            message: e.to_string(),
        })
    }

    /// Builds the configuration from all layers and validates it. `env` is
    /// the process environment (passed in so tests control it).
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> Result<Config, ConfigError> {
        let mut merged = toml::Value::try_from(Config::builtin()?)
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            // Deserialize the file alone first: errors then carry its line and key.
            let file_err = |message: String| ConfigError::File {
                path: path.to_owned(),
                message,
            };
            let layer: toml::Value = toml::from_str(&text).map_err(|e| file_err(e.to_string()))?;
            check_queue_entries(&layer).map_err(file_err)?;
            toml::from_str::<Config>(&text).map_err(|e| file_err(e.to_string()))?;
            merge(&mut merged, layer);
        }
        let mut env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with(ENV_PREFIX))
            .collect();
        env.sort();
        for (var, value) in env {
            let Some(path) = env_key_path(&merged, &var) else {
                continue;
            };
            let mut candidate = merged.clone();
            set_path(&mut candidate, &path, &value);
            candidate
                .clone()
                .try_into::<Config>()
                .map_err(|e| ConfigError::Env {
                    var: var.clone(),
                    message: e.to_string(),
                })?;
            merged = candidate;
        }
        let mut config: Config = merged
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError::Invalid(e.to_string()))?;
        config.apply(overrides)?;
        config.validate()?;
        Ok(config)
    }

    /// Applies command-line overrides.
    fn apply(&mut self, o: &Overrides) -> Result<(), ConfigError> {
        if let Some(listen) = o.listen {
            self.listen = listen;
        }
        if let Some(dir) = &o.data_dir {
            self.data_dir.clone_from(dir);
        }
        if let Some(listen) = &o.metrics_listen {
            self.metrics.listen.clone_from(listen);
        }
        if let Some(d) = &o.durability {
            self.storage.durability =
                toml::Value::String(d.clone())
                    .try_into()
                    .map_err(|_| ConfigError::Flag {
                        flag: "--durability".into(),
                        message: format!("`{d}` (expected always, interval or never)"),
                    })?;
        }
        if let Some(level) = &o.log_level {
            self.log.level.clone_from(level);
        }
        if let Some(f) = &o.log_format {
            self.log.format =
                toml::Value::String(f.clone())
                    .try_into()
                    .map_err(|_| ConfigError::Flag {
                        flag: "--log-format".into(),
                        message: format!("`{f}` (expected human or json)"),
                    })?;
        }
        if let Some(url) = &o.public_base_url {
            self.public_base_url = Some(url.clone());
        }
        if o.allow_anonymous {
            self.auth.allow_anonymous = true;
        }
        if o.dev {
            self.engine.strict_timing = false;
            self.storage.durability = storage::Durability::Never;
        }
        Ok(())
    }

    /// Checks value ranges and the safety rule: no anonymous access on a
    /// non-loopback address unless `auth.allow_anonymous`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.storage.validate().map_err(ConfigError::Invalid)?;
        self.store.validate().map_err(ConfigError::Invalid)?;
        self.auth.validate().map_err(ConfigError::Invalid)?;
        self.console
            .validate(&self.auth)
            .map_err(ConfigError::Invalid)?;
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return Err(ConfigError::Invalid(format!(
                "log.level `{}` is not a valid filter directive",
                self.log.level
            )));
        }
        let l = &self.limits;
        for (key, value) in [
            ("limits.max_request_bytes", l.max_request_bytes),
            ("limits.max_connections", l.max_connections as u64),
            ("limits.header_read_timeout_ms", l.header_read_timeout_ms),
            ("limits.body_read_timeout_ms", l.body_read_timeout_ms),
            ("limits.idle_timeout_ms", l.idle_timeout_ms),
        ] {
            if value == 0 {
                return Err(ConfigError::Invalid(format!("{key} must be at least 1")));
            }
        }
        if l.request_body_budget_bytes < l.max_request_bytes {
            return Err(ConfigError::Invalid(format!(
                "limits.request_body_budget_bytes ({}) must be at least limits.max_request_bytes ({})",
                l.request_body_budget_bytes, l.max_request_bytes
            )));
        }
        if let Some(url) = &self.public_base_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::Invalid(format!(
                    "public_base_url `{url}` must start with http:// or https://"
                )));
            }
        }
        if !self.metrics.listen.is_empty() && self.metrics.listen.parse::<SocketAddr>().is_err() {
            return Err(ConfigError::Invalid(format!(
                "metrics.listen `{}` is not an address (IP:PORT)",
                self.metrics.listen
            )));
        }
        crate::declared::validate(&self.queues, &self.auth, &self.engine.region)
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        if !self.listen.ip().is_loopback()
            && self.auth.credentials.is_empty()
            && !self.auth.allow_anonymous
        {
            return Err(ConfigError::Invalid(format!(
                "refusing to listen on {} without credentials: configure [[auth.credentials]] \
                 or set auth.allow_anonymous = true (--allow-anonymous)",
                self.listen
            )));
        }
        self.check_metrics_exposure()
    }

    /// The metrics listener shows queue names and account ids: without
    /// credentials it binds only loopback addresses, like the API, unless
    /// `auth.allow_anonymous`.
    fn check_metrics_exposure(&self) -> Result<(), ConfigError> {
        let exposed = self
            .metrics
            .listen
            .parse::<SocketAddr>()
            .is_ok_and(|addr| !addr.ip().is_loopback());
        if exposed && self.auth.credentials.is_empty() && !self.auth.allow_anonymous {
            return Err(ConfigError::Invalid(format!(
                "refusing to serve metrics on {} without credentials: it exposes queue names \
                 and account ids; use a loopback address, configure [[auth.credentials]] or set \
                 auth.allow_anonymous = true (--allow-anonymous)",
                self.metrics.listen
            )));
        }
        Ok(())
    }
}

/// Deserializes each `[[queues]]` entry alone, so that an unknown key or a
/// wrong type is reported with the entry's name.
fn check_queue_entries(file: &toml::Value) -> Result<(), String> {
    let Some(entries) = file.get("queues").and_then(toml::Value::as_array) else {
        return Ok(());
    };
    for (i, entry) in entries.iter().enumerate() {
        let label = entry
            .get("name")
            .and_then(toml::Value::as_str)
            .map_or_else(|| format!("#{}", i + 1), |n| format!("`{n}`"));
        entry
            .clone()
            .try_into::<crate::declared::QueueDecl>()
            .map_err(|e| format!("[[queues]] entry {label}: {}", e.message()))?;
    }
    Ok(())
}

/// Deep-merges `layer` into `base` (tables merge, everything else replaces).
fn merge(base: &mut toml::Value, layer: toml::Value) {
    match (base, layer) {
        (toml::Value::Table(base), toml::Value::Table(layer)) => {
            for (k, v) in layer {
                match base.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        base.insert(k, v);
                    }
                }
            }
        }
        (base, layer) => *base = layer,
    }
}

/// Maps `STOWAGE_DATA_DIR` → `["data_dir"]`, `STOWAGE_STORAGE_DURABILITY` →
/// `["storage", "durability"]`, using the keys present in `config`.
fn env_key_path(config: &toml::Value, var: &str) -> Option<Vec<String>> {
    let rest = var.strip_prefix(ENV_PREFIX)?.to_ascii_lowercase();
    let table = config.as_table()?;
    for (key, value) in table {
        match value {
            toml::Value::Table(section) => {
                if let Some(inner) = rest.strip_prefix(&format!("{key}_")) {
                    if section.contains_key(inner) {
                        return Some(vec![key.clone(), inner.to_owned()]);
                    }
                }
            }
            _ if *key == rest => return Some(vec![key.clone()]),
            _ => {}
        }
    }
    // Keys absent from the defaults (optional ones).
    if rest == "public_base_url" {
        return Some(vec![rest]);
    }
    None
}

/// Sets `path` to `raw`, typed like the value it replaces (strings stay
/// strings; integers, floats and booleans are parsed — a bad one stays a
/// string so deserialization reports it).
fn set_path(config: &mut toml::Value, path: &[String], raw: &str) {
    let mut current = config;
    for (i, key) in path.iter().enumerate() {
        let Some(table) = current.as_table_mut() else {
            return;
        };
        if i + 1 == path.len() {
            let value = match table.get(key) {
                Some(toml::Value::Integer(_)) => raw
                    .parse::<i64>()
                    .map(toml::Value::Integer)
                    .unwrap_or_else(|_| toml::Value::String(raw.to_owned())),
                Some(toml::Value::Float(_)) => raw
                    .parse::<f64>()
                    .map(toml::Value::Float)
                    .unwrap_or_else(|_| toml::Value::String(raw.to_owned())),
                Some(toml::Value::Boolean(_)) => raw
                    .parse::<bool>()
                    .map(toml::Value::Boolean)
                    .unwrap_or_else(|_| toml::Value::String(raw.to_owned())),
                _ => toml::Value::String(raw.to_owned()),
            };
            table.insert(key.clone(), value);
            return;
        }
        current = match table.get_mut(key) {
            Some(v) => v,
            None => return,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn shipped_file_equals_the_defaults() {
        assert_eq!(Config::builtin().unwrap(), Config::default());
        // Every key is present in the file (nothing silently defaulted).
        let file: toml::Value = toml::from_str(DEFAULT_CONFIG_TOML).unwrap();
        let code = toml::Value::try_from(Config::default()).unwrap();
        assert_eq!(file, code);
    }

    #[test]
    fn layers_apply_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:1000\"\n[storage]\ndurability = \"never\"\n[engine]\nregion = \"eu-west-1\"\n",
        )
        .unwrap();
        let c = Config::load(
            Some(&path),
            env(&[
                ("STOWAGE_LISTEN", "127.0.0.1:2000"),
                ("STOWAGE_STORAGE_FSYNC_INTERVAL_MS", "7"),
                ("STOWAGE_DATA_DIR", "/tmp/x"),
                ("STOWAGE_LIMITS_MAX_CONNECTIONS", "5"),
                ("UNRELATED", "1"),
            ]),
            &Overrides {
                data_dir: Some("/tmp/y".into()),
                durability: Some("interval".into()),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(c.listen, "127.0.0.1:2000".parse().unwrap());
        assert_eq!(c.engine.region, "eu-west-1");
        assert_eq!(c.storage.fsync_interval_ms, 7);
        assert_eq!(c.limits.max_connections, 5);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/y"));
        assert_eq!(c.storage.durability, storage::Durability::Interval);
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(&path, "[storage]\nsegment_bytes = 5\n").unwrap();
        let err = Config::load(Some(&path), env(&[]), &Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("segment_bytes"), "{err}");

        std::fs::write(&path, "listen = \"nowhere\"\n").unwrap();
        let err = Config::load(Some(&path), env(&[]), &Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("listen"), "{err}");

        let err = Config::load(
            None,
            env(&[("STOWAGE_LIMITS_MAX_CONNECTIONS", "many")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("STOWAGE_LIMITS_MAX_CONNECTIONS"),
            "{err}"
        );

        let err = Config::load(
            None,
            env(&[]),
            &Overrides {
                durability: Some("sometimes".into()),
                ..Overrides::default()
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("--durability"), "{err}");

        let err = Config::load(
            None,
            env(&[("STOWAGE_STORAGE_SEGMENT_SIZE_BYTES", "10")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("segment_size_bytes"), "{err}");
    }

    #[test]
    fn metrics_on_a_non_loopback_address_need_credentials_or_allow_anonymous() {
        let exposed = Overrides {
            metrics_listen: Some("0.0.0.0:9325".into()),
            ..Overrides::default()
        };
        let err = Config::load(None, env(&[]), &exposed).unwrap_err();
        assert!(err.to_string().contains("metrics on 0.0.0.0:9325"), "{err}");
        assert!(Config::load(
            None,
            env(&[("STOWAGE_METRICS_LISTEN", "[::]:9325")]),
            &Overrides::default()
        )
        .is_err());
        for ok in ["127.0.0.1:9325", "[::1]:1", ""] {
            let o = Overrides {
                metrics_listen: Some(ok.into()),
                ..Overrides::default()
            };
            assert!(Config::load(None, env(&[]), &o).is_ok(), "{ok}");
        }
        let anonymous = Overrides {
            allow_anonymous: true,
            ..exposed.clone()
        };
        assert!(Config::load(None, env(&[]), &anonymous).is_ok());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(
            &path,
            "[metrics]\nlisten = \"0.0.0.0:9325\"\n[[auth.credentials]]\naccess_key_id = \"AK\"\n\
             secret_access_key = \"s\"\naccount_id = \"123456789012\"\n",
        )
        .unwrap();
        assert!(Config::load(Some(&path), env(&[]), &Overrides::default()).is_ok());
    }

    #[test]
    fn the_body_budget_holds_at_least_one_largest_request() {
        let err = Config::load(
            None,
            env(&[("STOWAGE_LIMITS_REQUEST_BODY_BUDGET_BYTES", "1000")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("request_body_budget_bytes"),
            "{err}"
        );
    }

    #[test]
    fn the_container_config_file_is_what_the_image_runs_with() {
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../deploy/docker/stowage.toml"
        ));
        // Without credentials, a non-loopback listener needs allow_anonymous.
        let err = Config::load(Some(path), env(&[]), &Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("allow_anonymous"), "{err}");
        let c = Config::load(
            Some(path),
            env(&[("STOWAGE_AUTH_ALLOW_ANONYMOUS", "true")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.listen, "0.0.0.0:9324".parse().unwrap());
        assert_eq!(c.metrics.listen, "0.0.0.0:9325");
        assert_eq!(c.data_dir, PathBuf::from("/data"));
        assert_eq!(c.log.format, LogFormat::Json);
    }

    #[test]
    fn dev_flag_relaxes_timing_and_durability() {
        let c = Config::load(
            None,
            env(&[]),
            &Overrides {
                dev: true,
                ..Overrides::default()
            },
        )
        .unwrap();
        assert!(!c.engine.strict_timing);
        assert_eq!(c.storage.durability, storage::Durability::Never);
        assert!(Config::default().engine.strict_timing);
    }

    #[test]
    fn queue_entries_with_unknown_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(
            &path,
            "[[queues]]\nname = \"orders\"\ndead_letter = { queue = \"d\", max_receive = 5 }\n",
        )
        .unwrap();
        let err = Config::load(Some(&path), env(&[]), &Overrides::default()).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("[[queues]] entry `orders`"), "{text}");
        assert!(text.contains("max_receive"), "{text}");
    }

    #[test]
    fn non_loopback_without_credentials_needs_allow_anonymous() {
        let o = Overrides {
            listen: Some("0.0.0.0:9324".parse().unwrap()),
            ..Overrides::default()
        };
        let err = Config::load(None, env(&[]), &o).unwrap_err();
        assert!(err.to_string().contains("allow_anonymous"), "{err}");
        let o = Overrides {
            allow_anonymous: true,
            ..o
        };
        assert!(Config::load(None, env(&[]), &o).is_ok());
        assert!(Config::load(
            None,
            env(&[
                ("STOWAGE_LISTEN", "0.0.0.0:1"),
                ("STOWAGE_AUTH_ALLOW_ANONYMOUS", "true")
            ]),
            &Overrides::default()
        )
        .is_ok());
    }
}
