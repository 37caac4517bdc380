"""The file store (``session.type = "files"``), seen on disk: what it reads,
what anonymous visitors leave there, and how expired records go."""

from __future__ import annotations

import hashlib
import logging
import os
import pathlib
import pickle
import struct
from concurrent.futures import ThreadPoolExecutor
from http.cookies import SimpleCookie
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from webapp import session_files

from .conftest import make_app
from .flows import sign_in, wait_until

ANONYMOUS_PAGES = ("/", "/diagnostics", "/auth/google/login")


def session_files_in(folder: pathlib.Path) -> set[pathlib.Path]:
    """The records in ``folder`` (the refresh locks' files, and temporary files
    mid-write, are named with a leading dot)."""
    return ({p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")}
            if folder.exists() else set())


def record_path(folder: pathlib.Path, sid: str, prefix: str = "fedlab:session:") -> pathlib.Path:
    """Where the file store keeps the session ``sid`` (its store id's hash)."""
    name = hashlib.sha256(f"{prefix}{sid}".encode()).hexdigest()
    return folder / name[:2] / name


def cookie_of(response, name: str) -> str:
    cookie = SimpleCookie()
    for header in response.headers.getlist("Set-Cookie"):
        cookie.load(header)
    return cookie[name].value


class Planted:
    """A pickle that, if anything ever unpickles it, creates ``marker``."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


@pytest.fixture
def file_app(live_app, config_dir, tmp_path):
    """An app of its own on the file store (the stand-ins answer its sign-ins)."""
    return make_app(config_dir, tmp_path)


#: How cachelib (the file store before) framed a record: a 4-byte expiry (0: never),
#: then a pickle. A planted file may come either way.
FRAMES = {"bare": b"", "cachelib": struct.pack("I", 0)}


@pytest.mark.parametrize("frame", FRAMES)
def test_a_planted_pickle_is_never_unpickled(file_app, tmp_path, caplog, frame):
    folder = tmp_path / "sessions"
    client = file_app.test_client()
    client.get("/auth/google/login")  # a pending sign-in: one record, and its cookie
    [record] = session_files_in(folder)
    marker = tmp_path / "the-planted-code-ran"
    # An attacker who can write the folder replaces the record, keeping its times.
    times = record.stat()
    payload = pickle.dumps(Planted(marker))
    record.write_bytes(FRAMES[frame] + payload)
    os.utime(record, ns=(times.st_atime_ns, times.st_mtime_ns))
    pickle.loads(payload)  # noqa: S301 - the trap works: unpickling runs it
    assert marker.exists()
    marker.unlink()

    with caplog.at_level(logging.WARNING):
        page = client.get("/account")
    assert not marker.exists()
    assert page.status_code == 401 and 'data-guided="sign_in"' in page.text
    assert 'data-state="signed_out"' in page.text  # the session is gone, not a guest's
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("did not decrypt" in w for w in warnings)
    cookie = client.get_cookie(file_app.config["SESSION_COOKIE_NAME"]).value
    assert all(cookie not in w for w in warnings)


def test_anonymous_visitors_leave_a_bounded_number_of_files_and_expired_ones_go(
        file_app, tmp_path, monkeypatch):
    folder = tmp_path / "sessions"
    client = file_app.test_client(use_cookies=False)  # every request a new visitor
    for index in range(2000):
        assert client.get(ANONYMOUS_PAGES[index % 2]).status_code == 200
    assert session_files_in(folder) == set()  # the home page and diagnostics store nothing
    for _ in range(1000):
        assert client.get("/auth/google/login").status_code == 302
    pending = session_files_in(folder)
    assert len(pending) == 1000  # one per sign-in under way, each for its lifetime only

    # One more sign-in under way, and its cookie.
    before = session_files_in(folder)
    started = client.get("/auth/google/login")
    [record] = session_files_in(folder) - before
    cookie = cookie_of(started, file_app.config["SESSION_COOKIE_NAME"])

    # The pending lifetime (600 s) passes.
    real_now = session_files.now
    monkeypatch.setattr(session_files, "now", lambda: real_now() + 601)
    # Its visitor comes back: the record is expired, so deleted and no sign-in is found.
    state = parse_qs(urlsplit(started.headers["Location"]).query)["state"][0]
    back = client.get(f"/auth/google/callback?state={state}&code=any",
                      headers={"Cookie": f"fedlab={cookie}"})
    assert 'data-error="state_mismatch"' in back.text
    assert not record.exists()
    # New visitors' sign-ins sweep the folder as they go: the expired records go.
    swept = 0
    while pending & session_files_in(folder):
        assert swept < 1000, "expired records still there after 1000 new ones"
        client.get("/auth/google/login")
        swept += 1
    assert len(session_files_in(folder)) == swept


def test_a_request_in_flight_at_sign_out_does_not_bring_the_file_back(
        browser, app_url, control, swap_app, tmp_path):
    """The file store's side of "an ended id stays ended": a slow userinfo
    request that read the session before sign-out ends after it."""
    swap_app()
    folder = tmp_path / "sessions"
    page = sign_in(browser, app_url, "auth0")
    sid = browser.http.cookies["fedlab"]
    form = {"csrf_token": browser.csrf(page)}
    # Beside it, the session's entries in the index of sessions (webapp.session_index).
    record = record_path(folder, sid)
    assert record in session_files_in(folder)
    control("DELETE", "calls")
    control("POST", "faults", tenant="auth0", fault="slow", endpoint="userinfo", seconds=1.5)
    control("POST", "faults", tenant="auth0", fault="down", endpoint="revoke")  # token stays good
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(requests.post, f"{app_url}/account/userinfo", data=form,
                           cookies={"fedlab": sid}, allow_redirects=False, timeout=30)
        # until the slow request has read the session and is waiting
        wait_until(lambda: control("GET", "calls").get("auth0", {}).get("userinfo"))
        browser.post(f"{app_url}/auth/signout", data=form)
        assert not record.exists()
        assert slow.result().status_code == 302
    assert not record.exists()
    replay = requests.get(f"{app_url}/account", cookies={"fedlab": sid}, timeout=10)
    assert replay.status_code == 401 and 'data-guided="sign_in"' in replay.text
    assert 'data-state="signed_out"' in replay.text  # the session is gone, not a guest's


def test_a_refresh_in_flight_at_sign_out_is_not_kept_under_any_id(
        browser, app_url, control, swap_app, tmp_path):
    """A refresh writes its result before its response ends; when the visitor
    signed out meanwhile, neither that write nor the final one may store the
    session again, under the old id or a new one."""
    swap_app()
    folder = tmp_path / "sessions"
    page = sign_in(browser, app_url, "auth0")
    sid = browser.http.cookies["fedlab"]
    form = {"csrf_token": browser.csrf(page)}
    # What stays after sign-out: the session's entries in the index of sessions (its
    # person's, and its provider session's when the id token names one), no session.
    index_entries = session_files_in(folder) - {record_path(folder, sid)}
    assert 1 <= len(index_entries) <= 2
    control("DELETE", "calls")
    control("POST", "faults", tenant="auth0", fault="slow", endpoint="token", seconds=1.5)
    control("POST", "faults", tenant="auth0", fault="down", endpoint="revoke")  # token stays good
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(requests.post, f"{app_url}/auth/refresh", data=form,
                           cookies={"fedlab": sid}, allow_redirects=False, timeout=30)
        wait_until(lambda: control("GET", "calls").get("auth0", {}).get("token"))  # at it
        browser.post(f"{app_url}/auth/signout", data=form)
        after_sign_out = session_files_in(folder)
        # Auth0 sent a logout token as the visitor signed out there: its jti is kept
        # once (webapp.backchannel), and the ending it asked for left its mark
        # (webapp.session_index), beside the index entries; no session is.
        assert len(after_sign_out - index_entries) <= 2
        assert record_path(folder, sid) not in after_sign_out
        refreshed = slow.result()
    assert refreshed.status_code == 302
    assert session_files_in(folder) == after_sign_out
    assert not refreshed.cookies.get("fedlab")  # no new id handed out either
