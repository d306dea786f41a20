//! `stowage check --data-dir DIR [--repair]`: offline verification of a
//! stopped broker's data directory (`storage::check::check`): segment
//! headers, every frame (length, CRC, tags, LSN continuity, decoding), the
//! segment set against its manifest, and the index against the log.
//!
//! Prints one line per finding on stdout. Exit status: 0 when nothing was
//! found (or `--repair` fixed everything found), 1 when something was found
//! (and not repaired), 2 when the directory could not be checked (missing,
//! locked by a running broker, I/O error).
//!
//! `--repair` repairs only what a crash legitimately leaves behind (a torn
//! tail, a half-created or half-reclaimed segment, a stale index) by
//! running the same recovery as a start. Damage (a corrupt frame, a missing
//! segment) is never repaired here: restore from a backup, or accept the
//! loss explicitly with `stowage --repair-wal`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use storage::check::{check, CheckReport};
use storage::{Storage, StorageConfig};

/// `stowage check` arguments.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Data directory of a stopped broker.
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// Repair what a crash leaves behind (torn tail, half-created or
    /// half-reclaimed segment, stale index); never damage.
    #[arg(long)]
    repair: bool,
}

/// Prints the summary line and one line per finding (`crash leftover: …`
/// or `DAMAGE: …`) on stdout.
pub(crate) fn print_report(dir: &Path, report: &CheckReport) {
    println!(
        "checked {}: {} segment(s), {} record(s), last LSN {}",
        dir.display(),
        report.segments,
        report.records,
        report
            .last_lsn
            .map_or_else(|| "none".to_string(), |l| l.to_string())
    );
    for finding in &report.findings {
        let kind = if finding.is_crash_leftover() {
            "crash leftover"
        } else {
            "DAMAGE"
        };
        println!("{kind}: {finding}");
    }
}

/// Runs the check; returns the process exit status.
pub fn run(args: &CheckArgs) -> ExitCode {
    let report = match check(&args.data_dir) {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "stowage check: cannot check {}: {e}",
                args.data_dir.display()
            );
            return ExitCode::from(2);
        }
    };
    print_report(&args.data_dir, &report);
    if report.is_clean() {
        println!("ok");
        return ExitCode::SUCCESS;
    }
    if !report.only_crash_leftovers() {
        println!(
            "the data directory is damaged; restore it from a backup, or accept the loss with \
             `stowage --repair-wal` (discards what the damage makes unreachable)"
        );
        return ExitCode::from(1);
    }
    if !args.repair {
        println!("only crash leftovers found: `stowage check --repair` (or a start) fixes them");
        return ExitCode::from(1);
    }
    // The same recovery as a start: cuts the torn tail, removes leftovers,
    // rebuilds a stale index.
    match Storage::open(&args.data_dir, &StorageConfig::default()) {
        Ok((storage, recovered)) => {
            drop(storage);
            println!(
                "repaired: cut {} byte(s), discarded {} incomplete record(s){}",
                recovered.truncated_bytes,
                recovered.dropped_records,
                if recovered.index_rebuilt {
                    ", rebuilt the index"
                } else {
                    ""
                }
            );
        }
        Err(e) => {
            eprintln!("stowage check: repair failed: {e}");
            return ExitCode::from(2);
        }
    }
    match check(&args.data_dir) {
        Ok(after) if after.is_clean() => {
            println!("ok");
            ExitCode::SUCCESS
        }
        Ok(after) => {
            print_report(&args.data_dir, &after);
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!(
                "stowage check: cannot re-check {}: {e}",
                args.data_dir.display()
            );
            ExitCode::from(2)
        }
    }
}
