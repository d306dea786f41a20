"""Characters XML forbids, through boto3 (JSON) or the legacy Query/XML botocore.

Usage: python forbidden_chars.py ENDPOINT PROTOCOL

Every stored string field refuses them with 400 InvalidParameterValue, and afterwards every
answer about the queue still parses (a Query client's XML parser rejects such characters, so
one stored character would break every answer that contains it).
"""

import sys
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = sys.argv[1]
WANT_PROTOCOL = sys.argv[2]
BAD = ["\u0001", "\uffff", "\ufffe", "\u001f"]


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def expect_invalid_parameter(what, fn):
    try:
        fn()
    except ClientError as e:
        code = e.response["Error"].get("Code")
        status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        check(
            (status, code) == (400, "InvalidParameterValue"),
            f"{what}: expected 400 InvalidParameterValue, got {status} {code}: {e.response}",
        )
        return
    raise AssertionError(f"{what}: accepted")


def main():
    sqs = boto3.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    ).client(
        "sqs",
        endpoint_url=ENDPOINT,
        config=Config(retries={"max_attempts": 1}, read_timeout=30, connect_timeout=5),
    )
    protocol = sqs.meta.service_model.protocol
    check(protocol == WANT_PROTOCOL, f"botocore speaks {protocol}, expected {WANT_PROTOCOL}")
    name = f"xml-{WANT_PROTOCOL}-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=name, tags={"ok": "yes"})["QueueUrl"]

    for bad in BAD:
        for data_type, value in [
            (f"String.{bad}", {"StringValue": "v"}),
            (f"Number.x{bad}", {"StringValue": "1"}),
            (f"Binary.{bad}", {"BinaryValue": b"\x01\x02"}),
        ]:
            attrs = {"a": dict(DataType=data_type, **value)}
            expect_invalid_parameter(
                f"DataType {data_type!r}",
                lambda: sqs.send_message(QueueUrl=url, MessageBody="b", MessageAttributes=attrs),
            )
        trace = {"AWSTraceHeader": {"DataType": "String", "StringValue": f"Root=1-{bad}"}}
        expect_invalid_parameter(
            "AWSTraceHeader",
            lambda: sqs.send_message(QueueUrl=url, MessageBody="b", MessageSystemAttributes=trace),
        )
        expect_invalid_parameter(
            "tag key", lambda: sqs.tag_queue(QueueUrl=url, Tags={f"k{bad}": "v"})
        )
        expect_invalid_parameter(
            "tag value", lambda: sqs.tag_queue(QueueUrl=url, Tags={"k": f"v{bad}"})
        )
        expect_invalid_parameter(
            "CreateQueue tag",
            lambda: sqs.create_queue(QueueName=f"{name}-2", tags={"k": f"v{bad}"}),
        )
        expect_invalid_parameter(
            "KmsMasterKeyId",
            lambda: sqs.set_queue_attributes(
                QueueUrl=url, Attributes={"KmsMasterKeyId": f"alias/{bad}"}
            ),
        )

    # Nothing bad was stored, and every answer about the queue parses.
    check(sqs.list_queue_tags(QueueUrl=url).get("Tags") == {"ok": "yes"}, "tags changed")
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    check("KmsMasterKeyId" not in attrs, f"attributes {attrs}")
    sqs.send_message(QueueUrl=url, MessageBody="fine")
    got = sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        AttributeNames=["All"],
        MessageAttributeNames=["All"],
    ).get("Messages", [])
    check([m["Body"] for m in got] == ["fine"], f"received {got}")
    # An error that echoes client input still parses (the client gets the error, not a
    # parse failure).
    try:
        sqs.send_message(QueueUrl=url, MessageBody="b", MessageGroupId="g\u0001")
        raise AssertionError("MessageGroupId with a control character accepted")
    except ClientError as e:
        check(e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, f"{e.response}")
    print(f"forbidden characters {WANT_PROTOCOL}: OK")


if __name__ == "__main__":
    main()
