"""The home page: one button per configured provider, and the visitor's state."""

from __future__ import annotations

from flask import Blueprint, render_template

from . import sessions
from .providers import registry

bp = Blueprint("pages", __name__)


@bp.get("/")
def home() -> str:
    providers = registry.providers().values()
    return render_template("pages/home.html", providers=providers,
                           auth=sessions.current_auth())
