"""The S3 front over real HTTP: visitors' own credentials, Amplify's access levels."""

from __future__ import annotations

import socket
import threading
import uuid

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from werkzeug.serving import make_server

from standins.aws import create_s3_app

BODY = b"hello from the S3 front\n"


@pytest.fixture
def person(aws):
    """A signed-in identity: (identity id, S3 client with its credentials)."""
    def make(sub: str = "alice-sub"):
        logins = {aws.LOGINS_KEYS["google"]: aws.id_token("google", sub=sub)}
        identity_id, credentials = aws.credentials(logins)
        return identity_id, aws.s3(credentials)
    return make


@pytest.fixture
def guest(aws):
    _, credentials = aws.credentials()
    return aws.s3(credentials)


def refused(call, **params) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**params)
    error = caught.value.response["Error"]
    return error["Code"], error.get("Message", "")


def keys(s3, bucket, prefix) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents",
                                                                                      [])]


def test_own_private_files_list_put_get_delete(aws, person):
    identity_id, s3 = person()
    key = f"private/{identity_id}/notes.txt"
    s3.put_object(Bucket=aws.BUCKET, Key=key, Body=BODY, ContentType="text/plain")
    assert keys(s3, aws.BUCKET, f"private/{identity_id}/") == [key]
    assert s3.get_object(Bucket=aws.BUCKET, Key=key)["Body"].read() == BODY
    assert s3.head_object(Bucket=aws.BUCKET, Key=key)["ContentLength"] == len(BODY)
    s3.delete_object(Bucket=aws.BUCKET, Key=key)
    assert keys(s3, aws.BUCKET, f"private/{identity_id}/") == []


def test_levels_as_amplify_storage(aws, person, guest):
    alice, alice_s3 = person("alice-sub")
    _, bob_s3 = person("bob-sub")
    alice_s3.put_object(Bucket=aws.BUCKET, Key=f"private/{alice}/secret.txt", Body=BODY)
    alice_s3.put_object(Bucket=aws.BUCKET, Key=f"protected/{alice}/shared.txt", Body=BODY)
    alice_s3.put_object(Bucket=aws.BUCKET, Key="public/by-alice.txt", Body=BODY)

    code, message = refused(bob_s3.get_object, Bucket=aws.BUCKET,
                            Key=f"private/{alice}/secret.txt")
    assert code == "AccessDenied"
    assert f"assumed-role/{aws.AUTH_ROLE}/CognitoIdentityCredentials is not authorized to " \
           f"perform: s3:GetObject on resource: \"arn:aws:s3:::{aws.BUCKET}/private/{alice}/" \
           "secret.txt\"" in message
    assert refused(bob_s3.list_objects_v2, Bucket=aws.BUCKET,
                   Prefix=f"private/{alice}/")[0] == "AccessDenied"
    assert refused(bob_s3.list_objects_v2, Bucket=aws.BUCKET)[0] == "AccessDenied"
    # protected/: everyone signed in reads, only the owner writes.
    read = bob_s3.get_object(Bucket=aws.BUCKET, Key=f"protected/{alice}/shared.txt")
    assert read["Body"].read() == BODY
    assert f"protected/{alice}/shared.txt" in keys(bob_s3, aws.BUCKET, f"protected/{alice}/")
    assert refused(bob_s3.delete_object, Bucket=aws.BUCKET,
                   Key=f"protected/{alice}/shared.txt")[0] == "AccessDenied"
    # Guests read public/ and nothing else.
    assert "public/welcome.txt" in keys(guest, aws.BUCKET, "public/")
    assert guest.get_object(Bucket=aws.BUCKET, Key="public/by-alice.txt")["Body"].read() == BODY
    code, message = refused(guest.put_object, Bucket=aws.BUCKET, Key="public/guest.txt",
                            Body=b"x")
    assert code == "AccessDenied" and f"assumed-role/{aws.GUEST_ROLE}/" in message
    assert refused(guest.get_object, Bucket=aws.BUCKET,
                   Key=f"protected/{alice}/shared.txt")[0] == "AccessDenied"
    assert refused(guest.list_objects_v2, Bucket=aws.BUCKET,
                   Prefix="protected/")[0] == "AccessDenied"


def test_keys_nobody_issued_and_requests_without_keys(aws):
    stranger = aws.s3({"AccessKeyId": "ASIAUNKNOWNKEY000000", "SecretKey": "x",
                       "SessionToken": "y"})
    assert refused(stranger.list_objects_v2, Bucket=aws.BUCKET, Prefix="public/")[0] == \
        "InvalidAccessKeyId"
    anonymous = requests.get(f"{aws.s3_url}/{aws.BUCKET}/public/welcome.txt", timeout=5)
    assert anonymous.status_code == 403 and "<Code>AccessDenied</Code>" in anonymous.text
    # The bootstrap's admin key passes unchecked.
    assert "public/welcome.txt" in keys(aws.s3(), aws.BUCKET, "")


@pytest.mark.parametrize(("fault", "code"), [("throttle", "SlowDown"),
                                             ("down", "ServiceUnavailable")])
def test_outage_faults_answer_as_s3_does(aws, guest, fault, code):
    aws.control("s3", "POST", "faults", fault=fault)
    answer = requests.get(f"{aws.s3_url}/{aws.BUCKET}/public/welcome.txt", timeout=5)
    assert answer.status_code == 503 and f"<Code>{code}</Code>" in answer.text
    aws.control("s3", "DELETE", "faults")
    assert "public/welcome.txt" in keys(guest, aws.BUCKET, "public/")
    with pytest.raises(requests.HTTPError):
        aws.control("s3", "POST", "faults", fault="no-such-fault")


def test_expired_credentials_are_refused(aws):
    aws.control("identity", "POST", "faults", fault="credentials_lifetime", seconds=60)
    _, credentials = aws.credentials()
    s3 = aws.s3(credentials)
    assert keys(s3, aws.BUCKET, "public/")
    aws.control("identity", "POST", "clock", skew_seconds=120)
    assert refused(s3.list_objects_v2, Bucket=aws.BUCKET, Prefix="public/") == (
        "ExpiredToken", "The provided token has expired.")


def test_presigned_get_works_and_expires(aws, person):
    identity_id, s3 = person()
    key = f"private/{identity_id}/download.txt"
    s3.put_object(Bucket=aws.BUCKET, Key=key, Body=BODY)
    url = s3.generate_presigned_url("get_object", ExpiresIn=60,
                                    Params={"Bucket": aws.BUCKET, "Key": key})
    assert url.startswith(aws.s3_url)
    assert requests.get(url, timeout=5).content == BODY
    aws.control("identity", "POST", "clock", skew_seconds=61)
    late = requests.get(url, timeout=5)
    assert late.status_code == 403 and "Request has expired" in late.text
    other = s3.generate_presigned_url("get_object", Params={
        "Bucket": aws.BUCKET, "Key": "private/us-east-1:someone-else/x.txt"})
    aws.control("identity", "POST", "clock", skew_seconds=0)
    assert requests.get(other, timeout=5).status_code == 403


def presigned_post(s3, bucket, key, limit=100, content_type="text/plain"):
    return s3.generate_presigned_post(
        Bucket=bucket, Key=key, ExpiresIn=60, Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, limit]])


def test_presigned_post_enforces_its_policy(aws, person):
    identity_id, s3 = person()
    key = f"private/{identity_id}/upload.txt"
    post = presigned_post(s3, aws.BUCKET, key, limit=len(BODY))

    too_big = requests.post(post["url"], data=post["fields"], timeout=5,
                            files={"file": ("upload.txt", BODY + b"!", "text/plain")})
    assert too_big.status_code == 400 and "<Code>EntityTooLarge</Code>" in too_big.text
    assert f"<MaxSizeAllowed>{len(BODY)}</MaxSizeAllowed>" in too_big.text
    empty = requests.post(post["url"], data=post["fields"], timeout=5,
                          files={"file": ("upload.txt", b"", "text/plain")})
    assert empty.status_code == 400 and "<Code>EntityTooSmall</Code>" in empty.text
    wrong_type = requests.post(post["url"], data={**post["fields"], "Content-Type": "text/html"},
                               files={"file": ("upload.txt", BODY, "text/html")}, timeout=5)
    assert wrong_type.status_code == 403 and "Policy Condition failed" in wrong_type.text
    extra = requests.post(post["url"], data={**post["fields"], "x-amz-meta-a": "b"},
                          files={"file": ("upload.txt", BODY, "text/plain")}, timeout=5)
    assert extra.status_code == 403 and "Extra input fields: x-amz-meta-a" in extra.text
    assert refused(s3.head_object, Bucket=aws.BUCKET, Key=key)[0] == "404"

    stored = requests.post(post["url"], data=post["fields"], timeout=5,
                           files={"file": ("upload.txt", BODY, "text/plain")})
    assert stored.status_code == 204, stored.text
    got = s3.get_object(Bucket=aws.BUCKET, Key=key)
    assert got["Body"].read() == BODY and got["ContentType"] == "text/plain"

    aws.control("identity", "POST", "clock", skew_seconds=120)
    late = requests.post(post["url"], data=post["fields"], timeout=5,
                         files={"file": ("upload.txt", BODY, "text/plain")})
    assert late.status_code == 403 and "Policy expired" in late.text


def test_presigned_post_is_authorized_like_put(aws, guest, person):
    post = presigned_post(guest, aws.BUCKET, "public/from-guest.txt")
    answer = requests.post(post["url"], data=post["fields"], timeout=5,
                           files={"file": ("from-guest.txt", b"x", "text/plain")})
    assert answer.status_code == 403 and "<Code>AccessDenied</Code>" in answer.text
    _, bob = person("bob-sub")
    post = presigned_post(bob, aws.BUCKET, "private/us-east-1:someone-else/x.txt")
    answer = requests.post(post["url"], data=post["fields"], timeout=5,
                           files={"file": ("x.txt", b"x", "text/plain")})
    assert answer.status_code == 403 and "s3:PutObject" in answer.text


def test_cors_follows_the_bucket_rules_only(aws, person):
    preflight = requests.options(f"{aws.s3_url}/{aws.BUCKET}", timeout=5, headers={
        "Origin": aws.APP, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == aws.APP
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert preflight.headers["Access-Control-Allow-Headers"] == "content-type"
    evil = requests.options(f"{aws.s3_url}/{aws.BUCKET}", timeout=5, headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert evil.status_code == 403 and "<Code>AccessForbidden</Code>" in evil.text
    assert "Access-Control-Allow-Origin" not in evil.headers
    put = requests.options(f"{aws.s3_url}/{aws.BUCKET}/public/x", timeout=5, headers={
        "Origin": aws.APP, "Access-Control-Request-Method": "PUT"})
    assert put.status_code == 403  # the rules allow GET, HEAD and POST only

    identity_id, s3 = person()
    post = presigned_post(s3, aws.BUCKET, f"private/{identity_id}/cors.txt")
    upload = requests.post(post["url"], data=post["fields"], timeout=5,
                           headers={"Origin": aws.APP},
                           files={"file": ("cors.txt", b"abc", "text/plain")})
    assert upload.status_code == 204
    assert upload.headers["Access-Control-Allow-Origin"] == aws.APP
    url = s3.generate_presigned_url("get_object", Params={
        "Bucket": aws.BUCKET, "Key": f"private/{identity_id}/cors.txt"})
    other = requests.get(url, headers={"Origin": "https://evil.example"}, timeout=5)
    assert other.status_code == 200 and "Access-Control-Allow-Origin" not in other.headers
    denied = requests.post(post["url"], data=post["fields"], headers={"Origin": aws.APP},
                           files={"file": ("cors.txt", b"x" * 1000, "text/plain")}, timeout=5)
    assert denied.status_code == 400  # the page can read S3's answer
    assert denied.headers["Access-Control-Allow-Origin"] == aws.APP


def test_counters_and_bytes(aws, person):
    identity_id, s3 = person()
    key = f"private/{identity_id}/counted.txt"
    aws.control("s3", "DELETE", "calls")
    s3.put_object(Bucket=aws.BUCKET, Key=key, Body=BODY)
    s3.get_object(Bucket=aws.BUCKET, Key=key)["Body"].read()
    keys(s3, aws.BUCKET, f"private/{identity_id}/")
    post = presigned_post(s3, aws.BUCKET, key)
    requests.post(post["url"], data=post["fields"], timeout=5,
                  files={"file": ("counted.txt", b"12345", "text/plain")})
    requests.get(s3.generate_presigned_url("get_object", Params={
        "Bucket": aws.BUCKET, "Key": key}), timeout=5)
    assert aws.control("s3", "GET", "calls") == {
        "PutObject": 1, "GetObject": 2, "ListObjectsV2": 1, "PostObject": 1}
    assert aws.control("s3", "GET", "bytes") == {"received": len(BODY) + 5,
                                                 "served": len(BODY) + 5}
    aws.control("s3", "POST", "reset")
    assert aws.control("s3", "GET", "calls") == {}
    assert aws.control("s3", "GET", "bytes") == {"received": 0, "served": 0}


def test_a_throttled_identity_service_leaves_issued_credentials_working(aws, person):
    identity_id, s3 = person("throttle-sub")
    aws.control("identity", "POST", "faults", fault="throttle")
    assert keys(s3, aws.BUCKET, f"private/{identity_id}/") == []


def test_sigv4_presigned_get_and_post(aws):
    logins = {aws.LOGINS_KEYS["auth0"]: aws.id_token("auth0", sub="sigv4-sub")}
    identity_id, credentials = aws.credentials(logins)
    v4 = boto3.client("s3", endpoint_url=aws.s3_url, region_name="us-east-1",
                      aws_access_key_id=credentials["AccessKeyId"],
                      aws_secret_access_key=credentials["SecretKey"],
                      aws_session_token=credentials["SessionToken"],
                      config=Config(signature_version="s3v4"))
    v2 = boto3.client("s3", endpoint_url=aws.s3_url, region_name="us-east-1",
                      aws_access_key_id=credentials["AccessKeyId"],
                      aws_secret_access_key=credentials["SecretKey"],
                      aws_session_token=credentials["SessionToken"],
                      config=Config(signature_version="s3"))
    key = f"private/{identity_id}/v4.txt"
    # A bucket made since June 2020 takes no Signature Version 2, presigned or not.
    old_post = presigned_post(v2, aws.BUCKET, key)
    assert "awsaccesskeyid" in {k.lower() for k in old_post["fields"]}
    refused = requests.post(old_post["url"], data=old_post["fields"], timeout=5,
                            files={"file": ("v4.txt", BODY, "text/plain")})
    assert refused.status_code == 400 and "<Code>InvalidRequest</Code>" in refused.text
    old_url = v2.generate_presigned_url("get_object", ExpiresIn=30,
                                        Params={"Bucket": aws.BUCKET, "Key": "public/welcome.txt"})
    assert "AWSAccessKeyId=" in old_url
    assert "AWS4-HMAC-SHA256" in requests.get(old_url, timeout=5).text
    post = presigned_post(v4, aws.BUCKET, key)
    assert "x-amz-credential" in post["fields"]
    stored = requests.post(post["url"], data=post["fields"], timeout=5,
                           files={"file": ("v4.txt", BODY, "text/plain")})
    assert stored.status_code == 204, stored.text
    url = v4.generate_presigned_url("get_object", ExpiresIn=30,
                                    Params={"Bucket": aws.BUCKET, "Key": key})
    assert "X-Amz-Credential=" in url
    assert requests.get(url, timeout=5).content == BODY
    aws.control("identity", "POST", "clock", skew_seconds=31)
    assert "Request has expired" in requests.get(url, timeout=5).text


def test_virtual_hosted_requests_are_understood(aws):
    answer = requests.get(f"{aws.s3_url}/public/welcome.txt", timeout=5, headers={
        "Host": f"{aws.BUCKET}.localhost", "Authorization": "AWS testing:unchecked"})
    assert answer.status_code == 200 and answer.content.startswith(b"Welcome")


def test_presigned_post_with_success_action_status_201(aws, person):
    identity_id, s3 = person("status-sub")
    key = f"private/{identity_id}/created.txt"
    post = s3.generate_presigned_post(Bucket=aws.BUCKET, Key=key,
                                      Fields={"success_action_status": "201"},
                                      Conditions=[{"success_action_status": "201"}])
    answer = requests.post(post["url"], data=post["fields"], timeout=5,
                           files={"file": ("created.txt", b"abc", "text/plain")})
    assert answer.status_code == 201
    assert f"<Key>{key}</Key>" in answer.text and "<PostResponse>" in answer.text
    assert s3.get_object(Bucket=aws.BUCKET, Key=key)["Body"].read() == b"abc"


def test_malformed_posts_and_an_unreachable_moto_get_s3_errors(aws):
    answer = requests.post(f"{aws.s3_url}/{aws.BUCKET}", timeout=5, data={"Content-Type": "x"},
                           files={"file": ("x.txt", b"x", "text/plain")})
    assert answer.status_code == 400 and "<Code>InvalidArgument</Code>" in answer.text
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    app = create_s3_app(aws.settings(), f"http://127.0.0.1:{closed}", aws.identity_app)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        answer = requests.get(f"http://127.0.0.1:{server.server_port}/{aws.BUCKET}/public/x",
                              headers={"Authorization": "AWS testing:x"}, timeout=10)
        assert answer.status_code == 500 and "<Code>InternalError</Code>" in answer.text
    finally:
        server.shutdown()
        server.server_close()


def test_objects_can_be_seeded_for_listings_at_scale(aws):
    s3 = aws.s3()  # the admin key: no policy in the way
    prefix = f"seeded/{uuid.uuid4().hex}/"
    seeded = aws.control("s3", "POST", "objects", prefix=prefix, count=1500)
    assert seeded == {"bucket": aws.BUCKET, "prefix": prefix, "count": 1500}
    page = s3.list_objects_v2(Bucket=aws.BUCKET, Prefix=prefix)
    assert page["KeyCount"] == 1000 and page["IsTruncated"]
    rest = s3.list_objects_v2(Bucket=aws.BUCKET, Prefix=prefix,
                              ContinuationToken=page["NextContinuationToken"])
    assert rest["KeyCount"] == 500 and rest["Contents"][-1]["Key"] == f"{prefix}file-01499.txt"
    for body in ({"prefix": prefix}, {"prefix": prefix, "count": 0}, {"count": 5}):
        answer = requests.post(f"{aws.s3_url}/_control/objects", json=body, timeout=5)
        assert answer.status_code == 400 and "prefix" in answer.json()["error"]
