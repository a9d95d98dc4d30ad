"""Whisper's beam offers more than its best reading, and the assistant prefers one that is a sentence of its pack."""

from __future__ import annotations

import json

import pytest

from assistant import load_pack
from assistant.pipeline import first_of_pack
from assistant.routing.instant import InstantMatcher
from assistant.voice.audio import read_wav
from assistant.voice.samples import load_samples
from assistant.voice.stt import READING_MARGIN, Reading, load_transcriber, trusted_readings
from tests.audio_fixtures import silence


class Told:
    """What ``trusted_readings`` needs of a transcriber: its prompt and the floor it trusts it from."""

    def __init__(self, prompt: str = "", prompt_floor: float = -0.35) -> None:
        self.prompt, self.prompt_floor = prompt, prompt_floor


def reader(prompted: list[Reading], unprompted: list[Reading], asked: list[bool]):
    def read(with_prompt: bool) -> list[Reading]:
        asked.append(with_prompt)
        return prompted if with_prompt else unprompted

    return read


def test_readings_nearly_as_likely_as_the_best_are_offered_once_each_the_best_first() -> None:
    beam = [
        ("Set a timer for free quarters of an hour.", -0.20),
        ("Set a timer for free quarters of an hour.", -0.21),  # other tokens spelling the same text: one reading
        ("Set a timer for free quarters of an hour!", -0.22),  # other punctuation: the pack's sentences may differ
        ("Set a timer for three quarters of an hour.", -0.20 - READING_MARGIN + 0.01),
        ("Set a time for three quarters of an hour.", -0.20 - READING_MARGIN - 0.01),  # too unlikely
    ]
    asked: list[bool] = []
    assert trusted_readings(reader([], beam, asked), Told()) == [
        "Set a timer for free quarters of an hour.",
        "Set a timer for free quarters of an hour!",
        "Set a timer for three quarters of an hour.",
    ]
    assert asked == [False]  # no prompt, one reading of the audio


def test_a_best_reading_that_is_nothing_or_the_prompt_heard_back_means_nothing_was_said() -> None:
    prompt = "Iced coffee, iced mocha, drip coffee."
    beam = [("Iced coffee, iced mocha, drip coffee.", -0.1), ("Make me an iced mocha.", -0.2)]
    assert trusted_readings(reader(beam, [], []), Told(prompt)) == []
    assert trusted_readings(reader([], [], []), Told()) == []


def test_an_unsure_prompted_beam_is_read_again_without_the_prompt() -> None:
    asked: list[bool] = []
    prompted = [("A large iced mocha with soy milk.", -0.9), ("A large mocha with soy milk.", -0.95)]
    unprompted = [("All right, mark it with so.", -0.5)]
    assert trusted_readings(reader(prompted, unprompted, asked), Told("Iced mocha, soy milk.")) == [
        "All right, mark it with so."
    ]
    assert asked == [True, False]


@pytest.fixture(scope="module")
def matcher() -> InstantMatcher:
    return InstantMatcher.for_pack(load_pack())


def test_the_first_reading_that_is_a_sentence_of_the_pack_is_taken(matcher: InstantMatcher) -> None:
    def is_sentence(text: str) -> bool:
        return matcher.match(text) is not None

    misread = ["Set a timer for free quarters of an hour", "Set a timer for three quarters of an hour"]
    assert first_of_pack(misread, is_sentence) == "Set a timer for three quarters of an hour"
    # the best reading stays where it is a sentence of the pack itself, or where none is
    both = ["set a timer for ten minutes", "set a timer for two minutes"]
    assert first_of_pack(both, is_sentence) == "set a timer for ten minutes"
    talk = ["I think we should paint the kitchen yellow", "I think we should paint the kitchen, yellow"]
    assert first_of_pack(talk, is_sentence) == talk[0]
    assert first_of_pack([], is_sentence) == ""
    # a reading that is the best cut short drops what was said last, though the pack says it
    cut = ["What time is it back home in Manila", "What time is it back home"]
    assert is_sentence(cut[1]) and not is_sentence(cut[0])
    assert first_of_pack(cut, is_sentence) == cut[0]


@pytest.mark.slow
def test_the_beam_offers_its_best_reading_first_and_one_reading_when_asked_for_one() -> None:
    sample = load_samples()[0]
    audio = read_wav(sample["file"])
    offered, alone = load_transcriber(readings=5), load_transcriber(readings=1)
    readings = offered.readings(audio)
    assert readings and readings[0] == offered.transcribe(audio) == alone.transcribe(audio)
    assert len(readings) == len(set(readings)) <= 5
    assert alone.readings(audio) == [readings[0]]
    assert offered.readings(silence(2.0)) == []


def test_the_benchmark_chooses_on_commands_of_the_validation_split_that_stand_alone(tmp_path) -> None:
    from benchmarks.readings.__main__ import validation_commands

    records = [
        {"skill": "weather", "user": "weather in Oslo", "call": 'weather(location="Oslo")', "split": "validation"},
        {
            "skill": "weather",
            "user": "and in Rome",
            "call": 'weather(location="Rome")',
            "split": "validation",
            "context": [{"user": "weather in Oslo", "call": 'weather(location="Oslo")'}],
        },
        {"skill": "(2 calls)", "user": "time and weather", "call": "timecheck(); weather()", "split": "validation"},
        {"skill": "other", "user": "[door slams]", "call": "other()", "split": "validation"},
        {"skill": "weather", "user": "weather in Paris", "call": 'weather(location="Paris")', "split": "train"},
    ]
    dataset = tmp_path / "training_data.json"
    dataset.write_text(json.dumps(records))
    assert validation_commands(dataset) == [("weather in Oslo", 'weather(location="Oslo")')]
