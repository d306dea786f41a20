//! Console tests: requests through the console router (with the peer
//! address a listener would add) against a real engine on a temporary data
//! directory; a few through real listeners started with [`crate::start`].

mod access;
mod flows;
mod parts;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use engine::{Caller, Engine, QueueRef, ReceiveRequest, SendEntry};
use tower::ServiceExt;

use super::Console;
use crate::auth::Credential;
use crate::tests::test_config;
use crate::Config;

/// The anonymous account.
pub(crate) const ANON: &str = "000000000000";
/// The accounts of the two test credentials.
pub(crate) const ACCOUNT_A: &str = "111111111111";
pub(crate) const ACCOUNT_B: &str = "222222222222";

/// A loopback peer.
pub(crate) fn loopback() -> SocketAddr {
    "127.0.0.1:50000".parse().unwrap()
}

/// A peer on another machine.
pub(crate) fn remote() -> SocketAddr {
    "192.0.2.7:50000".parse().unwrap()
}

/// How the console under test is configured.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// No credentials (loopback only).
    Anonymous,
    /// Two credentials (accounts A and B).
    Credentials,
}

/// The console router over a fresh engine.
pub(crate) struct TestConsole {
    pub(crate) app: Router,
    pub(crate) engine: Engine,
    pub(crate) console: Console,
    _dir: tempfile::TempDir,
}

/// One answer.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Reply {
    pub(crate) fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
    /// The session cookie set by this answer.
    pub(crate) fn session_cookie(&self) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("stowage_console="))
            .map(str::to_owned)
    }
    /// The value of the first `name="csrf"` hidden field.
    pub(crate) fn csrf(&self) -> String {
        let start = self
            .body
            .find("name=\"csrf\" value=\"")
            .unwrap_or_else(|| panic!("no csrf field in {}", self.body))
            + "name=\"csrf\" value=\"".len();
        self.body[start..start + 64].to_owned()
    }
}

pub(crate) fn credentials() -> Vec<Credential> {
    vec![
        Credential {
            access_key_id: "AKIDA".into(),
            secret_access_key: "secret-a".into(),
            account_id: ACCOUNT_A.into(),
            session_token: None,
        },
        Credential {
            access_key_id: "AKIDB".into(),
            secret_access_key: "secret-b".into(),
            account_id: ACCOUNT_B.into(),
            session_token: None,
        },
    ]
}

impl TestConsole {
    pub(crate) async fn new(mode: Mode) -> TestConsole {
        TestConsole::with(mode, |_| {}).await
    }

    pub(crate) async fn with(mode: Mode, tweak: impl FnOnce(&mut Config)) -> TestConsole {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        if mode == Mode::Credentials {
            config.auth.credentials = credentials();
        }
        tweak(&mut config);
        let (storage, _) = storage::Storage::open(dir.path(), &config.storage).unwrap();
        let engine = Engine::open(
            storage,
            std::sync::Arc::new(engine::SystemClock),
            config.engine.clone(),
        )
        .await
        .unwrap();
        let console = Console::new(engine.clone(), &config);
        TestConsole {
            app: console.router(),
            engine,
            console,
            _dir: dir,
        }
    }

    /// Sends `request` as if from `peer` (a listener adds the peer address).
    pub(crate) async fn send_from(&self, peer: SocketAddr, mut request: Request<Body>) -> Reply {
        request.extensions_mut().insert(ConnectInfo(peer));
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    /// GET from loopback with `cookie` (may be empty).
    pub(crate) async fn get(&self, path: &str, cookie: &str) -> Reply {
        let request = Request::get(path)
            .header("host", "127.0.0.1:9324")
            .header("cookie", cookie)
            .body(Body::empty())
            .unwrap();
        self.send_from(loopback(), request).await
    }

    /// A form POST from loopback with `cookie`.
    pub(crate) async fn post(&self, path: &str, cookie: &str, form: &[(&str, &str)]) -> Reply {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let request = Request::post(path)
            .header("host", "127.0.0.1:9324")
            .header("origin", "http://127.0.0.1:9324")
            .header("cookie", cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        self.send_from(loopback(), request).await
    }

    /// A session: in anonymous mode by loading the list, else by signing in
    /// with credential `key` (`AKIDA` / `AKIDB`). Returns (cookie, csrf).
    pub(crate) async fn session(&self, key: &str) -> (String, String) {
        let cookie = match key {
            "" => self.get("/console/", "").await.session_cookie(),
            key => {
                let secret = if key == "AKIDA" {
                    "secret-a"
                } else {
                    "secret-b"
                };
                let r = self
                    .post(
                        "/console/login",
                        "",
                        &[("access_key_id", key), ("secret_access_key", secret)],
                    )
                    .await;
                assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
                r.session_cookie()
            }
        };
        let cookie = cookie.expect("a session cookie");
        let cookie = cookie.split(';').next().unwrap().to_owned();
        let page = self.get("/console/", &cookie).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let csrf = page.csrf();
        (cookie, csrf)
    }

    pub(crate) fn caller(account: &str) -> Caller {
        Caller {
            account: account.into(),
            sender_id: account.into(),
        }
    }

    pub(crate) async fn create(
        &self,
        account: &str,
        name: &str,
        attributes: &[(&str, &str)],
    ) -> QueueRef {
        let attributes: BTreeMap<String, String> = attributes
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.engine
            .create_queue(&Self::caller(account), name, attributes, BTreeMap::new())
            .await
            .unwrap()
    }

    pub(crate) async fn send(&self, queue: &QueueRef, entry: SendEntry) -> String {
        self.engine
            .send_message(&Self::caller(&queue.account), queue, entry)
            .await
            .unwrap()
            .message_id
    }

    pub(crate) async fn send_body(&self, queue: &QueueRef, body: &str) -> String {
        self.send(
            queue,
            SendEntry {
                body: body.into(),
                ..SendEntry::default()
            },
        )
        .await
    }

    pub(crate) async fn receive(
        &self,
        queue: &QueueRef,
        max: i64,
        visibility: i64,
    ) -> Vec<engine::ReceivedMessage> {
        self.engine
            .receive_message(
                &Self::caller(&queue.account),
                queue,
                ReceiveRequest {
                    max_number_of_messages: Some(max),
                    visibility_timeout: Some(visibility),
                    wait_time_seconds: Some(0),
                    system_attribute_names: vec!["All".into()],
                    ..Default::default()
                },
            )
            .await
            .unwrap()
    }

    /// GetQueueAttributes `name` as a number.
    pub(crate) async fn attribute(&self, queue: &QueueRef, name: &str) -> String {
        self.engine
            .get_queue_attributes(&Self::caller(&queue.account), queue, &[name.to_owned()])
            .await
            .unwrap()
            .remove(name)
            .unwrap_or_default()
    }
}

/// `/console/queues/<account>/<name>`.
pub(crate) fn page_of(queue: &QueueRef) -> String {
    super::queue_path(queue)
}
