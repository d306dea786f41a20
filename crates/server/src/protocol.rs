//! Wire protocols: telling AWS JSON 1.0 from Query/XML, the [`Action`] enum,
//! a protocol-neutral view of request parameters (`Params`) and of response
//! members (`Out`).
//!
//! Decoding is lazy: the JSON body is parsed once into a `serde_json` object,
//! a Query request into a tree of its dotted parameter names; actions then ask
//! for typed members by their model name (and their flattened Query name).

pub(crate) mod json;
pub(crate) mod output;
pub(crate) mod params;
pub(crate) mod query;
pub(crate) mod respond;

use std::fmt;
use std::str::FromStr;

use axum::http::HeaderMap;

pub(crate) use output::Out;
pub(crate) use params::Params;

/// The wire protocol of one request; errors are answered in the same one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// AWS JSON 1.0 (`X-Amz-Target: AmazonSQS.<Action>`).
    Json,
    /// AWS Query (form parameters, XML responses).
    Query,
}

macro_rules! actions {
    ($($name:ident),* $(,)?) => {
        /// The 23 actions of the SQS API.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action {
            $(
                #[doc = concat!("`", stringify!($name), "`.")]
                $name,
            )*
        }

        impl Action {
            /// Every action, in model order.
            pub const ALL: &'static [Action] = &[$(Action::$name),*];

            /// The action's name as it appears on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Action::$name => stringify!($name),)*
                }
            }
        }

        impl FromStr for Action {
            type Err = UnknownAction;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $(stringify!($name) => Ok(Action::$name),)*
                    _ => Err(UnknownAction(s.to_owned())),
                }
            }
        }
    };
}

actions!(
    AddPermission,
    CancelMessageMoveTask,
    ChangeMessageVisibility,
    ChangeMessageVisibilityBatch,
    CreateQueue,
    DeleteMessage,
    DeleteMessageBatch,
    DeleteQueue,
    GetQueueAttributes,
    GetQueueUrl,
    ListDeadLetterSourceQueues,
    ListMessageMoveTasks,
    ListQueueTags,
    ListQueues,
    PurgeQueue,
    ReceiveMessage,
    RemovePermission,
    SendMessage,
    SendMessageBatch,
    SetQueueAttributes,
    StartMessageMoveTask,
    TagQueue,
    UntagQueue,
);

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An action name that is not one of the 23.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownAction(pub String);

/// The JSON target prefix: `X-Amz-Target: AmazonSQS.<Action>`.
const TARGET_PREFIX: &str = "AmazonSQS.";

/// What the headers say about the protocol, before the body is looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Detected {
    /// JSON with the target's action name (possibly unknown or missing).
    Json(Option<String>),
    /// Query: the action comes from the `Action` parameter.
    Query,
}

/// The protocol a request is answered in: its own, except that a Query
/// request that accepts `application/json` (and not XML first) gets AWS JSON
/// (the same members), as SQS answers it.
pub(crate) fn answer_protocol(detected: &Detected, headers: &HeaderMap) -> Protocol {
    match detected {
        Detected::Json(_) => Protocol::Json,
        Detected::Query => {
            let accept = headers
                .get(axum::http::header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_ascii_lowercase();
            let json = accept.find("application/json");
            let xml = accept.find("xml");
            match (json, xml) {
                (Some(j), Some(x)) if x < j => Protocol::Query,
                (Some(_), _) => Protocol::Json,
                (None, _) => Protocol::Query,
            }
        }
    }
}

/// Detects the protocol: `X-Amz-Target` first, then a Content-Type starting
/// with `application/x-amz-json` (any suffix), else Query.
pub(crate) fn detect(headers: &HeaderMap) -> Detected {
    if let Some(target) = headers.get("x-amz-target") {
        let target = target.to_str().unwrap_or_default().trim();
        let action = target.strip_prefix(TARGET_PREFIX).unwrap_or(target);
        return Detected::Json(Some(action.to_owned()));
    }
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .trim_start()
        .to_ascii_lowercase();
    if content_type.starts_with("application/x-amz-json") {
        return Detected::Json(None);
    }
    Detected::Query
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn every_action_round_trips_through_its_name() {
        assert_eq!(Action::ALL.len(), 23);
        for action in Action::ALL {
            assert_eq!(action.as_str().parse::<Action>(), Ok(*action));
        }
        assert!("Frobnicate".parse::<Action>().is_err());
        assert!("sendmessage".parse::<Action>().is_err());
    }

    #[test]
    fn query_requests_accepting_json_are_answered_in_json() {
        let mut h = HeaderMap::new();
        assert_eq!(answer_protocol(&Detected::Query, &h), Protocol::Query);
        h.insert("accept", HeaderValue::from_static("application/json"));
        assert_eq!(answer_protocol(&Detected::Query, &h), Protocol::Json);
        h.insert(
            "accept",
            HeaderValue::from_static("text/xml, application/json;q=0.5"),
        );
        assert_eq!(answer_protocol(&Detected::Query, &h), Protocol::Query);
        h.insert("accept", HeaderValue::from_static("*/*"));
        assert_eq!(answer_protocol(&Detected::Query, &h), Protocol::Query);
        assert_eq!(
            answer_protocol(&Detected::Json(None), &HeaderMap::new()),
            Protocol::Json
        );
    }

    #[test]
    fn target_header_wins_then_content_type_then_query() {
        let mut h = HeaderMap::new();
        assert_eq!(detect(&h), Detected::Query);
        h.insert(
            "content-type",
            HeaderValue::from_static("application/x-amz-json-1.0; charset=utf-8"),
        );
        assert_eq!(detect(&h), Detected::Json(None));
        h.insert(
            "x-amz-target",
            HeaderValue::from_static("AmazonSQS.SendMessage"),
        );
        assert_eq!(detect(&h), Detected::Json(Some("SendMessage".into())));
        h.insert(
            "content-type",
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        assert_eq!(detect(&h), Detected::Json(Some("SendMessage".into())));
    }
}
