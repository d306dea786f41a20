//! The aws CLI (v1, installed in the `current` venv by tests/clients/setup.sh): create-queue,
//! send-message, receive-message, delete-message, get-queue-attributes.

use std::process::Command;

use crate::common::md5_hex;
use crate::harness::TestServer;
use crate::python_clients::{skip_python, venv};

fn aws(server: &TestServer, args: &[&str]) -> serde_json::Value {
    let bin = venv("current").join("bin").join("aws");
    let out = Command::new(&bin)
        .arg("--endpoint-url")
        .arg(server.endpoint())
        .arg("--output")
        .arg("json")
        .arg("sqs")
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_PAGER", "")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", bin.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "aws sqs {args:?} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    if stdout.trim().is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("bad JSON ({e}): {stdout}"))
    }
}

#[test]
fn aws_cli_round_trip() {
    if skip_python() {
        eprintln!("STOWAGE_SKIP_PY=1: skipping the aws CLI test");
        return;
    }
    let server = TestServer::start_default();
    let created = aws(
        &server,
        &[
            "create-queue",
            "--queue-name",
            "cli",
            "--attributes",
            "VisibilityTimeout=40",
        ],
    );
    let url = created["QueueUrl"].as_str().expect("QueueUrl").to_string();
    assert_eq!(url, server.queue_url("cli"));

    let sent = aws(
        &server,
        &[
            "send-message",
            "--queue-url",
            &url,
            "--message-body",
            "from the cli",
        ],
    );
    assert!(sent["MessageId"].is_string(), "{sent}");
    assert_eq!(
        sent["MD5OfMessageBody"],
        md5_hex(b"from the cli").as_str(),
        "{sent}"
    );
    let attrs = aws(
        &server,
        &[
            "get-queue-attributes",
            "--queue-url",
            &url,
            "--attribute-names",
            "All",
        ],
    );
    assert_eq!(attrs["Attributes"]["VisibilityTimeout"], "40", "{attrs}");
    assert_eq!(
        attrs["Attributes"]["ApproximateNumberOfMessages"], "1",
        "{attrs}"
    );

    let received = aws(
        &server,
        &[
            "receive-message",
            "--queue-url",
            &url,
            "--wait-time-seconds",
            "2",
            "--attribute-names",
            "All",
        ],
    );
    let msg = &received["Messages"][0];
    assert_eq!(msg["Body"], "from the cli", "{received}");
    assert_eq!(msg["MessageId"], sent["MessageId"]);
    let handle = msg["ReceiptHandle"].as_str().expect("ReceiptHandle");
    aws(
        &server,
        &[
            "delete-message",
            "--queue-url",
            &url,
            "--receipt-handle",
            handle,
        ],
    );
    let attrs = aws(
        &server,
        &[
            "get-queue-attributes",
            "--queue-url",
            &url,
            "--attribute-names",
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
        ],
    );
    assert_eq!(
        attrs["Attributes"]["ApproximateNumberOfMessages"], "0",
        "{attrs}"
    );
    assert_eq!(
        attrs["Attributes"]["ApproximateNumberOfMessagesNotVisible"], "0",
        "{attrs}"
    );
}
