"""Reading evaluation and training records: every problem names the file and its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.runtime.pack import load_pack
from finetune.records import context_record, read_records


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"user": "hi", "call": "other()"}\n\n{"user": bad}\n', ":3: not valid JSONL: Expecting value"),
        ('{"user": "hi", "call": "other()"}\n{"user": "hi"}\n', ": line 2: expected an object with string fields"),
        ('{"user": "hi", "call": "fly()"}\n', ": line 1: unknown skill 'fly'"),
        ('[{"user": "hi", "call": "other()"},\n oops]', ":2: not valid JSON: Expecting value"),
        (
            '{"context": [{"user": "add a note", "call": "notes()", "asked": 1}], "user": "hi", "call": "other()"}\n',
            ": line 1: 'context' must be a list of objects",
        ),
    ],
)
def test_bad_records_name_the_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError) as caught:
        read_records(path, load_pack(), "test")
    assert str(caught.value).startswith(f"{path}") and message in str(caught.value)


def test_good_jsonl_reads_every_line(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text('{"user": "hi", "call": "other()"}\n\n{"user": "time?", "call": "timecheck()"}\n', encoding="utf-8")
    assert [r.user for r in read_records(path, load_pack(), "test")] == ["hi", "time?"]


def test_the_previous_turns_question_is_read_or_derived_and_written_back(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text(
        '{"context": [{"user": "add a note", "call": "notes(action=\\"add\\")", '
        '"asked": "What should the note say?"}], '
        '"user": "buy milk", "call": "notes(action=\\"add\\", note=\\"buy milk\\")"}\n'
        '{"context": [{"user": "a timer for a while", "call": "timer(duration=\\"a while\\")"}], '
        '"user": "ten minutes", "call": "timer(duration=\\"ten minutes\\")"}\n'
        '{"context": [{"user": "a timer for a minute", "call": "timer(duration=\\"a minute\\")"}], '
        '"user": "hi", "call": "other()"}\n',
        encoding="utf-8",
    )
    note, timer, done = (r.context for r in read_records(path, load_pack(), "test"))
    assert note is not None and timer is not None and done is not None  # each record has a previous turn
    assert (note.asked, timer.asked, done.asked) == ("What should the note say?", "For how long?", "")
    assert context_record(timer)[0]["asked"] == "For how long?" and "asked" not in context_record(done)[0]
