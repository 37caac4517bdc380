"""Sessions in plain files (``session.type = "cachelib"``): sealed bytes, nothing else.

A file holds exactly the record it was given, the sealed bytes, so nothing
read from the folder is decoded before :class:`~webapp.session_store.Sealer`
has checked its seal: a planted or altered file is simply no session. (The
cachelib store used before unpickled every file it read, seal or not.)

A record is ``<folder>/<hh>/<sha256 of its store id>``, and the file's
modification time is the moment it expires. Reading an expired file deletes
it; each new record sweeps one of the 256 ``<hh>`` folders in turn, so the
work of a sweep is a 256th of the files and expired ones do not pile up.

No write brings back a deleted record: a new one is written to a temporary
file and linked into place (which fails if a record exists); an update opens
the existing file (which fails once it is deleted) and rewrites it in place
under an exclusive lock, so a deletion meanwhile leaves the update in the
unlinked file, out of sight. Readers take a shared lock and never see half a
record.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
import tempfile
import threading
import time
from pathlib import Path

from .session_store import SessionStore

#: Sub-folders, by the first two hex digits of the file name.
SHARDS = 256
TEMP_PREFIX = ".new-"
#: A temporary file older than this (seconds) was left by a crash mid-write.
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
        path.parent.mkdir(exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(record)
                f.flush()
                self._expire_at(f.fileno(), ttl)
            try:
                os.link(temp, path)
            except FileExistsError:
                return False
        finally:
            os.unlink(temp)
        self.sweep()
        return True

    def update(self, store_id: str, record: bytes, ttl: int) -> bool:
        try:
            f = self.path(store_id).open("r+b")
        except FileNotFoundError:
            return False
        with f:
            fcntl.flock(f, fcntl.LOCK_EX)
            status = os.fstat(f.fileno())
            # Deleted while this waited for the lock, or expired: not written back.
            if status.st_nlink == 0 or status.st_mtime <= now():
                return False
            f.write(record)
            f.truncate()
            f.flush()
            self._expire_at(f.fileno(), ttl)
        return True

    def delete(self, store_id: str) -> None:
        self.path(store_id).unlink(missing_ok=True)

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
                elif expires <= current:
                    Path(entry.path).unlink(missing_ok=True)
                    removed += 1
        return removed

    def _expire_at(self, fd: int, ttl: int) -> None:
        expires = now() + ttl
        os.utime(fd, (expires, expires))
