"""A process's copy of the session records it read lately, kept true by Redis.

Opening a session costs a Redis round trip on every request, and on loopback
that trip costs as much as a whole bare request (``bench/``). Most requests
read a record that has not changed since the last one, so each process keeps
the sealed records it read (:class:`TrackedRecords`) and Redis tells it when
one changes: server-assisted client-side caching (``CLIENT TRACKING``, in
broadcast mode on the sessions' key prefix). Any write, deletion or expiry of
such a key on any instance sends its name to every process, which drops its
copy. The store stays the single source of truth:

- the messages are read before every copy is used, so a sign-out on one
  instance is seen by every other on its next request once Redis's message
  has arrived (Redis writes it out in the same turn as the deletion's answer,
  which must still travel back through the instance and the browser);
- a copy filled from a read that a change overtook is not kept (each fill
  holds a ticket that any message about its key cancels, checked and kept in
  one step);
- copies are used only while Redis has been heard from on the channel in the
  last few seconds (a PING when it has been quiet), so a channel that dies
  without a word (a failover, a dropped route) stops them within that time;
- without the channel (not yet connected, lost, refused) nothing is copied
  and every read goes to Redis; a lost channel drops every copy;
- a copy is used for at most ``max_age`` seconds, and there are at most
  ``size`` of them, the least recently used dropped.

Redis 6 or later (RESP2, with the channel redirected to itself, so any Redis 6
works; redis-py's own ``cache_config`` asks for Redis 7.4). Only reads that
open a session go through here; a read before a write always asks Redis.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from redis import Connection, Redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError, RedisError
from redis.retry import Retry

log = logging.getLogger(__name__)
#: The channel Redis publishes invalidations on for RESP2 clients.
CHANNEL = "__redis__:invalidate"


class TrackedRecords:
    """At most ``size`` records of ``client``'s Redis whose keys start with
    ``prefix``, each for at most ``max_age`` seconds, dropped as soon as Redis
    says they changed, and used only while the channel has been heard from in
    the last ``silence`` seconds. Thread-safe; a forked process starts empty."""

    def __init__(self, client: Redis, prefix: str, size: int, max_age: float,
                 silence: float = 5.0, retry_after: float = 1.0) -> None:
        self.client = client
        self.prefix = prefix
        self.size = size
        self.max_age = max_age
        self.silence = silence
        self.retry_after = retry_after
        self._lock = threading.Lock()
        self._records: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        #: Reads under way whose answer may be kept: key -> their tickets.
        self._fills: dict[str, set[object]] = {}
        self._channel: Connection | None = None
        self._pid = os.getpid()
        #: When Redis last said anything on the channel, and when a PING went
        #: unanswered since (0: none outstanding).
        self._heard = self._pinged = 0.0
        self._connecting = threading.Lock()
        self._next_try = 0.0
        self._backoff = retry_after
        self._down = False

    def read(self, key: str, load: Callable[[str], bytes | None]) -> bytes | None:
        """The record under ``key``: this process's copy if it has a current
        one, else ``load(key)`` (a read from Redis), kept when nothing changed
        the key while it was read."""
        if os.getpid() != self._pid:
            self._forked()
        self._connect_when_due()
        with self._lock:
            listening = self._listen()
            if listening:
                copy = self._records.get(key)
                if copy is not None and time.monotonic() - copy[1] < self.max_age:
                    self._records.move_to_end(key)
                    return copy[0]
                ticket = object()
                self._fills.setdefault(key, set()).add(ticket)
        if not listening:
            return load(key)
        try:
            record = load(key)
        finally:
            with self._lock:
                # Messages that came in while Redis answered cancel this ticket;
                # the copy is kept in this same step, so nothing (a forget, a lost
                # channel) can come between the check and the keeping.
                listening = self._listen()
                tickets = self._fills.get(key, set())
                current = ticket in tickets
                tickets.discard(ticket)
                if not tickets:
                    self._fills.pop(key, None)
                if listening and current and record is not None:
                    self._records[key] = (record, time.monotonic())
                    self._records.move_to_end(key)
                    while len(self._records) > self.size:
                        self._records.popitem(last=False)
        return record

    def forget(self, key: str) -> None:
        """Drop ``key``'s copy now: this process just wrote or deleted it (Redis's
        message follows, but this process's next request must not wait for it)."""
        with self._lock:
            self._records.pop(key, None)
            self._fills.pop(key, None)

    # -- the message channel ------------------------------------------------------

    def _listen(self) -> bool:
        """Whether copies may be used: the channel is up, every message so far is
        applied, and Redis has been heard from within ``silence`` (a PING goes
        out when it has been quiet for half that, and a PING unanswered that long
        counts as a lost channel: a connection can die without a word, after a
        failover or a dropped route). Called under the lock."""
        channel = self._channel
        if channel is None:
            return False
        now = time.monotonic()
        try:
            while channel.can_read(timeout=0):
                self._apply(channel.read_response(), now)
            if self._pinged and now - self._pinged >= self.silence / 2:
                raise ConnectionError("no answer to PING")
            if not self._pinged and now - self._heard >= self.silence / 2:
                channel.send_command("PING")
                self._pinged = now
        except (RedisError, OSError) as e:
            self._lost(e)
            return False
        return now - self._heard < self.silence

    def _connect_when_due(self) -> None:
        """Open the channel if there is none and a try is due: outside the lock, so
        requests do not queue behind a Redis that does not answer, and by one
        thread at a time, each failure waiting twice as long as the last (up to a
        minute) before the next try."""
        if self._channel is not None:
            return
        if time.monotonic() < self._next_try or not self._connecting.acquire(blocking=False):
            return
        try:
            channel = self._open()
        except (RedisError, OSError) as e:
            with self._lock:
                self._lost(e)
                self._next_try = time.monotonic() + self._backoff
                self._backoff = min(60.0, max(self.retry_after, self._backoff * 2))
            return
        finally:
            self._connecting.release()
        with self._lock:
            if self._down:
                log.info("session cache: Redis's invalidation channel is back")
            self._drop_all()
            self._channel, self._down, self._backoff = channel, False, self.retry_after
            self._heard, self._pinged = time.monotonic(), 0.0

    def _open(self) -> Connection:
        """A connection of its own (the store's address, database and credentials,
        no retries: the next request tries again) that receives Redis's
        invalidations of every key under the prefix."""
        pool = self.client.connection_pool
        kwargs = {k: v for k, v in pool.connection_kwargs.items() if not k.startswith("maint_")}
        channel = pool.connection_class(**{**kwargs, "protocol": 2,
                                           "retry": Retry(NoBackoff(), 0)})
        try:
            channel.connect()
            channel.send_command("CLIENT", "ID")
            own_id = channel.read_response()
            channel.send_command("CLIENT", "TRACKING", "on", "REDIRECT", own_id,
                                 "BCAST", "PREFIX", self.prefix)
            channel.read_response()
            channel.send_command("SUBSCRIBE", CHANNEL)
            channel.read_response()
        except BaseException:
            channel.disconnect()
            raise
        return channel

    def _forked(self) -> None:
        """Start empty in a forked process: the parent's socket and copies are not
        this process's (a lock the parent held at the fork would never be freed)."""
        with self._lock:
            if os.getpid() != self._pid:
                self._pid, self._channel = os.getpid(), None
                self._connecting = threading.Lock()
                self._next_try, self._backoff = 0.0, self.retry_after
                self._drop_all()

    def _apply(self, message: list, now: float) -> None:
        self._heard = now
        kind = message[0]
        if kind == b"pong":
            self._pinged = 0.0
        if kind != b"message":
            return
        keys = message[2]
        if keys is None:  # FLUSHDB, FLUSHALL, or Redis dropped its tracking table
            self._drop_all()
            return
        for key in keys:
            # A key that is not UTF-8 names no copy here (every copy's key is text).
            name = key.decode(errors="replace") if isinstance(key, bytes) else key
            self._records.pop(name, None)
            self._fills.pop(name, None)

    def _lost(self, error: Exception) -> None:
        if self._channel is not None:
            self._channel.disconnect()
        self._channel = None
        self._drop_all()
        if not self._down:
            # The type only: a message may name the store's address.
            log.warning("session cache off: no invalidation channel from Redis (%s); "
                        "every session is read from Redis", type(error).__name__)
        self._down = True

    def _drop_all(self) -> None:
        self._records.clear()
        self._fills.clear()
