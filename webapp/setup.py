"""Start-up's first steps, in one place: the settings, the providers built from
them, and (for production) what production refuses.

The app factory runs them before it builds the app; code that needs them
without an app (``fedlab serve`` before it starts gunicorn, ``bench/``) runs
the same steps, so every entry point refuses the same configurations with the
same messages. Only this function applies production's refusals:
:func:`webapp.config.load_config` alone does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import production as production_checks
from .config import Settings, load_config
from .providers import Provider, build_all


@dataclass(frozen=True)
class Loaded:
    """What start-up reads: the validated settings and the providers built from them."""

    settings: Settings
    providers: Mapping[str, Provider]


def load(overrides: Mapping[str, Any] | None = None, *, production: bool = False) -> Loaded:
    """Load the settings, build the providers, then (``production``) refuse lab
    settings; each step raises :class:`webapp.config.ConfigError` naming the key."""
    settings = load_config(overrides, production=production)
    providers = build_all(settings.provider_tables)
    if production:
        production_checks.refuse_lab_settings(settings, providers)
    return Loaded(settings, providers)
