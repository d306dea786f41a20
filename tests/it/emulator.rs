//! Switches for development and test suites: `--dev` (no 60 s guards, no fsync), the reset
//! endpoint, ElasticMQ-style queue URLs, `/metrics` on the API port, the access log.

use crate::harness::{ServerOptions, TestServer};

#[tokio::test]
async fn dev_mode_allows_recreate_and_purge_at_once() {
    let server = TestServer::start(ServerOptions {
        extra_args: vec!["--dev".into()],
        ..ServerOptions::default()
    });
    let client = server.client();
    for _ in 0..3 {
        let url = client
            .create_queue()
            .queue_name("fixture")
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        client.purge_queue().queue_url(&url).send().await.unwrap();
        client.purge_queue().queue_url(&url).send().await.unwrap();
        client.delete_queue().queue_url(&url).send().await.unwrap();
    }
}

#[tokio::test]
async fn strict_timing_is_the_default() {
    let server = TestServer::start_default();
    let client = server.client();
    let url = client
        .create_queue()
        .queue_name("strict")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    client.delete_queue().queue_url(&url).send().await.unwrap();
    let err = client
        .create_queue()
        .queue_name("strict")
        .send()
        .await
        .unwrap_err();
    let code = err
        .into_service_error()
        .meta()
        .code()
        .unwrap_or_default()
        .to_owned();
    assert!(code.ends_with("QueueDeletedRecently"), "{code}");
}

#[tokio::test]
async fn reset_endpoint_is_off_by_default_and_deletes_everything_when_on() {
    let off = TestServer::start_default();
    off.client()
        .create_queue()
        .queue_name("stays")
        .send()
        .await
        .unwrap();
    let r = off.http("POST", "/_stowage/reset", &[], b"");
    assert_eq!(r.status, 404, "{}", r.text());
    let listed = off.client().list_queues().send().await.unwrap();
    assert_eq!(listed.queue_urls().len(), 1);

    let on = TestServer::start(ServerOptions {
        env: vec![("STOWAGE_ADMIN_RESET_ENDPOINT".into(), "true".into())],
        ..ServerOptions::default()
    });
    let client = on.client();
    for name in ["a", "b.fifo"] {
        let mut create = client.create_queue().queue_name(name);
        if name.ends_with(".fifo") {
            create = create.attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true");
        }
        let url = create.send().await.unwrap().queue_url.unwrap();
        if !name.ends_with(".fifo") {
            client
                .send_message()
                .queue_url(&url)
                .message_body("x")
                .send()
                .await
                .unwrap();
        }
    }
    let r = on.http("POST", "/_stowage/reset", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("\"deleted_queues\":2"), "{}", r.text());
    let listed = client.list_queues().send().await.unwrap();
    assert!(listed.queue_urls().is_empty());
    // The names are free again at once (strict timing or not), and empty.
    let url = client
        .create_queue()
        .queue_name("a")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let got = client
        .receive_message()
        .queue_url(&url)
        .send()
        .await
        .unwrap();
    assert!(got.messages().is_empty());
}

#[tokio::test]
async fn elasticmq_style_queue_urls_are_aliases() {
    let server = TestServer::start_default();
    let client = server.client();
    client
        .create_queue()
        .queue_name("legacy")
        .send()
        .await
        .unwrap();
    let elastic = format!("{}/queue/legacy", server.endpoint());
    client
        .send_message()
        .queue_url(&elastic)
        .message_body("via elasticmq url")
        .send()
        .await
        .unwrap();
    let got = client
        .receive_message()
        .queue_url(server.queue_url("legacy"))
        .send()
        .await
        .unwrap();
    assert_eq!(got.messages()[0].body(), Some("via elasticmq url"));
    // The Query protocol POSTed to the ElasticMQ path works too.
    let r = server.http(
        "POST",
        "/queue/legacy",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"Action=GetQueueAttributes&AttributeName.1=QueueArn&Version=2012-11-05",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains(":000000000000:legacy"), "{}", r.text());
}

#[tokio::test]
async fn metrics_on_the_api_port_only_when_asked() {
    let server = TestServer::start_default();
    let r = server.http("GET", "/metrics", &[], b"");
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(!r.text().contains("MissingAction"), "{}", r.text());

    let server = TestServer::start(ServerOptions {
        env: vec![("STOWAGE_METRICS_SERVE_ON_API_PORT".into(), "true".into())],
        ..ServerOptions::default()
    });
    let r = server.http("GET", "/metrics", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text().contains(&format!(
            "stowage_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )),
        "{}",
        r.text()
    );
}

#[tokio::test]
async fn access_log_has_one_line_per_request_when_enabled() {
    let server = TestServer::start(ServerOptions {
        env: vec![("STOWAGE_LOG_REQUESTS".into(), "true".into())],
        ..ServerOptions::default()
    });
    server
        .client()
        .create_queue()
        .queue_name("logged")
        .send()
        .await
        .unwrap();
    let _ = server.http("GET", "/health/live", &[], b"");
    let log = server.stderr();
    let access: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("stowage::access"))
        .collect();
    assert_eq!(access.len(), 2, "{log}");
    assert!(
        access[0].contains("action=\"CreateQueue\"") || access[0].contains("action=CreateQueue"),
        "{log}"
    );
    assert!(access[0].contains("status=200"), "{log}");
    assert!(access[1].contains("path=/health/live"), "{log}");

    let quiet = TestServer::start_default();
    quiet.client().list_queues().send().await.unwrap();
    assert!(!quiet.stderr().contains("stowage::access"));
}
