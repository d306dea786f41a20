//! `[[queues]]` declared in the configuration file, across restarts of the binary: created
//! when missing, declared attributes and tags converged, never deleted; bad entries are
//! configuration errors (exit 2) naming the entry.

use std::path::Path;

use aws_sdk_sqs::types::QueueAttributeName;

use crate::harness::{ServerOptions, TestServer};
use crate::operator::stowage;

const FIRST: &str = r#"
[[queues]]
name = "orders"
attributes = { VisibilityTimeout = "45", MessageRetentionPeriod = 86400 }
tags = { team = "billing" }
dead_letter = { queue = "orders-dlq", max_receive_count = 5 }

[[queues]]
name = "orders-dlq"

[[queues]]
name = "events.fifo"
attributes = { ContentBasedDeduplication = true }
"#;

/// `orders` changed, `events.fifo` no longer declared.
const SECOND: &str = r#"
[[queues]]
name = "orders"
attributes = { VisibilityTimeout = "60" }
tags = { team = "payments" }
dead_letter = { queue = "orders-dlq", max_receive_count = 3 }

[[queues]]
name = "orders-dlq"
"#;

async fn attribute(server: &TestServer, queue: &str, name: QueueAttributeName) -> String {
    let out = server
        .client()
        .get_queue_attributes()
        .queue_url(server.queue_url(queue))
        .attribute_names(name.clone())
        .send()
        .await
        .unwrap();
    out.attributes().unwrap()[&name].clone()
}

async fn tag(server: &TestServer, queue: &str, key: &str) -> String {
    let out = server
        .client()
        .list_queue_tags()
        .queue_url(server.queue_url(queue))
        .send()
        .await
        .unwrap();
    out.tags().unwrap()[key].clone()
}

#[tokio::test]
async fn declared_queues_are_created_converged_and_never_deleted_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("stowage.toml");
    std::fs::write(&config, FIRST).unwrap();
    let mut server = TestServer::start(ServerOptions {
        extra_args: vec!["--config".into(), config.display().to_string()],
        ..ServerOptions::durable()
    });
    assert_eq!(
        attribute(&server, "orders", QueueAttributeName::VisibilityTimeout).await,
        "45"
    );
    assert_eq!(
        attribute(
            &server,
            "orders",
            QueueAttributeName::MessageRetentionPeriod
        )
        .await,
        "86400"
    );
    let redrive = attribute(&server, "orders", QueueAttributeName::RedrivePolicy).await;
    assert!(redrive.contains(":000000000000:orders-dlq"), "{redrive}");
    assert!(redrive.contains('5'), "{redrive}");
    assert_eq!(tag(&server, "orders", "team").await, "billing");
    assert_eq!(
        attribute(&server, "events.fifo", QueueAttributeName::FifoQueue).await,
        "true"
    );
    assert_eq!(
        attribute(
            &server,
            "events.fifo",
            QueueAttributeName::ContentBasedDeduplication
        )
        .await,
        "true"
    );

    // Someone changes a declared attribute through the API: the next start converges it
    // back. An unchanged declaration writes nothing (the queue keeps its messages).
    server
        .client()
        .set_queue_attributes()
        .queue_url(server.queue_url("orders"))
        .attributes(QueueAttributeName::VisibilityTimeout, "5")
        .send()
        .await
        .unwrap();
    server
        .client()
        .send_message()
        .queue_url(server.queue_url("orders"))
        .message_body("kept")
        .send()
        .await
        .unwrap();
    server.restart();
    assert_eq!(
        attribute(&server, "orders", QueueAttributeName::VisibilityTimeout).await,
        "45"
    );
    assert_eq!(
        attribute(
            &server,
            "orders",
            QueueAttributeName::ApproximateNumberOfMessages
        )
        .await,
        "1"
    );

    // The declaration changes; events.fifo is no longer declared.
    std::fs::write(&config, SECOND).unwrap();
    server.restart();
    assert_eq!(
        attribute(&server, "orders", QueueAttributeName::VisibilityTimeout).await,
        "60"
    );
    let redrive = attribute(&server, "orders", QueueAttributeName::RedrivePolicy).await;
    assert!(redrive.contains('3'), "{redrive}");
    assert_eq!(tag(&server, "orders", "team").await, "payments");
    // Never deleted, and the log says it is no longer declared.
    assert_eq!(
        attribute(&server, "events.fifo", QueueAttributeName::FifoQueue).await,
        "true"
    );
    let log = server.stderr();
    let last_start = log.rsplit("--- start #").next().unwrap();
    assert!(
        last_start
            .contains("000000000000/events.fifo is not declared in the configuration; it is kept"),
        "{last_start}"
    );
    assert!(
        !last_start.contains("000000000000/orders is not declared"),
        "{last_start}"
    );
}

fn start_fails(dir: &Path, config: &str) -> String {
    let file = dir.join("bad.toml");
    std::fs::write(&file, config).unwrap();
    let data = dir.join("data");
    let run = stowage(
        &[
            "--config",
            file.to_str().unwrap(),
            "--data-dir",
            data.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "",
        ],
        &[],
        dir,
    );
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");
    run.stderr
}

#[test]
fn bad_declarations_are_configuration_errors_naming_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let err = start_fails(
        dir.path(),
        "[[queues]]\nname = \"ok\"\n[[queues]]\nname = \"typo\"\nvisibility = 3\n",
    );
    assert!(err.contains("[[queues]] entry `typo`"), "{err}");
    assert!(err.contains("unknown field `visibility`"), "{err}");

    let err = start_fails(
        dir.path(),
        "[[queues]]\nname = \"slow\"\nattributes = { VisibilityTimeout = \"99999\" }\n",
    );
    assert!(
        err.contains("[[queues]] entry `000000000000/slow`"),
        "{err}"
    );
    assert!(err.contains("VisibilityTimeout"), "{err}");

    let err = start_fails(
        dir.path(),
        "[[queues]]\nname = \"odd\"\nattributes = { Colour = \"blue\" }\n",
    );
    assert!(err.contains("entry `000000000000/odd`"), "{err}");
    assert!(err.contains("Colour"), "{err}");

    let err = start_fails(
        dir.path(),
        "[[queues]]\nname = \"a\"\ndead_letter = { queue = \"a-dlq\", max_receive_count = 0 }\n[[queues]]\nname = \"a-dlq\"\n",
    );
    assert!(err.contains("entry `000000000000/a`"), "{err}");

    // A dead-letter queue that neither exists nor is declared: refused at start.
    let err = start_fails(
        dir.path(),
        "[[queues]]\nname = \"b\"\ndead_letter = { queue = \"missing\", max_receive_count = 2 }\n",
    );
    assert!(err.contains("entry `000000000000/b`"), "{err}");
    assert!(err.contains("does not exist"), "{err}");
}
