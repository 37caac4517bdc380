"""Sign-ins before and after a fork, in one process that has no other thread.

    python -m tests.forked_signins '{"settings": {...}, "app_url": "http://..."}'

A test of the app's provider connections across a fork
(tests/test_connections.py) runs this: the app signs one visitor in with
Facebook, the process forks, the child signs another in, and the parent signs
the first in again once the child is done. Forking pytest itself would fork its
threads' locks too (its live servers'); this process has none, as a gunicorn
master with ``preload_app`` has none when it forks its workers. It prints, as
JSON, whether each sign-in landed on the account page; the test reads which
connections they came on at the front it put before the Graph API.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any
from urllib.parse import urljoin

from webapp import create_app

from .browser import Browser
from .flows import to_callback


def sign_in(app: Any, app_url: str, user: str) -> bool:
    """One Facebook sign-in: the app's hops through its test client, the
    stand-in's pages over HTTP; whether it landed on the account page."""
    client, browser = app.test_client(), Browser()
    start = client.get("/auth/facebook/login", base_url=app_url)
    page = browser.get(urljoin(app_url, start.location))
    callback = to_callback(browser, page, f"{app_url}/auth/facebook/callback", user)
    landed = client.get(callback.removeprefix(app_url), base_url=app_url)
    return landed.status_code == 302 and landed.location.endswith("/account")


def main(argv: list[str]) -> int:
    given = json.loads(argv[0])
    app = create_app(given["settings"])
    app.testing = True
    url = given["app_url"]
    landed = {"parent, before the fork": sign_in(app, url, "alice")}
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if sign_in(app, url, "bob") else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    landed["child"] = os.waitstatus_to_exitcode(status) == 0
    landed["parent, after the child"] = sign_in(app, url, "alice")
    print(json.dumps(landed))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
