//! The MD5 digests SDKs verify (SQS-SPEC §7): of the body, of the message
//! attributes and of the message system attributes.

use std::collections::BTreeMap;

use md5::{Digest, Md5};
use storage::AttributeValue;

/// Hex MD5 of the UTF-8 body bytes.
pub(crate) fn md5_of_body(body: &str) -> String {
    hex::encode(Md5::digest(body.as_bytes()))
}

/// Hex MD5 of a set of message attributes, `None` when there are none.
///
/// Names in byte order (BTreeMap order); per attribute: length-prefixed name,
/// length-prefixed data type, a transport byte (1 = string, 2 = binary) and
/// the length-prefixed value. Lengths are 4-byte big-endian.
pub(crate) fn md5_of_attributes(attributes: &BTreeMap<String, AttributeValue>) -> Option<String> {
    if attributes.is_empty() {
        return None;
    }
    let mut hasher = Md5::new();
    for (name, value) in attributes {
        feed(&mut hasher, name.as_bytes());
        feed(&mut hasher, value.data_type.as_bytes());
        let transport: u8 = if value.data_type.starts_with("Binary") {
            2
        } else {
            1
        };
        hasher.update([transport]);
        feed(&mut hasher, &value.value);
    }
    Some(hex::encode(hasher.finalize()))
}

fn feed(hasher: &mut Md5, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    hasher.update(len.to_be_bytes());
    hasher.update(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_vector() {
        assert_eq!(md5_of_body(""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_of_body("hello"), "5d41402abc4b2a76b9719d911017c592");
    }

    #[test]
    fn attribute_vector_from_spec() {
        let mut attributes = BTreeMap::new();
        attributes.insert(
            "a".to_string(),
            AttributeValue {
                data_type: "String".into(),
                value: b"v".to_vec(),
            },
        );
        assert_eq!(
            md5_of_attributes(&attributes).as_deref(),
            Some("a18cbb58171ebf4ce88d9fb787f9210b")
        );
    }

    #[test]
    fn no_attributes_no_digest() {
        assert_eq!(md5_of_attributes(&BTreeMap::new()), None);
    }

    #[test]
    fn binary_uses_transport_byte_two() {
        let mut string = BTreeMap::new();
        string.insert(
            "b".to_string(),
            AttributeValue {
                data_type: "String".into(),
                value: b"x".to_vec(),
            },
        );
        let mut binary = BTreeMap::new();
        binary.insert(
            "b".to_string(),
            AttributeValue {
                data_type: "Binary".into(),
                value: b"x".to_vec(),
            },
        );
        assert_ne!(md5_of_attributes(&string), md5_of_attributes(&binary));
    }
}
