//! The queue Policy document: AddPermission / RemovePermission edit it, and
//! [`allows`] evaluates it for callers from other accounts.
//!
//! Evaluation rule (a deliberate subset of IAM): the owner account is always
//! allowed; another account is allowed iff an `Allow` statement names it as
//! principal (`arn:aws:iam::<acct>:root`, the bare id, or `*`) with the action
//! `SQS:<Action>`, `SQS:*` or `*`, and no `Deny` statement matches. Conditions
//! and resources are not evaluated.

use serde_json::{json, Value};

use crate::limits::*;
use crate::EngineError;

/// Actions AddPermission accepts (besides `*`).
const SHAREABLE_ACTIONS: &[&str] = &[
    "SendMessage",
    "ReceiveMessage",
    "DeleteMessage",
    "ChangeMessageVisibility",
    "GetQueueAttributes",
    "GetQueueUrl",
    "ListDeadLetterSourceQueues",
    "PurgeQueue",
];

fn invalid(message: String) -> EngineError {
    EngineError::InvalidParameterValue(message)
}

/// Returns the Policy text with a new statement `label` granting `actions` to `accounts`.
pub(crate) fn add_permission(
    current: Option<&str>,
    queue_arn: &str,
    label: &str,
    accounts: &[String],
    actions: &[String],
) -> Result<String, EngineError> {
    let label_ok = !label.is_empty()
        && label.len() <= PERMISSION_LABEL_MAX_CHARS
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !label_ok {
        return Err(invalid(format!(
            "Value {label} for parameter Label is invalid. Reason: Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length."
        )));
    }
    if accounts.is_empty() {
        return Err(EngineError::MissingParameter(
            "The request must contain the parameter AWSAccountIds.".into(),
        ));
    }
    if actions.is_empty() {
        return Err(EngineError::MissingParameter(
            "The request must contain the parameter Actions.".into(),
        ));
    }
    if actions.len() > PERMISSION_ACTIONS_MAX {
        return Err(EngineError::OverLimit(format!(
            "{} Actions were found, maximum allowed is {PERMISSION_ACTIONS_MAX}.",
            actions.len()
        )));
    }
    for action in actions {
        if action != "*" && !SHAREABLE_ACTIONS.contains(&action.as_str()) {
            return Err(invalid(format!(
                "Value SQS:{action} for parameter ActionName is invalid. Reason: Only the queue owner is allowed to invoke this action."
            )));
        }
    }
    for account in accounts {
        if !crate::validate::account_id(account) {
            return Err(invalid(format!(
                "Value {account} for parameter AWSAccountIds is invalid."
            )));
        }
    }
    let mut document = match current.map(serde_json::from_str::<Value>) {
        Some(Ok(Value::Object(map))) => map,
        _ => {
            let mut map = serde_json::Map::new();
            map.insert("Version".into(), json!("2008-10-17"));
            map.insert("Id".into(), json!(format!("{queue_arn}/SQSDefaultPolicy")));
            map
        }
    };
    let mut statements = take_statements(&mut document);
    if statements
        .iter()
        .any(|s| s.get("Sid").and_then(Value::as_str) == Some(label))
    {
        return Err(invalid(format!(
            "Value {label} for parameter Label is invalid. Reason: Already exists."
        )));
    }
    if statements.len() >= POLICY_STATEMENTS_MAX {
        return Err(EngineError::OverLimit(format!(
            "The policy can have at most {POLICY_STATEMENTS_MAX} statements."
        )));
    }
    let principals: Vec<String> = accounts
        .iter()
        .map(|a| format!("arn:aws:iam::{a}:root"))
        .collect();
    let actions: Vec<String> = actions.iter().map(|a| format!("SQS:{a}")).collect();
    statements.push(json!({
        "Sid": label,
        "Effect": "Allow",
        "Principal": {"AWS": one_or_list(principals)},
        "Action": one_or_list(actions),
        "Resource": queue_arn,
    }));
    document.insert("Statement".into(), Value::Array(statements));
    let text = Value::Object(document).to_string();
    if text.len() > POLICY_MAX_BYTES {
        return Err(EngineError::OverLimit(format!(
            "The policy would exceed {POLICY_MAX_BYTES} bytes."
        )));
    }
    Ok(text)
}

/// SQS writes a single principal or action as a plain string, several as a list.
fn one_or_list(mut items: Vec<String>) -> Value {
    match items.len() {
        1 => Value::String(items.remove(0)),
        _ => json!(items),
    }
}

/// Returns the Policy text without statement `label` (`None` when no statement is left).
pub(crate) fn remove_permission(
    current: Option<&str>,
    label: &str,
) -> Result<Option<String>, EngineError> {
    let not_found = || {
        invalid(format!(
            "Value {label} for parameter Label is invalid. Reason: can't find label."
        ))
    };
    let mut document = match current.map(serde_json::from_str::<Value>) {
        Some(Ok(Value::Object(map))) => map,
        _ => return Err(not_found()),
    };
    let mut statements = take_statements(&mut document);
    let before = statements.len();
    statements.retain(|s| s.get("Sid").and_then(Value::as_str) != Some(label));
    if statements.len() == before {
        return Err(not_found());
    }
    if statements.is_empty() {
        return Ok(None);
    }
    document.insert("Statement".into(), Value::Array(statements));
    Ok(Some(Value::Object(document).to_string()))
}

fn take_statements(document: &mut serde_json::Map<String, Value>) -> Vec<Value> {
    match document.remove("Statement") {
        Some(Value::Array(list)) => list,
        Some(single @ Value::Object(_)) => vec![single],
        _ => Vec::new(),
    }
}

fn as_list(value: Option<&Value>) -> Vec<&str> {
    match value {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn statement_matches(statement: &Value, account: &str, action: &str) -> bool {
    let principal_ok = match statement.get("Principal") {
        Some(Value::String(s)) => s == "*",
        Some(Value::Object(map)) => as_list(map.get("AWS"))
            .into_iter()
            .any(|p| p == "*" || p == account || p == format!("arn:aws:iam::{account}:root")),
        _ => false,
    };
    let action_ok = as_list(statement.get("Action")).into_iter().any(|a| {
        let a = a.to_ascii_lowercase();
        a == "*" || a == "sqs:*" || a == format!("sqs:{}", action.to_ascii_lowercase())
    });
    principal_ok && action_ok
}

/// May `account` (not the owner) perform `action` under `policy`?
pub(crate) fn allows(policy: Option<&str>, account: &str, action: &str) -> bool {
    let Some(Ok(document)) = policy.map(serde_json::from_str::<Value>) else {
        return false;
    };
    let statements: Vec<&Value> = match document.get("Statement") {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(single @ Value::Object(_)) => vec![single],
        _ => return false,
    };
    let effect = |s: &Value| {
        s.get("Effect")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    if statements
        .iter()
        .any(|s| effect(s) == "Deny" && statement_matches(s, account, action))
    {
        return false;
    }
    statements
        .iter()
        .any(|s| effect(s) == "Allow" && statement_matches(s, account, action))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:sqs:us-east-1:111111111111:q";

    #[test]
    fn add_evaluate_remove() {
        let policy = add_permission(
            None,
            ARN,
            "l1",
            &["222222222222".into()],
            &["SendMessage".into()],
        )
        .unwrap();
        assert!(allows(Some(&policy), "222222222222", "SendMessage"));
        assert!(!allows(Some(&policy), "222222222222", "ReceiveMessage"));
        assert!(!allows(Some(&policy), "333333333333", "SendMessage"));
        let policy = add_permission(
            Some(&policy),
            ARN,
            "l2",
            &["333333333333".into()],
            &["*".into()],
        )
        .unwrap();
        assert!(allows(Some(&policy), "333333333333", "DeleteMessage"));
        assert!(add_permission(
            Some(&policy),
            ARN,
            "l2",
            &["333333333333".into()],
            &["*".into()]
        )
        .is_err());
        let policy = remove_permission(Some(&policy), "l1").unwrap().unwrap();
        assert!(!allows(Some(&policy), "222222222222", "SendMessage"));
        assert!(remove_permission(Some(&policy), "l1").is_err());
        assert_eq!(remove_permission(Some(&policy), "l2").unwrap(), None);
    }

    #[test]
    fn documents_are_written_as_sqs_writes_them() {
        let text = add_permission(
            None,
            ARN,
            "one",
            &["111111111111".into()],
            &["ReceiveMessage".into()],
        )
        .unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(doc["Version"], "2008-10-17");
        assert_eq!(doc["Id"], format!("{ARN}/SQSDefaultPolicy"));
        let statement = &doc["Statement"][0];
        assert_eq!(statement["Action"], "SQS:ReceiveMessage");
        assert_eq!(
            statement["Principal"]["AWS"],
            "arn:aws:iam::111111111111:root"
        );
        let text = add_permission(
            Some(&text),
            ARN,
            "two",
            &["111111111111".into(), "222222222222".into()],
            &["SendMessage".into(), "DeleteMessage".into()],
        )
        .unwrap();
        let doc: Value = serde_json::from_str(&text).unwrap();
        let statement = &doc["Statement"][1];
        assert_eq!(
            statement["Action"],
            json!(["SQS:SendMessage", "SQS:DeleteMessage"])
        );
        assert_eq!(
            statement["Principal"]["AWS"],
            json!([
                "arn:aws:iam::111111111111:root",
                "arn:aws:iam::222222222222:root"
            ])
        );
        assert!(allows(Some(&text), "222222222222", "DeleteMessage"));
        assert!(allows(Some(&text), "111111111111", "ReceiveMessage"));
    }

    #[test]
    fn limits_and_bad_input() {
        let eight: Vec<String> = std::iter::repeat_n("SendMessage".to_string(), 8).collect();
        assert!(matches!(
            add_permission(None, ARN, "l", &["222222222222".into()], &eight),
            Err(EngineError::OverLimit(_))
        ));
        assert!(add_permission(
            None,
            ARN,
            "bad label",
            &["222222222222".into()],
            &["SendMessage".into()]
        )
        .is_err());
        assert!(add_permission(None, ARN, "l", &["12".into()], &["SendMessage".into()]).is_err());
        assert!(add_permission(
            None,
            ARN,
            "l",
            &["222222222222".into()],
            &["CreateQueue".into()]
        )
        .is_err());
        assert!(!allows(Some("not json"), "222222222222", "SendMessage"));
        assert!(!allows(None, "222222222222", "SendMessage"));
    }

    #[test]
    fn deny_wins_and_bare_ids() {
        let policy = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":"sqs:*"},
            {"Effect":"Deny","Principal":"*","Action":"SQS:PurgeQueue"}]}"#;
        assert!(allows(Some(policy), "222222222222", "SendMessage"));
        assert!(!allows(Some(policy), "222222222222", "PurgeQueue"));
    }
}
