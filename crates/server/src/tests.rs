//! Protocol-level tests: requests through [`crate::router`] (with
//! `tower::ServiceExt::oneshot`) against a real engine on a temporary data
//! directory, and a few through a real listener started with [`crate::start`].

mod admin;
mod bad_input;
mod fuzz;
mod json;
mod lifecycle;
mod query;
mod unavailable;
mod xml_safety;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use tower::ServiceExt;

use crate::{AppState, Config};

/// A router over a fresh engine; the data directory lives as long as this.
pub(crate) struct TestApp {
    pub(crate) app: Router,
    _dir: tempfile::TempDir,
}

/// The response of one request.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Reply {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// The SQS error code: JSON `__type` suffix or XML `<Code>`.
    pub(crate) fn error_type(&self) -> String {
        let v = self.json();
        let t = v["__type"].as_str().unwrap_or_default();
        t.rsplit('#').next().unwrap_or_default().to_owned()
    }
}

/// A test configuration: fast, unsynced storage in `dir`.
pub(crate) fn test_config(dir: &std::path::Path) -> Config {
    let mut config = Config {
        data_dir: dir.to_owned(),
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    };
    config.metrics.listen = String::new();
    config.storage.durability = storage::Durability::Never;
    config
}

impl TestApp {
    pub(crate) async fn new() -> TestApp {
        TestApp::with_fs(std::sync::Arc::new(storage::io::RealFs)).await
    }

    /// A router over a fresh engine whose log goes through `fs` (e.g. a `FaultyFs`).
    pub(crate) async fn with_fs(fs: std::sync::Arc<dyn storage::io::FileSystem>) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let config = test_config(dir.path());
        let (storage, _) = storage::Storage::open_with_fs(dir.path(), &config.storage, fs).unwrap();
        let engine = engine::Engine::open(
            storage,
            std::sync::Arc::new(engine::SystemClock),
            config.engine.clone(),
        )
        .await
        .unwrap();
        let state = AppState::new(engine, &config, "127.0.0.1:9324".parse().unwrap());
        TestApp {
            app: crate::router(state),
            _dir: dir,
        }
    }

    pub(crate) async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec();
        Reply {
            status,
            headers,
            body,
        }
    }

    /// An AWS JSON 1.0 call with a raw body.
    pub(crate) async fn json_raw(&self, action: &str, body: impl Into<Body>) -> Reply {
        let request = Request::post("/")
            .header("host", "localhost:9324")
            .header("x-amz-target", format!("AmazonSQS.{action}"))
            .header("content-type", "application/x-amz-json-1.0")
            .body(body.into())
            .unwrap();
        self.send(request).await
    }

    /// An AWS JSON 1.0 call.
    pub(crate) async fn json(&self, action: &str, body: serde_json::Value) -> Reply {
        self.json_raw(action, serde_json::to_vec(&body).unwrap())
            .await
    }

    /// A Query call POSTed to `path` with a form body.
    pub(crate) async fn form(&self, path: &str, form: &str) -> Reply {
        let request = Request::post(path)
            .header("host", "localhost:9324")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(form.to_owned()))
            .unwrap();
        self.send(request).await
    }

    /// Creates a queue over JSON and returns its URL.
    pub(crate) async fn create(&self, name: &str) -> String {
        let r = self
            .json("CreateQueue", serde_json::json!({ "QueueName": name }))
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()["QueueUrl"].as_str().unwrap().to_owned()
    }
}

/// Percent-encodes a form value.
pub(crate) fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
