//! No credentials configured: everything is accepted as the anonymous account.

use super::super::{AuthConfig, ANONYMOUS_ACCESS_KEY_ID};
use super::{alice, signed_send_message, Request, SignWith, T0};

fn anonymous_config() -> AuthConfig {
    AuthConfig {
        anonymous_account_id: "000000000042".to_owned(),
        ..AuthConfig::default()
    }
}

#[test]
fn unsigned_requests_are_the_anonymous_account() {
    let principal = Request::new("POST", "/")
        .verify(&anonymous_config(), 0)
        .unwrap();
    assert_eq!(principal.account_id, "000000000042");
    assert_eq!(principal.access_key_id, ANONYMOUS_ACCESS_KEY_ID);
    assert_eq!(principal.region, None);
    assert_eq!(
        Request::new("GET", "/")
            .verify(&AuthConfig::default(), 0)
            .unwrap()
            .account_id,
        "000000000000"
    );
}

#[test]
fn any_signature_is_accepted_and_the_claimed_key_and_region_recorded() {
    // Valid, but long expired and by a key nobody configured.
    let principal = signed_send_message()
        .verify(&anonymous_config(), u64::MAX)
        .unwrap();
    assert_eq!(principal.account_id, "000000000042");
    assert_eq!(principal.access_key_id, alice().access_key_id);
    assert_eq!(principal.region.as_deref(), Some("us-east-1"));

    let mut wrong = Request::new("POST", "/");
    wrong.header(
        "authorization",
        "AWS4-HMAC-SHA256 Credential=AKIDLOCAL/20000101/eu-west-3/sqs/aws4_request, SignedHeaders=host, Signature=nope",
    );
    let principal = wrong.verify(&anonymous_config(), 0).unwrap();
    assert_eq!(principal.access_key_id, "AKIDLOCAL");
    assert_eq!(principal.region.as_deref(), Some("eu-west-3"));

    let mut presigned = Request::new("GET", "/?Action=ListQueues");
    SignWith {
        region: "ap-south-1",
        ..SignWith::sqs(&alice(), T0)
    }
    .presign(&mut presigned, 60);
    let principal = presigned.verify(&anonymous_config(), u64::MAX).unwrap();
    assert_eq!(principal.access_key_id, alice().access_key_id);
    assert_eq!(principal.region.as_deref(), Some("ap-south-1"));
}

#[test]
fn implausible_claims_fall_back_to_anonymous() {
    for (authorization, key, region) in [
        ("garbage", ANONYMOUS_ACCESS_KEY_ID, None),
        (
            "AWS4-HMAC-SHA256 Credential=",
            ANONYMOUS_ACCESS_KEY_ID,
            None,
        ),
        ("AWS4-HMAC-SHA256 Credential=AKID", "AKID", None),
        (
            "AWS4-HMAC-SHA256 Credential=a<b>/d/us-east-1",
            ANONYMOUS_ACCESS_KEY_ID,
            Some("us-east-1"),
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKID/d/<script>/sqs",
            "AKID",
            None,
        ),
    ] {
        let mut request = Request::new("POST", "/");
        request.header("authorization", authorization);
        let principal = request.verify(&anonymous_config(), 0).unwrap();
        assert_eq!(principal.access_key_id, key, "{authorization}");
        assert_eq!(principal.region.as_deref(), region, "{authorization}");
    }
    let mut long = Request::new("POST", "/");
    long.header(
        "authorization",
        &format!("AWS4-HMAC-SHA256 Credential={}/d/r", "A".repeat(129)),
    );
    assert_eq!(
        long.verify(&anonymous_config(), 0).unwrap().access_key_id,
        ANONYMOUS_ACCESS_KEY_ID
    );
}

#[test]
fn credential_debug_output_never_shows_secrets() {
    let mut key = super::alice();
    key.session_token = Some("very-secret-token".to_owned());
    let shown = format!("{:?}", super::config(vec![key]));
    assert!(shown.contains("AKIAALICE0000000001"), "{shown}");
    assert!(!shown.contains("alice/secret+KEY"), "{shown}");
    assert!(!shown.contains("very-secret-token"), "{shown}");
}

#[test]
fn config_validation_names_the_bad_credential() {
    assert_eq!(AuthConfig::default().validate(), Ok(()));
    assert_eq!(
        super::config(vec![super::alice(), super::bob()]).validate(),
        Ok(())
    );
    let mut bad_account = super::alice();
    bad_account.account_id = "12345".to_owned();
    let mut empty_secret = super::bob();
    empty_secret.secret_access_key.clear();
    let mut empty_token = super::bob();
    empty_token.session_token = Some(String::new());
    let mut slash = super::bob();
    slash.access_key_id = "AKIA/X".to_owned();
    for (credentials, expected) in [
        (vec![bad_account], "account_id `12345`"),
        (vec![empty_secret], "secret_access_key"),
        (vec![empty_token], "session_token"),
        (vec![slash], "access_key_id"),
        (vec![super::alice(), super::alice()], "more than once"),
    ] {
        let message = super::config(credentials).validate().unwrap_err();
        assert!(message.contains(expected), "{message}");
        assert!(!message.contains("secret+KEY"), "{message}");
    }
    let anonymous = AuthConfig {
        anonymous_account_id: "0".to_owned(),
        ..AuthConfig::default()
    };
    assert!(anonymous
        .validate()
        .unwrap_err()
        .contains("anonymous_account_id"));
}
