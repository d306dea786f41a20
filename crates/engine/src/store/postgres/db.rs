//! The connection pool, transactions with bounded retries, the mapping of
//! database errors onto the store's contract, and fault injection.
//!
//! Error rules (contract item 4):
//! - an error the server answered with a SQLSTATE means the statement (and,
//!   in a transaction, the transaction) did not take effect. Serialization
//!   failures, deadlocks, cancelled statements, shutdowns, read-only
//!   standbys and resource shortages are retried (the whole transaction);
//!   other SQLSTATEs are bugs ([`DbError::Internal`]);
//! - an error without a SQLSTATE (connection lost, I/O) before `COMMIT` was
//!   sent is retried on a new connection (nothing was committed);
//! - an error without a SQLSTATE during `COMMIT` or during a single
//!   autocommit statement leaves the outcome unknown: it is answered
//!   [`StoreError::Unavailable`] and never retried here.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use rand::Rng;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::{NoTls, Row};

use super::config::{FaultConfig, PgStoreConfig};
use crate::store::StoreError;

/// Statement parameters.
pub(super) type Params<'a> = [&'a (dyn ToSql + Sync)];

/// Why an attempt failed.
#[derive(Debug)]
pub(super) enum DbError {
    /// Nothing took effect; the whole transaction may run again.
    Retry(String),
    /// The outcome is unknown, or retrying is pointless: `Unavailable`.
    Unavailable(String),
    /// The queue was deleted meanwhile.
    Gone,
    /// A bug or corrupt data.
    Internal(String),
}

/// What a database error says about the statement that met it.
enum Kind {
    /// Not applied; running it again may succeed.
    Transient,
    /// Not applied; running it again will fail the same way.
    Permanent,
    /// No answer from the server: applied or not, nobody knows.
    Unknown,
}

fn kind(error: &tokio_postgres::Error) -> Kind {
    let Some(code) = error.code() else {
        // No answer from the server (I/O, closed, timeout) — or a client-side
        // conversion error, which is a bug.
        let text = error.to_string();
        let lost = error.is_closed()
            || [
                "error communicating",
                "error connecting",
                "timeout",
                "connection closed",
            ]
            .iter()
            .any(|p| text.starts_with(p));
        return if lost { Kind::Unknown } else { Kind::Permanent };
    };
    let transient = [
        SqlState::T_R_SERIALIZATION_FAILURE,
        SqlState::T_R_DEADLOCK_DETECTED,
        SqlState::QUERY_CANCELED,
        SqlState::READ_ONLY_SQL_TRANSACTION,
        SqlState::ADMIN_SHUTDOWN,
        SqlState::CRASH_SHUTDOWN,
        SqlState::CANNOT_CONNECT_NOW,
        SqlState::TOO_MANY_CONNECTIONS,
    ];
    let class = code.code().get(..2).unwrap_or("");
    if transient.contains(code) || class == "08" || class == "53" {
        Kind::Transient
    } else {
        Kind::Permanent
    }
}

fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => error.to_string(),
    }
}

impl From<tokio_postgres::Error> for DbError {
    /// A statement inside a transaction, before `COMMIT`: every connection
    /// problem is retryable (the server rolls the transaction back).
    fn from(error: tokio_postgres::Error) -> Self {
        match kind(&error) {
            Kind::Transient | Kind::Unknown => DbError::Retry(describe(&error)),
            Kind::Permanent => DbError::Internal(describe(&error)),
        }
    }
}

/// A `COMMIT` or an autocommit statement failed.
fn at_commit(error: &tokio_postgres::Error) -> DbError {
    match kind(error) {
        Kind::Transient => DbError::Retry(describe(error)),
        Kind::Permanent => DbError::Internal(describe(error)),
        Kind::Unknown => DbError::Unavailable(format!(
            "the database connection was lost during a commit; its outcome is unknown: {}",
            describe(error)
        )),
    }
}

impl From<DbError> for StoreError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Retry(m) | DbError::Unavailable(m) => StoreError::Unavailable(m),
            DbError::Gone => StoreError::QueueGone,
            DbError::Internal(m) => StoreError::Internal(m),
        }
    }
}

/// A column of a row, or [`DbError::Internal`].
pub(super) fn get<'a, T: FromSql<'a>>(row: &'a Row, column: &str) -> Result<T, DbError> {
    row.try_get(column)
        .map_err(|e| DbError::Internal(format!("column {column}: {e}")))
}

/// The pool and the retry policy.
pub(super) struct Db {
    pool: Pool,
    max_retries: u32,
    faults: FaultConfig,
}

/// Parses the URL and applies the session options and timeouts.
pub(super) fn pg_config(config: &PgStoreConfig) -> Result<tokio_postgres::Config, StoreError> {
    let mut pg: tokio_postgres::Config = config
        .url
        .parse()
        .map_err(|e| StoreError::Internal(format!("invalid PostgreSQL URL: {e}")))?;
    let mut options = config.session_options();
    if let Some(given) = pg.get_options() {
        options = format!("{given} {options}");
    }
    pg.options(&options);
    pg.connect_timeout(Duration::from_millis(config.connect_timeout_ms.max(1)));
    if pg.get_application_name().is_none() {
        pg.application_name("stowage");
    }
    Ok(pg)
}

impl Db {
    /// A pool over `config` (connections are made on demand).
    pub(super) fn new(config: &PgStoreConfig) -> Result<Db, StoreError> {
        let pg = pg_config(config)?;
        let manager = Manager::from_config(
            pg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let wait = Duration::from_millis(config.connect_timeout_ms.max(1));
        let pool = Pool::builder(manager)
            .max_size(config.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(wait))
            .create_timeout(Some(wait))
            .recycle_timeout(Some(wait))
            .build()
            .map_err(|e| StoreError::Internal(format!("connection pool: {e}")))?;
        Ok(Db {
            pool,
            max_retries: config.max_retries,
            faults: config.faults,
        })
    }

    /// A pooled connection.
    pub(super) async fn connection(&self) -> Result<Object, DbError> {
        self.pool
            .get()
            .await
            .map_err(|e| DbError::Retry(format!("no database connection: {e}")))
    }

    /// Starts a transaction on `conn` (isolation: the session default).
    pub(super) async fn begin<'a>(&self, conn: &'a mut Object) -> Result<Tx<'a>, DbError> {
        let inner = conn.transaction().await?;
        Ok(Tx {
            inner,
            faults: self.faults,
            discard: AtomicBool::new(false),
        })
    }

    /// Commits; an unknown outcome is `Unavailable`. With fault injection the
    /// connection may be cut right after a successful commit.
    pub(super) async fn commit(&self, tx: Tx<'_>) -> Result<(), DbError> {
        if tx.discard.load(Ordering::Relaxed) {
            return Ok(tx.inner.rollback().await?);
        }
        tx.inner.commit().await.map_err(|e| at_commit(&e))
    }

    /// After a commit: maybe cut the connection and claim ignorance (tests).
    pub(super) async fn after_commit(&self, conn: &Object) -> Result<(), DbError> {
        if roll(self.faults.disconnect_permille) {
            let _ = conn
                .batch_execute("SELECT pg_terminate_backend(pg_backend_pid())")
                .await;
            return Err(DbError::Unavailable(
                "injected: connection lost after COMMIT was sent".into(),
            ));
        }
        Ok(())
    }

    /// Decides what to do after an attempt: the value, another try (after a
    /// short randomised pause), or the error.
    pub(super) async fn settle<T>(
        &self,
        result: Result<T, DbError>,
        attempt: &mut u32,
    ) -> Result<Option<T>, StoreError> {
        match result {
            Ok(value) => Ok(Some(value)),
            Err(DbError::Retry(reason)) if *attempt < self.max_retries => {
                *attempt += 1;
                metrics::counter!("stowage_pgstore_retries_total").increment(1);
                tracing::debug!(%reason, attempt = *attempt, "retrying a database transaction");
                let ceiling = 2u64.saturating_pow((*attempt).min(8)).saturating_mul(2);
                let pause = rand::thread_rng().gen_range(1..=ceiling.max(2));
                tokio::time::sleep(Duration::from_millis(pause)).await;
                Ok(None)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// One autocommit statement returning rows, retried while it surely did
    /// not take effect.
    pub(super) async fn query(
        &self,
        sql: &str,
        params: &Params<'_>,
    ) -> Result<Vec<Row>, StoreError> {
        let mut attempt = 0;
        loop {
            let result = self.query_once(sql, params).await;
            if let Some(rows) = self.settle(result, &mut attempt).await? {
                return Ok(rows);
            }
        }
    }

    /// One autocommit statement whose rows are not needed.
    pub(super) async fn execute(&self, sql: &str, params: &Params<'_>) -> Result<(), StoreError> {
        self.query(sql, params).await.map(drop)
    }

    async fn query_once(&self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, DbError> {
        let conn = self.connection().await?;
        if roll(self.faults.serialization_permille) {
            return Err(DbError::Retry("injected serialization failure".into()));
        }
        let statement = conn.prepare_cached(sql).await?;
        let rows = conn
            .query(&statement, params)
            .await
            .map_err(|e| at_commit(&e))?;
        self.after_commit(&conn).await?;
        Ok(rows)
    }

    /// Closes the pool (connections close as they are returned).
    pub(super) fn close(&self) {
        self.pool.close();
    }
}

/// True with probability `permille / 1000`.
fn roll(permille: u32) -> bool {
    permille > 0 && rand::thread_rng().gen_range(0..1000) < permille
}

/// A transaction (rolled back when dropped uncommitted).
pub(super) struct Tx<'a> {
    inner: deadpool_postgres::Transaction<'a>,
    faults: FaultConfig,
    discard: AtomicBool,
}

impl Tx<'_> {
    /// Makes the transaction roll back instead of committing at its end
    /// (the body's answer stands: e.g. a quota check that failed after an
    /// insert).
    pub(super) fn roll_back_at_end(&self) {
        self.discard.store(true, Ordering::Relaxed);
    }

    async fn inject(&self) -> Result<(), DbError> {
        if roll(self.faults.serialization_permille) {
            return Err(DbError::Retry("injected serialization failure".into()));
        }
        if roll(self.faults.disconnect_permille) {
            let _ = self
                .inner
                .batch_execute("SELECT pg_terminate_backend(pg_backend_pid())")
                .await;
            return Err(DbError::Retry(
                "injected: connection lost inside a transaction".into(),
            ));
        }
        Ok(())
    }

    /// Rows of one statement.
    pub(super) async fn query(&self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, DbError> {
        self.inject().await?;
        let statement = self.inner.prepare_cached(sql).await?;
        Ok(self.inner.query(&statement, params).await?)
    }

    /// The row of a statement that returns at most one.
    pub(super) async fn query_opt(
        &self,
        sql: &str,
        params: &Params<'_>,
    ) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, params).await?.into_iter().next())
    }

    /// Rows affected by one statement.
    pub(super) async fn execute(&self, sql: &str, params: &Params<'_>) -> Result<u64, DbError> {
        self.inject().await?;
        let statement = self.inner.prepare_cached(sql).await?;
        Ok(self.inner.execute(&statement, params).await?)
    }
}

/// Runs `$body` (an expression using `$tx: Tx`, `?` and `.await`, of type
/// `Result<T, DbError>`) in a transaction on `$db`, committing when it is
/// `Ok` and retrying the whole transaction per [`Db::settle`]. Evaluates to
/// `Result<T, StoreError>`.
macro_rules! transaction {
    ($db:expr, |$tx:ident| $body:expr) => {{
        let db: &$crate::store::postgres::db::Db = $db;
        let mut attempt: u32 = 0;
        loop {
            let result = async {
                let mut conn = db.connection().await?;
                let $tx = db.begin(&mut conn).await?;
                let body: Result<_, $crate::store::postgres::db::DbError> = $body;
                let value = body?;
                db.commit($tx).await?;
                db.after_commit(&conn).await?;
                Ok::<_, $crate::store::postgres::db::DbError>(value)
            }
            .await;
            match db.settle(result, &mut attempt).await {
                Ok(Some(value)) => break Ok(value),
                Ok(None) => continue,
                Err(error) => break Err(error),
            }
        }
    }};
}
pub(super) use transaction;
