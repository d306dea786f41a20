//! [`Out`]: a response's members, built once by an action and rendered by
//! either protocol (JSON in `json.rs`, XML in `query.rs`).

use base64::Engine as _;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

/// One value of a response.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Out {
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// Bytes (base64 on both wires).
    Blob(Vec<u8>),
    /// A list; XML flattens it: one element per item, named like the member.
    List(Vec<Out>),
    /// A map; XML flattens it: `<Member><{key}>k</{key}><Value>v</Value></Member>`.
    Map {
        /// XML element name of the key (`Name` or `Key`).
        key: &'static str,
        /// Entries in order.
        entries: Vec<(String, Out)>,
    },
    /// A structure.
    Struct(Vec<Member>),
}

/// One member of a structure.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Member {
    /// JSON member name (the model name, exact casing).
    pub(crate) json: &'static str,
    /// XML element name (the Query `xmlName`).
    pub(crate) xml: &'static str,
    /// The value.
    pub(crate) value: Out,
}

impl Out {
    /// An empty structure.
    pub(crate) fn object() -> Out {
        Out::Struct(Vec::new())
    }

    /// Adds a member whose XML name equals its JSON name.
    pub(crate) fn with(self, name: &'static str, value: Out) -> Out {
        self.with_xml(name, name, value)
    }

    /// Adds a member with distinct JSON and XML names.
    pub(crate) fn with_xml(mut self, json: &'static str, xml: &'static str, value: Out) -> Out {
        if let Out::Struct(members) = &mut self {
            members.push(Member { json, xml, value });
        }
        self
    }

    /// Adds a member when `value` is `Some`.
    pub(crate) fn opt(self, name: &'static str, value: Option<Out>) -> Out {
        match value {
            Some(v) => self.with(name, v),
            None => self,
        }
    }

    /// A string value.
    pub(crate) fn str(s: impl Into<String>) -> Out {
        Out::Str(s.into())
    }
}

impl Serialize for Out {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Out::Str(s) => serializer.serialize_str(s),
            Out::Int(i) => serializer.serialize_i64(*i),
            Out::Bool(b) => serializer.serialize_bool(*b),
            Out::Blob(bytes) => {
                serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
            }
            Out::List(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Out::Map { entries, .. } => {
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            Out::Struct(members) => {
                // SQS's JSON omits empty lists (`Failed`, `Successful`,
                // `queueUrls`, `Results`, …) even where the model calls them
                // required; XML writes nothing for them anyway.
                let shown = |m: &&Member| !matches!(&m.value, Out::List(items) if items.is_empty());
                let mut map =
                    serializer.serialize_map(Some(members.iter().filter(shown).count()))?;
                for m in members.iter().filter(shown) {
                    map.serialize_entry(m.json, &m.value)?;
                }
                map.end()
            }
        }
    }
}
