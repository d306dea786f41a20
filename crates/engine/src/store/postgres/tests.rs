//! `PgStore` against a real PostgreSQL (see `tests/server.rs`; skipped when
//! PostgreSQL is not installed). One database per test; a test that needs
//! two nodes opens two stores on it.

use std::collections::BTreeMap;

use super::*;

mod contract;
mod failover;
mod faults;
mod methods;
mod nodes;
mod server;
mod throughput;

/// A fixed start time (tests pass time in).
pub(crate) const T0: u64 = 1_700_000_000_000;
/// The account of the test queues.
pub(crate) const ACCOUNT: &str = "000000000000";

/// A fresh database URL, or return from the test (PostgreSQL missing).
macro_rules! database {
    () => {
        match super::server::database().await {
            Some(url) => url,
            None => return,
        }
    };
}
pub(crate) use database;

/// A store (one "node") on `url`, with a small pool.
pub(crate) async fn open(url: &str) -> PgStore {
    open_with(url, |_| {}).await
}

/// A store with adjusted settings.
pub(crate) async fn open_with(url: &str, adjust: impl FnOnce(&mut PgStoreConfig)) -> PgStore {
    let mut config = PgStoreConfig {
        url: url.to_string(),
        pool_size: 4,
        sweep_interval_ms: 0,
        ..PgStoreConfig::default()
    };
    adjust(&mut config);
    PgStore::open(config, T0).await.expect("open PgStore")
}

/// A queue definition.
pub(crate) fn def(name: &str, attributes: &[(&str, &str)]) -> QueueDef {
    QueueDef {
        queue_id: 0,
        account: ACCOUNT.into(),
        name: name.into(),
        attributes: attributes
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        tags: BTreeMap::new(),
        created_ms: T0,
        last_modified_ms: T0,
    }
}

/// The context the front would derive.
pub(crate) fn ctx(record: &QueueRecord) -> QueueCtx {
    let settings = crate::attributes::Settings::from_attributes(&record.def.attributes);
    QueueCtx {
        queue_id: record.def.queue_id,
        arn: format!(
            "arn:aws:sqs:us-east-1:{}:{}",
            record.def.account, record.def.name
        ),
        fifo: record.def.name.ends_with(".fifo"),
        retention_ms: settings.retention_ms,
        dedup_per_group: settings.dedup_per_group,
    }
}

/// Creates a queue and returns its context.
pub(crate) async fn create(store: &PgStore, name: &str, attributes: &[(&str, &str)]) -> QueueCtx {
    match store
        .create_queue(def(name, attributes), 60_000, 1000)
        .await
        .unwrap()
    {
        CreateOutcome::Created(record) => ctx(&record),
        other => panic!("create {name}: {other:?}"),
    }
}

/// A standard message.
pub(crate) fn msg(body: &str) -> NewMessage {
    NewMessage {
        message_id: *uuid::Uuid::new_v4().as_bytes(),
        body: body.into(),
        attributes: BTreeMap::new(),
        trace_header: None,
        sender_id: "AIDA".into(),
        group_id: None,
        dedup_id: None,
        delay_ms: 0,
    }
}

/// A FIFO message.
pub(crate) fn fifo_msg(body: &str, group: &str, dedup: &str) -> NewMessage {
    NewMessage {
        group_id: Some(group.into()),
        dedup_id: Some(dedup.into()),
        ..msg(body)
    }
}

/// A receive of up to `max` with a visibility timeout.
pub(crate) fn spec(max: usize, visibility_ms: u64) -> ReceiveSpec {
    ReceiveSpec {
        max,
        visibility_ms,
        in_flight_limit: 120_000,
        redrive: None,
        attempt_id: None,
    }
}

/// The deliveries of a receive (panics on OverLimit).
pub(crate) async fn receive(
    store: &PgStore,
    queue: &QueueCtx,
    spec: &ReceiveSpec,
    now: u64,
) -> Vec<StoredMessage> {
    match store.receive(queue, spec, now).await.unwrap() {
        ReceiveOutcome::Delivered { delivered, .. } => delivered,
        ReceiveOutcome::OverLimit => panic!("unexpected OverLimit"),
    }
}

/// The delivery a received message names.
pub(crate) fn delivery(m: &StoredMessage) -> Delivery {
    Delivery {
        message_id: m.message_id,
        epoch: m.epoch,
    }
}

/// Bodies of messages.
pub(crate) fn bodies(messages: &[StoredMessage]) -> Vec<String> {
    messages.iter().map(|m| m.body.clone()).collect()
}
