//! The operator CLI (`stowage queues|peek|purge|redrive|export|import`) run as a separate
//! process, online against a running server's admin endpoint and offline on a stopped
//! server's data directory.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};

use crate::common::{binary_attr, string_attr, sys_attr};
use crate::harness::{embedded_store_only, stowage_bin, ServerOptions, TestServer};

/// Longest a CLI call may take.
const CLI_TIMEOUT: Duration = Duration::from_secs(60);

/// What a CLI run left.
#[derive(Debug)]
pub(crate) struct CliRun {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl CliRun {
    /// Panics with the output unless the exit status was 0.
    pub(crate) fn ok(self) -> CliRun {
        assert_eq!(self.code, Some(0), "stowage failed: {self:#?}");
        self
    }
}

/// Runs `stowage ARGS` with only `env` from the STOWAGE_*/AWS_* variables, in `cwd`.
pub(crate) fn stowage(args: &[&str], env: &[(&str, &str)], cwd: &Path) -> CliRun {
    let out_path = cwd.join(format!("cli-{}.out", std::process::id()));
    let err_path = cwd.join(format!("cli-{}.err", std::process::id()));
    let mut cmd = Command::new(stowage_bin());
    cmd.args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap());
    for (key, _) in std::env::vars_os() {
        let key_text = key.to_string_lossy();
        if key_text.starts_with("STOWAGE_") || key_text.starts_with("AWS_") {
            cmd.env_remove(&key);
        }
    }
    cmd.env_remove("RUST_LOG");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn stowage");
    let deadline = Instant::now() + CLI_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("stowage {args:?} did not finish in {CLI_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let run = CliRun {
        code: status.code(),
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
    };
    let _ = std::fs::remove_file(out_path);
    let _ = std::fs::remove_file(err_path);
    run
}

async fn counts(client: &aws_sdk_sqs::Client, url: &str) -> (String, String) {
    let attrs = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let map = attrs.attributes().unwrap();
    (
        map[&QueueAttributeName::ApproximateNumberOfMessages].clone(),
        map[&QueueAttributeName::ApproximateNumberOfMessagesNotVisible].clone(),
    )
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[tokio::test]
async fn peek_changes_nothing_and_stats_and_purge_work_online() {
    let server = TestServer::start_default();
    let client = server.client();
    let tmp = tempfile::tempdir().unwrap();
    let url = client
        .create_queue()
        .queue_name("peeked")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    for i in 0..3 {
        client
            .send_message()
            .queue_url(&url)
            .message_body(format!("body-{i}"))
            .send()
            .await
            .unwrap();
    }
    let received = client
        .receive_message()
        .queue_url(&url)
        .visibility_timeout(600)
        .send()
        .await
        .unwrap();
    assert_eq!(received.messages().len(), 1);
    let before = counts(&client, &url).await;
    assert_eq!(before, ("2".into(), "1".into()));

    let endpoint = server.endpoint();
    let peek = stowage(
        &[
            "peek",
            "peeked",
            "-n",
            "10",
            "--json",
            "--endpoint",
            &endpoint,
        ],
        &[],
        tmp.path(),
    )
    .ok();
    let lines = json_lines(&peek.stdout);
    assert_eq!(lines.len(), 3, "{peek:?}");
    let bodies: Vec<&str> = lines.iter().map(|l| l["Body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["body-0", "body-1", "body-2"]);
    assert_eq!(
        lines.iter().filter(|l| l["state"] == "in_flight").count(),
        1
    );
    // Twice more, in the table form: still nothing changes.
    for _ in 0..2 {
        let table = stowage(&["peek", &url, "--endpoint", &endpoint], &[], tmp.path()).ok();
        assert!(table.stdout.contains("body-1"), "{table:?}");
    }
    assert_eq!(counts(&client, &url).await, before);
    // The visible ones are received for the first time: receive count 1.
    let rest = client
        .receive_message()
        .queue_url(&url)
        .max_number_of_messages(10)
        .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
        .send()
        .await
        .unwrap();
    assert_eq!(rest.messages().len(), 2);
    for m in rest.messages() {
        assert_eq!(
            sys_attr(m, MessageSystemAttributeName::ApproximateReceiveCount),
            Some("1")
        );
    }

    let stats = stowage(
        &["queues", "stats", "--json", "--endpoint", &endpoint],
        &[],
        tmp.path(),
    )
    .ok();
    let rows = json_lines(&stats.stdout);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["name"], "peeked");
    assert_eq!(rows[0]["in_flight"], 3);
    assert_eq!(rows[0]["dead_letter"], false);

    stowage(
        &["purge", "peeked", "--endpoint", &endpoint],
        &[],
        tmp.path(),
    )
    .ok();
    assert_eq!(counts(&client, &url).await, ("0".into(), "0".into()));
    // SQS's 60 s purge rule still holds (strict_timing is on by default).
    let again = stowage(
        &["purge", "peeked", "--endpoint", &endpoint],
        &[],
        tmp.path(),
    );
    assert_eq!(again.code, Some(1), "{again:?}");
    assert!(again.stderr.contains("PurgeQueueInProgress"), "{again:?}");
    let missing = stowage(&["peek", "nope", "--endpoint", &endpoint], &[], tmp.path());
    assert_eq!(missing.code, Some(1));
    assert!(missing.stderr.contains("QueueDoesNotExist"), "{missing:?}");
}

#[tokio::test]
async fn export_then_import_moves_queues_and_messages_to_another_broker() {
    let source = TestServer::start_default();
    let client = source.client();
    let tmp = tempfile::tempdir().unwrap();
    let dlq = client
        .create_queue()
        .queue_name("moved-dlq")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let dlq_arn = "arn:aws:sqs:us-east-1:000000000000:moved-dlq";
    let std_url = client
        .create_queue()
        .queue_name("moved")
        .attributes(QueueAttributeName::VisibilityTimeout, "45")
        .attributes(
            QueueAttributeName::RedrivePolicy,
            format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"4"}}"#),
        )
        .tags("team", "billing")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let fifo_url = client
        .create_queue()
        .queue_name("moved.fifo")
        .attributes(QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    client
        .send_message()
        .queue_url(&std_url)
        .message_body("with attributes")
        .message_attributes("colour", string_attr("blue"))
        .message_attributes("blob", binary_attr(&[0, 1, 2, 255]))
        .send()
        .await
        .unwrap();
    for (i, group) in ["a", "b", "a"].iter().enumerate() {
        client
            .send_message()
            .queue_url(&fifo_url)
            .message_body(format!("fifo-{i}"))
            .message_group_id(*group)
            .message_deduplication_id(format!("dedup-{i}"))
            .send()
            .await
            .unwrap();
    }
    client
        .send_message()
        .queue_url(&dlq)
        .message_body("dead")
        .send()
        .await
        .unwrap();

    let file = tmp.path().join("all.jsonl");
    let file_text = file.to_str().unwrap();
    let export = stowage(
        &["export", "--all", "--endpoint", &source.endpoint()],
        &[],
        tmp.path(),
    )
    .ok();
    std::fs::write(&file, &export.stdout).unwrap();
    let lines = json_lines(&export.stdout);
    assert_eq!(lines[0]["type"], "header");
    assert_eq!(lines[0]["version"], 1);
    assert_eq!(lines.iter().filter(|l| l["type"] == "queue").count(), 3);
    assert_eq!(lines.iter().filter(|l| l["type"] == "message").count(), 5);
    // Exporting changed nothing at the source.
    assert_eq!(counts(&client, &fifo_url).await, ("3".into(), "0".into()));

    let target = TestServer::start_default();
    let imported = stowage(
        &["import", file_text, "--endpoint", &target.endpoint()],
        &[],
        tmp.path(),
    )
    .ok();
    assert!(
        imported
            .stdout
            .contains("imported 3 queues (3 created), 5 messages"),
        "{imported:?}"
    );
    let tc = target.client();
    let attrs = tc
        .get_queue_attributes()
        .queue_url(target.queue_url("moved"))
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .unwrap();
    let attrs = attrs.attributes().unwrap();
    assert_eq!(attrs[&QueueAttributeName::VisibilityTimeout], "45");
    assert!(attrs[&QueueAttributeName::RedrivePolicy].contains("moved-dlq"));
    let tags = tc
        .list_queue_tags()
        .queue_url(target.queue_url("moved"))
        .send()
        .await
        .unwrap();
    assert_eq!(tags.tags().unwrap()["team"], "billing");

    let got = tc
        .receive_message()
        .queue_url(target.queue_url("moved"))
        .message_attribute_names("All")
        .message_system_attribute_names(MessageSystemAttributeName::SenderId)
        .send()
        .await
        .unwrap();
    let m = &got.messages()[0];
    assert_eq!(m.body(), Some("with attributes"));
    let ma = m.message_attributes().unwrap();
    assert_eq!(ma["colour"].string_value(), Some("blue"));
    assert_eq!(
        ma["blob"].binary_value().unwrap().as_ref(),
        &[0u8, 1, 2, 255][..]
    );

    // FIFO: order within each group and group ids survive.
    let mut by_group: HashMap<String, Vec<String>> = HashMap::new();
    for _ in 0..3 {
        let got = tc
            .receive_message()
            .queue_url(target.queue_url("moved.fifo"))
            .max_number_of_messages(10)
            .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
            .send()
            .await
            .unwrap();
        for m in got.messages() {
            let group = sys_attr(m, MessageSystemAttributeName::MessageGroupId)
                .unwrap()
                .to_owned();
            by_group
                .entry(group)
                .or_default()
                .push(m.body().unwrap().to_owned());
            tc.delete_message()
                .queue_url(target.queue_url("moved.fifo"))
                .receipt_handle(m.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
    assert_eq!(by_group["a"], ["fifo-0", "fifo-2"]);
    assert_eq!(by_group["b"], ["fifo-1"]);

    // Importing the same file again at once: the FIFO messages are deduplicated.
    stowage(
        &["import", file_text, "--endpoint", &target.endpoint()],
        &[],
        tmp.path(),
    )
    .ok();
    assert_eq!(
        counts(&tc, &target.queue_url("moved.fifo")).await,
        ("0".into(), "0".into())
    );

    // A file of another version is refused with a clear message.
    let future = tmp.path().join("future.jsonl");
    std::fs::write(
        &future,
        "{\"type\":\"header\",\"format\":\"stowage-export\",\"version\":9,\"exported_at_ms\":0}\n",
    )
    .unwrap();
    let refused = stowage(
        &[
            "import",
            future.to_str().unwrap(),
            "--endpoint",
            &target.endpoint(),
        ],
        &[],
        tmp.path(),
    );
    assert_eq!(refused.code, Some(2), "{refused:?}");
    assert!(refused.stderr.contains("version 9"), "{refused:?}");
}

#[tokio::test]
async fn offline_on_a_stopped_server_and_refused_on_a_running_one() {
    if embedded_store_only("offline operator commands here open a data directory (multinode covers them on PostgreSQL)") {
        return;
    }
    let mut server = TestServer::start(ServerOptions::durable());
    let client = server.client();
    let tmp = tempfile::tempdir().unwrap();
    let dlq_url = client
        .create_queue()
        .queue_name("work-dlq")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let url = client
        .create_queue()
        .queue_name("work")
        .attributes(
            QueueAttributeName::RedrivePolicy,
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:work-dlq","maxReceiveCount":"1"}"#,
        )
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    for i in 0..4 {
        client
            .send_message()
            .queue_url(&url)
            .message_body(format!("poison-{i}"))
            .send()
            .await
            .unwrap();
    }
    // Received once with visibility 0, then the next receive moves them to the DLQ.
    for _ in 0..2 {
        let _ = client
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .send()
            .await
            .unwrap();
    }
    assert_eq!(counts(&client, &dlq_url).await.0, "4");
    let data = server.data_dir();
    let data = data.to_str().unwrap();

    // While the server holds the directory, --offline refuses.
    let refused = stowage(
        &["queues", "list", "--offline", "--data-dir", data],
        &[],
        tmp.path(),
    );
    assert_eq!(refused.code, Some(1), "{refused:?}");
    assert!(
        refused.stderr.contains("cannot open data directory"),
        "{refused:?}"
    );

    assert!(server.terminate().success());
    let list = stowage(&["queues", "list", "--data-dir", data], &[], tmp.path()).ok();
    assert_eq!(
        list.stdout, "000000000000/work\n000000000000/work-dlq\n",
        "{list:?}"
    );
    let stats = stowage(&["queues", "stats", "--data-dir", data], &[], tmp.path()).ok();
    let dlq_row = stats
        .stdout
        .lines()
        .find(|l| l.contains("work-dlq"))
        .unwrap();
    assert!(dlq_row.ends_with("yes"), "{stats:?}");
    let redrive = stowage(
        &["redrive", "work-dlq", "--data-dir", data],
        &[],
        tmp.path(),
    )
    .ok();
    assert!(redrive.stdout.contains("moved 4 messages"), "{redrive:?}");

    server.restart();
    let client = server.client();
    let url = server.queue_url("work");
    assert_eq!(counts(&client, &url).await, ("4".into(), "0".into()));
    assert_eq!(
        counts(&client, &server.queue_url("work-dlq")).await,
        ("0".into(), "0".into())
    );
}

#[tokio::test]
async fn with_credentials_the_admin_endpoint_needs_a_valid_signature() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("stowage.toml");
    std::fs::write(
        &config,
        r#"
[[auth.credentials]]
access_key_id = "AKIDOPERATOR"
secret_access_key = "operator-secret"
account_id = "111111111111"

[[auth.credentials]]
access_key_id = "AKIDOTHER"
secret_access_key = "other-secret"
account_id = "222222222222"
"#,
    )
    .unwrap();
    let config_text = config.to_str().unwrap();
    let server = TestServer::start(ServerOptions {
        extra_args: vec!["--config".into(), config_text.into()],
        ..ServerOptions::default()
    });
    let client = crate::auth::client_with(&server.endpoint(), "AKIDOPERATOR", "operator-secret");
    client
        .create_queue()
        .queue_name("mine")
        .send()
        .await
        .unwrap();
    let endpoint = server.endpoint();
    let args = ["queues", "list", "--endpoint", endpoint.as_str()];

    // The first configured key, from the same configuration file.
    let run = stowage(
        &[
            "--config",
            config_text,
            "queues",
            "list",
            "--endpoint",
            &endpoint,
        ],
        &[],
        tmp.path(),
    )
    .ok();
    assert_eq!(run.stdout, "111111111111/mine\n");
    // Keys from the environment, as for the aws CLI; another account sees none of them.
    let run = stowage(
        &args,
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDOTHER"),
            ("AWS_SECRET_ACCESS_KEY", "other-secret"),
        ],
        tmp.path(),
    )
    .ok();
    assert_eq!(run.stdout, "");
    let run = stowage(
        &["peek", "111111111111/mine", "--endpoint", &endpoint],
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDOTHER"),
            ("AWS_SECRET_ACCESS_KEY", "other-secret"),
        ],
        tmp.path(),
    );
    assert_eq!(run.code, Some(1), "{run:?}");
    let run = stowage(
        &args,
        &[
            ("AWS_ACCESS_KEY_ID", "AKIDOPERATOR"),
            ("AWS_SECRET_ACCESS_KEY", "wrong"),
        ],
        tmp.path(),
    );
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("SignatureDoesNotMatch"), "{run:?}");
    let run = stowage(&args, &[], tmp.path());
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("MissingAuthenticationToken"), "{run:?}");
}
