//! `TestServer`: the real `stowage` binary on `127.0.0.1:0` with a temporary data directory,
//! stopped by PID (never by name) and always reaped, plus the aws-sdk-sqs client factory.
//!
//! `STOWAGE_TEST_BACKEND=postgres` starts every server over PostgreSQL instead (each on a
//! fresh database of the PostgreSQL server the engine's PgStore harness runs); tests about the
//! embedded store by nature step aside through [`embedded_store_only`].

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use aws_sdk_sqs::config::retry::RetryConfig;
use aws_sdk_sqs::config::timeout::TimeoutConfig;
use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};

/// How long a fresh server may take to print its `listening on` line (recovery included).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a SIGTERM'd server may take to exit.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// The PostgreSQL server and its test databases: the engine's PgStore harness (the same file,
/// one harness for both suites).
#[allow(
    dead_code,
    reason = "the harness also serves the engine's failover tests; these suites need databases only"
)]
#[path = "../../crates/engine/src/store/postgres/tests/server.rs"]
pub(crate) mod pg;

/// The account anonymous mode assigns.
pub(crate) const ACCOUNT: &str = "000000000000";

/// The store the servers of this run keep their queues in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Backend {
    /// The embedded WAL + sled store in the server's data directory (the default).
    Wal,
    /// PostgreSQL (`store.backend = "postgres"`), one fresh database per server.
    Postgres,
}

/// This run's backend: `STOWAGE_TEST_BACKEND` = `wal` (default) | `postgres`.
pub(crate) fn backend() -> Backend {
    match std::env::var("STOWAGE_TEST_BACKEND").as_deref() {
        Err(_) | Ok("") | Ok("wal") => Backend::Wal,
        Ok("postgres") => Backend::Postgres,
        Ok(other) => panic!("STOWAGE_TEST_BACKEND={other:?}: expected `wal` or `postgres`"),
    }
}

/// For tests about the embedded store by nature (its data directory, log, recovery,
/// compaction, backups): on a PostgreSQL run, prints `SKIPPED on PostgreSQL: <reason>` and
/// returns `true` (the test then returns); on the embedded store, `false`.
pub(crate) fn embedded_store_only(reason: &str) -> bool {
    if backend() == Backend::Postgres {
        eprintln!("SKIPPED on PostgreSQL: {reason}");
        return true;
    }
    false
}

/// A fresh database on the test PostgreSQL server (started on first use), from any context:
/// the harness's async client runs on a runtime of its own thread.
fn fresh_database() -> String {
    std::thread::spawn(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime to create a database")
            .block_on(pg::database())
    })
    .join()
    .expect("create a test database")
    .expect("STOWAGE_TEST_BACKEND=postgres needs PostgreSQL 15 (apt-get install postgresql)")
}

/// How to start the server.
#[derive(Clone, Debug)]
pub(crate) struct ServerOptions {
    /// `--durability` (never | interval | always).
    pub(crate) durability: &'static str,
    /// Extra command-line arguments.
    pub(crate) extra_args: Vec<String>,
    /// Extra environment variables.
    pub(crate) env: Vec<(String, String)>,
    /// A command the binary runs under (program and its arguments, e.g. `nsenter …`; the
    /// binary's path and arguments follow); empty: the binary runs directly.
    pub(crate) launcher: Vec<String>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            durability: "never",
            extra_args: Vec::new(),
            env: Vec::new(),
            launcher: Vec::new(),
        }
    }
}

impl ServerOptions {
    /// Options for tests that kill the server and count on acknowledged data.
    pub(crate) fn durable() -> Self {
        Self {
            durability: "always",
            ..Self::default()
        }
    }
}

/// A running `stowage` child process.
pub(crate) struct TestServer {
    child: Option<Child>,
    opts: ServerOptions,
    /// Owns `data/` (the data dir) and `logs/` (stderr of each start), removed on drop.
    root: tempfile::TempDir,
    /// On a PostgreSQL run: this server's database (kept across restarts).
    database: Option<String>,
    addr: SocketAddr,
    starts: u32,
}

/// Path of the `stowage` binary: `$STOWAGE_BIN`, else next to this test executable.
pub(crate) fn stowage_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("STOWAGE_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("current_exe");
    // target/debug/deps/it-<hash> → target/debug/stowage
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable has no grandparent directory");
    dir.join(format!("stowage{}", std::env::consts::EXE_SUFFIX))
}

impl TestServer {
    /// Starts the server with default options (durability `never`).
    pub(crate) fn start_default() -> Self {
        Self::start(ServerOptions::default())
    }

    /// Starts the server in a fresh temporary data directory and waits until it is listening.
    pub(crate) fn start(opts: ServerOptions) -> Self {
        Self::start_prepared(opts, |data| {
            std::fs::create_dir_all(data).expect("create data dir")
        })
    }

    /// Like [`TestServer::start`], but `prepare` first fills the data directory, a path that
    /// does not exist yet (e.g. by restoring a backup into it).
    pub(crate) fn start_prepared(opts: ServerOptions, prepare: impl FnOnce(&Path)) -> Self {
        let root = tempfile::Builder::new()
            .prefix("stowage-it-")
            .tempdir()
            .expect("create temp dir");
        prepare(&root.path().join("data"));
        std::fs::create_dir_all(root.path().join("logs")).expect("create logs dir");
        // A test that chooses its store itself (the multi-node tests) keeps its choice.
        let chooses_store = opts.env.iter().any(|(k, _)| k == "STOWAGE_STORE_BACKEND");
        let database = (backend() == Backend::Postgres && !chooses_store).then(fresh_database);
        let mut server = Self {
            child: None,
            opts,
            root,
            database,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            starts: 0,
        };
        server.spawn();
        server
    }

    /// Runs the binary once more on this server's data directory (while this one may still
    /// be running) and waits up to `timeout` for it to exit; kills it if it does not.
    /// Returns the exit status (`None` if it had to be killed) and its stderr.
    #[allow(dead_code, reason = "used by some test binaries only")]
    pub(crate) fn run_second_instance(&self, timeout: Duration) -> (Option<ExitStatus>, String) {
        let log = self.root.path().join("logs").join("second-instance.log");
        let mut child = Command::new(stowage_bin())
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--metrics-listen")
            .arg("")
            .arg("--data-dir")
            .arg(self.data_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                std::fs::File::create(&log).expect("create log file"),
            ))
            .spawn()
            .expect("spawn second instance");
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        (status, std::fs::read_to_string(&log).unwrap_or_default())
    }

    /// The data directory (survives restarts).
    pub(crate) fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    fn log_path(&self, start: u32) -> PathBuf {
        self.root
            .path()
            .join("logs")
            .join(format!("stderr-{start}.log"))
    }

    fn spawn(&mut self) {
        let rx = self.launch();
        self.wait_listening(&rx);
    }

    /// Starts the child (recovery begins) and SIGKILLs it `after` later, whether or not it
    /// is listening by then: a crash during recovery. Returns whether it was listening.
    #[allow(dead_code, reason = "used by the crash test binary only")]
    pub(crate) fn kill9_during_start(&mut self, after: Duration) -> bool {
        let rx = self.launch();
        std::thread::sleep(after);
        let listening = rx.try_recv().is_ok();
        self.kill9();
        listening
    }

    /// Spawns the child; the receiver gets its `listening on` line.
    fn launch(&mut self) -> mpsc::Receiver<String> {
        assert!(self.child.is_none(), "server is already running");
        let bin = stowage_bin();
        assert!(
            bin.is_file(),
            "stowage binary not found at {}: run `cargo build --bins` first (or set STOWAGE_BIN)",
            bin.display()
        );
        self.starts += 1;
        let log = std::fs::File::create(self.log_path(self.starts)).expect("create log file");
        let mut cmd = match self.opts.launcher.split_first() {
            Some((program, args)) => {
                let mut cmd = Command::new(program);
                cmd.args(args).arg(&bin);
                cmd
            }
            None => Command::new(&bin),
        };
        // No separate metrics listener unless a test asks for one: its default fixed port
        // would collide between parallel test servers.
        if !self
            .opts
            .extra_args
            .iter()
            .any(|a| a.starts_with("--metrics-listen"))
        {
            cmd.arg("--metrics-listen").arg("");
        }
        cmd.arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(self.data_dir())
            .arg("--durability")
            .arg(self.opts.durability)
            .args(&self.opts.extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        // Hermetic: no STOWAGE_* configuration leaks in from the developer's shell (nor the
        // test suite's own STOWAGE_BIN / STOWAGE_SKIP_PY / STOWAGE_CRASH_* switches).
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("STOWAGE_") {
                cmd.env_remove(&key);
            }
        }
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
        }
        if let Some(url) = &self.database {
            cmd.env("STOWAGE_STORE_BACKEND", "postgres")
                .env("STOWAGE_STORE_POSTGRES_URL", url)
                .env("STOWAGE_STORE_POSTGRES_POOL_SIZE", "4");
        }
        for (k, v) in &self.opts.env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel::<String>();
        // Reads the announcement, then keeps draining stdout so the child never blocks on it.
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let mut sent = false;
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if !sent && line.starts_with("listening on ") {
                            sent = true;
                            let _ = tx.send(line.trim_end().to_string());
                        }
                    }
                }
            }
        });
        self.child = Some(child);
        rx
    }

    fn wait_listening(&mut self, rx: &mpsc::Receiver<String>) {
        let deadline = Instant::now() + START_TIMEOUT;
        let line = loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(line) => break line,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    self.fail_start("closed stdout without printing `listening on`")
                }
            }
            if let Some(status) = self.child_mut().try_wait().expect("try_wait") {
                self.fail_start(&format!("exited with {status} before listening"));
            }
            if Instant::now() > deadline {
                self.fail_start("did not print `listening on` in time");
            }
        };
        let addr_text = line.trim_start_matches("listening on ").trim();
        match addr_text.parse() {
            Ok(addr) => self.addr = addr,
            Err(e) => self.fail_start(&format!("bad announcement {line:?}: {e}")),
        }
    }

    fn fail_start(&mut self, what: &str) -> ! {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "stowage (start #{}) {what}\n--- server stderr ---\n{}",
            self.starts,
            self.stderr_of(self.starts)
        );
    }

    fn child_mut(&mut self) -> &mut Child {
        self.child.as_mut().expect("server is not running")
    }

    fn stderr_of(&self, start: u32) -> String {
        std::fs::read_to_string(self.log_path(start)).unwrap_or_default()
    }

    /// All stderr output of every start so far.
    pub(crate) fn stderr(&self) -> String {
        (1..=self.starts)
            .map(|n| format!("--- start #{n} ---\n{}", self.stderr_of(n)))
            .collect()
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The child's PID.
    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().expect("server is not running").id()
    }

    /// Whether the child is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => child.try_wait().expect("try_wait").is_none(),
            None => false,
        }
    }

    /// SIGKILL by PID and reap.
    pub(crate) fn kill9(&mut self) {
        let mut child = self.child.take().expect("server is not running");
        // Child::kill sends SIGKILL to exactly this PID.
        let _ = child.kill();
        let _ = child.wait();
    }

    /// SIGTERM by PID, wait for the exit and return its status.
    pub(crate) fn terminate(&mut self) -> ExitStatus {
        let pid = self.pid();
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .expect("run kill -TERM");
        assert!(status.success(), "kill -TERM {pid} failed");
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            if let Some(status) = self.child_mut().try_wait().expect("try_wait") {
                self.child = None;
                return status;
            }
            if Instant::now() > deadline {
                self.kill9();
                panic!(
                    "stowage did not exit within {STOP_TIMEOUT:?} of SIGTERM\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts the server again on the same data directory (new port; the endpoint changes).
    pub(crate) fn restart(&mut self) {
        if self.child.is_some() {
            let status = self.terminate();
            assert!(status.success(), "graceful stop exited with {status}");
        }
        self.spawn();
    }

    /// An aws-sdk-sqs client for this server.
    pub(crate) fn client(&self) -> aws_sdk_sqs::Client {
        sdk_client(&self.endpoint())
    }

    /// The URL this server gives a queue of the anonymous account.
    pub(crate) fn queue_url(&self, name: &str) -> String {
        format!("{}/{ACCOUNT}/{name}", self.endpoint())
    }

    /// A plain HTTP/1.1 request (Connection: close) to this server.
    pub(crate) fn http(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> RawResponse {
        http_request(self.addr, method, path, headers, body)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "=== stowage stderr (data dir {}) ===\n{}",
                self.data_dir().display(),
                self.stderr()
            );
        }
    }
}

/// An aws-sdk-sqs client with static test credentials, region us-east-1, no retries (so a
/// server error is seen, not retried away) and bounded timeouts.
pub(crate) fn sdk_client(endpoint: &str) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "test",
            "test",
            None,
            None,
            "stowage-tests",
        ))
        .endpoint_url(endpoint)
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_timeout(Duration::from_secs(40))
                .build(),
        )
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

/// A response read by [`http_request`].
#[derive(Debug)]
pub(crate) struct RawResponse {
    /// HTTP status code.
    pub(crate) status: u16,
    /// Headers, names lower-cased.
    pub(crate) headers: Vec<(String, String)>,
    /// Body (de-chunked).
    pub(crate) body: Vec<u8>,
}

impl RawResponse {
    /// First header with this (lower-case) name.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Minimal HTTP/1.1 client over `std::net` for requests the SDKs cannot make (health checks,
/// hand-built protocol requests). Sends `Connection: close` and reads to EOF.
pub(crate) fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> RawResponse {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(40)))
        .expect("set timeout");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(req.as_bytes()).expect("write request");
    stream.write_all(body).expect("write body");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    parse_response(&raw)
}

/// Parses a raw HTTP/1.1 response (status, headers, de-chunked body).
pub(crate) fn parse_response(raw: &[u8]) -> RawResponse {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response has no header terminator");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut rest = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    if chunked {
        rest = dechunk(&rest);
    }
    RawResponse {
        status,
        headers,
        body: rest,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let size_hex = size_text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16).expect("chunk size");
        data = &data[eol + 2..];
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
    out
}
