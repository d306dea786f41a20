//! Model test: random operations on a standard and a FIFO queue, checked
//! after every step against a plain reference model, with restarts and a
//! manual clock in the mix. Segments are small (4 KiB) and bodies a few
//! hundred bytes, so the log rotates often; `Tick` runs timers, compaction
//! and segment reclamation, and `SetAttributes` writes new `QueueUpserted`
//! records, so records move past each other before restarts (several in a
//! row). Each case ends by draining both queues and comparing every body
//! with the model.

use std::collections::HashMap;

use proptest::prelude::*;

use super::*;

#[derive(Debug, Clone)]
enum Op {
    Send {
        fifo: bool,
        group: u8,
        dedup: u8,
        delay: bool,
    },
    SendBatch {
        fifo: bool,
        count: u8,
        group: u8,
    },
    Receive {
        fifo: bool,
        max: u8,
        visibility_s: u8,
    },
    Delete {
        fifo: bool,
        handle: u16,
    },
    ChangeVisibility {
        fifo: bool,
        handle: u16,
        seconds: u8,
    },
    Purge {
        fifo: bool,
    },
    Advance {
        ms: u32,
    },
    /// One background round: timers, move tasks, compaction and GC.
    Tick,
    /// A new `QueueUpserted` (visibility timeout and a tag; neither changes
    /// what the model predicts, since receives name their visibility).
    SetAttributes {
        fifo: bool,
        value: u8,
    },
    /// Restarts, `times` in a row.
    Restart {
        times: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<bool>(), 0u8..3, 0u8..12, any::<bool>()).prop_map(|(fifo, group, dedup, delay)| Op::Send { fifo, group, dedup, delay }),
        2 => (any::<bool>(), 1u8..=10, 0u8..3).prop_map(|(fifo, count, group)| Op::SendBatch { fifo, count, group }),
        4 => (any::<bool>(), 1u8..=10, 0u8..20).prop_map(|(fifo, max, visibility_s)| Op::Receive { fifo, max, visibility_s }),
        3 => (any::<bool>(), any::<u16>()).prop_map(|(fifo, handle)| Op::Delete { fifo, handle }),
        2 => (any::<bool>(), any::<u16>(), 0u8..20).prop_map(|(fifo, handle, seconds)| Op::ChangeVisibility { fifo, handle, seconds }),
        1 => any::<bool>().prop_map(|fifo| Op::Purge { fifo }),
        3 => (0u32..40_000).prop_map(|ms| Op::Advance { ms }),
        3 => Just(Op::Tick),
        1 => (any::<bool>(), any::<u8>()).prop_map(|(fifo, value)| Op::SetAttributes { fifo, value }),
        2 => (1u8..=3).prop_map(|times| Op::Restart { times }),
    ]
}

/// Retention of the standard queue in the test (short, so expiry happens).
const RETENTION_S: u64 = 120;
const DELAY_S: u64 = 5;

#[derive(Debug, Clone)]
struct ModelMsg {
    id: String,
    body: String,
    group: u8,
    sent_ms: u64,
    visible_at_ms: u64,
    received: u32,
    epoch: u32,
    gone: bool,
}

#[derive(Debug, Default)]
struct ModelQueue {
    fifo: bool,
    messages: Vec<ModelMsg>,
    /// (message index, epoch, handle)
    handles: Vec<(usize, u32, String)>,
    dedup: HashMap<u8, (String, u64)>,
    last_purge_ms: Option<u64>,
}

impl ModelQueue {
    fn expire(&mut self, now: u64) {
        if !self.fifo {
            for m in &mut self.messages {
                if m.sent_ms + RETENTION_S * 1000 <= now {
                    m.gone = true;
                }
            }
        }
    }
    fn live(&self) -> impl Iterator<Item = &ModelMsg> {
        self.messages.iter().filter(|m| !m.gone)
    }
    /// (visible, in flight, delayed)
    fn counts(&self, now: u64) -> (u64, u64, u64) {
        let mut c = (0, 0, 0);
        for m in self.live() {
            if m.visible_at_ms <= now {
                c.0 += 1;
            } else if m.received > 0 {
                c.1 += 1;
            } else {
                c.2 += 1;
            }
        }
        c
    }
    /// FIFO: per group, the receivable prefix (stops at an invisible message).
    fn fifo_eligible(&self, now: u64) -> HashMap<u8, Vec<usize>> {
        let mut out: HashMap<u8, Vec<usize>> = HashMap::new();
        let mut blocked = std::collections::HashSet::new();
        for (i, m) in self.messages.iter().enumerate() {
            if m.gone || blocked.contains(&m.group) {
                continue;
            }
            if m.visible_at_ms > now {
                blocked.insert(m.group);
            } else {
                out.entry(m.group).or_default().push(i);
            }
        }
        out
    }
}

struct World {
    h: Harness,
    queues: [QueueRef; 2],
    model: [ModelQueue; 2],
    counter: u64,
}

impl World {
    async fn new() -> World {
        let h = Harness::with_storage(storage::StorageConfig {
            durability: storage::Durability::Never,
            segment_size_bytes: 4096,
            // Compact eagerly, so live records get relocated often.
            compaction_live_ratio: 0.7,
            ..Default::default()
        })
        .await;
        let std_q = h
            .create(
                "model",
                &[("MessageRetentionPeriod", &RETENTION_S.to_string())],
            )
            .await;
        let fifo_q = h.create("model.fifo", &[("FifoQueue", "true")]).await;
        World {
            h,
            queues: [std_q, fifo_q],
            model: [
                ModelQueue::default(),
                ModelQueue {
                    fifo: true,
                    ..Default::default()
                },
            ],
            counter: 0,
        }
    }

    fn now(&self) -> u64 {
        self.h.clock.now_ms()
    }

    fn entry(&mut self, fifo: bool, group: u8, dedup: u8, delay: bool, id: String) -> SendEntry {
        self.counter += 1;
        SendEntry {
            id,
            body: format!("body-{}-{}", self.counter, "p".repeat(300)),
            delay_seconds: (!fifo && delay).then_some(DELAY_S as i64),
            // On the standard queue groups are fair-queue tenants (group 0: none).
            group_id: (fifo || group > 0).then(|| format!("g{group}")),
            dedup_id: fifo.then(|| format!("d{dedup}")),
            ..Default::default()
        }
    }

    /// Applies a send result to the model.
    fn sent(&mut self, q: usize, entry: &SendEntry, group: u8, dedup: u8, result: &SendResult) {
        let now = self.now();
        let model = &mut self.model[q];
        if model.fifo {
            if let Some((id, at)) = model.dedup.get(&dedup) {
                if now < at + 300_000 {
                    assert_eq!(&result.message_id, id, "duplicate returns the original id");
                    return;
                }
            }
            model.dedup.insert(dedup, (result.message_id.clone(), now));
        }
        let delay = entry.delay_seconds.unwrap_or(0) as u64 * 1000;
        model.messages.push(ModelMsg {
            id: result.message_id.clone(),
            body: entry.body.clone(),
            group,
            sent_ms: now,
            visible_at_ms: now + delay,
            received: 0,
            epoch: 0,
            gone: false,
        });
    }

    async fn apply(&mut self, op: Op) {
        let now = self.now();
        match op {
            Op::Send {
                fifo,
                group,
                dedup,
                delay,
            } => {
                let q = usize::from(fifo);
                let entry = self.entry(fifo, group, dedup, delay, String::new());
                let result = self
                    .h
                    .engine
                    .send_message(&self.h.caller, &self.queues[q], entry.clone())
                    .await
                    .unwrap();
                self.sent(q, &entry, group, dedup, &result);
            }
            Op::SendBatch { fifo, count, group } => {
                let q = usize::from(fifo);
                let entries: Vec<(SendEntry, u8)> = (0..count)
                    .map(|i| {
                        let dedup = 100 + (self.counter % 100) as u8;
                        (
                            self.entry(fifo, group, dedup, i % 2 == 0, format!("e{i}")),
                            dedup,
                        )
                    })
                    .collect();
                let result = self
                    .h
                    .engine
                    .send_message_batch(
                        &self.h.caller,
                        &self.queues[q],
                        entries.iter().map(|(e, _)| e.clone()).collect(),
                    )
                    .await
                    .unwrap();
                assert!(result.failed.is_empty());
                for ((entry, dedup), r) in entries.iter().zip(&result.successful) {
                    assert_eq!(entry.id, r.id, "batch results keep entry order");
                    self.sent(q, entry, group, *dedup, r);
                }
            }
            Op::Receive {
                fifo,
                max,
                visibility_s,
            } => {
                let q = usize::from(fifo);
                let request = ReceiveRequest {
                    max_number_of_messages: Some(i64::from(max)),
                    visibility_timeout: Some(i64::from(visibility_s)),
                    wait_time_seconds: Some(0),
                    system_attribute_names: vec!["All".into()],
                    ..Default::default()
                };
                let got = self
                    .h
                    .engine
                    .receive_message(&self.h.caller, &self.queues[q], request)
                    .await
                    .unwrap();
                let model = &mut self.model[q];
                let eligible: Vec<usize> = if model.fifo {
                    let by_group = model.fifo_eligible(now);
                    // Each group's part of the answer is a prefix of its eligible messages, in order.
                    let mut seen: HashMap<u8, usize> = HashMap::new();
                    for m in &got {
                        let i = model
                            .messages
                            .iter()
                            .position(|x| x.id == m.message_id)
                            .expect("known message");
                        let group = model.messages[i].group;
                        let k = seen.entry(group).or_default();
                        assert_eq!(
                            by_group.get(&group).and_then(|v| v.get(*k)),
                            Some(&i),
                            "FIFO order within group {group}"
                        );
                        *k += 1;
                    }
                    by_group.values().flatten().copied().collect()
                } else {
                    model
                        .live()
                        .filter(|m| m.visible_at_ms <= now)
                        .map(|m| {
                            model
                                .messages
                                .iter()
                                .position(|x| x.id == m.id)
                                .unwrap_or(0)
                        })
                        .collect()
                };
                assert_eq!(
                    got.len(),
                    eligible.len().min(usize::from(max)),
                    "receive returns all it can up to max"
                );
                for m in got {
                    let i = model
                        .messages
                        .iter()
                        .position(|x| x.id == m.message_id)
                        .expect("known message");
                    assert!(eligible.contains(&i), "received message was receivable");
                    let msg = &mut model.messages[i];
                    assert_eq!(m.body, msg.body);
                    msg.received += 1;
                    msg.epoch += 1;
                    msg.visible_at_ms = now + u64::from(visibility_s) * 1000;
                    assert_eq!(
                        m.attributes["ApproximateReceiveCount"],
                        msg.received.to_string()
                    );
                    model.handles.push((i, msg.epoch, m.receipt_handle));
                }
            }
            Op::Delete { fifo, handle } => {
                let q = usize::from(fifo);
                let model = &mut self.model[q];
                if model.handles.is_empty() {
                    return;
                }
                let (i, epoch, handle) =
                    model.handles[usize::from(handle) % model.handles.len()].clone();
                let result = self
                    .h
                    .engine
                    .delete_message(&self.h.caller, &self.queues[q], &handle)
                    .await;
                // E1: only the latest delivery's handle deletes; on FIFO a
                // handle whose timeout is over is refused as expired.
                let msg = &mut model.messages[i];
                let latest = msg.epoch == epoch;
                let in_flight = msg.visible_at_ms > now;
                if msg.gone {
                    result.unwrap();
                } else if model.fifo && !(latest && in_flight) {
                    assert!(
                        matches!(result, Err(EngineError::InvalidParameterValue(ref m)) if m.contains("expired")),
                        "{result:?}"
                    );
                } else {
                    result.unwrap();
                    msg.gone |= latest;
                }
            }
            Op::ChangeVisibility {
                fifo,
                handle,
                seconds,
            } => {
                let q = usize::from(fifo);
                let model = &mut self.model[q];
                if model.handles.is_empty() {
                    return;
                }
                let (i, epoch, handle) =
                    model.handles[usize::from(handle) % model.handles.len()].clone();
                let result = self
                    .h
                    .engine
                    .change_message_visibility(
                        &self.h.caller,
                        &self.queues[q],
                        &handle,
                        i64::from(seconds),
                    )
                    .await;
                // E1: an earlier delivery's handle answers success and
                // changes nothing; the latest one sets the timeout, also
                // after it expired (the message is hidden again).
                let msg = &mut model.messages[i];
                if msg.gone {
                    assert!(
                        matches!(result, Err(EngineError::InvalidParameterValue(ref m)) if m.contains("does not exist")),
                        "{result:?}"
                    );
                } else {
                    result.unwrap();
                    if msg.epoch == epoch {
                        msg.visible_at_ms = now + u64::from(seconds) * 1000;
                    }
                }
            }
            Op::Purge { fifo } => {
                let q = usize::from(fifo);
                let result = self
                    .h
                    .engine
                    .purge_queue(&self.h.caller, &self.queues[q])
                    .await;
                let model = &mut self.model[q];
                if model.last_purge_ms.is_some_and(|at| now < at + 60_000) {
                    assert!(matches!(result, Err(EngineError::PurgeQueueInProgress(_))));
                } else {
                    result.unwrap();
                    model.last_purge_ms = Some(now);
                    for m in &mut model.messages {
                        m.gone = true;
                    }
                    // A purge also forgets the deduplication ids.
                    model.dedup.clear();
                }
            }
            Op::Advance { ms } => self.h.clock.advance(u64::from(ms)),
            Op::Tick => self.h.engine.tick().await.unwrap(),
            Op::SetAttributes { fifo, value } => {
                let q = usize::from(fifo);
                let attributes = [("VisibilityTimeout".to_string(), value.to_string())].into();
                self.h
                    .engine
                    .set_queue_attributes(&self.h.caller, &self.queues[q], attributes)
                    .await
                    .unwrap();
                let tags = [(format!("t{}", value % 4), value.to_string())].into();
                self.h
                    .engine
                    .tag_queue(&self.h.caller, &self.queues[q], tags)
                    .await
                    .unwrap();
            }
            Op::Restart { times } => {
                for _ in 0..times {
                    self.h.restart().await;
                }
            }
        }
        let now = self.now();
        for q in 0..2 {
            self.model[q].expire(now);
            assert_eq!(
                self.h.counts(&self.queues[q]).await,
                self.model[q].counts(now),
                "counts of queue {q}"
            );
        }
    }
}

impl World {
    /// Makes everything visible (without passing retention on the FIFO
    /// queue), then receives and deletes until both queues are empty: the
    /// bodies must be exactly the model's live messages.
    async fn drain_and_check(&mut self) {
        self.h.clock.advance(25_000);
        self.h.engine.tick().await.unwrap();
        let now = self.now();
        for q in 0..2 {
            self.model[q].expire(now);
            let mut expected: Vec<(String, String)> = self.model[q]
                .live()
                .map(|m| (m.id.clone(), m.body.clone()))
                .collect();
            let mut got = Vec::new();
            loop {
                let request = ReceiveRequest {
                    max_number_of_messages: Some(10),
                    visibility_timeout: Some(600),
                    wait_time_seconds: Some(0),
                    ..Default::default()
                };
                let batch = self
                    .h
                    .engine
                    .receive_message(&self.h.caller, &self.queues[q], request)
                    .await
                    .unwrap();
                if batch.is_empty() {
                    break;
                }
                for m in batch {
                    self.h.delete(&self.queues[q], &m.receipt_handle).await;
                    got.push((m.message_id, m.body));
                }
            }
            expected.sort();
            got.sort();
            assert_eq!(got, expected, "contents of queue {q}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("MODEL_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(96), max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_model(ops in proptest::collection::vec(op(), 1..80)) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let mut world = World::new().await;
            for op in ops {
                world.apply(op).await;
            }
            world.drain_and_check().await;
        });
    }
}
