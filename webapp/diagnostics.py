"""The diagnostics page: ``/diagnostics``.

What to register at each provider (the redirect matrix, computed by the same
functions sign-in uses), the classic mistakes visible from this request, and,
on demand, live probes of every provider with their verdicts explained by the
error catalogue.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from flask import Blueprint, current_app, render_template

from . import matrix, sessions
from . import probes as live
from .errors import CATALOGUE, FedlabError
from .providers import kind_of
from .urls import current_origin

bp = Blueprint("diagnostics", __name__, url_prefix="/diagnostics")

#: Seconds each live probe may take; the whole run is parallel.
PROBE_TIMEOUT = 3.0
STATUS_ORDER = ("fail", "warn", "pass", "skip")


@bp.get("")
def matrix_page() -> str:
    return render_page()


@bp.post("/probes")
def probes() -> str:
    config = current_app.config["FEDLAB"]
    callbacks = {row["name"]: row["callback_url"] for row in matrix.rows(config)}
    verdicts = live.run_probes(config, callback_urls=callbacks,
                               sign_out_url=current_origin() + "/",
                               timeout=PROBE_TIMEOUT, logins=signed_in_logins(config))
    return render_page([explain(v) for v in verdicts])


def signed_in_logins(config: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The operator's own sign-in, if any: with a real token the identity-pool probe
    also shows whether the pool lists this app's client id."""
    auth = sessions.current_auth()
    provider = config["providers"].get(auth["provider"]) if auth else None
    if provider is None or auth["state"] == "refresh_failed":
        return {}
    try:
        return {provider.name: kind_of(provider).logins(provider, auth)}
    except KeyError:
        return {}


@bp.get("/errors")
def catalogue() -> str:
    """Every catalogue entry, so a verdict can link to its explanation."""
    return render_template("diagnostics/catalogue.html", catalogue=CATALOGUE)


def render_page(verdicts: list[dict[str, Any]] | None = None) -> str:
    config = current_app.config["FEDLAB"]
    counts = Counter(v["status"] for v in verdicts or [])
    return render_template(
        "diagnostics/matrix.html",
        rows=matrix.rows(config),
        warnings=matrix.warnings(config),
        verdicts=verdicts,
        counts=[(status, counts[status]) for status in STATUS_ORDER if counts[status]],
    )


def explain(verdict: Any) -> dict[str, Any]:
    """A verdict as the template shows it, with its catalogue entry if it failed."""
    entry = None
    if verdict.error and verdict.error in CATALOGUE:
        # The evidence fills the entry's words ({endpoint}, {operation}...).
        error = FedlabError(verdict.error)
        error.details = {**(verdict.evidence or {}), **verdict.words}
        entry = {"code": error.code, "title": error.entry.title, "cause": error.describe(),
                 "fix": error.entry.fix}
    return {
        "provider": verdict.provider,
        "probe": verdict.probe,
        "status": verdict.status,
        "summary": verdict.summary,
        "evidence": dict(verdict.evidence or {}),
        "error": verdict.error,
        "entry": entry,
    }
