//! Wake-ups across nodes: LISTEN/NOTIFY on the channel `stowage_wake`
//! (payload: the queue id), on two dedicated connections outside the pool.
//!
//! NOTIFY is only the fast path; correctness never depends on it (a lost
//! notification delays a long poll until its `next_visible_at` fallback).
//! - The *notifier* task receives queue ids after each commit, coalesces
//!   them, and sends one `pg_notify` per queue; the request path never
//!   waits for it.
//! - The *listener* task LISTENs, calls the waker for every notification
//!   from another node (its own notifier's are skipped by backend pid),
//!   pings the server every few seconds, reconnects with backoff, and after
//!   a reconnect wakes every queue (notifications sent meanwhile are lost).
//!   Its connection state is the store's health.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::store::{QueueId, StoreHealth, Waker};

/// The NOTIFY channel.
pub(super) const CHANNEL: &str = "stowage_wake";

/// How often the listener checks its connection.
const PING_INTERVAL: Duration = Duration::from_secs(5);
/// Longest pause between reconnection attempts.
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// The waker, the outbox of the notifier, and the connection state.
pub(super) struct Wakeups {
    waker: RwLock<Option<Waker>>,
    outbox: Option<mpsc::UnboundedSender<QueueId>>,
    own_pid: AtomicI32,
    down: Mutex<Option<String>>,
}

impl Wakeups {
    /// Installs the waker.
    pub(super) fn set_waker(&self, waker: Waker) {
        *self.waker.write().unwrap_or_else(|e| e.into_inner()) = Some(waker);
    }

    /// Wakes this node's long polls on `queue`.
    pub(super) fn local(&self, queue: QueueId) {
        let waker = self.waker.read().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(waker) = waker {
            waker(queue);
        }
    }

    /// Something committed may have become receivable in `queue`: wake
    /// this node at once and the others through NOTIFY.
    pub(super) fn committed(&self, queue: QueueId) {
        self.local(queue);
        if let Some(outbox) = &self.outbox {
            let _ = outbox.send(queue);
        }
    }

    /// Health as the listener sees it.
    pub(super) fn health(&self) -> StoreHealth {
        match &*self.down.lock().unwrap_or_else(|e| e.into_inner()) {
            None => StoreHealth::Ok,
            Some(reason) => StoreHealth::Failed(reason.clone()),
        }
    }

    fn set_down(&self, reason: Option<String>) {
        *self.down.lock().unwrap_or_else(|e| e.into_inner()) = reason;
    }
}

/// The background tasks; aborted on drop.
pub(super) struct Tasks {
    handles: Vec<JoinHandle<()>>,
}

impl Tasks {
    /// Stops the tasks.
    pub(super) fn stop(&mut self) {
        for handle in self.handles.drain(..) {
            handle.abort();
        }
    }
}

impl Drop for Tasks {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Starts the listener (always: it watches the connection) and, when
/// `notify` is on, the notifier.
pub(super) fn start(pg: tokio_postgres::Config, notify: bool) -> (Arc<Wakeups>, Tasks) {
    let (outbox, inbox) = if notify {
        let (tx, rx) = mpsc::unbounded_channel();
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    let wakeups = Arc::new(Wakeups {
        waker: RwLock::new(None),
        outbox,
        own_pid: AtomicI32::new(0),
        down: Mutex::new(None),
    });
    let mut handles = vec![tokio::spawn(listen(pg.clone(), wakeups.clone(), notify))];
    if let Some(inbox) = inbox {
        handles.push(tokio::spawn(send_notifications(pg, wakeups.clone(), inbox)));
    }
    (wakeups, Tasks { handles })
}

fn backoff(failures: u32) -> Duration {
    (Duration::from_millis(50) * 2u32.saturating_pow(failures.min(7))).min(BACKOFF_MAX)
}

async fn send_notifications(
    pg: tokio_postgres::Config,
    wakeups: Arc<Wakeups>,
    mut inbox: mpsc::UnboundedReceiver<QueueId>,
) {
    let mut failures = 0;
    let mut pending: BTreeSet<QueueId> = BTreeSet::new();
    loop {
        let client = match pg.connect(NoTls).await {
            Ok((client, connection)) => {
                tokio::spawn(async move {
                    let _ = connection.await;
                });
                client
            }
            Err(error) => {
                tracing::debug!(%error, "NOTIFY connection failed");
                // Keep one entry per queue meanwhile (the outbox stays small).
                while let Ok(queue) = inbox.try_recv() {
                    pending.insert(queue);
                }
                failures += 1;
                tokio::time::sleep(backoff(failures)).await;
                continue;
            }
        };
        match client.query_one("SELECT pg_backend_pid()", &[]).await {
            Ok(row) => wakeups
                .own_pid
                .store(row.try_get(0).unwrap_or(0), Ordering::Relaxed),
            Err(_) => continue,
        }
        failures = 0;
        loop {
            if pending.is_empty() {
                match inbox.recv().await {
                    Some(queue) => {
                        pending.insert(queue);
                    }
                    None => return, // the store is gone
                }
            }
            while let Ok(queue) = inbox.try_recv() {
                pending.insert(queue);
            }
            let payloads: Vec<String> = pending.iter().map(|q| q.to_string()).collect();
            let sent = client
                .execute(
                    "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p",
                    &[&CHANNEL, &payloads],
                )
                .await;
            match sent {
                Ok(_) => pending.clear(),
                Err(error) => {
                    // The connection is gone: the batch is dropped (best effort).
                    tracing::debug!(%error, "NOTIFY failed; reconnecting");
                    pending.clear();
                    break;
                }
            }
        }
    }
}

async fn listen(pg: tokio_postgres::Config, wakeups: Arc<Wakeups>, notify: bool) {
    let mut failures: u32 = 0;
    let mut connected_before = false;
    loop {
        let (client, mut connection) = match pg.connect(NoTls).await {
            Ok(pair) => pair,
            Err(error) => {
                failures += 1;
                if failures >= 3 {
                    wakeups.set_down(Some(format!("cannot reach the database: {error}")));
                }
                tokio::time::sleep(backoff(failures)).await;
                continue;
            }
        };
        let (events, mut notifications) = mpsc::unbounded_channel();
        let driver = tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(AsyncMessage::Notification(n)) => {
                        let _ = events.send((n.process_id(), n.payload().to_string()));
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        });
        let listening = if notify {
            client.batch_execute(&format!("LISTEN {CHANNEL}")).await
        } else {
            client.batch_execute("SELECT 1").await
        };
        if let Err(error) = listening {
            driver.abort();
            failures += 1;
            tracing::debug!(%error, "LISTEN failed");
            tokio::time::sleep(backoff(failures)).await;
            continue;
        }
        wakeups.set_down(None);
        if connected_before {
            wake_every_queue(&client, &wakeups).await;
        }
        connected_before = true;
        let mut ping = tokio::time::interval(PING_INTERVAL);
        ping.tick().await;
        loop {
            tokio::select! {
                event = notifications.recv() => match event {
                    Some((pid, payload)) => {
                        if pid == wakeups.own_pid.load(Ordering::Relaxed) {
                            continue;
                        }
                        if let Ok(queue) = payload.parse::<QueueId>() {
                            wakeups.local(queue);
                        }
                    }
                    None => break, // connection closed
                },
                _ = ping.tick() => {
                    let alive = tokio::time::timeout(PING_INTERVAL, client.batch_execute("SELECT 1")).await;
                    if !matches!(alive, Ok(Ok(()))) {
                        break;
                    }
                }
            }
        }
        driver.abort();
        tracing::warn!("lost the database connection that listens for wake-ups; reconnecting");
        failures = 1;
        tokio::time::sleep(backoff(failures)).await;
    }
}

async fn wake_every_queue(client: &tokio_postgres::Client, wakeups: &Wakeups) {
    if let Ok(rows) = client
        .query("SELECT queue_id FROM stowage_queues", &[])
        .await
    {
        for row in rows {
            if let Ok(id) = row.try_get::<_, i64>(0) {
                wakeups.local(id as QueueId);
            }
        }
    }
}
