//! `[console]`: where the web console is served and what it may do.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::auth::AuthConfig;

/// `[console]` configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Serve the web console. Default: true.
    pub enabled: bool,
    /// Own listener for the console (IP:PORT); empty: the console is served
    /// at `/console/` on the API listener. Default: empty.
    pub listen: String,
    /// Refuse every state-changing action (send, purge, delete, edit,
    /// redrive, create); browsing and peeking stay. Default: false.
    pub read_only: bool,
    /// A console session ends after this many seconds without a request.
    /// Default: 3600.
    pub session_idle_timeout_secs: u64,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            enabled: true,
            listen: String::new(),
            read_only: false,
            session_idle_timeout_secs: 3600,
        }
    }
}

impl ConsoleConfig {
    /// The console's own listener address, if one is configured.
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        self.listen.parse().ok()
    }

    /// Checks the address and the timeout, and applies the API's safety rule
    /// to the console's own listener: no non-loopback address without
    /// credentials unless `auth.allow_anonymous` (even then, anonymous
    /// console requests are accepted from loopback peers only).
    pub fn validate(&self, auth: &AuthConfig) -> Result<(), String> {
        if self.session_idle_timeout_secs == 0 {
            return Err("console.session_idle_timeout_secs must be at least 1".into());
        }
        if self.listen.is_empty() {
            return Ok(());
        }
        let Some(addr) = self.listen_addr() else {
            return Err(format!(
                "console.listen `{}` is not an address (IP:PORT)",
                self.listen
            ));
        };
        if !addr.ip().is_loopback() && auth.credentials.is_empty() && !auth.allow_anonymous {
            return Err(format!(
                "refusing to serve the console on {addr} without credentials: configure \
                 [[auth.credentials]] or set auth.allow_anonymous = true"
            ));
        }
        Ok(())
    }
}
