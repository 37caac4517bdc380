"""The diagnostics page: ``/diagnostics``.

What to register at each provider (the redirect matrix, computed by the same
functions sign-in uses), the classic mistakes visible from this request, and,
on demand, live probes of every provider with their verdicts explained by the
error catalogue. The live probes are for operators only (see
:mod:`webapp.operators`) and run as :mod:`webapp.probe_runs` allows: one at a
time, off the request threads, and no more often than ``diagnostics.probe_interval``.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, current_app, render_template
from flask.blueprints import BlueprintSetupState
from markupsafe import Markup, escape

from . import matrix, operators, probe_runs, sessions, signin
from . import probes as live
from .config import settings
from .errors import CATALOGUE, FedlabError
from .providers import Provider, registry
from .records import SignIn
from .urls import sign_out_return_url

bp = Blueprint("diagnostics", __name__, url_prefix="/diagnostics")

#: Seconds each live probe may take; the whole run is parallel.
PROBE_TIMEOUT = 3.0
STATUS_ORDER = ("fail", "warn", "pass", "skip")
#: Where a long URL may wrap, never inside a word: after ``/ ? & = . - +``, and
#: before a percent-escape (``%2F`` is an encoded ``/`` inside a parameter);
#: ``//`` stays whole.
URL_SEPARATORS = re.compile(r"(?<=[?&=.\-+])|(?<=/)(?!/)|(?=%[0-9A-Fa-f]{2})")


@dataclass(frozen=True)
class VerdictGroup:
    """The live checks of one provider (or of the identity pool), shown as one
    collapsible group: open when it holds a failure, so a run with nothing
    wrong is a few summary lines rather than a table thousands of pixels long."""

    provider: str
    #: The provider's display name, or the group's own name for the pool's checks.
    title: str
    #: The matrix section of this provider, when it is a configured one.
    anchor: str | None
    verdicts: tuple[dict[str, Any], ...]
    #: (status, count) in :data:`STATUS_ORDER`, zero counts left out.
    counts: tuple[tuple[str, int], ...]

    @property
    def failed(self) -> bool:
        return any(status == "fail" for status, _ in self.counts)


@bp.app_template_filter("wrap_url")
def wrap_url(value: Any) -> Markup:
    """``value`` escaped, with a ``<wbr>`` at each URL separator (:data:`URL_SEPARATORS`),
    so a long URL wraps there and never in the middle of a word. Each piece is
    escaped on its own before the markup is added, so nothing of the value is
    ever trusted as HTML; ``<wbr>`` adds no character to a copy by selection."""
    return Markup("<wbr>").join(escape(piece) for piece in URL_SEPARATORS.split(str(value)))


@bp.record_once
def init_probe_runs(state: BlueprintSetupState) -> None:
    """The live checks' runner, once for each app that registers this blueprint."""
    probe_runs.init_app(state.app)


def current_viewer() -> operators.Viewer:
    """Who asks, their expired tokens renewed first as on every page that acts on
    a sign-in: an operator whose provider would no longer renew them (revoked,
    signed out there) is then nobody here, however long the session lasts."""
    auth = sessions.current_auth()
    if auth is not None:
        signin.ensure_fresh(auth)
    return operators.viewer()


@bp.get("")
def matrix_page() -> str:
    viewer = current_viewer()
    runs = probe_runs.runner(current_app._get_current_object())
    return render_page(viewer, runs.last() if viewer.operator else None)


@bp.post("/probes")
def probes() -> str:
    viewer = current_viewer()
    operator = viewer.operator
    if operator is None:
        # Refused before anything is sent: no provider or AWS call for a non-operator.
        raise FedlabError("operators_only")
    app = current_app._get_current_object()
    site, providers = settings(app), registry.providers(app)
    # What the run needs from this request, read now: it runs on another thread.
    rows = matrix.rows(providers)
    callbacks = {row.name: row.callback_url for row in rows}
    backchannel = {row.name: row.backchannel_logout_url for row in rows}
    sign_out_url, logins = sign_out_return_url(), signed_in_logins(providers, viewer.auth)

    def job() -> list[dict[str, Any]]:
        verdicts = live.run_probes(site, providers, callback_urls=callbacks,
                                   sign_out_url=sign_out_url, timeout=PROBE_TIMEOUT,
                                   logins=logins, backchannel_urls=backchannel)
        return [explain(v) for v in verdicts]

    return render_page(viewer, probe_runs.runner(app).request(app, job, str(operator)))


def signed_in_logins(providers: Mapping[str, Provider],
                     auth: SignIn | None) -> dict[str, dict[str, str]]:
    """The operator's own sign-in, if live (``Viewer.auth``): with a real token
    the identity-pool probe also shows whether the pool lists this app's client id."""
    provider = providers.get(auth.provider) if auth else None
    if auth is None or provider is None:
        return {}
    return {provider.name: provider.logins(auth)}


@bp.get("/errors")
def catalogue() -> str:
    """Every catalogue entry, so a verdict can link to its explanation; each
    cause in words, as an error with none of its details would say it."""
    entries = [CatalogueEntry(code=code, status=entry.status, title=entry.title,
                              cause=FedlabError(code).describe(), fix=entry.fix)
               for code, entry in CATALOGUE.items()]
    return render_template("diagnostics/catalogue.html", entries=entries)


@dataclass(frozen=True)
class CatalogueEntry:
    """One entry as the catalogue page shows it."""

    code: str
    status: int
    title: str
    cause: str
    fix: str


def render_page(viewer: operators.Viewer,
                outcome: probe_runs.Outcome | None = None) -> str:
    run = outcome.run if outcome else None
    verdicts = list(run.verdicts) if run else None
    rows = matrix.rows(registry.providers())
    return render_template(
        "diagnostics/matrix.html",
        rows=rows,
        warnings=matrix.warnings(settings()),
        operator=viewer.operator,
        visitor=viewer.person,
        outcome=outcome,
        when=when,
        now=time.time(),
        run=run,
        verdicts=verdicts,
        counts=counted(verdicts or []),
        groups=grouped(verdicts or [], rows),
    )


def counted(verdicts: Iterable[Mapping[str, Any]]) -> tuple[tuple[str, int], ...]:
    """How many verdicts of each status, worst first, none of those with none."""
    counts = Counter(v["status"] for v in verdicts)
    return tuple((status, counts[status]) for status in STATUS_ORDER if counts[status])


def grouped(verdicts: list[dict[str, Any]], rows: list[matrix.Row]) -> list[VerdictGroup]:
    """The verdicts per provider, in the matrix's order, then the groups of no
    configured provider (the identity pool's own settings and roles)."""
    names = {row.name: row for row in rows}
    order = [row.name for row in rows if any(v["provider"] == row.name for v in verdicts)]
    order += [p for p in dict.fromkeys(v["provider"] for v in verdicts) if p not in names]
    groups = []
    for provider in order:
        mine = tuple(v for v in verdicts if v["provider"] == provider)
        row = names.get(provider)
        groups.append(VerdictGroup(
            provider=provider,
            title=row.display_name if row else provider.replace("-", " ").capitalize(),
            anchor=row.anchor if row else None,
            verdicts=mine,
            counts=counted(mine),
        ))
    return groups


def when(epoch: float) -> str:
    """A time as the page shows it: UTC, to the second (the server's clock)."""
    return time.strftime("%H:%M:%S UTC", time.gmtime(epoch))


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
