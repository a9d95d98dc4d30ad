"""Words Whisper spells almost as a choice ("ice mocha") are written as the choice ("iced mocha") before
routing; words that say a choice, or that are far from every choice, are left as they are."""

from __future__ import annotations

import pytest

from assistant.config import CHOICES_AS_HEARD, Config, RouterConfig
from assistant.pipeline import Assistant
from assistant.routing.choice_spelling import ChoiceSpelling
from assistant.routing.instant import INSTANT, InstantMatcher, InstantRouter
from assistant.routing.router import load_local_router
from assistant.runtime.pack import load_pack
from assistant.voice.stt import load_transcriber
from benchmarks.barista.__main__ import HERE

BARISTA = load_pack("benchmarks.barista.skills", HERE / "examples")


@pytest.mark.parametrize(
    ("heard", "written"),
    [
        ("Can I get a large dark roast, ice mocha?", "Can I get a large dark roast, iced mocha?"),
        ("I want to dip coffee with sugar", "I want to drip coffee with sugar"),
        ("a small latte with lots of almonds milk", "a small latte with lots of almond milk"),
        ("Brew a medium roast, ice, mocha", "Brew a medium roast, iced mocha"),
    ],
)
def test_words_spelt_almost_as_a_choice_are_written_as_the_choice(heard: str, written: str) -> None:
    assert ChoiceSpelling(BARISTA, 90).written(heard) == written


@pytest.mark.parametrize(
    "heard",
    [
        "a bit of skim milk please",  # says a choice; "a bit of milk" inside it is not another
        "an iced mocha and an iced coffee",
        "a house coffee with some cream",
        "a medium roast drip copy",  # too far from "drip coffee" at 90
        "what time is it",
        "",
    ],
)
def test_words_that_say_a_choice_or_none_are_left_as_they_are(heard: str) -> None:
    assert ChoiceSpelling(BARISTA, 90).written(heard) == heard


def test_the_ratio_sets_how_close_and_100_writes_nothing() -> None:
    assert ChoiceSpelling(BARISTA, 90).written("a skin milk latte") == "a skin milk latte"  # ratio 88.9
    assert ChoiceSpelling(BARISTA, 85).written("a skin milk latte") == "a skim milk latte"
    assert ChoiceSpelling(BARISTA, CHOICES_AS_HEARD).written("a large ice mocha") == "a large ice mocha"


def test_a_pack_without_choices_of_several_words_is_left_alone() -> None:
    spelling = ChoiceSpelling(load_pack(), 50)
    for said in ("add milk to the shopping list", "set a timer for ten minutes", "what's the weather in Berlin"):
        assert spelling.written(said) == said


@pytest.mark.slow
def test_the_router_is_given_the_choices_as_written_and_the_transcript_stays_as_heard() -> None:
    """The barista's own example sentence, heard with "ice mocha", is answered by the instant path (which
    matches only the pack's sentences as written); with choice_spelling = 100 it goes to the router."""

    def assistant(choice_spelling: float) -> Assistant:
        config = Config(router=RouterConfig(follow_up_s=0, choice_spelling=choice_spelling))
        return Assistant(
            BARISTA,
            config,
            lambda: InstantRouter(load_local_router(BARISTA, None), InstantMatcher.for_pack(BARISTA)),
            lambda: load_transcriber("faster-whisper"),
        )

    heard = "give me an ice mocha with lots of sweetener"
    turn = assistant(90).handle_text(heard)
    assert turn.path == INSTANT and turn.transcript == heard
    assert turn.calls == ['orderDrink(coffeeDrink="iced mocha", sugarAmount="lots of sweetener")']
    assert assistant(CHOICES_AS_HEARD).handle_text(heard).path != INSTANT
