//! The HTTP client of the online mode: POSTs one admin request as JSON,
//! signed with SigV4 when credentials are known.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{header, HeaderValue, Method, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde_json::Value;

use super::CliError;
use crate::auth::{sign, SigningCredentials};
use crate::config::Config;

/// How long one admin call may take (imports of large chunks included).
const CALL_TIMEOUT: Duration = Duration::from_secs(300);
/// How long a backup may take (it copies the whole log).
const BACKUP_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// A client of one server's admin endpoint.
pub struct Client {
    endpoint: String,
    credentials: Option<SigningCredentials>,
    http: HyperClient<HttpConnector, Full<Bytes>>,
}

/// `http://<listen>` of the configuration, with a wildcard address replaced
/// by loopback.
pub fn listen_url(config: &Config) -> String {
    let mut addr = config.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    format!("http://{addr}")
}

/// Credentials from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` /
/// `AWS_SESSION_TOKEN`, else the first configured credential; region from
/// `AWS_REGION` / `AWS_DEFAULT_REGION`, else `engine.region`.
fn credentials(config: &Config) -> Option<SigningCredentials> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let region = env("AWS_REGION")
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|| config.engine.region.clone());
    if let (Some(id), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        return Some(SigningCredentials {
            access_key_id: id,
            secret_access_key: secret,
            session_token: env("AWS_SESSION_TOKEN"),
            region,
        });
    }
    config.auth.credentials.first().map(|c| SigningCredentials {
        access_key_id: c.access_key_id.clone(),
        secret_access_key: c.secret_access_key.clone(),
        session_token: c.session_token.clone(),
        region,
    })
}

impl Client {
    /// A client for `endpoint` (`http://host:port`).
    pub fn new(endpoint: &str, config: &Config) -> Result<Client, CliError> {
        let endpoint = endpoint.trim_end_matches('/').to_owned();
        if !endpoint.starts_with("http://") {
            return Err(CliError::Usage(format!(
                "endpoint `{endpoint}` must start with http:// (put a TLS proxy's plain side here)"
            )));
        }
        Ok(Client {
            endpoint,
            credentials: credentials(config),
            http: HyperClient::builder(TokioExecutor::new()).build_http(),
        })
    }

    /// The server's base URL.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// POSTs `body` (JSON) to `path` and returns the decoded JSON answer, or
    /// the server's error.
    pub async fn post(&self, path: &str, body: &impl Serialize) -> Result<Value, CliError> {
        self.post_within(CALL_TIMEOUT, path, body).await
    }

    /// [`Client::post`] with another time limit.
    async fn post_within(
        &self,
        timeout: Duration,
        path: &str,
        body: &impl Serialize,
    ) -> Result<Value, CliError> {
        let body = Bytes::from(serde_json::to_vec(body)?);
        let url = format!("{}{path}", self.endpoint);
        let uri: Uri = url
            .parse()
            .map_err(|e| CliError::Usage(format!("bad endpoint URL {url}: {e}")))?;
        let mut request = hyper::Request::new(Full::new(body.clone()));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = uri.clone();
        request.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(credentials) = &self.credentials {
            sign(
                credentials,
                "POST",
                &uri,
                request.headers_mut(),
                &body,
                crate::admin::now_ms(),
            );
        }
        let unreachable =
            |e: String| CliError::Connection(format!("no answer from {}: {e}", self.endpoint));
        let response = tokio::time::timeout(timeout, self.http.request(request))
            .await
            .map_err(|_| unreachable("timed out".into()))?
            .map_err(|e| unreachable(format!("{e} (is the server running? give its address with --endpoint URL, or use --offline when it is stopped)")))?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| unreachable(e.to_string()))?
            .to_bytes();
        let value: Value = serde_json::from_slice(&bytes).map_err(|_| {
            CliError::Connection(format!(
                "{} answered {status} without a JSON body: is it a Stowage server with the admin endpoint on?",
                self.endpoint
            ))
        })?;
        if status.is_success() {
            return Ok(value);
        }
        let field = |name: &str| {
            value
                .pointer(&format!("/error/{name}"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Err(CliError::Server {
            code: field("code"),
            message: field("message"),
        })
    }

    /// One admin action.
    pub async fn call(&self, request: &crate::admin::ops::Request) -> Result<Value, CliError> {
        let timeout = match request {
            crate::admin::ops::Request::Backup { .. } => BACKUP_TIMEOUT,
            _ => CALL_TIMEOUT,
        };
        self.post_within(timeout, crate::admin::ADMIN_PATH, request)
            .await
    }
}
