"""moto in server mode (STS, IAM and S3 underneath the stand-in), and what an
operator would create in the AWS console before the site can run."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from webapp import policies

from ..requestlog import RedactedRequestLog
from .settings import AwsSettings, SiteKey, admin_client, parse_settings

#: Objects a guest can list and download from the start.
SAMPLE_OBJECTS = {
    "public/welcome.txt": (
        b"Welcome to Federation Lab.\n\nThis file lives under public/ in the local S3 "
        b"stand-in: everyone, guests included, may read it; signed-in visitors may add "
        b"files next to it.\n", "text/plain"),
    "public/levels.txt": (
        b"public/     readable by everyone, writable by signed-in identities\n"
        b"protected/  readable by signed-in identities, writable by the owner\n"
        b"private/    readable and writable by the owner only\n", "text/plain"),
}
ROLE_POLICY_NAME = "AmplifyStorageAccess"
SITE_POLICY_NAME = "FederationLabSite"


def start_moto(host: str = "127.0.0.1", port: int = 0) -> tuple[Any, str]:
    """Start moto's threaded server; port 0 picks a free port. Returns (server, base URL);
    stop it with ``server.stop()``. IAM enforcement stays off (it breaks presigned URLs):
    the S3 front in this package does the authorization instead."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    # The S3 front forwards presigned URLs here as they came: log them redacted
    # too. moto takes no handler argument; its server reads this per request.
    server._server.RequestHandlerClass = _moto_handler()  # type: ignore[union-attr]
    bound_host, bound_port = server.get_host_and_port()
    return server, f"http://{bound_host}:{bound_port}"


def _moto_handler() -> type:
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    return type("MotoRequestHandler", (RedactedRequestLog, MotoRequestHandler), {})


def bootstrap(settings: Mapping[str, Any] | AwsSettings, moto_url: str) -> SiteKey:
    """Create in moto what an operator creates before the site runs: the bucket (with
    CORS and sample objects); the pool's authenticated and guest roles and the roles
    its mappings may choose (:data:`webapp.policies.MAPPED_ROLES`); and the site's
    own IAM user with :func:`webapp.policies.site_statements` and a fresh access key,
    which is returned (the identity service must be given it, and the app gets it
    through its environment, as a deployment would).

    Idempotent: moto's state is per process, so a second call (another test
    folder, a restart of the front) finds things in place and brings them back
    to the documents in :mod:`webapp.policies`; the site user's older keys are
    deleted.
    """
    aws = parse_settings(settings)
    iam = admin_client("iam", aws, moto_url)
    s3 = admin_client("s3", aws, moto_url)
    roles = [
        (aws.authenticated_role, "authenticated", policies.authenticated_statements(aws.bucket)),
        (aws.guest_role, "unauthenticated", policies.guest_statements(aws.bucket)),
        *((aws.mapped_roles.get(role.key, role.name), "authenticated",
           role.statements(aws.bucket)) for role in policies.MAPPED_ROLES),
    ]
    for name, amr, statements in roles:
        trust = json.dumps(policies.trust_policy(aws.identity_pool_id, amr))
        try:
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust,
                            Description=f"Cognito Identity Pool {amr} role (local stand-in)")
        except ClientError as e:
            if e.response["Error"]["Code"] != "EntityAlreadyExists":
                raise
            iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust)
        iam.put_role_policy(RoleName=name, PolicyName=ROLE_POLICY_NAME,
                            PolicyDocument=json.dumps(policies.policy(statements)))
    site = _site_user(iam, aws)
    try:
        if aws.region == "us-east-1":
            s3.create_bucket(Bucket=aws.bucket)
        else:
            s3.create_bucket(Bucket=aws.bucket,
                             CreateBucketConfiguration={"LocationConstraint": aws.region})
    except ClientError as e:
        if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    s3.put_bucket_cors(Bucket=aws.bucket,
                       CORSConfiguration=policies.bucket_cors(list(aws.app_origins)))
    for key, (body, content_type) in SAMPLE_OBJECTS.items():
        s3.put_object(Bucket=aws.bucket, Key=key, Body=body, ContentType=content_type)
    return site


def _site_user(iam: Any, aws: AwsSettings) -> SiteKey:
    """The site's IAM user, allowed its developer calls on this pool and ``iam:GetRole``
    on the site's roles, with one new access key."""
    try:
        iam.create_user(UserName=aws.site_user)
    except ClientError as e:
        if e.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
    statements = policies.site_statements(
        aws.pool_arn, f"arn:aws:iam::{aws.account_id}:role/fedlab-*")
    iam.put_user_policy(UserName=aws.site_user, PolicyName=SITE_POLICY_NAME,
                        PolicyDocument=json.dumps(policies.policy(statements)))
    for old in iam.list_access_keys(UserName=aws.site_user)["AccessKeyMetadata"]:
        iam.delete_access_key(UserName=aws.site_user, AccessKeyId=old["AccessKeyId"])
    key = iam.create_access_key(UserName=aws.site_user)["AccessKey"]
    return SiteKey(aws.site_user, key["AccessKeyId"], key["SecretAccessKey"])
