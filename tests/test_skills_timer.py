"""Timers: spoken durations, and real background timers that announce themselves."""

from __future__ import annotations

import threading
import time

import pytest

from skills.timer import describe_duration, parse_duration, timer


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5 minutes", 300),
        ("1 hour 30 minutes", 5400),
        ("1 hour and 30 minutes", 5400),
        ("90 seconds", 90),
        ("1.5 hours", 5400),
        ("5 min", 300),
        ("5min", 300),
        ("1h30m", 5400),
        ("2 hrs", 7200),
        ("five minutes", 300),
        ("an hour and a half", 5400),
        ("half an hour", 1800),
        ("a minute", 60),
        ("twenty five seconds", 25),
        ("twenty-five seconds", 25),
        ("two and a half minutes", 150),
        ("a quarter of an hour", 900),
        ("for ten minutes", 600),
        ("one hour and fifteen minutes", 4500),
        ("0.2 seconds", 0.2),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "5", "minutes", "five bananas", "an hour and a banana", "ten past"])
def test_not_a_duration(text: str) -> None:
    assert parse_duration(text) is None


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (300, "5 minutes"),
        (5400, "1 hour and 30 minutes"),
        (90, "1 minute and 30 seconds"),
        (3661, "1 hour, 1 minute and 1 second"),
        (0.2, "0.2 seconds"),
    ],
)
def test_describe_duration(seconds: float, words: str) -> None:
    assert describe_duration(seconds) == words


def test_several_timers_run_at_once_and_announce(skill_context) -> None:
    heard: list[tuple[float, str]] = []
    all_done = threading.Event()
    lock = threading.Lock()

    def announce(text: str) -> None:
        with lock:
            heard.append((time.monotonic(), text))
            if len(heard) == 3:
                all_done.set()

    skill_context(announce=announce)
    start = time.monotonic()
    assert timer("0.6 seconds") == "Timer set for 0.6 seconds."
    assert timer("0.2 seconds") == "Timer set for 0.2 seconds."
    assert timer("0.4  seconds") == "Timer set for 0.4 seconds."
    assert time.monotonic() - start < 0.2, "setting a timer must not wait for it"
    assert all_done.wait(timeout=5)
    assert [text for _, text in heard] == [
        "Your 0.2 seconds timer is done.",
        "Your 0.4 seconds timer is done.",
        "Your 0.6 seconds timer is done.",
    ]
    assert heard[0][0] - start >= 0.2


@pytest.mark.parametrize(
    ("duration", "answer"),
    [
        ("soon", "I don't understand the duration 'soon'; say something like 5 minutes or an hour and a half."),
        ("zero seconds", "A timer needs a duration longer than zero, not 'zero seconds'."),
        ("25 hours", "I can set timers of up to 24 hours, not '25 hours'."),
    ],
)
def test_bad_durations(skill_context, duration: str, answer: str) -> None:
    skill_context()
    assert timer(duration) == answer
