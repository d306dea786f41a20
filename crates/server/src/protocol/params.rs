//! [`Params`]: typed access to the members of a decoded request, the same for
//! both protocols. Members are named by their model (JSON) name and, where the
//! Query protocol flattens them under another name, by that name too.

use std::collections::BTreeMap;

use base64::Engine as _;
use engine::AttributeValue;
use serde_json::{Map, Value};

use super::query::Node;
use crate::error::SqsError;

/// The members of one request (or of one batch entry / nested structure).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Params<'a> {
    /// A JSON object.
    Json(&'a Map<String, Value>),
    /// A branch of the Query parameter tree.
    Query(&'a BTreeMap<String, Node>),
}

/// What a JSON member was expected to be, for error messages.
fn wrong_type(name: &str, expected: &str) -> SqsError {
    SqsError::Serialization(format!(
        "Unexpected value for member {name}: expected {expected}"
    ))
}

impl<'a> Params<'a> {
    /// An optional string member.
    pub(crate) fn str(&self, name: &str) -> Result<Option<String>, SqsError> {
        match self {
            Params::Json(map) => match map.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(wrong_type(name, "a string")),
            },
            Params::Query(tree) => match tree.get(name) {
                None => Ok(None),
                Some(Node::Leaf(s)) => Ok(Some(s.clone())),
                Some(Node::Branch(_)) => Err(SqsError::InvalidParameterValue(format!(
                    "Value for parameter {name} is invalid. Reason: expected a single value."
                ))),
            },
        }
    }

    /// A required string member: missing → `MissingParameter`.
    pub(crate) fn required_str(&self, name: &str) -> Result<String, SqsError> {
        self.str(name)?.ok_or_else(|| SqsError::missing(name))
    }

    /// An optional integer member. JSON wants a number; Query a decimal string.
    pub(crate) fn int(&self, name: &str) -> Result<Option<i64>, SqsError> {
        match self {
            Params::Json(map) => match map.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => n
                    .as_i64()
                    .map(Some)
                    .ok_or_else(|| wrong_type(name, "an integer")),
                Some(_) => Err(wrong_type(name, "an integer")),
            },
            Params::Query(_) => match self.str(name)? {
                None => Ok(None),
                Some(s) => s.trim().parse::<i64>().map(Some).map_err(|_| {
                    SqsError::InvalidParameterValue(format!(
                        "Value {s} for parameter {name} is invalid. Reason: must be an integer."
                    ))
                }),
            },
        }
    }

    /// A required integer member.
    pub(crate) fn required_int(&self, name: &str) -> Result<i64, SqsError> {
        self.int(name)?.ok_or_else(|| SqsError::missing(name))
    }

    /// A list of strings: JSON array `json`, Query `query.1`, `query.2`, ….
    pub(crate) fn str_list(&self, json: &str, query: &str) -> Result<Vec<String>, SqsError> {
        match self {
            Params::Json(map) => match map.get(json) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| match v {
                        Value::String(s) => Ok(s.clone()),
                        _ => Err(wrong_type(json, "a list of strings")),
                    })
                    .collect(),
                Some(_) => Err(wrong_type(json, "a list of strings")),
            },
            Params::Query(tree) => match tree.get(query) {
                None => Ok(Vec::new()),
                Some(Node::Leaf(s)) => Ok(vec![s.clone()]),
                Some(Node::Branch(items)) => indexed(query, items)?
                    .into_iter()
                    .map(|node| match node {
                        Node::Leaf(s) => Ok(s.clone()),
                        Node::Branch(_) => Err(invalid_list(query)),
                    })
                    .collect(),
            },
        }
    }

    /// A string → string map: JSON object `json`; Query
    /// `query.N.<key>` / `query.N.Value`.
    pub(crate) fn str_map(
        &self,
        json: &str,
        query: &str,
        key: &str,
    ) -> Result<BTreeMap<String, String>, SqsError> {
        match self {
            Params::Json(map) => match map.get(json) {
                None | Some(Value::Null) => Ok(BTreeMap::new()),
                Some(Value::Object(entries)) => entries
                    .iter()
                    .map(|(k, v)| match v {
                        Value::String(s) => Ok((k.clone(), s.clone())),
                        _ => Err(wrong_type(json, "a map of strings")),
                    })
                    .collect(),
                Some(_) => Err(wrong_type(json, "a map of strings")),
            },
            Params::Query(_) => {
                let mut out = BTreeMap::new();
                for entry in self.entries(json, query)? {
                    let name = entry.required_str(key)?;
                    let value = entry.str("Value")?.unwrap_or_default();
                    out.insert(name, value);
                }
                Ok(out)
            }
        }
    }

    /// Message attributes: JSON object name → `{DataType, StringValue,
    /// BinaryValue}`; Query `query.N.Name` / `query.N.Value.DataType` / ….
    pub(crate) fn attribute_map(
        &self,
        json: &str,
        query: &str,
    ) -> Result<BTreeMap<String, AttributeValue>, SqsError> {
        let mut out = BTreeMap::new();
        match self {
            Params::Json(map) => match map.get(json) {
                None | Some(Value::Null) => {}
                Some(Value::Object(entries)) => {
                    for (name, value) in entries {
                        let Value::Object(value) = value else {
                            return Err(wrong_type(json, "a map of MessageAttributeValue"));
                        };
                        out.insert(name.clone(), attribute_value(name, Params::Json(value))?);
                    }
                }
                Some(_) => return Err(wrong_type(json, "a map of MessageAttributeValue")),
            },
            Params::Query(_) => {
                for entry in self.entries(json, query)? {
                    let name = entry.required_str("Name")?;
                    let value = match entry.nested("Value", "Value")? {
                        Some(value) => attribute_value(&name, value)?,
                        None => {
                            return Err(SqsError::InvalidParameterValue(format!(
                                "The message attribute '{name}' must contain a non-empty message attribute value."
                            )))
                        }
                    };
                    out.insert(name, value);
                }
            }
        }
        Ok(out)
    }

    /// A nested structure member.
    pub(crate) fn nested(&self, json: &str, query: &str) -> Result<Option<Params<'a>>, SqsError> {
        match self {
            Params::Json(map) => match map.get(json) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Object(inner)) => Ok(Some(Params::Json(inner))),
                Some(_) => Err(wrong_type(json, "a structure")),
            },
            Params::Query(tree) => match tree.get(query) {
                None => Ok(None),
                Some(Node::Branch(inner)) => Ok(Some(Params::Query(inner))),
                Some(Node::Leaf(_)) => Err(SqsError::InvalidParameterValue(format!(
                    "Value for parameter {query} is invalid. Reason: expected a structure."
                ))),
            },
        }
    }

    /// A list of structures (batch entries, map entries): JSON array of
    /// objects; Query `query.1.…`, `query.2.…` in index order.
    pub(crate) fn entries(&self, json: &str, query: &str) -> Result<Vec<Params<'a>>, SqsError> {
        match self {
            Params::Json(map) => match map.get(json) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| match v {
                        Value::Object(o) => Ok(Params::Json(o)),
                        _ => Err(wrong_type(json, "a list of structures")),
                    })
                    .collect(),
                Some(_) => Err(wrong_type(json, "a list of structures")),
            },
            Params::Query(tree) => match tree.get(query) {
                None => Ok(Vec::new()),
                Some(Node::Leaf(_)) => Err(invalid_list(query)),
                Some(Node::Branch(items)) => indexed(query, items)?
                    .into_iter()
                    .map(|node| match node {
                        Node::Branch(inner) => Ok(Params::Query(inner)),
                        Node::Leaf(_) => Err(invalid_list(query)),
                    })
                    .collect(),
            },
        }
    }
}

fn invalid_list(query: &str) -> SqsError {
    SqsError::InvalidParameterValue(format!(
        "Value for parameter {query} is invalid. Reason: malformed list."
    ))
}

/// The children of a flattened Query list in index order (`.1`, `.2`, …).
fn indexed<'n>(query: &str, items: &'n BTreeMap<String, Node>) -> Result<Vec<&'n Node>, SqsError> {
    let mut numbered = Vec::with_capacity(items.len());
    for (index, node) in items {
        let n: u32 = index.parse().map_err(|_| invalid_list(query))?;
        numbered.push((n, node));
    }
    numbered.sort_by_key(|(n, _)| *n);
    Ok(numbered.into_iter().map(|(_, node)| node).collect())
}

/// One `MessageAttributeValue`: `Binary…` types carry `BinaryValue` (base64),
/// the others `StringValue` (a missing one is empty).
fn attribute_value(name: &str, value: Params<'_>) -> Result<AttributeValue, SqsError> {
    let data_type = value.str("DataType")?.ok_or_else(|| {
        SqsError::InvalidParameterValue(format!(
            "The message attribute '{name}' must contain a non-empty message attribute type."
        ))
    })?;
    let bytes = if data_type.starts_with("Binary") {
        let encoded = value.str("BinaryValue")?.unwrap_or_default();
        base64::engine::general_purpose::STANDARD
            .decode(encoded.as_bytes())
            .map_err(|_| {
                SqsError::InvalidParameterValue(format!(
                    "The message attribute '{name}' has an invalid base64 BinaryValue."
                ))
            })?
    } else {
        value.str("StringValue")?.unwrap_or_default().into_bytes()
    };
    // An empty value is the engine's to refuse, in SQS's words.
    Ok(AttributeValue {
        data_type,
        value: bytes,
    })
}
