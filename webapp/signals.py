"""Auth events as blinker signals, so operators can subscribe as the log does.

Receivers get the app as sender and keyword details; never a token or secret.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from blinker import Namespace
from flask import Flask

_signals = Namespace()
signed_in = _signals.signal("signed-in")
sign_in_failed = _signals.signal("sign-in-failed")
refreshed = _signals.signal("refreshed")
refresh_failed = _signals.signal("refresh-failed")
signed_out = _signals.signal("signed-out")
credentials_issued = _signals.signal("credentials-issued")
storage_changed = _signals.signal("storage-changed")

ALL = (signed_in, sign_in_failed, refreshed, refresh_failed, signed_out, credentials_issued,
       storage_changed)
log = logging.getLogger("webapp.events")


def init_app(app: Flask) -> None:
    """Write one structured log line per event of this app."""

    def log_event(sender: Flask, **details: Any) -> None:
        if sender is app:
            log.info(json.dumps({"event": details.pop("signal"), **details}, default=str))

    for signal in ALL:
        signal.connect(_named(signal.name, log_event), sender=app, weak=False)


def _named(name: str, receiver: Any) -> Any:
    def receive(sender: Flask, **details: Any) -> None:
        receiver(sender, signal=name, **details)

    return receive
