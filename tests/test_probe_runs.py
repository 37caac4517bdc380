"""Live-check runs under gunicorn: a slow provider never ties up the request threads.

One gunicorn worker with four threads, as deploy/gunicorn.conf.py runs it, and a
provider stand-in that answers every call two seconds late: four operators'
requests to run the checks at once would, if each ran them itself, hold all four
threads for many seconds. Only one run happens, on its own thread; the other
requests are told a run is in progress, and /healthz answers meanwhile.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from webapp.demo import tenant_for
from webapp.providers import registry

from .conftest import ROOT, free_port, require
from .flows import sign_in

GUNICORN = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin" / "gunicorn"
#: Seconds the slow provider takes for every answer; a run makes four calls in turn to it.
SLOW_SECONDS = 2
#: The client's own limit for /healthz: far below a run against the slow provider.
HEALTHZ_TIMEOUT = 3


@pytest.fixture
def one_worker(config_dir, app, control, tmp_path) -> Iterator[str]:
    """The demo under gunicorn (1 worker x 4 threads) on a loopback port; its origin."""
    require(GUNICORN.exists(), f"gunicorn is not installed at {GUNICORN}")
    port = free_port()
    origin = f"http://localhost:{port}"
    cognito = registry.providers(app)["cognito"]
    control("POST", "clients", tenant=tenant_for(cognito), client_id=cognito.client_id,
            redirect_uris=[f"{origin}/auth/cognito/callback"], logout_uris=[f"{origin}/"])
    env = {name: value for name, value in os.environ.items() if not name.startswith("FEDLAB_")}
    env.update({
        "FEDLAB_CONFIG": str(config_dir / "demo.toml"),
        "FEDLAB_SECRETS_FILE": str(config_dir / "secrets.toml"),
        "FEDLAB_SESSION__DIR": str(tmp_path / "sessions"),
        "FEDLAB_BIND": f"127.0.0.1:{port}",
        "FEDLAB_WORKERS": "1",
        "FEDLAB_THREADS": "4",
    })
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(GUNICORN), "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
             "webapp:create_app()"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        for _ in range(150):
            assert process.poll() is None, f"gunicorn exited: {log.read_text()[-2000:]}"
            try:
                if requests.get(f"{origin}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass  # not listening yet
            time.sleep(0.2)
        else:
            pytest.fail(f"gunicorn did not answer: {log.read_text()[-2000:]}")
        yield origin
    finally:
        process.terminate()
        process.wait(timeout=30)


def discovery_calls(control) -> int:
    return control("GET", "calls")["google"].get("discovery", 0)


def test_a_slow_run_leaves_the_request_threads_free(one_worker, browser, control):
    origin = one_worker
    assert sign_in(browser, origin, "cognito").url == f"{origin}/account"  # alice: an operator
    token = browser.csrf(browser.get(f"{origin}/diagnostics"))
    control("POST", "faults", tenant="google", fault="slow", seconds=SLOW_SECONDS)
    control("DELETE", "calls")

    def run_checks() -> requests.Response:
        return browser.http.post(f"{origin}/diagnostics/probes", data={"csrf_token": token},
                                 timeout=60)

    with ThreadPoolExecutor(max_workers=4) as clients:
        posts = [clients.submit(run_checks) for _ in range(4)]
        # Until every request is in: answered already, or its run under way at the provider.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (
                sum(p.done() for p in posts) + discovery_calls(control) >= 4):
            time.sleep(0.05)
        health = requests.get(f"{origin}/healthz", timeout=HEALTHZ_TIMEOUT)
        assert health.status_code == 200
        answers = [p.result() for p in posts]
    assert [a.status_code for a in answers] == [200] * 4
    in_progress = [a for a in answers if 'data-probe-run="running"' in a.text]
    assert len(in_progress) >= 3
    assert "A run of the live checks is in progress" in in_progress[0].text
    # The one run finishes on its own thread; the page then shows its result.
    deadline = time.monotonic() + 40
    while 'data-probe-run-at="' not in (page := browser.get(f"{origin}/diagnostics")).text:
        assert time.monotonic() < deadline, "the run never finished"
        time.sleep(0.5)
    assert re.search(r'data-probe="discovery"\s+data-provider="google" data-status="pass"',
                     page.text)
    # One run, not four: a run asks the token endpoint once (the client-secret probe).
    assert control("GET", "calls")["google"].get("token") == 1
