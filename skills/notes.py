"""Notes kept in a local SQLite file: each one is committed before the answer is given.

The file is the user's own data and nothing else (:mod:`assistant.runtime.user_database`): voxroute creates
it, marked with :data:`APPLICATION_ID`, or opens one it made before (one from before the id: by its table),
and refuses any other path without touching it.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Annotated, Literal

import platformdirs

from assistant.runtime.context import current_context
from assistant.runtime.example_files import utterance_key
from assistant.runtime.skill import Resolver, Span, skill
from assistant.runtime.user_database import NotOurs, open_user_database

ASK_NOTE = "What should the note say?"
NoteText = Annotated[str, Span(), Resolver(lambda text: utterance_key(text) or None, ASK_NOTE)]

MAX_READ_NOTES = 10  # read out in one answer, oldest first; the rest are counted
MAX_READ_NOTE_CHARS = 500  # of each note read out (a dictated note is at most a routed request long)
APPLICATION_ID = int.from_bytes(b"VXRN", "big")  # SQLite's header field for the program that made the file
SCHEMA = (
    "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL, created TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
)


@skill(confirm="[A note: {note}?]")
def notes(action: Literal["add", "list"], note: NoteText | None = None) -> str:
    """Add a note, or read the notes back."""
    text = " ".join((note or "").split()).rstrip(".")
    if action == "add" and not text:
        return f"{ASK_NOTE} I didn't get any text to add."
    path = notes_path()
    try:
        with closing(open_user_database(path, APPLICATION_ID, SCHEMA, "notes", _has_notes_table)) as database:
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


def _has_notes_table(path: Path) -> bool:
    """Whether a file from before the application id (or another SQLite file) has voxroute's notes table."""
    with closing(sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)) as database:
        columns = [row[1] for row in database.execute("PRAGMA table_info(notes)")]
    return columns == ["id", "text", "created"]
