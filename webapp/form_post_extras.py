"""The extra fields of a ``form_post`` answer, kept between its POST and its GET.

Sign in with Apple posts the visitor's name (``user``) beside the authorization
response, and only on the first authorization of the app by that person. The
POST comes without the ``SameSite=Lax`` session cookie, so it cannot put the
field in the session, and the 303 it answers with must not carry it in a URL
(webapp/providers/base.py, "How a callback arrives"). So the POST seals the
fields a kind declares (``FORM_POST_EXTRAS``) into the session store under a
name derived from the ``state``, for :data:`LIFETIME` seconds, and the GET
callback takes them (read and delete: once) after the state matched a sign-in
this browser started. Only whoever holds the state, the browser that began the
sign-in, can post fields that the sign-in then reads; and the kind reads them
only after the token response verified.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from . import sessions
from .session_interface import BRIEF_LIFETIME
from .session_store import open_record

#: How long posted fields wait for their GET: as long as a sign-in may take.
LIFETIME = BRIEF_LIFETIME


def _store_id(state: str) -> str:
    interface = sessions.sessions()
    digest = hashlib.sha256(("form_post\0" + state).encode()).hexdigest()
    # ":" never occurs in a session id, so no cookie can name this record.
    return f"{interface.key_prefix}form_post:{digest}"


def keep(state: str, fields: Mapping[str, str]) -> None:
    """Seal ``fields`` under ``state`` for :data:`LIFETIME`; the first POST of a
    state wins (the same answer posted twice keeps the first)."""
    if not state or not fields:
        return
    interface = sessions.sessions()
    store_id = _store_id(state)
    interface.store.create(store_id, interface.sealer.seal(dict(fields), store_id), LIFETIME)


def take(state: str) -> dict[str, str]:
    """The fields kept under ``state``, removed: each state's fields are read once."""
    if not state:
        return {}
    interface = sessions.sessions()
    store_id = _store_id(state)
    data = open_record(interface.sealer, interface.store.read(store_id), store_id) or {}
    interface.store.delete(store_id)
    return {str(k): str(v) for k, v in data.items() if isinstance(v, str)}
