//! Engine tests on the real storage in a temporary directory, with a
//! `ManualClock` (no test sleeps to wait for a timeout).

mod admin;
mod basics;
mod compaction_race;
mod dlq;
mod durability;
mod errors;
mod fifo;
mod fuzz;
mod model;
mod restart;

use std::collections::BTreeMap;
use std::sync::Arc;

use storage::{Durability, Storage, StorageConfig};

use crate::*;

/// Start of the manual clock: 2026-01-01T00:00:00Z.
pub(crate) const T0: u64 = 1_767_225_600_000;

/// An engine on a temp dir with a manual clock, restartable.
#[allow(dead_code)]
pub(crate) struct Harness {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) clock: ManualClock,
    pub(crate) engine: Engine,
    pub(crate) storage_config: StorageConfig,
    pub(crate) caller: Caller,
}

pub(crate) fn caller() -> Caller {
    Caller {
        account: "000000000000".into(),
        sender_id: "AIDTEST".into(),
    }
}

#[allow(dead_code)]
impl Harness {
    pub(crate) async fn new() -> Harness {
        Harness::with_storage(StorageConfig {
            durability: Durability::Never,
            ..Default::default()
        })
        .await
    }

    pub(crate) async fn with_storage(storage_config: StorageConfig) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(T0);
        let engine = open(dir.path(), &storage_config, &clock).await;
        Harness {
            dir,
            clock,
            engine,
            storage_config,
            caller: caller(),
        }
    }

    /// Clean shutdown and reopen on the same directory.
    pub(crate) async fn restart(&mut self) {
        self.engine.shutdown().await.unwrap();
        self.engine.storage().unwrap().close().await.unwrap();
        let replacement = {
            // Drop the old engine (and its storage handle) before reopening.
            let placeholder_dir = tempfile::tempdir().unwrap();
            let placeholder = open(placeholder_dir.path(), &self.storage_config, &self.clock).await;
            let old = std::mem::replace(&mut self.engine, placeholder);
            drop(old);
            open(self.dir.path(), &self.storage_config, &self.clock).await
        };
        self.engine = replacement;
    }

    pub(crate) fn advance_s(&self, seconds: u64) {
        self.clock.advance(seconds * 1000);
    }

    pub(crate) async fn create(&self, name: &str, attributes: &[(&str, &str)]) -> QueueRef {
        let attributes: BTreeMap<String, String> = attributes
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.engine
            .create_queue(&self.caller, name, attributes, BTreeMap::new())
            .await
            .unwrap()
    }

    pub(crate) async fn send(&self, queue: &QueueRef, body: &str) -> SendResult {
        self.engine
            .send_message(
                &self.caller,
                queue,
                SendEntry {
                    body: body.into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
    }

    pub(crate) async fn send_fifo(
        &self,
        queue: &QueueRef,
        body: &str,
        group: &str,
        dedup: &str,
    ) -> SendResult {
        let entry = SendEntry {
            body: body.into(),
            group_id: Some(group.into()),
            dedup_id: Some(dedup.into()),
            ..Default::default()
        };
        self.engine
            .send_message(&self.caller, queue, entry)
            .await
            .unwrap()
    }

    pub(crate) async fn receive(&self, queue: &QueueRef, max: i64) -> Vec<ReceivedMessage> {
        let request = ReceiveRequest {
            max_number_of_messages: Some(max),
            wait_time_seconds: Some(0),
            system_attribute_names: vec!["All".into()],
            message_attribute_names: vec!["All".into()],
            ..Default::default()
        };
        self.engine
            .receive_message(&self.caller, queue, request)
            .await
            .unwrap()
    }

    /// A ReceiveMessage waiting up to 20 s, started in its own task; it is
    /// waiting when this returns (the test's runtime has one thread).
    pub(crate) async fn long_poll(
        &self,
        queue: &QueueRef,
    ) -> tokio::task::JoinHandle<Result<Vec<ReceivedMessage>, EngineError>> {
        let engine = self.engine.clone();
        let (caller, queue) = (self.caller.clone(), queue.clone());
        let waiter = tokio::spawn(async move {
            let request = ReceiveRequest {
                wait_time_seconds: Some(20),
                ..Default::default()
            };
            engine.receive_message(&caller, &queue, request).await
        });
        tokio::task::yield_now().await;
        waiter
    }

    pub(crate) async fn delete(&self, queue: &QueueRef, handle: &str) {
        self.engine
            .delete_message(&self.caller, queue, handle)
            .await
            .unwrap()
    }

    pub(crate) async fn set_attributes(
        &self,
        queue: &QueueRef,
        attributes: &[(&str, &str)],
    ) -> Result<(), EngineError> {
        let attributes = attributes
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.engine
            .set_queue_attributes(&self.caller, queue, attributes)
            .await
    }

    pub(crate) async fn attribute(&self, queue: &QueueRef, name: &str) -> String {
        let map = self
            .engine
            .get_queue_attributes(&self.caller, queue, &[name.to_string()])
            .await
            .unwrap();
        map.get(name).cloned().unwrap_or_default()
    }

    pub(crate) async fn counts(&self, queue: &QueueRef) -> (u64, u64, u64) {
        let map = self
            .engine
            .get_queue_attributes(&self.caller, queue, &["All".to_string()])
            .await
            .unwrap();
        let n = |k: &str| map[k].parse::<u64>().unwrap();
        (
            n("ApproximateNumberOfMessages"),
            n("ApproximateNumberOfMessagesNotVisible"),
            n("ApproximateNumberOfMessagesDelayed"),
        )
    }
}

pub(crate) async fn open(
    dir: &std::path::Path,
    config: &StorageConfig,
    clock: &ManualClock,
) -> Engine {
    let (storage, _) = Storage::open(dir, config).unwrap();
    Engine::open(storage, Arc::new(clock.clone()), EngineConfig::default())
        .await
        .unwrap()
}
