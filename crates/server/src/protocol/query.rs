//! AWS Query: form / query-string parameters → a tree of dotted names
//! ([`Node`]), and [`Out`] → XML in the SQS namespace (quick-xml writer).

use std::collections::BTreeMap;

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::{Action, Out};
use crate::error::SqsError;

/// Content type of every Query response.
pub(crate) const CONTENT_TYPE: &str = "text/xml";
/// The SQS XML namespace.
pub(crate) const NAMESPACE: &str = "http://queue.amazonaws.com/doc/2012-11-05/";

/// A node of the parameter tree: `Attribute.1.Name=x` becomes
/// `Attribute → 1 → Name → Leaf("x")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    /// A value.
    Leaf(String),
    /// Named children.
    Branch(BTreeMap<String, Node>),
}

/// Decodes `a=b&c=d` strictly: `+` is a space, `%` must start a two-digit
/// hex escape, and the result must be UTF-8 (else `MalformedQueryString`).
pub(crate) fn parse_pairs(input: &[u8]) -> Result<Vec<(String, String)>, SqsError> {
    let mut pairs = Vec::new();
    for part in input.split(|b| *b == b'&') {
        if part.is_empty() {
            continue;
        }
        let (key, value) = match part.iter().position(|b| *b == b'=') {
            Some(i) => (&part[..i], &part[i + 1..]),
            None => (part, &[][..]),
        };
        pairs.push((percent_decode(key)?, percent_decode(value)?));
    }
    Ok(pairs)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn percent_decode(input: &[u8]) -> Result<String, SqsError> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = input.get(i + 1).copied().and_then(hex);
                let lo = input.get(i + 2).copied().and_then(hex);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => {
                        return Err(SqsError::MalformedQueryString(
                            "The query string contains an invalid percent-escape.".into(),
                        ))
                    }
                }
                i += 2;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out)
        .map_err(|_| SqsError::MalformedQueryString("The query string is not valid UTF-8.".into()))
}

/// Builds the parameter tree. Later duplicates replace earlier ones; a name
/// used both as a value and as a prefix keeps the prefix.
pub(crate) fn tree(pairs: Vec<(String, String)>) -> BTreeMap<String, Node> {
    let mut root = BTreeMap::new();
    for (key, value) in pairs {
        let mut segments = key.split('.').peekable();
        let mut current = &mut root;
        while let Some(segment) = segments.next() {
            if segments.peek().is_none() {
                match current.get(segment) {
                    Some(Node::Branch(_)) => {}
                    _ => {
                        current.insert(segment.to_owned(), Node::Leaf(value));
                    }
                }
                break;
            }
            let node = current
                .entry(segment.to_owned())
                .or_insert_with(|| Node::Branch(BTreeMap::new()));
            if let Node::Leaf(_) = node {
                *node = Node::Branch(BTreeMap::new());
            }
            match node {
                Node::Branch(children) => current = children,
                Node::Leaf(_) => break,
            }
        }
    }
    root
}

/// Actions whose model output is empty: their response has no `…Result`.
fn has_result(action: Action) -> bool {
    !matches!(
        action,
        Action::AddPermission
            | Action::ChangeMessageVisibility
            | Action::DeleteMessage
            | Action::DeleteQueue
            | Action::PurgeQueue
            | Action::RemovePermission
            | Action::SetQueueAttributes
            | Action::TagQueue
            | Action::UntagQueue
    )
}

/// XML 1.0's `Char` production (§2.2): the only characters a document may
/// contain, even as character references.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// XML text escaping that also protects `\r` (XML parsers normalise a raw
/// CR to LF, which would change message bodies and their MD5). A character
/// XML cannot carry at all (input validation keeps them out of stored state,
/// but error messages echo client input) becomes U+FFFD, so no answer is
/// ever malformed.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\r' => out.push_str("&#xD;"),
            c if !is_xml_char(c) => out.push(char::REPLACEMENT_CHARACTER),
            c => out.push(c),
        }
    }
    out
}

/// A tiny wrapper that writes into a `Vec<u8>` (writes cannot fail).
struct Xml(Writer<Vec<u8>>);

impl Xml {
    fn new() -> Xml {
        let mut w = Writer::new(Vec::with_capacity(512));
        let _ = w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
        Xml(w)
    }
    fn start(&mut self, name: &str) {
        let _ = self.0.write_event(Event::Start(BytesStart::new(name)));
    }
    fn start_ns(&mut self, name: &str) {
        let _ = self.0.write_event(Event::Start(
            BytesStart::new(name).with_attributes([("xmlns", NAMESPACE)]),
        ));
    }
    fn end(&mut self, name: &str) {
        let _ = self.0.write_event(Event::End(BytesEnd::new(name)));
    }
    fn empty(&mut self, name: &str) {
        let _ = self.0.write_event(Event::Empty(BytesStart::new(name)));
    }
    fn text(&mut self, text: &str) {
        let _ = self
            .0
            .write_event(Event::Text(BytesText::from_escaped(escape(text))));
    }
    fn element(&mut self, name: &str, text: &str) {
        self.start(name);
        self.text(text);
        self.end(name);
    }
    fn finish(self) -> Vec<u8> {
        self.0.into_inner()
    }

    /// Writes `value` as the content of element(s) named `name`.
    fn value(&mut self, name: &str, value: &Out) {
        match value {
            Out::Str(s) => self.element(name, s),
            Out::Int(i) => self.element(name, &i.to_string()),
            Out::Bool(b) => self.element(name, if *b { "true" } else { "false" }),
            Out::Blob(bytes) => {
                use base64::Engine as _;
                self.element(
                    name,
                    &base64::engine::general_purpose::STANDARD.encode(bytes),
                )
            }
            Out::List(items) => {
                for item in items {
                    self.value(name, item);
                }
            }
            Out::Map { key, entries } => {
                for (k, v) in entries {
                    self.start(name);
                    self.element(key, k);
                    self.value("Value", v);
                    self.end(name);
                }
            }
            Out::Struct(_) => {
                self.start(name);
                self.members(value);
                self.end(name);
            }
        }
    }

    fn members(&mut self, value: &Out) {
        if let Out::Struct(members) = value {
            for m in members {
                self.value(m.xml, &m.value);
            }
        }
    }
}

/// Encodes a successful Query response.
pub(crate) fn encode(action: Action, out: &Out, request_id: &str) -> Vec<u8> {
    let response = format!("{}Response", action.as_str());
    let mut xml = Xml::new();
    xml.start_ns(&response);
    if has_result(action) {
        let result = format!("{}Result", action.as_str());
        match out {
            Out::Struct(members) if members.is_empty() => xml.empty(&result),
            _ => {
                xml.start(&result);
                xml.members(out);
                xml.end(&result);
            }
        }
    }
    xml.start("ResponseMetadata");
    xml.element("RequestId", request_id);
    xml.end("ResponseMetadata");
    xml.end(&response);
    xml.finish()
}

/// Encodes an `ErrorResponse`.
pub(crate) fn encode_error(
    sender_fault: bool,
    code: &str,
    message: &str,
    request_id: &str,
) -> Vec<u8> {
    let mut xml = Xml::new();
    xml.start_ns("ErrorResponse");
    xml.start("Error");
    xml.element("Type", if sender_fault { "Sender" } else { "Receiver" });
    xml.element("Code", code);
    xml.element("Message", message);
    xml.empty("Detail");
    xml.end("Error");
    xml.element("RequestId", request_id);
    xml.end("ErrorResponse");
    xml.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_percent_decoding() {
        let pairs =
            parse_pairs(b"Action=SendMessage&MessageBody=a+b%20c%C3%A9&Empty=&Flag").unwrap();
        assert_eq!(
            pairs,
            vec![
                ("Action".into(), "SendMessage".into()),
                ("MessageBody".into(), "a b cé".into()),
                ("Empty".into(), String::new()),
                ("Flag".into(), String::new()),
            ]
        );
        assert!(matches!(
            parse_pairs(b"MessageBody=%ZZ"),
            Err(SqsError::MalformedQueryString(_))
        ));
        assert!(matches!(
            parse_pairs(b"MessageBody=%4"),
            Err(SqsError::MalformedQueryString(_))
        ));
        assert!(matches!(
            parse_pairs(b"MessageBody=%FF"),
            Err(SqsError::MalformedQueryString(_))
        ));
    }

    #[test]
    fn dotted_names_become_a_tree() {
        let t = tree(vec![
            ("Attribute.2.Name".into(), "B".into()),
            ("Attribute.1.Name".into(), "A".into()),
            ("QueueName".into(), "q".into()),
        ]);
        assert_eq!(t.get("QueueName"), Some(&Node::Leaf("q".into())));
        let Some(Node::Branch(attrs)) = t.get("Attribute") else {
            panic!("no branch")
        };
        assert_eq!(attrs.len(), 2);
    }

    #[test]
    fn xml_is_namespaced_flattened_and_escapes_cr() {
        let out = Out::object()
            .with("QueueUrl", Out::List(vec![Out::str("a"), Out::str("b")]))
            .with_xml(
                "Attributes",
                "Attribute",
                Out::Map {
                    key: "Name",
                    entries: vec![("K".into(), Out::str("x<\r"))],
                },
            );
        let xml = String::from_utf8(encode(Action::ListQueues, &out, "rid")).unwrap();
        assert!(
            xml.contains(
                r#"<ListQueuesResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/">"#
            ),
            "{xml}"
        );
        assert!(
            xml.contains("<ListQueuesResult><QueueUrl>a</QueueUrl><QueueUrl>b</QueueUrl>"),
            "{xml}"
        );
        assert!(
            xml.contains("<Attribute><Name>K</Name><Value>x&lt;&#xD;</Value></Attribute>"),
            "{xml}"
        );
        assert!(
            xml.contains("<ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata>"),
            "{xml}"
        );
        let empty = String::from_utf8(encode(Action::DeleteMessage, &Out::object(), "r")).unwrap();
        assert!(!empty.contains("DeleteMessageResult"), "{empty}");
    }

    #[test]
    fn characters_xml_forbids_are_never_written() {
        let bad = "a\u{1}b\u{FFFF}c\u{FFFE}d\u{0}e\u{1F}\t\n\u{10FFFF}";
        let out = Out::object().with_xml(
            "Tags",
            "Tag",
            Out::Map {
                key: "Key",
                entries: vec![(bad.into(), Out::str(bad))],
            },
        );
        for xml in [
            encode(Action::ListQueueTags, &out, bad),
            encode_error(true, "InvalidAction", bad, "rid"),
        ] {
            let xml = String::from_utf8(xml).unwrap();
            assert!(xml.chars().all(is_xml_char), "{xml:?}");
            assert!(
                xml.contains("a\u{FFFD}b\u{FFFD}c\u{FFFD}d\u{FFFD}e\u{FFFD}\t\n\u{10FFFF}"),
                "{xml:?}"
            );
        }
    }
}
