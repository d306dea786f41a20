//! SigV4 and accounts with credentials configured: real clients sign, wrong secrets and unknown
//! keys are refused, accounts cannot see each other's queues until AddPermission allows it.

use std::process::Command;

use aws_sdk_sqs::config::retry::RetryConfig;
use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sqs::Client;

use crate::common::*;
use crate::harness::{ServerOptions, TestServer};
use crate::python_clients::{skip_python, venv, workspace_root};

pub(crate) const KEY_A: &str = "AKIATESTACCOUNTA0001";
const SECRET_A: &str = "secret-of-account-a-0123456789";
const ACCOUNT_A: &str = "111111111111";
const KEY_B: &str = "AKIATESTACCOUNTB0002";
const SECRET_B: &str = "secret-of-account-b-0123456789";
const ACCOUNT_B: &str = "222222222222";

/// A server with two credentials (accounts A and B) configured.
pub(crate) fn signed_server() -> TestServer {
    let config = format!(
        "[[auth.credentials]]\naccess_key_id = \"{KEY_A}\"\nsecret_access_key = \"{SECRET_A}\"\n\
         account_id = \"{ACCOUNT_A}\"\n\n[[auth.credentials]]\naccess_key_id = \"{KEY_B}\"\n\
         secret_access_key = \"{SECRET_B}\"\naccount_id = \"{ACCOUNT_B}\"\n"
    );
    let file = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile()
        .expect("config file");
    std::fs::write(file.path(), config).expect("write config");
    let opts = ServerOptions {
        extra_args: vec!["--config".into(), file.path().display().to_string()],
        ..ServerOptions::default()
    };
    // The server reads its configuration at start; the file goes away with `file`.
    TestServer::start(opts)
}

pub(crate) fn client_with(endpoint: &str, key: &str, secret: &str) -> Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new(key, secret, None, None, "stowage-tests"))
        .endpoint_url(endpoint)
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(config)
}

#[tokio::test]
async fn signatures_and_account_isolation() {
    let server = signed_server();
    let a = client_with(&server.endpoint(), KEY_A, SECRET_A);
    let b = client_with(&server.endpoint(), KEY_B, SECRET_B);

    let url = create_queue(&a, "private").await;
    assert_eq!(url, format!("{}/{ACCOUNT_A}/private", server.endpoint()));
    a.send_message()
        .queue_url(&url)
        .message_body("for a only")
        .send()
        .await
        .unwrap();

    // Wrong secret, unknown key.
    let wrong = client_with(&server.endpoint(), KEY_A, "not-the-secret");
    assert_sqs_error_status(
        wrong.list_queues().send().await,
        403,
        "SignatureDoesNotMatch",
    );
    let unknown = client_with(&server.endpoint(), "AKIANOBODY0000000000", "x");
    assert_sqs_error_status(
        unknown.list_queues().send().await,
        403,
        "InvalidClientTokenId",
    );
    // Unsigned request.
    let r = server.http(
        "POST",
        "/",
        &[
            ("Content-Type", "application/x-amz-json-1.0"),
            ("X-Amz-Target", "AmazonSQS.ListQueues"),
        ],
        b"{}",
    );
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(
        r.text().contains("MissingAuthenticationToken"),
        "{}",
        r.text()
    );

    // B does not see A's queue and cannot use it.
    let listed = b.list_queues().send().await.unwrap();
    assert!(listed.queue_urls().is_empty(), "{listed:?}");
    // Refused as SQS refuses it: no model shape, so the JSON type is
    // `AccessDeniedException` and the short code rides in x-amzn-query-error.
    assert_sqs_error(
        b.send_message()
            .queue_url(&url)
            .message_body("x")
            .send()
            .await,
        403,
        "AccessDeniedException",
        "AccessDenied",
    );
    let res = b.receive_message().queue_url(&url).send().await;
    assert!(
        res.is_err(),
        "account B received from A's queue without permission"
    );
    // B's own queue of the same name is a different queue.
    let b_url = create_queue(&b, "private").await;
    assert_eq!(b_url, format!("{}/{ACCOUNT_B}/private", server.endpoint()));
    assert!(receive(&b, &b_url, 10, 0).await.is_empty());

    // A grants B SendMessage only.
    a.add_permission()
        .queue_url(&url)
        .label("b-may-send")
        .aws_account_ids(ACCOUNT_B)
        .actions("SendMessage")
        .send()
        .await
        .unwrap();
    b.send_message()
        .queue_url(&url)
        .message_body("from b")
        .send()
        .await
        .expect("SendMessage granted by AddPermission");
    let res = b.receive_message().queue_url(&url).send().await;
    assert!(res.is_err(), "ReceiveMessage was not granted to B");
    let got = receive_n(&a, &url, 2, std::time::Duration::from_secs(5)).await;
    assert_eq!(got.len(), 2);
    // SenderId is the sender's principal id (its account), never its access key id.
    for m in &got {
        let want = match m.body() {
            Some("from b") => ACCOUNT_B,
            _ => ACCOUNT_A,
        };
        assert_eq!(
            sys_attr(m, aws_sdk_sqs::types::MessageSystemAttributeName::SenderId),
            Some(want),
            "{m:?}"
        );
    }

    // Revoked again.
    a.remove_permission()
        .queue_url(&url)
        .label("b-may-send")
        .send()
        .await
        .unwrap();
    let res = b
        .send_message()
        .queue_url(&url)
        .message_body("x")
        .send()
        .await;
    assert!(
        res.is_err(),
        "permission still in force after RemovePermission"
    );

    // GetQueueUrl with the owner's account id finds it only when permitted.
    let res = b
        .get_queue_url()
        .queue_name("private")
        .queue_owner_aws_account_id(ACCOUNT_A)
        .send()
        .await;
    assert!(
        res.is_err(),
        "B resolved A's queue without any permission: {res:?}"
    );
}

#[track_caller]
fn assert_sqs_error_status<T: std::fmt::Debug, E>(
    result: Result<T, aws_sdk_sqs::error::SdkError<E, aws_sdk_sqs::config::http::HttpResponse>>,
    status: u16,
    code: &str,
) where
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    let err = match result {
        Ok(v) => panic!("expected {code}, got success: {v:?}"),
        Err(e) => e,
    };
    let info = err_info(&err);
    assert_eq!(info.status, status, "{info:?}");
    assert!(
        info.shape.as_deref() == Some(code) || info.sdk_code.as_deref() == Some(code),
        "expected {code}: {info:?}"
    );
}

/// botocore signs over both protocols (the Query one signs the form body and supports
/// presigned GET URLs); the server must verify each.
#[test]
fn botocore_signatures_both_protocols_and_presigned_urls() {
    if skip_python() {
        eprintln!("STOWAGE_SKIP_PY=1: skipping");
        return;
    }
    let server = signed_server();
    let script = workspace_root()
        .join("tests")
        .join("clients")
        .join("signed.py");
    for (venv_name, protocol) in [("current", "json"), ("legacy", "query")] {
        let out = Command::new(venv(venv_name).join("bin").join("python"))
            .arg(&script)
            .arg(server.endpoint())
            .arg(protocol)
            .arg(KEY_A)
            .arg(SECRET_A)
            .arg(ACCOUNT_A)
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .output()
            .expect("run python");
        assert!(
            out.status.success(),
            "{protocol}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
