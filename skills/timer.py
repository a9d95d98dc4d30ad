"""Timers people manage by voice: start several, named or not, ask what is left, pause, resume,
add or take time away, change or cancel them; each rings and announces itself when done.

The timers live on the board of the skill context (:mod:`assistant.runtime.timers`). A command without a
name is about the only timer, else the one set or changed last.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Annotated

from word2number import w2n

from assistant.runtime.context import SkillContext, current_context
from assistant.runtime.skill import Resolver, Span, skill
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
FRACTIONS = {"half": 0.5, "quarter": 0.25}
LONGEST_S = 24 * 3600
BARE_WORDS = set(w2n.american_number_system) | {"and", "a", "an", "half", "quarter", "more", "another", "extra"}


def parse_duration(text: str) -> float | None:
    """Seconds in '1 hour 30 minutes', '1.5 hours', '5 min', 'an hour and a half', 'twenty five seconds'...

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
    if words:
        if words[:-1] != ["and", "a"] or words[-1] not in FRACTIONS:
            return None
        total += FRACTIONS[words[-1]] * unit
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
    and as added time: '5 more', 'another', 'an extra'."""
    words = ["a" if word == "another" else word for word in words if word not in ("of", "more", "extra")]
    if len(words) > 1 and words[-1] in ("a", "an"):
        words = words[:-1]
    if words and words[0] in ("a", "an"):
        words = words[1:] or ["one"]
    extra = 0.0
    if len(words) > 3 and words[-3:-1] == ["and", "a"] and words[-1] in FRACTIONS:
        extra, words = FRACTIONS[words[-1]], words[:-3]
    if not words:
        return None
    if len(words) == 1 and words[0] in FRACTIONS:
        return FRACTIONS[words[0]] + extra
    if len(words) == 1 and words[0][0].isdigit():
        return float(words[0]) + extra
    try:
        return float(w2n.word_to_num(" ".join(words))) + extra
    except ValueError:
        return None


def describe_duration(seconds: float) -> str:
    """'1 hour and 30 minutes', '2 minutes and 30 seconds', '0.2 seconds'."""
    if seconds < 60 and not float(seconds).is_integer():
        return f"{seconds:g} seconds"
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    counts = ((hours, "hour"), (minutes, "minute"), (secs, "second"))
    parts = [f"{count} {name}{'' if count == 1 else 's'}" for count, name in counts if count]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


Duration = Annotated[str, Span(), Resolver(parse_duration, "For how long? Say something like five minutes.")]
NewDuration = Annotated[str, Span(), Resolver(parse_new_duration, "How long? Say something like ten minutes.")]
Name = Annotated[str, Span(), Resolver(name_key)]
NO_TIMERS = "There are no timers set."


@skill
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


@skill
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


@skill
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


@skill
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


@skill
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


@skill
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


@skill(changes="timer")
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
    """The timer a command is about, or the sentence saying there is none.

    A name that is a duration ("the ten minute timer") also finds an unnamed timer set for that long.
    """
    if _every(name):
        return "I can do that to one timer at a time; say which."
    found = board.find(name, paused)
    if found is not None:
        return found
    if not name or not name_key(name) or not board.timers():
        return NO_TIMERS
    seconds = parse_duration(timer_name(name))
    same = [timer for timer in board.timers() if timer.name is None and timer.set_s == seconds]
    return same[-1] if same else f"There is no {timer_name(name)} timer."


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
    if timer.name:
        return f"{timer.name} timer"
    return re.sub(r"(hour|minute|second)s\b", r"\1", describe_duration(timer.set_s)) + " timer"


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
