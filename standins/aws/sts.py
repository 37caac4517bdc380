"""The STS front: ``AssumeRoleWithWebIdentity`` for Cognito Identity's tokens as STS
answers it (the basic flow's second step), everything else passed to moto's STS.

moto's STS assumes any role with any token. For a token of the identity service
(issuer ``https://cognito-identity.amazonaws.com``), this front first does what
STS does: the token's signature against the service's published key, its
``aud`` (the pool) and expiry, then the role's trust policy (an Allow for the
``cognito-identity.amazonaws.com`` federated principal whose ``aud`` and
``amr`` conditions name this pool and this kind of identity). Then moto issues
the credentials, and the grant is registered with the identity service so the
S3 front knows whose they are. Basic-flow grants carry no scope-down policy
(the enhanced flow adds one for guests); their role's policy is all there is.

Errors are STS's (Query protocol XML): ``InvalidIdentityToken``,
``ExpiredTokenException``, ``AccessDenied`` ("Not authorized to perform
sts:AssumeRoleWithWebIdentity").
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape

import flask
import requests

from .identity import (
    OPENID_ISSUER,
    Grant,
    IdentityService,
    iam_trust_policy,
    role_name,
    service_of,
    trust_allows,
)
from .settings import AwsSettings, admin_client, parse_settings
from .tokens import NOT_SIGNED, WRONG_AUDIENCE

log = logging.getLogger(__name__)

STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
              "host", "content-length", "server", "date"}
NOT_AUTHORIZED = "Not authorized to perform sts:AssumeRoleWithWebIdentity"
DEFAULT_DURATION = 3600
ACCESS_KEY = re.compile(rb"<AccessKeyId>([^<]+)</AccessKeyId>")


class StsError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status

    def response(self) -> flask.Response:
        body = (f'<ErrorResponse xmlns="{STS_NAMESPACE}"><Error><Type>Sender</Type>'
                f"<Code>{self.code}</Code><Message>{escape(self.message)}</Message></Error>"
                f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>")
        return flask.Response(body, status=self.status, content_type="text/xml")


class StsFront:
    def __init__(self, settings: AwsSettings, moto_url: str, identity: IdentityService) -> None:
        self.settings = settings
        self.moto_url = moto_url.rstrip("/")
        self.identity = identity
        self._iam = admin_client("iam", settings, moto_url)

    def check_web_identity(self, form: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
        """STS's checks of a Cognito Identity token for ``RoleArn``; returns the role's
        name and the token's claims."""
        token = form.get("WebIdentityToken", "")
        issuer = self.identity.unverified_issuer(token)
        if issuer != OPENID_ISSUER:
            raise StsError("InvalidIdentityToken", f"No OpenIDConnect provider found in your "
                           f"account for {issuer or 'the token'}")
        claims = self.identity.openid_claims(token)
        if claims is None:
            raise StsError("InvalidIdentityToken", NOT_SIGNED.removeprefix("Invalid login "
                                                                           "token. "))
        if claims.get("aud") != self.settings.identity_pool_id:
            raise StsError("InvalidIdentityToken", WRONG_AUDIENCE.removeprefix(
                "Invalid login token. "))
        now = int(self.identity.now())
        if not isinstance(claims.get("exp"), int) or now >= claims["exp"]:
            raise StsError("ExpiredTokenException", f"Token expired: current date/time {now} "
                           f"must be before the expiration date/time {claims.get('exp')}")
        role_arn = form.get("RoleArn", "")
        amr = "authenticated" if "authenticated" in (claims.get("amr") or []) \
            else "unauthenticated"
        document = iam_trust_policy(self._iam, role_arn)
        if document is None:  # no such role in this account (nor at that path)
            raise StsError("AccessDenied", NOT_AUTHORIZED, 403)
        if isinstance(document, str):
            document = json.loads(document)
        if not trust_allows(document, str(claims["aud"]), amr):
            raise StsError("AccessDenied", NOT_AUTHORIZED, 403)
        return role_name(role_arn), claims

    def register(self, answer: bytes, role: str, role_arn: str, claims: Mapping[str, Any],
                 duration: int) -> None:
        """Tell the identity service whose the credentials moto issued are."""
        key = ACCESS_KEY.search(answer)  # moto's own answer: no XML parser needed
        if key is None:
            return
        self.identity.register(Grant(
            key.group(1).decode(), str(claims["sub"]), role, role_arn,
            authenticated="authenticated" in (claims.get("amr") or []),
            expiration=int(self.identity.now()) + duration, scoped_down=False))


def create_sts_app(settings: Mapping[str, Any] | AwsSettings, moto_url: str,
                   identity_app: flask.Flask | IdentityService) -> flask.Flask:
    """The STS front; ``identity_app`` is the identity service whose tokens it checks
    and to which it reports the credentials it issues."""
    aws = parse_settings(settings)
    identity = service_of(identity_app)
    front = StsFront(aws, moto_url, identity)
    app = flask.Flask(__name__)
    app.extensions["fedlab_aws_sts"] = front

    @app.route("/", methods=["GET", "POST"])
    def handle() -> flask.Response:
        request = flask.request
        body = request.get_data()
        form = {**request.args, **request.form}
        if form.get("Action") != "AssumeRoleWithWebIdentity":
            return _forward(front, body)
        try:
            role, claims = front.check_web_identity(form)
        except StsError as error:
            return error.response()
        response = _forward(front, body)
        if response.status_code == 200:
            duration = int(form.get("DurationSeconds") or DEFAULT_DURATION)
            front.register(response.get_data(), role, form["RoleArn"], claims, duration)
        return response

    return app


def _forward(front: StsFront, body: bytes) -> flask.Response:
    request = flask.request
    query = request.query_string.decode("latin-1")
    url = front.moto_url + request.path + (f"?{query}" if query else "")
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    answer = requests.request(request.method, url, headers=headers, data=body, timeout=30)
    response = flask.Response(answer.content, status=answer.status_code)
    for name, value in answer.headers.items():
        if name.lower() not in HOP_BY_HOP:
            response.headers[name] = value
    return response
