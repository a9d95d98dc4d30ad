"""Guessed calls checked in one pass: the drafter's guesses, and decoding that ends the same with or without them."""

from __future__ import annotations

from typing import Literal
from unittest.mock import patch

import pytest

from assistant.dialogue import Exchange
from assistant.routing.calls import Call, Calls
from assistant.routing.decoding import MAX_CHECKS, Guess
from assistant.routing.drafts import MAX_WORDS, CallDrafter
from assistant.routing.router import load_local_router
from assistant.runtime.example_files import Example
from assistant.runtime.pack import SkillPack, load_pack
from assistant.runtime.skill import Skill

Day = Literal["today", "tomorrow", "monday"]


def weather(location: str | None = None, day: Day | None = None) -> str:
    """Ask for the weather."""
    return ""


def timer(duration: str, name: str | None = None) -> str:
    """Start a timer."""
    return ""


def math(question: str) -> str:
    """Work something out."""
    return ""


PACK = SkillPack.from_skills(Skill.from_function(f) for f in (weather, timer, math))


def example(user: str, *calls: Call) -> Example:
    return Example(user, Calls(calls), "examples.txt", 1)


EXAMPLES = [
    example("weather in Paris tomorrow", Call("weather", (("location", "Paris"), ("day", "tomorrow")))),
    example("what's the weather like", Call("weather")),
    example("set a timer for ten minutes for the eggs", Call("timer", (("duration", "ten minutes"), ("name", "eggs")))),
    example("timer five minutes", Call("timer", (("duration", "five minutes"),))),
    example("what's 15 times 15", Call("math", (("question", "15*15"),))),
    example("what is fifteen percent of eighty", Call("math", (("question", "15/100*80"),))),
]
DRAFTER = CallDrafter(PACK, EXAMPLES)


@pytest.mark.parametrize(
    "said, guess",
    [
        ("weather in Oslo tomorrow", 'weather(location="Oslo", day="tomorrow")'),
        ("Weather in St. Louis TOMORROW", 'weather(location="St. Louis", day="tomorrow")'),  # the choice written
        ("set a timer for 17 minutes for the pasta", 'timer(duration="17 minutes", name="pasta")'),
        ("timer two hours.", 'timer(duration="two hours")'),  # a sentence's full stop is not the value's
        ("what's the weather like", "weather()"),
    ],
)
def test_a_guess_carries_the_likeliest_examples_calls_over_to_the_words_said(said: str, guess: str) -> None:
    assert str(DRAFTER.guess(said)) == guess


def test_an_example_whose_value_has_no_place_in_what_was_said_gives_no_guess() -> None:
    lone = CallDrafter(PACK, EXAMPLES[:1])
    assert lone.guess("is it raining in Oslo") is None  # nothing lines up after "Paris"
    assert lone.guess("weather in Oslo on Sunday") is None
    assert str(lone.guess("weather in Oslo tomorrow please")) == 'weather(location="Oslo", day="tomorrow")'


def test_a_guess_goes_on_from_what_the_decoder_wrote_with_examples_of_its_skill() -> None:
    said = "weather in Oslo tomorrow"
    assert DRAFTER.guess(said, "timer(") is None  # no timer example lines up with it
    assert str(DRAFTER.guess(said, "wea")).startswith("weather(")
    assert DRAFTER.guess(said, 'weather(location="Bergen') is None  # no guess goes on from that
    written = str(DRAFTER.guess(said))
    assert str(DRAFTER.guess(said, written)) == written  # nothing said after it: the guess is the end
    assert DRAFTER.guess(said, written + ";") is None  # a call after it, but nothing said for one


@pytest.mark.parametrize(
    "said, guess",
    [
        (
            "timer five minutes and then weather in Oslo tomorrow",
            'timer(duration="five minutes"); weather(location="Oslo", day="tomorrow")',
        ),
        ("what's the weather like, also timer two hours", 'weather(); timer(duration="two hours")'),
        ("timer an hour and a half", 'timer(duration="an hour and a half")'),  # "and" inside a value
    ],
)
def test_a_compound_command_is_guessed_a_clause_at_a_time(said: str, guess: str) -> None:
    assert str(DRAFTER.guess(said)) == guess
    first, *rest = guess.split("; ")
    after_first = DRAFTER.guess(said, first + ";")  # the rest, once the decoder has closed the first call
    assert (str(after_first) if rest else after_first) == (guess if rest else None)


@pytest.mark.parametrize(
    "said, guess",
    [
        ("what's twelve times 7", 'math(question="12*7")'),
        ("what's a hundred and forty four times 3.5", 'math(question="144*3.5")'),
        ("what is eighteen percent of two hundred", 'math(question="18/100*200")'),  # 100 is not said: it stays
    ],
)
def test_a_value_computed_from_numbers_takes_the_numbers_said(said: str, guess: str) -> None:
    assert str(DRAFTER.guess(said)) == guess


def test_a_computed_value_is_not_guessed_from_another_count_of_numbers() -> None:
    assert CallDrafter(PACK, EXAMPLES[4:5]).guess("what's 2 times 3 times 4") is None
    said_once = example("timer for 5 minutes", Call("timer", (("duration", "5 minutes"), ("name", "tea"))))
    assert str(CallDrafter(PACK, [said_once]).guess("timer for 2 hours 3 minutes")) == (
        'timer(duration="2 hours 3 minutes", name="tea")'  # "tea" takes no number said
    )


def test_guessing_is_bounded_and_needs_examples() -> None:
    assert DRAFTER.guess(" ".join(["weather"] * (MAX_WORDS + 1))) is None
    assert CallDrafter(PACK, []).guess("weather in Oslo tomorrow") is None


def test_the_default_packs_drafter_reads_its_example_files() -> None:
    guess = CallDrafter.for_pack(load_pack()).guess("set a timer for 17 minutes for the pasta")
    assert guess is not None and guess[0].name == "timer"


def the_rest_of(ids: list[int]) -> Guess:
    return lambda generated: ids[len(generated) :]


UTTERANCES = [
    "set a timer for ten minutes",
    "what's the weather in Lisbon on saturday",
    "take a note buy oat milk",
    "honey did you feed the cat",
    "tell me the latest news on the Nigerian elections",  # the model spells a forced "Nigerian" its own way
    "Ladies to do fun, form your own",  # heard by Whisper; one pass and step-by-step decoding rank the skills apart
    "set a timer for five minutes and then what's the weather in Oslo",
]


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["ctranslate2", "transformers"])
def test_decoding_ends_the_same_whatever_is_guessed(engine: str) -> None:
    router = load_local_router(load_pack(), engine=engine, drafts=False)
    wrong = router.tokenizer('news(topic="the cat")', add_special_tokens=False).input_ids
    for said in UTTERANCES:
        plain = router.route(said)
        ids = [*router.tokenizer(plain.text, add_special_tokens=False).input_ids, router.calls.eos_id]
        prompt = router.tokenizer(router.prompt(said), add_special_tokens=True).input_ids
        kept = {}
        guesses: dict[str, Guess] = {
            "the calls themselves": the_rest_of(ids),
            "another skill's call": lambda generated: wrong,
            "not even a call": lambda generated: [] if generated else [router.calls.eos_id] * 3,
        }
        for name, guess in guesses.items():
            decoded = router.engine.decode(prompt, len(router._fixed_ids), router.calls.fresh(said), 128, guess=guess)
            assert decoded.text == plain.text, (said, name, decoded.text)
            kept[name] = decoded.drafted
        assert kept["another skill's call"] < len(ids) and kept["not even a call"] == 0
        if said == UTTERANCES[0]:  # a sure one: taken whole from one pass
            assert kept["the calls themselves"] == len(ids)


@pytest.mark.slow
def test_the_shipped_router_with_guesses_routes_as_without() -> None:
    pack = load_pack()
    guessing, plain = load_local_router(pack), load_local_router(pack, drafts=False)
    assert guessing.drafter is not None and plain.drafter is None
    for said in UTTERANCES:
        handed_on: list[Call] = []
        routed = guessing.route(said, on_call=handed_on.append)
        assert routed.text == plain.route(said).text
        assert handed_on == list(routed.calls)  # each call handed on once, as decoded
    assert MAX_CHECKS >= 1


@pytest.mark.slow
def test_after_a_previous_turn_guesses_come_from_this_turns_words_and_route_as_without() -> None:
    pack = load_pack()
    guessing, plain = load_local_router(pack), load_local_router(pack, drafts=False)
    timer = Exchange("set a timer for ten minutes", Calls([Call("timer", (("duration", "ten minutes"),))]))
    weather = Exchange("what's the weather in Paris", Calls([Call("weather", (("location", "Paris"),))]))
    turns = [("what's the weather in Oslo", timer), ("make it twenty", timer), ("and tomorrow?", weather)]
    assert guessing.drafter is not None
    with patch.object(guessing.drafter, "guess", wraps=guessing.drafter.guess) as asked:
        for said, before in turns:
            for router in (guessing, plain):
                router.prepare(before)
            assert guessing.route(said, before).text == plain.route(said, before).text, said
    assert {call.args[0] for call in asked.call_args_list} == {said for said, _ in turns}  # not the turn before
