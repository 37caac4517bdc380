"""The picture of the visitor's sign-in: ``/account/sign-in``.

A sequence diagram of the visitor's last sign-in and their credentials request
after it, drawn from the steps :mod:`webapp.picture` kept, as inline SVG with
the same steps as an ordered list beside it. A visitor who is signed out (or a
guest) is offered a sign-in here, as the account page does and with its status
(401, :attr:`webapp.errors.Guide.status`): the picture is of the sign-in they are
about to make. One whose sign-in was made before there were pictures is offered
a new sign-in on the page itself.
"""

from __future__ import annotations

from flask import Blueprint, render_template, url_for

from . import guests, picture, picture_layout, sessions
from .errors import Guide, sign_in_offer

bp = Blueprint("picture_page", __name__, url_prefix="/account")


#: What the page is for, said to a visitor who has no picture to see yet.
LEAD = ("Sign in, and this page draws your sign-in step by step: every request between "
        "your browser, this site and the provider, and then the identity pool and STS.")


@bp.get("/sign-in")
def show() -> str | tuple[str, int]:
    """The diagram when there is one; else the way to make one."""
    here = url_for("picture_page.show")
    if sessions.current_auth() is None:
        return sign_in_offer(Guide(
            heading="Your sign-in, step by step", lead=LEAD, next_path=here,
            guest_identity=guests.guest_identity_id()))
    kept = picture.current()
    return render_template(
        "picture/sign_in.html",
        diagram=picture_layout.layout(kept) if kept is not None else None,
        picture=kept,
        guide=Guide(heading="Sign in again", lead="There is no picture of your current "
                    "sign-in yet: sign in again to see one.", next_path=here),
    )
