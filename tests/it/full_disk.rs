//! A real full disk, end to end: the data directory is a small tmpfs mounted in a private
//! mount namespace (`unshare -m`, so nothing outside the test sees it; needs root or
//! CAP_SYS_ADMIN — the test says so and is skipped where namespaces are not allowed). Sends
//! fill it until the log refuses writes; then clients get 503 ServiceUnavailable naming the
//! full disk (SDKs retry it), the actions that write nothing keep working, /health/live fails.
//! The operator's path — free space, restart — brings everything back with nothing
//! acknowledged lost.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use aws_sdk_sqs::types::QueueAttributeName;

use crate::common::*;
use crate::harness::{embedded_store_only, ServerOptions, TestServer};

/// Size of the data directory's file system at first.
const SMALL: &str = "6m";
/// Its size once the "operator" has freed space.
const LARGE: &str = "64m";

/// A process that holds a private mount namespace with a tmpfs mounted on a directory;
/// killed by PID (and reaped) on drop, which ends the namespace and the mount.
struct MountNamespace {
    holder: Child,
    dir: String,
}

impl MountNamespace {
    /// Mounts a `size` tmpfs on `dir` inside a new mount namespace, or says why it cannot.
    fn tmpfs(dir: &Path, size: &str) -> Result<MountNamespace, String> {
        let dir = dir.display().to_string();
        let mut holder = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "--", "sh", "-c"])
            .arg(
                "mount -t tmpfs -o size=\"$1\" stowage-full-disk-test \"$2\" || exit 1; \
                 echo mounted; exec sleep 3600",
            )
            .args(["sh", size, &dir])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run unshare: {e}"))?;
        let mut line = String::new();
        let stdout = holder.stdout.take().expect("piped stdout");
        let _ = BufReader::new(stdout).read_line(&mut line);
        if line.trim() != "mounted" {
            let _ = holder.kill();
            let out = holder.wait_with_output().map_err(|e| e.to_string())?;
            return Err(format!(
                "cannot mount a tmpfs in a private mount namespace: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(MountNamespace { holder, dir })
    }

    /// `nsenter` arguments that run a program inside the namespace.
    fn launcher(&self) -> Vec<String> {
        let pid = self.holder.id().to_string();
        ["nsenter", "-t", pid.as_str(), "-m", "--"]
            .map(String::from)
            .to_vec()
    }

    /// Resizes the tmpfs (what freeing space on the disk looks like to the server).
    fn resize(&self, size: &str) {
        let status = Command::new("nsenter")
            .args(["-t", &self.holder.id().to_string(), "-m", "--"])
            .args(["mount", "-o", &format!("remount,size={size}"), &self.dir])
            .status()
            .expect("run nsenter mount");
        assert!(status.success(), "remount {} to {size}: {status}", self.dir);
    }
}

impl Drop for MountNamespace {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

#[tokio::test]
async fn a_full_disk_is_503_for_writes_while_reads_work_and_a_restart_recovers() {
    if embedded_store_only("a full disk under the data directory concerns the embedded store") {
        return;
    }
    // The tmpfs is mounted (inside the namespace) on a directory of ours; the server's data
    // directory is a symlink to it.
    let mounted = tempfile::Builder::new()
        .prefix("stowage-full-disk-")
        .tempdir()
        .expect("mount point");
    let namespace = match MountNamespace::tmpfs(mounted.path(), SMALL) {
        Ok(ns) => ns,
        Err(why) => {
            eprintln!("SKIPPED: {why} (run as root to test a full disk)");
            return;
        }
    };
    let opts = ServerOptions {
        launcher: namespace.launcher(),
        ..ServerOptions::durable()
    };
    let mut server = TestServer::start_prepared(opts, |data| {
        std::os::unix::fs::symlink(mounted.path(), data).expect("symlink the data directory")
    });
    let client = server.client();
    let url = create_queue(&client, "filling").await;
    client
        .tag_queue()
        .queue_url(&url)
        .tags("team", "storage")
        .send()
        .await
        .expect("tag");

    // Fill the disk with 256 KiB messages until a send is refused.
    let body = "x".repeat(256 * 1024);
    let mut acknowledged = 0u64;
    let refused = loop {
        match client
            .send_message()
            .queue_url(&url)
            .message_body(&body)
            .send()
            .await
        {
            Ok(_) => acknowledged += 1,
            Err(e) => break err_info(&e),
        }
        assert!(
            acknowledged < 200,
            "a {SMALL} disk took {acknowledged} messages"
        );
    };
    assert!(acknowledged > 0, "nothing fit before the disk was full");
    assert_eq!(
        (refused.status, refused.shape.as_deref()),
        (503, Some("ServiceUnavailable")),
        "{refused:?}"
    );
    assert_eq!(
        refused.query_error.as_deref(),
        Some("ServiceUnavailable;Receiver")
    );
    let message = refused.message.clone().unwrap_or_default();
    assert!(message.contains("disk"), "{message}");
    assert!(message.contains("full"), "{message}");

    // Writes stay refused, ReceiveMessage too (it writes a delivery record).
    let again = client
        .send_message()
        .queue_url(&url)
        .message_body("small")
        .send()
        .await;
    let info = err_info(&again.expect_err("a send on a full disk"));
    assert_eq!(info.status, 503, "{info:?}");
    let received = client.receive_message().queue_url(&url).send().await;
    let info = err_info(&received.expect_err("a receive on a full disk"));
    assert_eq!(
        (info.status, info.shape.as_deref()),
        (503, Some("ServiceUnavailable")),
        "{info:?}"
    );

    // Actions that write nothing keep working.
    let listed = client.list_queues().send().await.expect("ListQueues");
    assert_eq!(listed.queue_urls(), std::slice::from_ref(&url));
    let got = client
        .get_queue_url()
        .queue_name("filling")
        .send()
        .await
        .expect("GetQueueUrl");
    assert_eq!(got.queue_url(), Some(url.as_str()));
    client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .expect("GetQueueAttributes");
    let tags = client
        .list_queue_tags()
        .queue_url(&url)
        .send()
        .await
        .expect("ListQueueTags");
    assert_eq!(
        tags.tags().and_then(|t| t.get("team")).map(String::as_str),
        Some("storage")
    );

    // Liveness fails with the reason, so a supervisor restarts the process.
    let live = server.http("GET", "/health/live", &[], b"");
    assert_eq!(live.status, 503, "{}", live.text());
    assert!(
        live.text().contains("No space left on device"),
        "{}",
        live.text()
    );
    let ready = server.http("GET", "/health/ready", &[], b"");
    assert_eq!(ready.status, 503, "{}", ready.text());

    // The operator frees space and restarts: everything acknowledged is there, writes work.
    namespace.resize(LARGE);
    let _ = server.terminate(); // shutting down a poisoned log reports the failure
    server.restart();
    let client = server.client();
    let url = server.queue_url("filling");
    let count = queue_attr(
        &client,
        &url,
        QueueAttributeName::ApproximateNumberOfMessages,
    )
    .await
    .parse::<u64>()
    .ok();
    assert_eq!(
        count,
        Some(acknowledged),
        "acknowledged messages after restart"
    );
    client
        .send_message()
        .queue_url(&url)
        .message_body("after")
        .send()
        .await
        .expect("send after the restart");
    let live = server.http("GET", "/health/live", &[], b"");
    assert_eq!(live.status, 200, "{}", live.text());
    drop(server);
    drop(namespace);
}
