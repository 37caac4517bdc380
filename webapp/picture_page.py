"""The picture of the visitor's sign-in: ``/account/sign-in``.

A sequence diagram of the visitor's last sign-in and their credentials request
after it, drawn from the steps :mod:`webapp.picture` kept, as inline SVG with
the same steps as an ordered list beside it. A visitor who is signed out, or
whose sign-in was made before there were pictures, is offered a sign-in here
rather than an error page: the picture is of the sign-in they are about to make.
"""

from __future__ import annotations

from flask import Blueprint, render_template

from . import picture, picture_layout, sessions
from .providers import registry

bp = Blueprint("picture_page", __name__, url_prefix="/account")


@bp.get("/sign-in")
def show() -> str:
    """The diagram when there is one; else the way to make one."""
    kept = picture.current()
    return render_template(
        "picture/sign_in.html",
        diagram=picture_layout.layout(kept) if kept is not None else None,
        picture=kept,
        signed_in=sessions.current_auth() is not None,
        providers=list(registry.providers().values()),
    )
