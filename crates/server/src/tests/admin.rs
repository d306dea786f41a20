//! The admin endpoint's access rule in anonymous mode: loopback clients
//! only (the peer address is what `serve` records for each connection); the
//! backup action's target rules.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;

use super::TestApp;

fn admin_request(peer: Option<&str>, body: &str) -> Request<Body> {
    let mut request = Request::post(crate::admin::ADMIN_PATH)
        .header("host", "localhost:9324")
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap();
    if let Some(peer) = peer {
        let peer: SocketAddr = peer.parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(peer));
    }
    request
}

#[tokio::test]
async fn anonymous_mode_serves_loopback_clients_only() {
    let app = TestApp::new().await;
    app.create("seen").await;
    let list = r#"{"op":"list_queues"}"#;

    let r = app.send(admin_request(Some("127.0.0.1:40000"), list)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["queues"][0]["name"], "seen");
    let r = app.send(admin_request(Some("[::1]:40000"), list)).await;
    assert_eq!(r.status, 200, "{}", r.text());

    for peer in [Some("192.0.2.7:40000"), Some("[2001:db8::1]:40000"), None] {
        let r = app.send(admin_request(peer, list)).await;
        assert_eq!(r.status, 403, "{peer:?}: {}", r.text());
        assert_eq!(r.json()["error"]["code"], "AccessDenied");
    }
}

#[tokio::test]
async fn bad_requests_and_the_disabled_reset_endpoint() {
    let app = TestApp::new().await;
    let r = app
        .send(admin_request(Some("127.0.0.1:1"), r#"{"op":"explode"}"#))
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let r = app
        .send(admin_request(
            Some("127.0.0.1:1"),
            r#"{"op":"peek","queue":"nope","max":1}"#,
        ))
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "QueueDoesNotExist");

    let mut reset = admin_request(Some("127.0.0.1:1"), "");
    *reset.uri_mut() = crate::admin::RESET_PATH.parse().unwrap();
    let r = app.send(reset).await;
    assert_eq!(r.status, 404, "{}", r.text());
}

#[tokio::test]
async fn backup_goes_into_a_new_absolute_directory_only() {
    let app = TestApp::new().await;
    app.create("saved").await;
    let backup = |dir: &str| {
        admin_request(
            Some("127.0.0.1:1"),
            &serde_json::json!({ "op": "backup", "dir": dir }).to_string(),
        )
    };
    let r = app.send(backup("relative/dir")).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("absolute path"), "{}", r.text());

    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let r = app.send(backup(file.to_str().unwrap())).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("not empty"), "{}", r.text());

    let dir = tmp.path().join("copy");
    let r = app.send(backup(dir.to_str().unwrap())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let answer = r.json();
    assert_eq!(answer["dir"], dir.to_str().unwrap());
    assert!(answer["segments"].as_u64().unwrap() >= 1, "{answer}");
    assert!(answer["next_lsn"].as_u64().unwrap() > 1, "{answer}");
    let report = storage::check::check(&dir).unwrap();
    assert!(report.only_crash_leftovers(), "{report:?}");
    assert_eq!(report.last_lsn, answer["next_lsn"].as_u64().map(|n| n - 1));

    let r = app.send(backup(dir.to_str().unwrap())).await;
    assert_eq!(r.status, 400, "{}", r.text());
}
