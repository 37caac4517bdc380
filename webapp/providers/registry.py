"""The app's providers: built once, at start-up (:func:`webapp.setup.load`), and
kept on the app for every request to look up by name."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from flask import Flask, current_app

from ..errors import FedlabError
from . import Provider

EXTENSION = "fedlab.providers"


def init_app(app: Flask, built: Mapping[str, Provider]) -> None:
    """Keep the ``built`` providers as ``app``'s, read-only; the templates see them
    as ``configured``."""
    kept = MappingProxyType(dict(built))
    app.extensions[EXTENSION] = kept
    app.context_processor(lambda: {"configured": kept})


def providers(app: Flask | None = None) -> Mapping[str, Provider]:
    """Every provider of ``app`` (by default the current app), by name, in the
    configuration's order."""
    return (app or current_app).extensions[EXTENSION]  # type: ignore[no-any-return]


def get(name: str) -> Provider:
    """The current app's provider ``name``; an unknown name is the visitor's error
    (a hand-made URL, or a provider removed since the sign-in started)."""
    provider = providers().get(name)
    if provider is None:
        raise FedlabError("unknown_provider", provider=name)
    return provider
