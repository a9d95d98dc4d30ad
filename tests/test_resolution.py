"""Resolvers: spoken arguments to what the skill acts on; a question instead of a wrong action."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from assistant.config import AppsConfig, Config
from assistant.runtime.dispatch import Dispatcher
from assistant.runtime.example_files import utterance_key
from assistant.runtime.pack import load_pack
from assistant.runtime.resolution import resolved_key, unresolved
from skills.math import calculate, math_expression, words_to_digits
from skills.run_app import find_program
from skills.timecheck import place_name
from skills.timer import parse_duration
from skills.weather import place_or_words

PACK = load_pack()


@pytest.mark.parametrize(
    "spoken, seconds",
    [
        ("ninety seconds", 90),
        ("a minute and a half", 90),
        ("1 hour 30 minutes", 5400),
        ("an hour and a half", 5400),
        ("two and a half hours", 9000),
        ("45 seconds", 45),
        ("20 minute", 1200),
        ("half an hour", 1800),
    ],
)
def test_durations_resolve_to_seconds(spoken: str, seconds: float) -> None:
    assert parse_duration(spoken) == seconds


@pytest.mark.parametrize("spoken", ["pizza", "soon", "the eggs", ""])
def test_words_that_are_no_duration_do_not_resolve(spoken: str) -> None:
    assert parse_duration(spoken) is None


@pytest.mark.parametrize(
    "spoken, entry",
    [
        ("calculator app", "calculator"),
        ("the calculator", "calculator"),
        ("my email client thunderbird", "thunderbird"),
        ("Fire Fox", "firefox"),
        ("FIREFOX", "firefox"),
        ("vs code", "vs code"),
        ("visual studio code app", "visual studio code"),
        ("spotify please", "spotify"),
        ("spot a fly", "spotify"),  # as Whisper writes a name it does not know: by sound
        ("fire folks", "firefox"),
        ("calculate her", "calculator"),
        ("tunderbird", "thunderbird"),
    ],
)
def test_program_names_resolve_to_allow_list_entries(skill_context, spoken: str, entry: str) -> None:
    skill_context(
        Config(
            apps=AppsConfig(
                allow={
                    name: ["x"]
                    for name in (
                        "firefox",
                        "calculator",
                        "thunderbird",
                        "vs code",
                        "visual studio code",
                        "spotify",
                        "terminal",
                    )
                }
            )
        )
    )
    assert find_program(spoken) == entry


@pytest.mark.parametrize(
    "spoken", ["fjfoexecutable", "rm -rf /", "gimp", "the", "calendar", "fireworks", "flick", "photos", "mail"]
)
def test_names_far_from_every_entry_do_not_resolve(skill_context, spoken: str) -> None:
    skill_context(Config(apps=AppsConfig(allow={"firefox": ["firefox"], "calculator": ["calc"], "vlc": ["vlc"]})))
    assert find_program(spoken) is None


@pytest.mark.parametrize(
    "question, expression",
    [
        ("nine*9", "9*9"),
        ("what is twelve times seven", "12*7"),
        ("twenty five plus one hundred and two", "25+102"),
        ("12*7", "12*7"),
        ("the square root of 144", "sqrt(144)"),
        ("2 to the power of 10", "2**10"),
    ],
)
def test_math_resolves_to_an_expression_with_digits(question: str, expression: str) -> None:
    assert math_expression(question) == expression


def test_math_that_is_no_arithmetic_does_not_resolve() -> None:
    assert math_expression("the meaning of life") is None
    assert math_expression("12 +* 7") is None


def test_number_words_become_digits_in_the_answer_too() -> None:
    assert words_to_digits("nine times nine") == "9 times 9"
    assert calculate("nine*9") == "9 times 9 is 81."


def test_places_resolve_to_gazetteer_entries() -> None:
    assert place_name("new york") == place_name("New York") is not None
    assert place_name("tokyo") == "Tokyo"
    assert place_name("Zzyzzxq") is None
    assert place_name("mumbai india") == place_name("Mumbai") and place_name("Paris, France") == "Paris"
    assert place_or_words("paris") == "Paris"
    assert place_or_words("Some Hamlet, Nowhere") == "some hamlet nowhere"  # the weather service may know it


def test_texts_resolve_to_their_words() -> None:
    assert utterance_key("Buy  MILK.") == "buy milk"
    a = PACK.parse('notes(action="add", note="Buy milk.")')
    b = PACK.parse('notes(action="add", note="buy milk")')
    assert resolved_key(PACK, a) == resolved_key(PACK, b)
    assert resolved_key(PACK, a) != resolved_key(PACK, PACK.parse('notes(action="add", note="buy eggs")'))


def test_calls_that_mean_the_same_action_have_the_same_key(skill_context) -> None:
    skill_context(Config())
    assert resolved_key(PACK, PACK.parse('timer(duration="90 seconds")')) == resolved_key(
        PACK, PACK.parse('timer(duration="a minute and a half")')
    )
    assert resolved_key(PACK, PACK.parse('run_app(program="calculator app")')) == resolved_key(
        PACK, PACK.parse('run_app(program="calculator")')
    )
    assert resolved_key(PACK, PACK.parse('timer(duration="pizza")')) != resolved_key(
        PACK, PACK.parse('timer(duration="pasta")')
    )  # two unresolved values agree only on the same words


def test_an_unresolved_program_gets_a_question_and_nothing_is_launched(skill_context, tmp_path: Path) -> None:
    launched = tmp_path / "launched"
    argv = [sys.executable, "-c", f"open({str(launched)!r}, 'w').close()"]
    skill_context(Config(apps=AppsConfig(allow={"firefox": argv}, confirm=False)))
    outcome = Dispatcher(PACK).run(PACK.parse('run_app(program="fjfoexecutable")'))
    assert outcome.answer.startswith("Which program?") and "fjfoexecutable" in outcome.answer
    assert outcome.error == "unresolved program='fjfoexecutable'"
    assert not launched.exists()


@pytest.mark.parametrize(
    "call, question",
    [
        ('timer(duration="pizza")', "For how long?"),
        ('math(question="the meaning of life")', "What should I work out?"),
        ('timecheck(location="Zzyzzxq")', "Which place?"),
    ],
)
def test_each_unresolved_argument_gets_its_skills_question(skill_context, call: str, question: str) -> None:
    skill_context(Config())
    missing = unresolved(PACK, PACK.parse(call))
    assert missing is not None and missing.question.startswith(question)
    assert Dispatcher(PACK).run(PACK.parse(call)).answer == missing.question


def test_resolved_arguments_run_the_skill(skill_context) -> None:
    skill_context(Config())
    assert unresolved(PACK, PACK.parse('timer(duration="ninety seconds")')) is None
    assert Dispatcher(PACK).run(PACK.parse('math(question="nine*9")')).answer == "9 times 9 is 81."
