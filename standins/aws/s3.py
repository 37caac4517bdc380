"""The S3 front: a guard in front of moto's S3 that adds what moto lacks.

moto (server mode, IAM enforcement off) stores objects, lists, signs nothing
and checks nothing. This front forwards every request to it path-style and
adds, before forwarding:

* authorization as IAM would decide it for the credentials the identity
  service issued (their role's inline policies, read from moto's IAM), with
  S3's own ``AccessDenied``, ``InvalidAccessKeyId`` and ``ExpiredToken``
  errors; presigned URLs past their expiry are refused as S3 does;
* the presigned POST policy (expiration, exact-match / ``starts-with``
  conditions, ``content-length-range`` -> ``EntityTooLarge`` /
  ``EntityTooSmall``, extra fields);
* CORS from the bucket's own rules only (moto's server answers every origin);
* counters per operation and the object bytes it received and served;
* outage faults set through ``/_control/faults``: ``throttle`` answers every
  request with S3's ``503 SlowDown``, ``down`` with ``503 ServiceUnavailable``;
* S3's ``400 InvalidArgument`` for a ``ListObjectsV2`` continuation token it never
  issued (moto answers a 500 for those);
* Signature Version 4 only, as on every bucket made since June 2020: a request,
  presigned URL or POST signed with version 2 gets S3's ``400 InvalidRequest``.

Requests signed with the bootstrap's dummy admin key pass unchecked.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape, unescape

import flask
import requests
from botocore.exceptions import ClientError
from werkzeug.exceptions import HTTPException

from ..faults import FaultBoard
from . import iam
from .faults import add_control_routes
from .identity import SCOPE_DOWN_SERVICES, Grant, IdentityService, service_of
from .settings import ADMIN_ACCESS_KEY_ID, AwsSettings, admin_client, parse_settings

log = logging.getLogger(__name__)
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "proxy-authenticate", "proxy-authorization", "host", "content-length",
              "expect"}
CORS_FORBIDDEN = ("CORSResponse: This CORS request is not allowed. This is usually because the "
                  "evalution of Origin, request method / Access-Control-Request-Method or "
                  "Access-Control-Request-Headers are not whitelisted by the resource's CORS "
                  "spec.")
#: Form fields of a POST upload that need no policy condition.
POST_EXEMPT = {"file", "policy", "signature", "x-amz-signature", "awsaccesskeyid"}
OBJECT_ACTIONS = {
    "GetObject": "s3:GetObject", "HeadObject": "s3:GetObject",
    "PutObject": "s3:PutObject", "PostObject": "s3:PutObject", "CopyObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject", "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload", "DeleteObject": "s3:DeleteObject",
}
LIST_OPERATIONS = ("ListObjectsV2", "ListObjects")
#: Continuation tokens a front remembers having issued (older ones are refused as unknown).
TOKENS_KEPT = 100_000
NEXT_TOKEN = re.compile(rb"<NextContinuationToken>([^<]*)</NextContinuationToken>")
#: Outage faults of the front, each as S3 answers it.
FAULTS = {
    "throttle": ("SlowDown", "Please reduce your request rate."),
    "down": ("ServiceUnavailable", "Service is unable to handle request."),
}


class S3Error(Exception):
    def __init__(self, code: str, message: str, status: int = 403, **extra: Any) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.extra = code, message, status, extra

    def response(self, method: str) -> flask.Response:
        request_id = uuid.uuid4().hex[:16].upper()
        fields = "".join(f"<{k}>{escape(str(v))}</{k}>" for k, v in self.extra.items())
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n'
                f"<Error><Code>{self.code}</Code><Message>{escape(self.message)}</Message>"
                f"{fields}<RequestId>{request_id}</RequestId>"
                f"<HostId>{base64.b64encode(uuid.uuid4().bytes).decode()}</HostId></Error>")
        return flask.Response(b"" if method == "HEAD" else body.encode(), status=self.status,
                              content_type="application/xml",
                              headers={"x-amz-request-id": request_id})


def access_denied(grant: Grant, action: str, resource: str) -> S3Error:
    return S3Error("AccessDenied", f"User: {grant.principal_arn} is not authorized to perform: "
                   f"{action} on resource: \"{resource}\" because no identity-based policy "
                   f"allows the {action} action")


class S3Front:
    """State of one front: counters, caches, and who the identity service issued keys to."""

    def __init__(self, settings: AwsSettings, moto_url: str, identity: IdentityService) -> None:
        self.settings = settings
        self.moto_url = moto_url.rstrip("/")
        self.identity = identity
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._bytes = {"received": 0, "served": 0}
        self._policies: dict[str, list[dict[str, Any]]] = {}
        self._cors: dict[str, list[dict[str, Any]]] = {}
        self.faults = FaultBoard(FAULTS)
        #: Continuation tokens issued through this front, oldest first (dict as ordered set).
        self._page_tokens: dict[str, None] = {}
        self._iam = admin_client("iam", settings, moto_url)
        self._s3 = admin_client("s3", settings, moto_url)

    # -- counters and caches ------------------------------------------------------

    def count(self, operation: str) -> None:
        with self._lock:
            self._calls[operation] += 1

    def add_bytes(self, direction: str, n: int) -> None:
        with self._lock:
            self._bytes[direction] += n

    def calls(self) -> dict[str, int]:
        with self._lock:
            return dict(self._calls)

    def byte_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._bytes)

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()
            self._bytes = {"received": 0, "served": 0}

    def reset(self) -> None:
        self.clear_calls()
        with self._lock:
            self._policies.clear()
            self._cors.clear()
        self.faults.clear()

    def remember_page_token(self, listing: bytes) -> None:
        found = NEXT_TOKEN.search(listing)
        if found:
            with self._lock:
                self._page_tokens[unescape(found.group(1).decode())] = None
                while len(self._page_tokens) > TOKENS_KEPT:
                    del self._page_tokens[next(iter(self._page_tokens))]

    def check_page_token(self, token: str | None) -> None:
        """S3 refuses a continuation token it did not issue, as a bad argument."""
        with self._lock:
            known = token is None or token in self._page_tokens
        if not known:
            raise S3Error("InvalidArgument", "The continuation token provided is incorrect",
                          400, ArgumentName="continuation-token", ArgumentValue=token)

    def check_faults(self) -> None:
        """Answer as S3 does when it sheds load or is unavailable."""
        for name in self.faults.listing():
            code, message = FAULTS[name]
            raise S3Error(code, message, 503)

    def role_statements(self, role: str) -> list[dict[str, Any]]:
        with self._lock:
            if role in self._policies:
                return self._policies[role]
        statements: list[dict[str, Any]] = []
        for name in self._iam.list_role_policies(RoleName=role)["PolicyNames"]:
            document = self._iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            if isinstance(document, str):
                document = json.loads(document)
            found = document.get("Statement") or []
            statements += found if isinstance(found, list) else [found]
        with self._lock:
            self._policies[role] = statements
        return statements

    def cors_rules(self, bucket: str) -> list[dict[str, Any]]:
        with self._lock:
            if bucket in self._cors:
                return self._cors[bucket]
        try:
            rules = self._s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
        except ClientError:
            rules = []
        with self._lock:
            self._cors[bucket] = rules
        return rules

    def forget_cors(self, bucket: str) -> None:
        with self._lock:
            self._cors.pop(bucket, None)


# -- reading a request ------------------------------------------------------------


def split_target(request: flask.Request, settings: AwsSettings) -> tuple[str, str, str]:
    """(bucket, key, path to forward); virtual-hosted requests become path-style."""
    path = request.path
    host = request.host.split(":")[0]
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or path
    raw_path = raw.split("?", 1)[0]
    if host.startswith(settings.bucket + ".") and not host[0].isdigit():
        path = f"/{settings.bucket}{path}"
        raw_path = f"/{settings.bucket}{raw_path}"
    bucket, _, key = path.lstrip("/").partition("/")
    return bucket, key, raw_path


def operation_of(method: str, bucket: str, key: str, args: Mapping[str, str],
                 headers: Mapping[str, str]) -> str:
    if method == "OPTIONS":
        return "PreflightRequest"
    if not bucket:
        return "ListBuckets"
    if not key:
        for sub, names in (("cors", ("GetBucketCors", "PutBucketCors", "DeleteBucketCors")),
                           ("policy", ("GetBucketPolicy", "PutBucketPolicy",
                                       "DeleteBucketPolicy"))):
            if sub in args:
                return {"GET": names[0], "PUT": names[1], "DELETE": names[2]}.get(method, method)
        if method == "GET":
            if "location" in args:
                return "GetBucketLocation"
            if "uploads" in args:
                return "ListMultipartUploads"
            return "ListObjectsV2" if args.get("list-type") == "2" else "ListObjects"
        if method == "POST":
            return "DeleteObjects" if "delete" in args else "PostObject"
        return {"HEAD": "HeadBucket", "PUT": "CreateBucket", "DELETE": "DeleteBucket"
                }.get(method, method)
    if method == "POST":
        if "uploads" in args:
            return "CreateMultipartUpload"
        return "CompleteMultipartUpload" if "uploadId" in args else "PostObject"
    if method == "PUT":
        if "partNumber" in args:
            return "UploadPart"
        return "CopyObject" if "x-amz-copy-source" in headers else "PutObject"
    if method == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in args else "DeleteObject"
    return {"GET": "GetObject", "HEAD": "HeadObject"}.get(method, method)


def access_key_of(request: flask.Request, form: Mapping[str, str]) -> str | None:
    auth = request.headers.get("Authorization", "")
    if auth.startswith("AWS4-HMAC-SHA256"):
        found = re.search(r"Credential=([^/,\s]+)/", auth)
        return found.group(1) if found else ""
    if auth.startswith("AWS "):
        return auth[4:].split(":", 1)[0]
    if "X-Amz-Credential" in request.args:
        return request.args["X-Amz-Credential"].split("/", 1)[0]
    if "AWSAccessKeyId" in request.args:
        return request.args["AWSAccessKeyId"]
    if "x-amz-credential" in form:
        return form["x-amz-credential"].split("/", 1)[0]
    return form.get("awsaccesskeyid")


def check_signature_version(request: flask.Request, form: Mapping[str, str]) -> None:
    """Buckets created since June 24, 2020 take no Signature Version 2 at all."""
    if (request.headers.get("Authorization", "").startswith("AWS ")
            or "AWSAccessKeyId" in request.args or "awsaccesskeyid" in form):
        raise S3Error("InvalidRequest", "The authorization mechanism you have provided is not "
                      "supported. Please use AWS4-HMAC-SHA256.", 400)


def check_presigned_expiry(args: Mapping[str, str], now: float) -> None:
    expires_at = None
    if "Expires" in args and "AWSAccessKeyId" in args:
        if not args["Expires"].isdigit():
            raise S3Error("AccessDenied", "Query-string authentication requires the "
                          "Signature, Expires and AWSAccessKeyId parameters")
        expires_at = float(args["Expires"])
    elif "X-Amz-Date" in args and "X-Amz-Expires" in args:
        try:
            signed = datetime.strptime(args["X-Amz-Date"], "%Y%m%dT%H%M%S%z")
            expires_at = signed.timestamp() + int(args["X-Amz-Expires"])
        except ValueError:
            raise S3Error("AuthorizationQueryParametersError", "X-Amz-Date must be in the "
                          "ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"", 400) from None
    if expires_at is not None and now > expires_at:
        raise S3Error("AccessDenied", "Request has expired", 403,
                      Expires=_iso(expires_at), ServerTime=_iso(now))


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


# -- presigned POST ------------------------------------------------------------------


def check_post_policy(form: Mapping[str, str], bucket: str, size: int, now: float) -> None:
    """The POST policy document's rules, as S3 applies them before storing anything."""
    if "policy" not in form:
        return  # an anonymous form; authorization decides
    try:
        policy = json.loads(base64.b64decode(form["policy"]))
        expiration = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
        conditions = list(policy.get("conditions") or [])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise S3Error("InvalidPolicyDocument", "Invalid Policy: Invalid JSON.", 400) from None
    if expiration.timestamp() < now:
        raise S3Error("AccessDenied", "Invalid according to Policy: Policy expired.")
    covered = set()
    size_range: tuple[int, int] | None = None
    for condition in conditions:
        if isinstance(condition, dict):
            for name, expected in condition.items():
                name = name.lower()
                covered.add(name)
                actual = bucket if name == "bucket" else form.get(name)
                if actual != expected:
                    raise _condition_failed(["eq", f"${name}", expected])
        elif isinstance(condition, list) and condition and condition[0] == "content-length-range":
            size_range = (int(condition[1]), int(condition[2]))
        elif isinstance(condition, list) and len(condition) == 3:
            operator, name, expected = condition
            name = str(name).lstrip("$").lower()
            covered.add(name)
            actual = bucket if name == "bucket" else form.get(name, "")
            if operator == "eq":
                passed = actual == expected
            elif operator == "starts-with":
                parts = actual.split(",") if name == "content-type" else [actual]
                passed = all(p.strip().startswith(expected) for p in parts)
            else:
                raise S3Error("InvalidPolicyDocument",
                              f"Invalid Policy: Invalid Condition: unknown operator {operator}",
                              400)
            if not passed:
                raise _condition_failed(condition)
    extra = sorted(n for n in form if n not in covered and n not in POST_EXEMPT
                   and not n.startswith("x-ignore-"))
    if extra:
        raise S3Error("AccessDenied", "Invalid according to Policy: Extra input fields: "
                      + ", ".join(extra))
    if size_range is not None:
        low, high = size_range
        if size > high:
            raise S3Error("EntityTooLarge", "Your proposed upload exceeds the maximum allowed "
                          "size", 400, ProposedSize=size, MaxSizeAllowed=high)
        if size < low:
            raise S3Error("EntityTooSmall", "Your proposed upload is smaller than the minimum "
                          "allowed size", 400, ProposedSize=size, MinSizeAllowed=low)


def _condition_failed(condition: Any) -> S3Error:
    return S3Error("AccessDenied", "Invalid according to Policy: Policy Condition failed: "
                   + json.dumps(condition))


# -- CORS ------------------------------------------------------------------------------


def _wild(value: str, pattern: str) -> bool:
    regex = ".*".join(re.escape(p) for p in pattern.split("*"))
    return re.fullmatch(regex, value, flags=re.IGNORECASE) is not None


def matching_rule(rules: list[dict[str, Any]], origin: str, method: str,
                  headers: list[str]) -> dict[str, Any] | None:
    """The first rule that allows this origin, method and every requested header."""
    for rule in rules:
        if not any(_wild(origin, o) for o in rule.get("AllowedOrigins", [])):
            continue
        if method not in rule.get("AllowedMethods", []):
            continue
        allowed_headers = rule.get("AllowedHeaders", [])
        if all(any(_wild(h, a) for a in allowed_headers) for h in headers):
            return rule
    return None


def cors_headers(rule: dict[str, Any], origin: str) -> dict[str, str]:
    headers = {
        "Access-Control-Allow-Origin": "*" if rule["AllowedOrigins"] == ["*"] else origin,
        "Access-Control-Allow-Methods": ", ".join(rule["AllowedMethods"]),
        "Vary": "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    }
    if headers["Access-Control-Allow-Origin"] != "*":
        headers["Access-Control-Allow-Credentials"] = "true"
    if rule.get("ExposeHeaders"):
        headers["Access-Control-Expose-Headers"] = ", ".join(rule["ExposeHeaders"])
    if rule.get("MaxAgeSeconds") is not None:
        headers["Access-Control-Max-Age"] = str(rule["MaxAgeSeconds"])
    return headers


# -- the app ------------------------------------------------------------------------------


def create_s3_app(settings: Mapping[str, Any] | AwsSettings, moto_url: str,
                  identity_app: flask.Flask | IdentityService) -> flask.Flask:
    """The S3 front for ``settings``' bucket; ``identity_app`` is the identity service
    (its Flask app or the service itself) whose issued keys it knows."""
    aws = parse_settings(settings)
    identity = service_of(identity_app)
    front = S3Front(aws, moto_url, identity)
    app = flask.Flask(__name__)
    app.extensions["fedlab_aws_s3"] = front
    app.register_blueprint(_control_blueprint(front))

    @app.route("/", defaults={"_path": ""}, methods=["GET", "HEAD", "PUT", "POST", "DELETE",
                                                      "OPTIONS"], provide_automatic_options=False)
    @app.route("/<path:_path>", methods=["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS"],
               provide_automatic_options=False)
    def handle(_path: str) -> flask.Response:
        request = flask.request
        bucket, key, raw_path = split_target(request, aws)
        operation = operation_of(request.method, bucket, key, request.args, request.headers)
        front.count(operation)
        try:
            front.check_faults()
            if operation == "PreflightRequest":
                return _preflight(front, bucket)
            response = _guarded(front, operation, bucket, key, raw_path)
        except S3Error as error:
            if operation == "PreflightRequest":
                return error.response(request.method)
            response = error.response(request.method)
        return _with_cors(front, bucket, response)

    @app.errorhandler(Exception)
    def internal(error: Exception) -> Any:
        if isinstance(error, HTTPException):
            return error
        # moto unreachable or a bug here: S3's own 500, the details in the log.
        log.exception("S3 front error")
        return S3Error("InternalError", "We encountered an internal error. Please try again.",
                       500).response(flask.request.method)

    return app


def _preflight(front: S3Front, bucket: str) -> flask.Response:
    request = flask.request
    origin = request.headers.get("Origin")
    method = request.headers.get("Access-Control-Request-Method")
    if not origin or not method:
        raise S3Error("BadRequest", "Insufficient information. Origin request header needed.",
                      400)
    rules = front.cors_rules(bucket)
    if not rules:
        raise S3Error("AccessForbidden", "CORSResponse: CORS is not enabled for this bucket.",
                      403, Method=method, ResourceType="OBJECT")
    requested = [h.strip() for h in request.headers.get("Access-Control-Request-Headers",
                                                         "").split(",") if h.strip()]
    rule = matching_rule(rules, origin, method, requested)
    if rule is None:
        raise S3Error("AccessForbidden", CORS_FORBIDDEN, 403, Method=method,
                      ResourceType="OBJECT")
    headers = cors_headers(rule, origin)
    if requested:
        headers["Access-Control-Allow-Headers"] = ", ".join(requested)
    return flask.Response(b"", status=200, headers=headers)


def _with_cors(front: S3Front, bucket: str, response: flask.Response) -> flask.Response:
    for name in [n for n, _ in response.headers.items()
                 if n.lower().startswith("access-control-")]:
        del response.headers[name]
    origin = flask.request.headers.get("Origin")
    if origin and bucket:
        rule = matching_rule(front.cors_rules(bucket), origin, flask.request.method, [])
        if rule is not None:
            response.headers.update(cors_headers(rule, origin))
    return response


def _guarded(front: S3Front, operation: str, bucket: str, key: str,
             raw_path: str) -> flask.Response:
    request = flask.request
    body = request.get_data(cache=True)
    form: dict[str, str] = {}
    upload_size = 0
    if operation == "PostObject":
        form = {k.lower(): v for k, v in request.form.items()}
        if "file" in request.files:
            upload = request.files["file"].read()
            upload_size = len(upload)
        else:
            upload_size = len(form.get("file", "").encode())
        key = form.get("key", "")
        if not key:
            raise S3Error("InvalidArgument", "Bucket POST must contain a field named 'key'.  "
                          "If it is specified, please check the order of the fields.", 400,
                          ArgumentName="key", ArgumentValue="")
    access_key = access_key_of(request, form)
    now = front.identity.now()
    if access_key != ADMIN_ACCESS_KEY_ID:
        check_signature_version(request, form)
        check_presigned_expiry(request.args, now)
        if operation == "PostObject":
            check_post_policy(form, bucket, upload_size, now)
        _authorize(front, operation, bucket, key, access_key, body)
    if operation in ("PutBucketCors", "DeleteBucketCors"):
        front.forget_cors(bucket)
    if operation == "ListObjectsV2":
        front.check_page_token(request.args.get("continuation-token"))
    response = _forward(front, raw_path, body)
    if 200 <= response.status_code < 300:
        if operation == "ListObjectsV2":
            front.remember_page_token(response.get_data())
        elif operation == "PostObject":
            front.add_bytes("received", upload_size)
            if response.status_code == 201 and not response.get_data():
                response = _post_response(bucket, key, response)
        elif operation in ("PutObject", "UploadPart"):
            decoded = request.headers.get("x-amz-decoded-content-length")
            front.add_bytes("received", int(decoded) if decoded else len(body))
        elif operation == "GetObject":
            front.add_bytes("served", len(response.get_data()))
    return response


def _authorize(front: S3Front, operation: str, bucket: str, key: str,
               access_key: str | None, body: bytes) -> None:
    if not access_key:
        raise S3Error("AccessDenied", "Access Denied")
    grant = front.identity.grant_for(access_key)
    if grant is None:
        raise S3Error("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist "
                      "in our records.", 403, AWSAccessKeyId=access_key)
    if front.identity.now() > grant.expiration:
        raise S3Error("ExpiredToken", "The provided token has expired.", 400)
    statements = front.role_statements(grant.role_name)
    variables = {iam.SUB_VARIABLE: grant.identity_id}
    checks: list[tuple[str, str, dict[str, str]]] = []
    bucket_arn = f"arn:aws:s3:::{bucket}"
    if operation in LIST_OPERATIONS:
        prefix = flask.request.args.get("prefix")
        checks.append(("s3:ListBucket", bucket_arn,
                       {"s3:prefix": prefix} if prefix is not None else {}))
    elif operation in OBJECT_ACTIONS:
        checks.append((OBJECT_ACTIONS[operation], f"{bucket_arn}/{key}", {}))
        if operation == "CopyObject":
            source = flask.request.headers["x-amz-copy-source"].lstrip("/").split("?")[0]
            checks.append(("s3:GetObject", f"arn:aws:s3:::{requests.utils.unquote(source)}",
                           {}))
    elif operation == "DeleteObjects":
        # All or nothing here (S3 answers per key); the site never sends this.
        for found in re.finditer(rb"<Key>(.*?)</Key>", body, flags=re.S):
            name = unescape(found.group(1).decode())
            checks.append(("s3:DeleteObject", f"{bucket_arn}/{name}", {}))
    else:
        checks.append((f"s3:{operation}", f"{bucket_arn}/{key}" if key else bucket_arn, {}))
    for action, resource, context in checks:
        # A guest of the enhanced flow also has AWS's scope-down session policy.
        scoped_out = grant.scoped_down and action.split(":")[0] not in SCOPE_DOWN_SERVICES
        if scoped_out or not iam.is_allowed(statements, action, resource, context, variables):
            raise access_denied(grant, action, resource)


def _post_response(bucket: str, key: str, stored: flask.Response) -> flask.Response:
    """S3's answer to ``success_action_status=201`` (moto sends an empty body)."""
    location = f"{flask.request.host_url}{bucket}/{quote(key)}"
    etag = stored.headers.get("ETag", "")
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse>'
            f"<Location>{escape(location)}</Location><Bucket>{escape(bucket)}</Bucket>"
            f"<Key>{escape(key)}</Key><ETag>{escape(etag)}</ETag></PostResponse>")
    response = flask.Response(body, status=201, content_type="application/xml")
    if etag:
        response.headers["ETag"] = etag
    response.headers["Location"] = location
    return response


def _forward(front: S3Front, raw_path: str, body: bytes) -> flask.Response:
    request = flask.request
    query = request.query_string.decode("latin-1")
    url = front.moto_url + raw_path + (f"?{query}" if query else "")
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    answer = requests.request(request.method, url, headers=headers, data=body,
                              allow_redirects=False, stream=True, timeout=60)
    content = answer.raw.read(decode_content=False)
    passed = [(k, v) for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP
              and k.lower() not in ("server", "date")]
    response = flask.Response(content, status=answer.status_code)
    for name, value in passed:
        response.headers[name] = value
    if request.method == "HEAD" and "Content-Length" in answer.headers:
        response.headers["Content-Length"] = answer.headers["Content-Length"]
    return response


def _control_blueprint(front: S3Front) -> flask.Blueprint:
    bp = flask.Blueprint("aws_s3_control", __name__, url_prefix="/_control")

    @bp.get("/calls")
    def calls() -> Any:
        return front.calls()

    @bp.delete("/calls")
    def clear_calls() -> Any:
        front.clear_calls()
        return {"cleared": True}

    @bp.get("/bytes")
    def byte_counts() -> Any:
        return front.byte_counts()

    @bp.post("/reset")
    def reset() -> Any:
        front.reset()
        return {"reset": True}

    @bp.post("/objects")
    def seed_objects() -> Any:
        """Write ``count`` one-byte objects named ``{prefix}file-00000.txt``... at once.

        Over HTTP, 10,000 uploads take a minute or more; moto runs in this
        process, so they go straight into its backend. For listings at scale
        (the storage tests and ``bench/run.py``), never for the app.
        """
        body = flask.request.get_json(silent=True) or {}
        prefix, count = body.get("prefix"), body.get("count")
        if not isinstance(prefix, str) or not isinstance(count, int) or not 0 < count <= 100_000:
            return {"error": "give a prefix (string) and a count (1 to 100000)"}, 400
        seed_objects_in_moto(front.settings.bucket, prefix, count)
        return {"bucket": front.settings.bucket, "prefix": prefix, "count": count}

    add_control_routes(bp, front.faults)

    return bp


def seed_objects_in_moto(bucket: str, prefix: str, count: int) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    for i in range(count):
        backend.put_object(bucket, f"{prefix}file-{i:05}.txt", b"x")
