"""The app's pooled connections to providers, as the network and the provider see them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from webapp.connections import KEEPALIVE_IDLE, STALE_WITHIN

from .browser import Browser
from .flows import sign_in

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(),
                                reason="reads Linux's /proc/net/tcp")

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
            kind, ticks = timer.split(":")  # its time left in clock ticks (USER_HZ, 100)
            out[int(local.split(":")[1], 16)] = (kind, int(ticks, 16) // 100)
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


def test_a_kept_connection_closed_as_a_request_goes_out_is_tried_again_on_a_new_one(
        app_url, control, graph_front):
    """A load balancer may close a kept connection just as the token request goes
    out on it (its own idle timeout): no answer comes. The request goes once more
    on a new connection, and the sign-in lands."""
    assert sign_in(Browser(), app_url, "facebook", "alice").url == f"{app_url}/account"
    graph_front.drop_next = 0
    page = sign_in(Browser(), app_url, "facebook", "bob")
    assert page.url == f"{app_url}/account", page.text[:300]
    token = [port for path, port in graph_front.seen if path.endswith("/oauth/access_token")]
    assert len(token) == 3  # alice's; bob's, dropped; bob's again
    assert token[0] == token[1] != token[2]


def test_a_request_dropped_after_a_wait_is_not_sent_again(app_url, control, graph_front):
    """Only a request that failed at once is sent again: one the provider dropped
    after a wait is its failure, and the sign-in ends on the error page within
    one call's time (a second try would double it, past what the refresh lock
    is counted from)."""
    assert sign_in(Browser(), app_url, "facebook", "alice").url == f"{app_url}/account"
    graph_front.drop_next = STALE_WITHIN + 0.5
    page = sign_in(Browser(), app_url, "facebook", "bob")
    assert page.url.startswith(f"{app_url}/auth/facebook/callback")
    assert page.status_code == 502, page.status_code
    token = [port for path, port in graph_front.seen if path.endswith("/oauth/access_token")]
    assert len(token) == 2  # alice's; bob's, dropped and not sent again


def test_a_forked_process_opens_connections_of_its_own(config_dir, tmp_path, app_url, control,
                                                       graph_front):
    """Forked after the parent used its pool (a gunicorn master with preload_app,
    its workers), a process must not write on the parent's sockets: their answers
    would cross. In a process of its own (tests/forked_signins.py), the parent
    signs in, forks, the child signs in, then the parent again: the child's code
    exchange came on a new connection, and the parent's connection still served
    the parent."""
    settings = {"config_file": str(config_dir / "demo.toml"),
                "secrets_file": str(config_dir / "secrets.toml"),
                "session": {"dir": str(tmp_path / "sessions")},
                "providers": {"facebook": {"graph_url": f"{graph_front.url}/graph"}}}
    ran = subprocess.run(
        [sys.executable, "-m", "tests.forked_signins",
         json.dumps({"settings": settings, "app_url": app_url})],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert ran.returncode == 0, ran.stderr[-2000:]
    assert set(json.loads(ran.stdout.splitlines()[-1]).values()) == {True}, ran.stdout
    parent, child, parent_again = (
        port for path, port in graph_front.seen if path.endswith("/oauth/access_token"))
    assert child != parent
    assert parent_again == parent
