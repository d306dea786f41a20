"""Signed requests through botocore against a Stowage server that has credentials configured.

Usage: python signed.py ENDPOINT PROTOCOL ACCESS_KEY SECRET ACCOUNT
Checks: signed calls work (PROTOCOL json or query, asserted), a wrong secret gives
SignatureDoesNotMatch, and (Query only) a presigned GET URL works until altered.
"""

import sys
import urllib.error
import urllib.request
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT, PROTOCOL, KEY, SECRET, ACCOUNT = sys.argv[1:6]


def client(secret):
    return boto3.session.Session(
        aws_access_key_id=KEY, aws_secret_access_key=secret, region_name="us-west-2"
    ).client("sqs", endpoint_url=ENDPOINT, config=Config(retries={"max_attempts": 1}))


def check(cond, what):
    if not cond:
        raise AssertionError(what)


sqs = client(SECRET)
check(sqs.meta.service_model.protocol == PROTOCOL, f"protocol {sqs.meta.service_model.protocol}")
name = f"signed-{PROTOCOL}-{uuid.uuid4().hex[:6]}"
url = sqs.create_queue(QueueName=name)["QueueUrl"]
check(url == f"{ENDPOINT}/{ACCOUNT}/{name}", f"url {url}")
# A body with characters that need percent-encoding in the Query form (signed body bytes).
body = "a+b=c&d e/ü~*'()!"
sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes={"k": {"DataType": "String", "StringValue": "v w"}})
msgs = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
check(len(msgs) == 1 and msgs[0]["Body"] == body, f"received {msgs}")

try:
    client("wrong-secret").list_queues()
    raise AssertionError("wrong secret accepted")
except ClientError as e:
    code = e.response["Error"]["Code"]
    check(code == "SignatureDoesNotMatch", f"wrong secret gave {code}")
    check(e.response["ResponseMetadata"]["HTTPStatusCode"] == 403, "403")

if PROTOCOL == "query":
    presigned = sqs.generate_presigned_url(
        "get_queue_attributes",
        Params={"QueueUrl": url, "AttributeNames": ["All"]},
        ExpiresIn=60,
        HttpMethod="GET",
    )
    check("X-Amz-Signature=" in presigned, f"not presigned: {presigned}")
    with urllib.request.urlopen(presigned, timeout=10) as resp:
        text = resp.read().decode()
        check(resp.status == 200 and "<Name>QueueArn</Name>" in text, text)
    tampered = presigned.replace("AttributeName.1=All", "AttributeName.1=QueueArn")
    check(tampered != presigned, f"could not tamper with {presigned}")
    try:
        urllib.request.urlopen(tampered, timeout=10)
        raise AssertionError("tampered presigned URL accepted")
    except urllib.error.HTTPError as e:
        check(e.code == 403, f"tampered presigned URL gave {e.code}")
        check("SignatureDoesNotMatch" in e.read().decode(), "SignatureDoesNotMatch")

sqs.delete_queue(QueueUrl=url)
print(f"signed {PROTOCOL}: OK")
