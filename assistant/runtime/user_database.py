"""A skill's own SQLite file in the user's data: private to the user, and never another program's file.

voxroute creates it (0600, in a 0700 folder, complete when it appears, marked with the skill's SQLite
application id) or opens one it made before, and refuses anything else at that path (a symbolic link,
another user's file, a file that is not such a database) without touching it. The notes skill keeps its
notes so, and a new skill that keeps data can too.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import tempfile
from collections.abc import Callable
from contextlib import closing, suppress
from pathlib import Path

SQLITE_MAGIC = b"SQLite format 3\x00"
APPLICATION_ID_OFFSET = 68  # where SQLite's header keeps the application id, 4 bytes big-endian


class NotOurs(Exception):
    """The path is not a database voxroute made; the message says why, as the end of a sentence."""


def open_user_database(
    path: Path,
    application_id: int,
    schema: str,
    kind: str,
    made_before: Callable[[Path], bool] | None = None,
) -> sqlite3.Connection:
    """The ``kind`` database at ``path`` ("notes"), created there with ``schema`` if nothing is; NotOurs for a
    file voxroute did not make. ``made_before``: whether an SQLite file without ``application_id`` is one a
    voxroute from before the id made."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        identity = _check(path, application_id, kind, made_before)
    except FileNotFoundError:
        _create(path, application_id, schema)
        identity = _check(path, application_id, kind, made_before)
    database = sqlite3.connect(f"{path.absolute().as_uri()}?mode=rw", uri=True)  # rw: never creates a file
    seen = os.lstat(path)
    if (seen.st_dev, seen.st_ino) != identity:  # replaced between the check and the open
        database.close()
        raise NotOurs("it changed while it was being opened")
    return database


def _check(path: Path, application_id: int, kind: str, made_before: Callable[[Path], bool] | None) -> tuple[int, int]:
    """The device and inode of the database at ``path``, read through no symbolic link; NotOurs if it is not one."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        if os.path.islink(path):
            raise NotOurs("it is a symbolic link") from None
        if isinstance(error, FileNotFoundError):
            raise
        raise NotOurs(f"it cannot be opened ({error.strerror})") from None
    try:
        found = os.fstat(descriptor)
        if not stat.S_ISREG(found.st_mode):
            raise NotOurs("it is not a regular file")
        if hasattr(os, "getuid") and found.st_uid != os.getuid():
            raise NotOurs("it belongs to another user")
        header = os.read(descriptor, APPLICATION_ID_OFFSET + 4)
    finally:
        os.close(descriptor)
    if not header.startswith(SQLITE_MAGIC):
        raise NotOurs("it is not an SQLite database")
    ours = int.from_bytes(header[APPLICATION_ID_OFFSET:], "big") == application_id
    if not ours and not (made_before is not None and made_before(path)):
        raise NotOurs(f"it is not {'an' if kind[:1] in 'aeiou' else 'a'} {kind} database made by voxroute")
    return found.st_dev, found.st_ino


def _create(path: Path, application_id: int, schema: str) -> None:
    """A new, empty database at ``path``, 0600 from the start and complete when it appears there.

    It is built in a temp file next to ``path`` and linked to it, which fails if anything appeared meanwhile:
    that is then checked like any other existing file.
    """
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    os.close(descriptor)
    try:
        with closing(sqlite3.connect(name)) as database, database:
            database.execute(f"PRAGMA application_id = {int(application_id)}")
            database.execute(schema)
        with suppress(FileExistsError):
            os.link(name, path)
    finally:
        os.unlink(name)
