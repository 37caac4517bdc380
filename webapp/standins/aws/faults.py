"""Outage switches of the AWS stand-in's services, set through ``/_control/faults``.

Cognito Identity and the S3 front each take their own faults; this is the one
switchboard both keep them on, and the three control routes both expose.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import flask

#: Checks a fault's parameters; raises ValueError naming the bad one.
ParamsCheck = Callable[[str, Mapping[str, Any]], None]


class Faults:
    """The faults switched on, by name, with their parameters (thread-safe)."""

    def __init__(self, names: Iterable[str], check: ParamsCheck | None = None) -> None:
        self.names = tuple(names)
        self._check = check
        self._lock = threading.Lock()
        self._on: dict[str, dict[str, Any]] = {}

    def set(self, name: str, params: Mapping[str, Any]) -> None:
        if name not in self.names:
            raise ValueError(f"fault: must be one of {', '.join(self.names)}")
        if self._check is not None:
            self._check(name, params)
        with self._lock:
            self._on[name] = dict(params)

    def active(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {k: dict(v) for k, v in self._on.items()}

    def clear(self) -> None:
        with self._lock:
            self._on.clear()


def add_control_routes(bp: flask.Blueprint, faults: Faults) -> None:
    """``GET``, ``POST`` (``{"fault": name, ...params}``) and ``DELETE /faults``."""

    @bp.get("/faults")
    def list_faults() -> Any:
        return faults.active()

    @bp.post("/faults")
    def set_fault() -> Any:
        data = flask.request.get_json(silent=True)
        if not isinstance(data, dict):
            return {"error": "send a JSON object"}, 400
        try:
            faults.set(str(data.get("fault")), {k: v for k, v in data.items() if k != "fault"})
        except ValueError as problem:
            return {"error": str(problem)}, 400
        return faults.active()

    @bp.delete("/faults")
    def clear_faults() -> Any:
        faults.clear()
        return {"cleared": True}
