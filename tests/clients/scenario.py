"""One SQS scenario run through boto3 against a Stowage server.

Usage: python scenario.py ENDPOINT PROTOCOL
  PROTOCOL is `json` (current boto3) or `query` (an old pinned botocore that still speaks
  Query/XML). The script fails if the installed botocore speaks another protocol, so the two
  venvs really exercise both wire formats.

Exits non-zero (with a traceback) on the first failed check.
"""

import base64
import hashlib
import json
import struct
import sys
import time
import uuid

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = sys.argv[1]
WANT_PROTOCOL = sys.argv[2]
ACCOUNT = "000000000000"


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def attr_md5(attrs):
    """MD5OfMessageAttributes as SQS computes it (SQS-SPEC §7)."""
    buf = b""
    for name in sorted(attrs, key=lambda n: n.encode()):
        v = attrs[name]
        buf += struct.pack(">I", len(name.encode())) + name.encode()
        buf += struct.pack(">I", len(v["DataType"].encode())) + v["DataType"].encode()
        if "StringValue" in v:
            val = v["StringValue"].encode()
            buf += b"\x01" + struct.pack(">I", len(val)) + val
        else:
            val = v["BinaryValue"]
            buf += b"\x02" + struct.pack(">I", len(val)) + val
    return hashlib.md5(buf).hexdigest()


def wait_count(sqs, url, want):
    deadline = time.time() + 15
    while True:
        n = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
        n = n["Attributes"]["ApproximateNumberOfMessages"]
        if n == want:
            return
        check(time.time() < deadline, f"{url} has {n} messages, want {want}")
        time.sleep(0.1)


def expect_error(fn, shape, legacy, status):
    try:
        fn()
    except ClientError as e:
        err = e.response["Error"]
        code = err.get("Code")
        http = e.response["ResponseMetadata"]["HTTPStatusCode"]
        check(http == status, f"expected HTTP {status} for {shape}, got {http}: {e.response}")
        # JSON: Code is the legacy code (from x-amzn-query-error), QueryErrorCode the shape.
        # Query: Code is the legacy code from the XML.
        check(code == legacy, f"expected code {legacy}, got {code}: {err}")
        if WANT_PROTOCOL == "json":
            check(
                err.get("QueryErrorCode") == shape,
                f"expected QueryErrorCode {shape}: {err}",
            )
        return e
    raise AssertionError(f"expected {shape}, call succeeded")


def main():
    session = boto3.session.Session(
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    sqs = session.client(
        "sqs",
        endpoint_url=ENDPOINT,
        config=Config(retries={"max_attempts": 1}, read_timeout=40, connect_timeout=5),
    )
    protocol = sqs.meta.service_model.protocol
    print(f"boto3 {boto3.__version__} botocore {botocore.__version__} protocol {protocol}")
    check(protocol == WANT_PROTOCOL, f"botocore speaks {protocol}, expected {WANT_PROTOCOL}")

    suffix = uuid.uuid4().hex[:8]
    name = f"py-{WANT_PROTOCOL}-{suffix}"

    # --- create (attributes + tags), get url, list ---------------------------------------
    url = sqs.create_queue(
        QueueName=name,
        Attributes={"VisibilityTimeout": "30", "DelaySeconds": "0"},
        tags={"team": "core", "env": "test"},
    )["QueueUrl"]
    check(url == f"{ENDPOINT}/{ACCOUNT}/{name}", f"queue url {url}")
    check(sqs.get_queue_url(QueueName=name)["QueueUrl"] == url, "get_queue_url")
    listed = sqs.list_queues(QueueNamePrefix=f"py-{WANT_PROTOCOL}").get("QueueUrls", [])
    check(url in listed, f"list_queues {listed}")
    tags = sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
    check(tags == {"team": "core", "env": "test"}, f"tags {tags}")
    sqs.tag_queue(QueueUrl=url, Tags={"extra": "1"})
    sqs.untag_queue(QueueUrl=url, TagKeys=["env"])
    tags = sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
    check(tags == {"team": "core", "extra": "1"}, f"tags after tag/untag {tags}")

    # --- get/set attributes ---------------------------------------------------------------
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    check(attrs["VisibilityTimeout"] == "30", f"attrs {attrs}")
    check(attrs["QueueArn"] == f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}", f"arn {attrs}")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "20"})
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
    check(attrs["Attributes"] == {"VisibilityTimeout": "20"}, f"set attrs {attrs}")

    # --- send with message attributes ------------------------------------------------------
    # XML-special characters, CR (which an XML parser would normalise unless escaped) and "]]>".
    body = "héllo <xml> & \"quotes\" ✓\r\n\tline two\r]]> &amp;"
    mattrs = {
        "str": {"DataType": "String", "StringValue": "v"},
        "num": {"DataType": "Number", "StringValue": "12.5"},
        "bin": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
        "custom": {"DataType": "String.custom", "StringValue": "ünï\r\n<&>"},
    }
    sent = sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=mattrs)
    check(sent["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest(), f"md5 {sent}")
    check(sent["MD5OfMessageAttributes"] == attr_md5(mattrs), f"attr md5 {sent}")

    # --- send batch -------------------------------------------------------------------------
    batch = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": f"e{i}", "MessageBody": f"batch-{i}"} for i in range(5)]
        + [{"Id": "bad", "MessageBody": "nul \u0000"}],
    )
    check(len(batch.get("Successful", [])) == 5, f"batch {batch}")
    failed = batch.get("Failed", [])
    check(len(failed) == 1 and failed[0]["Id"] == "bad", f"batch failed {failed}")
    check(failed[0]["Code"] == "InvalidMessageContents", f"batch code {failed}")
    check(failed[0]["SenderFault"] is True, f"sender fault {failed}")

    # --- receive (with attribute names), change visibility, delete, delete batch ------------
    received = []
    deadline = time.time() + 15
    while len(received) < 6 and time.time() < deadline:
        out = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        received.extend(out.get("Messages", []))
    check(len(received) == 6, f"received {len(received)}")
    first = [m for m in received if m["MessageId"] == sent["MessageId"]]
    check(len(first) == 1, "the attributed message was received")
    m = first[0]
    check(m["Body"] == body, f"body {m['Body']!r}")
    check(m["MD5OfBody"] == hashlib.md5(body.encode()).hexdigest(), "MD5OfBody")
    check(m["MessageAttributes"] == mattrs, f"attributes {m['MessageAttributes']}")
    check(m["MD5OfMessageAttributes"] == attr_md5(mattrs), "MD5OfMessageAttributes")
    check(m["Attributes"]["ApproximateReceiveCount"] == "1", f"sys attrs {m['Attributes']}")
    check(int(m["Attributes"]["SentTimestamp"]) > 1_600_000_000_000, "SentTimestamp in ms")

    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0)
    again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, WaitTimeSeconds=2)
    again = again.get("Messages", [])
    check(len(again) == 1 and again[0]["MessageId"] == m["MessageId"], f"visible again {again}")
    sqs.delete_message(QueueUrl=url, ReceiptHandle=again[0]["ReceiptHandle"])
    rest = [x for x in received if x["MessageId"] != m["MessageId"]]
    cv = sqs.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[{"Id": "c0", "ReceiptHandle": rest[0]["ReceiptHandle"], "VisibilityTimeout": 60}],
    )
    check(len(cv.get("Successful", [])) == 1, f"cv batch {cv}")
    deleted = sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[{"Id": f"d{i}", "ReceiptHandle": x["ReceiptHandle"]} for i, x in enumerate(rest)]
        + [{"Id": "junk", "ReceiptHandle": "junk"}],
    )
    check(len(deleted.get("Successful", [])) == 5, f"delete batch {deleted}")
    check(
        [f["Code"] for f in deleted.get("Failed", [])] == ["ReceiptHandleIsInvalid"],
        f"delete batch failure {deleted}",
    )
    attrs = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    check(
        attrs == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"},
        f"empty after deletes {attrs}",
    )

    # --- a 1 MiB body of two-byte characters (the Query form percent-encodes it to ~3 MiB) ----
    big = "é" * (1024 * 1024 // 2)
    r = sqs.send_message(QueueUrl=url, MessageBody=big)
    check(r["MD5OfMessageBody"] == hashlib.md5(big.encode()).hexdigest(), "big body md5")
    out = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
    check(len(out) == 1 and out[0]["Body"] == big, "big body round trip")
    sqs.delete_message(QueueUrl=url, ReceiptHandle=out[0]["ReceiptHandle"])
    try:
        sqs.send_message(QueueUrl=url, MessageBody=big + "x")
        raise AssertionError("1 MiB + 1 byte accepted")
    except ClientError as e:
        check(e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, f"too big: {e.response}")

    # --- FIFO send/receive with dedup -------------------------------------------------------
    fifo = sqs.create_queue(
        QueueName=f"{name}.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    seqs = []
    for i in range(3):
        r = sqs.send_message(QueueUrl=fifo, MessageBody=f"f{i}", MessageGroupId="g")
        seqs.append(int(r["SequenceNumber"]))
    dup = sqs.send_message(QueueUrl=fifo, MessageBody="f0", MessageGroupId="g")
    check(seqs == sorted(seqs) and len(set(seqs)) == 3, f"sequence numbers {seqs}")
    explicit = sqs.send_message(
        QueueUrl=fifo, MessageBody="f3", MessageGroupId="g", MessageDeduplicationId="x1"
    )
    sqs.send_message(QueueUrl=fifo, MessageBody="f3 dup", MessageGroupId="g", MessageDeduplicationId="x1")
    bodies = []
    deadline = time.time() + 10
    while len(bodies) < 4 and time.time() < deadline:
        out = sqs.receive_message(
            QueueUrl=fifo, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["All"]
        )
        for fm in out.get("Messages", []):
            bodies.append(fm["Body"])
            check(fm["Attributes"]["MessageGroupId"] == "g", f"group {fm['Attributes']}")
            sqs.delete_message(QueueUrl=fifo, ReceiptHandle=fm["ReceiptHandle"])
    check(bodies == ["f0", "f1", "f2", "f3"], f"fifo order/dedup {bodies} (dup id {dup['MessageId']}, {explicit['MessageId']})")

    # --- permissions, dead-letter queue, move tasks (so all 23 actions run on this protocol) ---
    sqs.add_permission(
        QueueUrl=url, Label="others", AWSAccountIds=["111111111111"], Actions=["SendMessage"]
    )
    policy = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]
    check("others" in policy["Policy"], f"policy {policy}")
    sqs.remove_permission(QueueUrl=url, Label="others")
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    src = sqs.create_queue(
        QueueName=f"{name}-src",
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"})},
    )["QueueUrl"]
    sources = sqs.list_dead_letter_source_queues(QueueUrl=dlq).get("queueUrls", [])
    check(sources == [src], f"dead-letter sources {sources}")
    sqs.send_message(QueueUrl=src, MessageBody="poison")
    for _ in range(3):
        sqs.receive_message(QueueUrl=src, VisibilityTimeout=0, WaitTimeSeconds=0)
    wait_count(sqs, dlq, "1")
    task = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    wait_count(sqs, src, "1")
    tasks = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]
    check(tasks and tasks[0]["SourceArn"] == dlq_arn, f"move tasks {tasks}")
    try:
        sqs.cancel_message_move_task(TaskHandle=task)
    except ClientError as e:
        # The task may already have finished: then it is no longer cancellable.
        check(
            e.response["Error"]["Code"] in ("ResourceNotFoundException", "FailedPrecondition", "InvalidParameterValue"),
            f"cancel finished task: {e.response['Error']}",
        )
    expect_error(
        lambda: sqs.cancel_message_move_task(TaskHandle="no-such-task"),
        "InvalidParameterValueException",
        "InvalidParameterValue",
        400,
    )
    unknown = base64.b64encode(
        json.dumps({"taskId": str(uuid.uuid4()), "sourceArn": dlq_arn}).encode()
    ).decode()
    expect_error(
        lambda: sqs.cancel_message_move_task(TaskHandle=unknown),
        "ResourceNotFoundException",
        "ResourceNotFoundException",
        404,
    )
    sqs.delete_queue(QueueUrl=src)
    sqs.delete_queue(QueueUrl=dlq)

    # --- errors: modeled exception class AND the legacy code --------------------------------
    missing = f"{ENDPOINT}/{ACCOUNT}/does-not-exist-{suffix}"
    try:
        sqs.get_queue_url(QueueName=f"does-not-exist-{suffix}")
        raise AssertionError("get_queue_url of a missing queue succeeded")
    except sqs.exceptions.QueueDoesNotExist as e:
        code = e.response["Error"]["Code"]
        check(code == "AWS.SimpleQueueService.NonExistentQueue", f"legacy code {code}")
        # Each protocol words it as SQS does.
        want = {
            "json": "The specified queue does not exist.",
            "query": "The specified queue does not exist for this wsdl version.",
        }[WANT_PROTOCOL]
        message = e.response["Error"]["Message"]
        check(message == want, f"QueueDoesNotExist message {message!r}")
    expect_error(
        lambda: sqs.send_message(QueueUrl=missing, MessageBody="x"),
        "QueueDoesNotExist",
        "AWS.SimpleQueueService.NonExistentQueue",
        400,
    )
    expect_error(
        lambda: sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage"),
        "ReceiptHandleIsInvalid",
        "ReceiptHandleIsInvalid",
        404,
    )
    expect_error(
        lambda: sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "5"}),
        "QueueNameExists",
        "QueueAlreadyExists",
        400,
    )
    expect_error(
        lambda: sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "x"}] * 2),
        "BatchEntryIdsNotDistinct",
        "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
        400,
    )
    # Unmodeled validation errors: Error.Code is the short code; over JSON
    # QueryErrorCode is the …Exception name SQS puts in __type.
    expect_error(
        lambda: sqs.send_message(QueueUrl=url, MessageBody=""),
        "MissingRequiredParameterException",
        "MissingParameter",
        400,
    )
    expect_error(
        lambda: sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11),
        "InvalidParameterValueException",
        "InvalidParameterValue",
        400,
    )
    expect_error(
        lambda: sqs.send_message(QueueUrl=url, MessageBody="bad \u0000"),
        "InvalidMessageContents",
        "InvalidMessageContents",
        400,
    )

    # --- purge, delete queue -----------------------------------------------------------------
    sqs.send_message(QueueUrl=url, MessageBody="to purge")
    sqs.purge_queue(QueueUrl=url)
    expect_error(
        lambda: sqs.purge_queue(QueueUrl=url),
        "PurgeQueueInProgress",
        "AWS.SimpleQueueService.PurgeQueueInProgress",
        403,
    )
    n = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    check(n["Attributes"]["ApproximateNumberOfMessages"] == "0", f"after purge {n}")
    sqs.delete_queue(QueueUrl=url)
    sqs.delete_queue(QueueUrl=fifo)
    try:
        sqs.get_queue_url(QueueName=name)
        raise AssertionError("deleted queue still has a URL")
    except ClientError as e:
        check(
            e.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue",
            f"after delete {e.response['Error']}",
        )
    print(f"scenario {WANT_PROTOCOL}: OK")


if __name__ == "__main__":
    main()
