"""The ``/_control/faults`` routes of the AWS stand-in's services.

Cognito Identity and the S3 front each keep their outage switches on a
:class:`~standins.faults.FaultBoard`, the provider stand-ins' board,
and expose them with these three routes.
"""

from __future__ import annotations

from typing import Any

import flask

from ..faults import FaultBoard


def add_control_routes(bp: flask.Blueprint, faults: FaultBoard) -> None:
    """``GET``, ``POST`` (``{"fault": name, ...params}``) and ``DELETE /faults``."""

    @bp.get("/faults")
    def list_faults() -> Any:
        return faults.listing()

    @bp.post("/faults")
    def set_fault() -> Any:
        data = flask.request.get_json(silent=True)
        if not isinstance(data, dict):
            return {"error": "send a JSON object"}, 400
        try:
            faults.set(str(data.get("fault")), {k: v for k, v in data.items() if k != "fault"})
        except ValueError as problem:
            return {"error": str(problem)}, 400
        return faults.listing()

    @bp.delete("/faults")
    def clear_faults() -> Any:
        faults.clear()
        return {"cleared": True}
