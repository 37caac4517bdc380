"""Each process's copies of session records (webapp/session_cache.py), seen from
Redis: which commands reach it, and what every instance answers after a change
made elsewhere."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import redis
import requests

from webapp.session_cache import TrackedRecords

from .flows import sign_in, wait_until
from .test_scale_out import instances  # noqa: F401 (the two gunicorn instances)
from .test_sessions import session_cookie

PREFIX = "fedlab-cache-test:"


@contextmanager
def commands_seen(redis_url: str) -> Iterator[list[tuple[str, ...]]]:
    """Every command Redis receives meanwhile, from anyone (``MONITOR``)."""
    client = redis.Redis.from_url(redis_url)
    marker = f"end-of-watch-{time.monotonic_ns()}"
    seen: list[tuple[str, ...]] = []
    ready, done = threading.Event(), threading.Event()

    def watch() -> None:
        with client.monitor() as monitor:
            ready.set()
            for command in monitor.listen():
                words = tuple(command["command"].split(" "))
                if marker in command["command"]:
                    break
                seen.append(words)
        done.set()

    threading.Thread(target=watch, daemon=True).start()
    ready.wait(5)
    time.sleep(0.05)  # MONITOR is in effect once its reply has come back
    try:
        yield seen
    finally:
        redis.Redis.from_url(redis_url).echo(marker)
        done.wait(5)


def test_a_sign_out_on_one_instance_is_seen_by_the_other_on_its_next_request(
        instances, browser, redis_url):  # noqa: F811
    """Must show 2 of issue 14: with the copies on (the default), two instances
    on one Redis; the second keeps a copy of the session, the first signs it
    out, and the second's very next request is signed out."""
    origin = instances.origin
    instances.pinned = 0
    assert sign_in(browser, origin, "auth0").status_code == 200
    sid = session_cookie(browser).value
    key = f"fedlab:session:{sid}"

    instances.pinned = 1
    assert browser.get(f"{origin}/account").status_code == 200  # read from Redis, and kept
    with commands_seen(redis_url) as seen:
        account = browser.get(f"{origin}/account")
    assert account.status_code == 200 and "Signed in via Auth0" in account.text
    assert ("GET", key) not in seen, "the second view read Redis: no copy was kept"

    instances.pinned = 0
    signed_out = browser.post(f"{origin}/auth/signout",
                              data={"csrf_token": browser.csrf(account)})
    assert signed_out.status_code == 200

    instances.pinned = 1
    with commands_seen(redis_url) as seen:
        replay = requests.get(f"{origin}/account", cookies={"fedlab": sid}, timeout=10)
    assert replay.status_code == 401, "the second instance served a signed-out session"
    assert ("GET", key) in seen  # its copy was dropped: it asked Redis again
    assert browser.get(f"{origin}/account").status_code == 401


# -- one process's copies, against a real Redis -----------------------------------


@pytest.fixture
def store(redis_url) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    for key in client.scan_iter(f"{PREFIX}*"):
        client.delete(key)


class CountingReads:
    """The reads that reached Redis, by key."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self.keys: list[str] = []

    def __call__(self, key: str) -> bytes | None:
        self.keys.append(key)
        return self.client.get(key)  # type: ignore[return-value]


def test_a_copy_is_used_until_any_client_changes_the_record(store, redis_url):
    tracked = TrackedRecords(store, PREFIX, size=8, max_age=60)
    reads = CountingReads(store)
    store.set(f"{PREFIX}a", b"one")
    assert [tracked.read(f"{PREFIX}a", reads) for _ in range(3)] == [b"one"] * 3
    assert reads.keys == [f"{PREFIX}a"]

    other = redis.Redis.from_url(redis_url)  # another client: another instance
    other.set(f"{PREFIX}a", b"two")
    assert tracked.read(f"{PREFIX}a", reads) == b"two"
    other.delete(f"{PREFIX}a")
    assert tracked.read(f"{PREFIX}a", reads) is None
    assert len(reads.keys) == 3
    # An expiry in Redis is a change too (Redis expires the key on its own
    # within a moment, though nobody reads it there).
    other.set(f"{PREFIX}a", b"three", px=100)
    assert tracked.read(f"{PREFIX}a", reads) == b"three"
    wait_until(lambda: tracked.read(f"{PREFIX}a", reads) is None, tries=100)


def test_a_read_that_a_change_overtook_is_not_kept(store):
    """Redis answered with the record as it was, then another client changed it
    before the answer was kept: the answer is used once, never kept."""
    tracked = TrackedRecords(store, PREFIX, size=8, max_age=60)
    store.set(f"{PREFIX}b", b"old")

    def overtaken(key: str) -> bytes | None:
        value = store.get(key)
        store.set(key, b"new")  # lands after the GET was answered
        time.sleep(0.05)
        return value  # type: ignore[return-value]

    assert tracked.read(f"{PREFIX}b", overtaken) == b"old"
    reads = CountingReads(store)
    assert tracked.read(f"{PREFIX}b", reads) == b"new"
    assert reads.keys == [f"{PREFIX}b"]


def test_without_its_channel_a_process_reads_redis_and_drops_its_copies(store):
    tracked = TrackedRecords(store, PREFIX, size=8, max_age=60, retry_after=0)
    reads = CountingReads(store)
    store.set(f"{PREFIX}c", b"kept")
    tracked.read(f"{PREFIX}c", reads)
    # The channel: the newest connection whose invalidations go to itself.
    channel = max(int(c["id"]) for c in store.client_list() if c.get("redir") == c["id"])
    store.client_kill_filter(_id=channel)
    store.set(f"{PREFIX}c", b"changed while nobody listened")  # no message reaches it
    assert tracked.read(f"{PREFIX}c", reads) == b"changed while nobody listened"
    # Listening again (it reconnects), it keeps nothing from before the loss.
    assert tracked.read(f"{PREFIX}c", reads) == b"changed while nobody listened"
    assert reads.keys == [f"{PREFIX}c"] * 3


def test_the_copies_are_bounded_the_least_recently_used_dropped_first(store):
    tracked = TrackedRecords(store, PREFIX, size=2, max_age=60)
    reads = CountingReads(store)
    for name in "xyz":
        store.set(f"{PREFIX}{name}", name.encode())
        tracked.read(f"{PREFIX}{name}", reads)
    tracked.read(f"{PREFIX}x", reads)  # the least recently used went first
    assert reads.keys == [f"{PREFIX}{n}" for n in "xyzx"]
    assert tracked.read(f"{PREFIX}z", reads) == b"z" and len(reads.keys) == 4


def test_a_copy_older_than_max_age_is_read_again(store):
    tracked = TrackedRecords(store, PREFIX, size=8, max_age=0.1)
    reads = CountingReads(store)
    store.set(f"{PREFIX}d", b"d")
    tracked.read(f"{PREFIX}d", reads)
    tracked.read(f"{PREFIX}d", reads)
    time.sleep(0.15)
    tracked.read(f"{PREFIX}d", reads)
    assert len(reads.keys) == 2


def test_where_redis_refuses_tracking_nothing_is_copied(store, redis_url, caplog):
    """A user whose ACL forbids CLIENT (a managed Redis may): every read goes to
    Redis, and one warning says so."""
    user, password = f"fedlab-no-tracking-{time.monotonic_ns()}", "a-test-password"
    store.acl_setuser(user, enabled=True, passwords=[f"+{password}"], keys=["*"],
                      channels=["*"], commands=["+@all", "-client"])
    try:
        limited = redis.Redis.from_url(redis_url, username=user, password=password)
        tracked = TrackedRecords(limited, PREFIX, size=8, max_age=60, retry_after=0)
        reads = CountingReads(limited)
        store.set(f"{PREFIX}e", b"e")
        assert [tracked.read(f"{PREFIX}e", reads) for _ in range(3)] == [b"e"] * 3
        assert reads.keys == [f"{PREFIX}e"] * 3
        warnings = [r for r in caplog.records if "session cache off" in r.getMessage()]
        assert len(warnings) == 1 and "NoPermission" in warnings[0].getMessage()
    finally:
        store.acl_deluser(user)


def test_an_index_writer_whose_lock_expired_writes_nothing(store):
    """rewrite_locked: the lock taken with the read, the record written with the
    release, and only while the lock is still this writer's."""
    from webapp.session_store import RedisStore

    entry = f"{PREFIX}entry"
    store.set(entry, b"before")
    redis_store = RedisStore(store)

    def slow_rewrite(stored: bytes | None) -> tuple[bytes | None, int]:
        assert stored == b"before"  # read under the lock
        store.set(f"{entry}:lock", "someone else's token")  # ours expired; another took it
        return b"after", 60

    assert redis_store.rewrite_locked(entry, 1.0, slow_rewrite) is False
    assert store.get(entry) == b"before"
    assert store.get(f"{entry}:lock") == b"someone else's token"  # not released by us
    store.delete(f"{entry}:lock")
    assert redis_store.rewrite_locked(entry, 1.0, lambda stored: (b"after", 60)) is True
    assert store.get(entry) == b"after" and not store.exists(f"{entry}:lock")


def test_a_forked_process_starts_empty_with_a_channel_of_its_own(store, redis_url):
    """gunicorn forks its workers: a child must not read its parent's socket (the
    two would split Redis's messages between them) nor use its parent's copies."""
    import os

    tracked = TrackedRecords(store, PREFIX, size=8, max_age=60, retry_after=0)
    store.set(f"{PREFIX}f", b"parent's")
    assert tracked.read(f"{PREFIX}f", store.get) == b"parent's"
    pid = os.fork()
    if pid == 0:  # the child: exit status 0 when it saw what Redis holds
        try:
            other = redis.Redis.from_url(redis_url)
            other.set(f"{PREFIX}f", b"changed in the child's time")
            child_reads = []
            seen = [tracked.read(f"{PREFIX}f", lambda k: child_reads.append(k) or other.get(k))
                    for _ in range(2)]
            other.set(f"{PREFIX}f", b"changed again")
            seen.append(tracked.read(f"{PREFIX}f", other.get))
            ok = seen == [b"changed in the child's time"] * 2 + [b"changed again"]
            os._exit(0 if ok and len(child_reads) == 1 else 1)
        except BaseException:
            os._exit(2)
    for _ in range(200):  # bounded: a child stuck on a lock fails the test, not the run
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("the forked process did not finish in 10 s")
    assert os.waitstatus_to_exitcode(status) == 0
    # The parent's channel still works: the child's writes reached it too.
    assert tracked.read(f"{PREFIX}f", store.get) == b"changed again"


class FreezableProxy:
    """A TCP relay to Redis that can stop passing bytes either way without closing
    anything: a connection that died without a word (a failover, a dropped route)."""

    def __init__(self, port: int) -> None:
        import socket

        self.target = port
        self.frozen = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.sockets: list[socket.socket] = []
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket

        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target))
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source, sink) -> None:
        try:
            while data := source.recv(65536):
                if not self.frozen.is_set():
                    sink.sendall(data)
        except OSError:
            pass

    def close(self) -> None:
        self.listener.close()
        for sock in self.sockets:
            sock.close()


def test_a_channel_gone_silent_stops_the_copies_within_its_silence(store, redis_url):
    """No reset, no close: the channel just stops carrying anything. Within
    ``silence`` the copies stop being used, though ``max_age`` is a minute."""
    proxy = FreezableProxy(store.connection_pool.connection_kwargs["port"])
    db = store.connection_pool.connection_kwargs.get("db", 0)
    relayed = redis.Redis(host="127.0.0.1", port=proxy.port, db=db, socket_timeout=2)
    try:
        tracked = TrackedRecords(relayed, PREFIX, size=8, max_age=60, silence=0.4)
        reads = CountingReads(store)
        store.set(f"{PREFIX}g", b"before")
        assert [tracked.read(f"{PREFIX}g", reads) for _ in range(2)] == [b"before"] * 2
        assert len(reads.keys) == 1  # the second came from the copy
        proxy.frozen.set()
        store.set(f"{PREFIX}g", b"after")  # its message never reaches the channel
        time.sleep(0.5)
        assert tracked.read(f"{PREFIX}g", reads) == b"after"
    finally:
        proxy.frozen.set()
        relayed.close()
        proxy.close()
