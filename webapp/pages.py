"""The home page: one button per configured provider, and the visitor's state."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from . import sessions

bp = Blueprint("pages", __name__)


@bp.get("/")
def home() -> str:
    providers = current_app.config["FEDLAB"]["providers"].values()
    return render_template("pages/home.html", providers=providers,
                           auth=sessions.current_auth())
