"""The learn benchmark's pack: the default pack plus convert_units and alarm, their example files, and the
two skills really answering (alarms in a real SQLite file under a temporary data folder)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from assistant.routing.calls import Call, Calls
from assistant.runtime.example_files import read_example_files, utterance_key
from assistant.runtime.pack import DEFAULT_EXAMPLES, load_pack
from benchmarks.learn.__main__ import HELDOUT, MODULE, NEW_FILES, relabelled
from benchmarks.learn.alarms import APPLICATION_ID, ASK_TIME, alarms_path
from benchmarks.learn.skills import alarm, convert_units
from benchmarks.learn.units import find_unit
from finetune.learn import relabelled_dataset
from finetune.records import Record
from finetune.training_data import build_dataset

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "benchmarks" / "learn" / "examples"
NEW = {"convert_units", "alarm"}


def test_the_pack_is_the_default_one_plus_two() -> None:
    pack = load_pack("benchmarks.learn.skills", EXAMPLES)
    assert set(pack.skills) == set(load_pack().skills) | NEW
    assert pack.skills["convert_units"].reads_only and not pack.skills["alarm"].reads_only
    asked = pack.skills["alarm"].confirmation(Call("alarm", (("time", "seven"), ("day", "tomorrow"))))
    assert asked == "An alarm for seven tomorrow?"


def test_the_examples_folder_links_every_default_file_and_adds_two() -> None:
    pack = load_pack("benchmarks.learn.skills", EXAMPLES)
    shipped = sorted(DEFAULT_EXAMPLES.glob("*_examples.txt"))
    linked = [path for path in pack.example_files() if path.is_symlink()]
    assert [path.name for path in linked] == [path.name for path in shipped]
    assert all(path.samefile(DEFAULT_EXAMPLES / path.name) for path in linked)
    assert {path.name for path in pack.example_files() if not path.is_symlink()} == {f"{n}_examples.txt" for n in NEW}


def test_the_example_files_make_a_data_set(tmp_path: Path) -> None:
    out = tmp_path / "data.json"
    files = [str(path) for path in sorted(EXAMPLES.glob("*.txt"))]
    done = subprocess.run(
        [
            sys.executable,
            "finetune/training_data.py",
            "-t",
            "--skills",
            "benchmarks.learn.skills",
            "--compose",
            "0",
            "--out",
            str(out),
            "--files",
            *files,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    counts = {name: sum(row["skill"] == name for row in json.loads(out.read_text())) for name in NEW}
    assert all(count >= 150 for count in counts.values()), counts  # written examples and template sentences


@pytest.mark.parametrize(
    ("quantity", "unit", "answer"),
    [
        ("3 miles", "kilometres", "3 miles is 4.83 kilometres."),
        ("three and a half cups", "millilitres", "3.5 cups is 828.06 millilitres."),
        ("100 degrees fahrenheit", "celsius", "100 degrees Fahrenheit is 37.78 degrees Celsius."),
        ("minus forty degrees celsius", "fahrenheit", "-40 degrees Celsius is -40 degrees Fahrenheit."),
        ("a pound", "grams", "1 pound is 453.59 grams."),
        ("six foot two", "cm", "6 feet 2 inches is 187.96 centimetres."),
        ("a cup", "ounces", "1 cup is 8 fluid ounces."),  # beside a volume, an ounce is a fluid ounce
    ],
)
def test_convert_units_answers(quantity: str, unit: str, answer: str) -> None:
    assert convert_units(quantity, unit) == answer


@pytest.mark.parametrize(
    ("quantity", "unit", "start"),
    [
        ("3 furlongs", "metres", "I don't know which unit '3 furlongs' is in."),
        ("3 miles", "kilograms", "I can't convert miles to kilograms: one is a length, the other a weight."),
        ("30 degrees", "kelvin", "Which degrees do you mean: Celsius or Fahrenheit?"),
    ],
)
def test_convert_units_says_what_it_cannot_convert(quantity: str, unit: str, start: str) -> None:
    assert convert_units(quantity, unit).startswith(start)


@pytest.fixture
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user data folder, in tmp_path: where the alarms file is made."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert alarms_path() == tmp_path / "voxroute" / "alarms.sqlite3"
    return alarms_path()


def stored(path: Path) -> list[tuple[int, int, str | None]]:
    with closing(sqlite3.connect(path)) as database:
        return database.execute("SELECT hour, minute, day FROM alarms ORDER BY id").fetchall()


@pytest.mark.parametrize(
    ("time", "day", "answer", "row"),
    [
        ("7", "tomorrow", "Alarm set for 7:00 tomorrow.", (7, 0, "tomorrow")),
        ("seven thirty", None, "Alarm set for 7:30.", (7, 30, None)),
        ("6:45 am", "weekdays", "Alarm set for 6:45 on weekdays.", (6, 45, "weekdays")),
        ("half past six", "friday", "Alarm set for 6:30 on Friday.", (6, 30, "friday")),
        ("quarter to eight pm", "weekend", "Alarm set for 19:45 at weekends.", (19, 45, "weekend")),
        ("noon", "today", "Alarm set for 12:00 today.", (12, 0, "today")),
        ("6.15 p.m.", None, "Alarm set for 18:15.", (18, 15, None)),
    ],
)
def test_alarm_reads_the_time_and_keeps_it(data_home: Path, time: str, day: str | None, answer: str, row) -> None:
    assert alarm(time, day) == answer
    assert stored(data_home) == [row]
    assert data_home.stat().st_mode & 0o777 == 0o600
    with closing(sqlite3.connect(data_home)) as database:
        assert database.execute("PRAGMA application_id").fetchone() == (APPLICATION_ID,)
    assert alarm(time, day) == f"You already have an alarm for {answer.removeprefix('Alarm set for ')}"


def test_an_unreadable_time_is_answered_and_nothing_is_kept(data_home: Path) -> None:
    answer = alarm("banana o'clock", "monday")
    assert answer == f"I don't understand the time \"banana o'clock\". {ASK_TIME}"
    assert alarm("seven sixty").startswith("I don't understand the time 'seven sixty'.")
    assert not data_home.exists()


def test_a_file_that_is_not_an_alarms_file_is_refused_untouched(data_home: Path) -> None:
    data_home.parent.mkdir(parents=True)
    data_home.write_text("not a database")
    assert alarm("7") == f"I won't use the alarms file {data_home}: it is not an SQLite database."
    assert data_home.read_text() == "not a database"
    data_home.unlink()
    with closing(sqlite3.connect(data_home)) as database, database:  # another program's SQLite file
        database.execute("CREATE TABLE alarms (at TEXT)")
    before = data_home.read_bytes()
    assert alarm("7") == f"I won't use the alarms file {data_home}: it is not an alarms database made by voxroute."
    assert data_home.read_bytes() == before


def test_the_benchmark_relabels_what_the_new_skills_now_answer_and_nothing_else() -> None:
    pack = load_pack("benchmarks.learn.skills", EXAMPLES)
    once_cant_do = Record("set an alarm for seven", pack.parse_calls("cant_do()"), "test")
    weather = Record("what's the weather in Paris", pack.parse_calls('weather(location="Paris")'), "test")
    # "{quantity} in {unit}", "{quantity} to {unit}": open slots, which never take the pack's command words
    bosnia = Record(
        "weather in Bosnia and Herzegovina", pack.parse_calls('weather(location="Bosnia and Herzegovina")'), "test"
    )
    note = Record(
        "hey voxroute note send invoice to Kowalski", pack.parse_calls('notes(action="add", note="x")'), "test"
    )
    records, changed = relabelled([once_cant_do, weather, bosnia, note], pack)
    assert changed == 1 and records[1:] == [weather, bosnia, note]
    assert records[0].calls == Calls([pack.parse('alarm(time="seven")')])


def test_learn_relabels_only_sentences_that_the_new_skills_really_serve() -> None:
    """A sentence of another file is relabelled where the learned pack's instant path would answer it with a new
    skill, its open slots kept from the whole pack's command words: "(TV playing in background)" stays other()."""
    pack = load_pack(MODULE, EXAMPLES)
    _, _, changed = relabelled_dataset(pack, list(NEW_FILES), seed=0)
    assert changed  # "how many ounces are in a cup" was a question for ask
    for _, _, now in changed:
        for call in pack.parse_calls(now):
            assert call.name in NEW
            assert call.name != "convert_units" or find_unit(str(dict(call.args)["unit"])) is not None, now
    assert not {sentence for sentence, _, _ in changed} & {"(TV playing in background)", "let's just stay in tonight"}


def test_no_held_out_phrasing_is_a_sentence_of_the_packs_training_data() -> None:
    """The held-out set scores phrasings the router and the instant path never saw, normalised as -t does: not
    in the learned pack's data set, nor in the one the shipped router it starts from was trained on."""
    pack = load_pack(MODULE, EXAMPLES)
    records, _ = build_dataset(
        read_example_files(sorted(EXAMPLES.glob("*_examples.txt")), pack), pack, 0.1, 0.1, seed=0
    )
    shipped = json.loads((REPO / "dataset" / "training_data.json").read_text(encoding="utf-8"))
    trained = {utterance_key(record["user"]) for record in [*records, *shipped]}
    held = [json.loads(line)["user"] for line in HELDOUT.read_text(encoding="utf-8").splitlines()]
    assert len(held) == 229 and not [user for user in held if utterance_key(user) in trained]
