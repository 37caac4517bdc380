"""The picture of a visitor's last sign-in and credentials request: which steps to keep.

The layers below note each step as it happens (:mod:`webapp.steps`); this
service puts a request's steps together with what only the browser's side
shows (the GET of ``/auth/<name>/login``, the redirect to the provider, the
time spent on the provider's pages, the callback) and keeps them in the
visitor's server-side session as one bounded :class:`~webapp.steps.Picture`.

Three moments make it: the login's redirect (:func:`login_sent`, kept "under
way" until the callback), the callback that signed the visitor in
(:func:`take_under_way`, then :func:`of_sign_in`), and any later request that
made AWS calls for that same sign-in (the credentials page, a storage page
renewing them), which :func:`init_app`'s ``after_request`` keeps as the
credentials request, the latest one replacing the one before.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
from flask import Flask, Response, g, request, session

from . import sessions, steps
from .providers import Provider
from .records import SignIn
from .session_interface import PICTURE_UNDER_WAY
from .steps import BROWSER, POOL, PROVIDER, SITE, STS, Picture, Step

#: Session keys: the finished picture, and the login still waiting for its callback.
KEY = "sign_in_picture"
#: A session holding only the latter (and the pending sign-in) lives briefly, as one
#: holding only the pending sign-in does (:data:`webapp.session_interface.BRIEF_KEYS`).
UNDER_WAY = PICTURE_UNDER_WAY


def init_app(app: Flask) -> None:
    """Time every request from its start; keep a request's AWS calls for the picture."""
    app.before_request(started)
    app.after_request(keep_credentials_request)


def started() -> None:
    g.picture_started = time.perf_counter()


def elapsed_ms() -> int | None:
    begun = g.get("picture_started")
    return None if begun is None else round((time.perf_counter() - begun) * 1000)


def browser_request(what: str, outcome: str) -> Step:
    """This request, as the browser sent it: the names of its query and form fields,
    bounded (the browser chooses how many there are)."""
    names = [*request.args.keys(), *request.form.keys()]
    return Step(source=BROWSER, target=SITE, what=what,
                method=request.method, path=request.path, params=steps.unique(names),
                ms=elapsed_ms(), outcome=outcome).bounded()


# -- the sign-in ------------------------------------------------------------------------------


def login_sent(provider: Provider, authorization_url: str) -> None:
    """The login answered with a redirect to ``authorization_url``: keep its steps
    until the callback comes back."""
    made = (
        browser_request("sign in", "302"),
        *steps.noted(),
        Step(source=BROWSER, target=PROVIDER, what="authorize", method="GET",
             path=steps.path_of(authorization_url),
             params=steps.unique(steps.query_names(authorization_url)),
             note="the redirect, followed by the browser"),
    )
    session[UNDER_WAY] = {"provider": provider.name, "at": time.time(),
                          "steps": msgspec.to_builtins(steps.kept(made))}


def take_under_way(provider: Provider) -> tuple[tuple[Step, ...], float | None]:
    """The login steps kept for ``provider``'s callback, and when its redirect went."""
    kept = session.pop(UNDER_WAY, None)
    if not isinstance(kept, dict) or kept.get("provider") != provider.name:
        return (), None
    try:
        made = steps.kept(msgspec.convert(kept.get("steps", ()), tuple[Step, ...]))
        at = float(kept["at"])
    except (msgspec.ValidationError, TypeError, ValueError, KeyError):
        return (), None
    return made, at


def of_sign_in(provider: Provider, under_way: tuple[tuple[Step, ...], float | None],
               auth: SignIn) -> dict[str, Any]:
    """The callback is signing the visitor in as ``auth``: the whole sign-in as the
    picture, which the new session keeps from its first write
    (:func:`webapp.signin.finish`'s ``also_keep``) rather than write again."""
    login, sent_at = under_way
    callback = browser_request("callback", "302")
    before: list[Step] = list(login)
    if sent_at is not None:
        spent = round((time.time() - sent_at) * 1000) - (callback.ms or 0)
        before.append(Step(source=PROVIDER, target=BROWSER, what="the provider's pages",
                           ms=max(spent, 0), outcome="answered",
                           note="the visitor's time at the provider, until the callback"))
    if provider.response_mode == "form_post":
        # The provider's page posted the answer; the POST only bounced it here (303).
        before.append(Step(source=BROWSER, target=SITE, what="callback (form_post)",
                           method="POST", path=request.path, params=callback.params,
                           outcome="303", note="posted by the provider's page, "
                                               "sent on as this GET"))
    return {KEY: Picture(
        provider=provider.name, provider_name=provider.display_name,
        signed_in_at=auth.signed_in_at,
        sign_in=steps.kept([*before, callback, *steps.noted()]),
    ).packed()}


# -- the credentials request ---------------------------------------------------------------


def current() -> Picture | None:
    """The picture of the visitor's sign-in, if they are still signed in with it."""
    picture = Picture.load(session.get(KEY))
    auth = sessions.current_auth()
    if picture is None or auth is None or auth.signed_in_at != picture.signed_in_at:
        return None
    return picture


def keep_credentials_request(response: Response) -> Response:
    """A request that made AWS calls for the pictured sign-in is its credentials request."""
    noted = steps.noted()
    if not any(step.target in (POOL, STS) for step in noted):
        return response
    picture = current()
    if picture is not None:
        made = (browser_request("credentials", str(response.status_code)), *noted)
        session[KEY] = msgspec.structs.replace(
            picture, credentials=steps.kept(made), credentials_at=int(time.time())).packed()
    return response
