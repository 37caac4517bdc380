"""The app's pooled connections to providers, as the network and the provider see them."""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from urllib.parse import urlsplit

from webapp.connections import KEEPALIVE_IDLE

from .browser import Browser
from .flows import sign_in, stop_at_callback

#: /proc/net/tcp's state for an established connection, and its timer kind for
#: a keepalive timer (the kernel's tcp4_seq_show).
ESTABLISHED, KEEPALIVE_TIMER = "01", "02"


def tcp_timers(remote_port: int) -> dict[int, tuple[str, int]]:
    """Each established loopback connection to ``remote_port``, by its local port:
    its timer kind and the seconds left on it (``/proc/net/tcp``)."""
    out = {}
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, state, timer = fields[1], fields[2], fields[3], fields[5]
        if state == ESTABLISHED and int(remote.split(":")[1], 16) == remote_port:
            kind, left = timer.split(":")
            out[int(local.split(":")[1], 16)] = (kind, int(left, 16) // 100)  # jiffies at HZ=100
    return out


def test_a_kept_connection_sends_keepalive_probes_before_a_nat_forgets_it(app_url, control,
                                                                          graph_front):
    """A NAT gateway forgets a connection after 350 s of silence and resets it at
    the next packet: the first sign-in after a quiet spell would fail. The app's
    kept connection to the provider carries a keepalive timer, due within a
    minute, as the kernel shows it (/proc/net/tcp)."""
    page = sign_in(Browser(), app_url, "facebook")
    assert page.url == f"{app_url}/account", page.text[:300]
    ours = {port for _, port in graph_front.seen}
    assert len(ours) == 1
    timers = tcp_timers(graph_front.server_address[1])
    kind, seconds_left = timers[ours.pop()]
    assert kind == KEEPALIVE_TIMER
    # The first probe within the app's idle time, far below the kernel's default
    # two hours and a NAT's 350 s.
    assert 0 < seconds_left <= KEEPALIVE_IDLE < 350


def test_a_forked_process_opens_connections_of_its_own(app_url, control, graph_front, servers):
    """Forked after the parent used its pool (gunicorn's preload_app does that),
    a worker must not write on the parent's sockets: their answers would cross.
    The child's code exchange reaches the provider on a new connection, and the
    parent's connection still serves the parent's next sign-in."""
    assert sign_in(Browser(), app_url, "facebook", "alice").url == f"{app_url}/account"
    parents = {port for _, port in graph_front.seen}
    assert len(parents) == 1
    # A sign-in begun here, to be finished (its callback) by the child.
    browser = Browser()
    callback = urlsplit(stop_at_callback(browser, app_url, "facebook", "bob"))
    app = servers[0].app
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads (3.12+)
        pid = os.fork()
    if pid == 0:  # the child: finish the sign-in in process, and say how it went
        code = 1
        try:
            client = app.test_client()
            for cookie in browser.http.cookies:  # the app's (requests files localhost's
                if cookie.domain.startswith(urlsplit(app_url).hostname or ""):  # as .local)
                    client.set_cookie(cookie.name, cookie.value)
            answer = client.get(f"{callback.path}?{callback.query}", base_url=app_url)
            code = 0 if answer.status_code == 302 and answer.location.endswith("/account") else 2
        finally:
            os._exit(code)
    deadline = time.monotonic() + 30
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if done[0] == 0:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        raise AssertionError("the forked process did not finish its sign-in in 30 s")
    assert os.waitstatus_to_exitcode(done[1]) == 0
    childs = [port for path, port in graph_front.seen if path.endswith("/oauth/access_token")
              and port not in parents]
    assert len(childs) == 1
    # The parent's connection is still its own, and still open.
    assert sign_in(Browser(), app_url, "facebook", "alice").url == f"{app_url}/account"
    token_ports = [port for path, port in graph_front.seen if path.endswith("/oauth/access_token")]
    assert token_ports[-1] in parents
