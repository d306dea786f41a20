//! A throwaway PostgreSQL 15 for the tests: `initdb` + `pg_ctl` in a
//! temporary directory on a free loopback port, run as an unprivileged
//! user when the tests run as root (PostgreSQL refuses root). One server
//! per test process (started on first use), one database per test. A
//! watchdog shell stops the server by PID (immediate shutdown, then
//! SIGKILL) and removes its directory as soon as the test process is gone,
//! whatever way it ends, so no process is left behind.
//!
//! When PostgreSQL is not installed the tests are skipped with a message,
//! unless `STOWAGE_REQUIRE_POSTGRES=1` (CI) makes that a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// The unprivileged user servers run as when the tests run as root.
const USER: &str = "stowage-pg";

fn bin_dir() -> PathBuf {
    std::env::var_os("STOWAGE_PG_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"))
}

/// Is PostgreSQL there? Prints why not (or fails under CI).
pub(crate) fn available() -> bool {
    if bin_dir().join("pg_ctl").exists() {
        return true;
    }
    let message = format!(
        "SKIPPED: PostgreSQL 15 is not installed ({} missing; apt-get install postgresql)",
        bin_dir().join("pg_ctl").display()
    );
    if std::env::var("STOWAGE_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
        panic!("{message}, and STOWAGE_REQUIRE_POSTGRES=1");
    }
    eprintln!("{message}");
    false
}

fn output(command: &mut Command) -> String {
    let out = command.output().expect("run a command");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The user to run PostgreSQL as (`None`: the current one), created if needed.
fn run_as() -> Option<(String, u32, u32)> {
    if output(Command::new("id").arg("-u")) != "0" {
        return None;
    }
    let exists = Command::new("id")
        .arg("-u")
        .arg(USER)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !exists {
        let _ = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                USER,
            ])
            .status();
    }
    let uid = output(Command::new("id").arg("-u").arg(USER))
        .parse()
        .expect("uid");
    let gid = output(Command::new("id").arg("-g").arg(USER))
        .parse()
        .expect("gid");
    Some((USER.to_string(), uid, gid))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running PostgreSQL cluster.
pub(crate) struct PgServer {
    /// Its directory (data in `data/`, log in `log`, socket in the directory).
    pub(crate) dir: PathBuf,
    /// Loopback port.
    pub(crate) port: u16,
    user: Option<(String, u32, u32)>,
}

impl PgServer {
    /// A command running `tool` as the server's user.
    pub(crate) fn tool(&self, tool: &str) -> Command {
        let path = bin_dir().join(tool);
        match &self.user {
            Some((user, _, _)) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(path);
                c
            }
            None => Command::new(path),
        }
    }

    /// The data directory.
    pub(crate) fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// A new, empty cluster directory (not started). `data` may be filled
    /// by the caller (e.g. `pg_basebackup`) instead of `initdb`.
    pub(crate) fn create() -> PgServer {
        let user = run_as();
        let dir = tempfile::Builder::new()
            .prefix("stowage-pg-")
            .tempdir()
            .expect("temp dir")
            .keep();
        if let Some((_, uid, gid)) = &user {
            std::os::unix::fs::chown(&dir, Some(*uid), Some(*gid)).expect("chown");
        }
        PgServer {
            dir,
            port: free_port(),
            user,
        }
    }

    /// `initdb`.
    pub(crate) fn init(&self) {
        let status = self
            .tool("initdb")
            .arg("-D")
            .arg(self.data())
            .args([
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ])
            .stdout(Stdio::null())
            .status()
            .expect("initdb");
        assert!(status.success(), "initdb failed");
    }

    /// Starts the server with extra `-c` settings and waits until it
    /// accepts connections; arms the watchdog.
    pub(crate) fn start(&self, settings: &[&str]) {
        let mut options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=400 \
             -c shared_buffers=32MB -c fsync=off -c full_page_writes=off",
            self.port,
            self.dir.display()
        );
        for s in settings {
            options.push_str(" -c ");
            options.push_str(s);
        }
        let status = self
            .tool("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .arg("-l")
            .arg(self.dir.join("log"))
            .args(["-w", "-t", "120", "-o", &options, "start"])
            .stdout(Stdio::null())
            .status()
            .expect("pg_ctl start");
        assert!(
            status.success(),
            "pg_ctl start failed: see {}/log",
            self.dir.display()
        );
        self.watch();
    }

    /// The postmaster's PID.
    pub(crate) fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.data().join("postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    fn watch(&self) {
        let Some(pid) = self.pid() else { return };
        let script = format!(
            "while kill -0 {me} 2>/dev/null && kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             kill -QUIT {pid} 2>/dev/null; sleep 2; kill -9 {pid} 2>/dev/null; \
             kill -0 {me} 2>/dev/null || rm -rf {dir}",
            me = std::process::id(),
            dir = self.dir.display(),
        );
        // In its own session: it outlives a killed process group.
        let _ = Command::new("setsid")
            .arg("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }

    /// Kills the server with SIGKILL: the postmaster and each of its
    /// children by PID (a crash of the machine, as the clients see it).
    pub(crate) fn kill_9(&self) {
        let Some(pid) = self.pid() else { return };
        let children = output(Command::new("ps").args(["-o", "pid=", "--ppid", &pid.to_string()]));
        let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
        for child in children.split_whitespace() {
            let _ = Command::new("kill")
                .arg("-9")
                .arg(child)
                .stderr(Stdio::null())
                .status();
        }
        wait_gone(pid);
    }

    /// Stops the server by PID (immediate shutdown) and removes its directory.
    pub(crate) fn stop(&self) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill")
                .arg("-QUIT")
                .arg(pid.to_string())
                .status();
            wait_gone(pid);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// `postgres://postgres@127.0.0.1:<port>/<db>`.
    pub(crate) fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }
}

/// Waits until a process is gone (SIGKILL after 10 s).
fn wait_gone(pid: u32) {
    for _ in 0..100 {
        if !Path::new(&format!("/proc/{pid}")).exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
}

static SHARED: OnceLock<PgServer> = OnceLock::new();
static DATABASES: AtomicU32 = AtomicU32::new(0);

/// The process's shared server.
fn shared() -> &'static PgServer {
    SHARED.get_or_init(|| {
        let server = PgServer::create();
        server.init();
        server.start(&[]);
        server
    })
}

/// A fresh database on the shared server (`None`: PostgreSQL missing), or
/// on the server `STOWAGE_TEST_POSTGRES` names (a URL of its `postgres`
/// database: another PostgreSQL-protocol server, or one kept for inspection).
pub(crate) async fn database() -> Option<String> {
    let admin = match std::env::var("STOWAGE_TEST_POSTGRES") {
        Ok(url) => url,
        Err(_) => {
            if !available() {
                return None;
            }
            let server = tokio::task::spawn_blocking(shared)
                .await
                .expect("start PostgreSQL");
            server.url("postgres")
        }
    };
    let name = format!(
        "t{}_{}",
        std::process::id(),
        DATABASES.fetch_add(1, Ordering::Relaxed)
    );
    let (client, connection) = tokio_postgres::connect(&admin, tokio_postgres::NoTls)
        .await
        .expect("connect to the test server");
    tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create a test database");
    let (base, _) = admin.rsplit_once('/').expect("a URL ending in /<database>");
    Some(format!("{base}/{name}"))
}
