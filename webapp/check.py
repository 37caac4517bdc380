"""``fedlab check``: the redirect matrix and the live probes, on the command line."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable

import msgspec

from . import create_app, matrix, probes
from .config import settings
from .providers import registry
from .urls import sign_out_return_url

MARKS = {"pass": "ok  ", "fail": "FAIL", "warn": "warn", "skip": "skip"}


def run_check(base_url: str | None, as_json: bool, timeout: float) -> int:
    """Print what must be registered where, probe it live, exit 1 on any failure."""
    overrides = {"external_url": base_url.rstrip("/")} if base_url else {}
    app = create_app(overrides)
    site, providers = settings(app), registry.providers(app)
    origin = (site.external_url or
              (site.demo_origins or ("http://localhost:8000",))[0])
    started = time.monotonic()
    with app.test_request_context("/", base_url=origin):
        rows = matrix.rows(providers)
        warnings = matrix.warnings(site)
        callbacks = {row.name: row.callback_url for row in rows}
        verdicts = probes.run_probes(
            site, providers, callbacks, sign_out_return_url(), timeout=timeout,
            backchannel_urls={row.name: row.backchannel_logout_url for row in rows})
    elapsed = round(time.monotonic() - started, 2)
    ok = not any(v.status == "fail" for v in verdicts)
    if as_json:
        json.dump({"ok": ok, "base_url": origin, "seconds": elapsed,
                   "rows": msgspec.to_builtins(rows),
                   "warnings": msgspec.to_builtins(warnings),
                   "verdicts": [v.as_dict() for v in verdicts]},
                  sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        print_report(origin, rows, warnings, verdicts, elapsed)
    return 0 if ok else 1


def print_report(origin: str, rows: list[matrix.Row], warnings: list[matrix.Mistake],
                 verdicts: list[probes.Verdict], elapsed: float) -> None:
    print(f"Federation Lab check of {origin}\n")
    for warning in warnings:
        # The word the diagnostics page shows (``Severity.word``), not the enum value.
        print(f"{warning.severity.word}: {warning.title}\n  {warning.detail}\n"
              f"  fix: {warning.fix}\n")
    for row in rows:
        print(f"[{row.name}] {row.display_name} ({row.kind})")
        print(f"  callback URL   {row.callback_url}\n"
              f"    register in  {row.console['callback']}")
        if row.sign_out_url:
            print(f"  sign-out URL   {row.sign_out_url}\n"
                  f"    register in  {row.console['sign_out']}")
        if row.backchannel_logout_url:
            print(f"  back-channel   {row.backchannel_logout_url}\n"
                  f"    register in  {row.console['backchannel_logout']}")
        for site in (r for r in row.registrations if r.register == "origin"):
            print(f"  {site.label:<14} {site.value}\n    register in  {site.where}")
        for upstream in row.upstream:
            print(f"  upstream       {upstream.value}\n    register in  {upstream.where}")
        print_verdicts(v for v in verdicts if v.provider == row.name)
        print()
    # The checks of no provider: the identity pool's own settings and roles.
    named = {row.name for row in rows}
    for name in dict.fromkeys(v.provider for v in verdicts if v.provider not in named):
        print(f"[{name}]")
        print_verdicts(v for v in verdicts if v.provider == name)
        print()
    failures = sum(v.status == "fail" for v in verdicts)
    print(f"{len(verdicts)} probes, {failures} failed, in {elapsed} s")


def print_verdicts(verdicts: Iterable[probes.Verdict]) -> None:
    for verdict in verdicts:
        print(f"  {MARKS[verdict.status]} {verdict.probe:18} {verdict.summary}")
        if verdict.status != "fail":
            continue
        if said := verdict.evidence.get("provider_says"):
            print(f"       the provider says: {said}")
        elif said := verdict.evidence.get("aws_says") or verdict.evidence.get("aws_message"):
            print(f"       AWS says: {said}")
