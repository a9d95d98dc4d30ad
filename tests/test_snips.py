"""The SNIPS benchmark pack: skills, converter (on the real goo2018 split), split hygiene, scorer."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from assistant.runtime.example_files import deduplicate, read_example_files, utterance_key
from assistant.runtime.pack import load_pack
from benchmarks.snips import convert
from benchmarks.snips.convert import DEFAULT_DATA, SKILLS_MODULE, Utterance, read_split, training_set
from benchmarks.snips.score import score

INTENTS = {
    "AddToPlaylist",
    "BookRestaurant",
    "GetWeather",
    "PlayMusic",
    "RateBook",
    "SearchCreativeWork",
    "SearchScreeningEvent",
}
SHIPPED_EXAMPLES = Path(convert.__file__).parent / "examples"
needs_data = pytest.mark.skipif(not DEFAULT_DATA.is_dir(), reason=f"the SNIPS data is not at {DEFAULT_DATA}")


@pytest.fixture(scope="module")
def pack():
    return load_pack(SKILLS_MODULE, SHIPPED_EXAMPLES)


@pytest.fixture(scope="module")
def splits():
    return {name: read_split(DEFAULT_DATA / name) for name in ("train", "dev", "test")}


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    out = tmp_path_factory.mktemp("snips")
    convert.main(["--out", str(out / "data"), "--examples", str(out / "examples")])
    splits = {
        name: json.loads((out / "data" / f"{name}.json").read_text(encoding="utf-8"))
        for name in ("train", "dev", "test")
    }
    return {**splits, "examples": out / "examples"}


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    out = tmp_path_factory.mktemp("snips_limited")
    convert.convert(DEFAULT_DATA, out, out / "examples", limit=40, seed=3)
    return json.loads((out / "train.json").read_text(encoding="utf-8"))


def test_one_skill_per_intent_all_slots_optional_strings(pack):
    assert set(pack.skills) == INTENTS
    for skill in pack.skills.values():
        assert skill.parameters, skill.name
        assert all(p.type is str and p.optional and not p.required and p.default is None for p in skill.parameters)
    assert (
        pack.skills["PlayMusic"].function(artist="queen", service="spotify")
        == "PlayMusic: artist=queen, service=spotify"
    )


@needs_data
def test_skills_are_exactly_the_train_slots_and_cover_dev_and_test(pack, splits):
    seen: dict[str, set[str]] = {intent: set() for intent in INTENTS}
    for utterance in splits["train"]:
        seen[utterance.intent].update(name for name, _ in utterance.slots)
    for name, skill in pack.skills.items():
        assert {p.name for p in skill.parameters} == seen[name], name
    for split in ("dev", "test"):
        for utterance in splits[split]:
            assert {name for name, _ in utterance.slots} <= {p.name for p in pack.skills[utterance.intent].parameters}


@needs_data
def test_split_sizes_and_repeated_slot_names(splits):
    assert {name: len(rows) for name, rows in splits.items()} == {"train": 13084, "dev": 700, "test": 700}
    assert {name: sum(u.repeated > 0 for u in rows) for name, rows in splits.items()} == {
        "train": 61,
        "dev": 0,
        "test": 0,
    }


def _write_split(folder: Path, lines: list[tuple[str, str, str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(("seq.in", "seq.out", "label")):
        (folder / name).write_text("".join(line[index] + " \n" for line in lines), encoding="utf-8")
    return folder


def test_bio_spans_become_slot_values_and_a_repeated_name_keeps_its_first_span(tmp_path):
    folder = _write_split(
        tmp_path / "train",
        [
            (
                "book a cafe for 2 at a restaurant",
                "O O B-restaurant_type O B-party_size_number O O B-restaurant_type",
                "BookRestaurant",
            ),
            ("play new york state of mind", "O B-track I-track I-track I-track I-track", "PlayMusic"),
        ],
    )
    first, second = read_split(folder)
    assert first == Utterance(
        "book a cafe for 2 at a restaurant",
        "BookRestaurant",
        (("restaurant_type", "cafe"), ("party_size_number", "2")),
        1,
    )
    assert second.slots == (("track", "new york state of mind"),) and second.repeated == 0


@pytest.mark.parametrize("words, tags", [("play it", "O"), ("play it", "O I-track"), ("play a b", "O B-album I-track")])
def test_malformed_lines_are_refused(tmp_path, words, tags):
    with pytest.raises(ValueError):
        read_split(_write_split(tmp_path / "bad", [(words, tags, "PlayMusic")]))


def test_training_set_drops_held_out_utterances_repeats_and_values_the_grammar_cannot_copy():
    train = [
        Utterance("play jazz", "PlayMusic", (("genre", "jazz"),)),
        Utterance("Play jazz!", "PlayMusic", (("playlist", "jazz"),)),
        Utterance("what is the weather here", "GetWeather", (("current_location", "here"),)),
        Utterance("play jazz", "PlayMusic", (("genre", "jazz"),)),
        Utterance('play the best of the 12" mixes', "PlayMusic", (("album", 'the best of the 12" mixes'),)),
    ]
    kept = training_set(train, [Utterance("what is the weather  here", "GetWeather", ())])
    assert kept.utterances == train[:1]
    assert (kept.held_out, kept.repeats, kept.conflicts, kept.uncopyable) == (1, 2, 1, 1)


@needs_data
def test_records_round_trip_through_the_pack(pack, converted):
    assert {name: len(converted[name]) for name in ("train", "dev", "test")} == {
        "train": 13084 - 84 - 183 - 2,
        "dev": 700,
        "test": 700,
    }
    for name, split in (("train", "train"), ("dev", "validation"), ("test", "test")):
        for record in converted[name]:
            assert set(record) == {"skill", "user", "call", "split"} and record["split"] == split
            call = pack.parse(record["call"])
            assert str(call) == record["call"] and call.name == record["skill"]


@needs_data
def test_held_out_records_keep_every_utterance_and_its_frame(pack, converted, splits):
    for name in ("dev", "test"):
        for record, utterance in zip(converted[name], splits[name], strict=True):
            call = pack.parse(record["call"], record["user"])  # every slot is a span of what was said
            assert (record["user"], call.name, call.kwargs) == (utterance.user, utterance.intent, dict(utterance.slots))


@needs_data
def test_training_and_held_out_splits_never_mix(converted, limited):
    held_out = {utterance_key(r["user"]) for name in ("dev", "test") for r in converted[name]}
    for rows in (converted["train"], limited):
        assert not held_out & {utterance_key(r["user"]) for r in rows}


@needs_data
def test_limit_per_intent_samples_only_from_train(converted, limited, tmp_path):
    assert Counter(r["skill"] for r in limited) == {intent: 40 for intent in INTENTS}
    full = {(r["user"], r["call"]) for r in converted["train"]}
    assert all((r["user"], r["call"]) in full and r["split"] == "train" for r in limited)
    again = convert.convert(DEFAULT_DATA, tmp_path, limit=40, seed=3)
    assert again["written"]["train"] == 280
    assert json.loads((tmp_path / "train.json").read_text(encoding="utf-8")) == limited


@needs_data
def test_example_files_read_back_and_hold_exactly_the_training_records(pack, converted):
    files = read_example_files(sorted(converted["examples"].glob("*_examples.txt")), pack)
    assert {f.skill for f in files} == INTENTS
    assert all(len(f.prompt_examples) >= 5 for f in files)
    examples, duplicates = deduplicate(e for f in files for e in f.all_examples)
    assert not duplicates
    assert sorted((e.user, str(e.calls)) for e in examples) == sorted(
        (r["user"], r["call"]) for r in converted["train"]
    )


@needs_data
def test_shipped_example_files_are_up_to_date(converted):
    shipped = sorted(p.name for p in SHIPPED_EXAMPLES.glob("*_examples.txt"))
    assert shipped == sorted(p.name for p in converted["examples"].glob("*_examples.txt"))
    for name in shipped:
        assert (SHIPPED_EXAMPLES / name).read_text(encoding="utf-8") == (converted["examples"] / name).read_text(
            encoding="utf-8"
        ), f"{name} is stale: run python -m benchmarks.snips.convert --out DIR --examples benchmarks/snips/examples"


EXPECTED = ['PlayMusic(artist="queen", service="spotify")', 'GetWeather(city="paris")', 'RateBook(rating_value="5")']


@pytest.mark.parametrize(
    "predicted, intent, exact, tp_fp_fn",
    [
        (EXPECTED, 3, 3, (4, 0, 0)),
        (['SearchCreativeWork(artist="queen", service="spotify")', *EXPECTED[1:]], 2, 2, (4, 0, 0)),
        (['PlayMusic(artist="queen")', *EXPECTED[1:]], 3, 2, (3, 0, 1)),
        (['PlayMusic(artist="queen", service="spotify", year="1980")', *EXPECTED[1:]], 3, 2, (4, 1, 0)),
        (['PlayMusic(artist="queen", service="deezer")', *EXPECTED[1:]], 3, 2, (3, 1, 1)),
        (["I think you want music", *EXPECTED[1:]], 2, 2, (2, 0, 2)),
        (
            ['PlayMusic(artist="queen", service="spotify", year=None)', 'GetWeather("paris")', EXPECTED[2]],
            3,
            2,
            (3, 1, 1),
        ),
    ],
)
def test_scorer(predicted, intent, exact, tp_fp_fn):
    scores = score(zip(EXPECTED, predicted, strict=True))
    assert (scores.n, scores.intent_correct, scores.exact_frames) == (3, intent, exact)
    assert (scores.true_positives, scores.false_positives, scores.false_negatives) == tp_fp_fn
    tp, fp, fn = tp_fp_fn
    assert scores.slot_f1 == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert scores.unparseable == (predicted[0] == "I think you want music")


def test_scorer_refuses_an_unparseable_expected_call_and_an_empty_file():
    with pytest.raises(ValueError, match="does not parse"):
        score([("PlayMusic(", "PlayMusic()")])
    with pytest.raises(ValueError, match="no predictions"):
        score([])


def test_score_cli_writes_json(tmp_path, capsys):
    from benchmarks.snips.score import main

    predictions = tmp_path / "run.json"
    rows = [
        {"user": "u", "expected": e, "predicted": p, "correct": e == p, "latency_ms": 1.0}
        for e, p in zip(EXPECTED, ['PlayMusic(artist="queen")', *EXPECTED[1:]], strict=True)
    ]
    predictions.write_text(json.dumps({"n": 3, "predictions": rows}), encoding="utf-8")
    main([str(predictions), "--json-out", str(tmp_path / "scores.json")])
    result = json.loads((tmp_path / "scores.json").read_text(encoding="utf-8"))
    assert result["exact_frame_accuracy"] == pytest.approx(2 / 3) and result["slot_recall"] == pytest.approx(3 / 4)
    assert "JointBERT" in capsys.readouterr().out


def test_breakdown_says_which_intents_and_slots_fail() -> None:
    from benchmarks.snips.score import breakdown

    details = breakdown(
        [
            ('PlayMusic(artist="queen", service="spotify")', 'PlayMusic(artist="queen", service="deezer")'),
            ('GetWeather(city="paris")', 'GetWeather(city="paris")'),
            ('GetWeather(city="rome", timeRange="today")', "not a call"),
        ]
    )
    assert details["per_intent"] == {
        "GetWeather": {"n": 2, "exact_frame_accuracy": 0.5},
        "PlayMusic": {"n": 1, "exact_frame_accuracy": 0.0},
    }
    assert next(iter(details["per_slot"])) == "service"
    assert details["per_slot"]["service"] == {
        "true_positives": 0,
        "false_positives": 1,
        "false_negatives": 1,
        "f1": 0.0,
    }
    assert details["per_slot"]["city"]["f1"] == pytest.approx(2 / 3)
