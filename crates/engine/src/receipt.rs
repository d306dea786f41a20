//! Receipt handles: opaque, tamper-evident tokens naming one delivery of one
//! message.
//!
//! Layout before encoding (44 bytes): queue id (u64 BE) | message id (16) |
//! delivery epoch (u32 BE) | HMAC-SHA256 of the first 28 bytes, truncated to
//! 16 bytes. Encoded as unpadded base64url. The HMAC key is the queue's own
//! random key (kept in its durable state), optionally mixed with the
//! configured `receipt_handle_secret`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use storage::{MessageId, QueueId};

/// Bytes of the truncated MAC.
const MAC_BYTES: usize = 16;
/// Bytes of the signed part.
const SIGNED_BYTES: usize = 8 + 16 + 4;
/// Bytes of a whole decoded handle.
const HANDLE_BYTES: usize = SIGNED_BYTES + MAC_BYTES;

/// A 32-byte HMAC key.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ReceiptKey([u8; 32]);

impl std::fmt::Debug for ReceiptKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReceiptKey(..)")
    }
}

impl ReceiptKey {
    /// A fresh random key.
    pub(crate) fn random() -> Self {
        ReceiptKey(rand::random())
    }
    /// Hex form, for the queue's durable state.
    pub(crate) fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    /// Parses the hex form.
    pub(crate) fn from_hex(text: &str) -> Option<Self> {
        let bytes = hex::decode(text).ok()?;
        Some(ReceiptKey(bytes.try_into().ok()?))
    }
    /// The effective key: the queue key mixed with an operator secret when one is configured.
    pub(crate) fn with_secret(&self, secret: &str) -> Self {
        if secret.is_empty() {
            return self.clone();
        }
        let mut hasher = Sha256::new();
        hasher.update(secret.as_bytes());
        hasher.update(self.0);
        ReceiptKey(hasher.finalize().into())
    }

    fn mac(&self, signed: &[u8]) -> [u8; 32] {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(&self.0) {
            Ok(mac) => mac,
            Err(_) => return [0; 32],
        };
        mac.update(signed);
        mac.finalize().into_bytes().into()
    }
}

/// The decoded content of a valid handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Receipt {
    /// Queue incarnation.
    pub(crate) queue_id: QueueId,
    /// Message.
    pub(crate) message_id: MessageId,
    /// Delivery epoch.
    pub(crate) epoch: u32,
}

impl Receipt {
    /// Encodes and signs the handle.
    pub(crate) fn encode(&self, key: &ReceiptKey) -> String {
        let mut bytes = [0u8; HANDLE_BYTES];
        bytes[..8].copy_from_slice(&self.queue_id.to_be_bytes());
        bytes[8..24].copy_from_slice(&self.message_id);
        bytes[24..28].copy_from_slice(&self.epoch.to_be_bytes());
        let mac = key.mac(&bytes[..SIGNED_BYTES]);
        bytes[SIGNED_BYTES..].copy_from_slice(&mac[..MAC_BYTES]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Decodes a handle of queue `queue_id` and checks its MAC; `None` for
    /// anything forged, garbled or belonging to another queue.
    pub(crate) fn decode(handle: &str, queue_id: QueueId, key: &ReceiptKey) -> Option<Receipt> {
        if handle.len() > 128 {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(handle).ok()?;
        if bytes.len() != HANDLE_BYTES {
            return None;
        }
        let mac = key.mac(&bytes[..SIGNED_BYTES]);
        let expected = &mac[..MAC_BYTES];
        if !constant_time_eq(expected, &bytes[SIGNED_BYTES..]) {
            return None;
        }
        let queue = u64::from_be_bytes(bytes[..8].try_into().ok()?);
        if queue != queue_id {
            return None;
        }
        Some(Receipt {
            queue_id: queue,
            message_id: bytes[8..24].try_into().ok()?,
            epoch: u32::from_be_bytes(bytes[24..28].try_into().ok()?),
        })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Receipt {
        Receipt {
            queue_id: 7,
            message_id: [9; 16],
            epoch: 3,
        }
    }

    #[test]
    fn round_trip() {
        let key = ReceiptKey::random();
        let handle = sample().encode(&key);
        assert_eq!(Receipt::decode(&handle, 7, &key), Some(sample()));
    }

    #[test]
    fn every_flipped_character_is_rejected() {
        let key = ReceiptKey::random();
        let handle = sample().encode(&key);
        for i in 0..handle.len() {
            let mut chars: Vec<char> = handle.chars().collect();
            chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
            let forged: String = chars.into_iter().collect();
            assert_eq!(Receipt::decode(&forged, 7, &key), None, "position {i}");
        }
    }

    #[test]
    fn other_queue_other_key_garbage() {
        let key = ReceiptKey::random();
        let handle = sample().encode(&key);
        assert_eq!(Receipt::decode(&handle, 8, &key), None);
        assert_eq!(Receipt::decode(&handle, 7, &ReceiptKey::random()), None);
        assert_eq!(Receipt::decode("", 7, &key), None);
        assert_eq!(Receipt::decode("!!!not base64", 7, &key), None);
        assert_eq!(Receipt::decode(&"A".repeat(1000), 7, &key), None);
    }

    #[test]
    fn secret_changes_key_and_hex_round_trips() {
        let key = ReceiptKey::random();
        assert_eq!(ReceiptKey::from_hex(&key.to_hex()), Some(key.clone()));
        assert_ne!(key.with_secret("s"), key);
        assert_eq!(key.with_secret(""), key);
        assert_eq!(ReceiptKey::from_hex("zz"), None);
    }
}
