"""The corpus converter (finetune/corpora.py) on real rows of MASSIVE, NLU-Evaluation-Data and CLINC150.

tests/data/corpora/ holds a handful of each corpus's rows in its own format (NOTICE.md: licences and
attribution); they are converted with the reviewed mapping, the default pack, its written examples and
the evaluation sets in benchmarks/router, as the converter runs on the whole corpora.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from assistant.runtime.example_files import utterance_key
from assistant.runtime.pack import load_pack
from finetune.corpora import (
    DEFAULT_EXCLUDE,
    Conversion,
    CorpusError,
    balanced,
    convert,
    main,
    parse_annotation,
    read_clinc,
    read_massive,
    read_nlu_eval,
    set_aside,
    written_examples,
)
from finetune.corpus_mapping import DEFAULT_MAPPING, CorpusRow, MappingError, load_mapping
from finetune.records import read_records
from finetune.training_data import evaluation_keys

FIXTURES = Path(__file__).resolve().parent / "data" / "corpora"
PACK = load_pack()
WRITTEN = written_examples(PACK)
EVALUATION_KEYS = evaluation_keys(DEFAULT_EXCLUDE, PACK)

# Each kept row: (call, target, source). The fixtures' other rows are dropped (test_dropped_rows_...).
EXPECTED = {
    "what time is it in karachi right now": ('timecheck(location="karachi")', "skill", "massive:datetime_query"),
    "what will the weather be in chicago today": (
        'weather(location="chicago", day="today")',
        "skill",
        "massive:weather_query",
    ),
    "what is twenty three times fifty two": ('math(question="23*52")', "skill", "massive:qa_maths"),
    "what's the news on b. b. c. news": ("news()", "skill", "massive:news_query"),  # a source is no topic
    "show todays news about migration": ('news(topic="migration")', "skill", "massive:news_query"),
    "put milk on the shopping list": ('notes(action="add", note="milk")', "skill", "massive:lists_createoradd"),
    "how old is ryan reynolds": ('ask(question="how old is ryan reynolds")', "skill", "massive:qa_factoid"),
    "wake me up at nine am on friday": ("cant_do()", "cant_do", "massive:alarm_set"),
    "show me my alarms": ("cant_do()", "cant_do", "massive:alarm_query"),
    "thanks for the response": ("other()", "other", "nlu_eval:general_praise"),  # ", olly." left out
    "what is two plus four": ('math(question="2+4")', "skill", "nlu_eval:qa_maths"),
    "what's the time in london": ('timecheck(location="london")', "skill", "clinc:time"),
    "please set a timer for 6 minutes": ('timer(duration="6 minutes")', "skill", "clinc:timer"),
    "what is 35 times 23": ('math(question="35*23")', "skill", "clinc:calculator"),
    "hiya!": ("other()", "other", "clinc:greeting"),
    "define monetary for me please": ('ask(question="define monetary for me please")', "skill", "clinc:definition"),
    "savings account balance at chase bank please": ("cant_do()", "cant_do", "clinc:balance"),
    "do i have more than $100 in my pnc account": ("cant_do()", "cant_do", "clinc:balance"),
}


def fixture_rows() -> tuple[list[CorpusRow], list[CorpusRow]]:
    """MASSIVE's rows, and NLU-Evaluation-Data's and CLINC's together, as the CLI passes them."""
    massive, _ = read_massive(FIXTURES / "massive")
    nlu, _ = read_nlu_eval(FIXTURES / "nlu-eval")
    clinc, _ = read_clinc(FIXTURES / "clinc")
    return massive, nlu + clinc


def converted(
    mapping_path: Path = DEFAULT_MAPPING, excluded: frozenset[str] | set[str] = EVALUATION_KEYS
) -> Conversion:
    massive, others = fixture_rows()
    return convert(massive, others, load_mapping(mapping_path, PACK), PACK, WRITTEN, excluded)


@pytest.fixture(scope="module")
def conversion() -> Conversion:
    return converted()


def test_each_corpus_s_rows_become_the_calls_the_examples_would_write(conversion: Conversion) -> None:
    got = {record["user"]: (record["call"], record["target"], record["source"]) for record in conversion.records}
    assert got == EXPECTED
    assert {record["split"] for record in conversion.records} == {"train"}
    assert all(record["skill"] == record["call"].split("(")[0] for record in conversion.records)


def test_dropped_rows_are_counted_by_reason(conversion: Conversion) -> None:
    assert conversion.report.dropped == Counter(
        {
            # MASSIVE train and NLU rows equal to a MASSIVE dev or test row; MASSIVE and CLINC rows in benchmarks/router
            "excluded: a held-out utterance": 6,
            "general_quirky: chit-chat, questions and requests mixed in one intent": 1,
            "weather_query: a day the weather skill's days cannot say (this week, a date, an hour, yesterday)": 1,
            "a question about the assistant itself: neither general knowledge nor a request": 1,
            "CLINC out-of-scope: mostly general questions ask serves, mixed with personal and real-time requests": 1,
            "a repeat": 1,  # NLU's "show me my alarms", MASSIVE's kept
            "a written example already": 1,  # "what's on my list", notes(action="list") in notes_examples.txt
        }
    )
    assert conversion.report.kept == Counter({"massive": 9, "nlu_eval": 2, "clinc": 7})
    assert conversion.report.targets["cant_do"] == 4 and conversion.report.targets["other"] == 2


def test_a_row_in_several_corpora_is_kept_once(conversion: Conversion) -> None:
    massive, others = fixture_rows()
    both = {utterance_key(row.text) for row in massive} & {utterance_key(row.text) for row in others}
    assert "show me my alarms" in both
    users = [utterance_key(record["user"]) for record in conversion.records]
    assert users.count("show me my alarms") == 1
    assert len(users) == len(set(users))


def test_no_massive_dev_or_test_utterance_is_trained_on(conversion: Conversion) -> None:
    massive, others = fixture_rows()
    held_out = {utterance_key(row.text) for row in massive if row.partition in ("dev", "test")}
    assert {"turn the lights off please", "please list all my alarms", "whats the current weather"} <= held_out
    assert any(utterance_key(row.text) in held_out for row in others)  # NLU-Evaluation-Data repeats them
    assert not held_out & {utterance_key(record["user"]) for record in conversion.records}


def test_no_evaluation_set_utterance_is_trained_on(conversion: Conversion) -> None:
    users = {utterance_key(record["user"]) for record in conversion.records}
    assert not users & EVALUATION_KEYS
    unexcluded = {record["user"]: record["call"] for record in converted(excluded=set()).records}
    assert unexcluded["what time is it in tokyo"] == 'timecheck(location="tokyo")'  # in benchmarks/router
    assert "what time is it in tokyo" in EVALUATION_KEYS


def test_massive_s_test_partition_is_the_evaluation_file(conversion: Conversion) -> None:
    got = [(item["user"], item["call"], item["target"], item["source"]) for item in conversion.evaluation]
    assert got == [
        ("wake me up at five am this week", "cant_do()", "cant_do", "massive:alarm_set"),
        ("what's the current weather", "weather()", "skill", "massive:weather_query"),
        ("please list all my alarms", "cant_do()", "cant_do", "massive:alarm_query"),
    ]


def test_a_label_that_contradicts_a_written_example_is_a_conflict_counted_by_intent_pair(tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.toml"
    lines = DEFAULT_MAPPING.read_text(encoding="utf-8").splitlines()
    start = lines.index("[[hwu.lists_query]]")
    end = next(i for i in range(start + 1, len(lines)) if not lines[i] or lines[i].startswith("# "))
    lines[start:end] = ["[[hwu.lists_query]]", 'target = "cant_do"']  # the brief's reading: lists are no skill's
    mapping.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = converted(mapping).report
    assert report.conflicts == Counter({"massive:lists_query -> cant_do vs examples' notes": 1})
    assert len(report.conflicting) == 1 and "notes_examples.txt" in report.conflicting[0]
    assert report.as_dict()["conflict_share_of_written"] == 1.0
    assert report.dropped["conflicts with a written example"] == 1


def test_the_converter_writes_records_notes_and_the_evaluation_file(tmp_path: Path, capsys) -> None:
    out, evaluation, counts = tmp_path / "corpora.json", tmp_path / "massive_test.jsonl", tmp_path / "report.json"
    validation = tmp_path / "massive_validation.jsonl"
    code = main(
        [
            *("--massive", str(FIXTURES / "massive" / "en-US.jsonl")),
            *("--nlu-eval", str(FIXTURES / "nlu-eval"), "--clinc", str(FIXTURES / "clinc")),
            *("--out", str(out), "--eval-out", str(evaluation), "--report", str(counts)),
            *("--validation-out", str(validation)),
        ]
    )
    assert code == 0
    aside = [json.loads(line) for line in validation.read_text().splitlines()]
    assert aside and all(row["source"].startswith("massive:") for row in aside)
    assert len(read_records(out, PACK, "train")) + len(aside) == len(EXPECTED)  # every call checked against the pack
    assert [str(record.calls) for record in read_records(evaluation, PACK)] == ["cant_do()", "weather()", "cant_do()"]
    notice = (tmp_path / "corpora.NOTICE.md").read_text(encoding="utf-8")
    for words in ("CC BY 4.0", "CC BY 3.0", "MASSIVE", "NLU-Evaluation-Data", "CLINC150", '"target": "cant_do"'):
        assert words in notice
    assert json.loads(counts.read_text())["training"]["read"]["clinc"]["test partitions, not read"] == 2
    printed = capsys.readouterr().out
    assert "excluded: a held-out utterance" in printed and "conflicts with written examples: 0 of 1" in printed


@pytest.mark.parametrize(
    ("text", "key", "says"),
    [
        ("[hwu]\nweather_query = [{ call = 'wether()' }]\n", "hwu.weather_query[0].call", "unknown skill 'wether'"),
        (
            "[hwu]\nweather_query = [{ call = 'weather(place=\"{place_name}\")' }]\n",
            "hwu.weather_query[0].call",
            "no argument 'place'",
        ),
        ("[hwu]\nweather_query = [{ target = 'maybe' }]\n", "hwu.weather_query[0].target", "expected one of"),
        ("[hwu]\nweather_query = [{ match = '(', target = 'other' }]\n", "hwu.weather_query[0].match", "regular"),
        ("[hwu]\nweather_query = [{ match = '@place', drop = 'x' }]\n", "hwu.weather_query[0].match", "@place"),
        ("[hwu]\nweather_query = [{ drop = 'x', target = 'other' }]\n", "hwu.weather_query[0]", "exactly one"),
        ("[hwu]\nweather_query = [{ calls = 'weather()' }]\n", "hwu.weather_query[0].calls", "unknown key"),
        ("[hwu]\nweather_query = [{ call = 'weather()', lists = { date = 'days' } }]\n", "lists.date", "no list"),
        ("[hwu]\nweather_query = []\n", "hwu.weather_query", "one or more rules"),
        ("[text]\nfillers = 'um'\n", "text.fillers", "a list of strings"),
        ("[lists]\nday = 3\n", "lists.day", "expected a string"),
        ("[snips]\n", "snips", "unknown key"),
        ("[broad]\nhwu = ['no_such_intent']\n", "broad", "hwu.no_such_intent has no rules"),
        ("[broad]\nhwu = 'qa_factoid'\n", "broad.hwu", "a list of strings"),
        ("[hwu\n", "not valid TOML", "line 1"),
    ],
)
def test_a_mapping_that_does_not_fit_is_one_line_naming_the_file_and_key(
    tmp_path: Path, text: str, key: str, says: str
) -> None:
    path = tmp_path / "mapping.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MappingError) as raised:
        load_mapping(path, PACK)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ") and key in message and says in message


def test_a_corpus_intent_the_mapping_lacks_is_named_and_the_cli_says_it_in_one_line(tmp_path: Path, capsys) -> None:
    path = tmp_path / "mapping.toml"
    path.write_text("[hwu]\nweather_query = [{ call = 'weather()' }]\n", encoding="utf-8")
    code = main(
        [
            *("--massive", str(FIXTURES / "massive"), "--nlu-eval", str(FIXTURES / "nlu-eval")),
            *("--clinc", str(FIXTURES / "clinc"), "--mapping", str(path), "--out", str(tmp_path / "out.json")),
        ]
    )
    error = capsys.readouterr().err
    assert code == 1 and error.count("\n") == 1
    assert error.startswith(f"{path}: no rules for hwu.") and not (tmp_path / "out.json").exists()


def test_a_corpus_file_that_is_not_its_corpus_is_named_with_its_line(tmp_path: Path) -> None:
    massive = tmp_path / "en-US.jsonl"
    massive.write_text((FIXTURES / "massive" / "en-US.jsonl").read_text().splitlines()[0] + "\n{not json\n")
    with pytest.raises(CorpusError, match=rf"^{massive}:2: not valid JSON"):
        read_massive(massive)
    nlu = tmp_path / "nlu.csv"
    nlu.write_text("answerid;intent\n1;set\n")
    with pytest.raises(CorpusError, match=rf"^{nlu}:1: expected ';'-separated columns scenario, intent"):
        read_nlu_eval(nlu)
    with pytest.raises(CorpusError, match=r"holds none of data_full\.json"):
        read_clinc(tmp_path)


def test_an_annotation_gives_its_words_and_slots() -> None:
    assert parse_annotation("wake me up at [time : five am] [date : this week]") == (
        "wake me up at five am this week",
        (("time", "five am"), ("date", "this week")),
    )
    assert parse_annotation("wake me up at [time : five am") is None
    assert parse_annotation("what's on my list") == ("what's on my list", ())


def test_most_per_intent_caps_the_many_intent_classes_and_keeps_every_other_skill() -> None:
    records = [
        *({"skill": "cant_do", "user": f"alarm {i}", "source": "massive:alarm_set"} for i in range(5)),
        *({"skill": "cant_do", "user": f"play {i}", "source": "massive:play_music"} for i in range(2)),
        *({"skill": "ask", "user": f"who is {i}", "source": "massive:qa_factoid"} for i in range(4)),
        *({"skill": "weather", "user": f"rain {i}", "source": "massive:weather_query"} for i in range(6)),
    ]
    kept = balanced(records, 3)
    assert Counter(record["source"] for record in kept) == {
        "massive:alarm_set": 3,
        "massive:play_music": 2,
        "massive:qa_factoid": 3,
        "massive:weather_query": 6,
    }
    assert kept == [record for record in records if record in kept]  # the order kept
    assert balanced(records, 3) == kept  # seeded


def test_a_broad_intent_has_its_own_cap() -> None:
    records = [
        *({"skill": "ask", "user": f"who is {i}", "source": "massive:qa_factoid"} for i in range(6)),
        *({"skill": "ask", "user": f"translate {i}", "source": "clinc:translate"} for i in range(6)),
    ]
    broad = frozenset({"massive:qa_factoid"})
    kept = balanced(records, 2, broad, 4)
    assert Counter(record["source"] for record in kept) == {"massive:qa_factoid": 4, "clinc:translate": 2}
    assert Counter(record["source"] for record in balanced(records, 2, broad)) == {
        "massive:qa_factoid": 2,
        "clinc:translate": 2,
    }
    assert ("hwu", "qa_factoid") in load_mapping(DEFAULT_MAPPING, PACK).broad  # the reviewed mapping says so


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--most-per-broad-intent", "5"], "give both"),
        (["--most-per-intent", "20", "--most-per-broad-intent", "0"], "1 or more"),
    ],
)
def test_a_cap_that_cannot_apply_is_refused_in_one_line(tmp_path: Path, capsys, flags: list[str], says: str) -> None:
    arguments = ["--massive", str(FIXTURES / "massive"), "--nlu-eval", str(FIXTURES / "nlu-eval")]
    with pytest.raises(SystemExit):
        main([*arguments, "--clinc", str(FIXTURES / "clinc"), "--out", str(tmp_path / "out.json"), *flags])
    assert says in capsys.readouterr().err and not (tmp_path / "out.json").exists()


def test_a_tenth_of_massive_is_set_aside_by_utterance_the_same_at_every_run() -> None:
    records = [
        {"skill": "ask", "user": f"who wrote book number {i}", "call": "ask()", "target": "skill", "source": source}
        for i in range(400)
        for source in ("massive:qa_factoid", "clinc:definition")
    ]
    kept, aside = set_aside(records, frozenset({"massive:qa_factoid"}), 0.1)
    assert 20 <= len(aside) <= 60 and len(kept) + len(aside) == len(records)
    assert all(
        row["source"] == "massive:qa_factoid" and set(row) == {"user", "call", "target", "source"} for row in aside
    )
    assert {utterance_key(row["user"]) for row in aside}.isdisjoint(
        utterance_key(record["user"]) for record in kept if record["source"].startswith("massive:")
    )
    assert set_aside(records, frozenset({"massive:qa_factoid"}), 0.1) == (kept, aside)
