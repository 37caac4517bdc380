"""The app's connections to its providers: kept alive, and fit to be kept.

The sign-in's calls to a provider (discovery, keys, the token request,
userinfo, the Graph API) go through one pool per app (:class:`KeptAdapter`),
so a sign-in reuses the connection the last one opened instead of paying a TCP
and a TLS handshake before its code exchange. A connection kept between
sign-ins must still work when the next one comes, and must be this process's
alone:

- An idle connection can die without a word: a NAT gateway forgets it after
  350 s of silence (AWS's; others less) and answers the next packet with a
  reset. TCP keepalive probes every minute keep the path's state alive.
- A server or load balancer may close a connection just as a request goes
  out on it (an idle timeout of its own). urllib3 notices a connection closed
  while it sat in the pool, but not one closed in that instant: the request
  fails at once, without an answer. It is sent once more, on a new
  connection. That is safe even for the token request: had the first reached
  the provider, a code or refresh token used twice is refused, and the
  sign-in fails as it would have anyway. A request that fails so only after a
  wait is not sent again: that is the provider's doing, not the connection's,
  and a call stays within ``http_timeout`` (plus :data:`STALE_WITHIN`), which
  the refresh lock's life is counted from.
- A connection made before a fork (gunicorn's ``preload_app``) would be shared
  by every worker, their requests and answers interleaved on one socket: one
  visitor's tokens could reach another's sign-in. A forked process starts
  with empty pools, before any of its threads runs.
"""

from __future__ import annotations

import os
import socket
import time
import weakref
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection
from urllib3.exceptions import ProtocolError

#: Seconds of silence before the first keepalive probe, between probes, and how
#: many unanswered probes end the connection: well inside a NAT's 350 s.
KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_PROBES = 60, 20, 3
#: Seconds within which a request that got no answer failed at once, as one on a
#: connection closed as it went out does; only such a request is sent again.
STALE_WITHIN = 1.0
#: Hosts a pool is kept for: every configured provider's (Google alone has four),
#: where requests keeps ten.
HOSTS = 32


def keepalive_options() -> list[tuple[int, int, int]]:
    """urllib3's default socket options plus TCP keepalive, with the timings
    where the platform lets them be set (Linux; macOS names the idle time
    ``TCP_KEEPALIVE``)."""
    options = [*HTTPConnection.default_socket_options,
               (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)]
    idle = getattr(socket, "TCP_KEEPIDLE", getattr(socket, "TCP_KEEPALIVE", None))
    for name, value in ((idle, KEEPALIVE_IDLE),
                        (getattr(socket, "TCP_KEEPINTVL", None), KEEPALIVE_INTERVAL),
                        (getattr(socket, "TCP_KEEPCNT", None), KEEPALIVE_PROBES)):
        if name is not None:
            options.append((socket.IPPROTO_TCP, name, value))
    return options


class KeptAdapter(HTTPAdapter):
    """requests' connection pool, left open when a session it is mounted on closes.

    authlib makes a session for each token request and closes it when the
    request ends, and with it the session's pool: every sign-in would open a
    new connection to the token endpoint. Mounted with this adapter, those
    sessions share the app's kept-alive connections instead; only the sessions
    are new, so no cookie passes from one request to another.
    """

    def __init__(self) -> None:
        super().__init__(pool_connections=HOSTS)
        _adapters.add(self)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("socket_options", keepalive_options())
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        proxy_kwargs.setdefault("socket_options", keepalive_options())
        return super().proxy_manager_for(proxy, **proxy_kwargs)

    def send(self, request: requests.PreparedRequest, *args: Any,
             **kwargs: Any) -> requests.Response:
        began = time.monotonic()
        try:
            return super().send(request, *args, **kwargs)
        except requests.ConnectionError as e:
            # Aborted at once, before any answer (a kept connection closed as the
            # request went out); not a refused or timed-out connection, which a
            # second try would only wait for again, nor one the provider dropped
            # after a wait.
            aborted = isinstance(e.args[0] if e.args else None, ProtocolError)
            if not aborted or time.monotonic() - began > STALE_WITHIN:
                raise
        return super().send(request, *args, **kwargs)

    def forget_connections(self) -> None:
        """Start over with empty pools. The old ones are dropped, not closed: in
        a forked child their sockets are the parent's too (closing this process's
        copies, as the garbage collector does, leaves the parent's open)."""
        self.init_poolmanager(self._pool_connections, self._pool_maxsize,
                              block=self._pool_block)
        self.proxy_manager = {}

    def close(self) -> None:
        """Keep the pool: other sessions of this app still use it."""


#: Every adapter of this process, for the fork hook (weakly: an app that is
#: gone takes its adapter with it).
_adapters: weakref.WeakSet[KeptAdapter] = weakref.WeakSet()


def _forget_in_child() -> None:
    for adapter in list(_adapters):
        adapter.forget_connections()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)
