"""Example files, templates and evaluation records are bounded before they are read, and bad ones are one line
naming file:line (#37): a NUL, an escape, a 50 MB line, 500 nested brackets, a template of a billion sentences."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from itertools import islice
from pathlib import Path
from typing import IO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.runtime.example_files import (
    MAX_EXAMPLE_FILE_BYTES,
    MAX_EXAMPLE_LINE_CHARS,
    MAX_PROBLEMS,
    ExamplesError,
    read_example_file,
)
from assistant.runtime.pack import load_pack
from assistant.runtime.templates import (
    MAX_FILE_FORMS,
    MAX_FORMS,
    MAX_TEMPLATE_CHARS,
    MAX_TEMPLATE_DEPTH,
    Template,
    TemplateError,
    count_forms,
)
from finetune.records import read_records

REPO = Path(__file__).resolve().parent.parent
MINI = REPO / "tests" / "packs" / "mini_examples"
PACK_NAME = "tests.packs.mini_pack"
PACK = load_pack(PACK_NAME)
LIMIT_S = 60  # generous: every case here is refused in well under a second


@pytest.fixture
def weather(tmp_path: Path) -> Path:
    """A private copy of the mini pack's weather examples, to spoil."""
    return Path(shutil.copy(MINI / "weather_examples.txt", tmp_path / "weather_examples.txt"))


def append(path: Path, text: str) -> int:
    """Add ``text`` as the file's last lines; the number of the first of them."""
    before = path.read_text(encoding="utf-8").rstrip("\n") + "\n"
    path.write_text(before + text, encoding="utf-8")
    return before.count("\n") + 1


def problems(path: Path) -> list[str]:
    with pytest.raises(ExamplesError) as caught:
        read_example_file(path, PACK)
    return caught.value.problems


def cli(*argv: str | Path, stdout: int | IO[str] | None = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    """``training_data.py`` in a real process, as an author runs it (a hang fails at the limit)."""
    return subprocess.run(
        [sys.executable, "finetune/training_data.py", "--skills", PACK_NAME, *map(str, argv)],
        cwd=REPO,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=LIMIT_S,
    )


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.mark.parametrize(
    "character",
    ["\x00", "\x1b", "\x0c", "\x0b", "\x7f", "\x85", "\u2028"],
    ids=["NUL", "escape", "form feed", "vertical tab", "delete", "next line", "line separator"],
)
def test_a_control_character_is_refused_naming_its_line_and_column(weather: Path, character: str) -> None:
    line = append(weather, f'### User: weather in{character} rome\n### Assistant: weather(location="rome")\n')
    assert problems(weather) == [
        f"{weather}:{line}: control character U+{ord(character):04X} in column 21 (an example file is plain text)"
    ]


def test_a_nul_byte_in_t_is_one_line_and_exit_1(weather: Path) -> None:
    line = append(weather, '### User: weather in rome\x00\n### Assistant: weather(location="rome")\n')
    done = cli("-t", "--files", weather)
    assert done.returncode == 1 and done.stdout == ""
    assert one_line(done.stderr).startswith(f"{weather}:{line}: control character U+0000")


def test_a_tab_and_windows_line_ends_are_plain_text(weather: Path) -> None:
    append(weather, '### User: weather in\tlima\n### Assistant: weather(location="lima")\n')
    weather.write_bytes(weather.read_bytes().replace(b"\n", b"\r\n"))
    read = read_example_file(weather, PACK)
    assert read.examples[-1].user == "weather in\tlima"
    assert read.examples[-1].line == weather.read_bytes().count(b"\n") - 1  # numbered as an editor numbers it


def test_a_line_over_the_limit_is_refused_naming_it_and_one_at_the_limit_is_read(weather: Path) -> None:
    user = "### User: weather in rome "
    longest = user + "x" * (MAX_EXAMPLE_LINE_CHARS - len(user))
    append(weather, f'{longest}\n### Assistant: weather(location="rome")\n')
    assert read_example_file(weather, PACK).examples[-1].user == longest.removeprefix("### User: ")
    line = append(weather, f'{longest}y\n### Assistant: weather(location="rome")\n')
    assert problems(weather)[0] == (
        f"{weather}:{line}: a line of {MAX_EXAMPLE_LINE_CHARS + 1:,} characters; the most is {MAX_EXAMPLE_LINE_CHARS:,}"
    )


def test_a_50_mb_line_is_refused_before_it_is_read(weather: Path) -> None:
    with weather.open("a", encoding="utf-8") as handle:
        handle.write("### User: weather in ")
        for _ in range(50):
            handle.write("x" * 1_000_000)
        handle.write("\n### Assistant: weather()\n")
    done = cli("-t", "--files", weather)
    assert done.returncode == 1 and done.stdout == ""
    assert one_line(done.stderr) == (
        f"{weather}: larger than {MAX_EXAMPLE_FILE_BYTES:,} bytes, the most such a file may be"
    )


def test_a_device_or_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo_examples.txt"
    os.mkfifo(fifo)  # nobody writes to it: reading it would wait forever
    for path in (fifo, Path("/dev/zero")):
        done = cli("-t", "--files", path)
        assert done.returncode == 1 and one_line(done.stderr) == f"{path}: not a regular file"


def test_a_file_of_many_bad_lines_lists_the_first_few(weather: Path) -> None:
    first = append(weather, "\x00\n" * 500)
    listed = problems(weather)
    assert len(listed) == MAX_PROBLEMS + 1
    assert listed[0].startswith(f"{weather}:{first}: control character U+0000")
    assert listed[-1] == f"{weather}: and {500 - MAX_PROBLEMS:,} more problems"


TEMPLATES = "\n#### Templates:\n\n{city} = Oslo | Rome\n\n"


def template(path: Path, sentence: str) -> int:
    """Add a templates section with one template; the template's line."""
    return append(path, f'{TEMPLATES}### User: {sentence}\n### Assistant: weather(location="{{city}}")\n') + 5


def test_500_nested_brackets_are_one_line_naming_the_template(weather: Path) -> None:
    line = template(weather, "weather in {city} " + "[" * 500 + "please" + "]" * 500)
    done = cli("-t", "--files", weather)
    assert done.returncode == 1 and done.stdout == ""
    assert one_line(done.stderr) == f"{weather}:{line}: brackets nested 500 deep; the most is {MAX_TEMPLATE_DEPTH}"


def test_brackets_nested_to_the_limit_are_read(weather: Path) -> None:
    deepest = "(" * (MAX_TEMPLATE_DEPTH - 1) + "[now]" + ")" * (MAX_TEMPLATE_DEPTH - 1)
    template(weather, f"weather in {{city}} {deepest}")
    assert count_forms(read_example_file(weather, PACK).templates[0]) == 2


def test_a_template_of_a_billion_sentences_is_refused_before_any_is_made(weather: Path) -> None:
    line = template(weather, "weather in {city} (" + " ".join(f"(a{i} | b{i})" for i in range(30)) + ")")
    done = cli("-t", "--files", weather)
    assert done.returncode == 1
    assert one_line(done.stderr) == (
        f"{weather}:{line}: a template of more than {MAX_FORMS:,} sentences (say a choice of values as a {{list}})"
    )


def test_a_long_template_is_refused(weather: Path) -> None:
    sentence = "weather in {city}" + " very" * MAX_TEMPLATE_CHARS
    line = template(weather, sentence)
    assert problems(weather) == [
        f"{weather}:{line}: a template of {len(sentence):,} characters; the most is {MAX_TEMPLATE_CHARS:,}"
    ]


def test_the_templates_of_one_file_are_bounded_together(weather: Path) -> None:
    groups = " ".join(f"(a{i} | b{i})" for i in range(14))  # 16,384 sentences each, within a template's limit
    append(weather, TEMPLATES)
    pair = '### User: weather {n} in {{city}} {groups}\n### Assistant: weather(location="{{city}}")\n'
    lines = [append(weather, pair.format(n=n, groups=groups)) for n in range(4)]
    assert problems(weather) == [
        f"{weather}:{lines[3]}: the templates up to this one say {4 * 2**14:,} sentences; "
        f"the most for a file is {MAX_FILE_FORMS:,}"
    ]


@st.composite
def sentences(draw: st.DrawFn, depth: int = 0) -> str:
    """A hassil template of words, (a | b) alternatives, [optionals] and (a; b) permutations."""
    parts = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(
            st.sampled_from(
                ["word", "word", "slot", "alternative", "optional", "permutation"] if depth < 2 else ["word"]
            )
        )
        if kind == "word":
            parts.append(draw(st.sampled_from(["a", "b", "the", "weather"])))
        elif kind == "slot":
            parts.append("{city}")
        else:
            items = draw(st.lists(sentences(depth + 1), min_size=1 if kind == "optional" else 2, max_size=3))
            parts.append(
                {
                    "alternative": f"({' | '.join(items)})",
                    "optional": f"[{' '.join(items)}]",
                    "permutation": f"({'; '.join(items)})",
                }[kind]
            )
    return " ".join(parts)


@settings(max_examples=200, deadline=None)
@given(sentences())
def test_the_sentences_are_counted_from_the_parse_as_hassil_makes_them(sentence: str) -> None:
    from hassil.parse_expression import parse_sentence
    from hassil.sample import sample_expression

    made = sum(
        1 for _ in islice(sample_expression(parse_sentence(sentence).expression, expand_lists=False), MAX_FORMS + 1)
    )
    if made > MAX_FORMS:
        with pytest.raises(TemplateError, match="a template of more than"):
            count_forms(Template(sentence, "weather()", "f", 1))
    else:
        assert count_forms(Template(sentence, "weather()", "f", 1)) == made


def test_t_to_a_full_disk_is_one_line_and_exit_1(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full here")
    shutil.copy(MINI / "weather_examples.txt", tmp_path / "weather_examples.txt")
    with open("/dev/full", "w") as full:
        done = cli("-t", "--compose", "0", "--files", tmp_path / "weather_examples.txt", stdout=full)
    assert done.returncode == 1
    assert one_line(done.stderr) == "cannot write the data set to stdout: No space left on device"


def test_sync_prompts_names_a_file_it_cannot_read_and_goes_on(weather: Path, tmp_path: Path) -> None:
    weather.write_text(
        weather.read_text(encoding="utf-8").replace("somewhere, today or tomorrow", "anywhere"), encoding="utf-8"
    )
    missing = tmp_path / "missing_examples.txt"
    done = cli("--sync-prompts", "--files", missing, weather)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"{missing}: cannot be read: no such file" in done.stderr.splitlines()
    assert read_example_file(weather, PACK).prompt == PACK.skills["weather"].prompt_line()  # the other was rewritten


def test_evaluation_records_nested_too_deeply_or_not_a_file_are_one_line(tmp_path: Path, weather: Path) -> None:
    deep = tmp_path / "deep.jsonl"
    deep.write_text(
        json.dumps({"user": "hi", "call": "other()"}) + "\n" + "[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8"
    )
    with pytest.raises(ValueError, match=rf"^{deep}:2: not valid JSONL: arrays or objects nested too deeply$"):
        read_records(deep, PACK)
    done = cli("-t", "--files", weather, "--exclude", "/dev/zero")
    assert done.returncode == 1 and one_line(done.stderr) == "/dev/zero: not a regular file"
