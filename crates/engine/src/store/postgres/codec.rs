//! Rows ↔ the store's types, and the text encodings of maps.
//!
//! Attribute maps are JSON text (portable across PostgreSQL-protocol
//! engines, readable with psql): queue attributes and tags as JSON objects,
//! message attributes as `{"name": ["DataType", "base64 of the value"]}`.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use tokio_postgres::Row;

use super::db::{get, DbError};
use crate::store::{
    AttributeValue, MessageId, MoveTask, MoveTaskStatus, QueueDef, QueueRecord, StoredMessage,
};

/// The columns of a message, qualified with the alias `m`.
pub(super) const MESSAGE_COLUMNS: &str = "m.message_id, m.seq, m.tenant, m.body, m.attributes, \
     m.trace_header, m.sender_id, m.sent_ms, m.dedup_id, m.dead_letter_source_arn, \
     m.receive_count, m.first_receive_ms, m.epoch, m.visible_at_ms, m.received_at_ms";

/// The columns of a queue.
pub(super) const QUEUE_COLUMNS: &str = "queue_id, account, name, attributes, tags, created_ms, \
     last_modified_ms, version";

/// The columns of a move task.
pub(super) const TASK_COLUMNS: &str = "task_id, source_arn, destination_arn, max_per_second, \
     status, moved, to_move, failure_reason, started_ms";

/// A `u64` as a `bigint` (values beyond `i64::MAX` saturate: no time, id or
/// counter of ours gets there).
pub(super) fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A `bigint` as a `u64` (negative values are corrupt data).
pub(super) fn uint(value: i64) -> Result<u64, DbError> {
    u64::try_from(value)
        .map_err(|_| DbError::Internal(format!("negative value {value} in a column")))
}

/// A stored message id.
pub(super) fn message_id(bytes: &[u8]) -> Result<MessageId, DbError> {
    bytes
        .try_into()
        .map_err(|_| DbError::Internal(format!("message id of {} bytes", bytes.len())))
}

/// Tenant column value of a group id.
pub(super) fn tenant(group_id: Option<&str>) -> &str {
    group_id.unwrap_or("")
}

/// Encodes a string map (queue attributes, tags).
pub(super) fn encode_map(map: &BTreeMap<String, String>) -> String {
    serde_json::to_string(map).unwrap_or_else(|_| "{}".into())
}

/// Decodes a string map.
pub(super) fn decode_map(text: &str) -> Result<BTreeMap<String, String>, DbError> {
    serde_json::from_str(text).map_err(|e| DbError::Internal(format!("stored map: {e}")))
}

/// Encodes message attributes.
pub(super) fn encode_attributes(attributes: &BTreeMap<String, AttributeValue>) -> String {
    let map: BTreeMap<&str, (&str, String)> = attributes
        .iter()
        .map(|(name, v)| {
            (
                name.as_str(),
                (v.data_type.as_str(), STANDARD.encode(&v.value)),
            )
        })
        .collect();
    serde_json::to_string(&map).unwrap_or_else(|_| "{}".into())
}

/// Decodes message attributes.
pub(super) fn decode_attributes(text: &str) -> Result<BTreeMap<String, AttributeValue>, DbError> {
    let map: BTreeMap<String, (String, String)> = serde_json::from_str(text)
        .map_err(|e| DbError::Internal(format!("stored message attributes: {e}")))?;
    map.into_iter()
        .map(|(name, (data_type, value))| {
            let value = STANDARD
                .decode(value)
                .map_err(|e| DbError::Internal(format!("stored attribute {name}: {e}")))?;
            Ok((name, AttributeValue { data_type, value }))
        })
        .collect()
}

/// A message row (selected with [`MESSAGE_COLUMNS`]) of a queue that is
/// FIFO or not.
pub(super) fn message(row: &Row, fifo: bool) -> Result<StoredMessage, DbError> {
    let tenant: String = get(row, "tenant")?;
    let seq: i64 = get(row, "seq")?;
    Ok(StoredMessage {
        message_id: message_id(get(row, "message_id")?)?,
        body: get(row, "body")?,
        attributes: decode_attributes(get(row, "attributes")?)?,
        trace_header: get(row, "trace_header")?,
        sender_id: get(row, "sender_id")?,
        sent_ms: uint(get(row, "sent_ms")?)?,
        group_id: (!tenant.is_empty()).then_some(tenant),
        dedup_id: get(row, "dedup_id")?,
        sequence_number: fifo.then_some(u128::from(uint(seq)?)),
        dead_letter_source_arn: get(row, "dead_letter_source_arn")?,
        receive_count: u32::try_from(get::<i32>(row, "receive_count")?).unwrap_or(0),
        first_receive_ms: uint(get(row, "first_receive_ms")?)?,
        epoch: epoch(get(row, "epoch")?),
        visible_at_ms: uint(get(row, "visible_at_ms")?)?,
        received_at_ms: uint(get(row, "received_at_ms")?)?,
    })
}

/// The epoch as receipt handles carry it (stored modulo 2^32).
pub(super) fn epoch(stored: i64) -> u32 {
    u32::try_from(stored).unwrap_or(0)
}

/// A queue row (selected with [`QUEUE_COLUMNS`]).
pub(super) fn queue(row: &Row) -> Result<QueueRecord, DbError> {
    Ok(QueueRecord {
        def: QueueDef {
            queue_id: uint(get(row, "queue_id")?)?,
            account: get(row, "account")?,
            name: get(row, "name")?,
            attributes: decode_map(get(row, "attributes")?)?,
            tags: decode_map(get(row, "tags")?)?,
            created_ms: uint(get(row, "created_ms")?)?,
            last_modified_ms: uint(get(row, "last_modified_ms")?)?,
        },
        version: uint(get(row, "version")?)?,
    })
}

/// A status as stored.
pub(super) fn status_text(status: MoveTaskStatus) -> &'static str {
    match status {
        MoveTaskStatus::Running => "RUNNING",
        MoveTaskStatus::Completed => "COMPLETED",
        MoveTaskStatus::Cancelling => "CANCELLING",
        MoveTaskStatus::Cancelled => "CANCELLED",
        MoveTaskStatus::Failed => "FAILED",
    }
}

fn status(text: &str) -> Result<MoveTaskStatus, DbError> {
    Ok(match text {
        "RUNNING" => MoveTaskStatus::Running,
        "COMPLETED" => MoveTaskStatus::Completed,
        "CANCELLING" => MoveTaskStatus::Cancelling,
        "CANCELLED" => MoveTaskStatus::Cancelled,
        "FAILED" => MoveTaskStatus::Failed,
        other => return Err(DbError::Internal(format!("move task status {other}"))),
    })
}

/// A move task row (selected with [`TASK_COLUMNS`]).
pub(super) fn task(row: &Row) -> Result<MoveTask, DbError> {
    Ok(MoveTask {
        task_id: get(row, "task_id")?,
        source_arn: get(row, "source_arn")?,
        destination_arn: get(row, "destination_arn")?,
        max_messages_per_second: get::<Option<i32>>(row, "max_per_second")?
            .map(|r| u32::try_from(r).unwrap_or(0)),
        status: status(get(row, "status")?)?,
        moved: uint(get(row, "moved")?)?,
        to_move: uint(get(row, "to_move")?)?,
        failure_reason: get(row, "failure_reason")?,
        started_ms: uint(get(row, "started_ms")?)?,
    })
}

/// Remembered deliveries of a receive attempt: 16-byte id + 4-byte epoch each.
pub(super) fn encode_deliveries(deliveries: &[(MessageId, u32)]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(deliveries.len() * 20);
    for (id, epoch) in deliveries {
        bytes.extend_from_slice(id);
        bytes.extend_from_slice(&epoch.to_be_bytes());
    }
    bytes
}

/// Decodes [`encode_deliveries`].
pub(super) fn decode_deliveries(bytes: &[u8]) -> Result<Vec<(MessageId, u32)>, DbError> {
    if !bytes.len().is_multiple_of(20) {
        return Err(DbError::Internal(
            "remembered receive attempt of odd length".into(),
        ));
    }
    bytes
        .chunks_exact(20)
        .map(|chunk| {
            let (id, epoch) = chunk.split_at(16);
            let epoch: [u8; 4] = epoch
                .try_into()
                .map_err(|_| DbError::Internal("remembered epoch".into()))?;
            Ok((message_id(id)?, u32::from_be_bytes(epoch)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_and_deliveries_round_trip() {
        let mut attributes = BTreeMap::new();
        attributes.insert(
            "bin".to_string(),
            AttributeValue {
                data_type: "Binary.x".into(),
                value: vec![0, 255, 7],
            },
        );
        attributes.insert(
            "s".to_string(),
            AttributeValue {
                data_type: "String".into(),
                value: "héllo".as_bytes().to_vec(),
            },
        );
        let text = encode_attributes(&attributes);
        assert_eq!(decode_attributes(&text).unwrap(), attributes);
        let deliveries = vec![([1u8; 16], 7u32), ([2u8; 16], u32::MAX)];
        let bytes = encode_deliveries(&deliveries);
        assert_eq!(decode_deliveries(&bytes).unwrap(), deliveries);
        assert!(decode_deliveries(&bytes[1..]).is_err());
    }
}
