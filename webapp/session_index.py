"""Which sessions belong to whom: an index kept in the session store itself.

Signing out everywhere, and an OpenID Connect back-channel logout, end
sessions that the request at hand did not open: every session of one person
(issuer and subject), or every session that one provider session (the id
token's ``sid``) began, in any browser and on any instance. So the store that
holds the sessions also holds, for each person and each provider session, the
ids of the sessions begun for them (:meth:`SessionIndex.add`, at sign-in), and
ending them is deleting those records (:meth:`SessionIndex.end`): a request
still running in one of them cannot write it back
(:meth:`~webapp.session_interface.ServerSessions.write` rewrites only a record
that still exists).

An index entry is a sealed record like a session (the store sees no person,
only ciphertext under a hashed name), mapping session ids to the moment the
session's absolute timeout ends it; entries past that are dropped whenever the
entry is written, and the record itself lives as long as its newest session
may. It is rewritten under a lock every instance shares (the store's own), so
two sign-ins of the same person at once both land. An entry may name a session
that has ended since (signed out, timed out): ending it again is harmless.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from typing import Any

from .errors import FedlabError
from .records import SignIn
from .session_interface import ServerSessions
from .session_store import open_record

#: Seconds to wait for an index entry's lock; a sign-in that cannot get it in
#: this time ends on the store's page rather than begin a session that no
#: sign-out everywhere would find.
LOCK_SECONDS = 5.0
#: Seconds an ending's mark is kept (:meth:`SessionIndex.mark_ended`): longer
#: than a sign-in may wait for the index's lock, and the store's timeouts.
MARK_LIFETIME = 60
#: Session ids, each with the moment (epoch seconds) it ends at the latest.
Members = dict[str, int]


class SessionIndex:
    """The sessions of each person and of each provider session, in ``interface``'s store."""

    def __init__(self, interface: ServerSessions, absolute_timeout: int) -> None:
        self.interface = interface
        self.absolute_timeout = absolute_timeout

    # -- names ----------------------------------------------------------------

    def _entry_id(self, what: str, *parts: str) -> str:
        digest = hashlib.sha256("\0".join((what, *parts)).encode()).hexdigest()
        # ":" never occurs in a session id (webapp.session_interface.SID), so an
        # entry's name can never be a session's, nor a cookie open it.
        return f"{self.interface.key_prefix}index:{what}:{digest}"

    def person(self, iss: str, sub: str) -> str:
        """The entry of the sessions of the person ``iss``/``sub``."""
        return self._entry_id("person", iss, sub)

    def provider_session(self, iss: str, sid: str) -> str:
        """The entry of the sessions begun by the provider session ``sid`` of ``iss``."""
        return self._entry_id("sid", iss, sid)

    def entries_of(self, auth: SignIn) -> list[str]:
        """The entries a session of ``auth`` belongs in: its person's, and its
        provider session's when the id token named one (``sid``)."""
        entries = [self.person(auth.iss, auth.sub)]
        provider_sid = auth.claims.get("sid")
        if isinstance(provider_sid, str) and provider_sid:
            entries.append(self.provider_session(auth.iss, provider_sid))
        return entries

    # -- reading and writing ----------------------------------------------------

    def members(self, entry_id: str, now: float | None = None) -> Members:
        """The sessions listed under ``entry_id`` that may still be alive, with the
        moment (epoch seconds) each ends at the latest."""
        now = time.time() if now is None else now
        return self._live(open_record(self.interface.sealer, self.interface.store.read(entry_id),
                                      entry_id), now)

    @staticmethod
    def _live(data: dict[str, Any] | None, now: float) -> Members:
        return {str(sid): int(until) for sid, until in (data or {}).items()
                if isinstance(until, int) and until > now}

    def add(self, auth: SignIn, sid: str, begun: float) -> bool:
        """List the session ``sid``, begun at ``begun`` for ``auth``, under each of
        its entries; then whether sessions of those entries were ended at or after
        ``begun`` (:meth:`mark_ended`): the marks are read once every entry is
        written (with Redis, in the same round trip as the writes)."""
        until = int(begun) + self.absolute_timeout
        entries = self.entries_of(auth)
        marks = [f"{entry_id}:ended" for entry_id in entries]
        found = self.interface.store.rewrite_all_locked(
            entries, LOCK_SECONDS,
            lambda entry_id, stored: self._rewritten(
                entry_id, stored, lambda members: members | {sid: until}),
            then_read=marks)
        if found is None:
            raise FedlabError("session_store_down", detail="index lock")
        return self._marked_since(marks, found, begun)

    def _rewritten(self, entry_id: str, stored: bytes | None,
                   change: Callable[[Members], Members]) -> tuple[bytes | None, int]:
        """The sealed entry ``change`` makes of the live members of ``stored``, and its
        lifetime: as long as its newest session may live. None when no member is left."""
        now = time.time()
        members = change(self._live(open_record(self.interface.sealer, stored, entry_id), now))
        if not members:
            return None, 0
        ttl = max(1, int(max(members.values()) - now))
        return self.interface.sealer.seal(members, entry_id), ttl

    # -- ending ------------------------------------------------------------------

    def mark_ended(self, entry_id: str, at: float) -> None:
        """Note that the sessions under ``entry_id`` are being ended at ``at``.

        A sign-in stores its session, then lists it here: an ending that reads
        the entry between the two misses it. So the ending leaves this mark
        first, and a sign-in that began before it and listed its session after
        it (:meth:`add`, given when it began) gives its session up. The mark needs to last
        only as long as a sign-in may wait on the entry's lock, and lasts
        :data:`MARK_LIFETIME`.
        """
        mark = f"{entry_id}:ended"
        record = self.interface.sealer.seal({"at": at}, mark)
        store = self.interface.store
        if not store.update(mark, record, MARK_LIFETIME):
            store.create(mark, record, MARK_LIFETIME)

    def _marked_since(self, marks: list[str], records: list[bytes | None],
                      begun: float) -> bool:
        """Whether any of the ending ``marks`` (their ``records``) is at or after ``begun``."""
        for mark, record in zip(marks, records, strict=True):
            at = (open_record(self.interface.sealer, record, mark) or {}).get("at")
            if isinstance(at, int | float) and at >= begun:
                return True
        return False

    def sessions_of(self, iss: str, sub: str | None = None,
                    provider_sid: str | None = None) -> set[str]:
        """The ids of the sessions of ``iss``'s person ``sub``, of its provider
        session ``provider_sid``, or, given both, of that person in that provider
        session (OpenID Connect Back-Channel Logout 1.0, 2.4)."""
        if sub is None and provider_sid is None:
            raise ValueError("a subject, a provider session, or both")
        found: set[str] | None = None
        if sub is not None:
            found = set(self.members(self.person(iss, sub)))
        if provider_sid is not None:
            of_sid = set(self.members(self.provider_session(iss, provider_sid)))
            found = of_sid if found is None else found & of_sid
        return found or set()

    def end(self, sids: Iterable[str]) -> int:
        """Delete the sessions ``sids`` from the store now; how many still existed."""
        ended = 0
        store = self.interface.store
        for sid in sids:
            store_id = self.interface.store_id(sid)
            if store.read(store_id) is not None:
                ended += 1
            store.delete(store_id)
        return ended
