//! The web console: every queue and its messages in a browser, served by the
//! binary itself at `/console/` on the API listener (or on `console.listen`).
//!
//! Server-rendered HTML, one stylesheet and one small script module embedded
//! with `include_str!` (no Node toolchain, no CDN: it works offline). Pages
//! work without the script; the script only refreshes marked regions every
//! 2 s by fetching server-rendered fragments (the queue list, a queue's
//! counts, chart and move tasks).
//!
//! The console calls the [`Engine`] in-process. Reads: `queue_gauges`,
//! `get_queue_attributes`, tags, move tasks, and the operator API
//! `peek_messages` (changes nothing: no visibility, no receive count).
//! Writes go through the same engine calls as the SQS API (same validation),
//! acting as the queue's owner account, plus the operator's
//! `delete_message_by_id`.
//!
//! Modules: `access` (who may use it: loopback / sessions / CSRF / read-only),
//! `session` (session store, cookies), `list` (queue list), `queue` (queue
//! page, live fragment, one message), `peek` (message rendering), `forms`
//! (every state-changing action), `history` + `chart` (the last hour of
//! sends/receives/deletes), `html` (escaping and page frame), `assets`.

mod access;
mod assets;
mod chart;
mod config;
mod forms;
mod history;
mod html;
mod list;
mod peek;
mod queue;
mod session;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{any, get, post};
use axum::Router;
use engine::{Caller, Engine, QueueGauges, QueueRef};

pub use config::ConsoleConfig;

use crate::auth::AuthConfig;
use crate::Config;

/// How long the dead-letter map (which queue is whose DLQ) is reused.
const DEAD_LETTER_MAP_TTL: Duration = Duration::from_secs(2);

/// The console: its configuration, sessions and chart history. Cheap to clone.
#[derive(Clone)]
pub struct Console {
    shared: Shared,
}

/// The handlers' state (the console behind an `Arc`).
#[derive(Clone)]
pub(crate) struct Shared(Arc<Inner>);

/// What the handlers share.
pub(crate) struct Inner {
    pub(crate) engine: Engine,
    pub(crate) auth: AuthConfig,
    pub(crate) config: ConsoleConfig,
    pub(crate) sessions: session::Sessions,
    pub(crate) history: Arc<history::History>,
    /// Cookies get `Secure` when the public base URL is https.
    pub(crate) secure_cookie: bool,
    /// Largest accepted form (`limits.max_request_bytes`).
    pub(crate) max_body_bytes: usize,
    dead_letters: Mutex<Option<(Instant, Arc<DeadLetters>)>>,
}

impl std::ops::Deref for Shared {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

/// Which queue is whose dead-letter queue.
#[derive(Debug, Default)]
pub(crate) struct DeadLetters {
    /// Dead-letter queue → the queues whose RedrivePolicy names it.
    pub(crate) sources: HashMap<QueueRef, Vec<QueueRef>>,
    /// Queue → its dead-letter queue.
    pub(crate) targets: HashMap<QueueRef, QueueRef>,
}

impl Console {
    /// The console of `engine` under `config`.
    pub fn new(engine: Engine, config: &Config) -> Console {
        Console {
            shared: Shared(Arc::new(Inner {
                engine,
                auth: config.auth.clone(),
                config: config.console.clone(),
                sessions: session::Sessions::new(Duration::from_secs(
                    config.console.session_idle_timeout_secs,
                )),
                history: Arc::new(history::History::default()),
                secure_cookie: config
                    .public_base_url
                    .as_deref()
                    .is_some_and(|u| u.starts_with("https://")),
                max_body_bytes: usize::try_from(config.limits.max_request_bytes)
                    .unwrap_or(usize::MAX),
                dead_letters: Mutex::new(None),
            })),
        }
    }

    /// Starts the task that samples every queue's counters for the charts
    /// (every 30 s; abort the handle to stop it).
    pub fn spawn_sampler(&self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(history::run_sampler(
            self.shared.engine.clone(),
            self.shared.history.clone(),
        ))
    }

    /// The console's routes, all under `/console`. Merge them into a router
    /// served with the peer address in the request extensions
    /// (`ConnectInfo<SocketAddr>`): anonymous mode needs it.
    pub fn router(&self) -> Router {
        let shared = &self.shared;
        let q = "/console/queues/{account}/{name}";
        let protected = Router::new()
            .route("/console/", get(list::page))
            .route("/console/fragments/queues", get(list::fragment))
            .route("/console/logout", post(access::logout))
            .route("/console/queues", post(forms::create_queue))
            .route(q, get(queue::page))
            .route(&format!("{q}/live"), get(queue::live))
            .route(&format!("{q}/message"), get(queue::message))
            .route(&format!("{q}/attributes"), post(forms::set_attributes))
            .route(&format!("{q}/tags"), post(forms::tag))
            .route(&format!("{q}/untag"), post(forms::untag))
            .route(&format!("{q}/send"), post(forms::send))
            .route(&format!("{q}/purge"), post(forms::purge))
            .route(&format!("{q}/delete"), post(forms::delete_queue))
            .route(&format!("{q}/messages/delete"), post(forms::delete_message))
            .route(&format!("{q}/redrive/start"), post(forms::start_redrive))
            .route(&format!("{q}/redrive/cancel"), post(forms::cancel_redrive))
            .route("/console/{*rest}", any(access::not_found))
            .route_layer(from_fn_with_state(shared.clone(), access::require_session));
        let public = Router::new()
            .route("/console", get(|| async { html::redirect("/console/") }))
            .route(
                "/console/login",
                get(access::login_form).post(access::login),
            )
            .route("/console/assets/{file}", get(assets::serve));
        public
            .merge(protected)
            .route_layer(from_fn_with_state(shared.clone(), access::network_guard))
            .layer(DefaultBodyLimit::max(shared.max_body_bytes))
            .with_state(shared.clone())
    }
}

impl Shared {
    /// No credentials configured: anonymous mode (loopback only).
    pub(crate) fn anonymous(&self) -> bool {
        self.auth.credentials.is_empty()
    }

    /// The queue `account`/`name` if the operator may see it (`None`: no
    /// such queue, or another account's); an error if the store failed.
    pub(crate) async fn gauges_of(
        &self,
        operator: &session::Operator,
        account: &str,
        name: &str,
    ) -> Result<Option<QueueGauges>, engine::EngineError> {
        if !operator.may_access(account) {
            return Ok(None);
        }
        let target = QueueRef {
            account: account.to_owned(),
            name: name.to_owned(),
        };
        let all = self.engine.queue_gauges().await?;
        Ok(all
            .binary_search_by(|g| g.queue.cmp(&target))
            .ok()
            .and_then(|i| all.into_iter().nth(i)))
    }

    /// The dead-letter map (recomputed at most every 2 s).
    pub(crate) async fn dead_letters(&self, all: &[QueueGauges]) -> Arc<DeadLetters> {
        {
            let cached = self
                .dead_letters
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some((at, map)) = cached.as_ref() {
                if at.elapsed() < DEAD_LETTER_MAP_TTL {
                    return map.clone();
                }
            }
        }
        let mut map = DeadLetters::default();
        for (source, target) in crate::metrics::redrive_pairs(&self.engine, all).await {
            map.sources
                .entry(target.clone())
                .or_default()
                .push(source.clone());
            map.targets.insert(source, target);
        }
        let map = Arc::new(map);
        *self
            .dead_letters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some((Instant::now(), map.clone()));
        map
    }

    /// A whole page for `operator`, with the flash message left for it.
    pub(crate) fn page(
        &self,
        operator: &session::Operator,
        title: &str,
        body: &str,
    ) -> axum::response::Response {
        let flash = self.sessions.take_flash(&operator.token);
        html::page(
            &html::Frame {
                title,
                operator: Some(operator),
                read_only: self.config.read_only,
                flash,
            },
            body,
        )
    }

    /// Forgets the dead-letter map (after a change to queues or redrive policies).
    pub(crate) fn invalidate_dead_letters(&self) {
        *self
            .dead_letters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }
}

/// The SQS caller the console acts as on `queue`: the queue's owner account.
pub(crate) fn owner(queue: &QueueRef, operator: &session::Operator) -> Caller {
    Caller {
        account: queue.account.clone(),
        sender_id: operator.sender_id.clone(),
    }
}

/// `/console/queues/<account>/<name>`.
pub(crate) fn queue_path(queue: &QueueRef) -> String {
    format!("/console/queues/{}/{}", queue.account, queue.name)
}
