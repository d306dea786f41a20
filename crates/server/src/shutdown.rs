//! Shutdown triggers: SIGTERM / SIGINT for the binary, a handle for
//! embedders and tests.

use std::sync::Arc;

use tokio::sync::watch;

/// Resolves on the first SIGTERM or SIGINT (Ctrl-C).
pub async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
                    _ = int.recv() => tracing::info!("SIGINT received, shutting down"),
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A cloneable trigger; every [`Trigger::wait`] resolves once any clone fires.
#[derive(Debug, Clone)]
pub(crate) struct Trigger {
    tx: Arc<watch::Sender<bool>>,
}

impl Trigger {
    pub(crate) fn new() -> Trigger {
        Trigger {
            tx: Arc::new(watch::channel(false).0),
        }
    }

    /// Fires the trigger (idempotent).
    pub(crate) fn fire(&self) {
        self.tx.send_replace(true);
    }

    /// Resolves when the trigger has fired.
    pub(crate) async fn wait(&self) {
        let mut rx = self.tx.subscribe();
        let _ = rx.wait_for(|fired| *fired).await;
    }
}
