"""The index of sessions by person and by provider session, kept in the session store.

Observed from outside: the store's keys and what they hold, and each browser's
next page after the sessions of a person were ended.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from webapp import sessions
from webapp.config import settings

from .browser import Browser
from .flows import sign_in
from .test_sessions import session_cookie

PREFIX = "fedlab-index-test:"


def signed_in(app, app_url: str, provider: str, user: str) -> tuple[Browser, str]:
    browser = Browser()
    page = sign_in(browser, app_url, provider, user)
    assert page.url == f"{app_url}/account", page.text[:300]
    return browser, session_cookie(browser).value


def end_sessions_of(app, iss: str, sub: str | None = None,
                    provider_sid: str | None = None) -> int:
    with app.test_request_context("/"):
        return sessions.end_sessions_of(iss, sub, provider_sid)


def person_of(app, sid: str) -> tuple[str, str]:
    auth = app.session_interface.read(sid)["auth"]
    return auth["iss"], auth["sub"]


@pytest.fixture
def redis_app(swap_app, redis_url, control):
    import redis

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{PREFIX}*"):
        client.delete(key)
    app = swap_app(session={"type": "redis", "redis_url": redis_url, "key_prefix": PREFIX})
    yield app, client
    for key in client.scan_iter(f"{PREFIX}*"):
        client.delete(key)


def test_each_sign_in_is_listed_under_its_person_sealed(redis_app, app_url):
    app, client = redis_app
    _, first = signed_in(app, app_url, "cognito", "alice")
    _, second = signed_in(app, app_url, "cognito", "alice")
    iss, sub = person_of(app, first)
    entries = [k.decode() for k in client.scan_iter(f"{PREFIX}index:person:*")]
    assert len(entries) == 1, entries
    record = client.get(entries[0])
    # Sealed: neither the person nor the sessions' ids are readable in the store,
    # and the entry's name is a hash.
    for clear in (iss, sub, first, second, "alice"):
        assert clear.encode() not in record
        assert clear not in entries[0]
    assert entries[0].endswith(hashlib.sha256(f"person\0{iss}\0{sub}".encode()).hexdigest())
    # It lives as long as its newest session may, and no longer.
    assert 0 < client.ttl(entries[0]) <= settings(app).session.absolute_timeout


def test_ending_a_persons_sessions_signs_out_every_browser_and_no_one_else(redis_app,
                                                                           app_url):
    app, client = redis_app
    alice_one, sid_one = signed_in(app, app_url, "cognito", "alice")
    alice_two, sid_two = signed_in(app, app_url, "cognito", "alice")
    bob, sid_bob = signed_in(app, app_url, "cognito", "bob")
    iss, sub = person_of(app, sid_one)

    assert end_sessions_of(app, iss, sub) == 2

    for key in (sid_one, sid_two):
        assert not client.exists(PREFIX + key)
    assert client.exists(PREFIX + sid_bob)
    for browser in (alice_one, alice_two):
        assert browser.get(f"{app_url}/account").status_code == 401
    assert bob.get(f"{app_url}/account").status_code == 200
    # Ended ones count no more.
    assert end_sessions_of(app, iss, sub) == 0


def test_the_file_store_keeps_the_index_too(app, app_url, control, tmp_path):
    _, first = signed_in(app, app_url, "auth0", "alice")
    browser_two, second = signed_in(app, app_url, "auth0", "alice")
    iss, sub = person_of(app, first)
    assert end_sessions_of(app, iss, sub) >= 2
    assert app.session_interface.read(first) is None
    assert app.session_interface.read(second) is None
    assert browser_two.get(f"{app_url}/account").status_code == 401


def test_a_sign_in_whose_index_entry_cannot_be_written_keeps_no_session(redis_app, app_url):
    """Another process holds the person's index entry (its lock, in Redis) past the
    wait: the sign-in ends on the store's page, and no session is left that a sign-out
    everywhere would not find."""
    app, client = redis_app
    _, first = signed_in(app, app_url, "cognito", "alice")
    iss, sub = person_of(app, first)
    digest = hashlib.sha256(f"person\0{iss}\0{sub}".encode()).hexdigest()
    client.set(f"{PREFIX}index:person:{digest}:lock", "someone else", px=30_000)
    sessions_before = {k for k in client.scan_iter(f"{PREFIX}*") if b":" not in k[len(PREFIX):]}

    browser = Browser()
    page = sign_in(browser, app_url, "cognito", "alice")

    assert page.status_code == 503 and "The session store is not answering" in page.text
    sessions_after = {k for k in client.scan_iter(f"{PREFIX}*") if b":" not in k[len(PREFIX):]}
    assert sessions_after <= sessions_before
    assert browser.get(f"{app_url}/account").status_code == 401


def test_a_sign_in_listed_while_its_person_signs_out_everywhere_is_ended(redis_app, app_url,
                                                                        control):
    """A sign-in has stored its session and waits to list it (another holds the
    person's index entry); meanwhile the person signs out everywhere, which reads
    the entry without it. Once listed, the sign-in sees that it was ended meanwhile
    and keeps no session."""
    from concurrent.futures import ThreadPoolExecutor

    from .flows import stop_at_callback, wait_until

    app, client = redis_app
    first, sid = signed_in(app, app_url, "cognito", "alice")
    iss, sub = person_of(app, sid)
    digest = hashlib.sha256(f"person\0{iss}\0{sub}".encode()).hexdigest()

    def sessions_in_store() -> set[bytes]:
        return {k for k in client.scan_iter(f"{PREFIX}*") if b":" not in k[len(PREFIX):]}

    racing = Browser()
    callback = stop_at_callback(racing, app_url, "cognito")
    before = sessions_in_store()
    client.set(f"{PREFIX}index:person:{digest}:lock", "someone else", px=3000)
    with ThreadPoolExecutor(1) as pool:
        landing = pool.submit(racing.get, callback)
        # Until the racing sign-in has stored its session (it then waits on the lock).
        wait_until(lambda: len(sessions_in_store() - before) > 0)
        page = first.get(f"{app_url}/account")
        done = first.post(f"{app_url}/auth/signout-everywhere",
                          data={"csrf_token": first.csrf(page)})
        assert "Signed out everywhere: 1 session" in done.text
        assert landing.result().status_code == 401
    assert sessions_in_store() <= before
    assert racing.get(f"{app_url}/account").status_code == 401



def commands_seen(client, during: Callable[[], Any],
                  about: Callable[[str], bool]) -> list[tuple[str, list[str]]]:
    """The commands Redis ran on ``client``'s database while ``during`` ran (its
    MONITOR stream) whose text ``about`` picks: each with who sent it ("lua" for a
    script's own), as an outsider watching the store sees them."""
    db = client.connection_pool.connection_kwargs.get("db", 0)
    seen: list[tuple[str, list[str]]] = []
    ready, stop = threading.Event(), threading.Event()

    def watch() -> None:
        with client.monitor() as monitor:
            ready.set()
            while not stop.is_set():
                sent = monitor.next_command()
                if sent["db"] == db and about(sent["command"]):
                    seen.append((sent["client_type"], sent["command"].split()))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    ready.wait(5)
    try:
        during()
    finally:
        stop.set()
        client.ping()  # one more command wakes the watcher
        watcher.join(5)
    return seen


def test_each_index_entry_is_rewritten_in_two_round_trips_under_its_lock(redis_app, app_url):
    """What Redis sees of the index during a sign-in: for each entry, the lock taken
    and the entry read (one pipeline), then the entry written and the lock released
    by one script, which writes only while the lock is still the sign-in's own; then
    the ending marks, read together."""
    app, client = redis_app
    signed_in(app, app_url, "cognito", "alice")  # the entry exists: it is rewritten
    seen = commands_seen(client, lambda: signed_in(app, app_url, "cognito", "alice"),
                         lambda command: "index:" in command)
    sent = [command for by, command in seen if by != "lua"]
    by_script = [command for by, command in seen if by == "lua"]
    entry = next(command[1] for command in sent if command[0] == "GET")
    assert [command[0] for command in sent] == ["SET", "GET", "EVAL", "MGET"], seen
    assert sent[0][1] == f"{entry}:lock" and "NX" in sent[0]
    assert [command[:2] for command in by_script] == [
        ["get", f"{entry}:lock"], ["set", entry], ["del", f"{entry}:lock"]], seen


def test_a_sign_in_takes_every_entry_lock_before_writing_any(redis_app, app_url):
    """A sign-in listed under its person and its provider session (Auth0's id token
    names a ``sid``): both locks are taken and both entries read first (one
    pipeline), then both written and released and the ending marks read (the
    next): two round trips for the whole index, where each entry took two and the
    marks one more."""
    app, client = redis_app
    signed_in(app, app_url, "auth0", "alice")
    seen = commands_seen(client, lambda: signed_in(app, app_url, "auth0", "alice"),
                         lambda command: "index:" in command)
    sent = [command for by, command in seen if by != "lua"]
    assert [command[0] for command in sent] == ["SET", "GET", "SET", "GET", "EVAL", "EVAL",
                                                "MGET"], seen
    person, provider_session = sent[1][1], sent[3][1]
    assert ":index:person:" in person and ":index:sid:" in provider_session
    assert sent[0][1] == f"{person}:lock" and sent[2][1] == f"{provider_session}:lock"
    assert sent[6][1:] == [f"{person}:ended", f"{provider_session}:ended"]
    by_script = [command[:2] for by, command in seen if by == "lua"]
    assert by_script == [["get", f"{person}:lock"], ["set", person], ["del", f"{person}:lock"],
                         ["get", f"{provider_session}:lock"], ["set", provider_session],
                         ["del", f"{provider_session}:lock"]], seen


def test_a_sign_in_holds_no_entry_lock_while_it_waits_for_another(redis_app, app_url):
    """Another writer holds the provider session's entry and waits for the person's:
    the sign-in, which needs both, keeps neither while it waits (holding the person's
    would leave the two waiting on each other until the locks' wait ran out), so the
    other writer gets the person's entry, finishes, and then the sign-in lists its
    session."""
    from concurrent.futures import ThreadPoolExecutor
    from urllib.parse import urljoin

    app, client = redis_app
    first, _ = signed_in(app, app_url, "auth0", "alice")
    entries = [k.decode() for k in client.scan_iter(f"{PREFIX}index:*")
               if not k.endswith((b":lock", b":ended"))]
    person = next(e for e in entries if ":index:person:" in e)
    provider_session = next(e for e in entries if ":index:sid:" in e)
    # The same browser signs in again: the stand-in remembers it, so the same
    # provider session (the same two entries), and no page on the way.
    racing = first
    page = racing.get(f"{app_url}/auth/auth0/login", allow_redirects=False)
    while not page.headers["Location"].startswith(f"{app_url}/auth/auth0/callback"):
        page = racing.get(urljoin(page.url, page.headers["Location"]), allow_redirects=False)
    callback = page.headers["Location"]
    client.set(f"{provider_session}:lock", "the other writer", px=10_000)

    def other_writer() -> bool:
        # Waits for the person's entry (less than the sign-in's own wait), then
        # lets both go.
        for _ in range(80):
            if client.set(f"{person}:lock", "the other writer", nx=True, px=10_000):
                client.delete(f"{provider_session}:lock", f"{person}:lock")
                return True
            threading.Event().wait(0.05)
        client.delete(f"{provider_session}:lock")
        return False

    with ThreadPoolExecutor(2) as pool:
        landing = pool.submit(racing.get, callback)
        got_it = pool.submit(other_writer)
        assert got_it.result() is True
        assert landing.result().status_code == 200
    assert racing.get(f"{app_url}/account").status_code == 200


def is_session_key(args: list[str]) -> bool:
    """Whether the first of ``args`` names a session's record (not an index entry,
    a mark or a lock: their names go on with a ":")."""
    return bool(args) and args[0].startswith(PREFIX) and ":" not in args[0][len(PREFIX):]


def test_a_sign_in_writes_its_new_session_once_picture_and_all(redis_app, app_url):
    """The session's commands in a whole sign-in: the login creates the brief one, the
    callback opens it, deletes it and creates the signed-in one (its picture in it,
    so the callback has nothing left to write), the landing page reads it."""
    app, client = redis_app
    browser: list[Browser] = []
    seen = commands_seen(client, lambda: browser.append(signed_in(app, app_url, "cognito",
                                                                  "alice")[0]),
                         lambda command: is_session_key(command.split()[1:2]))
    sid = session_cookie(browser[0]).value
    assert [command[0] for _, command in seen] == ["SET", "GET", "DEL", "SET", "GET"], seen
    assert seen[3][1][1] == f"{PREFIX}{sid}" and "NX" in seen[3][1]
    assert msgspec.msgpack.decode(app.session_interface.read(sid)["sign_in_picture"])["sign_in"]
