"""Authoring one skill never hangs: the composers finish for any pack and any subset of example files (#37)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.routing.calls import Call, Calls
from assistant.runtime.example_files import Example, read_example_files
from assistant.runtime.pack import SkillPack, load_pack
from assistant.runtime.skill import Resolver, Skill, Span
from finetune.compose import KINDS, Composition, Sizes, compose
from finetune.training_data import DatasetReport, build_dataset

REPO = Path(__file__).resolve().parent.parent
PACK = load_pack()
PACK_FILES = sorted((REPO / "examples").glob("*_examples.txt"))
EXAMPLES = [example for example_file in read_example_files(PACK_FILES, PACK) for example in example_file.all_examples]
LIMIT_S = 60.0  # generous: each of these took at most about 2 s on a shared CPU; before #37 most never ended

T = TypeVar("T")


def finished(seconds: float, work: Callable[[], T]) -> T:
    """``work()``'s result, or a failure (not a hung test) when it has not finished within ``seconds``."""
    result: list[T] = []
    thread = threading.Thread(target=lambda: result.append(work()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s"
    assert result, "raised (see the thread's traceback above)"
    return result[0]


def check(composition: Composition, sizes: Sizes) -> None:
    """What compose promises for any input: each kind asked for is made or named as skipped, never both,
    no kind beyond its size, no two examples the same."""
    counts = Counter(item.kind for item in composition.made)
    asked = sizes.by_kind()
    assert set(counts) <= set(KINDS)
    for kind in KINDS:
        assert counts[kind] <= asked[kind], kind
        assert (kind in composition.skipped) == (asked[kind] > 0 and counts[kind] == 0), (kind, composition.skipped)
    assert len({item.key for item in composition.made}) == len(composition.made)


def minutes(text: str) -> int | None:
    match = re.fullmatch(r"(\d+) minutes?", text.strip())
    return int(match.group(1)) if match else None


def weather(location: Annotated[str, Span()] | None = None, day: Literal["today", "tomorrow"] = "today") -> str:
    """The weather somewhere."""
    return ""


def timer(duration: Annotated[str, Span(), Resolver(minutes, "For how long?")]) -> str:
    """Start a timer."""
    return ""


def timer_change(duration: Annotated[str, Span(), Resolver(minutes, "For how long?")]) -> str:
    """Change the timer."""
    return ""


def note(text: Annotated[str, Span(), Resolver(str.strip, "What should the note say?")] | None = None) -> str:
    """Add a note."""
    return ""


def stop() -> str:
    """Stop."""
    return ""


def other() -> str:
    """Speech not for the assistant."""
    return ""


SKILLS = {
    "weather": Skill.from_function(weather),
    "timer": Skill.from_function(timer),
    "timer_change": Skill.from_function(timer_change, changes="timer"),
    "note": Skill.from_function(note),
    "stop": Skill.from_function(stop),
    "other": Skill.from_function(other),
}
SAID = {  # per skill: how an example is said, and the values it may take
    "weather": ("what's the weather in {v}", ["Oslo", "Rome", "new york"]),
    "timer": ("set a timer for {v}", ["5 minutes", "10 minutes", "a while"]),
    "timer_change": ("make it {v}", ["3 minutes", "8 minutes"]),
    "note": ("add a note that {v}", ["milk", "call mom back"]),
    "stop": ("stop that now", []),
    "other": ("well I think so", []),
}


def example(skill: str, value: str | None, number: int) -> Example:
    wording, _ = SAID[skill]
    name = next((p.name for p in SKILLS[skill].parameters if p.span), None)
    args = ((name, value),) if name and value is not None else ()
    user = wording.format(v=value) if value is not None else wording.split(" {v}")[0]
    return Example(f"{user} {'please ' * number}".strip(), Calls([Call(skill, args)]), "authored", number)


@st.composite
def packs(draw: st.DrawFn) -> tuple[SkillPack, list[Example], Sizes, int]:
    """A small pack, a few examples of some of its skills (one value, one example, no fallback examples
    alike) and small sizes: what an author has after writing one or two files."""
    names = draw(st.lists(st.sampled_from(sorted(SKILLS)), min_size=1, max_size=4, unique=True))
    examples = []
    for name in names:
        values = SAID[name][1]
        for number in range(draw(st.integers(1, 4))):
            value = draw(st.sampled_from(values)) if bool(values) and draw(st.booleans()) else None
            examples.append(example(name, value, number))
    sizes = Sizes(*(draw(st.integers(0, 30)) for _ in KINDS))
    return SkillPack.from_skills(SKILLS[name] for name in names), examples, sizes, draw(st.integers(0, 2**16))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(packs())
def test_the_composers_finish_for_any_small_pack_and_name_what_they_cannot_make(
    case: tuple[SkillPack, list[Example], Sizes, int],
) -> None:
    pack, examples, sizes, seed = case
    composition = finished(LIMIT_S, lambda: compose(examples, pack, sizes, seed))
    check(composition, sizes)
    assert composition == compose(examples, pack, sizes, seed)  # seeded: the same examples make the same data


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(sorted({e.calls[0].name for e in EXAMPLES})), min_size=1, max_size=3, unique=True),
    st.integers(1, 40),
    st.integers(0, 2**16),
)
def test_the_composers_finish_for_any_few_skills_of_the_shipped_examples(
    skills: list[str], most: int, seed: int
) -> None:
    examples = [e for e in EXAMPLES if e.calls[0].name in skills][:: max(1, 200 // most)]  # one to many each
    sizes = Sizes(*(most for _ in KINDS))
    check(finished(LIMIT_S, lambda: compose(examples, PACK, sizes, seed)), sizes)


def test_one_skill_without_fallback_examples_makes_no_unrelated_turn_and_says_so() -> None:
    examples = [example("weather", city, n) for n, city in enumerate(["Oslo", "Rome", "Oslo"])]
    pack = SkillPack.from_skills([SKILLS["weather"], SKILLS["other"]])
    sizes = Sizes()
    composition = finished(LIMIT_S, lambda: compose(examples, pack, sizes, seed=0))
    check(composition, sizes)
    assert "unrelated" in composition.skipped and "answer" in composition.skipped  # no second skill, nothing asked
    assert {"compound", "follow-up", "repeat"} <= {item.kind for item in composition.made}


def test_one_value_said_one_way_cannot_be_followed_up_and_is_reported() -> None:
    examples = [example("timer_change", "3 minutes", 0), example("timer", "5 minutes", 1)]
    pack = SkillPack.from_skills([SKILLS["timer"], SKILLS["timer_change"]])
    sizes = Sizes(0, 50, 0, 0, 0, 0, 0, 0)
    composition = finished(LIMIT_S, lambda: compose(examples, pack, sizes, seed=0))
    assert composition.made == [] and composition.skipped == ("follow-up",)  # the only value is the one said


@pytest.mark.parametrize("path", PACK_FILES, ids=lambda path: path.name)
def test_a_data_set_of_any_single_file_of_the_pack_is_built_in_seconds(path: Path) -> None:
    files = read_example_files([path], PACK)
    records, report = finished(LIMIT_S, lambda: build_dataset(files, PACK, 0.1, 0.1, seed=0))
    assert_skipped_kinds_are_absent(records, report)
    assert "unrelated" in report.skipped["train"]  # one file: no turn of another skill follows
    if path.name not in ("other_examples.txt", "cant_do_examples.txt"):  # nothing served alone: nothing to compose
        assert report.composed["compound"] > 0 and report.composed["repeat"] > 0


def assert_skipped_kinds_are_absent(records: list[dict], report: DatasetReport) -> None:
    for record in records:
        assert record.get("kind") not in report.skipped.get(record["split"], ()), record


def test_t_on_one_file_ends_and_names_the_kinds_it_could_not_make(tmp_path: Path) -> None:
    out = tmp_path / "data.json"
    done = subprocess.run(
        [
            sys.executable,
            "finetune/training_data.py",
            "-t",
            "--files",
            "examples/weather_examples.txt",
            "--out",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=LIMIT_S,
    )
    assert done.returncode == 0, done.stderr
    summary = done.stderr.strip().splitlines()[-1]
    skipped = "unrelated, answer, confirm"  # one skill that never asks: no second skill, no question
    assert f"cannot compose from these examples: {skipped} (train); {skipped} (validation)" in summary
    kinds = Counter(record.get("kind") for record in json.loads(out.read_text(encoding="utf-8")))
    assert kinds["unrelated"] == kinds["answer"] == 0 and kinds["compound"] > 0
