//! Queue URLs: built as `http(s)://<host>/<account>/<name>` from the request's
//! Host header (or the configured `public_base_url`), and parsed from any
//! form a client may send — our own URLs, real AWS URLs
//! (`https://sqs.<region>.amazonaws.com/<account>/<name>`), ElasticMQ's
//! `http://host:port/queue/<name>`, or a bare path.

use axum::http::{HeaderMap, Uri};
use engine::QueueRef;

use crate::error::SqsError;

/// How to build queue URLs for one request.
#[derive(Debug, Clone)]
pub(crate) struct UrlBase(String);

impl UrlBase {
    /// From the configured public base URL, else the request's Host header
    /// (or URI authority), else the listen address.
    pub(crate) fn for_request(
        public_base_url: Option<&str>,
        headers: &HeaderMap,
        uri: &Uri,
        listen: &str,
    ) -> UrlBase {
        if let Some(base) = public_base_url {
            return UrlBase(base.trim_end_matches('/').to_owned());
        }
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
            .map(str::to_owned)
            .or_else(|| uri.authority().map(|a| a.to_string()))
            .unwrap_or_else(|| listen.to_owned());
        UrlBase(format!("http://{host}"))
    }

    /// The URL of `queue`.
    pub(crate) fn url(&self, queue: &QueueRef) -> String {
        format!("{}/{}/{}", self.0, queue.account, queue.name)
    }
}

/// The first path segment of ElasticMQ-style queue URLs.
const ELASTICMQ_SEGMENT: &str = "queue";

/// Resolves a QueueUrl (any host, or just a path) to account and name. A
/// URL with only a name (`/name` or `name`), or ElasticMQ's `/queue/<name>`,
/// means the caller's own account. One that names no queue at all is a queue
/// that does not exist (as SQS answers `http://whatever-incorrect-queue-address`).
pub(crate) fn parse(url: &str, caller_account: &str) -> Result<QueueRef, SqsError> {
    let invalid = || SqsError::Engine(engine::EngineError::QueueDoesNotExist);
    let trimmed = url.trim();
    let path = match trimmed.find("://") {
        Some(i) => {
            let after = &trimmed[i + 3..];
            after.find('/').map_or("", |p| &after[p..])
        }
        None => trimmed,
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        // ElasticMQ's URLs (`http://host:port/queue/<name>`) are aliases too.
        [name] | [ELASTICMQ_SEGMENT, name] => Ok(QueueRef {
            account: caller_account.to_owned(),
            name: (*name).to_owned(),
        }),
        [.., account, name] => Ok(QueueRef {
            account: (*account).to_owned(),
            name: (*name).to_owned(),
        }),
        [] => Err(invalid()),
    }
}

/// The queue named by a request path `/<account>/<name>` (Query requests
/// POSTed to a queue URL), if the path has that form.
pub(crate) fn from_path(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    (segments.len() == 2).then(|| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(account: &str, name: &str) -> QueueRef {
        QueueRef {
            account: account.into(),
            name: name.into(),
        }
    }

    #[test]
    fn parses_every_url_form() {
        let me = "000000000000";
        assert_eq!(
            parse("http://localhost:9324/123456789012/jobs", me).unwrap(),
            q("123456789012", "jobs")
        );
        assert_eq!(
            parse(
                "https://sqs.eu-west-1.amazonaws.com/123456789012/jobs.fifo",
                me
            )
            .unwrap(),
            q("123456789012", "jobs.fifo")
        );
        assert_eq!(
            parse("/123456789012/jobs", me).unwrap(),
            q("123456789012", "jobs")
        );
        assert_eq!(
            parse("http://h/123456789012/jobs/", me).unwrap(),
            q("123456789012", "jobs")
        );
        assert_eq!(parse("jobs", me).unwrap(), q(me, "jobs"));
        assert_eq!(
            parse("http://localhost:9324/queue/jobs", me).unwrap(),
            q(me, "jobs")
        );
        assert_eq!(parse("http://h:1/jobs", me).unwrap(), q(me, "jobs"));
        for nothing in ["http://h:1/", "", "http://whatever-incorrect-queue-address"] {
            assert!(
                matches!(
                    parse(nothing, me),
                    Err(SqsError::Engine(engine::EngineError::QueueDoesNotExist))
                ),
                "{nothing}"
            );
        }
    }

    #[test]
    fn builds_urls_from_host_or_public_base() {
        let mut h = HeaderMap::new();
        h.insert("host", "example:9999".parse().unwrap());
        let uri: Uri = "/".parse().unwrap();
        let base = UrlBase::for_request(None, &h, &uri, "127.0.0.1:9324");
        assert_eq!(base.url(&q("1", "a")), "http://example:9999/1/a");
        let base = UrlBase::for_request(Some("https://sqs.example.com/"), &h, &uri, "x");
        assert_eq!(base.url(&q("1", "a")), "https://sqs.example.com/1/a");
        let base = UrlBase::for_request(None, &HeaderMap::new(), &uri, "127.0.0.1:9324");
        assert_eq!(base.url(&q("1", "a")), "http://127.0.0.1:9324/1/a");
    }
}
