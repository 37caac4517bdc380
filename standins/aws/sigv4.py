"""Signature Version 4, checked as AWS's front door checks a signed JSON call.

The signature is recomputed with botocore's own signer from what the request
carries (method, path, query, the headers it says it signed, the body) and
the secret of its access key; then compared in constant time. AWS's answers,
in the order it gives them: no ``Authorization`` header, a malformed one, an
unknown key, a credential scope for another region or service, a date more
than 15 minutes from the service's clock, a ``host`` header left out of the
signed headers, a signature that does not match.

The payload's hash in the canonical request is the body's own. botocore's
signer takes a signed ``X-Amz-Content-SHA256`` header's word for it (S3's
signed-payload option); a JSON service computes it from the body, so a header
that differs from the body's SHA-256 cannot match the signature (AWS's
``InvalidSignatureException``; S3's ``XAmzContentSHA256Mismatch`` is S3's alone).
Otherwise a captured request could be sent again with another body for as long
as its date is current.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ALGORITHM = "AWS4-HMAC-SHA256"
AMZ_DATE = "%Y%m%dT%H%M%SZ"
#: How far a request's X-Amz-Date may be from the service's clock.
SKEW_SECONDS = 15 * 60
AUTHORIZATION = re.compile(
    rf"{ALGORITHM} Credential=(?P<key>[^/,\s]+)/(?P<date>\d{{8}})/(?P<region>[^/,\s]+)/"
    r"(?P<service>[^/,\s]+)/aws4_request,\s*SignedHeaders=(?P<headers>[a-z0-9;-]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})")

HOST_NOT_SIGNED = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
NO_MATCH = ("The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service "
            "documentation for details.")


class SignatureRefused(Exception):
    """A request AWS would refuse before looking at it; ``code``, ``status`` and
    ``str()`` are AWS's."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.status = code, status


@dataclass(frozen=True)
class Signed:
    """Who signed a request that verified."""

    access_key_id: str


def verify(method: str, path: str, query: str, headers: Mapping[str, str], body: bytes, *,
           service: str, region: str, secret_of: Callable[[str], str | None],
           now: float) -> Signed:
    """Check the request's SigV4 signature; raise :class:`SignatureRefused` as AWS would."""
    header = headers.get("Authorization")
    if not header:
        raise SignatureRefused("MissingAuthenticationTokenException",
                               "Missing Authentication Token", 403)
    found = AUTHORIZATION.fullmatch(header.strip())
    if found is None:
        raise SignatureRefused("IncompleteSignatureException",
                               f"Authorization header requires 'Credential', 'Signature' and "
                               f"'SignedHeaders' parameters of a {ALGORITHM} signature. "
                               f"Authorization={header.split(' ', 1)[0]}")
    amz_date = headers.get("X-Amz-Date", "")
    try:
        signed_at = datetime.strptime(amz_date, AMZ_DATE).replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise SignatureRefused("IncompleteSignatureException",
                               "Authorization header requires existence of either a "
                               "'X-Amz-Date' or a 'Date' header.") from None
    secret = secret_of(found["key"])
    # Every key this stand-in accepts is a long-term one (an IAM user's, the admin's),
    # and AWS refuses a session token beside a long-term key as it refuses an unknown
    # key: a request that carries one was signed with someone else's token.
    if secret is None or "X-Amz-Security-Token" in headers:
        raise SignatureRefused("UnrecognizedClientException",
                               "The security token included in the request is invalid.")
    if found["service"] != service:
        raise SignatureRefused("InvalidSignatureException",
                               f"Credential should be scoped to correct service: '{service}'. ")
    if found["region"] != region:
        raise SignatureRefused("InvalidSignatureException",
                               "Credential should be scoped to a valid region. ")
    if found["date"] != amz_date[:8]:
        raise SignatureRefused("InvalidSignatureException",
                               f"Date in Credential scope does not match YYYYMMDD from "
                               f"ISO-8601 version of date from HTTP: '{found['date']}' != "
                               f"'{amz_date[:8]}', from '{amz_date}'.")
    _check_time(amz_date, signed_at, now)
    names = found["headers"].split(";")
    if "host" not in names:
        raise SignatureRefused("InvalidSignatureException", HOST_NOT_SIGNED)
    claimed = headers.get("X-Amz-Content-SHA256")
    if claimed is not None and claimed != hashlib.sha256(body).hexdigest():
        raise SignatureRefused("InvalidSignatureException", NO_MATCH)
    signed = {name: headers.get(name, "") for name in names}
    request = AWSRequest(method=method, url=f"http://{signed.get('host', '')}{path}"
                         + (f"?{query}" if query else ""), data=body, headers=signed)
    request.context["timestamp"] = amz_date
    signer = SigV4Auth(Credentials(found["key"], secret), service, region)
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, found["signature"]):
        raise SignatureRefused("InvalidSignatureException", NO_MATCH)
    return Signed(found["key"])


def _check_time(amz_date: str, signed_at: float, now: float) -> None:
    def stamp(seconds: float) -> str:
        return datetime.fromtimestamp(seconds, UTC).strftime(AMZ_DATE)

    if signed_at < now - SKEW_SECONDS:
        raise SignatureRefused("InvalidSignatureException",
                               f"Signature expired: {amz_date} is now earlier than "
                               f"{stamp(now - SKEW_SECONDS)} ({stamp(now)} - 15 min.)")
    if signed_at > now + SKEW_SECONDS:
        raise SignatureRefused("InvalidSignatureException",
                               f"Signature not yet current: {amz_date} is still later than "
                               f"{stamp(now + SKEW_SECONDS)} ({stamp(now)} + 15 min.)")
