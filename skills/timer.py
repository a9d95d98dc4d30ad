"""Countdown timers that announce themselves, several at once, from spoken or written durations."""

from __future__ import annotations

import re
from typing import Annotated

from word2number import w2n

from assistant.context import call_later, current_context
from assistant.skill import Resolver, Span, skill

UNIT_SECONDS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
}
FRACTIONS = {"half": 0.5, "quarter": 0.25}
LONGEST_S = 24 * 3600


def parse_duration(text: str) -> float | None:
    """Seconds in '1 hour 30 minutes', '1.5 hours', '5 min', 'an hour and a half', 'twenty five seconds'...

    None when the text is not a duration.
    """
    tokens = [
        token for token in re.findall(r"\d+(?:\.\d+)?|[a-z]+", text.casefold().replace("-", " ")) if token != "for"
    ]
    total, words, unit = 0.0, [], 0
    for token in tokens:
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


def _amount(words: list[str]) -> float | None:
    """The number before a unit: '5', '1.5', 'twenty five', 'a', 'an', 'half an', 'two and a half'."""
    words = [word for word in words if word != "of"]
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


@skill
def timer(duration: Annotated[str, Span(), Resolver(parse_duration, "For how long? Say something like five minutes.")]) -> str:
    """Set a timer for a duration, like five minutes."""
    seconds = parse_duration(duration)
    spoken = " ".join(duration.split())
    if seconds is None:
        return f"I don't understand the duration {spoken!r}; say something like 5 minutes or an hour and a half."
    if seconds <= 0:
        return f"A timer needs a duration longer than zero, not {spoken!r}."
    if seconds > LONGEST_S:
        return f"I can set timers of up to 24 hours, not {spoken!r}."
    # Timer threads do not inherit context variables: take the callback now.
    announce = current_context().announce
    call_later(seconds, announce, f"Your {spoken} timer is done.")
    return f"Timer set for {describe_duration(seconds)}."
