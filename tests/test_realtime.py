"""How the real-time benchmark judges a recording's calls: exactly, or as the same action."""

from __future__ import annotations

import pytest

from assistant import load_pack
from benchmarks.latency.realtime import parse_loops, same_action


@pytest.mark.parametrize(
    ("heard", "expected"),
    [
        (['ask(question="why is the sky blue")'], 'ask(question="Why is the sky blue?")'),
        (['timer(duration="one hour fifteen minutes")'], 'timer(duration="1 hour 15 minutes")'),
        (['run_app(program="Google Chrome")'], 'run_app(program="google chrome")'),
        (['weather(location="Paris", day="tomorrow")'], 'weather(location="paris", day="tomorrow")'),
        (['timer(duration="5 minutes"); notes(action="list")'], 'timer(duration="five minutes"); notes(action="list")'),
    ],
)
def test_calls_in_other_words_for_the_same_action_count(heard: list[str], expected: str) -> None:
    assert same_action(load_pack(), heard, expected)


@pytest.mark.parametrize(
    ("heard", "expected"),
    [
        (['timer(duration="36")'], 'timer(duration="30 seconds")'),  # "Set a timer for 36"
        (['weather(location="vermat")'], 'weather(location="Zermatt")'),
        (['weather(day="sunday")'], 'weather(location="Edinburgh", day="sunday")'),
        (['notes(action="list"); timer(duration="5 minutes")'], 'timer(duration="5 minutes"); notes(action="list")'),
        (["other()"], "timecheck()"),
        (["timecheck()", "timecheck()"], "timecheck()"),  # two turns for one request
        ([], "timecheck()"),
        (["timecheck(place=1"], "timecheck()"),  # not a call
    ],
)
def test_another_action_or_not_one_turn_does_not(heard: list[str], expected: str) -> None:
    assert not same_action(load_pack(), heard, expected)


def test_the_loops_to_compare_are_named_and_checked() -> None:
    assert parse_loops("today, new:router,unguessed") == ["today", "new:router", "unguessed"]
    for wrong in ("unguessed:never", "today:router", "guessed", " , "):
        with pytest.raises(ValueError):
            parse_loops(wrong)
