"""Notes in a real SQLite file."""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest

from assistant.config import Config, NotesConfig
from skills.notes import APPLICATION_ID, MAX_READ_NOTE_CHARS, MAX_READ_NOTES, notes


def test_add_then_list(skill_context) -> None:
    skill_context()
    assert notes("add", "buy milk") == "Noted: buy milk."
    assert notes("add", "  call   mom. ") == "Noted: call mom."
    assert notes("list") == "You have 2 notes: buy milk; call mom."


def test_notes_persist_in_the_configured_file(skill_context, tmp_path: Path) -> None:
    path = tmp_path / "deep" / "a folder?#%20" / "notes.sqlite3"  # opened as a file: URI, so these are escaped
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
    with closing(sqlite3.connect(path)) as database:
        assert database.execute("PRAGMA application_id").fetchone() == (APPLICATION_ID,)
    assert [entry.name for entry in path.parent.iterdir()] == ["notes.sqlite3"]  # no temp file left


def test_a_notes_file_of_an_older_version_is_used_as_it_is(skill_context, tmp_path: Path) -> None:
    older = tmp_path / "older.sqlite3"
    with closing(sqlite3.connect(older)) as database, database:
        database.execute(
            "CREATE TABLE IF NOT EXISTS notes ("
            "id INTEGER PRIMARY KEY, text TEXT NOT NULL, created TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
        )
        database.execute("INSERT INTO notes (text) VALUES ('feed the cat')")
    older.chmod(0o640)
    skill_context(Config(notes=NotesConfig(path=str(older))))
    assert notes("add", "buy bread") == "Noted: buy bread."
    assert notes("list") == "You have 2 notes: feed the cat; buy bread."
    assert older.stat().st_mode & 0o777 == 0o640  # voxroute did not make it 0640, so it does not change it


def unchanged(path: Path) -> tuple[int, bytes]:
    """What refusing a file must leave as it was: its mode and its bytes."""
    return path.lstat().st_mode, path.read_bytes()


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "it is not an SQLite database"),
        (b"plain text, not SQLite " * 100, "it is not an SQLite database"),
        ("other app", "it is not a notes database made by voxroute"),
    ],
)
def test_a_file_voxroute_did_not_make_is_refused_untouched(skill_context, tmp_path: Path, content, reason) -> None:
    path = tmp_path / "mine.sqlite3"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:  # another program's SQLite database, with a table called notes of its own
        with closing(sqlite3.connect(path)) as database, database:
            database.execute("CREATE TABLE notes (title TEXT, body TEXT)")
    path.chmod(0o644)
    before = unchanged(path)
    skill_context(Config(notes=NotesConfig(path=str(path))))
    for action in ("list", "add"):
        assert notes(action, "buy milk") == f"I won't use the notes file {path}: {reason}."
    assert unchanged(path) == before
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["mine.sqlite3"]


def test_a_symbolic_link_is_refused_and_its_target_untouched(skill_context, tmp_path: Path) -> None:
    target = tmp_path / "real" / "notes.sqlite3"
    skill_context(Config(notes=NotesConfig(path=str(target))))
    notes("add", "a note of the real file")
    target.chmod(0o644)
    before = unchanged(target)
    for link_to in (target, tmp_path / "nowhere.sqlite3"):
        link = tmp_path / f"link-to-{link_to.stem}"
        link.symlink_to(link_to)
        skill_context(Config(notes=NotesConfig(path=str(link))))
        for action in ("list", "add"):
            assert notes(action, "sneaky") == f"I won't use the notes file {link}: it is a symbolic link."
    assert unchanged(target) == before and not (tmp_path / "nowhere.sqlite3").exists()


@pytest.mark.skipif(not Path("/proc/version").exists(), reason="needs Linux's /proc")
def test_a_system_file_and_a_folder_are_refused(skill_context, tmp_path: Path) -> None:
    system = Path("/proc/version")
    mode = system.stat().st_mode
    skill_context(Config(notes=NotesConfig(path=str(system))))
    reason = "it is not an SQLite database" if os.getuid() == 0 else "it belongs to another user"
    assert notes("list") == f"I won't use the notes file {system}: {reason}."
    assert system.stat().st_mode == mode
    skill_context(Config(notes=NotesConfig(path=str(tmp_path))))
    assert notes("list") == f"I won't use the notes file {tmp_path}: it is not a regular file."


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() != 0, reason="only root can give a file away")
def test_another_users_notes_file_is_refused(skill_context, tmp_path: Path) -> None:
    path = tmp_path / "theirs.sqlite3"
    skill_context(Config(notes=NotesConfig(path=str(path))))
    notes("add", "their secret")
    os.chown(path, 65534, 65534)
    before = unchanged(path)
    assert notes("list") == f"I won't use the notes file {path}: it belongs to another user."
    assert unchanged(path) == before


def test_twenty_thousand_notes_are_counted_and_the_first_read_at_once(skill_context, tmp_path: Path) -> None:
    path = tmp_path / "many.sqlite3"
    skill_context(Config(notes=NotesConfig(path=str(path))))
    notes("add", "note 1")
    with closing(sqlite3.connect(path)) as database, database:
        database.executemany("INSERT INTO notes (text) VALUES (?)", ((f"note {n}",) for n in range(2, 20_001)))
        database.execute("INSERT INTO notes (text) VALUES (?)", ("long " * 50_000,))
    start = time.monotonic()
    answer = notes("list")
    assert time.monotonic() - start < 10  # the whole list took minutes to say (and to scan for a question)
    first = "; ".join(f"note {n}" for n in range(1, MAX_READ_NOTES + 1))
    assert answer == f"You have 20001 notes: {first}; and {20_001 - MAX_READ_NOTES} more."
    with closing(sqlite3.connect(path)) as database, database:
        database.execute("DELETE FROM notes WHERE id > 1 AND id < 20001")
    assert notes("list") == f"You have 2 notes: note 1; {('long ' * 100)[:MAX_READ_NOTE_CHARS]}…."


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
    path = tmp_path / "notes.sqlite3"
    skill_context(Config(notes=NotesConfig(path=str(path))))
    notes("add", "one")
    path.write_bytes(path.read_bytes()[:60])  # cut short: still an SQLite header, but no database
    answer = notes("list")
    assert answer.startswith(f"I can't use the notes file {path}: ") and "\n" not in answer
