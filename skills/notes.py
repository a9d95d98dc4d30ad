"""Notes kept in a local SQLite file: each one is committed before the answer is given."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Annotated, Literal

import platformdirs

from assistant.context import current_context
from assistant.examples import utterance_key
from assistant.skill import Resolver, Span, skill

ASK_NOTE = "What should the note say?"
NoteText = Annotated[str, Span(), Resolver(lambda text: utterance_key(text) or None, ASK_NOTE)]


@skill
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
            saved = [row[0] for row in database.execute("SELECT text FROM notes ORDER BY id")]
    except (sqlite3.Error, OSError) as error:
        return f"I can't use the notes file {path}: {error}."
    if not saved:
        return "You have no notes."
    return f"You have {len(saved)} note{'' if len(saved) == 1 else 's'}: {'; '.join(saved)}."


def notes_path() -> Path:
    """The configured notes file, else notes.sqlite3 in the user data folder."""
    configured = current_context().config.notes.path
    if configured:
        return Path(configured).expanduser()
    return Path(platformdirs.user_data_dir("voxroute")) / "notes.sqlite3"


def _open(path: Path) -> sqlite3.Connection:
    """The notes database, private to the user: a folder it creates is 0700, the file (and so SQLite's journal) 0600."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    os.chmod(path, 0o600)  # also a file made by an older version or another tool
    database = sqlite3.connect(path)
    with database:
        database.execute(
            "CREATE TABLE IF NOT EXISTS notes ("
            "id INTEGER PRIMARY KEY, text TEXT NOT NULL, created TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
        )
    return database
