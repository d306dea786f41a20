//! The `stowage` binary: command line → configuration layers → logging →
//! [`server::run`].
// The doc comments of the CLI types below are clap's `--help` text, written for a
// terminal (placeholders like STOWAGE_<KEY>, bare URLs), not for rustdoc.
#![allow(rustdoc::invalid_html_tags, rustdoc::bare_urls)]

use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use server::cli;
use server::config::{Config, LogFormat, Overrides, DEFAULT_CONFIG_TOML};

/// mimalloc instead of the system allocator: per-thread free lists without
/// glibc's arena locks and consolidation (see benches/README.md, "Hot path").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Stowage: a durable message broker that speaks the Amazon SQS API.
///
/// Configuration layers, lowest first: built-in defaults (see
/// `stowage print-default-config`) ← --config FILE ← environment variables
/// STOWAGE_<KEY> / STOWAGE_<SECTION>_<KEY> (e.g. STOWAGE_LISTEN,
/// STOWAGE_DATA_DIR, STOWAGE_STORAGE_DURABILITY, STOWAGE_METRICS_LISTEN) ←
/// the flags below.
///
/// Prints `listening on ADDR` on stdout once the API is bound; logs go to
/// stderr. SIGTERM / SIGINT shut down gracefully.
#[derive(Debug, Parser)]
#[command(name = "stowage", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Configuration file (TOML; same keys as the default file).
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// Address of the SQS API, IP:PORT (port 0 picks a free port). [default: 127.0.0.1:9324]
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Data directory (write-ahead log and index). [default: ./data]
    #[arg(long, value_name = "DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// Address of the Prometheus /metrics endpoint, IP:PORT; "" disables it. [default: 127.0.0.1:9325]
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<String>,
    /// When sends are acknowledged: always (after fsync), interval, never. [default: always]
    #[arg(long, value_name = "MODE")]
    durability: Option<String>,
    /// Log filter, e.g. info, debug, server=debug,info. [default: info]
    #[arg(long, value_name = "FILTER")]
    log_level: Option<String>,
    /// Log format: human or json. [default: human]
    #[arg(long, value_name = "FORMAT")]
    log_format: Option<String>,
    /// Base of the queue URLs given to clients, e.g. http://sqs.internal:9324
    /// (default: taken from each request's Host header).
    #[arg(long, value_name = "URL")]
    public_base_url: Option<String>,
    /// Allow listening on a non-loopback address without credentials.
    #[arg(long)]
    allow_anonymous: bool,
    /// Development mode: engine.strict_timing = false (no 60 s guards on
    /// recreate and purge) and storage.durability = never.
    #[arg(long)]
    dev: bool,
    /// Start although the write-ahead log is damaged, discarding what the
    /// damage makes unreachable: a corrupt frame in the last segment is cut
    /// there (with every record after it), missing segments are accepted.
    /// What was discarded is logged and counted in
    /// stowage_recovery_dropped_records. Same as storage.repair = true. For
    /// one start, after deciding to accept the loss (see README, Operations).
    #[arg(long)]
    repair_wal: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the server (the default).
    Serve,
    /// Print the built-in default configuration (commented TOML) and exit.
    PrintDefaultConfig,
    /// List queues (`queues list`) or show their counts (`queues stats`).
    Queues(cli::queues::Args),
    /// Show messages without receiving them (no visibility or count change).
    Peek(cli::peek::Args),
    /// Purge a queue.
    Purge(cli::purge::Args),
    /// Move a dead-letter queue's messages back to their sources (or --to).
    Redrive(cli::redrive::Args),
    /// Write queues and their messages as JSON lines (export format v1).
    Export(cli::export::Args),
    /// Create queues and send messages from an export file.
    Import(cli::import::Args),
    /// Verify a stopped broker's data directory (frames, CRCs, segment set, index).
    Check(cli::check::CheckArgs),
    /// Copy the data directory consistently into DIR (online: the server keeps serving).
    Backup(cli::backup::Args),
    /// Put a verified backup in place of a stopped broker's --data-dir (the old one is kept).
    Restore(cli::restore::Args),
}

fn init_tracing(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match config.log.format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> ExitCode {
    // First: fixes the start time behind the uptime gauge and installs the recorder.
    server::metrics::install();
    let cli = Cli::parse();
    let overrides = Overrides {
        listen: cli.listen,
        data_dir: cli.data_dir,
        metrics_listen: cli.metrics_listen,
        durability: cli.durability,
        log_level: cli.log_level,
        log_format: cli.log_format,
        public_base_url: cli.public_base_url,
        allow_anonymous: cli.allow_anonymous,
        dev: cli.dev,
    };
    let file = cli.config.as_deref();
    match cli.command {
        None | Some(Command::Serve) => {}
        Some(Command::PrintDefaultConfig) => {
            print!("{DEFAULT_CONFIG_TOML}");
            return ExitCode::SUCCESS;
        }
        Some(Command::Queues(c)) => return cli::main(c, file, &overrides),
        Some(Command::Peek(c)) => return cli::main(c, file, &overrides),
        Some(Command::Purge(c)) => return cli::main(c, file, &overrides),
        Some(Command::Redrive(c)) => return cli::main(c, file, &overrides),
        Some(Command::Export(c)) => return cli::main(c, file, &overrides),
        Some(Command::Import(c)) => return cli::main(c, file, &overrides),
        Some(Command::Check(c)) => return cli::check::run(&c),
        Some(Command::Backup(c)) => return cli::main(c, file, &overrides),
        Some(Command::Restore(c)) => return cli::restore::run(&c, file, &overrides),
    }
    let mut config = match Config::load(file, std::env::vars(), &overrides) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("stowage: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    config.storage.repair |= cli.repair_wal;
    init_tracing(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("stowage: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(server::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("stowage: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
