"""The app's connections to its providers: kept alive, and fit to be kept.

Every call to a provider (discovery, keys, the token request, userinfo, the
Graph API) goes through one pool per app (:class:`KeptAdapter`), so a sign-in
reuses the connection the last one opened instead of paying a TCP and a TLS
handshake before its code exchange. A connection kept between sign-ins must
still work when the next one comes, and must be this process's alone:

- An idle connection can die without a word: a NAT gateway forgets it after
  350 s of silence (AWS's; others less) and answers the next packet with a
  reset, so the first sign-in after a quiet spell would fail. TCP keepalive
  probes every minute keep the path's state alive, and find a dead peer.
- A connection made before a fork (gunicorn's ``preload_app``) would be shared
  by every worker, and their requests and answers interleaved on one socket:
  one visitor's tokens could reach another's sign-in. A process that finds
  itself forked starts a pool of its own.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection

#: Seconds of silence before the first keepalive probe, between probes, and how
#: many unanswered probes end the connection: well inside a NAT's 350 s.
KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_PROBES = 60, 20, 3


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
        self._pid = os.getpid()
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, socket_options=keepalive_options(), **kwargs)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        proxy_kwargs.setdefault("socket_options", keepalive_options())
        return super().proxy_manager_for(proxy, **proxy_kwargs)

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        if os.getpid() != self._pid:
            self._forked()
        return super().send(request, *args, **kwargs)

    def _forked(self) -> None:
        """Start with no connection in a forked process: the parent's sockets are
        the parent's (closing this process's copies leaves the parent's open)."""
        self._pid = os.getpid()
        self.poolmanager.clear()
        for manager in self.proxy_manager.values():
            manager.clear()

    def close(self) -> None:
        """Keep the pool: other sessions of this app still use it."""
