"""Tokens at rest: a dump of the session store yields no usable token."""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import secrets

import pytest
import redis
import requests

from .conftest import PROVIDERS
from .flows import sign_in
from .test_sessions import session_cookie

OTHER_KEY = "another-encryption-key-" + "k" * 20


def secret_values(data: dict) -> list[str]:
    """Every token and AWS secret the session holds."""
    tokens = data["auth"]["tokens"]
    found = [tokens[n] for n in ("access_token", "id_token", "refresh_token") if tokens.get(n)]
    if data.get("aws"):  # both are always there: a renamed field must fail here, not hide
        credentials = data["aws"]["credentials"]
        found += [credentials[n] for n in ("secret_key", "session_token")]
    return found


def readings(value: bytes) -> list[bytes]:
    """The value as stored, and as base64 (either alphabet) decodes it."""
    out = [value]
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        with contextlib.suppress(binascii.Error, ValueError):
            out.append(decode(value + b"=" * (-len(value) % 4)))
    return out


def redis_dump(url: str) -> dict[bytes, bytes]:
    client = redis.Redis.from_url(url)
    dump = {}
    for key in client.scan_iter(count=500):
        value = client.get(key) if client.type(key) == b"string" else None
        dump[key] = value if value is not None else (client.dump(key) or b"")
    return dump


@pytest.fixture
def redis_app(swap_app, redis_url):
    """An app on Redis, under a key prefix of this test's own (the database may be shared)."""
    prefix = f"fedlab-test-{secrets.token_hex(4)}:"
    return lambda **session: swap_app(session={"type": "redis", "redis_url": redis_url,
                                               "key_prefix": prefix, **session})


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_redis_dump_holds_no_token(browser, app_url, control, aws_control, redis_app,
                                     redis_url, provider):
    app = redis_app()
    sign_in(browser, app_url, provider)
    assert browser.get(f"{app_url}/credentials").status_code == 200
    data = app.session_interface.read(session_cookie(browser).value)
    values = secret_values(data)
    assert len(values) >= 3, data  # the AWS secrets are in the session too
    dump = redis_dump(redis_url)
    ours = app.session_interface.key_prefix.encode()
    assert any(key.startswith(ours) for key in dump)
    for key, value in dump.items():
        for reading in readings(value):
            for secret in values:
                assert secret.encode() not in reading
                # Not even one JWT segment (the claims) or its bytes.
                for part in secret.split("."):
                    if len(part) > 16:
                        assert part.encode() not in reading
            if key.startswith(ours):  # a subject is the same in every test's sign-in
                assert data["auth"]["sub"].encode() not in reading


def test_the_session_folder_holds_no_token(browser, app_url, control, swap_app, tmp_path):
    app = swap_app()
    sign_in(browser, app_url, "auth0")
    values = secret_values(app.session_interface.read(session_cookie(browser).value))
    files = [p for p in (tmp_path / "sessions").rglob("*") if p.is_file()]
    assert files
    for path in files:
        for reading in readings(path.read_bytes()):
            for secret in values:
                assert secret.encode() not in reading


def test_another_key_cannot_read_the_session(browser, app_url, control, redis_app, caplog):
    redis_app()
    sign_in(browser, app_url, "google")
    sid = session_cookie(browser).value
    assert browser.get(f"{app_url}/account").status_code == 200
    redis_app(encryption_key=OTHER_KEY)
    with caplog.at_level(logging.WARNING, logger="webapp.session_store"):
        page = browser.get(f"{app_url}/account")
    assert page.status_code == 401 and 'data-guided="sign_in"' in page.text
    assert 'data-state="signed_out"' in page.text  # the session is gone, not a guest's
    warnings = [r for r in caplog.records if r.name == "webapp.session_store"]
    assert warnings and warnings[0].levelno == logging.WARNING
    assert all(sid not in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("change", ["tamper", "copy"])
def test_an_altered_or_moved_record_is_refused(browser, app_url, control, redis_app, redis_url,
                                               change):
    app = redis_app()
    sign_in(browser, app_url, "google")
    sid = session_cookie(browser).value
    client = redis.Redis.from_url(redis_url)
    key = app.session_interface.key_prefix + sid
    record = client.get(key)
    assert app.session_interface.read(sid)["auth"]
    if change == "tamper":
        altered = bytearray(record)
        altered[len(altered) // 2] ^= 1
        client.set(key, bytes(altered))
        cookie = sid
    else:
        # The whole record, valid under this key, copied under an id the attacker chose.
        cookie = secrets.token_urlsafe(32)
        client.set(app.session_interface.key_prefix + cookie, record)
    assert app.session_interface.read(cookie) is None
    page = requests.get(f"{app_url}/account", cookies={"fedlab": cookie}, timeout=5)
    assert page.status_code == 401


def test_the_live_checks_shared_result_holds_no_token(browser, app_url, control, aws_control,
                                                      redis_app, redis_url):
    """The operator's run sends their own id token to the identity pool (GetId); the
    result every instance shares (``probes:last``, plain JSON in Redis) keeps what
    AWS said of it, never the token."""
    app = redis_app()
    assert sign_in(browser, app_url, "cognito").url == f"{app_url}/account"
    page = browser.click(browser.get(f"{app_url}/diagnostics"), "Run live checks")
    assert "data-probe-run-at=" in page.text
    values = secret_values(app.session_interface.read(session_cookie(browser).value))
    prefix = app.session_interface.key_prefix
    store = redis.Redis.from_url(redis_url)
    shared = [store.get(f"{prefix}probes:{name}") for name in ("last", "running")]
    assert shared[0], "no shared result"
    for value in filter(None, shared):
        for reading in readings(value):
            for secret in values:
                assert not [part for part in secret.split(".")
                            if len(part) > 16 and part.encode() in reading]
