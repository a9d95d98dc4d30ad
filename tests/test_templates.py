"""`#### Templates:` sections: hassil templates expanded by `training_data.py -t`, strictly and reproducibly."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from finetune.training_data import main

REPO = Path(__file__).resolve().parent.parent
MINI = REPO / "tests" / "packs" / "mini_examples"
PACK = "tests.packs.mini_pack"

WEATHER_TEMPLATES = """
#### Templates:

{city} = Oslo | new york | St. Louis
{when} = tomorrow | today | later today => today

### User: [hey voxroute] (what's | what is) the weather [like] [in {city}] [{when}]
### Assistant: weather(location="{city}", day="{when}")

### User: (do i | will i) need an umbrella in {city}
### Assistant: weather(location="{city}")
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A private copy of the mini pack's example files (the pack is importable: pytest's pythonpath)."""
    return Path(shutil.copytree(MINI, tmp_path / "examples"))


def add(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")
    return path


def build(capsys: pytest.CaptureFixture[str], folder: Path, *extra: str) -> tuple[int, list[dict], str]:
    code = main(["--skills", PACK, "-t", "--compose", "0", "--examples", str(folder), *extra])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out else [], err


def test_templates_expand_into_valid_calls_with_slot_values_and_optional_arguments(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add(folder, "weather_examples.txt", WEATHER_TEMPLATES)
    code, records, err = build(capsys, folder)
    assert code == 0
    written = set((MINI / "weather_examples.txt").read_text(encoding="utf-8").split("\n"))
    made = {
        record["user"]: record
        for record in records
        if record["skill"] == "weather" and f"### User: {record['user']}" not in written
    }
    assert len(made) == 32 + 2  # every wording of both templates, each with one value drawn per slot
    for user, record in made.items():
        city = next((city for city in ("Oslo", "new york", "St. Louis") if f" {city}" in user), None)
        day = "tomorrow" if user.endswith("tomorrow") else None  # "today" and "later today" are the default
        expected = ", ".join(([f'location="{city}"'] if city else []) + ([f'day="{day}"'] if day else []))
        assert record["call"] == f"weather({expected})", user
        assert record["split"] == "train"  # never held out: template sentences are near-copies of each other
    assert made["what's the weather"]["call"] == "weather()"  # both slots left out: both arguments dropped
    assert "made from templates (weather_examples.txt 34)" in err


def test_expansion_is_seeded_and_capped(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    add(folder, "weather_examples.txt", WEATHER_TEMPLATES)
    first, second = build(capsys, folder)[1], build(capsys, folder)[1]
    assert first == second
    assert build(capsys, folder, "--seed", "3")[1] != first
    _, _capped, err = build(capsys, folder, "--template-cap", "5")
    assert "made from templates (weather_examples.txt 5)" in err
    _, _few, err = build(capsys, folder, "--template-samples", "2")
    assert "made from templates (weather_examples.txt 4)" in err  # two sentences from each of two templates


def test_a_template_sentence_equal_to_a_written_example_is_dropped(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add(
        folder,
        "weather_examples.txt",
        """
#### Templates:

### User: (what's the weather in Berlin tomorrow | is it going to rain) [please]
### Assistant: weather(location="Berlin", day="tomorrow")
""",
    )
    code, _records, err = build(capsys, folder)
    assert code == 1 and "is labelled" in err  # "is it going to rain" has another label in the prompt examples
    assert "weather_examples.txt" in err


def test_a_conflict_between_a_template_and_a_written_example_names_both_lines(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = add(
        folder,
        "other_examples.txt",
        """
#### Templates:

### User: is it going to rain
### Assistant: other()
""",
    )
    code, records, err = build(capsys, folder)
    line = path.read_text(encoding="utf-8").splitlines().index("### User: is it going to rain") + 1
    assert code == 1 and records == []
    assert "other_examples.txt:" in err and f":{line}:" in err and "weather_examples.txt:" in err


@pytest.mark.parametrize(
    "template, call, message",
    [
        ("what's the (weather in {city}", 'weather(location="{city}")', "not a valid template"),
        ("weather in {town}", 'weather(location="{town}")', "no list {town}"),
        ("weather in {city}", 'weather(place="{city}")', "has no argument 'place'"),
        ("weather in {city}", 'weather(location="{city}"', "not a call"),
        (
            "weather in {city}",
            'weather(location="{city}", day="{when}")',
            "the call uses {when}, which the template never",
        ),
    ],
)
def test_template_errors_name_the_file_and_line(
    folder: Path, capsys: pytest.CaptureFixture[str], template: str, call: str, message: str
) -> None:
    path = add(
        folder,
        "weather_examples.txt",
        f"\n#### Templates:\n\n{{city}} = Oslo\n\n### User: {template}\n### Assistant: {call}\n",
    )
    line = len(path.read_text(encoding="utf-8").splitlines()) - 1
    code, records, err = build(capsys, folder)
    assert code == 1 and records == []
    assert f"{path}:{line}: " in err and message in err


def test_a_list_defined_twice_is_an_error(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = add(folder, "weather_examples.txt", "\n#### Templates:\n\n{city} = Oslo\n{city} = Rome\n")
    code, _, err = build(capsys, folder)
    assert code == 1 and f"{path}:" in err and "defined twice" in err
