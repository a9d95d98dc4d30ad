"""Timers people manage by voice: start several, named or not, ask what is left, pause, resume,
add or take time away, change or cancel them; each rings and announces itself when done.

The timers live on the board of the skill context (:mod:`assistant.runtime.timers`). A command without a
name is about the only timer, else the one set or changed last; a name that is a duration ("the 1 hour
timer") is about the timer set for that long, and asks which when several are.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Annotated

from assistant.runtime.context import SkillContext, current_context
from assistant.runtime.skill import Resolver, Span, skill
from assistant.runtime.spoken_numbers import FRACTION_WORDS, NUMBER_WORDS, spoken_amount
from assistant.runtime.timers import (
    EVERY,
    MOST_TIMERS,
    BoardFull,
    Countdown,
    NameTaken,
    TimerBoard,
    name_key,
    timer_name,
)

UNIT_SECONDS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
}
LONGEST_S = 24 * 3600
BARE_WORDS = NUMBER_WORDS | FRACTION_WORDS.keys() | {"and", "a", "an", "more", "another", "extra"}


def parse_duration(text: str) -> float | None:
    """Seconds in '1 hour 30 minutes', '1.5 hours', '5 min', 'an hour and a half', 'twenty five seconds',
    'half a minute', 'three quarters of an hour', 'an hour and a quarter'...

    None when the text is not a duration.
    """
    total, words, unit = 0.0, [], 0
    for token in _tokens(text):
        if token not in UNIT_SECONDS:
            words.append(token)
            continue
        if unit and words[:1] == ["and"]:
            words = words[1:]
        amount = _amount(words)
        if amount is None:
            return None
        unit = UNIT_SECONDS[token]
        total += amount * unit
        words = []
    if not unit:
        return None
    if words:  # "an hour and a half", "two minutes and three quarters"
        fraction = spoken_amount(" ".join(words[1:])) if words[0] == "and" and words[-1] in FRACTION_WORDS else None
        if fraction is None:
            return None
        total += float(fraction) * unit
    return total


def parse_new_duration(text: str) -> float | tuple[str, float] | None:
    """Seconds of a duration, or ("bare", 10.0) for a bare number ("ten", "10"), which counts in the
    unit of the timer it changes; None when the text is neither.

    "ten" and "10" resolve alike, so that calls saying either are scored as the same action.
    """
    seconds = parse_duration(text)
    if seconds is not None:
        return seconds
    tokens = _tokens(text)
    if not tokens or not all(token[0].isdigit() or token in BARE_WORDS for token in tokens):
        return None
    amount = _amount(tokens)
    return None if amount is None else ("bare", amount)


def largest_unit(text: str) -> float:
    """Seconds in the largest unit said ("five minutes 30 seconds": 60); a minute when none is."""
    return max((UNIT_SECONDS[token] for token in _tokens(text) if token in UNIT_SECONDS), default=60)


def _tokens(text: str) -> list[str]:
    """Numbers and words of a duration, "for" left out ("for ten minutes" is "ten minutes")."""
    return [token for token in re.findall(r"\d+(?:\.\d+)?|[a-z]+", text.casefold().replace("-", " ")) if token != "for"]


def _amount(words: list[str]) -> float | None:
    """The number before a unit: '5', '1.5', 'twenty five', 'a', 'an', 'half an', 'two and a half',
    'three quarters of an', and as added time: '5 more', 'another', 'an extra'."""
    words = ["a" if word == "another" else word for word in words if word not in ("of", "more", "extra")]
    if len(words) > 1 and words[-1] in ("a", "an"):
        words = words[:-1]
    if words and words[0] in ("a", "an"):
        words = words[1:] or ["one"]
    amount = spoken_amount(" ".join(words)) if words else None
    return None if amount is None else float(amount)


def describe_duration(seconds: float) -> str:
    """'1 hour and 30 minutes', '2 minutes and 30 seconds', '0.2 seconds'."""
    if seconds < 60 and not float(seconds).is_integer():
        return f"{seconds:g} seconds"
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    counts = ((hours, "hour"), (minutes, "minute"), (secs, "second"))
    parts = [f"{count} {name}{'' if count == 1 else 's'}" for count, name in counts if count]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _without_one(name: str) -> str:
    """A name without the "one" that stands for "timer" ("the five minute one"), unless that is all of it."""
    words = name.split()
    return " ".join(words[:-1]) if len(words) > 1 and words[-1].casefold() == "one" else name


def timer_key(said: str) -> str | float:
    """What a timer's name resolves to when calls are scored: the seconds of a duration ("the 1 hour one"
    is "one hour"), else the name as :func:`name_key` matches it ("the pizza one" is "pizza")."""
    named = _without_one(timer_name(said))
    seconds = parse_duration(named)
    return name_key(named) if seconds is None else seconds


Duration = Annotated[str, Span(), Resolver(parse_duration, "For how long? Say something like five minutes.")]
NewDuration = Annotated[str, Span(), Resolver(parse_new_duration, "How long? Say something like ten minutes.")]
Name = Annotated[str, Span(), Resolver(timer_key)]
NO_TIMERS = "There are no timers set."


@skill(confirm="A timer for {duration}[ called {name}]?")
def timer(duration: Duration, name: Name | None = None) -> str:
    """Start a timer for a duration, like five minutes, optionally with a name."""
    seconds = parse_duration(duration)
    refusal = _refusal(seconds, duration)
    if refusal:
        return refusal
    assert seconds is not None  # _refusal refuses None
    # Alarm threads do not inherit context variables: take the context now.
    context = current_context()
    named = timer_name(name) if name else ""
    try:
        context.timers.start(seconds, named or None, largest_unit(duration), _ringer(context))
    except BoardFull:
        return f"You already have {MOST_TIMERS} timers, the most I keep; cancel one first."
    except NameTaken as taken:
        left = _say_left(context.timers.left(taken.timer))
        return f"There is already a {taken.timer.name} timer, with {left} left; give this one another name."
    what = f"{named} timer" if named else "timer"
    return f"{_capitalised(what)} set for {describe_duration(seconds)}."


@skill(reads_only=True)
def timer_left(name: Name | None = None) -> str:
    """Say how much time is left on a timer."""
    board = current_context().timers
    if _every(name):
        timers = board.timers()
        return " ".join(_left_on(board, timer) for timer in timers) if timers else NO_TIMERS
    found = _find(board, name)
    return found if isinstance(found, str) else _left_on(board, found)


@skill(confirm="Cancel the timer[ {name}]?")
def timer_cancel(name: Name | None = None) -> str:
    """Cancel a timer; the name all cancels every timer."""
    board = current_context().timers
    if _every(name):
        cancelled = sum(board.cancel(timer) for timer in board.timers())
        if not cancelled:
            return NO_TIMERS
        return "Cancelled your timer." if cancelled == 1 else f"Cancelled all {cancelled} timers."
    found = _find(board, name)
    if isinstance(found, str):
        return found
    return f"Cancelled the {_label(found)}." if board.cancel(found) else _gone(found)


@skill(confirm="Pause the timer[ {name}]?")
def timer_pause(name: Name | None = None) -> str:
    """Pause a running timer."""
    board = current_context().timers
    if _every(name):
        return _to_every(board, paused=False, act=board.pause, done="Paused")
    found = _find(board, name, paused=False)
    if isinstance(found, str):
        return found
    if found.paused:
        return f"The {_label(found)} is already paused."
    left = board.pause(found)
    return _gone(found) if left is None else f"Paused the {_label(found)} with {_say_left(left)} left."


@skill(confirm="Resume the timer[ {name}]?")
def timer_resume(name: Name | None = None) -> str:
    """Resume a paused timer."""
    board = current_context().timers
    if _every(name):
        return _to_every(board, paused=True, act=board.resume, done="Resumed")
    found = _find(board, name, paused=True)
    if isinstance(found, str):
        return found
    if not found.paused:
        return f"The {_label(found)} is already running, with {_say_left(board.left(found))} left."
    left = board.resume(found)
    return _gone(found) if left is None else f"Resumed the {_label(found)} with {_say_left(left)} left."


@skill(confirm="Add {duration} to the timer[ {name}]?")
def timer_add(duration: NewDuration, name: Name | None = None) -> str:
    """Add time to a timer."""
    board = current_context().timers
    found = _find(board, name)
    if isinstance(found, str):
        return found
    seconds = _seconds_for(found, duration)
    if isinstance(seconds, str):
        return seconds
    left = board.left(found) + seconds
    if left > LONGEST_S:
        return f"That would put more than 24 hours on the {_label(found)}."
    if not board.set_left(found, left):
        return _gone(found)
    return f"Added {describe_duration(seconds)} to the {_label(found)}; {_say_left(left)} left."


@skill(confirm="Take {duration} off the timer[ {name}]?")
def timer_subtract(duration: NewDuration, name: Name | None = None) -> str:
    """Take time off a timer.

    Taking off as much as is left, or more, is refused rather than ending the timer: a misheard
    number should not silently lose a timer; cancelling it is one sentence away.
    """
    board = current_context().timers
    found = _find(board, name)
    if isinstance(found, str):
        return found
    seconds = _seconds_for(found, duration)
    if isinstance(seconds, str):
        return seconds
    left = board.left(found) - seconds
    if left < 1:
        return f"The {_label(found)} has only {_say_left(left + seconds)} left; say cancel the timer to stop it."
    if not board.set_left(found, left):
        return _gone(found)
    return f"Took {describe_duration(seconds)} off the {_label(found)}; {_say_left(left)} left."


@skill(changes="timer", confirm="Change the timer[ {name}] to {duration}?")
def timer_change(duration: NewDuration, name: Name | None = None) -> str:
    """Change a timer to a new duration, like make it ten."""
    board = current_context().timers
    found = _find(board, name)
    if isinstance(found, str):
        return found
    seconds = _seconds_for(found, duration)
    if isinstance(seconds, str):
        return seconds
    before = _label(found)
    unit_s = found.unit_s if isinstance(parse_new_duration(duration), tuple) else largest_unit(duration)
    if not board.set_left(found, seconds, set_s=seconds, unit_s=unit_s):
        return _gone(found)
    still = "; it is still paused" if found.paused else ""
    return f"Changed the {before} to {describe_duration(seconds)}{still}."


def _refusal(seconds: float | None, duration: str) -> str | None:
    """Why ``seconds`` (read from ``duration``) cannot be a timer's time; None when it can."""
    spoken = " ".join(duration.split())
    if seconds is None:
        return f"I don't understand the duration {spoken!r}; say something like 5 minutes or an hour and a half."
    if seconds <= 0:
        return f"A timer needs a duration longer than zero, not {spoken!r}."
    if seconds > LONGEST_S:
        return f"I can set timers of up to 24 hours, not {spoken!r}."
    return None


def _seconds_for(timer: Countdown, duration: str) -> float | str:
    """Seconds that ``duration`` means for ``timer`` (a bare number counts in its unit), or why it means none."""
    resolved = parse_new_duration(duration)
    seconds = resolved[1] * timer.unit_s if isinstance(resolved, tuple) else resolved
    refusal = _refusal(seconds, duration)
    if refusal is not None:
        return refusal
    assert seconds is not None  # _refusal refuses None
    return seconds


def _ringer(context: SkillContext) -> Callable[[Countdown], None]:
    """What a timer does when due: a sound, then the words, through the context it was set in."""

    def ring(timer: Countdown) -> None:
        context.ring()
        context.announce(f"Your {_label(timer)} is done.")

    return ring


def _find(board: TimerBoard, name: str | None, paused: bool | None = None) -> Countdown | str:
    """The timer a command is about, or the sentence saying there is none (or asking which).

    A name that is no timer's but a duration ("the ten minute timer", "the 1 hour one") finds the timer set
    for that long; of several, the only one ``paused`` (or not), else the answer asks which.
    """
    if _every(name):
        return "I can do that to one timer at a time; say which."
    found = board.find(name, paused)
    if found is not None:
        return found
    if not name or not name_key(name) or not board.timers():
        return NO_TIMERS
    named = _without_one(timer_name(name))
    found = board.find(named, paused)
    if found is not None:
        return found
    seconds = parse_duration(named)
    same = [timer for timer in board.timers() if seconds is not None and math.isclose(timer.set_s, seconds)]
    preferred = [timer for timer in same if paused is None or timer.paused == paused]
    if len(preferred) == 1:
        return preferred[0]
    if len(same) == 1:
        return same[0]
    if not same:
        return f"There is no {named} timer."
    assert seconds is not None  # only a duration finds timers
    options = [_option(board, timer) for timer in same]
    return f"Which {_duration_label(seconds)} do you mean: {', '.join(options[:-1])} or {options[-1]}?"


def _option(board: TimerBoard, timer: Countdown) -> str:
    """One of the timers a question offers: "the pizza timer", "the one with 4 minutes left (paused)"."""
    paused = " (paused)" if timer.paused else ""
    if timer.name:
        return f"the {timer.name} timer{paused}"
    return f"the one with {_say_left(board.left(timer))} left{paused}"


def _to_every(board: TimerBoard, paused: bool, act: Callable[[Countdown], float | None], done: str) -> str:
    """Pause (or resume) every timer that is running (or paused); the answer says how many."""
    timers = board.timers()
    if not timers:
        return NO_TIMERS
    count = sum(act(timer) is not None for timer in timers if timer.paused == paused)
    if not count:
        return f"No timer is {'paused' if paused else 'running'}."
    return f"{done} {count} timer{'s' * (count > 1)}."


def _every(name: str | None) -> bool:
    return name is not None and name_key(name) == EVERY


def _label(timer: Countdown) -> str:
    """How answers call a timer: "pizza timer", or "5 minute timer" for one nobody named."""
    return f"{timer.name} timer" if timer.name else _duration_label(timer.set_s)


def _duration_label(seconds: float) -> str:
    """A timer called by its duration: "5 minute timer", "1 hour and 30 minute timer"."""
    return re.sub(r"(hour|minute|second)s\b", r"\1", describe_duration(seconds)) + " timer"


def _left_on(board: TimerBoard, timer: Countdown) -> str:
    paused = " It is paused." if timer.paused else ""
    return f"{_capitalised(_say_left(board.left(timer)))} left on the {_label(timer)}.{paused}"


def _capitalised(text: str) -> str:
    """The first letter upper case, the rest as said ("Pizza timer", "McDonald's timer")."""
    return text[:1].upper() + text[1:]


def _say_left(seconds: float) -> str:
    """Time left in whole seconds, rounded up: a countdown never says nothing is left while it runs."""
    return describe_duration(max(1, math.ceil(round(seconds, 2))))


def _gone(timer: Countdown) -> str:
    """The answer when a timer rang or was cancelled between finding it and acting on it."""
    return f"The {_label(timer)} has just ended."
