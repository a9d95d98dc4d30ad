"""`training_data.py -t`: example files to a deterministic, stratified JSON data set, or a clear error."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant.routing.calls import Call, Calls
from assistant.runtime.example_files import Example, ExampleFile, utterance_key
from assistant.runtime.pack import load_pack
from finetune.compose import Sizes
from finetune.training_data import build_dataset, main, ready_made_cuts

REPO = Path(__file__).resolve().parent.parent
MINI = REPO / "tests" / "packs" / "mini_examples"
PACK = "tests.packs.mini_pack"
PACK_OBJECT = load_pack(PACK)

MORE_WEATHER = """#### Prompt:
weather(location="[location]", day="[today|tomorrow]") Ask for the weather somewhere, today or tomorrow.

#### Examples:

### User: Weather in Paris!
### Assistant: weather(location="paris")

### User: any rain in lisbon tomorrow
### Assistant: weather(location="lisbon", day="tomorrow")
"""


@pytest.fixture(autouse=True)
def importable_pack(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(REPO))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A private copy of the mini pack's example files."""
    return Path(shutil.copytree(MINI, tmp_path / "examples"))


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    """``-t`` without composed examples unless asked (``--compose N`` later on the line wins)."""
    code = main(["--skills", PACK, *map(str, argv[:1]), "--compose", "0", *map(str, argv[1:])])
    out, err = capsys.readouterr()
    return code, out, err


def files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*_examples.txt"))


def test_output_is_byte_identical_across_runs_and_file_orders(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = files(folder)
    first = run(capsys, "-t", "--files", *paths)
    again = run(capsys, "-t", "--files", *paths)
    reordered = run(capsys, "-t", "--files", *reversed(paths), paths[0])
    assert first[0] == again[0] == reordered[0] == 0
    assert first[1] == again[1] == reordered[1]
    assert run(capsys, "-t", "--seed", "7", "--files", *paths)[1] != first[1]


def test_records_have_the_dataset_fields_and_canonical_calls(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "-t", "--files", *files(folder))
    records = json.loads(out)
    assert code == 0 and len(records) == 24
    assert all(list(record) == ["skill", "user", "call", "split"] for record in records)
    assert {
        "skill": "weather",
        "user": "what's the weather in Berlin tomorrow",
        "call": 'weather(location="Berlin", day="tomorrow")',
        "split": "train",
    } in records
    assert "24 examples of 3 skills" in err and "0 duplicates dropped" in err and "0 made from templates" in err


def test_split_is_three_way_stratified_and_keeps_prompt_examples_in_train(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    timer_lines = [f"### User: set timer number {i}\n### Assistant: timer(minutes={i})\n" for i in range(1, 91)]
    (folder / "timer_examples.txt").write_text(
        (MINI / "timer_examples.txt").read_text(encoding="utf-8") + "\n" + "\n".join(timer_lines), encoding="utf-8"
    )
    records = json.loads(run(capsys, "-t", "--files", *files(folder))[1])
    for skill in ("weather", "timer", "other"):
        splits = {record["split"] for record in records if record["skill"] == skill}
        assert splits == {"train", "validation", "test"}, skill
    timer = [record for record in records if record["skill"] == "timer"]
    written = len(timer) - 2  # the two prompt examples are never held out
    for split in ("validation", "test"):
        assert sum(record["split"] == split for record in timer) == round(0.1 * written) == 10
    prompt_examples = {
        "set a timer for ten minutes",
        "pasta timer eight minutes",
        "did you feed the cat",
        "what's the weather in Berlin tomorrow",
        "is it going to rain",
    }
    assert all(record["split"] == "train" for record in records if record["user"] in prompt_examples)
    halves = json.loads(run(capsys, "-t", "--test-fraction", "0.5", "--files", *files(folder))[1])
    assert sum(record["split"] == "test" for record in halves if record["skill"] == "timer") == round(0.5 * written)


def test_a_duplicate_across_files_is_counted_once(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "weather_more_examples.txt").write_text(MORE_WEATHER, encoding="utf-8")
    code, out, err = run(capsys, "-t", "--files", *files(folder))
    users = [record["user"] for record in json.loads(out)]
    assert code == 0 and len(users) == 25
    assert "weather in paris" in users and "Weather in Paris!" not in users
    assert "1 duplicates dropped" in err


def test_a_prompt_example_wins_over_its_duplicate_and_stays_in_train(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (folder / "a_weather_examples.txt").write_text(
        MORE_WEATHER.replace("Weather in Paris!", "is it going to rain").replace(
            'weather(location="paris")', "weather()"
        ),
        encoding="utf-8",
    )
    records = json.loads(run(capsys, "-t", "--files", *files(folder))[1])
    [rain] = [record for record in records if record["user"] == "is it going to rain"]
    assert rain["split"] == "train"


def test_conflicting_labels_fail_naming_both_places(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "weather_more_examples.txt").write_text(MORE_WEATHER.replace("paris", "london"), encoding="utf-8")
    code, out, err = run(capsys, "-t", "--files", *files(folder))
    assert code == 1 and out == ""
    assert f"{folder / 'weather_more_examples.txt'}:6:" in err
    assert f"{folder / 'weather_examples.txt'}:14" in err


def test_malformed_files_fail_naming_every_file_and_line(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (folder / "broken_examples.txt").write_text(
        MORE_WEATHER.replace('weather(location="paris")', 'weather(city="paris")') + "stray text\n", encoding="utf-8"
    )
    (folder / "bad_examples.txt").write_text("### User: hello\n", encoding="utf-8")
    code, out, err = run(capsys, "-t", "--files", *files(folder))
    assert code == 1 and out == ""
    assert f"{folder / 'broken_examples.txt'}:7: weather() has no argument 'city'" in err
    assert f"{folder / 'broken_examples.txt'}:11: cannot place this line" in err
    assert f"{folder / 'bad_examples.txt'}:1:" in err


def test_out_writes_the_same_bytes_atomically(folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "dataset"
    out_dir.mkdir()
    target = out_dir / "training_data.json"
    target.write_text("old", encoding="utf-8")
    printed = run(capsys, "-t", "--files", *files(folder))[1]
    code, out, _ = run(capsys, "-t", "--out", target, "--files", *files(folder))
    assert code == 0 and out == ""
    assert target.read_text(encoding="utf-8") == printed
    assert [path.name for path in out_dir.iterdir()] == ["training_data.json"]


def test_ready_made_records_join_the_train_split_unless_already_in(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    heard = tmp_path / "heard.jsonl"
    rows = [
        {"user": "Set a timer for 12 minutes.", "call": "timer(minutes=12)"},
        {"user": "set a timer for ten minutes", "call": "timer(minutes=10)"},  # a written example
        {"user": "timer for 3 minutes", "call": "timer(minutes=3)"},  # in the evaluation file
        {"user": "Set a timer for 12 minutes", "call": "timer(minutes=12)"},  # a repeat of the first
    ]
    heard.write_text("".join(json.dumps(row) + "\n" for row in rows))
    evaluation = tmp_path / "eval.jsonl"
    evaluation.write_text(json.dumps(rows[2]) + "\n")
    code, out, err = run(capsys, "-t", "--files", *files(folder), "--exclude", evaluation, "--records", heard)
    added = [record for record in json.loads(out) if record.get("kind") == "heard"]
    assert code == 0
    assert added == [
        {
            "skill": "timer",
            "user": "Set a timer for 12 minutes.",
            "call": "timer(minutes=12)",
            "split": "train",
            "kind": "heard",
        }
    ]
    assert "1 ready-made records added (3 left out as already in)" in err


def test_ready_made_commands_are_also_cut_before_their_last_value() -> None:
    pack = load_pack()
    cities = ["Madrid", "Vienna", "Prague", "Dublin", "Athens", "Warsaw", "Lisbon", "Oslo", "Rome", "Bern"]
    added = [{"user": f"tell me the weather in {city}", "call": f'weather(location="{city}")'} for city in cities]
    added += [
        {"user": "is it going to rain", "call": "weather()"},  # nothing to cut before
        {"user": "give me the news about football", "call": 'news(topic="football")'},  # a cut already taken
    ]
    written = ["what's the weather", "I'm pulling in"]  # one whole request ending "in" against ten cuts there
    taken = {utterance_key("give me the news about")}
    cut = ready_made_cuts(added, written, pack, taken, most=5, seed=0)
    assert cut == [
        {"user": "tell me the weather in", "skill": "(0 calls)", "call": "...", "split": "train", "kind": "unfinished"}
    ]
    assert taken == {utterance_key("give me the news about")}  # read, not changed
    assert ready_made_cuts(added, [*written, "tell me the weather in"], pack, {"give me the news about"}, 5, 0) == []
    assert ready_made_cuts(added, written, pack, set(), most=0, seed=0) == []


def test_a_ready_made_record_the_pack_cannot_parse_is_named_by_file_and_line(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "corpora.jsonl"
    bad.write_text(json.dumps({"user": "wake me at six", "call": 'alarm(time="six")'}) + "\n")
    code, out, err = run(capsys, "-t", "--files", *files(folder), "--records", bad)
    assert code == 1 and out == ""
    assert f"{bad}: line 1: unknown skill 'alarm'" in err


def test_files_default_to_the_packs_examples_folder(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "-t", "--examples", folder)[1] == run(capsys, "-t", "--files", *files(folder))[1]


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["-t", "-c"],
        ["-t", "--test-fraction", "1"],
        ["-t", "--validation-fraction", "0"],
        ["-c"],
        ["-p", "--files", "x"],
        ["-t", "--file", "x"],
        ["-p", "--file", "x", "--append"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run(capsys, *argv)
    assert exit_info.value.code == 2


def test_an_unloadable_pack_is_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["-t", "--skills", "tests.packs.no_such_pack"])
    assert code == 1 and "no_such_pack" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["finetune/training_data.py"], ["-m", "finetune.training_data"]])
def test_runs_as_a_script_and_as_a_module(command: list[str], folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["-t", "--files", *map(str, files(folder))]
    done = subprocess.run(
        [sys.executable, *command, "--skills", PACK, "--compose", "0", *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == run(capsys, *argv)[1]


@st.composite
def skill_groups(draw: st.DrawFn) -> tuple[list[ExampleFile], float, float, int]:
    example_files = []
    for number in range(draw(st.integers(1, 4))):
        size = draw(st.integers(1, 30))
        pinned = draw(st.integers(0, size))
        examples = tuple(
            Example(f"utterance {number} {i}", Calls([Call(f"skill{number}", (("n", i),))]), f"f{number}", i)
            for i in range(size)
        )
        example_files.append(
            ExampleFile(Path(f"f{number}"), f"skill{number}", "", examples[:pinned], examples[pinned:])
        )
    return example_files, draw(st.floats(0.01, 0.45)), draw(st.floats(0.01, 0.45)), draw(st.integers(0, 2**32))


@settings(max_examples=150, deadline=None)
@given(skill_groups())
def test_every_skill_is_split_as_promised(case: tuple[list[ExampleFile], float, float, int]) -> None:
    example_files, validation_fraction, test_fraction, seed = case
    records, _ = build_dataset(
        example_files, PACK_OBJECT, validation_fraction, test_fraction, seed, sizes=Sizes(0, 0, 0, 0, 0, 0, 0)
    )
    assert (
        records
        == build_dataset(
            example_files, PACK_OBJECT, validation_fraction, test_fraction, seed, sizes=Sizes(0, 0, 0, 0, 0, 0, 0)
        )[0]
    )
    for example_file in example_files:
        mine = [record for record in records if record["skill"] == example_file.skill]
        pinned = {example.user for example in example_file.prompt_examples}
        written = len(example_file.examples)
        for split, fraction in (("validation", validation_fraction), ("test", test_fraction)):
            held = [record for record in mine if record["split"] == split]
            assert not any(record["user"] in pinned for record in held)
            if written >= 3:
                assert len(held) == max(1, round(fraction * written))
            else:
                assert not held
        assert sum(record["split"] == "train" for record in mine) >= len(pinned)
