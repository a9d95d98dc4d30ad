"""How the real-time benchmark judges a recording's calls: exactly, or as the same action; and whose misses they are."""

from __future__ import annotations

import pytest

from assistant import load_pack
from benchmarks.latency.realtime import parse_loops, same_action, summarize


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


def row(text: str, transcript: str, same: bool) -> dict[str, object]:
    return {
        "text": text,
        "transcript": transcript,
        "same_action": same,
        "correct": same,
        "correct_ignoring_case": same,
        "latency_ms": 300.0,
        "premature": None,
        "pause_kind": None,
        "answered_part": None,
        "timed_out": False,
        "error": None,
    }


def test_a_miss_is_the_recognisers_when_other_words_were_heard() -> None:
    rows = [
        row("what's the time in Quito", "What is the time in keto?", False),  # misheard
        row("whats the time in Quito", "What's the time in Quito?", False),  # heard as said, routed wrong
        row("tell me a story about a dragon", "Tell me a story. I'm out a dragon", True),  # misheard, still right
    ]
    summary = summarize(rows)
    assert (summary["same_action"], summary["misses_misheard"]) == (1, 1)
