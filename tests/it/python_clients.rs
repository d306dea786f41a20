//! The Python scenario (`tests/clients/scenario.py`) through current boto3 (AWS JSON 1.0) and
//! through an old pinned botocore that speaks Query/XML, each in its venv from
//! `tests/clients/setup.sh`. `STOWAGE_SKIP_PY=1` skips these tests.

use std::path::PathBuf;
use std::process::Command;

use crate::harness::TestServer;

/// Whether the Python-based tests are switched off.
pub(crate) fn skip_python() -> bool {
    std::env::var("STOWAGE_SKIP_PY").is_ok_and(|v| v == "1")
}

/// Root of the workspace.
pub(crate) fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `target/venvs/<name>` (or `$STOWAGE_VENVS/<name>`), checked to exist.
pub(crate) fn venv(name: &str) -> PathBuf {
    let base = std::env::var_os("STOWAGE_VENVS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target").join("venvs"));
    let dir = base.join(name);
    assert!(
        dir.join("bin").join("python").is_file(),
        "Python venv {} is missing: run tests/clients/setup.sh (or set STOWAGE_SKIP_PY=1)",
        dir.display()
    );
    dir
}

fn run_scenario(venv_name: &str, protocol: &str) {
    run_script("scenario.py", "scenario", venv_name, protocol);
}

/// Runs `tests/clients/<script>` against a fresh server; it must exit 0 and print
/// `<done> <protocol>: OK`.
fn run_script(script: &str, done: &str, venv_name: &str, protocol: &str) {
    if skip_python() {
        eprintln!("STOWAGE_SKIP_PY=1: skipping {script} over {protocol}");
        return;
    }
    let python = venv(venv_name).join("bin").join("python");
    let server = TestServer::start_default();
    let script = workspace_root().join("tests").join("clients").join(script);
    let out = Command::new(&python)
        .arg(&script)
        .arg(server.endpoint())
        .arg(protocol)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_SQS")
        .output()
        .expect("run python");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{protocol} {} failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        script.display(),
        out.status
    );
    assert!(
        stdout.contains(&format!("{done} {protocol}: OK")),
        "{stdout}"
    );
}

#[test]
fn boto3_current_json_protocol() {
    run_scenario("current", "json");
}

#[test]
fn botocore_legacy_query_protocol() {
    run_scenario("legacy", "query");
}

/// Characters XML forbids are refused in every stored field (Defect 5 of the hardening
/// issue), and Query answers stay parseable by botocore's XML parser.
#[test]
fn forbidden_characters_current_json_protocol() {
    run_script(
        "forbidden_chars.py",
        "forbidden characters",
        "current",
        "json",
    );
}

/// The same through the legacy botocore that speaks Query/XML.
#[test]
fn forbidden_characters_legacy_query_protocol() {
    run_script(
        "forbidden_chars.py",
        "forbidden characters",
        "legacy",
        "query",
    );
}
