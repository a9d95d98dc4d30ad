"""Notes kept in a local SQLite file: each one is committed before the answer is given.

The file is the user's own data and nothing else: voxroute creates it (0600, in a 0700 folder, marked with
:data:`APPLICATION_ID`) or opens one it made before, and refuses any other path (a symbolic link, another
user's file, a file that is not a notes database) without touching it.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import tempfile
from contextlib import closing, suppress
from pathlib import Path
from typing import Annotated, Literal

import platformdirs

from assistant.runtime.context import current_context
from assistant.runtime.example_files import utterance_key
from assistant.runtime.skill import Resolver, Span, skill

ASK_NOTE = "What should the note say?"
NoteText = Annotated[str, Span(), Resolver(lambda text: utterance_key(text) or None, ASK_NOTE)]

MAX_READ_NOTES = 10  # read out in one answer, oldest first; the rest are counted
MAX_READ_NOTE_CHARS = 500  # of each note read out (a dictated note is at most a routed request long)
APPLICATION_ID = int.from_bytes(b"VXRN", "big")  # SQLite's header field for the program that made the file
SQLITE_MAGIC = b"SQLite format 3\x00"
APPLICATION_ID_OFFSET = 68  # where the header keeps the application id, 4 bytes big-endian
SCHEMA = (
    "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL, created TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
)


class NotOurs(Exception):
    """The notes path is not a notes file voxroute made; the message says why, as the end of a sentence."""


@skill(confirm="[A note: {note}?]")
def notes(action: Literal["add", "list"], note: NoteText | None = None) -> str:
    """Add a note, or read the notes back."""
    text = " ".join((note or "").split()).rstrip(".")
    if action == "add" and not text:
        return f"{ASK_NOTE} I didn't get any text to add."
    path = notes_path()
    try:
        with closing(_open(path)) as database:
            if action == "add":
                with database:
                    database.execute("INSERT INTO notes (text) VALUES (?)", (text,))
                return f"Noted: {text}."
            (count,) = database.execute("SELECT count(*) FROM notes").fetchone()
            first = database.execute(
                "SELECT substr(text, 1, ?), length(text) > ? FROM notes ORDER BY id LIMIT ?",
                (MAX_READ_NOTE_CHARS, MAX_READ_NOTE_CHARS, MAX_READ_NOTES),
            ).fetchall()
    except NotOurs as error:
        return f"I won't use the notes file {path}: {error}."
    except (sqlite3.Error, OSError) as error:
        return f"I can't use the notes file {path}: {error}."
    if not count:
        return "You have no notes."
    read = "; ".join(f"{note}…" if cut else note for note, cut in first)
    rest = f"; and {count - len(first)} more" if count > len(first) else ""
    return f"You have {count} note{'' if count == 1 else 's'}: {read}{rest}."


def notes_path() -> Path:
    """The configured notes file, else notes.sqlite3 in the user data folder."""
    configured = current_context().config.notes.path
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_data_dir("voxroute")) / "notes.sqlite3"


def _open(path: Path) -> sqlite3.Connection:
    """The notes database at ``path``, created there if nothing is; NotOurs for a file voxroute did not make."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        identity = _check(path)
    except FileNotFoundError:
        _create(path)
        identity = _check(path)
    database = sqlite3.connect(f"{path.absolute().as_uri()}?mode=rw", uri=True)  # rw: never creates a file
    seen = os.lstat(path)
    if (seen.st_dev, seen.st_ino) != identity:  # replaced between the check and the open
        database.close()
        raise NotOurs("it changed while it was being opened")
    return database


def _check(path: Path) -> tuple[int, int]:
    """The device and inode of the notes file at ``path``, read through no symbolic link; NotOurs if it is not one."""
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
    if int.from_bytes(header[APPLICATION_ID_OFFSET:], "big") != APPLICATION_ID and not _has_notes_table(path):
        raise NotOurs("it is not a notes database made by voxroute")
    return found.st_dev, found.st_ino


def _has_notes_table(path: Path) -> bool:
    """Whether a file from before the application id (or another SQLite file) has voxroute's notes table."""
    with closing(sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)) as database:
        columns = [row[1] for row in database.execute("PRAGMA table_info(notes)")]
    return columns == ["id", "text", "created"]


def _create(path: Path) -> None:
    """A new, empty notes database at ``path``, 0600 from the start and complete when it appears there.

    It is built in a temp file next to ``path`` and linked to it, which fails if anything appeared meanwhile:
    that is then checked like any other existing file.
    """
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    os.close(descriptor)
    try:
        with closing(sqlite3.connect(name)) as database, database:
            database.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            database.execute(SCHEMA)
        with suppress(FileExistsError):
            os.link(name, path)
    finally:
        os.unlink(name)
