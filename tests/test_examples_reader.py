"""The strict example-file reader: every malformed case names file:line, nothing is dropped."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest

from assistant.runtime.example_files import ExamplesError, deduplicate, read_example_file, read_example_files
from assistant.runtime.pack import SkillPack
from assistant.runtime.skill import Skill, Span


def weather(location: Annotated[str, Span()] | None = None) -> str:
    """Ask for the weather."""
    return ""


def other() -> str:
    """Speech not meant for the assistant."""
    return ""


PACK = SkillPack.from_skills([Skill.from_function(weather), Skill.from_function(other)])

GOOD = """#### Prompt:
weather(location="[location]") Ask for the weather.

#### Prompt Examples:

### User: weather in Berlin
### Assistant: weather(location="Berlin")

#### Examples:

### User: is it raining
### Assistant: weather()
### User: lovely day isn't it
### Assistant: other()
"""


def write(tmp_path: Path, text: str, name: str = "weather_examples.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_sections_and_validates_calls(tmp_path: Path) -> None:
    parsed = read_example_file(write(tmp_path, GOOD), PACK)
    assert parsed.skill == "weather"
    assert parsed.prompt.startswith('weather(location="[location]")')
    assert [(e.user, str(e.calls)) for e in parsed.prompt_examples] == [
        ("weather in Berlin", 'weather(location="Berlin")')
    ]
    assert [(e.user, str(e.calls), e.line) for e in parsed.examples] == [
        ("is it raining", "weather()", 11),
        ("lovely day isn't it", "other()", 13),
    ]


@pytest.mark.parametrize(
    ("replace", "by", "line", "message"),
    [
        ("### User: is it raining", "User: is it raining", 11, "cannot place this line"),
        ("### Assistant: weather()", "### Assistant: weather(city='x')", 12, "no argument 'city'"),
        ("### Assistant: weather()", "### Assistant: forecast()", 12, "unknown skill 'forecast'"),
        ("### Assistant: weather()", "### Assistant: weather(", 12, "not a call"),
        ("### Assistant: weather()\n", "", 11, "has no '### Assistant:' line"),
        ("### User: is it raining\n", "", 11, "without a '### User:' line"),
        ("### User: is it raining", "### User:   ", 11, "empty utterance"),
        ("#### Examples:", "#### Example:", 9, "cannot place this line"),
        ('location="Berlin"', 'location="Paris"', 7, "is not words of what was said"),  # the grammar could not say it
    ],
)
def test_each_malformed_case_names_file_and_line(
    tmp_path: Path, replace: str, by: str, line: int, message: str
) -> None:
    path = write(tmp_path, GOOD.replace(replace, by, 1))
    with pytest.raises(ExamplesError) as caught:
        read_example_file(path, PACK)
    assert any(p.startswith(f"{path}:{line}:") and message in p for p in caught.value.problems), caught.value.problems


def test_structural_problems_are_reported(tmp_path: Path) -> None:
    no_prompt = GOOD.replace('#### Prompt:\nweather(location="[location]") Ask for the weather.\n', "")
    with pytest.raises(ExamplesError, match="no '#### Prompt:' section"):
        read_example_file(write(tmp_path, no_prompt), PACK)
    two_lines = GOOD.replace("Ask for the weather.\n", "Ask for the weather.\nand a second line\n")
    with pytest.raises(ExamplesError, match=r":3: the Prompt section holds exactly one line"):
        read_example_file(write(tmp_path, two_lines), PACK)
    unknown = GOOD.replace('weather(location="[location]") Ask', "forecast() ask")
    with pytest.raises(ExamplesError, match="must start with a skill of the pack"):
        read_example_file(write(tmp_path, unknown), PACK)
    reordered = GOOD.replace("#### Prompt Examples:", "#### Tmp:").replace("#### Examples:", "#### Prompt Examples:")
    with pytest.raises(ExamplesError):
        read_example_file(write(tmp_path, reordered.replace("#### Tmp:", "#### Examples:")), PACK)


def test_unreadable_file_is_an_examples_error(tmp_path: Path) -> None:
    path = tmp_path / "bad_examples.txt"
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ExamplesError) as caught:
        read_example_file(path, PACK)
    assert caught.value.problems == [f"{path}: not UTF-8 text (byte 0)"]
    missing = tmp_path / "missing_examples.txt"
    with pytest.raises(ExamplesError) as caught:
        read_example_file(missing, PACK)
    assert caught.value.problems == [f"{missing}: cannot be read: no such file"]


def test_every_problem_of_every_file_is_reported_together(tmp_path: Path) -> None:
    first = write(tmp_path, GOOD.replace("### Assistant: other()", "### Assistant: other(1)"), "a_examples.txt")
    second = write(tmp_path, GOOD.replace("### User: is it raining", "User: is it raining"), "b_examples.txt")
    with pytest.raises(ExamplesError) as caught:
        read_example_files([first, second], PACK)
    files = [p.split(":")[0] for p in caught.value.problems]
    assert files[0] == str(first) and set(files) == {str(first), str(second)}


def test_duplicates_are_dropped_and_reported_conflicts_rejected(tmp_path: Path) -> None:
    original = read_example_file(write(tmp_path, GOOD, "a_examples.txt"), PACK)
    repeat = read_example_file(
        write(tmp_path, GOOD.replace("is it raining", "Is it  raining?"), "b_examples.txt"), PACK
    )
    kept, duplicates = deduplicate(original.all_examples + repeat.all_examples)
    assert len(kept) == 3
    assert len(duplicates) == 3 and "b_examples.txt:11: duplicate of" in duplicates[1]
    conflict = read_example_file(
        write(tmp_path, GOOD.replace("### Assistant: weather()", "### Assistant: other()"), "c_examples.txt"), PACK
    )
    with pytest.raises(
        ExamplesError, match=r"c_examples.txt:11: 'is it raining' is labelled other\(\), but .*a_examples.txt:11"
    ):
        deduplicate(original.all_examples + conflict.all_examples)


def test_the_prompt_line_is_derived_from_the_signature(tmp_path: Path) -> None:
    from assistant.runtime.example_files import sync_prompt_line

    path = write(tmp_path, GOOD.replace(") Ask for the weather.", ") tell me the weather"))
    with pytest.raises(ExamplesError) as caught:
        read_example_file(path, PACK)
    assert str(caught.value) == (
        f"{path}:2: the prompt line is derived from the skill's signature and docstring, "
        'expected: weather(location="[location]") Ask for the weather. '
        "(training_data.py --sync-prompts rewrites it)"
    )
    assert sync_prompt_line(path, PACK) and path.read_text(encoding="utf-8") == GOOD
    assert not sync_prompt_line(path, PACK)
    assert read_example_file(path, PACK).prompt == PACK.skills["weather"].prompt_line()


def test_a_byte_order_mark_is_not_part_of_the_first_line(tmp_path: Path) -> None:
    path = tmp_path / "weather_examples.txt"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode("utf-8"))
    assert read_example_file(path, PACK).prompt == PACK.skills["weather"].prompt_line()
