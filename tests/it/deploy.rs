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

#[test]
fn the_binary_reports_the_release_version_and_the_changelog_has_it() {
    let out = Command::new(stowage_bin())
        .arg("-V")
        .output()
        .expect("run stowage -V");
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("stowage {version}")
    );
    assert_ne!(version, "0.0.0");
    let changelog =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../CHANGELOG.md"))
            .expect("CHANGELOG.md");
    assert!(
        changelog.contains(&format!("## [{version}]")),
        "CHANGELOG.md has no entry for {version}"
    );
}
