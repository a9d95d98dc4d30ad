"""The recognition prompt: derived from the pack's Literal choices, bounded, and never heard back as speech."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Literal

import pytest

from assistant import SkillPack, load_pack
from assistant.models import embedded_whisper_dir
from assistant.runtime.skill import Skill
from assistant.voice.audio import read_wav
from assistant.voice.stt import (
    FasterWhisperTranscriber,
    OpenAIWhisperTranscriber,
    heard,
    load_transcriber,
    transcript_normalizer,
)
from assistant.voice.vocabulary import MAX_PROMPT_TOKENS, copies_prompt, recognition_prompt, vocabulary
from tests.audio_fixtures import silence, white_noise

PICOVOICE = Path(__file__).resolve().parents[2] / "shared" / "data" / "picovoice"


def order(
    drink: Literal["americano", "cappuccino", "iced mocha", "mocha", "latte"],
    milk: Literal["soy milk", "a bit of soy milk", "a little bit of almond milk", "almond milk"] | None = None,
    day: Literal["today", "monday", "friday"] | None = None,
    count: Literal[1, 2, 3] | None = None,
) -> str:
    """order a drink"""
    return drink


def other() -> str:
    """not for the assistant"""
    return ""


PACK = SkillPack.from_skills(Skill.from_function(function) for function in (order, other))


@pytest.fixture(scope="module")
def count_tokens():
    """Tokens as the bundled Whisper's tokenizer counts a prompt (with its leading space)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(embedded_whisper_dir() / "tokenizer.json"))
    return lambda text: len(tokenizer.encode(" " + text.strip(), add_special_tokens=False).ids)


def test_the_vocabulary_is_the_packs_string_choices_each_saying_a_new_word() -> None:
    assert vocabulary(PACK) == [
        ["americano", "cappuccino", "mocha", "latte", "iced mocha"],  # shortest first; "mocha" before "iced mocha"
        ["soy milk", "almond milk", "a bit of soy milk", "a little bit of almond milk"],
        ["today", "Monday", "Friday"],  # as a transcript writes them; numbers are not words to hear
    ]


def test_the_prompt_is_sentences_of_values_whisper_would_not_write_unprompted(count_tokens) -> None:
    prompt = recognition_prompt(PACK, count_tokens)
    assert "Americano" in prompt and "soy milk" in prompt and "a little bit of almond milk" in prompt
    assert "Monday" not in prompt and "today" not in prompt.casefold()  # one token each: left out
    assert prompt.endswith(".") and count_tokens(prompt) <= MAX_PROMPT_TOKENS


Flavour = Literal[tuple(f"flavour number {index}" for index in range(200))]  # type: ignore[valid-type]


def syrup(flavour: Flavour, size: Literal["twelve ounce", "twenty ounce"]) -> str:  # type: ignore[valid-type]
    """add a syrup"""
    return flavour


def test_a_long_vocabulary_is_cut_to_what_fits_and_short_ones_keep_their_place(count_tokens) -> None:
    prompt = recognition_prompt(SkillPack.from_skills([Skill.from_function(syrup)]), count_tokens)
    assert count_tokens(prompt) <= MAX_PROMPT_TOKENS
    assert prompt.startswith("Twelve ounce, twenty ounce.") and "Flavour number 0, flavour number 1" in prompt


def test_the_default_pack_tells_the_recogniser_nothing(count_tokens) -> None:
    """Its only fixed words are days and a notes mode, which Whisper writes unprompted; a prompt listing the days
    was heard back in commands that said none ("What is twelve times seven?" as "Wednesday,")."""
    assert recognition_prompt(load_pack("skills"), count_tokens) == ""


@pytest.mark.parametrize(
    ("text", "copied"),
    [
        ("soy milk, almond milk, a bit of soy milk.", True),
        ("Americano, cappuccino, mocha, latte", True),
        ("A latte with soy milk.", False),
        ("Soy milk, almond milk.", True),
        ("A bit of soy milk.", False),  # one value of the prompt may be what was said
        ("Mocha, latte.", False),  # and so may a short run
        ("", False),
    ],
)
def test_a_transcript_that_is_a_run_of_the_prompt_is_the_prompt_heard_back(text: str, copied: bool) -> None:
    prompt = "Americano, cappuccino, mocha, latte. Soy milk, almond milk, a bit of soy milk."
    assert copies_prompt(text, prompt) is copied
    assert heard(text, prompt) == ("" if copied else text)


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["faster-whisper", "openai-whisper"])
def test_both_backends_take_the_prompt_and_hear_nothing_in_silence_or_noise(backend: str) -> None:
    transcriber = load_transcriber(backend, pack=PACK)
    assert "Americano" in transcriber.prompt  # type: ignore[attr-defined]
    assert transcriber.transcribe(silence(3)) == ""
    assert transcriber.transcribe(white_noise(3, 0.1)) == ""


@pytest.mark.slow
@pytest.mark.skipif(not PICOVOICE.is_dir(), reason="the real recordings live in ../shared/data/picovoice")
@pytest.mark.parametrize("context", ["audio", "30s"])
def test_real_coffee_orders_are_heard_with_the_packs_words(context: str) -> None:
    """Recordings of Picovoice's benchmark whose slot phrases tiny.en misheard without the prompt ("a dark rose
    mocha", "a media mocha", "a small iced marker with a lot of skin milk", "a triple-shot mocker")."""
    normalize = transcript_normalizer()
    transcriber = load_transcriber(context=context, pack=load_pack("benchmarks.barista.skills"))
    labels = json.loads((PICOVOICE / "label.json").read_text())
    for name in (
        "3d13959a-4c40-4af9-bc07-5d15ff4e36c3.wav",
        "06fcc9ca-99f0-4ac0-9ae5-74b719960cd0.wav",
        "fefb3a43-0768-4d94-ab37-9b3d9d42d0c1.wav",
        "e6e971ee-01af-4f8c-840e-aada20eb8cda.wav",
    ):
        text = f" {normalize(transcriber.transcribe(read_wav(PICOVOICE / 'wav' / name)))} "
        for phrase in labels[name]["slots"].values():
            assert f" {normalize(phrase.strip())} " in text, (name, phrase, text)


@pytest.mark.slow
@pytest.mark.skipif(not PICOVOICE.is_dir(), reason="the real recordings live in ../shared/data/picovoice")
@pytest.mark.parametrize("backend", [FasterWhisperTranscriber, OpenAIWhisperTranscriber])
def test_babble_that_the_prompted_whisper_is_unsure_of_is_heard_as_without_the_prompt(backend) -> None:
    """Six recorded orders over each other: told the coffee words, Whisper strings them into an order
    ("Make me a dulksy now. Single shot, triple shot, triple shot"), unsure of it; so it reads again unprompted."""
    from benchmarks.barista.__main__ import recordings
    from benchmarks.barista.quiet import babble_clips

    wavs = [PICOVOICE / "wav" / recording.name for recording in recordings(PICOVOICE)]
    babble = list(babble_clips(wavs, 9))[8]
    pack = load_pack("benchmarks.barista.skills")
    unprompted = backend().transcribe(babble)
    assert backend(pack=pack).transcribe(babble) == unprompted
    assert backend(pack=pack, prompt_floor=-math.inf).transcribe(babble) != unprompted
