"""Honest numbers: no evaluation set shares an utterance with the training data.

Utterances are compared as ``training_data.py`` deduplicates them: case, punctuation, spacing and
apostrophes aside ("whats" is "what's"). Checked for every evaluation file in benchmarks/router and
benchmarks/corpora (MASSIVE's test partition mapped by finetune/corpora.py), against the written
examples (which may never hold an evaluation utterance) and against the data set `make dataset` built
(whose template sentences are filtered with ``--exclude``). The files of what the recogniser heard of
training sentences (``finetune.heard``) repeat no written example.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.runtime.example_files import read_example_files, utterance_key
from assistant.runtime.pack import REPO_ROOT, load_pack
from finetune.compose import exchange_key
from finetune.records import read_records

PACK = load_pack()
EVALUATION_FILES = sorted(
    path for folder in ("router", "corpora") for path in (REPO_ROOT / "benchmarks" / folder).glob("*.jsonl")
)
DATASET = REPO_ROOT / "dataset" / "training_data.json"
BARISTA = REPO_ROOT / "benchmarks" / "barista"
HEARD_FILES = {  # each file of heard sentences, its pack and the example files its data set is written from
    "dataset/heard.jsonl": (PACK, PACK.example_files()),
    "benchmarks/barista/heard.jsonl": (
        load_pack("benchmarks.barista.skills", BARISTA / "examples"),
        [BARISTA / "examples" / "orderDrink_examples.txt", REPO_ROOT / "examples" / "other_examples.txt"],
    ),
}


def keys(path: Path) -> dict[str, str]:
    """Each record's key: its utterance, with the previous turn's where it is a follow-up."""
    return {
        exchange_key(record.user, record.context.user if record.context else None): record.user
        for record in read_records(path, PACK)
    }


def utterances(path: Path) -> set[str]:
    """The keys of the set's utterances alone: a follow-up ("and tomorrow?") is never trained on, whatever came
    before."""
    return {utterance_key(record.user) for record in read_records(path, PACK)}


@pytest.mark.parametrize("spelling", ["whats up", "What's up?", "what’s  up", "what s up"])
def test_an_utterance_is_the_same_whatever_its_apostrophes(spelling: str) -> None:
    assert utterance_key(spelling) == utterance_key("Whats up") == "whats up"
    assert utterance_key("table for 5 a m at baker s lounge") == utterance_key("Table for 5 am at Baker's lounge")


def test_there_are_evaluation_sets_and_they_hold_no_repeats() -> None:
    assert EVALUATION_FILES
    for path in EVALUATION_FILES:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        assert len(keys(path)) == len(lines), path


@pytest.mark.parametrize("path", EVALUATION_FILES, ids=lambda path: path.name)
def test_no_written_example_is_in_an_evaluation_set(path: Path) -> None:
    held_out = utterances(path)
    written = [
        example
        for example_file in read_example_files(PACK.example_files(), PACK)
        for example in example_file.all_examples
    ]
    shared = sorted(
        f"{example.where}: {example.user!r}" for example in written if utterance_key(example.user) in held_out
    )
    assert not shared, f"{len(shared)} example(s) also in {path.name}: {shared[:5]}"


@pytest.mark.parametrize("path", EVALUATION_FILES, ids=lambda path: path.name)
def test_the_training_data_set_shares_no_utterance_with_an_evaluation_set(path: Path) -> None:
    held_out = utterances(path)
    records = json.loads(DATASET.read_text(encoding="utf-8"))
    shared = sorted(record["user"] for record in records if utterance_key(record["user"]) in held_out)
    assert not shared, f"{len(shared)} training utterance(s) also in {path.name}: {shared[:5]}"


def test_the_data_sets_own_splits_share_no_utterance() -> None:
    records = json.loads(DATASET.read_text(encoding="utf-8"))
    by_split: dict[str, set[str]] = {}
    for record in records:
        previous = record["context"][-1]["user"] if record.get("context") else None
        by_split.setdefault(record["split"], set()).add(exchange_key(record["user"], previous))
    assert set(by_split) == {"train", "validation", "test"}
    assert not by_split["train"] & by_split["validation"]
    assert not by_split["train"] & by_split["test"]
    assert not by_split["validation"] & by_split["test"]


@pytest.mark.parametrize("name", sorted(HEARD_FILES))
def test_a_file_of_heard_sentences_repeats_no_written_example(name: str) -> None:
    pack, example_files = HEARD_FILES[name]
    written = {utterance_key(e.user) for f in read_example_files(example_files, pack) for e in f.all_examples}
    heard = [record.user for record in read_records(REPO_ROOT / name, pack)]
    assert heard and not [user for user in heard if utterance_key(user) in written], name
