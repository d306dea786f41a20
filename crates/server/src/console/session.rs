//! Console sessions: a random token in an HttpOnly, SameSite=Strict cookie
//! maps to who signed in, which accounts they may see, their CSRF token and
//! a one-shot flash message. Sessions live in memory only (a restart signs
//! everyone out), end after `console.session_idle_timeout_secs` without a
//! request, and are capped in number (the least recently used goes first).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Name of the session cookie.
pub(crate) const COOKIE: &str = "stowage_console";

/// Most sessions kept at once.
const MAX_SESSIONS: usize = 10_000;

/// Which queues an operator sees and acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Anonymous mode (loopback only): every account's queues.
    AllAccounts,
    /// Signed in with a credential: that credential's account only, as the API allows.
    Account(String),
}

/// A message shown once on the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Flash {
    /// An error (shown as an alert) rather than a confirmation.
    pub(crate) error: bool,
    /// The text.
    pub(crate) text: String,
}

impl Flash {
    /// A confirmation.
    pub(crate) fn ok(text: impl Into<String>) -> Flash {
        Flash {
            error: false,
            text: text.into(),
        }
    }
    /// An error.
    pub(crate) fn error(text: impl Into<String>) -> Flash {
        Flash {
            error: true,
            text: text.into(),
        }
    }
}

/// The operator behind a request (put into the request by the session guard).
#[derive(Debug, Clone)]
pub(crate) struct Operator {
    /// The session token (to leave a flash message).
    pub(crate) token: String,
    /// Which queues they see.
    pub(crate) scope: Scope,
    /// SenderId of messages they send (access key id, or `anonymous`).
    pub(crate) sender_id: String,
    /// The session's CSRF token.
    pub(crate) csrf: String,
    /// Shown in the header.
    pub(crate) label: String,
    /// Whether a sign-out button makes sense (not in anonymous mode).
    pub(crate) can_sign_out: bool,
}

impl Operator {
    /// Whether the operator may see and act on `account`'s queues.
    pub(crate) fn may_access(&self, account: &str) -> bool {
        match &self.scope {
            Scope::AllAccounts => true,
            Scope::Account(own) => own == account,
        }
    }
}

struct Session {
    operator: Operator,
    last_used: Instant,
    flash: Option<Flash>,
}

/// The session store.
pub(crate) struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    idle: Duration,
}

impl Sessions {
    /// An empty store whose sessions end after `idle` without a request.
    pub(crate) fn new(idle: Duration) -> Sessions {
        Sessions {
            map: Mutex::new(HashMap::new()),
            idle,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Starts a session; returns its operator (with the new token).
    pub(crate) fn create(
        &self,
        scope: Scope,
        sender_id: String,
        label: String,
        can_sign_out: bool,
    ) -> Operator {
        let operator = Operator {
            token: random_token(),
            scope,
            sender_id,
            csrf: random_token(),
            label,
            can_sign_out,
        };
        let now = Instant::now();
        let mut map = self.lock();
        map.retain(|_, s| now.duration_since(s.last_used) < self.idle);
        if map.len() >= MAX_SESSIONS {
            let oldest = map
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(token, _)| token.clone());
            if let Some(token) = oldest {
                map.remove(&token);
            }
        }
        map.insert(
            operator.token.clone(),
            Session {
                operator: operator.clone(),
                last_used: now,
                flash: None,
            },
        );
        operator
    }

    /// The live session behind `token` (its idle timer restarts), if any.
    pub(crate) fn get(&self, token: &str) -> Option<Operator> {
        let now = Instant::now();
        let mut map = self.lock();
        let session = map.get_mut(token)?;
        if now.duration_since(session.last_used) >= self.idle {
            map.remove(token);
            return None;
        }
        session.last_used = now;
        Some(session.operator.clone())
    }

    /// Ends a session.
    pub(crate) fn remove(&self, token: &str) {
        self.lock().remove(token);
    }

    /// Leaves a message for the session's next page.
    pub(crate) fn set_flash(&self, token: &str, flash: Flash) {
        if let Some(session) = self.lock().get_mut(token) {
            session.flash = Some(flash);
        }
    }

    /// Takes the message left for this page, if any.
    pub(crate) fn take_flash(&self, token: &str) -> Option<Flash> {
        self.lock().get_mut(token).and_then(|s| s.flash.take())
    }

    /// Number of live sessions (tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

/// 244 random bits from two v4 UUIDs (the OS random source), as 64 hex digits.
fn random_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookie_value<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// `Set-Cookie` value carrying `token` (empty token: delete the cookie).
pub(crate) fn set_cookie(token: &str, secure: bool) -> String {
    let mut value = format!("{COOKIE}={token}; Path=/console; HttpOnly; SameSite=Strict");
    if token.is_empty() {
        value.push_str("; Max-Age=0");
    }
    if secure {
        value.push_str("; Secure");
    }
    value
}
