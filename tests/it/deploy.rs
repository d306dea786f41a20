//! deploy/ followed literally: the systemd unit's install steps and ExecStart, run as an
//! unprivileged uid (deploy/test-systemd-layout.sh does the work; it needs root).

use std::process::Command;

use crate::harness::stowage_bin;

#[test]
fn systemd_layout_runs_the_binary_as_an_unprivileged_uid() {
    let uid = Command::new("id").arg("-u").output().expect("run id -u");
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        eprintln!("skipped: deploy/test-systemd-layout.sh needs root (CI runs as root)");
        return;
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../deploy/test-systemd-layout.sh"
    );
    let out = Command::new("bash")
        .arg(script)
        .arg(stowage_bin())
        .output()
        .expect("run deploy/test-systemd-layout.sh");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
