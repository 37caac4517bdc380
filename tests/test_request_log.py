"""The stand-ins' request logs (what ``make demo`` prints) hide query values:
the end-session redirect's id token and presigned URLs' AWS credentials."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from standins.requestlog import redact_query

from .flows import sign_in
from .test_sessions import session_cookie, stored_session
from .test_storage import upload


@pytest.mark.parametrize(("path", "logged"), [
    ("/auth0/oidc/logout?id_token_hint=eyJ.x.y&post_logout_redirect_uri=http%3A%2F%2Fa%2F",
     "/auth0/oidc/logout?id_token_hint=*&post_logout_redirect_uri=*"),
    ("/graph/v19.0/me?access_token=EAAB&appsecret_proof=ab12", "/graph/v19.0/me?"
     "access_token=*&appsecret_proof=*"),
    ("/bucket/key.txt", "/bucket/key.txt"),
    ("/bucket?uploads", "/bucket?uploads=*"),
])
def test_query_values_are_hidden(path, logged):
    assert redact_query(path) == logged


def request_log(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name == "werkzeug")


def test_the_end_session_redirect_logs_no_id_token(browser, app_url, standins_url, control,
                                                   live_app, caplog):
    sign_in(browser, app_url, "auth0")
    id_token = stored_session(live_app, session_cookie(browser).value)["auth"]["tokens"][
        "id_token"]
    caplog.set_level("INFO", logger="werkzeug")
    answer = requests.get(f"{standins_url}/auth0/oidc/logout", allow_redirects=False,
                          params={"id_token_hint": id_token,
                                  "post_logout_redirect_uri": f"{app_url}/"}, timeout=5)
    assert answer.status_code < 500
    logged = request_log(caplog)
    assert "/auth0/oidc/logout?id_token_hint=*" in logged
    assert id_token not in logged and id_token.split(".")[1] not in logged


def test_presigned_urls_log_no_aws_credentials(browser, app_url, control, aws_control, caplog):
    sign_in(browser, app_url, "google")
    _, body, stored = upload(browser, app_url, "private")
    assert stored.status_code in (200, 201, 204)
    download = browser.get(f"{app_url}/storage/private/download", params={"key": body["key"]},
                           allow_redirects=False)
    url = download.headers["Location"]
    # SigV4 (X-Amz-Signature, X-Amz-Credential) or SigV2 (Signature, AWSAccessKeyId).
    secrets = {k: v for k, v in parse_qsl(urlsplit(url).query)
               if k.lower() in ("x-amz-security-token", "x-amz-signature", "x-amz-credential",
                                "signature", "awsaccesskeyid")}
    assert len(secrets) == 3, sorted(secrets)
    caplog.set_level("INFO", logger="werkzeug")
    assert requests.get(url, timeout=10).status_code == 200
    logged = request_log(caplog)
    # Both the S3 front and moto behind it logged the request, without the values.
    assert logged.lower().count("x-amz-security-token=*") == 2, logged
    leaked = [name for name, value in secrets.items() if value in logged]
    assert not leaked, leaked
