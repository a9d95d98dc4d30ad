"""Timers: spoken durations, the board of timers, and the skills that manage them.

Most tests stop time with a clock of their own; those that ring use real threads and short durations.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from assistant.cli import wait_for_timers
from assistant.runtime import context as context_module
from assistant.runtime.context import current_context, ring_tone
from assistant.runtime.pack import load_pack
from assistant.runtime.resolution import resolved_key, unresolved
from assistant.runtime.timers import EVERY, TimerBoard, name_key, timer_name
from assistant.voice.audio import AudioError
from skills.timer import (
    describe_duration,
    largest_unit,
    parse_duration,
    parse_new_duration,
    timer,
    timer_add,
    timer_cancel,
    timer_change,
    timer_left,
    timer_pause,
    timer_resume,
    timer_subtract,
)


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
        ("30 more seconds", 30),
        ("five extra minutes", 300),
        ("another minute", 60),
        ("an extra hour", 3600),
        ("half a minute", 30),
        ("a minute and a half", 90),
        ("one and a half minutes", 90),
        ("1 and a half minutes", 90),
        ("quarter of an hour", 900),
        ("an hour and a quarter", 4500),
        ("three quarters of an hour", 2700),
        ("three quarters of a minute", 45),
        ("an hour and three quarters", 6300),
        ("one half minute", 30),
        ("a third of an hour", 1200),
        ("two hours and a half", 9000),
        ("one thousand two hundred seconds", 1200),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "soon",
        "5",
        "minutes",
        "five bananas",
        "an hour and a banana",
        "ten past",
        "five banana minutes",  # word2number skips the words it does not know; a duration may not
        "two three minutes",
        "an hour and fifteen",  # fifteen what?
        "thousand million seconds",
    ],
)
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


def test_several_timers_run_at_once_ring_and_announce(skill_context) -> None:
    heard: list[tuple[float, str]] = []
    all_done = threading.Event()
    lock = threading.Lock()

    def note(text: str) -> None:
        with lock:
            heard.append((time.monotonic(), text))
            if len(heard) == 6:
                all_done.set()

    skill_context(announce=note, ring=lambda: note("(ring)"))
    start = time.monotonic()
    assert timer("0.6 seconds") == "Timer set for 0.6 seconds."
    assert timer("0.2 seconds") == "Timer set for 0.2 seconds."
    assert timer("0.4  seconds") == "Timer set for 0.4 seconds."
    assert time.monotonic() - start < 0.2, "setting a timer must not wait for it"
    assert all_done.wait(timeout=5)
    assert [text for _, text in heard] == [
        "(ring)",
        "Your 0.2 second timer is done.",
        "(ring)",
        "Your 0.4 second timer is done.",
        "(ring)",
        "Your 0.6 second timer is done.",
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


class Clock:
    """A clock that moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def board() -> TimerBoard:
    """The board of the context a test runs in."""
    return current_context().timers


@pytest.fixture
def heard(skill_context, clock: Clock) -> Iterator[list[str]]:
    """Run the test with a board on the stopped clock; what rings and is announced lands in the list."""
    board = TimerBoard(clock)
    said: list[str] = []
    skill_context(announce=said.append, ring=lambda: said.append("(ring)"), timers=board)
    yield said
    for countdown in board.timers():
        board.cancel(countdown)


@pytest.mark.parametrize(
    ("text", "resolved"),
    [
        ("ten", ("bare", 10.0)),
        ("10", ("bare", 10.0)),
        ("twenty five", ("bare", 25.0)),
        ("another five", ("bare", 5.0)),
        ("5 more", ("bare", 5.0)),
        ("five and a half", ("bare", 5.5)),
        ("ten minutes", 600.0),
        ("5 min", 300.0),
        ("soon", None),
        ("ten bananas", None),
        ("more", None),
        ("", None),
    ],
)
def test_a_new_duration_is_a_duration_or_a_bare_number(text: str, resolved: object) -> None:
    assert parse_new_duration(text) == resolved


def test_ten_and_10_are_the_same_change_when_calls_are_scored() -> None:
    pack = load_pack("skills")
    key = lambda text: resolved_key(pack, pack.parse(text))  # noqa: E731
    assert key('timer_change(duration="ten")') == key('timer_change(duration="10")')
    assert key('timer_add(duration="two minutes", name="egg")') == key(
        'timer_add(duration="2 min", name="the Egg timer")'
    )
    assert key('timer_cancel(name="all")') == key('timer_cancel(name="every")')
    asked = unresolved(pack, pack.parse('timer_change(duration="soon")'))
    assert asked is not None and asked.question.startswith("How long?")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("five minutes", 60),
        ("90 seconds", 1),
        ("1 hour 30 minutes", 3600),
        ("2 minutes 30 seconds", 60),
        ("an hour and a half", 3600),
    ],
)
def test_largest_unit(text: str, seconds: float) -> None:
    assert largest_unit(text) == seconds


@pytest.mark.parametrize(
    ("said", "name", "key"),
    [
        ("pizza", "pizza", "pizza"),
        ("the Pizza timer", "Pizza", "pizza"),
        ("my egg timer", "egg", "egg"),
        ("timer", "", ""),
        ("all", "all", EVERY),
        ("every", "every", EVERY),
        ("all of my", "all of my", EVERY),
        ("all day roast", "all day roast", "all day roast"),
    ],
)
def test_names_match_as_people_say_them(said: str, name: str, key: str) -> None:
    assert (timer_name(said), name_key(said)) == (name, key)


def test_a_named_timer_rings_with_its_name(skill_context) -> None:
    rang = threading.Event()
    said: list[str] = []

    def announce(text: str) -> None:
        said.append(text)
        rang.set()

    skill_context(announce=announce, ring=lambda: said.append("(ring)"))
    assert timer("0.2 seconds", name="pizza") == "Pizza timer set for 0.2 seconds."
    assert rang.wait(timeout=5)
    assert said == ["(ring)", "Your pizza timer is done."]
    assert timer_left("pizza") == "There are no timers set."


def test_names_are_unique_whatever_their_case_and_the_words_around_them(heard: list[str]) -> None:
    assert timer("5 minutes", name="pizza") == "Pizza timer set for 5 minutes."
    assert timer("12 minutes", name="the Pizza timer") == (
        "There is already a pizza timer, with 5 minutes left; give this one another name."
    )
    assert timer("12 minutes", name="pasta") == "Pasta timer set for 12 minutes."
    assert timer("3 minutes") == timer("3 minutes") == "Timer set for 3 minutes."  # unnamed ones may repeat


def test_the_21st_timer_is_refused(heard: list[str]) -> None:
    for number in range(20):
        assert timer(f"{number + 1} minutes").startswith("Timer set")
    assert timer("5 minutes", name="pizza") == "You already have 20 timers, the most I keep; cancel one first."
    timer_cancel()
    assert timer("5 minutes", name="pizza") == "Pizza timer set for 5 minutes."


def test_time_left_counts_down(heard: list[str], clock: Clock) -> None:
    timer("5 minutes", name="pizza")
    clock.now += 48
    assert timer_left("pizza") == "4 minutes and 12 seconds left on the pizza timer."
    assert timer_left() == "4 minutes and 12 seconds left on the pizza timer."
    timer("ten seconds")
    assert timer_left() == "10 seconds left on the 10 second timer."
    assert (
        timer_left("all") == "4 minutes and 12 seconds left on the pizza timer. 10 seconds left on the 10 second timer."
    )
    assert (
        timer_left("the ten second timer") == "10 seconds left on the 10 second timer."
    )  # an unnamed one, by its duration


def test_a_paused_timer_stops_until_resumed(heard: list[str], clock: Clock) -> None:
    timer("5 minutes", name="pizza")
    clock.now += 60
    assert timer_pause() == "Paused the pizza timer with 4 minutes left."
    clock.now += 100
    assert timer_left() == "4 minutes left on the pizza timer. It is paused."
    assert timer_pause("pizza") == "The pizza timer is already paused."
    assert timer_resume() == "Resumed the pizza timer with 4 minutes left."
    assert timer_resume() == "The pizza timer is already running, with 4 minutes left."
    clock.now += 60
    assert timer_left() == "3 minutes left on the pizza timer."


def test_pause_and_resume_without_a_name_pick_a_timer_that_can(heard: list[str]) -> None:
    timer("5 minutes", name="pizza")
    timer("12 minutes", name="pasta")
    assert timer_pause("pizza") == "Paused the pizza timer with 5 minutes left."
    assert timer_pause() == "Paused the pasta timer with 12 minutes left."
    timer_resume("pizza")
    assert timer_resume() == "Resumed the pasta timer with 12 minutes left."


def test_pause_and_resume_every_timer_at_once(heard: list[str]) -> None:
    timer("5 minutes", name="pizza")
    timer("3 minutes")
    assert timer_pause("all") == "Paused 2 timers."
    assert timer_pause("every") == "No timer is running."
    assert timer_resume("the pizza timer") == "Resumed the pizza timer with 5 minutes left."
    assert timer_resume("all of my") == "Resumed 1 timer."
    assert timer_resume("all") == "No timer is paused."
    assert timer_add("1 minute", name="all") == "I can do that to one timer at a time; say which."


def test_pausing_keeps_a_real_timer_from_ringing_until_resumed(skill_context) -> None:
    rang = threading.Event()
    skill_context(announce=lambda text: rang.set(), ring=lambda: None)
    timer("0.3 seconds", name="egg")
    timer_pause()
    assert not rang.wait(timeout=0.6)
    assert timer_resume() == "Resumed the egg timer with 1 second left."
    assert rang.wait(timeout=5)


def test_a_changed_timer_rings_once_at_its_new_time(skill_context) -> None:
    said: list[float] = []
    skill_context(announce=lambda text: said.append(time.monotonic()), ring=lambda: None)
    start = time.monotonic()
    timer("0.2 seconds")
    timer_change("0.5 seconds")
    time.sleep(0.8)
    assert len(said) == 1 and said[0] - start >= 0.5


def test_add_and_take_away_time(heard: list[str], clock: Clock) -> None:
    timer("5 minutes", name="egg")
    clock.now += 60
    assert timer_add("two minutes", name="the egg timer") == "Added 2 minutes to the egg timer; 6 minutes left."
    assert timer_add("2") == "Added 2 minutes to the egg timer; 8 minutes left."  # counted in the timer's own unit
    assert timer_subtract("30 seconds") == "Took 30 seconds off the egg timer; 7 minutes and 30 seconds left."
    assert timer_subtract("ten minutes") == (
        "The egg timer has only 7 minutes and 30 seconds left; say cancel the timer to stop it."
    )
    assert timer_left() == "7 minutes and 30 seconds left on the egg timer."
    assert timer_add("24 hours") == "That would put more than 24 hours on the egg timer."
    assert timer_add("soon").startswith("I don't understand the duration 'soon'")


def test_change_to_a_duration_or_a_bare_number(heard: list[str], clock: Clock) -> None:
    timer("five minutes")
    clock.now += 100
    assert timer_change("ten") == "Changed the 5 minute timer to 10 minutes."
    assert timer_left() == "10 minutes left on the 10 minute timer."
    assert timer_change("90 seconds") == "Changed the 10 minute timer to 1 minute and 30 seconds."
    assert timer_change("45") == "Changed the 1 minute and 30 second timer to 45 seconds."  # the new unit: seconds
    timer("1 hour", name="roast")
    timer_pause()
    assert timer_change("two", name="roast") == "Changed the roast timer to 2 hours; it is still paused."
    assert timer_change("thirty", name="roast") == "I can set timers of up to 24 hours, not 'thirty'."
    assert timer_change("zero") == "A timer needs a duration longer than zero, not 'zero'."


def test_cancel_one_the_latest_or_all(heard: list[str]) -> None:
    timer("5 minutes", name="pizza")
    timer("12 minutes", name="pasta")
    timer("3 minutes")
    assert timer_cancel("Pizza") == "Cancelled the pizza timer."
    assert timer_cancel() == "Cancelled the 3 minute timer."
    timer("4 minutes", name="tea")
    assert timer_cancel("all") == "Cancelled all 2 timers."
    assert timer_cancel("all") == "There are no timers set."
    timer("4 minutes", name="tea")
    assert timer_cancel("every") == "Cancelled your timer."
    assert heard == [], "a cancelled timer never rings"


@pytest.mark.parametrize(
    "command",
    [
        timer_left,
        timer_cancel,
        timer_pause,
        timer_resume,
        lambda name=None: timer_add("1 minute", name),
        lambda name=None: timer_subtract("1 minute", name),
        lambda name=None: timer_change("ten", name),
    ],
)
def test_without_timers_or_the_one_named_each_command_says_so(heard: list[str], command: Callable[..., str]) -> None:
    assert command() == "There are no timers set."
    assert command(name="pizza") == "There are no timers set."
    timer("5 minutes", name="pasta")
    assert command(name="the pizza timer") == "There is no pizza timer."


def test_a_timer_is_found_by_the_duration_it_was_set_for(heard: list[str], clock: Clock) -> None:
    """A duration names a timer ("the 1 hour timer", "the five minute one"), named or not, however it is said."""
    timer("1 hour")
    timer("5 minutes", name="pizza")
    clock.now += 60
    assert timer_left("the 1 hour timer") == "59 minutes left on the 1 hour timer."
    assert timer_add("5 minutes", name="1 hour") == "Added 5 minutes to the 1 hour timer; 1 hour and 4 minutes left."
    assert (
        timer_subtract("two minutes", name="one hour")
        == "Took 2 minutes off the 1 hour timer; 1 hour and 2 minutes left."
    )
    assert timer_pause("the 60 minute timer") == "Paused the 1 hour timer with 1 hour and 2 minutes left."
    assert timer_resume("the one hour one") == "Resumed the 1 hour timer with 1 hour and 2 minutes left."
    assert timer_left("the five minute one") == "4 minutes left on the pizza timer."
    assert timer_change("ten minutes", name="the 5 minutes timer") == "Changed the pizza timer to 10 minutes."
    assert timer_left("5 minutes") == "There is no 5 minutes timer."  # it is a 10 minute timer now
    assert timer_cancel("an hour") == "Cancelled the 1 hour timer."
    assert [countdown.name for countdown in board().timers()] == ["pizza"]


def test_a_timer_named_like_a_duration_is_found_by_its_name_first(heard: list[str]) -> None:
    timer("10 minutes")
    timer("3 minutes", name="10 minutes")
    timer("4 minutes")
    assert timer_left("the 10 minutes timer") == "3 minutes left on the 10 minutes timer."
    assert timer_cancel("10 minute") == "Cancelled the 10 minute timer."  # not a name: the duration


def test_two_timers_of_the_duration_named_are_a_question_not_a_guess(heard: list[str], clock: Clock) -> None:
    timer("5 minutes")
    timer("5 minutes", name="pizza")
    timer("five minutes", name="tea")
    timer("2 minutes")
    clock.now += 30
    timer_pause("tea")
    question = (
        "Which 5 minute timer do you mean: the one with 4 minutes and 30 seconds left, the pizza timer"
        " or the tea timer (paused)?"
    )
    assert timer_cancel("the 5 minute timer") == question
    assert timer_add("a minute", name="five minutes") == question
    assert len(board().timers()) == 4, "nothing was cancelled"
    assert timer_resume("the five minute one") == "Resumed the tea timer with 4 minutes and 30 seconds left."
    assert timer_pause("5 minutes").startswith("Which 5 minute timer do you mean: ")
    assert timer_pause("2 minutes") == "Paused the 2 minute timer with 1 minute and 30 seconds left."


def test_a_name_that_is_a_duration_resolves_to_its_seconds_when_calls_are_scored() -> None:
    pack = load_pack("skills")
    key = lambda text: resolved_key(pack, pack.parse(text))  # noqa: E731
    assert key('timer_add(duration="5 minutes", name="1 hour")') == key(
        'timer_add(duration="five minutes", name="the one hour timer")'
    )
    assert key('timer_left(name="the five minute one")') == key('timer_left(name="5 minutes")')
    assert key('timer_left(name="5 minutes")') != key('timer_left(name="pizza")')
    assert key('timer_left(name="the pizza one")') == key('timer_left(name="Pizza")')


def test_a_paused_timer_does_not_keep_say_waiting(skill_context, capsys: pytest.CaptureFixture[str]) -> None:
    rang = threading.Event()

    def announce(text: str) -> None:
        time.sleep(0.2)
        rang.set()

    board = skill_context(announce=announce, ring=lambda: None).timers
    timer("1 minute", name="pizza")
    timer_pause()
    timer("0.3 seconds", name="egg")
    waited = threading.Thread(target=wait_for_timers, args=(board,), daemon=True)
    waited.start()
    waited.join(timeout=3)
    assert not waited.is_alive(), "say waited for a paused timer"
    assert rang.is_set(), "say stopped waiting before the running timer had been announced"
    printed = capsys.readouterr().out
    assert "not waiting for 1 paused timer" in printed and "waiting for 1 timer to ring" in printed
    board.cancel(board.find("pizza"))


def test_the_ring_never_raises_and_falls_back_to_the_bell(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    def no_portaudio() -> None:
        raise AudioError("audio devices are unavailable")

    terminal = Terminal()
    monkeypatch.setattr(context_module, "import_sounddevice", no_portaudio)
    monkeypatch.setattr("sys.stderr", terminal)
    ring_tone()
    assert terminal.getvalue() == "\a"

    played: list[int] = []

    class Device:
        @staticmethod
        def play(tone, rate: int, blocking: bool) -> None:
            played.append(len(tone))

    monkeypatch.setattr(context_module, "import_sounddevice", lambda: Device)
    ring_tone()
    assert played and terminal.getvalue() == "\a", "a working device plays the tone instead of the bell"
