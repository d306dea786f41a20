//! The accept loop: hyper connections with a timer (so the header-read
//! timeout really applies), a connection cap, an idle timeout, an HTTP/2
//! control-frame rate limit, and graceful shutdown that lets in-flight
//! requests finish.
//!
//! Idle means no request in progress: bytes and frames (HTTP/2 PINGs,
//! SETTINGS, WINDOW_UPDATEs) do not count, so a client cannot hold one of
//! the `max_connections` slots with control frames alone.

mod control_frames;

use std::pin::pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

use crate::config::LimitsConfig;
use crate::shutdown::Trigger;
use control_frames::FrameMeter;

/// Most header lines a request may carry.
const MAX_HEADERS: usize = 100;
/// Largest read buffer (caps the header block size).
const MAX_BUF_BYTES: usize = 64 * 1024;

/// Serves `app` on `listener` until `stop` fires, then stops accepting and
/// waits (up to `drain`) for open connections to finish their requests.
pub(crate) async fn serve(
    listener: TcpListener,
    app: Router,
    limits: LimitsConfig,
    stop: Trigger,
    drain: Duration,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(limits.header_read_timeout_ms))
        .max_headers(MAX_HEADERS)
        .max_buf_size(MAX_BUF_BYTES);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(MAX_BUF_BYTES).unwrap_or(u32::MAX));
    let builder = Arc::new(builder);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let idle = Duration::from_millis(limits.idle_timeout_ms);
    let header_timeout = Duration::from_millis(limits.header_read_timeout_ms);
    let tick = (idle.min(header_timeout) / 4).max(Duration::from_millis(50));
    loop {
        let permit = tokio::select! {
            _ = stop.wait() => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            _ = stop.wait() => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Metered {
            inner: stream,
            meter: FrameMeter::new(Instant::now()),
        });
        let active = activity.clone();
        let app = app.clone();
        let service =
            hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let app = app.clone();
                let guard = RequestGuard::new(active.clone());
                async move {
                    let mut req = req.map(axum::body::Body::new);
                    // The client's address, for loopback rules (admin endpoints, the console).
                    req.extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    let response = app.oneshot(req).await;
                    drop(guard);
                    response
                }
            });
        let conn = builder
            .serve_connection_with_upgrades(io, service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let mut conn = pin!(conn);
            loop {
                tokio::select! {
                    result = conn.as_mut() => {
                        if let Err(e) = result {
                            tracing::debug!(%peer, error = %e, "connection ended with an error");
                        }
                        break;
                    }
                    _ = tokio::time::sleep(tick) => {
                        // hyper's header timer starts only once the HTTP
                        // version is detected: bound that phase too.
                        if activity.never_served_for() >= header_timeout {
                            tracing::debug!(%peer, "no request head in time; closing");
                            break;
                        }
                        if activity.idle_for() >= idle {
                            tracing::debug!(%peer, "no request for the idle timeout; closing");
                            break;
                        }
                    }
                }
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the drain period; closing them");
    }
}

/// When the connection last started or finished a request, and how many
/// requests it is serving.
struct Activity {
    epoch: Instant,
    last_ms: AtomicU64,
    requests: AtomicUsize,
    served: std::sync::atomic::AtomicBool,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            epoch: Instant::now(),
            last_ms: AtomicU64::new(0),
            requests: AtomicUsize::new(0),
            served: std::sync::atomic::AtomicBool::new(false),
        }
    }
    /// Time since the connection opened, while no request head has arrived
    /// yet; zero once one has.
    fn never_served_for(&self) -> Duration {
        if self.served.load(Ordering::Acquire) {
            Duration::ZERO
        } else {
            self.epoch.elapsed()
        }
    }
    fn touch(&self) {
        let ms = u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }
    /// Time since the last request ended (or the connection opened); zero
    /// while a request is in progress.
    fn idle_for(&self) -> Duration {
        if self.requests.load(Ordering::Acquire) > 0 {
            return Duration::ZERO;
        }
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.epoch.elapsed().saturating_sub(last)
    }
}

/// Counts a request as in progress on its connection.
struct RequestGuard(Arc<Activity>);

impl RequestGuard {
    fn new(activity: Arc<Activity>) -> RequestGuard {
        activity.requests.fetch_add(1, Ordering::AcqRel);
        activity.served.store(true, Ordering::Release);
        activity.touch();
        RequestGuard(activity)
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.requests.fetch_sub(1, Ordering::AcqRel);
        self.0.touch();
    }
}

/// A TCP stream whose incoming bytes go through the HTTP/2 control-frame
/// meter: a flood fails the read, and hyper closes the connection.
struct Metered {
    inner: TcpStream,
    meter: FrameMeter,
}

impl AsyncRead for Metered {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let this = &mut *self;
        let result = std::pin::Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Some(new) = buf.filled().get(before..) {
            if this.meter.observe(new, Instant::now()).is_err() {
                tracing::info!(
                    "closing an HTTP/2 connection that sent more than {} PING/SETTINGS frames \
                     at once or {} per second",
                    control_frames::BURST,
                    control_frames::PER_SECOND
                );
                return Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "HTTP/2 control-frame flood",
                )));
            }
        }
        result
    }
}

impl AsyncWrite for Metered {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_in_progress_is_never_idle() {
        let activity = Arc::new(Activity {
            epoch: Instant::now() - Duration::from_secs(100),
            last_ms: AtomicU64::new(0),
            requests: AtomicUsize::new(0),
            served: std::sync::atomic::AtomicBool::new(false),
        });
        assert!(activity.idle_for() >= Duration::from_secs(100));
        assert!(activity.never_served_for() >= Duration::from_secs(100));
        let guard = RequestGuard::new(activity.clone());
        assert_eq!(activity.idle_for(), Duration::ZERO);
        assert_eq!(activity.never_served_for(), Duration::ZERO);
        drop(guard);
        // Finishing the request counts as activity.
        assert!(activity.idle_for() < Duration::from_secs(1));
    }
}
