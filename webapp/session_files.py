"""Sessions in plain files (``session.type = "files"``): sealed bytes, nothing else.

A file holds exactly the record it was given, the sealed bytes, so nothing
read from the folder is decoded before :class:`~webapp.session_store.Sealer`
has checked its seal: a planted or altered file is simply no session. (The
cachelib store used before unpickled every file it read, seal or not.)

A record is ``<folder>/<hh>/<sha256 of its store id>``, and the file's
modification time is the moment it expires. Reading an expired file deletes
it; each new record sweeps one of the 256 ``<hh>`` folders in turn, so the
work of a sweep is a 256th of the files and expired ones do not pile up.

No write brings back a deleted record, and none leaves a record half
written: every record is first written whole to a temporary file beside it.
A new one is then linked into place (which fails if a record exists); an
update takes the existing file's exclusive lock, checks that it is still the
record (not deleted, not replaced meanwhile: then it tries the newer one) and
renames the temporary file over it. A deletion takes the same lock before it
unlinks, so it comes wholly before or after an update. A write that fails (a
full disk) leaves the record as it was. Readers take a shared lock.

Locks (:meth:`FileStore.lock`, the refresh lock) are ``flock`` locks on small
files beside the records, so every process of the machine shares them, as
every worker of ``fedlab serve`` must.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .session_store import LOCK_RETRY, SessionStore

#: Sub-folders, by the first two hex digits of the file name.
SHARDS = 256
TEMP_PREFIX = ".new-"
LOCK_PREFIX = ".lock-"
#: A temporary file older than this (seconds) was left by a crash mid-write; a
#: lock file unused this long is swept too.
STALE_TEMP = 3600
#: Bytes read of a record at most; a real one is a few KiB, a planted giant
#: is cut short, and then does not open.
MAX_RECORD = 1 << 20


def now() -> float:
    """The clock expiry is read from; tests move it forward instead of sleeping."""
    return time.time()


class FileStore(SessionStore):
    """Records as files under ``folder``."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._cursor = secrets.randbelow(SHARDS)  # instances sweep different folders
        self._cursor_lock = threading.Lock()

    def path(self, store_id: str) -> Path:
        name = hashlib.sha256(store_id.encode()).hexdigest()
        return self.folder / name[:2] / name

    def read(self, store_id: str) -> bytes | None:
        path = self.path(store_id)
        try:
            f = path.open("rb")
        except FileNotFoundError:
            return None
        with f:
            fcntl.flock(f, fcntl.LOCK_SH)
            if os.fstat(f.fileno()).st_mtime > now():
                return f.read(MAX_RECORD)
        path.unlink(missing_ok=True)  # expired: gone for good
        return None

    def create(self, store_id: str, record: bytes, ttl: int) -> bool:
        path = self.path(store_id)
        temp = self._written(path, record, ttl)
        try:
            os.link(temp, path)
        except FileExistsError:
            return False
        finally:
            os.unlink(temp)
        self.sweep()
        return True

    def update(self, store_id: str, record: bytes, ttl: int) -> bool:
        path = self.path(store_id)
        if not path.exists():
            return False
        temp = self._written(path, record, ttl)
        try:
            with self._locked_record(path) as status:
                # Deleted (signed out meanwhile) or expired: not written back.
                if status is None or status.st_mtime <= now():
                    return False
                os.replace(temp, path)
                return True
        finally:
            Path(temp).unlink(missing_ok=True)

    def delete(self, store_id: str) -> None:
        path = self.path(store_id)
        with self._locked_record(path) as status:
            if status is not None:
                path.unlink(missing_ok=True)

    @contextmanager
    def _locked_record(self, path: Path) -> Iterator[os.stat_result | None]:
        """Hold the exclusive lock of the record at ``path`` as it is now; yields
        its status, or None when there is none. A record replaced while this
        waited is locked again in its new version, so the caller acts on the
        record in place, never on an old copy."""
        while True:
            try:
                f = path.open("rb")
            except FileNotFoundError:
                yield None
                return
            with f:
                fcntl.flock(f, fcntl.LOCK_EX)
                status = os.fstat(f.fileno())
                try:
                    current = path.stat()
                except FileNotFoundError:
                    current = None
                if current is not None and (current.st_ino, current.st_dev) != (
                        status.st_ino, status.st_dev):
                    continue  # replaced meanwhile: lock the newer one
                yield status if current is not None else None
                return

    def _written(self, path: Path, record: bytes, ttl: int) -> str:
        """A temporary file beside ``path`` holding ``record`` whole, expiring in ``ttl``."""
        path.parent.mkdir(exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(record)
                f.flush()
                self._expire_at(f.fileno(), ttl)
        except BaseException:
            os.unlink(temp)
            raise
        return temp

    @contextmanager
    def lock(self, name: str, seconds: float) -> Iterator[bool]:
        """An ``flock`` on a lock file beside the records: shared by every thread
        and process of this machine (each ``open`` is its own lock holder)."""
        digest = hashlib.sha256(name.encode()).hexdigest()
        path = self.folder / digest[:2] / f"{LOCK_PREFIX}{digest}"
        path.parent.mkdir(exist_ok=True)
        deadline = time.monotonic() + seconds
        while True:
            f = path.open("a+b")
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.close()
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(LOCK_RETRY)
                continue
            if self._same_file(f, path):  # not swept away while this waited
                break
            f.close()
        with f:
            os.utime(f.fileno())  # in use: the sweep leaves it
            yield True

    @staticmethod
    def _same_file(f: object, path: Path) -> bool:
        try:
            current = path.stat()
        except FileNotFoundError:
            return False
        status = os.fstat(f.fileno())  # type: ignore[attr-defined]
        return (current.st_ino, current.st_dev) == (status.st_ino, status.st_dev)

    def sweep(self) -> int:
        """Delete the expired records of the next sub-folder; how many went."""
        with self._cursor_lock:
            shard = self.folder / f"{self._cursor:02x}"
            self._cursor = (self._cursor + 1) % SHARDS
        current, removed = now(), 0
        try:
            entries = os.scandir(shard)
        except FileNotFoundError:
            return 0
        with entries:
            for entry in entries:
                try:
                    expires = entry.stat().st_mtime
                except FileNotFoundError:
                    continue
                if entry.name.startswith(TEMP_PREFIX):
                    if expires < time.time() - STALE_TEMP:
                        Path(entry.path).unlink(missing_ok=True)
                elif entry.name.startswith(LOCK_PREFIX):
                    if expires < time.time() - STALE_TEMP:
                        self._sweep_lock(Path(entry.path))
                elif expires <= current:
                    Path(entry.path).unlink(missing_ok=True)
                    removed += 1
        return removed

    @staticmethod
    def _sweep_lock(path: Path) -> None:
        """Remove a lock file nobody holds (taking it first, so no holder loses it)."""
        try:
            f = path.open("rb")
        except FileNotFoundError:
            return
        with f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            path.unlink(missing_ok=True)

    def _expire_at(self, fd: int, ttl: int) -> None:
        expires = now() + ttl
        os.utime(fd, (expires, expires))
