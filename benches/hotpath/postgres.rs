//! The PostgreSQL server of the `pg1` / `pg2` targets: Debian's
//! PostgreSQL 15 started by the engine's PgStore test harness (the same
//! file: `initdb` + `pg_ctl` in a temporary directory on a free loopback
//! port, as an unprivileged user when run as root, a watchdog that stops it
//! by PID if this process dies), but with its durability on — `fsync`,
//! `full_page_writes` and `synchronous_commit` as a production server has
//! them, since the embedded store it is compared with acknowledges after
//! `fdatasync`. Stopped by PID, and its directory removed, when dropped.

use std::process::Stdio;

/// The engine's PostgreSQL test harness.
#[allow(
    dead_code,
    clippy::expect_used,
    clippy::unwrap_used,
    reason = "the harness serves the engine's tests, where it may panic on a broken set-up; \
              the benchmark needs its server only"
)]
#[path = "../../crates/engine/src/store/postgres/tests/server.rs"]
mod harness;

/// Settings on top of the harness's (later `-c` settings win): durable
/// commits, and a buffer cache of a modest production size.
const DURABLE: [&str; 4] = [
    "fsync=on",
    "full_page_writes=on",
    "synchronous_commit=on",
    "shared_buffers=128MB",
];

/// A running PostgreSQL server.
pub(crate) struct Postgres {
    server: harness::PgServer,
}

impl Postgres {
    /// Starts a fresh server; `Err` (why) when PostgreSQL is not installed.
    pub(crate) fn start() -> Result<Postgres, String> {
        if !harness::available() {
            return Err("PostgreSQL 15 is not installed (set STOWAGE_PG_BIN to its bin directory, or apt-get install postgresql)".into());
        }
        let server = harness::PgServer::create();
        server.init();
        server.start(&DURABLE);
        Ok(Postgres { server })
    }

    /// Creates database `name`; returns its URL.
    pub(crate) fn database(&self, name: &str) -> String {
        let status = self
            .server
            .tool("createdb")
            .args(["-h", "127.0.0.1", "-p", &self.server.port.to_string()])
            .args(["-U", "postgres", name])
            .stdout(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("createdb {name}: {e}"));
        assert!(status.success(), "createdb {name} failed");
        self.server.url(name)
    }

    /// The postmaster's PID (its backends are its children).
    pub(crate) fn pid(&self) -> Option<u32> {
        self.server.pid()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.server.stop();
    }
}
