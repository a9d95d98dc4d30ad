"""Notes in a real SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from assistant.config import Config, NotesConfig
from skills.notes import notes


def test_add_then_list(skill_context) -> None:
    skill_context()
    assert notes("add", "buy milk") == "Noted: buy milk."
    assert notes("add", "  call   mom. ") == "Noted: call mom."
    assert notes("list") == "You have 2 notes: buy milk; call mom."


def test_notes_persist_in_the_configured_file(skill_context, tmp_path: Path) -> None:
    path = tmp_path / "deep" / "notes.sqlite3"
    config = Config(notes=NotesConfig(path=str(path)))
    skill_context(config)
    notes("add", "water the plants")
    with sqlite3.connect(path) as database:
        assert database.execute("SELECT text FROM notes").fetchall() == [("water the plants",)]
    skill_context(Config(notes=NotesConfig(path=str(path))))
    assert notes("list") == "You have 1 note: water the plants."


def test_notes_are_private_to_the_user(skill_context, tmp_path: Path) -> None:
    path = tmp_path / "new-folder" / "notes.sqlite3"
    skill_context(Config(notes=NotesConfig(path=str(path))))
    notes("add", "the safe code is 1234")
    assert (path.stat().st_mode & 0o777, path.parent.stat().st_mode & 0o777) == (0o600, 0o700)
    older = tmp_path / "older.sqlite3"
    sqlite3.connect(older).close()
    older.chmod(0o644)
    skill_context(Config(notes=NotesConfig(path=str(older))))
    assert notes("list") == "You have no notes." and older.stat().st_mode & 0o777 == 0o600


def test_empty_list(skill_context) -> None:
    skill_context()
    assert notes("list") == "You have no notes."


def test_add_without_text(skill_context) -> None:
    skill_context()
    expected = "What should the note say? I didn't get any text to add."
    assert notes("add") == expected
    assert notes("add", "   ") == expected
    assert notes("list") == "You have no notes."


def test_unusable_file(skill_context, tmp_path: Path) -> None:
    path = tmp_path / "not-a-database.sqlite3"
    path.write_text("plain text, not SQLite " * 100)
    skill_context(Config(notes=NotesConfig(path=str(path))))
    assert notes("list") == f"I can't use the notes file {path}: file is not a database."
